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

  list(): EventStruct[] {
    return this.read<EventStruct[]>('events', []);
  }

  /** Adds an event once: single events by code, "M" events by code and CommandKey. */
  add(code: string, commandKey = ''): void {
    const list = this.list();
    if (list.some((e) => e.EventCode === code && e.CommandKey === commandKey)) return;
    if (list.length >= MAX_EVENTS) list.shift();
    list.push({ EventCode: code, CommandKey: commandKey });
    this.write('events', list);
  }

  has(code: string): boolean {
    return this.list().some((e) => e.EventCode === code);
  }

  /** After an InformResponse: drops the delivered events except those a TransferCompleteResponse clears. */
  delivered(sent: EventStruct[]): void {
    const gone = (e: EventStruct) => !KEPT_UNTIL_TRANSFER_ACK.has(e.EventCode) && sent.some((s) => s.EventCode === e.EventCode && s.CommandKey === e.CommandKey);
    this.write('events', this.list().filter((e) => !gone(e)));
  }

  valueChanges(): string[] {
    return this.read<string[]>('valueChanges', []);
  }

  addValueChanges(paths: string[]): void {
    const set = new Set(this.valueChanges());
    const before = set.size;
    for (const p of paths) set.add(p);
    if (set.size !== before) this.write('valueChanges', [...set]);
    this.add(EV.VALUE_CHANGE);
  }

  clearValueChanges(sent: string[]): void {
    this.write('valueChanges', this.valueChanges().filter((p) => !sent.includes(p)));
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
    this.write('events', this.list().filter(keep));
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
