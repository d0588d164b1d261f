// `npm run bench:failover`: the outage a LAN client sees when the AFTR fails, and the packets lost when
// DS-Lite comes back. A LAN client sends UDP at 1 kHz to inet through the agent (Linux WAN, bundled
// forwarder, Kea, AFTR fixture, in namespaces); for blackhole and process death, with the default and with
// fast detector settings:
//   outage   = packets sent from the failure until the AFTR returns that never arrived (1 packet = 1 ms at 1 kHz);
//   failback = packets sent after the AFTR came back that never arrived (make-before-break should give 0);
//   leaked   = packets that reached inet with the LAN's private source (a stale conntrack entry, DESIGN step 3).
// The BFD rows run FRR bfdd on the AFTR (test/bfd/bfdd.ts), make BFD the deciding detector (Combine Primary)
// and blackhole the AFTR node entirely: IPv4-in-IPv6 and BFD (UDP 4784) both dropped.
// `npm run bench:failover -- bfd` runs the BFD rows only.
import { fileURLToPath } from 'node:url';
import { cli } from '../test/failover/cli.ts';
import { FO, startLabAgent } from '../test/failover/agent.ts';
import { createTopo, type Topo } from '../test/failover/topo.ts';
import { B4_WAN, startBfdd, type Bfdd } from '../test/bfd/bfdd.ts';

