// Device.X_TWINSTACK-ORG_NAT46. (issue 23) through the data-model facade with a fake platform: a valid
// configuration reaches the platform as the forwarder's Nat46Config, invalid Sets are refused whole (nothing
// written, nothing applied) at the parameter at fault, DS-Lite and NAT46 exclude each other, ExportedRoute is the
// identifier space. Then the same object over SNMP (Net-SNMP tools, our MIB) and CWMP (a scripted ACS).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import pino from 'pino';
import { DataModel, DmError, type Disposable } from '../../src/datamodel/index.ts';
import { applyStored, bindNat46Model, Nat46Controller } from '../../src/dslite/nat46.ts';
import { SimNetwork } from '../../src/sim/network.ts';
import { nat46Space } from '../../src/forwarder/addresses.ts';
import type { Nat46Config, Nat46Counters, Nat46Port } from '../../src/wan/platform.ts';
import { ScriptedAcs, arr, faultOf, names, pvs, text, valueMap, type CpeMsg } from '../cwmp/acs.ts';
import { startAgent as startCwmp } from '../cwmp/harness.ts';
import { CONFIG, MIBDIRS, startAgent as startSnmp, toolResult } from '../snmp/fixture.ts';

const run = promisify(execFile);
const N = 'Device.X_TWINSTACK-ORG_NAT46.';
const log = pino({ level: 'silent' });

/** The platform side: records what was applied, serves counters the test sets. */
class FakeNat46 {
  readonly applied: (Nat46Config | null)[] = [];
  /** Refuse configurations (not null) as a platform that cannot apply them does. */
  refuse = false;
  counts: Nat46Counters = { translated4to6: 0, translated6to4: 0, handedOff: 0, handOffsReceived: 0, dropped: 0 };
  readonly nat46: Nat46Port = {
    apply: async (c) => {
      if (c && this.refuse) throw new Error('no tun');
      this.applied.push(c);
    },
    config: () => this.applied.at(-1) ?? null,
    counters: async () => ({ ...this.counts }),
    probe: async () => ({ ok: true, rttUs: 100, reason: '' }),
  };
}

/** After a commit: its apply handlers run (queued as microtasks by the core), then the controller's steps. */
async function settled(c: Nat46Controller): Promise<void> {
  await new Promise((r) => setImmediate(r));
  await c.idle();
}

/** The NAT46 handlers on a data model (a fresh in-memory one unless given). */
function bind(dm = new DataModel({ file: ':memory:' })) {
  const fake = new FakeNat46();
  const controller = new Nat46Controller({ platform: fake, log });
  const subs: Disposable[] = bindNat46Model({ dm, controller, log });
  return { dm, fake, controller, close: async () => { await controller.stop(); for (const s of subs) s.dispose(); } };
}

const SETTINGS = {
  [`${N}Prefix`]: '2001:db8:4600::/40', [`${N}TenantBits`]: '8', [`${N}GatewayBits`]: '16', [`${N}TenantID`]: '42', [`${N}GatewayID`]: '258',
  [`${N}DestinationPrefix`]: '64:ff9b::/96', [`${N}LocalAddress`]: '2001:db8:ff00::1', [`${N}IPv6MTU`]: '1400',
};
const CONFIG_APPLIED: Nat46Config = {
  prefix: '2001:db8:4600::/40', tenantBits: 8, gatewayBits: 16, tenantId: 42, gatewayId: 258, dstPrefix: '64:ff9b::/96', localAddress: '2001:db8:ff00::1',
  ipv6Mtu: 1400, peers: [{ gatewayId: 259, address: '2001:db8:ff00::2' }], adopted: [{ gatewayId: 260, clients: '192.0.2.128/25' }],
};

/** A gateway translating with CONFIG_APPLIED: rows added while disabled, then the settings and Enable in one Set. */
async function enabled(dm?: DataModel) {
  const b = bind(dm);
  b.dm.add(`${N}Peer.`, 'usp', { Enable: 'true', GatewayID: '259', Address: '2001:db8:ff00::2' });
  b.dm.add(`${N}Peer.`, 'usp', { Enable: 'false', GatewayID: '258', Address: '2001:db8:ff00::3' }); // disabled: no effect
  b.dm.add(`${N}Adopted.`, 'usp', { Enable: 'true', GatewayID: '260', Clients: '192.0.2.128/25' });
  b.dm.set({ ...SETTINGS, [`${N}Enable`]: 'true' }, 'usp');
  await settled(b.controller);
  return b;
}

