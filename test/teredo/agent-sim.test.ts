// Issue 22's gateway side in the agent (in-process, simulated WAN; the client itself is tested against miredo in
// client.test.ts): Teredo is a last resort. It stays in Standby while the WAN has native IPv6; on an IPv4-only WAN
// (no DHCPv6 lease, the AFTR gone) the gateway is in dual-stack and Teredo qualifies, which Failover.Mode and its
// History show; when native IPv6 appears Teredo is torn down and the failover goes back to the softwire. Invalid
// settings are refused whole.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DmError } from '../../src/datamodel/index.ts';
import { FO, startAgent, until } from '../failover/harness.ts';

const T = 'Device.X_TWINSTACK-ORG_Teredo.';
const history = (dm: { instances(t: string): string[]; getValue(p: string): string }) =>
  dm.instances(`${FO}History.`).map((r) => [dm.getValue(`${r}From`), dm.getValue(`${r}To`)]);

test('Teredo, the last resort: Standby with native IPv6; qualified on an IPv4-only WAN (Mode Teredo); torn down when native IPv6 returns', { timeout: 30_000 }, async (t) => {
  const a = await startAgent({ fast: true, teredo: true });
  t.after(() => a.stop());
  await until(() => a.dm.getValue(`${FO}Mode`) === 'DSLite', 5000, 'DS-Lite at boot');
  a.dm.set({ [`${T}ServerAddress`]: '203.0.113.1', [`${T}LANPrefix`]: 'fd00:db8:1::/64', [`${T}Enable`]: 'true' }, 'usp');
  await until(() => a.dm.getValue(`${T}Status`) === 'Standby', 3000, 'Standby: the WAN has native IPv6');
  assert.equal(a.sim.teredo.interface, 'teredo0');
  assert.equal(await a.sim.teredo.state(), null, 'no client runs');

  // The WAN loses IPv6 (an IPv4-only access network): no DHCPv6 lease, the AFTR unreachable. Dual-stack, then Teredo.
  a.sim.setNativeIPv6(false);
  a.dm.set({ [`${FO}Simulation.AFTRState`]: 'Down' }, 'cli');
  await until(() => a.dm.getValue(`${T}Status`) === 'Qualified', 8000, 'Teredo qualified');
  await until(() => a.dm.getValue(`${FO}Mode`) === 'Teredo', 3000, 'Failover.Mode Teredo');
  assert.match(a.dm.getValue(`${T}TeredoAddress`), /^2001:0:cb00:7101:/, 'RFC 4380 §4: 2001:0::/32 then the server 203.0.113.1');
  assert.equal(a.dm.getValue(`${T}MappedAddress`), '192.0.2.1');
  assert.equal(a.dm.getValue(`${T}NATType`), 'Restricted');
  assert.notEqual(a.dm.getValue(`${T}QualificationTime`), '0001-01-01T00:00:00Z');
  assert.notEqual(a.dm.getValue(`${FO}PublicIPv4Address`), '', 'IPv4 native: the DHCPv4 lease of dual-stack');
  assert.deepEqual(history(a.dm).slice(-2), [['DSLite', 'DualStack'], ['DualStack', 'Teredo']]);
  assert.equal(a.dm.getValue(`${FO}LastSwitchReason`), `Teredo qualified with 203.0.113.1: ${a.dm.getValue(`${T}TeredoAddress`)}`);

  // Native IPv6 is back (and the AFTR with it): Teredo stops at once, the failover returns to the softwire.
  a.sim.setNativeIPv6(true);
  a.dm.set({ [`${FO}Simulation.AFTRState`]: 'Up' }, 'cli');
  await until(() => a.dm.getValue(`${T}Status`) === 'Standby', 3000, 'Teredo torn down');
  assert.equal(await a.sim.teredo.state(), null, 'the client stopped');
  assert.equal(a.dm.getValue(`${T}TeredoAddress`), '');
  await until(() => a.dm.getValue(`${FO}Mode`) === 'DSLite', 8000, 'DS-Lite again');
  const h = history(a.dm);
  assert.deepEqual(h.slice(-2), [['Teredo', 'DualStack'], ['DualStack', 'DSLite']]);
});

test('Teredo settings: an unusable server address or LAN prefix is refused whole while enabled', async (t) => {
  const a = await startAgent({ teredo: true });
  t.after(() => a.stop());
  const refused = (values: Record<string, string>) => {
    try {
      a.dm.set(values, 'cwmp');
    } catch (e) {
      assert.ok(e instanceof DmError, String(e));
      return e.details.map((d) => d.path);
    }
    assert.fail('accepted');
  };
  assert.deepEqual(refused({ [`${T}Enable`]: 'true' }), [`${T}ServerAddress`], 'no server');
  assert.deepEqual(refused({ [`${T}ServerAddress`]: '10.1.2.3', [`${T}Enable`]: 'true' }), [`${T}ServerAddress`], 'RFC 1918: no Teredo server there');
  assert.deepEqual(refused({ [`${T}ServerAddress`]: '203.0.113.1', [`${T}SecondaryServerAddress`]: '203.0.113.1', [`${T}Enable`]: 'true' }), [`${T}SecondaryServerAddress`]);
  assert.deepEqual(refused({ [`${T}ServerAddress`]: '203.0.113.1', [`${T}LANPrefix`]: 'fd00::/200', [`${T}Enable`]: 'true' }), [`${T}LANPrefix`]);
  assert.equal(a.dm.getValue(`${T}Enable`), 'false', 'nothing written');
  assert.equal(a.dm.getValue(`${T}ServerAddress`), '');
  // Disabled, anything may be stored.
  a.dm.set({ [`${T}ServerAddress`]: '10.1.2.3' }, 'cwmp');
  assert.equal(a.dm.getValue(`${T}Status`), 'Disabled');
});
