// Pending Inform events and what goes with them, kept in the data model's private state (dm.state) so
// they survive a crash or reboot until the ACS acknowledged them (TR-069 §3.7.1.5, Table 7).
import type { StateAccess } from '../datamodel/index.ts';
import type { EventStruct, TransferCompleteArgs } from './messages.ts';

export const EV = {
  BOOTSTRAP: '0 BOOTSTRAP', BOOT: '1 BOOT', PERIODIC: '2 PERIODIC', SCHEDULED: '3 SCHEDULED', VALUE_CHANGE: '4 VALUE CHANGE',
  CONNECTION_REQUEST: '6 CONNECTION REQUEST', TRANSFER_COMPLETE: '7 TRANSFER COMPLETE', DIAGNOSTICS_COMPLETE: '8 DIAGNOSTICS COMPLETE',
  M_REBOOT: 'M Reboot', M_SCHEDULE_INFORM: 'M ScheduleInform', M_DOWNLOAD: 'M Download',
} as const;

/** Events the ACS acknowledges with TransferCompleteResponse, not InformResponse (Table 7). */
const KEPT_UNTIL_TRANSFER_ACK = new Set<string>([EV.TRANSFER_COMPLETE, EV.M_DOWNLOAD]);
/** TR-069 §A.3.3.1: at most 64 EventStructs in one Inform. */
const MAX_EVENTS = 64;

export interface PendingDownload {
  CommandKey: string;
  FileType: string;
  URL: string;
  Username: string;
  Password: string;
  FileSize: number;
  TargetFileName: string;
  /** ms epoch when the transfer may start. */
  notBefore: number;
}


/** A pending event with the number of its latest add (0 for events stored before numbers existed). */
interface StoredEvent extends EventStruct {
  seq?: number;
}

/**
 * What one Inform reports: the events and changed parameters pending when it was built, each with the number
 * of its latest add. `delivered` acknowledges exactly these, so an event or change added again while the
 * Inform was in flight stays for the next Inform.
 */
export interface InformSnapshot {
  events: readonly StoredEvent[];
  changes: Readonly<Record<string, number>>;
}

const sameEvent = (a: EventStruct, b: EventStruct) => a.EventCode === b.EventCode && a.CommandKey === b.CommandKey;

export class PendingEvents {

  /** Over dm.state('cwmp'), or over the state of a commit in progress (DataModel.onCommitting). */
  constructor(private readonly st: StateAccess) {}

  private read<T>(key: string, empty: T): T {
    const raw = this.st.get(key);
    if (raw === undefined) return empty;
    try {
      return JSON.parse(raw) as T;
    } catch {
      return empty;
    }
  }

  private write(key: string, v: unknown[]) {
    if (v.length) this.st.set(key, JSON.stringify(v));
    else this.st.delete(key);
  }

  /** Numbers every add, persisted with the events (the same transaction as the change that caused it). */
  private nextSeq(): number {
    const n = Number(this.st.get('eventSeq') ?? 0) + 1;
    this.st.set('eventSeq', String(n));
    return n;
  }

  private stored(): StoredEvent[] {
    return this.read<StoredEvent[]>('events', []);
  }

  list(): EventStruct[] {
    return this.stored().map((e) => ({ EventCode: e.EventCode, CommandKey: e.CommandKey }));
  }

  /**
   * Adds an event once: single events by code, "M" events by code and CommandKey. Adding one that is already
   * pending renumbers it, so an Inform in flight that carries it does not acknowledge this add.
   */
  add(code: string, commandKey = ''): void {
    const list = this.stored();
    const ev = { EventCode: code, CommandKey: commandKey };
    const at = list.findIndex((e) => sameEvent(e, ev));
    if (at >= 0) {
      list[at] = { ...ev, seq: this.nextSeq() };
    } else {
      if (list.length >= MAX_EVENTS) list.shift();
      list.push({ ...ev, seq: this.nextSeq() });
    }
    this.write('events', list);
  }

  has(code: string): boolean {
    return this.stored().some((e) => e.EventCode === code);
  }

  /** What the next Inform reports (its Event list and the changed parameters of its ParameterList). */
  snapshot(): InformSnapshot {
    return { events: this.stored(), changes: this.changeMap() };
  }

  /**
   * After an InformResponse (§3.7.1.5): drops what that Inform carried, except the events a
   * TransferCompleteResponse clears; what was added again since stays.
   */
  delivered(sent: InformSnapshot): void {
    const gone = (e: StoredEvent) => !KEPT_UNTIL_TRANSFER_ACK.has(e.EventCode)
      && sent.events.some((s) => sameEvent(s, e) && (s.seq ?? 0) === (e.seq ?? 0));
    this.write('events', this.stored().filter((e) => !gone(e)));
    const left = Object.entries(this.changeMap()).filter(([path, seq]) => sent.changes[path] !== seq);
    if (left.length) this.st.set('valueChanges', JSON.stringify(Object.fromEntries(left)));
    else this.st.delete('valueChanges');
  }

  /** Changed parameters with the number of their latest change (an array of paths before numbers existed). */
  private changeMap(): Record<string, number> {
    const raw = this.read<Record<string, number> | string[]>('valueChanges', {});
    return Array.isArray(raw) ? Object.fromEntries(raw.map((p) => [p, 0])) : raw;
  }

  valueChanges(): string[] {
    return Object.keys(this.changeMap());
  }

  /** Changed parameters for the next Inform, with "4 VALUE CHANGE" (a parameter changed again is renumbered). */
  addValueChanges(paths: string[]): void {
    const map = this.changeMap();
    for (const p of paths) map[p] = this.nextSeq();
    this.st.set('valueChanges', JSON.stringify(map));
    this.add(EV.VALUE_CHANGE);
  }

  transfers(): TransferCompleteArgs[] {
    return this.read<TransferCompleteArgs[]>('transfers', []);
  }

  /** A finished Download: TransferComplete is sent in a later session with events 7 and M Download (A.3.3.2). */
  addTransfer(t: TransferCompleteArgs): void {
    this.write('transfers', [...this.transfers(), t]);
    this.add(EV.TRANSFER_COMPLETE);
    this.add(EV.M_DOWNLOAD, t.CommandKey);
  }

  transferAcknowledged(t: TransferCompleteArgs): void {
    const rest = this.transfers().filter((x) => !(x.CommandKey === t.CommandKey && x.CompleteTime === t.CompleteTime));
    this.write('transfers', rest);
    const keep = (e: EventStruct) => !(e.EventCode === EV.M_DOWNLOAD && e.CommandKey === t.CommandKey && !rest.some((r) => r.CommandKey === t.CommandKey))
      && !(e.EventCode === EV.TRANSFER_COMPLETE && rest.length === 0);
    this.write('events', this.stored().filter(keep));
  }

  downloads(): PendingDownload[] {
    return this.read<PendingDownload[]>('downloads', []);
  }

  setDownloads(list: PendingDownload[]): void {
    this.write('downloads', list);
  }

  scheduledInforms(): { at: number; CommandKey: string }[] {
    return this.read<{ at: number; CommandKey: string }[]>('scheduled', []);
  }

  setScheduledInforms(list: { at: number; CommandKey: string }[]): void {
    this.write('scheduled', list);
  }

  get(key: string): string | undefined {
    return this.st.get(key);
  }

  set(key: string, value: string): void {
    this.st.set(key, value);
  }
}
