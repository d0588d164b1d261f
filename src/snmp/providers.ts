// The standard MIBs served from the data model: SNMPv2-MIB system and snmp groups (RFC 3418), the
// SNMP-FRAMEWORK-MIB engine group (RFC 3411), IF-MIB ifTable/ifXTable (RFC 2863), TUNNEL-MIB tunnelIfTable
// (RFC 4087) and IP-FORWARD-MIB inetCidrRouteTable (RFC 4292). ifIndex is the Device.IP.Interface instance
// number: TR-181 never reuses instance numbers, which is what RFC 2863 §3.1.5 asks of ifIndex. Each provider
// serves one subtree (view.ts Segment); only inetCidrRouteTable, which can hold thousands of rows, is kept
// row by row.
import { oidKey, parseOid, type Oid } from './ber.ts';
import { FAILOVER_MIB, PRODUCT_OID } from './failover-mib.ts';
import { OPER } from './links.ts';
import {
  c32, c64, gauge, instanceOf, int, ipv6Bytes, oidv, rows, str, textSetter, ticks, truthSetter,
  type Provider, type ProviderContext, type RowSource, type SetMapper, type ViewBuilder,
} from './view.ts';

const SYSTEM = parseOid('1.3.6.1.2.1.1');
const SYS_OR_ENTRY = [...SYSTEM, 9, 1];
const SNMP_GROUP = parseOid('1.3.6.1.2.1.11');
const SNMP_MODULES = parseOid('1.3.6.1.6.3');
const ENGINE = parseOid('1.3.6.1.6.3.10.2.1');
const USM_STATS = parseOid('1.3.6.1.6.3.15.1.1');
/** snmpSetSerialNo (SNMPv2-MIB snmpSet group). */
const SET_SERIAL_NO = parseOid('1.3.6.1.6.3.1.1.6.1');
const IF_MIB = parseOid('1.3.6.1.2.1.2');
const IFX_MIB = parseOid('1.3.6.1.2.1.31');
export const IF_NUMBER = parseOid('1.3.6.1.2.1.2.1');
export const IF_ENTRY = parseOid('1.3.6.1.2.1.2.2.1');
export const IFX_ENTRY = parseOid('1.3.6.1.2.1.31.1.1.1');
export const TUNNEL_IF_ENTRY = parseOid('1.3.6.1.2.1.10.131.1.1.1.1');
export const INET_CIDR_ROUTE_ENTRY = parseOid('1.3.6.1.2.1.4.24.7.1');
const INET_CIDR_ROUTE_NUMBER = parseOid('1.3.6.1.2.1.4.24.6');

const IP_IF = 'Device.IP.Interface.';
const DSLITE = 'Device.DSLite.InterfaceSetting.';

/**
 * sysORTable (RFC 3418): the MIB modules this agent implements, by their MODULE-IDENTITY (or, for SNMPv2-MIB,
 * its compliance). They are fixed at start, so sysORLastChange and every sysORUpTime are 0.
 */
const SYS_OR: [Oid, string][] = [
  [parseOid('1.3.6.1.6.3.1'), 'SNMPv2-MIB: the system and snmp groups (RFC 3418)'],
  [parseOid('1.3.6.1.6.3.10.3.1.1'), 'SNMP-FRAMEWORK-MIB: the SNMP engine (RFC 3411)'],
  [parseOid('1.3.6.1.6.3.15.2.1.1'), 'SNMP-USER-BASED-SM-MIB: USM statistics (RFC 3414)'],
  [parseOid('1.3.6.1.2.1.31'), 'IF-MIB: ifTable and ifXTable (RFC 2863)'],
  [parseOid('1.3.6.1.2.1.10.131'), 'TUNNEL-MIB: the DS-Lite softwire (RFC 4087)'],
  [parseOid('1.3.6.1.2.1.4.24'), 'IP-FORWARD-MIB: inetCidrRouteTable (RFC 4292)'],
  [FAILOVER_MIB, 'TWINSTACK-FAILOVER-MIB: DS-Lite to dual-stack failover'],
];

