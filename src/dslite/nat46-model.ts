// Device.X_TWINSTACK-ORG_NAT46. (schema/x-twinstack-nat46.json): the distributed stateless 4->6 translation of
// issue 23 in the data model. TR-181 has no object for it (its NAT object is NAT44; Device.MAP is address+port
// mapping with IPv4 in IPv6, not RFC 7915 translation with identifiers), hence a vendor object, served on every
// face like Failover.LW4o6 (SNMP tsNat46, src/snmp/failover-mib.ts).
//
// Consistency: a manager's Set that would leave an enabled configuration invalid is vetoed before commit
// (Handler.validate: the whole batch fails, nothing is written) with the forwarder's own checks of a Nat46Config
// (src/forwarder/types.ts resolveConfig: widths over 96 bits, IDs out of range, a peer with our ID, overlapping
// adopted prefixes, ...), each problem named at the parameter it concerns. NAT46 and DS-Lite are alternative IPv4
// services on one forwarder: enabling one while the other is enabled is refused the same way.
//
// What a validator sees: the values the whole transaction leaves (ValidateContext.valueAt, rowsAt), so a batch that
// spans the object, its Peer/Adopted rows and Device.DSLite.Enable is judged on exactly the configuration it
// leaves (one Set may disable DS-Lite and enable NAT46; one enabling both is refused). The controller still
// re-checks what was committed and shows Error_Misconfigured (translating nothing) should anything slip past.
import { ForwarderConfigError, resolveConfig } from '../forwarder/types.ts';
import { DmError, type Change, type DataModel, type DmErrorDetail, type ValidateContext } from '../datamodel/index.ts';
import type { Nat46Config } from '../wan/platform.ts';

export const NAT46 = 'Device.X_TWINSTACK-ORG_NAT46.';
const DSLITE_ENABLE = 'Device.DSLite.Enable';

export type Activation = 'Always' | 'PeerDown';

/** How the peers are watched (PeerProbeInterval, PeerFailureThreshold, PeerRecoveryThreshold). */
export interface Liveness {
  intervalMs: number;
  failures: number;
  recoveries: number;
}

/**
 * What the data model says: whether to translate, the configuration, and the rows its lists came from.
 * `config.adopted` holds every enabled Adopted row, in force or not: the configuration is validated with all of
 * them (any may come into force), and the controller passes on those whose activation holds.
 */
export interface Nat46Settings {
  enable: boolean;
  config: Nat46Config;
  /** Object paths of the enabled Peer and Adopted rows, in the order of config.peers and config.adopted. */
  peerRows: string[];
  adoptedRows: string[];
  /** Each enabled Adopted row's Activation, in the order of config.adopted. */
  activation: Activation[];
  liveness: Liveness;
}

const num = (s: string) => (/^\d+$/.test(s) ? Number(s) : NaN);
const instanceNumbers = (dm: DataModel, table: string) => dm.instances(table).map((p) => Number(p.slice(table.length, -1)));

/**
 * The settings read through `value` (a path relative to NAT46 -> its value), over the given row numbers. Only
 * enabled rows enter the configuration (TR-181: a disabled row has no effect).
 */
function settingsFrom(value: (rel: string) => string, peers: readonly number[], adopted: readonly number[]): Nat46Settings {
  const peerRows = peers.filter((n) => value(`Peer.${n}.Enable`) === 'true').map((n) => `Peer.${n}.`);
  const adoptedRows = adopted.filter((n) => value(`Adopted.${n}.Enable`) === 'true').map((n) => `Adopted.${n}.`);
  const config: Nat46Config = {
    prefix: value('Prefix'),
    tenantBits: num(value('TenantBits')),
    gatewayBits: num(value('GatewayBits')),
    tenantId: num(value('TenantID')),
    gatewayId: num(value('GatewayID')),
    dstPrefix: value('DestinationPrefix'),
    localAddress: value('LocalAddress'),
    ipv6Mtu: num(value('IPv6MTU')),
    peers: peerRows.map((r) => ({ gatewayId: num(value(`${r}GatewayID`)), address: value(`${r}Address`) })),
    adopted: adoptedRows.map((r) => ({ gatewayId: num(value(`${r}GatewayID`)), clients: value(`${r}Clients`) })),
  };
  return {
    enable: value('Enable') === 'true', config, peerRows: peerRows.map((r) => NAT46 + r), adoptedRows: adoptedRows.map((r) => NAT46 + r),
    activation: adoptedRows.map((r) => (value(`${r}Activation`) === 'PeerDown' ? 'PeerDown' : 'Always')),
    liveness: { intervalMs: num(value('PeerProbeInterval')), failures: num(value('PeerFailureThreshold')), recoveries: num(value('PeerRecoveryThreshold')) },
  };
}

