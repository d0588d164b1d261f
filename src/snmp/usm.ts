// SNMPv3 User-based Security Model (RFC 3414) for the agent as the authoritative engine: discovery, user and
// security-level checks, HMAC authentication, the timeliness window (§3.2 step 7), AES privacy (RFC 3826,
// RFC 7860 for the SHA-2 HMACs). The key localisation, HMAC and cipher primitives are net-snmp's exported
// Authentication/Encryption; the procedure around them is ours, because net-snmp's agent never moves
// engineBoots/engineTime, never checks the window (gap 10) and answers no report on a decryption failure (gap 12).
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { encodeVarbind, parseOid } from './ber.ts';
import { decodeScopedPdu, encodePdu, encodeScopedPdu, encodeV3, type ScopedPdu, type V3Message } from './message.ts';

export type AuthProtocol = 'md5' | 'sha' | 'sha224' | 'sha256' | 'sha384' | 'sha512';
// DES is absent on purpose: Node 20's OpenSSL 3 has no DES without the legacy provider (gap 13).
export type PrivProtocol = 'aes' | 'aes256b' | 'aes256r';
export type SecurityLevel = 'noAuthNoPriv' | 'authNoPriv' | 'authPriv';

export interface UsmUser {
  name: string;
  authProtocol?: AuthProtocol;
  authPassword?: string;
  privProtocol?: PrivProtocol;
  privPassword?: string;
  /** The least security level this user's requests must use (VACM securityLevel, RFC 3415 §3.2). */
  level: SecurityLevel;
  access: 'ro' | 'rw';
}

/**
 * net-snmp, loaded at the first authenticated message in or out: an agent with only communities (most
 * gateways) never loads it (~5 MB of RAM, docs/benchmarks.md "Footprint"). A synchronous require: the USM
 * procedure is synchronous, and net-snmp is CommonJS.
 */
let netSnmp: typeof import('net-snmp').default | undefined;
const snmp = () => (netSnmp ??= createRequire(import.meta.url)('net-snmp') as typeof import('net-snmp').default);
const AUTH = (p: AuthProtocol) => (snmp().AuthProtocols as unknown as Record<string, number>)[p];
const PRIV = (p: PrivProtocol) => (snmp().PrivProtocols as unknown as Record<string, number>)[p];
const authLen = (p: AuthProtocol) => snmp().Authentication.getParametersLength(AUTH(p)) as number;
/** RFC 3411 §5 SecurityLevel, in its order: noAuthNoPriv < authNoPriv < authPriv. */
const LEVELS: readonly SecurityLevel[] = ['noAuthNoPriv', 'authNoPriv', 'authPriv'];

/** usmStats counters (RFC 3414 §5, 1.3.6.1.6.3.15.1.1.N.0). */
export const UsmStat = { unsupportedSecLevels: 1, notInTimeWindows: 2, unknownUserNames: 3, unknownEngineIDs: 4, wrongDigests: 5, decryptionErrors: 6 } as const;
export type UsmStatName = keyof typeof UsmStat;
const USM_STATS = parseOid('1.3.6.1.6.3.15.1.1');
const SNMP_UNKNOWN_CONTEXTS = parseOid('1.3.6.1.6.3.12.1.5.0');

/** RFC 3414 §2.2.3: a message more than 150 seconds off the authoritative engine's clock is refused. */
export const TIME_WINDOW = 150;
const MAX_BOOTS = 2147483647;

/** The authoritative engine: a persistent engineID, engineBoots counted per start, engineTime since start. */
export class Engine {
  private readonly startedAt: number;
  constructor(readonly engineID: Buffer, readonly boots: number, private readonly clock: () => number = Date.now) {
    this.startedAt = clock();
  }

  get time(): number {
    return Math.floor((this.clock() - this.startedAt) / 1000);
  }

  /** An RFC 3411 §5 engineID: enterprise 32473 (documentation PEN) with the high bit, format 5 (octets). */
  static newID(): Buffer {
    return Buffer.concat([Buffer.from([0x80, 0x00, 0x7e, 0xd9, 0x05]), randomBytes(8)]);
  }
}

export interface RemoteEngine { engineID: Buffer; boots: number; time: number }

export type UsmResult =
  | { kind: 'drop'; reason: string }
  | { kind: 'report'; reason: UsmStatName | 'unknownContext'; reply?: Buffer }
  | { kind: 'ok'; user: UsmUser; scoped: ScopedPdu; level: SecurityLevel };

export class Usm {
  readonly stats: Record<UsmStatName, number> = { unsupportedSecLevels: 0, notInTimeWindows: 0, unknownUserNames: 0, unknownEngineIDs: 0, wrongDigests: 0, decryptionErrors: 0 };
  unknownContexts = 0;
  private readonly users = new Map<string, UsmUser>();

  constructor(readonly engine: Engine, users: readonly UsmUser[]) {
    for (const u of users) this.users.set(u.name, u);
  }

  user(name: string): UsmUser | undefined {
    return this.users.get(name);
  }

