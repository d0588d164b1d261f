// The SNMP layer over asn1-ber (X.690 BER): asn1-ber reads and writes tags, lengths, INTEGER, OCTET STRING
// (always as Buffers: net-snmp's UTF-8 text is gap 2), NULL and sequences; this file adds what it lacks for
// RFC 3416 §3: the SMIv2 application types (RFC 2578 §7.1), the three SNMPv2 exceptions, OID contents, and
// the bounds checks of a decoder facing the network.
import asn1, { type BerReader, type BerWriter } from 'asn1-ber';

export const { Ber } = asn1;
export type { BerReader, BerWriter };

/**
 * Value tags (RFC 3416 §3 ObjectSyntax): the universal ones (X.690), the SMIv2 application types
 * ([APPLICATION n] IMPLICIT, RFC 2578 §7.1) and the exceptions ([n] IMPLICIT NULL in VarBind, RFC 3416 §3).
 * Written out here rather than read from net-snmp's ObjectType: the agent loads net-snmp only for SNMPv3
 * cryptography (usm.ts), which saves a gateway ~5 MB of RAM where no SNMPv3 user is configured.
 */
const T = {
  Integer: 0x02, OctetString: 0x04, Null: 0x05, OID: 0x06,
  IpAddress: 0x40, Counter32: 0x41, Gauge32: 0x42, TimeTicks: 0x43, Opaque: 0x44, Counter64: 0x46,
  NoSuchObject: 0x80, NoSuchInstance: 0x81, EndOfMibView: 0x82,
} as const;
export const SEQUENCE = Ber.Sequence | Ber.Constructor;
const EMPTY = Buffer.alloc(0);

export type Oid = readonly number[];

/** A varbind value as the wire carries it (RFC 3416 §3 ObjectSyntax and the three exceptions). */
export type Value =
  | { type: 'Integer'; value: number }
  | { type: 'OctetString' | 'Opaque'; value: Buffer }
  | { type: 'IpAddress'; value: Buffer }
  | { type: 'Counter32' | 'Gauge32' | 'TimeTicks'; value: number }
  | { type: 'Counter64'; value: bigint }
  | { type: 'OID'; value: Oid }
  | { type: 'Null' | 'NoSuchObject' | 'NoSuchInstance' | 'EndOfMibView' };

export interface Varbind { oid: Oid; value: Value }

export class BerError extends Error {
  override readonly name = 'BerError';
}

// ---- encoding ------------------------------------------------------------------------------------

export function writeValue(w: BerWriter, v: Value): void {
  switch (v.type) {
    case 'Integer': return w.writeInt(v.value | 0); // Integer32 (RFC 2578 §7.1.1)
    case 'OctetString': case 'Opaque': case 'IpAddress': return w.writeBuffer(v.value, T[v.type]);
    // IMPLICIT INTEGER (0..4294967295): writeInt's minimal two's complement adds the leading zero octet.
    case 'Counter32': case 'Gauge32': case 'TimeTicks': return w.writeInt(v.value >>> 0, T[v.type]);
    // writeInt goes through a JS number (53 bits); a Counter64 is a bigint (gap 1).
    case 'Counter64': return w.writeBuffer(counter64Content(v.value), T.Counter64);
    case 'OID': return writeOid(w, v.value);
    case 'Null': return w.writeNull();
    case 'NoSuchObject': case 'NoSuchInstance': case 'EndOfMibView': return w.writeBuffer(EMPTY, T[v.type]);
  }
}

export function writeVarbind(w: BerWriter, oid: Oid, v: Value): void {
  w.startSequence();
  writeOid(w, oid);
  writeValue(w, v);
  w.endSequence();
}

/** One encoded VarBind SEQUENCE. */
export function encodeVarbind(oid: Oid, v: Value): Buffer {
  const w = new Ber.Writer({ size: 64 });
  writeVarbind(w, oid, v);
  return w.buffer;
}

