// `npm run bench:failover -- [TRIALS] [KIND ...]`: what a LAN host sees when the AFTR fails and comes back, with
// both CPUs busy (stress-ng --cpu 2 for the whole run, as a gateway's are), against the strict AFTR fixture
// (test/fixtures/aftr: RFC 6333 §6-7 as ISC AFTR does them) and Kea, the agent on the Linux WAN in namespaces.
// A LAN host sends UDP at 1 kHz to inet (test/failover/flow.ts); TRIALS faults (default 10) of each kind:
//   death:          the AFTR process killed (its node answers ICMPv6 unreachable), default detectors;
//   blackhole:      the AFTR silently drops the softwire, default detectors;
//   blackhole-fast: the same with the fast profile (Silence 20/150 ms, Echo 100/100 ms x 2);
//   backup:         two AFTRs, the primary killed (-> backup), then back (-> return to the primary);
//   again:          the AFTR killed again the moment the gateway has returned to it;
//   lw4o6-icmp, lw4o6-learn: the lw4o6 rows, in the lw4o6 lab (bench/failover-lw4o6.ts): the primary lwAFTR of an
//                   anycast pair dies; the backup answers ICMPv6 code 5 (the gateway provisions again) or creates
//                   the binding from the packets (the gateway does nothing).
// Per fault: outage (packets lost at 1 kHz = ms without IPv4), the longest silence at inet, OutageMs recorded by
// the agent, verdict-to-switch and the DHCPv4 wait from the agent's log, packets lost on the return, packets
// dropped at the AFTR for a wrong inner source, packets that left un-NATed, and the public IPv4 leased.
// p50 and p99 are nearest-rank over the trials (with 10 trials p99 is the worst one).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli } from '../test/failover/cli.ts';
import { FAST_PROFILE, FO, startLabAgent, type LabAgent } from '../test/failover/agent.ts';
import { cpuLoad, machineStalls, startFlow } from '../test/failover/flow.ts';
import { createTopo, type Topo } from '../test/failover/topo.ts';
import { LW_KINDS, runLw4o6, type LwKind, type LwTrial } from './failover-lw4o6.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
type Kind = 'death' | 'blackhole' | 'blackhole-fast' | 'backup' | 'again';
const KINDS: Kind[] = ['death', 'blackhole', 'blackhole-fast', 'backup', 'again'];
const trials = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 10);
const kinds = KINDS.filter((k) => process.argv.includes(k));
const lwKinds = LW_KINDS.filter((k) => process.argv.includes(k));
const all = !kinds.length && !lwKinds.length;

// Recovery is not what is measured: the same quick recovery for every kind.
const RECOVERY = { [`${FO}RecoveryInterval`]: '1', [`${FO}RecoveryThreshold`]: '2', [`${FO}HoldDownTime`]: '2' };

interface Trial {
  kind: Kind;
  n: number;
  outageMs: number;
  longestGapMs: number;
  recordedMs: number;
  verdictToSwitchMs: number;
  leaseWaitMs: number;
  failbackLost: number;
  wrongSource: number;
  leaked: number;
  publicIPv4: string;
}

interface SwitchLine { time: number; to: string; aftr: string; outageMs: number; verdictToSwitchMs?: number; leaseWaitMs?: number }
const switchLines = (a: LabAgent): SwitchLine[] => a.logs().split('\n').filter((l) => l.includes('"msg":"failover switch"')).map((l) => JSON.parse(l));
const keaReleases = (t: Topo) => (t.keaLog(4).match(/DHCP4_RELEASE /g) ?? []).length;

async function counts(t: Topo) {
  const l = await t.leaked();
  return { wrong: (t.aftrCounters('aftr1').wrong_source ?? 0) + (t.aftrCounters('aftr2').wrong_source ?? 0), leaked: l.isp + l.inet };
}

async function waitFor(a: LabAgent, path: string, value: string, ms: number, every = 20) {
  const t0 = Date.now();
  while ((await a.get(path).catch(() => '')) !== value) {
    if (Date.now() - t0 > ms) throw new Error(`${path} not ${value} after ${ms} ms\n${a.logs().split('\n').slice(-20).join('\n')}`);
    await sleep(every);
  }
}

/** BENCH_DHCP4=udhcpc runs busybox udhcpc (the previous client) instead of the agent's own, as a reference; BENCH_UDHCPC=CMD runs CMD as udhcpc. */
function dhcp4Option(): Record<string, string> {
  if (process.env.BENCH_UDHCPC) return { dhcp4Client: 'udhcpc', udhcpc: process.env.BENCH_UDHCPC };
  return process.env.BENCH_DHCP4 ? { dhcp4Client: process.env.BENCH_DHCP4 } : {};
}

