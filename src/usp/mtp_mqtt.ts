// MQTT MTP (TR-369 §6.3 "MQTT Binding"), one connection per Device.MQTT.Client.{i}:
// - MQTT 5 CONNECT carries the user property "usp-endpoint-id" (R-MQTT.?); a CONNACK user property
//   "subscribe-topic" overrides the configured agent topic (LocalAgent.MTP.{i}.MQTT.ResponseTopicDiscovered).
// - PUBLISH carries Response Topic = our topic and Content Type "usp.msg" (MQTT 5); with MQTT 3.1.1 the
//   reply topic travels in the topic name as ".../reply-to=<percent-encoded topic>" (R-MQTT.24).
// - An MQTTConnect record goes to every controller reached through this client after each connect.
// - Reconnects with the client's ConnectRetryTime/ConnectRetryIntervalMultiplier/ConnectRetryMaxInterval.
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { retryDelayMs } from './rows.ts';

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

export class MqttMtp {
  private client?: MqttClient;
  private attempt = 0;
  private timer?: NodeJS.Timeout;
  private stopped = false;
  topic: string;
  up = false;

  constructor(readonly settings: MqttSettings, private readonly endpointId: string, private readonly events: MqttEvents, private readonly log: Logger) {
    this.topic = settings.topic;
  }

  start(): void {
    const s = this.settings;
    const opts: IClientOptions = {
      protocolVersion: s.version, clientId: s.clientId, clean: true, keepalive: s.keepalive, reconnectPeriod: 0,
      connectTimeout: 10_000, username: s.username || undefined, password: s.password || undefined,
      ...(s.version === 5 ? { properties: { userProperties: { 'usp-endpoint-id': this.endpointId } } } : {}),
    };
    this.events.status('Connecting');
    const client = (this.client = mqtt.connect(s.url, opts));
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
      const m = topic.match(REPLY_TO);
      const replyTo = packet.properties?.responseTopic ?? (m ? decodeURIComponent(m[1]) : undefined);
      this.events.record(payload, replyTo);
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
    if (s.version === 5) {
      this.client.publish(topic, Buffer.from(bytes), { qos: s.qos, properties: { responseTopic: this.topic, contentType: 'usp.msg' } });
    } else {
      this.client.publish(`${topic}/reply-to=${encodeURIComponent(this.topic)}`, Buffer.from(bytes), { qos: s.qos });
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
