// Minimal BER (X.690) for SNMP (RFC 3416 §3, RFC 1157 §4): definite lengths, the SMIv2 application types.
// Our own codec, not net-snmp's, because net-snmp decodes OCTET STRINGs as UTF-8 text (gap 2) and cannot
// encode a Counter64 given as a number (gap 1); here octets stay Buffers and Counter64 is a bigint.

export const Tag = {
  Integer: 0x02, OctetString: 0x04, Null: 0x05, OID: 0x06, Sequence: 0x30,
  IpAddress: 0x40, Counter32: 0x41, Gauge32: 0x42, TimeTicks: 0x43, Opaque: 0x44, Counter64: 0x46,
  NoSuchObject: 0x80, NoSuchInstance: 0x81, EndOfMibView: 0x82,
} as const;

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

export function encLen(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  if (n < 0x100) return Buffer.from([0x81, n]);
  if (n < 0x10000) return Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.from([0x83, n >> 16, (n >> 8) & 0xff, n & 0xff]);
}

export function tlv(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), encLen(content.length), content]);
}

/** A constructed value from already-encoded parts (one copy). */
export function seq(tag: number, parts: readonly Buffer[]): Buffer {
  let n = 0;
  for (const p of parts) n += p.length;
  return Buffer.concat([Buffer.from([tag]), encLen(n), ...parts], 1 + lenSize(n) + n);
}

export const lenSize = (n: number) => (n < 0x80 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 4);

/** Two's-complement INTEGER of a 32-bit signed number. */
export function encInt(tag: number, n: number): Buffer {
  const bytes: number[] = [];
  let v = n | 0;
  do {
    bytes.unshift(v & 0xff);
    v >>= 8;
  } while (!((v === 0 && (bytes[0] & 0x80) === 0) || (v === -1 && (bytes[0] & 0x80) !== 0)));
  return tlv(tag, Buffer.from(bytes));
}

/** Unsigned values (Counter32, Gauge32, TimeTicks, Counter64): a leading zero keeps the top bit clear. */
export function encUnsigned(tag: number, n: number | bigint): Buffer {
  let v = BigInt(n);
  const bytes: number[] = [];
  do {
    bytes.unshift(Number(v & 0xffn));
    v >>= 8n;
  } while (v > 0n);
  if (bytes[0] & 0x80) bytes.unshift(0);
  return tlv(tag, Buffer.from(bytes));
}

export function encOidContent(oid: Oid): Buffer {
  if (oid.length < 2) throw new BerError('OID needs two arcs');
  const out: number[] = [];
  const arc = (n: number) => {
    const tmp = [n & 0x7f];
    for (n = Math.floor(n / 128); n > 0; n = Math.floor(n / 128)) tmp.unshift((n & 0x7f) | 0x80);
    out.push(...tmp);
  };
  arc(oid[0] * 40 + oid[1]);
  for (let i = 2; i < oid.length; i++) arc(oid[i]);
  return Buffer.from(out);
}

export const encOid = (oid: Oid) => tlv(Tag.OID, encOidContent(oid));

export function encValue(v: Value): Buffer {
  switch (v.type) {
    case 'Integer': return encInt(Tag.Integer, v.value);
    case 'OctetString': return tlv(Tag.OctetString, v.value);
    case 'Opaque': return tlv(Tag.Opaque, v.value);
    case 'IpAddress': return tlv(Tag.IpAddress, v.value);
    case 'Counter32': return encUnsigned(Tag.Counter32, v.value >>> 0);
    case 'Gauge32': return encUnsigned(Tag.Gauge32, v.value >>> 0);
    case 'TimeTicks': return encUnsigned(Tag.TimeTicks, v.value >>> 0);
    case 'Counter64': return encUnsigned(Tag.Counter64, BigInt.asUintN(64, v.value));
    case 'OID': return encOid(v.value);
    case 'Null': return Buffer.from([Tag.Null, 0]);
    case 'NoSuchObject': return Buffer.from([Tag.NoSuchObject, 0]);
    case 'NoSuchInstance': return Buffer.from([Tag.NoSuchInstance, 0]);
    case 'EndOfMibView': return Buffer.from([Tag.EndOfMibView, 0]);
  }
}

export const encVarbind = (vb: Varbind) => seq(Tag.Sequence, [encOid(vb.oid), encValue(vb.value)]);

// ---- decoding ------------------------------------------------------------------------------------

export class Reader {
  constructor(readonly buf: Buffer, public pos = 0, readonly end = buf.length) {}

