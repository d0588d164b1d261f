// The BFD session in its own worker thread (real sockets, the Linux WAN). Transmissions and the Detection
// Time are timers: on the main event loop, any long task there (a commit, a CWMP session, a GC pause)
// delays them, and a peer at 10 ms x 3 saw our packets late and went Down (diagnostic 1) under load. The
// worker (bfd-worker.ts) runs the same session code (bfd-link.ts, bfd-session.ts) with its own sockets and
// timers; the main thread gets state changes as messages and reads the status and counters synchronously
// from a shared buffer the worker rewrites after every packet (a sequence lock keeps each read whole).
import { Worker } from 'node:worker_threads';
import { Emitter, type Disposable } from '../datamodel/index.ts';
import { STATES, type BfdState } from './bfd-codec.ts';
import type { BfdChange, BfdHandle, BfdOpenOptions } from './bfd-link.ts';
import type { BfdConfig, BfdStatus, SessionDrop } from './bfd-session.ts';

/** Main thread -> worker. */
export type BfdRequest = { op: 'configure'; config: BfdConfig } | { op: 'stop' };
/** Worker -> main thread. */
export type BfdMessage =
  | { kind: 'ready'; local: string; priority: string }
  | { kind: 'failed'; error: string; code?: string }
  | { kind: 'change'; from: BfdState; status: BfdStatus }
  | { kind: 'stopped' };
export interface BfdWorkerData extends BfdOpenOptions {
  status: SharedArrayBuffer;
}

// ---- the shared status: Int32 sequence (odd while being written), then Float64 fields ------------------

const DROPS = ['short', 'badVersion', 'badLength', 'zeroMultiplier', 'multipoint', 'zeroMyDisc', 'badAuthSection',
  'badYourDisc', 'zeroYourDisc', 'authUnexpected', 'authMissing', 'authFailed', 'adminDown'] as const satisfies readonly SessionDrop[];
// Every SessionDrop has a slot (a compile error here names the one that is missing).
const allDrops: [Exclude<SessionDrop, (typeof DROPS)[number]>] extends [never] ? true : never = true;
void allDrops;
const FIELDS = ['state', 'remoteState', 'localDiag', 'remoteDiag', 'localDiscr', 'remoteDiscr', 'txInterval', 'detectionTime',
  'lastReceivedAt', 'sent', 'received', 'dropped'] as const;
const SEQ_BYTES = 8;

export const statusBuffer = () => new SharedArrayBuffer(SEQ_BYTES + 8 * (FIELDS.length + DROPS.length));

/** The worker's side: one writer. */
export function statusWriter(sab: SharedArrayBuffer): (s: BfdStatus) => void {
  const seq = new Int32Array(sab, 0, 1);
  const f = new Float64Array(sab, SEQ_BYTES);
  return (s) => {
    Atomics.add(seq, 0, 1);
    FIELDS.forEach((k, i) => { f[i] = k === 'state' || k === 'remoteState' ? STATES.indexOf(s[k]) : s[k]; });
    DROPS.forEach((d, i) => { f[FIELDS.length + i] = s.drops[d] ?? 0; });
    Atomics.add(seq, 0, 1);
  };
}

/** The main thread's side: a consistent snapshot (retries while the worker is writing). */
export function statusReader(sab: SharedArrayBuffer): () => BfdStatus {
  const seq = new Int32Array(sab, 0, 1);
  const f = new Float64Array(sab, SEQ_BYTES);
  return () => {
    let v: number[] = [];
    // A writer that died mid-write (terminated) must not hang the reader: the last read stands.
    for (let i = 0; i < 10_000; i++) {
      const s1 = Atomics.load(seq, 0);
      if (s1 & 1) continue;
      v = Array.from(f);
      if (Atomics.load(seq, 0) === s1) break;
    }
    const n = (k: (typeof FIELDS)[number]) => v[FIELDS.indexOf(k)] ?? 0;
    const drops: BfdStatus['drops'] = {};
    DROPS.forEach((d, i) => { if (v[FIELDS.length + i]) drops[d] = v[FIELDS.length + i]; });
    return {
      state: STATES[n('state')], remoteState: STATES[n('remoteState')], localDiag: n('localDiag'), remoteDiag: n('remoteDiag'),
      localDiscr: n('localDiscr'), remoteDiscr: n('remoteDiscr'), txInterval: n('txInterval'), detectionTime: n('detectionTime'),
      lastReceivedAt: n('lastReceivedAt'), sent: n('sent'), received: n('received'), dropped: n('dropped'), drops,
    };
  };
}

