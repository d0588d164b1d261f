// Parameter RPCs (TR-069 A.3.2.1-A.3.2.5): GetParameterNames, GetParameterValues, SetParameterValues,
// GetParameterAttributes, SetParameterAttributes. Reads and writes go through the data model with
// protocol 'cwmp' (USP-only objects stay hidden).
import { DmError, type Change, type DmErrorDetail, type ParamDef } from '../../datamodel/index.ts';
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
 * SetParameterValues (A.3.2.1): all or nothing. The xsi:type each value declares is checked here (9006);
 * access, types, ranges and unique keys are the core's checks. The values and ParameterKey (read-only to the
 * ACS, written with the agent's authority) are committed in ONE transaction, so a failed set changes neither.
 */
export const setParameterValues: RpcHandler<'SetParameterValues'> = (req, ctx) => {
  const { dm } = ctx;
  if (req.ParameterKey.length > 32) throw new CwmpFault(9003, 'ParameterKey longer than 32 characters');
  const errors: DmErrorDetail[] = [];
  const wrongType = new Set<string>();
  const changes: Change[] = [];
  for (const p of req.ParameterList) {
    let node;
    try {
      const nodes = dm.resolve(cwmpPath(dm, p.Name), 'cwmp');
      node = nodes.length === 1 ? nodes[0] : undefined;
    } catch (e) {
      if (e instanceof CwmpFault || e instanceof DmError) { errors.push({ path: p.Name, kind: 'InvalidPath', message: e.message }); continue; }
      throw e;
    }
    if (!node || node.kind !== 'param') { errors.push({ path: p.Name, kind: 'InvalidPath', message: 'no such parameter' }); continue; }
    // Read-only to the ACS; the agent writes it below with the request's key.
    if (node.path === PARAMETER_KEY) { errors.push({ path: p.Name, kind: 'NotWritable', message: 'parameter is read-only' }); continue; }
    if (!typeMatches(p.type, node.def)) {
      wrongType.add(p.Name);
      errors.push({ path: p.Name, kind: 'InvalidValue', message: `xsi:type ${p.type} does not match ${xsdTypeOf(node.def)}` });
      continue;
    }
    changes.push({ op: 'set', path: node.path, value: p.Value });
  }
  const all: Change[] = [...changes, { op: 'set', path: PARAMETER_KEY, value: req.ParameterKey, privileged: true }];
  try {
    if (errors.length) {
      // Nothing is written; the core still names every other bad parameter, reported with the ones above.
      try {
        dm.validate(all, 'cwmp', 'cwmp');
      } catch (e) {
        if (!(e instanceof DmError)) throw e;
        errors.push(...e.details);
      }
      throw DmError.from(errors);
    }
    ctx.acsCommit(() => dm.commit(all, 'cwmp', 'cwmp'));
  } catch (e) {
    if (e instanceof DmError) throw withTypeFaults(spvFault(e), wrongType);
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
