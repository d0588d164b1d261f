// JSON lines between a namespace lab and its child processes, both ends. A lab whose code must run inside a
// network namespace (a forwarder: its tun and sockets are created where its threads run; a host's sockets) runs it
// as a child script started through `ip netns exec`, since a thread of the test process cannot switch namespaces.
// The nat46 lab (test/nat46/lab.ts, child test/nat46/gateway.ts) and the Teredo lab (test/teredo/lab.ts, child
// test/teredo/harness.ts) speak the same protocol, kept here once:
//   parent → child: { id, op, ...args }, one a line; stdin closed when the lab is done with the child.
//   child → parent: { ready: true } first, then { id, ok: true, value } or { id, ok: false, error } a request.
// JsonlChild is the parent's end (generic over the script and its arguments); serveJsonl the child's.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** A request's arguments, as the child receives them (with `id` and `op`). */
export type Args = Record<string, unknown>;
/** What the child does for one op; its value (or its error's message) is the reply. */
export type Op = (a: Args) => Promise<unknown> | unknown;

interface Reply {
  ready?: true;
  id: number;
  ok: boolean;
  value?: unknown;
  error?: string;
}

/** SIGKILL (or `signal`) by pid; a process that ended meanwhile is no error (the labs use it for their other processes too). */
export function killPid(pid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  try {
    process.kill(pid, signal);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
  }
}

/**
 * A child script in a namespace, driven by JSON lines. A lab subclasses it with a `static start` that names its
 * script and awaits `ready`; the constructor is protected so that no caller holds a child that is not ready.
 */
export class JsonlChild {
  #proc: ChildProcess;
  #pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  #nextId = 1;
  /** Its stderr (forwarder warnings, crashes), for failure messages. */
  stderr = '';
  readonly exited: Promise<number | null>;
  /** Resolves at the child's { ready: true }; rejects, quoting its stderr, if it exits before. */
  protected readonly ready: Promise<void>;

  /**
   * Spawns `node --import tsx <script> ...argv` in namespace `ns`, from the repository root. `track` gets the process
   * at once, so that it can be killed while it is still starting.
   */
  protected constructor(ns: string, script: string, argv: readonly string[], readonly name: string, track: (p: ChildProcess) => void = () => undefined) {
    // `ip netns exec` execs the command itself: the pid is node's, so a kill by pid reaches the forwarder.
    const proc = spawn('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', script, ...argv], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    this.#proc = proc;
    track(proc);
    this.exited = new Promise((r) => proc.once('exit', (code) => r(code)));
    void this.exited.then(() => {
      for (const p of this.#pending.values()) p.reject(new Error(`${name} exited: ${this.stderr.slice(-2000)}`));
      this.#pending.clear();
    });
    proc.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    let buf = '';
    let ready: () => void = () => undefined;
    const isReady = new Promise<void>((r) => (ready = r));
    proc.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const m = JSON.parse(buf.slice(0, nl)) as Reply;
        buf = buf.slice(nl + 1);
        if (m.ready) ready();
        const p = this.#pending.get(m.id);
        this.#pending.delete(m.id);
        if (m.ok) p?.resolve(m.value);
        else p?.reject(new Error(`${name} ${m.error}`));
      }
    });
    this.ready = Promise.race([isReady, this.exited.then((code) => Promise.reject(new Error(`${name} exited (${code}) before ready: ${this.stderr}`)))]);
  }

  get pid(): number {
    return this.#proc.pid!;
  }

  get alive(): boolean {
    return this.#proc.exitCode === null && this.#proc.signalCode === null;
  }

  /** Runs `op` in the child; rejects with its error, when it exits, or after `timeoutMs` without a reply. */
  call<T>(op: string, args: Record<string, unknown> = {}, timeoutMs = 15_000): Promise<T> {
    if (!this.alive) return Promise.reject(new Error(`${this.name} is not running: ${this.stderr.slice(-2000)}`));
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`${this.name} ${op}: no reply within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, { resolve: (v) => (clearTimeout(timer), resolve(v as T)), reject: (e) => (clearTimeout(timer), reject(e)) });
      this.#proc.stdin!.write(`${JSON.stringify({ ...args, id, op })}\n`);
    });
  }

  /** Sends `signal` to the process by its pid and waits for it to end. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.alive) process.kill(this.pid, signal);
    await this.exited;
  }

  /** Stops it politely (stdin closed: a forwarder closes its tun and sockets), else SIGKILL by pid after 3 s. */
  async end(): Promise<void> {
    if (!this.alive) return;
    this.#proc.stdin!.end();
    const t = setTimeout(() => this.alive && killPid(this.pid), 3000);
    await this.exited;
    clearTimeout(t);
  }
}

/**
 * The child's end: answers each request line with `ops[req.op]`, says { ready: true } at once, and exits 0 when the
 * lab closes stdin, after `onEnd` (a forwarder stops, closing its tun and sockets; a host has nothing to do).
 */
export function serveJsonl(ops: Record<string, Op>, onEnd?: () => Promise<unknown> | unknown): void {
  const reply = (m: object) => process.stdout.write(`${JSON.stringify(m)}\n`);
  createInterface({ input: process.stdin }).on('line', (line) => {
    const req = JSON.parse(line) as Args & { id: number; op: string };
    const op = ops[req.op];
    Promise.resolve()
      .then(() => (op ? op(req) : Promise.reject(new Error(`unknown op ${req.op}`))))
      .then((value) => reply({ id: req.id, ok: true, value }), (e: Error) => reply({ id: req.id, ok: false, error: e.message }));
  });
  process.stdin.on('end', () => void Promise.resolve(onEnd?.()).finally(() => process.exit(0)));
  reply({ ready: true });
}
