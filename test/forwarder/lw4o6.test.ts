// lw4o6 (RFC 7596 lwB4) in the forwarder: the port-set arithmetic and the lwB4 address (types.ts), the config
// check, and golden packets through the addon's inject() hook (the code the tun threads run): NAPT44 into the
// port set (src/forwarder/native/napt.cc, lw4o6.cc), the return path, ICMP, hairpinning, the echo probe's
// reserved identifier, the check of ICMPv6 errors from the BR, and every new drop with its counter. Expected
// bytes are built from the RFC fields (test/forwarder/packets.ts), so every rewritten checksum is checked
// against one computed from scratch.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadAddon, type NativeConfig, type NativeHandle } from '../../src/forwarder/native.ts';
import { DROP_NAMES, ForwarderConfigError, inPortSet, lwB4Address, portSet, resolveConfig, type DropName, type ForwarderConfig, type Lw4o6Binding } from '../../src/forwarder/types.ts';
import { checksum, completeChecksum, flowLabel, fragment, icmp4, icmpv6, ipv4, ipv6, mutated, tcp4, udp4 } from './packets.ts';
import { AftrFixture } from '../fixtures/aftr/aftr.ts';
import { LabB4 } from '../lab/b4.ts';
import { ADDR, createLab } from '../lab/lab.ts';

const addon = loadAddon();

// ---- the port set (RFC 7597 §5.1) ----

interface SetRow {
  name: string;
  b: Omit<Lw4o6Binding, 'ipv4'>;
  count: number;
  first: [number, number];
  last: [number, number];
  ranges: number;
}
const setRows: SetRow[] = [
  // RFC 7597 Appendix B's example: a = 4, k = 8, PSID 0x34: 15 ranges of 16 ports, A = 1..15.
  { name: 'RFC 7597 App. B: a=4 k=8 PSID 0x34', b: { psidOffset: 4, psidLength: 8, psid: 0x34 }, count: 240, first: [4928, 4943], last: [62272, 62287], ranges: 15 },
  // The default offset a = 6 (RFC 7597 §5.1): the system ports 0-1023 (A = 0) excluded.
  { name: 'a=6 (default) k=6 PSID 0', b: { psidOffset: 6, psidLength: 6, psid: 0 }, count: 1008, first: [1024, 1039], last: [64512, 64527], ranges: 63 },
  { name: 'a=6 k=8 PSID 0x34', b: { psidOffset: 6, psidLength: 8, psid: 0x34 }, count: 252, first: [1232, 1235], last: [64720, 64723], ranges: 63 },
  { name: 'a=4 k=12: single ports', b: { psidOffset: 4, psidLength: 12, psid: 0xabc }, count: 15, first: [0x1abc, 0x1abc], last: [0xfabc, 0xfabc], ranges: 15 },
  // a = 0: one contiguous block, nothing excluded but port 0.
  { name: 'a=0 k=8 PSID 0x12', b: { psidOffset: 0, psidLength: 8, psid: 0x12 }, count: 256, first: [0x1200, 0x12ff], last: [0x1200, 0x12ff], ranges: 1 },
  { name: 'a=0 k=8 PSID 0: port 0 excluded', b: { psidOffset: 0, psidLength: 8, psid: 0 }, count: 255, first: [1, 255], last: [1, 255], ranges: 1 },
  // k = 0: the whole address (no sharing); adjacent ranges merge.
  { name: 'k=0 a=0: all of 1-65535', b: { psidOffset: 0, psidLength: 0, psid: 0 }, count: 65535, first: [1, 65535], last: [1, 65535], ranges: 1 },
  { name: 'k=0 a=6: 1024-65535', b: { psidOffset: 6, psidLength: 0, psid: 0 }, count: 64512, first: [1024, 65535], last: [1024, 65535], ranges: 1 },
];
for (const r of setRows) {
  test(`portSet: ${r.name}`, () => {
    const b = { ipv4: '192.0.2.1', ...r.b };
    const s = portSet(b);
    assert.deepEqual([s.count, s.ranges.length, s.ranges[0], s.ranges[s.ranges.length - 1]], [r.count, r.ranges, r.first, r.last]);
    // inPortSet agrees with portSet on every port.
    let n = 0;
    for (let p = 0; p < 65536; p++) {
      const inRanges = s.ranges.some(([lo, hi]) => p >= lo && p <= hi);
      if (inPortSet(b, p) !== inRanges) assert.fail(`port ${p}: inPortSet ${!inRanges}, ranges ${inRanges}`);
      n += inRanges ? 1 : 0;
    }
    assert.equal(n, r.count);
  });
}

test('lwB4Address: first 64 bits of the prefix + RFC 7597 §6 IID (0 | IPv4 | PSID)', () => {
  const b = { ipv4: '192.168.10.77', psidOffset: 4, psidLength: 8, psid: 0x34 };
  const rows: Array<[string, Lw4o6Binding, string]> = [
    ['2001:db8:1:cafe::/64', b, '2001:db8:1:cafe:0:c0a8:a4d:34'],
    ['2001:db8:1::/64', b, '2001:db8:1::c0a8:a4d:34'],
    ['2001:db8:1:ffff::/48', b, '2001:db8:1::c0a8:a4d:34'], // bits beyond the prefix length are zero
    ['2001:db8::/64', { ipv4: '192.0.2.1', psidOffset: 0, psidLength: 0, psid: 0 }, '2001:db8::c000:201:0'],
    ['2001:db8:aaaa:bbbb::/62', { ipv4: '198.51.100.7', psidOffset: 6, psidLength: 8, psid: 0xff }, '2001:db8:aaaa:bbb8:0:c633:6407:ff'],
  ];
  for (const [prefix, bind, want] of rows) assert.equal(lwB4Address(prefix, bind), want, prefix);
  assert.throws(() => lwB4Address('2001:db8:1:cafe:8000::/65', b), /not an IPv6 prefix of \/64 or shorter/);
  assert.throws(() => lwB4Address('192.0.2.0/24', b), /not an IPv6 prefix/);
});

