// Device.DSLite.InterfaceSetting.{i} as TR-181 2.18 describes it (EndpointAssignmentPrecedence,
// EndpointAddressTypePrecedence, EndpointName, EndpointAddress, EndpointAddressInUse, Origin), on the simulated
// WAN of the embedded default: its DHCPv6 server sends AFTR-Name aftr.example.net (RFC 6334 option 64), its DNS
// resolves aftr.example.net to 2001:db8:ff::1 and aftr2.example.net to 2001:db8:ff::2.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { isDmError, type Origin } from '../../src/datamodel/index.ts';
import { staticEndpointName } from '../../src/dslite/model.ts';
import { FO, startAgent, until, type Agent } from '../failover/harness.ts';

const IS = 'Device.DSLite.InterfaceSetting.1.';
const v = (a: Agent, p: string) => a.dm.getValue(`${IS}${p}`);
/** The parameters the test looks at, as one record. */
const endpoint = (a: Agent) => Object.fromEntries(['EndpointAssignmentPrecedence', 'EndpointName', 'EndpointAddressInUse', 'Origin'].map((p) => [p, v(a, p)]));

/** Waits until the tunnel runs to `address` (EndpointAddressInUse) and returns the endpoint parameters. */
async function inUse(a: Agent, address: string) {
  await until(() => v(a, 'EndpointAddressInUse') === address && a.dm.getValue(`${FO}Mode`) === 'DSLite', 3000, `EndpointAddressInUse ${address}`);
  await a.handle.policy!.idle();
  return endpoint(a);
}

test('EndpointName shows the AFTR-Name DHCPv6 supplied while EndpointAssignmentPrecedence is DHCPv6', async (t) => {
  const a = await startAgent();
  t.after(() => a.stop());
  assert.deepEqual(await inUse(a, '2001:db8:ff::1'), {
    EndpointAssignmentPrecedence: 'DHCPv6', EndpointName: 'aftr.example.net', EndpointAddressInUse: '2001:db8:ff::1', Origin: 'DHCPv6',
  });
});

test('EndpointName is not writable unless EndpointAssignmentPrecedence is Static: NotWritable, nothing changes', async (t) => {
  const a = await startAgent();
  t.after(() => a.stop());
  await inUse(a, '2001:db8:ff::1');
  const writes: [Origin, Record<string, string>][] = [
    ['cli', { [`${IS}EndpointName`]: 'aftr2.example.net' }],
    ['usp', { [`${IS}EndpointName`]: 'aftr2.example.net' }],
    ['cwmp', { [`${IS}EndpointName`]: 'aftr2.example.net' }],
    ['snmp', { [`${IS}EndpointName`]: 'aftr2.example.net' }],
    ['web', { [`${IS}EndpointName`]: '' }],
    ['cli', { [`${IS}EndpointName`]: 'aftr.example.net' }], // the value it shows: still not the caller's to set
    ['usp', { [`${IS}EndpointAssignmentPrecedence`]: 'DHCPv6', [`${IS}EndpointName`]: 'aftr2.example.net' }],
    ['cwmp', { [`${IS}EndpointAddress`]: '2001:db8:ff::2', [`${IS}EndpointName`]: 'aftr2.example.net' }],
  ];
  for (const [origin, values] of writes) {
    assert.throws(() => a.dm.set(values, origin), (e: unknown) => {
      assert.ok(isDmError(e));
      assert.equal(e.kind, 'NotWritable');
      assert.deepEqual(e.details.map((d) => [d.path, d.kind]), [[`${IS}EndpointName`, 'NotWritable']]);
      assert.match(e.message, /EndpointName: writable only while EndpointAssignmentPrecedence is Static \(it is DHCPv6/);
      return true;
    }, `${origin} ${JSON.stringify(values)}`);
  }
  await a.handle.policy!.idle();
  assert.deepEqual(endpoint(a), { EndpointAssignmentPrecedence: 'DHCPv6', EndpointName: 'aftr.example.net', EndpointAddressInUse: '2001:db8:ff::1', Origin: 'DHCPv6' });
  assert.equal(v(a, 'EndpointAddress'), '', 'the batch changed nothing');
  assert.equal(a.dm.getValue(`${FO}CurrentAFTR`), 'aftr.example.net');
  // The agent's own write (what DHCPv6 supplied) is not refused.
  a.dm.set({ [`${IS}EndpointName`]: 'aftr.example.net' }, 'system');
});

test('Static: the static name applies and shows; DHCPv6 again shows its name; the static one is kept, also across a restart', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ts-endpoint-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'twinstack.db');
  let a = await startAgent({ file });
  await inUse(a, '2001:db8:ff::1');
  // Precedence and name in one batch: the name is checked against the precedence the batch leaves.
  a.dm.set({ [`${IS}EndpointAssignmentPrecedence`]: 'Static', [`${IS}EndpointName`]: 'aftr2.example.net' }, 'usp');
  assert.deepEqual(await inUse(a, '2001:db8:ff::2'), {
    EndpointAssignmentPrecedence: 'Static', EndpointName: 'aftr2.example.net', EndpointAddressInUse: '2001:db8:ff::2', Origin: 'Static',
  });
  a.dm.set({ [`${IS}EndpointAssignmentPrecedence`]: 'DHCPv6' }, 'cwmp');
  assert.deepEqual(await inUse(a, '2001:db8:ff::1'), {
    EndpointAssignmentPrecedence: 'DHCPv6', EndpointName: 'aftr.example.net', EndpointAddressInUse: '2001:db8:ff::1', Origin: 'DHCPv6',
  });
  a.dm.set({ [`${IS}EndpointAssignmentPrecedence`]: 'Static' }, 'cli');
  assert.deepEqual(await inUse(a, '2001:db8:ff::2'), {
    EndpointAssignmentPrecedence: 'Static', EndpointName: 'aftr2.example.net', EndpointAddressInUse: '2001:db8:ff::2', Origin: 'Static',
  });
  a.dm.set({ [`${IS}EndpointAssignmentPrecedence`]: 'DHCPv6' }, 'cli');
  await inUse(a, '2001:db8:ff::1');
  await a.stop();

  a = await startAgent({ file });
  t.after(() => a.stop());
  assert.deepEqual(await inUse(a, '2001:db8:ff::1'), {
    EndpointAssignmentPrecedence: 'DHCPv6', EndpointName: 'aftr.example.net', EndpointAddressInUse: '2001:db8:ff::1', Origin: 'DHCPv6',
  });
  a.dm.set({ [`${IS}EndpointAssignmentPrecedence`]: 'Static' }, 'cli');
  assert.deepEqual(await inUse(a, '2001:db8:ff::2'), {
    EndpointAssignmentPrecedence: 'Static', EndpointName: 'aftr2.example.net', EndpointAddressInUse: '2001:db8:ff::2', Origin: 'Static',
  });
});

