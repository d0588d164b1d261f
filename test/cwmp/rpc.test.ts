// Every ACS-callable RPC and its faults (TR-069 A.3, fault codes 9000-9019), as one table run in one
// session: request -> expected response method or fault (with SetParameterValuesFault per parameter).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ScriptedAcs, arr, faultOf, names, pvs, text, valueMap, type CpeMsg } from './acs.ts';
import { startAgent } from './harness.ts';

const spa = (name: string, n: number) =>
  `<ParameterList soap-enc:arrayType="cwmp:SetParameterAttributesStruct[1]"><SetParameterAttributesStruct><Name>${name}</Name><NotificationChange>true</NotificationChange><Notification>${n}</Notification><AccessListChange>false</AccessListChange><AccessList soap-enc:arrayType="xsd:string[0]"></AccessList></SetParameterAttributesStruct></ParameterList>`;
const download = (fileType: string, url: string) =>
  `<CommandKey>dl</CommandKey><FileType>${fileType}</FileType><URL>${url}</URL><Username></Username><Password></Password><FileSize>0</FileSize><TargetFileName>f.bin</TargetFileName><DelaySeconds>0</DelaySeconds><SuccessURL></SuccessURL><FailureURL></FailureURL>`;

type Check = (m: CpeMsg) => void;
const fault = (code: number, params?: Record<string, number>): Check => (m) => {
  assert.equal(m.method, 'Fault');
  const f = faultOf(m);
  assert.equal(text(f.FaultCode), String(code), text(f.FaultString));
  if (params) {
    const got = Object.fromEntries(arr(f.SetParameterValuesFault).map((p: any) => [text(p.ParameterName), Number(text(p.FaultCode))]));
    assert.deepEqual(got, params);
  }
};
const ok = (method: string, more?: Check): Check => (m) => {
  assert.equal(m.method, method, m.method === 'Fault' ? text(faultOf(m).FaultString) : '');
  more?.(m);
};

