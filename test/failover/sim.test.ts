// The failover policy, detectors and data model on the simulated WAN (the embedded default): every
// acceptance behaviour that does not need a real network, in-process and quick.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { FO, settingsFor, startAgent, until } from './harness.ts';

const mode = (a: { dm: { getValue(p: string): string } }) => a.dm.getValue(`${FO}Mode`);
const history = (a: { dm: { get(p: string): { path: string; value: string }[] } }) =>
  a.dm.get(`${FO}History.`).reduce<Record<string, Record<string, string>>>((acc, v) => {
    const m = v.path.match(/History\.(\d+)\.(\w+)$/)!;
    (acc[m[1]] ??= {})[m[2]] = v.value;
    return acc;
  }, {});

test('boot: DHCPv6 names the AFTR, DNS resolves it, DS-Lite comes up and the model shows it', async (t) => {
  const a = await startAgent();
  t.after(() => a.stop());
  await until(() => mode(a) === 'DSLite');
  const expected: [string, string][] = [
    [`${FO}CurrentAFTR`, 'aftr.example.net'],
    [`${FO}PublicIPv4Address`, ''],
    [`${FO}Simulation.Active`, 'true'],
    ['Device.DSLite.Enable', 'true'],
    ['Device.DSLite.InterfaceSetting.1.Status', 'Enabled'],
    ['Device.DSLite.InterfaceSetting.1.EndpointAddressInUse', '2001:db8:ff::1'],
    ['Device.DSLite.InterfaceSetting.1.Origin', 'DHCPv6'],
    ['Device.DSLite.InterfaceSetting.1.TunnelInterface', 'Device.IP.Interface.3'],
    ['Device.IP.Interface.3.Type', 'Tunnel'],
    ['Device.IP.Interface.3.Status', 'Up'],
    ['Device.IP.Interface.3.IPv4Address.1.IPAddress', '192.0.0.2'],
    ['Device.Routing.Router.1.IPv4Forwarding.1.Interface', 'Device.IP.Interface.3'],
    ['Device.NAT.InterfaceSetting.1.Status', 'Disabled'],
    ['Device.DNS.Client.Server.1.DNSServer', '2001:db8:5::53'],
    ['Device.DNS.Client.Server.1.Type', 'DHCPv6'],
    ['Device.IP.Interface.2.IPv6Address.1.IPAddress', '2001:db8:1::2'],
    ['Device.DHCPv6.Client.1.ReceivedOption.2.Tag', '64'],
    ['Device.DHCPv6.Client.1.ReceivedOption.2.Value', '0461667472076578616d706c65036e657400'],
    ['Device.DHCPv4.Client.1.IPAddress', ''],
  ];
  for (const [p, v] of expected) assert.equal(a.dm.getValue(p), v, p);
  await until(() => Number(a.dm.getValue('Device.IP.Interface.3.Stats.PacketsSent')) > 0, 3000);
});

