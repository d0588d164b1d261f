// BFD and PCP on the simulated WAN (the embedded default): the simulated AFTR's BFD peer and PCP server,
// the detectors switched on through the data model, and a BFD-decided failover and recovery.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FO, settingsFor, startAgent, until } from '../failover/harness.ts';

test('sim: BFD Up and PCP mapped once enabled; a blackholed AFTR fails BFD (diag 1) and BFD Up brings DS-Lite back', async (t) => {
  const a = await startAgent({ fast: true });
  t.after(() => a.stop());
  const v = (p: string) => a.dm.getValue(p);
  await until(() => v(`${FO}Mode`) === 'DSLite');
  assert.equal(v(`${FO}BFD.SessionState`), 'AdminDown', 'BFD is off by default');
  a.dm.set({
    ...settingsFor(a.dm, { BFD: { Enable: 'true' }, PCP: { Enable: 'true', Interval: '100', Timeout: '300' } }, { Combine: 'Primary', PrimaryDetector: 'BFD' }),
    [`${FO}BFD.DesiredMinTxInterval`]: '100', [`${FO}BFD.RequiredMinRxInterval`]: '100',
  }, 'cli');
  await until(() => v(`${FO}BFD.SessionState`) === 'Up', 5000);
  await until(() => v(`${FO}PCP.LastResult`) === 'SUCCESS', 3000);
  assert.equal(v(`${FO}PCP.ExternalAddress`), '203.0.113.100');
  assert.equal(v(`${FO}BFD.PeerAddress`), '2001:db8:ff::1');
  // The simulated peer sends every 300 ms x 3: Detection Time 900 ms once the Poll Sequence ends.
  await until(() => v(`${FO}BFD.DetectionTime`) === '900000', 3000);
  a.dm.set({ [`${FO}Simulation.AFTRState`]: 'Blackhole' }, 'cli');
  await until(() => v(`${FO}Mode`) === 'DualStack', 3000);
  assert.equal(v(`${FO}LastSwitchReason`), 'BFD: session to 2001:db8:ff::1 Down, diagnostic 1 (Control Detection Time Expired)');
  assert.equal(v(`${FO}BFD.LastDiagnostic`), '1');
  a.dm.set({ [`${FO}Simulation.AFTRState`]: 'Up' }, 'cli');
  await until(() => v(`${FO}Mode`) === 'DSLite', 8000);
  await until(() => v(`${FO}BFD.SessionState`) === 'Up', 3000);
  const row = a.dm.get(`${FO}Detector.*.Name`).find((x) => x.value === 'BFD')!.path.replace(/Name$/, '');
  await until(() => v(`${row}State`) === 'Healthy', 3000);
});
