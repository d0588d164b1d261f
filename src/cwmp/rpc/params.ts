// Parameter RPCs (TR-069 A.3.2.1-A.3.2.5): GetParameterNames, GetParameterValues, SetParameterValues,
// GetParameterAttributes, SetParameterAttributes. Reads and writes go through the data model with
// protocol 'cwmp' (USP-only objects stay hidden).
import { canonical, DmError, type DmErrorDetail, type ParamDef } from '../../datamodel/index.ts';
import { CwmpFault, spvFault } from '../faults.ts';
import type { ParameterValueStruct } from '../messages.ts';
import { XSD_TYPE } from '../soap.ts';
import type { RpcHandler } from './context.ts';
import { cwmpPath } from './paths.ts';

const PARAMETER_KEY = 'Device.ManagementServer.ParameterKey';
const INTEGER = new Set(['int', 'unsignedInt', 'long', 'unsignedLong']);

/** The xsi:type a value is sent with (A.2.1): list-valued parameters are strings. */
export const xsdTypeOf = (def: ParamDef): string => (def.list ? 'string' : XSD_TYPE[def.type] ?? 'string');

/** Empty ParameterPath / name means the whole tree (A.3.2.2, A.3.2.3). */
const rootOr = (name: string) => (name === '' ? 'Device.' : name);

export const getParameterNames: RpcHandler<'GetParameterNames'> = (req, { dm }) => {
  // A.3.2.3: an empty path with NextLevel true names only the root object.
  if (req.ParameterPath === '' && req.NextLevel) return { method: 'GetParameterNamesResponse', ParameterList: [{ Name: 'Device.', Writable: false }] };
  const path = cwmpPath(dm, rootOr(req.ParameterPath));
  if (dm.resolve(path, 'cwmp').length === 0) throw new CwmpFault(9005, `${req.ParameterPath}: no such object or parameter`);
  const names = dm.names(path, req.NextLevel, 'cwmp').filter((n) => n.kind !== 'command' && n.kind !== 'event');
  return { method: 'GetParameterNamesResponse', ParameterList: names.map((n) => ({ Name: n.path, Writable: n.writable })) };
};

/** Largest GetParameterValues answer: an ACS naming "Device." thousands of times gets 9004, not an OOM. */
const MAX_VALUES = 50_000;

export const getParameterValues: RpcHandler<'GetParameterValues'> = (req, { dm }) => {
  const out: ParameterValueStruct[] = [];
  for (const name of req.ParameterNames) {
    if (out.length > MAX_VALUES) throw new CwmpFault(9004, `more than ${MAX_VALUES} values requested`);
    const path = cwmpPath(dm, rootOr(name));
    // A name that matches nothing (a deleted instance) is an invalid name, not an empty answer.
    if (dm.resolve(path, 'cwmp').length === 0) throw new CwmpFault(9005, `${name}: no such object or parameter`);
    for (const v of dm.get(path, { protocol: 'cwmp' })) out.push({ Name: v.path, Value: v.value, type: xsdTypeOf(v.def) });
  }
  return { method: 'GetParameterValuesResponse', ParameterList: out };
};

/** Is an ACS-declared xsi:type acceptable for a parameter? xsd:string is taken for any type (common ACS habit). */
function typeMatches(declared: string | undefined, def: ParamDef): boolean {
  if (declared === undefined || declared === 'string' || def.list) return true;
  const want = XSD_TYPE[def.type];
  return declared === want || (INTEGER.has(declared) && INTEGER.has(def.type));
}

/**
 * SetParameterValues (A.3.2.1): all or nothing. The ACS may not write read-only parameters, so access and
 * types are checked here against the schema; the values and ParameterKey are then committed in ONE
 * transaction as 'system' (ParameterKey is read-only to everyone else), so a failed set changes neither.
 */
