import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataModel, DmError, type ChangeEvent } from '../../src/datamodel/index.ts';

const mem = () => new DataModel({ file: ':memory:' });
const kindOf = (fn: () => unknown) => {
  try { fn(); } catch (e) { if (e instanceof DmError) return e.kind; throw e; }
  return 'ok';
};
const vals = (dm: DataModel, p: string) => Object.fromEntries(dm.get(p).map((v) => [v.path, v.value]));

test('atomic batches: one bad value changes nothing and every bad parameter is named', () => {
  const dm = mem();
  dm.add('Device.DSLite.InterfaceSetting.', 'system');
  const before = vals(dm, 'Device.');
  const events: ChangeEvent[] = [];
  dm.onChange((e) => events.push(e));
  let err: DmError | undefined;
  try {
    dm.set({
      'Device.DSLite.Enable': 'true', // good
      'Device.DSLite.InterfaceSetting.1.EndpointName': 'aftr.example.net', // good
      'Device.DSLite.InterfaceSetting.1.EndpointAddress': 'not-an-address', // bad value
      'Device.DSLite.InterfaceSetting.1.Status': 'Enabled', // read-only
      'Device.DSLite.NoSuch': '1', // no such parameter
      'Device.DSLite.InterfaceSetting.1.EndpointAssignmentPrecedence': 'Magic', // bad enum
    }, 'cli');
  } catch (e) { err = e as DmError; }
  assert.ok(err instanceof DmError);
  assert.deepEqual(err.details.map((d) => [d.path, d.kind]), [
    ['Device.DSLite.InterfaceSetting.1.EndpointAddress', 'InvalidValue'],
    ['Device.DSLite.InterfaceSetting.1.Status', 'NotWritable'],
    ['Device.DSLite.NoSuch', 'InvalidPath'],
    ['Device.DSLite.InterfaceSetting.1.EndpointAssignmentPrecedence', 'InvalidValue'],
  ]);
  assert.match(err.message, /IPv6Address/);
  assert.deepEqual(vals(dm, 'Device.'), before);
  assert.equal(events.length, 0);
});

test('writes: read-only refused except for the system, canonical values stored, one event per commit', () => {
  const dm = mem();
  dm.add('Device.DSLite.InterfaceSetting.', 'system');
  const events: ChangeEvent[] = [];
  dm.onChange((e) => events.push(e));
  const t: [string, string, string, string][] = [
    // path, value, origin, expected kind
    ['Device.DSLite.InterfaceSetting.1.Status', 'Enabled', 'cwmp', 'NotWritable'],
    ['Device.DSLite.InterfaceSetting.1.Status', 'Enabled', 'system', 'ok'],
    ['Device.DSLite.InterfaceSettingNumberOfEntries', '5', 'system', 'NotWritable'],
    ['Device.DSLite.Enable', 'maybe', 'cli', 'InvalidValue'],
    ['Device.DSLite.Enable', '1', 'cli', 'ok'],
    ['Device.DSLite.InterfaceSetting.2.Enable', 'true', 'cli', 'InvalidPath'],
    ['Device.DSLite.InterfaceSetting.*.Enable', 'true', 'cli', 'InvalidArgument'],
    ['Device.DSLite.InterfaceSetting.1.EndpointAddress', '2001:DB8:0::FF:1', 'usp', 'ok'],
  ];
  for (const [path, value, origin, want] of t) assert.equal(kindOf(() => dm.set({ [path]: value }, origin as 'cli')), want, `${path}=${value} by ${origin}`);
  assert.equal(dm.getValue('Device.DSLite.Enable'), 'true');
  assert.equal(dm.getValue('Device.DSLite.InterfaceSetting.1.EndpointAddress'), '2001:db8::ff:1');
  assert.deepEqual(events.map((e) => [e.origin, e.changes.map((c) => `${c.path}:${c.old}->${c.value}`)]), [
    ['system', ['Device.DSLite.InterfaceSetting.1.Status:Disabled->Enabled']],
    ['cli', ['Device.DSLite.Enable:false->true']],
    ['usp', ['Device.DSLite.InterfaceSetting.1.EndpointAddress:->2001:db8::ff:1']],
  ]);
});

