// What a LAN host sees of a failover: a UDP probe at a steady rate from lan to an echo at inet (udp.ts), every
// packet numbered and stamped, a packet delivered when its reply came back; and the CPU load a gateway lives
// with (stress-ng). Shared by the end-to-end tests and bench/failover.ts, so both count loss the same way.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { sleep } from '../wait.ts';
import type { Topo } from './topo.ts';

const UDP = fileURLToPath(new URL('./udp.ts', import.meta.url));

export interface Arrival {
  seq: number;
  /** ms epoch at the sender, and at inet */
  sentAt: number;
  recvAt: number;
  /** the IPv4 source inet saw: the AFTR's pool address or the gateway's public IPv4, never the LAN's */
  src: string;
  /** and its source port */
  srcPort: number;
}

/** A reply back at the LAN host. */
export interface Reply {
  seq: number;
  sentAt: number;
  backAt: number;
}

export interface FlowResult {
  sent: number;
  /** at inet */
  arrivals: Arrival[];
  /** back at the LAN host */
  replies: Reply[];
  /** Probes sent in [from, to) whose reply never came back (1 packet = 1 ms at 1 kHz). */
  lostBetween(from: number, to: number): number;
  /** The longest time in [from, to) with no reply back at the LAN host, ms. */
  longestGap(from: number, to: number): number;
  /** The sources seen at inet, with their counts. */
  sources(): Record<string, number>;
  /**
   * The runs of lost probes sent in [from, to): each dated by the send time of the last probe before it that came
   * back, with its length and whether the probes reached inet (lost on the way back) or not (lost on the way out).
   */
  lossRuns(from: number, to: number): { at: number; lost: number; reachedInet: number; sources: string[] }[];
  /** When the sender was itself stopped (ms epoch) and how many packets it did not send (udp.ts MAX_BEHIND). */
  senderStalls: { at: number; skipped: number }[];
}

export interface Flow {
  stop(): Promise<FlowResult>;
}

/** Starts a receiver in inet and a sender in lan (198.51.100.2:port at pps); resolves once packets flow. */
export async function startFlow(t: Topo, pps = 1000, port = 46001): Promise<Flow> {
  const recv = t.spawn('inet', process.execPath, '--import', 'tsx', UDP, 'recv', String(port));
  let rout = '';
  recv.stdout!.on('data', (d: Buffer) => (rout += d.toString()));
  for (let i = 0; !rout.includes('ready'); i++) {
    if (i > 500) throw new Error('udp receiver did not start');
    await sleep(20);
  }
  const send = t.spawn('lan', process.execPath, '--import', 'tsx', UDP, 'send', '198.51.100.2', String(port), String(pps));
  let sout = '';
  send.stdout!.on('data', (d: Buffer) => (sout += d.toString()));
  // Flowing end to end (the first reply is back), or the path is down from the start: either way after this
  // the sender runs at its rate (its start-up under load took over a second).
  for (let i = 0; !sout.includes('up') && i < 500; i++) await sleep(20);
  await sleep(200);
  return {
    async stop() {
      await ended(send, 'SIGTERM');
      await sleep(200);
      await ended(recv, 'SIGTERM');
      const sent = JSON.parse(sout.trim().split('\n').pop() || '{"sent":0}').sent as number;
      const arrivals = rout.split('\n').filter((l) => /^\d+ /.test(l)).map((l) => {
        const [s, st, rt, src, port] = l.split(' ');
        return { seq: Number(s), sentAt: Number(st), recvAt: Number(rt), src, srcPort: Number(port) };
      });
      const replies = sout.split('\n').filter((l) => l.startsWith('R ')).map((l) => {
        const [, s, st, bt] = l.split(' ');
        return { seq: Number(s), sentAt: Number(st), backAt: Number(bt) };
      });
      const stalls = sout.split('\n').filter((l) => l.startsWith('S ')).map((l) => {
        const [, at, skipped] = l.split(' ');
        return { at: Number(at), skipped: Number(skipped) };
      });
      return { ...analyse(sent, arrivals, replies), senderStalls: stalls };
    },
  };
}