async function runKind(t: Topo, kind: Kind): Promise<Trial[]> {
  await t.startAftr('aftr1');
  if (kind === 'backup') await t.startAftr('aftr2');
  const a = await startLabAgent(t, dhcp4Option(), `bench-${kind}`);
  const out: Trial[] = [];
  try {
    await waitFor(a, `${FO}Mode`, 'DSLite', 20_000);
    await cli(a.socket, { cmd: 'set', values: { ...(kind === 'blackhole-fast' ? FAST_PROFILE : {}), ...RECOVERY, ...(kind === 'backup' ? { [`${FO}BackupAFTRs`]: 'aftr2.example.net' } : {}) } });
    for (let n = 1; n <= trials; n++) {
      await sleep(1500);
      const before = await counts(t);
      const switchesBefore = switchLines(a).length;
      const releases = keaReleases(t);
      const flow = await startFlow(t);
      await sleep(1000);
      const failAt = Date.now();
      let restoreAt: number;
      let publicIPv4 = '';
      if (kind === 'again') {
        // First out to dual-stack and back; the fault measured is the second kill, at the return.
        await t.killAftr('aftr1');
        await waitFor(a, `${FO}Mode`, 'DualStack', 15_000);
        await t.startAftr('aftr1');
        await waitFor(a, `${FO}Mode`, 'DSLite', 20_000, 5);
      }
      const faultAt = kind === 'again' ? Date.now() : failAt;
      if (kind === 'blackhole' || kind === 'blackhole-fast') await t.blackhole('aftr1', true);
      else await t.killAftr('aftr1');
      if (kind === 'backup') {
        await waitFor(a, `${FO}CurrentAFTR`, 'aftr2.example.net', 15_000);
        await sleep(1000);
        restoreAt = Date.now();
        await t.startAftr('aftr1');
        await waitFor(a, `${FO}CurrentAFTR`, 'aftr.example.net', 20_000);
      } else {
        await waitFor(a, `${FO}Mode`, 'DualStack', 20_000);
        publicIPv4 = await a.get(`${FO}PublicIPv4Address`);
        await sleep(1000);
        restoreAt = Date.now();
        if (kind === 'blackhole' || kind === 'blackhole-fast') await t.blackhole('aftr1', false);
        else await t.startAftr('aftr1');
        await waitFor(a, `${FO}Mode`, 'DSLite', 30_000);
      }
      await sleep(1500);
      const f = await flow.stop();
      const lines = switchLines(a).slice(switchesBefore);
      const failover = lines.find((l) => l.time >= faultAt && (kind === 'backup' ? l.aftr === 'aftr2.example.net' : l.to === 'DualStack'));
      const back = lines.filter((l) => l.time >= restoreAt && l.to === 'DSLite').pop();
      const after = await counts(t);
      out.push({
        kind, n,
        outageMs: f.lostBetween(faultAt, restoreAt),
        longestGapMs: f.longestGap(faultAt - 100, restoreAt),
        recordedMs: failover?.outageMs ?? -1,
        verdictToSwitchMs: failover?.verdictToSwitchMs ?? -1,
        leaseWaitMs: failover?.leaseWaitMs ?? 0,
        failbackLost: back ? f.lostBetween(restoreAt, back.time + 1000) : -1,
        wrongSource: after.wrong - before.wrong,
        leaked: after.leaked - before.leaked,
        publicIPv4,
      });
      console.log(JSON.stringify(out[out.length - 1]));
      // Where a return lost packets: each run dated from the restore and from the switch back.
      const lastTrial = out[out.length - 1];
      if (back && lastTrial.failbackLost > 0)
        console.log(JSON.stringify({ lossRuns: f.lossRuns(restoreAt, back.time + 1000).map((r) => ({ ...r, afterRestoreMs: r.at - restoreAt, afterReturnMs: r.at - back.time })) }));
      for (const st of f.senderStalls) console.log(JSON.stringify({ senderStall: { ...st, afterFaultMs: st.at - faultAt } }));
      // Start each fault from a settled gateway: the WAN lease given back after the grace period.
      if (kind !== 'backup') {
        const t0 = Date.now();
        while (keaReleases(t) <= releases && Date.now() - t0 < 20_000) await sleep(100);
      }
    }
  } finally {
    await a.stop();
    // BENCH_LOGS=DIR keeps each kind's agent log (pino JSON; LOG_LEVEL=debug for each DHCPv4 send failure).
    if (process.env.BENCH_LOGS) {
      writeFileSync(join(process.env.BENCH_LOGS, `agent-${kind}.log`), a.logs());
      writeFileSync(join(process.env.BENCH_LOGS, `kea4-${kind}.log`), t.keaLog(4));
    }
    if (kind === 'backup') await t.killAftr('aftr2');
  }
  return out;
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
};