test('tables: add/delete rights, maxEntries, unique keys, NumberOfEntries, Alias defaults', () => {
  const dm = mem();
  assert.equal(kindOf(() => dm.add('Device.DSLite.InterfaceSetting.', 'cwmp')), 'NotCreatable'); // readOnly table
  assert.equal(kindOf(() => dm.add('Device.DSLite.', 'cwmp')), 'NotCreatable'); // not a table
  const a = dm.add('Device.NAT.InterfaceSetting.', 'cwmp');
  const b = dm.add('Device.NAT.InterfaceSetting.', 'cwmp', { Enable: 'true', Alias: 'wan-nat' });
  assert.deepEqual([a.path, b.path], ['Device.NAT.InterfaceSetting.1.', 'Device.NAT.InterfaceSetting.2.']);
  assert.equal(dm.getValue('Device.NAT.InterfaceSetting.1.Alias'), 'cpe-1');
  assert.equal(dm.getValue('Device.NAT.InterfaceSetting.2.Alias'), 'wan-nat');
  assert.equal(dm.getValue('Device.NAT.InterfaceSettingNumberOfEntries'), '2');
  assert.equal(kindOf(() => dm.set({ 'Device.NAT.InterfaceSetting.1.Alias': 'wan-nat' }, 'cwmp')), 'UniqueKeyConflict');
  assert.equal(kindOf(() => dm.add('Device.NAT.InterfaceSetting.', 'cwmp', { Alias: 'cpe-1' })), 'UniqueKeyConflict');
  assert.equal(kindOf(() => dm.add('Device.NAT.InterfaceSetting.', 'cwmp', { Status: 'Enabled' })), 'NotWritable');
  assert.equal(kindOf(() => dm.delete('Device.DSLite.', 'cwmp')), 'NotCreatable');
  dm.delete('Device.NAT.InterfaceSetting.1.', 'cwmp');
  assert.equal(dm.getValue('Device.NAT.InterfaceSettingNumberOfEntries'), '1');
  assert.equal(kindOf(() => dm.getValue('Device.NAT.InterfaceSetting.1.Enable')), 'InvalidPath');
  // History has maxEntries 64 (vendor schema).
  for (let i = 0; i < 64; i++) dm.add('Device.X_TWINSTACK-ORG_Failover.History.', 'system');
  assert.equal(kindOf(() => dm.add('Device.X_TWINSTACK-ORG_Failover.History.', 'system')), 'ResourcesExceeded');
  // Nested tables go with their parent.
  const ip = dm.add('Device.IP.Interface.', 'system');
  dm.add(`${ip.path}IPv4Address.`, 'system', { IPAddress: '192.0.2.1', SubnetMask: '255.255.255.0' });
  assert.equal(dm.getValue(`${ip.path}IPv4AddressNumberOfEntries`), '1');
  dm.delete(ip.path, 'system');
  assert.deepEqual(dm.get('Device.IP.Interface.*.IPv4Address.*.'), []);
});

