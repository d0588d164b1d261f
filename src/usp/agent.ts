// The USP agent's message path (TR-369 §6 Records, §7 Messages): record checks -> controller and role ->
// one handler per message type -> response record back over the MTP it came from (or the controller's
// configured MTP). Malformed input is answered with a USP error when there is someone to answer, else dropped
// with a log line; the agent keeps serving either way.
import type { Logger } from 'pino';
import type { DataModel } from '../datamodel/index.ts';
import { CodecError, decodeMsg, decodeRecord, encodeMsg, encodeRecord, wrapMsg, wrapPayload, type Msg, type MsgType, type Request } from './codec.ts';
import type { Controller, HandlerContext } from './context.ts';
import { toUspError, UspError, USP_ERR } from './errors.ts';
import { handleAdd } from './handle_add.ts';
import { handleDelete } from './handle_delete.ts';
import { handleGet } from './handle_get.ts';
import { Notifier } from './handle_notify.ts';
import { handleOperate } from './handle_operate.ts';
import { handleSet } from './handle_set.ts';
import { handleGetInstances, handleGetSupportedDM, handleGetSupportedProtocol } from './handle_supported.ts';
import { MtpManager, type Inbound } from './mtps.ts';
import { rows } from './rows.ts';
import { permissionsOf, type Permissions } from './trust.ts';

export interface AgentOptions {
  /** Larger records are dropped unread (R-MTP.5 lets an MTP bound its message size). */
  maxRecordSize: number;
  /** Messages kept per unreachable controller until an MTP comes up. */
  outboxSize: number;
}

const RESPONSE_TYPE: Partial<Record<Request['req_type'], MsgType>> = {
  get: 'GET_RESP', set: 'SET_RESP', add: 'ADD_RESP', delete: 'DELETE_RESP', operate: 'OPERATE_RESP',
  get_supported_dm: 'GET_SUPPORTED_DM_RESP', get_instances: 'GET_INSTANCES_RESP', get_supported_protocol: 'GET_SUPPORTED_PROTO_RESP',
};
/** msg_type each request body must come with. */
const REQUEST_TYPE: Partial<Record<Request['req_type'], MsgType>> = {
  get: 'GET', set: 'SET', add: 'ADD', delete: 'DELETE', operate: 'OPERATE', get_supported_dm: 'GET_SUPPORTED_DM',
  get_instances: 'GET_INSTANCES', get_supported_protocol: 'GET_SUPPORTED_PROTO', notify: 'NOTIFY', register: 'REGISTER', deregister: 'DEREGISTER',
};

export class UspAgent {
  readonly notifier: Notifier;
  readonly mtps: MtpManager;
  private readonly outbox = new Map<string, Uint8Array[]>();
  private perms = new Map<string, Permissions>();
  /**
   * What every record needs from Device.LocalAgent. (our EndpointID, the controllers by EndpointID, whether an
   * UntrustedRole is set), read once per change under Device.LocalAgent. instead of once per record: a controller
   * lookup read the whole Controller table (one dm.get) for each message. Cleared with the permissions by
   * invalidate(), which the plug-in calls synchronously on every committed change under Device.LocalAgent.
   */
  private la?: { endpointId: string; untrusted: boolean; controllers: Map<string, Controller | undefined> };
  /** Counters for tests and the benchmark. */
  readonly stats = { received: 0, answered: 0, dropped: 0 };

  constructor(private readonly dm: DataModel, private readonly log: Logger, private readonly opts: AgentOptions) {
    this.notifier = new Notifier(dm, log.child({ part: 'notify' }), (c, m) => this.deliver(c, m));
    this.mtps = new MtpManager(dm, log, {
      record: (bytes, from) => void this.receive(bytes, from).catch((err) => this.log.error({ err, mtp: from.mtp }, 'record handling failed')),
      connected: (kind, key) => this.onConnected(kind, key),
    });
  }

  get endpointId(): string {
    return this.localAgent().endpointId;
  }

  /** Device.LocalAgent. changed (trust settings, controllers, EndpointID): re-read all of it on next use. */
  invalidate(): void {
    this.perms.clear();
    this.la = undefined;
  }

  private localAgent() {
    return (this.la ??= {
      endpointId: this.dm.getValue('Device.LocalAgent.EndpointID'),
      untrusted: this.dm.getValue('Device.LocalAgent.ControllerTrust.UntrustedRole') !== '',
      controllers: new Map(),
    });
  }