const fillSystem = (b: ViewBuilder, { dm, uptime }: ProviderContext) => {
  const v = (p: string) => { try { return dm.getValue(`Device.DeviceInfo.${p}`); } catch { return ''; } };
  const descr = [v('Manufacturer'), v('ModelName'), v('Description'), v('SoftwareVersion') && `software ${v('SoftwareVersion')}`].filter(Boolean).join(' ');
  b.add([...SYSTEM, 1], [0], str(descr));
  b.add([...SYSTEM, 2], [0], oidv(PRODUCT_OID));
  b.add([...SYSTEM, 3], [0], ticks(uptime()));
  // sysContact and sysLocation have no TR-181 counterpart: served empty, not writable.
  b.add([...SYSTEM, 4], [0], str(''));
  b.add([...SYSTEM, 5], [0], str(v('HostName')), textSetter('Device.DeviceInfo.HostName', 255));
  b.add([...SYSTEM, 6], [0], str(''));
  b.add([...SYSTEM, 7], [0], int(72)); // layers 4 (end-to-end) and 7 (applications), RFC 3418 sysServices
  b.add([...SYSTEM, 8], [0], ticks(0));
  for (const [i, [id, descr]] of SYS_OR.entries()) b.row(SYS_OR_ENTRY, [i + 1], { 2: oidv(id), 3: str(descr), 4: ticks(0) });
};
export const system: Provider = { name: 'system', root: SYSTEM, watch: ['Device.DeviceInfo.'], live: true, fill: fillSystem };

/** The snmp group (RFC 3418): snmpInPkts ... snmpSilentDrops, snmpEnableAuthenTraps (writable, kept by the agent). */
export const snmpGroup: Provider = {
  name: 'snmp', root: SNMP_GROUP, watch: [], live: true,
  fill: (b, { counters, local }) => {
    const c = (n: number, name: string) => b.add([...SNMP_GROUP, n], [0], { type: 'Counter32', value: counters[name] ?? 0 });
    c(1, 'inPkts'); c(3, 'inBadVersions'); c(4, 'inBadCommunityNames'); c(5, 'inBadCommunityUses'); c(6, 'inASNParseErrs');
    b.add([...SNMP_GROUP, 30], [0], int(local.enableAuthenTraps), (v) => {
      if (v.type !== 'Integer') return 'wrongType';
      if (v.value !== 1 && v.value !== 2) return 'wrongValue';
      return () => { local.enableAuthenTraps = v.value; };
    });
    c(31, 'silentDrops');
  },
};

/** SNMP-FRAMEWORK-MIB snmpEngine, usmStats and snmpSetSerialNo: everything the agent serves under snmpModules. */
export const engineGroup: Provider = {
  name: 'engine', root: SNMP_MODULES, watch: [], live: true,
  fill: (b, { counters, engine, local }) => {
    // TestAndIncr (RFC 2579): a SET of the current value succeeds and increments it; any other value is
    // inconsistentValue. Managers use it to serialise their SETs.
    b.add(SET_SERIAL_NO, [0], int(local.setSerialNo), (v) => {
      if (v.type !== 'Integer') return 'wrongType';
      if (v.value < 0) return 'wrongValue';
      if (v.value !== local.setSerialNo) return 'inconsistentValue';
      return () => { local.setSerialNo = (local.setSerialNo + 1) % 2147483648; };
    });
    b.add([...ENGINE, 1], [0], { type: 'OctetString', value: engine.engineID });
    b.add([...ENGINE, 2], [0], int(engine.boots));
    b.add([...ENGINE, 3], [0], int(engine.time));
    b.add([...ENGINE, 4], [0], int(engine.maxMessageSize));
    for (const [i, name] of ['unsupportedSecLevels', 'notInTimeWindows', 'unknownUserNames', 'unknownEngineIDs', 'wrongDigests', 'decryptionErrors'].entries())
      b.add([...USM_STATS, i + 1], [0], { type: 'Counter32', value: counters[name] ?? 0 });
  },
};

