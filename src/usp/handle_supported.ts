// GetSupportedDM (TR-369 §7.5.7), GetInstances (§7.5.8) and GetSupportedProtocol (§7.5.9). Supported-DM
// answers come from the schema (the data is the BBF XML, STYLE §3); commands count as supported only when a
// handler is registered for them. Since USP 1.3 a GetSupportedDM path may also name one command, event or
// parameter: the answer is its object with that one element, whatever the request's flags.
import { Schema, type CommandDef, type DataModel, type EventDef, type ObjectDef, type ParamDef } from '../datamodel/index.ts';
import { SUPPORTED_VERSIONS, type GetInstances, type GetSupportedDM, type GetSupportedProtocol } from './codec.ts';
import { parsePath, uniqueKeysOf, type HandlerContext } from './context.ts';
import { toUspError, UspError, USP_ERR } from './errors.ts';

const VALUE_TYPE: Record<string, string> = {
  base64: 'PARAM_BASE_64', boolean: 'PARAM_BOOLEAN', dateTime: 'PARAM_DATE_TIME', decimal: 'PARAM_DECIMAL',
  hexBinary: 'PARAM_HEX_BINARY', int: 'PARAM_INT', long: 'PARAM_LONG', string: 'PARAM_STRING',
  unsignedInt: 'PARAM_UNSIGNED_INT', unsignedLong: 'PARAM_UNSIGNED_LONG',
};

/** What one SupportedObjectResult reports besides the object itself. */
interface Parts { params: ParamDef[]; commands: CommandDef[]; events: EventDef[]; keys: boolean }
const NONE: Parts = { params: [], commands: [], events: [], keys: false };

const paramResult = (p: ParamDef) => ({
  param_name: p.name,
  access: p.access === 'readOnly' ? 'PARAM_READ_ONLY' : 'PARAM_READ_WRITE',
  // ParamValueType is the parameter's base type as the wire carries it: a list is a string (TR-106 §3.2.3).
  value_type: p.list ? 'PARAM_STRING' : (VALUE_TYPE[p.type] ?? 'PARAM_UNKNOWN'),
  value_change: p.activeNotify === 'canDeny' ? 'VALUE_CHANGE_WILL_IGNORE' : 'VALUE_CHANGE_ALLOWED',
});

function objectResult(def: ObjectDef, parts: Parts) {
  return {
    supported_obj_path: def.path,
    access: def.multi && def.writable ? 'OBJ_ADD_DELETE' : 'OBJ_READ_ONLY',
    is_multi_instance: def.multi,
    supported_commands: parts.commands.map((c) => ({
      command_name: c.name, input_arg_names: c.input.map((a) => a.name), output_arg_names: c.output.map((a) => a.name),
      command_type: c.async ? 'CMD_ASYNC' : 'CMD_SYNC',
    })),
    supported_events: parts.events.map((e) => ({ event_name: e.name, arg_names: e.params.map((p) => p.name) })),
    supported_params: parts.params.map(paramResult),
    divergent_paths: [],
    unique_key_sets: parts.keys ? def.uniqueKeys.map((k) => ({ key_names: [...k.params] })) : [],
  };
}

/** The object's own parts the request asks for; commands only when a handler serves them. */
function partsOf(dm: DataModel, def: ObjectDef, req: GetSupportedDM): Parts {
  return {
    params: req.return_params ? [...def.params.values()] : [],
    commands: req.return_commands ? [...def.commands.values()].filter((c) => dm.hasCommand(`${def.path}${c.name}`)) : [],
    events: req.return_events ? [...def.events.values()] : [],
    keys: req.return_unique_key_sets,
  };
}

/**
 * A parameter, command or event path ("Device.Reboot()", "Device.IP.Interface.{i}.Enable"): its object and
 * the one element, or undefined when the path does not end in one.
 */
function leafOf(ctx: HandlerContext, schemaPath: string): { def: ObjectDef; parts: Parts } | undefined {
  const cut = schemaPath.lastIndexOf('.') + 1;
  const def = ctx.dm.schema.object(schemaPath.slice(0, cut));
  const name = schemaPath.slice(cut);
  if (!def || !name) return undefined;
  const command = def.commands.get(name);
  if (command) return ctx.dm.hasCommand(`${def.path}${name}`) ? { def, parts: { ...NONE, commands: [command] } } : undefined;
  const event = def.events.get(name);
  if (event) return { def, parts: { ...NONE, events: [event] } };
  const param = def.params.get(name);
  return param ? { def, parts: { ...NONE, params: [param] } } : undefined;
}

