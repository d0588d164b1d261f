// Independent codec check with Debian's protoc and the BBF .proto files (PEERS.md §12), and malformed input:
// garbage, wrong to_id, unknown sender, unknown or mismatched message types, session context, oversized.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { decodeMsg, decodeRecord, encodeMsg, encodeRecord, wrapMsg } from '../../src/usp/codec.ts';
import { AGENT_EID, CTRL_EID, Mosquitto, RawController, startAgent } from './fixture.ts';

const PROTO = join(dirname(new URL(import.meta.url).pathname), '../../src/usp/proto');

function protoc(mode: 'encode' | 'decode', type: string, input: Buffer | string): Buffer {
  const file = type.startsWith('usp_record') ? 'usp-record-1-4.proto' : 'usp-msg-1-4.proto';
  const r = spawnSync('protoc', ['-I', PROTO, `--${mode}=${type}`, file], { input });
  if (r.status !== 0) throw new Error(`protoc ${mode} failed: ${r.stderr}`);
  return r.stdout;
}

const cEscape = (b: Buffer) => [...b].map((x) => `\\${x.toString(8).padStart(3, '0')}`).join('');

/** Reverses protoc's C-style string escapes (text format bytes fields). */
function cUnescape(s: string): Buffer {
  const out: number[] = [];
  const simple: Record<string, number> = { n: 10, r: 13, t: 9, '"': 34, "'": 39, '\\': 92 };
  for (let i = 0; i < s.length; i++) {
    if (s[i] !== '\\') { out.push(...Buffer.from(s[i], 'latin1')); continue; }
    const c = s[++i];
    if (/[0-7]/.test(c)) {
      let oct = c;
      while (oct.length < 3 && /[0-7]/.test(s[i + 1])) oct += s[++i];
      out.push(parseInt(oct, 8));
    } else if (c === 'x') {
      let hex = '';
      while (hex.length < 2 && /[0-9a-fA-F]/.test(s[i + 1])) hex += s[++i];
      out.push(parseInt(hex, 16));
    } else out.push(simple[c]);
  }
  return Buffer.from(out);
}

/** protoc --decode of a record, then of its payload: both as text. */
function decodeWithProtoc(record: Buffer): { record: string; msg?: string } {
  const text = protoc('decode', 'usp_record.Record', record).toString('latin1');
  const m = text.match(/payload: "((?:[^"\\]|\\.)*)"/);
  return { record: text, msg: m ? protoc('decode', 'usp.Msg', cUnescape(m[1])).toString() : undefined };
}

function encodeWithProtoc(msgText: string, to = AGENT_EID, from = CTRL_EID): Buffer {
  const msg = protoc('encode', 'usp.Msg', msgText);
  return protoc('encode', 'usp_record.Record', `version: "1.4" to_id: "${to}" from_id: "${from}" payload_security: PLAINTEXT no_session_context { payload: "${cEscape(msg)}" }`);
}

