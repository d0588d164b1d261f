// Golden packet tests of the B4 stages (src/forwarder/native/packet.cc), run through the addon's inject()
// hook, the same code the tun threads run. Expected bytes are derived here from the RFC fields
// (test/forwarder/packets.ts); every case also checks that exactly the named drop counters moved.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadAddon, type NativeConfig, type NativeOffload } from '../../src/forwarder/native.ts';
import { DROP_NAMES, type DropName, type Icmpv6ErrorEvent } from '../../src/forwarder/types.ts';
import { completeChecksum, flowLabel, fragment, icmp4, icmpv6, ipv4, ipv6, tcp4, tcpSyn, udp4 } from './packets.ts';

const addon = loadAddon();
const SW = '2001:db8:b4::1';
const AFTR = '2001:db8:ff::1';
const OTHER_AFTR = '2001:db8:ff::2';
const ROUTER = '2001:db8:1::1';
const LAN = '192.0.2.2';
const NET = '198.51.100.2';
const BASE: NativeConfig = { softwire: SW, aftr: AFTR, drainAftr: '', b4Ipv4: '192.0.0.2', echoTarget: '192.0.0.1', mtu: 1460, hopLimit: 64, mssClamp: 0, enabled: true };

const bytes = (n: number, seed = 7) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff));
const udpPkt = (len: number, extra: Partial<Parameters<typeof ipv4>[0]> = {}) =>
  ipv4({ src: LAN, dst: NET, proto: 17, payload: udp4(LAN, NET, 40000, 9, bytes(len - 28)), ...extra });
const fromNet = (len: number, extra: Partial<Parameters<typeof ipv4>[0]> = {}) =>
  ipv4({ src: NET, dst: LAN, proto: 17, payload: udp4(NET, LAN, 9, 40000, bytes(len - 28)), ...extra });
/** RFC 6333 §5.2 encapsulation as the B4 must produce it. */
const encap = (inner: Buffer, cfg: NativeConfig = BASE) =>
  ipv6({ src: cfg.softwire, dst: cfg.aftr, nextHeader: 4, hopLimit: cfg.hopLimit, tclass: inner[1], flowLabel: flowLabel(inner), payload: inner });
const fromAftr = (inner: Buffer, extra: Partial<Parameters<typeof ipv6>[0]> = {}) =>
  ipv6({ src: AFTR, dst: SW, nextHeader: 4, payload: inner, ...extra });
/** An ICMPv6 error to the softwire quoting (the start of) one of our tunnel packets. */
const icmpErr = (type: number, code: number, word: number, quoted: Buffer, opts: { src?: string; corrupt?: boolean } = {}) =>
  ipv6({ src: opts.src ?? ROUTER, dst: SW, nextHeader: 58, payload: icmpv6(opts.src ?? ROUTER, SW, type, code, word, quoted, opts.corrupt) });
const ourPacket = encap(udpPkt(100)).subarray(0, 40 + 28);
/** RFC 1191 fragmentation needed, from 192.0.0.2 (RFC 6333 §5.7), quoting at most 548 bytes (RFC 1812). */
const fragNeeded = (orig: Buffer, mtu: number) => {
  const body = icmp4(3, 4, mtu, orig.subarray(0, 548));
  return ipv4({ src: '192.0.0.2', dst: LAN, proto: 1, tos: 0xc0, id: 0, ttl: 64, payload: body });
};
const ev = (e: Partial<Icmpv6ErrorEvent> & { type: number; code: number }): Icmpv6ErrorEvent => ({
  source: ROUTER,
  quotedSrc: SW,
  quotedDst: AFTR,
  ...e,
});

interface Step {
  input: Buffer;
  now?: number;
}
interface Case {
  name: string;
  config?: Partial<NativeConfig>;
  steps: Step[];
  out: Buffer[];
  events?: Icmpv6ErrorEvent[];
  drops?: Partial<Record<DropName, number>>;
  totals?: Partial<Record<'tx_packets' | 'rx_packets' | 'tx_fragments' | 'icmp4_sent' | 'icmpv6_errors' | 'mss_clamped', number>>;
  tunnelMtu?: number;
  lastRx?: number;
}

const big = udpPkt(1500);
const chunk = (1460 + 40 - 48) & ~7; // fragment data per RFC 6333 §5.3 at tunnel MTU 1460
const innerForFrags = fromNet(1000);
const fragFromAftr = (off: number, len: number, more: boolean, id = 77, nh = 4, src = AFTR) =>
  ipv6({ src, dst: SW, nextHeader: 44, payload: fragment(nh, off, more, id, innerForFrags.subarray(off, off + len)) });

