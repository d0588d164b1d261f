// lw4o6 (RFC 7596) in the failover plug-in: the binding from DHCPv6 (S46_V4V6BIND) or DHCPv4-over-DHCPv6, the
// lwB4 address, the data model (Device.MAP and Failover.LW4o6), the ICMPv6 code-5 trigger acted on once per
// event, and the failover around it. In-process on the simulated WAN (its lwAFTR can be Unbound: the anycast
// backup without our binding) and with a fake platform for the controller's edge cases.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { Emitter } from '../../src/datamodel/index.ts';
import { bindPrefixOf, Lw4o6Controller, makeBinding, type Trigger } from '../../src/dslite/lw4o6.ts';
import type { Lease4, Lease6, SoftwireBinding, SoftwireError } from '../../src/wan/platform.ts';
import { FO, startAgent, until, type Agent } from '../failover/harness.ts';

const LW = `${FO}LW4o6.`;
const DOMAIN = 'Device.MAP.Domain.1.';
const log = pino({ level: 'silent' });

function lease6(over: Partial<Lease6> = {}): Lease6 {
  return {
    addresses: [{ address: '2001:db8:1::2', preferred: 3600, valid: 7200 }], prefixes: [], dnsServers: [], aftrName: '', options: [],
    serverDuid: '', clientDuid: '', t1: 1800, t2: 2880, obtained: 0, lw4o6: null, dhcp4o6Servers: [], ...over,
  };
}
const s46 = (ipv4: string, psid: number) => ({
  br: ['2001:db8:ffff::1'], bind: { ipv4, bindPrefix: '2001:db8:1:cafe::/64', portParams: { offset: 6, psidLength: 6, psid } },
});

test('the binding: lwB4 address from the bind prefix and the RFC 7597 §6 IID; unusable parts refused', () => {
  assert.deepEqual(makeBinding('2001:db8:1:cafe::/64', '192.0.2.3', { offset: 6, psidLength: 6, psid: 1 }),
    { ipv4: '192.0.2.3', psidOffset: 6, psidLength: 6, psid: 1, softwire: '2001:db8:1:cafe:0:c000:203:1' });
  // No port parameters: the whole address (PSID length 0), PSID 0 in the IID.
  assert.deepEqual(makeBinding('2001:db8:1:cafe::/64', '198.51.100.7', null),
    { ipv4: '198.51.100.7', psidOffset: 0, psidLength: 0, psid: 0, softwire: '2001:db8:1:cafe:0:c633:6407:0' });
  assert.throws(() => makeBinding('2001:db8:1:cafe::/64', '192.0.2', null), /not an IPv4 address/);
  // k = 16 - a leaves one port per set; with the probe's reserved port there would be none for the LAN.
  assert.throws(() => makeBinding('2001:db8:1:cafe::/64', '192.0.2.3', { offset: 0, psidLength: 16, psid: 7 }), /too small/);
});

test('the bind prefix: S46_V4V6BIND first, then the delegated prefix, then the IA_NA address\'s /64', () => {
  assert.equal(bindPrefixOf(lease6({ lw4o6: s46('192.0.2.3', 1), prefixes: [{ prefix: '2001:db8:100::/56', preferred: 1, valid: 1 }] })), '2001:db8:1:cafe::/64');
  assert.equal(bindPrefixOf(lease6({ prefixes: [{ prefix: '2001:db8:100::/56', preferred: 1, valid: 1 }] })), '2001:db8:100::/56');
  assert.equal(bindPrefixOf(lease6({ prefixes: [{ prefix: '2001:db8:100:1:8000::/80', preferred: 1, valid: 1 }] })), '2001:db8:100:1:8000::/64');
  assert.equal(bindPrefixOf(lease6()), '2001:db8:1::2/64');
  assert.equal(bindPrefixOf(lease6({ addresses: [] })), null);
});

