// Packet builders for the forwarder's golden tests: every byte comes from the RFC field layouts
// (RFC 791 IPv4, RFC 768 UDP, RFC 9293 TCP, RFC 8200 IPv6 + fragment header, RFC 4443 ICMPv6, RFC 792
// ICMPv4), written independently of the C code under test.

export function addr6(s: string): Buffer {
  const [head, tail] = s.includes('::') ? s.split('::') : [s, undefined];
  const words = (p: string | undefined) => (p ? p.split(':').map((w) => parseInt(w, 16)) : []);
  const h = words(head);
  const t = words(tail);
  const all = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill(0), ...t];
  const b = Buffer.alloc(16);
  all.forEach((w, i) => b.writeUInt16BE(w, i * 2));
  return b;
}
export const addr4 = (s: string): Buffer => Buffer.from(s.split('.').map(Number));

/** RFC 1071 Internet checksum. */
export function checksum(...parts: Buffer[]): number {
  let sum = 0;
  const all = Buffer.concat(parts);
  for (let i = 0; i + 1 < all.length; i += 2) sum += all.readUInt16BE(i);
  if (all.length % 2) sum += all[all.length - 1] << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return ~sum & 0xffff;
}

export interface V4 {
  src: string;
  dst: string;
  proto: number;
  payload: Buffer;
  tos?: number;
  ttl?: number;
  id?: number;
  df?: boolean;
  mf?: boolean;
  fragOffset?: number; // bytes
  ihlWords?: number; // default 5, or 5 + the options' words
  totalLength?: number; // default header + payload
  badChecksum?: boolean;
  /** RFC 791 §3.1 options, a multiple of 4 bytes (pad with 0, end of option list). */
  options?: Buffer;
}

export function ipv4(p: V4): Buffer {
  const words = p.ihlWords ?? 5 + (p.options?.length ?? 0) / 4;
  const ihl = words * 4;
  const h = Buffer.alloc(Math.max(ihl, 20));
  h[0] = 0x40 | words;
  p.options?.copy(h, 20);
  h[1] = p.tos ?? 0;
  h.writeUInt16BE(p.totalLength ?? h.length + p.payload.length, 2);
  h.writeUInt16BE(p.id ?? 1, 4);
  h.writeUInt16BE((p.df ? 0x4000 : 0) | (p.mf ? 0x2000 : 0) | ((p.fragOffset ?? 0) >> 3), 6);
  h[8] = p.ttl ?? 64;
  h[9] = p.proto;
  addr4(p.src).copy(h, 12);
  addr4(p.dst).copy(h, 16);
  h.writeUInt16BE((checksum(h) + (p.badChecksum ? 1 : 0)) & 0xffff, 10);
  return Buffer.concat([h, p.payload]);
}

/** The RFC 768 / RFC 9293 pseudo-header of an IPv4 upper layer of `len` bytes. */
export function l4Pseudo4(src: string, dst: string, proto: number, len: number): Buffer {
  const b = Buffer.alloc(12);
  addr4(src).copy(b, 0);
  addr4(dst).copy(b, 4);
  b[9] = proto;
  b.writeUInt16BE(len, 10);
  return b;
}

/** RFC 768 datagram; `partial`: the checksum field holds the pseudo-header sum, as checksum offload leaves it. */
export function udp4(src: string, dst: string, sport: number, dport: number, data: Buffer, partial = false): Buffer {
  const u = Buffer.alloc(8);
  u.writeUInt16BE(sport, 0);
  u.writeUInt16BE(dport, 2);
  u.writeUInt16BE(8 + data.length, 4);
  const pseudo = l4Pseudo4(src, dst, 17, 8 + data.length);
  const c = partial ? ~checksum(pseudo) & 0xffff : checksum(pseudo, u, data);
  u.writeUInt16BE(c === 0 && !partial ? 0xffff : c, 6);
  return Buffer.concat([u, data]);
}

