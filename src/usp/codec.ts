// USP Record and Msg codec (TR-369 §3, §6): protobufjs over the project's own copy of the Broadband Forum
// .proto files in ./proto (usp-record-1-4.proto, usp-msg-1-4.proto). Field names are kept as the spec
// spells them (snake_case) so the objects below read like the .proto files.
import { dirname, join } from 'node:path';
import protobuf from 'protobufjs';

const PROTO_DIR = join(dirname(new URL(import.meta.url).pathname), 'proto');
const root = new protobuf.Root();
root.loadSync([join(PROTO_DIR, 'usp-record-1-4.proto'), join(PROTO_DIR, 'usp-msg-1-4.proto')], { keepCase: true });
const RecordT = root.lookupType('usp_record.Record');
const MsgT = root.lookupType('usp.Msg');

/** The parts of protobufjs 8's BufferWriter that NativeStringWriter uses (not in its typings). */
type WriterInternals = { _reserve(n: number): void; buf: Buffer & { utf8Write(s: string, offset: number): number }; pos: number };

/**
 * protobufjs writes strings shorter than 40 characters with a JavaScript UTF-8 loop, fast under V8's JIT and slow
 * in the interpreter the gateway runs (bin/start.js NODE_FLAGS: --no-opt --no-sparkplug): it was the top self-time
 * function of a Get of Device.IP. (13 % of the agent's time). This writer hands every string to Buffer#utf8Write
 * instead: a 17 kB GetResp takes 27 % less time to encode without the JIT (12 % more with it). It leans on the
 * writer's internals, so it is used only if it encodes a probe byte for byte as the stock writer does.
 */
class NativeStringWriter extends protobuf.BufferWriter {
  override string(value: string): protobuf.Writer {
    const len = Buffer.byteLength(value);
    this.uint32(len);
    if (len) {
      const w = this as unknown as WriterInternals;
      w._reserve(len);
      w.pos += w.buf.utf8Write(value, w.pos);
    }
    return this;
  }
}

const writer: () => protobuf.Writer | undefined = (() => {
  const probe = MsgT.fromObject({
    header: { msg_id: '', msg_type: 'GET_RESP' },
    body: { response: { get_resp: { req_path_results: [{ requested_path: 'Device.DeviceInfo.', err_msg: 'ünïcödé ✓ 𝄞', resolved_path_results: [{ resolved_path: 'x'.repeat(300), result_params: { a: '', b: 'é'.repeat(50) } }] }] } } },
  });
  try {
    const ok = Buffer.from(MsgT.encode(probe, new NativeStringWriter()).finish()).equals(Buffer.from(MsgT.encode(probe).finish()));
    if (ok) return () => new NativeStringWriter();
  } catch {
    /* another protobufjs: the stock writer */
  }
  return () => undefined;
})();

/** USP versions this agent speaks (GetSupportedProtocol, OnBoardRequest). */
export const SUPPORTED_VERSIONS = '1.3,1.4';
export const RECORD_VERSION = '1.4';

export type MsgType =
  | 'ERROR' | 'GET' | 'GET_RESP' | 'NOTIFY' | 'SET' | 'SET_RESP' | 'OPERATE' | 'OPERATE_RESP' | 'ADD' | 'ADD_RESP'
  | 'DELETE' | 'DELETE_RESP' | 'GET_SUPPORTED_DM' | 'GET_SUPPORTED_DM_RESP' | 'GET_INSTANCES' | 'GET_INSTANCES_RESP'
  | 'NOTIFY_RESP' | 'GET_SUPPORTED_PROTO' | 'GET_SUPPORTED_PROTO_RESP' | 'REGISTER' | 'REGISTER_RESP'
  | 'DEREGISTER' | 'DEREGISTER_RESP';

// Plain-object shapes of the messages (proto3 defaults filled on decode). Only what the agent reads is typed.
export interface Get { param_paths: string[]; max_depth: number }
export interface GetSupportedDM {
  obj_paths: string[]; first_level_only: boolean; return_commands: boolean; return_events: boolean;
  return_params: boolean; return_unique_key_sets: boolean;
}
export interface GetInstances { obj_paths: string[]; first_level_only: boolean }
export interface GetSupportedProtocol { controller_supported_protocol_versions: string }
export interface ParamSetting { param: string; value: string; required: boolean }
export interface Set { allow_partial: boolean; update_objs: { obj_path: string; param_settings: ParamSetting[] }[] }
export interface Add { allow_partial: boolean; create_objs: { obj_path: string; param_settings: ParamSetting[] }[] }
export interface Delete { allow_partial: boolean; obj_paths: string[] }
export interface Operate { command: string; command_key: string; send_resp: boolean; input_args: Record<string, string> }
export interface NotifyResp { subscription_id: string }