/** A platform with a DHCPv6 server whose answers the test decides. */
function fakePlatform(first: Lease6 | null) {
  const leases = new Emitter<Lease6 | null>();
  const policyErrors = new Emitter<SoftwireError>();
  const bound: (SoftwireBinding | null)[] = [];
  let current = first;
  const p = {
    next: [] as (Lease6 | null)[],
    next4: [] as (Lease4 | Error)[],
    reprovisions: 0,
    releases: 0,
    bound,
    setLease(l: Lease6 | null) { current = l; leases.fire(l); },
    code5() { policyErrors.fire({ type: 1, code: 5, source: '2001:db8:ffff::1', quotedDst: '2001:db8:ffff::1' }); },
    platform: {
      dhcp6: {
        lease: () => current,
        onLease: (fn: (l: Lease6 | null) => void) => leases.on(fn),
        reprovision: async () => {
          p.reprovisions++;
          const l = p.next.shift() ?? null;
          if (l) current = l;
          return l;
        },
      },
      tunnel: { bind: async (b: SoftwireBinding | null) => { bound.push(b); }, onPolicyError: (fn: (e: SoftwireError) => void) => policyErrors.on(fn) },
      dhcp4o6: () => ({
        acquire: async () => {
          const r = p.next4.shift();
          if (!r || r instanceof Error) throw r ?? new Error('no answer');
          return r;
        },
        release: async () => { p.releases++; },
        stop: async () => undefined,
      }),
    },
  };
  return p;
}
const lease4 = (address: string, psid: number): Lease4 => ({
  address, subnetMask: '255.255.255.255', routers: [], dnsServers: [], server: '', leaseTime: 600, obtained: 0, portParams: { offset: 6, psidLength: 6, psid },
});

test('ICMPv6 trigger: re-provisioned once per event; within the hold-off only counted; same binding Unchanged; no answer Failed', async () => {
  let now = 1_000_000;
  const f = fakePlatform(lease6({ lw4o6: s46('192.0.2.3', 1) }));
  const c = new Lw4o6Controller({ platform: f.platform, log, now: () => now, holdOffMs: 5000 });
  const triggers: Trigger[] = [];
  c.onTrigger((t) => triggers.push(t));
  c.start();
  await c.ready();
  assert.equal(c.kind(), 'LW4o6');
  assert.deepEqual(f.bound.map((b) => b && `${b.ipv4} ${b.psid}`), ['192.0.2.3 1']);

  f.next.push(lease6({ lw4o6: s46('192.0.2.4', 2) }));
  f.code5();
  f.code5(); // the same event's next packet: counted, never a second exchange, no row
  await c.idle();
  assert.equal(f.reprovisions, 1);
  assert.deepEqual(triggers.map((t) => [t.action, t.oldBinding, t.newBinding]), [
    ['Reprovisioned', '192.0.2.3 1/6', '192.0.2.4 2/6'],
  ]);
  assert.deepEqual(f.bound.map((b) => b && `${b.ipv4} ${b.psid}`), ['192.0.2.3 1', '192.0.2.4 2']);
  assert.equal(c.status().binding?.softwire, '2001:db8:1:cafe:0:c000:204:2');

  now += 5000;
  f.next.push(lease6({ lw4o6: s46('192.0.2.4', 2) }));
  f.code5();
  await c.idle();
  assert.equal(triggers.at(-1)!.action, 'Unchanged');
  assert.equal(f.bound.length, 2, 'the same binding is not applied again');

  now += 5000;
  f.code5(); // the DHCPv6 server does not answer
  await c.idle();
  assert.equal(triggers.at(-1)!.action, 'Failed');
  assert.equal(c.status().status, 'Error');
  // The DHCPv6 lease held still carries its binding: the softwire comes up on it, and the detectors judge it.
  await c.ready();
  assert.equal(c.status().status, 'Bound');
  assert.deepEqual([c.status().policyErrors, c.status().reprovisions], [4, 3]);
  await c.stop();
});