export interface Tcp {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  seq: number;
  flags: number;
  options?: Buffer; // a multiple of 4 bytes
  payload?: Buffer;
  /** Leave the checksum as checksum offload does: the pseudo-header sum, not inverted (RFC 1071 §2). */
  partial?: boolean;
}

/** The segment of tcp4()/tcp6() with its checksum field 0: fixed ack 0x0a0b0c0d and window 64240. */
function tcpSegment(p: Tcp): Buffer {
  const opts = p.options ?? Buffer.alloc(0);
  const data = p.payload ?? Buffer.alloc(0);
  const t = Buffer.alloc(20);
  t.writeUInt16BE(p.sport, 0);
  t.writeUInt16BE(p.dport, 2);
  t.writeUInt32BE(p.seq >>> 0, 4);
  t.writeUInt32BE(0x0a0b0c0d, 8);
  t[12] = ((20 + opts.length) / 4) << 4;
  t[13] = p.flags;
  t.writeUInt16BE(64240, 14);
  const seg = Buffer.concat([t, opts, data]);
  return seg;
}

export function tcp4(p: Tcp): Buffer {
  const seg = tcpSegment(p);
  const pseudo = l4Pseudo4(p.src, p.dst, 6, seg.length);
  seg.writeUInt16BE(p.partial ? ~checksum(pseudo) & 0xffff : checksum(pseudo, seg), 16);
  return seg;
}

/** Completes a partial checksum the way the kernel does for checksum offload. */
export function completeChecksum(pkt: Buffer, csumStart: number, csumOffset: number): Buffer {
  const b = Buffer.from(pkt);
  b.writeUInt16BE(checksum(b.subarray(csumStart)), csumStart + csumOffset);
  return b;
}

/** A TCP SYN with `nops` NOP options before the MSS option (to test odd option offsets). */
export function tcpSyn(src: string, dst: string, sport: number, dport: number, mss: number, nops = 0): Buffer {
  const opts = Buffer.concat([Buffer.alloc(nops, 1), Buffer.from([2, 4, mss >> 8, mss & 0xff])]);
  const padded = Buffer.concat([opts, Buffer.alloc((4 - (opts.length % 4)) % 4)]);
  const t = Buffer.alloc(20);
  t.writeUInt16BE(sport, 0);
  t.writeUInt16BE(dport, 2);
  t.writeUInt32BE(0x01020304, 4);
  t[12] = ((20 + padded.length) / 4) << 4;
  t[13] = 0x02; // SYN
  t.writeUInt16BE(64240, 14);
  const seg = Buffer.concat([t, padded]);
  seg.writeUInt16BE(checksum(l4Pseudo4(src, dst, 6, seg.length), seg), 16);
  return seg;
}

export interface V6 {
  src: string;
  dst: string;
  nextHeader: number;
  payload: Buffer;
  hopLimit?: number;
  tclass?: number;
  flowLabel?: number;
  payloadLength?: number;
}

export function ipv6(p: V6): Buffer {
  const h = Buffer.alloc(40);
  h.writeUInt32BE(((6 << 28) | ((p.tclass ?? 0) << 20) | (p.flowLabel ?? 0)) >>> 0, 0);
  h.writeUInt16BE(p.payloadLength ?? p.payload.length, 4);
  h[6] = p.nextHeader;
  h[7] = p.hopLimit ?? 64;
  addr6(p.src).copy(h, 8);
  addr6(p.dst).copy(h, 24);
  return Buffer.concat([h, p.payload]);
}

/** RFC 8200 §4.5 fragment header followed by the fragment's data. */
export function fragment(nextHeader: number, offset: number, more: boolean, id: number, data: Buffer): Buffer {
  const f = Buffer.alloc(8);
  f[0] = nextHeader;
  f.writeUInt16BE(offset | (more ? 1 : 0), 2);
  f.writeUInt32BE(id, 4);
  return Buffer.concat([f, data]);
}

