// `npm run bench:usp`: USP over MQTT 5 on loopback (a private mosquitto): Gets of the whole Device.IP. and
// Device.DSLite. subtrees and single-parameter Sets, one request in flight at a time. Reported: messages/s,
// mean round trip, and the round trip of a plain MQTT echo (same broker, same request and reply sizes)
// measured in the same run; the difference is the agent's own cost.
import mqtt from 'mqtt';
import pino from 'pino';
import { DataModel, PluginHost } from '../src/datamodel/index.ts';
import { decodeMsg, decodeRecord, wrapMsg } from '../src/usp/codec.ts';
import { uspPlugin } from '../src/usp/index.ts';
import { Mosquitto } from '../test/usp/fixture.ts';
import { buildBenchTree } from './tree.ts';

const N = Number(process.env.BENCH_N ?? 300);
const INTERFACES = Number(process.env.BENCH_INTERFACES ?? 10);
const AGENT = 'os::twinstack-bench';
const CTRL = 'proto::bench-controller';

const broker = await Mosquitto.start();
const dm = new DataModel({ file: ':memory:' });
buildBenchTree(dm, INTERFACES);
dm.add('Device.DSLite.InterfaceSetting.', 'system', { Enable: 'true', EndpointName: 'aftr.example.net' });
const host = new PluginHost(dm, [uspPlugin({
  endpointId: AGENT, onBoardRequest: false, broker: { host: '127.0.0.1', port: broker.port, agentTopic: '/usp/agent' },
  controller: { endpointId: CTRL, topic: '/usp/controller' },
}, { reboot() {}, factoryReset() {} })], pino({ level: 'silent' }));
await host.start();
while (dm.getValue('Device.MQTT.Client.1.Status') !== 'Connected') await new Promise((r) => setTimeout(r, 20));

const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, { protocolVersion: 5 });
let waiting: ((b: Buffer) => void) | undefined;
client.on('message', (topic, payload) => {
  if (topic === '/usp/controller' || topic === '/echo/resp') waiting?.(payload);
});
await client.subscribeAsync(['/usp/controller', '/echo/resp']);
const roundTrip = (topic: string, bytes: Uint8Array, responseTopic: string) => new Promise<Buffer>((resolve) => {
  waiting = resolve;
  client.publish(topic, Buffer.from(bytes), { properties: { responseTopic, contentType: 'usp.msg' } });
});

// The echo peer: a second plain client answering every request with a reply of the size the agent gave.
const echo = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, { protocolVersion: 5 });
let echoSize = 0;
echo.on('message', () => echo.publish('/echo/resp', Buffer.alloc(echoSize)));
await echo.subscribeAsync('/echo/req');

async function measure(name: string, make: (i: number) => unknown, check: (m: ReturnType<typeof decodeMsg>) => void) {
  let reqBytes = 0;
  let respBytes = 0;
  for (let i = 0; i < 20; i++) await roundTrip('/usp/agent', wrapMsg(AGENT, CTRL, make(i)), '/usp/controller'); // warm-up
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) {
    const req = wrapMsg(AGENT, CTRL, make(i));
    const resp = await roundTrip('/usp/agent', req, '/usp/controller');
    if (i === 0) check(decodeMsg(decodeRecord(resp).no_session_context!.payload));
    reqBytes = req.length;
    respBytes = resp.length;
  }
  const uspMs = Number(process.hrtime.bigint() - t0) / 1e6;
  echoSize = respBytes;
  const req = Buffer.alloc(reqBytes);
  for (let i = 0; i < 20; i++) await roundTrip('/echo/req', req, '/echo/resp');
  const t1 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) await roundTrip('/echo/req', req, '/echo/resp');
  const echoMs = Number(process.hrtime.bigint() - t1) / 1e6;
  return { name, reqBytes, respBytes, msgsPerS: Math.round((N * 1000) / uspMs), rttMs: uspMs / N, echoRttMs: echoMs / N };
}

const get = (path: string) => () => ({ header: { msg_id: 'g', msg_type: 'GET' }, body: { request: { get: { param_paths: [path] } } } });
const okGet = (m: ReturnType<typeof decodeMsg>) => { if (m.header.msg_type !== 'GET_RESP') throw new Error('bad answer'); };
const params = dm.get('Device.IP.').length;
const results = [
  await measure(`Get Device.IP. (${params} params)`, get('Device.IP.'), okGet),
  await measure(`Get Device.DSLite. (${dm.get('Device.DSLite.').length} params)`, get('Device.DSLite.'), okGet),
  await measure('Set 1 param', (i) => ({
    header: { msg_id: `s${i}`, msg_type: 'SET' },
    body: { request: { set: { allow_partial: false, update_objs: [{ obj_path: 'Device.X_TWINSTACK-ORG_Failover.', param_settings: [{ param: 'RecoveryInterval', value: String(10 + (i % 50)), required: true }] }] } } },
  }), (m) => { if (m.header.msg_type !== 'SET_RESP') throw new Error('bad answer'); }),
];
console.log(`USP over MQTT 5 on loopback, ${N} sequential requests each (mosquitto, one request in flight)`);
console.log('| operation | request B | reply B | msgs/s | round trip | MQTT echo same sizes | agent cost |');
console.log('|---|---|---|---|---|---|---|');
for (const r of results)
  console.log(`| ${r.name} | ${r.reqBytes} | ${r.respBytes} | ${r.msgsPerS} | ${r.rttMs.toFixed(2)} ms | ${r.echoRttMs.toFixed(2)} ms | ${(r.rttMs - r.echoRttMs).toFixed(2)} ms (${(r.rttMs / r.echoRttMs).toFixed(1)}x) |`);
await client.endAsync();
await echo.endAsync();
await host.stop();
dm.close();
await broker.stop();