test('protoc-encoded records are answered; every record the agent sends decodes with protoc', async (t) => {
  const m = await Mosquitto.start();
  t.after(() => m.stop());
  const a = await startAgent(m.port);
  t.after(() => a.stop());
  const raw = await RawController.connect(m.port);
  t.after(() => raw.close());
  const cases: [string, RegExp[]][] = [
    ['header { msg_id: "p-get" msg_type: GET } body { request { get { param_paths: "Device.LocalAgent.EndpointID" max_depth: 0 } } }',
      [/msg_id: "p-get"/, /msg_type: GET_RESP/, /key: "EndpointID"\s+value: "os::twinstack-test"/]],
    ['header { msg_id: "p-set" msg_type: SET } body { request { set { allow_partial: true update_objs { obj_path: "Device.X_TWINSTACK-ORG_Failover." param_settings { param: "HoldDownTime" value: "7" required: true } } } } }',
      [/msg_type: SET_RESP/, /key: "HoldDownTime"\s+value: "7"/]],
    ['header { msg_id: "p-add" msg_type: ADD } body { request { add { create_objs { obj_path: "Device.LocalAgent.Subscription." param_settings { param: "NotifType" value: "ValueChange" required: true } param_settings { param: "ReferenceList" value: "Device.X_TWINSTACK-ORG_Failover.Mode" required: true } param_settings { param: "Enable" value: "true" required: true } param_settings { param: "ID" value: "protoc-sub" required: true } } } } }',
      [/msg_type: ADD_RESP/, /instantiated_path: "Device.LocalAgent.Subscription.1."/]],
    ['header { msg_id: "p-proto" msg_type: GET_SUPPORTED_PROTO } body { request { get_supported_protocol { controller_supported_protocol_versions: "1.4" } } }',
      [/agent_supported_protocol_versions: "1.3,1.4"/]],
    ['header { msg_id: "p-bad" msg_type: GET } body { request { get { param_paths: "Device.Nope" } } }',
      [/err_code: 7026/]],
  ];
  for (const [text, want] of cases) {
    const n = raw.received.length;
    raw.publish(encodeWithProtoc(text));
    const reply = decodeWithProtoc(await raw.next(n));
    assert.match(reply.record, /to_id: "proto::test-controller"/);
    assert.match(reply.record, /from_id: "os::twinstack-test"/);
    for (const re of want) assert.match(reply.msg!, re, text);
  }
  assert.equal(a.dm.getValue('Device.X_TWINSTACK-ORG_Failover.HoldDownTime'), '7');
  // A Notify (the failover's switch) and an MQTTConnect record (after a reconnect) also decode with protoc.
  let n = raw.received.length;
  a.dm.set({ 'Device.X_TWINSTACK-ORG_Failover.Mode': 'DualStack' }, 'system');
  const notify = decodeWithProtoc(await raw.next(n));
  assert.match(notify.msg!, /msg_type: NOTIFY/);
  assert.match(notify.msg!, /subscription_id: "protoc-sub"/);
  assert.match(notify.msg!, /param_path: "Device.X_TWINSTACK-ORG_Failover.Mode"\s+param_value: "DualStack"/);
  n = raw.received.length;
  a.dm.set({ 'Device.MQTT.Client.1.ClientID': 'twinstack-renamed' }, 'system', 'usp');
  const connect = decodeWithProtoc(await raw.next(n));
  assert.match(connect.record, /mqtt_connect \{\s+version: V5\s+subscribed_topic: "\/usp\/agent"\s+\}/);
});

