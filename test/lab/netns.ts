// A lab of named network namespaces, the base of the nat46 lab (test/nat46/lab.ts) and the Teredo lab
// (test/teredo/lab.ts): both build their topology as namespaces <prefix>-<role>, run commands and JSON-lines
// children (./jsonl.ts) inside them, and must leave nothing behind, even when the test process dies without its
// after() hooks. What they share is kept here once:
//   - `ns(role)`, `exec` and `tryExec` (commands through `ip netns exec`);
//   - `addNamespaces`, which records each namespace as it is made, so that cleanup deletes exactly those;
//   - `track` and `startChild`, which record every process started in the lab for a kill by pid at cleanup;
//   - `teardown` (async) and `cleanupSync` (process exit and SIGINT/SIGTERM, run for every lab still live);
//   - `ensureTools`, the Debian tools a lab drives, installed when missing.
// A lab subclasses NetnsLab with its roles, a `static create` that builds through `setUp`, and a `cleanup` that
// ends its own children politely before `teardown`.
import { execFile, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { killPid, type JsonlChild } from './jsonl.ts';

const run = promisify(execFile);

const present = new Set<string>();
/**
 * Installs with apt-get the packages (values of `need`) of the commands (keys) that are not on PATH. Never a skip: a
 * tool that cannot be installed fails the lab (`lab` names it in the error). A command found once is not looked
 * for again.
 */
export function ensureTools(lab: string, need: Record<string, string>): void {
  const missing = Object.entries(need).filter(([cmd]) => !present.has(cmd) && spawnSync('sh', ['-c', `command -v ${cmd}`]).status !== 0).map(([, pkg]) => pkg);
  if (missing.length) {
    const r = spawnSync('sh', ['-c', `apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${missing.join(' ')}`], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${lab} lab: cannot install ${missing.join(' ')}: ${r.stderr}`);
  }
  for (const cmd of Object.keys(need)) present.add(cmd);
}

const live = new Set<{ cleanupSync(): void }>();
// Last resort when the test process ends without its after() hooks (an uncaught error, or the runner interrupted:
// a signal ends node without 'exit' handlers unless it is handled): no namespace or child is left.
process.once('exit', () => {
  for (const lab of live) lab.cleanupSync();
});
for (const [sig, n] of [['SIGINT', 2], ['SIGTERM', 15]] as const)
  process.once(sig, () => {
    for (const lab of live) lab.cleanupSync();
    process.exit(128 + n);
  });

/** The result of tryExec: the exit code and what the command wrote (stdout, then stderr when it failed). */
export interface Tried {
  code: number;
  out: string;
}

/** A lab of network namespaces named <prefix>-<role>, with a private directory; live until cleanup. */
export abstract class NetnsLab<R extends string> {
  /** The lab's private directory (configs, captures, pid files), removed at cleanup. */
  readonly dir: string;
  readonly #prefix: string;
  #created: R[] = [];
  /** Every process started in the lab (children from their spawn on), until it exits. */
  #procs = new Set<ChildProcess>();
  #kids = new Set<JsonlChild>();

  /** `prefix` must be unique to the run (the labs put the pid in it): namespaces are global to the machine. */
  protected constructor(prefix: string) {
    this.#prefix = prefix;
    this.dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
    live.add(this);
  }

  ns(role: R): string {
    return `${this.#prefix}-${role}`;
  }

  async exec(role: R, cmd: string, ...args: string[]): Promise<string> {
    return (await run('ip', ['netns', 'exec', this.ns(role), cmd, ...args], { maxBuffer: 16 << 20 })).stdout;
  }

  /** Exit code and output of a command that may fail (ping towards an error). */
  async tryExec(role: R, cmd: string, ...args: string[]): Promise<Tried> {
    return run('ip', ['netns', 'exec', this.ns(role), cmd, ...args]).then(
      (r) => ({ code: 0, out: r.stdout }),
      (e: { code?: number; stdout?: string; stderr?: string }) => ({ code: typeof e.code === 'number' ? e.code : 1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` }),
    );
  }

  /** Children ended, processes killed, namespaces deleted, files removed. Safe to call twice. */
  abstract cleanup(): Promise<void>;

  /** Runs `build`; if it fails, cleans up whatever it made and rethrows. */
  protected async setUp(build: () => Promise<void>): Promise<void> {
    try {
      await build();
    } catch (e) {
      await this.cleanup();
      throw e;
    }
  }

  /** Makes the namespaces, in order, each with its loopback up; each is recorded for cleanup once it exists. */
  protected async addNamespaces(roles: readonly R[]): Promise<void> {
    for (const r of roles) {
      await run('ip', ['netns', 'add', this.ns(r)]);
      this.#created.push(r);
      await run('ip', ['-n', this.ns(r), 'link', 'set', 'lo', 'up']);
    }
  }

  /** Records a process started in the lab, to be killed by pid at cleanup if it is still running then. */
  protected track = (p: ChildProcess): ChildProcess => {
    this.#procs.add(p);
    p.once('exit', () => this.#procs.delete(p));
    return p;
  };

  /** A JSON-lines child started by `start` (given `track`), ended by teardown(). */
  protected async startChild<C extends JsonlChild>(start: (track: (p: ChildProcess) => void) => Promise<C>): Promise<C> {
    const c = await start(this.track);
    this.#kids.add(c);
    return c;
  }

  /**
   * Ends the children (politely, then by pid), then every other process by pid: `signal`, and SIGKILL 3 s later if
   * it is still there; deletes the namespaces and the directory.
   */
  protected async teardown(signal: NodeJS.Signals): Promise<void> {
    await Promise.all([...this.#kids].map((c) => c.end().catch(() => c.kill())));
    await Promise.all([...this.#procs].map((p) => endProcess(p, signal)));
    for (const r of this.#created) await run('ip', ['netns', 'del', this.ns(r)]).catch(() => undefined);
    this.#created = [];
    rmSync(this.dir, { recursive: true, force: true });
    live.delete(this);
  }

  /** cleanup() for process exit: synchronous, by pid and name. */
  cleanupSync(): void {
    live.delete(this);
    for (const p of this.#procs) if (p.exitCode === null && p.signalCode === null) killPid(p.pid!);
    for (const r of this.#created) spawnSync('ip', ['netns', 'del', this.ns(r)], { stdio: 'ignore' });
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Sends `signal` to a process by pid (SIGKILL 3 s later unless that was it) and waits for it to end. */
export async function endProcess(p: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const gone = new Promise((r) => p.once('exit', r));
  killPid(p.pid!, signal);
  const t = signal === 'SIGKILL' ? undefined : setTimeout(() => killPid(p.pid!), 3000);
  await gone;
  clearTimeout(t);
}
