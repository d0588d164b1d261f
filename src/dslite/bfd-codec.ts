// BFD Control packet codec (RFC 5880 §4.1), with the optional Authentication Section (§4.2-4.4): Simple
// Password (1), Keyed MD5 (2), Meticulous Keyed MD5 (3), Keyed SHA1 (4), Meticulous Keyed SHA1 (5).
// decode() applies the packet-level reception checks of §6.8.6 (version, length, multiplier, multipoint,
// My Discriminator); the session applies the rest (Your Discriminator, state, authentication).
import { createHash } from 'node:crypto';

export const BFD_VERSION = 1;
export const BFD_MULTIHOP_PORT = 4784; // RFC 5883 §5
export const BFD_HEADER = 24;

export type BfdState = 'AdminDown' | 'Down' | 'Init' | 'Up';
export const STATES: BfdState[] = ['AdminDown', 'Down', 'Init', 'Up']; // §4.1 State values 0-3

/** Diagnostic codes (§4.1). */
export const DIAGNOSTICS = [
  'No Diagnostic', 'Control Detection Time Expired', 'Echo Function Failed', 'Neighbor Signaled Session Down',
  'Forwarding Plane Reset', 'Path Down', 'Concatenated Path Down', 'Administratively Down', 'Reverse Concatenated Path Down',
];
export const diagName = (d: number) => DIAGNOSTICS[d] ?? `Reserved ${d}`;

export type AuthType = 'None' | 'SimplePassword' | 'KeyedMD5' | 'MeticulousKeyedMD5' | 'KeyedSHA1' | 'MeticulousKeyedSHA1';
export const AUTH_TYPES: AuthType[] = ['None', 'SimplePassword', 'KeyedMD5', 'MeticulousKeyedMD5', 'KeyedSHA1', 'MeticulousKeyedSHA1'];
/** Auth Len of the keyed types (§4.3, §4.4); the digest follows 8 octets of type/len/key ID/reserved/sequence. */
const KEYED: Record<number, { len: number; hash: string }> = { 2: { len: 24, hash: 'md5' }, 3: { len: 24, hash: 'md5' }, 4: { len: 28, hash: 'sha1' }, 5: { len: 28, hash: 'sha1' } };

export interface BfdAuth {
  type: number; // 1-5
  keyId: number;
  /** Simple Password: the password; keyed types: the digest as received. */
  data: Buffer;
  sequence: number; // keyed types only
}

export interface BfdPacket {
  version: number;
  diag: number;
  state: BfdState;
  poll: boolean;
  final: boolean;
  cpi: boolean; // C: Control Plane Independent
  demand: boolean;
  multipoint: boolean;
  detectMult: number;
  myDisc: number;
  yourDisc: number;
  desiredMinTx: number; // microseconds
  requiredMinRx: number; // microseconds
  requiredMinEchoRx: number; // microseconds
  auth?: BfdAuth;
}

export type BfdDrop = 'short' | 'badVersion' | 'badLength' | 'zeroMultiplier' | 'multipoint' | 'zeroMyDisc' | 'badAuthSection';

/** Packet defaults for tests and the session. */
export function packet(p: Partial<BfdPacket>): BfdPacket {
  return {
    version: BFD_VERSION, diag: 0, state: 'Down', poll: false, final: false, cpi: false, demand: false, multipoint: false,
    detectMult: 3, myDisc: 0, yourDisc: 0, desiredMinTx: 1_000_000, requiredMinRx: 1_000_000, requiredMinEchoRx: 0, ...p,
  };
}

/** The key used by the keyed types: the digest field holds it (zero-padded) while hashing (§6.7.3, §6.7.4). */
export interface AuthKey {
  type: number;
  keyId: number;
  secret: Buffer;
}