function ended(p: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    p.once('exit', () => resolve());
    p.kill(signal);
  });
}

export function analyse(sent: number, arrivals: Arrival[], replies: Reply[]): Omit<FlowResult, 'senderStalls'> {
  const got = new Set(replies.map((r) => r.seq));
  const bySeq = [...replies].sort((a, b) => a.seq - b.seq);
  return {
    sent,
    arrivals,
    replies,
    lostBetween(from, to) {
      // Lost probes have no reply to date them: count the sequence numbers missing after the last probe
      // sent before `from` that came back and before the first sent at or after `to` that came back (the
      // rate is steady, so that is the window).
      const before = bySeq.filter((r) => r.sentAt < from).pop();
      const after = bySeq.find((r) => r.sentAt >= to);
      const lo = before ? before.seq + 1 : 0;
      const hi = after ? after.seq - 1 : sent - 1;
      let lost = 0;
      for (let s = lo; s <= hi; s++) if (!got.has(s)) lost++;
      return lost;
    },
    longestGap(from, to) {
      const times = replies.map((r) => r.backAt).filter((x) => x >= from && x < to).sort((a, b) => a - b);
      let gap = 0;
      for (let i = 1; i < times.length; i++) gap = Math.max(gap, times[i] - times[i - 1]);
      return gap;
    },
    lossRuns(from, to) {
      const inet = new Map(arrivals.map((a) => [a.seq, a]));
      const runs: { at: number; lost: number; reachedInet: number; sources: string[] }[] = [];
      const run = (at: number, lo: number, hi: number) => {
        const seen = [...Array(hi - lo + 1).keys()].map((i) => inet.get(lo + i)).filter((a) => a !== undefined);
        runs.push({ at, lost: hi - lo + 1, reachedInet: seen.length, sources: [...new Set(seen.map((a) => `${a.src}:${a.srcPort}`))] });
      };
      for (let i = 1; i < bySeq.length; i++) {
        const a = bySeq[i - 1], b = bySeq[i];
        if (b.seq === a.seq + 1 || a.sentAt >= to || b.sentAt < from) continue;
        run(a.sentAt, a.seq + 1, b.seq - 1);
      }
      const last = bySeq[bySeq.length - 1];
      if (last && last.seq < sent - 1 && last.sentAt < to) run(last.sentAt, last.seq + 1, sent - 1);
      return runs;
    },
    sources() {
      const out: Record<string, number> = {};
      for (const r of arrivals) out[r.src] = (out[r.src] ?? 0) + 1;
      return out;
    },
  };
}

// A 1 ms sleep loop at SCHED_FIFO priority: it preempts stress-ng and every process of the labs, so a gap in it is
// the machine (the VM) not running, not our code being slow. Prints "stall START_MS LENGTH_MS" for gaps > 50 ms.
const WATCHDOG = `
import time, sys
last = time.time()
while True:
    time.sleep(0.001)
    now = time.time()
    if now - last > 0.05:
        print("stall %d %d" % (last * 1000, (now - last) * 1000), flush=True)
    last = now
`;

/** Machine-wide stalls while it runs (see WATCHDOG); stop() returns them. */
export function machineStalls(): { stop(): Promise<{ at: number; ms: number }[]> } {
  const p = spawn('chrt', ['-f', '20', 'python3', '-c', WATCHDOG], { stdio: ['ignore', 'pipe', 'ignore'] });
  p.once('error', () => undefined);
  let out = '';
  p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  return {
    async stop() {
      await ended(p, 'SIGTERM');
      return out.split('\n').filter((l) => l.startsWith('stall ')).map((l) => {
        const [, at, ms] = l.split(' ');
        return { at: Number(at), ms: Number(ms) };
      });
    },
  };
}

/** `stress-ng --cpu 2`: both CPUs busy, as a gateway's are. stop() ends it. */
export function cpuLoad(): { stop(): Promise<void> } {
  const p = spawn('stress-ng', ['--cpu', '2', '--quiet'], { stdio: 'ignore' });
  p.once('error', () => undefined);
  return { stop: () => ended(p, 'SIGTERM') };
}
