// Test fixture: a private mosquitto on 127.0.0.1 (a free port in 44000-44999, PEERS.md §10), a DataModel in
// memory with the USP plug-in, and usp-js as the controller (PEERS.md §11).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import pino from 'pino';
import uspjs from 'usp-js';
import { DataModel, PluginHost } from '../../src/datamodel/index.ts';
import { uspPlugin, type UspConfig, type UspPlugin } from '../../src/usp/index.ts';
import { sleep, until } from '../wait.ts';

export const AGENT_EID = 'os::twinstack-test';
export const CTRL_EID = 'proto::test-controller';
export const AGENT_TOPIC = '/usp/agent';
export const CTRL_TOPIC = '/usp/controller';

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

export async function freePort(): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const p = 44000 + Math.floor(Math.random() * 1000);
    if (await portFree(p)) return p;
  }
  throw new Error('no free port in 44000-44999');
}

async function waitListening(port: number, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = tcpConnect(port, '127.0.0.1', () => { c.destroy(); resolve(true); });
      c.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`port ${port} not listening`);
    await sleep(50);
  }
}

export { sleep, until };

export class Mosquitto {
  private proc?: ChildProcess;
  private readonly dir = mkdtempSync(join(tmpdir(), 'usp-mosq-'));
  constructor(readonly port: number) {}

  static async start(port?: number): Promise<Mosquitto> {
    const m = new Mosquitto(port ?? await freePort());
    await m.run();
    return m;
  }

  async run(): Promise<void> {
    const conf = join(this.dir, 'mosquitto.conf');
    writeFileSync(conf, `per_listener_settings false\nallow_anonymous true\npersistence false\nlog_dest none\nlistener ${this.port} 127.0.0.1\n`);
    this.proc = spawn('mosquitto', ['-c', conf], { stdio: 'ignore' });
    await waitListening(this.port);
  }

  async kill(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((resolve) => { p.once('exit', () => resolve()); p.kill('SIGTERM'); });
  }

  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface Agent {
  dm: DataModel;
  plugin: UspPlugin;
  host: PluginHost;
  hooks: { reboots: number; resets: number };
  stop(): Promise<void>;
}

export const log = pino({ level: process.env.USP_TEST_LOG ?? 'silent' });

export async function startAgent(port: number, extra: Partial<UspConfig> = {}, version: '5.0' | '3.1.1' = '5.0'): Promise<Agent> {
  const dm = new DataModel({ file: ':memory:' });
  const hooks = { reboots: 0, resets: 0 };
  const plugin = uspPlugin({
    endpointId: AGENT_EID,
    onBoardRequest: false,
    broker: { host: '127.0.0.1', port, protocolVersion: version, agentTopic: AGENT_TOPIC },
    controller: { endpointId: CTRL_EID, topic: CTRL_TOPIC, role: 'Full Access' },
    ...extra,
  }, { reboot: () => { hooks.reboots++; }, factoryReset: () => { hooks.resets++; } });
  const host = new PluginHost(dm, [plugin], log);
  await host.start();
  await until(() => dm.getValue('Device.MQTT.Client.1.Status') === 'Connected', 5000, 'agent MQTT connected');
  return { dm, plugin, host, hooks, stop: async () => { await host.stop(); dm.close(); } };
}

// ---- usp-js and a raw MQTT controller ----------------------------------------------------------------

// usp-js is CommonJS with a default export; under tsx the namespace's default is the connect function.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type UspJs = any;
const connectFn = ((uspjs as unknown as { default?: unknown }).default ?? uspjs) as (opts: Record<string, unknown>, events?: Record<string, unknown>) => Promise<UspJs>;

export async function uspJs(port: number, opts: Record<string, unknown> = {}): Promise<UspJs> {
  return connectFn({
    url: `mqtt://127.0.0.1:${port}`, toId: AGENT_EID, fromId: CTRL_EID, publishEndpoint: AGENT_TOPIC,
    subscribeEndpoint: CTRL_TOPIC, closeOnDisconnect: true, ...opts,
  }, { onError: () => undefined });
}

/** A bare MQTT 5 controller: publishes raw bytes, collects every record that arrives on its topic. */
export class RawController {
  readonly received: Buffer[] = [];
  private waiters: (() => void)[] = [];
  private constructor(readonly client: MqttClient, readonly topic: string) {}

  static async connect(port: number, topic = CTRL_TOPIC, version: 4 | 5 = 5): Promise<RawController> {
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { protocolVersion: version, reconnectPeriod: 0 });
    const c = new RawController(client, topic);
    client.on('message', (_t, payload) => {
      c.received.push(payload);
      for (const w of c.waiters.splice(0)) w();
    });
    await client.subscribeAsync(version === 5 ? topic : `${topic}/#`);
    return c;
  }

  publish(bytes: Uint8Array, topic = AGENT_TOPIC): void {
    this.client.publish(topic, Buffer.from(bytes), { properties: { responseTopic: this.topic, contentType: 'usp.msg' } });
  }

  /** Waits for the next record (after `from` received ones); rejects after `ms`. */
  async next(from: number, ms = 3000): Promise<Buffer> {
    const end = Date.now() + ms;
    while (this.received.length <= from) {
      if (Date.now() > end) throw new Error('no record received');
      await new Promise<void>((r) => { this.waiters.push(r); setTimeout(r, 50); });
    }
    return this.received[from];
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}