const load = cpuLoad();
const stalls = machineStalls();
const results: Trial[] = [];
const lwResults: LwTrial[] = [];
try {
  if (all || kinds.length) {
    const t = await createTopo('b');
    try {
      await t.startKea();
      // BENCH_LOGS: the gateway's DHCPv4 on its WAN link, captured for the whole run.
      if (process.env.BENCH_LOGS) t.spawn('cpe', 'tcpdump', '-i', 'cpe-wan', '-n', '-U', '-w', join(process.env.BENCH_LOGS, 'dhcp4.pcap'), 'udp port 67 or udp port 68');
      // BENCH_CAPTURE=1 also: the LAN probe on the WAN link (outside the softwire), for a return that lost packets.
      if (process.env.BENCH_LOGS && process.env.BENCH_CAPTURE) t.spawn('cpe', 'tcpdump', '-i', 'cpe-wan', '-n', '-U', '-s', '96', '-w', join(process.env.BENCH_LOGS, 'probe.pcap'), 'udp port 46001 or ip6');
      for (const kind of kinds.length ? kinds : KINDS) results.push(...(await runKind(t, kind)));
    } finally {
      await t.cleanup();
    }
  }
  for (const kind of all ? LW_KINDS : lwKinds) lwResults.push(...(await runLw4o6(kind as LwKind, trials)));
} finally {
  await load.stop();
  const st = await stalls.stop();
  // A stall stops the LAN host, the gateway and the peers alike: what falls in one is the machine's, not the gateway's.
  console.log(`\nMachine stalls over 50 ms (a SCHED_FIFO watchdog did not run): ${st.length}, longest ${Math.max(0, ...st.map((x) => x.ms))} ms ${JSON.stringify(st)}`);
}
if (results.length) {
  console.log(`\nLoad: stress-ng --cpu 2 for the whole run; ${trials} faults of each kind; UDP 1 kHz from the LAN; strict AFTR fixture.`);
  console.log('| fault | outage at the LAN, ms p50 / p99 | longest gap at inet p50 / p99 | OutageMs error (recorded - seen) p50 / p99 of abs | verdict to switch ms p50 / p99 | DHCPv4 wait ms p50 / p99 | lost on the return (total) | dropped at AFTR, wrong source (total) | leaked un-NATed (total) | public IPv4s |');
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const kind of KINDS) {
    const r = results.filter((x) => x.kind === kind);
    if (!r.length) continue;
    const col = (f: (x: Trial) => number) => `${pct(r.map(f), 50)} / ${pct(r.map(f), 99)}`;
    const sum = (f: (x: Trial) => number) => r.reduce((acc, x) => acc + f(x), 0);
    const ips = [...new Set(r.map((x) => x.publicIPv4).filter(Boolean))].join(' ') || '—';
    console.log(`| ${kind} | ${col((x) => x.outageMs)} | ${col((x) => x.longestGapMs)} | ${col((x) => Math.abs(x.recordedMs - x.outageMs))} | ${col((x) => x.verdictToSwitchMs)} | ${col((x) => x.leaseWaitMs)} | ${sum((x) => Math.max(0, x.failbackLost))} | ${sum((x) => x.wrongSource)} | ${sum((x) => x.leaked)} | ${ips} |`);
  }
}
if (lwResults.length) {
  console.log(`\nlw4o6 (RFC 7596), same load; ${trials} deaths of the primary lwAFTR of each kind, the anycast route moved with it; strict lwAFTR fixtures.`);
  console.log('| fault | first reply at the LAN after the death, ms p50 / p99 | lost at 1 kHz, p50 / p99 | longest gap p50 / p99 | re-provisionings (total) | mode switches (total) |');
  console.log('|---|---|---|---|---|---|');
  for (const kind of LW_KINDS) {
    const r = lwResults.filter((x) => x.kind === kind);
    if (!r.length) continue;
    const col = (f: (x: LwTrial) => number) => `${pct(r.map(f), 50)} / ${pct(r.map(f), 99)}`;
    const sum = (f: (x: LwTrial) => number) => r.reduce((acc, x) => acc + f(x), 0);
    console.log(`| ${kind} | ${col((x) => x.firstReplyMs)} | ${col((x) => x.outageMs)} | ${col((x) => x.longestGapMs)} | ${sum((x) => x.reprovisions)} | ${sum((x) => x.switches)} |`);
  }
}