const cases: Case[] = [
  // ---- LAN -> AFTR: encapsulation (RFC 6333 §5.2, RFC 2473 §3) ----
  { name: 'encap 64-byte UDP', steps: [{ input: udpPkt(64) }], out: [encap(udpPkt(64))], totals: { tx_packets: 1 } },
  { name: 'encap copies DSCP+ECN to traffic class', steps: [{ input: udpPkt(200, { tos: 0xba }) }], out: [encap(udpPkt(200, { tos: 0xba }))] },
  { name: 'encap uses the configured hop limit', config: { hopLimit: 17 }, steps: [{ input: udpPkt(80) }], out: [encap(udpPkt(80), { ...BASE, hopLimit: 17 })] },
  { name: 'encap at exactly the tunnel MTU', steps: [{ input: udpPkt(1460, { df: true }) }], out: [encap(udpPkt(1460, { df: true }))] },
  {
    name: 'encap: flow label differs per 5-tuple, same for the flow',
    steps: [{ input: udpPkt(64) }, { input: ipv4({ src: LAN, dst: NET, proto: 17, payload: udp4(LAN, NET, 40001, 9, bytes(36)) }) }],
    out: [encap(udpPkt(64)), encap(ipv4({ src: LAN, dst: NET, proto: 17, payload: udp4(LAN, NET, 40001, 9, bytes(36)) }))],
  },
  {
    name: 'MSS clamp on a SYN towards the AFTR',
    config: { mssClamp: 1420 },
    steps: [{ input: ipv4({ src: LAN, dst: NET, proto: 6, payload: tcpSyn(LAN, NET, 5000, 80, 1460) }) }],
    out: [encap(ipv4({ src: LAN, dst: NET, proto: 6, payload: tcpSyn(LAN, NET, 5000, 80, 1420) }))],
    totals: { mss_clamped: 1 },
  },
  {
    name: 'MSS clamp at an odd option offset',
    config: { mssClamp: 1380 },
    steps: [{ input: ipv4({ src: LAN, dst: NET, proto: 6, payload: tcpSyn(LAN, NET, 5000, 80, 1460, 1) }) }],
    out: [encap(ipv4({ src: LAN, dst: NET, proto: 6, payload: tcpSyn(LAN, NET, 5000, 80, 1380, 1) }))],
  },
  {
    name: 'MSS below the clamp is left alone',
    config: { mssClamp: 1420 },
    steps: [{ input: ipv4({ src: LAN, dst: NET, proto: 6, payload: tcpSyn(LAN, NET, 5000, 80, 1200) }) }],
    out: [encap(ipv4({ src: LAN, dst: NET, proto: 6, payload: tcpSyn(LAN, NET, 5000, 80, 1200) }))],
    totals: { mss_clamped: 0 },
  },
  {
    name: 'DF packet above the tunnel MTU: ICMP fragmentation needed to the LAN',
    steps: [{ input: udpPkt(1461, { df: true }) }],
    out: [fragNeeded(udpPkt(1461, { df: true }), 1460)],
    drops: { v4_df_too_big: 1 },
    totals: { icmp4_sent: 1, tx_packets: 0 },
  },
  {
    name: 'DF=0 packet above the tunnel MTU: IPv6 fragments (RFC 6333 §5.3)',
    steps: [{ input: big }],
    out: [
      ipv6({ src: SW, dst: AFTR, nextHeader: 44, tclass: 0, flowLabel: flowLabel(big), payload: fragment(4, 0, true, 0, big.subarray(0, chunk)) }),
      ipv6({ src: SW, dst: AFTR, nextHeader: 44, tclass: 0, flowLabel: flowLabel(big), payload: fragment(4, chunk, false, 0, big.subarray(chunk)) }),
    ],
    totals: { tx_packets: 1, tx_fragments: 2 },
  },
  { name: 'IPv4 truncated header', steps: [{ input: udpPkt(64).subarray(0, 12) }], out: [], drops: { v4_truncated: 1 } },
  { name: 'IPv4 total length beyond the data', steps: [{ input: udpPkt(64).subarray(0, 50) }], out: [], drops: { v4_truncated: 1 } },
  { name: 'IPv4 IHL 4', steps: [{ input: udpPkt(64, { ihlWords: 4 }) }], out: [], drops: { v4_bad_ihl: 1 } },
  { name: 'IPv4 IHL beyond the data', steps: [{ input: udpPkt(64, { ihlWords: 15 }).subarray(0, 40) }], out: [], drops: { v4_truncated: 1 } },
  { name: 'IPv4 total length below the header', steps: [{ input: udpPkt(64, { totalLength: 16 }) }], out: [], drops: { v4_bad_length: 1 } },
  { name: 'IPv4 bad header checksum', steps: [{ input: udpPkt(64, { badChecksum: true }) }], out: [], drops: { v4_bad_checksum: 1 } },
  { name: 'version 5', steps: [{ input: Buffer.concat([Buffer.from([0x55]), udpPkt(64).subarray(1)]) }], out: [], drops: { unknown_version: 1 } },
  { name: 'empty read', steps: [{ input: Buffer.alloc(0) }], out: [], drops: { unknown_version: 1 } },
  { name: 'mode off drops everything', config: { enabled: false }, steps: [{ input: udpPkt(64) }, { input: fromAftr(fromNet(64)) }], out: [], drops: { mode_off: 2 } },

  // ---- AFTR -> LAN: decapsulation (RFC 6333 §5.2, §6.4) ----
  { name: 'decap from the AFTR', steps: [{ input: fromAftr(fromNet(64)), now: 1234567 }], out: [fromNet(64)], totals: { rx_packets: 1 }, lastRx: 1234567 },
  { name: 'decap 1460-byte inner', steps: [{ input: fromAftr(fromNet(1460)) }], out: [fromNet(1460)] },
  {
    name: 'decap: outer CE marks an ECT inner packet CE (RFC 6040)',
    steps: [{ input: fromAftr(fromNet(64, { tos: 0x02 }), { tclass: 0x03 }) }],
    out: [fromNet(64, { tos: 0x03 })],
  },
  { name: 'decap: outer CE over not-ECT inner is dropped', steps: [{ input: fromAftr(fromNet(64), { tclass: 0x03 }) }], out: [], drops: { inner_ecn_ce_not_ect: 1 } },
  {
    name: 'MSS clamp on a SYN-ACK from the AFTR',
    config: { mssClamp: 1420 },
    steps: [{ input: fromAftr(ipv4({ src: NET, dst: LAN, proto: 6, payload: tcpSyn(NET, LAN, 80, 5000, 1460) })) }],
    out: [ipv4({ src: NET, dst: LAN, proto: 6, payload: tcpSyn(NET, LAN, 80, 5000, 1420) })],
  },
  { name: 'spoofed outer source', steps: [{ input: ipv6({ src: OTHER_AFTR, dst: SW, nextHeader: 4, payload: fromNet(64) }) }], out: [], drops: { v6_spoofed_source: 1 } },
  { name: 'not to the softwire', steps: [{ input: ipv6({ src: AFTR, dst: '2001:db8:b4::9', nextHeader: 4, payload: fromNet(64) }) }], out: [], drops: { v6_not_softwire: 1 } },
  { name: 'wrong next header (UDP)', steps: [{ input: fromAftr(fromNet(64), { nextHeader: 17 }) }], out: [], drops: { v6_unexpected_next_header: 1 } },
  { name: 'wrong next header (IPv6-in-IPv6)', steps: [{ input: fromAftr(fromNet(64), { nextHeader: 41 }) }], out: [], drops: { v6_unexpected_next_header: 1 } },
  { name: 'IPv6 header truncated', steps: [{ input: fromAftr(fromNet(64)).subarray(0, 39) }], out: [], drops: { v6_truncated: 1 } },
  { name: 'IPv6 payload length beyond the data', steps: [{ input: fromAftr(fromNet(64)).subarray(0, 80) }], out: [], drops: { v6_truncated: 1 } },
  { name: 'inner truncated header', steps: [{ input: fromAftr(fromNet(64).subarray(0, 12)) }], out: [], drops: { inner_truncated: 1 } },
  { name: 'inner total length beyond the payload', steps: [{ input: fromAftr(fromNet(64).subarray(0, 40)) }], out: [], drops: { inner_truncated: 1 } },
  { name: 'inner trailing bytes', steps: [{ input: fromAftr(Buffer.concat([fromNet(64), Buffer.alloc(4)])) }], out: [], drops: { inner_bad_length: 1 } },
  { name: 'inner is IPv6', steps: [{ input: fromAftr(ipv6({ src: AFTR, dst: SW, nextHeader: 59, payload: Buffer.alloc(0) })) }], out: [], drops: { inner_bad_version: 1 } },
  { name: 'inner IHL 3', steps: [{ input: fromAftr(fromNet(64, { ihlWords: 3 })) }], out: [], drops: { inner_bad_ihl: 1 } },
  { name: 'inner total length below the header', steps: [{ input: fromAftr(fromNet(64, { totalLength: 10 })) }], out: [], drops: { inner_bad_length: 1 } },
  { name: 'inner bad checksum', steps: [{ input: fromAftr(fromNet(64, { badChecksum: true })) }], out: [], drops: { inner_bad_checksum: 1 } },

  // ---- fragmented tunnel packets from the AFTR (RFC 8200 §4.5, RFC 5722) ----
  { name: 'fragments reassembled, in order', steps: [{ input: fragFromAftr(0, 504, true) }, { input: fragFromAftr(504, 496, false) }], out: [innerForFrags] },
  { name: 'fragments reassembled, out of order', steps: [{ input: fragFromAftr(504, 496, false) }, { input: fragFromAftr(0, 504, true) }], out: [innerForFrags] },
  { name: 'overlapping fragments discarded', steps: [{ input: fragFromAftr(0, 504, true) }, { input: fragFromAftr(496, 504, false) }], out: [], drops: { v6_fragment_overflow: 1 } },
  { name: 'non-last fragment not a multiple of 8', steps: [{ input: fragFromAftr(0, 500, true) }], out: [], drops: { v6_fragment_bad: 1 } },
  { name: 'fragment of UDP, not IPv4', steps: [{ input: fragFromAftr(0, 504, true, 77, 17) }], out: [], drops: { v6_fragment_bad: 1 } },
  { name: 'fragment from a spoofed source', steps: [{ input: fragFromAftr(0, 504, true, 77, 4, OTHER_AFTR) }], out: [], drops: { v6_spoofed_source: 1 } },
  { name: 'fragment beyond 65535', steps: [{ input: ipv6({ src: AFTR, dst: SW, nextHeader: 44, payload: fragment(4, 65528, true, 77, bytes(504)) }) }], out: [], drops: { v6_fragment_overflow: 1 } },
  { name: 'fragment header truncated', steps: [{ input: ipv6({ src: AFTR, dst: SW, nextHeader: 44, payload: Buffer.alloc(4) }) }], out: [], drops: { v6_truncated: 1 } },
  {
    name: 'reassembly times out',
    steps: [{ input: fragFromAftr(0, 504, true), now: 1000 }, { input: fragFromAftr(504, 496, false), now: 7000 }],
    out: [],
    drops: { v6_fragment_expired: 1 },
  },

  // ---- ICMPv6 errors about the softwire (RFC 4443) ----
  {
    name: 'destination unreachable, no route (code 0): event',
    steps: [{ input: icmpErr(1, 0, 0, ourPacket) }],
    out: [],
    events: [ev({ type: 1, code: 0 })],
    totals: { icmpv6_errors: 1 },
  },
  { name: 'destination unreachable code 5 from an lwAFTR', steps: [{ input: icmpErr(1, 5, 0, ourPacket, { src: AFTR }) }], out: [], events: [ev({ type: 1, code: 5, source: AFTR })] },
  { name: 'time exceeded', steps: [{ input: icmpErr(3, 0, 0, ourPacket) }], out: [], events: [ev({ type: 3, code: 0 })] },
  { name: 'parameter problem', steps: [{ input: icmpErr(4, 0, 6, ourPacket) }], out: [], events: [ev({ type: 4, code: 0, pointer: 6 })] },
  {
    name: 'packet too big lowers the tunnel MTU; DF traffic then gets frag-needed at the new MTU',
    steps: [{ input: icmpErr(2, 0, 1400, ourPacket) }, { input: udpPkt(1400, { df: true }) }, { input: udpPkt(1360, { df: true }) }],
    out: [fragNeeded(udpPkt(1400, { df: true }), 1360), encap(udpPkt(1360, { df: true }))],
    events: [ev({ type: 2, code: 0, mtu: 1400 })],
    tunnelMtu: 1360,
    drops: { v4_df_too_big: 1 },
  },
  { name: 'packet too big below 1280 is taken as 1280', steps: [{ input: icmpErr(2, 0, 1000, ourPacket) }], out: [], events: [ev({ type: 2, code: 0, mtu: 1000 })], tunnelMtu: 1240 },
  {
    name: 'error quoting another AFTR',
    steps: [{ input: icmpErr(1, 0, 0, ipv6({ src: SW, dst: OTHER_AFTR, nextHeader: 4, payload: udpPkt(64) })) }],
    out: [],
    drops: { icmpv6_other_flow: 1 },
  },
  {
    name: 'error quoting another source',
    steps: [{ input: icmpErr(1, 3, 0, ipv6({ src: '2001:db8:b4::7', dst: AFTR, nextHeader: 4, payload: udpPkt(64) })) }],
    out: [],
    drops: { icmpv6_other_flow: 1 },
  },
  {
    name: 'error quoting a UDP packet of ours',
    steps: [{ input: icmpErr(1, 4, 0, ipv6({ src: SW, dst: AFTR, nextHeader: 17, payload: Buffer.alloc(8) })) }],
    out: [],
    drops: { icmpv6_other_flow: 1 },
  },
  { name: 'ICMPv6 bad checksum', steps: [{ input: icmpErr(1, 0, 0, ourPacket, { corrupt: true }) }], out: [], drops: { icmpv6_bad_checksum: 1 } },
  { name: 'ICMPv6 quoting less than a header', steps: [{ input: icmpErr(1, 0, 0, ourPacket.subarray(0, 30)) }], out: [], drops: { icmpv6_truncated: 1 } },
  { name: 'ICMPv6 shorter than 8 bytes', steps: [{ input: ipv6({ src: ROUTER, dst: SW, nextHeader: 58, payload: Buffer.alloc(4) }) }], out: [], drops: { icmpv6_truncated: 1 } },
  { name: 'echo request to the softwire', steps: [{ input: icmpErr(128, 0, 0x10001, Buffer.alloc(8)) }], out: [], drops: { icmpv6_informational: 1 } },
  { name: 'unassigned error type 5', steps: [{ input: icmpErr(5, 0, 0, ourPacket) }], out: [], drops: { icmpv6_other_type: 1 } },
];

