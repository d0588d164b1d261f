// TWINSTACK-FAILOVER-MIB (mibs/TWINSTACK-FAILOVER-MIB.txt) served from Device.X_TWINSTACK-ORG_Failover.:
// the mode, switch count, last reason, detector states and the switch history, plus the mode-change
// notification. Enumerations are the MIB's; the data model keeps the TR-181 strings.
import { parseOid, type Value } from './ber.ts';
import {
  dateAndTime, enumSetter, gauge, int, ipv6Bytes, rows, str, textSetter, truth, truthSetter, unsignedSetter, type Provider,
} from './view.ts';

export const FAILOVER_MIB = parseOid('1.3.6.1.4.1.32473.6333');
export const MODE_CHANGE = [...FAILOVER_MIB, 0, 1];
const SCALARS = [...FAILOVER_MIB, 1];
const DETECTOR_ENTRY = [...FAILOVER_MIB, 2, 1, 1];
const HISTORY_ENTRY = [...FAILOVER_MIB, 2, 2, 1];
const LW4O6 = [...SCALARS, 16];
const TRIGGER_ENTRY = [...FAILOVER_MIB, 2, 3, 1];
/** sysObjectID: twinstackGateway in the products branch of our module. */
export const PRODUCT_OID = [...FAILOVER_MIB, 4, 1];

/** Scalar OIDs the mode-change notification carries (OBJECTS clause order). */
export const MODE_CHANGE_OBJECTS = [2, 12, 14, 4].map((n) => [...SCALARS, n, 0]);

const FO = 'Device.X_TWINSTACK-ORG_Failover.';
const MODE: Record<string, number> = { DSLite: 1, DualStack: 2, None: 3, LW4o6: 4 };
const LW_STATUS: Record<string, number> = { Disabled: 1, Unprovisioned: 2, Provisioning: 3, Bound: 4, Error: 5 };
const LW_PROVISIONING: Record<string, number> = { '': 1, S46Bind: 2, DHCP4o6: 3 };
const LW_ACTION: Record<string, number> = { Reprovisioned: 1, Unchanged: 2, Failed: 3 };
const FORCED: Record<string, number> = { Auto: 1, DSLite: 2, DualStack: 3 };
const COMBINE: Record<string, number> = { Any: 1, All: 2, Primary: 3 };
const STATE: Record<string, number> = { Unknown: 1, Healthy: 2, Failed: 3, Disabled: 4 };
const invert = (m: Record<string, number>) => Object.fromEntries(Object.entries(m).map(([k, v]) => [v, k]));

export const failoverMib: Provider = { name: 'failover', root: FAILOVER_MIB, watch: [FO], fill: (b, { dm }) => {
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
