// Get (TR-369 §7.5.1 "The Get Message"): one RequestedPathResult per requested path, one ResolvedPathResult
// per object, parameter names relative to that object. max_depth 0 means unlimited (1 = the object itself).
import type { ParamValue } from '../datamodel/index.ts';
import type { Get } from './codec.ts';
import { parsePath, type HandlerContext } from './context.ts';
import { toUspError, USP_ERR } from './errors.ts';

export function handleGet(ctx: HandlerContext, req: Get) {
  const req_path_results = req.param_paths.map((requested_path) => {
    try {
      const path = parsePath(requested_path);
      const values = ctx.dm.get(path, { protocol: 'usp', maxDepth: req.max_depth > 0 ? req.max_depth - 1 : undefined });
      const readable = values.filter((v) => ctx.perms.can('Param', v.path, 'r'));
      if (values.length === 0 && path.isConcrete && !ctx.dm.resolve(path, 'usp').length)
        return { requested_path, err_code: USP_ERR.INVALID_PATH, err_msg: `${requested_path}: no such object instance`, resolved_path_results: [] };
      if (values.length > 0 && readable.length === 0 && !path.partial)
        return { requested_path, err_code: USP_ERR.PERMISSION_DENIED, err_msg: `${requested_path}: read permission denied`, resolved_path_results: [] };
      return { requested_path, err_code: 0, err_msg: '', resolved_path_results: groupByObject(readable) };
    } catch (e) {
      return { requested_path, ...toUspError(e), resolved_path_results: [] };
    }
  });
  return { get_resp: { req_path_results } };
}

/** One result per object instance, in the order the core returns them (parents first). */
function groupByObject(values: ParamValue[]) {
  const out: { resolved_path: string; result_params: Record<string, string> }[] = [];
  let cur: (typeof out)[number] | undefined;
  for (const v of values) {
    const cut = v.path.lastIndexOf('.') + 1;
    const obj = v.path.slice(0, cut);
    if (!cur || cur.resolved_path !== obj) out.push((cur = { resolved_path: obj, result_params: {} }));
    cur.result_params[v.path.slice(cut)] = v.value;
  }
  return out;
}
