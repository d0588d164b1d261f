// DHCPv6 wire format (RFC 8415 §8, §21; RFC 6334 AFTR-Name; the lw4o6 options of RFC 7598, RFC 7341, RFC 8539
// and the port parameters of RFC 7618) and the udhcpc hook event decoding.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import * as c from '../../src/wan/dhcp6-codec.ts';
import * as c4 from '../../src/wan/dhcp4-codec.ts';
import { Dhcp6Client, nextRt } from '../../src/wan/dhcp6.ts';
import type { Lease6 } from '../../src/wan/platform.ts';
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

// ---- lw4o6: RFC 7598 S46 options, RFC 7341 4o6 server option, RFC 7618 / RFC 7598 §4.5 port parameters ------

const BR = '005a0010' + '20010db8ffff00000000000000000001'; // S46_BR 2001:db8:ffff::1
const BIND = (body: string) => `005c${(body.length / 2).toString(16).padStart(4, '0')}${body}`;
const PP = '005d0004';
const lw4o6Cases: { name: string; hex: string; want: c.Lw4o6 }[] = [
  { name: 'what Kea 2.2 sends for "192.0.2.3, 2001:db8:1:cafe::/64" with "0, 1/8"', hex: BR + BIND('c0000203' + '40' + '20010db80001cafe' + PP + '00080100'),
    want: { br: ['2001:db8:ffff::1'], bind: { ipv4: '192.0.2.3', bindPrefix: '2001:db8:1:cafe::/64', portParams: { offset: 0, psidLength: 8, psid: 1 } } } },
  { name: 'a BR alone (dynamic binding: DHCPv4 over DHCPv6)', hex: BR, want: { br: ['2001:db8:ffff::1'], bind: null } },
  { name: 'two BRs, a /128 binding without port parameters (the whole address)', hex: BR + '005a0010' + '20010db8ffff00000000000000000002' + BIND('cb007105' + '80' + '20010db8000100000000000000000009'),
    want: { br: ['2001:db8:ffff::1', '2001:db8:ffff::2'], bind: { ipv4: '203.0.113.5', bindPrefix: '2001:db8:1::9/128', portParams: null } } },
  { name: 'a /60 binding: the bits past the length are dropped', hex: BR + BIND('c0000203' + '3c' + '20010db80001caff' + PP + '0406' + '1400'),
    want: { br: ['2001:db8:ffff::1'], bind: { ipv4: '192.0.2.3', bindPrefix: '2001:db8:1:caf0::/60', portParams: { offset: 4, psidLength: 6, psid: 5 } } } },
  { name: 'an unknown encapsulated option is skipped', hex: '005b0002abcd' + BR, want: { br: ['2001:db8:ffff::1'], bind: null } },
  { name: 'empty', hex: '', want: { br: [], bind: null } },
];
for (const k of lw4o6Cases) test(`S46_CONT_LW: ${k.name}`, () => assert.deepEqual(c.decodeLw4o6(c.opt(96, Buffer.from(k.hex, 'hex'))), k.want));
test('S46_CONT_LW absent', () => assert.equal(c.decodeLw4o6(undefined), null));

const badLw4o6: [string, string, RegExp][] = [
  ['a BR of 8 bytes', '005a0008' + '20010db8ffff0000', /S46_BR: length 8, not 16/],
  ['a binding of 4 bytes', BR + BIND('c0000203'), /fewer than 5/],
  ['bindprefix6-len 129', BR + BIND('c0000203' + '81' + '20010db8000100000000000000000009' + '00'), /over 128/],
  ['a /64 with 4 prefix bytes', BR + BIND('c0000203' + '40' + '20010db8'), /needs 13 bytes, has 9/],
  ['port parameters of 3 bytes', BR + BIND('c0000203' + '40' + '20010db80001cafe' + '005d0003000801'), /S46_PORTPARAMS: .*3 bytes, not 4/],
  ['a right-aligned PSID (bits past PSID-len)', BR + BIND('c0000203' + '40' + '20010db80001cafe' + PP + '00080001'), /PSID field 0x0001 has bits past the first 8/],
  ['offset + PSID-len over 16', BR + BIND('c0000203' + '40' + '20010db80001cafe' + PP + '060bffe0'), /offset 6 \+ PSID length 11 over 16/],
  ['offset 16', BR + BIND('c0000203' + '40' + '20010db80001cafe' + PP + '10000000'), /offset 16 over 15/],
  ['two bindings', BR + BIND('c0000203' + '00') + BIND('c0000204' + '00'), /more than one S46_V4V6BIND/],
  ['two port parameters', BR + BIND('c0000203' + '00' + PP + '00080100' + PP + '00080200'), /more than one S46_PORTPARAMS/],
  ['an option overrunning the container', '005a0020' + '20010db8ffff00000000000000000001', /overruns/],
  ['an option overrunning the binding', BR + BIND('c0000203' + '00' + '005d0008' + '0008'), /S46_V4V6BIND: an encapsulated option overruns it/],
];
for (const [name, hex, re] of badLw4o6)
  test(`S46_CONT_LW malformed: ${name}`, () => assert.throws(() => c.decodeLw4o6(c.opt(96, Buffer.from(hex, 'hex'))), (e: Error) => e instanceof c.Dhcp6FormatError && re.test(e.message)));