for (const c of cases) {
  test(c.name, () => {
    const h = addon.create();
    addon.configure(h, { ...BASE, ...c.config });
    const out: Buffer[] = [];
    const events: Icmpv6ErrorEvent[] = [];
    for (const s of c.steps) {
      const r = addon.inject(h, s.input, s.now ?? 1000);
      out.push(...r.out);
      events.push(...r.events);
    }
    assert.deepEqual(out.map((b) => b.toString('hex')), c.out.map((b) => b.toString('hex')));
    assert.deepEqual(events.map((e) => ({ ...e })), c.events ?? []);
    const n = addon.counters(h);
    const expectedDrops = Object.fromEntries(DROP_NAMES.map((d) => [d, c.drops?.[d] ?? 0]));
    assert.deepEqual(n.drops, expectedDrops);
    for (const [k, v] of Object.entries(c.totals ?? {})) assert.equal(n.totals[k as keyof typeof n.totals], v, k);
    if (c.tunnelMtu !== undefined) assert.equal(n.tunnelMtu, c.tunnelMtu);
    if (c.lastRx !== undefined) assert.equal(n.lastRxFromAftrMs, c.lastRx);
  });
}

test('drop counter names match the addon', () => {
  const h = addon.create();
  assert.deepEqual(Object.keys(addon.counters(h).drops), [...DROP_NAMES]);
});