const failures: { state: 'Down' | 'Blackhole'; reason: RegExp }[] = [
  { state: 'Down', reason: /^ICMPv6Error: destination unreachable code 3 from 2001:db8:ff::1/ },
  { state: 'Blackhole', reason: /^(Silence: no packet from 2001:db8:ff::1|Echo: no echo reply)/ },
];
for (const f of failures) {
  test(`AFTR ${f.state}: dual-stack with a DHCPv4 lease, then back to DS-Lite with DHCPRELEASE`, async (t) => {
    const a = await startAgent({ fast: true });
    t.after(() => a.stop());
    await until(() => mode(a) === 'DSLite');
    const aftr = a.dm.getValue(`${FO}CurrentAFTR`);
    assert.notEqual(aftr, '');
    a.dm.set({ [`${FO}Simulation.AFTRState`]: f.state }, 'cli');
    await until(() => mode(a) === 'DualStack', 3000);
    assert.match(a.dm.getValue(`${FO}LastSwitchReason`), f.reason);
    assert.equal(a.dm.getValue(`${FO}PublicIPv4Address`), '203.0.113.2');
    assert.equal(a.dm.getValue('Device.DHCPv4.Client.1.IPAddress'), '203.0.113.2');
    assert.equal(a.dm.getValue('Device.NAT.InterfaceSetting.1.Status'), 'Enabled');
    assert.equal(a.dm.getValue('Device.Routing.Router.1.IPv4Forwarding.1.Interface'), 'Device.IP.Interface.2');
    assert.equal(a.dm.getValue('Device.Routing.Router.1.IPv4Forwarding.1.GatewayIPAddress'), '203.0.113.1');
    assert.equal(a.dm.getValue('Device.IP.Interface.3.Status'), 'Down');
    assert.equal(a.sim.lan.route, 'wan');
    assert.equal(a.sim.isp.dhcp4Leases, 1);
    a.dm.set({ [`${FO}Simulation.AFTRState`]: 'Up' }, 'cli');
    await until(() => mode(a) === 'DSLite', 4000);
    // Make-before-break: the WAN path and its lease stay ready for a grace period (>= 3 s) after the return,
    // so a softwire failing again at once is left without DHCP; then DHCPRELEASE.
    assert.equal(a.sim.isp.dhcp4Releases, 0, 'lease kept through the grace period');
    assert.equal(a.dm.getValue('Device.DHCPv4.Client.1.IPAddress'), '203.0.113.2');
    await until(() => a.sim.isp.dhcp4Releases === 1, 5000);
    assert.equal(a.dm.getValue(`${FO}PublicIPv4Address`), '');
    assert.equal(a.dm.getValue('Device.DHCPv4.Client.1.IPAddress'), '');
    assert.equal(a.dm.getValue('Device.Routing.Router.1.IPv4Forwarding.1.Interface'), 'Device.IP.Interface.3');
    const h = Object.values(history(a));
    assert.deepEqual(h.map((r) => [r.From, r.To]), [['DSLite', 'DualStack'], ['DualStack', 'DSLite']]);
    // Each row names the AFTR concerned: the one that failed, then the one returned to.
    assert.deepEqual(h.map((r) => r.AFTR), [aftr, aftr]);
    assert.ok(Number(h[0].OutageMs) > 0 && Number(h[0].OutageMs) < 1000, `outage ${h[0].OutageMs} ms`);
    assert.equal(h[1].OutageMs, '0');
    assert.equal(a.dm.getValue(`${FO}SwitchCount`), '2');
  });
}

test('two AFTRs: the first dying moves to the second, no dual-stack, no DHCPv4 lease', async (t) => {
  const a = await startAgent({ fast: true });
  t.after(() => a.stop());
  a.dm.set({ [`${FO}BackupAFTRs`]: 'aftr2.example.net' }, 'cli');
  await until(() => mode(a) === 'DSLite');
  a.dm.set({ [`${FO}Simulation.AFTRState`]: 'Down' }, 'cli');
  await until(() => a.dm.getValue(`${FO}CurrentAFTR`) === 'aftr2.example.net', 3000);
  assert.equal(mode(a), 'DSLite');
  assert.equal(a.dm.getValue('Device.DSLite.InterfaceSetting.1.EndpointAddressInUse'), '2001:db8:ff::2');
  assert.equal(a.sim.isp.dhcp4Leases, 0);
  const h = Object.values(history(a));
  assert.deepEqual(h.map((r) => [r.From, r.To, r.AFTR]), [['DSLite', 'DSLite', 'aftr2.example.net']]);
});