test('DHCPv4-over-DHCPv6: the address and port set from the 4o6 server; a trigger releases and asks again', async () => {
  const f = fakePlatform(lease6({ lw4o6: { br: ['2001:db8:ffff::1'], bind: null }, dhcp4o6Servers: ['2001:db8:5::1'], prefixes: [{ prefix: '2001:db8:100::/56', preferred: 1, valid: 1 }] }));
  f.next4.push(lease4('192.0.2.10', 3), lease4('192.0.2.11', 4));
  const c = new Lw4o6Controller({ platform: f.platform, log });
  c.start();
  await c.ready();
  assert.deepEqual({ ...c.status(), lastTrigger: null }, {
    status: 'Bound', provisioning: 'DHCP4o6', br: '2001:db8:ffff::1', bindPrefix: '2001:db8:100::/56', policyErrors: 0, reprovisions: 0, lastTrigger: null,
    binding: { ipv4: '192.0.2.10', psidOffset: 6, psidLength: 6, psid: 3, softwire: '2001:db8:100::c000:20a:3' },
  });
  // A renewed DHCPv6 lease with the same 4o6 servers keeps the binding (no new exchange).
  f.setLease(lease6({ lw4o6: { br: ['2001:db8:ffff::1'], bind: null }, dhcp4o6Servers: ['2001:db8:5::1'], prefixes: [{ prefix: '2001:db8:100::/56', preferred: 1, valid: 1 }] }));
  await c.idle();
  assert.equal(f.next4.length, 1);
  f.code5();
  await c.idle();
  assert.equal(f.releases, 1);
  assert.equal(c.status().binding?.ipv4, '192.0.2.11');
  // The DHCPv6 lease no longer offers lw4o6: DS-Lite again, the address released.
  f.setLease(lease6({ aftrName: 'aftr.example.net' }));
  await c.idle();
  assert.equal(c.kind(), 'DSLite');
  assert.equal(f.bound.at(-1), null);
  assert.equal(f.releases, 2);
  await c.stop();
});

test('DHCPv4-over-DHCPv6 without an answer: no binding, and the softwire does not come up (Establishment)', async () => {
  const f = fakePlatform(lease6({ lw4o6: { br: ['2001:db8:ffff::1'], bind: null }, dhcp4o6Servers: ['2001:db8:5::1'] }));
  f.next4.push(new Error('no DHCPV4-RESPONSE within 10000 ms'));
  const c = new Lw4o6Controller({ platform: f.platform, log });
  c.start();
  await assert.rejects(c.ready(), /^Error: Establishment: no lw4o6 binding \(provisioning failed\)$/);
  assert.deepEqual(f.bound, []);
  await c.stop();
});

// ---- the whole plug-in on the simulated WAN --------------------------------------------------------------

async function lwAgent(t: { after(fn: () => unknown): void }, softwire: 'lw4o6' | 'lw4o6-dhcp4o6'): Promise<Agent> {
  const a = await startAgent({ fast: true, wan: { sim: { lanPps: 200, delayMs: 1, softwire } } });
  t.after(() => a.stop());
  await until(() => a.dm.getValue(`${FO}Mode`) === 'LW4o6', 3000, 'Mode LW4o6');
  return a;
}
const values = (a: Agent, base: string, names: string[]) => Object.fromEntries(names.map((n) => [n, a.dm.getValue(`${base}${n}`)]));