test('reconfigure with the same AFTR (mode, MSS clamp) keeps the PTB-learned MTU: the path is the same', () => {
  const h = addon.create();
  addon.configure(h, BASE);
  addon.inject(h, icmpErr(2, 0, 1300, ourPacket), 1);
  addon.configure(h, { ...BASE, mssClamp: 1400 });
  assert.equal(addon.counters(h).tunnelMtu, 1260);
});

test('reconfigure to a new AFTR: old AFTR becomes spoofed, PTB-learned MTU is forgotten', () => {
  const h = addon.create();
  addon.configure(h, BASE);
  addon.inject(h, icmpErr(2, 0, 1300, ourPacket), 1);
  assert.equal(addon.counters(h).tunnelMtu, 1260);
  addon.configure(h, { ...BASE, aftr: OTHER_AFTR });
  assert.equal(addon.counters(h).tunnelMtu, 1460);
  assert.deepEqual(addon.inject(h, fromAftr(fromNet(64)), 1).out, []);
  const r = addon.inject(h, udpPkt(64), 1);
  assert.equal(r.out[0].toString('hex'), encap(udpPkt(64), { ...BASE, aftr: OTHER_AFTR }).toString('hex'));
  assert.equal(addon.counters(h).drops.v6_spoofed_source, 1);
});

