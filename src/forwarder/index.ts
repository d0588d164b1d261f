// The bundled DS-Lite B4 forwarder (RFC 6333), also an lwB4 (RFC 7596, mode 'lw4o6': its own NAPT44 into the
// binding's port set, native/napt.h and lw4o6.cc), also an RFC 7915 translator with tenant and gateway IDs
// (mode 'nat46', issue 23: native/nat46.h and nat46.cc), also a Teredo client (RFC 4380, mode 'teredo', issue 22:
// native/teredo.h and teredo.cc; Forwarder.teredo() reads its state): public API. It runs in its own worker thread, whose native
// addon forwards packets between the tun and itself in its own threads. It imports nothing from the rest of
// src/: it takes a whole config and reports counters (one named counter for every kind of drop) and events,
// and sends ICMP echo probes through the softwire itself (echo(), timed natively: native/echo.h).
//
// Events:
//   'icmpv6-error' (Icmpv6ErrorEvent): an ICMPv6 error about the softwire (failover detector input; in lw4o6
//   `verified` says whether it quotes a packet we sent recently, and an unverified code 5 is never raised;
//   dslite events are as before, without it).
//   'error' (Error): the worker died; the forwarder is gone and must be started again.
import { EventEmitter } from 'node:events';
import { isIPv6 } from 'node:net';
import { Worker } from 'node:worker_threads';
import pino, { type Logger } from 'pino';
import { resolveConfig, type Counters, type EchoOptions, type EchoResult, type ForwarderConfig, type ResolvedConfig, type TeredoState } from './types.ts';
import type { Request, WorkerMessage } from './worker.ts';

export * from './types.ts';

export interface ForwarderOptions {
  logger?: Logger;
}

// Omit over each member of a union (plain Omit would merge the members).
type RequestBody = Request extends infer R ? (R extends unknown ? Omit<R, 'id'> : never) : never;
type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void };

// Compiled (dist/, `npm start`) the worker is plain worker.js. From the sources (tests, benches) on Node 20 a
// worker does not inherit the tsx loader hooks (`--import tsx` in execArgv is not applied to the worker's
// module loader), so the worker registers tsx itself before importing worker.ts.
function workerBootstrap(): string {
  const compiled = import.meta.url.endsWith('.js');
  const entry = JSON.stringify(new URL(compiled ? './worker.js' : './worker.ts', import.meta.url).href);
  if (compiled) return `import(${entry})`;
  const tsx = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  return `import(${tsx}).then((m) => { m.register(); return import(${entry}); })`;
}

export class Forwarder extends EventEmitter {
  #worker: Worker;
  #config: ResolvedConfig;
  #log: Logger;
  #nextId = 1;
  #pending = new Map<number, Pending>();
  #stopped = false;

  private constructor(worker: Worker, config: ResolvedConfig, log: Logger) {
    super();
    this.#worker = worker;
    this.#config = config;
    this.#log = log;
  }

