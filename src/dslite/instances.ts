// The gateway's objects, created at boot in system transactions only when absent: the store persists across
// restarts and instance numbers are never reused, so each row is found again by its functional key
// (Name, Interface, DNSServer) rather than by a number.
import type { Change, DataModel } from '../datamodel/index.ts';
import { DETECTOR_DEFAULTS, DETECTORS } from './detectors.ts';

export const FO = 'Device.X_TWINSTACK-ORG_Failover.';

export interface GatewayRows {
  lan: string; // "Device.IP.Interface.1."
  wan: string;
  tunnel: string;
  wanIPv4: string; // "Device.IP.Interface.2.IPv4Address.1."
  tunnelIPv4: string;
  dslite: string; // "Device.DSLite.InterfaceSetting.1."
  dhcp4: string;
  dhcp6: string;
  nat: string;
  router: string;
  defaultRoute: string;
  detectors: Map<string, string>; // detector name -> Detector.{i}.
  map: string; // "Device.MAP.Domain.1.": lw4o6 (lw4o6-model.ts)
}

export interface InterfaceNames {
  lan: string;
  wan: string;
  tunnel: string;
  lanIPv4: { address: string; subnetMask: string };
}

/** Reference value of an object path ("Device.IP.Interface.2." -> "Device.IP.Interface.2"). */
export const ref = (objectPath: string) => objectPath.replace(/\.$/, '');

/** The first row of a table whose parameter has a value, or undefined. */
export function findRow(dm: DataModel, table: string, param: string, value: string): string | undefined {
  return dm.get(`${table}*.${param}`).find((v) => v.value === value)?.path.slice(0, -param.length);
}

function ensureRow(dm: DataModel, table: string, param: string, value: string, values: Record<string, string> = {}): string {
  return findRow(dm, table, param, value) ?? dm.add(table, 'system', { [param]: value, ...values }).path;
}

/** The instances of one table (dm.instances also lists the rows of sub-tables). */
export function rowsOf(dm: DataModel, table: string): string[] {
  return dm.instances(table).filter((p) => /^\d+\.$/.test(p.slice(table.length)));
}

function firstRow(dm: DataModel, table: string, values: Record<string, string> = {}): string {
  return rowsOf(dm, table)[0] ?? dm.add(table, 'system', values).path;
}

