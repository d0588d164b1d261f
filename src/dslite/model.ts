// The failover plug-in's side of the data model: settings read from the vendor extension and the TR-181
// DS-Lite objects (writable ones take effect at once through apply handlers), status written back in
// system transactions (mode, AFTR, detectors, DHCP leases, NAT, the IPv4 default route, DNS servers),
// live tunnel Stats through a read handler, the History table bounded by deleting the oldest rows, and
// the ForceSwitch()/TestAFTR() commands and ModeChange! event.
import { isIPv6 } from 'node:net';
import type { Logger } from 'pino';
import { DmError, type Change, type DataModel, type Disposable, type ValidateContext } from '../datamodel/index.ts';
import type { Lease4, Lease6, Platform } from '../wan/platform.ts';
import { attachInterfaceStats } from '../wan/stats.ts';
import { BfdDetector } from './bfd.ts';
import { bindBfd } from './bfd-model.ts';
import type { DetectorSettings, Verdict } from './detectors.ts';
import { appliedEndpointName } from './endpoint.ts';
import { PcpDetector } from './pcp.ts';
import { bindPcp } from './pcp-model.ts';
import { FO, ref, syncRows, type GatewayRows } from './instances.ts';
import type { FailoverPolicy, PolicySettings, PolicyStatus, SwitchRecord } from './policy.ts';

