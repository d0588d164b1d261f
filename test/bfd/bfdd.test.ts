// Issue 9 acceptance 1: the BFD detector against FRR bfdd on the AFTR side of the failover lab (Kea,
// dnsmasq, the AFTR fixture, the agent on the Linux WAN). The session comes Up; dropping UDP 4784 both
// ways at the AFTR takes it Down with diagnostic 1 within the Detection Time and the gateway fails over to
// dual-stack, where it stays while BFD is Down; the path back brings the session Up and DS-Lite back.
// At 100 ms x 3 the session stays Up, and BFD settings changed while DS-Lite is up (timers through Poll/Final,
// a new LocalAddress through a restart) never make the gateway switch.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { cli } from '../failover/cli.ts';
import { FO, startLabAgent, type LabAgent } from '../failover/agent.ts';
import { createTopo, type Topo } from '../failover/topo.ts';
import { B4_WAN, startBfdd } from './bfdd.ts';

let t: Topo;
before(async () => {
  t = await createTopo('d', 'bq');
  await t.startKea();
  await t.startAftr('aftr1');
});
after(() => t?.cleanup());

import { sleep } from '../wait.ts';

async function detectorRow(a: LabAgent, name: string): Promise<string> {
  const rows = (await cli(a.socket, { cmd: 'get', paths: [`${FO}Detector.*.Name`] })) as [string, string][];
  return rows.find(([, v]) => v === name)![0].slice(0, -'Name'.length);
}

/** The time (ms epoch) the agent logged the BFD session entering `state`, after `since`. */
function loggedAt(a: LabAgent, state: string, since: number): number | null {
  for (const line of a.logs().split('\n')) {
    if (!line.includes('"msg":"bfd session"')) continue;
    const l = JSON.parse(line) as { time: number; state: string };
    if (l.state === state && l.time >= since) return l.time;
  }
  return null;
}

const CASES = [
  { name: '300 ms x 3', ms: 300, mult: 3, upWithin: 15_000 },
  { name: '10 s x 3', ms: 10_000, mult: 3, upWithin: 30_000 },
];

for (const c of CASES) {
  test(`BFD ${c.name} against bfdd: Up; path blocked: Down (diag 1) within the Detection Time, dual-stack; path back: Up, DS-Lite`, async (ctx) => {
    const bfdd = await startBfdd(t, 'aftr1', { tx: c.ms, rx: c.ms, mult: c.mult }, c.ms.toString());
    const a = await startLabAgent(t, {}, `bfd${c.ms}`);
    try {
      await a.waitFor(`${FO}Mode`, 'DSLite');
      const row = await detectorRow(a, 'BFD');
      await cli(a.socket, { cmd: 'set', values: {
        [`${FO}BFD.LocalAddress`]: B4_WAN, [`${FO}BFD.DesiredMinTxInterval`]: String(c.ms), [`${FO}BFD.RequiredMinRxInterval`]: String(c.ms),
        [`${FO}BFD.DetectMult`]: String(c.mult), [`${row}Timeout`]: '60000', [`${row}Enable`]: 'true',
        [`${FO}RecoveryInterval`]: '1', [`${FO}RecoveryThreshold`]: '2', [`${FO}HoldDownTime`]: '2',
      } });
      await a.waitFor(`${FO}BFD.SessionState`, 'Up', c.upWithin);
      await a.waitFor(`${row}State`, 'Healthy', 5000);
      assert.equal(await bfdd.peerStatus(), 'up');
      assert.equal(await a.get(`${FO}BFD.PeerAddress`), '2001:db8:ff::1');
      assert.equal(await a.get(`${FO}BFD.LocalAddressInUse`), B4_WAN);
      assert.notEqual(await a.get(`${FO}BFD.RemoteDiscriminator`), '0');
      // The Poll Sequence after Up settles both sides on the configured timers.
      const detectUs = c.mult * c.ms * 1000;
      await a.waitFor(`${FO}BFD.DetectionTime`, String(detectUs), 3 * c.ms + 5000);
      await a.waitFor(`${FO}BFD.TransmitInterval`, String(c.ms * 1000), 3 * c.ms + 5000);
      assert.equal(await a.get(`${FO}BFD.PacketsDropped`), '0');

      const blockedAt = Date.now();
      await bfdd.block(true);
      await a.waitFor(`${FO}Mode`, 'DualStack', detectUs / 1000 + 15_000);
      const downAt = loggedAt(a, 'Down', blockedAt);
      assert.ok(downAt, 'the session went Down');
      const took = downAt - blockedAt;
      // The last packet before the block arrived at most one interval earlier: Down within the Detection Time.
      assert.ok(took <= detectUs / 1000 + 300, `Down ${took} ms after the block (Detection Time ${detectUs / 1000} ms)`);
      ctx.diagnostic(`session Down ${took} ms after the block (Detection Time ${detectUs / 1000} ms)`);
      assert.match(await a.get(`${FO}LastSwitchReason`), /^BFD: session to 2001:db8:ff::1 Down, diagnostic 1 \(Control Detection Time Expired\)$/);
      assert.equal(await a.get(`${FO}BFD.LastDiagnostic`), '1');
      assert.equal(await a.get(`${FO}BFD.LastDiagnosticText`), 'Control Detection Time Expired');
      assert.equal(await a.get(`${row}State`), 'Failed');
      // Echo still answers, but the recovery waits for BFD: no failback while the session is Down.
      await sleep(5000);
      assert.equal(await a.get(`${FO}Mode`), 'DualStack');

      await bfdd.block(false);
      const repairedAt = Date.now();
      await a.waitFor(`${FO}BFD.SessionState`, 'Up', c.upWithin);
      ctx.diagnostic(`session Up ${Date.now() - repairedAt} ms after the repair`);
      const unblockedAt = Date.now();
      await a.waitFor(`${FO}Mode`, 'DSLite', 15_000);
      ctx.diagnostic(`DS-Lite back ${Date.now() - unblockedAt} ms after the session came Up`);
      assert.match(await a.get(`${FO}LastSwitchReason`), /^Recovered: /);
      await a.waitFor(`${row}State`, 'Healthy', 5000);
      assert.equal(await bfdd.peerStatus(), 'up');
    } finally {
      await a.stop();
      await bfdd.stop();
    }
  });
}

