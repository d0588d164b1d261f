// Starts the real agent (`node --import tsx src/main.ts --config FILE`) for the storage fault tests: a small
// config (web and SNMP off, connection requests on a free port), its output kept, and helpers to wait for it
// to run or to exit.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const root = join(import.meta.dirname, '../..');
const bin = join(root, 'bin/twinstack.js');

export interface Agent {
  proc: ChildProcess;
  out: () => string;
  err: () => string;
  /** Resolves with the exit status (null when killed by a signal). */
  exited: Promise<number | null>;
  /** Resolves once "twinstack running" was logged; rejects if the agent exits first. */
  running(timeoutMs?: number): Promise<void>;
  stop(): Promise<number | null>;
}

/** The config file, in a directory of its own (outside the data directory under test). */
function configFor(dataDir: string, extra: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), 'ts-faults-cfg-'));
  const file = join(dir, 'config.json');
  const cwmp = { connectionRequest: { port: 0 }, ...(extra.cwmp as object | undefined) };
  writeFileSync(file, JSON.stringify({ dataDir, log: { level: 'info' }, web: { enable: false }, snmp: { enable: false }, ...extra, cwmp }));
  return file;
}

export function startAgent(dataDir: string, extra: Record<string, unknown> = {}): Agent {
  const config = configFor(dataDir, extra);
  const proc = spawn(process.execPath, ['--import', 'tsx', join(root, 'src/main.ts'), '--config', config],
    { stdio: ['ignore', 'pipe', 'pipe'], cwd: root });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => {
    rmSync(dirname(config), { recursive: true, force: true });
    resolve(code);
  }));
  let done = false;
  void exited.then(() => { done = true; });
  return {
    proc, out: () => out, err: () => err, exited,
    async running(timeoutMs = 60_000) {
      const end = Date.now() + timeoutMs;
      while (!/"msg":"twinstack running"/.test(out)) {
        if (done) throw new Error(`agent exited: ${err}${out.slice(-2000)}`);
        if (Date.now() > end) throw new Error(`agent not running after ${timeoutMs} ms: ${err}${out.slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async stop() {
      if (!done) proc.kill('SIGTERM');
      return exited;
    },
  };
}

/** Runs the agent expecting it to exit at once; returns the status and stderr. */
export async function runToExit(dataDir: string, extra: Record<string, unknown> = {}): Promise<{ code: number | null; err: string; out: string }> {
  const a = startAgent(dataDir, extra);
  const timer = setTimeout(() => a.proc.kill('SIGKILL'), 60_000);
  const code = await a.exited;
  clearTimeout(timer);
  return { code, err: a.err(), out: a.out() };
}

export function cli(socket: string, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, '--socket', socket, ...args], { encoding: 'utf8' }, (error, stdout, stderr) =>
      resolve({ code: error ? Number(error.code) : 0, out: stdout.trim(), err: stderr.trim() }));
  });
}
