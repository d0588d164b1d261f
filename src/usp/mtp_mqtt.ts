// MQTT MTP (TR-369 §6.3 "MQTT Binding"), one connection per Device.MQTT.Client.{i}:
// - MQTT 5 CONNECT carries the user property "usp-endpoint-id" (R-MQTT.?); a CONNACK user property
//   "subscribe-topic" overrides the configured agent topic (LocalAgent.MTP.{i}.MQTT.ResponseTopicDiscovered).
// - PUBLISH carries Response Topic = our topic and Content Type "usp.msg" (MQTT 5); with MQTT 3.1.1 the
//   reply topic travels in the topic name as ".../reply-to=<percent-encoded topic>" (R-MQTT.24).
// - An MQTTConnect record goes to every controller reached through this client after each connect.
// - Reconnects with the client's ConnectRetryTime/ConnectRetryIntervalMultiplier/ConnectRetryMaxInterval.
import { connect as tcpConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { IClientOptions, MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { retryDelayMs } from './rows.ts';

/** mqtt is loaded with the first MQTT MTP, not with the USP face (~7 MB of RAM: docs/benchmarks.md "Footprint"). */
let mqttLib: typeof import('mqtt') | undefined;

/**
 * The client over a TCP or TLS stream built here: mqtt.connect() loads all of its transports on the first call,
 * the WebSocket one with the ws library (~5 MB of RAM) included, although MQTT over TCP or TLS is what a broker
 * is reached by; mqtt.connect() stays the way to a WebSocket broker (TransportProtocol WebSocket).
 * The client calls the builder again for each reconnect.
 */
function createClient(lib: typeof import('mqtt'), url: string, opts: IClientOptions): MqttClient {
  const u = new URL(url);
  if (u.protocol !== 'mqtt:' && u.protocol !== 'mqtts:') return lib.connect(url, opts);
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = Number(u.port) || (u.protocol === 'mqtts:' ? 8883 : 1883);
  const stream = () => {
    if (u.protocol === 'mqtts:') return tlsConnect({ host, port, servername: /^[\d.]+$|:/.test(host) ? undefined : host });
    const socket = tcpConnect({ host, port });
    socket.setNoDelay(true);
    return socket;
  };
  return new lib.MqttClient(stream, { ...opts, host, port, protocol: u.protocol === 'mqtts:' ? 'mqtts' : 'mqtt' });
}

export interface MqttSettings {
  url: string; // mqtt://host:port
  version: 4 | 5;
  clientId: string;
  username?: string;
  password?: string;
  keepalive: number;
  topic: string; // agent topic configured (may be replaced by the broker's subscribe-topic)
  qos: 0 | 1 | 2;
  retry: { min: number; multiplier: number; max: number };
}

export interface MqttEvents {
  /** A record arrived; `replyTo` is where the sender wants the answer, if it said so. */
  record(bytes: Buffer, replyTo: string | undefined): void;
  connected(topic: string): void;
  status(status: 'Connecting' | 'Connected' | 'Error_BrokerUnreachable', topic?: string): void;
}

const REPLY_TO = /\/reply-to=([^/]*)$/;

/**
 * Where the sender of a PUBLISH wants the answer: its MQTT 5 Response Topic, else the 3.1.1 "/reply-to=" suffix
 * of the topic (R-MQTT.24); undefined when it names none, null when what it names is no topic we may publish
 * to. A sender controls both: a bad percent-encoding once threw out of the message handler and ended the
 * agent, and a wildcard (MQTT 5 §4.7.3) or U+0000 (§1.5.4) in our PUBLISH makes the broker drop our connection.
 */
export function replyTopic(topic: string, responseTopic?: string): string | undefined | null {
  let t = responseTopic;
  if (t === undefined) {
    const m = REPLY_TO.exec(topic);
    if (!m) return undefined;
    try {
      t = decodeURIComponent(m[1]);
    } catch {
      return null;
    }
  }
  if (t === '') return undefined;
  return /[#+\u0000]/.test(t) || Buffer.byteLength(t) > 65535 ? null : t;
}

const noLog = () => undefined;

export class MqttMtp {
  private client?: MqttClient;
  private attempt = 0;
  private timer?: NodeJS.Timeout;
  private stopped = false;
  /** PUBLISH options for MQTT 5, made again only when the agent topic or the QoS changes (one object per message else). */
  private publishOpts?: { qos: 0 | 1 | 2; properties: { responseTopic: string; contentType: string } };
  topic: string;
  up = false;

  constructor(readonly settings: MqttSettings, private readonly endpointId: string, private readonly events: MqttEvents, private readonly log: Logger) {
    this.topic = settings.topic;
  }

  start(): void {
    if (this.stopped) return;
    if (!mqttLib) {
      this.events.status('Connecting');
      import('mqtt').then((m) => {
        mqttLib = (m.default ?? m) as typeof import('mqtt');
        this.start();
      }, (err: Error) => this.log.error({ err }, 'the mqtt library did not load: no MQTT MTP'));
      return;
    }
    const s = this.settings;
    const opts: IClientOptions = {
      protocolVersion: s.version, clientId: s.clientId, clean: true, keepalive: s.keepalive, reconnectPeriod: 0,
      connectTimeout: 10_000, username: s.username || undefined, password: s.password || undefined,
      // mqtt-packet otherwise pre-builds a 2-octet Buffer for each of the 65,536 possible numbers at the first
      // write, 6 MB of heap for a cache that saves an allocation per packet (a few USP messages a minute here).
      writeCache: false,
      // mqtt's client logging through debug(), a few calls per message, is paid even when off (in the interpreter the
      // gateway runs, bin/start.js NODE_FLAGS); with DEBUG set it stays on for whoever debugs the client.
      ...(process.env.DEBUG ? {} : { log: noLog }),
      ...(s.version === 5 ? { properties: { userProperties: { 'usp-endpoint-id': this.endpointId } } } : {}),
    };
    this.events.status('Connecting');
    const client = (this.client = createClient(mqttLib, s.url, opts));
    client.on('connect', (connack) => {
      this.attempt = 0;
      const discovered = connack.properties?.userProperties?.['subscribe-topic'];
      this.topic = (Array.isArray(discovered) ? discovered[0] : discovered) || s.topic;
      // 3.1.1 senders append "/reply-to=..." to our topic; "#" also matches the bare topic.
      const filter = s.version === 5 ? this.topic : `${this.topic}/#`;
      client.subscribe(filter, { qos: s.qos }, (err) => {
        if (err) {
          this.log.warn({ err, topic: filter }, 'mqtt subscribe failed');
          return;
        }
        this.up = true;
        this.log.info({ url: s.url, topic: this.topic, version: s.version }, 'mqtt connected');
        this.events.status('Connected', this.topic);
        this.events.connected(this.topic);
      });
    });
    client.on('message', (topic, payload, packet) => {
      const replyTo = replyTopic(topic, packet.properties?.responseTopic);
      if (replyTo === null) this.log.warn({ topic }, 'unusable reply topic ignored');
      this.events.record(payload, replyTo ?? undefined);
    });
    client.on('error', (err) => this.log.warn({ err: err.message, url: s.url }, 'mqtt error'));
    client.on('close', () => {
      this.up = false;
      if (this.stopped) return;
      this.events.status('Error_BrokerUnreachable');
      this.scheduleReconnect();
    });
  }

  private scheduleReconnect(): void {
    if (this.timer || this.stopped) return;
    const r = this.settings.retry;
    const delay = retryDelayMs(++this.attempt, r.min, r.multiplier, r.max);
    this.log.info({ url: this.settings.url, attempt: this.attempt, delay }, 'mqtt reconnect scheduled');
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.stopped) this.client?.reconnect();
    }, delay);
  }

  /** Publishes a record to `topic` with our reply topic; false when not connected. */
  publish(topic: string, bytes: Uint8Array): boolean {
    if (!this.client || !this.up) return false;
    const s = this.settings;
    const payload = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength); // no copy
    if (s.version === 5) {
      if (this.publishOpts?.properties.responseTopic !== this.topic || this.publishOpts.qos !== s.qos) this.publishOpts = { qos: s.qos, properties: { responseTopic: this.topic, contentType: 'usp.msg' } };
      this.client.publish(topic, payload, this.publishOpts);
    } else {
      this.client.publish(`${topic}/reply-to=${encodeURIComponent(this.topic)}`, payload, { qos: s.qos });
    }
    return true;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.up = false;
    await this.client?.endAsync(true).catch(() => undefined);
  }
}
