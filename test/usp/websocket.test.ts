// WebSocket MTP against a test WebSocket endpoint (a `ws` server) speaking v1.usp as the controller.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { WebSocketServer, type WebSocket } from 'ws';
import { decodeMsg, decodeRecord, wrapMsg, type UspRecord } from '../../src/usp/codec.ts';
import { AGENT_EID, Mosquitto, sleep, startAgent, until } from './fixture.ts';

const WS_EID = 'proto::ws-controller';

test('WebSocket MTP: v1.usp, eid extension, WebSocketConnect, requests, notifications, reconnect', async (t) => {
  const m = await Mosquitto.start();
  t.after(() => m.stop());
  const a = await startAgent(m.port);
  t.after(() => a.stop());

  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: (protocols) => (protocols.has('v1.usp') ? 'v1.usp' : false) });
  t.after(() => new Promise<void>((r) => wss.close(() => r())));
  await new Promise<void>((r) => wss.once('listening', () => r()));
  const port = (wss.address() as AddressInfo).port;
  const sockets: { ws: WebSocket; ext: string; url: string; records: UspRecord[] }[] = [];
  wss.on('connection', (ws, req) => {
    const s = { ws, ext: String(req.headers['sec-websocket-extensions'] ?? ''), url: req.url ?? '', records: [] as UspRecord[] };
    sockets.push(s);
    ws.on('message', (data) => s.records.push(decodeRecord(data as Buffer)));
  });

  const ctrl = a.dm.add('Device.LocalAgent.Controller.', 'system', { EndpointID: WS_EID, Enable: 'true', AssignedRole: 'Device.LocalAgent.ControllerTrust.Role.1' }, 'usp').path;
  const mtp = a.dm.add(`${ctrl}MTP.`, 'system', { Enable: 'true', Protocol: 'WebSocket' }, 'usp').path;
  a.dm.set({
    [`${mtp}WebSocket.Host`]: '127.0.0.1', [`${mtp}WebSocket.Port`]: String(port), [`${mtp}WebSocket.Path`]: '/usp',
    [`${mtp}WebSocket.EnableEncryption`]: 'false', [`${mtp}WebSocket.SessionRetryMinimumWaitInterval`]: '1',
    [`${mtp}WebSocket.SessionRetryIntervalMultiplier`]: '1000',
  }, 'system', 'usp');

  await until(() => sockets[0]?.records.length > 0, 5000, 'WebSocketConnect record');
  const s = sockets[0];
  assert.equal(s.ws.protocol, 'v1.usp');
  assert.equal(s.url, '/usp');
  assert.equal(s.ext, `bbf-usp-protocol; eid="${AGENT_EID}"`);
  assert.equal(s.records[0].record_type, 'websocket_connect');
  assert.equal(s.records[0].to_id, WS_EID);

  const request = async (sock: (typeof sockets)[number], msg: unknown) => {
    const n = sock.records.length;
    sock.ws.send(wrapMsg(AGENT_EID, WS_EID, msg));
    await until(() => sock.records.length > n, 3000, 'answer over WebSocket');
    return decodeMsg(sock.records[n].no_session_context!.payload);
  };
  const get = await request(s, { header: { msg_id: 'w1', msg_type: 'GET' }, body: { request: { get: { param_paths: ['Device.LocalAgent.EndpointID'] } } } });
  assert.deepEqual((get.body.response as { get_resp: { req_path_results: { resolved_path_results: { result_params: Record<string, string> }[] }[] } })
    .get_resp.req_path_results[0].resolved_path_results[0].result_params, { EndpointID: AGENT_EID });

  const add = await request(s, { header: { msg_id: 'w2', msg_type: 'ADD' }, body: { request: { add: { create_objs: [{ obj_path: 'Device.LocalAgent.Subscription.', param_settings: [
    { param: 'Enable', value: 'true', required: true }, { param: 'NotifType', value: 'ValueChange', required: true },
    { param: 'ReferenceList', value: 'Device.X_TWINSTACK-ORG_Failover.Mode', required: true }, { param: 'ID', value: 'ws-sub', required: true },
  ] }] } } } });
  assert.equal(add.header.msg_type, 'ADD_RESP');
  const n = s.records.length;
  a.dm.set({ 'Device.X_TWINSTACK-ORG_Failover.Mode': 'DualStack' }, 'system');
  await until(() => s.records.length > n, 3000, 'Notify over WebSocket');
  const notify = decodeMsg(s.records[n].no_session_context!.payload);
  assert.deepEqual((notify.body.request as { notify: unknown }).notify, {
    subscription_id: 'ws-sub', send_resp: false, value_change: { param_path: 'Device.X_TWINSTACK-ORG_Failover.Mode', param_value: 'DualStack' }, notification: 'value_change',
  });

  // The controller drops the connection: the agent reconnects and says WebSocketConnect again.
  s.ws.close();
  await until(() => sockets.length === 2 && sockets[1].records.length > 0, 8000, 'reconnected');
  assert.equal(sockets[1].records[0].record_type, 'websocket_connect');
  const again = await request(sockets[1], { header: { msg_id: 'w3', msg_type: 'GET_SUPPORTED_PROTO' }, body: { request: { get_supported_protocol: { controller_supported_protocol_versions: '1.4' } } } });
  assert.equal(again.header.msg_type, 'GET_SUPPORTED_PROTO_RESP');
  // Disabling the MTP closes the connection for good.
  a.dm.set({ [`${mtp}Enable`]: 'false' }, 'system', 'usp');
  await until(() => sockets[1].ws.readyState === sockets[1].ws.CLOSED, 3000, 'closed after disable');
  await sleep(1500);
  assert.equal(sockets.length, 2);
});
