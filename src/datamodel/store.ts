// The SQLite store, private to src/datamodel. Parameter values, instance rows, the never-reused instance
// counters, attributes and the front-ends' private state live here; every write goes through `write()`,
// one SQLite transaction per data-model transaction.
//
// WAL, and a durable write is committed with synchronous=FULL: the WAL is fsync'd before the commit returns, so
// it has survived power loss, not only the process being killed (https://sqlite.org/pragma.html#pragma_synchronous:
// NORMAL in WAL mode "might roll back following a power loss or system crash"). An ACS that got status 0 for a
// SetParameterValues (TR-069 A.3.2.1) and its ParameterKey must find both after the power cut a home gateway
// sees routinely. Cost: one fsync of the WAL per commit (`npm run bench:datamodel`, five runs each on a shared
// VM disk: 1-parameter sets 4,200-11,200/s -> 1,500-3,300/s, about +0.3-0.5 ms per commit; an ACS session
// commits a handful of times).
// The gateway's own status writes (Mode, detector states, History rows, leases: `durable` false) are committed
// with synchronous=NORMAL: appended to the WAL without an fsync. They are re-derived at boot, and the next
// durable commit's fsync (or a checkpoint) makes them durable too, the WAL being sequential. They are written
// on the event loop that decides a failover, and an fsync there waited 430 ms under load (ext4 syncs other
// files' dirty data with the journal): a failover verdict then waited for its own status row.
// The in-memory copy is a write-through cache loaded at open.
//
// Secured parameters are stored encrypted (secrets.ts); the cache keeps their plaintext. PRAGMA user_version
// says which form a file holds: 0 plaintext (older files, migrated at open), 1 encrypted.
import Database from 'better-sqlite3';
import { closeSync, mkdirSync, openSync, constants as fsc } from 'node:fs';
import { dirname } from 'node:path';
import { StartupError } from './datadir.ts';
import { DmError } from './errors.ts';
import { isCorrupt, moveAside, salvage, type Salvaged } from './recover.ts';
import { createKey, readKey, SecretBox } from './secrets.ts';

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

export interface StoreOptions {
  file: string; // SQLite file or ":memory:"
  /** Encryption at rest of secured parameters (file databases). */
  secrets?: { keyFile: string; isSecret: (path: string) => boolean };
  /** A corrupt database: throw (default), or set it aside and start afresh with what can be read from it. */
  onCorrupt?: 'throw' | 'setAside';
}

/** What happened when the database was found damaged at open and set aside. */
export interface Recovery {
  /** The database file that was damaged, and where it is now. */
  from: string;
  movedTo: string;
  /** ISO 8601 time of the recovery. */
  at: string;
  /** SQLite's words for the damage. */
  cause: string;
  /** Rows read back from the damaged file, and the tables where reading stopped short. */
  rows: number;
  damaged: readonly string[];
}

/** PRAGMA user_version: 1 = secured values encrypted. */
const ENCRYPTED = 1;

export class Store {
  private db!: Database.Database;
  readonly values = new Map<string, string>();
  readonly changedAt = new Map<string, number>();
  readonly objects = new Set<string>();
  readonly nextInstance = new Map<string, number>();
  readonly attributes = new Map<string, StoredAttribute>();
  readonly state = new Map<string, string>();
  private stmts!: ReturnType<Store['prepare']>;
  private box?: SecretBox;
  /** Set when a damaged database was set aside at open. */
  readonly recovered?: Recovery;

  constructor(private readonly opts: StoreOptions) {
    const file = opts.file;
    try {
      this.open();
    } catch (e) {
      this.db?.close();
      if (!isCorrupt(e) || opts.onCorrupt !== 'setAside') throw this.classify(e);
      this.clear();
      const at = new Date();
      let movedTo: string;
      try {
        movedTo = moveAside(file, at);
      } catch (m) {
        throw StartupError.fromFs(m, file);
      }
      const rows = salvage(movedTo);
      try {
        this.open(rows);
      } catch (e2) {
        this.db?.close();
        throw this.classify(e2);
      }
      this.recovered = { from: file, movedTo, at: at.toISOString(), cause: `${(e as Error).message} (${(e as { code: string }).code})`, rows: rows.rows, damaged: rows.damaged };
    }
  }