// ---- config check ----

const CFG: ForwarderConfig = { tunName: 'b4tun', softwire: '2001:db8:1:cafe:0:c633:6407:34', aftr: '2001:db8:ff::1', mode: 'lw4o6', lw4o6: { ipv4: '198.51.100.7', psidOffset: 4, psidLength: 8, psid: 0x34 } };
const badConfigs: Array<[string, Partial<ForwarderConfig>, string[]]> = [
  ['lw4o6 without a binding', { lw4o6: undefined }, ["lw4o6: required when mode is 'lw4o6'"]],
  ['a + k above 16', { lw4o6: { ipv4: '198.51.100.7', psidOffset: 6, psidLength: 11, psid: 0 } }, ['lw4o6: psidOffset + psidLength above 16']],
  ['psid >= 2^k', { lw4o6: { ipv4: '198.51.100.7', psidOffset: 6, psidLength: 4, psid: 16 } }, ['lw4o6.psid: integer below 2^psidLength']],
  ['offset 16', { lw4o6: { ipv4: '198.51.100.7', psidOffset: 16, psidLength: 0, psid: 0 } }, ['lw4o6.psidOffset: integer 0..15']],
  ['a set of one port', { lw4o6: { ipv4: '198.51.100.7', psidOffset: 0, psidLength: 16, psid: 9 } }, ['lw4o6: the port set has fewer than 2 ports']],
  ['an IPv6 binding address', { lw4o6: { ipv4: '2001:db8::1', psidOffset: 6, psidLength: 6, psid: 1 } }, ['lw4o6.ipv4: not an IPv4 address']],
];
for (const [name, patch, problems] of badConfigs) {
  test(`config: rejects ${name}`, () => {
    assert.throws(
      () => resolveConfig({ ...CFG, ...patch }),
      (e: unknown) => e instanceof ForwarderConfigError && assert.deepEqual(e.problems, problems) === undefined,
    );
  });
}
test('config: lw4o6 resolves enabled, with a copy of the binding; dslite without one as before', () => {
  const r = resolveConfig(CFG);
  assert.deepEqual([r.mode, r.enabled, r.lw4o6], ['lw4o6', true, CFG.lw4o6]);
  assert.equal(resolveConfig({ ...CFG, mode: 'dslite', lw4o6: undefined }).lw4o6, undefined);
});

// ---- the data plane ----

const BIND: Lw4o6Binding = { ipv4: '198.51.100.7', psidOffset: 4, psidLength: 8, psid: 0x34 };
const PUB = BIND.ipv4;
const SW = lwB4Address('2001:db8:1:cafe::/64', BIND);
const BR = '2001:db8:ff::1';
const OTHER_BR = '2001:db8:ff::2';
const A = '192.168.1.10';
const B = '192.168.1.20';
const NET = '203.0.113.9';
const ROUTER4 = '203.0.113.1';
const PROBE_ID = 4928; // the lowest port of the set: the echo probes' id
const BASE: NativeConfig = { softwire: SW, aftr: BR, drainAftr: '', b4Ipv4: '192.0.0.2', echoTarget: '192.0.0.1', mtu: 1460, hopLimit: 64, mssClamp: 0, enabled: true, lw4o6: BIND };

const data = (n: number, seed = 5) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 29 + seed) & 0xff));
const udp = (src: string, sport: number, dst: string, dport: number, len = 20) => ipv4({ src, dst, proto: 17, payload: udp4(src, dst, sport, dport, data(len)) });
const tcp = (src: string, sport: number, dst: string, dport: number, flags: number, len = 0) =>
  ipv4({ src, dst, proto: 6, payload: tcp4({ src, dst, sport, dport, seq: 1000, flags, payload: data(len) }) });
const echo = (type: 0 | 8, src: string, dst: string, id: number, seq = 1) => ipv4({ src, dst, proto: 1, payload: icmp4(type, 0, (id << 16) | seq, data(8)) });
const toBr = (inner: Buffer, br = BR) => ipv6({ src: SW, dst: br, nextHeader: 4, hopLimit: 64, tclass: inner[1], flowLabel: flowLabel(inner), payload: inner });
const fromBr = (inner: Buffer, br = BR) => ipv6({ src: br, dst: SW, nextHeader: 4, payload: inner });
/** ICMPv4 error (RFC 792) from `src` to `dst` quoting the first 28 bytes of `orig`. */
const icmpErr4 = (src: string, dst: string, type: number, code: number, orig: Buffer) => ipv4({ src, dst, proto: 1, payload: icmp4(type, code, 0, orig.subarray(0, 28)) });
/** ICMPv6 error from the BR quoting the start of one of our tunnel packets (RFC 4443 §2.4(c)). */
const icmp6Err = (type: number, code: number, quoted: Buffer, src = BR) => ipv6({ src, dst: SW, nextHeader: 58, payload: icmpv6(src, SW, type, code, 0, quoted.subarray(0, 40 + 28)) });

function handle(config: Partial<NativeConfig> = {}): NativeHandle {
  const h = addon.create();
  addon.configure(h, { ...BASE, ...config });
  return h;
}
const hex = (bs: Buffer[]) => bs.map((b) => b.toString('hex'));
const nonZero = (r: Record<string, number>) => Object.fromEntries(Object.entries(r).filter(([, n]) => n > 0));

