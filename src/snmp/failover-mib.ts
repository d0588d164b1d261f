// TWINSTACK-FAILOVER-MIB (mibs/TWINSTACK-FAILOVER-MIB.txt) served from Device.X_TWINSTACK-ORG_Failover.:
// the mode, switch count, last reason, detector states and the switch history, plus the mode-change
// notification; and tsNat46 with its Peer and Adopted tables from Device.X_TWINSTACK-ORG_NAT46. (issue 23: the
// translation settings and counters, the peers' probe settings and liveness, the adoptions and their activation);
// and tsTeredo with its Peer table from Device.X_TWINSTACK-ORG_Teredo. (issue 22: the Teredo last resort, RFC 4380).
// Enumerations are the MIB's; the data model keeps the TR-181 strings. A SET is a data-model commit like any
// other: the NAT46 object's veto (a configuration left invalid) reaches the manager as wrongValue.
import { parseOid, type Value } from './ber.ts';
import { canonicalIPv6 } from '../datamodel/index.ts';
import {
  c32, c64, dateAndTime, enumSetter, gauge, int, ipv6Bytes, rows, str, textSetter, truth, truthSetter, unsignedSetter, type Provider, type SetMapper,
} from './view.ts';

export const FAILOVER_MIB = parseOid('1.3.6.1.4.1.32473.6333');
export const MODE_CHANGE = [...FAILOVER_MIB, 0, 1];
const SCALARS = [...FAILOVER_MIB, 1];
const DETECTOR_ENTRY = [...FAILOVER_MIB, 2, 1, 1];
const HISTORY_ENTRY = [...FAILOVER_MIB, 2, 2, 1];
const LW4O6 = [...SCALARS, 16];
const TRIGGER_ENTRY = [...FAILOVER_MIB, 2, 3, 1];
const NAT46_SCALARS = [...SCALARS, 17];
const NAT46_PEER_ENTRY = [...FAILOVER_MIB, 2, 4, 1];
const NAT46_ADOPTED_ENTRY = [...FAILOVER_MIB, 2, 5, 1];
const TEREDO_SCALARS = [...SCALARS, 18];
const TEREDO_PEER_ENTRY = [...FAILOVER_MIB, 2, 6, 1];
/** sysObjectID: twinstackGateway in the products branch of our module. */
export const PRODUCT_OID = [...FAILOVER_MIB, 4, 1];

/** Scalar OIDs the mode-change notification carries (OBJECTS clause order). */
export const MODE_CHANGE_OBJECTS = [2, 12, 14, 4].map((n) => [...SCALARS, n, 0]);

const FO = 'Device.X_TWINSTACK-ORG_Failover.';
const N46 = 'Device.X_TWINSTACK-ORG_NAT46.';
const N46_STATUS: Record<string, number> = { Disabled: 1, Enabled: 2, Error_Misconfigured: 3 };
const N46_PEER_STATUS: Record<string, number> = { Disabled: 1, Unknown: 2, Up: 3, Down: 4 };
const N46_ACTIVATION: Record<string, number> = { Always: 1, PeerDown: 2 };
const N46_ADOPTED_STATUS: Record<string, number> = { Disabled: 1, Standby: 2, Active: 3 };
const TEREDO = 'Device.X_TWINSTACK-ORG_Teredo.';
const TEREDO_STATUS: Record<string, number> = { Disabled: 1, Standby: 2, Qualifying: 3, Qualified: 4, Error: 5 };
const TEREDO_NAT: Record<string, number> = { Unknown: 1, Cone: 2, Restricted: 3, Symmetric: 4 };
const TEREDO_PEER_TYPE: Record<string, number> = { Teredo: 1, Native: 2 };
/** TsIPv4ServiceMode: tsFailoverMode (and so tsFailoverModeChange), tsFailoverHistoryFrom and tsFailoverHistoryTo. */
const MODE: Record<string, number> = { DSLite: 1, DualStack: 2, None: 3, LW4o6: 4, NAT46: 5, Teredo: 6 };
const LW_STATUS: Record<string, number> = { Disabled: 1, Unprovisioned: 2, Provisioning: 3, Bound: 4, Error: 5 };
const LW_PROVISIONING: Record<string, number> = { '': 1, S46Bind: 2, DHCP4o6: 3 };
const LW_ACTION: Record<string, number> = { Reprovisioned: 1, Unchanged: 2, Failed: 3 };
const FORCED: Record<string, number> = { Auto: 1, DSLite: 2, DualStack: 3 };
const COMBINE: Record<string, number> = { Any: 1, All: 2, Primary: 3 };
const STATE: Record<string, number> = { Unknown: 1, Healthy: 2, Failed: 3, Disabled: 4 };
const invert = (m: Record<string, number>) => Object.fromEntries(Object.entries(m).map(([k, v]) => [v, k]));

