// The SQLite store, private to src/datamodel. Parameter values, instance rows, the never-reused instance
// counters, attributes and the front-ends' private state live here; every write goes through `write()`,
// one SQLite transaction per data-model transaction.
//
// WAL with synchronous=NORMAL: a committed transaction survives the process being killed (the WAL is in the
// OS page cache); only an OS crash may lose the last transactions, never corrupt the file (SQLite docs, "WAL
// mode", synchronous). The in-memory copy is a write-through cache loaded at open.
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

export interface StoredAttribute {
  notification: number;
  accessList: string[];
}

/** One transaction's effect, applied to SQLite atomically and then to the cache. */
export interface WriteSet {
  values: Map<string, string>; // path -> canonical value
  removedValues: string[]; // paths
  addedObjects: string[]; // instance object paths "Device.X.1."
  removedObjects: string[];
  nextInstance: Map<string, number>; // table instance path "Device.X." -> next number
  attributes: Map<string, StoredAttribute | null>; // null removes
  state: Map<string, string | null>; // "ns\0key" -> value; null removes
}

export const emptyWriteSet = (): WriteSet => ({
  values: new Map(), removedValues: [], addedObjects: [], removedObjects: [], nextInstance: new Map(),
  attributes: new Map(), state: new Map(),
});

const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS param (path TEXT PRIMARY KEY, value TEXT NOT NULL, changed_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS instance (object TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS next_instance (table_path TEXT PRIMARY KEY, next INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS attribute (path TEXT PRIMARY KEY, notification INTEGER NOT NULL, access_list TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS state (ns TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (ns, key)) WITHOUT ROWID;
`;

export class Store {
  private readonly db: Database.Database;
  readonly values = new Map<string, string>();
  readonly changedAt = new Map<string, number>();
  readonly objects = new Set<string>();
  readonly nextInstance = new Map<string, number>();
  readonly attributes = new Map<string, StoredAttribute>();
  readonly state = new Map<string, string>();
  private readonly stmts;

  constructor(file: string) {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    this.db.exec(SCHEMA_SQL);
    this.stmts = {
      putValue: this.db.prepare('INSERT INTO param (path, value, changed_at) VALUES (?, ?, ?) ON CONFLICT(path) DO UPDATE SET value = excluded.value, changed_at = excluded.changed_at'),
      delValue: this.db.prepare('DELETE FROM param WHERE path = ?'),
      addObject: this.db.prepare('INSERT OR IGNORE INTO instance (object) VALUES (?)'),
      delObject: this.db.prepare('DELETE FROM instance WHERE object = ?'),
      putNext: this.db.prepare('INSERT INTO next_instance (table_path, next) VALUES (?, ?) ON CONFLICT(table_path) DO UPDATE SET next = excluded.next'),
      putAttr: this.db.prepare('INSERT INTO attribute (path, notification, access_list) VALUES (?, ?, ?) ON CONFLICT(path) DO UPDATE SET notification = excluded.notification, access_list = excluded.access_list'),
      delAttr: this.db.prepare('DELETE FROM attribute WHERE path = ?'),
      putState: this.db.prepare('INSERT INTO state (ns, key, value) VALUES (?, ?, ?) ON CONFLICT(ns, key) DO UPDATE SET value = excluded.value'),
      delState: this.db.prepare('DELETE FROM state WHERE ns = ? AND key = ?'),
    };
    this.load();
  }

  private load() {
    for (const r of this.db.prepare('SELECT path, value, changed_at FROM param').iterate() as Iterable<{ path: string; value: string; changed_at: number }>) {
      this.values.set(r.path, r.value);
      this.changedAt.set(r.path, r.changed_at);
    }
    for (const r of this.db.prepare('SELECT object FROM instance').iterate() as Iterable<{ object: string }>) this.objects.add(r.object);
    for (const r of this.db.prepare('SELECT table_path, next FROM next_instance').iterate() as Iterable<{ table_path: string; next: number }>)
      this.nextInstance.set(r.table_path, r.next);
    for (const r of this.db.prepare('SELECT path, notification, access_list FROM attribute').iterate() as Iterable<{ path: string; notification: number; access_list: string }>)
      this.attributes.set(r.path, { notification: r.notification, accessList: r.access_list ? r.access_list.split(',') : [] });
    for (const r of this.db.prepare('SELECT ns, key, value FROM state').iterate() as Iterable<{ ns: string; key: string; value: string }>)
      this.state.set(`${r.ns}\0${r.key}`, r.value);
  }

  /** The SQL side of a write set; prepared once (better-sqlite3 transaction functions are reusable). */
  private readonly writeTx = (ws: WriteSet, now: number) => {
    for (const o of ws.removedObjects) this.stmts.delObject.run(o);
    for (const p of ws.removedValues) this.stmts.delValue.run(p);
    for (const o of ws.addedObjects) this.stmts.addObject.run(o);
    for (const [p, v] of ws.values) this.stmts.putValue.run(p, v, now);
    for (const [t, n] of ws.nextInstance) this.stmts.putNext.run(t, n);
    for (const [p, a] of ws.attributes) {
      if (a === null) this.stmts.delAttr.run(p);
      else this.stmts.putAttr.run(p, a.notification, a.accessList.join(','));
    }
    for (const [k, v] of ws.state) {
      const [ns, key] = k.split('\0');
      if (v === null) this.stmts.delState.run(ns, key);
      else this.stmts.putState.run(ns, key, v);
    }
  };
  private sqlTx?: Database.Transaction<(ws: WriteSet, now: number) => void>;

  /** Applies a write set in one SQLite transaction, then to the cache. Throws (and changes nothing) on failure. */
  write(ws: WriteSet): void {
    const now = Date.now();
    this.sqlTx ??= this.db.transaction(this.writeTx);
    this.sqlTx.immediate(ws, now);
    for (const o of ws.removedObjects) this.objects.delete(o);
    for (const p of ws.removedValues) { this.values.delete(p); this.changedAt.delete(p); }
    for (const o of ws.addedObjects) this.objects.add(o);
    for (const [p, v] of ws.values) { this.values.set(p, v); this.changedAt.set(p, now); }
    for (const [t, n] of ws.nextInstance) this.nextInstance.set(t, n);
    for (const [p, a] of ws.attributes) {
      if (a === null) this.attributes.delete(p);
      else this.attributes.set(p, a);
    }
    for (const [k, v] of ws.state) {
      if (v === null) this.state.delete(k);
      else this.state.set(k, v);
    }
  }

  integrityCheck(): string {
    return this.db.pragma('integrity_check', { simple: true }) as string;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
