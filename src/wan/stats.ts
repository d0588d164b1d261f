// Interface counters and link facts for every interface the gateway carries traffic on, not only the
// softwire: the kernel's (/sys/class/net/NAME, Documentation/ABI/testing/sysfs-class-net-statistics) in
// Linux mode, the simulation's in the embedded default. Device.IP.Interface.{i}.Stats and IF-MIB
// ifTable/ifXTable both read them through Platform.interfaceInfo, so the two always agree.
import { readFileSync } from 'node:fs';
import type { DataModel, Disposable } from '../datamodel/index.ts';

/** One interface as the system sees it; `stats` uses the TR-181 Device.IP.Interface.{i}.Stats names. */
export interface InterfaceInfo {
  /** bits per second, 0 when unknown (a tun, a link without carrier) */
  speed: number;
  /** the MAC address, empty when it has none */
  mac: Buffer;
  /** a physical connector (IF-MIB ifConnectorPresent) */
  connector: boolean;
  stats: Record<string, string>;
}

/** TR-181 Stats name -> file under /sys/class/net/NAME/statistics. Unicast = packets minus multicast. */
const SYSFS: [string, string][] = [
  ['BytesSent', 'tx_bytes'], ['BytesReceived', 'rx_bytes'], ['PacketsSent', 'tx_packets'], ['PacketsReceived', 'rx_packets'],
  ['ErrorsSent', 'tx_errors'], ['ErrorsReceived', 'rx_errors'], ['DiscardPacketsSent', 'tx_dropped'], ['DiscardPacketsReceived', 'rx_dropped'],
  ['MulticastPacketsReceived', 'multicast'],
];

const readNum = (file: string): bigint | undefined => {
  try {
    const t = readFileSync(file, 'utf8').trim();
    return /^\d+$/.test(t) ? BigInt(t) : undefined;
  } catch {
    return undefined; // no such file, or EINVAL (speed of a link that is down)
  }
};

/** The kernel's view of an interface of this network namespace, or undefined when there is none by that name. */
export function sysfsInterface(name: string, root = '/sys/class/net'): InterfaceInfo | undefined {
  if (!/^[^/\0]{1,15}$/.test(name) || name === '.' || name === '..') return undefined;
  const dir = `${root}/${name}`;
  const stats: Record<string, string> = {};
  for (const [k, file] of SYSFS) {
    const v = readNum(`${dir}/statistics/${file}`);
    if (v === undefined) return undefined;
    stats[k] = String(v);
  }
  stats.UnicastPacketsReceived = String(BigInt(stats.PacketsReceived) - BigInt(stats.MulticastPacketsReceived));
  stats.UnicastPacketsSent = stats.PacketsSent; // the kernel does not count multicast sent
  stats.MulticastPacketsSent = '0';
  stats.BroadcastPacketsSent = '0';
  stats.BroadcastPacketsReceived = '0';
  stats.UnknownProtoPacketsReceived = '0';
  // speed: Mbit/s, -1 or EINVAL when unknown (drivers/net ethtool); type 1 is ARPHRD_ETHER.
  const mbps = readNum(`${dir}/speed`);
  let mac = Buffer.alloc(0);
  try {
    const a = readFileSync(`${dir}/address`, 'utf8').trim();
    if (/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(a) && a !== '00:00:00:00:00:00') mac = Buffer.from(a.replace(/:/g, ''), 'hex');
  } catch { /* a tun has none */ }
  // A physical device has a device/ link; veth, tun, bridges and lo do not.
  let connector = false;
  try { readFileSync(`${dir}/device/uevent`); connector = true; } catch { /* virtual */ }
  return { speed: mbps !== undefined ? Number(mbps) * 1e6 : 0, mac, connector, stats };
}

/**
 * Serves Device.IP.Interface.{i}.Stats of every row whose Name the platform knows from `source`
 * (Platform.interfaceInfo). The failover handler attaches it in place of its softwire-only Stats handler.
 */
export function attachInterfaceStats(dm: DataModel, source: (name: string) => InterfaceInfo | undefined): Disposable {
  return dm.attach('Device.IP.Interface.{i}.Stats.', {
    read: (path): Record<string, string> => {
      const name = dm.getValue(path.replace(/Stats\.$/, 'Name'));
      return (name && source(name)?.stats) || {};
    },
  });
}