/** Encodes a packet; with `key` the Authentication Section is built (and the digest computed) from it. */
export function encode(p: BfdPacket, key?: AuthKey, sequence = 0): Buffer {
  let authLen = 0;
  if (key) authLen = key.type === 1 ? 3 + key.secret.length : KEYED[key.type].len;
  const b = Buffer.alloc(BFD_HEADER + authLen);
  b[0] = ((p.version & 7) << 5) | (p.diag & 31);
  b[1] = (STATES.indexOf(p.state) << 6) | (p.poll ? 32 : 0) | (p.final ? 16 : 0) | (p.cpi ? 8 : 0) | (key ? 4 : 0) | (p.demand ? 2 : 0) | (p.multipoint ? 1 : 0);
  b[2] = p.detectMult;
  b[3] = b.length;
  b.writeUInt32BE(p.myDisc >>> 0, 4);
  b.writeUInt32BE(p.yourDisc >>> 0, 8);
  b.writeUInt32BE(p.desiredMinTx >>> 0, 12);
  b.writeUInt32BE(p.requiredMinRx >>> 0, 16);
  b.writeUInt32BE(p.requiredMinEchoRx >>> 0, 20);
  if (key) {
    b[24] = key.type;
    b[25] = authLen;
    b[26] = key.keyId;
    if (key.type === 1) key.secret.copy(b, 27);
    else {
      b.writeUInt32BE(sequence >>> 0, 28);
      const size = KEYED[key.type].len - 8;
      const field = Buffer.alloc(size);
      key.secret.copy(field, 0, 0, size);
      field.copy(b, 32);
      createHash(KEYED[key.type].hash).update(b).digest().copy(b, 32);
    }
  }
  return b;
}

/** Decodes a received datagram; a string is the §6.8.6 reason to discard it. */
export function decode(b: Buffer): BfdPacket | BfdDrop {
  if (b.length < 4) return 'short';
  const version = b[0] >> 5;
  if (version !== BFD_VERSION) return 'badVersion';
  const authPresent = (b[1] & 4) !== 0;
  const len = b[3];
  // Length below the minimum (24, or 26 with authentication) or beyond the payload is discarded.
  if (len < (authPresent ? BFD_HEADER + 2 : BFD_HEADER) || len > b.length) return 'badLength';
  if (b[2] === 0) return 'zeroMultiplier';
  if (b[1] & 1) return 'multipoint';
  const myDisc = b.readUInt32BE(4);
  if (myDisc === 0) return 'zeroMyDisc';
  const p: BfdPacket = {
    version, diag: b[0] & 31, state: STATES[b[1] >> 6], poll: (b[1] & 32) !== 0, final: (b[1] & 16) !== 0,
    cpi: (b[1] & 8) !== 0, demand: (b[1] & 2) !== 0, multipoint: false, detectMult: b[2], myDisc,
    yourDisc: b.readUInt32BE(8), desiredMinTx: b.readUInt32BE(12), requiredMinRx: b.readUInt32BE(16), requiredMinEchoRx: b.readUInt32BE(20),
  };
  if (authPresent) {
    const type = b[24];
    const authLen = b[25];
    if (BFD_HEADER + authLen > len) return 'badAuthSection';
    if (type === 1) {
      if (authLen < 4 || authLen > 19) return 'badAuthSection';
      p.auth = { type, keyId: b[26], data: Buffer.from(b.subarray(27, BFD_HEADER + authLen)), sequence: 0 };
    } else if (KEYED[type]) {
      if (authLen !== KEYED[type].len) return 'badAuthSection';
      p.auth = { type, keyId: b[26], sequence: b.readUInt32BE(28), data: Buffer.from(b.subarray(32, BFD_HEADER + authLen)) };
    } else return 'badAuthSection';
  }
  return p;
}

/** Verifies the Authentication Section of a datagram against the key (§6.7.2-6.7.4); sequence is the session's. */
export function verifyAuth(raw: Buffer, p: BfdPacket, key: AuthKey): boolean {
  const a = p.auth;
  if (!a || a.type !== key.type || a.keyId !== key.keyId) return false;
  if (a.type === 1) return a.data.equals(key.secret);
  const len = raw[3];
  const copy = Buffer.from(raw.subarray(0, len));
  const size = KEYED[a.type].len - 8;
  const field = Buffer.alloc(size);
  key.secret.copy(field, 0, 0, size);
  field.copy(copy, 32);
  return createHash(KEYED[a.type].hash).update(copy).digest().equals(a.data);
}