  /** The enabled controller with this EndpointID (the first one, in instance order), if any. */
  private controllerOf(endpointId: string): Controller | undefined {
    const known = this.localAgent().controllers;
    if (known.has(endpointId)) return known.get(endpointId);
    const c = rows(this.dm, 'Device.LocalAgent.Controller.').find((r) => r.v.EndpointID === endpointId);
    const controller = c && c.v.Enable === 'true' ? { path: c.path, endpointId } : undefined;
    if (known.size < 64) known.set(endpointId, controller); // unknown senders must not grow it without bound
    return controller;
  }

  private permsOf(c: Controller): Permissions {
    const key = c.path ?? '';
    let p = this.perms.get(key);
    if (!p) this.perms.set(key, (p = permissionsOf(this.dm, c.path)));
    return p;
  }

  /** Handles one received record; resolves when the answer (if any) was sent. */
  async receive(bytes: Uint8Array, from: Inbound): Promise<void> {
    this.stats.received++;
    const drop = (why: string, extra: Record<string, unknown> = {}) => {
      this.stats.dropped++;
      this.log.warn({ mtp: from.mtp, size: bytes.length, ...extra }, why);
    };
    if (bytes.length > this.opts.maxRecordSize) return drop('record too large, dropped', { max: this.opts.maxRecordSize });
    let rec;
    try {
      rec = decodeRecord(bytes);
    } catch {
      return drop('undecodable record dropped');
    }
    const la = this.localAgent();
    const eid = la.endpointId;
    if (rec.to_id !== eid) return drop('record for another endpoint dropped', { to: rec.to_id, from: rec.from_id });
    const controller = this.controllerOf(rec.from_id);
    if (!controller && !la.untrusted) return drop('record from an unknown controller dropped', { from: rec.from_id });
    const sender: Controller = controller ?? { endpointId: rec.from_id };
    const answer = (b: Uint8Array) => this.answer(sender, from, b);
    const disconnect = (reason_code: number, reason: string) => {
      this.log.warn({ from: rec.from_id, reason_code, reason }, 'record refused with Disconnect');
      answer(encodeRecord({ to_id: rec.from_id, from_id: eid, disconnect: { reason, reason_code } }));
    };
    if (rec.payload_security && rec.payload_security !== 'PLAINTEXT') return disconnect(USP_ERR.SECURE_SESSION_NOT_SUPPORTED, 'TLS payload security is not supported');
    switch (rec.record_type) {
      case 'no_session_context': break;
      case 'session_context': return disconnect(7105, 'session context is not supported; use NoSessionContext records');
      case 'disconnect': case 'mqtt_connect': case 'websocket_connect': case 'stomp_connect': case 'uds_connect':
        this.log.info({ from: rec.from_id, type: rec.record_type }, 'connect/disconnect record from controller');
        return;
      default: return disconnect(USP_ERR.RECORD_FIELD_INVALID, 'record has no record_type');
    }
    let msg: Msg;
    try {
      msg = decodeMsg(rec.no_session_context!.payload);
    } catch (e) {
      if (!(e instanceof CodecError)) throw e;
      return disconnect(USP_ERR.RECORD_NOT_PARSED, 'payload is not a USP Msg');
    }
    const reply = await this.dispatch({ dm: this.dm, controller: sender, perms: this.permsOf(sender) }, msg);
    if (reply) {
      answer(wrapPayload(rec.from_id, eid, reply));
      this.stats.answered++;
    }
  }

  private answer(c: Controller, from: Inbound, bytes: Uint8Array) {
    if (from.reply) from.reply(bytes);
    else if (c.path) this.send(c.path, bytes);
    else this.log.warn({ from: c.endpointId }, 'no reply channel for an untrusted sender');
  }