interface Step {
  input: Buffer;
  now?: number;
}
interface Case {
  name: string;
  config?: Partial<NativeConfig>;
  steps: Step[];
  out: Buffer[];
  events?: object[];
  drops?: Partial<Record<DropName, number>>;
  totals?: Record<string, number>;
  active?: number;
}

/** RFC 1191 fragmentation needed from 192.0.0.2 to the LAN host, quoting at most 548 bytes (RFC 1812), as in dslite. */
const fragNeeded = (orig: Buffer, mtu: number, to: string) =>
  ipv4({ src: '192.0.0.2', dst: to, proto: 1, tos: 0xc0, id: 0, ttl: 64, payload: icmp4(3, 4, mtu, orig.subarray(0, 548)) });
const bigDf = (len: number) => ipv4({ src: A, dst: NET, proto: 17, df: true, payload: udp4(A, NET, 4930, 53, data(len - 28)) });

const cases: Case[] = [
  // ---- LAN -> BR: NAPT44 into the set, then the encapsulation of RFC 7596 §5.1 ----
  {
    // Regression: quoted after the NAPT (the shared address and port), the error matched none of the host's
    // sockets, its path MTU never dropped and TCP through the lwB4 stalled after the handshake (bench:forwarder).
    name: 'DF packet above the tunnel MTU: frag-needed quoting the packet as the LAN host sent it, no mapping made',
    steps: [{ input: bigDf(1461) }],
    out: [fragNeeded(bigDf(1461), 1460, A)],
    drops: { v4_df_too_big: 1 },
    active: 0,
  },
  {
    name: 'UDP: a source port in the set is kept; source becomes the shared address; to the BR from the lwB4 address',
    steps: [{ input: udp(A, 4930, NET, 53) }],
    out: [toBr(udp(PUB, 4930, NET, 53))],
    totals: { napt_created: 1, tx_packets: 1 },
    active: 1,
  },
  {
    name: 'endpoint-independent mapping (RFC 4787 REQ-1): the same port towards every destination',
    steps: [{ input: udp(A, 4930, NET, 53) }, { input: udp(A, 4930, ROUTER4, 123) }],
    out: [toBr(udp(PUB, 4930, NET, 53)), toBr(udp(PUB, 4930, ROUTER4, 123))],
    totals: { napt_created: 1 },
    active: 1,
  },
  {
    name: 'TCP: SYN out, SYN-ACK back, both rewritten with their checksums',
    steps: [{ input: tcp(A, 4931, NET, 80, 0x02) }, { input: fromBr(tcp(NET, 80, PUB, 4931, 0x12)) }],
    out: [toBr(tcp(PUB, 4931, NET, 80, 0x02)), tcp(NET, 80, A, 4931, 0x12)],
    totals: { napt_created: 1, tx_packets: 1, rx_packets: 1 },
  },
  {
    name: 'UDP return path to the internal endpoint; a zero UDP checksum stays zero',
    steps: [
      { input: udp(A, 4930, NET, 53) },
      { input: fromBr(udp(NET, 53, PUB, 4930, 40)) },
      { input: fromBr((() => { const p = udp(NET, 53, PUB, 4930, 12); p.writeUInt16BE(0, 26); return p; })()) },
    ],
    out: [toBr(udp(PUB, 4930, NET, 53)), udp(NET, 53, A, 4930, 40), (() => { const p = udp(NET, 53, A, 4930, 12); p.writeUInt16BE(0, 26); return p; })()],
    totals: { rx_packets: 2 },
  },
  {
    name: 'ICMP echo: the identifier is the port (RFC 7596 §8); 4934 is in the set and kept; the reply comes back',
    steps: [{ input: echo(8, A, NET, 4934) }, { input: fromBr(echo(0, NET, PUB, 4934)) }],
    out: [toBr(echo(8, PUB, NET, 4934)), echo(0, NET, A, 4934)],
    totals: { napt_created: 1 },
  },
  {
    name: 'ICMP error from outside about our flow: outer destination and the quoted header translated (RFC 5508 §4, REQ-4)',
    steps: [{ input: udp(A, 4930, NET, 53) }, { input: fromBr(icmpErr4(ROUTER4, PUB, 3, 3, udp(PUB, 4930, NET, 53))) }],
    out: [toBr(udp(PUB, 4930, NET, 53)), icmpErr4(ROUTER4, A, 3, 3, udp(A, 4930, NET, 53))],
  },
  {
    name: 'ICMP error from outside about our echo request: the quoted identifier and ICMP checksum translated',
    steps: [{ input: echo(8, A, NET, 4934) }, { input: fromBr(icmpErr4(ROUTER4, PUB, 11, 0, echo(8, PUB, NET, 4934))) }],
    out: [toBr(echo(8, PUB, NET, 4934)), icmpErr4(ROUTER4, A, 11, 0, echo(8, A, NET, 4934))],
  },
  {
    name: 'ICMP error from the LAN about an inbound flow: leaves from the shared address, quote translated',
    steps: [{ input: udp(A, 4930, NET, 53) }, { input: icmpErr4(A, NET, 3, 3, udp(NET, 53, A, 4930)) }],
    out: [toBr(udp(PUB, 4930, NET, 53)), toBr(icmpErr4(PUB, NET, 3, 3, udp(NET, 53, PUB, 4930)))],
    totals: { tx_packets: 2, napt_created: 1 },
  },
  {
    name: 'TCP closing: after FIN the mapping lives 240 s (RFC 5382 REQ-5)',
    steps: [
      { input: tcp(A, 4931, NET, 80, 0x02), now: 1000 },
      { input: fromBr(tcp(NET, 80, PUB, 4931, 0x12)), now: 1000 },
      { input: tcp(A, 4931, NET, 80, 0x11), now: 2000 },
      { input: fromBr(tcp(NET, 80, PUB, 4931, 0x10)), now: 2000 + 239_999 },
      { input: fromBr(tcp(NET, 80, PUB, 4931, 0x10)), now: 2000 + 239_999 + 240_000 },
    ],
    out: [toBr(tcp(PUB, 4931, NET, 80, 0x02)), tcp(NET, 80, A, 4931, 0x12), toBr(tcp(PUB, 4931, NET, 80, 0x11)), tcp(NET, 80, A, 4931, 0x10)],
    drops: { napt_no_mapping: 1 },
    totals: { napt_expired: 1 },
    active: 0,
  },
  {
    name: 'TCP established: 7440 s (RFC 5382 REQ-5)',
    steps: [
      { input: tcp(A, 4931, NET, 80, 0x02), now: 0 },
      { input: fromBr(tcp(NET, 80, PUB, 4931, 0x12)), now: 1000 },
      { input: fromBr(tcp(NET, 80, PUB, 4931, 0x10)), now: 1000 + 7_439_999 },
    ],
    out: [toBr(tcp(PUB, 4931, NET, 80, 0x02)), tcp(NET, 80, A, 4931, 0x12), tcp(NET, 80, A, 4931, 0x10)],
    active: 1,
  },
  {
    name: 'UDP mapping expires 300 s after the last outbound packet (RFC 4787 REQ-5, REQ-6: inbound does not refresh)',
    steps: [
      { input: udp(A, 4930, NET, 53), now: 1000 },
      { input: fromBr(udp(NET, 53, PUB, 4930)), now: 300_999 },
      { input: fromBr(udp(NET, 53, PUB, 4930)), now: 301_000 },
    ],
    out: [toBr(udp(PUB, 4930, NET, 53)), udp(NET, 53, A, 4930)],
    drops: { napt_no_mapping: 1 },
    totals: { napt_created: 1, napt_expired: 1 },
    active: 0,
  },
  {
    name: 'ICMP mapping lives 60 s (RFC 5508 REQ-1)',
    steps: [{ input: echo(8, A, NET, 4934), now: 0 }, { input: fromBr(echo(0, NET, PUB, 4934)), now: 60_000 }],
    out: [toBr(echo(8, PUB, NET, 4934))],
    drops: { napt_no_mapping: 1 },
    totals: { napt_expired: 1 },
  },
  {
    name: 'a non-first fragment from the LAN: only the source address changes',
    steps: [{ input: ipv4({ src: A, dst: NET, proto: 17, fragOffset: 1480, payload: data(40) }) }],
    out: [toBr(ipv4({ src: PUB, dst: NET, proto: 17, fragOffset: 1480, payload: data(40) }))],
    totals: { napt_created: 0 },
  },

  // ---- every new drop ----
  { name: 'drop lw_wrong_ipv4: from the BR to another address', steps: [{ input: udp(A, 4930, NET, 53) }, { input: fromBr(udp(NET, 53, '198.51.100.8', 4930)) }], out: [toBr(udp(PUB, 4930, NET, 53))], drops: { lw_wrong_ipv4: 1 } },
  { name: 'drop lw_port_out_of_set: from the BR to a port of another subscriber', steps: [{ input: fromBr(udp(NET, 53, PUB, 5000)) }], out: [], drops: { lw_port_out_of_set: 1 } },
  { name: 'drop lw_port_out_of_set: the system ports (A = 0)', steps: [{ input: fromBr(udp(NET, 53, PUB, 0x34 << 4)) }], out: [], drops: { lw_port_out_of_set: 1 } },
  { name: 'drop napt_no_mapping: a port of the set without a mapping', steps: [{ input: fromBr(udp(NET, 53, PUB, 4935)) }], out: [], drops: { napt_no_mapping: 1 } },
  { name: 'drop napt_no_mapping: the probe id from the BR without a probe is echo_late; TCP to the probe port has no mapping', steps: [{ input: fromBr(echo(0, '192.0.0.1', PUB, PROBE_ID)) }, { input: fromBr(tcp(NET, 80, PUB, PROBE_ID, 0x02)) }], out: [], drops: { echo_late: 1, napt_no_mapping: 1 } },
  { name: 'drop napt_no_mapping: hairpin to an unmapped port', steps: [{ input: udp(B, 4930, PUB, 4940) }], out: [], drops: { napt_no_mapping: 1 }, totals: { napt_created: 0 } },
  { name: 'drop napt_unsupported_proto: GRE from the LAN', steps: [{ input: ipv4({ src: A, dst: NET, proto: 47, payload: data(24) }) }], out: [], drops: { napt_unsupported_proto: 1 } },
  { name: 'drop napt_unsupported_proto: an echo request from outside', steps: [{ input: fromBr(echo(8, NET, PUB, 4934)) }], out: [], drops: { napt_unsupported_proto: 1 } },
  { name: 'drop napt_unsupported_proto: an echo reply from the LAN', steps: [{ input: echo(0, A, NET, 4934) }], out: [], drops: { napt_unsupported_proto: 1 } },
  { name: 'drop napt_fragment: a later fragment from the BR whose first was never seen (no ports to map)', steps: [{ input: fromBr(ipv4({ src: NET, dst: PUB, proto: 17, fragOffset: 1480, payload: data(40) })) }], out: [], drops: { napt_fragment: 1 } },
  { name: 'drop napt_no_mapping: an ICMP error from outside quoting an unmapped port', steps: [{ input: fromBr(icmpErr4(ROUTER4, PUB, 3, 3, udp(PUB, 4936, NET, 53))) }], out: [], drops: { napt_no_mapping: 1 } },
  { name: 'drop v6_spoofed_source: IPv4-in-IPv6 from another BR', steps: [{ input: udp(A, 4930, NET, 53) }, { input: fromBr(udp(NET, 53, PUB, 4930), OTHER_BR) }], out: [toBr(udp(PUB, 4930, NET, 53))], drops: { v6_spoofed_source: 1 } },
  {
    name: 'drop napt_no_free_port: a set of 15 ports (one the probes\') takes 14 flows',
    config: { lw4o6: { ...BIND, psidLength: 12, psid: 0xabc } },
    steps: Array.from({ length: 15 }, (_, i) => ({ input: udp(A, 20000 + i, NET, 53) })),
    out: [], // checked apart: 14 packets (ports random)
    drops: { napt_no_free_port: 1 },
    totals: { napt_created: 14, tx_packets: 14 },
    active: 14,
  },

  // ---- ICMPv6 errors from the BR (RFC 7596 §6.2) ----
  {
    name: 'code 5 quoting a packet we sent within 30 s: verified, raised, lw_policy_errors',
    steps: [{ input: udp(A, 4930, NET, 53), now: 1000 }, { input: icmp6Err(1, 5, toBr(udp(PUB, 4930, NET, 53))), now: 31_000 }],
    out: [toBr(udp(PUB, 4930, NET, 53))],
    events: [{ type: 1, code: 5, source: BR, quotedSrc: SW, quotedDst: BR, verified: true }],
    totals: { lw_policy_errors: 1, icmpv6_errors: 1 },
  },
  {
    name: 'code 5 quoting a packet sent more than 30 s ago: icmpv6_unverified, no event',
    steps: [{ input: udp(A, 4930, NET, 53), now: 1000 }, { input: icmp6Err(1, 5, toBr(udp(PUB, 4930, NET, 53))), now: 31_001 }],
    out: [toBr(udp(PUB, 4930, NET, 53))],
    drops: { icmpv6_unverified: 1 },
    totals: { lw_policy_errors: 0, icmpv6_errors: 0 },
  },
  {
    name: 'code 5 quoting a port without a mapping, another address, or a port out of the set: icmpv6_unverified',
    steps: [
      { input: icmp6Err(1, 5, toBr(udp(PUB, 4930, NET, 53))) },
      { input: icmp6Err(1, 5, toBr(udp('198.51.100.8', 4930, NET, 53))) },
      { input: icmp6Err(1, 5, toBr(udp(PUB, 5000, NET, 53))) },
    ],
    out: [],
    drops: { icmpv6_unverified: 3 },
  },
  {
    name: 'other errors quoting an unknown port are raised, unverified',
    steps: [{ input: icmp6Err(1, 0, toBr(udp(PUB, 4930, NET, 53))) }],
    out: [],
    events: [{ type: 1, code: 0, source: BR, quotedSrc: SW, quotedDst: BR, verified: false }],
    totals: { icmpv6_errors: 1 },
  },
  {
    name: 'code 5 quoting an echo probe (the reserved id): verified',
    steps: [{ input: icmp6Err(1, 5, toBr(echo(8, PUB, '192.0.0.1', PROBE_ID))) }],
    out: [],
    events: [{ type: 1, code: 5, source: BR, quotedSrc: SW, quotedDst: BR, verified: true }],
    totals: { lw_policy_errors: 1 },
  },
];

