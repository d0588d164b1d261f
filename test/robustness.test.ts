// No request on any face ends the agent (issue 18, item 5). One real agent process with every face on: the
// CLI socket, the web API, USP over MQTT (mosquitto) and WebSocket, CWMP (an ACS of our own and the
// connection-request port) and SNMP. Each face gets every JSON value type and malformed frames; after each
// batch the process must be alive and answer a CLI get. ROBUSTNESS_LOG=FILE keeps the agent's log.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { authorization } from '../src/cwmp/auth.ts';
import { encodeVarbind } from '../src/snmp/ber.ts';
import { encodeCommunity, encodePdu, encodeScopedPdu, encodeV3 } from '../src/snmp/message.ts';
import { encodeMsg, encodeRecord, wrapMsg } from '../src/usp/codec.ts';
import { startAgentProcess, type AgentProcess } from './cli/agent.ts';
import { Mosquitto, RawController } from './usp/fixture.ts';
import { sleep, waitFor } from './wait.ts';

const JSON_VALUES = ['null', '0', '-1', '1.5e308', '"x"', '""', 'true', 'false', '[]', '[null]', '{}', '[[[[[[[[]]]]]]]]', '{"a":{"b":{"c":null}}}'];
const AGENT = 'os::robust';
const CTRL = 'proto::robust-ctrl';
const WS_CTRL = 'proto::robust-ws';
const CR = { username: 'cr-user', password: 'cr-pass' };
const PASSWORD = 'robustness-pass';

async function freeTcpPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const { port } = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Sends raw bytes over TCP and waits for the peer to close (or `ms`). */
function rawTcp(port: number, data: Buffer | string, ms = 1000): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let got = '';
    const done = () => { clearTimeout(timer); s.destroy(); resolve(got); };
    const timer = setTimeout(done, ms);
    s.on('data', (d) => (got += d.toString('latin1')));
    s.on('error', done);
    s.on('close', done);
    s.write(data);
  });
}

/**
 * A minimal ACS: answers Informs with `informReplies` (then a proper InformResponse), and within a session
 * sends the `rpcs` bodies one per CPE POST, then 204. Each reply is [status, headers, body].
 */