/** IANAifType for an IP.Interface (IANAifType-MIB): the DS-Lite softwire is tunnel(131). */
function ifType(r: Record<string, string>, isTunnel: boolean): number {
  if (isTunnel || r.Type === 'Tunnel') return 131;
  if (r.Type === 'Loopback') return 24; // softwareLoopback
  if (r.Type === 'Tunneled') return 53; // propVirtual
  if (/PPP\./.test(r.LowerLayers ?? '')) return 23; // ppp
  return 6; // ethernetCsmacd
}


export function tunnelInterfaces(ctx: ProviderContext): Map<number, Record<string, string>> {
  const out = new Map<number, Record<string, string>>();
  for (const [, s] of rows(ctx.dm, DSLITE)) {
    const i = instanceOf(s.TunnelInterface, IP_IF);
    if (i !== undefined) out.set(i, s);
  }
  return out;
}

/** The counters of an interface: the platform's when it counts it, else the data model's Stats. */
function stats(ctx: ProviderContext, r: Record<string, string>): (k: string) => string | undefined {
  const live = r.Name ? ctx.iface(r.Name)?.stats : undefined;
  return (k) => live?.[k] ?? r[`Stats.${k}`];
}

/** ifSpeed/ifHighSpeed: the interface's own speed, or for a tunnel the speed of the interface below it. */
function speedOf(ctx: ProviderContext, ifs: Map<number, Record<string, string>>, i: number, seen = new Set<number>()): number {
  const r = ifs.get(i);
  if (!r || seen.has(i)) return 0;
  seen.add(i);
  const own = r.Name ? (ctx.iface(r.Name)?.speed ?? 0) : 0;
  if (own) return own;
  for (const ref of (r.LowerLayers ?? '').split(',')) {
    const j = instanceOf(ref.trim(), IP_IF);
    const s = j !== undefined ? speedOf(ctx, ifs, j, seen) : 0;
    if (s) return s;
  }
  return 0;
}

const fillIfTable = (b: ViewBuilder, ctx: ProviderContext) => {
  const ifs = rows(ctx.dm, IP_IF);
  const tunnels = tunnelInterfaces(ctx);
  b.add(IF_NUMBER, [0], int(ifs.size));
  for (const [i, r] of ifs) {
    const path = `${IP_IF}${i}.`;
    const s = stats(ctx, r);
    const add32 = (a: string, bb: string) => c32(String(BigInt(s(a) || '0') + BigInt(s(bb) || '0')));
    const info = r.Name ? ctx.iface(r.Name) : undefined;
    // ifLastChange: sysUpTime when the interface entered its current ifOperStatus, as the agent saw it
    // (RFC 2863 §3.1.8; TR-181 LastChange counts seconds and moves on every read, so it is not used).
    const link = ctx.link(i);
    b.row(IF_ENTRY, [i], {
      1: int(i), 2: str(r.Name ?? ''), 3: int(ifType(r, tunnels.has(i))), 4: int(Number(r.MaxMTUSize || 0)),
      5: gauge(speedOf(ctx, ifs, i)),
      6: { type: 'OctetString', value: info?.mac ?? Buffer.alloc(0) },
      7: [int(r.Enable === 'true' ? 1 : 2), truthSetter(`${path}Enable`)],
      8: int(link?.oper ?? OPER[r.Status] ?? 4), 9: ticks(link?.lastChange ?? 0),
      10: c32(s('BytesReceived')), 11: c32(s('UnicastPacketsReceived')), 12: add32('MulticastPacketsReceived', 'BroadcastPacketsReceived'),
      13: c32(s('DiscardPacketsReceived')), 14: c32(s('ErrorsReceived')), 15: c32(s('UnknownProtoPacketsReceived')),
      16: c32(s('BytesSent')), 17: c32(s('UnicastPacketsSent')), 18: add32('MulticastPacketsSent', 'BroadcastPacketsSent'),
      19: c32(s('DiscardPacketsSent')), 20: c32(s('ErrorsSent')), 21: gauge(0), 22: oidv([0, 0]),
    });
  }
};

