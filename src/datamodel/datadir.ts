// The data directory: what must hold before the store opens (it exists and is ours, 0700, files 0600, writable)
// and the lock that keeps a second agent off it for this process's lifetime. Faults are StartupErrors with a
// neutral kind; src/startup.ts maps each kind to an exit status and a line.
import Database from 'better-sqlite3';
import { accessSync, chmodSync, closeSync, mkdirSync, openSync, readFileSync, statSync, statfsSync, constants as fsc } from 'node:fs';
import { join } from 'node:path';

export type StartupErrorKind =
  | 'DataDir' // missing and cannot be created, or not a directory
  | 'ReadOnly' // read-only file system, or a file SQLite may only read
  | 'DiskFull' // no space (or quota) left
  | 'Io' // an I/O error, or a corrupt database that could not be set aside
  | 'Locked' // another agent holds the data directory
  | 'Permissions' // owned by someone else, or modes we cannot fix
  | 'Key'; // the secrets key file is missing or does not match the database

/** A fault of the local storage at start: which file, what is wrong, what to do (one line each). */
export class StartupError extends Error {
  override readonly name = 'StartupError';
  constructor(readonly kind: StartupErrorKind, readonly file: string, readonly problem: string, readonly action: string) {
    super(`${file}: ${problem}; ${action}`);
  }

  /** From a node:fs error (errno codes, open(2)/rename(2)). */
  static fromFs(e: unknown, file: string): StartupError {
    const err = e as NodeJS.ErrnoException;
    const why = describeErrno(err);
    switch (err.code) {
      case 'ENOSPC': case 'EDQUOT': return diskFull(file, why);
      case 'EROFS': return readOnly(file, why);
      case 'EACCES': case 'EPERM': return new StartupError('Permissions', file, why, 'give the agent\'s user ownership of the data directory and its files');
      default:
        if (typeof err.code !== 'string') throw e; // not an I/O fault: a bug, let it surface
        return new StartupError('Io', file, why, 'check the storage device');
    }
  }

  /** From a better-sqlite3 SqliteError (SQLite result codes, https://sqlite.org/rescode.html). */
  static fromSqlite(e: unknown, file: string, dir: string): StartupError {
    const code = (e as { code?: unknown }).code;
    if (typeof code !== 'string' || !code.startsWith('SQLITE_')) return StartupError.fromFs(e, file);
    const why = `${(e as Error).message} (${code})`;
    if (code === 'SQLITE_FULL') return diskFull(file, why);
    if (code.startsWith('SQLITE_IOERR') && noSpace(dir)) return diskFull(file, `no space left on its file system (${code})`);
    if (code.startsWith('SQLITE_READONLY')) return readOnly(file, why);
    if (code.startsWith('SQLITE_CANTOPEN') || code === 'SQLITE_PERM' || code === 'SQLITE_AUTH') {
      try {
        accessSync(dir, fsc.W_OK);
      } catch (a) {
        return StartupError.fromFs(a, dir);
      }
      return new StartupError('Permissions', file, why, 'give the agent\'s user read and write access to it');
    }
    if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'))
      return new StartupError('Locked', file, `${why}: another process holds it`, 'stop the process using it (a sqlite3 shell?) and start again');
    return new StartupError('Io', file, why, 'check the storage device');
  }
}

const describeErrno = (e: NodeJS.ErrnoException) => (e.code ? `${e.message.replace(/^\w+: /, '').replace(/, \w+ .*$/, '')} (${e.code})` : e.message);
const diskFull = (file: string, why: string) => new StartupError('DiskFull', file, why, 'free space on its file system and start again');
const readOnly = (file: string, why: string) => new StartupError('ReadOnly', file, why, 'make the data directory writable (remount read-write) or set dataDir to a writable place');

/** SQLite reports some out-of-space conditions as I/O errors (e.g. growing the -shm: SQLITE_IOERR_SHMSIZE). */
function noSpace(dir: string): boolean {
  try {
    return statfsSync(dir).bavail === 0;
  } catch {
    return false;
  }
}

const DIR_MODE = 0o700;
const FILE_MODE = 0o600;

export const DB_NAME = 'twinstack.db';
export const KEY_NAME = 'twinstack.key';
export const LOCK_NAME = 'twinstack.lock';

/**
 * The opened data directory. Open it before anything else that uses the directory (the CLI socket, the
 * store): `DataDir.open` refuses a directory another agent holds, so a second agent never touches the first's
 * socket or database.
 */
export class DataDir {
  readonly db: string;
  readonly key: string;
  readonly lock: string;
  private lockDb?: Database.Database;

  private constructor(readonly dir: string) {
    this.db = join(dir, DB_NAME);
    this.key = join(dir, KEY_NAME);
    this.lock = join(dir, LOCK_NAME);
  }

  /** Creates (0700) or checks the directory, takes the lock, then checks the files' owner and modes. */
  static open(dir: string): DataDir {
    const d = new DataDir(dir);
    d.ensureDir();
    d.takeLock();
    try {
      d.checkModes();
    } catch (e) {
      d.release();
      throw e;
    }
    return d;
  }

