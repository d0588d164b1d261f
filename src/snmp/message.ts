// SNMP messages as discriminated unions named as the RFCs name them: the community message (RFC 1157, RFC 1901)
// and the SNMPv3 message (RFC 3412 §6) with its USM security parameters (RFC 3414 §2.4), plus the PDUs of
// RFC 3416 §3. Decoding never trusts lengths; every malformed input is a BerError.
import { BerError, encInt, encOid, encValue, lenSize, Reader, seq, Tag, tlv, type Varbind } from './ber.ts';

export const PduTag = {
  GetRequest: 0xa0, GetNextRequest: 0xa1, Response: 0xa2, SetRequest: 0xa3, TrapV1: 0xa4,
  GetBulkRequest: 0xa5, InformRequest: 0xa6, SNMPv2Trap: 0xa7, Report: 0xa8,
} as const;
export type PduType = keyof typeof PduTag;
const pduName = new Map<number, PduType>(Object.entries(PduTag).map(([k, v]) => [v, k as PduType]));

/** RFC 3416 §3 error-status values. */
export const ErrorStatus = {
  noError: 0, tooBig: 1, noSuchName: 2, badValue: 3, readOnly: 4, genErr: 5, noAccess: 6, wrongType: 7,
  wrongLength: 8, wrongEncoding: 9, wrongValue: 10, noCreation: 11, inconsistentValue: 12, resourceUnavailable: 13,
  commitFailed: 14, undoFailed: 15, authorizationError: 16, notWritable: 17, inconsistentName: 18,
} as const;
export type ErrorStatusName = keyof typeof ErrorStatus;

export interface Pdu {
  type: PduType;
  requestId: number;
  /** error-status, or non-repeaters in a GetBulkRequest. */
  errorStatus: number;
  /** error-index, or max-repetitions in a GetBulkRequest. */
  errorIndex: number;
  varbinds: Varbind[];
}

export interface CommunityMessage {
  version: 0 | 1; // SNMPv1, SNMPv2c
  community: Buffer;
  pdu: Pdu;
}

export interface UsmParams {
  engineID: Buffer;
  engineBoots: number;
  engineTime: number;
  userName: string;
  authParams: Buffer;
  privParams: Buffer;
}

export interface ScopedPdu { contextEngineID: Buffer; contextName: Buffer; pdu: Pdu }

export interface V3Message {
  version: 3;
  msgID: number;
  msgMaxSize: number;
  flags: { auth: boolean; priv: boolean; reportable: boolean };
  securityModel: number;
  usm: UsmParams;
  /** Plain scoped PDU, or the encrypted octets when flags.priv. */
  scoped: ScopedPdu | Buffer;
  /** The whole datagram and where msgAuthenticationParameters sit in it (RFC 3414 §3.2 step 6). */
  raw: Buffer;
  authOffset: number;
}

export type Message = CommunityMessage | V3Message;

/** A well-formed message of a version we do not speak (counted as snmpInBadVersions, RFC 3418). */
export class BadVersion extends BerError {}

export function decodePdu(r: Reader): Pdu {
  const tag = r.peekTag();
  const type = pduName.get(tag);
  if (!type || type === 'TrapV1') throw new BerError(`unsupported PDU 0x${tag.toString(16)}`);
  const p = r.sequence(tag);
  const requestId = p.int();
  const errorStatus = p.int();
  const errorIndex = p.int();
  const list = p.sequence();
  const varbinds: Varbind[] = [];
  while (!list.done) {
    const vb = list.sequence();
    varbinds.push({ oid: vb.oid(), value: vb.value() });
  }
  return { type, requestId, errorStatus, errorIndex, varbinds };
}

export function decodeMessage(buf: Buffer): Message {
  const r = new Reader(buf);
  const m = r.sequence();
  const version = m.int();
  if (version === 0 || version === 1) {
    const community = m.octets();
    return { version, community, pdu: decodePdu(m) };
  }
  if (version !== 3) throw new BadVersion(`unsupported version ${version}`);
  const h = m.sequence();
  const msgID = h.int();
  const msgMaxSize = h.int();
  const flagBytes = h.octets();
  if (flagBytes.length !== 1) throw new BerError('bad msgFlags');
  const f = flagBytes[0];
  const securityModel = h.int();
  const spHdr = m.header(Tag.OctetString);
  m.pos = spHdr.end;
  const sp = new Reader(buf, spHdr.start, spHdr.end).sequence();
  const engineID = sp.octets();
  const engineBoots = sp.int();
  const engineTime = sp.int();
  const userName = sp.octets().toString('utf8');
  const authHdr = sp.header(Tag.OctetString);
  sp.pos = authHdr.end;
  const privParams = sp.octets();
  const flags = { auth: (f & 1) !== 0, priv: (f & 2) !== 0, reportable: (f & 4) !== 0 };
  if (flags.priv && !flags.auth) throw new BerError('priv without auth');
  const scoped = flags.priv ? m.octets() : decodeScopedPdu(m);
  return {
    version, msgID, msgMaxSize, flags, securityModel,
    usm: { engineID, engineBoots, engineTime, userName, authParams: buf.subarray(authHdr.start, authHdr.end), privParams },
    scoped, raw: buf, authOffset: authHdr.start,
  };
}