test('lw4o6 from DHCPv6 S46_V4V6BIND: Mode LW4o6, the binding in Device.MAP and Failover.LW4o6, the BR as the AFTR', async (t) => {
  const a = await lwAgent(t, 'lw4o6');
  assert.deepEqual(values(a, LW, ['Status', 'Provisioning', 'BRAddress', 'SoftwireAddress', 'IPv4Address', 'PSIDOffset', 'PSIDLength', 'PSID', 'PortCount']), {
    Status: 'Bound', Provisioning: 'S46Bind', BRAddress: '2001:db8:ffff::1', SoftwireAddress: '2001:db8:1:cafe:0:c000:203:1', IPv4Address: '192.0.2.3',
    // a = 6, k = 6: 2^(16-6-6) = 16 ports in each of the 63 blocks above the system ports (RFC 7597 §5.1).
    PSIDOffset: '6', PSIDLength: '6', PSID: '1', PortCount: '1008',
  });
  assert.equal(a.dm.getValue(`${LW}PortRanges`).split(',').slice(0, 2).join(), '1040-1055,2064-2079');
  assert.equal(a.dm.getValue(`${FO}CurrentAFTR`), '2001:db8:ffff::1');
  assert.deepEqual(values(a, DOMAIN, ['Enable', 'Status', 'TransportMode', 'BRIPv6Prefix', 'WANInterface']), {
    Enable: 'true', Status: 'Enabled', TransportMode: 'Encapsulation', BRIPv6Prefix: '2001:db8:ffff::1/128', WANInterface: 'Device.IP.Interface.2',
  });
  // BBF's lw4o6: EABitsLength 0, a /32, the PSID left-aligned in 16 bits (1 << 10).
  assert.deepEqual(values(a, `${DOMAIN}Rule.1.`, ['Enable', 'Status', 'IPv6Prefix', 'IPv4Prefix', 'EABitsLength', 'IsFMR', 'PSIDOffset', 'PSIDLength', 'PSID']), {
    Enable: 'true', Status: 'Enabled', IPv6Prefix: '2001:db8:1:cafe::/64', IPv4Prefix: '192.0.2.3/32', EABitsLength: '0', IsFMR: 'false', PSIDOffset: '6', PSIDLength: '6', PSID: '1024',
  });
  assert.deepEqual(values(a, `${DOMAIN}Interface.`, ['Name', 'Status']), { Name: 'dslite0', Status: 'Up' });
  assert.ok(Number(a.dm.getValue(`${DOMAIN}Interface.Stats.PacketsSent`)) > 0, 'the MAP interface counts what the softwire carried');
});

test('the anycast backup without our binding (code 5): provisioned again, the new binding in use, no mode switch', async (t) => {
  const a = await lwAgent(t, 'lw4o6');
  const switches = a.dm.getValue(`${FO}SwitchCount`);
  a.dm.set({ [`${FO}Simulation.AFTRState`]: 'Unbound' }, 'cli');
  await until(() => a.dm.getValue(`${LW}IPv4Address`) === '192.0.2.4', 3000, 'the next binding');
  await until(() => a.dm.instances(`${LW}Trigger.`).length === 1, 1000, 'one trigger row');
  assert.deepEqual(values(a, `${LW}Trigger.1.`, ['Source', 'Action', 'OldBinding', 'NewBinding']), {
    Source: '2001:db8:ffff::1', Action: 'Reprovisioned', OldBinding: '192.0.2.3 1/6', NewBinding: '192.0.2.4 2/6',
  });
  assert.equal(a.dm.getValue(`${LW}Reprovisions`), '1');
  assert.equal(a.dm.getValue(`${DOMAIN}Rule.1.IPv4Prefix`), '192.0.2.4/32');
  assert.equal(a.dm.getValue(`${LW}SoftwireAddress`), '2001:db8:1:cafe:0:c000:204:2');
  // LAN IPv4 flows again on the new binding, and the failover never left lw4o6.
  const delivered = a.sim.lan.delivered;
  await until(() => a.sim.lan.delivered > delivered + 20, 2000, 'LAN traffic through the backup');
  assert.equal(a.dm.getValue(`${FO}Mode`), 'LW4o6');
  assert.equal(a.dm.getValue(`${FO}SwitchCount`), switches);
});

