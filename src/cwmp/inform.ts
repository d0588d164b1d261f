// What an Inform's ParameterList carries (TR-069 Amendment 6 A.3.3.1): the forced Inform parameters, the
// parameters whose change "4 VALUE CHANGE" reports, and the ACS's own choice in TR-181
// Device.ManagementServer.InformParameter.{i}. (checked when set by `informParameterHandler`).
import { DmError, Path, Schema, type DataModel, type Handler, type ValidateContext } from '../datamodel/index.ts';
import { EV, type InformSnapshot } from './events.ts';
import type { ParameterValueStruct } from './messages.ts';
import { xsdTypeOf } from './rpc/params.ts';

/** TR-181 forced Inform parameters (TR-069 §3.7.1.1 and the "forcedInform" parameters of TR-181). */
export const FORCED_INFORM: readonly string[] = [
  'Device.RootDataModelVersion',
  'Device.DeviceInfo.HardwareVersion',
  'Device.DeviceInfo.SoftwareVersion',
  'Device.DeviceInfo.ProvisioningCode',
  'Device.ManagementServer.ParameterKey',
  'Device.ManagementServer.ConnectionRequestURL',
  'Device.ManagementServer.AliasBasedAddressing',
];

export const INFORM_PARAMETER = 'Device.ManagementServer.InformParameter.{i}.';

/** TR-069 Table 7 event codes, as the CWMP XSD's EventCodeType patterns admit them. */
const EVENT_CODE = /^(\d+( \S+)+|M \S+|X [0-9A-F]{6} .+|X \S+ .+)$/;

const listOf = (v: string) => (v === '' ? [] : v.split(',').map((s) => s.trim()));

/**
 * InformParameter.{i}. (TR-181): ParameterName is one parameter, "*" allowed only in place of instance numbers;
 * a forced Inform parameter fails with 9007 (InvalidValue), as TR-181 requires; EventList may not hold
 * "4 VALUE CHANGE" (A.3.3.1: that Inform carries only the changed and the forced parameters).
 */
export function informParameterHandler(dm: DataModel): Handler {
  return {
    validate(ctx: ValidateContext) {
      if (ctx.kind === 'delete') return;
      const bad = (param: string, why: string) => {
        throw new DmError('InvalidValue', `${ctx.path}${param}: ${why}`, [], `${ctx.path}${param}`);
      };
      const name = ctx.changed.get('ParameterName');
      if (name) {
        const why = checkPattern(dm, name);
        if (why) bad('ParameterName', why);
      }
      for (const code of listOf(ctx.changed.get('EventList') ?? '')) {
        if (code === EV.VALUE_CHANGE) bad('EventList', `"${EV.VALUE_CHANGE}" is not allowed (TR-069 A.3.3.1)`);
        if (!EVENT_CODE.test(code) || code.length > 64) bad('EventList', `"${code}" is not an Inform event code`);
      }
    },
  };
}

function checkPattern(dm: DataModel, text: string): string | undefined {
  if (FORCED_INFORM.includes(text)) return 'a forced Inform parameter is in every Inform already';
  let p: Path;
  try {
    p = Path.parse(text);
  } catch {
    return 'not a parameter name';
  }
  if (p.partial) return 'names an object, not a parameter';
  if (p.segments.some((s) => s.k !== 'name' && s.k !== 'index' && s.k !== 'wildcard')) return 'only "*" may stand for instance numbers';
  // The schema path has "{i}" exactly where the pattern has an instance number or "*": a "*" in place of a
  // name finds no parameter.
  const def = dm.schema.param(p.schemaPath);
  if (!def || !Schema.serves(def.object, 'cwmp')) return 'no such parameter';
  return undefined;
}

/**
 * The Inform's ParameterList: forced parameters, the snapshot's changed parameters, then the enabled
 * InformParameter entries for which one of the Inform's events is listed (an empty EventList: every event but
 * "4 VALUE CHANGE"). A name that matches nothing (a deleted object) is left out.
 */
export function informParameterList(dm: DataModel, sent: InformSnapshot): ParameterValueStruct[] {
  const codes = new Set(sent.events.map((e) => e.EventCode));
  const wanted = (list: string) => {
    const events = listOf(list);
    return events.length ? events.some((e) => codes.has(e)) : [...codes].some((c) => c !== EV.VALUE_CHANGE);
  };
  const chosen: string[] = [];
  for (const row of dm.instances('Device.ManagementServer.InformParameter.', 'cwmp')) {
    const v = (p: string) => dm.getValue(`${row}${p}`);
    if (v('Enable') === 'true' && v('ParameterName') !== '' && wanted(v('EventList'))) chosen.push(v('ParameterName'));
  }
  const out = new Map<string, ParameterValueStruct>();
  for (const name of [...FORCED_INFORM, ...Object.keys(sent.changes), ...chosen]) {
    try {
      for (const v of dm.get(name, { protocol: 'cwmp' })) if (!out.has(v.path)) out.set(v.path, { Name: v.path, Value: v.value, type: xsdTypeOf(v.def) });
    } catch {
      // A changed parameter whose object was deleted since: nothing to report.
    }
  }
  return [...out.values()];
}
