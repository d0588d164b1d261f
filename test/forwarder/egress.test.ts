// Golden tests of the packet-socket egress (src/forwarder/native/egress.cc) through the addon's inject()
// hook: with a next hop set by setNextHop(), the AFTR's encapsulated packets come out as the frames the
// PACKET_TX_RING takes (virtio_net_hdr, Ethernet header, packet); everything else, and every packet
// while the next hop is unknown, goes to the tun as before, counted.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadAddon, type NativeConfig, type NativeCounters } from '../../src/forwarder/native.ts';
import { DROP_NAMES } from '../../src/forwarder/types.ts';
import { flowLabel, ipv4, ipv6, udp4 } from './packets.ts';

const addon = loadAddon();
const SW = '2001:db8:b4::1';
const AFTR = '2001:db8:ff::1';
const LAN = '192.0.2.2';
const NET = '198.51.100.2';
const BASE: NativeConfig = { softwire: SW, aftr: AFTR, drainAftr: '', b4Ipv4: '192.0.0.2', echoTarget: '192.0.0.1', mtu: 1460, hopLimit: 64, mssClamp: 0, enabled: true };
const HOP = { aftr: AFTR, mac: '02:00:00:00:00:01', srcMac: '02:00:00:00:00:02', ifindex: 7, mtu: 1500 };

const bytes = (n: number, seed = 7) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff));
const udpPkt = (len: number, sport = 40000) => ipv4({ src: LAN, dst: NET, proto: 17, payload: udp4(LAN, NET, sport, 9, bytes(len - 28)) });
const encap = (inner: Buffer, aftr = AFTR) =>
  ipv6({ src: SW, dst: aftr, nextHeader: 4, hopLimit: 64, tclass: inner[1], flowLabel: flowLabel(inner), payload: inner });
const fromAftr = (inner: Buffer) => ipv6({ src: AFTR, dst: SW, nextHeader: 4, payload: inner });
const fromNet = (len: number) => ipv4({ src: NET, dst: LAN, proto: 17, payload: udp4(NET, LAN, 9, 40000, bytes(len - 28)) });

/** struct virtio_net_hdr, host (little-endian) order: flags, gso_type, hdr_len, gso_size, csum_start, csum_offset. */
function vnet(hdrLen: number, csum?: { start: number; offset: number }): Buffer {
  const b = Buffer.alloc(10);
  b[0] = csum ? 1 : 0; // VIRTIO_NET_HDR_F_NEEDS_CSUM
  b.writeUInt16LE(hdrLen, 2);
  if (csum) b.writeUInt16LE(csum.start, 6), b.writeUInt16LE(csum.offset, 8);
  return b;
}
/** Ethernet II (IEEE 802.3 §3.2) carrying IPv6 (EtherType 0x86DD, RFC 2464 §3). */
const eth = (dst: string, src: string) => Buffer.concat([Buffer.from(dst.replace(/:/g, ''), 'hex'), Buffer.from(src.replace(/:/g, ''), 'hex'), Buffer.from([0x86, 0xdd])]);
/** The frame as the ring holds it: the whole frame in the skb's linear part (hdr_len = frame length). */
const frame = (pkt: Buffer, csum?: { start: number; offset: number }) => Buffer.concat([vnet(14 + pkt.length, csum), eth(HOP.mac, HOP.srcMac), pkt]);

type Totals = Partial<Record<keyof NativeCounters['totals'], number>>;
interface Case {
  name: string;
  hop: (typeof HOP & { stale?: boolean }) | null;
  input: Buffer[];
  offload?: { csumStart?: number; csumOffset?: number };
  frames: Buffer[];
  out: Buffer[];
  totals: Totals;
}

