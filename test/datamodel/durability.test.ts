// Which commits are fsync'd (src/datamodel/store.ts): a manager's write is durable before the commit returns
// (issue 18 item 6: an acknowledged SetParameterValues survives a power cut), the gateway's own status writes
// are not (they run on the event loop that decides a failover; an fsync there waited 430 ms under load, issue 17).
// strace counts the child's fsync/fdatasync calls between two markers it writes to stdout.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const N = 20;

async function syncsDuring(origin: string): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'durability-'));
  try {
    const trace = join(dir, 'trace');
    const child = join(import.meta.dirname, 'durability-child.ts');
    await run('strace', ['-f', '-qq', '-o', trace, '-e', 'trace=fsync,fdatasync,write', '-e', 'signal=none',
      process.execPath, '--import', 'tsx', child, join(dir, 'twinstack.db'), origin, String(N)]);
    const lines = readFileSync(trace, 'utf8').split('\n');
    const at = (marker: string) => lines.findIndex((l) => l.includes(`write(1, "${marker}\\n"`));
    const begin = at('begin'), end = at('end');
    assert.ok(begin >= 0 && end > begin, `markers in the trace (begin ${begin}, end ${end})`);
    return lines.slice(begin, end).filter((l) => /\b(fsync|fdatasync)\(/.test(l)).length;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test(`a manager's commit is fsync'd before it returns (${N} CWMP sets)`, async () => {
  const n = await syncsDuring('cwmp');
  assert.ok(n >= N, `${n} fsyncs for ${N} CWMP commits`);
});

test(`the gateway's own status commits are not fsync'd (${N} system sets)`, async () => {
  assert.equal(await syncsDuring('system'), 0);
});