function supportedObjs(ctx: HandlerContext, req: GetSupportedDM, req_obj_path: string): ReturnType<typeof objectResult>[] {
  const path = parsePath(req_obj_path);
  const leaf = path.partial ? undefined : leafOf(ctx, path.schemaPath);
  if (!leaf && !path.partial && /[(!]/.test(req_obj_path.slice(req_obj_path.lastIndexOf('.') + 1)))
    throw new UspError(USP_ERR.INVALID_PATH, `${req_obj_path}: no such command or event is supported`);
  // An object path; the final "{i}." of a table may be left out, and so may the final ".".
  const text = leaf || req_obj_path.endsWith('.') ? req_obj_path : `${req_obj_path}.`;
  const target = leaf ? path : parsePath(text);
  const def = leaf?.def ?? ctx.dm.schema.object(target.schemaPath) ?? ctx.dm.schema.object(`${target.schemaPath}{i}.`);
  if (!def || !Schema.serves(def, 'usp')) throw new UspError(USP_ERR.INVALID_PATH, `${req_obj_path}: no such object, parameter, command or event`);
  // An instance path answers for an object that exists (§7.5.7); "{i}" names the supported data model only.
  if (target.segments.some((s) => s.k === 'index') && !target.segments.some((s) => s.k === 'placeholder') && !ctx.dm.resolve(target, 'usp').length)
    throw new UspError(USP_ERR.OBJECT_DOES_NOT_EXIST, `${req_obj_path}: no such object instance`);
  if (leaf) {
    const kind = leaf.parts.params.length ? 'Param' : 'CommandEvent';
    if (!ctx.perms.can(kind, path.toString(), 'r')) throw new UspError(USP_ERR.PERMISSION_DENIED, `${req_obj_path}: permission denied`);
    return [objectResult(leaf.def, leaf.parts)];
  }
  if (!ctx.perms.can('Obj', text, 'r')) throw new UspError(USP_ERR.PERMISSION_DENIED, `${req_obj_path}: permission denied`);
  const out: ReturnType<typeof objectResult>[] = [];
  const visit = (d: ObjectDef, depth: number) => {
    if (!Schema.serves(d, 'usp')) return;
    // first_level_only: the object with its parts, then its immediate children without theirs (§7.5.7).
    out.push(objectResult(d, req.first_level_only && depth > 0 ? NONE : partsOf(ctx.dm, d, req)));
    if (req.first_level_only && depth >= 1) return;
    for (const c of d.children) visit(c, depth + 1);
  };
  visit(def, 0);
  return out;
}

export function handleGetSupportedDM(ctx: HandlerContext, req: GetSupportedDM) {
  const req_obj_results = req.obj_paths.map((req_obj_path) => {
    try {
      const supported_objs = supportedObjs(ctx, req, req_obj_path);
      return { req_obj_path, err_code: 0, err_msg: '', data_model_inst_uri: 'urn:broadband-forum-org:tr-181-2-19-0-usp', supported_objs };
    } catch (e) {
      return { req_obj_path, ...toUspError(e), data_model_inst_uri: '', supported_objs: [] };
    }
  });
  return { get_supported_dm_resp: { req_obj_results } };
}

export function handleGetInstances(ctx: HandlerContext, req: GetInstances) {
  const req_path_results = req.obj_paths.map((requested_path) => {
    try {
      const path = parsePath(requested_path.endsWith('.') ? requested_path : `${requested_path}.`);
      let insts = ctx.dm.instances(path, 'usp');
      if (req.first_level_only) {
        const tables = ctx.dm.resolve(path, 'usp').map((n) => n.path);
        insts = insts.filter((i) => tables.some((t) => i.startsWith(t) && /^(\d+\.)?$|^[A-Za-z0-9_-]+\.\d+\.$/.test(i.slice(t.length))));
      }
      const curr_insts = insts
        .filter((i) => ctx.perms.can('InstantiatedObj', i, 'r'))
        .map((instantiated_obj_path) => ({ instantiated_obj_path, unique_keys: uniqueKeysOf(ctx.dm, instantiated_obj_path) }));
      return { requested_path, err_code: 0, err_msg: '', curr_insts };
    } catch (e) {
      return { requested_path, ...toUspError(e), curr_insts: [] };
    }
  });
  return { get_instances_resp: { req_path_results } };
}

export function handleGetSupportedProtocol(_ctx: HandlerContext, _req: GetSupportedProtocol) {
  return { get_supported_protocol_resp: { agent_supported_protocol_versions: SUPPORTED_VERSIONS } };
}
