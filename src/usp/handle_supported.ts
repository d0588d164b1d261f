// GetSupportedDM (TR-369 §7.5.7), GetInstances (§7.5.8) and GetSupportedProtocol (§7.5.9). Supported-DM
// answers come from the schema (the data is the BBF XML, STYLE §3); commands count as supported only when a
// handler is registered for them.
import { Path, Schema, type DataModel, type ObjectDef, type ParamDef } from '../datamodel/index.ts';
import { SUPPORTED_VERSIONS, type GetInstances, type GetSupportedDM, type GetSupportedProtocol } from './codec.ts';
import { uniqueKeysOf, type HandlerContext } from './context.ts';
import { toUspError, UspError, USP_ERR } from './errors.ts';

const VALUE_TYPE: Record<string, string> = {
  base64: 'PARAM_BASE_64', boolean: 'PARAM_BOOLEAN', dateTime: 'PARAM_DATE_TIME', decimal: 'PARAM_DECIMAL',
  hexBinary: 'PARAM_HEX_BINARY', int: 'PARAM_INT', long: 'PARAM_LONG', string: 'PARAM_STRING',
  unsignedInt: 'PARAM_UNSIGNED_INT', unsignedLong: 'PARAM_UNSIGNED_LONG',
};

/** The supported-object path of a schema object ("Device.IP.Interface.{i}."). */
const supportedPath = (def: ObjectDef) => def.path;

function objectResult(dm: DataModel, def: ObjectDef, req: GetSupportedDM) {
  const access = def.multi ? (def.writable ? 'OBJ_ADD_DELETE' : 'OBJ_READ_ONLY') : 'OBJ_READ_ONLY';
  return {
    supported_obj_path: supportedPath(def),
    access,
    is_multi_instance: def.multi,
    supported_commands: req.return_commands
      ? [...def.commands.values()].filter((c) => dm.hasCommand(`${def.path}${c.name}`)).map((c) => ({
        command_name: c.name, input_arg_names: c.input.map((a) => a.name), output_arg_names: c.output.map((a) => a.name),
        command_type: c.async ? 'CMD_ASYNC' : 'CMD_SYNC',
      }))
      : [],
    supported_events: req.return_events ? [...def.events.values()].map((e) => ({ event_name: e.name, arg_names: e.params.map((p) => p.name) })) : [],
    supported_params: req.return_params ? [...def.params.values()].map((p: ParamDef) => ({
      param_name: p.name,
      access: p.access === 'readOnly' ? 'PARAM_READ_ONLY' : 'PARAM_READ_WRITE',
      value_type: VALUE_TYPE[p.type] ?? 'PARAM_UNKNOWN',
      value_change: p.activeNotify === 'canDeny' ? 'VALUE_CHANGE_WILL_IGNORE' : 'VALUE_CHANGE_ALLOWED',
    })) : [],
    divergent_paths: [],
    unique_key_sets: req.return_unique_key_sets ? def.uniqueKeys.map((k) => ({ key_names: [...k.params] })) : [],
  };
}

export function handleGetSupportedDM(ctx: HandlerContext, req: GetSupportedDM) {
  const req_obj_results = req.obj_paths.map((req_obj_path) => {
    try {
      const text = req_obj_path.endsWith('.') ? req_obj_path : `${req_obj_path}.`;
      const schemaPath = Path.parse(text).schemaPath;
      const def = ctx.dm.schema.object(schemaPath) ?? ctx.dm.schema.object(`${schemaPath}{i}.`);
      if (!def || !Schema.serves(def, 'usp')) throw new UspError(USP_ERR.INVALID_PATH, `${req_obj_path}: no such object`);
      if (!ctx.perms.can('Obj', text, 'r')) throw new UspError(USP_ERR.PERMISSION_DENIED, `${req_obj_path}: permission denied`);
      const supported_objs: ReturnType<typeof objectResult>[] = [];
      const visit = (d: ObjectDef, depth: number) => {
        if (!Schema.serves(d, 'usp')) return;
        supported_objs.push(objectResult(ctx.dm, d, req));
        if (req.first_level_only && depth >= 1) return;
        for (const c of d.children) visit(c, depth + 1);
      };
      visit(def, 0);
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
      const path = Path.parse(requested_path.endsWith('.') ? requested_path : `${requested_path}.`);
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
