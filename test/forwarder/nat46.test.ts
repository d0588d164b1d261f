// nat46 (issue 23) in the forwarder: the config check, and golden packets through the addon's inject() hook (the
// code the tun threads run, src/forwarder/native/nat46.cc): RFC 7915 translation both ways (TCP, UDP, ICMP echo,
// ICMP errors with their quoted packet, fragments, DF, TTL and hop limit), the stateful firewall at the owning
// gateway, the hand-off to peers in IPv6-in-IPv6 with its loop rule and its path MTU (RFC 2473 §7.1), configured
// adoption of a failed peer's gateway ID, and every new drop with its counter. Expected
// bytes are built from the RFC fields (test/forwarder/packets.ts, checksums computed from scratch), the addresses
// from the layout written out here byte by byte.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadAddon, nativeNat46, type NativeConfig, type NativeHandle } from '../../src/forwarder/native.ts';
import { DROP_NAMES, ForwarderConfigError, resolveConfig, type DropName, type ForwarderConfig, type Nat46Config } from '../../src/forwarder/types.ts';
import { addr4, addr6, fragment, icmp4, icmpv6, ipv4, ipv6, mutated, tcp4, tcp6, udp4, udp6 } from './packets.ts';

const addon = loadAddon();

// ---- the address layout: prefix (40) | tenant (8) | gateway (16) | zero (32) | client IPv4 (32) ----

const TENANT = 0x2a;
const GW = 0x0102;
const PEER_GW = 0x0103;
const LOCAL = '2001:db8:ff00::1';
const PEER = '2001:db8:ff00::2';
const N46: Nat46Config = {
  prefix: '2001:db8:4600::/40', tenantBits: 8, gatewayBits: 16, tenantId: TENANT, gatewayId: GW,
  dstPrefix: '2001:db8:6464::/96', localAddress: LOCAL, peers: [{ gatewayId: PEER_GW, address: PEER }],
};
const CFG: ForwarderConfig = { tunName: 'n46tun', softwire: '2001:db8:b4::1', aftr: '2001:db8:ff::1', mode: 'nat46', b4Ipv4: '192.0.0.8', nat46: N46 };

const words = (b: Buffer) => Array.from({ length: 8 }, (_, i) => b.readUInt16BE(i * 2).toString(16)).join(':');
/** A client's IPv6 address, the fields placed by hand (not by the code under test). */
function own(v4: string, gw = GW, tenant = TENANT): string {
  const b = Buffer.alloc(16);
  Buffer.from([0x20, 0x01, 0x0d, 0xb8, 0x46]).copy(b, 0);
  b[5] = tenant;
  b.writeUInt16BE(gw, 6);
  addr4(v4).copy(b, 12);
  return words(b);
}
/** RFC 6052 §2.2 /96: the IPv4 in the last 32 bits. */
const d96 = (v4: string) => words(Buffer.concat([addr6('2001:db8:6464::').subarray(0, 12), addr4(v4)]));

const C = '192.0.2.10'; // our client
const S = '203.0.113.9'; // a server on the IPv4 side, reached through the /96
const B4 = '192.0.0.8'; // source of our ICMPv4 errors (RFC 7335 §4)
const CLIENTS_PREFIX = '2001:db8:462a:102::'; // our clients' /96 (prefix | tenant | gateway ID)

test('layout: client 192.0.2.10 of tenant 0x2a behind gateway 0x102 is 2001:db8:462a:102::c000:20a', () => {
  assert.deepEqual(addr6(own(C)), addr6('2001:db8:462a:102::c000:20a'));
  assert.deepEqual(addr6(d96(S)), addr6('2001:db8:6464::cb00:7109'));
});

// ---- config check ----

test('config: nat46 resolves enabled with tun egress, peers, adopted and ipv6Mtu defaulted; the addon takes it', () => {
  const r = resolveConfig({ ...CFG, nat46: { ...N46, peers: undefined } });
  assert.deepEqual([r.mode, r.enabled, r.egress, r.nat46?.peers, r.nat46?.adopted, r.nat46?.ipv6Mtu], ['nat46', true, 'tun', [], [], 1280]);
  assert.equal(resolveConfig({ ...CFG, mode: 'dslite', nat46: undefined }).nat46, undefined);
  assert.deepEqual(nativeNat46(resolveConfig(CFG).nat46!), {
    prefix: '2001:db8:4600::', prefixLength: 40, tenantBits: 8, gatewayBits: 16, tenantId: TENANT, gatewayId: GW,
    dstPrefix: '2001:db8:6464::', localAddress: LOCAL, ipv6Mtu: 1280, peers: [{ gatewayId: PEER_GW, address: PEER }], adopted: [],
  });
});

test('config: adoption of a configured peer\'s gateway ID (the failed one) is accepted, prefixes side by side, /32 and /0', () => {
  const adopted = [{ gatewayId: PEER_GW, clients: '192.0.2.128/25' }, { gatewayId: 0x0777, clients: '192.0.2.0/25' }, { gatewayId: 0x0778, clients: '198.51.100.7/32' }];
  assert.deepEqual(resolveConfig({ ...CFG, nat46: { ...N46, adopted } }).nat46?.adopted, adopted);
  assert.deepEqual(resolveConfig({ ...CFG, nat46: { ...N46, adopted: [{ gatewayId: 7, clients: '0.0.0.0/0' }] } }).nat46?.adopted, [{ gatewayId: 7, clients: '0.0.0.0/0' }]);
});

