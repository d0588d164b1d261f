// The SNMP front-end as a plug-in: the command responder (agent.ts) over the MIB providers, and the
// notification originator (traps.ts) driven by data-model changes. The engineID and engineBoots persist in
// dm.state('snmp') (RFC 3414 §2.2.2: boots count restarts, the engineID never changes; gap 11).
import type { Logger } from 'pino';
import type { ChangeEvent, DataModel, Plugin } from '../datamodel/index.ts';
import { type Oid } from './ber.ts';
import { SnmpAgent, type Community } from './agent.ts';
import { failoverMib, MODE_CHANGE, MODE_CHANGE_OBJECTS } from './failover-mib.ts';
import { engineGroup, IF_ENTRY, ifTable, ifXTable, routeMib, snmpGroup, system, tunnelMib } from './providers.ts';
import type { LinkTransition } from './links.ts';
import { AUTHENTICATION_FAILURE, COLD_START, LINK_DOWN, LINK_UP, notificationHeader, Notifier, WARM_START, type TrapTarget } from './traps.ts';
import { Engine, type AuthProtocol, type PrivProtocol, type SecurityLevel, type UsmUser } from './usm.ts';
import { int, type AgentLocal, type IfInfo, type Provider } from './view.ts';
import { encodeVarbind } from './ber.ts';

export interface SnmpUserConfig {
  name: string;
  authProtocol?: AuthProtocol;
  authPassword?: string;
  privProtocol?: PrivProtocol;
  privPassword?: string;
  level?: SecurityLevel;
  access?: 'ro' | 'rw';
}

export interface SnmpTargetConfig {
  host: string;
  port?: number;
  version?: 'v2c' | 'v3';
  community?: string;
  user?: string;
  inform?: boolean;
  timeoutMs?: number;
  retries?: number;
}

/** config.snmp (schema/config/snmp.schema.json); every field has a default there. */
export interface SnmpConfig {
  enable?: boolean;
  address?: string;
  port?: number;
  maxMessageSize?: number;
  cacheMs?: number;
  communities?: readonly { name: string; access?: 'ro' | 'rw' }[];
  users?: readonly SnmpUserConfig[];
  trapTargets?: readonly SnmpTargetConfig[];
}

export const PROVIDERS: readonly Provider[] = [system, snmpGroup, engineGroup, ifTable, ifXTable, tunnelMib, routeMib, failoverMib];

/** Loads (or makes) the persistent engineID and counts this start in engineBoots. */
export function loadEngine(dm: DataModel, clock?: () => number): Engine {
  const st = dm.state('snmp');
  let id = st.get('engineID');
  if (!id) st.set('engineID', (id = Engine.newID().toString('hex')));
  const boots = Number(st.get('engineBoots') ?? '0') + 1;
  st.set('engineBoots', String(boots));
  return new Engine(Buffer.from(id, 'hex'), boots, clock);
}

function toUser(u: SnmpUserConfig): UsmUser {
  const auth = !!(u.authProtocol && u.authPassword);
  const priv = auth && !!(u.privProtocol && u.privPassword);
  return {
    name: u.name, access: u.access ?? 'ro',
    authProtocol: auth ? u.authProtocol : undefined, authPassword: u.authPassword,
    privProtocol: priv ? u.privProtocol : undefined, privPassword: u.privPassword,
    level: u.level ?? (priv ? 'authPriv' : auth ? 'authNoPriv' : 'noAuthNoPriv'),
  };
}

/** What the service takes besides its configuration (the plug-in's wiring; tests set the clock). */
export interface SnmpServiceOptions {
  log?: Logger;
  clock?: () => number;
  providers?: readonly Provider[];
  /** Speed, MAC and live counters of system interfaces by name: the platform's (src/wan/sysfs.ts, src/sim). */
  interfaces?: (name: string) => IfInfo | undefined;
  /** A restart in place (the successor of a Reboot() that kept the configuration): warmStart, not coldStart. */
  warm?: boolean;
}

/** snmpEnableAuthenTraps persists in dm.state('snmp') (RFC 3418: "the value of this object should be retained"). */
function loadLocal(dm: DataModel): Partial<AgentLocal> {
  const v = Number(dm.state('snmp').get('enableAuthenTraps') ?? '2');
  return { enableAuthenTraps: v === 1 ? 1 : 2 };
}

/** The agent and its notifier, wired to one data model (the plug-in's body; tests use it directly). */
export class SnmpService {
  readonly agent: SnmpAgent;
  readonly notifier: Notifier;
  private sub?: { dispose(): void };