export const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
/** TR-106 §3.2.1: the Unknown Time, for a dateTime that has no value now. */
export const UNKNOWN_TIME = '0001-01-01T00:00:00Z';
const FQDN = /^(?=.{1,253}\.?$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?$/;

/**
 * The static EndpointName of an InterfaceSetting row. TR-181 2.18: EndpointName "can be assigned statically ... or
 * can be updated dynamically (via DHCPv6)" and shows the one EndpointAssignmentPrecedence applies; it "is only
 * writable when EndpointAssignmentPrecedence is Static". So the parameter shows DHCPv6's AFTR-Name while DHCPv6
 * applies, and the static name written under Static is kept here (module state, written in the same
 * transaction as the write) for when Static applies again.
 */
const staticKey = (row: string) => `staticEndpointName:${row}`;

export function staticEndpointName(dm: DataModel, row: string): string {
  return dm.state('failover').get(staticKey(row)) ?? dm.getValue(`${row}EndpointName`);
}

/**
 * At the first start with this state: what EndpointName holds is static (before, DHCPv6's name was never
 * written into it).
 */
export function adoptStaticEndpointName(dm: DataModel, row: string): void {
  const st = dm.state('failover');
  if (st.get(staticKey(row)) === undefined) st.set(staticKey(row), dm.getValue(`${row}EndpointName`));
}

/** Shows in EndpointName the name that applies (DHCPv6's or the static one), in a system transaction. */
export function writeEndpointName(dm: DataModel, rows: GatewayRows, lease: Lease6 | null, log?: Logger): void {
  const path = `${rows.dslite}EndpointName`;
  const want = appliedEndpointName(readSettings(dm, rows).endpoint, lease);
  if (dm.getValue(path) === want) return;
  try {
    dm.set({ [path]: want }, 'system');
  } catch (err) {
    log?.warn({ err, name: want }, 'EndpointName not shown'); // longer than 256 characters
  }
}

/** Reads the policy's settings from the data model. */
export function readSettings(dm: DataModel, rows: GatewayRows): PolicySettings {
  const v = (p: string) => dm.getValue(p);
  const list = v(`${FO}BackupAFTRs`);
  return {
    enable: v(`${FO}Enable`) === 'true',
    forcedMode: v(`${FO}ForcedMode`) as PolicySettings['forcedMode'],
    backupAFTRs: list ? list.split(',').map((s) => s.trim()).filter(Boolean) : [],
    combine: v(`${FO}Combine`) as PolicySettings['combine'],
    primaryDetector: v(`${FO}PrimaryDetector`),
    recoveryInterval: Number(v(`${FO}RecoveryInterval`)) * 1000,
    recoveryThreshold: Number(v(`${FO}RecoveryThreshold`)),
    holdDownTime: Number(v(`${FO}HoldDownTime`)) * 1000,
    endpoint: {
      enable: v('Device.DSLite.Enable') === 'true' && v(`${rows.dslite}Enable`) === 'true',
      assignment: v(`${rows.dslite}EndpointAssignmentPrecedence`) as 'DHCPv6' | 'Static',
      addressType: v(`${rows.dslite}EndpointAddressTypePrecedence`) as 'FQDN' | 'IPv6Address',
      name: staticEndpointName(dm, rows.dslite),
      address: v(`${rows.dslite}EndpointAddress`),
      lw4o6: v('Device.MAP.Enable') === 'true' && v(`${rows.map}Enable`) === 'true',
    },
  };
}

export function readDetector(dm: DataModel, row: string): DetectorSettings {
  const v = (p: string) => dm.getValue(`${row}${p}`);
  return { enable: v('Enable') === 'true', interval: Number(v('Interval')), timeout: Number(v('Timeout')), failureThreshold: Number(v('FailureThreshold')) };
}

/** BackupAFTRs items are FQDNs or IPv6 addresses (RFC 6334 §3). */
function validateBackups(ctx: ValidateContext) {
  const list = ctx.changed.get('BackupAFTRs');
  if (list === undefined || list === '') return;
  const bad = list.split(',').map((s) => s.trim()).filter((s) => !isIPv6(s) && !FQDN.test(s));
  if (bad.length) throw new DmError('InvalidValue', `${ctx.path}BackupAFTRs: not an FQDN or IPv6 address: ${bad.join(', ')}`, [], `${ctx.path}BackupAFTRs`);
}

/**
 * TR-181 2.18 InterfaceSetting.{i}.EndpointName: "only writable when EndpointAssignmentPrecedence is Static;
 * otherwise ... automatically configured via the DHCPv6 received option" (checked against the precedence the
 * transaction leaves, so precedence and name can be set together). A static name is an FQDN (RFC 6334 §3).
 */
function validateInterfaceSetting(ctx: ValidateContext) {
  const name = ctx.changed.get('EndpointName');
  if (ctx.origin === 'system' || name === undefined) return;
  const precedence = ctx.value('EndpointAssignmentPrecedence');
  if (precedence !== 'Static')
    throw new DmError('NotWritable', `${ctx.path}EndpointName: writable only while EndpointAssignmentPrecedence is Static (it is ${precedence}: the name comes from DHCPv6, option 64 AFTR-Name)`, [], `${ctx.path}EndpointName`);
  if (name !== '' && !FQDN.test(name)) throw new DmError('InvalidValue', `${ctx.path}EndpointName: not an FQDN`, [], `${ctx.path}EndpointName`);
}

function validateDetector(ctx: ValidateContext) {
  if (ctx.changed.has('Interval') || ctx.changed.has('Timeout')) {
    // Silence and probes need at least one check per timeout to decide anything.
    if (Number(ctx.value('Timeout')) < Number(ctx.value('Interval')) && ctx.value('Name') === 'Silence')
      throw new DmError('InvalidValue', `${ctx.path}Timeout: must be at least Interval`, [], `${ctx.path}Timeout`);
  }
}

export interface BindOptions {
  dm: DataModel;
  rows: GatewayRows;
  policy: FailoverPolicy;
  platform: Platform;
  log: Logger;
  /** Simulation.AFTRState writes (simulated WAN only). */
  setAftrState?: (state: 'Up' | 'Down' | 'Blackhole' | 'Unbound') => void;
}

/** Attaches handlers and commands; returns the disposables. Call `writeInitial` after the rows exist. */
export function bindModel(o: BindOptions): Disposable[] {
  const { dm, rows, policy, platform } = o;
  const out: Disposable[] = [];
  const user = (origin: string) => origin !== 'system';
  let tunnelSince = Date.now();
  let lastStatus: PolicyStatus | null = null;

  out.push(dm.attach(FO, {
    validate: validateBackups,
    apply: (ev) => { if (user(ev.origin)) policy.configure(readSettings(dm, rows)); },
  }));
  out.push(dm.attach(`${FO}Detector.{i}.`, {
    validate: validateDetector,
    apply: (ev) => {
      if (!user(ev.origin) || ev.kind === 'delete') return;
      const name = dm.getValue(`${ev.path}Name`);
      policy.configureDetector(name, readDetector(dm, ev.path));
    },
  }));
  const endpointApply = (ev: { origin: string }) => {
    if (!user(ev.origin)) return;
    policy.configure(readSettings(dm, rows));
    writeEndpointName(dm, rows, platform.dhcp6.lease(), o.log); // a new precedence may apply the other name
  };
  out.push(dm.attach('Device.DSLite.', { apply: endpointApply }));
  out.push(dm.attach('Device.DSLite.InterfaceSetting.{i}.', {
    validate: validateInterfaceSetting,
    apply: (ev) => {
      // A write of the value EndpointName already showed (DHCPv6's, while no static name was set) makes no
      // change event for the participant below; it sets the static name all the same.
      const name = ev.changed.get('EndpointName');
      if (user(ev.origin) && name !== undefined && dm.state('failover').get(staticKey(ev.path)) !== name) dm.state('failover').set(staticKey(ev.path), name);
      endpointApply(ev);
    },
  }));
  // The static name follows a write of EndpointName in the same SQLite transaction (a write is only accepted
  // under Static: validateInterfaceSetting). The agent's own writes (origin system) are what it shows.
  out.push(dm.onCommitting((ev, state) => {
    if (!user(ev.origin)) return;
    for (const c of ev.changes) {
      const m = /^(Device\.DSLite\.InterfaceSetting\.\d+\.)EndpointName$/.exec(c.path);
      if (m) state('failover').set(staticKey(m[1]), c.value);
    }
  }));
  out.push(dm.attach(`${FO}Simulation.`, {
    apply: (ev) => {
      const st = ev.changed.get('AFTRState') as 'Up' | 'Down' | 'Blackhole' | 'Unbound' | undefined;
      if (st && user(ev.origin)) {
        if (o.setAftrState) o.setAftrState(st);
        else o.log.warn({ state: st }, 'Simulation.AFTRState ignored on a real WAN');
      }
    },
  }));
  // Renew=true asks for a renewal now (TR-181 DHCPv4.Client.{i}.Renew); it reads back false.
  out.push(dm.attach('Device.DHCPv4.Client.{i}.', {
    apply: (ev) => {
      if (ev.path !== rows.dhcp4 || ev.changed.get('Renew') !== 'true') return;
      dm.set({ [`${rows.dhcp4}Renew`]: 'false' }, 'system');
      void platform.dhcp4.renew().catch((err) => o.log.error({ err }, 'DHCPv4 renew failed'));
    },
    read: (path): Record<string, string> => {
      const l = path === rows.dhcp4 ? platform.dhcp4.lease() : null;
      const left = l ? Math.max(0, Math.round(l.leaseTime - (Date.now() - l.obtained) / 1000)) : 0;
      return path === rows.dhcp4 ? { LeaseTimeRemaining: String(left), DHCPStatus: platform.dhcp4.state() } : {};
    },
  }));
  out.push(dm.attach('Device.DHCPv6.Client.{i}.', {
    apply: (ev) => {
      if (ev.path !== rows.dhcp6 || ev.changed.get('Renew') !== 'true') return;
      dm.set({ [`${rows.dhcp6}Renew`]: 'false' }, 'system');
      void platform.dhcp6.renew().catch((err) => o.log.error({ err }, 'DHCPv6 renew failed'));
    },
  }));
  // The softwire's IP.Interface: Status follows the tunnel, Stats are the forwarder's counters.
  out.push(dm.attach('Device.IP.Interface.{i}.', {
    read: (path): Record<string, string> => path === rows.tunnel
      ? { Status: lastStatus?.tunnelActive ? 'Up' : 'Down', LastChange: String(Math.floor((Date.now() - tunnelSince) / 1000)) }
      : {},
  }));
  // Every interface's Stats as the platform counts them (the kernel's, the forwarder's for the softwire, or the
  // simulated network's): the same figures SNMP's ifTable serves (src/wan/stats.ts).
  out.push(attachInterfaceStats(dm, (name) => platform.interfaceInfo(name)));
  // The forwarder's counters are read asynchronously; read handlers are synchronous, so the platform keeps the
  // last copy (interfaceInfo of the softwire), refreshed here.
  const poll = setInterval(() => void platform.tunnel.counters().catch(() => undefined), 1000);
  poll.unref?.();
  out.push({ dispose: () => clearInterval(poll) });

  out.push(dm.registerCommand(`${FO}ForceSwitch()`, async ({ input }) => ({ Result: await policy.forceSwitch(input.Mode as 'DSLite' | 'DualStack') })));
  out.push(dm.registerCommand(`${FO}TestAFTR()`, async ({ input }) => {
    const r = await policy.testAftr(input.AFTR);
    return { Reachable: String(r.reachable), RoundTripTime: String(r.rttUs), Reason: r.reason };
  }));

  out.push(policy.onStatus((s) => {
    if (lastStatus?.tunnelActive !== s.tunnelActive) tunnelSince = Date.now();
    lastStatus = s;
    try {
      writeStatus(dm, rows, s);
    } catch (err) {
      o.log.error({ err, mode: s.serviceMode }, 'status not written');
    }
  }));
  out.push(policy.onSwitch((r) => {
    // A row that cannot be written must not take the agent down with it: the switch itself has happened.
    try {
      recordSwitch(dm, r, o.log);
    } catch (err) {
      o.log.error({ err, from: r.from, to: r.to }, 'switch not recorded');
    }
  }));
  for (const d of policy.detectors) out.push(d.onVerdict((v) => writeVerdict(dm, rows, v)));
  // The BFD. and PCP. objects of the protocol detectors.
  for (const d of policy.detectors) {
    if (d instanceof BfdDetector) out.push(...bindBfd(dm, d, o.log.child({ module: 'bfd' })));
    if (d instanceof PcpDetector) out.push(...bindPcp(dm, d, o.log.child({ module: 'pcp' })));
  }
  out.push(platform.dhcp6.onLease((l) => {
    writeLease6(dm, rows, l);
    writeEndpointName(dm, rows, l, o.log);
  }));
  out.push(platform.dhcp4.onLease((l) => writeLease4(dm, rows, l)));
  return out;
}

/** Status at boot: nothing is up yet; the stored Mode of the previous run is stale. */
export function writeInitial(dm: DataModel, rows: GatewayRows, simulated: boolean, lease: Lease6 | null) {
  dm.set({
    [`${FO}Mode`]: 'None', [`${FO}CurrentAFTR`]: '', [`${FO}PublicIPv4Address`]: '', [`${FO}BackupAFTRSince`]: UNKNOWN_TIME,
    [`${FO}RecoveryState`]: 'Idle', [`${FO}RecoveryGoodProbes`]: '0', [`${FO}ReturnNotBefore`]: UNKNOWN_TIME,
    [`${FO}Simulation.Active`]: String(simulated),
    [`${rows.dslite}Status`]: 'Disabled', [`${rows.dslite}EndpointAddressInUse`]: '',
    ...Object.fromEntries([...rows.detectors.values()].flatMap((d) => [[`${d}State`, dm.getValue(`${d}Enable`) === 'true' ? 'Unknown' : 'Disabled']])),
  }, 'system');
  writeEndpointName(dm, rows, lease);
}

function changed(dm: DataModel, want: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(want).filter(([p, v]) => dm.getValue(p) !== v));
}

