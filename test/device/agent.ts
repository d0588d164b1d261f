// A real agent process across its own restarts, for the reboot tests: started from the sources through tsx (or
// compiled, dist/), its JSON log lines, its CLI socket, and the process that is the agent now (a restart in place
// replaces the process: the pid comes from the "twinstack running" line). Stopping it ends whichever process runs.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep, waitFor } from '../wait.ts';

const ROOT = join(import.meta.dirname, '../..');

/** Loopback, free ports, simulated WAN, no CWMP (no ACS here). */
export const QUIET_FACES = ['--wan.mode=simulated', '--cwmp.enable=false', '--snmp.address=127.0.0.1', '--snmp.port=0', '--web.address=127.0.0.1', '--web.port=0'];

export interface LogLine { pid: number; msg: string; time: number; [k: string]: unknown }

export class AgentRun {
  readonly dir: string;
  readonly socket: string;
  readonly first: ChildProcess;
  stderr = '';
  private out = '';

  constructor(args: string[], opts: { compiled?: boolean; env?: NodeJS.ProcessEnv; dir?: string } = {}) {
    this.dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'ts-device-'));
    this.socket = join(this.dir, 'twinstack.sock');
    const entry = opts.compiled ? [join(ROOT, 'dist/main.js')] : ['--import', 'tsx', join(ROOT, 'src/main.ts')];
    this.first = spawn(process.execPath, [...entry, '--data-dir', this.dir, ...args], {
      cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? { PATH: process.env.PATH },
    });
    this.first.stdout!.on('data', (d) => { this.out += d; });
    this.first.stderr!.on('data', (d) => { this.stderr += d; });
  }

  /** Every JSON log line so far, of every process of this agent. */
  lines(): LogLine[] {
    return this.out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogLine);
  }

  /** Log lines with message `msg`. */
  logged(msg: string): LogLine[] {
    return this.lines().filter((l) => l.msg === msg);
  }

  /** Waits for the `n`th "twinstack running" (1: the first start) and returns its line. */
  running(n: number, ms = 60_000): Promise<LogLine> {
    return waitFor(`start #${n}`, async () => this.logged('twinstack running')[n - 1], ms, 20);
  }

  /** The process that is the agent now (the last one that said it runs). */
  get pid(): number {
    return this.logged('twinstack running').at(-1)?.pid ?? this.first.pid!;
  }

  /** One CLI request over a fresh connection. */
  cli(req: object, ms = 10_000): Promise<CliAnswer> {
    return cliRequest(this.socket, req, ms);
  }

  /** Stops whichever process is the agent now (SIGTERM, then SIGKILL), and removes the data directory. */
  async stop(): Promise<void> {
    for (const pid of new Set([this.first.pid!, ...this.logged('twinstack running').map((l) => l.pid)])) await stopPid(pid);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface CliAnswer { ok: boolean; result?: unknown; error?: { kind: string; message: string } }

/** One request over the CLI socket (src/cli/protocol.ts), on a fresh connection. */
export function cliRequest(socket: string, req: object, ms = 10_000): Promise<CliAnswer> {
  return new Promise((resolve, reject) => {
    const s = connect(socket);
    let buf = '';
    const timer = setTimeout(() => { s.destroy(); reject(new Error('no CLI answer')); }, ms);
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      buf += d;
      if (!buf.includes('\n')) return;
      clearTimeout(timer);
      s.end();
      resolve(JSON.parse(buf.slice(0, buf.indexOf('\n'))));
    });
    s.on('error', (e) => { clearTimeout(timer); reject(e); });
    s.write(`${JSON.stringify({ id: 1, ...req })}\n`);
  });
}

export const alive = (pid: number) => {
  if (!existsSync(`/proc/${pid}`)) return false;
  try {
    // A zombie (exited, not yet reaped) is not running.
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

async function stopPid(pid: number) {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  for (let i = 0; i < 200 && alive(pid); i++) await sleep(50);
  try {
    process.kill(pid, 'SIGKILL');
  } catch { /* gone */ }
}