test('malformed records and messages: USP error, Disconnect or a logged drop; the agent keeps serving', async (t) => {
  const m = await Mosquitto.start();
  t.after(() => m.stop());
  const a = await startAgent(m.port, { maxRecordSize: 4096 });
  t.after(() => a.stop());
  const raw = await RawController.connect(m.port);
  t.after(() => raw.close());
  const get = { header: { msg_id: 'ok', msg_type: 'GET' }, body: { request: { get: { param_paths: ['Device.LocalAgent.EndpointID'] } } } };
  const payload = (b: Uint8Array) => encodeRecord({ to_id: AGENT_EID, from_id: CTRL_EID, no_session_context: { payload: b } });
  type Expect = { drop: true } | { disconnect: number } | { error: number };
  const cases: [string, Uint8Array, Expect][] = [
    ['garbage bytes', Buffer.from('not a protobuf record \xff\xff\xff\xff'), { drop: true }],
    ['wrong to_id', wrapMsg('os::someone-else', CTRL_EID, get), { drop: true }],
    ['unknown controller', wrapMsg(AGENT_EID, 'proto::stranger', get), { drop: true }],
    ['oversized record', wrapMsg(AGENT_EID, CTRL_EID, { ...get, body: { request: { get: { param_paths: ['x'.repeat(5000)] } } } }), { drop: true }],
    ['payload is not a Msg', payload(Buffer.from([0xff, 0xff, 0xff])), { disconnect: 7100 }],
    ['session context record', encodeRecord({ to_id: AGENT_EID, from_id: CTRL_EID, session_context: { session_id: 1, sequence_id: 1, expected_id: 1, payload: [] } }), { disconnect: 7105 }],
    ['TLS payload security', encodeRecord({ to_id: AGENT_EID, from_id: CTRL_EID, payload_security: 'TLS12', no_session_context: { payload: new Uint8Array() } }), { disconnect: 7102 }],
    ['unknown msg_type', payload(Buffer.from(protoc('encode', 'usp.Msg', 'header { msg_id: "u1" msg_type: 99 }'))), { error: 7001 }],
    ['unsupported message (Register)', wrapMsg(AGENT_EID, CTRL_EID, { header: { msg_id: 'r1', msg_type: 'REGISTER' }, body: { request: { register: {} } } }), { error: 7001 }],
    ['msg_type does not match the body', wrapMsg(AGENT_EID, CTRL_EID, { header: { msg_id: 'm1', msg_type: 'SET' }, body: { request: { get: { param_paths: ['Device.'] } } } }), { error: 7004 }],
    ['request without body', wrapMsg(AGENT_EID, CTRL_EID, { header: { msg_id: 'e1', msg_type: 'GET' } }), { error: 7004 }],
    ['msg without header', payload(Buffer.from(protoc('encode', 'usp.Msg', 'body { request { get { param_paths: "Device." } } }'))), { disconnect: 7100 }],
  ];
  for (const [name, bytes, expect] of cases) {
    const n = raw.received.length;
    const dropped = a.plugin.agent!.stats.dropped;
    raw.publish(bytes);
    if ('drop' in expect) {
      await assert.rejects(raw.next(n, 400), /no record/, name);
      assert.equal(a.plugin.agent!.stats.dropped, dropped + 1, name);
    } else {
      const rec = decodeRecord(await raw.next(n));
      if ('disconnect' in expect) assert.equal(rec.disconnect?.reason_code, expect.disconnect, name);
      else {
        const msg = decodeMsg(rec.no_session_context!.payload);
        assert.equal(msg.header.msg_type, 'ERROR', name);
        assert.equal(msg.body.error!.err_code, expect.error, name);
      }
    }
    // Still serving.
    const k = raw.received.length;
    raw.publish(wrapMsg(AGENT_EID, CTRL_EID, get));
    const ok = decodeMsg(decodeRecord(await raw.next(k)).no_session_context!.payload);
    assert.equal(ok.header.msg_type, 'GET_RESP', `${name}: agent still answers`);
  }
});

// encodeMsg writes strings with its own writer (codec.ts NativeStringWriter): every length class and UTF-8 width
// must come back unchanged.
test('encodeMsg: strings of every length and UTF-8 width round-trip', () => {
  const values = ['', 'a', 'x'.repeat(39), 'x'.repeat(40), 'x'.repeat(200), 'é', 'ünïcödé ✓', '𝄞 astral', `${'é'.repeat(60)}𝄞`, 'nul\u0000inside'];
  const result_params = Object.fromEntries(values.map((v, i) => [`P${i}${v.slice(0, 3)}`, v]));
  const msg = {
    header: { msg_id: 'ïd-✓', msg_type: 'GET_RESP' },
    body: { response: { get_resp: { req_path_results: [{ requested_path: 'Device.DeviceInfo.', err_code: 0, err_msg: '', resolved_path_results: [{ resolved_path: 'Device.DeviceInfo.', result_params }] }] } } },
  };
  const back = decodeMsg(encodeMsg(msg));
  assert.equal(back.header.msg_id, 'ïd-✓');
  const got = (back.body.response as { get_resp: { req_path_results: { resolved_path_results: { result_params: Record<string, string> }[] }[] } }).get_resp;
  assert.deepEqual(got.req_path_results[0].resolved_path_results[0].result_params, result_params);
});
