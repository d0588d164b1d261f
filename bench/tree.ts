// The gateway-sized tree the benchmarks share: N IP interfaces, each with an IPv4 address, an IPv6 address
// and an IPv6 prefix (documentation prefixes), added in system transactions.
import type { DataModel } from '../src/datamodel/index.ts';

export function buildBenchTree(dm: DataModel, interfaces: number): void {
  if (dm.instances('Device.IP.Interface.').length) return;
  for (let i = 1; i <= interfaces; i++) {
    dm.commit([{ op: 'add', table: 'Device.IP.Interface.', values: { Name: `if${i}`, Enable: 'true' } }], 'system');
    const ifp = `Device.IP.Interface.${i}.`;
    dm.commit([
      { op: 'add', table: `${ifp}IPv4Address.`, values: { IPAddress: `198.51.100.${(i % 250) + 1}`, SubnetMask: '255.255.255.0' } },
      { op: 'add', table: `${ifp}IPv6Address.`, values: { IPAddress: `2001:db8:${i.toString(16)}::1` } },
      { op: 'add', table: `${ifp}IPv6Prefix.`, values: { Prefix: `2001:db8:${i.toString(16)}::/64` } },
    ], 'system');
  }
}