test('EndpointAddressTypePrecedence chooses between the static name and EndpointAddress, under Static only', async (t) => {
  const a = await startAgent();
  t.after(() => a.stop());
  await inUse(a, '2001:db8:ff::1');
  a.dm.set({
    [`${IS}EndpointAssignmentPrecedence`]: 'Static', [`${IS}EndpointAddressTypePrecedence`]: 'IPv6Address',
    [`${IS}EndpointName`]: 'aftr.example.net', [`${IS}EndpointAddress`]: '2001:db8:ff::2',
  }, 'cli');
  // The address is used directly; EndpointName shows the static name, the one Static applies.
  assert.deepEqual(await inUse(a, '2001:db8:ff::2'), {
    EndpointAssignmentPrecedence: 'Static', EndpointName: 'aftr.example.net', EndpointAddressInUse: '2001:db8:ff::2', Origin: 'Static',
  });
  a.dm.set({ [`${IS}EndpointAddressTypePrecedence`]: 'FQDN' }, 'cli');
  assert.equal((await inUse(a, '2001:db8:ff::1')).Origin, 'Static');
  // Under DHCPv6 the AFTR-Name applies whatever the address type precedence says.
  a.dm.set({ [`${IS}EndpointAssignmentPrecedence`]: 'DHCPv6', [`${IS}EndpointAddressTypePrecedence`]: 'IPv6Address' }, 'cli');
  await until(() => v(a, 'Origin') === 'DHCPv6', 3000, 'Origin DHCPv6');
  assert.deepEqual(await inUse(a, '2001:db8:ff::1'), {
    EndpointAssignmentPrecedence: 'DHCPv6', EndpointName: 'aftr.example.net', EndpointAddressInUse: '2001:db8:ff::1', Origin: 'DHCPv6',
  });
});

test('Static with no static name: DHCPv6\'s name applies and shows; writing that same name makes it the static one', async (t) => {
  const a = await startAgent();
  t.after(() => a.stop());
  await inUse(a, '2001:db8:ff::1');
  a.dm.set({ [`${IS}EndpointAssignmentPrecedence`]: 'Static' }, 'cli');
  await a.handle.policy!.idle();
  assert.deepEqual(await inUse(a, '2001:db8:ff::1'), {
    EndpointAssignmentPrecedence: 'Static', EndpointName: 'aftr.example.net', EndpointAddressInUse: '2001:db8:ff::1', Origin: 'DHCPv6',
  });
  assert.equal(staticEndpointName(a.dm, IS), '');
  a.dm.set({ [`${IS}EndpointName`]: 'aftr.example.net' }, 'cli'); // no value change, still a static assignment
  await until(() => v(a, 'Origin') === 'Static', 3000, 'Origin Static');
  assert.equal(staticEndpointName(a.dm, IS), 'aftr.example.net');
  assert.equal((await inUse(a, '2001:db8:ff::1')).EndpointName, 'aftr.example.net');
});