function run(c: Case) {
  const h = handle(c.config);
  const out: Buffer[] = [];
  const events: object[] = [];
  for (const s of c.steps) {
    const r = addon.inject(h, s.input, s.now ?? 1000);
    out.push(...r.out);
    events.push(...r.events.map((e) => ({ ...e })));
  }
  return { h, out, events, n: addon.counters(h) };
}

for (const c of cases) {
  test(c.name, () => {
    const { out, events, n } = run(c);
    if (c.name.startsWith('drop napt_no_free_port')) assert.equal(out.length, 14);
    else assert.deepEqual(hex(out), hex(c.out));
    assert.deepEqual(events, c.events ?? []);
    assert.deepEqual(n.drops, Object.fromEntries(DROP_NAMES.map((d) => [d, c.drops?.[d] ?? 0])));
    for (const [k, v] of Object.entries(c.totals ?? {})) assert.equal(n.totals[k as keyof typeof n.totals], v, k);
    if (c.active !== undefined) assert.equal(n.naptActive, c.active, 'naptActive');
  });
}

/** The source port of an encapsulated UDP/TCP packet (IPv6 40 + IPv4 20). */
const outPort = (p: Buffer) => p.readUInt16BE(60);

test('a source port outside the set is remapped into it; the packet is exact with that port', () => {
  const h = handle();
  const r = addon.inject(h, udp(A, 40000, NET, 53), 1000);
  const port = outPort(r.out[0]);
  assert.ok(inPortSet(BIND, port) && port !== PROBE_ID, `port ${port}`);
  assert.deepEqual(hex(r.out), hex([toBr(udp(PUB, port, NET, 53))]));
  // The return path finds it.
  assert.deepEqual(hex(addon.inject(h, fromBr(udp(NET, 53, PUB, port)), 1000).out), hex([udp(NET, 53, A, 40000)]));
  // The probe port is never handed out, even when asked for.
  const p2 = outPort(addon.inject(h, udp(B, PROBE_ID, NET, 53), 1000).out[0]);
  assert.ok(inPortSet(BIND, p2) && p2 !== PROBE_ID && p2 !== port);
});

