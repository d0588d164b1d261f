// Issue 9 acceptance 2: the PCP detector against miniupnpd on the AFTR side of the failover lab. The MAP
// through the softwire succeeds and is renewed; removing the server's external IPv4 gives NETWORK_FAILURE
// and a failover: to the next AFTR when there is one, else to dual-stack, where the gateway stays until
// PCP succeeds again.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { cli } from '../failover/cli.ts';
import { FO, startLabAgent, type LabAgent } from '../failover/agent.ts';
import { createTopo, type Topo } from '../failover/topo.ts';
import { EXT4, startMiniupnpd } from './miniupnpd.ts';
import { sleep } from '../wait.ts';

let t: Topo;
before(async () => {
  t = await createTopo('p', 'bp');
  await t.startKea();
});
after(() => t?.cleanup());

const P = `${FO}PCP.`;

/** Enables the PCP detector (lifetime 4 s, the server's min_lifetime) and quick recovery. */
async function enablePcp(a: LabAgent, extra: Record<string, string> = {}) {
  const rows = (await cli(a.socket, { cmd: 'get', paths: [`${FO}Detector.*.Name`] })) as [string, string][];
  const row = rows.find(([, v]) => v === 'PCP')![0].slice(0, -'Name'.length);
  await cli(a.socket, { cmd: 'set', values: {
    [`${P}Lifetime`]: '4', [`${row}Interval`]: '500', [`${row}Timeout`]: '3000', [`${row}Enable`]: 'true',
    [`${FO}RecoveryInterval`]: '1', [`${FO}RecoveryThreshold`]: '2', [`${FO}HoldDownTime`]: '2', ...extra,
  } });
  return row;
}

test('MAP through the softwire succeeds and renews; NETWORK_FAILURE: dual-stack until the server recovers', async (ctx) => {
  await t.startAftr('aftr1');
  const m = await startMiniupnpd(t, 'aftr1', { minLifetime: 4 });
  const a = await startLabAgent(t, {}, 'pcp1');
  try {
    await a.waitFor(`${FO}Mode`, 'DSLite');
    const row = await enablePcp(a);
    await a.waitFor(`${P}LastResult`, 'SUCCESS', 10_000);
    await a.waitFor(`${row}State`, 'Healthy', 2000);
    assert.equal(await a.get(`${P}ResultCode`), '0');
    assert.equal(await a.get(`${P}ExternalAddress`), EXT4.aftr1);
    const internal = await a.get(`${P}InternalPort`);
    assert.match(internal, /^\d+$/);
    assert.equal(await a.get(`${P}ExternalPort`), internal, 'miniupnpd grants the suggested port');
    assert.equal(await a.get(`${P}AssignedLifetime`), '4');
    assert.match(m.log(), /PCP: MAP request|PCP request received from 192\.0\.0\.2/);
    // Renewed at 1/2-5/8 of 4 s: at least two more answers within 6 s, same mapping.
    const before = Number(await a.get(`${P}ResponsesReceived`));
    await sleep(6000);
    const renewals = Number(await a.get(`${P}ResponsesReceived`)) - before;
    assert.ok(renewals >= 2, `renewals ${renewals}`);
    ctx.diagnostic(`${renewals} renewals in 6 s`);
    assert.equal(await a.get(`${P}ExternalPort`), internal);
    assert.equal(await a.get(`${P}ResponsesDropped`), '0');

    const failedAt = Date.now();
    await m.external(false);
    await a.waitFor(`${FO}Mode`, 'DualStack', 10_000);
    ctx.diagnostic(`dual-stack ${Date.now() - failedAt} ms after the external IPv4 was removed`);
    assert.equal(await a.get(`${FO}LastSwitchReason`), 'PCP: NETWORK_FAILURE (7) from 192.0.0.1');
    assert.equal(await a.get(`${P}ResultCode`), '7');
    assert.equal(await a.get(`${P}LastResult`), 'NETWORK_FAILURE');
    assert.equal(await a.get(`${P}ExternalAddress`), '');
    assert.equal(await a.get(`${row}State`), 'Failed');
    // Echo answers, PCP does not succeed: the recovery waits.
    await sleep(5000);
    assert.equal(await a.get(`${FO}Mode`), 'DualStack');

    await m.external(true);
    await a.waitFor(`${FO}Mode`, 'DSLite', 15_000);
    assert.match(await a.get(`${FO}LastSwitchReason`), /^Recovered: /);
    await a.waitFor(`${P}LastResult`, 'SUCCESS', 10_000);
    assert.equal(await a.get(`${P}ExternalAddress`), EXT4.aftr1);
  } finally {
    await a.stop();
    await m.stop();
  }
});

test('NETWORK_FAILURE with a backup AFTR: the gateway moves to the next AFTR, whose PCP server maps', async () => {
  await t.startAftr('aftr1');
  await t.startAftr('aftr2');
  const m1 = await startMiniupnpd(t, 'aftr1', { minLifetime: 4 });
  const m2 = await startMiniupnpd(t, 'aftr2', { minLifetime: 4 });
  const a = await startLabAgent(t, {}, 'pcp2');
  try {
    await a.waitFor(`${FO}Mode`, 'DSLite');
    await enablePcp(a, { [`${FO}BackupAFTRs`]: 'aftr2.example.net' });
    await a.waitFor(`${P}ExternalAddress`, EXT4.aftr1, 10_000);
    await m1.external(false);
    await a.waitFor(`${FO}CurrentAFTR`, 'aftr2.example.net', 10_000);
    assert.equal(await a.get(`${FO}Mode`), 'DSLite');
    assert.equal(await a.get(`${FO}History.1.Reason`), 'PCP: NETWORK_FAILURE (7) from 192.0.0.1');
    await a.waitFor(`${P}ExternalAddress`, EXT4.aftr2, 10_000);
    assert.equal(await a.get(`${P}LastResult`), 'SUCCESS');
  } finally {
    await a.stop();
    await m1.stop();
    await m2.stop();
    await t.killAftr('aftr2');
  }
});
