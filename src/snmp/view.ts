// The agent's MIB view: every instance the agent serves, sorted by OID, each with its varbind encoded once
// (asn1-ber) when its segment or row is built. GET is a binary search, GETNEXT/GETBULK walk the entries
// (O(log n) per request, not O(rows) as in net-snmp's MIB tables, gap 17). Providers fill a builder from the
// data model; the agent refreshes a segment when a request reaches it after a change under its watched paths or
// when its live values (counters) are older than the cache time, and a row-level table (inetCidrRouteTable)
// only in the rows a change named (agent.ts).
import { Ber, compareOid, keyOid, oidKey, startsWith, writeVarbind, type BerWriter, type Oid, type Value } from './ber.ts';
import type { ErrorStatusName } from './message.ts';
import type { Change, DataModel } from '../datamodel/index.ts';

/**
 * Turns an SNMP SET value into data-model changes, or an action on the agent's own state run after the
 * commit (snmpEnableAuthenTraps, snmpSetSerialNo), or names the RFC 3416 §4.2.5 error to return.
 */
export type SetMapper = (v: Value) => Change[] | (() => void) | ErrorStatusName;

/**
 * One instance: its OID as a key (oidKey) and its encoded VarBind SEQUENCE as a range of a buffer its row or
 * segment shares. ~150 bytes each, where an object with an OID array and its own Buffer view took ~420: 110,000
 * of them held 54 MB of a gateway's 128 MB heap and its collections stalled the loop (issue 20 item 6).
 */
export class Entry {
  constructor(
    readonly key: string,
    private readonly buf: Buffer,
    private readonly start: number,
    private readonly end: number,
    /** Counter64 objects are invisible to SNMPv1 (RFC 3584 §4.2.2.1). */
    readonly c64: boolean,
    readonly set?: SetMapper,
  ) {}

  /** The encoded VarBind SEQUENCE. */
  get vb(): Buffer {
    return this.buf.subarray(this.start, this.end);
  }

  get oid(): Oid {
    return keyOid(this.key);
  }
}

/** A position in the view: a segment and an entry in it. */
export interface Cursor { seg: number; idx: number }

/** Entries per chunk of a segment; a chunk splits at twice this. */
const CHUNK = 512;

/**
 * The entries of one provider, sorted, all under one root OID (no root is a prefix of another, so the
 * segments never interleave). A segment is refreshed only when a request reaches it and it is stale: a
 * data-model change under one of its watched paths, or live values older than the cache time.
 *
 * The entries are kept in sorted chunks of at most 2 x CHUNK: a row-level provider replaces one row's
 * entries in a table of 10,000 rows (110,000 entries) by moving at most a chunk, not the whole array
 * (issue 20 item 6: a flat array spent ~2 ms per changed row in splice).
 */
export class Segment {
  objects = new Set<string>();
  builtAt = 0;
  stale = true;
  /** Number of entries. */
  size = 0;
  private chunks: Entry[][] = [];
  /** starts[k]: the index of chunks[k][0]; rebuilt lazily after a change of the chunks' shape. */
  private starts: number[] = [];
  private startsValid = true;
  private lastChunk = 0;

  constructor(readonly provider: Provider) {}

  /** Replaces all entries with `sorted` (in OID order). */
  load(sorted: Entry[]): void {
    this.chunks = [];
    for (let i = 0; i < sorted.length; i += CHUNK) this.chunks.push(sorted.slice(i, i + CHUNK));
    this.size = sorted.length;
    this.startsValid = false;
  }

