// Read-only views of the data model in the JSON shapes the page (and scripts) use: tree levels, one
// object with its parameters' details, search hits, and the failover status panel. Values are canonical
// TR-106 text; secured parameters read "" (the core never returns them).
import { DmError, Path, schemaOf, type DataModel, type ParamDef, type ParamValue } from '../datamodel/index.ts';

export interface TreeNode {
  path: string;
  name: string;
  kind: 'object' | 'table' | 'instance';
  /** table: instances may be added; instance: it may be deleted. */
  writable: boolean;
  /** An instance's Alias, shown beside its number. */
  alias?: string;
  /** An object without sub-objects or tables: nothing to expand. */
  leaf: boolean;
}

export interface ParamView {
  path: string;
  name: string;
  value: string;
  type: string;
  dataType?: string;
  list: boolean;
  access: string;
  writable: boolean;
  secured: boolean;
  enums?: readonly string[];
  ranges?: readonly { min?: string; max?: string; step?: string }[];
  minLength?: number;
  maxLength?: number;
  units?: string;
  default?: string;
  description: string;
  notification: number;
  /** ISO time of the last stored change, or null when never changed since creation. */
  lastChange: string | null;
  /** Values that can cut the gateway off from its management: the page asks before writing one. */
  confirm?: readonly string[];
}

/**
 * Writes that can cut management access (the ACS, a USP controller, this page): turning CWMP off, moving IPv4
 * between the softwire and the WAN (DS-Lite on or off), taking an interface, a USP MTP or controller, or the
 * MQTT client down. Keyed by schema path; the values listed are the ones that cut. (The web and SNMP faces are
 * switched in the configuration file, not in the data model, so they have no row here.)
 */
const CUTS_MANAGEMENT: ReadonlyMap<string, readonly string[]> = new Map([
  ['Device.ManagementServer.EnableCWMP', ['false']],
  ['Device.DSLite.Enable', ['true', 'false']],
  ['Device.DSLite.InterfaceSetting.{i}.Enable', ['true', 'false']],
  ['Device.IP.Interface.{i}.Enable', ['false']],
  ['Device.IP.Interface.{i}.IPv4Enable', ['false']],
  ['Device.IP.Interface.{i}.IPv6Enable', ['false']],
  ['Device.LocalAgent.MTP.{i}.Enable', ['false']],
  ['Device.LocalAgent.Controller.{i}.Enable', ['false']],
  ['Device.LocalAgent.Controller.{i}.MTP.{i}.Enable', ['false']],
  ['Device.MQTT.Client.{i}.Enable', ['false']],
]);

export interface ObjectView {
  path: string;
  kind: 'object' | 'table' | 'instance';
  description: string;
  writable: boolean;
  params: ParamView[];
  children: TreeNode[];
}

/** The one node a concrete object or table path names; anything else is an InvalidArgument. */
function objectNode(dm: DataModel, path: string) {
  if (!path.endsWith('.')) throw new DmError('InvalidArgument', `${path}: an object path ends with "."`, [], path);
  const parsed = Path.parse(path);
  const nodes = parsed.isConcrete ? dm.resolve(parsed) : [];
  const node = nodes[0];
  if (nodes.length !== 1 || (node.kind !== 'object' && node.kind !== 'table'))
    throw new DmError('InvalidArgument', `${path}: not one object or table`, [], path);
  return node;
}

/** One level of the tree below an object (its sub-objects and tables) or a table (its instances). */
export function treeChildren(dm: DataModel, path: string): TreeNode[] {
  const node = objectNode(dm, path);
  const out: TreeNode[] = [];
  const leaf = (path: string) => !dm.schema.object(schemaOf(path))?.children.length;
  for (const n of dm.names(node.path, true)) {
    if (n.kind === 'param') continue;
    const name = n.path.slice(node.path.length, -1);
    if (node.kind === 'table') {
      const alias = node.def.params.has('Alias') ? dm.getValue(`${n.path}Alias`) : undefined;
      out.push({ path: n.path, name, kind: 'instance', writable: n.writable, leaf: leaf(n.path), ...(alias ? { alias } : {}) });
    } else if (n.kind === 'table') out.push({ path: n.path, name, kind: 'table', writable: n.writable, leaf: false });
    else if (n.kind === 'object') out.push({ path: n.path, name, kind: 'object', writable: n.writable, leaf: leaf(n.path) });
  }
  return out;
}