/** An ICMPv6 message (RFC 4443 §2.1) with its checksum over the RFC 8200 §8.1 pseudo-header. */
export function icmpv6(src: string, dst: string, type: number, code: number, word: number, body: Buffer, corrupt = false): Buffer {
  const m = Buffer.alloc(8);
  m[0] = type;
  m[1] = code;
  m.writeUInt32BE(word >>> 0, 4);
  const msg = Buffer.concat([m, body]);
  const pseudo = l4Pseudo6(src, dst, 58, msg.length);
  msg.writeUInt16BE((checksum(pseudo, msg) ^ (corrupt ? 0x5555 : 0)) & 0xffff, 2);
  return msg;
}

/** ICMPv4 (RFC 792) message with checksum. */
export function icmp4(type: number, code: number, word: number, body: Buffer): Buffer {
  const m = Buffer.alloc(8);
  m[0] = type;
  m[1] = code;
  m.writeUInt32BE(word >>> 0, 4);
  const msg = Buffer.concat([m, body]);
  msg.writeUInt16BE(checksum(msg), 2);
  return msg;
}

/**
 * The forwarder's documented RFC 6437 flow label: FNV-1a (32 bit) over source, destination and
 * protocol, plus the first 4 bytes of the transport header (the ports) for unfragmented TCP/UDP/SCTP,
 * folded to 20 bits as (h ^ h >> 20) & 0xfffff, and 1 instead of 0.
 */
export function flowLabel(ip: Buffer): number {
  let h = 2166136261;
  const mix = (b: Buffer) => {
    for (const x of b) h = Math.imul(h ^ x, 16777619) >>> 0;
  };
  mix(ip.subarray(12, 20));
  mix(ip.subarray(9, 10));
  const ihl = (ip[0] & 15) * 4;
  const fragmented = (ip.readUInt16BE(6) & 0x3fff) !== 0;
  if (!fragmented && [6, 17, 132].includes(ip[9]) && ip.length >= ihl + 4) mix(ip.subarray(ihl, ihl + 4));
  const label = (h ^ (h >>> 20)) & 0xfffff;
  return label || 1;
}

/** RFC 8200 §8.1 pseudo-header for an upper-layer packet of `len` bytes. */
export function l4Pseudo6(src: string, dst: string, next: number, len: number): Buffer {
  const b = Buffer.alloc(40);
  addr6(src).copy(b, 0);
  addr6(dst).copy(b, 16);
  b.writeUInt32BE(len, 32);
  b[39] = next;
  return b;
}

/** RFC 768 datagram over IPv6 (its checksum is mandatory, RFC 8200 §8.1: a computed 0 is sent as 0xffff). */
export function udp6(src: string, dst: string, sport: number, dport: number, data: Buffer): Buffer {
  const u = Buffer.alloc(8);
  u.writeUInt16BE(sport, 0);
  u.writeUInt16BE(dport, 2);
  u.writeUInt16BE(8 + data.length, 4);
  const c = checksum(l4Pseudo6(src, dst, 17, 8 + data.length), u, data);
  u.writeUInt16BE(c === 0 ? 0xffff : c, 6);
  return Buffer.concat([u, data]);
}

/** RFC 9293 segment over IPv6, with the same fixed fields as tcp4() (ack 0x0a0b0c0d, window 64240). */
export function tcp6(p: Tcp): Buffer {
  const seg = tcpSegment(p);
  seg.writeUInt16BE(checksum(l4Pseudo6(p.src, p.dst, 6, seg.length), seg), 16);
  return seg;
}

/**
 * The inputs of a fuzz run, numbered: `n` packets, each a copy of one of `seeds` (in turn) with two random bytes changed,
 * one in four cut short; deterministic for a given `seed`.
 */
export function* mutated(seeds: readonly Buffer[], seed: number, n: number): Generator<[number, Buffer]> {
  const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) & 0xff;
  for (let i = 0; i < n; i++) {
    const p = Buffer.from(seeds[i % seeds.length]);
    for (let k = 0; k < 2; k++) p[rnd() % p.length] = rnd();
    yield [i, rnd() % 4 === 0 ? p.subarray(0, rnd() % p.length) : p];
  }
}
