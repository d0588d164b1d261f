// The agent's MTP connections, reconciled from the data model (the controller's configuration is data):
// Device.LocalAgent.MTP.{i} (+.MQTT -> Device.MQTT.Client.{i}) gives MQTT connections and the agent topic;
// Device.LocalAgent.Controller.{i}.MTP.{i} says how each controller is reached (MQTT topic or WebSocket URL),
// tried in Order. Status parameters are written back in system transactions.
import type { Logger } from 'pino';
import type { DataModel } from '../datamodel/index.ts';
import { MqttMtp, type MqttSettings } from './mtp_mqtt.ts';
import { WsMtp, type WsSettings } from './mtp_ws.ts';
import { rows, subRows, type Row } from './rows.ts';

export interface Inbound {
  /** Answers go here when the sender named a reply channel (MQTT Response Topic / reply-to, the WebSocket). */
  reply?: (bytes: Uint8Array) => void;
  mtp: string; // a label for logs
}

export interface MtpEvents {
  record(bytes: Buffer, from: Inbound): void;
  /** A connection came up: send MQTTConnect/WebSocketConnect records, flush queued messages. */
  connected(kind: 'mqtt' | 'ws', key: string): void;
}

const norm = (p: string) => (p === '' || p.endsWith('.') ? p : `${p}.`);

export class MtpManager {
  private readonly mqtt = new Map<string, { mtp: MqttMtp; key: string; agentMtp: string }>();
  private readonly ws = new Map<string, { mtp: WsMtp; key: string }>();

  constructor(private readonly dm: DataModel, private readonly log: Logger, private readonly events: MtpEvents) {}

  private get endpointId(): string {
    return this.dm.getValue('Device.LocalAgent.EndpointID');
  }

  private writeStatus(values: Record<string, string>): void {
    try {
      const changed = Object.fromEntries(Object.entries(values).filter(([p, v]) => this.dm.getValue(p) !== v));
      if (Object.keys(changed).length) this.dm.set(changed, 'system', 'usp');
    } catch (err) {
      this.log.warn({ err, values }, 'status write failed'); // the row was deleted meanwhile
    }
  }

  /** Brings connections in line with the data model; unchanged settings keep their connection. */
  async reconcile(): Promise<void> {
    const eid = this.endpointId;
    const wantMqtt = new Map<string, { settings: MqttSettings; agentMtp: string }>();
    for (const m of rows(this.dm, 'Device.LocalAgent.MTP.')) {
      if (m.v.Enable !== 'true' || m.v.Protocol !== 'MQTT') continue;
      const client = norm(m.v['MQTT.Reference']);
      if (!client.startsWith('Device.MQTT.Client.')) continue;
      const c = rows(this.dm, 'Device.MQTT.Client.').find((r) => r.path === client);
      if (!c || c.v.Enable !== 'true') continue;
      const scheme = c.v.TransportProtocol === 'TLS' ? 'mqtts' : c.v.TransportProtocol === 'WebSocket' ? 'ws' : 'mqtt';
      wantMqtt.set(client, {
        agentMtp: m.path,
        settings: {
          url: `${scheme}://${c.v.BrokerAddress}:${c.v.BrokerPort}`,
          version: c.v.ProtocolVersion.startsWith('5') ? 5 : 4,
          clientId: c.v.ClientID,
          username: c.v.Username,
          password: this.dm.getSecret(`${client}Password`),
          keepalive: Number(c.v.KeepAliveTime || 60),
          topic: m.v['MQTT.ResponseTopicConfigured'] || `/usp/agent/${eid}`,
          qos: Math.min(2, Number(m.v['MQTT.PublishQoS'] || 0)) as 0 | 1 | 2,
          retry: { min: Number(c.v.ConnectRetryTime || 5), multiplier: Number(c.v.ConnectRetryIntervalMultiplier || 2000), max: Number(c.v.ConnectRetryMaxInterval || 30720) },
        },
      });
    }
    for (const [path, cur] of this.mqtt) {
      const want = wantMqtt.get(path);
      if (want && JSON.stringify([want.settings, eid]) === cur.key) continue;
      this.mqtt.delete(path);
      await cur.mtp.stop();
      this.writeStatus({ [`${path}Status`]: 'Disabled', [`${cur.agentMtp}Status`]: 'Down' });
    }
    for (const [path, want] of wantMqtt) {
      if (this.mqtt.has(path)) continue;
      const mtp: MqttMtp = new MqttMtp(want.settings, eid, {
        record: (bytes, replyTo) => this.events.record(bytes, { mtp: path, reply: replyTo ? (b) => mtp.publish(replyTo, b) : undefined }),
        connected: () => this.events.connected('mqtt', path),
        status: (status, topic) => this.writeStatus({
          [`${path}Status`]: status,
          [`${want.agentMtp}Status`]: status === 'Connected' ? 'Up' : 'Down',
          ...(topic ? { [`${want.agentMtp}MQTT.ResponseTopicDiscovered`]: topic === want.settings.topic ? '' : topic } : {}),
        }),
      }, this.log.child({ mtp: path }));
      this.mqtt.set(path, { mtp, key: JSON.stringify([want.settings, eid]), agentMtp: want.agentMtp });
      mtp.start();
    }

    const wantWs = new Map<string, WsSettings>();
    for (const c of rows(this.dm, 'Device.LocalAgent.Controller.')) {
      if (c.v.Enable !== 'true') continue;
      for (const m of subRows(c, 'MTP.')) {
        if (m.v.Enable !== 'true' || m.v.Protocol !== 'WebSocket') continue;
        const path = m.v['WebSocket.Path'] ?? '';
        wantWs.set(m.path, {
          url: `${m.v['WebSocket.EnableEncryption'] === 'true' ? 'wss' : 'ws'}://${m.v['WebSocket.Host']}:${m.v['WebSocket.Port']}${path.startsWith('/') ? path : `/${path}`}`,
          keepAlive: Number(m.v['WebSocket.KeepAliveInterval'] || 0),
          retry: { min: Number(m.v['WebSocket.SessionRetryMinimumWaitInterval'] || 5), multiplier: Number(m.v['WebSocket.SessionRetryIntervalMultiplier'] || 2000) },
        });
      }
    }
    for (const [path, cur] of this.ws) {
      const want = wantWs.get(path);
      if (want && JSON.stringify([want, eid]) === cur.key) continue;
      this.ws.delete(path);
      cur.mtp.stop();
    }
    for (const [path, settings] of wantWs) {
      if (this.ws.has(path)) continue;
      const mtp: WsMtp = new WsMtp(settings, eid, {
        record: (bytes) => this.events.record(bytes, { mtp: path, reply: (b) => mtp.send(b) }),
        connected: () => this.events.connected('ws', path),
        status: (n) => this.writeStatus({ [`${path}WebSocket.CurrentRetryCount`]: String(n) }),
      }, this.log.child({ mtp: path }));
      this.ws.set(path, { mtp, key: JSON.stringify([settings, eid]) });
      mtp.start();
    }
  }