const fillIfXTable = (b: ViewBuilder, ctx: ProviderContext) => {
  const ifs = rows(ctx.dm, IP_IF);
  for (const [i, r] of ifs) {
    const path = `${IP_IF}${i}.`;
    const s = stats(ctx, r);
    const info = r.Name ? ctx.iface(r.Name) : undefined;
    b.row(IFX_ENTRY, [i], {
      1: str(r.Name ?? ''),
      2: c32(s('MulticastPacketsReceived')), 3: c32(s('BroadcastPacketsReceived')),
      4: c32(s('MulticastPacketsSent')), 5: c32(s('BroadcastPacketsSent')),
      6: c64(s('BytesReceived')), 7: c64(s('UnicastPacketsReceived')), 8: c64(s('MulticastPacketsReceived')), 9: c64(s('BroadcastPacketsReceived')),
      10: c64(s('BytesSent')), 11: c64(s('UnicastPacketsSent')), 12: c64(s('MulticastPacketsSent')), 13: c64(s('BroadcastPacketsSent')),
      14: int(1), 15: gauge(Math.round(speedOf(ctx, ifs, i) / 1e6)), 16: int(2), 17: int(info?.connector ? 1 : 2),
      18: [str(r.Alias ?? '', 64), textSetter(`${path}Alias`, 64)],
      19: ticks(0),
    });
  }
};

const IF_WATCH = [IP_IF, 'Device.DSLite.'];
export const ifTable: Provider = { name: 'ifTable', root: IF_MIB, watch: IF_WATCH, live: true, fill: fillIfTable };
export const ifXTable: Provider = { name: 'ifXTable', root: IFX_MIB, watch: IF_WATCH, live: true, fill: fillIfXTable };

export function ipv6Text(b: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i).toString(16));
  // RFC 5952 §4.2: compress the longest run of two or more zero groups.
  let best = [-1, 0], cur = [-1, 0];
  groups.forEach((g, i) => {
    if (g === '0') { cur = cur[0] < 0 ? [i, 1] : [cur[0], cur[1] + 1]; if (cur[1] > best[1]) best = cur; } else cur = [-1, 0];
  });
  if (best[1] < 2) return groups.join(':');
  return `${groups.slice(0, best[0]).join(':')}::${groups.slice(best[0] + best[1]).join(':')}`;
}

/** The first global IPv6 address of an IP interface or of the IP interfaces below it (LowerLayers). */
function localAddress(ctx: ProviderContext, ifs: Map<number, Record<string, string>>, i: number, seen = new Set<number>()): Buffer | undefined {
  if (seen.has(i)) return undefined;
  seen.add(i);
  for (const [, a] of rows(ctx.dm, `${IP_IF}${i}.IPv6Address.`)) {
    const bytes = a.Enable !== 'false' ? ipv6Bytes(a.IPAddress) : undefined;
    if (bytes && bytes[0] !== 0xfe) return bytes;
  }
  for (const ref of (ifs.get(i)?.LowerLayers ?? '').split(',')) {
    const j = instanceOf(ref.trim(), IP_IF);
    const found = j !== undefined ? localAddress(ctx, ifs, j, seen) : undefined;
    if (found) return found;
  }
  return undefined;
}

/** tunnelIfRemoteInetAddress SET: an InetAddressIPv6 becomes the DS-Lite EndpointAddress (binary kept exact). */
const endpointSetter = (path: string): SetMapper => (v) => {
  if (v.type !== 'OctetString') return 'wrongType';
  if (v.value.length !== 16) return 'wrongLength'; // tunnelIfAddressType is ipv6(2): InetAddressIPv6 SIZE (16)
  return [{ op: 'set', path, value: ipv6Text(v.value) }];
};