  private classify(e: unknown): unknown {
    if (e instanceof StartupError || this.opts.file === ':memory:') return e;
    if (isCorrupt(e)) return new StartupError('Io', this.opts.file, `damaged: ${(e as Error).message}`, 'move it aside to start on factory defaults');
    return StartupError.fromSqlite(e, this.opts.file, dirname(this.opts.file));
  }

  /** Opens the file, encrypts plaintext secrets (migration), imports salvaged rows if given, loads the cache. */
  private open(salvaged?: Salvaged) {
    const file = this.opts.file;
    if (file !== ':memory:') {
      mkdirSync(dirname(file), { recursive: true });
      // Created 0600 here, because SQLite creates it 0644 and gives the -wal and -shm the database's mode.
      closeSync(openSync(file, fsc.O_WRONLY | fsc.O_CREAT, 0o600));
    }
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    // Freed cells and pages are zeroed, so an old value (a plaintext password before migration) does not
    // linger in the file (https://sqlite.org/pragma.html#pragma_secure_delete).
    this.db.pragma('secure_delete = ON');
    this.db.pragma('foreign_keys = ON');
    // Reads are served by the in-memory copy, so SQLite's page cache only carries a transaction's pages: 512 KiB
    // instead of the default 2 MiB, which the load at open would otherwise fill and keep.
    this.db.pragma('cache_size = -512');
    this.db.exec(SCHEMA_SQL);
    this.stmts = this.prepare();
    if (this.opts.secrets) this.openSecrets(this.opts.secrets);
    else if (this.db.pragma('user_version', { simple: true }) === ENCRYPTED)
      throw new StartupError('Key', file, 'holds encrypted secrets and no key file was given', 'open it with its key file');
    if (salvaged) this.importRows(salvaged);
    this.load();
    // A damaged page the load did not read (an index, a free page) is found here; quick_check is integrity_check
    // without the index-content cross-checks: O(N), a few ms for a gateway's tree.
    if (file !== ':memory:') {
      const check = String(this.db.pragma('quick_check(1)', { simple: true }));
      const first = check.split('\n').find((l) => !l.startsWith('***')) ?? check; // after "*** in database main ***"
      if (check !== 'ok') throw Object.assign(new Error(`quick_check: ${first}`), { code: 'SQLITE_CORRUPT' });
    }
  }