/** Throws the DmError of a refused write; the paths it names. */
function refused(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof DmError, String(e));
    assert.equal(e.kind, 'InvalidValue', e.message);
    return e.details.map((d) => d.path);
  }
  assert.fail('the write was accepted');
}

test('ExportedRoute: Prefix | TenantID | GatewayID with the summed length (byte-aligned or not, up to /96)', () => {
  const cases: [Parameters<typeof nat46Space>[0], number, string][] = [
    [{ prefix: '2001:db8:4600::/40', tenantBits: 8, gatewayBits: 16, tenantId: 0x2a }, 0x102, '2001:db8:462a:102::/64'],
    [{ prefix: '2001:db8::/32', tenantBits: 0, gatewayBits: 32, tenantId: 0 }, 0xc0000201, '2001:db8:c000:201::/64'],
    [{ prefix: '2001:db8:4600::/44', tenantBits: 4, gatewayBits: 12, tenantId: 5 }, 0xabc, '2001:db8:4605:abc0::/60'],
    [{ prefix: '2001:db8:1:2::/64', tenantBits: 0, gatewayBits: 32, tenantId: 0 }, 7, '2001:db8:1:2:0:7::/96'],
    [{ prefix: '2001:db8:4600::/40', tenantBits: 8, gatewayBits: 1, tenantId: 0 }, 1, '2001:db8:4600:8000::/49'],
    // Over 96 bits there is no room for the client's IPv4: no route.
    [{ prefix: '2001:db8::/32', tenantBits: 32, gatewayBits: 33, tenantId: 0 }, 1, 'null'],
  ];
  for (const [c, id, want] of cases) assert.equal(String(nat46Space(c, id)), want, JSON.stringify(c));
});

test('a valid configuration reaches the platform whole, live; Status, ExportedRoute and Stats come back', async () => {
  const { dm, fake, controller, close } = await enabled();
  try {
    assert.deepEqual(fake.applied, [CONFIG_APPLIED]);
    assert.equal(dm.getValue(`${N}Status`), 'Enabled');
    assert.equal(dm.getValue(`${N}ExportedRoute`), '2001:db8:462a:102::/64');
    assert.equal(dm.getValue(`${N}PeerNumberOfEntries`), '2');

    fake.counts = { translated4to6: 10, translated6to4: 9, handedOff: 3, handOffsReceived: 2, dropped: 1 };
    await controller.refresh();
    assert.deepEqual(
      ['Translated4to6', 'Translated6to4', 'HandedOff', 'HandOffsReceived', 'Dropped'].map((k) => dm.getValue(`${N}Stats.${k}`)),
      ['10', '9', '3', '2', '1'],
    );

    // A change applies at once: a new peer, then a new MTU, each one whole configuration.
    dm.add(`${N}Peer.`, 'usp', { Enable: 'true', GatewayID: '300', Address: '2001:db8:ff00::4' });
    dm.set({ [`${N}IPv6MTU`]: '1500' }, 'cwmp');
    await settled(controller);
    assert.deepEqual(fake.applied.at(-1), { ...CONFIG_APPLIED, ipv6Mtu: 1500, peers: [...CONFIG_APPLIED.peers!, { gatewayId: 300, address: '2001:db8:ff00::4' }] });

    dm.set({ [`${N}Enable`]: 'false' }, 'usp');
    await settled(controller);
    assert.equal(fake.applied.at(-1), null);
    assert.equal(dm.getValue(`${N}Status`), 'Disabled');
    assert.equal(dm.getValue(`${N}ExportedRoute`), '');
  } finally {
    await close();
  }
});

