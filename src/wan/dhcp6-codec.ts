// DHCPv6 messages (RFC 8415 §8, §21): the client's side of the wire format, and the options a DS-Lite B4
// needs: IA_NA/IA_PD, DNS servers (RFC 3646) and AFTR-Name (RFC 6334); for an lwB4 (RFC 7596) the S46
// container of RFC 7598 §5.3, the DHCPv4-over-DHCPv6 messages and server option of RFC 7341, and RFC 8539's
// OPTION_S46_BIND_IPV6_PREFIX.
import { canonicalIPv6 } from '../datamodel/index.ts';
import { portParams, type PortParams } from './dhcp4-codec.ts';

export type { PortParams };

export const MSG = {
  SOLICIT: 1, ADVERTISE: 2, REQUEST: 3, RENEW: 5, REBIND: 6, REPLY: 7, RELEASE: 8,
  /** RFC 7341 §6.1-6.2. */
  DHCPV4_QUERY: 20, DHCPV4_RESPONSE: 21,
} as const;
export const OPT = {
  CLIENTID: 1, SERVERID: 2, IA_NA: 3, IAADDR: 5, ORO: 6, ELAPSED_TIME: 8, STATUS_CODE: 13, RAPID_COMMIT: 14,
  DNS_SERVERS: 23, IA_PD: 25, IAPREFIX: 26, AFTR_NAME: 64,
  /** RFC 7341 §7.1 OPTION_DHCPV4_MSG, §8 OPTION_DHCP4_O_DHCP6_SERVER. */
  DHCPV4_MSG: 87, DHCP4_O_DHCP6_SERVER: 88,
  /** RFC 7598 §4.2 S46_BR, §4.4 S46_V4V6BIND, §4.5 S46_PORTPARAMS, §5.3 S46_CONT_LW. */
  S46_BR: 90, S46_V4V6BIND: 92, S46_PORTPARAMS: 93, S46_CONT_LW: 96,
  /** RFC 8539 §7.1, sent in a DHCPV4-QUERY. */
  S46_BIND_IPV6_PREFIX: 137,
} as const;

/** RFC 7341 §6.1: the U flag, the most significant bit of the 24-bit flags of a DHCPV4-QUERY. */
export const FLAG_UNICAST = 0x800000;

export interface Option { code: number; data: Buffer }
export interface Message { type: number; xid: number; options: Option[] }

export interface IaAddr { address: string; preferred: number; valid: number }
export interface IaPrefix { prefix: string; preferred: number; valid: number }
export interface Ia { iaid: number; t1: number; t2: number; addrs: IaAddr[]; prefixes: IaPrefix[]; status?: number }

export function encodeOptions(opts: readonly Option[]): Buffer {
  return Buffer.concat(opts.map((o) => {
    const h = Buffer.alloc(4);
    h.writeUInt16BE(o.code, 0);
    h.writeUInt16BE(o.data.length, 2);
    return Buffer.concat([h, o.data]);
  }));
}

export function decodeOptions(buf: Buffer): Option[] {
  const out: Option[] = [];
  for (let i = 0; i + 4 <= buf.length; ) {
    const code = buf.readUInt16BE(i);
    const len = buf.readUInt16BE(i + 2);
    if (i + 4 + len > buf.length) throw new Error('dhcpv6: option overruns the message');
    out.push({ code, data: buf.subarray(i + 4, i + 4 + len) });
    i += 4 + len;
  }
  return out;
}

export function encode(m: Message): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt32BE(m.xid & 0xffffff, 0);
  h[0] = m.type;
  return Buffer.concat([h, encodeOptions(m.options)]);
}

export function decode(buf: Buffer): Message {
  if (buf.length < 4) throw new Error('dhcpv6: short message');
  return { type: buf[0], xid: buf.readUInt32BE(0) & 0xffffff, options: decodeOptions(buf.subarray(4)) };
}

export const opt = (code: number, data: Buffer = Buffer.alloc(0)): Option => ({ code, data });
export const find = (opts: readonly Option[], code: number) => opts.find((o) => o.code === code);

const u32 = (...n: number[]) => { const b = Buffer.alloc(4 * n.length); n.forEach((v, i) => b.writeUInt32BE(v >>> 0, 4 * i)); return b; };
const u16 = (...n: number[]) => { const b = Buffer.alloc(2 * n.length); n.forEach((v, i) => b.writeUInt16BE(v, 2 * i)); return b; };