const badConfigs: Array<[string, Partial<ForwarderConfig>, string[]]> = [
  ['nat46 without its config', { nat46: undefined }, ["nat46: required when mode is 'nat46'"]],
  ['a prefix without a length', { nat46: { ...N46, prefix: '2001:db8:4600::' } }, ["nat46.prefix: an IPv6 prefix 'address/length' without bits set beyond the length"]],
  ['a prefix with host bits', { nat46: { ...N46, prefix: '2001:db8:4601::/40' } }, ["nat46.prefix: an IPv6 prefix 'address/length' without bits set beyond the length"]],
  ['an IPv4 prefix', { nat46: { ...N46, prefix: '192.0.2.0/24' } }, ["nat46.prefix: an IPv6 prefix 'address/length' without bits set beyond the length"]],
  ['widths above 96', { nat46: { ...N46, prefix: '2001:db8::/64', tenantBits: 16, gatewayBits: 17 } }, ['nat46: prefix length + tenantBits + gatewayBits above 96 (the client IPv4 takes the last 32 bits)']],
  ['tenantBits 33', { nat46: { ...N46, tenantBits: 33 } }, ['nat46.tenantBits: integer 0..32']],
  ['gatewayBits 0', { nat46: { ...N46, gatewayBits: 0 } }, ['nat46.gatewayBits: integer 1..32']],
  ['a tenant ID too large for its width', { nat46: { ...N46, tenantId: 256 } }, ['nat46.tenantId: integer below 2^tenantBits']],
  ['a gateway ID too large for its width', { nat46: { ...N46, gatewayId: 65536 } }, ['nat46.gatewayId: integer below 2^gatewayBits']],
  ['a dstPrefix of /64', { nat46: { ...N46, dstPrefix: '2001:db8:6464::/64' } }, ['nat46.dstPrefix: an IPv6 /96 (RFC 6052) without bits set beyond it']],
  ['a dstPrefix inside the prefix', { nat46: { ...N46, dstPrefix: '2001:db8:4664::/96' } }, ['nat46.dstPrefix: inside nat46.prefix']],
  ['a multicast localAddress', { nat46: { ...N46, localAddress: 'ff02::1' } }, ['nat46.localAddress: a unicast IPv6 address']],
  ['a peer with our own gateway ID', { nat46: { ...N46, peers: [{ gatewayId: GW, address: PEER }] } }, ['nat46.peers[0].gatewayId: integer below 2^gatewayBits, not ours, not repeated']],
  ['a peer without an address', { nat46: { ...N46, peers: [{ gatewayId: 7 } as never] } }, ['nat46.peers[0].address: a unicast IPv6 address']],
  ['ipv6Mtu below 1280', { nat46: { ...N46, ipv6Mtu: 1000 } }, ['nat46.ipv6Mtu: integer 1280..65535']],
  ['missing fields', { nat46: { prefix: '2001:db8:4600::/40' } as Nat46Config }, [
    'nat46.tenantBits: integer 0..32', 'nat46.gatewayBits: integer 1..32', 'nat46.dstPrefix: an IPv6 /96 (RFC 6052) without bits set beyond it',
    'nat46.localAddress: a unicast IPv6 address',
  ]],
  ['packet egress', { egress: 'packet' }, ["egress: 'tun' in mode 'nat46'"]],
  // ---- configured adoption (issue 23) ----
  ['adopting our own gateway ID', { nat46: { ...N46, adopted: [{ gatewayId: GW, clients: '192.0.2.128/25' }] } }, ['nat46.adopted[0].gatewayId: integer below 2^gatewayBits, not ours, not repeated']],
  ['an adopted ID too large for its width', { nat46: { ...N46, adopted: [{ gatewayId: 65536, clients: '192.0.2.128/25' }] } }, ['nat46.adopted[0].gatewayId: integer below 2^gatewayBits, not ours, not repeated']],
  ['an adopted ID twice', { nat46: { ...N46, adopted: [{ gatewayId: 7, clients: '192.0.2.128/25' }, { gatewayId: 7, clients: '198.51.100.0/24' }] } }, ['nat46.adopted[1].gatewayId: integer below 2^gatewayBits, not ours, not repeated']],
  ['adopted clients with host bits', { nat46: { ...N46, adopted: [{ gatewayId: 7, clients: '192.0.2.129/25' }] } }, ["nat46.adopted[0].clients: an IPv4 prefix 'a.b.c.d/len' without bits set beyond the length"]],
  ['adopted clients without a length', { nat46: { ...N46, adopted: [{ gatewayId: 7, clients: '192.0.2.128' }] } }, ["nat46.adopted[0].clients: an IPv4 prefix 'a.b.c.d/len' without bits set beyond the length"]],
  ['adopted clients /33', { nat46: { ...N46, adopted: [{ gatewayId: 7, clients: '192.0.2.128/33' }] } }, ["nat46.adopted[0].clients: an IPv4 prefix 'a.b.c.d/len' without bits set beyond the length"]],
  ['adopted clients as IPv6', { nat46: { ...N46, adopted: [{ gatewayId: 7, clients: '2001:db8::/64' }] } }, ["nat46.adopted[0].clients: an IPv4 prefix 'a.b.c.d/len' without bits set beyond the length"]],
  ['adopted prefixes that overlap (one inside the other)', { nat46: { ...N46, adopted: [{ gatewayId: 7, clients: '192.0.2.128/25' }, { gatewayId: 8, clients: '198.51.100.0/24' }, { gatewayId: 9, clients: '192.0.2.192/26' }] } }, ['nat46.adopted[2].clients: overlaps nat46.adopted[0].clients']],
  ['adopted prefixes that overlap (the same)', { nat46: { ...N46, adopted: [{ gatewayId: 7, clients: '192.0.2.0/24' }, { gatewayId: 8, clients: '192.0.0.0/16' }] } }, ['nat46.adopted[1].clients: overlaps nat46.adopted[0].clients']],
  ['17 adoptions', { nat46: { ...N46, adopted: Array.from({ length: 17 }, (_, i) => ({ gatewayId: 0x200 + i, clients: `198.51.100.${i}/32` })) } }, ['nat46.adopted: a list of at most 16 { gatewayId, clients }']],
  ['adopted not a list', { nat46: { ...N46, adopted: {} as never } }, ['nat46.adopted: a list of at most 16 { gatewayId, clients }']],
];
for (const [name, patch, problems] of badConfigs) {
  test(`config: rejects ${name}`, () => {
    assert.throws(
      () => resolveConfig({ ...CFG, ...patch }),
      (e: unknown) => e instanceof ForwarderConfigError && assert.deepEqual(e.problems, problems) === undefined,
    );
  });
}

// ---- the data plane ----

const BASE: NativeConfig = {
  softwire: CFG.softwire, aftr: CFG.aftr, drainAftr: '', b4Ipv4: B4, echoTarget: '192.0.0.1', mtu: 1460, hopLimit: 64, mssClamp: 0,
  enabled: true, nat46: nativeNat46(resolveConfig(CFG).nat46!),
};
function handle(config: Partial<NativeConfig> = {}): NativeHandle {
  const h = addon.create();
  addon.configure(h, { ...BASE, ...config });
  return h;
}

const data = (n: number, seed = 5) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 29 + seed) & 0xff));
// The LAN side (IPv4).
const udp = (src: string, sport: number, dst: string, dport: number, len = 20, more: Partial<Parameters<typeof ipv4>[0]> = {}) =>
  ipv4({ src, dst, proto: 17, payload: udp4(src, dst, sport, dport, data(len)), ...more });
const tcp = (src: string, sport: number, dst: string, dport: number, flags: number, more: Partial<Parameters<typeof ipv4>[0]> = {}) =>
  ipv4({ src, dst, proto: 6, payload: tcp4({ src, dst, sport, dport, seq: 1000, flags, payload: data(10) }), ...more });
const echo4 = (type: 0 | 8, src: string, dst: string, id: number, more: Partial<Parameters<typeof ipv4>[0]> = {}) =>
  ipv4({ src, dst, proto: 1, payload: icmp4(type, 0, (id << 16) | 1, data(8)), ...more });
/** What the translator writes to the LAN: TTL one less than the hop limit, ID 0, DF only above 1260 bytes (RFC 7915 §5.1). */
const lan = (src: string, dst: string, proto: number, payload: Buffer, ttl = 63) =>
  ipv4({ src, dst, proto, ttl, id: 0, df: 20 + payload.length > 1260, payload });
/** Our ICMPv4 errors: from B4, precedence 6, TTL 64, quoting at most 548 bytes (RFC 1812 §4.3.2.3). */
const err4 = (type: number, code: number, word: number, orig: Buffer) =>
  ipv4({ src: B4, dst: C, proto: 1, tos: 0xc0, id: 0, ttl: 64, payload: icmp4(type, code, word, orig.subarray(0, 548)) });
// The IPv6 side.
const v6 = (src: string, dst: string, nextHeader: number, payload: Buffer, hopLimit = 64, more: { tclass?: number; flowLabel?: number } = {}) =>
  ipv6({ src, dst, nextHeader, hopLimit, payload, ...more });
const udpIn = (len = 20, dst = own(C), hop = 64) => v6(d96(S), dst, 17, udp6(d96(S), dst, 53, 5000, data(len)), hop);
const udpOut = (len = 20) => v6(own(C), d96(S), 17, udp6(own(C), d96(S), 5000, 53, data(len)), 63);

interface Step {
  input: Buffer;
  now?: number;
}
interface Case {
  name: string;
  /** The handle's config, BASE unless given. */
  config?: Partial<NativeConfig>;
  steps: Step[];
  out: Buffer[];
  drops?: Partial<Record<DropName, number>>;
  totals?: Record<string, number>;
}