test('instance numbers are never reused, across delete and restart', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ts-dm-'));
  try {
    const file = join(dir, 'db.sqlite');
    let dm = new DataModel({ file });
    const t = 'Device.DNS.Client.Server.';
    const steps: [string, string][] = [];
    let k = 0;
    const add = () => dm.add(t, 'cwmp', { DNSServer: `2001:db8::${(++k).toString(16)}` }).path;
    steps.push(['add', add()], ['add', add()], ['add', add()]);
    dm.delete(`${t}3.`, 'cwmp');
    dm.delete(`${t}2.`, 'cwmp');
    steps.push(['add', add()]);
    dm.close();
    dm = new DataModel({ file });
    assert.deepEqual(dm.instances(t), [`${t}1.`, `${t}4.`]);
    steps.push(['add after restart', add()]);
    dm.delete(`${t}5.`, 'cwmp');
    dm.close();
    dm = new DataModel({ file });
    steps.push(['add after delete+restart', add()]);
    assert.deepEqual(steps.map((s) => s[1]), [`${t}1.`, `${t}2.`, `${t}3.`, `${t}4.`, `${t}5.`, `${t}6.`]);
    assert.equal(dm.getValue(`${t}4.DNSServer`), '2001:db8::4');
    assert.equal(dm.integrityCheck(), 'ok');
    dm.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('search expressions, wildcards, aliases and reference following', () => {
  const dm = mem();
  const mk = (v: Record<string, string>) => dm.add('Device.IP.Interface.', 'system', v).path;
  mk({ Alias: 'lan', Name: 'br-lan', Enable: 'true', Type: 'Normal', MaxMTUSize: '1500' });
  mk({ Alias: 'wan', Name: 'eth0', Enable: 'true', Type: 'Normal', MaxMTUSize: '1500' });
  mk({ Alias: 'dslite', Name: 'b4tun', Enable: 'false', Type: 'Tunnel', MaxMTUSize: '1460' });
  dm.add('Device.NAT.InterfaceSetting.', 'system', { Interface: 'Device.IP.Interface.2' });
  const names = (p: string) => dm.get(p).map((v) => v.value);
  const t: [string, string[]][] = [
    ['Device.IP.Interface.*.Name', ['br-lan', 'eth0', 'b4tun']],
    ['Device.IP.Interface.[Type=="Tunnel"].Name', ['b4tun']],
    ['Device.IP.Interface.[Type=="Normal"&&Enable==true].Name', ['br-lan', 'eth0']],
    ['Device.IP.Interface.[MaxMTUSize<1500].Name', ['b4tun']],
    ['Device.IP.Interface.[MaxMTUSize>=1500].Name', ['br-lan', 'eth0']],
    ['Device.IP.Interface.[MaxMTUSize!=1500].Name', ['b4tun']],
    ['Device.IP.Interface.[MaxMTUSize>1460&&Name!="eth0"].Name', ['br-lan']],
    ['Device.IP.Interface.[MaxMTUSize<=1460].Name', ['b4tun']],
    ['Device.IP.Interface.[Name=="none"].Name', []],
    ['Device.IP.Interface.[wan].Name', ['eth0']],
    ['Device.IP.Interface.[Stats.BytesSent==0].Name', ['br-lan', 'eth0', 'b4tun']],
    ['Device.NAT.InterfaceSetting.1.Interface+.Name', ['eth0']],
    ['Device.IP.Interface.7.Name', []],
  ];
  for (const [p, want] of t) assert.deepEqual(names(p), want, p);
  assert.equal(kindOf(() => dm.get('Device.IP.Interface.[NoSuch==1].Name')), 'InvalidPath');
  assert.equal(kindOf(() => dm.get('Device.IP.Nope.')), 'InvalidPath');
  assert.equal(kindOf(() => dm.get('Device.IP.Interface.1.Name.')), 'InvalidPath');
});

test('protocol views, secured parameters and names', () => {
  const dm = mem();
  dm.set({ 'Device.ManagementServer.Password': 's3cret', 'Device.ManagementServer.Username': 'cpe' }, 'cwmp');
  assert.equal(dm.getValue('Device.ManagementServer.Password'), '');
  assert.equal(dm.get('Device.ManagementServer.').find((v) => v.path.endsWith('.Password'))!.value, '');
  assert.equal(dm.getSecret('Device.ManagementServer.Password'), 's3cret');
  assert.equal(kindOf(() => dm.get('Device.LocalAgent.', { protocol: 'cwmp' })), 'InvalidPath');
  assert.ok(dm.get('Device.LocalAgent.', { protocol: 'usp' }).length > 0);
  assert.ok(!dm.names('Device.', true, 'cwmp').some((n) => n.path.startsWith('Device.LocalAgent.')));
  assert.deepEqual(dm.names('Device.DSLite.', true).map((n) => [n.path, n.writable, n.kind]), [
    ['Device.DSLite.Enable', true, 'param'],
    ['Device.DSLite.InterfaceSettingNumberOfEntries', false, 'param'],
    ['Device.DSLite.InterfaceSetting.', false, 'table'],
  ]);
  dm.add('Device.DSLite.InterfaceSetting.', 'system');
  const all = dm.names('Device.DSLite.', false).map((n) => n.path);
  assert.ok(all.includes('Device.DSLite.') && all.includes('Device.DSLite.InterfaceSetting.1.') && all.includes('Device.DSLite.InterfaceSetting.1.EndpointName'));
  assert.deepEqual(dm.get('Device.DSLite.', { maxDepth: 0 }).map((v) => v.path), ['Device.DSLite.Enable', 'Device.DSLite.InterfaceSettingNumberOfEntries']);
});

test('handlers: validate vetoes, apply after commit, read gives one snapshot per object', async () => {
  const dm = mem();
  dm.add('Device.DSLite.InterfaceSetting.', 'system');
  let reads = 0;
  const applied: string[] = [];
  const d = dm.attach('Device.DSLite.InterfaceSetting.{i}.', {
    validate(ctx) {
      if (ctx.value('EndpointAssignmentPrecedence') === 'Static' && ctx.value('EndpointName') === '' && ctx.value('EndpointAddress') === '')
        throw new DmError('Rejected', 'Static needs EndpointName or EndpointAddress', [], `${ctx.path}EndpointAssignmentPrecedence`);
    },
    apply(ev) { applied.push(`${ev.path}:${[...ev.changed.keys()].join(',')}`); },
    read() { reads++; return { Status: 'Enabled', EndpointAddressInUse: '2001:db8:ff::1' }; },
  });
  assert.equal(kindOf(() => dm.set({ 'Device.DSLite.InterfaceSetting.1.EndpointAssignmentPrecedence': 'Static' }, 'cwmp')), 'Rejected');
  dm.set({ 'Device.DSLite.InterfaceSetting.1.EndpointAssignmentPrecedence': 'Static', 'Device.DSLite.InterfaceSetting.1.EndpointName': 'aftr.example.net' }, 'cwmp');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(applied, ['Device.DSLite.InterfaceSetting.1.:EndpointAssignmentPrecedence,EndpointName']);
  reads = 0;
  const got = dm.get('Device.DSLite.InterfaceSetting.1.');
  assert.equal(reads, 1);
  assert.equal(got.find((v) => v.path.endsWith('.Status'))!.value, 'Enabled');
  assert.equal(got.find((v) => v.path.endsWith('.EndpointAddressInUse'))!.value, '2001:db8:ff::1');
  d.dispose();
  assert.equal(dm.getValue('Device.DSLite.InterfaceSetting.1.Status'), 'Disabled');
});

test('validate sees the whole transaction: other objects\' pending values (valueAt) and a table\'s rows after it (rowsAt)', () => {
  const dm = mem();
  dm.add('Device.DSLite.InterfaceSetting.', 'system');
  dm.add('Device.DSLite.InterfaceSetting.', 'system');
  const seen: { dslite: string; rows: string[]; gone: string }[] = [];
  const d = dm.attach('Device.DSLite.InterfaceSetting.{i}.', {
    validate(ctx) {
      seen.push({ dslite: ctx.valueAt('Device.DSLite.Enable'), rows: ctx.rowsAt('Device.DSLite.InterfaceSetting.'), gone: ctx.valueAt('Device.DSLite.InterfaceSetting.2.Alias') });
    },
  });
  dm.commit([
    { op: 'set', path: 'Device.DSLite.Enable', value: 'true' },
    { op: 'set', path: 'Device.DSLite.InterfaceSetting.1.Enable', value: 'true' },
    { op: 'delete', path: 'Device.DSLite.InterfaceSetting.2.' },
    { op: 'add', table: 'Device.DSLite.InterfaceSetting.' },
  ], 'system'); // the gateway's own rows: managers may not add or delete them
  d.dispose();
  // Validators run per touched row (1, 2 deleted, 3 added); each sees the same after-state.
  assert.ok(seen.length >= 1);
  for (const s of seen) {
    assert.equal(s.dslite, 'true', 'Device.DSLite.Enable as the batch leaves it, not as committed (false)');
    assert.deepEqual(s.rows, ['Device.DSLite.InterfaceSetting.1.', 'Device.DSLite.InterfaceSetting.3.']);
    assert.equal(s.gone, '', 'a deleted row\'s parameters read empty');
  }
});

test('attributes: defaults from activeNotify, persisted, all-or-nothing', () => {
  const dm = mem();
  assert.deepEqual(dm.getAttributes('Device.X_TWINSTACK-ORG_Failover.Mode').map((a) => a.notification), [2]); // forceDefaultEnabled
  assert.deepEqual(dm.getAttributes('Device.DSLite.Enable').map((a) => a.notification), [0]);
  dm.setAttributes([{ path: 'Device.DSLite.', notification: 1, accessList: ['Subscriber'] }]);
  assert.deepEqual(dm.getAttributes('Device.DSLite.').map((a) => [a.path, a.notification, a.accessList.join()]), [
    ['Device.DSLite.Enable', 1, 'Subscriber'], ['Device.DSLite.InterfaceSettingNumberOfEntries', 1, 'Subscriber']]);
  assert.equal(kindOf(() => dm.setAttributes([{ path: 'Device.DSLite.Enable', notification: 0 }, { path: 'Device.ManagementServer.ParameterKey', notification: 2 }])), 'NotificationRejected');
  assert.equal(dm.getAttributes('Device.DSLite.Enable')[0].notification, 1);
  assert.equal(kindOf(() => dm.setAttributes([{ path: 'Device.DSLite.Enable', notification: 3 }])), 'InvalidArgument');
  assert.equal(kindOf(() => dm.setAttributes([{ path: 'Device.DSLite.Enable', accessList: ['Everyone'] }])), 'InvalidArgument');
});

test('commands: input checked against the schema, unsupported without a handler', async () => {
  const dm = mem();
  await assert.rejects(dm.operate('Device.Reboot()', {}, 'usp'), (e: DmError) => e.kind === 'NotSupported');
  dm.registerCommand('Device.X_TWINSTACK-ORG_Failover.ForceSwitch()', ({ input }) => ({ Result: `to ${input.Mode}` }));
  assert.deepEqual(await dm.operate('Device.X_TWINSTACK-ORG_Failover.ForceSwitch()', { Mode: 'DualStack' }, 'usp'),
    [{ path: 'Device.X_TWINSTACK-ORG_Failover.ForceSwitch()', output: { Result: 'to DualStack' } }]);
  await assert.rejects(dm.operate('Device.X_TWINSTACK-ORG_Failover.ForceSwitch()', { Mode: 'Sideways' }, 'usp'), (e: DmError) => e.kind === 'InvalidValue');
  await assert.rejects(dm.operate('Device.X_TWINSTACK-ORG_Failover.ForceSwitch()', {}, 'usp'), (e: DmError) => e.kind === 'InvalidArgument');
  await assert.rejects(dm.operate('Device.NoSuch()', {}, 'usp'), (e: DmError) => e.kind === 'InvalidPath');
});

test('state: private key-value space persists', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ts-dm-'));
  try {
    let dm = new DataModel({ file: join(dir, 'db') });
    dm.state('cwmp').set('pending', '["0 BOOTSTRAP"]');
    dm.state('snmp').set('engineID', '80001f88');
    dm.close();
    dm = new DataModel({ file: join(dir, 'db') });
    assert.equal(dm.state('cwmp').get('pending'), '["0 BOOTSTRAP"]');
    assert.deepEqual(dm.state('snmp').entries(), [['engineID', '80001f88']]);
    dm.state('cwmp').delete('pending');
    assert.equal(dm.state('cwmp').get('pending'), undefined);
    dm.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('commit participants: their state writes join the same transaction, and failed batches never reach them', () => {
  const dm = mem();
  const seen: string[] = [];
  dm.onCommitting((ev, state) => {
    const st = state('journal');
    const n = Number(st.get('n') ?? '0') + 1;
    st.set('n', String(n));
    st.set(`change${n}`, ev.changes.map((c) => `${c.path}=${c.value}`).join());
    seen.push(String(n));
  });
  dm.set({ 'Device.DSLite.Enable': 'true' }, 'cli');
  assert.equal(kindOf(() => dm.set({ 'Device.DSLite.Enable': 'maybe' }, 'cli')), 'InvalidValue');
  dm.add('Device.NAT.InterfaceSetting.', 'cli');
  assert.deepEqual(seen, ['1', '2']);
  assert.deepEqual(dm.state('journal').entries().sort(), [
    ['change1', 'Device.DSLite.Enable=true'],
    ['change2', 'Device.NAT.InterfaceSettingNumberOfEntries=1'],
    ['n', '2'],
  ]);
});

test('non-functional unique keys do not change once assigned, for a USP Controller (TR-369 R-KEY.1)', () => {
  const dm = mem();
  const sub = dm.add('Device.LocalAgent.Subscription.', 'system', { ID: 'mine', Recipient: 'Device.LocalAgent.Controller.1' }).path;
  const anon = dm.add('Device.LocalAgent.Subscription.', 'system', { Recipient: 'Device.LocalAgent.Controller.1' }).path;
  const mqtt = dm.add('Device.MQTT.Client.', 'system', { Name: 'broker' }).path;
  const nat = dm.add('Device.NAT.InterfaceSetting.', 'system').path;
  // R-ADD.5: keys the creator left out get the agent's "cpe-<n>".
  assert.deepEqual([dm.getValue(`${anon}ID`), dm.getValue(`${nat}Alias`)], [`cpe-${anon.match(/(\d+)\.$/)![1]}`, `cpe-${nat.match(/(\d+)\.$/)![1]}`]);
  const t: [string, string, string, string][] = [
    // path, value, origin, expected kind
    [`${sub}ID`, 'other', 'usp', 'NotWritable'],
    [`${sub}ID`, 'mine', 'usp', 'ok'], // the same value is no change
    [`${mqtt}Name`, 'renamed', 'usp', 'NotWritable'],
    [`${mqtt}Name`, 'renamed', 'web', 'ok'], // the owner at the local page: R-KEY.1 binds Controllers
    [`${anon}ID`, 'named', 'usp', 'ok'], // the agent's cpe- placeholder is replaced once...
    [`${anon}ID`, 'renamed', 'usp', 'NotWritable'], // ...and then kept
    [`${nat}Alias`, 'uplink', 'usp', 'ok'],
    [`${nat}Alias`, 'downlink', 'usp', 'NotWritable'],
    [`${nat}Alias`, 'downlink', 'cwmp', 'ok'], // an ACS may rename an Alias (TR-069 Appendix II)
    [`${nat}Enable`, 'true', 'usp', 'ok'], // not a key: unaffected
  ];
  for (const [path, value, origin, want] of t) assert.equal(kindOf(() => dm.set({ [path]: value }, origin as 'cli')), want, `${path}=${value} by ${origin}`);
  assert.deepEqual([dm.getValue(`${sub}ID`), dm.getValue(`${anon}ID`), dm.getValue(`${nat}Alias`), dm.getValue(`${mqtt}Name`)], ['mine', 'named', 'downlink', 'renamed']);
});

test('add with agent-owned values: one transaction, unique keys checked with them, failures name their change', () => {
  const dm = mem();
  const T = 'Device.LocalAgent.Subscription.';
  const owned = { Recipient: 'Device.LocalAgent.Controller.1', CreationDate: '2026-01-02T03:04:05Z' };
  const events: ChangeEvent[] = [];
  dm.onChange((e) => events.push(e));
  const first = dm.commit([{ op: 'add', table: T, values: { ID: 'x' }, agentValues: owned }], 'usp', 'usp').added[0].path;
  assert.deepEqual([dm.getValue(`${first}Recipient`), dm.getValue(`${first}CreationDate`)], [owned.Recipient, owned.CreationDate]);
  assert.equal(events.length, 1, 'one commit, one event: the row never existed without its Recipient');
  // A read-only parameter stays read-only for the caller, whatever the agent writes beside it.
  assert.equal(kindOf(() => dm.commit([{ op: 'add', table: T, values: { Recipient: 'Device.LocalAgent.Controller.2' } }], 'usp', 'usp')), 'NotWritable');
  // (Recipient, ID) is a unique key: the duplicate is refused before anything is written, named by the ID.
  let err: DmError | undefined;
  try {
    dm.commit([{ op: 'add', table: T, values: { ID: 'y' }, agentValues: owned }, { op: 'add', table: T, values: { ID: 'x' }, agentValues: owned }], 'usp', 'usp');
  } catch (e) { err = e as DmError; }
  assert.deepEqual(err?.details.map((d) => [d.kind, d.path.replace(/\d+\.ID$/, 'n.ID'), d.change]), [['UniqueKeyConflict', `${T}n.ID`, 1]]);
  assert.deepEqual(dm.instances(T), [first]);
  assert.equal(events.length, 1);
});

test('Alias values (TR-181 Alias data type): never empty, start with a letter, at most 64 characters', () => {
  const dm = mem();
  const T = 'Device.NAT.InterfaceSetting.';
  const t: [string, string][] = [['88InvalidAlias', 'InvalidValue'], ['', 'InvalidValue'], ['-a', 'InvalidValue'], ['a'.repeat(65), 'InvalidValue'],
    ['a'.repeat(64), 'ok'], ['Wan_1-x', 'ok']];
  for (const [alias, want] of t) assert.equal(kindOf(() => dm.add(T, 'cwmp', { Alias: alias })), want, JSON.stringify(alias));
  const p = dm.add(T, 'cli').path;
  assert.equal(kindOf(() => dm.set({ [`${p}Alias`]: '9' }, 'cli')), 'InvalidValue');
});

test('checkCommand: every check of operate, nothing run (TR-369 R-OPR.5)', async () => {
  const dm = mem();
  let runs = 0;
  dm.registerCommand('Device.X_TWINSTACK-ORG_Failover.ForceSwitch()', () => { runs++; return {}; });
  const kindOfCheck = (input: Record<string, string>) => kindOf(() => dm.checkCommand('Device.X_TWINSTACK-ORG_Failover.ForceSwitch()', input));
  assert.equal(kindOfCheck({}), 'InvalidArgument'); // Mode is mandatory
  assert.equal(kindOfCheck({ Mode: 'Sideways' }), 'InvalidValue');
  assert.equal(kindOfCheck({ Mode: 'DualStack' }), 'ok');
  assert.equal(kindOf(() => dm.checkCommand('Device.Reboot()', {})), 'NotSupported');
  assert.equal(runs, 0);
});