test('on a backup AFTR the primary is probed; healthy again, the gateway returns to it, and BackupAFTRSince shows the stay', async (t) => {
  const a = await startAgent({ fast: true });
  t.after(() => a.stop());
  a.dm.set({ [`${FO}BackupAFTRs`]: 'aftr2.example.net' }, 'cli');
  await until(() => mode(a) === 'DSLite');
  assert.equal(a.dm.getValue(`${FO}BackupAFTRSince`), '0001-01-01T00:00:00Z');
  a.dm.set({ [`${FO}Simulation.AFTRState`]: 'Down' }, 'cli');
  await until(() => a.dm.getValue(`${FO}CurrentAFTR`) === 'aftr2.example.net', 3000);
  const since = a.dm.getValue(`${FO}BackupAFTRSince`);
  assert.ok(Math.abs(Date.parse(since) - Date.now()) < 5000, since);
  // The primary stays down: the gateway stays on the backup (probes of a dead primary fail).
  await new Promise((r) => setTimeout(r, 2500));
  assert.equal(a.dm.getValue(`${FO}CurrentAFTR`), 'aftr2.example.net');
  a.dm.set({ [`${FO}Simulation.AFTRState`]: 'Up' }, 'cli');
  await until(() => a.dm.getValue(`${FO}CurrentAFTR`) === 'aftr.example.net', 4000);
  assert.equal(mode(a), 'DSLite');
  assert.equal(a.dm.getValue(`${FO}BackupAFTRSince`), '0001-01-01T00:00:00Z');
  assert.equal(a.sim.isp.dhcp4Leases, 0, 'never dual-stack');
  const h = Object.values(history(a));
  assert.deepEqual(h.map((r) => [r.From, r.To, r.AFTR, r.OutageMs === '0']), [['DSLite', 'DSLite', 'aftr2.example.net', false], ['DSLite', 'DSLite', 'aftr.example.net', true]]);
  assert.match(h[1].Reason, /^Recovered: \d+ good probes of the primary aftr\.example\.net \(from backup aftr2\.example\.net\)$/);
});

test('a softwire that fails again right after the return is left at once, on the lease kept for the grace period', async (t) => {
  const a = await startAgent({ fast: true });
  t.after(() => a.stop());
  await until(() => mode(a) === 'DSLite');
  a.dm.set({ [`${FO}Simulation.AFTRState`]: 'Down' }, 'cli');
  await until(() => mode(a) === 'DualStack', 3000);
  a.dm.set({ [`${FO}Simulation.AFTRState`]: 'Up' }, 'cli');
  await until(() => mode(a) === 'DSLite', 4000);
  const back = Date.now();
  a.dm.set({ [`${FO}Simulation.AFTRState`]: 'Down' }, 'cli');
  await until(() => mode(a) === 'DualStack', 3000);
  assert.ok(Date.now() - back < 1000, `${Date.now() - back} ms`);
  assert.equal(a.sim.isp.dhcp4Leases, 1, 'no second DHCPv4 exchange');
  assert.equal(a.sim.isp.dhcp4Releases, 0);
});

test('a change of AFTR settings moves make-before-break: no outage is recorded', async (t) => {
  const a = await startAgent({ fast: true });
  t.after(() => a.stop());
  await until(() => mode(a) === 'DSLite');
  a.dm.set({ 'Device.DSLite.InterfaceSetting.1.EndpointAssignmentPrecedence': 'Static', 'Device.DSLite.InterfaceSetting.1.EndpointName': 'aftr2.example.net' }, 'cli');
  await until(() => a.dm.getValue(`${FO}CurrentAFTR`) === 'aftr2.example.net', 3000);
  const h = Object.values(history(a));
  assert.deepEqual(h.map((r) => [r.From, r.To, r.Reason, r.OutageMs]), [['DSLite', 'DSLite', 'AFTR settings changed', '0']]);
});

test('AFTR absent at boot (no AAAA record): dual-stack at once, establishment reason', async (t) => {
  const a = await startAgent({ fast: true, wan: {} });
  t.after(() => a.stop());
  a.dm.set({ 'Device.DSLite.InterfaceSetting.1.EndpointAssignmentPrecedence': 'Static', 'Device.DSLite.InterfaceSetting.1.EndpointName': 'gone.example.net' }, 'cli');
  await until(() => mode(a) === 'DualStack', 3000);
  assert.match(a.dm.getValue(`${FO}LastSwitchReason`), /^Establishment: DNS failure resolving gone\.example\.net/);
  assert.equal(a.dm.getValue(`${FO}Detector.1.State`), 'Failed');
});