const opened = { input: udp(C, 5000, S, 53) }; // opens the flow C:5000 <-> S:53

// Configured adoption (issue 23): the peer PEER_GW failed; we serve its gateway ID and its clients
// 192.0.2.128/25 are on our LAN now. It stays configured as a peer (adoption wins); PEER2 is a live peer.
const PEER2_GW = 0x0104;
const PEER2 = '2001:db8:ff00::3';
const A = '192.0.2.200'; // a client of the failed gateway
const ADOPTING: Nat46Config = { ...N46, peers: [...N46.peers!, { gatewayId: PEER2_GW, address: PEER2 }], adopted: [{ gatewayId: PEER_GW, clients: '192.0.2.128/25' }] };
const adopting: Partial<NativeConfig> = { nat46: nativeNat46(resolveConfig({ ...CFG, nat46: ADOPTING }).nat46!) };
const mtu = (ipv6Mtu: number): Partial<NativeConfig> => ({ nat46: nativeNat46(resolveConfig({ ...CFG, nat46: { ...N46, ipv6Mtu } }).nat46!) });
/** The adopted client's packets: UDP A:5000 <-> S:53, out with the adopted gateway ID in the source. */
const aOut = (len = 20) => v6(own(A, PEER_GW), d96(S), 17, udp6(own(A, PEER_GW), d96(S), 5000, 53, data(len)), 63);
const aIn = (dst = own(A, PEER_GW), len = 20) => v6(d96(S), dst, 17, udp6(d96(S), dst, 53, 5000, data(len)));
/** A packet for a peer's client of `total` bytes (UDP, so 48 bytes of headers). */
const forPeer = (total: number, gw = PEER_GW) => v6(d96(S), own(C, gw), 17, udp6(d96(S), own(C, gw), 53, 5000, data(total - 48)), 60, { tclass: 0x10, flowLabel: 0x12345 });
/** Its hand-off fragments: the tunnel packet's header fields (traffic class, flow label from the inner packet). */
const handoffFragment = (inner: Buffer, offset: number, end: number, id: number) =>
  v6(LOCAL, PEER, 44, fragment(41, offset, end < inner.length, id, inner.subarray(offset, end)), 64, { tclass: 0x10, flowLabel: 0x12345 });