test('mutated and truncated packets never crash, and each is forwarded, held or dropped once', () => {
  const h = addon.create();
  addon.configure(h, BASE);
  let seed = 12345;
  const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) & 0xff;
  const seeds = [udpPkt(64), fromAftr(fromNet(64)), icmpErr(1, 0, 0, ourPacket), fragFromAftr(0, 504, true)];
  const dropSum = () => Object.values(addon.counters(h).drops).reduce((a, b) => a + b, 0);
  let drops = 0;
  let held = 0;
  for (let i = 0; i < 20000; i++) {
    const p = Buffer.from(seeds[i % seeds.length]);
    for (let k = 0; k < 3; k++) p[rnd() % p.length] = rnd();
    const cut = rnd() % 4 === 0 ? rnd() % p.length : p.length;
    const input = p.subarray(0, cut);
    const r = addon.inject(h, input, i);
    const d = dropSum() - drops;
    drops += d;
    const isFragment = input.length >= 40 && input[0] >> 4 === 6 && input[6] === 44;
    const handled = (r.out.length > 0 || r.events.length > 0 ? 1 : 0) + d;
    if (isFragment) {
      held += handled === 0 ? 1 : 0; // kept for reassembly; a stale datagram may be dropped meanwhile
    } else {
      assert.equal(handled, 1, `packet ${i}: ${input.toString('hex')}`);
    }
  }
  assert.ok(drops > 1000 && held > 0, `${drops} drops, ${held} held`);
});