const many = Array.from({ length: 70 }, (_, i) => udpPkt(64, 1000 + i));
const cases: Case[] = [
  {
    name: 'next hop known: the encapsulated packet leaves as an Ethernet frame to the next hop',
    hop: HOP,
    input: [udpPkt(64)],
    frames: [frame(encap(udpPkt(64)))],
    out: [],
    totals: { tx_packets: 1, egress_packet: 1, egress_tun: 0, egress_neigh_miss: 0 },
  },
  {
    name: 'partial checksum: NEEDS_CSUM with the start moved by the outer and the Ethernet header',
    hop: HOP,
    input: [udpPkt(64)],
    offload: { csumStart: 20, csumOffset: 6 },
    frames: [frame(encap(udpPkt(64)), { start: 20 + 40 + 14, offset: 6 })],
    out: [],
    totals: { egress_packet: 1 },
  },
  {
    name: 'next hop unknown: the packet goes to the tun, counted as a miss',
    hop: null,
    input: [udpPkt(64)],
    frames: [],
    out: [encap(udpPkt(64))],
    totals: { tx_packets: 1, egress_packet: 0, egress_tun: 1, egress_neigh_miss: 1 },
  },
  {
    name: 'next hop resolved for another AFTR (just reconfigured): a miss',
    hop: { ...HOP, aftr: '2001:db8:ff::2' },
    input: [udpPkt(64)],
    frames: [],
    out: [encap(udpPkt(64))],
    totals: { egress_packet: 0, egress_tun: 1, egress_neigh_miss: 1 },
  },
  {
    name: 'next hop STALE: the first packet goes to the tun for the kernel to re-confirm it, the rest as frames',
    hop: { ...HOP, stale: true },
    input: [udpPkt(64, 1), udpPkt(64, 2), udpPkt(64, 3)],
    frames: [frame(encap(udpPkt(64, 2))), frame(encap(udpPkt(64, 3)))],
    out: [encap(udpPkt(64, 1))],
    totals: { tx_packets: 3, egress_packet: 2, egress_tun: 1, egress_neigh_probe: 1, egress_neigh_miss: 0 },
  },
  {
    name: 'packet above the link MTU: the tun, so that the kernel fragments or sends packet too big',
    hop: { ...HOP, mtu: 100 },
    input: [udpPkt(64)],
    frames: [],
    out: [encap(udpPkt(64))],
    totals: { egress_packet: 0, egress_tun: 1, egress_neigh_miss: 0 },
  },
  {
    name: 'decapsulated IPv4 goes to the LAN through the tun, not counted as egress',
    hop: HOP,
    input: [fromAftr(fromNet(64))],
    frames: [],
    out: [fromNet(64)],
    totals: { rx_packets: 1, egress_packet: 0, egress_tun: 0 },
  },
  {
    name: '70 packets: two ring batches (64 + 6), in order',
    hop: HOP,
    input: many,
    frames: many.map((p) => frame(encap(p))),
    out: [],
    totals: { tx_packets: 70, egress_packet: 70 },
  },
  {
    name: 'jumbo tunnel packet (frame above the ring slot) is sent on its own',
    hop: { ...HOP, mtu: 9000 },
    input: [udpPkt(4000)],
    frames: [frame(encap(udpPkt(4000)))],
    out: [],
    totals: { tx_packets: 1, egress_packet: 1, egress_tun: 0 },
  },
];

for (const c of cases) {
  test(c.name, () => {
    const h = addon.create();
    addon.configure(h, { ...BASE, mtu: 8000 });
    addon.setNextHop(h, c.hop);
    const r = addon.inject(h, c.input, 1000, c.offload);
    assert.deepEqual(r.frames.map((b) => b.toString('hex')), c.frames.map((b) => b.toString('hex')));
    assert.deepEqual(r.out.map((b) => b.toString('hex')), c.out.map((b) => b.toString('hex')));
    const n = addon.counters(h);
    for (const [k, v] of Object.entries(c.totals)) assert.equal(n.totals[k as keyof typeof n.totals], v, k);
    assert.deepEqual(n.drops, Object.fromEntries(DROP_NAMES.map((d) => [d, 0])));
  });
}

test('without setNextHop (egress tun) every IPv6 packet goes to the tun, none counted as a miss', () => {
  const h = addon.create();
  addon.configure(h, BASE);
  const r = addon.inject(h, [udpPkt(64), udpPkt(80)], 1000);
  assert.deepEqual(r.frames, []);
  assert.deepEqual(r.out.map((b) => b.toString('hex')), [encap(udpPkt(64)), encap(udpPkt(80))].map((b) => b.toString('hex')));
  const n = addon.counters(h);
  assert.deepEqual([n.totals.egress_packet, n.totals.egress_tun, n.totals.egress_neigh_miss], [0, 2, 0]);
});

test('setNextHop rejects an incomplete next hop', () => {
  const h = addon.create();
  assert.throws(() => addon.setNextHop(h, { ...HOP, mac: 'not-a-mac' }), /next hop needs/);
});