  /** Runs one message; returns the encoded response Msg (undefined when none is due). */
  async dispatch(ctx: HandlerContext, msg: Msg): Promise<Uint8Array | undefined> {
    const { msg_id, msg_type } = msg.header;
    const reply = (type: MsgType, body: unknown) => encodeMsg({ header: { msg_id, msg_type: type }, body });
    const error = (e: unknown) => reply('ERROR', {
      error: { ...toUspError(e), param_errs: e instanceof UspError ? e.paramErrs : [] },
    });
    // The per-message child logger only when something is logged: a pino.child() for every message was a measurable
    // part of a small Get without the JIT (bin/start.js NODE_FLAGS).
    let child: Logger | undefined;
    const log = () => (child ??= this.log.child({ msgId: msg_id, from: ctx.controller.endpointId }));
    if (msg.body.msg_body === 'response') {
      const r = msg.body.response!;
      if (r.resp_type === 'notify_resp') {
        if (!this.notifier.acknowledge(msg_id)) log().info('NotifyResp for no pending Notify');
      } else log().info({ type: r.resp_type }, 'unexpected response ignored');
      return undefined;
    }
    if (msg.body.msg_body === 'error') {
      // An Error answering a Notify ends its retries (TR-369 R-NOT.?).
      this.notifier.acknowledge(msg_id);
      log().info({ err: msg.body.error }, 'error message from controller');
      return undefined;
    }
    const req = msg.body.request;
    if (typeof msg_type !== 'string') return error(new UspError(USP_ERR.MESSAGE_NOT_SUPPORTED, `unknown msg_type ${String(msg_type)}`));
    if (!msg.body.msg_body) return error(new UspError(USP_ERR.INVALID_ARGUMENTS, 'message has no body'));
    if (!req || !req.req_type) return error(new UspError(USP_ERR.MESSAGE_NOT_SUPPORTED, `message type ${msg_type} is not supported`));
    if (REQUEST_TYPE[req.req_type] !== msg_type)
      return error(new UspError(USP_ERR.INVALID_ARGUMENTS, `msg_type ${msg_type} does not match body ${req.req_type}`));
    const respType = RESPONSE_TYPE[req.req_type];
    if (!respType) return error(new UspError(USP_ERR.MESSAGE_NOT_SUPPORTED, `${msg_type} is not supported by this agent`));
    if (this.log.isLevelEnabled('debug')) log().debug({ type: msg_type }, 'request');
    try {
      let body: unknown;
      switch (req.req_type) {
        case 'get': body = handleGet(ctx, req.get); break;
        case 'set': body = handleSet(ctx, req.set); break;
        case 'add': body = handleAdd(ctx, req.add); break;
        case 'delete': body = handleDelete(ctx, req.delete); break;
        case 'operate': {
          body = await handleOperate(ctx, req.operate, (r) => this.notifier.onOperationComplete(r));
          if (!req.operate.send_resp) return undefined;
          break;
        }
        case 'get_supported_dm': body = handleGetSupportedDM(ctx, req.get_supported_dm); break;
        case 'get_instances': body = handleGetInstances(ctx, req.get_instances); break;
        case 'get_supported_protocol': body = handleGetSupportedProtocol(ctx, req.get_supported_protocol); break;
      }
      return reply(respType, { response: body }); // an unencodable answer (a handler bug) gives an Error below
    } catch (e) {
      if (!(e instanceof UspError) && !(e instanceof Error && e.name === 'DmError')) log().error({ err: e }, 'handler failed');
      return error(e);
    }
  }

  /** Sends a Msg to a controller; kept in a bounded outbox while no MTP of the controller is up. */
  deliver(controllerPath: string, msg: unknown): void {
    let endpointId: string;
    try {
      endpointId = this.dm.getValue(`${controllerPath}EndpointID`);
    } catch {
      return; // deleted meanwhile
    }
    this.send(controllerPath, wrapMsg(endpointId, this.endpointId, msg));
  }

  private send(controllerPath: string, bytes: Uint8Array): void {
    if (this.mtps.sendTo(controllerPath, bytes)) return;
    const q = this.outbox.get(controllerPath) ?? [];
    q.push(bytes);
    if (q.length > this.opts.outboxSize) {
      q.shift();
      this.log.warn({ controller: controllerPath }, 'outbox full, oldest message dropped');
    }
    this.outbox.set(controllerPath, q);
  }

  private onConnected(kind: 'mqtt' | 'ws', key: string): void {
    const eid = this.endpointId;
    for (const c of this.mtps.controllersVia(kind, key)) {
      // TR-369 §6.3.3 / §6.4: tell each controller where we listen, after every (re)connect.
      const info = kind === 'mqtt' ? this.mtps.mqttInfo(key) : undefined;
      const rec = info
        ? encodeRecord({ to_id: c.endpointId, from_id: eid, mqtt_connect: { version: info.version === 5 ? 'V5' : 'V3_1_1', subscribed_topic: info.topic } })
        : encodeRecord({ to_id: c.endpointId, from_id: eid, websocket_connect: {} });
      c.send(rec);
    }
    const queued = [...this.outbox];
    this.outbox.clear();
    for (const [controller, q] of queued) for (const b of q) this.send(controller, b);
  }

  async stop(): Promise<void> {
    this.notifier.dispose();
    await this.mtps.stop();
  }
}
