// Address arithmetic of the forwarder's modes, shared by its config checks (types.ts) and the control plane: the
// lw4o6 port set and lwB4 address (RFC 7597 §5.1, §6), the NAT46 identifier space (issue 23), IPv4/IPv6 prefixes.
import { isIPv4, isIPv6 } from 'node:net';
import type { Lw4o6Binding, Nat46Config } from './types.ts';

/**
 * The ports of a binding's set (RFC 7597 §5.1): port = A << (16 - a) | PSID << m | M with m = 16 - a - k, every
 * M, and every A but 0 when a > 0 (the system ports 0 .. 2^(16-a) - 1 are excluded); port 0 is never used.
 * As ranges in ascending order (adjacent ones merged), and their total.
 */
export function portSet(b: Lw4o6Binding): { ranges: [number, number][]; count: number } {
  const a = b.psidOffset;
  const m = 16 - a - b.psidLength;
  const ranges: [number, number][] = [];
  let count = 0;
  for (let A = a > 0 ? 1 : 0; A < 2 ** a; A++) {
    let lo = A * 2 ** (16 - a) + b.psid * 2 ** m;
    const hi = lo + 2 ** m - 1;
    if (lo === 0) lo = 1;
    if (hi < lo) continue;
    count += hi - lo + 1;
    const last = ranges[ranges.length - 1];
    if (last && last[1] + 1 === lo) last[1] = hi; // adjacent (k = 0): one range
    else ranges.push([lo, hi]);
  }
  return { ranges, count };
}

/** Whether `port` belongs to the binding's port set (portSet()). */
export function inPortSet(b: Lw4o6Binding, port: number): boolean {
  const a = b.psidOffset;
  const m = 16 - a - b.psidLength;
  if (!Number.isInteger(port) || port < 1 || port > 65535) return false;
  if (a > 0 && port >>> (16 - a) === 0) return false;
  return ((port >>> m) & (2 ** b.psidLength - 1)) === b.psid;
}

/** The 16 bytes of an IPv6 address (no zone, no embedded IPv4 form needed here), or null. */
export function ipv6Bytes(s: string): Buffer | null {
  if (!isIPv6(s) || s.includes('%')) return null;
  let text = s;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const o = v4[1].split('.').map(Number);
    text = text.slice(0, -v4[1].length) + `${((o[0] << 8) | o[1]).toString(16)}:${((o[2] << 8) | o[3]).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const words = (p: string | undefined) => (p ? p.split(':').map((w) => parseInt(w, 16)) : []);
  const h = words(head);
  const t = words(tail);
  const all = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill(0), ...t];
  const out = Buffer.alloc(16);
  all.forEach((w, i) => out.writeUInt16BE(w, i * 2));
  return out;
}

/**
 * The lwB4's tunnel address (RFC 7596 §5.1): the first 64 bits of `bindPrefix` ("2001:db8:1:cafe::/64"; bits
 * beyond its length are zero; longer than /64 is refused) and the RFC 7597 §6 interface identifier: 16 zero
 * bits, the IPv4 address, the PSID right-aligned in 16 bits. Text in RFC 5952 form.
 */
export function lwB4Address(bindPrefix: string, b: Lw4o6Binding): string {
  const [addr, lenText] = bindPrefix.split('/');
  const len = lenText === undefined ? 64 : Number(lenText);
  const bytes = ipv6Bytes(addr);
  if (!bytes || !/^\d{1,3}$/.test(lenText ?? '64') || len > 64) throw new Error(`lwB4Address: not an IPv6 prefix of /64 or shorter: ${bindPrefix}`);
  if (!isIPv4(b.ipv4)) throw new Error(`lwB4Address: not an IPv4 address: ${b.ipv4}`);
  for (let bit = len; bit < 128; bit++) bytes[bit >> 3] &= ~(0x80 >> (bit & 7));
  const v4 = b.ipv4.split('.').map(Number);
  bytes.set([0, 0, ...v4, (b.psid >> 8) & 0xff, b.psid & 0xff], 8);
  return ipv6Text(bytes);
}

/** An IPv6 prefix 'address/length' with no bits set beyond the length: its bytes and length, or null. */
export function ipv6Prefix(s: unknown): { bytes: Buffer; length: number } | null {
  if (typeof s !== 'string') return null;
  const m = /^([^/]+)\/(\d{1,3})$/.exec(s);
  const bytes = m && ipv6Bytes(m[1]);
  const length = m ? Number(m[2]) : -1;
  if (!bytes || length > 128) return null;
  for (let bit = length; bit < 128; bit++) if (bytes[bit >> 3] & (0x80 >> (bit & 7))) return null;
  return { bytes, length };
}

/** An IPv4 prefix 'a.b.c.d/len' with no bits set beyond the length: its address (a 32-bit number) and length, or null. */
export function ipv4Prefix(s: unknown): { net: number; length: number } | null {
  if (typeof s !== 'string') return null;
  const m = /^([^/]+)\/(\d{1,2})$/.exec(s);
  if (!m || !isIPv4(m[1]) || Number(m[2]) > 32) return null;
  const length = Number(m[2]);
  const net = m[1].split('.').reduce((a, o) => a * 256 + Number(o), 0);
  return net % 2 ** (32 - length) === 0 ? { net, length } : null;
}

/** Whether two IPv4 prefixes share an address: the shorter one contains the longer one. */
export function overlap4(x: { net: number; length: number }, y: { net: number; length: number }): boolean {
  const block = 2 ** (32 - Math.min(x.length, y.length));
  return Math.floor(x.net / block) === Math.floor(y.net / block);
}

/** RFC 5952 text of 16 address bytes: lower-case hex, the longest run (first if tied) of two or more zero words as "::". */
export function ipv6Text(bytes: Uint8Array): string {
  const words = Array.from({ length: 8 }, (_, i) => (bytes[2 * i] << 8) | bytes[2 * i + 1]);
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) (best = i), (bestLen = j - i);
    i = j > i ? j : i + 1;
  }
  const hex = (ws: number[]) => ws.map((w) => w.toString(16)).join(':');
  return best < 0 ? hex(words) : `${hex(words.slice(0, best))}::${hex(words.slice(best + bestLen))}`;
}

/**
 * The identifier space of one gateway ID (issue 23): prefix | tenantId | gatewayId as "addr/len", len = prefix
 * length + tenantBits + gatewayBits, the rest zero. Every client address of that gateway lies in it (the client
 * IPv4 in the last 32 bits), so it is the route a BGP speaker announces for the gateway. Null when the config
 * cannot form one (a malformed prefix, over 96 bits: types.ts refuses such a config).
 */
export function nat46Space(c: Pick<Nat46Config, 'prefix' | 'tenantBits' | 'gatewayBits' | 'tenantId'>, gatewayId: number): string | null {
  const p = ipv6Prefix(c.prefix);
  const len = p ? p.length + c.tenantBits + c.gatewayBits : 129;
  if (!p || len > 96) return null;
  // Each field written bit by bit, most significant first, right after the previous one.
  const put = (at: number, width: number, value: number) => {
    for (let i = 0; i < width; i++) if (Math.floor(value / 2 ** (width - 1 - i)) % 2) p.bytes[(at + i) >> 3] |= 0x80 >> ((at + i) & 7);
  };
  put(p.length, c.tenantBits, c.tenantId);
  put(p.length + c.tenantBits, c.gatewayBits, gatewayId);
  return `${ipv6Text(p.bytes)}/${len}`;
}
