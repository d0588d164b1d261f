// A corrupt or truncated database: set aside (kept for a post-mortem, never deleted) and read row by row for
// whatever survived, so the agent restarts on factory defaults plus those rows instead of not at all.
import Database from 'better-sqlite3';
import { existsSync, renameSync } from 'node:fs';
import type { StoredAttribute } from './store.ts';

/** SQLite's "this file is damaged" result codes (https://sqlite.org/rescode.html#corrupt, #notadb). */
export function isCorrupt(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  return typeof code === 'string' && (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB');
}

/**
 * Renames the database with its -wal and -shm to `<file>.corrupt-<ISO 8601 basic UTC time>` (no colons: the
 * name must survive being copied to any file system) and returns the new database name. The -wal goes with it
 * because it may hold the newest committed pages.
 */
export function moveAside(file: string, at: Date): string {
  const stamp = at.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  let to = `${file}.corrupt-${stamp}`;
  for (let n = 1; existsSync(to); n++) to = `${file}.corrupt-${stamp}-${n}`;
  renameSync(file, to);
  for (const s of ['-wal', '-shm']) if (existsSync(file + s)) renameSync(file + s, to + s);
  return to;
}

export interface Salvaged {
  values: Map<string, string>;
  changedAt: Map<string, number>;
  objects: Set<string>;
  nextInstance: Map<string, number>;
  attributes: Map<string, StoredAttribute>;
  state: Map<string, string>; // "ns\0key" -> value
  /** PRAGMA user_version of the old file, when its header could still be read. */
  userVersion?: number;
  /** Rows kept, and the tables where reading stopped at damage (or could not start). */
  rows: number;
  damaged: string[];
}

/**
 * Reads every table of a damaged database as far as it goes: forwards in key order until the first error,
 * then backwards from the other end until an error or a row already read, so rows on both sides of a damaged
 * page are kept. Rows under an instance whose own row was lost are dropped (a parameter without its object
 * would be unreachable), and counters are raised above every recovered instance number, so a number is still
 * never reused (ARCHITECTURE.md invariant).
 */
export function salvage(file: string): Salvaged {
  const out: Salvaged = {
    values: new Map(), changedAt: new Map(), objects: new Set(), nextInstance: new Map(), attributes: new Map(), state: new Map(), rows: 0, damaged: [],
  };
  let db: Database.Database;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true, timeout: 0 });
  } catch {
    out.damaged.push('*');
    return out;
  }
  try {
    // A file shorter than its header's page count (a truncated copy, a short write) is refused whole as corrupt
    // unless writable_schema is on (SQLite btree.c, lockBtree); with it, the pages that are there can be read.
    // better-sqlite3's defensive mode forbids that pragma; the connection is read-only, so nothing is risked.
    db.unsafeMode(true);
    db.pragma('writable_schema = ON');
    try {
      out.userVersion = db.pragma('user_version', { simple: true }) as number;
    } catch {
      /* header unreadable */
    }
    const read = <R>(table: string, cols: string, key: string, take: (r: R) => boolean) => {
      let damaged = false;
      for (const order of ['ASC', 'DESC']) {
        try {
          for (const r of db.prepare(`SELECT ${cols} FROM ${table} ORDER BY ${key.split(',').map((k) => `${k} ${order}`).join(', ')}`).iterate() as Iterable<R>) {
            if (!take(r)) break; // met the rows read forwards
          }
          if (!damaged) return;
        } catch {
          damaged = true;
        }
      }
      out.damaged.push(table);
    };
    // A damaged page can still yield rows of the wrong shape (NULLs, numbers for text): those are left out.
    const str = (...xs: unknown[]) => xs.every((x) => typeof x === 'string');
    const int = (x: unknown) => typeof x === 'number' && Number.isInteger(x);
    const objects = new Set<string>();
    read<{ object: string }>('instance', 'object', 'object', (r) => {
      if (objects.has(r.object)) return false;
      if (str(r.object) && /^Device\..*\.\d+\.$/.test(r.object)) objects.add(r.object);
      return true;
    });
    read<{ path: string; value: string; changed_at: number }>('param', 'path, value, changed_at', 'path', (r) => {
      if (out.values.has(r.path)) return false;
      if (str(r.path, r.value) && int(r.changed_at)) { out.values.set(r.path, r.value); out.changedAt.set(r.path, r.changed_at); }
      return true;
    });
    read<{ table_path: string; next: number }>('next_instance', 'table_path, next', 'table_path', (r) => {
      if (out.nextInstance.has(r.table_path)) return false;
      if (str(r.table_path) && int(r.next)) out.nextInstance.set(r.table_path, r.next);
      return true;
    });
    read<{ path: string; notification: number; access_list: string }>('attribute', 'path, notification, access_list', 'path', (r) => {
      if (out.attributes.has(r.path)) return false;
      if (str(r.path, r.access_list) && int(r.notification))
        out.attributes.set(r.path, { notification: r.notification, accessList: r.access_list ? r.access_list.split(',') : [] });
      return true;
    });
    read<{ ns: string; key: string; value: string }>('state', 'ns, key, value', 'ns,key', (r) => {
      const k = `${r.ns}\0${r.key}`;
      if (out.state.has(k)) return false;
      if (str(r.ns, r.key, r.value)) out.state.set(k, r.value);
      return true;
    });

    // Parents before children: an instance is kept only when every enclosing instance is.
    for (const o of [...objects].sort((a, b) => a.length - b.length)) if (enclosing(o.slice(0, -1)).every((p) => out.objects.has(p))) out.objects.add(o);
    const reachable = (p: string) => enclosing(p).every((o) => out.objects.has(o));
    for (const p of [...out.values.keys()]) if (!reachable(p)) { out.values.delete(p); out.changedAt.delete(p); }
    for (const p of [...out.attributes.keys()]) if (!reachable(p)) out.attributes.delete(p);
    for (const o of out.objects) {
      const m = /^(.*\.)(\d+)\.$/.exec(o)!;
      if ((out.nextInstance.get(m[1]) ?? 1) <= Number(m[2])) out.nextInstance.set(m[1], Number(m[2]) + 1);
    }
    out.rows = out.objects.size + out.values.size + out.nextInstance.size + out.attributes.size + out.state.size;
  } finally {
    db.close();
  }
  return out;
}

/** The instance objects a path lies in: "Device.A.1.B.2.X" -> ["Device.A.1.", "Device.A.1.B.2."]. */
function enclosing(path: string): string[] {
  const out: string[] = [];
  for (const m of path.matchAll(/\.\d+\./g)) out.push(path.slice(0, m.index + m[0].length));
  return out;
}