/** The committed settings. */
export function readNat46(dm: DataModel): Nat46Settings {
  return settingsFrom((rel) => dm.getValue(NAT46 + rel), instanceNumbers(dm, `${NAT46}Peer.`), instanceNumbers(dm, `${NAT46}Adopted.`));
}

/** Whether DS-Lite, the other IPv4 service of the forwarder, is enabled (committed). */
export function dsliteEnabled(dm: DataModel): boolean {
  return dm.getValue(DSLITE_ENABLE) === 'true';
}

/**
 * The problems of a configuration, as the forwarder states them ("nat46.gatewayId: integer below 2^gatewayBits"):
 * the forwarder's own validation of a Nat46Config, run on a whole ForwarderConfig around it (the other fields
 * are placeholders that pass; only the nat46 problems are kept). Empty: valid.
 */
export function nat46Problems(c: Nat46Config): string[] {
  try {
    resolveConfig({ tunName: 'nat46', softwire: '::', aftr: '::', mode: 'nat46', egress: 'tun', nat46: c });
    return [];
  } catch (e) {
    if (!(e instanceof ForwarderConfigError)) throw e;
    return e.problems.filter((p) => p.startsWith('nat46'));
  }
}

/** The forwarder's field names -> ours. */
const FIELD: Record<string, string> = {
  prefix: 'Prefix', tenantBits: 'TenantBits', gatewayBits: 'GatewayBits', tenantId: 'TenantID', gatewayId: 'GatewayID',
  dstPrefix: 'DestinationPrefix', localAddress: 'LocalAddress', ipv6Mtu: 'IPv6MTU', address: 'Address', clients: 'Clients',
  peers: 'PeerNumberOfEntries', adopted: 'AdoptedNumberOfEntries',
};
const WIDTHS = ['Prefix', 'TenantBits', 'GatewayBits'];

/**
 * Each problem as a detail at the parameter it is about: "nat46.peers[2].address: ..." -> the third enabled Peer
 * row's Address; a problem of the widths together at whichever of Prefix, TenantBits, GatewayBits `touched` names.
 */
export function problemDetails(s: Nat46Settings, problems: readonly string[], touched: ReadonlySet<string> = new Set()): DmErrorDetail[] {
  return problems.map((p) => {
    const m = /^nat46(?:\.(peers|adopted)\[(\d+)\])?(?:\.(\w+))?:/.exec(p);
    const rows = m?.[1] === 'peers' ? s.peerRows : m?.[1] === 'adopted' ? s.adoptedRows : null;
    const object = rows ? rows[Number(m![2])] ?? NAT46 : NAT46;
    const param = (m?.[3] && FIELD[m[3]]) || (WIDTHS.find((w) => touched.has(NAT46 + w)) ?? 'Prefix');
    return { path: `${object}${param}`, kind: 'InvalidValue' as const, message: `the enabled NAT46 configuration would be invalid: ${p}` };
  });
}

/**
 * The veto (Handler.validate) of the NAT46 object and its rows: the configuration the transaction leaves, as far
 * as `ctx` shows it (see the head of this file), must be valid while Enable is true, and Enable may not turn true
 * while DS-Lite is enabled. The agent's own writes (Status, ExportedRoute, Stats) are not judged.
 */
