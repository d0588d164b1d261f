// The USP (TR-369) agent plug-in. Controllers, MTPs, subscriptions and roles are data in
// Device.LocalAgent.* and Device.MQTT.Client.*; the config file only seeds factory values (written once, with
// origin "system", when absent). main.ts: `uspPlugin(config.usp, hooks)`.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ChangeEvent, DataModel, Plugin } from '../datamodel/index.ts';
import { UspAgent } from './agent.ts';
import { registerCommands, type UspHooks } from './commands.ts';
import { rows } from './rows.ts';
import { FACTORY_ROLES } from './trust.ts';

export type { UspHooks } from './commands.ts';
export { UspAgent } from './agent.ts';

export interface UspConfig {
  /** Factory Device.LocalAgent.EndpointID; default "os::twinstack-<12 hex digits>" made once. */
  endpointId?: string;
  maxRecordSize?: number;
  outboxSize?: number;
  /** Send an OnBoardRequest to each enabled controller not yet onboarded (retried until a NotifyResp). */
  onBoardRequest?: boolean;
  /** Factory MQTT broker: a Device.MQTT.Client.{i} and a Device.LocalAgent.MTP.{i} using it. */
  broker?: { host: string; port?: number; protocolVersion?: '5.0' | '3.1.1'; clientId?: string; agentTopic?: string };
  /** Factory controller reached through the factory broker. */
  controller?: { endpointId: string; topic: string; role?: 'Full Access' | 'Read Only'; periodicNotifInterval?: number };
}

const pkg = JSON.parse(readFileSync(join(dirname(new URL(import.meta.url).pathname), '../../package.json'), 'utf8')) as { version: string };
const started = Date.now();
const LA = 'Device.LocalAgent.';
/** Changes to these re-plan the MTP connections; status values written by the MTPs themselves do not. */
const MTP_CONFIG = /^Device\.(LocalAgent\.(MTP|Controller)\.|MQTT\.Client\.|LocalAgent\.EndpointID$)/;
const MTP_STATUS = /(\.Status|ResponseTopicDiscovered|CurrentRetryCount)$/;

/** Writes factory values missing from the data model (first start, factory reset). */
export function seed(dm: DataModel, config: UspConfig): void {
  const state = dm.state('usp');
  const base: Record<string, string> = { [`${LA}SoftwareVersion`]: pkg.version, [`${LA}SupportedProtocols`]: 'MQTT,WebSocket' };
  if (dm.getValue(`${LA}EndpointID`) === '') base[`${LA}EndpointID`] = config.endpointId ?? `os::twinstack-${randomBytes(6).toString('hex')}`;
  const changed = Object.fromEntries(Object.entries(base).filter(([p, v]) => dm.getValue(p) !== v));
  if (Object.keys(changed).length) dm.set(changed, 'system', 'usp');

  const roles = new Map<string, string>();
  if (!state.get('roles') && dm.instances(`${LA}ControllerTrust.Role.`, 'usp').length === 0) {
    for (const r of FACTORY_ROLES) {
      const role = dm.add(`${LA}ControllerTrust.Role.`, 'system', { Name: r.Name, Enable: 'true' }, 'usp').path;
      for (const p of r.permissions) dm.add(`${role}Permission.`, 'system', { ...p, Enable: 'true' }, 'usp');
    }
    state.set('roles', '1');
  }
  for (const r of rows(dm, `${LA}ControllerTrust.Role.`)) roles.set(r.v.Name, r.path.slice(0, -1));

  if (config.broker && !state.get('broker')) {
    const b = config.broker;
    const client = dm.add('Device.MQTT.Client.', 'system', {
      Name: 'factory', Enable: 'true', BrokerAddress: b.host, BrokerPort: String(b.port ?? 1883),
      ProtocolVersion: b.protocolVersion ?? '5.0', ClientID: b.clientId ?? '',
    }, 'usp').path;
    const mtp = dm.add(`${LA}MTP.`, 'system', { Enable: 'true', Protocol: 'MQTT' }, 'usp').path;
    dm.set({ [`${mtp}MQTT.Reference`]: client.slice(0, -1), [`${mtp}MQTT.ResponseTopicConfigured`]: b.agentTopic ?? `/usp/agent/${dm.getValue(`${LA}EndpointID`)}` }, 'system', 'usp');
    state.set('broker', client);
  }
  if (config.controller && !state.get('controller')) {
    const c = config.controller;
    const ctrl = dm.add(`${LA}Controller.`, 'system', {
      EndpointID: c.endpointId, Enable: 'true', AssignedRole: roles.get(c.role ?? 'Full Access') ?? '',
      PeriodicNotifInterval: String(c.periodicNotifInterval ?? 86400),
    }, 'usp').path;
    const mtp = dm.add(`${ctrl}MTP.`, 'system', { Enable: 'true', Protocol: 'MQTT' }, 'usp').path;
    const client = state.get('broker');
    dm.set({ [`${mtp}MQTT.Topic`]: c.topic, ...(client ? { [`${mtp}MQTT.Reference`]: client.slice(0, -1) } : {}) }, 'system', 'usp');
    state.set('controller', ctrl);
  }
}

