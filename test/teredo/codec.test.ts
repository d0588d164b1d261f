// The Teredo codec of mode 'teredo' (native/teredo.h, through the addon's teredoCodec hook) against fixed vectors:
// RFC 4380 §4's example address, an address miredo 1.2.6's client computed in the lab (PEERS.md §8), the RFC 4380
// §5.1.1 indicators, the router solicitation and advertisement of §5.2.1 byte for byte, bubbles and the §5.2.9 echo
// test; and the config checks of the mode (types.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadAddon } from '../../src/forwarder/native.ts';
import { ForwarderConfigError, resolveConfig, type ForwarderConfig } from '../../src/forwarder/types.ts';

const codec = loadAddon().teredoCodec;
const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** RFC 1071 sum over the RFC 8200 §8.1 pseudo-header and an ICMPv6 message: 0 when the checksum in it is right. */
function icmp6Sum(ip6: Buffer): number {
  const plen = ip6.readUInt16BE(4);
  const pseudo = Buffer.concat([ip6.subarray(8, 40), Buffer.from([0, 0, plen >> 8, plen & 0xff, 0, 0, 0, 58]), ip6.subarray(40, 40 + plen)]);
  let s = 0;
  for (let i = 0; i < pseudo.length; i += 2) s += (pseudo[i] << 8) | (pseudo[i + 1] ?? 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

test('addresses: 2001:0::/32 | server | flags | ~port | ~IPv4 both ways (RFC 4380 §4)', () => {
  const table: Array<[string, { server: string; flags: number; port: number; ipv4: string }]> = [
    // RFC 4380 §4's example: server 65.54.227.120, cone, mapped 192.0.2.45:40000.
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', { server: '65.54.227.120', flags: 0x8000, port: 40000, ipv4: '192.0.2.45' }],
    // miredo 1.2.6's client in the lab behind the restricted NAT: random flag bits (RFC 5991), mapped 203.0.113.10:56917.
    ['2001:0:cb00:7101:341d:21aa:34ff:8ef5', { server: '203.0.113.1', flags: 0x341d, port: 56917, ipv4: '203.0.113.10' }],
    // Extremes: every obfuscated bit set, and none.
    ['2001:0:ffff:ffff:0:ffff:ffff:ffff', { server: '255.255.255.255', flags: 0, port: 0, ipv4: '0.0.0.0' }],
    ['2001::ffff:0:0:0', { server: '0.0.0.0', flags: 0xffff, port: 65535, ipv4: '255.255.255.255' }],
  ];
  for (const [address, fields] of table) {
    assert.equal(codec('address', fields), address);
    assert.deepEqual(codec('parseAddress', { address }), fields);
  }
  // Not Teredo: 2001:db8::/32, 2001:1::/32, 2002::/16.
  for (const address of ['2001:db8::1', '2001:1:4136:e378:8000:63bf:3fff:fdd2', '2002:cb00:7101::1']) assert.equal(codec('parseAddress', { address }), null);
});

test('indicators: authentication (nonce, confirmation, ID and value lengths) and origin (obfuscated) before the IPv6 packet', () => {
  const bubble = codec('bubble', { src: '2001:db8:66::2', dst: '2001:0:cb00:7101:341d:21aa:34ff:8ef5' });
  const nonce = '0102030405060708';
  const table: Array<[string, Buffer, unknown]> = [
    ['bare IPv6', bubble, { auth: null, origin: null, ipv6Offset: 0 }],
    // RFC 4380 §4's example mapping as an origin indication: 0x0000, ~40000, ~192.0.2.45.
    ['origin', Buffer.concat([hex('0000 63bf 3ffffdd2'), bubble]), { auth: null, origin: { address: '192.0.2.45', port: 40000 }, ipv6Offset: 8 }],
    ['authentication, no ID or value', Buffer.concat([hex(`0001 00 00 ${nonce} 00`), bubble]),
      { auth: { nonce: hex(nonce), confirmation: 0, idLength: 0, authLength: 0 }, origin: null, ipv6Offset: 13 }],
    ['authentication with a 2-byte ID, a 3-byte value, confirmation 1, then origin',
      Buffer.concat([hex(`0001 02 03 aaaa bbbbbb ${nonce} 01`), hex('0000 21aa 34ff8ef5'), bubble]),
      { auth: { nonce: hex(nonce), confirmation: 1, idLength: 2, authLength: 3 }, origin: { address: '203.0.113.10', port: 56917 }, ipv6Offset: 26 }],
  ];
  for (const [what, packet, expected] of table) assert.deepEqual(codec('parseHeaders', { packet }), expected, what);
  // Truncated or out of order: refused (udp_bad_header).
  for (const [what, packet] of [
    ['authentication cut in the nonce', hex('0001 0000 01020304')],
    ['authentication whose ID runs past the end', hex(`0001 ff00 ${nonce} 00`)],
    ['origin cut', hex('0000 63bf 3f')],
    ['origin then authentication', Buffer.concat([hex('0000 63bf 3ffffdd2'), hex(`0001 0000 ${nonce} 00`), bubble])],
    ['an unknown indicator', Buffer.concat([hex('0002 0000'), bubble])],
  ] as const)
    assert.equal(codec('parseHeaders', { packet }), null, what);
});

test('router solicitation: indicator with our nonce, RS from the cone or restricted link-local to ff02::2 (RFC 4380 §5.2.1)', () => {
  const nonce = hex('0102030405060708');
  const expected = (cone: boolean, checksum: string) => hex(
    `0001 0000 0102030405060708 00` +
    `60000000 0018 3a ff fe80000000000000 ${cone ? '8000' : '0000'}ffffffffffff ff020000000000000000000000000002` +
    `85 00 ${checksum} 00000000 01 02 0000000000000000000000000000`,
  );
  for (const [cone, checksum] of [[false, '7c25'], [true, 'fc24']] as const) {
    const rs = codec('routerSolicitation', { nonce, cone });
    assert.deepEqual(rs, expected(cone, checksum), `cone ${cone}`);
    assert.equal(icmp6Sum(rs.subarray(13)), 0);
  }
});

test('router advertisement: the prefix option (2001:0:<server>::/64) and MTU; only to the link-local it answers', () => {
  // miredo-server's answer: RA to fe80::ffff:ffff:ffff, prefix information 2001:0:cb00:7101::/64, MTU 1280.
  const ra = (dst: string, options: string) => {
    const body = hex(`86 00 0000 40 00 0708 00000000 00000000 ${options}`);
    const ip6 = Buffer.concat([hex(`60000000 ${body.length.toString(16).padStart(4, '0')} 3a ff fe800000000000008000f227bec9ff5c ${dst}`), body]);
    return ip6;
  };
  const PI = '03 04 40 c0 ffffffff ffffffff 00000000 20010000cb007101 0000000000000000';
  const MTU = '05 01 0000 00000500';
  const restricted = 'fe80000000000000 0000ffffffffffff'.replace(/ /g, '');
  const coneLl = 'fe80000000000000 8000ffffffffffff'.replace(/ /g, '');
  assert.deepEqual(codec('parseRouterAdvertisement', { packet: ra(restricted, PI + MTU), cone: false }), { prefix: hex('20010000cb007101'), mtu: 1280 });
  assert.deepEqual(codec('parseRouterAdvertisement', { packet: ra(coneLl, MTU + PI), cone: true }), { prefix: hex('20010000cb007101'), mtu: 1280 });
  assert.deepEqual(codec('parseRouterAdvertisement', { packet: ra(restricted, PI), cone: false }), { prefix: hex('20010000cb007101'), mtu: 0 });
  for (const [what, packet, cone] of [
    ['answer to the other link-local', ra(restricted, PI + MTU), true],
    ['no prefix option', ra(restricted, MTU), false],
    ['two prefix options', ra(restricted, PI + PI), false],
    ['a /48 prefix', ra(restricted, PI.replace('03 04 40', '03 04 30')), false],
    ['an option of length 0', ra(restricted, `${PI}05 00 0000 00000500`), false],
  ] as const)
    assert.equal(codec('parseRouterAdvertisement', { packet, cone }), null, what);
});

test('bubble and connectivity test: an IPv6 header with no next header; an ICMPv6 echo of 16 bytes with the nonce', () => {
  const me = '2001:0:cb00:7101:341d:21aa:34ff:8ef5';
  assert.deepEqual(codec('bubble', { src: me, dst: '2001:db8:66::2' }),
    hex('60000000 0000 3b ff 20010000cb007101341d21aa34ff8ef5 20010db8006600000000000000000002'));
  const echo = codec('echo', { src: me, dst: '2001:db8:66::2', id: 0x1234, seq: 0xabcd, nonce: hex('1122334455667788') });
  assert.equal(echo.length, 56);
  assert.deepEqual(echo.subarray(0, 8), hex('60000000 0010 3a 40'));
  assert.deepEqual([echo[40], echo[41], echo.readUInt16BE(44), echo.readUInt16BE(46)], [128, 0, 0x1234, 0xabcd]);
  assert.deepEqual(echo.subarray(48), hex('1122334455667788'));
  assert.equal(icmp6Sum(echo), 0);
});

test('config: mode teredo resolves its defaults (secondary server = primary + 1, 30 s refresh, 4 s x 3), tun egress', () => {
  const base: ForwarderConfig = { tunName: 'teredo', softwire: '2001:db8:b4::1', aftr: '2001:db8:ff::1', mode: 'teredo', teredo: { server: '203.0.113.1', localAddress: '198.51.100.2' } };
  const r = resolveConfig(base);
  assert.equal(r.egress, 'tun');
  assert.equal(r.enabled, true);
  assert.deepEqual(r.teredo, {
    server: '203.0.113.1', server2: '203.0.113.2', localAddress: '198.51.100.2', localPort: 0, refreshIntervalS: 30,
    qualificationTimeoutMs: 4000, qualificationRetries: 3, restartDelayS: 60, coneProbe: true,
  });
  const problems = (c: Partial<ForwarderConfig>) => {
    try {
      resolveConfig({ ...base, ...c });
      return [];
    } catch (e) {
      return (e as ForwarderConfigError).problems;
    }
  };
  assert.deepEqual(problems({ teredo: undefined }), ["teredo: required when mode is 'teredo'"]);
  assert.deepEqual(problems({ teredo: { server: '10.0.0.1', localAddress: 'x', localPort: 70000, refreshIntervalS: 1 } }), [
    // The secondary address defaults to 10.0.0.2, private too.
    'teredo.server: a global unicast IPv4 address', 'teredo.server2: a global unicast IPv4 address, not the primary',
    'teredo.localAddress: an IPv4 address', 'teredo.localPort: integer 0..65535',
    'teredo.refreshIntervalS: integer 5..3600',
  ]);
  assert.deepEqual(problems({ teredo: { server: '203.0.113.1', server2: '203.0.113.1', localAddress: '198.51.100.2' } }), ['teredo.server2: a global unicast IPv4 address, not the primary']);
  assert.deepEqual(problems({ egress: 'packet' }), ["egress: 'tun' in mode 'teredo'"]);
});
