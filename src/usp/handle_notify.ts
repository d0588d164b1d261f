// Notify (TR-369 §7.5.6, §7.3 "Subscriptions"): Device.LocalAgent.Subscription.{i} rows turn core change
// and event streams into Notify messages for their Recipient controller. ValueChange, ObjectCreation,
// ObjectDeletion, Event (Boot!, Periodic!, any registered event) and OperationComplete; OnBoardRequest.
// With NotifRetry (and always for OnBoardRequest) send_resp is true and the Notify is retried with the
// controller's USPNotifRetry* backoff until a NotifyResp with the same msg_id arrives (R-NOT.?).
import type { Logger } from 'pino';
import { Path, schemaOf, type ChangeEvent, type DataModel, type EventOccurrence } from '../datamodel/index.ts';
import { SUPPORTED_VERSIONS } from './codec.ts';
import { uniqueKeysOf } from './context.ts';
import { list, retryDelayMs, rows } from './rows.ts';
import { permissionsOf, targetRegExp, type PermKind, type Permissions } from './trust.ts';
import type { OperationResult } from './handle_operate.ts';

const SUBS = 'Device.LocalAgent.Subscription.';
const CONTROLLERS = 'Device.LocalAgent.Controller.';

interface Sub {
  path: string;
  id: string;
  type: string;
  refs: { text: string; re?: RegExp }[];
  recipient: string;
  retry: boolean;
  expiration: number;
}

interface Pending { msgId: string; controller: string; msg: unknown; attempt: number; timer?: NodeJS.Timeout; expires: number; onAck?: () => void }

/** Sends one Msg to a controller (queued by the agent while the controller is unreachable). */
export type Deliver = (controllerPath: string, msg: unknown) => void;

export class Notifier {
  private subs: Sub[] | undefined;
  private perms = new Map<string, Permissions>();
  private readonly pending = new Map<string, Pending>();
  private readonly periodic = new Map<string, NodeJS.Timeout>();
  private seq = 0;

  constructor(private readonly dm: DataModel, private readonly log: Logger, private readonly deliver: Deliver) {}

  /** Forget cached subscriptions and permissions after a LocalAgent change. */
  invalidate(ev?: ChangeEvent): void {
    const touched = (p: string) => p.startsWith('Device.LocalAgent.');
    if (!ev || [...ev.changes.map((c) => c.path), ...ev.added, ...ev.deleted].some(touched)) {
      this.subs = undefined;
      this.perms.clear();
    }
  }

