// Start-up of the local storage: the data directory (created 0700 or checked, locked), the boot journal (a
// factory reset it names is carried out here, before the database opens), then the database. Every fault ends
// the process with one line on stderr, naming the file and what to do, and an exit status of its own, so a
// supervisor (systemd RestartPreventExitStatus=, procd) and a person can tell them apart without a stack
// trace. A damaged database is not a fault here: the store sets it aside and the agent starts. The faces'
// listening faults (a port in use) get the same treatment (listenFault).
import { rmSync } from 'node:fs';
import type { Logger } from 'pino';
import { DataDir, DataModel, StartupError, type StartupErrorKind } from './datamodel/index.ts';
import { BootJournal, isFactoryReset, type BootRecord } from './device/index.ts';

/**
 * Exit statuses (README.md "Exit status"). 0 a normal stop, 1 an unexpected error (Node's own status for an
 * uncaught exception), 2 an invalid configuration; then one per storage fault kind, a missing addon, a face that
 * cannot listen; 75 a restart asked of the supervisor (src/device/restart.ts EXIT_RESTART).
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
/** The Linux WAN's native addons are missing or broken. */
export const EXIT_ADDON = 10;
/** A face's address and port are in use by another program (EADDRINUSE). */
export const EXIT_PORT_IN_USE = 11;
/** A face cannot listen on its address (not on this host: EADDRNOTAVAIL; a port < 1024 without the right: EACCES). */
export const EXIT_LISTEN = 12;

/**
 * Opens the data directory and the data model, or exits with the status and line of the fault. Returns the
 * boot journal's record of the last stop as well (null: there was no clean stop), after carrying out the
 * factory reset it names.
 */
export function openStorage(dir: string, log: Logger): { dataDir: DataDir; dm: DataModel; journal: BootJournal; boot: BootRecord | null } {
  let dataDir: DataDir | undefined;
  try {
    dataDir = DataDir.open(dir);
    const journal = new BootJournal(dataDir.dir);
    const boot = journal.read();
    if (boot && isFactoryReset(boot.cause)) {
      // The key stays: it seals nothing once the database is gone, and a new one would only churn.
      for (const f of [dataDir.db, `${dataDir.db}-wal`, `${dataDir.db}-shm`]) rmSync(f, { force: true });
      log.info({ cause: boot.cause }, 'factory reset: database removed');
    }
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
    return { dataDir, dm, journal, boot };
  } catch (e) {
    const err = e instanceof StartupError ? e : StartupError.fromSqlite(e, dataDir?.db ?? dir, dir); // rethrows what is not an I/O fault
    dataDir?.release();
    process.stderr.write(`twinstack: ${err.message.replace(/\s*\n\s*/g, ' ')}\n`);
    process.exit(EXIT[err.kind]);
  }
}

/** A face of the agent, by plug-in name: how a person calls it and the setting that moves it. */
const FACES: Readonly<Record<string, { face: string; setting: string }>> = {
  cwmp: { face: 'CWMP connection request server', setting: 'cwmp.connectionRequest.address and .port' },
  web: { face: 'web server', setting: 'web.address and web.port' },
  snmp: { face: 'SNMP agent', setting: 'snmp.address and snmp.port' },
  cli: { face: 'CLI socket', setting: 'cli.socket' },
  failover: { face: 'WAN (DHCP client)', setting: 'wan settings; stop the other DHCP client' },
};

/**
 * The one line and exit status for an error of a plug-in's start that is a listening fault (EADDRINUSE,
 * EADDRNOTAVAIL, EACCES from listen(2)/bind(2)); undefined for anything else.
 */
export function listenFault(plugin: string, e: unknown): { line: string; status: number } | undefined {
  const err = e as NodeJS.ErrnoException & { address?: string; port?: number };
  if (!err || (err.syscall !== 'listen' && err.syscall !== 'bind')) return undefined;
  const what = { EADDRINUSE: 'address already in use', EADDRNOTAVAIL: 'address not available on this host', EACCES: 'permission denied' }[err.code ?? ''];
  if (!what) return undefined;
  const f = FACES[plugin] ?? { face: plugin, setting: `the ${plugin} settings` };
  const host = err.address?.includes(':') ? `[${err.address}]` : err.address ?? '';
  const where = err.port !== undefined ? `${host}:${err.port}` : host;
  const action = err.code === 'EADDRINUSE' ? `stop the program using it or change ${f.setting}`
    : err.code === 'EACCES' ? `give the agent CAP_NET_BIND_SERVICE or change ${f.setting}` : `change ${f.setting}`;
  return { line: `twinstack: ${f.face}: cannot listen on ${where}: ${what} (${err.code}); ${action}\n`, status: err.code === 'EADDRINUSE' ? EXIT_PORT_IN_USE : EXIT_LISTEN };
}