/** TR-369 R-SUB.?: non-persistent subscriptions and pending requests do not survive a restart. */
function clearVolatile(dm: DataModel): void {
  const gone = [
    ...rows(dm, `${LA}Subscription.`).filter((r) => r.v.Persistent !== 'true').map((r) => r.path),
    ...dm.instances(`${LA}Request.`, 'usp'),
  ];
  if (gone.length) dm.commit(gone.map((path) => ({ op: 'delete' as const, path })), 'system', 'usp');
}

export type UspPlugin = Plugin & { readonly agent: UspAgent | undefined };

export function uspPlugin(config: UspConfig, hooks: UspHooks): UspPlugin {
  let agent: UspAgent | undefined;
  let replan: Promise<void> = Promise.resolve();
  let replanQueued = false;
  let running = false;
  const reconcile = () => {
    if (replanQueued || !agent) return;
    replanQueued = true;
    const a = agent;
    replan = replan.then(() => new Promise<void>((r) => setImmediate(r))).then(() => {
      replanQueued = false;
      a.notifier.reconcilePeriodic();
      return a.mtps.reconcile();
    }).catch(() => undefined);
  };
  return {
    name: 'usp',
    get agent() {
      return agent;
    },
    register({ dm, log }) {
      const a = (agent = new UspAgent(dm, log, { maxRecordSize: config.maxRecordSize ?? 256 * 1024, outboxSize: config.outboxSize ?? 100 }));
      return [
        dm.attach(LA, { read: () => ({ UpTime: String(Math.floor((Date.now() - started) / 1000)) }) }),
        ...registerCommands(dm, hooks, (c) => a.notifier.onBoard(c)),
        dm.onChange((ev: ChangeEvent) => {
          a.notifier.onChange(ev);
          const paths = [...ev.changes.map((c) => c.path), ...ev.added, ...ev.deleted];
          if (paths.some((p) => p.startsWith(LA))) a.invalidate();
          if (running && paths.some((p) => MTP_CONFIG.test(p) && !MTP_STATUS.test(p))) reconcile();
        }),
        dm.onEvent((ev) => a.notifier.onEvent(ev)),
      ];
    },
    async start({ dm, log }) {
      seed(dm, config);
      clearVolatile(dm);
      await agent!.mtps.reconcile();
      agent!.notifier.reconcilePeriodic();
      running = true;
      if (config.onBoardRequest ?? true) {
        const state = dm.state('usp');
        for (const c of rows(dm, `${LA}Controller.`)) {
          if (c.v.Enable !== 'true' || state.get(`onboarded:${c.v.EndpointID}`)) continue;
          agent!.notifier.onBoard(c.path, () => state.set(`onboarded:${c.v.EndpointID}`, '1'));
        }
      }
      log.info({ endpointId: agent!.endpointId }, 'usp agent started');
    },
    async stop() {
      running = false;
      await replan;
      await agent?.stop();
    },
  };
}
