#!/usr/bin/env node
// Import-direction check (the invariants of ARCHITECTURE.md, enforced):
//  - src/forwarder imports nothing from the rest of src/ (it runs isolated in its own thread);
//  - the core's private modules (store, transactions) are imported only inside src/datamodel;
//  - front-ends and handlers reach the core only through src/datamodel/index.ts;
//  - front-ends (cwmp, usp, snmp, web) do not import each other.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
const FRONT_ENDS = ['cwmp', 'usp', 'snmp', 'web', 'cli'];
const problems = [];

function walk(dir, out = []) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (/\.(ts|js)$/.test(name)) out.push(p);
  }
  return out;
}

const area = (file) => relative(join(root, 'src'), file).split('/')[0];
for (const file of walk(join(root, 'src'))) {
  const text = readFileSync(file, 'utf8');
  const from = area(file);
  for (const m of text.matchAll(/(?:import|export)[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)) {
    const spec = m[1] ?? m[2];
    if (!spec.startsWith('.')) continue;
    const target = resolve(dirname(file), spec);
    const rel = relative(join(root, 'src'), target);
    if (rel.startsWith('..')) continue;
    const to = rel.split('/')[0];
    const where = `${relative(root, file)} imports ${spec}`;
    if (from === 'forwarder' && to !== 'forwarder') problems.push(`${where}: the forwarder imports nothing from src/`);
    if (to === 'datamodel' && from !== 'datamodel' && rel !== 'datamodel/index.ts' && rel !== 'datamodel/index.js' && rel !== 'datamodel')
      problems.push(`${where}: use src/datamodel/index.ts, the only import point of the core`);
    if (FRONT_ENDS.includes(from) && FRONT_ENDS.includes(to) && from !== to)
      problems.push(`${where}: front-ends do not import each other`);
  }
}
if (problems.length) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log('check-imports: ok');