export function writeStatus(dm: DataModel, rows: GatewayRows, s: PolicyStatus) {
  const ds = s.mode === 'DualStack';
  const l = s.publicIPv4;
  const want: Record<string, string> = {
    [`${FO}Mode`]: s.serviceMode,
    [`${FO}CurrentAFTR`]: s.aftr,
    [`${FO}BackupAFTRSince`]: s.backupSince ? iso(s.backupSince) : UNKNOWN_TIME,
    [`${FO}PublicIPv4Address`]: l?.address ?? '',
    [`${FO}RecoveryState`]: s.recovery.state,
    [`${FO}RecoveryGoodProbes`]: String(s.recovery.goodProbes),
    [`${FO}HoldDownFactor`]: String(s.recovery.holdFactor),
    [`${FO}ReturnNotBefore`]: s.recovery.returnNotBefore === null ? UNKNOWN_TIME : iso(s.recovery.returnNotBefore),
    [`${rows.dslite}Status`]: s.tunnelActive ? 'Enabled' : dm.getValue(`${rows.dslite}Enable`) === 'true' ? 'Error' : 'Disabled',
    [`${rows.dslite}EndpointAddressInUse`]: s.aftrAddress,
    [`${rows.dslite}Origin`]: s.origin || dm.getValue(`${rows.dslite}Origin`),
    [`${rows.nat}Status`]: ds && l ? 'Enabled' : 'Disabled',
    [`${rows.defaultRoute}Interface`]: ref(ds ? rows.wan : rows.tunnel),
    [`${rows.defaultRoute}GatewayIPAddress`]: ds ? (l?.routers[0] ?? '') : '',
    [`${rows.defaultRoute}Origin`]: ds ? 'DHCPv4' : 'Static',
    [`${rows.defaultRoute}Status`]: s.mode === 'None' ? 'Error' : 'Enabled',
    [`${rows.wanIPv4}IPAddress`]: ds ? (l?.address ?? '') : '',
    [`${rows.wanIPv4}SubnetMask`]: ds ? (l?.subnetMask ?? '') : '',
    [`${rows.wanIPv4}Enable`]: String(ds),
    [`${rows.wanIPv4}Status`]: ds ? 'Enabled' : 'Disabled',
    [`${rows.tunnelIPv4}Status`]: s.tunnelActive ? 'Enabled' : 'Disabled',
  };
  const c = changed(dm, want);
  if (Object.keys(c).length) dm.set(c, 'system');
}

