// The SNMP command responder (RFC 3413 §3.2) over UDP: SNMPv1/v2c communities (RFC 3584) and SNMPv3 USM,
// dispatching GET, GETNEXT, GETBULK (RFC 3416 §4.2.3, max-repetitions per repeater) and SET (atomic, one
// data-model transaction with origin 'snmp') against the sorted MIB view. Every error is answered with the
// right error-status or counted and dropped; the agent keeps serving.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import type { Logger } from 'pino';
import { compareOid, encodeVarbind, type Oid } from './ber.ts';
import { DmError, type Change, type DataModel, type Disposable } from '../datamodel/index.ts';
import { DM_ERROR_STATUS, errorStatus } from './errors.ts';
import { BadVersion, decodeMessage, encodeCommunity, encodePdu, encodeVarbinds, type ErrorStatusName, type Pdu } from './message.ts';
import { Engine, Usm, type UsmUser } from './usm.ts';
import { LinkMonitor, type LinkTransition } from './links.ts';
import { Entry, MibView, Segment, ViewBuilder, type AgentLocal, type IfInfo, type Provider, type ProviderContext } from './view.ts';

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
  /** snmpEnableAuthenTraps as stored (1 enabled, 2 disabled). */
  local?: Partial<AgentLocal>;
  /** A request failed authentication (RFC 3418 authenticationFailure: bad community or USM failure). */
  onAuthFailure?: () => void;
  /** The agent's own state changed by a SET (persist it). */
  onLocalChange?: (local: AgentLocal) => void;
  /** Speed, MAC and counters of a system interface by name (the platform's; src/wan/sysfs.ts, src/sim). */
  interfaces?: (name: string) => IfInfo | undefined;
  /** ifOperStatus transitions (linkDown/linkUp). */
  onLink?: (t: LinkTransition) => void;
}

/** Time one slice of row upkeep may hold the event loop (ms). */
const SLICE_MS = 3;
/**
 * The agent's work (requests, row upkeep) one turn of the event loop may hold before the rest waits for the
 * next turn, after the timers that fell due (the failover detectors'). libuv reads up to 32 datagrams in one
 * poll phase: a walking manager whose next request is already there when a reply leaves got 23 answered in one
 * turn, ~100 ms with the CPUs busy. Budget + one request + a slice's overshoot + a scavenge stays under the
 * 20 ms a detector may be late (issue 20 item 6).
 */
const TURN_MS = 5;
/** Requests held for the next turn at most; more are dropped, as a full socket buffer would (RFC 3417 §3: UDP). */
const INBOX_MAX = 256;

type Access = 'ro' | 'rw';
const END = (oid: Oid) => encodeVarbind(oid, { type: 'EndOfMibView' });
const NO_SUCH = (oid: Oid, instance: boolean) => encodeVarbind(oid, { type: instance ? 'NoSuchInstance' : 'NoSuchObject' });

export class SnmpAgent {
  readonly counters: Record<string, number> = { inPkts: 0, inBadVersions: 0, inBadCommunityNames: 0, inBadCommunityUses: 0, inASNParseErrs: 0, silentDrops: 0 };
  readonly usm: Usm;
  readonly links: LinkMonitor;
  readonly local: AgentLocal;
  /** The view the requests read; each segment refreshes itself when reached (touch). */
  readonly view: MibView;
  private socket?: Socket;
  private readonly sub: Disposable;
  private readonly startedAt = Date.now();
  private readonly communities: Map<string, Access>;
  /** Row-level segments: the keys (oidKey) each row owns, and the rows a change named that are not read yet. */
  private readonly owned = new Map<Segment, Map<string, string[]>>();
  private readonly dirtyRows = new Map<Segment, Set<string>>();
  private upkeep?: NodeJS.Timeout;
  /** Time the agent held the loop in this turn; a check-phase callback starts the next turn at 0. */
  private turnMs = 0;
  private turnEnds = false;
  /** Requests that arrived after this turn's budget was spent, in order, and the timer that serves them. */
  private readonly inbox: [Buffer, RemoteInfo][] = [];
  private inboxTimer?: NodeJS.Timeout;
  /** Requests dropped because the inbox was full. */
  inboxDrops = 0;
  private ticker?: NodeJS.Timeout;