// ---- offloads (IFF_VNET_HDR): TSO super-packets and partial checksums ----

const TS_OPTS = Buffer.from([1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]); // NOP NOP timestamps
const SEQ = 0xfffff000; // wraps inside the super-packet
const superPayload = bytes(3000, 3);
const tcpSeg = (seq: number, flags: number, payload: Buffer, id: number, partial = false) =>
  ipv4({ src: LAN, dst: NET, proto: 6, id, df: true, payload: tcp4({ src: LAN, dst: NET, sport: 5000, dport: 80, seq, flags, options: TS_OPTS, payload, partial }) });
const superPacket = tcpSeg(SEQ, 0x19, superPayload, 100, true); // FIN PSH ACK, 52 bytes of headers
const TCP_CSUM = { csumStart: 20, csumOffset: 16 };

interface OffloadCase {
  name: string;
  config?: Partial<NativeConfig>;
  input: Buffer;
  offload: { csumStart?: number; csumOffset?: number; gsoSize?: number; usoSize?: number };
  /** Expected packets with complete checksums, and the offload metadata each must carry. */
  out: Array<{ pkt: Buffer; offload: { csumStart: number; csumOffset: number } | null }>;
  drops?: Partial<Record<DropName, number>>;
  tso?: number;
  uso?: number;
}

// UDP super-packets (USO) as the LAN's UDP GRO or a UDP_SEGMENT sender hands them over: one header, the
// datagrams' payloads back to back, UDP length and IPv4 total length of the whole, partial checksum.
const UDP_CSUM = { csumStart: 20, csumOffset: 6 };
const USO_OUT = { csumStart: 60, csumOffset: 6 };
const datagram = (payload: Buffer, id: number, partial = false) =>
  ipv4({ src: LAN, dst: NET, proto: 17, id, df: true, payload: udp4(LAN, NET, 40000, 9, payload, partial) });
const usoPayload = bytes(2500, 5);

