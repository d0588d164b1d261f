#!/usr/bin/env node
// `npm test`: install missing Debian peers, type-check, check import directions, then run every
// test file under test/ with node's test runner (its closing lines are what CI reads).
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function run(cmd, args) {
  const r = spawnSync(cmd, args, { stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`test-run: ${cmd} ${args.join(' ')} failed (${r.status ?? r.signal})`);
    process.exit(r.status || 1);
  }
}

function find(dir, out = []) {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) find(p, out);
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const only = process.argv.slice(2);
if (only.length === 0) {
  run('bash', ['tools/ensure-peers.sh']);
  run('npx', ['tsc', '--noEmit', '-p', '.']);
  run('node', ['tools/check-imports.js']);
}
const files = only.length ? only : find('test');
// Files run one at a time: the end-to-end tests create network namespaces and bind fixed loopback ports.
run('node', ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-reporter=spec', ...files]);