  constructor(private readonly dm: DataModel, readonly opts: AgentOptions) {
    this.usm = new Usm(opts.engine, opts.users);
    this.communities = new Map(opts.communities.map((c) => [c.name, c.access]));
    this.links = new LinkMonitor(dm);
    this.local = { enableAuthenTraps: 2, setSerialNo: 0, ...opts.local };
    const segments = [...opts.providers].sort((a, b) => compareOid(a.root, b.root)).map((p) => new Segment(p));
    for (const seg of segments) if (seg.provider.rows) { this.owned.set(seg, new Map()); this.dirtyRows.set(seg, new Set()); }
    this.view = new MibView(segments, (seg) => this.touch(seg));
    this.sub = dm.onChange((ev) => {
      const paths = [...ev.changes.map((c) => c.path), ...ev.added, ...ev.deleted];
      for (const seg of segments) {
        const rows = seg.provider.rows;
        const dirty = this.dirtyRows.get(seg);
        for (const path of paths) {
          const row = rows?.rowOf(path);
          if (row && dirty) dirty.add(row);
          else if (seg.provider.watch.some((w) => path.startsWith(w))) seg.stale = true;
        }
      }
      this.scheduleUpkeep();
      this.sampleLinks();
    });
  }

  /** Reads the row-level tables whole, in slices that leave the event loop free between them, then listens. */
  async start(): Promise<{ address: string; port: number }> {
    for (const [seg, dirty] of this.dirtyRows) for (const row of seg.provider.rows!.all(this.dm)) dirty.add(row);
    while (this.pendingRows()) {
      this.drainRows(SLICE_MS);
      await new Promise((r) => setImmediate(r));
    }
    this.sampleLinks();
    this.ticker = setInterval(() => this.sampleLinks(), 1000);
    this.ticker.unref?.();
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
    clearInterval(this.ticker);
    clearTimeout(this.upkeep);
    clearTimeout(this.inboxTimer);
    this.inbox.length = 0;
    const s = this.socket;
    this.socket = undefined;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  /** sysUpTime: hundredths of a second since this agent started (RFC 3418). */
  uptime(): number {
    return Math.floor((Date.now() - this.startedAt) / 10);
  }

  private context(): ProviderContext {
    const e = this.opts.engine;
    return {
      dm: this.dm, uptime: () => this.uptime(), startedAt: this.startedAt,
      engine: { engineID: e.engineID, boots: e.boots, time: e.time, maxMessageSize: this.opts.maxMessageSize },
      counters: { ...this.counters, ...this.usm.stats }, local: this.local, link: (i) => this.links.get(i),
      iface: (name) => this.opts.interfaces?.(name),
    };
  }

  /** Samples every interface's status; each transition is a linkDown/linkUp (RFC 2863 §6). */
  sampleLinks(): void {
    let ts: LinkTransition[];
    try {
      ts = this.links.sample(this.uptime());
    } catch (err) {
      this.opts.log?.error({ err }, 'snmp interface sample failed');
      return;
    }
    for (const t of ts) this.opts.onLink?.(t);
  }

  /** Before a request reads a segment: refresh it if a change made it stale or its live values are old. */
  private touch(seg: Segment): void {
    const p = seg.provider;
    if (p.rows) {
      // Rows a change named are read here only within one slice, and only when nothing else held the loop in
      // this turn (the request would add its slice to that work); the rest follow in the background.
      if (this.dirtyRows.get(seg)!.size && this.turnMs === 0) this.drainRows(SLICE_MS, seg);
      return;
    }
    const now = Date.now();
    if (!seg.stale && !(p.live && now - seg.builtAt >= this.opts.cacheMs)) return;
    if (p.live) this.sampleLinks();
    const b = new ViewBuilder();
    try {
      p.fill(b, this.context());
    } catch (err) {
      this.opts.log?.error({ err, provider: p.name }, 'snmp provider failed');
    }
    seg.load(b.build());
    seg.objects = b.objects;
    seg.builtAt = now;
    seg.stale = false;
  }

  private pendingRows(): number {
    let n = 0;
    for (const d of this.dirtyRows.values()) n += d.size;
    return n;
  }

  private scheduleUpkeep(): void {
    if (this.upkeep || !this.pendingRows()) return;
    // A timer, not setImmediate: an immediate runs in the same loop turn as the request or commit that made
    // the rows dirty, and a detector's timer already due would wait for both; a timer queues behind it.
    this.upkeep = setTimeout(() => {
      this.upkeep = undefined;
      if (this.turnMs < TURN_MS) this.drainRows(SLICE_MS);
      this.scheduleUpkeep();
    });
  }

  /** Counts `ms` of the agent's work against this turn of the event loop. */
  private spend(ms: number): void {
    this.turnMs += ms;
    if (this.turnEnds) return;
    this.turnEnds = true;
    // The check phase follows the poll phase that read the datagrams; the next turn starts with the timers.
    setImmediate(() => { this.turnMs = 0; this.turnEnds = false; });
  }

  /** Reads changed rows again until `budgetMs` is spent: only what changed, never the whole table. */
  private drainRows(budgetMs: number, only?: Segment): void {
    const start = performance.now();
    const end = start + budgetMs;
    const ctx = this.context();
    for (const [seg, dirty] of this.dirtyRows) {
      if (only && seg !== only) continue;
      const src = seg.provider.rows!;
      const owned = this.owned.get(seg)!;
      for (const row of dirty) {
        dirty.delete(row);
        const b = new ViewBuilder(512);
        try {
          src.fill(b, ctx, row);
        } catch (err) {
          this.opts.log?.error({ err, provider: seg.provider.name, row }, 'snmp row failed');
        }
        const fresh = b.build();
        seg.replace(owned.get(row) ?? [], fresh);
        for (const o of b.objects) seg.objects.add(o);
        if (fresh.length) owned.set(row, fresh.map((x) => x.key));
        else owned.delete(row);
        if (performance.now() > end) break;
      }
      // The table's scalars (its row count) follow the rows.
      const b = new ViewBuilder();
      seg.provider.fill(b, { ...ctx, segment: seg });
      const extra = b.build();
      seg.replace(extra.map((x) => x.key), extra);
      for (const o of b.objects) seg.objects.add(o);
      seg.stale = false;
      if (performance.now() > end) break;
    }
    if (!only) this.spend(performance.now() - start); // a touch's slice counts in its request's time
  }

  /** The entry an OID names now (traps and tests). */
  entry(oid: Oid): Entry | undefined {
    return this.view.get(oid);
  }

  private authFailure(): void {
    if (this.local.enableAuthenTraps === 1) this.opts.onAuthFailure?.();
  }

  private send(buf: Buffer, rinfo: RemoteInfo): void {
    this.socket?.send(buf, rinfo.port, rinfo.address, (err) => { if (err) this.opts.log?.warn({ err, bytes: buf.length }, 'snmp send failed'); });
  }

  /** The longest time one request held the event loop (ms), from decoding to the reply sent. */
  maxRequestMs = 0;

  private onDatagram(buf: Buffer, rinfo: RemoteInfo): void {
    if (this.turnMs < TURN_MS && !this.inbox.length) return this.serve(buf, rinfo);
    if (this.inbox.length >= INBOX_MAX) {
      this.inboxDrops++;
      return;
    }
    this.inbox.push([buf, rinfo]);
    this.armInbox();
  }

  /** Serves the inbox in arrival order from a timer, so the detectors' timers that fell due run first. */
  private armInbox(): void {
    this.inboxTimer ??= setTimeout(() => {
      this.inboxTimer = undefined;
      while (this.inbox.length && this.turnMs < TURN_MS) this.serve(...this.inbox.shift()!);
      if (this.inbox.length) this.armInbox();
    });
  }

  private serve(buf: Buffer, rinfo: RemoteInfo): void {
    const t0 = performance.now();
    try {
      this.handle(buf, rinfo);
    } finally {
      const ms = performance.now() - t0;
      if (ms > this.maxRequestMs) this.maxRequestMs = ms;
      this.spend(ms);
    }
  }

  private handle(buf: Buffer, rinfo: RemoteInfo): void {
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
        if (!access) { this.counters.inBadCommunityNames++; this.authFailure(); return; }
        const limit = this.opts.maxMessageSize - 32 - msg.community.length;
        const pdu = this.process(msg.pdu, msg.version, access, limit);
        if (pdu) this.send(encodeCommunity(msg.version, msg.community, pdu), rinfo);
        return;
      }
      const before = this.usm.stats.wrongDigests + this.usm.stats.unknownUserNames;
      const r = this.usm.incoming(msg);
      // RFC 3414 §3.2 steps 4 and 6 (unknown user, wrong digest) are authentication failures (RFC 3418).
      if (this.usm.stats.wrongDigests + this.usm.stats.unknownUserNames > before) this.authFailure();
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
    const view = this.view;
    const out: Buffer[] = [];
    for (const [i, vb] of pdu.varbinds.entries()) {
      const e = view.get(vb.oid);
      if (e && !(version === 0 && e.c64)) out.push(e.vb);
      else if (version === 0) return error('noSuchName', i + 1); // RFC 3584 §4.2.2.1 (gap 7)
      else out.push(NO_SUCH(vb.oid, view.isObjectType(vb.oid)));
    }
    return out;
  }