/** One History row per switch; the table stays within maxEntries by deleting the oldest (same commit). */
export function recordSwitch(dm: DataModel, r: SwitchRecord, log: Logger) {
  const table = `${FO}History.`;
  const max = dm.schema.object(`${table}{i}.`)?.maxEntries ?? 64;
  const rows = dm.instances(table);
  const excess = rows.length - max + 1;
  const count = Number(dm.getValue(`${FO}SwitchCount`)) + 1;
  const reason = r.reason.slice(0, 256);
  dm.commit([
    ...rows.slice(0, Math.max(0, excess)).map((path) => ({ op: 'delete' as const, path })),
    { op: 'add', table, values: { Time: iso(r.time), From: r.from, To: r.to, Reason: reason, AFTR: r.aftr.slice(0, 256), OutageMs: String(r.outageMs) } },
    { op: 'set', path: `${FO}SwitchCount`, value: String(count) },
    { op: 'set', path: `${FO}LastSwitchTime`, value: iso(r.time) },
    { op: 'set', path: `${FO}LastSwitchReason`, value: reason },
  ], 'system');
  dm.emitEvent(`${FO}ModeChange!`, { From: r.from, To: r.to, Reason: reason });
  log.info({ from: r.from, to: r.to, reason, aftr: r.aftr, outageMs: r.outageMs, switchCount: count }, 'switch recorded');
}

