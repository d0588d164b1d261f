// PCP (RFC 6887) MAP request/response codec for the PCP detector: the 24-byte common header (§7.1, §7.2),
// the MAP opcode payload (§11.1), options skipped by their length (§7.3), and the Epoch check (§8.5).
// Responses are validated as §8.3 asks; a bad one is reported with a reason so the client can drop and
// count it.
import { isIPv4 } from 'node:net';
import { canonicalIPv6 } from '../datamodel/index.ts';

export const PCP_VERSION = 2;
export const PCP_PORT = 5351; // §19.1
export const OPCODE_MAP = 1;
export const MAP_LENGTH = 60; // header 24 + MAP payload 36
const MAX_LENGTH = 1100; // §7

/** Result codes (§7.4). */
export const RESULT_NAMES: Record<number, string> = {
  0: 'SUCCESS', 1: 'UNSUPP_VERSION', 2: 'NOT_AUTHORIZED', 3: 'MALFORMED_REQUEST', 4: 'UNSUPP_OPCODE',
  5: 'UNSUPP_OPTION', 6: 'MALFORMED_OPTION', 7: 'NETWORK_FAILURE', 8: 'NO_RESOURCES', 9: 'UNSUPP_PROTOCOL',
  10: 'USER_EX_QUOTA', 11: 'CANNOT_PROVIDE_EXTERNAL', 12: 'ADDRESS_MISMATCH', 13: 'EXCESSIVE_REMOTE_PEERS',
};
export const resultName = (code: number) => RESULT_NAMES[code] ?? `UNKNOWN_${code}`;
export const NETWORK_FAILURE = 7;

export interface MapRequest {
  lifetime: number; // seconds; 0 deletes
  clientAddress: string; // IPv4 or IPv6
  nonce: Buffer; // 12 bytes
  protocol: number; // IANA protocol number, 17 UDP
  internalPort: number;
  suggestedPort: number;
  suggestedAddress: string; // '' = no preference (the all-zeros IPv4-mapped address, §11.1)
}

export interface MapResponse {
  opcode: number;
  result: number;
  lifetime: number;
  epoch: number;
  nonce: Buffer;
  protocol: number;
  internalPort: number;
  externalPort: number;
  externalAddress: string;
}

export type PcpDrop = 'short' | 'long' | 'notMultipleOf4' | 'notResponse' | 'badVersion' | 'badOpcode' | 'badNonce' | 'badOption';

/** 16-byte address field: IPv4 as IPv4-mapped IPv6 (§5). */
export function encodeAddress(a: string): Buffer {
  const b = Buffer.alloc(16);
  if (a === '' || isIPv4(a)) {
    b[10] = 0xff;
    b[11] = 0xff;
    if (a) a.split('.').forEach((o, i) => (b[12 + i] = Number(o)));
    return b;
  }
  const [head, tail = ''] = a.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const words = a.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  words.forEach((w, i) => b.writeUInt16BE(parseInt(w, 16), i * 2));
  return b;
}

export function decodeAddress(b: Buffer): string {
  if (b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff) return [...b.subarray(12, 16)].join('.');
  return canonicalIPv6(Array.from({ length: 8 }, (_, i) => b.readUInt16BE(i * 2).toString(16)).join(':'));
}

export function encodeMapRequest(r: MapRequest): Buffer {
  if (r.nonce.length !== 12) throw new RangeError('PCP MAP nonce is 96 bits');
  const b = Buffer.alloc(MAP_LENGTH);
  b[0] = PCP_VERSION;
  b[1] = OPCODE_MAP; // R = 0: request
  b.writeUInt32BE(r.lifetime >>> 0, 4);
  encodeAddress(r.clientAddress).copy(b, 8);
  r.nonce.copy(b, 24);
  b[36] = r.protocol;
  b.writeUInt16BE(r.internalPort, 40);
  b.writeUInt16BE(r.suggestedPort, 42);
  encodeAddress(r.suggestedAddress).copy(b, 44);
  return b;
}

/** Decodes a MAP response; a string is the reason to drop it (§8.3). */
export function decodeMapResponse(b: Buffer, nonce?: Buffer): MapResponse | PcpDrop {
  if (b.length < MAP_LENGTH) return 'short';
  if (b.length > MAX_LENGTH) return 'long';
  if (b.length % 4 !== 0) return 'notMultipleOf4';
  if (b[0] !== PCP_VERSION) return 'badVersion';
  if ((b[1] & 0x80) === 0) return 'notResponse';
  const opcode = b[1] & 0x7f;
  if (opcode !== OPCODE_MAP) return 'badOpcode';
  const n = Buffer.from(b.subarray(24, 36));
  if (nonce && !n.equals(nonce)) return 'badNonce';
  // Options (§7.3): code, reserved, length, data padded to 4 octets; a truncated one makes the packet bad.
  for (let off = MAP_LENGTH; off < b.length;) {
    if (off + 4 > b.length) return 'badOption';
    const len = b.readUInt16BE(off + 2);
    off += 4 + Math.ceil(len / 4) * 4;
    if (off > b.length) return 'badOption';
  }
  return {
    opcode, result: b[3], lifetime: b.readUInt32BE(4), epoch: b.readUInt32BE(8), nonce: n,
    protocol: b[36], internalPort: b.readUInt16BE(40), externalPort: b.readUInt16BE(42),
    externalAddress: decodeAddress(b.subarray(44, 60)),
  };
}

/** Previous Epoch observation (§8.5): the server's Epoch and the client's clock (seconds) at that time. */
export interface EpochMark {
  server: number;
  client: number;
}

/**
 * §8.5: the server lost its state when its Epoch went back by more than 1 s, or when the server's and the
 * client's elapsed times disagree by more than 1/16 (+2 s). Returns the reason, or null when consistent.
 */
export function epochCheck(prev: EpochMark | null, cur: EpochMark): string | null {
  if (!prev) return null;
  if (cur.server + 1 < prev.server) return `Epoch went backwards from ${prev.server} to ${cur.server}`;
  const client = cur.client - prev.client;
  const server = cur.server - prev.server;
  if (client + 2 < server - server / 16 || server + 2 < client - client / 16)
    return `Epoch advanced ${server} s while ${Math.round(client)} s passed`;
  return null;
}