/** A decoded request: the discriminated union named after the Request oneof (usp-msg-1-4.proto). */
export type Request =
  | { req_type: 'get'; get: Get }
  | { req_type: 'get_supported_dm'; get_supported_dm: GetSupportedDM }
  | { req_type: 'get_instances'; get_instances: GetInstances }
  | { req_type: 'set'; set: Set }
  | { req_type: 'add'; add: Add }
  | { req_type: 'delete'; delete: Delete }
  | { req_type: 'operate'; operate: Operate }
  | { req_type: 'notify'; notify: Record<string, unknown> }
  | { req_type: 'get_supported_protocol'; get_supported_protocol: GetSupportedProtocol }
  | { req_type: 'register' | 'deregister' };

export interface Msg {
  header: { msg_id: string; msg_type: MsgType };
  body: { msg_body?: 'request' | 'response' | 'error'; request?: Request; response?: Record<string, unknown> & { resp_type?: string }; error?: UspErrorBody };
}

export interface UspErrorBody {
  err_code: number;
  err_msg: string;
  param_errs?: { param_path: string; err_code: number; err_msg: string }[];
}

export interface UspRecord {
  version: string;
  to_id: string;
  from_id: string;
  payload_security?: 'PLAINTEXT' | 'TLS12';
  record_type?: 'no_session_context' | 'session_context' | 'websocket_connect' | 'mqtt_connect' | 'stomp_connect' | 'disconnect' | 'uds_connect';
  no_session_context?: { payload: Uint8Array };
  session_context?: Record<string, unknown>;
  mqtt_connect?: { version: 'V3_1_1' | 'V5'; subscribed_topic: string };
  websocket_connect?: Record<string, never>;
  disconnect?: { reason: string; reason_code: number };
}

const TO_OBJECT: protobuf.IConversionOptions = { enums: String, longs: String, bytes: Uint8Array as unknown as typeof Array, defaults: true, oneofs: true, arrays: true, objects: true };

/** Records keep their payload as the decoder's view into the received bytes (a Buffer from the MTP). */
const RECORD_TO_OBJECT: protobuf.IConversionOptions = { ...TO_OBJECT, bytes: undefined };

export class CodecError extends Error {}

export function decodeRecord(buf: Uint8Array): UspRecord {
  try {
    return RecordT.toObject(RecordT.decode(buf), RECORD_TO_OBJECT) as UspRecord;
  } catch (e) {
    throw new CodecError(`undecodable record: ${(e as Error).message}`);
  }
}

export function decodeMsg(buf: Uint8Array): Msg {
  let m: Msg;
  try {
    m = MsgT.toObject(MsgT.decode(buf), TO_OBJECT) as Msg;
  } catch (e) {
    throw new CodecError(`undecodable msg: ${(e as Error).message}`);
  }
  if (!m.header) throw new CodecError('msg has no header');
  m.body ??= {};
  return m; // an unknown msg_type stays a number; the agent answers it with Error 7001
}

export function encodeMsg(msg: unknown): Uint8Array {
  try {
    return MsgT.encode(MsgT.fromObject(msg as Record<string, unknown>), writer()).finish();
  } catch (e) {
    throw new CodecError(`bad msg: ${(e as Error).message}`);
  }
}

export function encodeRecord(rec: Partial<UspRecord> & { to_id: string; from_id: string }): Uint8Array {
  return RecordT.encode(RecordT.fromObject({ version: RECORD_VERSION, payload_security: 'PLAINTEXT', ...rec }), writer()).finish();
}

/** A NoSessionContext record carrying one Msg (TR-369 §6.1). */
export function wrapMsg(to_id: string, from_id: string, msg: unknown): Uint8Array {
  return wrapPayload(to_id, from_id, encodeMsg(msg));
}

/** A NoSessionContext record carrying one Msg already encoded (encodeMsg). */
export function wrapPayload(to_id: string, from_id: string, payload: Uint8Array): Uint8Array {
  return encodeRecord({ to_id, from_id, no_session_context: { payload } });
}
