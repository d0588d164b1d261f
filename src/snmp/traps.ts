// Notification originator (RFC 3413 §3.3): SNMPv2-Trap and InformRequest PDUs (RFC 3416 §4.2.6/§4.2.7) to the
// configured targets, over SNMPv2c or SNMPv3 USM. For a v3 trap we are the authoritative engine; for a v3
// inform the receiver is, so its engineID, boots and time are discovered first (RFC 3414 §4).
import { randomInt } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import type { Logger } from 'pino';
import { encodeVarbind, parseOid, type Oid } from './ber.ts';
import { decodeMessage, encodeCommunity, encodePdu, type Message } from './message.ts';
import type { RemoteEngine, Usm, UsmUser } from './usm.ts';

export const SYS_UPTIME_0 = parseOid('1.3.6.1.2.1.1.3.0');
export const SNMP_TRAP_OID_0 = parseOid('1.3.6.1.6.3.1.1.4.1.0');
export const COLD_START = parseOid('1.3.6.1.6.3.1.1.5.1');
export const WARM_START = parseOid('1.3.6.1.6.3.1.1.5.2');
export const LINK_DOWN = parseOid('1.3.6.1.6.3.1.1.5.3');
export const LINK_UP = parseOid('1.3.6.1.6.3.1.1.5.4');
export const AUTHENTICATION_FAILURE = parseOid('1.3.6.1.6.3.1.1.5.5');

export interface TrapTarget {
  host: string;
  port: number;
  version: 'v2c' | 'v3';
  community: string;
  user?: UsmUser;
  inform: boolean;
  timeoutMs: number;
  retries: number;
}

/** The first two varbinds of every notification (RFC 3416 §4.2.6). */
export function notificationHeader(uptime: number, trapOid: Oid): Buffer[] {
  return [
    encodeVarbind(SYS_UPTIME_0, { type: 'TimeTicks', value: uptime }),
    encodeVarbind(SNMP_TRAP_OID_0, { type: 'OID', value: trapOid }),
  ];
}

export class Notifier {
  private socket?: Socket;
  private readonly pending = new Map<number, (m: Message) => void>();
  private readonly engines = new Map<string, RemoteEngine & { at: number }>();
  sent = 0;
  acked = 0;

  constructor(private readonly usm: Usm, private readonly targets: readonly TrapTarget[], private readonly log?: Logger) {}

  async start(): Promise<void> {
    if (!this.targets.length) return;
    const s = createSocket('udp4');
    this.socket = s;
    s.on('message', (buf) => {
      let m: Message;
      try {
        m = decodeMessage(buf);
      } catch {
        return;
      }
      const id = m.version === 3 ? m.msgID : m.pdu.requestId;
      this.pending.get(id)?.(m);
    });
    s.on('error', (err) => this.log?.warn({ err }, 'snmp notification socket error'));
    await new Promise<void>((resolve) => s.bind(0, resolve));
  }

  async stop(): Promise<void> {
    const s = this.socket;
    this.socket = undefined;
    this.pending.clear();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  /** Sends one notification (its varbinds after the header) to every target; resolves when all are done. */
  async notify(varbinds: Buffer[]): Promise<void> {
    await Promise.all(this.targets.map((t) => this.toTarget(t, varbinds).catch((err) => this.log?.warn({ err, host: t.host, port: t.port }, 'snmp notification failed'))));
  }

  private async toTarget(t: TrapTarget, vbs: Buffer[]): Promise<void> {
    const id = randomInt(1, 0x7fffffff);
    const type = t.inform ? 'InformRequest' : 'SNMPv2Trap';
    const pdu = encodePdu(type, id, 0, 0, vbs);
    this.sent++;
    if (t.version === 'v2c') {
      const msg = encodeCommunity(1, Buffer.from(t.community, 'latin1'), pdu);
      if (!t.inform) return this.transmit(msg, t);
      await this.exchange(t, id, () => msg, (m) => m.version !== 3 && m.pdu.type === 'Response');
      this.acked++;
      return;
    }
    const user = t.user;
    if (!user) throw new Error(`v3 target ${t.host} has no user`);
    if (!t.inform) return this.transmit(this.usm.wrap({ msgID: id, user, pdu, reportable: false, level: user.level }), t);
    // Informs are confirmed: the receiver is authoritative, so learn its engine first, and resync on a
    // notInTimeWindow report (RFC 3414 §4 discovery, §3.2 step 7b).
    const key = `${t.host}:${t.port}`;
    let engine = this.engines.get(key) ?? (await this.discover(t));
    for (let attempt = 0; attempt < 2; attempt++) {
      const e = engine;
      const elapsed = Math.floor((Date.now() - e.at) / 1000);
      const msgID = randomInt(1, 0x7fffffff);
      const reply = await this.exchange(t, msgID, () => this.usm.wrap({ msgID, user, pdu, reportable: true, level: user.level, engine: { engineID: e.engineID, boots: e.boots, time: e.time + elapsed } }), () => true);
      if (reply.version === 3 && !Buffer.isBuffer(reply.scoped) && reply.scoped.pdu.type === 'Report') {
        engine = { engineID: reply.usm.engineID, boots: reply.usm.engineBoots, time: reply.usm.engineTime, at: Date.now() };
        this.engines.set(key, engine);
        continue;
      }
      this.acked++;
      return;
    }
    throw new Error('inform not acknowledged after resync');
  }

  private async discover(t: TrapTarget): Promise<RemoteEngine & { at: number }> {
    const msgID = randomInt(1, 0x7fffffff);
    const probe = this.usm.wrap({ msgID, pdu: encodePdu('GetRequest', msgID, 0, 0, []), reportable: true, level: 'noAuthNoPriv', engine: { engineID: Buffer.alloc(0), boots: 0, time: 0 } });
    const r = await this.exchange(t, msgID, () => probe, (m) => m.version === 3);
    if (r.version !== 3) throw new Error('discovery: not an SNMPv3 reply');
    const e = { engineID: r.usm.engineID, boots: r.usm.engineBoots, time: r.usm.engineTime, at: Date.now() };
    this.engines.set(`${t.host}:${t.port}`, e);
    return e;
  }

  private transmit(buf: Buffer, t: TrapTarget): Promise<void> {
    return new Promise((resolve, reject) => {
      if (!this.socket) return reject(new Error('notifier stopped'));
      this.socket.send(buf, t.port, t.host, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** Sends and retransmits until a matching reply arrives (RFC 3413 §3.3: informs are retried). */
  private exchange(t: TrapTarget, id: number, build: () => Buffer, accept: (m: Message) => boolean): Promise<Message> {
    return new Promise((resolve, reject) => {
      const key = id;
      let tries = 0;
      let timer: NodeJS.Timeout | undefined;
      const finish = (err?: Error, m?: Message) => {
        clearTimeout(timer);
        this.pending.delete(key);
        if (err) reject(err);
        else resolve(m!);
      };
      this.pending.set(key, (m) => { if (accept(m)) finish(undefined, m); });
      const attempt = () => {
        if (tries++ > t.retries) return finish(new Error('no acknowledgement'));
        this.transmit(build(), t).catch((err) => finish(err));
        timer = setTimeout(attempt, t.timeoutMs);
      };
      attempt();
    });
  }
}
