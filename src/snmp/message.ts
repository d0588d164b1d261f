// SNMP messages as discriminated unions named as the RFCs name them: the community message (RFC 1157, RFC 1901)
// and the SNMPv3 message (RFC 3412 §6) with its USM security parameters (RFC 3414 §2.4), plus the PDUs of
// RFC 3416 §3, read and written with asn1-ber through ber.ts. Decoding never trusts lengths; every malformed
// input is a BerError.
import {
  Ber, BerError, decoding, encodeVarbind, enter, leave, readInt32, readOctets, readOid, readValue, SEQUENCE,
  type BerReader, type Varbind,
} from './ber.ts';

/**
 * The PDUs by their RFC 3416 §3 names and tags ([n] IMPLICIT, constructed: 0xa0 + n; n = 4 is RFC 1157's
 * Trap-PDU). net-snmp calls three of them GetResponse, Trap and TrapV2.
 */
export const PduTag = {
  GetRequest: 0xa0, GetNextRequest: 0xa1, Response: 0xa2, SetRequest: 0xa3, TrapV1: 0xa4,
  GetBulkRequest: 0xa5, InformRequest: 0xa6, SNMPv2Trap: 0xa7, Report: 0xa8,
} as const;
export type PduType = keyof typeof PduTag;
const pduName = new Map<number, PduType>(Object.entries(PduTag).map(([k, v]) => [v, k as PduType]));

/** RFC 3416 §3 error-status values, named as the RFC names them (net-snmp's ErrorStatus says GeneralError...). */
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
  /** A view into the datagram: RFC 3414 §3.2 step 6 zeroes it in place to recompute the HMAC. */
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
  /** The whole datagram (the HMAC covers all of it). */
  raw: Buffer;
}

export type Message = CommunityMessage | V3Message;

/** A well-formed message of a version we do not speak (counted as snmpInBadVersions, RFC 3418). */
export class BadVersion extends BerError {}

/** msgSecurityModel of the USM (RFC 3411 §5 SnmpSecurityModel). */
const USM = 3;

function readPdu(r: BerReader): Pdu {
  const tag = r.peek();
  const type = tag === null ? undefined : pduName.get(tag);
  if (!type || type === 'TrapV1') throw new BerError(`unsupported PDU 0x${tag?.toString(16)}`);
  const end = enter(r, tag!);
  const requestId = readInt32(r);
  const errorStatus = readInt32(r);
  const errorIndex = readInt32(r);
  const listEnd = enter(r);
  const varbinds: Varbind[] = [];
  while (r.offset < listEnd) {
    const vbEnd = enter(r);
    varbinds.push({ oid: readOid(r), value: readValue(r) });
    leave(r, vbEnd);
  }
  leave(r, listEnd);
  leave(r, end);
  return { type, requestId, errorStatus, errorIndex, varbinds };
}

export function decodeMessage(buf: Buffer): Message {
  return decoding(() => {
    const r = new Ber.Reader(buf);
    const end = enter(r);
    const version = readInt32(r);
    if (version === 0 || version === 1) {
      const community = readOctets(r);
      const pdu = readPdu(r);
      leave(r, end);
      return { version, community, pdu };
    }
    if (version !== 3) throw new BadVersion(`unsupported version ${version}`);
    const h = enter(r);
    const msgID = readInt32(r);
    const msgMaxSize = readInt32(r);
    const flagBytes = readOctets(r);
    if (flagBytes.length !== 1) throw new BerError('bad msgFlags');
    const securityModel = readInt32(r);
    leave(r, h);
    const usm = readUsm(readOctets(r));
    const f = flagBytes[0];
    const flags = { auth: (f & 1) !== 0, priv: (f & 2) !== 0, reportable: (f & 4) !== 0 };
    if (flags.priv && !flags.auth) throw new BerError('priv without auth');
    const scoped = flags.priv ? readOctets(r) : readScopedPdu(r);
    leave(r, end);
    return { version, msgID, msgMaxSize, flags, securityModel, usm, scoped, raw: buf };
  });
}

/** UsmSecurityParameters (RFC 3414 §2.4), the contents of msgSecurityParameters. */
function readUsm(b: Buffer): UsmParams {
  const r = new Ber.Reader(b);
  const end = enter(r);
  const usm = {
    engineID: readOctets(r), engineBoots: readInt32(r), engineTime: readInt32(r), userName: readOctets(r).toString('utf8'),
    authParams: readOctets(r), privParams: readOctets(r),
  };
  leave(r, end);
  return usm;
}