  constructor(private readonly dm: DataModel, config: SnmpConfig, private readonly opts: SnmpServiceOptions = {}) {
    const users = (config.users ?? []).map(toUser);
    const communities: Community[] = (config.communities ?? [{ name: 'public' }]).map((c) => ({ name: c.name, access: c.access ?? 'ro' }));
    this.agent = new SnmpAgent(dm, {
      address: config.address ?? '127.0.0.1', port: config.port ?? 1161, communities, users,
      maxMessageSize: config.maxMessageSize ?? 65507, cacheMs: config.cacheMs ?? 1000,
      engine: loadEngine(dm, opts.clock), providers: opts.providers ?? PROVIDERS, log: opts.log,
      interfaces: opts.interfaces, local: loadLocal(dm),
      onAuthFailure: () => this.send(AUTHENTICATION_FAILURE, []),
      onLocalChange: (l) => dm.state('snmp').set('enableAuthenTraps', String(l.enableAuthenTraps)),
      onLink: (t) => this.link(t),
    });
    const targets: TrapTarget[] = (config.trapTargets ?? []).map((t) => ({
      host: t.host, port: t.port ?? 162, version: t.version ?? 'v2c', community: t.community ?? 'public',
      user: t.user !== undefined ? users.find((u) => u.name === t.user) : undefined,
      inform: t.inform ?? false, timeoutMs: t.timeoutMs ?? 1000, retries: t.retries ?? 3,
    }));
    for (const t of targets) if (t.version === 'v3' && !t.user) throw new Error(`snmp: trap target ${t.host} names unknown user`);
    this.notifier = new Notifier(this.agent.usm, targets, opts.log);
  }

  async start(): Promise<{ address: string; port: number }> {
    await this.notifier.start();
    this.sub = this.dm.onChange((ev) => this.onChange(ev));
    const bound = await this.agent.start();
    // RFC 3418: coldStart, "reinitializing itself and ... its configuration may have been altered"; warmStart
    // when it "is reinitializing itself such that its configuration is unaltered" (a restart in place). A
    // database found damaged and recreated is always a cold start.
    this.send(this.opts.warm && !this.dm.startup.recovered ? WARM_START : COLD_START, []);
    return bound;
  }

  async stop(): Promise<void> {
    this.sub?.dispose();
    await this.agent.stop();
    await this.notifier.stop();
  }

  /**
   * Every mode change is one tsFailoverModeChange, except the first service after None (the boot's
   * None -> DSLite, SwitchCount unchanged): that is the start, announced by coldStart/warmStart.
   */
  private onChange(ev: ChangeEvent): void {
    const mode = ev.changes.find((c) => c.path === 'Device.X_TWINSTACK-ORG_Failover.Mode' && c.old !== c.value);
    if (mode && mode.old !== 'None') this.send(MODE_CHANGE, MODE_CHANGE_OBJECTS);
  }

  /** IF-MIB linkUp/linkDown OBJECTS { ifIndex, ifAdminStatus, ifOperStatus } (RFC 2863 §6): up(1) is linkUp. */
  private link(t: LinkTransition): void {
    if ((t.oper === 1) === (t.from === 1)) return; // e.g. down -> lowerLayerDown: still not up
    const vbs = notificationHeader(this.agent.uptime(), t.oper === 1 ? LINK_UP : LINK_DOWN);
    for (const [col, v] of [[1, t.ifIndex], [7, t.admin], [8, t.oper]]) vbs.push(encodeVarbind([...IF_ENTRY, col, t.ifIndex], int(v)));
    void this.notifier.notify(vbs);
  }

  private send(trapOid: Oid, objects: Oid[]): void {
    const vbs = notificationHeader(this.agent.uptime(), trapOid);
    for (const o of objects) {
      const e = this.agent.entry(o);
      if (e) vbs.push(e.vb);
    }
    void this.notifier.notify(vbs);
  }
}

/** The plug-in src/main.ts wires: `snmpPlugin(config.snmp)`. */
export function snmpPlugin(config: SnmpConfig, wiring: Pick<SnmpServiceOptions, 'interfaces' | 'warm'> = {}): Plugin {
  let service: SnmpService | undefined;
  return {
    name: 'snmp',
    register() {},
    async start({ dm, log }) {
      if (config.enable === false) return;
      service = new SnmpService(dm, config, { log, ...wiring });
      await service.start();
    },
    async stop() {
      await service?.stop();
      service = undefined;
    },
  };
}
