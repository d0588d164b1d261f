// Pure functions of the USP front-end: the one error table, permission targets, ping parsing, retry backoff.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DataModel, DmError, type DmErrorKind } from '../../src/datamodel/index.ts';
import { parsePing } from '../../src/usp/commands.ts';
import { codeOf, toUspError, UspError } from '../../src/usp/errors.ts';
import { retryDelayMs } from '../../src/usp/rows.ts';
import { permissionsOf, targetRegExp } from '../../src/usp/trust.ts';
import { seed } from '../../src/usp/index.ts';

test('DmError kinds map to TR-369 §10.4 codes', () => {
  const table: [DmErrorKind, number][] = [
    ['InvalidPath', 7026], ['InvalidValue', 7012], ['NotWritable', 7013], ['NotCreatable', 7019], ['UniqueKeyConflict', 7025],
    ['ResourcesExceeded', 7005], ['InvalidArgument', 7004], ['PermissionDenied', 7006], ['NotSupported', 7001],
    ['Rejected', 7007], ['NotificationRejected', 7002], ['CommandFailed', 7022], ['Internal', 7003],
  ];
  for (const [kind, code] of table) assert.equal(codeOf(kind), code, kind);
  assert.deepEqual(toUspError(new DmError('InvalidValue', 'bad')), { err_code: 7012, err_msg: 'bad' });
  assert.deepEqual(toUspError(new UspError(7016, 'gone')), { err_code: 7016, err_msg: 'gone' });
  assert.deepEqual(toUspError(new Error('secret detail')), { err_code: 7003, err_msg: 'internal error' });
});

test('permission targets', () => {
  const table: [string, string, boolean][] = [
    ['Device.', 'Device.IP.Interface.1.Enable', true],
    ['Device.LocalAgent.', 'Device.IP.Interface.1.Enable', false],
    ['Device.IP.Interface.*.', 'Device.IP.Interface.12.Enable', true],
    ['Device.IP.Interface.*.', 'Device.IP.Interface.', false],
    ['Device.IP.Interface.1.Enable', 'Device.IP.Interface.1.Enable', true],
    ['Device.IP.Interface.1.Enable', 'Device.IP.Interface.1.EnableX', false],
    ['Device.Reboot()', 'Device.Reboot()', true],
  ];
  for (const [target, path, want] of table) assert.equal(targetRegExp(target).test(path), want, `${target} ~ ${path}`);
});

test('factory roles: full access and read-only, higher Order overrides', () => {
  const dm = new DataModel({ file: ':memory:' });
  seed(dm, { endpointId: 'os::t' });
  const ctrl = dm.add('Device.LocalAgent.Controller.', 'system', { EndpointID: 'x', Enable: 'true', AssignedRole: 'Device.LocalAgent.ControllerTrust.Role.2' }, 'usp').path;
  const ro = permissionsOf(dm, ctrl);
  const table: [Parameters<typeof ro.can>, boolean][] = [
    [['Param', 'Device.DSLite.Enable', 'r'], true],
    [['Param', 'Device.DSLite.Enable', 'w'], false],
    [['Obj', 'Device.NAT.InterfaceSetting.', 'w'], false],
    [['Obj', 'Device.LocalAgent.Subscription.', 'w'], true],
    [['Param', 'Device.LocalAgent.Subscription.1.Enable', 'w'], true],
    [['CommandEvent', 'Device.Reboot()', 'x'], false],
    [['CommandEvent', 'Device.Boot!', 'n'], true],
  ];
  for (const [args, want] of table) assert.equal(ro.can(...args), want, args.join(' '));
  dm.set({ [`${ctrl}AssignedRole`]: 'Device.LocalAgent.ControllerTrust.Role.1' }, 'system', 'usp');
  assert.equal(permissionsOf(dm, ctrl).can('CommandEvent', 'Device.Reboot()', 'x'), true);
  assert.equal(permissionsOf(dm, undefined).can('Param', 'Device.DSLite.Enable', 'r'), false, 'untrusted: no role, no access');
  dm.close();
});

test('ping output parsing (iputils and busybox)', () => {
  const busybox = 'PING 127.0.0.1 (127.0.0.1): 56 data bytes\n64 bytes from 127.0.0.1: seq=0 ttl=64 time=0.121 ms\n64 bytes from 127.0.0.1: seq=1 ttl=64 time=2.069 ms\n\n--- 127.0.0.1 ping statistics ---\n2 packets transmitted, 2 packets received, 0% packet loss\n';
  const iputils = 'PING 192.0.2.1 (192.0.2.1) 56(84) bytes of data.\n\n--- 192.0.2.1 ping statistics ---\n3 packets transmitted, 0 received, 100% packet loss, time 2040ms\n';
  const table: [string, number, Record<string, string>][] = [
    [busybox, 2, { Status: 'Complete', IPAddressUsed: '127.0.0.1', SuccessCount: '2', FailureCount: '0', MinimumResponseTime: '0', MaximumResponseTime: '2', MaximumResponseTimeDetailed: '2069' }],
    [iputils, 3, { Status: 'Error_Other', IPAddressUsed: '192.0.2.1', SuccessCount: '0', FailureCount: '3' }],
  ];
  for (const [out, sent, want] of table) {
    const got = parsePing(out, sent);
    for (const [k, v] of Object.entries(want)) assert.equal(got[k], v, k);
  }
});

test('retry backoff stays inside m*k^(n-1) .. m*k^n seconds, capped', () => {
  const table: [number, number, number, number, number, number][] = [
    // attempt, m, k, max, lo ms, hi ms
    [1, 5, 2000, Infinity, 5000, 10000],
    [3, 5, 2000, Infinity, 20000, 40000],
    [10, 5, 2000, 30, 30000, 30000],
    [4, 1, 1000, Infinity, 1000, 1000],
  ];
  for (const [n, m, k, max, lo, hi] of table) {
    for (let i = 0; i < 20; i++) {
      const d = retryDelayMs(n, m, k, max);
      assert.ok(d >= lo && d <= hi, `attempt ${n}: ${d}`);
    }
  }
});
