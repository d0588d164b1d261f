// The committed schema is exactly what the generator derives from the Broadband Forum XML (tests may read
// ../shared; the runtime never does), and it carries what the agent relies on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Schema } from '../../src/datamodel/index.ts';

const root = join(import.meta.dirname, '../..');

test('schema/tr181.json is the generator\'s output from ../shared/specs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ts-schema-'));
  try {
    const out = join(dir, 'tr181.json');
    execFileSync(process.execPath, ['--import', 'tsx', join(root, 'tools/gen-schema.ts')], { env: { ...process.env, TWINSTACK_SCHEMA_OUT: out }, stdio: 'pipe' });
    assert.equal(readFileSync(out, 'utf8'), readFileSync(join(root, 'schema/tr181.json'), 'utf8'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('schema facts the agent relies on, as the BBF XML defines them', () => {
  const s = Schema.load();
  const p = (path: string) => s.param(path)!.def;
  const t: [string, Record<string, unknown>][] = [
    ['Device.DSLite.Enable', { type: 'boolean', access: 'readWrite' }],
    ['Device.DSLite.InterfaceSetting.{i}.EndpointAssignmentPrecedence', { enums: ['DHCPv6', 'Static'], default: 'DHCPv6' }],
    ['Device.DSLite.InterfaceSetting.{i}.EndpointAddressTypePrecedence', { enums: ['FQDN', 'IPv6Address'] }],
    ['Device.DSLite.InterfaceSetting.{i}.EndpointAddress', { dataType: 'IPv6Address', maxLength: 45 }],
    ['Device.DSLite.InterfaceSetting.{i}.Alias', { access: 'readWrite', maxLength: 64, dataType: 'Alias' }],
    ['Device.ManagementServer.Password', { secured: true }],
    ['Device.ManagementServer.ConnectionRequestPassword', { secured: true }],
    ['Device.ManagementServer.ParameterKey', { access: 'readOnly', activeNotify: 'canDeny' }],
    ['Device.IP.Interface.{i}.Stats.BytesSent', { type: 'unsignedLong', activeNotify: 'canDeny' }],
    ['Device.X_TWINSTACK-ORG_Failover.Mode', { enums: ['DSLite', 'LW4o6', 'DualStack', 'None', 'NAT46', 'Teredo'], activeNotify: 'forceDefaultEnabled' }],
    // TR-181 2.19.1 ManagementServer.InformParameter.{i}. (what an ACS adds to every Inform).
    ['Device.ManagementServer.InformParameter.{i}.Enable', { type: 'boolean', access: 'readWrite', default: 'false' }],
    ['Device.ManagementServer.InformParameter.{i}.ParameterName', { type: 'string', access: 'readWrite', maxLength: 256, default: '' }],
    // The XML's bracketed empty list ("[]", TR-106 §3.2.3) is served as the empty comma-separated list.
    ['Device.ManagementServer.InformParameter.{i}.EventList', { type: 'string', access: 'readWrite', list: {}, default: '' }],
    ['Device.ManagementServer.InformParameter.{i}.Alias', { access: 'readWrite', maxLength: 64 }],
    ['Device.ManagementServer.ManageableDevice.{i}.ManufacturerOUI', { access: 'readOnly', maxLength: 6 }],
  ];
  for (const [path, want] of t) for (const [k, v] of Object.entries(want)) assert.deepEqual((p(path) as unknown as Record<string, unknown>)[k], v, `${path} ${k}`);
  assert.equal(s.object('Device.DSLite.InterfaceSetting.{i}.')!.writable, false);
  assert.equal(s.object('Device.NAT.InterfaceSetting.{i}.')!.writable, true);
  assert.deepEqual(s.object('Device.LocalAgent.')!.protocols, ['usp']);
  assert.deepEqual(s.object('Device.LocalAgent.Subscription.{i}.')!.protocols, ['usp']);
  assert.ok(s.object('Device.')!.commands.has('Reboot()') && s.object('Device.')!.events.has('Boot!'));
  assert.ok(s.object('Device.IP.Diagnostics.')!.commands.get('IPPing()')!.async);
  assert.equal(s.object('Device.DSLite.')!.counters.get('InterfaceSettingNumberOfEntries')!.path, 'Device.DSLite.InterfaceSetting.{i}.');
  const ip = s.object('Device.ManagementServer.InformParameter.{i}.')!;
  assert.equal(ip.writable, true);
  assert.deepEqual(ip.uniqueKeys, [{ functional: false, params: ['Alias'] }, { functional: true, params: ['ParameterName'] }]);
  assert.equal(s.object('Device.ManagementServer.')!.counters.get('InformParameterNumberOfEntries'), ip);
  assert.equal(s.object('Device.ManagementServer.ManageableDevice.{i}.')!.writable, false);
  assert.equal(s.object('Device.ManagementServer.')!.counters.get('ManageableDeviceNumberOfEntries')!.path, 'Device.ManagementServer.ManageableDevice.{i}.');
  // Counters of tables outside the subset are left out with their tables.
  assert.equal(s.param('Device.InterfaceStackNumberOfEntries'), undefined);
});