test('a flapping AFTR switches at most once per hold-down', async (t) => {
  const a = await startAgent({ fast: true });
  t.after(() => a.stop());
  a.dm.set({ [`${FO}HoldDownTime`]: '2' }, 'cli');
  await until(() => mode(a) === 'DSLite');
  const t0 = Date.now();
  // Up 300 ms / down 300 ms for 4 s.
  while (Date.now() - t0 < 4000) {
    a.dm.set({ [`${FO}Simulation.AFTRState`]: 'Down' }, 'cli');
    await new Promise((r) => setTimeout(r, 300));
    a.dm.set({ [`${FO}Simulation.AFTRState`]: 'Up' }, 'cli');
    await new Promise((r) => setTimeout(r, 300));
  }
  // Down-then-back needs HoldDownTime (2 s) of dual-stack: in 4 s at most 3 switches.
  assert.ok(Number(a.dm.getValue(`${FO}SwitchCount`)) <= 3, `switches ${a.dm.getValue(`${FO}SwitchCount`)}`);
  assert.ok(Number(a.dm.getValue(`${FO}SwitchCount`)) >= 1);
});

test('the way back is shown while it is waited for: Probing, HoldDown until ReturnNotBefore, then Idle on DS-Lite', async (t) => {
  const a = await startAgent({ fast: true });
  t.after(() => a.stop());
  a.dm.set({ [`${FO}HoldDownTime`]: '3' }, 'cli');
  await until(() => mode(a) === 'DSLite');
  const state = () => [a.dm.getValue(`${FO}RecoveryState`), a.dm.getValue(`${FO}RecoveryGoodProbes`)];
  assert.deepEqual(state(), ['Idle', '0']);
  assert.equal(a.dm.getValue(`${FO}ReturnNotBefore`), '0001-01-01T00:00:00Z');
  a.dm.set({ [`${FO}Simulation.AFTRState`]: 'Down' }, 'cli');
  await until(() => mode(a) === 'DualStack', 3000);
  assert.deepEqual(state(), ['Probing', '0']);
  assert.equal(a.dm.getValue(`${FO}HoldDownFactor`), '1');
  // The earliest return: the switch + HoldDownTime x HoldDownFactor.
  const switched = Date.parse(a.dm.getValue(`${FO}LastSwitchTime`));
  const notBefore = Date.parse(a.dm.getValue(`${FO}ReturnNotBefore`));
  assert.ok(Math.abs(notBefore - switched - 3000) < 1000, `ReturnNotBefore ${notBefore - switched} ms after the switch`);
  a.dm.set({ [`${FO}Simulation.AFTRState`]: 'Up' }, 'cli');
  // RecoveryThreshold 1: the first good probe (RecoveryInterval 1 s) leaves only the hold-down to wait for.
  await until(() => state()[0] === 'HoldDown', 3000);
  assert.deepEqual(state(), ['HoldDown', '1']);
  assert.equal(mode(a), 'DualStack', 'held down until ReturnNotBefore');
  await until(() => mode(a) === 'DSLite', 5000);
  assert.ok(Date.now() >= notBefore, 'not back before ReturnNotBefore');
  assert.deepEqual(state(), ['Idle', '0']);
  assert.equal(a.dm.getValue(`${FO}ReturnNotBefore`), '0001-01-01T00:00:00Z');
});

test('ForceSwitch() and TestAFTR() commands; ForcedMode pins the mode', async (t) => {
  const a = await startAgent({ fast: true });
  t.after(() => a.stop());
  await until(() => mode(a) === 'DSLite');
  const [r] = await a.dm.operate(`${FO}ForceSwitch()`, { Mode: 'DualStack' }, 'usp');
  assert.deepEqual(r.output, { Result: 'switched to DualStack' });
  assert.equal(mode(a), 'DualStack');
  assert.equal(a.dm.getValue(`${FO}LastSwitchReason`), 'ForceSwitch() to DualStack');
  const [again] = await a.dm.operate(`${FO}ForceSwitch()`, { Mode: 'DualStack' }, 'usp');
  assert.deepEqual(again.output, { Result: 'already in DualStack' });
  const [test1] = await a.dm.operate(`${FO}TestAFTR()`, { AFTR: 'aftr2.example.net' }, 'usp');
  assert.equal(test1.output.Reachable, 'true');
  const [test2] = await a.dm.operate(`${FO}TestAFTR()`, { AFTR: 'nowhere.example.net' }, 'usp');
  assert.deepEqual([test2.output.Reachable, test2.output.Reason], ['false', 'Establishment: DNS failure resolving nowhere.example.net: NXDOMAIN nowhere.example.net']);
  // Auto: the recovery probes bring DS-Lite back.
  await until(() => mode(a) === 'DSLite', 3000);
  a.dm.set({ [`${FO}ForcedMode`]: 'DualStack' }, 'cli');
  await until(() => mode(a) === 'DualStack', 2000);
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(mode(a), 'DualStack', 'ForcedMode DualStack holds against good probes');
});

