// lw4o6 in the data model. TR-181 has no lw4o6 object; BBF models lw4o6-like set-ups as a MAP Domain in
// Encapsulation mode whose Rule has EABitsLength 0 (no address bits embedded in the prefix) and a /32
// IPv4Prefix with explicit PSID parameters, which is exactly an lw4o6 binding (RFC 7596 §4, RFC 7598 §4.3).
// So the binding is served where an ACS already looks for softwire parameters:
//   Device.MAP.Domain.{i}.            BRIPv6Prefix = the BR /128 (OPTION_S46_BR), TransportMode Encapsulation
//   Device.MAP.Domain.{i}.Rule.{i}.   IPv6Prefix = the binding prefix, IPv4Prefix = address/32, EABitsLength 0,
//                                     PSIDOffset/PSIDLength/PSID (PSID left-aligned, as TR-181 and RFC 7598 keep it)
//   Device.MAP.Domain.{i}.Interface.  the softwire, with the forwarder's counters in Stats
// and what TR-181 has no place for (the provisioning source, the lwB4 address, the ICMPv6 triggers and what the
// gateway did about each) in the vendor object Device.X_TWINSTACK-ORG_Failover.LW4o6. (ARCHITECTURE.md "lw4o6").
// Device.MAP.Enable and the Domain's Enable say whether a DHCPv6 lw4o6 offer is taken; the Domain and Rule
// values are written by the gateway (Origin DHCPv6); static lw4o6 configuration is not supported.
import type { Logger } from 'pino';
import { DmError, type Change, type DataModel, type Disposable } from '../datamodel/index.ts';
import { portSet } from '../forwarder/types.ts';
import type { InterfaceInfo } from '../wan/platform.ts';
import { FO, rowsOf, type MapRows } from './instances.ts';
import type { Lw4o6Controller, Lw4o6State, Trigger } from './lw4o6.ts';

const LW = `${FO}LW4o6.`;
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
const UNKNOWN_TIME = '0001-01-01T00:00:00Z';

/** Whether lw4o6 offers are taken: Device.MAP.Enable and the Domain's Enable. */
export function lw4o6Enabled(dm: DataModel, rows: MapRows): boolean {
  return dm.getValue('Device.MAP.Enable') === 'true' && dm.getValue(`${rows.domain}Enable`) === 'true';
}

/** Ranges of the port set as text, at most `max` of them ("1024-1039,5120-5135,..."). */
export function portRangesText(s: Lw4o6State, max = 32): string {
  if (!s.binding) return '';
  const r: [number, number][] = portSet(s.binding).ranges;
  const text = r.slice(0, max).map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(',');
  return text.length > 1024 ? text.slice(0, text.lastIndexOf(',', 1024)) : text;
}

/** Writes the controller's state: the vendor object and the MAP Domain, Rule and Interface, one transaction. */
export function writeLw4o6(dm: DataModel, rows: MapRows, s: Lw4o6State, tunnelName: string): void {
  const b = s.binding;
  const want: Record<string, string> = {
    [`${LW}Status`]: s.status,
    [`${LW}Provisioning`]: s.provisioning,
    [`${LW}BRAddress`]: s.br,
    [`${LW}SoftwireAddress`]: b?.softwire ?? '',
    [`${LW}IPv4Address`]: b?.ipv4 ?? '',
    [`${LW}PSIDOffset`]: String(b?.psidOffset ?? 0),
    [`${LW}PSIDLength`]: String(b?.psidLength ?? 0),
    [`${LW}PSID`]: String(b?.psid ?? 0),
    [`${LW}PortRanges`]: portRangesText(s),
    [`${LW}PortCount`]: String(b ? portSet(b).count : 0),
    [`${LW}PolicyErrors`]: String(s.policyErrors),
    [`${LW}Reprovisions`]: String(s.reprovisions),
    [`${LW}LastTriggerTime`]: s.lastTrigger === null ? UNKNOWN_TIME : iso(s.lastTrigger),
    [`${rows.domain}Status`]: s.status === 'Error' ? 'Error' : s.status === 'Disabled' ? 'Disabled' : 'Enabled',
    [`${rows.domain}BRIPv6Prefix`]: s.br ? `${s.br}/128` : '',
    [`${rows.domain}Interface.Name`]: s.status === 'Disabled' ? '' : tunnelName,
    [`${rows.domain}Interface.Status`]: s.status === 'Bound' ? 'Up' : s.status === 'Disabled' ? 'Down' : 'Dormant',
  };
  const changes: Change[] = Object.entries(want).filter(([p, v]) => dm.getValue(p) !== v).map(([path, value]) => ({ op: 'set' as const, path, value }));
  // The Rule: one row while a binding is held (EABitsLength 0: nothing embedded, RFC 7596 §4 vs RFC 7597 §5.2).
  const ruleTable = `${rows.domain}Rule.`;
  const rules = rowsOf(dm, ruleTable);
  if (b) {
    const values = {
      Enable: 'true', Status: 'Enabled', IPv6Prefix: s.bindPrefix, IPv4Prefix: `${b.ipv4}/32`, EABitsLength: '0', IsFMR: 'false',
      PSIDOffset: String(b.psidOffset), PSIDLength: String(b.psidLength),
      // TR-181 and RFC 7598 §4.5: the PSID in the high-order PSIDLength bits of the 16-bit field.
      PSID: String(b.psidLength ? (b.psid << (16 - b.psidLength)) & 0xffff : 0),
    };
    if (rules.length === 0) changes.push({ op: 'add', table: ruleTable, values });
    else for (const [k, v] of Object.entries(values)) if (dm.getValue(`${rules[0]}${k}`) !== v) changes.push({ op: 'set', path: `${rules[0]}${k}`, value: v });
    for (const extra of rules.slice(1)) changes.push({ op: 'delete', path: extra });
  } else for (const r of rules) changes.push({ op: 'delete', path: r });
  if (changes.length) dm.commit(changes, 'system');
}

