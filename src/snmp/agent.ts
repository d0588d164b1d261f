// The SNMP command responder (RFC 3413 §3.2) over UDP: SNMPv1/v2c communities (RFC 3584) and SNMPv3 USM,
// dispatching GET, GETNEXT, GETBULK (RFC 3416 §4.2.3, max-repetitions per repeater) and SET (atomic, one
// data-model transaction with origin 'snmp') against the sorted MIB view. Every error is answered with the
// right error-status or counted and dropped; the agent keeps serving.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import type { Logger } from 'pino';
import { encodeVarbind, type Oid } from './ber.ts';
import { DmError, type Change, type DataModel, type Disposable } from '../datamodel/index.ts';
import { DM_ERROR_STATUS, errorStatus } from './errors.ts';
import { BadVersion, decodeMessage, encodeCommunity, encodePdu, encodeVarbinds, type ErrorStatusName, type Pdu } from './message.ts';
import { Engine, Usm, type UsmUser } from './usm.ts';
import { MibView, ViewBuilder, type Provider, type ProviderContext } from './view.ts';

export interface Community { name: string; access: 'ro' | 'rw' }

export interface AgentOptions {
  address: string;
  port: number;
  communities: readonly Community[];
  users: readonly UsmUser[];
  /** Our largest message (RFC 3417: at least 484); UDP over IPv4 allows 65507. */
  maxMessageSize: number;
  /** How long live values (counters) may be served from the last snapshot. */
  cacheMs: number;
  engine: Engine;
  providers: readonly Provider[];
  log?: Logger;
}

type Access = 'ro' | 'rw';
const END = (oid: Oid) => encodeVarbind(oid, { type: 'EndOfMibView' });
const NO_SUCH = (oid: Oid, instance: boolean) => encodeVarbind(oid, { type: instance ? 'NoSuchInstance' : 'NoSuchObject' });

export class SnmpAgent {
  readonly counters: Record<string, number> = { inPkts: 0, inBadVersions: 0, inBadCommunityNames: 0, inASNParseErrs: 0, silentDrops: 0 };
  readonly usm: Usm;
  private socket?: Socket;
  private view?: MibView;
  private dirty = true;
  private readonly sub: Disposable;
  private readonly startedAt = Date.now();
  private readonly communities: Map<string, Access>;

  constructor(private readonly dm: DataModel, readonly opts: AgentOptions) {
    this.usm = new Usm(opts.engine, opts.users);
    this.communities = new Map(opts.communities.map((c) => [c.name, c.access]));
    this.sub = dm.onChange(() => { this.dirty = true; });
  }

