// DHCPv4 wire format (RFC 2131 §2, RFC 951 BOOTP header; options RFC 2132): the fixed 236-byte header, the
// magic cookie and the options, for the agent's own client (./dhcp4.ts). Decoding follows RFC 3396 (an option
// that appears more than once is the concatenation of its parts) and RFC 2132 §9.3 (option overload: more
// options in the `file` and `sname` fields). Addresses are dotted-quad strings; '0.0.0.0' stands for none.

export const OP = { BOOTREQUEST: 1, BOOTREPLY: 2 } as const;

/** Option 53, DHCP Message Type (RFC 2132 §9.6). */
export const MSG = { DISCOVER: 1, OFFER: 2, REQUEST: 3, DECLINE: 4, ACK: 5, NAK: 6, RELEASE: 7, INFORM: 8 } as const;

/** Option codes (RFC 2132). */
export const OPT = {
  PAD: 0, SUBNET_MASK: 1, ROUTER: 3, DNS_SERVERS: 6, REQUESTED_IP: 50, LEASE_TIME: 51, OVERLOAD: 52, MSG_TYPE: 53,
  SERVER_ID: 54, PARAM_REQUEST_LIST: 55, MESSAGE: 56, MAX_MESSAGE_SIZE: 57, RENEWAL_TIME: 58, REBINDING_TIME: 59,
  CLIENT_ID: 61,
  /** RFC 7618 §4 OPTION_V4_PORTPARAMS. */
  V4_PORTPARAMS: 159,
  END: 255,
} as const;

/** RFC 2131 §2: the BROADCAST bit of `flags`, asking the server to broadcast its replies. */
export const FLAG_BROADCAST = 0x8000;
const COOKIE = 0x63825363; // RFC 2131 §3: 99.130.83.99
const HEADER = 236;
/** RFC 2131 §2 / RFC 1542 §3.4: BOOTP relays may drop messages shorter than the 300 bytes of BOOTP. */
const MIN_LENGTH = 300;

export interface Message {
  op: number;
  xid: number;
  /** Seconds since the client began the exchange. */
  secs: number;
  flags: number;
  ciaddr: string;
  yiaddr: string;
  siaddr: string;
  giaddr: string;
  /** The client's hardware (Ethernet) address, "aa:bb:cc:dd:ee:ff". */
  chaddr: string;
  /** Option 53; 0 for a plain BOOTP message. */
  type: number;
  /** Every option but 53, PAD, OVERLOAD and END, in order of first appearance. */
  options: Map<number, Buffer>;
}

export class Dhcp4FormatError extends Error {}