const offloadCases: OffloadCase[] = [
  {
    name: 'TSO super-packet cut into MSS segments: length, IP ID, sequence, FIN/PSH on the last only',
    input: superPacket,
    offload: { ...TCP_CSUM, gsoSize: 1000 },
    out: [0, 1, 2].map((i) => ({
      pkt: encap(tcpSeg(SEQ + 1000 * i, i < 2 ? 0x10 : 0x19, superPayload.subarray(1000 * i, 1000 * (i + 1)), 100 + i)),
      offload: { csumStart: 60, csumOffset: 16 },
    })),
    tso: 3,
  },
  {
    name: 'TSO with a short last segment',
    input: tcpSeg(1, 0x18, bytes(2500), 7, true),
    offload: { ...TCP_CSUM, gsoSize: 1400 },
    out: [
      { pkt: encap(tcpSeg(1, 0x10, bytes(2500).subarray(0, 1400), 7)), offload: { csumStart: 60, csumOffset: 16 } },
      { pkt: encap(tcpSeg(1401, 0x18, bytes(2500).subarray(1400), 8)), offload: { csumStart: 60, csumOffset: 16 } },
    ],
    tso: 2,
  },
  {
    name: 'TSO segments above the tunnel MTU with DF: one frag-needed for the super-packet',
    config: { mtu: 1300 },
    input: superPacket,
    offload: { ...TCP_CSUM, gsoSize: 1400 },
    out: [{ pkt: fragNeeded(superPacket.subarray(0, 52 + 1400), 1300), offload: null }],
    drops: { v4_df_too_big: 1 },
  },
  {
    name: 'partial checksum kept through encapsulation',
    input: tcpSeg(5, 0x10, bytes(100), 9, true),
    offload: TCP_CSUM,
    out: [{ pkt: encap(tcpSeg(5, 0x10, bytes(100), 9)), offload: { csumStart: 60, csumOffset: 16 } }],
  },
  {
    name: 'partial checksum completed before outer fragmentation',
    input: ipv4({ src: LAN, dst: NET, proto: 6, payload: tcp4({ src: LAN, dst: NET, sport: 1, dport: 2, seq: 3, flags: 0x10, payload: bytes(1500), partial: true }) }),
    offload: TCP_CSUM,
    out: (() => {
      const full = ipv4({ src: LAN, dst: NET, proto: 6, payload: tcp4({ src: LAN, dst: NET, sport: 1, dport: 2, seq: 3, flags: 0x10, payload: bytes(1500) }) });
      const label = flowLabel(full);
      return [
        { pkt: ipv6({ src: SW, dst: AFTR, nextHeader: 44, flowLabel: label, payload: fragment(4, 0, true, 0, full.subarray(0, chunk)) }), offload: null },
        { pkt: ipv6({ src: SW, dst: AFTR, nextHeader: 44, flowLabel: label, payload: fragment(4, chunk, false, 0, full.subarray(chunk)) }), offload: null },
      ];
    })(),
  },
  {
    name: 'partial checksum kept through decapsulation',
    input: fromAftr(ipv4({ src: NET, dst: LAN, proto: 6, payload: tcp4({ src: NET, dst: LAN, sport: 80, dport: 5000, seq: 1, flags: 0x10, payload: bytes(300), partial: true }) })),
    offload: { csumStart: 60, csumOffset: 16 },
    out: [{ pkt: ipv4({ src: NET, dst: LAN, proto: 6, payload: tcp4({ src: NET, dst: LAN, sport: 80, dport: 5000, seq: 1, flags: 0x10, payload: bytes(300) }) }), offload: TCP_CSUM }],
  },
  { name: 'checksum offset beyond the packet', input: udpPkt(64), offload: { csumStart: 20, csumOffset: 60 }, out: [], drops: { offload_unsupported: 1 } },
  { name: 'checksum start inside the IPv4 header', input: udpPkt(64), offload: { csumStart: 10, csumOffset: 6 }, out: [], drops: { offload_unsupported: 1 } },
  { name: 'UDP datagram handed over as a TCP super-packet', input: udpPkt(1000), offload: { csumStart: 20, csumOffset: 6, gsoSize: 500 }, out: [], drops: { offload_unsupported: 1 } },
  {
    name: 'USO super-packet cut into datagrams: UDP length, total length, IP ID each; short last one',
    input: datagram(usoPayload, 300, true),
    offload: { ...UDP_CSUM, usoSize: 1000 },
    out: [0, 1, 2].map((i) => ({ pkt: encap(datagram(usoPayload.subarray(1000 * i, 1000 * (i + 1)), 300 + i)), offload: USO_OUT })),
    uso: 3,
  },
  {
    name: 'USO of 64-byte datagrams (what UDP GRO merges from a flood)',
    input: datagram(bytes(36 * 4, 9), 65535, true),
    offload: { ...UDP_CSUM, usoSize: 36 },
    out: [0, 1, 2, 3].map((i) => ({ pkt: encap(datagram(bytes(36 * 4, 9).subarray(36 * i, 36 * (i + 1)), (65535 + i) & 0xffff)), offload: USO_OUT })),
    uso: 4,
  },
  {
    name: 'USO datagrams above the tunnel MTU with DF: one frag-needed for the super-packet',
    config: { mtu: 1300 },
    input: datagram(usoPayload, 300, true),
    offload: { ...UDP_CSUM, usoSize: 1400 },
    out: [{ pkt: fragNeeded(datagram(usoPayload, 300, true).subarray(0, 28 + 1400), 1300), offload: null }],
    drops: { v4_df_too_big: 1 },
  },
  { name: 'USO of a TCP segment', input: tcpSeg(1, 0x10, bytes(2000), 3, true), offload: { ...TCP_CSUM, usoSize: 1000 }, out: [], drops: { offload_unsupported: 1 } },
  { name: 'USO without a partial checksum', input: datagram(usoPayload, 1), offload: { usoSize: 1000 }, out: [], drops: { offload_unsupported: 1 } },
  { name: 'USO with the checksum elsewhere than the UDP header', input: datagram(usoPayload, 1, true), offload: { csumStart: 20, csumOffset: 8, usoSize: 1000 }, out: [], drops: { offload_unsupported: 1 } },
  {
    name: 'USO whose UDP length disagrees with the IPv4 total length',
    input: (() => {
      const p = datagram(usoPayload, 1, true);
      p.writeUInt16BE(8 + 1000, 24);
      return p;
    })(),
    offload: { ...UDP_CSUM, usoSize: 1000 },
    out: [],
    drops: { offload_unsupported: 1 },
  },
  { name: 'USO of IPv4-in-IPv6 from the AFTR', input: fromAftr(datagram(usoPayload, 1, true)), offload: { csumStart: 60, csumOffset: 6, usoSize: 1000 }, out: [], drops: { offload_unsupported: 1 } },
  {
    name: 'decapsulated checksum start inside the outer header',
    input: fromAftr(fromNet(64)),
    offload: { csumStart: 30, csumOffset: 6 },
    out: [],
    drops: { offload_unsupported: 1 },
  },
];