const cases: Case[] = [
  // ---- IPv4 -> IPv6 (RFC 7915 §4) ----
  {
    name: 'UDP out: source prefix|tenant|gateway|client, destination the /96, hop limit TTL - 1, checksum for the new pseudo-header',
    steps: [opened],
    out: [udpOut()],
    totals: { nat46_4to6: 1, tx_packets: 1, nat46_flows_created: 1 },
  },
  {
    name: 'TCP SYN out, SYN-ACK back (the firewall lets the reply in), both checksums rewritten',
    steps: [{ input: tcp(C, 40000, S, 80, 0x02, { tos: 0x28 }) }, { input: v6(d96(S), own(C), 6, tcp6({ src: d96(S), dst: own(C), sport: 80, dport: 40000, seq: 1000, flags: 0x12, payload: data(10) }), 64, { tclass: 0x28 }) }],
    out: [
      v6(own(C), d96(S), 6, tcp6({ src: own(C), dst: d96(S), sport: 40000, dport: 80, seq: 1000, flags: 0x02, payload: data(10) }), 63, { tclass: 0x28 }),
      ipv4({ src: S, dst: C, proto: 6, tos: 0x28, ttl: 63, id: 0, payload: tcp4({ src: S, dst: C, sport: 80, dport: 40000, seq: 1000, flags: 0x12, payload: data(10) }) }),
    ],
    totals: { nat46_4to6: 1, nat46_6to4: 1 },
  },
  {
    name: 'ICMP echo: request out as ICMPv6 128 (checksum with the pseudo-header), reply 129 back as ICMPv4 0',
    steps: [{ input: echo4(8, C, S, 0x1234) }, { input: v6(d96(S), own(C), 58, icmpv6(d96(S), own(C), 129, 0, 0x12340001, data(8))) }],
    out: [v6(own(C), d96(S), 58, icmpv6(own(C), d96(S), 128, 0, 0x12340001, data(8)), 63), lan(S, C, 1, icmp4(0, 0, 0x12340001, data(8)))],
  },
  {
    name: 'UDP reply back to the client after it opened the flow',
    steps: [opened, { input: udpIn(40) }],
    out: [udpOut(), lan(S, C, 17, udp4(S, C, 53, 5000, data(40)))],
    totals: { nat46_6to4: 1, rx_packets: 1 },
  },
  {
    name: 'ICMPv4 port unreachable from the client: ICMPv6 1/4 with the quoted packet translated (RFC 7915 §4.3), addresses the other way',
    steps: [{ input: ipv4({ src: C, dst: S, proto: 1, payload: icmp4(3, 3, 0, udp(S, 53, C, 5000, 20, { ttl: 50, id: 7 })) }) }],
    out: [v6(own(C), d96(S), 58, icmpv6(own(C), d96(S), 1, 4, 0, v6(d96(S), own(C), 17, udp6(d96(S), own(C), 53, 5000, data(20)), 50)), 63)],
    totals: { nat46_4to6: 1 },
  },
  {
    name: 'ICMPv4 fragmentation needed from the client: ICMPv6 packet too big, MTU + 20 within our IPv6 MTU, not below 1280',
    steps: [{ input: ipv4({ src: C, dst: S, proto: 1, payload: icmp4(3, 4, 1200, udp(S, 53, C, 5000)) }) }],
    out: [v6(own(C), d96(S), 58, icmpv6(own(C), d96(S), 2, 0, 1280, v6(d96(S), own(C), 17, udp6(d96(S), own(C), 53, 5000, data(20)))), 63)],
  },
  {
    name: 'ICMPv6 port unreachable about our flow: ICMPv4 3/3 with the quoted packet translated back (RFC 7915 §5.3)',
    steps: [opened, { input: v6(d96(S), own(C), 58, icmpv6(d96(S), own(C), 1, 4, 0, udpOut())) }],
    out: [udpOut(), lan(S, C, 1, icmp4(3, 3, 0, lan(C, S, 17, udp4(C, S, 5000, 53, data(20)))))],
  },
  {
    name: 'ICMPv6 time exceeded from a router outside the /96: from b4Ipv4 (RFC 6791), quote translated',
    steps: [opened, { input: v6('2001:db8:beef::1', own(C), 58, icmpv6('2001:db8:beef::1', own(C), 3, 0, 0, udpOut())) }],
    out: [udpOut(), ipv4({ src: B4, dst: C, proto: 1, ttl: 63, id: 0, payload: icmp4(11, 0, 0, lan(C, S, 17, udp4(C, S, 5000, 53, data(20)))) })],
  },
  {
    name: 'ICMPv6 packet too big 1400: fragmentation needed with our IPv6 MTU (1280) - 20',
    steps: [opened, { input: v6('2001:db8:beef::1', own(C), 58, icmpv6('2001:db8:beef::1', own(C), 2, 0, 1400, udpOut())) }],
    out: [udpOut(), ipv4({ src: B4, dst: C, proto: 1, ttl: 63, id: 0, payload: icmp4(3, 4, 1260, lan(C, S, 17, udp4(C, S, 5000, 53, data(20)))) })],
  },
  {
    name: 'drop nat46_no_flow: an ICMPv6 error quoting a flow nobody opened',
    steps: [{ input: v6(d96(S), own(C), 58, icmpv6(d96(S), own(C), 1, 4, 0, udpOut())) }],
    out: [],
    drops: { nat46_no_flow: 1 },
  },
  {
    name: 'drop nat46_untranslatable_icmp: an ICMPv4 redirect (RFC 7915 §4.2: silently dropped)',
    steps: [{ input: ipv4({ src: C, dst: S, proto: 1, payload: icmp4(5, 1, 0, udp(S, 53, C, 5000)) }) }],
    out: [],
    drops: { nat46_untranslatable_icmp: 1 },
  },
  {
    // RFC 7915 §4.1. LSRR (131) with one address and the pointer at it (4 <= length 7): not yet at its destination.
    // The same option used up (pointer 8), and a record route (7) after a NOP: translated, options left behind.
    name: 'IPv4 options: an unexpired loose or strict source route gets destination unreachable, source route failed (drop nat46_source_route); a used-up one and record route are translated',
    steps: [
      { input: udp(C, 5000, S, 53, 20, { options: Buffer.from([131, 7, 4, 198, 51, 100, 7, 0]) }) },
      { input: udp(C, 5000, S, 53, 20, { options: Buffer.from([1, 137, 7, 4, 198, 51, 100, 7]) }) },
      { input: udp(C, 5000, S, 53, 20, { options: Buffer.from([131, 7, 8, 198, 51, 100, 7, 0]) }) },
      { input: udp(C, 5000, S, 53, 20, { options: Buffer.from([1, 7, 7, 4, 0, 0, 0, 0]) }) },
    ],
    out: [
      err4(3, 5, 0, udp(C, 5000, S, 53, 20, { options: Buffer.from([131, 7, 4, 198, 51, 100, 7, 0]) })),
      err4(3, 5, 0, udp(C, 5000, S, 53, 20, { options: Buffer.from([1, 137, 7, 4, 198, 51, 100, 7]) })),
      udpOut(),
      udpOut(),
    ],
    drops: { nat46_source_route: 2 },
  },
  {
    name: 'TTL 1: ICMPv4 time exceeded from b4Ipv4 to the client (the translator is a hop), drop nat46_ttl_expired',
    steps: [{ input: udp(C, 5000, S, 53, 20, { ttl: 1 }) }],
    out: [err4(11, 0, 0, udp(C, 5000, S, 53, 20, { ttl: 1 }))],
    drops: { nat46_ttl_expired: 1 },
    totals: { icmp4_sent: 1, nat46_flows_created: 0 },
  },
  {
    name: 'hop limit 1 on a reply: ICMPv6 time exceeded from the hand-off address, drop nat46_hop_limit_expired',
    steps: [opened, { input: udpIn(20, own(C), 1) }],
    out: [udpOut(), v6(LOCAL, d96(S), 58, icmpv6(LOCAL, d96(S), 3, 0, 0, udpIn(20, own(C), 1)))],
    drops: { nat46_hop_limit_expired: 1 },
    totals: { icmp6_sent: 1 },
  },
  {
    name: 'IPv4 fragments: each gets a Fragment header (ID, offset, M copied; RFC 7915 §4.1), the first the whole datagram\'s checksum',
    steps: [
      { input: ipv4({ src: C, dst: S, proto: 17, id: 0x1234, mf: true, payload: udp4(C, S, 5000, 53, data(100)).subarray(0, 64) }) },
      { input: ipv4({ src: C, dst: S, proto: 17, id: 0x1234, fragOffset: 64, payload: udp4(C, S, 5000, 53, data(100)).subarray(64) }) },
    ],
    out: [
      v6(own(C), d96(S), 44, fragment(17, 0, true, 0x1234, udp6(own(C), d96(S), 5000, 53, data(100)).subarray(0, 64)), 63),
      v6(own(C), d96(S), 44, fragment(17, 64, false, 0x1234, udp6(own(C), d96(S), 5000, 53, data(100)).subarray(64)), 63),
    ],
    totals: { nat46_flows_created: 1 },
  },
  {
    name: 'DF=0 above the IPv6 MTU: cut into fragments of at most 1280 bytes (RFC 7915 §4.1)',
    steps: [{ input: udp(C, 5000, S, 53, 1372, { id: 77 }) }],
    out: [
      v6(own(C), d96(S), 44, fragment(17, 0, true, 77, udp6(own(C), d96(S), 5000, 53, data(1372)).subarray(0, 1232)), 63),
      v6(own(C), d96(S), 44, fragment(17, 1232, false, 77, udp6(own(C), d96(S), 5000, 53, data(1372)).subarray(1232)), 63),
    ],
    totals: { tx_fragments: 2 },
  },
  {
    name: 'DF and above the IPv6 MTU: fragmentation needed with the MTU - 20, drop v4_df_too_big',
    steps: [{ input: udp(C, 5000, S, 53, 1233, { df: true }) }],
    out: [err4(3, 4, 1260, udp(C, 5000, S, 53, 1233, { df: true }))],
    drops: { v4_df_too_big: 1 },
  },
  {
    name: 'DF and exactly 1280 bytes as IPv6: translated',
    steps: [{ input: udp(C, 5000, S, 53, 1232, { df: true }) }],
    out: [udpOut(1232)],
  },
  {
    name: 'IPv6 fragments of a reply: the first passes by its ports, the later one by its identification (RFC 7915 §5.1.1)',
    steps: [
      opened,
      { input: v6(d96(S), own(C), 44, fragment(17, 0, true, 0xabcd1234, udp6(d96(S), own(C), 53, 5000, data(100)).subarray(0, 64))) },
      { input: v6(d96(S), own(C), 44, fragment(17, 64, false, 0xabcd1234, udp6(d96(S), own(C), 53, 5000, data(100)).subarray(64))) },
      { input: v6(d96(S), own(C), 44, fragment(17, 64, false, 0xabcd9999, udp6(d96(S), own(C), 53, 5000, data(100)).subarray(64))) },
    ],
    out: [
      udpOut(),
      ipv4({ src: S, dst: C, proto: 17, ttl: 63, id: 0x1234, mf: true, payload: udp4(S, C, 53, 5000, data(100)).subarray(0, 64) }),
      ipv4({ src: S, dst: C, proto: 17, ttl: 63, id: 0x1234, fragOffset: 64, payload: udp4(S, C, 53, 5000, data(100)).subarray(64) }),
    ],
    drops: { nat46_no_flow: 1 },
  },
  {
    name: 'drop nat46_udp_zero_checksum: UDP without a checksum (RFC 7915 §4.5)',
    steps: [{ input: (() => { const p = udp(C, 5000, S, 53); p.writeUInt16BE(0, 26); return p; })() }],
    out: [],
    drops: { nat46_udp_zero_checksum: 1 },
  },
  {
    name: 'ICMPv4 parameter problem, pointer 9 (protocol): ICMPv6 parameter problem, pointer 6 (next header; RFC 7915 §4.2 Figure 3)',
    steps: [{ input: ipv4({ src: C, dst: S, proto: 1, payload: icmp4(12, 0, 9 << 24, udp(S, 53, C, 5000)) }) }],
    out: [v6(own(C), d96(S), 58, icmpv6(own(C), d96(S), 4, 0, 6, v6(d96(S), own(C), 17, udp6(d96(S), own(C), 53, 5000, data(20)))), 63)],
  },
  {
    name: 'ICMPv6 parameter problem, pointer 7 (hop limit): ICMPv4 parameter problem, pointer 8 (TTL; RFC 7915 §5.2 Figure 6)',
    steps: [opened, { input: v6(d96(S), own(C), 58, icmpv6(d96(S), own(C), 4, 0, 7, udpOut())) }],
    out: [udpOut(), lan(S, C, 1, icmp4(12, 0, 8 << 24, lan(C, S, 17, udp4(C, S, 5000, 53, data(20)))))],
  },
  {
    name: 'a Destination Options header is skipped (RFC 7915 §5.1); a Routing header with segments left is dropped',
    steps: [
      opened,
      { input: v6(d96(S), own(C), 60, Buffer.concat([Buffer.from([17, 0, 1, 4, 0, 0, 0, 0]), udp6(d96(S), own(C), 53, 5000, data(20))])) },
      { input: v6(d96(S), own(C), 43, Buffer.concat([Buffer.from([17, 0, 0, 1, 0, 0, 0, 0]), udp6(d96(S), own(C), 53, 5000, data(20))])) },
    ],
    out: [udpOut(), lan(S, C, 17, udp4(S, C, 53, 5000, data(20)))],
    drops: { nat46_unsupported_header: 1 },
  },
  // ---- the firewall ----
  {
    name: 'drop nat46_no_flow: unsolicited UDP, an echo request from outside, a reply to another port',
    steps: [
      { input: udpIn() },
      { input: v6(d96(S), own(C), 58, icmpv6(d96(S), own(C), 128, 0, 0x12340001, data(8))) },
      opened,
      { input: v6(d96(S), own(C), 17, udp6(d96(S), own(C), 53, 5001, data(20))) },
    ],
    out: [udpOut()],
    drops: { nat46_no_flow: 3 },
  },
  {
    name: 'UDP flow lives 300 s after the client\'s last packet; replies do not extend it (RFC 4787 REQ-5, REQ-6)',
    steps: [{ input: udp(C, 5000, S, 53), now: 1000 }, { input: udpIn(), now: 300_999 }, { input: udpIn(), now: 301_000 }],
    out: [udpOut(), lan(S, C, 17, udp4(S, C, 53, 5000, data(20)))],
    drops: { nat46_no_flow: 1 },
    totals: { nat46_flows_expired: 1 },
  },
  // ---- hand-off (claim 1) ----
  {
    name: 'a peer\'s gateway ID: handed off unchanged in IPv6-in-IPv6 from our hand-off address, traffic class and flow label kept',
    steps: [{ input: v6(d96(S), own(C, PEER_GW), 17, udp6(d96(S), own(C, PEER_GW), 53, 5000, data(20)), 60, { tclass: 0x10, flowLabel: 0x12345 }) }],
    out: [v6(LOCAL, PEER, 41, v6(d96(S), own(C, PEER_GW), 17, udp6(d96(S), own(C, PEER_GW), 53, 5000, data(20)), 60, { tclass: 0x10, flowLabel: 0x12345 }), 64, { tclass: 0x10, flowLabel: 0x12345 })],
    totals: { nat46_handed_off: 1 },
  },
  {
    name: 'a hand-off from a peer for us: decapsulated, through the firewall, delivered as IPv4',
    steps: [opened, { input: v6(PEER, LOCAL, 41, udpIn()) }],
    out: [udpOut(), lan(S, C, 17, udp4(S, C, 53, 5000, data(20)))],
    totals: { nat46_handoff_received: 1, nat46_6to4: 1 },
  },
  {
    name: 'drop nat46_no_flow: a hand-off from a peer that no client of ours asked for',
    steps: [{ input: v6(PEER, LOCAL, 41, udpIn()) }],
    out: [],
    drops: { nat46_no_flow: 1 },
    totals: { nat46_handoff_received: 1 },
  },
  {
    name: 'drop nat46_handoff_loop: a hand-off from a peer for another gateway is never handed on',
    steps: [{ input: v6(PEER, LOCAL, 41, udpIn(20, own(C, PEER_GW))) }, { input: v6(PEER, LOCAL, 41, udpIn(20, own(C, 0x0777))) }],
    out: [],
    drops: { nat46_handoff_loop: 2 },
  },
  {
    name: 'drop nat46_handoff_not_peer: IPv6-in-IPv6 to the hand-off address from an unknown source',
    steps: [{ input: v6('2001:db8:ff00::9', LOCAL, 41, udpIn()) }],
    out: [],
    drops: { nat46_handoff_not_peer: 1 },
  },
  {
    // The peers' liveness probes (issue 23 adoption when a peer fails) and an operator's ping.
    name: 'hand-off address: an ICMPv6 echo request is answered from it, identifier, sequence and data unchanged (RFC 4443 §4.1-4.2)',
    steps: [{ input: v6(d96(S), LOCAL, 58, icmpv6(d96(S), LOCAL, 128, 0, 0x1234_0007, data(8)), 60) }],
    out: [v6(LOCAL, d96(S), 58, icmpv6(LOCAL, d96(S), 129, 0, 0x1234_0007, data(8)), 64)],
    totals: { echo_answered: 1, echo_replies: 0 },
  },
  {
    name: 'drop nat46_to_local: to the hand-off address an echo reply to no probe of ours, a request with a wrong checksum or from multicast, an ICMPv6 error, UDP',
    steps: [
      { input: v6(PEER, LOCAL, 58, icmpv6(PEER, LOCAL, 129, 0, 0x1234_0007, data(8))) },
      { input: v6(d96(S), LOCAL, 58, icmpv6(d96(S), LOCAL, 128, 0, 1, data(8), true)) },
      { input: v6('ff02::1', LOCAL, 58, icmpv6('ff02::1', LOCAL, 128, 0, 1, data(8))) },
      { input: v6(d96(S), LOCAL, 58, icmpv6(d96(S), LOCAL, 1, 3, 0, data(48))) },
      { input: v6(d96(S), LOCAL, 17, udp6(d96(S), LOCAL, 53, 5000, data(20))) },
    ],
    out: [],
    drops: { nat46_to_local: 5 },
    totals: { echo_answered: 0, echo_replies: 0 },
  },
  // ---- addresses that are not ours ----
  {
    name: 'drop nat46_unknown_gateway: a gateway ID neither ours nor a peer\'s',
    steps: [{ input: udpIn(20, own(C, 0x0777)) }],
    out: [],
    drops: { nat46_unknown_gateway: 1 },
  },
  {
    name: 'drop nat46_other_tenant: our gateway ID under another tenant',
    steps: [{ input: udpIn(20, own(C, GW, 0x2b)) }],
    out: [],
    drops: { nat46_other_tenant: 1 },
  },
  {
    name: 'drop nat46_not_ours: outside the prefix, or a padding bit set',
    steps: [{ input: udpIn(20, '2001:db8:4700:102::c000:20a') }, { input: udpIn(20, '2001:db8:462a:102:0:1:c000:20a') }],
    out: [],
    drops: { nat46_not_ours: 2 },
  },
  // ---- configured adoption (issue 23) ----
  {
    name: 'adoption: an adopted gateway\'s client leaves with that gateway ID; the reply comes back, not handed off to the peer with that ID',
    config: adopting,
    steps: [{ input: udp(A, 5000, S, 53) }, { input: aIn() }],
    out: [aOut(), lan(S, A, 17, udp4(S, A, 53, 5000, data(20)))],
    totals: { nat46_4to6: 1, nat46_6to4: 1, nat46_handed_off: 0, nat46_flows_created: 1 },
  },
  {
    name: 'adoption: a TCP flow of the failed gateway resumes here: the client\'s next segment opens it, the server\'s data comes back',
    config: adopting,
    steps: [
      { input: tcp(A, 40000, S, 80, 0x10) },
      { input: v6(d96(S), own(A, PEER_GW), 6, tcp6({ src: d96(S), dst: own(A, PEER_GW), sport: 80, dport: 40000, seq: 1000, flags: 0x18, payload: data(10) })) },
    ],
    out: [
      v6(own(A, PEER_GW), d96(S), 6, tcp6({ src: own(A, PEER_GW), dst: d96(S), sport: 40000, dport: 80, seq: 1000, flags: 0x10, payload: data(10) }), 63),
      lan(S, A, 6, tcp4({ src: S, dst: A, sport: 80, dport: 40000, seq: 1000, flags: 0x18, payload: data(10) })),
    ],
  },
  {
    name: 'adoption: the other LAN clients keep our own gateway ID',
    config: adopting,
    steps: [opened, { input: udpIn() }],
    out: [udpOut(), lan(S, C, 17, udp4(S, C, 53, 5000, data(20)))],
  },
  {
    name: 'adoption: drop nat46_no_flow: unsolicited for the adopted ID (never handed off), a reply to our ID for the adopted client, to the adopted ID for ours',
    config: adopting,
    steps: [{ input: aIn() }, { input: udp(A, 5000, S, 53) }, { input: aIn(own(A)) }, opened, { input: udpIn(20, own(C, PEER_GW)) }],
    out: [aOut(), udpOut()],
    drops: { nat46_no_flow: 3 },
    totals: { nat46_handed_off: 0 },
  },
  {
    name: 'adoption: a live peer hands us a packet for the adopted gateway ID: served (not a loop)',
    config: adopting,
    steps: [{ input: udp(A, 5000, S, 53) }, { input: v6(PEER2, LOCAL, 41, aIn()) }],
    out: [aOut(), lan(S, A, 17, udp4(S, A, 53, 5000, data(20)))],
    totals: { nat46_handoff_received: 1, nat46_6to4: 1 },
  },
  {
    name: 'adoption: a live peer\'s gateway ID is still handed off',
    config: adopting,
    steps: [{ input: v6(d96(S), own(C, PEER2_GW), 17, udp6(d96(S), own(C, PEER2_GW), 53, 5000, data(20))) }],
    out: [v6(LOCAL, PEER2, 41, v6(d96(S), own(C, PEER2_GW), 17, udp6(d96(S), own(C, PEER2_GW), 53, 5000, data(20))))],
    totals: { nat46_handed_off: 1 },
  },
  {
    name: 'adoption: ICMP errors both ways for the adopted client\'s flow use its adopted address (RFC 7915 §4.3, §5.3)',
    config: adopting,
    steps: [
      { input: udp(A, 5000, S, 53) },
      { input: v6(d96(S), own(A, PEER_GW), 58, icmpv6(d96(S), own(A, PEER_GW), 1, 4, 0, aOut())) },
      { input: ipv4({ src: A, dst: S, proto: 1, payload: icmp4(3, 3, 0, udp(S, 53, A, 5000, 20, { ttl: 50, id: 7 })) }) },
    ],
    out: [
      aOut(),
      lan(S, A, 1, icmp4(3, 3, 0, lan(A, S, 17, udp4(A, S, 5000, 53, data(20))))),
      v6(own(A, PEER_GW), d96(S), 58, icmpv6(own(A, PEER_GW), d96(S), 1, 4, 0, v6(d96(S), own(A, PEER_GW), 17, udp6(d96(S), own(A, PEER_GW), 53, 5000, data(20)), 50)), 63),
    ],
  },
  {
    name: 'adoption: drop nat46_untranslatable_icmp: an ICMPv6 error quoting the adopted client\'s IPv4 under our own gateway ID (no client here sends from it)',
    config: adopting,
    steps: [
      { input: udp(A, 5000, S, 53) },
      { input: v6(d96(S), own(A), 58, icmpv6(d96(S), own(A), 1, 4, 0, v6(own(A), d96(S), 17, udp6(own(A), d96(S), 5000, 53, data(20)), 63))) },
    ],
    out: [aOut()],
    drops: { nat46_untranslatable_icmp: 1 },
  },
  // ---- path MTU of the hand-off tunnel (RFC 2473 §7.1) ----
  {
    name: 'hand-off of exactly ipv6Mtu - 40 bytes: one tunnel packet of ipv6Mtu',
    config: mtu(1500),
    steps: [{ input: forPeer(1460) }],
    out: [v6(LOCAL, PEER, 41, forPeer(1460), 64, { tclass: 0x10, flowLabel: 0x12345 })],
    totals: { nat46_handed_off: 1, tx_fragments: 0 },
  },
  {
    name: 'hand-off above ipv6Mtu - 40: ICMPv6 packet too big (RFC 4443 §3.2) with MTU 1460 from the hand-off address, drop nat46_handoff_too_big',
    config: mtu(1500),
    steps: [{ input: forPeer(1461) }],
    out: [v6(LOCAL, d96(S), 58, icmpv6(LOCAL, d96(S), 2, 0, 1460, forPeer(1461).subarray(0, 1232)))],
    drops: { nat46_handoff_too_big: 1 },
    totals: { icmp6_sent: 1, nat46_handed_off: 0 },
  },
  {
    name: 'hand-off with a tunnel MTU below 1280 (ipv6Mtu 1300): a packet above 1280 gets packet too big with 1280, never less',
    config: mtu(1300),
    steps: [{ input: forPeer(1281) }],
    out: [v6(LOCAL, d96(S), 58, icmpv6(LOCAL, d96(S), 2, 0, 1280, forPeer(1281).subarray(0, 1232)))],
    drops: { nat46_handoff_too_big: 1 },
    totals: { icmp6_sent: 1 },
  },
  {
    name: 'hand-off of 1280 bytes with ipv6Mtu 1280: encapsulated, the tunnel packet cut into fragments of at most 1280 (RFC 2473 §7.1)',
    steps: [{ input: forPeer(1280) }, { input: forPeer(1241) }, { input: forPeer(1240) }],
    out: [
      handoffFragment(forPeer(1280), 0, 1232, 0), handoffFragment(forPeer(1280), 1232, 1280, 0),
      handoffFragment(forPeer(1241), 0, 1232, 1), handoffFragment(forPeer(1241), 1232, 1241, 1),
      v6(LOCAL, PEER, 41, forPeer(1240), 64, { tclass: 0x10, flowLabel: 0x12345 }),
    ],
    totals: { nat46_handed_off: 3, tx_fragments: 4, icmp6_sent: 0 },
  },
  {
    name: 'hand-off: no packet too big about an ICMPv6 error (RFC 4443 §2.4(e)), still drop nat46_handoff_too_big',
    steps: [{ input: v6(d96(S), own(C, PEER_GW), 58, icmpv6(d96(S), own(C, PEER_GW), 1, 4, 0, forPeer(1300))) }],
    out: [],
    drops: { nat46_handoff_too_big: 1 },
    totals: { icmp6_sent: 0 },
  },
  {
    name: 'hand-off fragments: from no peer nat46_handoff_not_peer; a fragment of anything but IPv6-in-IPv6 nat46_to_local',
    steps: [
      { input: v6('2001:db8:ff00::9', LOCAL, 44, fragment(41, 0, true, 1, forPeer(1280).subarray(0, 1232))) },
      { input: v6(PEER, LOCAL, 44, fragment(58, 0, true, 2, data(1232))) },
    ],
    out: [],
    drops: { nat46_handoff_not_peer: 1, nat46_to_local: 1 },
  },
  {
    name: 'drop nat46_source_not_mapped: a source outside the /96 (not an ICMPv6 error)',
    steps: [opened, { input: v6('2001:db8:beef::1', own(C), 17, udp6('2001:db8:beef::1', own(C), 53, 5000, data(20))) }],
    out: [udpOut()],
    drops: { nat46_source_not_mapped: 1 },
  },
];