function readScopedPdu(r: BerReader): ScopedPdu {
  const end = enter(r);
  const s = { contextEngineID: readOctets(r), contextName: readOctets(r), pdu: readPdu(r) };
  leave(r, end);
  return s;
}

/** A decrypted ScopedPDU (RFC 3412 §6). */
export const decodeScopedPdu = (b: Buffer): ScopedPdu => decoding(() => readScopedPdu(new Ber.Reader(b)));

// ---- encoding ------------------------------------------------------------------------------------

/** A PDU whose varbinds are already encoded (the agent keeps encoded varbinds in its index). */
export function encodePdu(type: PduType, requestId: number, errorStatus: number, errorIndex: number, varbinds: readonly Buffer[]): Buffer {
  let size = 32;
  for (const vb of varbinds) size += vb.length;
  const w = new Ber.Writer({ size });
  w.startSequence(PduTag[type]);
  w.writeInt(requestId);
  w.writeInt(errorStatus);
  w.writeInt(errorIndex);
  w.startSequence();
  for (const vb of varbinds) w.writeBuffer(vb);
  w.endSequence();
  w.endSequence();
  return w.buffer;
}

export const encodeVarbinds = (vbs: readonly Varbind[]) => vbs.map((vb) => encodeVarbind(vb.oid, vb.value));

export function encodeCommunity(version: 0 | 1, community: Buffer, pdu: Buffer): Buffer {
  const w = new Ber.Writer({ size: pdu.length + community.length + 16 });
  w.startSequence();
  w.writeInt(version);
  w.writeBuffer(community, Ber.OctetString);
  w.writeBuffer(pdu);
  w.endSequence();
  return w.buffer;
}

export function encodeScopedPdu(contextEngineID: Buffer, contextName: Buffer, pdu: Buffer): Buffer {
  const w = new Ber.Writer({ size: pdu.length + contextEngineID.length + contextName.length + 16 });
  w.startSequence();
  w.writeBuffer(contextEngineID, Ber.OctetString);
  w.writeBuffer(contextName, Ber.OctetString);
  w.writeBuffer(pdu);
  w.endSequence();
  return w.buffer;
}

/**
 * An SNMPv3 message with `authLen` zero octets reserved for the HMAC; returns it and that field (a view into
 * it) for the caller to fill in (RFC 3414 §3.1.1 step 9).
 */
export function encodeV3(o: {
  msgID: number; msgMaxSize: number; flags: number; usm: Omit<UsmParams, 'authParams'>; authLen: number; data: Buffer; encrypted: boolean;
}): { buf: Buffer; authParams: Buffer } {
  const w = new Ber.Writer({ size: o.data.length + o.usm.engineID.length + o.usm.userName.length + o.authLen + 96 });
  w.startSequence();
  w.writeInt(3);
  w.startSequence();
  w.writeInt(o.msgID);
  w.writeInt(o.msgMaxSize);
  w.writeBuffer(Buffer.from([o.flags]), Ber.OctetString);
  w.writeInt(USM);
  w.endSequence();
  w.startSequence(Ber.OctetString); // msgSecurityParameters: an OCTET STRING holding the SEQUENCE
  w.startSequence();
  w.writeBuffer(o.usm.engineID, Ber.OctetString);
  w.writeInt(o.usm.engineBoots);
  w.writeInt(o.usm.engineTime);
  w.writeBuffer(Buffer.from(o.usm.userName, 'utf8'), Ber.OctetString);
  w.writeBuffer(Buffer.alloc(o.authLen), Ber.OctetString);
  w.writeBuffer(o.usm.privParams, Ber.OctetString);
  w.endSequence();
  w.endSequence();
  if (o.encrypted) w.writeBuffer(o.data, Ber.OctetString);
  else w.writeBuffer(o.data);
  w.endSequence();
  const buf = w.buffer;
  // Find the field by reading back the header just written: the writer keeps no offsets.
  const r = new Ber.Reader(buf);
  enter(r);
  readInt32(r);
  readOctets(r, SEQUENCE);
  return { buf, authParams: readUsm(readOctets(r)).authParams };
}