  private prepare() {
    return {
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
  }

  /**
   * The key, and the migration of plaintext secrets. A file already encrypted needs its key: a missing key
   * is an error, never a reason to make a new one (that would strand the secrets for good).
   */
  private openSecrets(s: NonNullable<StoreOptions['secrets']>) {
    const version = this.db.pragma('user_version', { simple: true }) as number;
    let key = readKey(s.keyFile);
    const secretRows = () => (this.db.prepare('SELECT path, value, changed_at FROM param').all() as { path: string; value: string; changed_at: number }[])
      .filter((r) => s.isSecret(r.path));
    if (version === ENCRYPTED && !key && secretRows().length)
      throw new StartupError('Key', s.keyFile, `missing, and ${this.opts.file} holds secrets encrypted with it`,
        'restore the key file, or move the database aside to start on factory defaults');
    key ??= createKey(s.keyFile);
    this.box = new SecretBox(key);
    if (version === ENCRYPTED) return;
    const plain = secretRows();
    this.db.transaction(() => {
      for (const r of plain) this.stmts.putValue.run(r.path, this.box!.seal(r.path, r.value), r.changed_at);
      this.db.pragma(`user_version = ${ENCRYPTED}`);
    }).immediate();
    if (!plain.length) return;
    // The plaintext may survive in free pages and in the WAL's older frames: rebuild the file, then empty the WAL.
    this.db.exec('VACUUM');
    this.db.pragma('wal_checkpoint(TRUNCATE)');
  }

  /** Secured values as stored: sealed when a key is in use. */
  private sealed(path: string, value: string): string {
    return this.box && this.opts.secrets!.isSecret(path) ? this.box.seal(path, value) : value;
  }

  private unsealed(path: string, value: string): string {
    if (!this.box || !this.opts.secrets!.isSecret(path)) return value;
    const plain = this.box.open(path, value);
    if (plain === undefined)
      throw new StartupError('Key', this.opts.secrets!.keyFile, `does not decrypt ${path} in ${this.opts.file}`,
        'restore the key file this database was written with, or move the database aside to start on factory defaults');
    return plain;
  }

  /** Rows read from a damaged file, in one transaction; secrets from it are unsealed with the same key. */
  private importRows(r: Salvaged) {
    const plain = (path: string, v: string): string | undefined => {
      if (!this.opts.secrets?.isSecret(path)) return v;
      const opened = this.box?.open(path, v);
      if (opened !== undefined) return opened;
      return r.userVersion === 0 ? v : undefined; // sealed under another key, or damaged: left out
    };
    this.db.transaction(() => {
      for (const o of r.objects) this.stmts.addObject.run(o);
      for (const [p, v] of r.values) {
        const value = plain(p, v);
        if (value !== undefined) this.stmts.putValue.run(p, this.sealed(p, value), r.changedAt.get(p) ?? Date.now());
      }
      for (const [t, n] of r.nextInstance) this.stmts.putNext.run(t, n);
      for (const [p, a] of r.attributes) this.stmts.putAttr.run(p, a.notification, a.accessList.join(','));
      for (const [k, v] of r.state) this.stmts.putState.run(...k.split('\0') as [string, string], v);
    }).immediate();
  }

  private clear() {
    for (const m of [this.values, this.changedAt, this.nextInstance, this.attributes, this.state]) m.clear();
    this.objects.clear();
  }

  private load() {
    for (const r of this.db.prepare('SELECT path, value, changed_at FROM param').iterate() as Iterable<{ path: string; value: string; changed_at: number }>) {
      this.values.set(r.path, this.unsealed(r.path, r.value));
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
    for (const [p, v] of ws.values) this.stmts.putValue.run(p, this.sealed(p, v), now);
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

  /** The synchronous level the connection is at: FULL (true) or NORMAL. */
  private durable = true;

  /**
   * Applies a write set in one SQLite transaction, then to the cache. Throws (and changes nothing) on failure.
   * `durable` (default): fsync'd before returning; false: the gateway's own status, without an fsync (above).
   */
  write(ws: WriteSet, durable = true): void {
    const now = Date.now();
    if (durable !== this.durable) {
      this.db.pragma(`synchronous = ${durable ? 'FULL' : 'NORMAL'}`);
      this.durable = durable;
    }
    this.sqlTx ??= this.db.transaction(this.writeTx);
    try {
      this.sqlTx.immediate(ws, now);
    } catch (e) {
      throw this.writeError(e);
    }
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

  /**
   * A failed write has been rolled back by SQLite (the cache is untouched): the caller gets a neutral error that
   * says what the device lacks, mapped per protocol like any other (a full disk is the manager's to hear of as
   * "resources exceeded": CWMP 9004, USP 7004, not an internal error).
   */
  private writeError(e: unknown): unknown {
    const code = String((e as { code?: unknown }).code ?? '');
    if (code === 'SQLITE_FULL') return new DmError('ResourcesExceeded', `disk full: ${this.opts.file}: the change was not saved; free space on its file system`);
    if (code.startsWith('SQLITE_READONLY')) return new DmError('Internal', `storage read-only: ${this.opts.file}: the change was not saved`);
    if (code.startsWith('SQLITE_IOERR')) return new DmError('Internal', `storage I/O error (${code}) on ${this.opts.file}: the change was not saved`);
    return e;
  }

  integrityCheck(): string {
    return this.db.pragma('integrity_check', { simple: true }) as string;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