export const failoverMib: Provider = { name: 'failover', root: FAILOVER_MIB, watch: [FO, N46, TEREDO], fill: (b, { dm }) => {
  let values;
  try {
    values = Object.fromEntries(dm.get(FO, { maxDepth: 0 }).map((v) => [v.path.slice(FO.length), v.value]));
  } catch {
    return; // no failover schema loaded
  }
  const v = (k: string) => values[k] ?? '';
  const scalar = (n: number, value: Parameters<typeof b.add>[2], set?: Parameters<typeof b.add>[3]) => b.add([...SCALARS, n], [0], value, set);
  scalar(1, truth(v('Enable')), truthSetter(`${FO}Enable`));
  scalar(2, int(MODE[v('Mode')] ?? 3));
  scalar(3, int(FORCED[v('ForcedMode')] ?? 1), enumSetter(`${FO}ForcedMode`, invert(FORCED)));
  scalar(4, str(v('CurrentAFTR'), 256));
  scalar(5, str(v('BackupAFTRs'), 1024), textSetter(`${FO}BackupAFTRs`, 1024));
  scalar(6, ipAddress(v('PublicIPv4Address')));
  scalar(7, int(COMBINE[v('Combine')] ?? 1), enumSetter(`${FO}Combine`, invert(COMBINE)));
  scalar(8, str(v('PrimaryDetector'), 32), textSetter(`${FO}PrimaryDetector`, 32));
  scalar(9, gauge(Number(v('RecoveryInterval'))), unsignedSetter(`${FO}RecoveryInterval`));
  scalar(10, gauge(Number(v('RecoveryThreshold'))), unsignedSetter(`${FO}RecoveryThreshold`));
  scalar(11, gauge(Number(v('HoldDownTime'))), unsignedSetter(`${FO}HoldDownTime`));
  scalar(12, { type: 'Counter32', value: Number(v('SwitchCount')) >>> 0 });
  scalar(13, dateAndTime(v('LastSwitchTime')));
  scalar(14, str(v('LastSwitchReason'), 256));
  scalar(15, dateAndTime(v('BackupAFTRSince')));

  fillLw4o6(b, dm);
  fillNat46(b, dm);
  fillTeredo(b, dm);

  for (const [i, d] of rows(dm, `${FO}Detector.`)) {
    const p = `${FO}Detector.${i}.`;
    b.row(DETECTOR_ENTRY, [i], {
      2: str(d.Name ?? '', 32),
      3: [truth(d.Enable), truthSetter(`${p}Enable`)],
      4: [gauge(Number(d.Interval)), unsignedSetter(`${p}Interval`)],
      5: [gauge(Number(d.Timeout)), unsignedSetter(`${p}Timeout`)],
      6: [gauge(Number(d.FailureThreshold)), unsignedSetter(`${p}FailureThreshold`)],
      7: int(STATE[d.State] ?? 1),
      8: str(d.LastReason ?? '', 256),
      9: dateAndTime(d.LastChange),
    });
  }
  for (const [i, h] of rows(dm, `${FO}History.`)) {
    b.row(HISTORY_ENTRY, [i], {
      2: dateAndTime(h.Time), 3: int(MODE[h.From] ?? 3), 4: int(MODE[h.To] ?? 3),
      5: str(h.Reason ?? '', 256), 6: str(h.AFTR ?? '', 256), 7: gauge(Number(h.OutageMs)),
    });
  }
} };

const ipAddress = (text: string): Value => {
  const ip = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  return { type: 'IpAddress', value: Buffer.from(ip ? ip.slice(1).map(Number) : [0, 0, 0, 0]) };
};
/** TsIPv6AddressOrEmpty: 16 bytes, or none. */
const ipv6 = (text: string | undefined): Value => ({ type: 'OctetString', value: ipv6Bytes(text) ?? Buffer.alloc(0) });