test('Reprovision() on request: a new binding without a trigger; refused (CommandFailed) while lw4o6 is not in use', async (t) => {
  const a = await lwAgent(t, 'lw4o6');
  const r = await a.dm.operate(`${LW}Reprovision()`, {}, 'usp');
  assert.deepEqual(r.map((x) => x.output), [{ Result: 'Reprovisioned', Binding: '192.0.2.4 2/6' }]);
  assert.equal(a.dm.getValue(`${LW}IPv4Address`), '192.0.2.4');
  assert.equal(a.dm.getValue(`${LW}TriggerNumberOfEntries`), '0', 'no trigger was involved');
  a.dm.set({ 'Device.MAP.Enable': 'false' }, 'usp');
  await until(() => a.dm.getValue(`${LW}Status`) === 'Disabled', 3000, 'lw4o6 disabled');
  await assert.rejects(a.dm.operate(`${LW}Reprovision()`, {}, 'usp'), (e: Error & { kind?: string }) => e.kind === 'CommandFailed' && /not in use/.test(e.message));
});

test('DHCPv4-over-DHCPv6 binding, re-provisioned by 4o6 on a trigger', async (t) => {
  const a = await lwAgent(t, 'lw4o6-dhcp4o6');
  assert.deepEqual(values(a, LW, ['Status', 'Provisioning', 'IPv4Address', 'PSID', 'SoftwireAddress']), {
    Status: 'Bound', Provisioning: 'DHCP4o6', IPv4Address: '192.0.2.3', PSID: '1', SoftwireAddress: '2001:db8:100::c000:203:1',
  });
  a.dm.set({ [`${FO}Simulation.AFTRState`]: 'Unbound' }, 'cli');
  await until(() => a.dm.getValue(`${LW}IPv4Address`) === '192.0.2.4', 3000, 'the next binding by DHCP 4o6');
  await until(() => a.dm.getValue(`${LW}Trigger.1.Action`) === 'Reprovisioned', 1000, 'the trigger row');
  assert.equal(a.dm.getValue(`${FO}Mode`), 'LW4o6');
});

test('no lwAFTR answers at all: dual-stack, History from LW4o6; back to lw4o6 when the BR returns', async (t) => {
  const a = await lwAgent(t, 'lw4o6');
  a.dm.set({ [`${FO}Simulation.AFTRState`]: 'Blackhole' }, 'cli');
  await until(() => a.dm.getValue(`${FO}Mode`) === 'DualStack', 5000, 'dual-stack');
  const last = () => a.dm.instances(`${FO}History.`).at(-1)!;
  assert.deepEqual([a.dm.getValue(`${last()}From`), a.dm.getValue(`${last()}To`), a.dm.getValue(`${last()}AFTR`)], ['LW4o6', 'DualStack', '2001:db8:ffff::1']);
  assert.equal(a.dm.getValue(`${LW}Reprovisions`), '0', 'silence is not a trigger');
  a.dm.set({ [`${FO}Simulation.AFTRState`]: 'Up' }, 'cli');
  await until(() => a.dm.getValue(`${FO}Mode`) === 'LW4o6', 8000, 'back to lw4o6');
  assert.deepEqual([a.dm.getValue(`${last()}From`), a.dm.getValue(`${last()}To`)], ['DualStack', 'LW4o6']);
});

test('Device.MAP.Enable false: the lw4o6 offer is ignored (no AFTR-Name here: dual-stack); true again: lw4o6', async (t) => {
  const a = await lwAgent(t, 'lw4o6');
  a.dm.set({ 'Device.MAP.Enable': 'false' }, 'usp');
  await until(() => a.dm.getValue(`${FO}Mode`) === 'DualStack', 5000, 'dual-stack');
  assert.equal(a.dm.getValue(`${LW}Status`), 'Disabled');
  assert.equal(a.dm.instances(`${DOMAIN}Rule.`).length, 0);
  a.dm.set({ 'Device.MAP.Enable': 'true' }, 'usp');
  await until(() => a.dm.getValue(`${FO}Mode`) === 'LW4o6', 8000, 'lw4o6 again');
});