export function decodeScopedPdu(r: Reader): ScopedPdu {
  const s = r.sequence();
  return { contextEngineID: s.octets(), contextName: s.octets(), pdu: decodePdu(s) };
}

// ---- encoding ------------------------------------------------------------------------------------

/** A PDU whose varbinds are already encoded (the agent keeps encoded varbinds in its index). */
export function encodePdu(type: PduType, requestId: number, errorStatus: number, errorIndex: number, varbinds: readonly Buffer[]): Buffer {
  return seq(PduTag[type], [encInt(Tag.Integer, requestId), encInt(Tag.Integer, errorStatus), encInt(Tag.Integer, errorIndex), seq(Tag.Sequence, varbinds)]);
}

export const encodeVarbinds = (vbs: readonly Varbind[]) => vbs.map((vb) => seq(Tag.Sequence, [encOid(vb.oid), encValue(vb.value)]));

export function encodeCommunity(version: 0 | 1, community: Buffer, pdu: Buffer): Buffer {
  return seq(Tag.Sequence, [encInt(Tag.Integer, version), tlv(Tag.OctetString, community), pdu]);
}

/** Bytes a community message adds around its varbind list, to bound a response before building it. */
export function communityOverhead(community: Buffer, requestId: number, varbindBytes: number): number {
  const listLen = varbindBytes;
  const pduBody = encInt(Tag.Integer, requestId).length + 6 + 1 + lenSize(listLen) + listLen;
  const body = 3 + 2 + lenSize(community.length) + community.length + 1 + lenSize(pduBody) + pduBody;
  return 1 + lenSize(body) + body;
}

export function encodeScopedPdu(contextEngineID: Buffer, contextName: Buffer, pdu: Buffer): Buffer {
  return seq(Tag.Sequence, [tlv(Tag.OctetString, contextEngineID), tlv(Tag.OctetString, contextName), pdu]);
}

/**
 * An SNMPv3 message. `authLen` zero bytes are reserved for the HMAC; returns the message and the offset of
 * that field so the caller can fill it in (RFC 3414 §3.1.1 step 9).
 */
export function encodeV3(o: {
  msgID: number; msgMaxSize: number; flags: number; usm: Omit<UsmParams, 'authParams'>; authLen: number; data: Buffer; encrypted: boolean;
}): { buf: Buffer; authOffset: number } {
  const header = seq(Tag.Sequence, [encInt(Tag.Integer, o.msgID), encInt(Tag.Integer, o.msgMaxSize), tlv(Tag.OctetString, Buffer.from([o.flags])), encInt(Tag.Integer, 3)]);
  const before = Buffer.concat([
    tlv(Tag.OctetString, o.usm.engineID), encInt(Tag.Integer, o.usm.engineBoots), encInt(Tag.Integer, o.usm.engineTime),
    tlv(Tag.OctetString, Buffer.from(o.usm.userName, 'utf8')), Buffer.from([Tag.OctetString]), encLen1(o.authLen),
  ]);
  const spSeq = seq(Tag.Sequence, [before, Buffer.alloc(o.authLen), tlv(Tag.OctetString, o.usm.privParams)]);
  const sp = tlv(Tag.OctetString, spSeq);
  const data = o.encrypted ? tlv(Tag.OctetString, o.data) : o.data;
  const version = encInt(Tag.Integer, 3);
  const buf = seq(Tag.Sequence, [version, header, sp, data]);
  const bodyLen = version.length + header.length + sp.length + data.length;
  // Offsets: outer header, version, header data, sp OCTET STRING header, sp SEQUENCE header, then `before`.
  const authOffset = 1 + lenSize(bodyLen) + version.length + header.length + (1 + lenSize(spSeq.length)) + headerLenOf(spSeq) + before.length;
  return { buf, authOffset };
}

const encLen1 = (n: number) => Buffer.from([n]);
/** Tag + length octets of an encoded TLV. */
const headerLenOf = (b: Buffer) => (b[1] & 0x80 ? 2 + (b[1] & 0x7f) : 2);