/** One Trigger row per ICMPv6 trigger; the table stays within maxEntries by deleting the oldest (same commit). */
export function recordTrigger(dm: DataModel, t: Trigger): void {
  const table = `${LW}Trigger.`;
  const max = dm.schema.object(`${table}{i}.`)?.maxEntries ?? 32;
  const existing = dm.instances(table);
  const excess = existing.length - max + 1;
  dm.commit([
    ...existing.slice(0, Math.max(0, excess)).map((path) => ({ op: 'delete' as const, path })),
    { op: 'add', table, values: { Time: iso(t.time), Source: t.source, Action: t.action, OldBinding: t.oldBinding, NewBinding: t.newBinding, DurationMs: String(t.durationMs) } },
  ], 'system');
}

/** Binds the controller to the data model: state and triggers written back, Enable applied at once. */
export function bindLw4o6Model(o: {
  dm: DataModel; rows: MapRows; controller: Lw4o6Controller; tunnelName: string; log: Logger;
  interfaceInfo: (name: string) => InterfaceInfo | undefined;
  /** After Enable changed (the policy reads it too). */
  onEnable?: () => void;
}): Disposable[] {
  const { dm, rows, controller, tunnelName, log } = o;
  const write = (s: Lw4o6State) => {
    try {
      writeLw4o6(dm, rows, s, tunnelName);
    } catch (err) {
      log.error({ err }, 'lw4o6 state not written');
    }
  };
  write(controller.status());
  // Only what a controller or user writes: the gateway's own writes of the Domain's status (writeLw4o6) change no
  // setting, and re-reading the settings on each would queue policy work per status write.
  const apply = (ev: { origin: string }) => {
    if (ev.origin === 'system') return;
    controller.setEnabled(lw4o6Enabled(dm, rows));
    o.onEnable?.();
  };
  controller.setEnabled(lw4o6Enabled(dm, rows));
  return [
    controller.onState(write),
    controller.onTrigger((t) => {
      try {
        recordTrigger(dm, t);
      } catch (err) {
        log.error({ err }, 'lw4o6 trigger not recorded');
      }
    }),
    dm.registerCommand(`${LW}Reprovision()`, async () => {
      const r = await controller.reprovisionNow().catch((err: Error) => { throw new DmError('CommandFailed', err.message); });
      return { Result: r.action, Binding: r.binding };
    }),
    dm.attach('Device.MAP.', { apply }),
    dm.attach('Device.MAP.Domain.{i}.', { apply }),
    // The MAP interface is the softwire: the same counters as its Device.IP.Interface row and ifTable.
    dm.attach('Device.MAP.Domain.{i}.Interface.Stats.', {
      read: (): Record<string, string> => (controller.status().status === 'Disabled' ? {} : o.interfaceInfo(tunnelName)?.stats ?? {}),
    }),
  ];
}