test('1,000 flows get 1,000 distinct ports, all in the set, none the probe port; each maps back', () => {
  const bind = { ...BIND, psidOffset: 6, psidLength: 6, psid: 0 }; // 1008 ports, 1007 to hand out
  const h = handle({ lw4o6: bind });
  const flows = Array.from({ length: 1000 }, (_, i) => udp(`10.0.${i >> 8}.${i & 255}`, 40000 + i, NET, 53));
  const r = addon.inject(h, flows, 1000);
  const ports = r.out.map(outPort);
  assert.equal(new Set(ports).size, 1000);
  assert.ok(ports.every((p) => inPortSet(bind, p) && p !== 1024), 'in the set, not the probe port');
  r.out.forEach((pkt, i) => assert.equal(pkt.toString('hex'), toBr(udp(PUB, ports[i], NET, 53)).toString('hex')));
  const back = addon.inject(h, ports.map((p) => fromBr(udp(NET, 53, PUB, p))), 1000).out;
  assert.deepEqual(hex(back), hex(flows.map((_, i) => udp(NET, 53, `10.0.${i >> 8}.${i & 255}`, 40000 + i))));
  const n = addon.counters(h);
  assert.deepEqual([n.totals.napt_created, n.naptActive], [1000, 1000]);
  assert.deepEqual(nonZero(n.drops), {});
});