function run(c: Case) {
  const h = handle(c.config);
  const out: Buffer[] = [];
  for (const s of c.steps) out.push(...addon.inject(h, s.input, s.now ?? 1000).out);
  return { out, n: addon.counters(h) };
}
const hex = (bs: Buffer[]) => bs.map((b) => b.toString('hex'));

for (const c of cases) {
  test(c.name, () => {
    const { out, n } = run(c);
    assert.deepEqual(hex(out), hex(c.out));
    assert.deepEqual(n.drops, Object.fromEntries(DROP_NAMES.map((d) => [d, c.drops?.[d] ?? 0])));
    for (const [k, v] of Object.entries(c.totals ?? {})) assert.equal(n.totals[k as keyof typeof n.totals], v, k);
  });
}

test('the table holds 16384 flows; the next new one is nat46_table_full, an existing one still passes', () => {
  const h = handle();
  const batch: Buffer[] = [];
  for (let i = 0; i < 16384; i++) batch.push(udp(`192.0.2.${1 + (i >> 12)}`, 1024 + (i & 0xfff), S, 53));
  assert.equal(addon.inject(h, batch, 1000).out.length, 16384);
  assert.equal(addon.inject(h, udp('192.0.2.200', 9, S, 53), 1000).out.length, 0);
  assert.equal(addon.inject(h, udp('192.0.2.1', 1024, S, 53), 1000).out.length, 1);
  const n = addon.counters(h);
  assert.deepEqual([n.drops.nat46_table_full, n.totals.nat46_flows_created], [1, 16384]);
});