  /** The entry at index `i` (0 <= i < size). */
  at(i: number): Entry | undefined {
    if (i < 0 || i >= this.size) return undefined;
    const starts = this.index();
    let k = this.lastChunk;
    if (!(k < starts.length && starts[k] <= i && i < starts[k] + this.chunks[k].length)) {
      let lo = 0, hi = starts.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (starts[mid] <= i) lo = mid;
        else hi = mid - 1;
      }
      k = this.lastChunk = lo;
    }
    return this.chunks[k][i - starts[k]];
  }

  /** Index of the entry with exactly this OID (oidKey), -1 if none. */
  find(key: string): number {
    const k = this.chunkOf(key);
    const c = this.chunks[k];
    if (!c) return -1;
    const j = upper(c, key);
    return j > 0 && c[j - 1].key === key ? this.index()[k] + j - 1 : -1;
  }

  /** Index of the first entry after the OID `key` (oidKey). */
  next(key: string): number {
    const k = this.chunkOf(key);
    const c = this.chunks[k];
    return c ? this.index()[k] + upper(c, key) : 0;
  }

  /** Replaces the entries of one row (row-level providers): removes the `old` keys, inserts `fresh` in order. */
  replace(old: readonly string[], fresh: readonly Entry[]): void {
    const kept = new Set(fresh.map((e) => e.key));
    for (const key of old) if (!kept.has(key)) this.remove(key);
    for (const en of fresh) this.upsert(en);
  }

  private remove(key: string): void {
    const k = this.chunkOf(key);
    const c = this.chunks[k];
    if (!c) return;
    const j = upper(c, key);
    if (j === 0 || c[j - 1].key !== key) return;
    c.splice(j - 1, 1);
    if (!c.length) this.chunks.splice(k, 1);
    this.size--;
    this.startsValid = false;
  }

  private upsert(en: Entry): void {
    if (!this.chunks.length) this.chunks.push([]);
    const k = this.chunkOf(en.key);
    const c = this.chunks[k];
    const j = upper(c, en.key);
    if (j > 0 && c[j - 1].key === en.key) {
      c[j - 1] = en; // same OID: a new value in place, the shape is unchanged
      return;
    }
    c.splice(j, 0, en);
    if (c.length > 2 * CHUNK) this.chunks.splice(k + 1, 0, c.splice(CHUNK));
    this.size++;
    this.startsValid = false;
  }

  /** The chunk that holds `key` or would: the last whose first key is <= key (0 when none is). */
  private chunkOf(key: string): number {
    const ch = this.chunks;
    let lo = 0, hi = ch.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (ch[mid][0].key <= key) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  private index(): number[] {
    if (!this.startsValid) {
      this.starts = new Array(this.chunks.length);
      let n = 0;
      for (let k = 0; k < this.chunks.length; k++) { this.starts[k] = n; n += this.chunks[k].length; }
      this.startsValid = true;
    }
    return this.starts;
  }
}