/** The packets written (partial checksums completed as the kernel would) and their offload metadata. */
function assertOut(r: { out: Buffer[]; offloads: Array<NativeOffload | null> }, want: Array<{ pkt: Buffer; offload: object | null }>): void {
  const completed = r.out.map((b, i) => {
    const o = r.offloads[i];
    return (o ? completeChecksum(b, o.csumStart, o.csumOffset) : b).toString('hex');
  });
  assert.deepEqual(completed, want.map((o) => o.pkt.toString('hex')));
  assert.deepEqual(r.offloads, want.map((o) => o.offload));
}

for (const c of offloadCases) {
  test(c.name, () => {
    const h = addon.create();
    addon.configure(h, { ...BASE, ...c.config });
    const r = addon.inject(h, c.input, 1000, c.offload);
    assertOut(r, c.out);
    const n = addon.counters(h);
    assert.deepEqual(n.drops, Object.fromEntries(DROP_NAMES.map((d) => [d, c.drops?.[d] ?? 0])));
    assert.equal(n.totals.tso_segmented, c.tso ?? 0);
    assert.equal(n.totals.uso_segmented, c.uso ?? 0);
  });
}

// ---- GRO-style coalescing of decapsulated TCP segments (one batch of reads) ----

const downSeg = (seq: number, flags: number, payload: Buffer, id: number, opts = TS_OPTS, corrupt = false) => {
  const p = ipv4({ src: NET, dst: LAN, proto: 6, id, df: true, payload: tcp4({ src: NET, dst: LAN, sport: 80, dport: 5000, seq, flags, options: opts, payload }) });
  if (corrupt) p[p.length - 1] ^= 0xff;
  return p;
};
const data = bytes(3500, 11);
const chunks = [data.subarray(0, 1000), data.subarray(1000, 2000), data.subarray(2000, 3000), data.subarray(3000)];
const GRO_OFF = { csumStart: 20, csumOffset: 16, gsoSize: 1000, hdrLen: 52 };

interface GroCase {
  name: string;
  batch: Buffer[];
  out: Array<{ pkt: Buffer; offload: object | null }>;
  coalesced: number;
}
// Segments the coalescer must pass on one by one, unchanged and in order.
const unmerged = (name: string, ...segs: Buffer[]): GroCase => ({
  name,
  batch: segs.map((seg) => fromAftr(seg)),
  out: segs.map((pkt) => ({ pkt, offload: null })),
  coalesced: 0,
});
const groCases: GroCase[] = [
  {
    name: 'consecutive segments of a flow become one super-packet (PSH of the last kept)',
    batch: chunks.map((c, i) => fromAftr(downSeg(1000 + 1000 * i, i === 3 ? 0x18 : 0x10, c, 50 + i))),
    out: [{ pkt: downSeg(1000, 0x18, data, 50), offload: GRO_OFF }],
    coalesced: 4,
  },
  unmerged('a sequence gap ends the run', downSeg(1000, 0x10, chunks[0], 1), downSeg(2500, 0x10, chunks[1], 2)),
  unmerged('a segment with a bad checksum is passed on alone, never merged', downSeg(1000, 0x10, chunks[0], 1), downSeg(2000, 0x10, chunks[1], 2, TS_OPTS, true)),
  unmerged('different TCP options (timestamps) are not merged', downSeg(1000, 0x10, chunks[0], 1), downSeg(2000, 0x10, chunks[1], 2, Buffer.from([1, 1, 8, 10, 0, 0, 0, 9, 0, 0, 0, 2]))),
  {
    name: 'another packet in between flushes the run first (order kept)',
    batch: [fromAftr(downSeg(1000, 0x10, chunks[0], 1)), fromAftr(downSeg(2000, 0x10, chunks[1], 2)), fromAftr(fromNet(64)), fromAftr(downSeg(3000, 0x10, chunks[2], 3))],
    out: [
      { pkt: downSeg(1000, 0x10, data.subarray(0, 2000), 1), offload: GRO_OFF },
      { pkt: fromNet(64), offload: null },
      { pkt: downSeg(3000, 0x10, chunks[2], 3), offload: null },
    ],
    coalesced: 2,
  },
  unmerged('pure ACKs pass straight through', downSeg(1000, 0x10, Buffer.alloc(0), 1), downSeg(1000, 0x10, Buffer.alloc(0), 2)),
  unmerged('a short segment ends the run', downSeg(1000, 0x10, chunks[3], 1), downSeg(1500, 0x10, chunks[0], 2)),
];

for (const c of groCases) {
  test(`GRO: ${c.name}`, () => {
    const h = addon.create();
    addon.configure(h, BASE);
    const r = addon.inject(h, c.batch, 1000);
    assertOut(r, c.out);
    const n = addon.counters(h);
    assert.equal(n.totals.gro_coalesced, c.coalesced);
    assert.equal(n.totals.rx_packets, c.batch.length);
    assert.equal(Object.values(n.drops).reduce((a, b) => a + b, 0), 0);
  });
}