export const setParameterValues: RpcHandler<'SetParameterValues'> = (req, ctx) => {
  const { dm } = ctx;
  if (req.ParameterKey.length > 32) throw new CwmpFault(9003, 'ParameterKey longer than 32 characters');
  const errors: DmErrorDetail[] = [];
  const wrongType = new Set<string>();
  const seen = new Set<string>();
  for (const p of req.ParameterList) {
    const err = (kind: DmErrorDetail['kind'], message: string) => errors.push({ path: p.Name, kind, message });
    let node;
    try {
      const nodes = dm.resolve(cwmpPath(dm, p.Name), 'cwmp');
      node = nodes.length === 1 ? nodes[0] : undefined;
    } catch (e) {
      if (e instanceof CwmpFault || e instanceof DmError) { err('InvalidPath', e.message); continue; }
      throw e;
    }
    if (!node || node.kind !== 'param') { err('InvalidPath', 'no such parameter'); continue; }
    if (seen.has(node.path)) { err('InvalidArgument', 'parameter named twice'); continue; }
    seen.add(node.path);
    const writeOnceDone = node.def.access === 'writeOnceReadOnly' && dm.getValue(node.path) !== '';
    if (node.def.access === 'readOnly' || node.object.counters.has(node.def.name) || writeOnceDone) { err('NotWritable', 'parameter is not writable'); continue; }
    if (!typeMatches(p.type, node.def)) { wrongType.add(p.Name); err('InvalidValue', `xsi:type ${p.type} does not match ${xsdTypeOf(node.def)}`); continue; }
    try {
      canonical(node.def, p.Value);
    } catch (e) {
      err('InvalidValue', e instanceof Error ? e.message : String(e));
    }
  }
  if (errors.length) throw withTypeFaults(spvFault(DmError.from(errors)), wrongType);
  try {
    ctx.acsCommit(() => dm.commit([
      ...req.ParameterList.map((p) => ({ op: 'set' as const, path: p.Name, value: p.Value })),
      { op: 'set', path: PARAMETER_KEY, value: req.ParameterKey },
    ], 'system', 'cwmp'));
  } catch (e) {
    if (e instanceof DmError) throw spvFault(e);
    throw e;
  }
  return { method: 'SetParameterValuesResponse', Status: 0 };
};

/** Parameters whose xsi:type was wrong get 9006 (Invalid parameter type) instead of 9007. */
function withTypeFaults(f: CwmpFault, wrongType: ReadonlySet<string>): CwmpFault {
  return new CwmpFault(f.code, f.message, f.params.map((p) => (wrongType.has(p.ParameterName) ? { ...p, FaultCode: 9006 as const } : p)));
}

export const getParameterAttributes: RpcHandler<'GetParameterAttributes'> = (req, { dm }) => {
  const list = [];
  for (const name of req.ParameterNames) {
    const path = cwmpPath(dm, rootOr(name));
    if (dm.resolve(path, 'cwmp').length === 0) throw new CwmpFault(9005, `${name}: no such object or parameter`);
    for (const a of dm.getAttributes(path.toString(), 'cwmp')) list.push({ Name: a.path, Notification: a.notification, AccessList: a.accessList });
  }
  return { method: 'GetParameterAttributesResponse', ParameterList: list };
};

/** SetParameterAttributes (A.3.2.4): all or nothing; 9009 when active notification is refused. */
export const setParameterAttributes: RpcHandler<'SetParameterAttributes'> = (req, { dm }) => {
  const items = req.ParameterList.map((s) => {
    const path = cwmpPath(dm, rootOr(s.Name));
    if (dm.resolve(path, 'cwmp').length === 0) throw new CwmpFault(9005, `${s.Name}: no such object or parameter`);
    if (s.NotificationChange && s.Notification > 2) throw new CwmpFault(9003, `notification ${s.Notification} (lightweight) is not supported`);
    return {
      path: path.toString(),
      ...(s.NotificationChange ? { notification: s.Notification } : {}),
      ...(s.AccessListChange ? { accessList: s.AccessList } : {}),
    };
  });
  dm.setAttributes(items, 'cwmp');
  return { method: 'SetParameterAttributesResponse' };
};