test('the table holds 16384 mappings; the next is napt_table_full', () => {
  const h = handle({ lw4o6: { ...BIND, psidOffset: 0, psidLength: 0, psid: 0 } });
  const flows = Array.from({ length: 16385 }, (_, i) => udp(`10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`, 1, NET, 53));
  assert.equal(addon.inject(h, flows, 1000).out.length, 16384);
  const n = addon.counters(h);
  assert.deepEqual(nonZero(n.drops), { napt_table_full: 1 });
  assert.equal(n.naptActive, 16384);
  // Once mappings expire, room again: the full table is swept before it refuses.
  assert.equal(addon.inject(h, udp(A, 9, NET, 53), 1000 + 300_000).out.length, 1);
});

test('hairpinning (RFC 4787 REQ-9): to a mapped port of the shared address, back to the LAN from the sender\'s external endpoint', () => {
  const h = handle();
  addon.inject(h, udp(A, 4930, NET, 53), 1000);
  const r = addon.inject(h, udp(B, 5000, PUB, 4930), 1000);
  assert.equal(r.out.length, 1);
  const bPort = r.out[0].readUInt16BE(20);
  assert.ok(inPortSet(BIND, bPort));
  assert.deepEqual(hex(r.out), hex([udp(PUB, bPort, A, 4930)]), 'IPv4 to the LAN, never to the BR');
  // The answer goes to B's mapping, by the same way.
  assert.deepEqual(hex(addon.inject(h, udp(A, 4930, PUB, bPort), 1000).out), hex([udp(PUB, 4930, B, 5000)]));
  const n = addon.counters(h);
  assert.deepEqual([n.totals.napt_hairpin, n.totals.tx_packets], [2, 1]);
  assert.deepEqual(nonZero(n.drops), {});
});

test('partial checksum (offload): only the pseudo-header part of the field changes, completed it is exact', () => {
  const h = handle();
  const inp = ipv4({ src: A, dst: NET, proto: 17, payload: udp4(A, NET, 4930, 53, data(100), true) });
  const r = addon.inject(h, inp, 1000, { csumStart: 20, csumOffset: 6 });
  assert.deepEqual(r.offloads, [{ csumStart: 60, csumOffset: 6 }]);
  assert.equal(completeChecksum(r.out[0], 60, 6).toString('hex'), toBr(udp(PUB, 4930, NET, 53, 100)).toString('hex'));
});

test('checksums of a translated packet verify when recomputed (IPv4 header, UDP pseudo-header)', () => {
  const h = handle();
  const [pkt] = addon.inject(h, udp(A, 40001, NET, 53, 33), 1000).out;
  const ip = pkt.subarray(40);
  assert.equal(checksum(ip.subarray(0, 20)), 0);
  const pseudo = Buffer.concat([ip.subarray(12, 20), Buffer.from([0, 17, 0, ip.length - 20])]);
  assert.equal(checksum(pseudo, ip.subarray(20)), 0);
});

test('echo probe in lw4o6: from the shared address with the reserved id; the reply is consumed, never NAPTed', () => {
  const h = handle();
  const p = addon.echoSend(h, null);
  assert.equal(p.id, PROBE_ID);
  const req = ipv4({ src: PUB, dst: '192.0.0.1', proto: 1, id: p.seq, payload: icmp4(8, 0, (PROBE_ID << 16) | p.seq, Buffer.alloc(0)) });
  assert.equal(p.packet!.toString('hex'), toBr(req).toString('hex'));
  const reply = ipv4({ src: '192.0.0.1', dst: PUB, proto: 1, payload: icmp4(0, 0, (PROBE_ID << 16) | p.seq, Buffer.alloc(0)) });
  const r = addon.inject(h, fromBr(reply), 5000);
  assert.deepEqual(r.out, []);
  assert.equal(addon.echoFinish(h, p.seq, 60e6).state, 'reply');
  const n = addon.counters(h);
  assert.deepEqual([n.totals.echo_replies, n.totals.rx_packets, n.naptActive], [1, 0, 0]);
  assert.deepEqual(nonZero(n.drops), {});
});