test('a Set that would leave the enabled configuration invalid is refused whole, at the parameter at fault', async () => {
  const { dm, fake, controller, close } = await enabled();
  try {
    const cases: [string, () => unknown, string[]][] = [
      // The valid IPv6MTU beside it is not written either.
      ['GatewayID >= 2^GatewayBits', () => dm.set({ [`${N}IPv6MTU`]: '1500', [`${N}GatewayID`]: '65536' }, 'usp'), [`${N}GatewayID`]],
      ['widths over 96 bits', () => dm.set({ [`${N}TenantBits`]: '32', [`${N}GatewayBits`]: '32' }, 'usp'), [`${N}TenantBits`]],
      ['TenantID >= 2^TenantBits', () => dm.set({ [`${N}TenantID`]: '256' }, 'snmp'), [`${N}TenantID`]],
      ['destination /96 inside Prefix', () => dm.set({ [`${N}DestinationPrefix`]: '2001:db8:4600::/96' }, 'usp'), [`${N}DestinationPrefix`]],
      ['no hand-off address', () => dm.set({ [`${N}LocalAddress`]: '' }, 'web'), [`${N}LocalAddress`]],
      ['a peer with our GatewayID', () => dm.set({ [`${N}Peer.1.GatewayID`]: '258' }, 'usp'), [`${N}Peer.1.GatewayID`]],
      ['a disabled peer with our GatewayID enabled', () => dm.set({ [`${N}Peer.2.Enable`]: 'true' }, 'cwmp'), [`${N}Peer.2.GatewayID`]],
      ['our GatewayID becomes a peer\'s', () => dm.set({ [`${N}GatewayID`]: '259' }, 'usp'), [`${N}Peer.1.GatewayID`]],
      ['overlapping adopted prefixes', () => dm.add(`${N}Adopted.`, 'usp', { Enable: 'true', GatewayID: '261', Clients: '192.0.2.192/26' }), [`${N}Adopted.2.Clients`]],
      ['an adopted prefix with host bits', () => dm.set({ [`${N}Adopted.1.Clients`]: '192.0.2.129/25' }, 'usp'), [`${N}Adopted.1.Clients`]],
    ];
    const before = dm.get(N).map((v) => `${v.path}=${v.value}`);
    for (const [name, fn, paths] of cases) assert.deepEqual(refused(fn), paths, name);
    await settled(controller);
    assert.deepEqual(dm.get(N).map((v) => `${v.path}=${v.value}`), before, 'nothing was written');
    assert.deepEqual(fake.applied, [CONFIG_APPLIED], 'nothing was applied');
    // The messages say why, in the forwarder's words.
    assert.throws(() => dm.set({ [`${N}GatewayID`]: '65536' }, 'usp'), /would be invalid: nat46\.gatewayId: integer below 2\^gatewayBits/);
  } finally {
    await close();
  }
});

test('after a restart the stored configuration is applied at start', async () => {
  const first = await enabled();
  await first.close();
  const again = bind(first.dm); // the same database, new handlers and controller: a restart of the agent
  try {
    assert.deepEqual(again.fake.applied, [], 'nothing before the platform runs');
    applyStored(again.dm, again.controller);
    await settled(again.controller);
    assert.deepEqual(again.fake.applied, [CONFIG_APPLIED]);
    assert.equal(again.dm.getValue(`${N}Status`), 'Enabled');
  } finally {
    await again.close();
    first.dm.close();
  }
});

test('a configuration the platform refuses: Error_Misconfigured, nothing translated, no route to announce', async () => {
  const { dm, fake, controller, close } = bind();
  try {
    fake.refuse = true;
    dm.add(`${N}Peer.`, 'usp', { Enable: 'true', GatewayID: '259', Address: '2001:db8:ff00::2' });
    dm.set({ ...SETTINGS, [`${N}Enable`]: 'true' }, 'usp');
    await settled(controller);
    assert.equal(dm.getValue(`${N}Status`), 'Error_Misconfigured');
    assert.equal(dm.getValue(`${N}ExportedRoute`), '');
    // Each change is one attempt (the row's and the settings' apply handlers both read the committed state, so
    // here two); every one was refused, and what each left is undone.
    assert.ok(fake.applied.length > 0 && fake.applied.every((c) => c === null), JSON.stringify(fake.applied));
    // The next change is tried again.
    fake.refuse = false;
    dm.set({ [`${N}IPv6MTU`]: '1280' }, 'usp');
    await settled(controller);
    assert.equal(dm.getValue(`${N}Status`), 'Enabled');
    assert.deepEqual(fake.applied.at(-1), { ...CONFIG_APPLIED, ipv6Mtu: 1280, adopted: [] });
  } finally {
    await close();
  }
});

