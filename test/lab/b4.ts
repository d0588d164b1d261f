// The forwarder (src/forwarder) running in the lab's cpe namespace, driven through b4-runner.ts.
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Counters, EchoResult, ForwarderConfig, Icmpv6ErrorEvent } from '../../src/forwarder/index.ts';
import { ADDR, routeViaB4, waitFor, type Lab, type Role } from './lab.ts';

const RUNNER = fileURLToPath(new URL('./b4-runner.ts', import.meta.url));

export class LabB4 {
  readonly events: Icmpv6ErrorEvent[] = [];
  #proc: ChildProcess;
  #waiters: Array<(m: { kind: string; value?: unknown; error?: string }) => boolean> = [];
  #exited = false;
  stderr = '';

  private constructor(proc: ChildProcess) {
    this.#proc = proc;
    proc.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      const m = JSON.parse(line) as { kind: string; event?: Icmpv6ErrorEvent };
      if (m.kind === 'event') this.events.push(m.event!);
      this.#waiters = this.#waiters.filter((w) => !w(m));
    });
    proc.once('exit', () => {
      this.#exited = true;
      for (const w of this.#waiters) w({ kind: 'error', error: `b4 runner exited: ${this.stderr}` });
      this.#waiters = [];
    });
  }

  /**
   * Starts the forwarder in cpe with the lab's addresses (overridable) and routes IPv4 through it.
   * `role`/`routes: false` run it elsewhere with the caller doing the routing (the benchmark's mirror).
   */
  static async start(lab: Lab, config: Partial<ForwarderConfig> = {}, opts: { role?: Role; routes?: boolean } = {}): Promise<LabB4> {
    const full: ForwarderConfig = { tunName: 'b4tun', softwire: ADDR.softwire, aftr: ADDR.aftr, mode: 'dslite', ...config };
    const proc = lab.spawn(opts.role ?? 'cpe', process.execPath, '--import', 'tsx', RUNNER, JSON.stringify(full));
    const b4 = new LabB4(proc);
    const ready = await b4.#next('ready', 15000);
    if (ready.kind !== 'ready') throw new Error(`b4 did not start: ${ready.error ?? ''} ${b4.stderr}`);
    if (opts.routes !== false) await routeViaB4(lab, full.tunName);
    lab.defer(() => b4.stop());
    return b4;
  }

  #next(kind: string, timeoutMs = 5000): Promise<{ kind: string; value?: unknown; error?: string }> {
    return new Promise((resolve, reject) => {
      if (this.#exited) return reject(new Error(`b4 runner exited: ${this.stderr}`));
      const timer = setTimeout(() => reject(new Error(`b4 runner: no ${kind} within ${timeoutMs} ms; ${this.stderr}`)), timeoutMs);
      this.#waiters.push((m) => {
        if (m.kind !== kind && m.kind !== 'error') return false;
        clearTimeout(timer);
        resolve(m);
        return true;
      });
    });
  }

  /** The runner's pid (ip netns exec execs it): its native queue threads are /proc/<pid>/task/* named fwq<N>. */
  get pid(): number {
    return this.#proc.pid!;
  }

  async counters(): Promise<Counters> {
    const reply = this.#next('counters');
    this.#proc.stdin!.write(`${JSON.stringify({ op: 'counters' })}\n`);
    return (await reply).value as Counters;
  }

  /** `count` echo probes through the softwire (Forwarder.echo), one every `intervalMs`; their results in order. */
  async echo(opts: { aftr?: string; timeoutMs: number; count?: number; intervalMs?: number }): Promise<EchoResult[]> {
    const reply = this.#next('echo', 10_000 + (opts.count ?? 1) * ((opts.intervalMs ?? 0) + opts.timeoutMs));
    this.#proc.stdin!.write(`${JSON.stringify({ op: 'echo', ...opts })}\n`);
    const m = await reply;
    if (m.kind === 'error') throw new Error(m.error);
    return m.value as EchoResult[];
  }

  async reconfigure(config: ForwarderConfig): Promise<void> {
    const reply = this.#next('reconfigured');
    this.#proc.stdin!.write(`${JSON.stringify({ op: 'reconfigure', config })}\n`);
    const m = await reply;
    if (m.kind === 'error') throw new Error(m.error);
  }

  waitEvent(pred: (e: Icmpv6ErrorEvent) => boolean, timeoutMs = 5000): Promise<Icmpv6ErrorEvent> {
    return waitFor('icmpv6 event', async () => this.events.find(pred), timeoutMs);
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
