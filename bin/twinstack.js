#!/usr/bin/env node
// The `twinstack` command: `twinstack start ...` runs the agent; any other command talks to the running
// agent over its CLI socket. TypeScript sources run through tsx (no build step).
import { register } from 'tsx/esm/api';

register();
const argv = process.argv.slice(2);
if (argv[0] === 'start') {
  process.argv.splice(2, 1);
  await import('../src/main.ts');
} else {
  const { main } = await import('../src/cli/client.ts');
  process.exitCode = await main(argv);
}
