// `npm run bench:datamodel`: parameter count, get-whole-tree time, sets per second, and the ratio of the
// get time to a raw better-sqlite3 read of the same rows from the same file, measured in this run.
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataModel } from '../src/datamodel/index.ts';
import { buildBenchTree } from './tree.ts';

const INTERFACES = Number(process.env.BENCH_INTERFACES ?? 100);
const dir = mkdtempSync(join(tmpdir(), 'ts-bench-dm-'));
const file = join(dir, 'twinstack.db');

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function timeIt(fn: () => unknown, rounds = 21): number {
  fn(); // warm-up
  const ms: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return median(ms);
}

try {
  let dm = new DataModel({ file });
  buildBenchTree(dm, INTERFACES);
  dm.close();
  dm = new DataModel({ file });
  const params = dm.get('Device.').length;

  const getMs = timeIt(() => dm.get('Device.'));
  const raw = new Database(file, { readonly: true });
  const stmt = raw.prepare('SELECT path, value FROM param');
  const rawRows = stmt.all().length;
  const rawMs = timeIt(() => stmt.all());
  raw.close();

  // Sets: single-parameter transactions, then 10-parameter batches, each committed to SQLite.
  const runFor = (ms: number, fn: (i: number) => void) => {
    const end = Date.now() + ms;
    let n = 0;
    while (Date.now() < end) fn(n++);
    return (n * 1000) / ms;
  };
  const single = runFor(2000, (i) => dm.set({ 'Device.IP.Interface.1.Alias': `n${i}` }, 'cli'));
  const batch = runFor(2000, (i) => dm.set(Object.fromEntries(Array.from({ length: 10 }, (_, k) => [`Device.IP.Interface.${k + 1}.Alias`, `b${i}-${k}`])), 'cli'));
  dm.close();

  console.log(`parameters in the tree:         ${params} (${rawRows} stored rows)`);
  console.log(`get whole tree (median of 21):  ${getMs.toFixed(2)} ms (${Math.round(params / getMs * 1000)} params/s)`);
  console.log(`raw better-sqlite3 read:        ${rawMs.toFixed(2)} ms`);
  console.log(`ratio get / raw SQLite:         ${(getMs / rawMs).toFixed(2)}x  (target <= 3x)`);
  console.log(`sets per second, 1 param:       ${Math.round(single)}`);
  console.log(`sets per second, 10 params:     ${Math.round(batch)} transactions (${Math.round(batch * 10)} params/s)`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