  get done(): boolean {
    return this.pos >= this.end;
  }

  peekTag(): number {
    if (this.pos >= this.end) throw new BerError('truncated');
    return this.buf[this.pos];
  }

  /** Reads a tag and length; returns the content's [start, end) and advances past the header. */
  header(expect?: number): { tag: number; start: number; end: number } {
    const b = this.buf;
    if (this.pos + 2 > this.end) throw new BerError('truncated');
    const tag = b[this.pos++];
    if (expect !== undefined && tag !== expect) throw new BerError(`expected tag 0x${expect.toString(16)}, got 0x${tag.toString(16)}`);
    let len = b[this.pos++];
    if (len & 0x80) {
      const n = len & 0x7f;
      if (n === 0 || n > 3 || this.pos + n > this.end) throw new BerError('bad length');
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + b[this.pos++];
    }
    const start = this.pos;
    if (start + len > this.end) throw new BerError('truncated');
    return { tag, start, end: start + len };
  }

  /** A constructed value's contents as a sub-reader; this reader moves past it. */
  sequence(expect: number = Tag.Sequence): Reader {
    const h = this.header(expect);
    this.pos = h.end;
    return new Reader(this.buf, h.start, h.end);
  }

  raw(expect?: number): { tag: number; bytes: Buffer } {
    const h = this.header(expect);
    this.pos = h.end;
    return { tag: h.tag, bytes: this.buf.subarray(h.start, h.end) };
  }

  int(expect: number = Tag.Integer): number {
    return decSigned(this.raw(expect).bytes);
  }

  octets(expect: number = Tag.OctetString): Buffer {
    return this.raw(expect).bytes;
  }

  oid(): number[] {
    return decOid(this.raw(Tag.OID).bytes);
  }

  value(): Value {
    const { tag, bytes } = this.raw();
    switch (tag) {
      case Tag.Integer: return { type: 'Integer', value: decSigned(bytes) };
      case Tag.OctetString: return { type: 'OctetString', value: bytes };
      case Tag.Opaque: return { type: 'Opaque', value: bytes };
      case Tag.Null: return { type: 'Null' };
      case Tag.OID: return { type: 'OID', value: decOid(bytes) };
      case Tag.IpAddress:
        if (bytes.length !== 4) throw new BerError('bad IpAddress');
        return { type: 'IpAddress', value: bytes };
      case Tag.Counter32: return { type: 'Counter32', value: Number(decUnsigned(bytes, 4)) };
      case Tag.Gauge32: return { type: 'Gauge32', value: Number(decUnsigned(bytes, 4)) };
      case Tag.TimeTicks: return { type: 'TimeTicks', value: Number(decUnsigned(bytes, 4)) };
      case Tag.Counter64: return { type: 'Counter64', value: decUnsigned(bytes, 8) };
      case Tag.NoSuchObject: return { type: 'NoSuchObject' };
      case Tag.NoSuchInstance: return { type: 'NoSuchInstance' };
      case Tag.EndOfMibView: return { type: 'EndOfMibView' };
      default: throw new BerError(`unknown value tag 0x${tag.toString(16)}`);
    }
  }
}

function decSigned(b: Buffer): number {
  if (b.length === 0 || b.length > 4) throw new BerError('bad INTEGER');
  let v = b[0] & 0x80 ? -1 : 0; // seeded with -1, two's complement falls out of the arithmetic
  for (const x of b) v = v * 256 + x;
  return v;
}

function decUnsigned(b: Buffer, maxBytes: number): bigint {
  if (b.length === 0 || b.length > maxBytes + 1 || (b.length === maxBytes + 1 && b[0] !== 0)) throw new BerError('bad unsigned');
  let v = 0n;
  for (const x of b) v = (v << 8n) | BigInt(x);
  return v;
}

export function decOid(b: Buffer): number[] {
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
  const first = arcs[0];
  const head = first < 40 ? [0, first] : first < 80 ? [1, first - 40] : [2, first - 80];
  if (arcs.length > 128) throw new BerError('OID too long');
  return [...head, ...arcs.slice(1)];
}

// ---- OIDs ------------------------------------------------------------------------------------------

export function compareOid(a: Oid, b: Oid): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

export const parseOid = (s: string): number[] => s.replace(/^\./, '').split('.').map(Number);
export const oidStr = (o: Oid) => o.join('.');
export const startsWith = (o: Oid, prefix: Oid) => prefix.length <= o.length && prefix.every((x, i) => o[i] === x);