const fillTunnel = (b: ViewBuilder, ctx: ProviderContext) => {
  const ifs = rows(ctx.dm, IP_IF);
  for (const [n, s] of rows(ctx.dm, DSLITE)) {
    const i = instanceOf(s.TunnelInterface, IP_IF);
    if (i === undefined || !ifs.has(i)) continue;
    const local = localAddress(ctx, ifs, i) ?? Buffer.alloc(16);
    const remote = ipv6Bytes(s.EndpointAddressInUse) ?? Buffer.alloc(16);
    b.row(TUNNEL_IF_ENTRY, [i], {
      1: { type: 'IpAddress', value: Buffer.alloc(4) }, 2: { type: 'IpAddress', value: Buffer.alloc(4) }, // deprecated, IPv4 only
      3: int(17), // IANAtunnelType dsLite(17), RFC 6333
      4: int(0), 5: int(1), 6: int(-1), 7: int(-1), 8: int(2),
      9: { type: 'OctetString', value: local },
      10: [{ type: 'OctetString', value: remote }, endpointSetter(`${DSLITE}${n}.EndpointAddress`)],
      11: int(-1),
    });
  }
};

const PROTO: Record<string, number> = { DHCPv4: 19, OSPF: 13, RIP: 8, Static: 3, IPCP: 2 };

function ipv4(text: string | undefined): number[] {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text ?? '');
  return m ? m.slice(1).map(Number) : [0, 0, 0, 0];
}

const prefixLen = (mask: number[]) => mask.reduce((n, o) => n + (o.toString(2).match(/1/g)?.length ?? 0), 0);

const FWD = /^(Device\.Routing\.Router\.\d+\.IPv4Forwarding\.\d+\.)/;

/** One IPv4Forwarding row -> one inetCidrRouteEntry (enabled rows only: the forwarding table in use, RFC 4292 §4). */
const routeRows: RowSource = {
  all: (dm) => routerInstances(dm).flatMap((r) => { try { return dm.instances(`Device.Routing.Router.${r}.IPv4Forwarding.`); } catch { return []; } }),
  rowOf: (path) => FWD.exec(path)?.[1],
  fill: (b, ctx, row) => {
    let f: Record<string, string>;
    try {
      f = Object.fromEntries(ctx.dm.get(row).map((v) => [v.path.slice(row.length), v.value]));
    } catch {
      return; // deleted
    }
    if (f.Status !== 'Enabled') return;
    const dest = ipv4(f.DestIPAddress);
    const len = prefixLen(ipv4(f.DestSubnetMask));
    const gw = ipv4(f.GatewayIPAddress);
    // INDEX: DestType, Dest (length-prefixed), PfxLen, Policy (length-prefixed OID 0.0), NextHopType, NextHop.
    // Two rows with the same index are one route: the later one read shows.
    const index = [1, 4, ...dest, len, 2, 0, 0, 1, 4, ...gw];
    const ifIndex = instanceOf(f.Interface, IP_IF) ?? 0;
    const type = f.Type === 'Blackhole' ? 5 : f.Type === 'Unreachable' || f.Type === 'Prohibit' ? 2 : gw.some(Boolean) || len === 0 ? 4 : 3;
    const metric = Number(f.ForwardingMetric ?? -1);
    b.row(INET_CIDR_ROUTE_ENTRY, index, {
      7: int(ifIndex), 8: int(type), 9: int(PROTO[f.Origin] ?? 1), 10: gauge(0), 11: gauge(0),
      12: int(metric), 13: int(-1), 14: int(-1), 15: int(-1), 16: int(-1), 17: int(1),
    });
  },
};

export const routeMib: Provider = {
  name: 'inetCidrRouteTable', root: parseOid('1.3.6.1.2.1.4.24'), watch: ['Device.Routing.'], rows: routeRows,
  // inetCidrRouteNumber: the rows of the table, counted on its first column (two binary searches).
  fill: (b, { segment }) => {
    const col = [...INET_CIDR_ROUTE_ENTRY, 7];
    const n = segment ? segment.next(oidKey([...col, 0xffffffff])) - segment.next(oidKey(col)) : 0;
    b.add(INET_CIDR_ROUTE_NUMBER, [0], gauge(n));
  },
};

function routerInstances(dm: ProviderContext['dm']): number[] {
  try {
    return dm.instances('Device.Routing.Router.').map((p) => Number(p.split('.').at(-2)));
  } catch {
    return [];
  }
}

export const tunnelMib: Provider = { name: 'tunnelIfTable', root: TUNNEL_IF_ENTRY.slice(0, 8), watch: [IP_IF, 'Device.DSLite.'], fill: fillTunnel };
