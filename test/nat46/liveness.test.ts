// Issue 23's failover tie-in in the agent (in-process, simulated WAN; the forwarder's side of the probes is in
// e2e.test.ts and adoption.test.ts):
//   - the failover policy stands aside while NAT46 carries the LAN's IPv4 (Failover.Mode NAT46, the switch in
//     the History, the DHCPv4 lease given back, no verdict or probe switching back) and takes over again after;
//   - a PeerDown adoption comes into force when its peer stops answering the probes and leaves when it is back,
//     with hysteresis both ways (one lost echo changes nothing), on every row (Peer.Status, Adopted.Status and
//     ExportedRoute) and in what the forwarder gets;
//   - a PeerDown adoption with no Peer to watch is refused.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { DataModel, DmError, type Disposable } from '../../src/datamodel/index.ts';
import { bindNat46Model, Nat46Controller } from '../../src/dslite/nat46.ts';
import type { EchoResult, Nat46Config, Nat46Port } from '../../src/wan/platform.ts';
import { FO, startAgent, until } from '../failover/harness.ts';

const N = 'Device.X_TWINSTACK-ORG_NAT46.';
const PEER = '2001:db8:ff00::7';
const SETTINGS = {
  [`${N}Prefix`]: '2001:db8:4600::/40', [`${N}TenantBits`]: '8', [`${N}GatewayBits`]: '16', [`${N}TenantID`]: '42', [`${N}GatewayID`]: '258',
  [`${N}DestinationPrefix`]: '64:ff9b::/96', [`${N}LocalAddress`]: '2001:db8:ff00::1',
};
const mode = (dm: DataModel) => dm.getValue(`${FO}Mode`);
const history = (dm: DataModel) => dm.instances(`${FO}History.`).map((r) => [dm.getValue(`${r}From`), dm.getValue(`${r}To`), dm.getValue(`${r}Reason`)]);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('the failover stands aside while NAT46 carries IPv4: Mode NAT46, lease given back, nothing switches back; disabled, the failover takes over', { timeout: 30_000 }, async (t) => {
  const a = await startAgent({ fast: true, nat46: true });
  t.after(() => a.stop());
  await until(() => mode(a.dm) === 'DSLite', 5000, 'DS-Lite at boot');
  // In dual-stack first (the AFTR died), so there is a lease to give back.
  a.dm.set({ [`${FO}Simulation.AFTRState`]: 'Down' }, 'cli');
  await until(() => mode(a.dm) === 'DualStack', 5000, 'dual-stack');
  assert.equal(a.sim.isp.dhcp4Leases, 1);
  const releases = a.sim.isp.dhcp4Releases;

  // One Set: DS-Lite off, NAT46 on (the exclusivity is judged on what the transaction leaves).
  a.dm.set({ ...SETTINGS, 'Device.DSLite.Enable': 'false', [`${N}Enable`]: 'true' }, 'usp');
  await until(() => a.dm.getValue(`${N}Status`) === 'Enabled' && mode(a.dm) === 'NAT46', 5000, 'NAT46 in force');
  assert.deepEqual(history(a.dm).at(-1), ['DualStack', 'NAT46', 'NAT46 enabled']);
  assert.equal(a.sim.isp.dhcp4Releases, releases + 1, 'the public IPv4 address given back (DHCPRELEASE)');
  assert.equal(a.sim.dhcp4.lease(), null);
  assert.equal(a.dm.getValue(`${FO}PublicIPv4Address`), '');
  assert.equal(a.dm.getValue(`${FO}RecoveryState`), 'Idle');
  assert.notEqual(a.sim.nat46.config(), null, 'the translator applied');
  // The AFTR comes back: the recovery loop (1 ms interval, threshold 1, no hold-down) would have returned at once.
  a.dm.set({ [`${FO}Simulation.AFTRState`]: 'Up' }, 'cli');
  await sleep(500);
  assert.equal(mode(a.dm), 'NAT46', 'no recovery probe switches NAT46 away');
  assert.equal(a.sim.isp.dhcp4Leases, 1, 'no DHCPv4 while NAT46 carries IPv4');
  const [r] = await a.dm.operate(`${FO}ForceSwitch()`, { Mode: 'DSLite' }, 'usp');
  assert.deepEqual(r.output, { Result: 'NAT46 carries IPv4: disable it first' });
  assert.equal(mode(a.dm), 'NAT46');

  // NAT46 off: the failover takes over as at boot. DS-Lite is still disabled, so that is dual-stack (a new lease)...
  a.dm.set({ [`${N}Enable`]: 'false' }, 'usp');
  await until(() => mode(a.dm) === 'DualStack', 5000, 'dual-stack after NAT46');
  assert.equal(a.sim.nat46.config(), null);
  assert.deepEqual(history(a.dm).at(-1), ['NAT46', 'DualStack', 'NAT46 disabled']);
  assert.equal(a.dm.getValue(`${N}Status`), 'Disabled');
  assert.equal(a.sim.isp.dhcp4Leases, 2);
  assert.notEqual(a.dm.getValue(`${FO}PublicIPv4Address`), '');
  // ...and with DS-Lite enabled again the recovery loop returns to the softwire.
  a.dm.set({ 'Device.DSLite.Enable': 'true' }, 'usp');
  await until(() => mode(a.dm) === 'DSLite', 5000, 'DS-Lite again');
  assert.deepEqual(history(a.dm).at(-1)?.slice(0, 2), ['DualStack', 'DSLite']);
});