// ---- the main thread's handle ---------------------------------------------------------------------------

// On Node 20 a worker does not inherit the tsx loader hooks (`--import tsx` in execArgv is not applied to
// the worker's module loader), so the worker registers tsx itself before importing bfd-worker.ts (as the
// forwarder's worker does).
function workerBootstrap(): string {
  // Compiled (dist/, `npm start`): plain bfd-worker.js, no tsx.
  const compiled = import.meta.url.endsWith('.js');
  const entry = JSON.stringify(new URL(compiled ? './bfd-worker.js' : './bfd-worker.ts', import.meta.url).href);
  if (compiled) return `import(${entry})`;
  const tsx = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  return `import(${tsx}).then((m) => { m.register(); return import(${entry}); })`;
}

/** How long a stopping worker may take to send AdminDown and close its sockets before it is terminated. */
const STOP_GRACE_MS = 2000;

class BfdThread implements BfdHandle {
  private readonly changes = new Emitter<BfdChange>();
  private readonly failures = new Emitter<Error>();
  private readonly read: () => BfdStatus;
  private stopped = false;

  /**
   * @param priority the worker thread's scheduling: "nice -10" where permitted, else "nice 0" (bfd-worker.ts)
   */
  constructor(private readonly worker: Worker, readonly local: string, readonly priority: string, sab: SharedArrayBuffer) {
    this.read = statusReader(sab);
    worker.on('message', (m: BfdMessage) => { if (m.kind === 'change' && !this.stopped) this.changes.fire({ from: m.from, status: m.status }); });
    const lost = (err: Error) => {
      if (this.stopped) return;
      this.stopped = true;
      this.failures.fire(err);
    };
    worker.on('error', lost);
    worker.on('exit', (code) => lost(new Error(`BFD worker exited (${code})`)));
  }

  status(): BfdStatus {
    return this.read();
  }

  configure(config: BfdConfig): void {
    if (!this.stopped) this.worker.postMessage({ op: 'configure', config } satisfies BfdRequest);
  }

  onChange(fn: (e: BfdChange) => void): Disposable {
    return this.changes.on(fn);
  }

  /** The worker died or exited on its own: the session is gone (the detector opens a new one). */
  onFailure(fn: (err: Error) => void): Disposable {
    return this.failures.on(fn);
  }

  stop(): void {
    if (this.stopped) return;
    const from = this.read().state;
    this.stopped = true;
    this.worker.postMessage({ op: 'stop' } satisfies BfdRequest);
    // The worker sends AdminDown and ends by itself; terminated if it does not within the grace time.
    const kill = setTimeout(() => void this.worker.terminate(), STOP_GRACE_MS);
    kill.unref();
    this.worker.once('exit', () => clearTimeout(kill));
    // As the in-process session does (§6.8.16): the last change, to AdminDown with diagnostic 7.
    if (from !== 'AdminDown') this.changes.fire({ from, status: { ...this.read(), state: 'AdminDown', localDiag: 7 } });
  }
}

/** Starts a worker running the session over real sockets (node:dgram); resolves once its sockets are open. */
export function openBfdThread(o: BfdOpenOptions): Promise<BfdThread> {
  const sab = statusBuffer();
  const data: BfdWorkerData = { ...o, status: sab };
  const worker = new Worker(workerBootstrap(), { eval: true, workerData: data });
  // Never keeps the process alive; stopped with the detector.
  worker.unref();
  return new Promise((resolve, reject) => {
    const fail = (err: Error) => {
      worker.off('message', onMessage);
      void worker.terminate();
      reject(err);
    };
    const onMessage = (m: BfdMessage) => {
      if (m.kind === 'ready') {
        worker.off('message', onMessage);
        worker.off('error', fail);
        worker.off('exit', onExit);
        resolve(new BfdThread(worker, m.local, m.priority, sab));
      } else if (m.kind === 'failed') {
        fail(Object.assign(new Error(m.error), { code: m.code }));
      }
    };
    const onExit = (code: number) => fail(new Error(`BFD worker exited (${code}) before its sockets were open`));
    worker.on('message', onMessage);
    worker.once('error', fail);
    worker.once('exit', onExit);
  });
}

export type { BfdThread };