test('settings are validated and take effect without a restart', async (t) => {
  const a = await startAgent();
  t.after(() => a.stop());
  await until(() => mode(a) === 'DSLite');
  assert.throws(() => a.dm.set({ [`${FO}BackupAFTRs`]: 'aftr2.example.net,not_a name' }, 'cli'), { kind: 'InvalidValue' });
  assert.throws(() => a.dm.set(settingsFor(a.dm, { Silence: { Interval: '500', Timeout: '100' } }), 'cli'), { kind: 'InvalidValue' });
  a.dm.set(settingsFor(a.dm, { Silence: { Interval: '20', Timeout: '100' } }), 'cli');
  await until(() => a.handle.policy!.detector('Silence')!.settings.interval === 20, 1000);
  assert.deepEqual(a.handle.policy!.detector('Silence')!.settings, { enable: true, interval: 20, timeout: 100, failureThreshold: 1 });
  a.dm.set(settingsFor(a.dm, { Echo: { Enable: 'false' } }), 'cli');
  await until(() => a.dm.getValue(`${FO}Detector.3.State`) === 'Disabled', 1000);
  // Blackhole is now seen by Silence alone, within its new 100 ms timeout.
  a.dm.set({ [`${FO}Simulation.AFTRState`]: 'Blackhole' }, 'cli');
  await until(() => mode(a) === 'DualStack', 1500);
  assert.match(a.dm.getValue(`${FO}LastSwitchReason`), /^Silence: /);
});

test('History is bounded by deleting the oldest, and survives a restart with its numbering', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fo-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'db');
  let a = await startAgent({ file, fast: true });
  await until(() => mode(a) === 'DSLite');
  for (let i = 0; i < 35; i++) {
    await a.dm.operate(`${FO}ForceSwitch()`, { Mode: i % 2 ? 'DSLite' : 'DualStack' }, 'usp');
  }
  await a.handle.policy!.idle();
  const rows = a.dm.instances(`${FO}History.`);
  const max = a.dm.schema.object(`${FO}History.{i}.`)!.maxEntries!;
  assert.equal(max, 64);
  assert.ok(Number(a.dm.getValue(`${FO}SwitchCount`)) >= 35);
  await a.stop();
  // Fill to above maxEntries across a restart: the oldest rows go, numbers keep increasing.
  a = await startAgent({ file, fast: true });
  t.after(() => a.stop());
  assert.deepEqual(a.dm.instances(`${FO}History.`), rows, 'history survives the restart');
  assert.equal(a.dm.getValue(`${FO}Detector.2.Name`), 'Silence', 'rows are found again, not re-created');
  assert.deepEqual(a.dm.get('Device.IP.Interface.*.Name').map((v) => v.value), ['br-lan', 'wan', 'dslite0']);
  await until(() => mode(a) === 'DSLite');
  for (let i = 0; i < 35; i++) await a.dm.operate(`${FO}ForceSwitch()`, { Mode: i % 2 ? 'DSLite' : 'DualStack' }, 'usp');
  const after = a.dm.instances(`${FO}History.`);
  assert.equal(after.length, 64);
  const nums = after.map((p) => Number(p.match(/(\d+)\.$/)![1]));
  assert.equal(nums[63], Number(a.dm.getValue(`${FO}SwitchCount`)));
  assert.equal(nums[0], nums[63] - 63);
});