test('a new gateway ID forgets the flows; the same config keeps them', () => {
  const h = handle();
  addon.inject(h, udp(C, 5000, S, 53), 1000);
  addon.configure(h, BASE);
  assert.equal(addon.inject(h, udpIn(), 1000).out.length, 1);
  addon.configure(h, { ...BASE, nat46: { ...BASE.nat46!, gatewayId: 0x0104 } });
  assert.equal(addon.inject(h, udpIn(20, own(C, 0x0104)), 1000).out.length, 0);
  assert.equal(addon.counters(h).drops.nat46_no_flow, 1);
});

test('adoption by a live reconfigure: taken over for the next packet, and given back the same way', () => {
  const h = handle();
  // Before: the failed peer's gateway ID is still handed off to it, and A would leave with ours.
  assert.deepEqual(hex(addon.inject(h, aIn(), 1000).out), hex([v6(LOCAL, PEER, 41, aIn())]));
  addon.configure(h, { ...BASE, ...adopting });
  assert.deepEqual(hex(addon.inject(h, [udp(A, 5000, S, 53), aIn()], 1000).out), hex([aOut(), lan(S, A, 17, udp4(S, A, 53, 5000, data(20)))]));
  addon.configure(h, BASE);
  // Given back: handed off again; the flow A opened under the adopted ID is not one of its address under ours;
  // A leaves with our ID.
  assert.deepEqual(hex(addon.inject(h, [aIn(), aIn(own(A)), udp(A, 5000, S, 53)], 1000).out),
    hex([v6(LOCAL, PEER, 41, aIn()), v6(own(A), d96(S), 17, udp6(own(A), d96(S), 5000, 53, data(20)), 63)]));
  const n = addon.counters(h);
  assert.deepEqual([n.totals.nat46_handed_off, n.drops.nat46_no_flow, n.totals.nat46_flows_created], [2, 1, 2]);
});