export function encodeValue(v: Value): Buffer {
  const w = new Ber.Writer({ size: 16 });
  writeValue(w, v);
  return w.buffer;
}

function counter64Content(n: bigint): Buffer {
  let v = BigInt.asUintN(64, n);
  const bytes: number[] = [];
  do {
    bytes.unshift(Number(v & 0xffn));
    v >>= 8n;
  } while (v > 0n);
  if (bytes[0] & 0x80) bytes.unshift(0); // unsigned: keep the sign bit clear (X.690 §8.3.3)
  return Buffer.from(bytes);
}

// OID contents are ours, not asn1-ber's writeOID/readOID: X.690 §8.19.4 packs the first two arcs into one
// subidentifier that may need several octets (2.999 is 1079), which writeOID writes as a single truncated
// byte and readOID splits as 26.39; readOID also accepts a dangling continuation octet, wraps arcs above
// 2^32-1 (RFC 2578 §7.1.3) and returns text. Tag and length still go through asn1-ber.
export function writeOid(w: BerWriter, oid: Oid): void {
  w.writeBuffer(oidContent(oid), Ber.OID);
}

export function oidContent(oid: Oid): Buffer {
  if (oid.length < 2) throw new BerError('OID needs two arcs');
  const out: number[] = [];
  const arc = (n: number) => {
    const at = out.length;
    out.push(n & 0x7f);
    for (n = Math.floor(n / 128); n > 0; n = Math.floor(n / 128)) out.splice(at, 0, (n & 0x7f) | 0x80);
  };
  arc(oid[0] * 40 + oid[1]);
  for (let i = 2; i < oid.length; i++) arc(oid[i]);
  return Buffer.from(out);
}

// ---- decoding ------------------------------------------------------------------------------------
// asn1-ber returns null at the end of the buffer and never bounds a read by its enclosing SEQUENCE; these
// helpers turn both into BerErrors so that a short or overlong field cannot be read past (RFC 3412 §7.2 step 2).

function must<X>(x: X | null): X {
  if (x === null) throw new BerError('truncated');
  return x;
}

/** Enters a constructed value; returns the offset at which its contents end. */
export function enter(r: BerReader, tag: number = SEQUENCE): number {
  must(r.readSequence(tag));
  if (r.length > r.remain) throw new BerError('truncated');
  return r.offset + r.length;
}

/** The contents of a constructed value are exactly its length octets (X.690 §8.1.1). */
export function leave(r: BerReader, end: number): void {
  if (r.offset !== end) throw new BerError('contents overrun their SEQUENCE');
}

/** Integer32 (RFC 2578 §7.1.1), also request-id, error-status and the msgGlobalData fields. */
export function readInt32(r: BerReader, tag: number = T.Integer): number {
  const v = must(r.readInt(tag));
  if (v < -0x80000000 || v > 0x7fffffff) throw new BerError('INTEGER out of range');
  return v;
}

export const readOctets = (r: BerReader, tag: number = Ber.OctetString): Buffer => must(r.readString(tag, true));

function readUnsigned32(r: BerReader, tag: number): number {
  const v = must(r.readInt(tag));
  if (v < 0 || v > 0xffffffff) throw new BerError('unsigned value out of range');
  return v;
}

function readCounter64(r: BerReader): bigint {
  const b = readOctets(r, T.Counter64);
  if (b.length === 0 || b.length > 9 || (b.length === 9 && b[0] !== 0) || b[0] & 0x80) throw new BerError('bad Counter64');
  return BigInt(`0x${b.toString('hex')}`);
}

/** NULL and the exceptions have empty contents (X.690 §8.8.2, RFC 3416 §3). */
function readEmpty(r: BerReader, tag: number): void {
  if (readOctets(r, tag).length) throw new BerError('non-empty NULL');
}

