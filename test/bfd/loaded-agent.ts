// The agent's BFD detector under a blocked main thread, run in the gateway's namespace by the load tests
// (bfdd-load.test.ts, measure-load.ts): `node --import tsx loaded-agent.ts MS MULT [inprocess]`.
// Real sockets (nodeUdp: the session runs in its worker thread), or with `inprocess` a wrapper around them
// (the session on the main event loop, as before the worker). Lines on stdout, JSON:
//   {"ev":"up","priorities":[...]}      Up at MS x MULT (the Poll Sequence is over); threads not at default scheduling
//   {"ev":"state","state":...}          every session change the detector reports (main thread)
//   {"ev":"done",...}                   after a load phase: Down transitions, counters, how blocked the loop was
// stdin: `load BLOCK_MS PERIOD_MS DURATION_MS` blocks the main thread BLOCK_MS out of every PERIOD_MS (a busy
// loop) for DURATION_MS, then reports; `stop` ends the session (AdminDown) and exits.
import { readdirSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { BfdDetector, BFD_SETTINGS_DEFAULTS } from '../../src/dslite/bfd.ts';
import { nodeUdp, type DetectorEnv, type UdpOpen } from '../../src/dslite/detectors.ts';
import { B4_WAN } from './bfdd.ts';

const AFTR = '2001:db8:ff::1';
const [ms, mult] = [Number(process.argv[2]), Number(process.argv[3])];
const inprocess = process.argv[4] === 'inprocess';
const out = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);
const sleep = (n: number) => new Promise<void>((r) => setTimeout(r, n));

const udp: UdpOpen = inprocess ? (o) => nodeUdp(o) : nodeUdp;
const env: DetectorEnv = { tunnel: null as never, now: Date.now, udp };
const d = new BfdDetector({ enable: true, interval: 1000, timeout: 60_000, failureThreshold: 1 }, env);
d.configureBfd({ ...BFD_SETTINGS_DEFAULTS, desiredMinTx: ms, requiredMinRx: ms, detectMult: mult, localAddress: B4_WAN });
let last = 'AdminDown';
let downs = 0;
/** the diagnostic of each Down: 1 = bfdd's packets came late here, 3 = bfdd saw ours late and said Down */
let diags: number[] = [];
d.onReport((r) => {
  if (r.state === last) return;
  if (r.state === 'Down' && (last === 'Up' || last === 'Init')) {
    downs++;
    diags.push(r.localDiag);
  }
  last = r.state;
  out({ ev: 'state', state: r.state, diag: r.localDiag, at: Date.now() });
});
d.start(AFTR);
const want = mult * ms * 1000;
while (!(d.report().state === 'Up' && d.report().detectionTime === want && d.report().txInterval === ms * 1000)) await sleep(20);
// This process's threads not at the default scheduling (proc(5) stat: 19 nice, 40 rt_priority, 41 policy):
// the BFD worker raises its own.
const priorities = readdirSync('/proc/self/task').map((tid) => {
  const f = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  const [nice, rt, policy] = [f[16], f[37], f[38]];
  return policy === '1' ? `SCHED_FIFO ${rt}` : policy === '2' ? `SCHED_RR ${rt}` : nice !== '0' ? `nice ${nice}` : '';
}).filter(Boolean);
out({ ev: 'up', priorities });

/** Blocks the main thread `block` ms out of every `period` ms for `duration` ms. */
async function load(block: number, period: number, duration: number) {
  const downsBefore = downs;
  diags = [];
  const before = d.report();
  const end = Date.now() + duration;
  let blocked = 0;
  // The longest the main loop went without running a 5 ms timer: a check that the load really stalled it.
  let stall = 0;
  let tick = Date.now();
  const probe = setInterval(() => { const now = Date.now(); stall = Math.max(stall, now - tick); tick = now; }, 5);
  while (Date.now() < end) {
    const t0 = Date.now();
    while (Date.now() - t0 < block); // the busy loop
    blocked += Date.now() - t0;
    await sleep(Math.max(0, period - block));
  }
  clearInterval(probe);
  const r = d.report();
  out({
    ev: 'done', downs: downs - downsBefore, downDiags: diags, state: r.state, blockedMs: blocked, durationMs: duration, maxLoopStallMs: stall,
    sent: r.sent - before.sent, received: r.received - before.received, dropped: r.dropped, detectionTimeUs: r.detectionTime, txIntervalUs: r.txInterval,
  });
}

for await (const line of createInterface({ input: process.stdin })) {
  const [cmd, ...args] = line.trim().split(/\s+/);
  if (cmd === 'load') await load(Number(args[0]), Number(args[1]), Number(args[2]));
  else if (cmd === 'stop') break;
}
d.stop();
await sleep(100); // the AdminDown leaves before the process ends
process.exit(0);