const UDP = fileURLToPath(new URL('../test/failover/udp.ts', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const SETTINGS = {
  default: {},
  fast: {
    [`${FO}Detector.2.Interval`]: '20', [`${FO}Detector.2.Timeout`]: '150',
    [`${FO}Detector.3.Interval`]: '100', [`${FO}Detector.3.Timeout`]: '100', [`${FO}Detector.3.FailureThreshold`]: '2',
  },
  'BFD 100 ms x 3': { [`${FO}BFD.DesiredMinTxInterval`]: '100', [`${FO}BFD.RequiredMinRxInterval`]: '100' },
  'BFD 300 ms x 3': { [`${FO}BFD.DesiredMinTxInterval`]: '300', [`${FO}BFD.RequiredMinRxInterval`]: '300' },
} as const;
const BFD_MS: Partial<Record<keyof typeof SETTINGS, number>> = { 'BFD 100 ms x 3': 100, 'BFD 300 ms x 3': 300 };
// Only BFD decides in the BFD rows (Detector.5 is BFD on a fresh database).
const BFD_ON = {
  [`${FO}Detector.5.Enable`]: 'true', [`${FO}Detector.5.Timeout`]: '60000', [`${FO}BFD.DetectMult`]: '3', [`${FO}BFD.LocalAddress`]: B4_WAN,
  [`${FO}Combine`]: 'Primary', [`${FO}PrimaryDetector`]: 'BFD',
};
// Recovery is not what is measured: the same quick recovery for both rows.
const RECOVERY = { [`${FO}RecoveryInterval`]: '1', [`${FO}RecoveryThreshold`]: '2', [`${FO}HoldDownTime`]: '2' };

interface Row { failure: 'blackhole' | 'process death'; settings: keyof typeof SETTINGS; switchesBefore: number; outageMs: number; longestGap: number; recordedMs: number; failbackLost: number; baselineLost: number; leaked: number; sent: number }

async function once(t: Topo, failure: Row['failure'], settings: Row['settings'], n: number): Promise<Row> {
  await t.startAftr('aftr1');
  const bfdMs = BFD_MS[settings];
  const bfdd: Bfdd | null = bfdMs ? await startBfdd(t, 'aftr1', { tx: bfdMs, rx: bfdMs, mult: 3 }, `bench${n}`) : null;
  const a = await startLabAgent(t, {}, `bench${n}`);
  try {
    await a.waitFor(`${FO}Mode`, 'DSLite');
    await cli(a.socket, { cmd: 'set', values: { ...SETTINGS[settings], ...RECOVERY, ...(bfdd ? BFD_ON : {}) } });
    if (bfdd) await a.waitFor(`${FO}BFD.DetectionTime`, String(3 * bfdMs! * 1000), 20_000);
    const recv = t.spawn('inet', process.execPath, '--import', 'tsx', UDP, 'recv', '46001');
    let rout = '';
    recv.stdout!.on('data', (d: Buffer) => (rout += d.toString()));
    while (!rout.includes('ready')) await sleep(20);
    const send = t.spawn('lan', process.execPath, '--import', 'tsx', UDP, 'send', '198.51.100.2', '46001', '1000');
    let sout = '';
    send.stdout!.on('data', (d: Buffer) => (sout += d.toString()));
    await sleep(1500);
    // The row means something only if the gateway is on the healthy tunnel (and, in the BFD rows, the session
    // is Up) when the failure starts. A switch caused by reconfiguring BFD is waited out and left out.
    const ready = async () => (await a.get(`${FO}Mode`)) === 'DSLite' && (!bfdd || (await a.get(`${FO}BFD.SessionState`)) === 'Up');
    for (let i = 0; !(await ready()); i++) {
      if (i > 150) throw new Error(`${failure}/${settings}: not on a healthy tunnel before the failure: ${JSON.stringify(await Promise.all([`${FO}Mode`, `${FO}BFD.SessionState`, `${FO}BFD.RemoteSessionState`, `${FO}BFD.LastDiagnosticText`, `${FO}BFD.PeerAddress`, `${FO}BFD.LocalAddressInUse`, `${FO}BFD.PacketsSent`, `${FO}BFD.PacketsReceived`, `${FO}BFD.PacketsDropped`, `${FO}History.1.Reason`].map((p) => a.get(p))))}`);
      await sleep(200);
    }
    await sleep(1000);
    if (!(await ready())) throw new Error(`${failure}/${settings}: the tunnel did not stay healthy before the failure`);
    const switchesBefore = Number(await a.get(`${FO}SwitchCount`));
    const failAt = Date.now();
    if (failure === 'blackhole') await Promise.all([t.blackhole('aftr1', true), bfdd?.block(true)]);
    else await t.killAftr('aftr1');
    await a.waitFor(`${FO}Mode`, 'DualStack', 20_000);
    await sleep(1000);
    const backAt = Date.now();
    if (failure === 'blackhole') await Promise.all([t.blackhole('aftr1', false), bfdd?.block(false)]);
    else await t.startAftr('aftr1');
    await a.waitFor(`${FO}Mode`, 'DSLite', 30_000);
    const dsliteAt = Date.now();
    await sleep(1000);
    const recorded = Number(await a.get(`${FO}History.${switchesBefore + 1}.OutageMs`));
    send.kill('SIGTERM');
    await new Promise((r) => send.once('exit', r));
    await sleep(200);
    recv.kill('SIGTERM');
    await new Promise((r) => recv.once('exit', r));
    const sent = JSON.parse(sout.trim().split('\n').pop()!).sent as number;
    const rows = rout.split('\n').filter((l) => /^\d+ /.test(l)).map((l) => { const [s, st, rt, src] = l.split(' '); return { seq: Number(s), sentAt: Number(st), recvAt: Number(rt), src }; });
    const got = new Set(rows.map((r) => r.seq));
    // Failback: packets sent within 250 ms either side of the moment the agent moved IPv4 back to the softwire.
    const backLine = a.logs().split('\n').filter((l) => l.includes('"msg":"failover switch"') && l.includes('"to":"DSLite"')).pop();
    const switchAt = backLine ? (JSON.parse(backLine) as { time: number }).time : dsliteAt;
    const lostBetween = (from: number, to: number) => {
      const inWindow = rows.filter((r) => r.sentAt >= from && r.sentAt < to).map((r) => r.seq);
      if (!inWindow.length) return 0;
      let lost = 0;
      for (let s = Math.min(...inWindow); s <= Math.max(...inWindow); s++) if (!got.has(s)) lost++;
      return lost;
    };
    const failbackLost = lostBetween(switchAt - 250, switchAt + 250);
    // At 1 kHz each packet lost is 1 ms without IPv4 service.
    const outage = lostBetween(failAt, backAt);
    // Independent of loss accounting: the longest silence at inet between two arrivals after the failure.
    const arrivals = rows.filter((r) => r.recvAt >= failAt - 100 && r.recvAt < backAt).map((r) => r.recvAt).sort((x, y) => x - y);
    let longestGap = 0;
    for (let i = 1; i < arrivals.length; i++) longestGap = Math.max(longestGap, arrivals[i] - arrivals[i - 1]);
    // Steady-state loss of the path (CPU contention on a shared machine), for scale: the 500 ms before the failure.
    const baselineLost = lostBetween(failAt - 500, failAt);
    const leaked = rows.filter((r) => r.src.startsWith('192.0.2.')).length;
    return { failure, settings, switchesBefore, outageMs: outage, longestGap, recordedMs: recorded, failbackLost, baselineLost, leaked, sent };
  } finally {
    await a.stop();
    await bfdd?.stop();
  }
}

const t = await createTopo('b');
const results: Row[] = [];
try {
  await t.startKea();
  let n = 0;
  const runs: [Row['failure'], Row['settings']][] = process.argv.some((a) => a.startsWith('bfd')) ? [] : [
    ['blackhole', 'default'], ['blackhole', 'fast'], ['process death', 'default'], ['process death', 'fast'],
  ];
  runs.push(...(process.argv.includes('bfd300') ? [] : [['blackhole', 'BFD 100 ms x 3'] as [Row['failure'], Row['settings']]]), ['blackhole', 'BFD 300 ms x 3']);
  if (process.argv.includes('no-bfd100')) runs.splice(runs.findIndex((r) => r[1] === 'BFD 100 ms x 3'), 1);
  for (const [failure, settings] of runs) {
    const r = await once(t, failure, settings, n++);
    results.push(r);
    console.log(JSON.stringify(r));
  }
} finally {
  await t.cleanup();
}
console.log('\n| failure | detector settings | outage at inet (ms = packets lost) | longest gap between arrivals at inet (ms) | OutageMs recorded | lost on failback (±250 ms) | lost in 500 ms before failure | leaked unNATed | packets sent | switches before the failure (left out) |');
console.log('|---|---|---|---|---|---|---|---|---|---|');
for (const r of results) console.log(`| ${r.failure} | ${r.settings} | ${r.outageMs} | ${r.longestGap} | ${r.recordedMs} | ${r.failbackLost} | ${r.baselineLost} | ${r.leaked} | ${r.sent} | ${r.switchesBefore} |`);