  /** The controller's MTPs in Order, as senders; the first connected one is used. */
  private routes(controller: Row): { kind: 'mqtt' | 'ws'; key: string; send: (b: Uint8Array) => boolean }[] {
    const mtps = subRows(controller, 'MTP.').filter((m) => m.v.Enable === 'true').sort((a, b) => Number(a.v.Order) - Number(b.v.Order));
    const out: { kind: 'mqtt' | 'ws'; key: string; send: (b: Uint8Array) => boolean }[] = [];
    for (const m of mtps) {
      if (m.v.Protocol === 'MQTT') {
        const ref = norm(m.v['MQTT.Reference'] ?? '');
        const topic = m.v['MQTT.Topic'];
        const conns = ref ? [[ref, this.mqtt.get(ref)] as const] : [...this.mqtt].map(([k, v]) => [k, v] as const);
        for (const [key, c] of conns) if (c && topic) out.push({ kind: 'mqtt', key, send: (b) => c.mtp.publish(topic, b) });
      } else if (m.v.Protocol === 'WebSocket') {
        const c = this.ws.get(m.path);
        if (c) out.push({ kind: 'ws', key: m.path, send: (b) => c.mtp.send(b) });
      }
    }
    return out;
  }

  /** Sends to a controller over its first working MTP; false when none is up. */
  sendTo(controllerPath: string, bytes: Uint8Array): boolean {
    const c = rows(this.dm, 'Device.LocalAgent.Controller.').find((r) => r.path === controllerPath);
    if (!c) return false;
    return this.routes(c).some((r) => r.send(bytes));
  }

  /** Controllers reached through a given connection, with the MQTT topic they listen on. */
  controllersVia(kind: 'mqtt' | 'ws', key: string): { controller: string; endpointId: string; send: (b: Uint8Array) => boolean }[] {
    const out = [];
    for (const c of rows(this.dm, 'Device.LocalAgent.Controller.')) {
      if (c.v.Enable !== 'true') continue;
      const r = this.routes(c).find((x) => x.kind === kind && x.key === key);
      if (r) out.push({ controller: c.path, endpointId: c.v.EndpointID, send: r.send });
    }
    return out;
  }

  mqttInfo(key: string): { version: 4 | 5; topic: string } | undefined {
    const c = this.mqtt.get(key);
    return c && { version: c.mtp.settings.version, topic: c.mtp.topic };
  }

  async stop(): Promise<void> {
    for (const c of this.mqtt.values()) await c.mtp.stop();
    for (const c of this.ws.values()) c.mtp.stop();
    this.mqtt.clear();
    this.ws.clear();
  }
}
