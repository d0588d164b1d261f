// ForwarderConfig defaults and validation (src/forwarder/types.ts): every problem listed at once.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ForwarderConfigError, resolveConfig, type ForwarderConfig } from '../../src/forwarder/types.ts';

const BASE: ForwarderConfig = { tunName: 'b4tun', softwire: '2001:db8:b4::1', aftr: '2001:db8:ff::1', mode: 'dslite' };

test('defaults: MTU 1460, hop limit 64, no clamping, 192.0.0.2 -> 192.0.0.1, no draining AFTR, 2 queues, packet egress, no LAN fast path', () => {
  assert.deepEqual(resolveConfig(BASE), {
    tunName: 'b4tun',
    softwire: '2001:db8:b4::1',
    aftr: '2001:db8:ff::1',
    drainAftr: '',
    mtu: 1460,
    hopLimit: 64,
    mssClamp: 0,
    mode: 'dslite',
    enabled: true,
    b4Ipv4: '192.0.0.2',
    echoTarget: '192.0.0.1',
    queues: 2,
    egress: 'packet',
    lanFastPath: [],
  });
  assert.deepEqual(resolveConfig({ ...BASE, lanFastPath: ['br-lan', 'lan0.10'] }).lanFastPath, ['br-lan', 'lan0.10']);
});

test("mode 'off' resolves to a disabled data plane", () => {
  assert.equal(resolveConfig({ ...BASE, mode: 'off' }).enabled, false);
});

const FAST_PATH = 'lanFastPath: interface names (1-15 characters [A-Za-z0-9_.-]), not the tun';
const invalid: Array<[string, Partial<ForwarderConfig>, string[]]> = [
  ['IPv4 softwire', { softwire: '192.0.2.1' }, ['softwire: not an IPv6 address']],
  ['AFTR as a name', { aftr: 'aftr.example.net' }, ['aftr: not an IPv6 address']],
  ['MTU below 1280 - 40', { mtu: 1239 }, ['mtu: integer 1240..65495']],
  ['fractional hop limit', { hopLimit: 1.5 }, ['hopLimit: integer 1..255']],
  ['negative MSS clamp', { mssClamp: -1 }, ['mssClamp: integer 0..65535']],
  ['long tun name', { tunName: 'a-very-long-tun-name' }, ['tunName: 1-15 characters [A-Za-z0-9_.-]']],
  ['unknown mode', { mode: 'map-e' as 'off' }, ["mode: 'dslite', 'lw4o6', 'nat46' or 'off'"]],
  ['bad B4 IPv4', { b4Ipv4: '192.0.0.300' }, ['b4Ipv4: not an IPv4 address']],
  ['draining AFTR as a name', { drainAftr: 'aftr.example.net' }, ["drainAftr: '' or an IPv6 address"]],
  ['IPv6 echo target', { echoTarget: '2001:db8::1' }, ['echoTarget: not an IPv4 address']],
  ['17 queues', { queues: 17 }, ['queues: integer 1..16']],
  ['unknown egress', { egress: 'xdp' as 'tun' }, ["egress: 'tun' or 'packet'"]],
  ['the tun as a fast-path LAN', { lanFastPath: ['b4tun'] }, [FAST_PATH]],
  ['a bad fast-path interface name', { lanFastPath: ['eth0', 'no spaces'] }, [FAST_PATH]],
  ['a fast-path interface not in a list', { lanFastPath: 'eth0' as unknown as string[] }, [FAST_PATH]],
  ['everything at once', { softwire: 'x', aftr: 'y', hopLimit: 0 }, ['softwire: not an IPv6 address', 'aftr: not an IPv6 address', 'hopLimit: integer 1..255']],
];

for (const [name, patch, problems] of invalid) {
  test(`rejects ${name}`, () => {
    assert.throws(
      () => resolveConfig({ ...BASE, ...patch }),
      (e: unknown) => e instanceof ForwarderConfigError && assert.deepEqual(e.problems, problems) === undefined,
    );
  });
}