test('an incomplete configuration is stored while disabled; enabling it is refused', async () => {
  const { dm, fake, controller, close } = bind();
  try {
    dm.set({ [`${N}GatewayID`]: '70000' }, 'usp'); // out of range for GatewayBits 16, but nothing is enabled
    assert.deepEqual(refused(() => dm.set({ [`${N}Enable`]: 'true' }, 'usp')), [`${N}Prefix`, `${N}GatewayID`, `${N}LocalAddress`]);
    await settled(controller);
    assert.equal(dm.getValue(`${N}Enable`), 'false');
    assert.deepEqual(fake.applied, []);
    assert.equal(dm.getValue(`${N}Status`), 'Disabled');
  } finally {
    await close();
  }
});

test('DS-Lite and NAT46 exclude each other (one forwarder, one IPv4 service)', async () => {
  const a = bind();
  try {
    a.dm.set({ ...SETTINGS, 'Device.DSLite.Enable': 'true' }, 'usp');
    assert.throws(() => a.dm.set({ [`${N}Enable`]: 'true' }, 'usp'), (e: DmError) =>
      e.kind === 'InvalidValue' && e.path === `${N}Enable` && /Device\.DSLite\.Enable is true: NAT46 and DS-Lite are alternative IPv4 services/.test(e.message));
    a.dm.set({ 'Device.DSLite.Enable': 'false' }, 'usp');
    a.dm.set({ [`${N}Enable`]: 'true' }, 'usp');
    assert.throws(() => a.dm.set({ 'Device.DSLite.Enable': 'true' }, 'cwmp'), (e: DmError) =>
      e.kind === 'InvalidValue' && e.path === 'Device.DSLite.Enable' && /NAT46\.Enable is true/.test(e.message));
    assert.equal(a.dm.getValue('Device.DSLite.Enable'), 'false');
    await settled(a.controller);
    assert.equal(a.dm.getValue(`${N}Status`), 'Enabled');
  } finally {
    await a.close();
  }
  // The veto sees what the whole transaction leaves (ValidateContext.valueAt): one batch turning both on is
  // refused whole, one turning DS-Lite off and NAT46 on is taken.
  const b = bind();
  try {
    b.dm.set({ 'Device.DSLite.Enable': 'true' }, 'usp');
    assert.throws(() => b.dm.set({ ...SETTINGS, [`${N}Enable`]: 'true', 'Device.DSLite.Enable': 'true' }, 'usp'), (e: DmError) =>
      e.kind === 'InvalidValue' && e.details.some((d) => d.path === `${N}Enable` && /alternative IPv4 services/.test(d.message)));
    assert.equal(b.dm.getValue(`${N}Enable`), 'false');
    assert.equal(b.dm.getValue(`${N}Prefix`), '', 'nothing of the refused batch was written');
    b.dm.set({ ...SETTINGS, [`${N}Enable`]: 'true', 'Device.DSLite.Enable': 'false' }, 'cwmp');
    await settled(b.controller);
    assert.equal(b.dm.getValue('Device.DSLite.Enable'), 'false');
    assert.equal(b.dm.getValue(`${N}Status`), 'Enabled');
    assert.equal(b.fake.applied.length, 1);
  } finally {
    await b.close();
  }
});

test('the simulated platform records each configuration and translates the simulated LAN traffic', async () => {
  const sim = new SimNetwork({ log, lanPps: 1000 });
  await sim.start();
  try {
    const controller = new Nat46Controller({ platform: sim, log });
    const dm = new DataModel({ file: ':memory:' });
    const subs = bindNat46Model({ dm, controller, log });
    dm.add(`${N}Peer.`, 'usp', { Enable: 'true', GatewayID: '259', Address: '2001:db8:ff00::2' });
    dm.add(`${N}Adopted.`, 'usp', { Enable: 'true', GatewayID: '260', Clients: '192.0.2.128/25' });
    dm.set({ ...SETTINGS, [`${N}Enable`]: 'true' }, 'usp');
    await settled(controller);
    assert.deepEqual(sim.nat46Applied, [CONFIG_APPLIED]);
    await new Promise((r) => setTimeout(r, 100));
    await controller.refresh();
    const n = Number(dm.getValue(`${N}Stats.Translated4to6`));
    assert.ok(n > 0, 'LAN packets were translated');
    // Every simulated packet is answered from the IPv6 side: one translated back per packet.
    assert.equal(dm.getValue(`${N}Stats.Translated6to4`), String(n));
    dm.set({ [`${N}Enable`]: 'false' }, 'usp');
    await settled(controller);
    assert.deepEqual(sim.nat46Applied, [CONFIG_APPLIED, null]);
    assert.equal(sim.nat46.config(), null);
    await controller.stop();
    for (const s of subs) s.dispose();
    dm.close();
  } finally {
    await sim.stop();
  }
});

