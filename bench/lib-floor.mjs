// The library floor of bench:footprint: a process that loads and uses, once each and as the agent does, the
// libraries the agent is built on (pino, better-sqlite3, fastify for the web page and the connection request
// server, xml2js, protobufjs with the USP .proto files, MQTT.js connected to a broker, a UDP socket with
// asn1-ber for SNMP, and the Node built-ins the agent loads), with none of the agent's own code or data.
// Run by bench/footprint.ts with the agent's V8 flags: `node FLAGS bench/lib-floor.mjs MQTT_PORT`; prints "up"
// once everything is in use, then idles until killed, so that its RSS is read the same way as the agent's.
import { createSocket } from 'node:dgram';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const mqttPort = Number(process.argv[2]);

const pino = (await import('pino')).default;
const log = pino({ level: 'warn' });

const Database = (await import('better-sqlite3')).default;
const db = new Database(':memory:');
db.exec('CREATE TABLE param (path TEXT PRIMARY KEY, value TEXT)');
db.prepare('INSERT INTO param VALUES (?, ?)').run('Device.DeviceInfo.UpTime', '1');

// Two servers, as the web face and the CWMP connection request server are, each with a validated route.
const Fastify = (await import('fastify')).default;
for (const name of ['web', 'connreq']) {
  const app = Fastify({ logger: false });
  app.get('/x', { schema: { querystring: { type: 'object', properties: { path: { type: 'string', maxLength: 256 } } } } }, async () => ({ name }));
  await app.listen({ host: '127.0.0.1', port: 0 });
  await app.inject({ url: '/x?path=Device.' });
}

const xml2js = (await import('xml2js')).default;
const parsed = await xml2js.parseStringPromise('<Envelope><Body><Inform><MaxEnvelopes>1</MaxEnvelopes></Inform></Body></Envelope>');
new xml2js.Builder().buildObject(parsed);

const protobuf = (await import('protobufjs')).default;
const protoDir = join(root, 'src/usp/proto');
protobuf.loadSync(readdirSync(protoDir).filter((f) => f.endsWith('.proto')).map((f) => join(protoDir, f)));

const mqtt = (await import('mqtt')).default;
// writeCache: false, as src/usp/mtp_mqtt.ts (mqtt-packet's 6 MB number cache otherwise).
const client = mqtt.connect(`mqtt://127.0.0.1:${mqttPort}`, { protocolVersion: 5, reconnectPeriod: 0, writeCache: false });
await new Promise((resolve, reject) => { client.once('connect', resolve); client.once('error', reject); });
await client.subscribeAsync('/usp/floor');

await import('asn1-ber');
const udp = createSocket('udp4');
await new Promise((resolve) => udp.bind(0, '127.0.0.1', resolve));

await import('node:child_process');
await import('node:worker_threads');
await import('node:readline');
(await import('node:crypto')).scryptSync('floor', 'salt', 32);

log.warn('library floor up');
console.log('up');
setInterval(() => {}, 1000);