  private getNext(pdu: Pdu, version: number, error: (n: ErrorStatusName, i: number) => Buffer): Buffer[] | Buffer {
    const view = this.view;
    const out: Buffer[] = [];
    for (const [i, vb] of pdu.varbinds.entries()) {
      let c = view.next(vb.oid);
      while (version === 0 && view.at(c)?.c64) c = view.advance(c);
      const e = view.at(c);
      if (e) out.push(e.vb);
      else if (version === 0) return error('noSuchName', i + 1);
      else out.push(END(vb.oid));
    }
    return out;
  }

  /** RFC 3416 §4.2.3: N non-repeaters once, then up to M rows of the R repeaters (gap 8: M per repeater). */
  private getBulk(pdu: Pdu, limit: number): Buffer[] | Buffer {
    const view = this.view;
    const vbs = pdu.varbinds;
    const N = Math.min(Math.max(pdu.errorStatus, 0), vbs.length);
    const M = Math.max(pdu.errorIndex, 0);
    const R = vbs.length - N;
    const out: Buffer[] = [];
    let size = 0;
    for (let i = 0; i < N; i++) {
      const b = view.at(view.next(vbs[i].oid))?.vb ?? END(vbs[i].oid);
      out.push(b);
      size += b.length;
    }
    if (size > limit) return out; // process() turns this into tooBig
    const cursor = vbs.slice(N).map((vb) => view.next(vb.oid));
    const last: (Entry | Oid)[] = vbs.slice(N).map((vb) => vb.oid); // the OID decoded only for endOfMibView
    for (let rep = 0; rep < M && R > 0; rep++) {
      let live = false;
      for (let j = 0; j < R; j++) {
        const e = view.at(cursor[j]);
        let b: Buffer;
        if (e) {
          b = e.vb;
          last[j] = e;
          cursor[j] = view.advance(cursor[j]);
          live = true;
        } else { const l = last[j]; b = END(l instanceof Entry ? l.oid : l); }
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
    if (access !== 'rw') {
      this.counters.inBadCommunityUses++; // RFC 3418 snmpInBadCommunityUses
      return error('noAccess', 1);
    }
    for (const seg of this.view.segments) seg.stale = true; // check against the values of now
    const changes: Change[] = [];
    const owner: number[] = [];
    const actions: (() => void)[] = [];
    for (const [i, vb] of pdu.varbinds.entries()) {
      const e = this.view.get(vb.oid);
      if (!e) return error('noCreation', i + 1); // gap 3: never noError for a missing object
      const mapper = e.set;
      if (!mapper) return error('notWritable', i + 1);
      const r = mapper(vb.value);
      if (typeof r === 'string') return error(r, i + 1);
      if (typeof r === 'function') { actions.push(r); continue; }
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
    if (actions.length) {
      for (const a of actions) a();
      for (const seg of this.view.segments) if (!seg.provider.rows) seg.stale = true;
      this.opts.onLocalChange?.(this.local);
    }
    return encodeVarbinds(pdu.varbinds);
  }
}