const servers: [string, string[] | RegExp][] = [
  ['20010db8000500000000000000000001', ['2001:db8:5::1']],
  ['20010db800050000000000000000000120010db8000600000000000000000001', ['2001:db8:5::1', '2001:db8:6::1']],
  ['', []], // RFC 7341 §8: no address, the client uses All_DHCP_Relay_Agents_and_Servers
  ['20010db80005000000000000000000', /length 15 is not a multiple of 16/],
];
for (const [hex, want] of servers)
  test(`OPTION_DHCP4_O_DHCP6_SERVER ${hex || '(empty)'}`, () => (want instanceof RegExp
    ? assert.throws(() => c.addressList(c.opt(88, Buffer.from(hex, 'hex'))), want)
    : assert.deepEqual(c.addressList(c.opt(88, Buffer.from(hex, 'hex'))), want)));

// RFC 7618 §4 option 159 and RFC 7598 §4.5 S46_PORTPARAMS: the PSID is the first PSID-len bits of its field.
const ports: [string, c4.PortParams | RegExp][] = [
  ['00080100', { offset: 0, psidLength: 8, psid: 1 }],
  ['04061400', { offset: 4, psidLength: 6, psid: 5 }],
  ['060affc0', { offset: 6, psidLength: 10, psid: 1023 }],
  ['0010ffff', { offset: 0, psidLength: 16, psid: 65535 }],
  ['00000000', { offset: 0, psidLength: 0, psid: 0 }],
  ['0600abcd', { offset: 6, psidLength: 0, psid: 0 }], // PSID-len 0: the field is ignored (RFC 7598 §4.5)
  ['000801', /3 bytes, not 4/],
  ['0008010000', /5 bytes, not 4/],
  ['00110000', /PSID length 17 over 16/],
  ['00040001', /PSID field 0x0001 has bits past the first 4/],
];
for (const [hex, want] of ports)
  test(`port parameters ${hex}`, () => (want instanceof RegExp
    ? assert.throws(() => c4.portParams(Buffer.from(hex, 'hex')), want)
    : assert.deepEqual(c4.portParams(Buffer.from(hex, 'hex')), want)));

const prefixes: [string, string][] = [
  ['2001:db8:1:cafe::/64', '0089000940' + '20010db80001cafe'], // RFC 8539 §7.1: len, ceil(len/8) bytes
  ['2001:db8:1:caf0::/60', '008900093c' + '20010db80001caf0'],
  ['2001:db8:1::9', '0089001180' + '20010db8000100000000000000000009'],
  ['::/0', '0089000100'],
];
for (const [p, hex] of prefixes) test(`OPTION_S46_BIND_IPV6_PREFIX ${p}`, () => assert.equal(c.encodeOptions([c.bindPrefixOption(p)]).toString('hex'), hex));

test('a DHCPV4-QUERY: type 20, the U flag in the first of three flag bytes, OPTION_DHCPV4_MSG (RFC 7341 §6.1)', () => {
  const wire = c.encode({ type: c.MSG.DHCPV4_QUERY, xid: c.FLAG_UNICAST, options: [c.opt(c.OPT.DHCPV4_MSG, Buffer.from('0101', 'hex'))] });
  assert.equal(wire.toString('hex'), '14800000' + '005700020101');
});

test('a Reply with a malformed S46_CONT_LW and 4o6 server option: the lease without them, the reasons logged', () => {
  const logged: { reason?: string; msg: string }[] = [];
  const log = pino({ level: 'warn' }, { write: (s: string) => void logged.push(JSON.parse(s)) });
  const client = new Dhcp6Client({ iface: 'lo', mac: '02:00:00:00:00:01', log }) as unknown as { toLease(m: c.Message): Lease6 | null };
  const ia = c.encodeIa(c.OPT.IA_NA, { iaid: 1, addrs: [{ address: '2001:db8:5::100', preferred: 300, valid: 600 }], prefixes: [] }, true);
  const lease = client.toLease({ type: c.MSG.REPLY, xid: 1, options: [ia, c.opt(96, Buffer.from('005a0008' + '20010db8ffff0000', 'hex')), c.opt(88, Buffer.alloc(15))] });
  assert.deepEqual([lease?.addresses.map((a) => a.address), lease?.lw4o6, lease?.dhcp4o6Servers], [['2001:db8:5::100'], null, []]);
  assert.deepEqual(logged.map((l) => [l.msg, l.reason]), [['dhcpv6 option ignored', 'S46_BR: length 8, not 16'], ['dhcpv6 option ignored', 'option 88: length 15 is not a multiple of 16']]);
});
