// Compiles a small C helper of the test lab (AFTR fixture, traffic generator) once per source version,
// into the OS temp directory, and returns the binary's path.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export async function compileC(source: string, extraFlags: string[] = []): Promise<string> {
  const hash = createHash('sha256').update(readFileSync(source)).update(extraFlags.join(' ')).digest('hex').slice(0, 12);
  const out = join(tmpdir(), `twinstack-${basename(source, '.c')}-${hash}`);
  if (existsSync(out)) return out;
  const tmp = `${out}.${process.pid}`;
  await run('cc', ['-O2', '-Wall', '-o', tmp, source, ...extraFlags]);
  renameSync(tmp, out); // atomic: concurrent runs never execute a half-written binary
  return out;
}
