#!/usr/bin/env node
// The `twinstack` command: `twinstack start ...` runs the compiled agent (dist/, bin/start.js); any other command
// talks to the running agent over its CLI socket through bin/cli.js, plain JavaScript that loads neither the
// agent nor tsx (a call is one Node start-up, issue 18).
const argv = process.argv.slice(2);
if (argv[0] === 'start') {
  await (await import('./start.js')).start(argv.slice(1));
} else {
  const { main } = await import('./cli.js');
  process.exitCode = await main(argv);
}