const CASES: [string, string, string, Check][] = [
  ['GetRPCMethods lists every method', 'GetRPCMethods', '', ok('GetRPCMethodsResponse', (m) => assert.equal(arr(m.body.MethodList.string).length, 12))],
  ['GPN partial path, NextLevel false, includes the object itself', 'GetParameterNames', '<ParameterPath>Device.DeviceInfo.</ParameterPath><NextLevel>false</NextLevel>',
    ok('GetParameterNamesResponse', (m) => {
      const list = arr(m.body.ParameterList.ParameterInfoStruct).map((p: any) => [text(p.Name), text(p.Writable)]);
      assert.deepEqual(list[0], ['Device.DeviceInfo.', '0']);
      assert.ok(list.some(([n, w]) => n === 'Device.DeviceInfo.ProvisioningCode' && w === '1'));
    })],
  ['GPN of a parameter with NextLevel true', 'GetParameterNames', '<ParameterPath>Device.ManagementServer.URL</ParameterPath><NextLevel>true</NextLevel>', fault(9003)],
  ['GPN of an unknown object', 'GetParameterNames', '<ParameterPath>Device.Nope.</ParameterPath><NextLevel>true</NextLevel>', fault(9005)],
  ['GPV partial path; credentials read ""', 'GetParameterValues', names(['Device.ManagementServer.']),
    ok('GetParameterValuesResponse', (m) => {
      const v = valueMap(m.body.ParameterList);
      assert.equal(v.get('Device.ManagementServer.Password'), '');
      assert.equal(v.get('Device.ManagementServer.ConnectionRequestPassword'), '');
      assert.equal(v.get('Device.ManagementServer.ConnectionRequestUsername'), 'cr-user');
    })],
  ['GPV of a missing instance', 'GetParameterValues', names(['Device.DNS.Client.Server.99.']), fault(9005)],
  ['GPV of a USP-only object', 'GetParameterValues', names(['Device.LocalAgent.']), fault(9005)],
  ['GPV with a USP search path', 'GetParameterValues', names(['Device.IP.Interface.[Enable==true].']), fault(9005)],
  ['GPV with a wildcard', 'GetParameterValues', names(['Device.IP.Interface.*.Enable']), fault(9005)],
  ['SPV with bad items changes nothing and names each one', 'SetParameterValues', pvs([
    ['Device.DeviceInfo.ProvisioningCode', 'never', 'string'],
    ['Device.DeviceInfo.Manufacturer', 'x', 'string'],
    ['Device.ManagementServer.PeriodicInformInterval', 'abc', 'unsignedInt'],
    ['Device.ManagementServer.PeriodicInformEnable', '5', 'int'],
    ['Device.ManagementServer.NoSuch', '1', 'string'],
    ['Device.ManagementServer.DefaultActiveNotificationThrottle', '-1', 'unsignedInt'],
  ]) + '<ParameterKey>bad</ParameterKey>', fault(9003, {
    'Device.DeviceInfo.Manufacturer': 9008, 'Device.ManagementServer.PeriodicInformInterval': 9007,
    'Device.ManagementServer.PeriodicInformEnable': 9006, 'Device.ManagementServer.NoSuch': 9005,
    'Device.ManagementServer.DefaultActiveNotificationThrottle': 9007,
  })],
  ['SPV of ParameterKey itself (read-only)', 'SetParameterValues', pvs([['Device.ManagementServer.ParameterKey', 'x', 'string']]) + '<ParameterKey>x</ParameterKey>',
    fault(9003, { 'Device.ManagementServer.ParameterKey': 9008 })],
  ['SPV with a too long ParameterKey', 'SetParameterValues', pvs([['Device.DeviceInfo.ProvisioningCode', 'y', 'string']]) + `<ParameterKey>${'k'.repeat(40)}</ParameterKey>`, fault(9003)],
  ['SPV good, xsd:string accepted for a number', 'SetParameterValues', pvs([
    ['Device.DeviceInfo.ProvisioningCode', 'P1', 'string'], ['Device.ManagementServer.PeriodicInformInterval', '3600', 'string'],
  ]) + '<ParameterKey>k1</ParameterKey>', ok('SetParameterValuesResponse', (m) => assert.equal(text(m.body.Status), '0'))],
  ['GPV sees the set and the ParameterKey', 'GetParameterValues', names(['Device.DeviceInfo.ProvisioningCode', 'Device.ManagementServer.ParameterKey']),
    ok('GetParameterValuesResponse', (m) => assert.deepEqual([...valueMap(m.body.ParameterList).values()], ['P1', 'k1']))],
  ['SPA active on a canDeny parameter', 'SetParameterAttributes', spa('Device.DeviceInfo.UpTime', 2), fault(9009)],
  ['SPA off on a forceEnabled parameter', 'SetParameterAttributes', spa('Device.DeviceInfo.SoftwareVersion', 0), fault(9009)],
  ['SPA lightweight notification', 'SetParameterAttributes', spa('Device.DeviceInfo.HostName', 3), fault(9003)],
  ['SPA passive', 'SetParameterAttributes', spa('Device.ManagementServer.PeriodicInformInterval', 1), ok('SetParameterAttributesResponse')],
  ['GPA reads passive and forced attributes', 'GetParameterAttributes', names(['Device.ManagementServer.PeriodicInformInterval', 'Device.DeviceInfo.SoftwareVersion']),
    ok('GetParameterAttributesResponse', (m) => assert.deepEqual(arr(m.body.ParameterList.ParameterAttributeStruct).map((a: any) => text(a.Notification)), ['1', '2']))],
  ['AddObject on a single-instance object', 'AddObject', '<ObjectName>Device.DeviceInfo.</ObjectName><ParameterKey>a</ParameterKey>', fault(9005)],
  ['AddObject on a read-only table', 'AddObject', '<ObjectName>Device.DSLite.InterfaceSetting.</ObjectName><ParameterKey>a</ParameterKey>', fault(9005)],
  ['AddObject without the trailing dot', 'AddObject', '<ObjectName>Device.DNS.Client.Server</ObjectName><ParameterKey>a</ParameterKey>', fault(9005)],
  ['AddObject', 'AddObject', '<ObjectName>Device.DNS.Client.Server.</ObjectName><ParameterKey>k2</ParameterKey>',
    ok('AddObjectResponse', (m) => assert.equal(text(m.body.InstanceNumber), '1'))],
  ['DeleteObject', 'DeleteObject', '<ObjectName>Device.DNS.Client.Server.1.</ObjectName><ParameterKey>k3</ParameterKey>', ok('DeleteObjectResponse')],
  ['DeleteObject of a deleted instance', 'DeleteObject', '<ObjectName>Device.DNS.Client.Server.1.</ObjectName><ParameterKey>k4</ParameterKey>', fault(9005)],
  ['AddObject never reuses a number', 'AddObject', '<ObjectName>Device.DNS.Client.Server.</ObjectName><ParameterKey>k5</ParameterKey>',
    ok('AddObjectResponse', (m) => assert.equal(text(m.body.InstanceNumber), '2'))],
  ['ScheduleInform with DelaySeconds 0', 'ScheduleInform', '<DelaySeconds>0</DelaySeconds><CommandKey>s</CommandKey>', fault(9003)],
  ['Download over ftp', 'Download', download('1 Firmware Upgrade Image', 'ftp://192.0.2.1/fw.bin'), fault(9013)],
  ['Download of an unsupported file type', 'Download', download('2 Web Content', 'http://192.0.2.1/x'), fault(9003)],
  ['Download with credentials in the URL', 'Download', download('1 Firmware Upgrade Image', 'http://u:p@192.0.2.1/x'), fault(9003)],
  ['Unknown RPC', 'Frobnicate', '<Level>11</Level>', fault(9000)],
  ['RPC with a missing argument', 'GetParameterNames', '<ParameterPath>Device.</ParameterPath>', fault(9003)],
  ['RPC with a non-boolean NextLevel', 'GetParameterNames', '<ParameterPath>Device.</ParameterPath><NextLevel>maybe</NextLevel>', fault(9003)],
];

test('every RPC and its faults, in one session', async (t) => {
  const acs = await new ScriptedAcs().start();
  t.after(() => acs.stop());
  const results: CpeMsg[] = [];
  acs.onSession(async (s) => {
    for (const [, method, inner] of CASES) results.push(await s.call(method, inner));
  });
  const done = acs.nextSession();
  const agent = await startAgent(acs);
  t.after(() => agent.stop());
  await done;
  for (const [i, [name, , , check]] of CASES.entries()) {
    try {
      check(results[i]);
    } catch (e) {
      throw new Error(`${name}: ${(e as Error).message}`);
    }
  }
  // The bad SPV changed nothing; the ParameterKey follows the last successful change.
  assert.equal(agent.dm.getValue('Device.ManagementServer.ParameterKey'), 'k5');
  assert.equal(agent.dm.getValue('Device.DeviceInfo.ProvisioningCode'), 'P1');
  acs.validateAll();
});