  /** Spawns the worker, opens the tun `config.tunName` (link MTU = tunnel MTU + 40, up) and starts forwarding. */
  static async start(config: ForwarderConfig, options: ForwarderOptions = {}): Promise<Forwarder> {
    const resolved = resolveConfig(config);
    const log = (options.logger ?? pino({ level: 'info' })).child({ module: 'forwarder', tun: resolved.tunName });
    const worker = new Worker(workerBootstrap(), { eval: true, workerData: resolved });
    const fwd = new Forwarder(worker, resolved, log);
    await new Promise<void>((resolve, reject) => {
      const onMessage = (m: WorkerMessage) => {
        if (m.kind === 'ready') {
          worker.off('message', onMessage);
          worker.off('error', reject);
          fwd.#fastPathWarn(m.fastPathErrors);
          resolve();
        } else if (m.kind === 'failed') {
          void worker.terminate();
          reject(new Error(`forwarder: cannot start: ${m.error}`));
        }
      };
      worker.on('message', onMessage);
      worker.once('error', reject);
    });
    worker.on('message', (m: WorkerMessage) => fwd.#onMessage(m));
    worker.on('error', (err) => fwd.#onExit(err));
    worker.on('exit', (code) => fwd.#onExit(new Error(`forwarder worker exited (${code})`)));
    log.info({ softwire: resolved.softwire, aftr: resolved.aftr, mtu: resolved.mtu, mode: config.mode }, 'forwarder started');
    return fwd;
  }

  get config(): ResolvedConfig {
    return this.#config;
  }

  /**
   * Replaces the whole config (e.g. the next AFTR on failover); the tun name, queue count and egress cannot change.
   * lw4o6: another binding, or leaving lw4o6, empties the NAPT table; the same binding with another BR keeps it.
   * nat46: another prefix, tenant or gateway ID, or leaving nat46, forgets the firewall's flows; adopting a gateway ID
   * or giving one back (`nat46.adopted`) keeps them and applies from the next packet.
   */
  async reconfigure(config: ForwarderConfig): Promise<void> {
    const resolved = resolveConfig(config);
    if (resolved.tunName !== this.#config.tunName || resolved.queues !== this.#config.queues || resolved.egress !== this.#config.egress)
      throw new Error('forwarder: tunName, queues and egress need stop() and start()');
    // Mode 'teredo' runs its own client (native/teredo.h) that is started whole: entering, leaving or changing it
    // needs stop() and start().
    if ((resolved.mode === 'teredo' || this.#config.mode === 'teredo') && JSON.stringify(resolved) !== JSON.stringify(this.#config))
      throw new Error("forwarder: mode 'teredo' and its config need stop() and start()");
    this.#fastPathWarn((await this.#call({ op: 'reconfigure', config: resolved })) as string[]);
    this.#config = resolved;
    this.#log.info({ aftr: resolved.aftr, mtu: resolved.mtu, mode: config.mode }, 'forwarder reconfigured');
  }

  async counters(): Promise<Counters> {
    return (await this.#call({ op: 'counters' })) as Counters;
  }

  /**
   * One ICMP echo through the softwire (RFC 6333 §5.7: b4Ipv4 -> echoTarget, default 192.0.0.2 -> 192.0.0.1),
   * encapsulated to `aftr` (default: the AFTR in use; any other too, whatever the mode: 'off' still reads the
   * tun for the answers to probes). The forwarder sends it itself (a tun write, as egress 'tun') and times it
   * natively: ok iff the reply came within timeoutMs of the send by its clock. Resolves as soon as the reply
   * or an ICMPv6 error quoting the request is read (the error fails it at once, with its type, code and
   * sender), else when timeoutMs have passed. Rejects only if the probe cannot be sent (64 outstanding, tun
   * write refused).
   */
  async echo(opts: EchoOptions): Promise<EchoResult> {
    if (opts.aftr !== undefined && !isIPv6(opts.aftr)) throw new Error('forwarder: echo: aftr is not an IPv6 address');
    if (!(Number.isFinite(opts.timeoutMs) && opts.timeoutMs > 0)) throw new Error('forwarder: echo: timeoutMs must be a positive number');
    // Mode 'teredo' has no softwire (its data plane is the Teredo client's, native/teredo.h).
    if (this.#config.mode === 'teredo') throw new Error("forwarder: echo: no softwire in mode 'teredo'");
    return (await this.#call({ op: 'echo', aftr: opts.aftr ?? null, timeoutMs: opts.timeoutMs })) as EchoResult;
  }

  /**
   * Mode 'teredo': the Teredo client's state (qualified, address, mapping, NAT kind, peers with their relays and
   * counters, totals and drops by reason). Rejects in other modes.
   */
  async teredo(): Promise<TeredoState> {
    return (await this.#call({ op: 'teredo' })) as TeredoState;
  }

  /** Stops forwarding, closes the tun (the kernel deletes it) and ends the worker. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    await this.#call({ op: 'stop' });
    this.#stopped = true;
    await this.#worker.terminate();
    this.#log.info('forwarder stopped');
  }

  // Without the fast path an interface's packets still reach the tun through the kernel: a warning, not an error.
  #fastPathWarn(errors: string[]): void {
    if (errors.length) this.#log.warn({ errors }, 'LAN fast path not attached; those interfaces use the kernel path');
  }

  #call(req: RequestBody): Promise<unknown> {
    if (this.#stopped) return Promise.reject(new Error('forwarder: stopped'));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage({ ...req, id } as Request);
    });
  }

  #onMessage(m: WorkerMessage): void {
    if (m.kind === 'event') {
      this.#log.debug({ event: m.event }, 'icmpv6 error about the softwire');
      this.emit('icmpv6-error', m.event);
    } else if (m.kind === 'reply') {
      const p = this.#pending.get(m.id);
      this.#pending.delete(m.id);
      if (!p) return;
      if (m.ok) p.resolve(m.value);
      else p.reject(new Error(`forwarder: ${m.error}`));
    }
  }

  #onExit(err: Error): void {
    const wasStopped = this.#stopped;
    this.#stopped = true;
    for (const p of this.#pending.values()) p.reject(err);
    this.#pending.clear();
    if (!wasStopped) {
      this.#log.error({ err }, 'forwarder worker died');
      if (this.listenerCount('error')) this.emit('error', err);
    }
  }
}