export function writeVerdict(dm: DataModel, rows: GatewayRows, v: Verdict) {
  const row = rows.detectors.get(v.detector);
  if (!row) return;
  const c = changed(dm, { [`${row}State`]: v.state, [`${row}LastReason`]: v.reason.slice(0, 256), [`${row}LastChange`]: iso(v.time) });
  if (Object.keys(c).length) dm.set(c, 'system');
}

export function writeLease6(dm: DataModel, rows: GatewayRows, l: Lease6 | null) {
  const c = changed(dm, {
    [`${rows.dhcp6}Status`]: dm.getValue(`${rows.dhcp6}Enable`) === 'true' ? 'Enabled' : 'Disabled',
    ...(l ? { [`${rows.dhcp6}DUID`]: l.clientDuid } : {}),
  });
  if (Object.keys(c).length) dm.set(c, 'system');
  // ReceivedOption rows are replaced as a whole on every Reply (TR-181 DHCPv6.Client.{i}.ReceivedOption).
  const table = `${rows.dhcp6}ReceivedOption.`;
  const changes: Change[] = dm.instances(table).map((path) => ({ op: 'delete' as const, path }));
  for (const o of l?.options ?? []) changes.push({ op: 'add', table, values: { Tag: String(o.tag), Value: o.value } });
  if (changes.length) dm.commit(changes, 'system');
  syncRows(dm, 'Device.DNS.Client.Server.', 'DNSServer', new Map((l?.dnsServers ?? []).map((s) => [s, {
    Enable: 'true', Status: 'Enabled', Type: 'DHCPv6', Interface: ref(rows.wan),
  }])));
  syncRows(dm, `${rows.wan}IPv6Address.`, 'IPAddress', new Map((l?.addresses ?? []).map((a) => [a.address, {
    Enable: 'true', Status: 'Enabled', IPAddressStatus: 'Preferred', Origin: 'DHCPv6',
  }])));
}

export function writeLease4(dm: DataModel, rows: GatewayRows, l: Lease4 | null) {
  const c = changed(dm, {
    [`${rows.dhcp4}IPAddress`]: l?.address ?? '',
    [`${rows.dhcp4}SubnetMask`]: l?.subnetMask ?? '',
    [`${rows.dhcp4}IPRouters`]: (l?.routers ?? []).join(','),
    [`${rows.dhcp4}DNSServers`]: (l?.dnsServers ?? []).join(','),
    [`${rows.dhcp4}DHCPServer`]: l?.server ?? '',
  });
  if (Object.keys(c).length) dm.set(c, 'system');
}
