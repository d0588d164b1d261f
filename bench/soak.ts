// `npm run bench:soak -- [fast|bfd] [MINUTES] [BFD_MS] [shared-load]`: a healthy AFTR watched for MINUTES (default 30) with
// the CPUs busy, counting switches, which must be 0 (issue 17 acceptance 3 and 6). The lab is the failover
// topology (test/failover/topo.ts: Kea, the strict AFTR fixture, the agent on the Linux WAN), with
// `stress-ng --cpu 2` running beside it and a LAN client sending UDP at 1 kHz to inet through the softwire.
//   fast: the fast detector profile (Silence 20/150 ms, Echo 100/100 ms x 2), Combine Any;
//   bfd:  BFD against FRR bfdd on the AFTR at BFD_MS (default: the agent's floor) x 3, BFD the primary detector.
// Several soaks may run at once: `shared-load` leaves out this run's own stress-ng (start one beside them);
// the load is then heavier than one soak alone, never lighter.
import { spawn } from 'node:child_process';
import { cli } from '../test/failover/cli.ts';
import { FAST_PROFILE, FO, startLabAgent } from '../test/failover/agent.ts';
import { machineStalls, startFlow } from '../test/failover/flow.ts';
import { createTopo, LAN4 } from '../test/failover/topo.ts';
import { B4_WAN, startBfdd } from '../test/bfd/bfdd.ts';
import { BFD_MIN_INTERVAL_MS } from '../src/dslite/bfd-model.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const kind = process.argv[2] === 'bfd' ? 'bfd' : 'fast';
const minutes = Number(process.argv[3] ?? 30);
const bfdMs = Number(process.argv[4] && /^\d+$/.test(process.argv[4]) ? process.argv[4] : BFD_MIN_INTERVAL_MS);
const sharedLoad = process.argv.includes('shared-load');

const BFD = {
  [`${FO}BFD.DesiredMinTxInterval`]: String(bfdMs), [`${FO}BFD.RequiredMinRxInterval`]: String(bfdMs), [`${FO}BFD.DetectMult`]: '3',
  [`${FO}BFD.LocalAddress`]: B4_WAN, [`${FO}Detector.5.Enable`]: 'true', [`${FO}Detector.5.Timeout`]: '60000',
  [`${FO}Combine`]: 'Primary', [`${FO}PrimaryDetector`]: 'BFD',
};

const t = await createTopo(kind === 'bfd' ? 'sb' : 'sf');
const stress = sharedLoad ? null : spawn('stress-ng', ['--cpu', '2', '--timeout', `${minutes * 60 + 120}s`], { stdio: 'ignore' });
const watchdog = machineStalls();
try {
  await t.startKea();
  await t.startAftr('aftr1');
  const bfdd = kind === 'bfd' ? await startBfdd(t, 'aftr1', { tx: bfdMs, rx: bfdMs, mult: 3 }, 'soak') : null;
  const a = await startLabAgent(t, {}, `soak-${kind}`);
  try {
    await a.waitFor(`${FO}Mode`, 'DSLite');
    await cli(a.socket, { cmd: 'set', values: kind === 'bfd' ? BFD : FAST_PROFILE });
    if (bfdd) await a.waitFor(`${FO}BFD.SessionState`, 'Up', 30_000);
    const flow = await startFlow(t);
    await sleep(2000);
    const base = Number(await a.get(`${FO}SwitchCount`));
    // bfdd's own count of session-down events (the AFTR's view: our packets late or lost).
    const bfddDowns = async () => {
      if (!bfdd) return 0;
      const peers = JSON.parse(await t.exec('aftr1', 'vtysh', '--vty_socket', bfdd.dir, '-c', 'show bfd peers counters json')) as Record<string, unknown>[];
      return Number(peers.find((p) => p.peer === B4_WAN)?.['session-down'] ?? 0);
    };
    const bfdDownsBefore = await bfddDowns();
    const t0 = Date.now();
    let last = 0;
    while (Date.now() - t0 < minutes * 60_000) {
      await sleep(10_000);
      const n = Number(await a.get(`${FO}SwitchCount`)) - base;
      if (n !== last || Math.floor((Date.now() - t0) / 60_000) % 5 === 0) {
        const extra = bfdd ? ` bfd=${await a.get(`${FO}BFD.SessionState`)} bfdd=${await bfdd.peerStatus()}` : '';
        console.log(`${((Date.now() - t0) / 60_000).toFixed(1)} min: switches ${n}, mode ${await a.get(`${FO}Mode`)}${extra}`);
      }
      last = n;
    }
    const f = await flow.stop();
    const switches = Number(await a.get(`${FO}SwitchCount`)) - base;
    const reasons = switches ? await Promise.all(Array.from({ length: switches }, (_, i) => a.get(`${FO}History.${base + i + 1}.Reason`))) : [];
    const bfdDowns = (await bfddDowns()) - bfdDownsBefore;
    const aftr = t.aftrCounters('aftr1');
    const leaked = await t.leaked();
    console.log(JSON.stringify({
      kind, minutes, bfdMs: bfdd ? bfdMs : undefined, load: sharedLoad ? 'stress-ng --cpu 2, shared with other soaks' : 'stress-ng --cpu 2', lan: `UDP echo 1 kHz ${LAN4.lan} -> 198.51.100.2`,
      switches, reasons, detectorStates: await Promise.all([1, 2, 3, 4, 5].map((i) => a.get(`${FO}Detector.${i}.State`))), bfddSessionDowns: bfdd ? bfdDowns : undefined,
      bfdPacketsSent: bfdd ? await a.get(`${FO}BFD.PacketsSent`) : undefined, bfdPacketsReceived: bfdd ? await a.get(`${FO}BFD.PacketsReceived`) : undefined,
      aftrWrongSource: aftr.wrong_source ?? 0, aftrDecap: aftr.decap ?? 0, leaked,
      probesSent: f.sent, probesAnswered: f.replies.length, longestGapMs: f.longestGap(0, Date.now()), senderStalls: f.senderStalls,
    }));
  } finally {
    await a.stop();
    await bfdd?.stop();
  }
} finally {
  stress?.kill('SIGTERM');
  // Machine-wide stalls (the LAN host, the gateway and the peers stopped alike), for reading the gaps above.
  const st = await watchdog.stop();
  console.log(`machine stalls over 50 ms: ${st.length}, longest ${Math.max(0, ...st.map((x) => x.ms))} ms ${JSON.stringify(st)}`);
  await t.cleanup();
}