export function validateNat46(dm: DataModel, ctx: ValidateContext): void {
  if (ctx.origin === 'system') return;
  const rows = (name: string) => ctx.rowsAt(`${NAT46}${name}.`).map((o) => Number(o.slice(`${NAT46}${name}.`.length, -1)));
  const s = settingsFrom((rel) => ctx.valueAt(NAT46 + rel), rows('Peer'), rows('Adopted'));
  if (!s.enable) return;
  if (ctx.valueAt(DSLITE_ENABLE) === 'true')
    throw new DmError('InvalidValue', `${NAT46}Enable: refused while ${DSLITE_ENABLE} is true: NAT46 and DS-Lite are alternative IPv4 services on the same forwarder`, [], `${NAT46}Enable`);
  const problems = nat46Problems(s.config);
  if (problems.length) throw DmError.from(problemDetails(s, problems, new Set([...ctx.changed.keys()].map((k) => ctx.path + k))));
  const unwatched = watchless(s);
  if (unwatched.length) throw DmError.from(unwatched);
}

/** PeerDown adoptions without an enabled Peer of their GatewayID: nothing would ever bring them into force. */
export function watchless(s: Nat46Settings): DmErrorDetail[] {
  const peers = new Set((s.config.peers ?? []).map((p) => p.gatewayId));
  return (s.config.adopted ?? []).flatMap((a, i) => (s.activation[i] === 'PeerDown' && !peers.has(a.gatewayId) ? [{
    path: `${s.adoptedRows[i]}Activation`, kind: 'InvalidValue' as const,
    message: `PeerDown needs an enabled Peer with GatewayID ${a.gatewayId} to watch`,
  }] : []));
}

/** The reverse of the exclusivity: Device.DSLite.Enable may not be true after a transaction that leaves NAT46 enabled. */
export function validateDsliteEnable(dm: DataModel, ctx: ValidateContext): void {
  if (ctx.origin === 'system' || ctx.changed.get('Enable') !== 'true') return;
  if (ctx.valueAt(`${NAT46}Enable`) === 'true')
    throw new DmError('InvalidValue', `${DSLITE_ENABLE}: refused while ${NAT46}Enable is true: NAT46 and DS-Lite are alternative IPv4 services on the same forwarder`, [], DSLITE_ENABLE);
}

export type PeerStatus = 'Unknown' | 'Up' | 'Down';

/** What the controller writes back. Rows absent from `peers` / `adopted` are Disabled. */
export interface Nat46Report {
  status: 'Disabled' | 'Enabled' | 'Error_Misconfigured';
  exportedRoute: string;
  stats: { translated4to6: number; translated6to4: number; handedOff: number; handOffsReceived: number; dropped: number };
  /** Peer row path -> its liveness. */
  peers: Record<string, PeerStatus>;
  /** Adopted row path -> Standby, or Active with the identifier space to export. */
  adopted: Record<string, { status: 'Standby' | 'Active'; exportedRoute: string }>;
}

/** Writes the report in one system transaction, only the values that changed. */
export function writeNat46(dm: DataModel, r: Nat46Report): void {
  const want: Record<string, string> = {
    [`${NAT46}Status`]: r.status,
    [`${NAT46}ExportedRoute`]: r.exportedRoute,
    [`${NAT46}Stats.Translated4to6`]: String(r.stats.translated4to6),
    [`${NAT46}Stats.Translated6to4`]: String(r.stats.translated6to4),
    [`${NAT46}Stats.HandedOff`]: String(r.stats.handedOff),
    [`${NAT46}Stats.HandOffsReceived`]: String(r.stats.handOffsReceived),
    [`${NAT46}Stats.Dropped`]: String(r.stats.dropped),
  };
  for (const row of dm.instances(`${NAT46}Peer.`)) want[`${row}Status`] = r.peers[row] ?? 'Disabled';
  for (const row of dm.instances(`${NAT46}Adopted.`)) {
    want[`${row}Status`] = r.adopted[row]?.status ?? 'Disabled';
    want[`${row}ExportedRoute`] = r.adopted[row]?.exportedRoute ?? '';
  }
  const changes: Change[] = Object.entries(want).filter(([p, v]) => dm.getValue(p) !== v).map(([path, value]) => ({ op: 'set', path, value }));
  if (changes.length) dm.commit(changes, 'system');
}