export function addrBytes(a: string): Buffer {
  const words = canonicalIPv6(a).split('::');
  const head = words[0] ? words[0].split(':') : [];
  const tail = words.length > 1 && words[1] ? words[1].split(':') : [];
  const all = words.length > 1 ? [...head, ...Array(8 - head.length - tail.length).fill('0'), ...tail] : head;
  return u16(...all.map((w) => parseInt(w, 16)));
}

export function addrText(b: Buffer): string {
  const words: string[] = [];
  for (let i = 0; i < 16; i += 2) words.push(b.readUInt16BE(i).toString(16));
  return canonicalIPv6(words.join(':'));
}

/** DUID-LL (RFC 8415 §11.4): type 3, hardware type 1 (Ethernet), the link-layer address. */
export function duidLL(mac: string): Buffer {
  return Buffer.concat([u16(3, 1), Buffer.from(mac.split(':').map((x) => parseInt(x, 16)))]);
}

/** IA_NA / IA_PD with T1 = T2 = 0 (the server chooses, RFC 8415 §21.4), optionally holding what we have. */
export function encodeIa(code: typeof OPT.IA_NA | typeof OPT.IA_PD, ia: Pick<Ia, 'iaid' | 'addrs' | 'prefixes'>, lifetimes = false): Option {
  const inner: Option[] = code === OPT.IA_NA
    ? ia.addrs.map((a) => opt(OPT.IAADDR, Buffer.concat([addrBytes(a.address), lifetimes ? u32(a.preferred, a.valid) : u32(0, 0)])))
    : ia.prefixes.map((p) => {
      const [net, len] = p.prefix.split('/');
      return opt(OPT.IAPREFIX, Buffer.concat([lifetimes ? u32(p.preferred, p.valid) : u32(0, 0), Buffer.from([Number(len)]), addrBytes(net)]));
    });
  return opt(code, Buffer.concat([u32(ia.iaid, 0, 0), encodeOptions(inner)]));
}

export function decodeIa(o: Option): Ia {
  const ia: Ia = { iaid: o.data.readUInt32BE(0), t1: o.data.readUInt32BE(4), t2: o.data.readUInt32BE(8), addrs: [], prefixes: [] };
  for (const s of decodeOptions(o.data.subarray(12))) {
    if (s.code === OPT.IAADDR && s.data.length >= 24)
      ia.addrs.push({ address: addrText(s.data.subarray(0, 16)), preferred: s.data.readUInt32BE(16), valid: s.data.readUInt32BE(20) });
    else if (s.code === OPT.IAPREFIX && s.data.length >= 25)
      ia.prefixes.push({ prefix: `${addrText(s.data.subarray(9, 25))}/${s.data[8]}`, preferred: s.data.readUInt32BE(0), valid: s.data.readUInt32BE(4) });
    else if (s.code === OPT.STATUS_CODE && s.data.length >= 2) ia.status = s.data.readUInt16BE(0);
  }
  return ia;
}

/** Status code of a message or IA (RFC 8415 §21.13); 0 Success when absent. */
export function statusOf(opts: readonly Option[]): number {
  const s = find(opts, OPT.STATUS_CODE);
  return s && s.data.length >= 2 ? s.data.readUInt16BE(0) : 0;
}

export const oro = (...codes: number[]) => opt(OPT.ORO, u16(...codes));
export const elapsed = (centis: number) => opt(OPT.ELAPSED_TIME, u16(Math.min(0xffff, centis)));

export function dnsServers(o: Option | undefined): string[] {
  const out: string[] = [];
  for (let i = 0; o && i + 16 <= o.data.length; i += 16) out.push(addrText(o.data.subarray(i, i + 16)));
  return out;
}

/** A domain name in DNS wire format (RFC 1035 §3.1, as RFC 6334 §3 carries the AFTR-Name), as text. */
export function domainName(o: Option | undefined): string {
  if (!o) return '';
  const labels: string[] = [];
  for (let i = 0; i < o.data.length; ) {
    const len = o.data[i];
    if (len === 0) break;
    labels.push(o.data.subarray(i + 1, i + 1 + len).toString('ascii'));
    i += 1 + len;
  }
  return labels.join('.');
}

// ---- lw4o6 (RFC 7598, RFC 7341, RFC 8539) ------------------------------------------------------------------

/** A malformed option, with the reason; the client logs it and goes on without the option. */
export class Dhcp6FormatError extends Error {}

/** OPTION_S46_CONT_LW decoded, as Lease6.lw4o6 carries it. */
export interface Lw4o6 {
  br: string[];
  bind: null | { ipv4: string; bindPrefix: string; portParams: PortParams | null };
}