  private ensureDir() {
    let st;
    try {
      st = statSync(this.dir);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw StartupError.fromFs(e, this.dir);
      try {
        mkdirSync(this.dir, { recursive: true, mode: DIR_MODE });
      } catch (m) {
        throw new StartupError('DataDir', this.dir, `missing and cannot be created: ${describeErrno(m as NodeJS.ErrnoException)}`,
          'create it for the agent\'s user or set dataDir to a writable place');
      }
      st = statSync(this.dir);
    }
    if (!st.isDirectory()) throw new StartupError('DataDir', this.dir, 'not a directory', 'set dataDir to a directory');
    this.own(this.dir, st, DIR_MODE);
    try {
      accessSync(this.dir, fsc.W_OK);
    } catch (e) {
      throw StartupError.fromFs(e, this.dir);
    }
  }

  /**
   * Owner and mode of one path: ours, and exactly `mode` (the directory 0700, files 0600: the database holds
   * the device's configuration, the key file decrypts its secrets). A wrong mode on our own file is fixed; a
   * file of another user is refused (root could chmod it, but another user's file in our directory is not
   * ours to trust).
   */
  private own(path: string, st: { uid: number; mode: number }, mode: number) {
    const uid = process.getuid?.();
    if (uid !== undefined && st.uid !== uid)
      throw new StartupError('Permissions', path, `owned by uid ${st.uid}, not by the agent's uid ${uid}`, `chown it to uid ${uid} or run the agent as uid ${st.uid}`);
    if ((st.mode & 0o777) === mode) return;
    try {
      chmodSync(path, mode);
    } catch (e) {
      const err = StartupError.fromFs(e, path);
      throw err.kind === 'ReadOnly' ? err
        : new StartupError('Permissions', path, `mode ${(st.mode & 0o777).toString(8)} and it cannot be changed to ${mode.toString(8)}: ${err.problem}`, `chmod ${mode.toString(8)} it`);
    }
  }

  /** Checks (and fixes) the modes of the files that exist: the database with its -wal and -shm, key, lock. */
  checkModes(): void {
    for (const f of [this.db, `${this.db}-wal`, `${this.db}-shm`, this.key, this.lock]) {
      let st;
      try {
        st = statSync(f);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw StartupError.fromFs(e, f);
      }
      this.own(f, st, FILE_MODE);
    }
  }

  /**
   * The lock: an exclusive SQLite lock on a lock database (locking_mode=EXCLUSIVE, https://sqlite.org/pragma.html
   * #pragma_locking_mode), kept until the process ends. Why not a pid file opened O_EXCL: after a power cut
   * the stale file names a pid that, at the next boot, may well belong to another daemon (boot order is
   * deterministic on a gateway), and "take over when the pid is dead" races between two starting agents. The
   * kernel drops a POSIX lock when its process dies, whatever the way (kill -9, power loss), so there is no
   * stale state to judge; better-sqlite3 is already here and Node has no flock(). A separate file, not the
   * database itself, so tools can still read twinstack.db while the agent runs and a refused agent never
   * opens it. Nothing else in the process may open and close this file after this: closing any descriptor
   * of a file drops all the process's POSIX locks on it (fcntl(2)); SQLite guards only its own.
   */
  private takeLock() {
    try {
      closeSync(openSync(this.lock, fsc.O_WRONLY | fsc.O_CREAT, FILE_MODE)); // SQLite would create it 0644
    } catch (e) {
      throw StartupError.fromFs(e, this.lock);
    }
    let db: Database.Database | undefined;
    try {
      db = new Database(this.lock, { timeout: 0 });
      db.pragma('locking_mode = EXCLUSIVE');
      db.pragma('journal_mode = MEMORY'); // no -journal file beside it
      db.exec('BEGIN EXCLUSIVE; COMMIT');
    } catch (e) {
      db?.close();
      const code = (e as { code?: string }).code ?? '';
      if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
        const pid = lockHolder(this.lock);
        throw new StartupError('Locked', this.lock, `another twinstack agent${pid ? ` (pid ${pid})` : ''} is running on ${this.dir}`,
          'stop it first, or give this agent another dataDir');
      }
      throw StartupError.fromSqlite(e, this.lock, this.dir);
    }
    this.lockDb = db;
    held.add(this);
  }

  /** Releases the lock (at shutdown, before a restart in place spawns the next agent). */
  release(): void {
    this.lockDb?.close();
    this.lockDb = undefined;
    held.delete(this);
  }
}

/** Keeps the lock connection reachable: better-sqlite3 closes a collected Database, which would drop the lock. */
const held = new Set<DataDir>();

/** The pid holding a POSIX lock on `file`, from /proc/locks (proc(5)); undefined when not found. */
function lockHolder(file: string): number | undefined {
  try {
    const ino = statSync(file).ino;
    for (const line of readFileSync('/proc/locks', 'utf8').split('\n')) {
      const m = /^\d+: POSIX\s+\S+\s+\S+\s+(\d+)\s+[0-9a-f]+:[0-9a-f]+:(\d+)\s/.exec(line);
      if (m && Number(m[2]) === ino && Number(m[1]) !== process.pid) return Number(m[1]);
    }
  } catch {
    /* not Linux, or no /proc: the message goes without the pid */
  }
  return undefined;
}