export function ensureRows(dm: DataModel, names: InterfaceNames): GatewayRows {
  const iface = 'Device.IP.Interface.';
  const ip = { 'Device.IP.IPv4Capable': 'true', 'Device.IP.IPv4Enable': 'true', 'Device.IP.IPv4Status': 'Enabled',
    'Device.IP.IPv6Capable': 'true', 'Device.IP.IPv6Enable': 'true', 'Device.IP.IPv6Status': 'Enabled' };
  const ipChanged = Object.fromEntries(Object.entries(ip).filter(([p, v]) => dm.getValue(p) !== v));
  if (Object.keys(ipChanged).length) dm.set(ipChanged, 'system');
  const lan = ensureRow(dm, iface, 'Name', names.lan, { Enable: 'true', IPv4Enable: 'true', IPv6Enable: 'true', Type: 'Normal', Status: 'Up', MaxMTUSize: '1500' });
  const wan = ensureRow(dm, iface, 'Name', names.wan, { Enable: 'true', IPv4Enable: 'true', IPv6Enable: 'true', Type: 'Normal', Status: 'Up', MaxMTUSize: '1500' });
  // RFC 6333 §5.7: the B4 element's IPv4 is 192.0.0.2 out of 192.0.0.0/29; the softwire rides on the WAN.
  const tunnel = ensureRow(dm, iface, 'Name', names.tunnel, {
    Enable: 'true', IPv4Enable: 'true', IPv6Enable: 'false', Type: 'Tunnel', LowerLayers: ref(wan), MaxMTUSize: '1460',
  });
  ensureRow(dm, `${lan}IPv4Address.`, 'IPAddress', names.lanIPv4.address, { Enable: 'true', Status: 'Enabled', SubnetMask: names.lanIPv4.subnetMask, AddressingType: 'Static' });
  const wanIPv4 = firstRow(dm, `${wan}IPv4Address.`, { AddressingType: 'DHCP' });
  const tunnelIPv4 = ensureRow(dm, `${tunnel}IPv4Address.`, 'IPAddress', '192.0.0.2', { Enable: 'true', SubnetMask: '255.255.255.248', AddressingType: 'Static' });

  if (dm.getValue('Device.DSLite.Enable') !== 'true' && dm.instances('Device.DSLite.InterfaceSetting.').length === 0)
    dm.set({ 'Device.DSLite.Enable': 'true' }, 'system');
  const dslite = firstRow(dm, 'Device.DSLite.InterfaceSetting.', { Enable: 'true', EndpointAssignmentPrecedence: 'DHCPv6', EndpointAddressTypePrecedence: 'FQDN' });
  if (dm.getValue(`${dslite}TunnelInterface`) !== ref(tunnel)) dm.set({ [`${dslite}TunnelInterface`]: ref(tunnel) }, 'system');

  const dhcp4 = ensureRow(dm, 'Device.DHCPv4.Client.', 'Interface', ref(wan), { Enable: 'true', Status: 'Enabled' });
  const dhcp6 = ensureRow(dm, 'Device.DHCPv6.Client.', 'Interface', ref(wan), {
    Enable: 'true', Status: 'Enabled', RequestAddresses: 'true', RequestPrefixes: 'true', RequestedOptions: '23,64',
  });
  const nat = ensureRow(dm, 'Device.NAT.InterfaceSetting.', 'Interface', ref(wan), { Enable: 'true' });
  const router = firstRow(dm, 'Device.Routing.Router.', { Enable: 'true', Status: 'Enabled' });
  // The IPv4 default route: into the softwire in DS-Lite, out of the WAN in dual-stack.
  const state = dm.state('failover');
  let defaultRoute = state.get('defaultRoute');
  if (!defaultRoute || !dm.instances(`${router}IPv4Forwarding.`).includes(defaultRoute)) {
    defaultRoute = dm.add(`${router}IPv4Forwarding.`, 'system', { Enable: 'true', StaticRoute: 'false', Interface: ref(tunnel) }).path;
    state.set('defaultRoute', defaultRoute);
  }

  const detectors = new Map<string, string>();
  for (const name of Object.keys(DETECTORS)) {
    const d = DETECTOR_DEFAULTS[name] ?? DETECTOR_DEFAULTS.Echo;
    detectors.set(name, ensureRow(dm, `${FO}Detector.`, 'Name', name, {
      Enable: String(d.enable), Interval: String(d.interval), Timeout: String(d.timeout), FailureThreshold: String(d.failureThreshold),
    }));
  }
  const map = ensureMapRows(dm, wan).domain;
  return { lan, wan, tunnel, wanIPv4, tunnelIPv4, dslite, dhcp4, dhcp6, nat, router, defaultRoute, detectors, map };
}

export interface MapRows {
  domain: string; // "Device.MAP.Domain.1."
}

/** The MAP Domain of the WAN, created enabled at the first start (lw4o6 is then taken when DHCPv6 offers it). */
export function ensureMapRows(dm: DataModel, wan: string): MapRows {
  const existing = rowsOf(dm, 'Device.MAP.Domain.')[0];
  if (existing) return { domain: existing };
  const domain = dm.commit([
    { op: 'set', path: 'Device.MAP.Enable', value: 'true' },
    { op: 'add', table: 'Device.MAP.Domain.', values: { Enable: 'true', TransportMode: 'Encapsulation', WANInterface: ref(wan) } },
  ], 'system').added[0].path;
  dm.set({ [`${domain}Interface.Enable`]: 'true' }, 'system');
  return { domain };
}

/** Makes a table hold exactly `want` rows keyed by `param` (adds the missing, deletes the others). */
export function syncRows(dm: DataModel, table: string, param: string, want: Map<string, Record<string, string>>): void {
  const have = dm.get(`${table}*.${param}`);
  const changes: Change[] = [];
  for (const v of have) if (!want.has(v.value)) changes.push({ op: 'delete', path: v.path.slice(0, -param.length) });
  for (const [key, values] of want) {
    const row = have.find((v) => v.value === key);
    if (!row) changes.push({ op: 'add', table, values: { [param]: key, ...values } });
    else {
      const obj = row.path.slice(0, -param.length);
      for (const [k, val] of Object.entries(values)) if (dm.getValue(`${obj}${k}`) !== val) changes.push({ op: 'set', path: `${obj}${k}`, value: val });
    }
  }
  if (changes.length) dm.commit(changes, 'system');
}