test('NAT46 stored enabled: after a restart the failover never brings the softwire up first', { timeout: 30_000 }, async (t) => {
  const file = `/tmp/twinstack-nat46-liveness-${process.pid}.db`;
  t.after(async () => (await import('node:fs/promises')).rm(file, { force: true }));
  const first = await startAgent({ file, fast: true, nat46: true });
  await until(() => mode(first.dm) === 'DSLite', 5000, 'DS-Lite at boot');
  first.dm.set({ ...SETTINGS, 'Device.DSLite.Enable': 'false', [`${N}Enable`]: 'true' }, 'usp');
  await until(() => mode(first.dm) === 'NAT46', 5000, 'NAT46 in force');
  await first.stop();

  const a = await startAgent({ file, fast: true, nat46: true });
  t.after(() => a.stop());
  await until(() => a.dm.getValue(`${N}Status`) === 'Enabled' && mode(a.dm) === 'NAT46', 5000, 'NAT46 after the restart');
  // Give a softwire boot every chance (leaseWaitMs 300, the AFTR up): none happens.
  await sleep(800);
  assert.equal(mode(a.dm), 'NAT46');
  assert.equal(a.sim.tunnel.aftr(), null, 'the softwire never came up');
  assert.deepEqual(history(a.dm).slice(-1), [['None', 'NAT46', 'NAT46 enabled']]);
});

/** A platform whose peers answer or not as the test says; every probe recorded. */
class Peers {
  readonly applied: (Nat46Config | null)[] = [];
  readonly down = new Set<string>();
  probes = 0;
  readonly nat46: Nat46Port = {
    apply: async (c) => void this.applied.push(c),
    config: () => this.applied.at(-1) ?? null,
    counters: async () => ({ translated4to6: 0, translated6to4: 0, handedOff: 0, handOffsReceived: 0, dropped: 0 }),
    probe: async (address): Promise<EchoResult> => {
      this.probes++;
      return this.down.has(address) ? { ok: false, rttUs: 0, reason: 'Echo: timeout' } : { ok: true, rttUs: 80, reason: '' };
    },
  };
}

function watched() {
  const log = pino({ level: 'silent' });
  const dm = new DataModel({ file: ':memory:' });
  const peers = new Peers();
  const controller = new Nat46Controller({ platform: peers, log });
  const subs: Disposable[] = bindNat46Model({ dm, controller, log });
  controller.start();
  return { dm, peers, controller, close: async () => { await controller.stop(); for (const s of subs) s.dispose(); dm.close(); } };
}

