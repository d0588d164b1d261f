// Start-up of the local storage: the data directory (created 0700 or checked, locked), then the database.
// Every fault ends the process with one line on stderr, naming the file and what to do, and an exit status
// of its own, so a supervisor (systemd RestartPreventExitStatus=, procd) and a person can tell them apart
// without a stack trace. A damaged database is not a fault here: the store sets it aside and the agent starts.
import type { Logger } from 'pino';
import { DataDir, DataModel, StartupError, type StartupErrorKind } from './datamodel/index.ts';

/**
 * Exit statuses (README.md "Exit status"). 0 a normal stop, 1 an unexpected error (Node's own status for an
 * uncaught exception), 2 an invalid configuration; then one per storage fault kind.
 */
export const EXIT_CONFIG = 2;
export const EXIT: Readonly<Record<StartupErrorKind, number>> = {
  DataDir: 3, // data directory missing and cannot be created, or not a directory
  ReadOnly: 4, // read-only file system (data directory or database)
  DiskFull: 5, // no space left
  Io: 6, // I/O error; a damaged database that could not be set aside
  Locked: 7, // another agent runs on this data directory
  Permissions: 8, // data directory or its files belong to another user, or modes cannot be fixed
  Key: 9, // twinstack.key missing (or another key) while the database holds secrets encrypted with it
};

/** Opens the data directory and the data model, or exits with the status and line of the fault. */
export function openStorage(dir: string, log: Logger): { dataDir: DataDir; dm: DataModel } {
  let dataDir: DataDir | undefined;
  try {
    dataDir = DataDir.open(dir);
    const dm = new DataModel({ file: dataDir.db, keyFile: dataDir.key, onCorrupt: 'setAside', log: log.child({ module: 'datamodel' }) });
    // A write at start: a full disk is found now, with its own status, not as a failing plug-in later.
    dm.state('datamodel').set('lastStart', new Date().toISOString());
    dataDir.checkModes(); // the -wal and -shm SQLite has just created
    const r = dm.startup.recovered;
    if (r) {
      const back = r.rows === 0 ? ' (no row could be read back)'
        : ` plus ${r.rows} rows read back${r.damaged.length ? `, reading stopped short in ${r.damaged.join(', ')}` : ''}`;
      process.stderr.write(`twinstack: ${r.from}: damaged: ${r.cause}; moved to ${r.movedTo}, started on factory defaults${back}; check the storage device\n`);
    }
    return { dataDir, dm };
  } catch (e) {
    const err = e instanceof StartupError ? e : StartupError.fromSqlite(e, dataDir?.db ?? dir, dir); // rethrows what is not an I/O fault
    dataDir?.release();
    process.stderr.write(`twinstack: ${err.message.replace(/\s*\n\s*/g, ' ')}\n`);
    process.exit(EXIT[err.kind]);
  }
}