/** A list of IPv6 addresses (OPTION_DHCP4_O_DHCP6_SERVER, RFC 7341 §8: option-length 16*N, N may be 0). */
export function addressList(o: Option | undefined): string[] {
  if (!o) return [];
  if (o.data.length % 16) throw new Dhcp6FormatError(`option ${o.code}: length ${o.data.length} is not a multiple of 16`);
  return dnsServers(o);
}

/** "2001:db8::/64" from a length and ceil(len/8) prefix bytes (RFC 7598 §4.4), bits past the length zeroed. */
function prefixText(len: number, bytes: Buffer): string {
  const full = Buffer.alloc(16);
  bytes.copy(full);
  if (len % 8) full[len >> 3] &= 0xff << (8 - (len % 8));
  full.fill(0, Math.ceil(len / 8));
  return `${addrText(full)}/${len}`;
}

/** bindprefix6-len and bind-ipv6-prefix as RFC 7598 §4.4 and RFC 8539 §7.1 lay them out: 1 + ceil(len/8) bytes. */
export function prefixBytes(prefix: string): Buffer {
  const [net, l] = prefix.split('/');
  const len = l === undefined ? 128 : Number(l);
  if (!Number.isInteger(len) || len < 0 || len > 128) throw new Dhcp6FormatError(`not an IPv6 prefix: ${prefix}`);
  return Buffer.concat([Buffer.from([len]), Buffer.from(addrBytes(net).subarray(0, Math.ceil(len / 8)))]);
}

/** RFC 8539 §7.1 OPTION_S46_BIND_IPV6_PREFIX: the softwire's prefix, for the 4o6 server to bind the address to. */
export const bindPrefixOption = (prefix: string): Option => opt(OPT.S46_BIND_IPV6_PREFIX, prefixBytes(prefix));

/** RFC 7598 §4.4 S46_V4V6BIND: ipv4-address, bindprefix6-len, bind-ipv6-prefix, then its options (93). */
export function decodeV4v6Bind(data: Buffer): NonNullable<Lw4o6['bind']> {
  if (data.length < 5) throw new Dhcp6FormatError(`S46_V4V6BIND: ${data.length} bytes, fewer than 5`);
  const len = data[4];
  if (len > 128) throw new Dhcp6FormatError(`S46_V4V6BIND: bindprefix6-len ${len} over 128`);
  const end = 5 + Math.ceil(len / 8);
  if (data.length < end) throw new Dhcp6FormatError(`S46_V4V6BIND: prefix of length ${len} needs ${end} bytes, has ${data.length}`);
  let subs: Option[];
  try {
    subs = decodeOptions(data.subarray(end));
  } catch {
    throw new Dhcp6FormatError('S46_V4V6BIND: an encapsulated option overruns it');
  }
  const pp = subs.filter((s) => s.code === OPT.S46_PORTPARAMS);
  if (pp.length > 1) throw new Dhcp6FormatError('S46_V4V6BIND: more than one S46_PORTPARAMS');
  let params: PortParams | null = null;
  if (pp.length) {
    try {
      params = portParams(pp[0].data);
    } catch (err) {
      throw new Dhcp6FormatError(`S46_PORTPARAMS: ${(err as Error).message}`);
    }
  }
  return { ipv4: `${data[0]}.${data[1]}.${data[2]}.${data[3]}`, bindPrefix: prefixText(len, data.subarray(5, end)), portParams: params };
}

/**
 * RFC 7598 §5.3 S46_CONT_LW: one or more S46_BR (§4.2, one IPv6 address each) and at most one S46_V4V6BIND;
 * other encapsulated options are skipped (RFC 8415 §16: unknown options are ignored). null when absent.
 * Throws Dhcp6FormatError when the container or a known option in it is malformed.
 */
export function decodeLw4o6(o: Option | undefined): Lw4o6 | null {
  if (!o) return null;
  let subs: Option[];
  try {
    subs = decodeOptions(o.data);
  } catch {
    throw new Dhcp6FormatError('S46_CONT_LW: an encapsulated option overruns it');
  }
  const br: string[] = [];
  for (const s of subs.filter((x) => x.code === OPT.S46_BR)) {
    if (s.data.length !== 16) throw new Dhcp6FormatError(`S46_BR: length ${s.data.length}, not 16`);
    br.push(addrText(s.data));
  }
  const binds = subs.filter((x) => x.code === OPT.S46_V4V6BIND);
  if (binds.length > 1) throw new Dhcp6FormatError('S46_CONT_LW: more than one S46_V4V6BIND');
  return { br, bind: binds.length ? decodeV4v6Bind(binds[0].data) : null };
}