  async start(): Promise<{ address: string; port: number }> {
    const s = createSocket(this.opts.address.includes(':') ? 'udp6' : 'udp4');
    this.socket = s;
    s.on('message', (buf, rinfo) => this.onDatagram(buf, rinfo));
    s.on('error', (err) => this.opts.log?.error({ err }, 'snmp socket error'));
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind(this.opts.port, this.opts.address, () => { s.off('error', reject); resolve(); });
    });
    const a = s.address();
    this.opts.log?.info({ address: a.address, port: a.port }, 'snmp agent listening');
    return { address: a.address, port: a.port };
  }

  async stop(): Promise<void> {
    this.sub.dispose();
    const s = this.socket;
    this.socket = undefined;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  /** sysUpTime: hundredths of a second since this agent started (RFC 3418). */
  uptime(): number {
    return Math.floor((Date.now() - this.startedAt) / 10);
  }

  /** The current view, rebuilt after a data-model change or when the live values are too old. */
  currentView(force = false): MibView {
    const now = Date.now();
    if (!force && this.view && !this.dirty && now - this.view.builtAt < this.opts.cacheMs) return this.view;
    this.dirty = false;
    const b = new ViewBuilder();
    const e = this.opts.engine;
    const ctx: ProviderContext = {
      dm: this.dm, uptime: () => this.uptime(), startedAt: this.startedAt,
      engine: { engineID: e.engineID, boots: e.boots, time: e.time, maxMessageSize: this.opts.maxMessageSize },
      counters: { ...this.counters, ...this.usm.stats },
    };
    for (const p of this.opts.providers) {
      try {
        p(b, ctx);
      } catch (err) {
        this.opts.log?.error({ err }, 'snmp provider failed');
      }
    }
    this.view = b.build(now);
    return this.view;
  }

  private send(buf: Buffer, rinfo: RemoteInfo): void {
    this.socket?.send(buf, rinfo.port, rinfo.address, (err) => { if (err) this.opts.log?.warn({ err, bytes: buf.length }, 'snmp send failed'); });
  }

  private onDatagram(buf: Buffer, rinfo: RemoteInfo): void {
    this.counters.inPkts++;
    let msg;
    try {
      msg = decodeMessage(buf);
    } catch (err) {
      // RFC 3412 §7.2 steps 2-3: count and drop.
      if (err instanceof BadVersion) this.counters.inBadVersions++;
      else this.counters.inASNParseErrs++;
      return;
    }
    try {
      if (msg.version !== 3) {
        // RFC 3584 §5.2.1: an unknown community is counted and dropped.
        const access = this.communities.get(msg.community.toString('latin1'));
        if (!access) { this.counters.inBadCommunityNames++; return; }
        const limit = this.opts.maxMessageSize - 32 - msg.community.length;
        const pdu = this.process(msg.pdu, msg.version, access, limit);
        if (pdu) this.send(encodeCommunity(msg.version, msg.community, pdu), rinfo);
        return;
      }
      const r = this.usm.incoming(msg);
      if (r.kind === 'drop') { this.counters.silentDrops++; return; }
      if (r.kind === 'report') { if (r.reply) this.send(r.reply, rinfo); return; }
      const pduIn = r.scoped.pdu;
      let pdu: Buffer | undefined;
      if (!Usm.meets(r.level, r.user.level)) {
        pdu = encodePdu('Response', pduIn.requestId, errorStatus('authorizationError', 1), 0, encodeVarbinds(pduIn.varbinds));
      } else {
        const limit = Math.min(this.opts.maxMessageSize, msg.msgMaxSize) - 160 - r.user.name.length;
        pdu = this.process(pduIn, 3, r.user.access, limit);
      }
      if (pdu) this.send(this.usm.wrap({ msgID: msg.msgID, user: r.user, pdu, reportable: false, level: r.level }), rinfo);
    } catch (err) {
      this.counters.silentDrops++;
      this.opts.log?.error({ err }, 'snmp request failed');
    }
  }

  /** Runs one request PDU; returns the encoded Response-PDU, or undefined to drop. `limit`: varbind bytes. */
  process(pdu: Pdu, version: number, access: Access, limit: number): Buffer | undefined {
    const error = (name: ErrorStatusName, index: number, vbs = encodeVarbinds(pdu.varbinds)) =>
      encodePdu('Response', pdu.requestId, errorStatus(name, version), index, vbs);
    let out: Buffer[] | Buffer;
    switch (pdu.type) {
      case 'GetRequest': out = this.get(pdu, version, error); break;
      case 'GetNextRequest': out = this.getNext(pdu, version, error); break;
      case 'GetBulkRequest':
        if (version === 0) return undefined; // not an SNMPv1 PDU
        out = this.getBulk(pdu, limit);
        break;
      case 'SetRequest': out = this.set(pdu, access, error); break;
      default:
        this.counters.silentDrops++; // responses, reports and notifications are not ours to answer
        return undefined;
    }
    if (Buffer.isBuffer(out)) return out;
    let size = 0;
    for (const b of out) size += b.length;
    // RFC 3416 §4.2.1 step (3) / RFC 1157 §4.1.2: too big -> tooBig, not silence (gap 9).
    if (size > limit) return error('tooBig', 0, version === 0 ? encodeVarbinds(pdu.varbinds) : []);
    return encodePdu('Response', pdu.requestId, 0, 0, out);
  }

  private get(pdu: Pdu, version: number, error: (n: ErrorStatusName, i: number) => Buffer): Buffer[] | Buffer {
    const view = this.currentView();
    const out: Buffer[] = [];
    for (const [i, vb] of pdu.varbinds.entries()) {
      const idx = view.find(vb.oid);
      if (idx >= 0 && !(version === 0 && view.entries[idx].c64)) out.push(view.entries[idx].vb);
      else if (version === 0) return error('noSuchName', i + 1); // RFC 3584 §4.2.2.1 (gap 7)
      else out.push(NO_SUCH(vb.oid, view.isObjectType(vb.oid)));
    }
    return out;
  }

  private getNext(pdu: Pdu, version: number, error: (n: ErrorStatusName, i: number) => Buffer): Buffer[] | Buffer {
    const view = this.currentView();
    const n = view.entries.length;
    const out: Buffer[] = [];
    for (const [i, vb] of pdu.varbinds.entries()) {
      let idx = view.next(vb.oid);
      while (version === 0 && idx < n && view.entries[idx].c64) idx++;
      if (idx < n) out.push(view.entries[idx].vb);
      else if (version === 0) return error('noSuchName', i + 1);
      else out.push(END(vb.oid));
    }
    return out;
  }

  /** RFC 3416 §4.2.3: N non-repeaters once, then up to M rows of the R repeaters (gap 8: M per repeater). */
  private getBulk(pdu: Pdu, limit: number): Buffer[] | Buffer {
    const view = this.currentView();
    const e = view.entries;
    const vbs = pdu.varbinds;
    const N = Math.min(Math.max(pdu.errorStatus, 0), vbs.length);
    const M = Math.max(pdu.errorIndex, 0);
    const R = vbs.length - N;
    const out: Buffer[] = [];
    let size = 0;
    for (let i = 0; i < N; i++) {
      const idx = view.next(vbs[i].oid);
      const b = idx < e.length ? e[idx].vb : END(vbs[i].oid);
      out.push(b);
      size += b.length;
    }
    if (size > limit) return out; // process() turns this into tooBig
    const cursor = vbs.slice(N).map((vb) => view.next(vb.oid));
    const last: Oid[] = vbs.slice(N).map((vb) => vb.oid);
    for (let rep = 0; rep < M && R > 0; rep++) {
      let live = false;
      for (let j = 0; j < R; j++) {
        const c = cursor[j];
        let b: Buffer;
        if (c < e.length) {
          b = e[c].vb;
          last[j] = e[c].oid;
          cursor[j] = c + 1;
          live = true;
        } else b = END(last[j]);
        // A response that would be too big is cut short instead (RFC 3416 §4.2.3).
        if (size + b.length > limit) return out;
        out.push(b);
        size += b.length;
      }
      if (!live) break; // every repeater is at endOfMibView
    }
    return out;
  }

  /** RFC 3416 §4.2.5: check every varbind, then one atomic data-model commit (origin 'snmp'). */
  private set(pdu: Pdu, access: Access, error: (n: ErrorStatusName, i: number) => Buffer): Buffer[] | Buffer {
    if (access !== 'rw') return error('noAccess', 1);
    const view = this.currentView(true);
    const changes: Change[] = [];
    const owner: number[] = [];
    for (const [i, vb] of pdu.varbinds.entries()) {
      const idx = view.find(vb.oid);
      if (idx < 0) return error('noCreation', i + 1); // gap 3: never noError for a missing object
      const mapper = view.entries[idx].set;
      if (!mapper) return error('notWritable', i + 1);
      const r = mapper(vb.value);
      if (typeof r === 'string') return error(r, i + 1);
      for (const c of r) { changes.push(c); owner.push(i + 1); }
    }
    try {
      if (changes.length) this.dm.commit(changes, 'snmp');
    } catch (err) {
      if (!(err instanceof DmError)) throw err;
      const bad = err.details[0]?.path ?? err.path;
      const at = changes.findIndex((c) => c.op === 'set' && c.path === bad);
      return error(DM_ERROR_STATUS[err.kind], at >= 0 ? owner[at] : 1);
    }
    return encodeVarbinds(pdu.varbinds);
  }
}