test('PeerDown adoption: in force after PeerFailureThreshold missed probes, out after PeerRecoveryThreshold answers; one miss changes nothing', { timeout: 30_000 }, async (t) => {
  const { dm, peers, close } = watched();
  t.after(close);
  dm.add(`${N}Peer.`, 'usp', { Enable: 'true', GatewayID: '7', Address: PEER });
  dm.add(`${N}Adopted.`, 'usp', { Enable: 'true', GatewayID: '7', Clients: '192.0.2.128/25', Activation: 'PeerDown' });
  dm.set({ ...SETTINGS, [`${N}PeerProbeInterval`]: '100', [`${N}PeerFailureThreshold`]: '3', [`${N}PeerRecoveryThreshold`]: '4', [`${N}Enable`]: 'true' }, 'usp');
  const peer = `${N}Peer.1.`;
  const adoption = `${N}Adopted.1.`;
  await until(() => dm.getValue(`${peer}Status`) === 'Up', 3000, 'the peer Up');
  assert.equal(dm.getValue(`${adoption}Status`), 'Standby');
  assert.equal(dm.getValue(`${adoption}ExportedRoute`), '');
  assert.deepEqual(peers.nat46.config()?.adopted, [], 'prepared, not in force');

  // One lost echo, then answers again: no change (PeerFailureThreshold 3).
  peers.down.add(PEER);
  const at = peers.probes;
  await until(() => peers.probes > at, 3000, 'one probe missed');
  peers.down.delete(PEER);
  const later = peers.probes;
  await until(() => peers.probes >= later + 4, 3000, 'four more rounds');
  assert.equal(dm.getValue(`${peer}Status`), 'Up');
  assert.equal(dm.getValue(`${adoption}Status`), 'Standby');

  // The peer dies: Down after three misses, and the adoption comes into force.
  const diedAt = peers.probes;
  peers.down.add(PEER);
  await until(() => dm.getValue(`${adoption}Status`) === 'Active', 3000, 'the adoption in force');
  assert.ok(peers.probes - diedAt >= 3, `in force after ${peers.probes - diedAt} probes`);
  assert.equal(dm.getValue(`${peer}Status`), 'Down');
  assert.equal(dm.getValue(`${adoption}ExportedRoute`), '2001:db8:462a:7::/64', 'the adopted space to export');
  assert.deepEqual(peers.nat46.config()?.adopted, [{ gatewayId: 7, clients: '192.0.2.128/25' }]);
  assert.deepEqual(peers.nat46.config()?.peers, [{ gatewayId: 7, address: PEER }], 'still a peer: never handed off while adopted (nat46.cc)');
  assert.equal(dm.getValue(`${N}ExportedRoute`), '2001:db8:462a:102::/64', 'our own space unchanged');

  // Back: Up after four answers in a row (not at the first), and the adoption in Standby again.
  const backAt = peers.probes;
  peers.down.delete(PEER);
  await until(() => dm.getValue(`${adoption}Status`) === 'Standby', 3000, 'the adoption given back');
  assert.ok(peers.probes - backAt >= 4, `given back after ${peers.probes - backAt} probes`);
  assert.equal(dm.getValue(`${peer}Status`), 'Up');
  assert.equal(dm.getValue(`${adoption}ExportedRoute`), '');
  assert.deepEqual(peers.nat46.config()?.adopted, []);

  // Disabled: every row Disabled, no probes.
  dm.set({ [`${N}Enable`]: 'false' }, 'usp');
  await until(() => dm.getValue(`${peer}Status`) === 'Disabled' && dm.getValue(`${adoption}Status`) === 'Disabled', 3000, 'rows disabled');
  const stopped = peers.probes;
  await sleep(400);
  assert.equal(peers.probes, stopped, 'no probes while disabled');
});

test('a peer that never answered stays Unknown: its PeerDown adoption stays in Standby (our own routes may not be announced yet)', { timeout: 30_000 }, async (t) => {
  const { dm, peers, close } = watched();
  t.after(close);
  peers.down.add(PEER);
  dm.add(`${N}Peer.`, 'usp', { Enable: 'true', GatewayID: '7', Address: PEER });
  dm.add(`${N}Adopted.`, 'usp', { Enable: 'true', GatewayID: '7', Clients: '192.0.2.128/25', Activation: 'PeerDown' });
  dm.set({ ...SETTINGS, [`${N}PeerProbeInterval`]: '100', [`${N}PeerFailureThreshold`]: '2', [`${N}Enable`]: 'true' }, 'usp');
  await until(() => dm.getValue(`${N}Status`) === 'Enabled', 3000, 'enabled');
  const at = peers.probes;
  await until(() => peers.probes >= at + 6, 3000, 'six unanswered probes');
  assert.equal(dm.getValue(`${N}Peer.1.Status`), 'Unknown');
  assert.equal(dm.getValue(`${N}Adopted.1.Status`), 'Standby');
  assert.deepEqual(peers.nat46.config()?.adopted, []);
  // It answers once: Up; then two misses: Down, adopted.
  peers.down.delete(PEER);
  await until(() => dm.getValue(`${N}Peer.1.Status`) === 'Up', 3000, 'Up at the first answer');
  peers.down.add(PEER);
  await until(() => dm.getValue(`${N}Adopted.1.Status`) === 'Active', 3000, 'adopted after it was seen alive');
});

test('an Always adoption is in force whatever the peer does; a PeerDown one without a Peer to watch is refused', async (t) => {
  const { dm, peers, close } = watched();
  t.after(close);
  dm.add(`${N}Adopted.`, 'usp', { Enable: 'true', GatewayID: '9', Clients: '192.0.2.0/25' });
  dm.set({ ...SETTINGS, [`${N}Enable`]: 'true' }, 'usp');
  await until(() => dm.getValue(`${N}Adopted.1.Status`) === 'Active', 3000, 'Always: Active');
  assert.deepEqual(peers.nat46.config()?.adopted, [{ gatewayId: 9, clients: '192.0.2.0/25' }]);
  try {
    dm.add(`${N}Adopted.`, 'usp', { Enable: 'true', GatewayID: '11', Clients: '192.0.2.128/25', Activation: 'PeerDown' });
    assert.fail('accepted');
  } catch (e) {
    assert.ok(e instanceof DmError, String(e));
    assert.equal(e.kind, 'InvalidValue');
    assert.deepEqual(e.details.map((d) => d.path), [`${N}Adopted.2.Activation`]);
    assert.match(e.details[0].message, /PeerDown needs an enabled Peer with GatewayID 11/);
  }
  assert.equal(dm.instances(`${N}Adopted.`).length, 1, 'nothing added');
});