test('SNMP: tsNat46 read with the MIB; a refused SET is wrongValue and changes nothing (Net-SNMP tools)', async () => {
  const dm = new DataModel({ file: ':memory:' });
  const n46 = await enabled(dm);
  const a = await startSnmp(CONFIG, dm);
  try {
    const env = { ...process.env, SNMPCONFPATH: '/nonexistent' };
    const { stdout } = await run('snmpget', ['-M', MIBDIRS, '-m', 'TWINSTACK-FAILOVER-MIB', '-v2c', '-c', 'public', '-Os', a.target,
      'tsNat46Status.0', 'tsNat46GatewayId.0', 'tsNat46LocalAddress.0', 'tsNat46ExportedRoute.0', 'tsNat46PeerGatewayId.1', 'tsNat46AdoptedClients.1'], { env });
    assert.deepEqual(stdout.trim().split('\n'), [
      'tsNat46Status.0 = INTEGER: enabled(2)',
      'tsNat46GatewayId.0 = Gauge32: 258',
      'tsNat46LocalAddress.0 = STRING: 2001:db8:ff00:0:0:0:0:1',
      'tsNat46ExportedRoute.0 = STRING: 2001:db8:462a:102::/64',
      'tsNat46PeerGatewayId.1 = Gauge32: 259',
      'tsNat46AdoptedClients.1 = STRING: 192.0.2.128/25',
    ]);
    // 65536 is a valid Unsigned32 but not below 2^16: the data model's veto, mapped to wrongValue (RFC 3416 §4.2.5).
    const r = await toolResult('snmpset', ['-v2c', '-c', 'private', a.target, '.1.3.6.1.4.1.32473.6333.1.17.7.0', 'u', '65536']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /wrongValue/);
    assert.equal(dm.getValue(`${N}GatewayID`), '258');
    await settled(n46.controller);
    assert.deepEqual(n46.fake.applied, [CONFIG_APPLIED]);
  } finally {
    await a.svc.stop();
    await n46.close();
    dm.close();
  }
});

test('CWMP: GetParameterValues of the object; SetParameterValues of an invalid GatewayID is 9003 with 9007', async (t) => {
  const acs = await new ScriptedAcs().start();
  t.after(() => acs.stop());
  let attached!: () => void;
  const ready = new Promise<void>((r) => (attached = r));
  const results: CpeMsg[] = [];
  acs.onSession(async (s) => {
    await ready; // the NAT46 handlers are on the agent's data model
    results.push(await s.call('GetParameterValues', names([`${N}Status`, `${N}ExportedRoute`, `${N}GatewayID`, `${N}Peer.1.Address`])));
    results.push(await s.call('SetParameterValues', pvs([[`${N}GatewayID`, '65536', 'unsignedInt']]) + '<ParameterKey>n46</ParameterKey>'));
  });
  const done = acs.nextSession();
  const agent = await startCwmp(acs);
  t.after(() => agent.stop());
  const n46 = await enabled(agent.dm);
  t.after(() => n46.close());
  attached();
  await done;
  assert.equal(results[0].method, 'GetParameterValuesResponse');
  assert.deepEqual(Object.fromEntries(valueMap(results[0].body.ParameterList)), {
    [`${N}Status`]: 'Enabled', [`${N}ExportedRoute`]: '2001:db8:462a:102::/64', [`${N}GatewayID`]: '258', [`${N}Peer.1.Address`]: '2001:db8:ff00::2',
  });
  assert.equal(results[1].method, 'Fault');
  const f = faultOf(results[1]);
  assert.equal(text(f.FaultCode), '9003');
  assert.deepEqual(arr(f.SetParameterValuesFault).map((p: any) => [text(p.ParameterName), text(p.FaultCode)]), [[`${N}GatewayID`, '9007']]);
  assert.equal(agent.dm.getValue(`${N}GatewayID`), '258');
});