export function objectView(dm: DataModel, path: string): ObjectView {
  const node = objectNode(dm, path);
  const description = plainDescription(node.def.description);
  if (node.kind === 'table') return { path: node.path, kind: 'table', description, writable: node.def.writable, params: [], children: treeChildren(dm, node.path) };
  const values = dm.get(node.path, { maxDepth: 0 });
  const attrs = new Map(dm.attributes.get(values.map((v) => v.path)).map((a) => [a.path, a.notification]));
  return {
    path: node.path,
    kind: node.def.multi ? 'instance' : 'object',
    description,
    writable: node.def.multi && node.def.writable,
    params: values.map((v) => paramView(dm, v, attrs.get(v.path) ?? 0)),
    children: treeChildren(dm, node.path),
  };
}

function paramView(dm: DataModel, v: ParamValue, notification: number): ParamView {
  const d: ParamDef = v.def;
  const counter = dm.schema.object(schemaOf(v.path.slice(0, v.path.lastIndexOf('.') + 1)))?.counters.has(d.name) ?? false;
  const changed = dm.lastChange(v.path);
  const confirm = CUTS_MANAGEMENT.get(schemaOf(v.path));
  return {
    path: v.path,
    name: d.name,
    value: v.value,
    type: d.type,
    ...(d.dataType ? { dataType: d.dataType } : {}),
    list: !!d.list,
    access: d.access,
    writable: d.access !== 'readOnly' && !counter,
    secured: !!d.secured,
    ...(d.enums ? { enums: d.enums } : {}),
    ...(d.ranges ? { ranges: d.ranges } : {}),
    ...(d.minLength !== undefined ? { minLength: d.minLength } : {}),
    ...(d.maxLength !== undefined ? { maxLength: d.maxLength } : {}),
    ...(d.units ? { units: d.units } : {}),
    ...(d.default !== undefined && !d.secured ? { default: d.default } : {}),
    description: plainDescription(d.description),
    notification,
    lastChange: changed === undefined ? null : new Date(changed).toISOString(),
    ...(confirm ? { confirm } : {}),
  };
}

export interface SearchHit {
  path: string;
  value: string;
  /** Where the text matched: the path (which holds the name) or the value. */
  match: 'path' | 'value';
}

/** Case-insensitive substring search over every parameter path and value (secured values are ""). */
export function search(dm: DataModel, text: string, limit: number): { hits: SearchHit[]; truncated: boolean } {
  const q = text.toLowerCase();
  const hits: SearchHit[] = [];
  if (!q) return { hits, truncated: false };
  for (const v of dm.get('Device.')) {
    const match = v.path.toLowerCase().includes(q) ? 'path' : v.value.toLowerCase().includes(q) ? 'value' : undefined;
    if (!match) continue;
    if (hits.length === limit) return { hits, truncated: true };
    hits.push({ path: v.path, value: v.value, match });
  }
  return { hits, truncated: false };
}

/**
 * TR-106 description templates ({{param|X}}, {{enum|A|P}}, {{empty}}, ...) reduced to plain text; the page
 * shows descriptions as text, so this only makes them readable.
 */
export function plainDescription(text: string | undefined): string {
  if (!text) return '';
  const named: Record<string, string> = { empty: 'an empty string', true: 'true', false: 'false', null: 'null', object: 'this object', param: 'this parameter' };
  let out = text;
  // Innermost templates first, so nested ones ({{list|{{param|X}}}}) reduce step by step.
  for (let i = 0; i < 5 && out.includes('{{'); i++) {
    out = out.replace(/\{\{([a-zA-Z]+)((?:\|[^{}|]*)*)\}\}/g, (_m, name: string, args: string) => {
      const parts = args.split('|').slice(1);
      if (name === 'bibref') return `[${parts.join(' ')}]`;
      if (name === 'list') return parts[0] ? `Comma-separated list, ${parts[0]}.` : 'Comma-separated list.';
      if (name === 'datatype' || name === 'reference') return '';
      if (parts.length) return parts[0];
      return named[name] ?? '';
    });
  }
  return out.replace(/'''?([^']+)'''?/g, '$1').replace(/\s+/g, ' ').trim();
}

