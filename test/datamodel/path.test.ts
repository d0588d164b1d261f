import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Path, DmError } from '../../src/datamodel/index.ts';

test('path grammar: valid paths round-trip and classify', () => {
  const table: [string, { partial: boolean; concrete: boolean; schema: string; kinds: string }][] = [
    ['Device.', { partial: true, concrete: true, schema: 'Device.', kinds: 'name' }],
    ['Device.DSLite.Enable', { partial: false, concrete: true, schema: 'Device.DSLite.Enable', kinds: 'name,name,name' }],
    ['Device.DSLite.InterfaceSetting.1.Enable', { partial: false, concrete: true, schema: 'Device.DSLite.InterfaceSetting.{i}.Enable', kinds: 'name,name,name,index,name' }],
    ['Device.DSLite.InterfaceSetting.{i}.', { partial: true, concrete: false, schema: 'Device.DSLite.InterfaceSetting.{i}.', kinds: 'name,name,name,placeholder' }],
    ['Device.IP.Interface.*.Status', { partial: false, concrete: false, schema: 'Device.IP.Interface.{i}.Status', kinds: 'name,name,name,wildcard,name' }],
    ['Device.IP.Interface.[cpe-wan].Enable', { partial: false, concrete: false, schema: 'Device.IP.Interface.{i}.Enable', kinds: 'name,name,name,alias,name' }],
    ['Device.IP.Interface.[Type=="Tunnel"&&Enable==true].Status', { partial: false, concrete: false, schema: 'Device.IP.Interface.{i}.Status', kinds: 'name,name,name,search,name' }],
    ['Device.IP.Interface.[Stats.BytesSent>=1000].', { partial: true, concrete: false, schema: 'Device.IP.Interface.{i}.', kinds: 'name,name,name,search' }],
    ['Device.IP.Interface.[IPv4Address=="192.0.2.1"].Name', { partial: false, concrete: false, schema: 'Device.IP.Interface.{i}.Name', kinds: 'name,name,name,search,name' }],
    ['Device.NAT.InterfaceSetting.1.Interface+.Name', { partial: false, concrete: false, schema: 'Device.NAT.InterfaceSetting.{i}.Interface.Name', kinds: 'name,name,name,index,ref,name' }],
    ['Device.Reboot()', { partial: false, concrete: true, schema: 'Device.Reboot()', kinds: 'name,name' }],
    ['Device.Boot!', { partial: false, concrete: true, schema: 'Device.Boot!', kinds: 'name,name' }],
    ['Device.X_TWINSTACK-ORG_Failover.Mode', { partial: false, concrete: true, schema: 'Device.X_TWINSTACK-ORG_Failover.Mode', kinds: 'name,name,name' }],
  ];
  for (const [text, want] of table) {
    const p = Path.parse(text);
    assert.equal(p.toString(), text, text);
    assert.equal(p.partial, want.partial, `${text} partial`);
    assert.equal(p.isConcrete, want.concrete, `${text} concrete`);
    assert.equal(p.schemaPath, want.schema, `${text} schema`);
    assert.equal(p.segments.map((s) => s.k).join(','), want.kinds, `${text} kinds`);
  }
});

test('path grammar: search terms are parsed into parameter, operator and literal', () => {
  const p = Path.parse('Device.IP.Interface.[Type=="Tunnel"&&Stats.BytesSent>10&&Name!="a.b"].Status');
  const seg = p.segments[3];
  assert.equal(seg.k, 'search');
  assert.deepEqual(seg.k === 'search' && seg.terms, [
    { param: ['Type'], op: '==', value: 'Tunnel' },
    { param: ['Stats', 'BytesSent'], op: '>', value: '10' },
    { param: ['Name'], op: '!=', value: 'a.b' },
  ]);
});

test('path grammar: bad paths are InvalidArgument errors', () => {
  const bad = ['Device..Enable', '.Device', 'Device.IP.Interface.0.Enable', 'Device.IP.Interface.01.', 'Device.IP.Interface.[Type=="Tunnel".Status',
    'Device.IP.Interface.[Type=="x"||Enable==true].', 'Device.IP.Interface.[Enable].x y', 'Device.Reboot().', 'Device.IP.Inter face', '1.Device', 'Device.IP.Interface.4294967296.'];
  for (const text of bad) {
    assert.throws(() => Path.parse(text), (e: unknown) => e instanceof DmError && e.kind === 'InvalidArgument', text);
  }
});

test('path values: parent, child, asObject, startsWith', () => {
  const p = Path.parse('Device.IP.Interface.2.Stats.BytesSent');
  assert.equal(p.parent().toString(), 'Device.IP.Interface.2.Stats.');
  assert.equal(p.parent().parent().child(3).toString(), 'Device.IP.Interface.2.3.');
  assert.equal(Path.parse('Device.IP.').child('Interface').toString(), 'Device.IP.Interface.');
  assert.ok(p.startsWith(Path.parse('Device.IP.')));
  assert.ok(!p.startsWith(Path.parse('Device.DSLite.')));
  assert.ok(Object.isFrozen(p));
  assert.equal(Path.parse('').toString(), '');
});