test('BFD 100 ms x 3 against bfdd stays Up; timers and LocalAddress changed at run time: no switch, no Down', async () => {
  const bfdd = await startBfdd(t, 'aftr1', { tx: 100, rx: 100, mult: 3 }, 'rt');
  const a = await startLabAgent(t, {}, 'bfdrt');
  try {
    await a.waitFor(`${FO}Mode`, 'DSLite');
    const row = await detectorRow(a, 'BFD');
    const bfd = (tx: number, rx: number, mult: number, local: string) => ({
      [`${FO}BFD.DesiredMinTxInterval`]: String(tx), [`${FO}BFD.RequiredMinRxInterval`]: String(rx), [`${FO}BFD.DetectMult`]: String(mult), [`${FO}BFD.LocalAddress`]: local,
    });
    const switches = await a.get(`${FO}SwitchCount`);
    // BFD deciding, from the address the kernel picks (the DHCPv6 one, which bfdd does not know): Unknown.
    await cli(a.socket, { cmd: 'set', values: { ...bfd(100, 100, 3, ''), [`${row}Timeout`]: '60000', [`${row}Enable`]: 'true', [`${FO}Combine`]: 'Primary', [`${FO}PrimaryDetector`]: 'BFD' } });
    await sleep(2000);
    assert.notEqual(await a.get(`${FO}BFD.SessionState`), 'Up');
    assert.equal(await a.get(`${row}State`), 'Unknown');
    // The agent restarts the session from the configured address: Unknown until Up, then Healthy.
    await cli(a.socket, { cmd: 'set', values: bfd(100, 100, 3, B4_WAN) });
    await a.waitFor(`${FO}BFD.SessionState`, 'Up', 15_000);
    await a.waitFor(`${row}State`, 'Healthy', 5000);
    await a.waitFor(`${FO}BFD.DetectionTime`, '300000', 5000);
    const since = Date.now();
    // Stays Up for 3 s at 100 ms x 3 (bfdd's Detection Time is 300 ms).
    await sleep(3000);
    // Slower, faster, other multipliers: each through a Poll Sequence, the session stays Up.
    for (const v of [bfd(300, 300, 3, B4_WAN), bfd(100, 200, 5, B4_WAN), bfd(100, 100, 3, B4_WAN)]) {
      await cli(a.socket, { cmd: 'set', values: v });
      await sleep(1500);
    }
    await a.waitFor(`${FO}BFD.DetectionTime`, '300000', 5000);
    assert.equal(await a.get(`${FO}SwitchCount`), switches, 'no switch');
    assert.equal(await a.get(`${FO}Mode`), 'DSLite');
    assert.equal(loggedAt(a, 'Down', since), null, 'the session never went Down');
    assert.equal(await a.get(`${row}State`), 'Healthy');
    assert.equal(await bfdd.peerStatus(), 'up');
  } finally {
    await a.stop();
    await bfdd.stop();
  }
});