test('reconfigure: the same binding with another BR keeps the table; a new binding or leaving lw4o6 flushes it', () => {
  const h = handle();
  addon.inject(h, udp(A, 4930, NET, 53), 1000);
  addon.configure(h, { ...BASE, aftr: OTHER_BR });
  assert.equal(addon.counters(h).naptActive, 1);
  assert.deepEqual(hex(addon.inject(h, fromBr(udp(NET, 53, PUB, 4930), OTHER_BR), 1000).out), hex([udp(NET, 53, A, 4930)]));
  // New address: the old flows are gone (RFC 7596 re-provisioning accepts it).
  const moved = { ...BIND, ipv4: '198.51.100.9' };
  addon.configure(h, { ...BASE, aftr: OTHER_BR, lw4o6: moved });
  assert.equal(addon.counters(h).naptActive, 0);
  assert.deepEqual(addon.inject(h, fromBr(udp(NET, 53, '198.51.100.9', 4930), OTHER_BR), 1000).out, []);
  assert.deepEqual(nonZero(addon.counters(h).drops), { napt_no_mapping: 1 });
  // Another PSID flushes too; dslite flushes and forwards as a B4 again.
  addon.inject(h, udp(A, 4930, NET, 53), 1000);
  addon.configure(h, { ...BASE, lw4o6: { ...moved, psid: 0x35 } });
  assert.equal(addon.counters(h).naptActive, 0);
  addon.inject(h, udp(A, 4950, NET, 53), 1000);
  addon.configure(h, { ...BASE, lw4o6: null });
  assert.equal(addon.counters(h).naptActive, 0);
  assert.deepEqual(hex(addon.inject(h, udp(A, 4930, NET, 53), 1000).out), hex([toBr(udp(A, 4930, NET, 53))]));
});

test('drop counter names match the addon (the lw4o6 drops included)', () => {
  assert.deepEqual(Object.keys(addon.counters(handle()).drops), [...DROP_NAMES]);
});

test('mutated lw4o6 traffic never crashes, and each packet is forwarded, hairpinned or dropped once', () => {
  const h = handle();
  addon.inject(h, udp(A, 4930, NET, 53), 1);
  const seeds = [udp(A, 4930, NET, 53), fromBr(udp(NET, 53, PUB, 4930)), fromBr(icmpErr4(ROUTER4, PUB, 3, 3, udp(PUB, 4930, NET, 53))), icmpErr4(A, NET, 3, 3, udp(NET, 53, A, 4930)), udp(B, 5000, PUB, 4930), icmp6Err(1, 5, toBr(udp(PUB, 4930, NET, 53)))];
  const dropSum = () => Object.values(addon.counters(h).drops).reduce((a, b) => a + b, 0);
  let drops = dropSum();
  for (const [i, input] of mutated(seeds, 777, 20000)) {
    const r = addon.inject(h, input, 2 + i);
    const d = dropSum() - drops;
    drops += d;
    if (input.length >= 40 && input[0] >> 4 === 6 && input[6] === 44) continue; // a fragment may be held
    assert.equal((r.out.length > 0 || r.events.length > 0 ? 1 : 0) + d, 1, `packet ${i}: ${input.toString('hex')}`);
  }
});

test("mode 'off' keeps the binding for the probes only: request from the shared address with the reserved id; NAPT flushed", () => {
  const h = handle();
  addon.inject(h, udp(A, 4930, NET, 53), 1000);
  addon.configure(h, { ...BASE, enabled: false });
  assert.equal(addon.counters(h).naptActive, 0);
  const p = addon.echoSend(h, null);
  assert.equal(p.id, PROBE_ID);
  const reply = ipv4({ src: '192.0.0.1', dst: PUB, proto: 1, payload: icmp4(0, 0, (PROBE_ID << 16) | p.seq, Buffer.alloc(0)) });
  assert.deepEqual(addon.inject(h, [fromBr(reply), fromBr(udp(NET, 53, PUB, 4930))], 1000).out, []);
  assert.equal(addon.echoFinish(h, p.seq, 60e6).state, 'reply');
  assert.deepEqual(nonZero(addon.counters(h).drops), { mode_off: 1 });
});

test('TSO super-packet from the LAN: NAPT on its header, then cut as before; every segment from the shared address', () => {
  const h = handle();
  const payload = data(3000, 9);
  const seg = (src: string, seq: number, body: Buffer, id: number, partial = false) =>
    ipv4({ src, dst: NET, proto: 6, id, df: true, payload: tcp4({ src, dst: NET, sport: 4931, dport: 80, seq, flags: 0x10, payload: body, partial }) });
  const r = addon.inject(h, seg(A, 1, payload, 50, true), 1000, { csumStart: 20, csumOffset: 16, gsoSize: 1000 });
  const want = [0, 1, 2].map((i) => toBr(seg(PUB, 1 + 1000 * i, payload.subarray(1000 * i, 1000 * (i + 1)), 50 + i)));
  assert.deepEqual(r.out.map((b, i) => completeChecksum(b, r.offloads[i]!.csumStart, r.offloads[i]!.csumOffset).toString('hex')), hex(want));
  const n = addon.counters(h);
  assert.deepEqual([n.totals.tso_segmented, n.totals.napt_created], [3, 1]);
  // Hairpinned, a super-packet would have to go back whole: refused, counted.
  assert.deepEqual(addon.inject(h, ipv4({ src: B, dst: PUB, proto: 6, payload: tcp4({ src: B, dst: PUB, sport: 7000, dport: 4931, seq: 1, flags: 0x10, payload: data(2000), partial: true }) }), 1000, { csumStart: 20, csumOffset: 16, gsoSize: 1000 }).out, []);
  assert.deepEqual(nonZero(addon.counters(h).drops), { offload_unsupported: 1 });
});

