// Why the agent booted: the Device.Boot! event's Cause and CommandKey (TR-181 2.16 USP, Device.Boot!), kept across
// the restart in a journal file of the data directory (twinstack.boot). Reboot() and FactoryReset() write it
// before anything stops, a clean stop (SIGTERM) writes it too; the next start reads it, carries out a pending
// factory reset before the database opens, and emits Boot! from it. No journal at start means the agent did not
// stop cleanly: a crash, a kill or a power cut.
//
// Why a file and not the database: a factory reset wipes the database, and the cause must outlive the wipe. Why
// the wipe is done at the next start and not on the way out: the journal names it, so a power cut anywhere
// between the request and the new agent running still ends in the reset (the wipe is repeated until a start
// completes; it is idempotent). The file is replaced by rename(2) after fsync(2), then the directory is synced:
// it is either the old journal or the new one, whole, also after a power cut (the same guarantee as a SQLite
// commit with synchronous=FULL).
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync, constants as fsc } from 'node:fs';
import { join } from 'node:path';
import type { Origin } from '../datamodel/index.ts';

/** Device.Boot! Cause, the enumeration of TR-181 2.16 (FactoryReset, for agents that cannot tell, is never used). */
export type BootCause = 'LocalReboot' | 'RemoteReboot' | 'LocalFactoryReset' | 'RemoteFactoryReset';

/** What the next start needs to know about this stop. */
export interface BootRecord {
  cause: BootCause;
  /** Device.Boot! CommandKey: the USP Operate's command_key; '' for any other request (TR-181: "or empty if the
   * boot was not requested via a USP operation"; a CWMP Reboot's CommandKey goes in its "M Reboot" event). */
  commandKey: string;
  /** DeviceInfo.SoftwareVersion of the agent that stopped: Boot! FirmwareUpdated compares with it. */
  softwareVersion: string;
  /** When the stop began (ISO 8601), for the log. */
  at: string;
}

export const BOOT_FILE = 'twinstack.boot';

/** A restart request: a reboot or a factory reset (by its cause) and the USP command_key. */
export type RestartRequest = Pick<BootRecord, 'cause' | 'commandKey'>;

/** A factory reset: the next start wipes the database before it opens. */
export const isFactoryReset = (cause: BootCause) => cause.endsWith('FactoryReset');

/**
 * Local or remote, per the Cause enumeration of Device.Boot!: "Remote" for the Reboot()/FactoryReset() command
 * "or other remote trigger, e.g. another remote management protocol" (USP, CWMP, SNMP), "Local" for what was
 * "triggered locally on the Device": the CLI (a local socket, 0600: someone at the box or a local script), the
 * web page (the gateway's local GUI) and the agent itself.
 */
export function causeOf(factoryReset: boolean, origin: Origin): BootCause {
  const remote = origin === 'usp' || origin === 'cwmp' || origin === 'snmp';
  if (factoryReset) return remote ? 'RemoteFactoryReset' : 'LocalFactoryReset';
  return remote ? 'RemoteReboot' : 'LocalReboot';
}

const CAUSES: readonly string[] = ['LocalReboot', 'RemoteReboot', 'LocalFactoryReset', 'RemoteFactoryReset'];

/** Parses a journal; null when it is not one (an unreadable file counts as no clean record). */
export function parseBootRecord(text: string): BootRecord | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  const r = v as Partial<BootRecord> | null;
  if (!r || typeof r !== 'object' || !CAUSES.includes(r.cause as string) || typeof r.commandKey !== 'string'
    || typeof r.softwareVersion !== 'string') return null;
  return { cause: r.cause as BootCause, commandKey: r.commandKey, softwareVersion: r.softwareVersion, at: typeof r.at === 'string' ? r.at : '' };
}

/** The journal file of one data directory. */
export class BootJournal {
  readonly file: string;

  constructor(readonly dir: string) {
    this.file = join(dir, BOOT_FILE);
  }

  /** The record of the last stop; null when there is none (no clean stop) or it cannot be read. */
  read(): BootRecord | null {
    try {
      return parseBootRecord(readFileSync(this.file, 'utf8'));
    } catch {
      return null;
    }
  }

  /** Replaces the record, durably (write, fsync, rename, fsync of the directory). Throws on an I/O error. */
  write(rec: BootRecord): void {
    const tmp = `${this.file}.tmp`;
    const fd = openSync(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_TRUNC, 0o600);
    try {
      writeSync(fd, `${JSON.stringify(rec)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.file);
    syncDir(this.dir);
  }

  /** Removes the record once a start completed (the next start without one was not a clean stop). */
  clear(): void {
    rmSync(this.file, { force: true });
    syncDir(this.dir);
  }
}

function syncDir(dir: string) {
  const fd = openSync(dir, fsc.O_RDONLY | fsc.O_DIRECTORY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Device.Boot! arguments for a start after `rec` (null: no clean stop recorded). */
export function bootEvent(rec: BootRecord | null, previousVersion: string, version: string): Record<string, string> {
  return {
    CommandKey: rec?.commandKey ?? '',
    // No clean record: a crash, a kill or a power cut. The enumeration has no value of its own for it; it was not
    // "the result of ... the Reboot() Command or other remote trigger", so LocalReboot (as obuspa reports a
    // power cycle).
    Cause: rec?.cause ?? 'LocalReboot',
    FirmwareUpdated: String(previousVersion !== '' && previousVersion !== version),
    // The recipient Controller's BootParameter table (LocalAgent.Controller.{i}.BootParameter) is not in this
    // agent's schema: no parameter is configured to go with the event.
    ParameterMap: '{}',
  };
}