export interface FailoverStatus {
  enable: string;
  mode: string;
  forcedMode: string;
  currentAFTR: string;
  /** dateTime: since when on a backup AFTR; the Unknown Time on the primary */
  backupAFTRSince: string;
  publicIPv4Address: string;
  switchCount: string;
  lastSwitchTime: string;
  lastSwitchReason: string;
  simulation: { active: boolean; aftrState: string };
  /** Seconds since the agent started (Device.DeviceInfo.UpTime): the timeline shows nothing before it. */
  upTime: number;
  /**
   * The return to DS-Lite as the data model exposes it: the settings always; the policy's live state
   * (state, goodProbes, holdDownFactor, returnNotBefore) only where the data model has those parameters
   * (RecoveryState, RecoveryGoodProbes, HoldDownFactor, ReturnNotBefore), else "".
   */
  recovery: { interval: string; threshold: string; holdDownTime: string; state: string; goodProbes: string; holdDownFactor: string; returnNotBefore: string };
  detectors: { path: string; name: string; enable: string; state: string; lastReason: string; lastChange: string }[];
  history: { path: string; time: string; from: string; to: string; reason: string; aftr: string; outageMs: number }[];
  /** lw4o6 (Failover.LW4o6.): the binding and the ICMPv6 triggers, newest last. */
  lw4o6: { status: string; ipv4Address: string; portRanges: string; portCount: string; br: string; policyErrors: string; triggers: { time: string; action: string; oldBinding: string; newBinding: string }[] };
}

export const FAILOVER = 'Device.X_TWINSTACK-ORG_Failover.';
const UPTIME = 'Device.DeviceInfo.UpTime';

/** The status panel: the failover object's values grouped, history oldest first. */
export function failoverStatus(dm: DataModel): FailoverStatus {
  const rows = new Map<string, Map<string, string>>(); // object path -> param -> value
  for (const v of dm.get(FAILOVER)) {
    const cut = v.path.lastIndexOf('.') + 1;
    const o = v.path.slice(0, cut);
    if (!rows.has(o)) rows.set(o, new Map());
    rows.get(o)!.set(v.path.slice(cut), v.value);
  }
  const top = rows.get(FAILOVER) ?? new Map<string, string>();
  const sim = rows.get(`${FAILOVER}Simulation.`) ?? new Map<string, string>();
  const lw = rows.get(`${FAILOVER}LW4o6.`) ?? new Map<string, string>();
  const table = (name: string) => [...rows].filter(([o]) => new RegExp(`^${FAILOVER.replace(/\./g, '\\.')}${name}\\.\\d+\\.$`).test(o));
  const g = (m: Map<string, string>, k: string) => m.get(k) ?? '';
  return {
    enable: g(top, 'Enable'),
    mode: g(top, 'Mode'),
    forcedMode: g(top, 'ForcedMode'),
    currentAFTR: g(top, 'CurrentAFTR'),
    backupAFTRSince: g(top, 'BackupAFTRSince'),
    publicIPv4Address: g(top, 'PublicIPv4Address'),
    switchCount: g(top, 'SwitchCount'),
    lastSwitchTime: g(top, 'LastSwitchTime'),
    lastSwitchReason: g(top, 'LastSwitchReason'),
    simulation: { active: g(sim, 'Active') === 'true', aftrState: g(sim, 'AFTRState') },
    upTime: Number(dm.getValue(UPTIME)) || 0,
    recovery: {
      interval: g(top, 'RecoveryInterval'), threshold: g(top, 'RecoveryThreshold'), holdDownTime: g(top, 'HoldDownTime'),
      state: g(top, 'RecoveryState'), goodProbes: g(top, 'RecoveryGoodProbes'), holdDownFactor: g(top, 'HoldDownFactor'), returnNotBefore: g(top, 'ReturnNotBefore'),
    },
    detectors: table('Detector').map(([path, m]) => ({
      path, name: g(m, 'Name'), enable: g(m, 'Enable'), state: g(m, 'State'), lastReason: g(m, 'LastReason'), lastChange: g(m, 'LastChange'),
    })),
    lw4o6: {
      status: g(lw, 'Status'), ipv4Address: g(lw, 'IPv4Address'), portRanges: g(lw, 'PortRanges'), portCount: g(lw, 'PortCount'), br: g(lw, 'BRAddress'),
      policyErrors: g(lw, 'PolicyErrors'),
      triggers: [...rows].filter(([o]) => /^Device\.X_TWINSTACK-ORG_Failover\.LW4o6\.Trigger\.\d+\.$/.test(o))
        .map(([, m]) => ({ time: g(m, 'Time'), action: g(m, 'Action'), oldBinding: g(m, 'OldBinding'), newBinding: g(m, 'NewBinding') })),
    },
    history: table('History')
      .map(([path, m]) => ({ path, time: g(m, 'Time'), from: g(m, 'From'), to: g(m, 'To'), reason: g(m, 'Reason'), aftr: g(m, 'AFTR'), outageMs: Number(g(m, 'OutageMs') || 0) }))
      .sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0)),
  };
}