  /** RFC 3414 §3.2: processes an incoming message; a failure yields the Report to send, if reportable. */
  incoming(m: V3Message): UsmResult {
    if (m.securityModel !== 3) return { kind: 'drop', reason: 'unknown security model' };
    const e = this.engine;
    const report = (stat: UsmStatName, user?: UsmUser, requestId = 0): UsmResult => {
      this.stats[stat]++;
      return { kind: 'report', reason: stat, reply: m.flags.reportable ? this.report(m, [USM_STATS.concat(UsmStat[stat], 0), this.stats[stat]], requestId, user) : undefined };
    };
    // §3.2 step 3: an unknown engineID (discovery sends an empty one) is answered with ours.
    if (!m.usm.engineID.equals(e.engineID)) return report('unknownEngineIDs');
    const user = this.users.get(m.usm.userName);
    if (!user) return report('unknownUserNames');
    if ((m.flags.auth && !user.authProtocol) || (m.flags.priv && !user.privProtocol)) return report('unsupportedSecLevels');
    if (m.flags.auth) {
      const proto = AUTH(user.authProtocol!);
      if (!snmp().Authentication.isAuthentic(m.raw, proto, user.authPassword, e.engineID, m.usm.authParams)) return report('wrongDigests');
      // §3.2 step 7a: the timeliness check; the report goes out authenticated so the manager can resync.
      if (e.boots === MAX_BOOTS || m.usm.engineBoots !== e.boots || Math.abs(m.usm.engineTime - e.time) > TIME_WINDOW)
        return report('notInTimeWindows', { ...user, privProtocol: undefined });
    }
    let scoped: ScopedPdu;
    if (m.flags.priv) {
      try {
        const plain: Buffer = snmp().Encryption.decryptPdu(PRIV(user.privProtocol!), m.scoped as Buffer, m.usm.privParams, user.privPassword,
          AUTH(user.authProtocol!), { engineID: e.engineID, engineBoots: m.usm.engineBoots, engineTime: m.usm.engineTime });
        scoped = decodeScopedPdu(plain);
      } catch {
        // A wrong privacy password decrypts to garbage: that is a decryption error, not silence (gap 12).
        return report('decryptionErrors');
      }
    } else scoped = m.scoped as ScopedPdu;
    if (scoped.contextName.length) {
      this.unknownContexts++;
      return { kind: 'report', reason: 'unknownContext', reply: m.flags.reportable ? this.report(m, [SNMP_UNKNOWN_CONTEXTS, this.unknownContexts], scoped.pdu.requestId) : undefined };
    }
    const level: SecurityLevel = m.flags.priv ? 'authPriv' : m.flags.auth ? 'authNoPriv' : 'noAuthNoPriv';
    return { kind: 'ok', user, scoped, level };
  }

  static meets(level: SecurityLevel, min: SecurityLevel): boolean {
    return LEVELS.indexOf(level) >= LEVELS.indexOf(min);
  }

  private report(m: V3Message, [oid, count]: [number[], number], requestId: number, user?: UsmUser): Buffer {
    const pdu = encodePdu('Report', requestId, 0, 0, [encodeVarbind(oid, { type: 'Counter32', value: count })]);
    return this.wrap({ msgID: m.msgID, user, pdu, reportable: false });
  }

  /** Builds an outgoing message from this engine (responses, reports, traps) at the user's level. */
  wrap(o: { msgID: number; user?: UsmUser; pdu: Buffer; reportable: boolean; level?: SecurityLevel; engine?: RemoteEngine }): Buffer {
    // An inform's authoritative engine is the receiver (RFC 3414 §1.5.1): its engineID, boots and time.
    const e = o.engine ?? { engineID: this.engine.engineID, boots: this.engine.boots, time: this.engine.time };
    const user = o.user;
    const auth = !!user?.authProtocol && o.level !== 'noAuthNoPriv';
    const priv = auth && !!user?.privProtocol && o.level !== 'authNoPriv';
    const usm = { engineID: e.engineID, engineBoots: e.boots, engineTime: e.time, userName: user?.name ?? '', privParams: Buffer.alloc(0) as Buffer };
    let data: Buffer = encodeScopedPdu(e.engineID, Buffer.alloc(0), o.pdu);
    if (priv) {
      const r = snmp().Encryption.encryptPdu(PRIV(user!.privProtocol!), data, user!.privPassword, AUTH(user!.authProtocol!),
        { engineID: e.engineID, engineBoots: usm.engineBoots, engineTime: usm.engineTime });
      data = r.encryptedPdu;
      usm.privParams = r.msgPrivacyParameters;
    }
    const flags = (auth ? 1 : 0) | (priv ? 2 : 0) | (o.reportable ? 4 : 0);
    const n = auth ? authLen(user!.authProtocol!) : 0;
    const { buf, authParams } = encodeV3({ msgID: o.msgID, msgMaxSize: 65507, flags, usm, authLen: n, data, encrypted: priv });
    if (auth) snmp().Authentication.writeParameters(buf, AUTH(user!.authProtocol!), user!.authPassword, e.engineID, authParams);
    return buf;
  }
}