test('the addon refuses an adoption it cannot place (clients not a.b.c.d/len, an ID beyond gatewayBits)', () => {
  const h = addon.create();
  for (const adopted of [[{ gatewayId: 7, clients: '192.0.2.128' }], [{ gatewayId: 7, clients: '192.0.2.128/33' }], [{ gatewayId: 65536, clients: '192.0.2.128/25' }]])
    assert.throws(() => addon.configure(h, { ...BASE, nat46: { ...BASE.nat46!, adopted } }), /config\.nat46\.adopted/);
});

test('hand-off fragments (RFC 2473 §7.1): the peer reassembles them and delivers the packet to its client', () => {
  const us = handle();
  const frags = addon.inject(us, forPeer(1280), 1000).out;
  assert.equal(frags.length, 2);
  // The peer: gateway PEER_GW at PEER, we are its peer; its client C opened the flow.
  const peer = handle({ nat46: nativeNat46(resolveConfig({ ...CFG, nat46: { ...N46, gatewayId: PEER_GW, localAddress: PEER, peers: [{ gatewayId: GW, address: LOCAL }] } }).nat46!) });
  addon.inject(peer, udp(C, 5000, S, 53), 1000);
  assert.deepEqual(addon.inject(peer, frags[1], 1000).out, []);
  const n0 = addon.counters(peer);
  assert.deepEqual([n0.totals.nat46_handoff_received, Object.values(n0.drops).reduce((a, b) => a + b, 0)], [0, 0]);
  // Translated as any packet for the peer (RFC 7915 §5.1): TOS from the traffic class, TTL from the hop limit - 1.
  assert.deepEqual(hex(addon.inject(peer, frags[0], 1000).out), hex([ipv4({ src: S, dst: C, proto: 17, tos: 0x10, ttl: 59, id: 0, payload: udp4(S, C, 53, 5000, data(1232)) })]));
  const n = addon.counters(peer);
  assert.deepEqual([n.totals.nat46_handoff_received, n.totals.nat46_6to4], [1, 1]);
  assert.deepEqual(n.drops, Object.fromEntries(DROP_NAMES.map((d) => [d, 0])));
});

test('dslite is untouched by a nat46 config it does not have: IPv4 is still encapsulated to the AFTR', () => {
  const h = handle({ nat46: null });
  const r = addon.inject(h, udp(C, 5000, S, 53), 1000);
  assert.equal(r.out.length, 1);
  assert.equal(r.out[0][6], 4);
});

test('drop counter names match the addon (the nat46 drops included)', () => {
  assert.deepEqual(Object.keys(addon.counters(handle()).drops), [...DROP_NAMES]);
});

test('mutated nat46 traffic never crashes; each packet is forwarded or counted as one drop (an ICMP error may come with it)', () => {
  const h = handle();
  addon.inject(h, udp(C, 5000, S, 53), 1);
  addon.inject(h, echo4(8, C, S, 0x1234), 1);
  const seeds = [udp(C, 5000, S, 53), udpIn(), v6(PEER, LOCAL, 41, udpIn()), v6(d96(S), own(C), 58, icmpv6(d96(S), own(C), 1, 4, 0, udpOut())),
    ipv4({ src: C, dst: S, proto: 1, payload: icmp4(3, 3, 0, udp(S, 53, C, 5000)) }), v6(d96(S), own(C), 58, icmpv6(d96(S), own(C), 129, 0, 0x12340001, data(8))),
    v6(d96(S), own(C, PEER_GW), 17, udp6(d96(S), own(C, PEER_GW), 53, 5000, data(20)))];
  const dropSum = () => Object.values(addon.counters(h).drops).reduce((a, b) => a + b, 0);
  let drops = dropSum();
  for (const [i, input] of mutated(seeds, 4646, 20000)) {
    const r = addon.inject(h, input, 2 + i);
    const d = dropSum() - drops;
    drops += d;
    assert.ok(d <= 1 && (r.out.length > 0 || d === 1), `packet ${i}: ${input.toString('hex')}`);
  }
});