class RawAcs {
  server = http.createServer((req, res) => this.handle(req, res));
  url = '';
  informs = 0;
  informReplies: [number, Record<string, string>, string | Buffer][] = [];
  rpcs: (string | Buffer)[] = [];
  /** What the CPE answered to each RPC body (its method name or ''). */
  answers: string[] = [];
  sessionsEnded = 0;

  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/acs`;
    return this;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse) {
    const chunks: Buffer[] = [];
    req.on('data', (d) => chunks.push(d));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      if (body.includes(':Inform>')) {
        this.informs++;
        const r = this.informReplies.shift();
        if (r) return this.send(res, ...r);
        const id = /<cwmp:ID[^>]*>([^<]*)</.exec(body)?.[1] ?? '1';
        return this.send(res, 200, { 'content-type': 'text/xml' }, envelope('<cwmp:InformResponse><MaxEnvelopes>1</MaxEnvelopes></cwmp:InformResponse>', id));
      }
      if (body) this.answers.push(/<(?:[\w-]+:)?Body>\s*<(?:[\w-]+:)?(\w+)/.exec(body)?.[1] ?? '?');
      const next = this.rpcs.shift();
      if (next !== undefined) return this.send(res, 200, { 'content-type': 'text/xml' }, next);
      this.sessionsEnded++;
      this.send(res, 204, {}, '');
    });
  }

  private send(res: http.ServerResponse, status: number, headers: Record<string, string>, body: string | Buffer) {
    if (headers['x-truncate']) { // announce more than is sent, then drop the connection
      res.writeHead(status, { 'content-type': 'text/xml', 'content-length': '100000' });
      res.write(body);
      res.socket?.destroy();
      return;
    }
    res.writeHead(status, headers);
    res.end(body);
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}

const envelope = (body: string, id = 'r1', header = '') => `<?xml version="1.0" encoding="UTF-8"?><soap-env:Envelope xmlns:soap-env="http://schemas.xmlsoap.org/soap/envelope/" xmlns:soap-enc="http://schemas.xmlsoap.org/soap/encoding/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:cwmp="urn:dslforum-org:cwmp-1-2"><soap-env:Header><cwmp:ID soap-env:mustUnderstand="1">${id}</cwmp:ID>${header}</soap-env:Header><soap-env:Body>${body}</soap-env:Body></soap-env:Envelope>`;

/** One authenticated connection request (TR-069 §3.2.2, Digest); resolves with the final status. */
async function connectionRequest(url: string): Promise<number> {
  const first = await fetch(url);
  const challenge = first.headers.get('www-authenticate');
  if (first.status !== 401 || !challenge) return first.status;
  const auth = authorization(challenge, CR, 'GET', new URL(url).pathname)!;
  return (await fetch(url, { headers: { authorization: auth.header } })).status;
}

describe('no request on any face ends the agent', { timeout: 600_000 }, () => {
  let agent: AgentProcess;
  let mosquitto: Mosquitto;
  let acs: RawAcs;
  let wss: WebSocketServer;
  const wsPeers: WebSocket[] = [];
  let dir = '';
  const ports = { web: 0, snmp: 0, cr: 0, ws: 0 };

  const alive = async (what: string) => {
    assert.ok(agent.alive(), `agent exited after ${what}:\n${agent.log().slice(-3000)}`);
    const r = await agent.request({ cmd: 'get', paths: ['Device.DeviceInfo.Manufacturer'] });
    assert.deepEqual(r, { id: 1, ok: true, result: [['Device.DeviceInfo.Manufacturer', 'twinstack']] }, what);
  };
  const cli = async (req: object) => {
    const r = await agent.request(req);
    assert.equal(r.ok, true, JSON.stringify(r));
    return r.result;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ts-robust-'));
    mosquitto = await Mosquitto.start();
    acs = await new RawAcs().start();
    wss = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: () => 'v1.usp' });
    await new Promise<void>((r) => wss.once('listening', () => r()));
    wss.on('connection', (ws) => wsPeers.push(ws));
    ports.ws = (wss.address() as AddressInfo).port;
    [ports.web, ports.cr, ports.snmp] = [await freeTcpPort(), await freeTcpPort(), await freeUdpPort()];
    const config = {
      log: { level: 'info' },
      web: { port: ports.web, adminPassword: PASSWORD },
      snmp: { port: ports.snmp },
      cwmp: {
        connectionRequest: { port: ports.cr, rateLimit: { max: 1000 } },
        factoryDefaults: { url: acs.url, username: 'acs', password: 'secret', periodicInformEnable: false, connectionRequestUsername: CR.username, connectionRequestPassword: CR.password },
      },
      usp: { endpointId: AGENT, onBoardRequest: false, broker: { host: '127.0.0.1', port: mosquitto.port, agentTopic: '/usp/agent' }, controller: { endpointId: CTRL, topic: '/usp/controller' } },
    };
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
    agent = await startAgentProcess(['--config', join(dir, 'config.json')]);
    await waitFor('the boot Inform', async () => acs.sessionsEnded > 0, 30_000);
    await waitFor('USP over MQTT', async () => (await agent.request({ cmd: 'get', paths: ['Device.MQTT.Client.1.Status'] })).result?.toString().includes('Connected'), 30_000);
  });

  after(async () => {
    if (process.env.ROBUSTNESS_LOG) writeFileSync(process.env.ROBUSTNESS_LOG, agent?.log() ?? '');
    await agent?.stop();
    for (const p of wsPeers) p.terminate();
    await new Promise((r) => wss?.close(r));
    await acs?.stop();
    await mosquitto?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('CLI: every JSON type, malformed lines, a 2 MiB line', async () => {
    const lines = [...JSON_VALUES, '', '{', '{"cmd":"get","paths":[', '\u0000\u0001\u0002', '{"cmd":"get","paths":null}', '{"cmd":"set","values":[]}',
      '{"cmd":"attrs","paths":["Device."],"set":{"notification":"2"}}', '{"cmd":"operate","path":7}', ...JSON_VALUES.map((v) => `{"cmd":"get","paths":${v}}`),
      ...JSON_VALUES.map((v) => `{"id":${v},"cmd":"dump"}`)];
    for (const l of lines) {
      const got = await rawUnix(agent.socket, `${l}\n`);
      assert.match(got, /^\{"id":-?\d+,"ok":(false,"error":\{"kind":"InvalidArgument"|true)/, l);
    }
    const big = await rawUnix(agent.socket, `{"cmd":"get","paths":["${'x'.repeat(2 * 1024 * 1024)}"]}\n`);
    assert.match(big, /ResourcesExceeded/);
    await alive('CLI garbage');
  });

  test('web: every JSON type as body, invalid JSON, wrong content types', async () => {
    const base = `http://127.0.0.1:${ports.web}`;
    const login = await fetch(`${base}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: PASSWORD }) });
    assert.equal(login.status, 200);
    const cookie = login.headers.get('set-cookie')!.split(';')[0];
    const { csrfToken } = await login.json() as { csrfToken: string };
    const routes: [string, string][] = [['PUT', '/api/values'], ['POST', '/api/instances'], ['PUT', '/api/attributes'], ['PUT', '/api/password'], ['POST', '/api/login'], ['DELETE', '/api/instances?path=Device.NAT.InterfaceSetting.9.']];
    const bodies: [string, string | Buffer][] = [
      ...JSON_VALUES.map((v) => ['application/json', v] as [string, string]),
      ['application/json', '{"values":null}'], ['application/json', '{"values":[]}'], ['application/json', '{"values":{"Device.DSLite.Enable":true}}'],
      ['application/json', '{"values":{"":""}}'], ['application/json', '{"table":{"x":1}}'], ['application/json', '{"path":"Device.","notification":null}'],
      ['application/json', '{"__proto__":{"values":1}}'], ['application/json', '{"constructor":{"prototype":{"x":1}}}'],
      ['application/json', '{'], ['application/json', ''], ['application/json', '\u0000'], ['application/json', Buffer.from([0xff, 0xfe, 0x00, 0x7b])],
      ['application/json', `${'['.repeat(100_000)}${']'.repeat(100_000)}`], ['application/json', `{"values":{"a":"${'x'.repeat(300 * 1024)}"}}`],
      ['application/json; charset=utf-16', '{"values":{}}'], ['application/json; charset=latin1', '{}'],
      ['text/plain', '{"values":{}}'], ['application/xml', '<values/>'], ['application/x-www-form-urlencoded', 'values=1'],
      ['multipart/form-data; boundary=x', '--x\r\n\r\n--x--'], ['', '{}'], ['*/*', '{}'], ['application/json\u0000', '{}'],
    ];
    const statuses = new Set<number>();
    for (const [method, url] of routes) {
      for (const [type, body] of bodies) {
        const headers: Record<string, string> = { cookie, 'x-csrf-token': csrfToken };
        if (type) headers['content-type'] = type;
        const r = await fetch(`${base}${url}`, { method, headers, body: typeof body === 'string' ? body : new Uint8Array(body) }).catch((e: Error) => e);
        if (r instanceof Error) { assert.doesNotMatch(r.message, /ECONNREFUSED/, `${method} ${url} ${type}`); continue; }
        statuses.add(r.status);
        assert.ok(r.status < 500, `${method} ${url} ${type} ${String(body).slice(0, 40)}: ${r.status} ${await r.text()}`);
        await r.arrayBuffer().catch(() => undefined);
      }
    }
    note(`web statuses ${[...statuses].sort().join(',')}`);
    // Queries and headers no route expects.
    for (const q of ['/api/tree', '/api/tree?path=', '/api/tree?path=a&path=b', '/api/object?path[]=x', `/api/object?path=${'A'.repeat(5000)}`, '/api/search?q=%ZZ', '/api/search?q=a&limit=-1', '/api/events', '/api/%00', '/%2e%2e/%2e%2e/etc/passwd']) {
      const r = await fetch(`${base}${q}`, { headers: { cookie, 'last-event-id': '\u00ff', origin: 'garbage' } });
      assert.ok(r.status < 500, `${q}: ${r.status}`);
      if (q === '/api/events') await r.body?.cancel();
      else await r.arrayBuffer();
    }
    for (const raw of ['GET / HTTP/1.1\r\nHost: x\r\nCookie: \u00ff=\u00ff\r\n\r\n', 'PUT /api/values HTTP/1.1\r\nContent-Length: -1\r\n\r\n', 'PUT /api/values HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', '\u0016\u0003\u0001\u0000\u00a5\u0001']) {
      await rawTcp(ports.web, Buffer.from(raw, 'latin1'), 500);
    }
    await alive('web garbage');
  });

  test('USP: garbage records and records with wrong payloads, over MQTT and WebSocket', async () => {
    const raw = await RawController.connect(mosquitto.port);
    try {
      const msg = (m: unknown) => wrapMsg(AGENT, CTRL, m);
      const get = (paths: string[]) => msg({ header: { msg_id: 'g', msg_type: 'GET' }, body: { request: { get: { param_paths: paths } } } });
      const records: Uint8Array[] = [
        Buffer.alloc(0), Buffer.from('garbage'), Buffer.from(JSON_VALUES.join('')), Buffer.alloc(300 * 1024, 0x0a),
        Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]), // a length of 4 GiB
        Buffer.from(Array(5000).fill([0x0b]).flat()), // nested start-group tags
        encodeMsg({ header: { msg_id: 'x', msg_type: 'GET' }, body: {} }), // a Msg where a Record belongs
        encodeRecord({ to_id: 'os::someone-else', from_id: CTRL, no_session_context: { payload: Buffer.from('x') } }),
        encodeRecord({ to_id: AGENT, from_id: 'proto::stranger', no_session_context: { payload: Buffer.from('x') } }),
        encodeRecord({ to_id: AGENT, from_id: CTRL }),
        encodeRecord({ to_id: AGENT, from_id: CTRL, payload_security: 'TLS12', no_session_context: { payload: Buffer.from('x') } }),
        encodeRecord({ to_id: AGENT, from_id: CTRL, session_context: { session_id: 1, sequence_id: 1, expected_id: 1, payload: [Buffer.from('x')] } }),
        encodeRecord({ to_id: AGENT, from_id: CTRL, disconnect: { reason: 'x', reason_code: 1 } }),
        ...JSON_VALUES.map((v) => encodeRecord({ to_id: AGENT, from_id: CTRL, no_session_context: { payload: Buffer.from(v) } })),
        encodeRecord({ to_id: AGENT, from_id: CTRL, no_session_context: { payload: Buffer.alloc(0) } }),
        msg({ header: { msg_id: 'a', msg_type: 'SET' }, body: { request: { get: { param_paths: ['Device.'] } } } }),
        msg({ header: { msg_id: 'b', msg_type: 'GET' }, body: {} }),
        msg({ header: { msg_id: 'c', msg_type: 99 }, body: { request: { get: { param_paths: [] } } } }),
        msg({ header: { msg_id: 'd', msg_type: 'GET_RESP' }, body: { response: { get_resp: {} } } }),
        msg({ header: { msg_id: 'e', msg_type: 'ERROR' }, body: { error: { err_code: 7000, err_msg: 'x' } } }),
        msg({ header: { msg_id: 'f', msg_type: 'NOTIFY' }, body: { request: { notify: { subscription_id: 'x' } } } }),
        msg({ header: { msg_id: 'r', msg_type: 'REGISTER' }, body: { request: { register: {} } } }),
        get([]), get(['']), get(['Device..']), get(['\u0000']), get(['Device.*.*.*.*.*.*.*.']), get([`Device.${'A.'.repeat(5000)}`]), get(['Device.[a==b].']), get(['Device.LocalAgent.Controller.[EndpointID=="x"||1].']),
        msg({ header: { msg_id: 'h', msg_type: 'GET' }, body: { request: { get: { param_paths: ['Device.'], max_depth: 4294967295 } } } }),
        msg({ header: { msg_id: 'i', msg_type: 'SET' }, body: { request: { set: { update_objs: [{ obj_path: '', param_settings: [{ param: '', value: '' }] }, { obj_path: 'Device.*.', param_settings: [] }] } } } }),
        msg({ header: { msg_id: 'j', msg_type: 'ADD' }, body: { request: { add: { create_objs: [{ obj_path: 'Device.DeviceInfo.' }, { obj_path: 'Device.', param_settings: [{ param: 'X', value: 'y' }] }] } } } }),
        msg({ header: { msg_id: 'k', msg_type: 'DELETE' }, body: { request: { delete: { obj_paths: ['Device.', 'Device.LocalAgent.', '', 'Device.NAT.InterfaceSetting.*.'] } } } }),
        msg({ header: { msg_id: 'l', msg_type: 'OPERATE' }, body: { request: { operate: { command: 'Device.Nope()', send_resp: true, input_args: { a: 'b' } } } } }),
        msg({ header: { msg_id: 'm', msg_type: 'OPERATE' }, body: { request: { operate: { command: '', send_resp: true } } } }),
        msg({ header: { msg_id: 'n', msg_type: 'GET_SUPPORTED_DM' }, body: { request: { get_supported_dm: { obj_paths: ['', 'Device.{i}.', 'Nope.'] } } } }),
        msg({ header: { msg_id: 'o', msg_type: 'GET_INSTANCES' }, body: { request: { get_instances: { obj_paths: ['Device.DeviceInfo.', 'Device.X.{i}.', ''] } } } }),
        msg({ header: { msg_id: 'p', msg_type: 'GET_SUPPORTED_PROTO' }, body: { request: { get_supported_protocol: { controller_supported_protocol_versions: '\u0000,,9.9,' } } } }),
      ];
      for (const r of records) raw.publish(r);
      // Reply topics a sender may name: wildcards (the broker would drop the agent answering there), nothing.
      // (A U+0000 in it gets the sender itself disconnected by mosquitto; test/usp/reply-topic.test.ts has it.)
      for (const topic of ['#', '+/x', '']) {
        raw.client.publish('/usp/agent', Buffer.from(get(['Device.DeviceInfo.Manufacturer'])), { properties: { responseTopic: topic } });
      }
      const before = raw.received.length;
      raw.publish(get(['Device.DeviceInfo.Manufacturer']));
      await waitFor('an answer after the garbage', async () => raw.received.length > before, 20_000);
      await alive('USP garbage over MQTT');

      // An MQTT 3.1.1 connection, where the reply topic travels in the topic name (R-MQTT.24).
      await cli({ cmd: 'add', table: 'Device.MQTT.Client.', values: { Enable: 'true', BrokerAddress: '127.0.0.1', BrokerPort: String(mosquitto.port), ProtocolVersion: '3.1.1' } });
      const mtp = await cli({ cmd: 'add', table: 'Device.LocalAgent.MTP.', values: { Enable: 'true', Protocol: 'MQTT' } }) as string;
      await cli({ cmd: 'set', values: { [`${mtp}MQTT.Reference`]: 'Device.MQTT.Client.2', [`${mtp}MQTT.ResponseTopicConfigured`]: '/usp/agent311' } });
      await waitFor('the 3.1.1 connection', async () => (await agent.request({ cmd: 'get', paths: ['Device.MQTT.Client.2.Status'] })).result?.toString().includes('Connected'), 20_000);
      for (const suffix of ['/reply-to=%E0%A4%A', '/reply-to=%', '/reply-to=%00', '/reply-to=%23', '/x/y/z', '/reply-to=']) {
        raw.client.publish(`/usp/agent311${suffix}`, Buffer.from(get(['Device.DeviceInfo.Manufacturer'])));
        raw.client.publish(`/usp/agent311${suffix}`, Buffer.from('garbage'));
      }
      await sleep(1000);
      await alive('USP garbage over MQTT 3.1.1');

      // A WebSocket controller (the agent connects to it) sending text, garbage and oversized frames.
      await cli({ cmd: 'add', table: 'Device.LocalAgent.Controller.', values: { EndpointID: WS_CTRL, Enable: 'true', AssignedRole: 'Device.LocalAgent.ControllerTrust.Role.1' } });
      const ctrl = (await cli({ cmd: 'get', paths: ['Device.LocalAgent.Controller.*.EndpointID'] }) as [string, string][]).find(([, v]) => v === WS_CTRL)![0].replace(/EndpointID$/, '');
      const wsMtp = await cli({ cmd: 'add', table: `${ctrl}MTP.`, values: { Enable: 'true', Protocol: 'WebSocket' } }) as string;
      await cli({ cmd: 'set', values: { [`${wsMtp}WebSocket.Host`]: '127.0.0.1', [`${wsMtp}WebSocket.Port`]: String(ports.ws), [`${wsMtp}WebSocket.Path`]: '/usp', [`${wsMtp}WebSocket.EnableEncryption`]: 'false' } });
      await waitFor('the WebSocket connection', async () => wsPeers.length > 0, 20_000);
      const ws = wsPeers[0];
      const got: Buffer[] = [];
      ws.on('message', (d) => got.push(d as Buffer));
      for (const v of JSON_VALUES) ws.send(v); // text frames
      for (const r of records) ws.send(r, { binary: true });
      ws.send(Buffer.alloc(4 * 1024 * 1024, 1), { binary: true });
      ws.send(wrapMsg(AGENT, WS_CTRL, { header: { msg_id: 'w', msg_type: 'GET' }, body: { request: { get: { param_paths: ['Device.DeviceInfo.Manufacturer'] } } } }), { binary: true });
      await waitFor('a WebSocket answer after the garbage', async () => got.length > 0, 20_000);
      await alive('USP garbage over WebSocket');
    } finally {
      await raw.close();
    }
  });

  test('CWMP: malformed replies and SOAP from the ACS, garbage on the connection-request port', async () => {
    const crUrl = `http://127.0.0.1:${ports.cr}/cwmp-cr`;
    await cli({ cmd: 'set', values: { 'Device.ManagementServer.CWMPRetryMinimumWaitInterval': '1', 'Device.ManagementServer.CWMPRetryIntervalMultiplier': '1000' } });
    // The connection-request port first: raw bytes, broken HTTP, hostile Authorization headers.
    const junk = [
      '\u0000\u0001\u0002\u0003', 'GET\r\n\r\n', 'GET /cwmp-cr HTTP/1.1\r\n\r\n', `GET /${'a'.repeat(100_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
      'GET /cwmp-cr HTTP/1.1\r\nHost: x\r\nAuthorization: Digest\r\n\r\n', 'GET /cwmp-cr HTTP/1.1\r\nHost: x\r\nAuthorization: Digest nonce="", nc=zz, uri=\r\n\r\n',
      `GET /cwmp-cr HTTP/1.1\r\nHost: x\r\nAuthorization: Digest username="${CR.username}", realm="twinstack-cwmp", qop=auth, uri="/cwmp-cr", nonce="${'f'.repeat(40)}", nc=${'f'.repeat(100)}, response="x"\r\n\r\n`,
      'GET /cwmp-cr HTTP/1.1\r\nHost: x\r\nAuthorization: Basic !!!\r\n\r\n', 'POST /cwmp-cr HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 4\r\n\r\nnull',
      'POST /cwmp-cr HTTP/1.1\r\nHost: x\r\nContent-Length: 99999\r\n\r\nabc', 'GET /cwmp-cr HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n',
      `GET /cwmp-cr HTTP/1.1\r\nHost: x\r\nX: ${'y'.repeat(64 * 1024)}\r\n\r\n`,
    ];
    for (const j of junk) await rawTcp(ports.cr, Buffer.from(j, 'latin1'), 500);
    await alive('connection-request garbage');

    // Broken answers to the Inform: JSON, not XML, wrong envelopes, odd statuses and headers, a cut body.
    const xml = { 'content-type': 'text/xml' };
    acs.informReplies = [
      ...JSON_VALUES.map((v) => [200, { 'content-type': 'application/json' }, v] as [number, Record<string, string>, string]),
      [200, xml, '\u0000\u0001 binary'], [200, xml, Buffer.from([0xff, 0xfe, 0x3c, 0x00])], [200, xml, '<a><b></a>'],
      [200, xml, envelope('')], [200, xml, envelope('<cwmp:InformResponse><MaxEnvelopes>many</MaxEnvelopes></cwmp:InformResponse>', '<x/>')],
      [200, xml, envelope('<cwmp:InformResponse/>', 'r1', '<cwmp:HoldRequests soap-env:mustUnderstand="1"><x/></cwmp:HoldRequests><cwmp:X_Unknown soap-env:mustUnderstand="1">1</cwmp:X_Unknown>')],
      [200, xml, envelope('<soap-env:Fault><faultcode>Server</faultcode><detail><cwmp:Fault><FaultCode>8005</FaultCode></cwmp:Fault></detail></soap-env:Fault>')],
      [500, xml, 'internal'], [401, { 'www-authenticate': 'Newauth realm="x"' }, ''], [401, { 'www-authenticate': `Digest ${'x'.repeat(10_000)}` }, ''],
      [401, { 'www-authenticate': 'Digest realm="acs", nonce="n", qop="auth", algorithm=SHA-999' }, ''], [302, { location: 'http://[::1' }, ''],
      [302, { location: 'ftp://127.0.0.1/x' }, ''], [200, { ...xml, 'set-cookie': '=; ;;=x; \u00ff=\u00ff' }, envelope('<cwmp:InformResponse><MaxEnvelopes>1</MaxEnvelopes></cwmp:InformResponse>')],
      [200, { 'x-truncate': '1' }, '<soap-env:Envelope'],
    ];
    // Sessions until every case was served: a failed one is retried (TR-069 §3.2.1.1), after one that
    // succeeded a connection request asks for the next.
    const drive = async (what: string, pending: () => boolean) => {
      assert.equal(await connectionRequest(crUrl), 200);
      const end = Date.now() + 240_000;
      let seen = acs.informs;
      let quietSince = Date.now();
      while (pending()) {
        assert.ok(agent.alive(), `agent exited during ${what}:\n${agent.log().slice(-3000)}`);
        assert.ok(Date.now() < end, `timed out: ${what}`);
        await sleep(200);
        if (acs.informs !== seen) [seen, quietSince] = [acs.informs, Date.now()];
        else if (Date.now() - quietSince > 4000) [, quietSince] = [await connectionRequest(crUrl), Date.now()];
      }
    };
    const ended = acs.sessionsEnded;
    await drive('broken Inform answers', () => acs.informReplies.length > 0 || acs.sessionsEnded === ended);
    await alive('broken Inform answers');

    // Within a session: every JSON type and malformed SOAP as the ACS's request.
    acs.rpcs = [
      ...JSON_VALUES, '', '<', '<?xml version="1.0"?>', '\u0000', Buffer.from([0xc3, 0x28, 0xa0, 0xa1]), '<soap-env:Envelope/>', envelope(''),
      envelope('<cwmp:GetRPCMethods/><cwmp:GetRPCMethods/>'), envelope('<cwmp:GetRPCMethods/>', '<a><b/></a>'),
      envelope('<cwmp:GetParameterValues><ParameterNames>Device.</ParameterNames></cwmp:GetParameterValues>'),
      envelope('<cwmp:GetParameterValues><ParameterNames><string><x>Device.</x></string></ParameterNames></cwmp:GetParameterValues>'),
      envelope('<cwmp:GetParameterValues><ParameterNames soap-enc:arrayType="xsd:string[-1]"/></cwmp:GetParameterValues>'),
      envelope('<cwmp:GetParameterNames><ParameterPath><a/></ParameterPath><NextLevel>maybe</NextLevel></cwmp:GetParameterNames>'),
      envelope('<cwmp:GetParameterNames/>'),
      envelope('<cwmp:SetParameterValues><ParameterList><ParameterValueStruct><Name>Device.DSLite.Enable</Name><Value xsi:type="xsd:nonsense"><x/></Value></ParameterValueStruct></ParameterList><ParameterKey><k/></ParameterKey></cwmp:SetParameterValues>'),
      envelope('<cwmp:SetParameterValues><ParameterList><ParameterValueStruct><Value>1</Value></ParameterValueStruct></ParameterList></cwmp:SetParameterValues>'),
      envelope('<cwmp:SetParameterValues>text</cwmp:SetParameterValues>'),
      envelope('<cwmp:SetParameterAttributes><ParameterList><SetParameterAttributesStruct><Name>Device.DSLite.Enable</Name><NotificationChange>1</NotificationChange><Notification>abc</Notification><AccessListChange>1</AccessListChange><AccessList><x/></AccessList></SetParameterAttributesStruct></ParameterList></cwmp:SetParameterAttributes>'),
      envelope('<cwmp:GetParameterAttributes><ParameterNames><string></string></ParameterNames></cwmp:GetParameterAttributes>'),
      envelope('<cwmp:AddObject><ParameterKey>k</ParameterKey></cwmp:AddObject>'), envelope('<cwmp:AddObject><ObjectName><a/></ObjectName></cwmp:AddObject>'),
      envelope('<cwmp:DeleteObject><ObjectName>Device.</ObjectName><ParameterKey>k</ParameterKey></cwmp:DeleteObject>'),
      envelope('<cwmp:ScheduleInform><DelaySeconds>-5</DelaySeconds><CommandKey/></cwmp:ScheduleInform>'),
      envelope('<cwmp:ScheduleInform><DelaySeconds>99999999999999999999999</DelaySeconds><CommandKey><x/></CommandKey></cwmp:ScheduleInform>'),
      envelope('<cwmp:Download><CommandKey>k</CommandKey><FileType>9 Nonsense</FileType><URL>not a url</URL><Username/><Password/><FileSize>-1</FileSize><TargetFileName>../../x</TargetFileName><DelaySeconds>abc</DelaySeconds><SuccessURL/><FailureURL/></cwmp:Download>'),
      envelope('<cwmp:Download/>'), envelope('<cwmp:Upload/>'), envelope('<cwmp:InformResponse/>'), envelope('<cwmp:TransferCompleteResponse/>'),
      envelope('<soap-env:Fault><faultcode>Client</faultcode><faultstring>x</faultstring></soap-env:Fault>'),
      envelope('<cwmp:GetRPCMethods/>', `${'<a>'.repeat(50_000)}${'</a>'.repeat(50_000)}`),
      envelope('<cwmp:GetRPCMethods/>'),
    ];
    const count = acs.rpcs.length;
    const ended2 = acs.sessionsEnded;
    acs.answers = [];
    await drive('malformed requests', () => acs.rpcs.length > 0 || acs.sessionsEnded === ended2);
    note(`CWMP answers to ${count} malformed requests: ${[...new Set(acs.answers)].join(',')}`);
    assert.equal(acs.answers.at(-1), 'GetRPCMethodsResponse', 'still serving at the end of the session');
    await alive('malformed SOAP');
  });

  test('SNMP: garbage datagrams', async () => {
    const s = createSocket('udp4');
    const send = (b: Buffer) => new Promise<void>((r) => s.send(b, ports.snmp, '127.0.0.1', () => r()));
    const datagrams = [
      Buffer.alloc(0), Buffer.from('GET / HTTP/1.1\r\n\r\n'), ...JSON_VALUES.map((v) => Buffer.from(v)), Buffer.from([0x30, 0x84, 0xff, 0xff, 0xff, 0xff]),
      Buffer.from([0x30, 0x82, 0xff, 0xff, 0x02, 0x01]), Buffer.from('3019020107040670756c69630a00c0020101020100020100300000', 'hex'),
      // Well-formed messages asking for too much or carrying nonsense inside.
      encodeCommunity(1, Buffer.from('public'), encodePdu('GetBulkRequest', 1, -5, 2 ** 31 - 1, [encodeVarbind([1, 3, 6, 1], { type: 'Null' })])),
      encodeCommunity(1, Buffer.from('public'), encodePdu('GetBulkRequest', 2, 2 ** 31 - 1, 2 ** 31 - 1, Array(500).fill(encodeVarbind([1, 3], { type: 'Null' })))),
      encodeCommunity(0, Buffer.from('public'), encodePdu('GetNextRequest', 3, 0, 0, [encodeVarbind(Array(128).fill(4294967295), { type: 'Null' })])),
      encodeCommunity(1, Buffer.from('public'), encodePdu('SetRequest', 4, 0, 0, [encodeVarbind([1, 3, 6, 1, 2, 1, 1, 5, 0], { type: 'OID', value: [1, 3] })])),
      encodeCommunity(1, Buffer.from('public'), encodePdu('Response', 5, 0, 0, [])),
      encodeCommunity(1, Buffer.from('public'), encodePdu('Report', 6, 0, 0, [])),
      encodeV3({ msgID: 7, msgMaxSize: 484, flags: 4, usm: { engineID: Buffer.alloc(0), engineBoots: -1, engineTime: -1, userName: '', privParams: Buffer.alloc(0) }, authLen: 0, data: encodeScopedPdu(Buffer.alloc(0), Buffer.alloc(0), encodePdu('GetRequest', 7, 0, 0, [])), encrypted: false }).buf,
      encodeV3({ msgID: 8, msgMaxSize: 0, flags: 7, usm: { engineID: Buffer.alloc(64, 0xff), engineBoots: 2 ** 31 - 1, engineTime: 2 ** 31 - 1, userName: 'x'.repeat(200), privParams: Buffer.alloc(3) }, authLen: 12, data: Buffer.from('not encrypted'), encrypted: true }).buf,
      Buffer.from(Array.from({ length: 65_000 }, (_, i) => (i * 7919) & 0xff)),
      Buffer.concat([Buffer.from([0x30, 0x83, 0x00, 0xff, 0xf0]), Buffer.alloc(0xfff0, 0x30)]),
    ];
    for (const d of datagrams) await send(d);
    s.close();
    await sleep(500);
    await alive('SNMP garbage');
  });
});

// A line in the test output (the suite-level hooks have no TestContext to call diagnostic on).
function note(msg: string) {
  console.log(`# ${msg}`);
}

/** One request line on a fresh CLI connection; resolves with the first reply line (or '' if closed). */
function rawUnix(socket: string, data: string): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(socket);
    let buf = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl >= 0) { s.destroy(); resolve(buf.slice(0, nl)); }
    });
    s.on('error', () => resolve(buf));
    s.on('close', () => resolve(buf));
    s.write(data);
  });
}
