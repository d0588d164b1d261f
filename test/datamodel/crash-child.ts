// Child for crash-safety.test.ts: a stream of multi-parameter sets on one database, each acknowledged on
// stdout only after commit returned. Every set writes sequence number S into all of PARAMS (and every
// 10th also adds a DNS server row in the same transaction), so a partly applied set is visible.
import { writeSync } from 'node:fs';
import { DataModel } from '../../src/datamodel/index.ts';

export const PARAMS = [
  'Device.ManagementServer.URL',
  'Device.ManagementServer.Username',
  'Device.ManagementServer.PeriodicInformInterval',
  'Device.DeviceInfo.ProvisioningCode',
  'Device.DSLite.InterfaceSetting.1.EndpointName',
  'Device.DNS.Client.Server.1.DNSServer',
];

export const valueFor = (param: string, seq: number): string => {
  if (param.endsWith('URL')) return `http://acs.example.net/${seq}`;
  if (param.endsWith('PeriodicInformInterval')) return String(seq + 1);
  if (param.endsWith('EndpointName')) return `aftr${seq}.example.net`;
  if (param.endsWith('DNSServer')) return `2001:db8::${seq.toString(16)}`;
  return `s${seq}`;
};

export const seqOf = (dm: DataModel): number => Number(dm.getValue('Device.DeviceInfo.ProvisioningCode').slice(1) || '0');

if (process.argv[1]?.endsWith('crash-child.ts')) {
  const dm = new DataModel({ file: process.argv[2] });
  if (dm.instances('Device.DSLite.InterfaceSetting.').length === 0) {
    dm.commit([{ op: 'add', table: 'Device.DSLite.InterfaceSetting.' }, { op: 'add', table: 'Device.DNS.Client.Server.' }], 'system');
  }
  let seq = seqOf(dm);
  writeSync(1, `ready ${seq}\n`);
  for (;;) {
    seq++;
    const changes = PARAMS.map((path) => ({ op: 'set' as const, path, value: valueFor(path, seq) }));
    if (seq % 10 === 0) changes.push({ op: 'add', table: 'Device.DNS.Client.Server.', values: { DNSServer: `2001:db8:1::${seq.toString(16)}` } } as never);
    dm.commit(changes, 'cli');
    writeSync(1, `ack ${seq}\n`);
  }
}
