// DHCPv6 wire format (RFC 8415 §8, §21; RFC 6334 AFTR-Name) and the udhcpc hook event decoding.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as c from '../../src/wan/dhcp6-codec.ts';
import { nextRt } from '../../src/wan/dhcp6.ts';
import { leaseOf } from '../../src/wan/udhcpc.ts';
import { softwireFor } from '../../src/wan/linux.ts';

test('message header and options round-trip', () => {
  const m: c.Message = { type: c.MSG.SOLICIT, xid: 0xabcdef, options: [c.opt(c.OPT.CLIENTID, c.duidLL('02:00:00:00:00:01')), c.oro(23, 64), c.elapsed(0)] };
  const wire = c.encode(m);
  assert.equal(wire.toString('hex'), '01abcdef' + '0001000a00030001020000000001' + '000600040017' + '0040' + '000800020000');
  assert.deepEqual(c.decode(wire), m);
});

const iaCases: { name: string; code: 3 | 25; ia: { iaid: number; addrs: c.IaAddr[]; prefixes: c.IaPrefix[] }; hex: string }[] = [
  { name: 'IA_NA with an address', code: 3, ia: { iaid: 1, addrs: [{ address: '2001:db8:5::100', preferred: 300, valid: 600 }], prefixes: [] },
    hex: '00030028000000010000000000000000000500182001' + '0db8000500000000000000000100' + '0000012c00000258' },
  { name: 'IA_PD with a prefix', code: 25, ia: { iaid: 1, addrs: [], prefixes: [{ prefix: '2001:db8:100::/56', preferred: 300, valid: 600 }] },
    hex: '0019002900000001000000000000000000' + '1a00190000012c000002583820010db8010000000000000000000000' },
];
for (const k of iaCases) {
  test(`encodeIa/decodeIa: ${k.name}`, () => {
    const o = c.encodeIa(k.code, k.ia, true);
    assert.equal(c.encodeOptions([o]).toString('hex'), k.hex);
    const back = c.decodeIa(o);
    assert.deepEqual([back.addrs, back.prefixes], [k.ia.addrs, k.ia.prefixes]);
  });
}

const names: [string, string][] = [
  ['0461667472076578616d706c65036e657400', 'aftr.example.net'],
  ['00', ''],
];
for (const [hex, name] of names) test(`AFTR-Name ${hex} -> "${name}"`, () => assert.equal(c.domainName(c.opt(64, Buffer.from(hex, 'hex'))), name));

test('DNS servers option', () => assert.deepEqual(c.dnsServers(c.opt(23, Buffer.from('20010db8000500000000000000000001' + '20010db8000500000000000000000053', 'hex'))), ['2001:db8:5::1', '2001:db8:5::53']));

const rts: { prev: number; rand: number; want: number }[] = [
  { prev: 0, rand: 0.1, want: 1100 }, // RFC 8415 §15: RT = IRT + RAND*IRT
  { prev: 1000, rand: -0.1, want: 1900 }, // RT = 2*RTprev + RAND*RTprev
  { prev: 2_000_000, rand: 0, want: 3_600_000 }, // capped at MRT
];
for (const r of rts) test(`retransmission time after ${r.prev} ms`, () => assert.equal(Math.round(nextRt(r.prev, { irt: 1000, mrt: 3_600_000, mrc: 0, mrd: 0 }, r.rand)), r.want));

test('udhcpc hook event to lease', () => {
  assert.deepEqual(leaseOf({ event: 'bound', ip: '203.0.113.10', subnet: '255.255.255.192', router: '203.0.113.1', dns: '203.0.113.1 203.0.113.2', serverid: '203.0.113.1', lease: '600' }, 5),
    { address: '203.0.113.10', subnetMask: '255.255.255.192', routers: ['203.0.113.1'], dnsServers: ['203.0.113.1', '203.0.113.2'], server: '203.0.113.1', leaseTime: 600, obtained: 5 });
});

const softwires: [string, string[], string | null][] = [
  ['2001:db8:b4::1', [], '2001:db8:b4::1'],
  ['', ['2001:db8:100::/56'], '2001:db8:100::b4'],
  ['', [], null],
];
for (const [cfg, pd, want] of softwires)
  test(`softwire from config "${cfg}" and PD ${pd.join()}`, () => assert.equal(softwireFor(cfg, pd.length ? { prefixes: pd.map((prefix) => ({ prefix, preferred: 1, valid: 1 })) } as never : null), want));
