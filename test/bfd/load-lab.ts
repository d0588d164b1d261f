// The lab of the BFD load runs: the failover topology's gateway and AFTR namespaces (no Kea, no AFTR
// fixture: BFD needs only the routes), FRR bfdd on the AFTR node, and the agent's detector in a child
// process in the gateway's namespace (loaded-agent.ts) whose main thread the caller blocks.
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { createTopo, type Topo } from '../failover/topo.ts';
import { B4_WAN, startBfdd, type Bfdd } from './bfdd.ts';

const AGENT = fileURLToPath(new URL('./loaded-agent.ts', import.meta.url));

export interface LoadResult {
  /** Down transitions the agent reported during the load */
  agentDowns: number;
  /** their diagnostics: 1 = bfdd's packets were late at the agent, 3 = bfdd saw ours late */
  downDiags: number[];
  /** bfdd's session-down events during the load (`show bfd peers counters json`) */
  bfddDowns: number;
  bfddStatus: string;
  blockedMs: number;
  durationMs: number;
  /** the longest the agent's main loop went without running a timer */
  maxLoopStallMs: number;
  sent: number;
  received: number;
  dropped: number;
  detectionTimeUs: number;
  txIntervalUs: number;
}

export interface LoadLab {
  t: Topo;
  bfdd: Bfdd;
  agent: ChildProcess;
  /** the agent's threads not at the default scheduling (the BFD worker: "nice -10") */
  threadPriorities: string[];
  /** bfdd's counters for the gateway's session */
  bfddCounters(): Promise<{ down: number; up: number; in: number; out: number }>;
  /** Blocks the agent's main thread `block` ms out of every `period` ms for `duration` ms. */
  load(block: number, period: number, duration: number): Promise<LoadResult>;
  stderr(): string;
  stop(): Promise<void>;
}

export async function startLoadLab(tag: string, ms: number, mult: number, opts: { inprocess?: boolean } = {}): Promise<LoadLab> {
  const t = await createTopo(tag, 'bl');
  let bfdd: Bfdd | null = null;
  let agent: ChildProcess | null = null;
  try {
    bfdd = await startBfdd(t, 'aftr1', { tx: ms, rx: ms, mult }, `${ms}`, { fifo: 10 }); // the AFTR: not under the gateway's load
    agent = t.spawn('cpe', process.execPath, '--import', 'tsx', AGENT, String(ms), String(mult), ...(opts.inprocess ? ['inprocess'] : []));
    let err = '';
    agent.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    const lines = createInterface({ input: agent.stdout! });
    const waiters: ((m: Record<string, unknown>) => boolean)[] = [];
    lines.on('line', (l) => {
      let m: Record<string, unknown>;
      try { m = JSON.parse(l) as Record<string, unknown>; } catch { return; }
      for (const w of [...waiters]) if (w(m)) waiters.splice(waiters.indexOf(w), 1);
    });
    const next = (ev: string, timeout: number) => new Promise<Record<string, unknown>>((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`agent: no "${ev}" within ${timeout} ms: ${err}`)), timeout);
      waiters.push((m) => { if (m.ev !== ev) return false; clearTimeout(timer); res(m); return true; });
    });
    const up = await next('up', 30_000);
    const b = bfdd;
    const a = agent;
    const bfddCounters = async () => {
      const peers = JSON.parse(await t.exec('aftr1', 'vtysh', '--vty_socket', b.dir, '-c', 'show bfd peers counters json')) as Record<string, unknown>[];
      const p = peers.find((x) => x.peer === B4_WAN) ?? {};
      const n = (k: string) => Number(p[k] ?? NaN);
      return { down: n('session-down'), up: n('session-up'), in: n('control-packet-input'), out: n('control-packet-output') };
    };
    return {
      t, bfdd: b, agent: a, bfddCounters, threadPriorities: up.priorities as string[],
      async load(block, period, duration) {
        const before = await bfddCounters();
        a.stdin!.write(`load ${block} ${period} ${duration}\n`);
        const done = await next('done', duration + 30_000);
        const after = await bfddCounters();
        return {
          agentDowns: done.downs as number, downDiags: done.downDiags as number[], bfddDowns: after.down - before.down, bfddStatus: await b.peerStatus(),
          blockedMs: done.blockedMs as number, durationMs: done.durationMs as number, maxLoopStallMs: done.maxLoopStallMs as number,
          sent: done.sent as number, received: done.received as number, dropped: done.dropped as number,
          detectionTimeUs: done.detectionTimeUs as number, txIntervalUs: done.txIntervalUs as number,
        };
      },
      stderr: () => err,
      async stop() {
        if (a.exitCode === null && a.signalCode === null) {
          const gone = new Promise((r) => a.once('exit', r));
          a.stdin!.write('stop\n');
          await gone;
        }
        await b.stop();
        await t.cleanup();
      },
    };
  } catch (e) {
    agent?.kill('SIGKILL');
    await bfdd?.stop().catch(() => undefined);
    await t.cleanup();
    throw e;
  }
}