/** tsLw4o6 and tsLw4o6TriggerTable from Device.X_TWINSTACK-ORG_Failover.LW4o6. */
function fillLw4o6(b: Parameters<Provider['fill']>[0], dm: Parameters<Provider['fill']>[1]['dm']) {
  const LW = `${FO}LW4o6.`;
  let values: Record<string, string>;
  try {
    values = Object.fromEntries(dm.get(LW, { maxDepth: 0 }).map((x) => [x.path.slice(LW.length), x.value]));
  } catch {
    return;
  }
  const v = (k: string) => values[k] ?? '';
  const scalar = (n: number, value: Value) => b.add([...LW4O6, n], [0], value);
  scalar(1, int(LW_STATUS[v('Status')] ?? 1));
  scalar(2, int(LW_PROVISIONING[v('Provisioning')] ?? 1));
  scalar(3, ipv6(v('BRAddress')));
  scalar(4, ipv6(v('SoftwireAddress')));
  scalar(5, ipAddress(v('IPv4Address')));
  scalar(6, gauge(Number(v('PSIDOffset'))));
  scalar(7, gauge(Number(v('PSIDLength'))));
  scalar(8, gauge(Number(v('PSID'))));
  scalar(9, gauge(Number(v('PortCount'))));
  scalar(10, { type: 'Counter32', value: Number(v('PolicyErrors')) >>> 0 });
  scalar(11, { type: 'Counter32', value: Number(v('Reprovisions')) >>> 0 });
  scalar(12, dateAndTime(v('LastTriggerTime')));
  for (const [i, t] of rows(dm, `${LW}Trigger.`)) {
    b.row(TRIGGER_ENTRY, [i], {
      2: dateAndTime(t.Time), 3: ipv6(t.Source), 4: int(LW_ACTION[t.Action] ?? 3),
      5: str(t.OldBinding ?? '', 64), 6: str(t.NewBinding ?? '', 64), 7: gauge(Number(t.DurationMs)),
    });
  }
}

/** TsIPv6AddressOrEmpty written: 16 bytes (the address) or none (empty), into an IPv6Address parameter. */
const ipv6Setter = (path: string): SetMapper => (v) => {
  if (v.type !== 'OctetString') return 'wrongType';
  if (v.value.length !== 0 && v.value.length !== 16) return 'wrongLength';
  const words = Array.from({ length: v.value.length / 2 }, (_, i) => v.value.readUInt16BE(i * 2).toString(16));
  return [{ op: 'set', path, value: words.length ? canonicalIPv6(words.join(':')) : '' }];
};

/** IpAddress written into an IPv4Address parameter: 0.0.0.0 is the empty string (no address), as ipAddress reads it. */
const ipv4Setter = (path: string): SetMapper => (v) => {
  if (v.type !== 'IpAddress') return 'wrongType';
  if (v.value.length !== 4) return 'wrongLength';
  const text = [...v.value].join('.');
  return [{ op: 'set', path, value: text === '0.0.0.0' ? '' : text }];
};


/** tsNat46, tsNat46PeerTable and tsNat46AdoptedTable from Device.X_TWINSTACK-ORG_NAT46. (issue 23). */
function fillNat46(b: Parameters<Provider['fill']>[0], dm: Parameters<Provider['fill']>[1]['dm']) {
  let values: Record<string, string>;
  try {
    values = Object.fromEntries(dm.get(N46, { maxDepth: 1 }).map((x) => [x.path.slice(N46.length), x.value]));
  } catch {
    return; // no NAT46 schema loaded
  }
  const v = (k: string) => values[k] ?? '';
  const scalar = (n: number, value: Value, set?: SetMapper) => b.add([...NAT46_SCALARS, n], [0], value, set);
  scalar(1, truth(v('Enable')), truthSetter(`${N46}Enable`));
  scalar(2, int(N46_STATUS[v('Status')] ?? 1));
  scalar(3, str(v('Prefix'), 49), textSetter(`${N46}Prefix`, 49));
  scalar(4, gauge(Number(v('TenantBits'))), unsignedSetter(`${N46}TenantBits`));
  scalar(5, gauge(Number(v('GatewayBits'))), unsignedSetter(`${N46}GatewayBits`));
  scalar(6, gauge(Number(v('TenantID'))), unsignedSetter(`${N46}TenantID`));
  scalar(7, gauge(Number(v('GatewayID'))), unsignedSetter(`${N46}GatewayID`));
  scalar(8, str(v('DestinationPrefix'), 49), textSetter(`${N46}DestinationPrefix`, 49));
  scalar(9, ipv6(v('LocalAddress')), ipv6Setter(`${N46}LocalAddress`));
  scalar(10, gauge(Number(v('IPv6MTU'))), unsignedSetter(`${N46}IPv6MTU`));
  scalar(11, str(v('ExportedRoute'), 49));
  scalar(12, c64(v('Stats.Translated4to6')));
  scalar(13, c64(v('Stats.Translated6to4')));
  scalar(14, c64(v('Stats.HandedOff')));
  scalar(15, c64(v('Stats.HandOffsReceived')));
  scalar(16, c64(v('Stats.Dropped')));
  scalar(17, gauge(Number(v('PeerProbeInterval'))), unsignedSetter(`${N46}PeerProbeInterval`));
  scalar(18, gauge(Number(v('PeerFailureThreshold'))), unsignedSetter(`${N46}PeerFailureThreshold`));
  scalar(19, gauge(Number(v('PeerRecoveryThreshold'))), unsignedSetter(`${N46}PeerRecoveryThreshold`));
  for (const [i, r] of rows(dm, `${N46}Peer.`)) {
    const p = `${N46}Peer.${i}.`;
    b.row(NAT46_PEER_ENTRY, [i], {
      2: [truth(r.Enable), truthSetter(`${p}Enable`)],
      3: [str(r.Alias ?? '', 64), textSetter(`${p}Alias`, 64)],
      4: [gauge(Number(r.GatewayID)), unsignedSetter(`${p}GatewayID`)],
      5: [ipv6(r.Address), ipv6Setter(`${p}Address`)],
      6: int(N46_PEER_STATUS[r.Status] ?? 1),
    });
  }
  for (const [i, r] of rows(dm, `${N46}Adopted.`)) {
    const p = `${N46}Adopted.${i}.`;
    b.row(NAT46_ADOPTED_ENTRY, [i], {
      2: [truth(r.Enable), truthSetter(`${p}Enable`)],
      3: [str(r.Alias ?? '', 64), textSetter(`${p}Alias`, 64)],
      4: [gauge(Number(r.GatewayID)), unsignedSetter(`${p}GatewayID`)],
      5: [str(r.Clients ?? '', 18), textSetter(`${p}Clients`, 18)],
      6: [int(N46_ACTIVATION[r.Activation] ?? 1), enumSetter(`${p}Activation`, invert(N46_ACTIVATION))],
      7: int(N46_ADOPTED_STATUS[r.Status] ?? 1),
      8: str(r.ExportedRoute ?? '', 49),
    });
  }
}