/** Index of the first entry of the sorted `c` after `key`. */
function upper(c: readonly Entry[], key: string): number {
  let lo = 0, hi = c.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (c[mid].key <= key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The agent's MIB view: one segment per provider in OID order. GET is a binary search in the one segment
 * whose root covers the OID; GETNEXT/GETBULK move a cursor along the segments. `touch` is called on every
 * segment a request reaches, before it is read (the agent refreshes it there if stale).
 */
export class MibView {
  constructor(readonly segments: readonly Segment[], private readonly touch: (s: Segment) => void) {}

  private covering(oid: Oid): number {
    return this.segments.findIndex((s) => startsWith(oid, s.provider.root));
  }

  /** The entry with exactly this OID. */
  get(oid: Oid): Entry | undefined {
    const n = this.covering(oid);
    if (n < 0) return undefined;
    const s = this.segments[n];
    this.touch(s);
    const i = s.find(oidKey(oid));
    return i >= 0 ? s.at(i) : undefined;
  }

  /** The first entry after `oid` (seg = segments.length at the end of the view). */
  next(oid: Oid): Cursor {
    for (let n = 0; n < this.segments.length; n++) {
      const s = this.segments[n];
      const root = s.provider.root;
      if (!startsWith(oid, root) && compareOid(oid, root) > 0) continue; // the whole subtree is before oid
      this.touch(s);
      const idx = startsWith(oid, root) ? s.next(oidKey(oid)) : 0;
      if (idx < s.size) return { seg: n, idx };
    }
    return { seg: this.segments.length, idx: 0 };
  }

  at(c: Cursor): Entry | undefined {
    return this.segments[c.seg]?.at(c.idx);
  }

  /** The cursor one entry further. */
  advance(c: Cursor): Cursor {
    if (c.idx + 1 < (this.segments[c.seg]?.size ?? 0)) return { seg: c.seg, idx: c.idx + 1 };
    for (let n = c.seg + 1; n < this.segments.length; n++) {
      this.touch(this.segments[n]);
      if (this.segments[n].size) return { seg: n, idx: 0 };
    }
    return { seg: this.segments.length, idx: 0 };
  }

  /** RFC 3416 §4.2.1: noSuchInstance when the OID names an instance of an object type we implement. */
  isObjectType(oid: Oid): boolean {
    const n = this.covering(oid);
    if (n < 0) return false;
    const objects = this.segments[n].objects;
    for (let k = oid.length - 1; k >= 6; k--) if (objects.has(oid.slice(0, k).join('.'))) return true;
    return false;
  }
}

export class ViewBuilder {
  // Every varbind is encoded once, back to back into one writer; the entries become views of a compact copy
  // of its buffer (the writer's own is zero-filled outside the pool: one kept per row of a 10,000-row table
  // was 40 MB of external memory and the collections it brought).
  private readonly w: BerWriter;
  private readonly pending: { key: string; end: number; c64: boolean; set?: SetMapper }[] = [];
  readonly objects = new Set<string>();

  /** `size`: the writer's first buffer (it grows as needed); one table row is a few hundred bytes. */
  constructor(size = 1 << 12) {
    this.w = new Ber.Writer({ size });
  }

  /** One instance: `object` is the OBJECT-TYPE's OID, `index` the instance suffix. */
  add(object: Oid, index: readonly number[], value: Value, set?: SetMapper): void {
    const oid = [...object, ...index];
    this.objects.add(object.join('.'));
    writeVarbind(this.w, oid, value);
    this.pending.push({ key: oidKey(oid), end: this.w.buffer.length, c64: value.type === 'Counter64', set });
  }

  /** A row of a table: `entry` is the xxxEntry OID, columns by number. */
  row(entry: Oid, index: readonly number[], columns: Record<number, Value | [Value, SetMapper]>): void {
    for (const [col, c] of Object.entries(columns)) {
      if (Array.isArray(c)) this.add([...entry, Number(col)], index, c[0], c[1]);
      else this.add([...entry, Number(col)], index, c);
    }
  }

  /** The entries, sorted by OID. */
  build(): Entry[] {
    const buf = Buffer.from(this.w.buffer); // small copies share the 8 KiB pool slabs
    let start = 0;
    const entries = this.pending.map(({ key, end, c64, set }) => {
      const e = new Entry(key, buf, start, end, c64, set);
      start = end;
      return e;
    });
    return entries.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }
}

/** What providers see: the data model and the agent's own clock (sysUpTime is the SNMP engine's uptime). */
export interface ProviderContext {
  dm: DataModel;
  /** Hundredths of a second since the agent started (RFC 3418 sysUpTime). */
  uptime(): number;
  /** Epoch ms when the agent started; converts data-model times to TimeTicks. */
  startedAt: number;
  engine: { engineID: Buffer; boots: number; time: number; maxMessageSize: number };
  counters: Record<string, number>;
  /** The agent's own state behind writable SNMP objects that have no data-model counterpart. */
  local: AgentLocal;
  /** ifOperStatus and ifLastChange as the agent observed them (RFC 2863 §3.1.8: only a status change moves it). */
  link(ifIndex: number): { oper: number; lastChange: number } | undefined;
  /** Speed, address and counters of a named system interface, where the platform knows them. */
  iface(name: string): IfInfo | undefined;
  /** The segment a row-level provider's scalars are computed from (its rows are already in it). */
  segment?: Segment;
}

/** What the system knows of an interface beyond the data model (Linux: /sys/class/net/NAME). */
export interface IfInfo {
  /** bits per second; 0 when unknown */
  speed: number;
  /** MAC address, empty for interfaces without one (a tun) */
  mac: Buffer;
  /** a physical connector (RFC 2863 ifConnectorPresent) */
  connector: boolean;
  /** Device.IP.Interface.{i}.Stats names -> value, when the platform counts this interface */
  stats?: Record<string, string>;
}

export interface AgentLocal {
  /** snmpEnableAuthenTraps (RFC 3418): 1 enabled, 2 disabled. */
  enableAuthenTraps: number;
  /** snmpSetSerialNo (RFC 3418), a TestAndIncr (RFC 2579). */
  setSerialNo: number;
}

/**
 * One MIB subtree served from the data model. `fill` writes every instance under `root`; a provider with
 * `rows` is kept row by row instead (only the rows a change event names are read again, so a 10,000-row
 * table costs one row per changed row, never the whole table on the event loop).
 */
export interface Provider {
  readonly name: string;
  /** The subtree it alone serves. */
  readonly root: Oid;
  /** Data-model path prefixes whose changes make it stale. */
  readonly watch: readonly string[];
  /** Values that move without a change event (counters, uptime): refreshed after the cache time. */
  readonly live?: boolean;
  fill(b: ViewBuilder, ctx: ProviderContext): void;
  readonly rows?: RowSource;
}

/** Row-level upkeep of a large table: which row a data-model path belongs to, and that row's instances. */
export interface RowSource {
  /** The table's instance object paths ("Device.Routing.Router.1.IPv4Forwarding.7."). */
  all(dm: DataModel): string[];
  /** The row object path a changed path belongs to, or undefined when it is not one of the table's. */
  rowOf(path: string): string | undefined;
  /** The row's instances (empty when the row is gone or not shown). */
  fill(b: ViewBuilder, ctx: ProviderContext, row: string): void;
}

// ---- helpers shared by the providers ----------------------------------------------------------------

/** Values of a table's instances, one read: instance number -> {"Name": .., "Stats.BytesSent": ..}. */
export function rows(dm: DataModel, table: string): Map<number, Record<string, string>> {
  const out = new Map<number, Record<string, string>>();
  let values;
  try {
    values = dm.get(table);
  } catch {
    return out; // the schema lacks the table (a trimmed schema): serve nothing
  }
  for (const v of values) {
    const rel = v.path.slice(table.length);
    const dot = rel.indexOf('.');
    const n = Number(rel.slice(0, dot));
    let r = out.get(n);
    if (!r) out.set(n, (r = {}));
    r[rel.slice(dot + 1)] = v.value;
  }
  return out;
}

export const int = (value: number): Value => ({ type: 'Integer', value });
export const str = (s: string, max = 255): Value => ({ type: 'OctetString', value: Buffer.from(s, 'utf8').subarray(0, max) });
export const gauge = (value: number): Value => ({ type: 'Gauge32', value: Math.min(value, 0xffffffff) });
export const ticks = (value: number): Value => ({ type: 'TimeTicks', value: Math.max(0, Math.min(Math.floor(value), 0xffffffff)) });
export const c32 = (s: string | undefined): Value => ({ type: 'Counter32', value: Number(BigInt.asUintN(32, big(s))) });
export const c64 = (s: string | undefined): Value => ({ type: 'Counter64', value: BigInt.asUintN(64, big(s)) });
export const oidv = (value: Oid): Value => ({ type: 'OID', value });
const big = (s: string | undefined) => (s && /^\d+$/.test(s) ? BigInt(s) : 0n);
export const truth = (s: string | undefined) => int(s === 'true' || s === '1' ? 1 : 2);

/** "Device.IP.Interface.3" or "Device.IP.Interface.3." -> 3. */
export function instanceOf(ref: string | undefined, table: string): number | undefined {
  if (!ref) return undefined;
  const m = ref.startsWith(table) ? /^(\d+)\.?$/.exec(ref.slice(table.length)) : null;
  return m ? Number(m[1]) : undefined;
}

/** RFC 2579 DateAndTime (11 octets, UTC) from a TR-106 dateTime. */
export function dateAndTime(s: string | undefined): Value {
  const d = s ? new Date(s) : new Date(NaN);
  const b = Buffer.alloc(11);
  if (!Number.isNaN(d.getTime())) {
    b.writeUInt16BE(d.getUTCFullYear(), 0);
    b[2] = d.getUTCMonth() + 1; b[3] = d.getUTCDate(); b[4] = d.getUTCHours(); b[5] = d.getUTCMinutes(); b[6] = d.getUTCSeconds();
    b[7] = Math.floor(d.getUTCMilliseconds() / 100);
  } else {
    b.writeUInt16BE(1, 0); b[2] = 1; b[3] = 1; // TR-106 "unknown time" 0001-01-01T00:00:00Z
  }
  b[8] = 0x2b; // '+' 0:0 — UTC
  return { type: 'OctetString', value: b };
}

// ---- SET mappers -----------------------------------------------------------------------------------

const set = (path: string, value: string): Change[] => [{ op: 'set', path, value }];

/** A DisplayString-like object backed by a string parameter (RFC 3416 §4.2.5: wrongType, wrongLength). */
export const textSetter = (path: string, maxLen: number): SetMapper => (v) => {
  if (v.type !== 'OctetString') return 'wrongType';
  if (v.value.length > maxLen) return 'wrongLength';
  const s = v.value.toString('utf8');
  if (!Buffer.from(s, 'utf8').equals(v.value)) return 'wrongValue'; // not valid UTF-8 text
  return set(path, s);
};

/** An INTEGER enumeration backed by a string or boolean parameter. */
export const enumSetter = (path: string, values: Record<number, string>): SetMapper => (v) => {
  if (v.type !== 'Integer') return 'wrongType';
  const s = values[v.value];
  return s === undefined ? 'wrongValue' : set(path, s);
};

/** Unsigned32 (encoded as Gauge32, RFC 2578 §7.1.11) backed by an unsignedInt parameter. */
export const unsignedSetter = (path: string): SetMapper => (v) => (v.type !== 'Gauge32' ? 'wrongType' : set(path, String(v.value)));

export const truthSetter = (path: string) => enumSetter(path, { 1: 'true', 2: 'false' });

/** An IPv6 address in text form as its 16 bytes (InetAddressIPv6), or undefined when it is not one. */
export function ipv6Bytes(text: string | undefined): Buffer | undefined {
  if (!text || !text.includes(':')) return undefined;
  const [head, tail] = text.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  if (groups.length !== 8) return undefined;
  return Buffer.from(groups.flatMap((g) => { const n = parseInt(g, 16); return [n >> 8, n & 0xff]; }));
}