const ip4 = (b: Buffer, at = 0) => `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;

export function ipBytes(a: string): Buffer {
  const parts = a.split('.').map(Number);
  if (parts.length !== 4 || parts.some((n) => !Number.isInteger(n) || n < 0 || n > 255)) throw new Dhcp4FormatError(`not an IPv4 address: ${a}`);
  return Buffer.from(parts);
}

export function macBytes(mac: string): Buffer {
  const b = Buffer.from(mac.replace(/[:-]/g, ''), 'hex');
  if (b.length !== 6) throw new Dhcp4FormatError(`not an Ethernet address: ${mac}`);
  return b;
}

export function encode(m: Omit<Message, 'op'> & { op?: number }): Buffer {
  const head = Buffer.alloc(HEADER);
  head[0] = m.op ?? OP.BOOTREQUEST;
  head[1] = 1; // htype Ethernet (RFC 1700)
  head[2] = 6; // hlen
  head.writeUInt32BE(m.xid >>> 0, 4);
  head.writeUInt16BE(Math.min(m.secs, 0xffff), 8);
  head.writeUInt16BE(m.flags, 10);
  ipBytes(m.ciaddr).copy(head, 12);
  ipBytes(m.yiaddr).copy(head, 16);
  ipBytes(m.siaddr).copy(head, 20);
  ipBytes(m.giaddr).copy(head, 24);
  macBytes(m.chaddr).copy(head, 28);
  const parts: Buffer[] = [head, Buffer.from([0x63, 0x82, 0x53, 0x63])];
  const put = (code: number, data: Buffer) => {
    // RFC 3396 §7: a value longer than 255 bytes is split into consecutive options of the same code.
    for (let at = 0; at < data.length || at === 0; at += 255) parts.push(Buffer.from([code, Math.min(255, data.length - at)]), data.subarray(at, at + 255));
  };
  if (m.type) put(OPT.MSG_TYPE, Buffer.from([m.type]));
  for (const [code, data] of m.options) put(code, data);
  parts.push(Buffer.from([OPT.END]));
  const out = Buffer.concat(parts);
  return out.length >= MIN_LENGTH ? out : Buffer.concat([out, Buffer.alloc(MIN_LENGTH - out.length)]);
}

/** Reads options from one area into `into` (RFC 3396 concatenation); returns the overload value seen. */
function readOptions(b: Buffer, into: Map<number, Buffer>): number {
  let overload = 0;
  for (let i = 0; i < b.length;) {
    const code = b[i];
    if (code === OPT.PAD) { i++; continue; }
    if (code === OPT.END) return overload;
    if (i + 1 >= b.length || i + 2 + b[i + 1] > b.length) throw new Dhcp4FormatError(`option ${code} runs past the end`);
    const data = b.subarray(i + 2, i + 2 + b[i + 1]);
    if (code === OPT.OVERLOAD) overload = data[0] ?? 0;
    else into.set(code, into.has(code) ? Buffer.concat([into.get(code)!, data]) : Buffer.from(data));
    i += 2 + b[i + 1];
  }
  return overload;
}

export function decode(b: Buffer): Message {
  if (b.length < HEADER + 4) throw new Dhcp4FormatError(`${b.length} bytes: shorter than a BOOTP header and cookie`);
  if (b.readUInt32BE(HEADER) !== COOKIE) throw new Dhcp4FormatError('no DHCP magic cookie');
  if (b[1] !== 1 || b[2] !== 6) throw new Dhcp4FormatError(`hardware type ${b[1]} length ${b[2]}: not Ethernet`);
  const options = new Map<number, Buffer>();
  const overload = readOptions(b.subarray(HEADER + 4), options);
  // RFC 2132 §9.3: 1 = options in `file` (108..235), 2 = in `sname` (44..107), 3 = both, file first.
  if (overload & 1) readOptions(b.subarray(108, 236), options);
  if (overload & 2) readOptions(b.subarray(44, 108), options);
  const type = options.get(OPT.MSG_TYPE)?.[0] ?? 0;
  options.delete(OPT.MSG_TYPE);
  return {
    op: b[0], xid: b.readUInt32BE(4), secs: b.readUInt16BE(8), flags: b.readUInt16BE(10),
    ciaddr: ip4(b, 12), yiaddr: ip4(b, 16), siaddr: ip4(b, 20), giaddr: ip4(b, 24),
    chaddr: [...b.subarray(28, 34)].map((x) => x.toString(16).padStart(2, '0')).join(':'),
    type, options,
  };
}

/** An option holding IPv4 addresses (1, 3, 6, 54, ...), as strings; [] when absent or malformed. */
export function addresses(data: Buffer | undefined): string[] {
  if (!data || data.length % 4) return [];
  const out: string[] = [];
  for (let i = 0; i < data.length; i += 4) out.push(ip4(data, i));
  return out;
}

/** A 32-bit option (51, 58, 59); undefined when absent or malformed. */
export function u32(data: Buffer | undefined): number | undefined {
  return data && data.length === 4 ? data.readUInt32BE(0) : undefined;
}

export function u32Bytes(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

/** The Internet checksum (RFC 1071) of one or more buffers taken as one. */
function checksum(...parts: Buffer[]): number {
  let sum = 0;
  let odd: number | null = null;
  for (const b of parts) {
    for (let i = 0; i < b.length; i++) {
      if (odd === null) odd = b[i];
      else { sum += (odd << 8) | b[i]; odd = null; }
    }
  }
  if (odd !== null) sum += odd << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/**
 * A whole IPv4/UDP packet (RFC 791, RFC 768, checksums included) around a DHCP message, for the broadcasts a
 * client sends before it may use an address of its own (RFC 2131 §4.1: source 0.0.0.0).
 */
export function ipUdp(src: string, dst: string, sport: number, dport: number, payload: Buffer): Buffer {
  const ip = Buffer.alloc(20);
  const udp = Buffer.alloc(8);
  ip[0] = 0x45; // version 4, 5 words of header
  ip.writeUInt16BE(20 + 8 + payload.length, 2);
  ip[8] = 64; // TTL
  ip[9] = 17; // UDP
  ipBytes(src).copy(ip, 12);
  ipBytes(dst).copy(ip, 16);
  ip.writeUInt16BE(checksum(ip), 10);
  udp.writeUInt16BE(sport, 0);
  udp.writeUInt16BE(dport, 2);
  udp.writeUInt16BE(8 + payload.length, 4);
  const pseudo = Buffer.concat([ip.subarray(12, 20), Buffer.from([0, 17]), udp.subarray(4, 6)]);
  udp.writeUInt16BE(checksum(pseudo, udp, payload) || 0xffff, 6); // RFC 768: a computed 0 is sent as all ones
  return Buffer.concat([ip, udp, payload]);
}

/** A port set (RFC 7597 §5.1): offset a, PSID length k, and the PSID as a number below 2^k. */
export interface PortParams { offset: number; psidLength: number; psid: number }

/**
 * offset(8), PSID-len(8), PSID(16) as RFC 7618 §4 (option 159) and RFC 7598 §4.5 (S46_PORTPARAMS) share them:
 * the PSID is the first k bits of its field, the rest padding zeros, so 0x0100 with k = 8 is PSID 1. Throws
 * Dhcp4FormatError on a wrong length, a + k over 16 (RFC 7597 §5.1) or non-zero padding with k > 0 (k = 0: the field is ignored; a right-aligned PSID
 * from a server that got the layout wrong would otherwise be read as another port set).
 */
export function portParams(data: Buffer): PortParams {
  if (data.length !== 4) throw new Dhcp4FormatError(`port parameters: ${data.length} bytes, not 4`);
  const [offset, k] = [data[0], data[1]];
  const field = data.readUInt16BE(2);
  if (offset > 15) throw new Dhcp4FormatError(`port parameters: offset ${offset} over 15`);
  if (k > 16 || offset + k > 16) throw new Dhcp4FormatError(`port parameters: offset ${offset} + PSID length ${k} over 16`);
  if (k > 0 && k < 16 && field & (0xffff >>> k)) throw new Dhcp4FormatError(`port parameters: PSID field 0x${field.toString(16).padStart(4, '0')} has bits past the first ${k}`);
  return { offset, psidLength: k, psid: k ? field >>> (16 - k) : 0 };
}