/** tsTeredo and tsTeredoPeerTable from Device.X_TWINSTACK-ORG_Teredo. (issue 22); the peers are read-only. */
function fillTeredo(b: Parameters<Provider['fill']>[0], dm: Parameters<Provider['fill']>[1]['dm']) {
  let values: Record<string, string>;
  try {
    values = Object.fromEntries(dm.get(TEREDO, { maxDepth: 1 }).map((x) => [x.path.slice(TEREDO.length), x.value]));
  } catch {
    return; // no Teredo schema loaded
  }
  const v = (k: string) => values[k] ?? '';
  const scalar = (n: number, value: Value, set?: SetMapper) => b.add([...TEREDO_SCALARS, n], [0], value, set);
  scalar(1, truth(v('Enable')), truthSetter(`${TEREDO}Enable`));
  scalar(2, int(TEREDO_STATUS[v('Status')] ?? 1));
  scalar(3, ipAddress(v('ServerAddress')), ipv4Setter(`${TEREDO}ServerAddress`));
  scalar(4, ipAddress(v('SecondaryServerAddress')), ipv4Setter(`${TEREDO}SecondaryServerAddress`));
  scalar(5, gauge(Number(v('RefreshInterval'))), unsignedSetter(`${TEREDO}RefreshInterval`));
  scalar(6, str(v('LANPrefix'), 49), textSetter(`${TEREDO}LANPrefix`, 49));
  scalar(7, ipv6(v('TeredoAddress')));
  scalar(8, ipAddress(v('MappedAddress')));
  scalar(9, gauge(Number(v('MappedPort'))));
  scalar(10, int(TEREDO_NAT[v('NATType')] ?? 1));
  scalar(11, dateAndTime(v('QualificationTime')));
  scalar(12, str(v('RelayInUse'), 21));
  scalar(13, str(v('LastError'), 256));
  scalar(14, gauge(Number(v('PeerNumberOfEntries'))));
  scalar(15, c64(v('Stats.PacketsSent')));
  scalar(16, c64(v('Stats.PacketsReceived')));
  scalar(17, c64(v('Stats.BytesSent')));
  scalar(18, c64(v('Stats.BytesReceived')));
  scalar(19, c32(v('Stats.Qualifications')));
  scalar(20, c32(v('Stats.AddressChanges')));
  scalar(21, c64(v('Stats.ServerPackets')));
  scalar(22, c64(v('Stats.Dropped')));
  for (const [i, r] of rows(dm, `${TEREDO}Peer.`)) {
    b.row(TEREDO_PEER_ENTRY, [i], {
      2: ipv6(r.Address), 3: int(TEREDO_PEER_TYPE[r.Type] ?? 2), 4: truth(r.Trusted), 5: str(r.Via ?? '', 21),
      6: c64(r.PacketsSent), 7: c64(r.PacketsReceived), 8: c64(r.Dropped),
    });
  }
}
