// The forwarder in the lab's cpe namespace with echo probes (echo-runner.ts), for e2e.test.ts. The lab's own
// LabB4 (test/lab/b4.ts) has no echo operation.
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Counters, EchoResult, ForwarderConfig, Icmpv6ErrorEvent } from '../../src/forwarder/index.ts';
import { ADDR, routeViaB4, type Lab } from '../lab/lab.ts';

const RUNNER = fileURLToPath(new URL('./echo-runner.ts', import.meta.url));
type Message = { kind: string; value?: unknown; error?: string; event?: Icmpv6ErrorEvent };

export class EchoB4 {
  readonly events: Icmpv6ErrorEvent[] = [];
  stderr = '';
  #proc: ChildProcess;
  #waiters: Array<(m: Message) => boolean> = [];

  private constructor(proc: ChildProcess) {
    this.#proc = proc;
    proc.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      const m = JSON.parse(line) as Message;
      if (m.kind === 'event') this.events.push(m.event!);
      else this.#waiters = this.#waiters.filter((w) => !w(m));
    });
    proc.once('exit', () => {
      for (const w of this.#waiters) w({ kind: 'error', error: `echo runner exited: ${this.stderr}` });
      this.#waiters = [];
    });
  }

  /** Starts the forwarder in cpe with the lab's addresses and routes IPv4 through it (as LabB4.start). */
  static async start(lab: Lab, config: Partial<ForwarderConfig> = {}): Promise<EchoB4> {
    const full: ForwarderConfig = { tunName: 'b4tun', softwire: ADDR.softwire, aftr: ADDR.aftr, mode: 'dslite', ...config };
    const b4 = new EchoB4(lab.spawn('cpe', process.execPath, '--import', 'tsx', RUNNER, JSON.stringify(full)));
    lab.defer(() => b4.stop());
    await b4.#next('ready', 15_000);
    await routeViaB4(lab, full.tunName);
    return b4;
  }

  #next(kind: string, timeoutMs: number): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`echo runner: no ${kind} within ${timeoutMs} ms; ${this.stderr}`)), timeoutMs);
      this.#waiters.push((m) => {
        if (m.kind !== kind && m.kind !== 'error') return false;
        clearTimeout(timer);
        if (m.kind === 'error') reject(new Error(m.error));
        else resolve(m.value);
        return true;
      });
    });
  }

  /** `count` probes, one every `intervalMs`; their results in order. */
  async echo(opts: { aftr?: string; timeoutMs: number; count?: number; intervalMs?: number }): Promise<EchoResult[]> {
    const reply = this.#next('echo', 10_000 + (opts.count ?? 1) * ((opts.intervalMs ?? 0) + opts.timeoutMs));
    this.#proc.stdin!.write(`${JSON.stringify({ op: 'echo', ...opts })}\n`);
    return (await reply) as EchoResult[];
  }

  async counters(): Promise<Counters> {
    const reply = this.#next('counters', 5000);
    this.#proc.stdin!.write(`${JSON.stringify({ op: 'counters' })}\n`);
    return (await reply) as Counters;
  }

  async stop(): Promise<void> {
    if (this.#proc.exitCode !== null || this.#proc.signalCode !== null) return;
    const gone = new Promise((r) => this.#proc.once('exit', r));
    this.#proc.stdin!.end(`${JSON.stringify({ op: 'stop' })}\n`);
    const t = setTimeout(() => this.#proc.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(t);
  }
}