  private subscriptions(): Sub[] {
    this.subs ??= rows(this.dm, SUBS)
      .filter((r) => r.v.Enable === 'true' && r.v.Recipient !== '')
      .map((r) => ({
        path: r.path, id: r.v.ID, type: r.v.NotifType, recipient: r.v.Recipient.endsWith('.') ? r.v.Recipient : `${r.v.Recipient}.`,
        refs: list(r.v.ReferenceList).map((text) => ({ text, re: /[[+]/.test(text) ? undefined : targetRegExp(text) })),
        retry: r.v.NotifRetry === 'true', expiration: Number(r.v.NotifExpiration || 0),
      }));
    return this.subs;
  }

  private permsOf(controller: string): Permissions {
    let p = this.perms.get(controller);
    if (!p) this.perms.set(controller, (p = permissionsOf(this.dm, controller)));
    return p;
  }

  /** Does a reference-list entry name `path`? Search and reference paths are resolved against the live tree. */
  private matches(ref: Sub['refs'][number], path: string): boolean {
    if (ref.re) return ref.re.test(path);
    try {
      return this.dm.resolve(Path.parse(ref.text), 'usp').some((n) => n.path === path || (n.path.endsWith('.') && path.startsWith(n.path)));
    } catch {
      return false;
    }
  }

  private fire(type: string, path: string, kind: PermKind, body: Record<string, unknown>): void {
    for (const s of this.subscriptions()) {
      if (s.type !== type || !s.refs.some((r) => this.matches(r, path))) continue;
      if (!this.permsOf(s.recipient).can(kind, path, 'n')) continue;
      this.send(s.recipient, s.id, s.retry, body, s.expiration);
    }
  }

  onChange(ev: ChangeEvent): void {
    this.invalidate(ev);
    if (!this.subscriptions().length) return;
    for (const c of ev.changes) {
      const def = this.dm.schema.param(schemaOf(c.path.slice(0, c.path.lastIndexOf('.') + 1)) + c.path.slice(c.path.lastIndexOf('.') + 1))?.def;
      this.fire('ValueChange', c.path, 'Param', { value_change: { param_path: c.path, param_value: def?.secured ? '' : c.value } });
    }
    for (const o of ev.added) this.fire('ObjectCreation', o, 'Obj', { obj_creation: { obj_path: o, unique_keys: uniqueKeysOf(this.dm, o) } });
    for (const o of ev.deleted) this.fire('ObjectDeletion', o, 'InstantiatedObj', { obj_deletion: { obj_path: o } });
  }

  onEvent(ev: EventOccurrence): void {
    const cut = ev.path.lastIndexOf('.') + 1;
    this.fire('Event', ev.path, 'CommandEvent', { event: { obj_path: ev.path.slice(0, cut), event_name: ev.path.slice(cut), params: ev.params } });
  }

  onOperationComplete(r: OperationResult): void {
    const cut = r.path.lastIndexOf('.') + 1;
    const resp = r.failure ? { cmd_failure: r.failure } : { req_output_args: { output_args: r.output ?? {} } };
    this.fire('OperationComplete', r.path, 'CommandEvent', {
      oper_complete: { obj_path: r.path.slice(0, cut), command_name: r.path.slice(cut), command_key: r.commandKey, ...resp },
    });
  }

  /** OnBoardRequest (TR-369 §7.5.6.1): always send_resp, retried until the controller answers. */
  onBoard(controller: string, onAck?: () => void): void {
    const v = (p: string) => this.dm.getValue(`Device.DeviceInfo.${p}`);
    this.send(controller, '', true, {
      on_board_req: { oui: v('ManufacturerOUI'), product_class: v('ProductClass'), serial_number: v('SerialNumber'), agent_supported_protocol_versions: SUPPORTED_VERSIONS },
    }, 0, onAck);
  }

  /** Periodic! events every Controller.{i}.PeriodicNotifInterval seconds (0: off). */
  reconcilePeriodic(): void {
    const want = new Map<string, number>();
    for (const c of rows(this.dm, CONTROLLERS)) {
      const n = Number(c.v.PeriodicNotifInterval || 0);
      if (c.v.Enable === 'true' && n > 0) want.set(c.path, n);
    }
    for (const [path, timer] of this.periodic) {
      if (want.get(path) !== (timer as NodeJS.Timeout & { interval?: number }).interval) { clearInterval(timer); this.periodic.delete(path); }
    }
    for (const [path, n] of want) {
      if (this.periodic.has(path)) continue;
      const timer = setInterval(() => this.periodicFor(path), n * 1000) as NodeJS.Timeout & { interval?: number };
      timer.interval = n;
      timer.unref();
      this.periodic.set(path, timer);
    }
  }

  private periodicFor(controller: string): void {
    const path = 'Device.LocalAgent.Periodic!';
    for (const s of this.subscriptions()) {
      if (s.recipient !== controller || s.type !== 'Event' || !s.refs.some((r) => this.matches(r, path))) continue;
      if (!this.permsOf(s.recipient).can('CommandEvent', path, 'n')) continue;
      this.send(controller, s.id, s.retry, { event: { obj_path: 'Device.LocalAgent.', event_name: 'Periodic!', params: {} } }, s.expiration);
    }
  }

  private send(controller: string, subscription_id: string, send_resp: boolean, notification: Record<string, unknown>, expiration: number, onAck?: () => void) {
    const msgId = `notify-${Date.now().toString(36)}-${++this.seq}`;
    const msg = { header: { msg_id: msgId, msg_type: 'NOTIFY' }, body: { request: { notify: { subscription_id, send_resp, ...notification } } } };
    this.deliver(controller, msg);
    if (!send_resp) return;
    const p: Pending = { msgId, controller, msg, attempt: 0, expires: expiration > 0 ? Date.now() + expiration * 1000 : Infinity, onAck };
    this.pending.set(msgId, p);
    this.schedule(p);
  }

  private schedule(p: Pending) {
    p.attempt++;
    let m = 5;
    let k = 2000;
    try {
      m = Number(this.dm.getValue(`${p.controller}USPNotifRetryMinimumWaitInterval`)) || 5;
      k = Number(this.dm.getValue(`${p.controller}USPNotifRetryIntervalMultiplier`)) || 2000;
    } catch {
      this.pending.delete(p.msgId); // the controller is gone
      return;
    }
    p.timer = setTimeout(() => {
      if (Date.now() >= p.expires) {
        this.pending.delete(p.msgId);
        this.log.info({ msgId: p.msgId }, 'notify expired without NotifyResp');
        return;
      }
      this.log.debug({ msgId: p.msgId, attempt: p.attempt }, 'notify retry');
      this.deliver(p.controller, p.msg);
      this.schedule(p);
    }, retryDelayMs(p.attempt, m, k, 3600));
    p.timer.unref();
  }

  /** A NotifyResp (or an Error answering a Notify) stops the retries of that Notify. */
  acknowledge(msgId: string): boolean {
    const p = this.pending.get(msgId);
    if (!p) return false;
    clearTimeout(p.timer);
    this.pending.delete(msgId);
    p.onAck?.();
    return true;
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  dispose(): void {
    for (const p of this.pending.values()) clearTimeout(p.timer);
    this.pending.clear();
    for (const t of this.periodic.values()) clearInterval(t);
    this.periodic.clear();
  }
}