export function readOid(r: BerReader): number[] {
  const b = readOctets(r, Ber.OID);
  if (b.length === 0) throw new BerError('empty OID');
  const arcs: number[] = [];
  let v = 0;
  for (let i = 0; i < b.length; i++) {
    v = v * 128 + (b[i] & 0x7f);
    if (v > 0xffffffff) throw new BerError('OID arc too large');
    if (!(b[i] & 0x80)) {
      arcs.push(v);
      v = 0;
    } else if (i === b.length - 1) throw new BerError('truncated OID');
  }
  if (arcs.length > 127) throw new BerError('OID too long'); // 128 arcs at most (RFC 2578 §3.5)
  const first = arcs[0];
  arcs.splice(0, 1, ...(first < 40 ? [0, first] : first < 80 ? [1, first - 40] : [2, first - 80]));
  return arcs;
}

export function readValue(r: BerReader): Value {
  const tag = r.peek();
  switch (tag) {
    case T.Integer: return { type: 'Integer', value: readInt32(r) };
    case T.OctetString: return { type: 'OctetString', value: readOctets(r) };
    case T.Opaque: return { type: 'Opaque', value: readOctets(r, tag) };
    case T.IpAddress: {
      const value = readOctets(r, tag);
      if (value.length !== 4) throw new BerError('bad IpAddress');
      return { type: 'IpAddress', value };
    }
    case T.Counter32: return { type: 'Counter32', value: readUnsigned32(r, tag) };
    case T.Gauge32: return { type: 'Gauge32', value: readUnsigned32(r, tag) };
    case T.TimeTicks: return { type: 'TimeTicks', value: readUnsigned32(r, tag) };
    case T.Counter64: return { type: 'Counter64', value: readCounter64(r) };
    case T.OID: return { type: 'OID', value: readOid(r) };
    case T.Null: readEmpty(r, tag); return { type: 'Null' };
    case T.NoSuchObject: readEmpty(r, tag); return { type: 'NoSuchObject' };
    case T.NoSuchInstance: readEmpty(r, tag); return { type: 'NoSuchInstance' };
    case T.EndOfMibView: readEmpty(r, tag); return { type: 'EndOfMibView' };
    case null: throw new BerError('truncated');
    default: throw new BerError(`unknown value tag 0x${tag.toString(16)}`);
  }
}

/** Runs a decoder over untrusted bytes; asn1-ber's own errors (an Error named InvalidAsn1Error) become BerErrors. */
export function decoding<X>(f: () => X): X {
  try {
    return f();
  } catch (err) {
    if (err instanceof Error && err.name === 'InvalidAsn1Error') throw new BerError(err.message);
    throw err;
  }
}

/** One value from its encoding (the tests' entry point). */
export const decodeValue = (b: Buffer): Value => decoding(() => readValue(new Ber.Reader(b)));

// ---- OIDs ------------------------------------------------------------------------------------------

export function compareOid(a: Oid, b: Oid): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/**
 * An OID as a string whose order is the OID order: two UTF-16 code units per arc (its high and low 16 bits), so
 * string comparison compares arc by arc and a prefix sorts first (RFC 3416 §4.2.2's lexicographic order). Half
 * the memory of an array of numbers for a table's 110,000 instances, and compared without a loop in JavaScript.
 */
export function oidKey(oid: Oid): string {
  const units = new Array<number>(oid.length * 2);
  for (let i = 0; i < oid.length; i++) { units[2 * i] = oid[i] >>> 16; units[2 * i + 1] = oid[i] & 0xffff; }
  return String.fromCharCode(...units);
}

export function keyOid(key: string): Oid {
  const oid = new Array<number>(key.length >> 1);
  for (let i = 0; i < oid.length; i++) oid[i] = key.charCodeAt(2 * i) * 0x10000 + key.charCodeAt(2 * i + 1);
  return oid;
}

export const parseOid = (s: string): number[] => s.replace(/^\./, '').split('.').map(Number);
export const oidStr = (o: Oid) => o.join('.');
export const startsWith = (o: Oid, prefix: Oid) => prefix.length <= o.length && prefix.every((x, i) => o[i] === x);