test('TSO super-packet whose segments exceed the tunnel MTU with DF: one frag-needed quoting the LAN host\'s packet, no mapping', () => {
  const h = handle();
  const sp = ipv4({ src: A, dst: NET, proto: 6, id: 50, df: true, payload: tcp4({ src: A, dst: NET, sport: 4931, dport: 80, seq: 1, flags: 0x10, payload: data(3000, 9), partial: true }) });
  const r = addon.inject(h, sp, 1000, { csumStart: 20, csumOffset: 16, gsoSize: 1448 });
  // 20 + 20 + 1448 = 1488 bytes a segment, above 1460: the quote is the super-packet's first segment's worth.
  assert.deepEqual(hex(r.out), hex([fragNeeded(sp.subarray(0, 1488), 1460, A)]));
  const n = addon.counters(h);
  assert.deepEqual([nonZero(n.drops), n.totals.napt_created], [{ v4_df_too_big: 1 }, 0]);
});

test('packet too big from the BR about a mapped flow: raised verified, the tunnel MTU lowered as in dslite', () => {
  const h = handle();
  addon.inject(h, udp(A, 4930, NET, 53), 1000);
  const ptb = ipv6({ src: BR, dst: SW, nextHeader: 58, payload: icmpv6(BR, SW, 2, 0, 1400, toBr(udp(PUB, 4930, NET, 53)).subarray(0, 68)) });
  const r = addon.inject(h, ptb, 2000);
  assert.deepEqual(r.events.map((e) => ({ ...e })), [{ type: 2, code: 0, source: BR, quotedSrc: SW, quotedDst: BR, mtu: 1400, verified: true }]);
  assert.equal(addon.counters(h).tunnelMtu, 1360);
});

test('code 5 quoting an outer IPv6 fragment of ours: the first fragment is checked, a later one is not ours to judge', () => {
  const h = handle();
  addon.inject(h, udp(A, 4930, NET, 53), 1000);
  const inner = udp(PUB, 4930, NET, 53);
  const first = ipv6({ src: SW, dst: BR, nextHeader: 44, payload: fragment(4, 0, true, 5, inner) });
  const later = ipv6({ src: SW, dst: BR, nextHeader: 44, payload: fragment(4, 8, false, 5, inner) });
  const err = (q: Buffer) => ipv6({ src: BR, dst: SW, nextHeader: 58, payload: icmpv6(BR, SW, 1, 5, 0, q.subarray(0, 40 + 8 + 28)) });
  assert.equal(addon.inject(h, err(first), 2000).events.length, 1);
  assert.equal(addon.inject(h, err(later), 2000).events.length, 0);
  const n = addon.counters(h);
  assert.deepEqual([n.totals.lw_policy_errors, n.drops.icmpv6_unverified], [1, 1]);
});

// ---- end to end with a real tun (the forwarder lab's namespaces, PEERS.md §3) ----
// The lab's AFTR fixture is an RFC 6333 AFTR with its own NAT44 per softwire; as the far end of an lwB4 it
// takes the shared address (a private one here, as it expects from a B4) and the NAPTed identifiers like any
// B4's, so a ping from the LAN crosses both translations and comes back through the forwarder's NAPT.
test('e2e: ping from the LAN through the lwB4 on a real tun: NAPTed out, translated back', { skip: process.getuid?.() !== 0 && 'needs root (network namespaces)', timeout: 60_000 }, async () => {
  const lab = await createLab(`lw${process.pid}`);
  try {
    await AftrFixture.start(lab);
    const b4 = await LabB4.start(lab, { mode: 'lw4o6', lw4o6: { ipv4: '10.0.0.7', psidOffset: 6, psidLength: 6, psid: 5 } });
    const r = await lab.tryExec('lan', 'busybox', 'ping', '-c', '3', '-i', '0.2', '-W', '2', '-w', '4', ADDR.inet);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /3 packets transmitted, 3 packets received/);
    const c = await b4.counters();
    assert.ok(c.naptCreated === 1 && c.naptActive === 1 && c.txPackets >= 3 && c.rxPackets >= 3, JSON.stringify(c));
    // (The kernel's own IPv6 chatter into the tun counts as v6_not_softwire, as in dslite.)
    const lwDrops = ['lw_wrong_ipv4', 'lw_port_out_of_set', 'napt_no_mapping', 'napt_no_free_port', 'napt_table_full', 'napt_unsupported_proto', 'napt_fragment'] as const;
    assert.deepEqual(lwDrops.map((d) => c.drops[d]), lwDrops.map(() => 0));
  } finally {
    await lab.cleanup();
  }
});

test('a fragmented datagram from the BR: the first fragment maps by port, the later ones follow it by IP ID', () => {
  const h = handle();
  addon.inject(h, udp(A, 4930, NET, 53), 1000);
  const frags = (dst: string) => {
    const seg = udp4(NET, dst, 53, 4930, data(1200, 3));
    return [
      ipv4({ src: NET, dst, proto: 17, id: 77, mf: true, payload: seg.subarray(0, 800) }),
      ipv4({ src: NET, dst, proto: 17, id: 77, fragOffset: 800, payload: seg.subarray(800) }),
    ];
  };
  // Later fragment first: nothing to follow yet (dropped); then in order, both translated.
  const [first, second] = frags(PUB);
  const r = addon.inject(h, [fromBr(second), fromBr(first), fromBr(second)], 1000);
  assert.deepEqual(hex(r.out), hex(frags(A)));
  assert.deepEqual(nonZero(addon.counters(h).drops), { napt_fragment: 1 });
  // Forgotten after Napt::kFragMs.
  assert.deepEqual(addon.inject(h, fromBr(second), 1000 + 5000).out, []);
  assert.deepEqual(nonZero(addon.counters(h).drops), { napt_fragment: 2 });
});