test('mutated traffic of an adopting gateway and of hand-offs too big for ipv6Mtu - 40: the same rule', () => {
  const h = handle(adopting);
  addon.inject(h, udp(A, 5000, S, 53), 1);
  const seeds = [udp(A, 5000, S, 53), aIn(), v6(PEER2, LOCAL, 41, aIn()), v6(d96(S), own(A, PEER_GW), 58, icmpv6(d96(S), own(A, PEER_GW), 1, 4, 0, aOut())),
    forPeer(1300), forPeer(1260), v6(d96(S), own(C, PEER_GW), 58, icmpv6(d96(S), own(C, PEER_GW), 1, 4, 0, forPeer(1300)))];
  const dropSum = () => Object.values(addon.counters(h).drops).reduce((a, b) => a + b, 0);
  let drops = dropSum();
  for (const [i, input] of mutated(seeds, 2323, 20000)) {
    const r = addon.inject(h, input, 2 + i);
    const d = dropSum() - drops;
    drops += d;
    assert.ok(d <= 1 && (r.out.length > 0 || d === 1), `packet ${i}: ${input.toString('hex')}`);
  }
});

// ---- a real tun: the worker, the addon's threads and the kernel around them ----

test('e2e: ping and an HTTP download from an IPv4 client to an IPv6 server through nat46 on a real tun', { skip: process.getuid?.() !== 0 && 'needs root (network namespaces)', timeout: 90_000 }, async () => {
  const { spawn, spawnSync } = await import('node:child_process');
  const { mkdtempSync, rmSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { createInterface } = await import('node:readline');
  const { fileURLToPath } = await import('node:url');
  const sh = (...args: string[]) => {
    const r = spawnSync(args[0], args.slice(1), { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const tag = `n46e${process.pid}`;
  const [lanNs, gwNs, coreNs] = ['l', 'g', 'c'].map((r) => `${tag}${r}`);
  const inNs = (ns: string, ...cmd: string[]) => sh('ip', 'netns', 'exec', ns, ...cmd);
  const dir = mkdtempSync(join(tmpdir(), 'n46e2e-'));
  const procs: Array<ReturnType<typeof spawn>> = [];
  try {
    for (const ns of [lanNs, gwNs, coreNs]) sh('ip', 'netns', 'add', ns), sh('ip', '-n', ns, 'link', 'set', 'lo', 'up');
    sh('ip', 'link', 'add', 'n46l', 'netns', lanNs, 'type', 'veth', 'peer', 'name', 'n46gl', 'netns', gwNs);
    sh('ip', 'link', 'add', 'n46c', 'netns', coreNs, 'type', 'veth', 'peer', 'name', 'n46gc', 'netns', gwNs);
    sh('ip', '-n', lanNs, 'addr', 'add', `${C}/24`, 'dev', 'n46l');
    sh('ip', '-n', gwNs, 'addr', 'add', '192.0.2.1/24', 'dev', 'n46gl');
    sh('ip', '-n', gwNs, 'addr', 'add', '2001:db8:c0::1/64', 'dev', 'n46gc', 'nodad');
    sh('ip', '-n', coreNs, 'addr', 'add', '2001:db8:c0::2/64', 'dev', 'n46c', 'nodad');
    sh('ip', '-n', coreNs, 'addr', 'add', `${d96(S)}/128`, 'dev', 'lo');
    for (const [ns, dev] of [[lanNs, 'n46l'], [gwNs, 'n46gl'], [gwNs, 'n46gc'], [coreNs, 'n46c']]) sh('ip', '-n', ns, 'link', 'set', dev, 'up');
    sh('ip', '-n', lanNs, 'route', 'add', 'default', 'via', '192.0.2.1');
    sh('ip', '-n', coreNs, '-6', 'route', 'add', '2001:db8:4600::/40', 'via', '2001:db8:c0::1');
    for (const k of ['net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1', 'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0']) inNs(gwNs, 'sysctl', '-qw', k);

    const runner = spawn('ip', ['netns', 'exec', gwNs, process.execPath, '--import', 'tsx', fileURLToPath(new URL('../lab/b4-runner.ts', import.meta.url)), JSON.stringify({ ...CFG, tunName: 'n46' })], { stdio: ['pipe', 'pipe', 'pipe'] });
    procs.push(runner);
    let stderr = '';
    runner.stderr!.on('data', (d) => (stderr += d));
    const lines: Array<{ kind: string; value?: unknown; error?: string }> = [];
    createInterface({ input: runner.stdout! }).on('line', (l) => lines.push(JSON.parse(l)));
    const next = async (kind: string) => {
      const end = Date.now() + 20_000;
      for (;;) {
        const i = lines.findIndex((m) => m.kind === kind || m.kind === 'error');
        if (i >= 0) {
          const [m] = lines.splice(i, 1);
          if (m.kind === 'error') throw new Error(`${m.error}; ${stderr}`);
          return m;
        }
        if (Date.now() > end || runner.exitCode !== null) throw new Error(`no ${kind} from the forwarder: ${stderr}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    await next('ready');
    sh('ip', '-n', gwNs, 'route', 'add', '203.0.113.0/24', 'dev', 'n46');
    sh('ip', '-n', gwNs, '-6', 'route', 'add', `${CLIENTS_PREFIX}/96`, 'dev', 'n46');
    sh('ip', '-n', gwNs, '-6', 'route', 'add', '2001:db8:6464::/96', 'via', '2001:db8:c0::2');

    assert.match(inNs(lanNs, 'busybox', 'ping', '-c', '3', '-i', '0.2', '-W', '2', '-w', '4', S), /3 packets transmitted, 3 packets received/);

    // TCP both ways, 2 MB towards the client: the server's 1500-byte IPv6 segments become 1480-byte IPv4 (DF), the
    // client's path MTU discovery meets our fragmentation-needed (ipv6Mtu 1280).
    writeFileSync(join(dir, 'big'), data(2_000_000));
    const server = spawn('ip', ['netns', 'exec', coreNs, 'python3', '-m', 'http.server', '--bind', d96(S), '--directory', dir, '8080'], { stdio: 'ignore' });
    procs.push(server);
    const fetch = `import time, urllib.request
for i in range(50):
    try:
        print(len(urllib.request.urlopen('http://${S}:8080/big', timeout=10).read())); break
    except OSError: time.sleep(0.1)`;
    assert.equal(inNs(lanNs, 'python3', '-c', fetch).trim(), '2000000');

    runner.stdin!.write(`${JSON.stringify({ op: 'counters' })}\n`);
    const n = (await next('counters')).value as import('../../src/forwarder/types.ts').Counters;
    assert.ok(n.nat46Translated4to6 >= 3 && n.nat46Translated6to4 >= 3 + 1000, `translated ${n.nat46Translated4to6} / ${n.nat46Translated6to4}`);
    assert.ok(n.nat46FlowsCreated >= 2, 'flows: the ping and the TCP connection');
    assert.equal(n.drops.offload_unsupported, 0, 'no super-packet reached nat46 (the tun asks for none)');
    runner.stdin!.write(`${JSON.stringify({ op: 'stop' })}\n`);
    await next('stopped');
  } finally {
    for (const p of procs) if (p.pid && p.exitCode === null) process.kill(p.pid, 'SIGTERM');
    await Promise.all(procs.map((p) => (p.exitCode !== null ? undefined : new Promise((r) => p.once('exit', r)))));
    for (const ns of [lanNs, gwNs, coreNs]) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  }
});
