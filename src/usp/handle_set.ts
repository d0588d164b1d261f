// Set (TR-369 §7.5.2 "The Set Message"). Every parameter of every resolved object is written in ONE core
// transaction. A failing required parameter fails its UpdateObject (allow_partial) or the whole message
// (Error with param_errs); a failing non-required parameter is left out and reported in param_errs.
import { isDmError, type Change, type DmErrorDetail } from '../datamodel/index.ts';
import type { Set } from './codec.ts';
import { parsePath, type HandlerContext } from './context.ts';
import { codeOf, toUspError, UspError, USP_ERR } from './errors.ts';

interface Item {
  obj: number; // index of its UpdateObject
  object: string; // resolved object path
  param: string;
  path: string;
  value: string;
  required: boolean;
  error?: { err_code: number; err_msg: string };
}

export function handleSet(ctx: HandlerContext, req: Set) {
  const items: Item[] = [];
  const objFailure = new Map<number, { err_code: number; err_msg: string; path?: string }>();
  req.update_objs.forEach((u, obj) => {
    try {
      const path = parsePath(u.obj_path.endsWith('.') ? u.obj_path : `${u.obj_path}.`);
      const objects = ctx.dm.resolve(path, 'usp').filter((n) => n.kind === 'object');
      if (!objects.length && path.isConcrete) throw new UspError(USP_ERR.OBJECT_DOES_NOT_EXIST, `${u.obj_path}: no such object`);
      for (const o of objects)
        for (const s of u.param_settings) {
          const item: Item = { obj, object: o.path, param: s.param, path: `${o.path}${s.param}`, value: s.value, required: s.required };
          if (!ctx.perms.can('Param', item.path, 'w')) item.error = { err_code: USP_ERR.PERMISSION_DENIED, err_msg: 'write permission denied' };
          items.push(item);
        }
    } catch (e) {
      objFailure.set(obj, toUspError(e));
    }
  });

  // Commit what is left; each failure removes items (non-required: the item; required: its UpdateObject).
  const failRequired = (it: Item) => {
    if (!objFailure.has(it.obj)) objFailure.set(it.obj, { err_code: USP_ERR.REQUIRED_PARAM_FAILED, err_msg: `${it.path}: ${it.error!.err_msg}`, path: it.path });
  };
  for (;;) {
    for (const it of items) if (it.error && it.required) failRequired(it);
    if (!req.allow_partial && objFailure.size) return errorOf(items, objFailure);
    const live = items.filter((it) => !it.error && !objFailure.has(it.obj));
    if (!live.length) break;
    try {
      ctx.dm.commit(live.map((it): Change => ({ op: 'set', path: it.path, value: it.value })), 'usp', 'usp');
      break;
    } catch (e) {
      if (!isDmError(e)) throw e;
      const details: DmErrorDetail[] = e.details.length ? [...e.details] : [{ path: e.path ?? '', kind: e.kind, message: e.message }];
      let blamed = 0;
      for (const d of details) {
        const hit = live.filter((it) => it.path === d.path || (d.path.endsWith('.') && it.object.startsWith(d.path)));
        for (const it of hit.length ? hit : live) { it.error = { err_code: codeOf(d.kind), err_msg: d.message }; blamed++; }
      }
      if (!blamed) throw e;
    }
  }

  const updated_obj_results = req.update_objs.map((u, obj) => {
    const failure = objFailure.get(obj);
    if (failure) {
      const updated_inst_failures = groupInstances(items.filter((it) => it.obj === obj && it.error)).map(([affected_path, its]) => ({
        affected_path, param_errs: its.map((it) => ({ param: it.param, ...it.error! })),
      }));
      return { requested_path: u.obj_path, oper_status: { oper_failure: { err_code: failure.err_code, err_msg: failure.err_msg, updated_inst_failures } } };
    }
    const updated_inst_results = groupInstances(items.filter((it) => it.obj === obj)).map(([affected_path, its]) => ({
      affected_path,
      param_errs: its.filter((it) => it.error).map((it) => ({ param: it.param, ...it.error! })),
      updated_params: Object.fromEntries(its.filter((it) => !it.error).map((it) => [it.param, ctx.dm.getValue(it.path)])),
    }));
    return { requested_path: u.obj_path, oper_status: { oper_success: { updated_inst_results } } };
  });
  return { set_resp: { updated_obj_results } };
}

function groupInstances(items: Item[]): [string, Item[]][] {
  const m = new Map<string, Item[]>();
  for (const it of items) m.set(it.object, [...(m.get(it.object) ?? []), it]);
  return [...m];
}

/** allow_partial=false and something failed: one Error naming every failing parameter (TR-369 R-SET.5). */
function errorOf(items: Item[], objFailure: Map<number, { err_code: number; err_msg: string; path?: string }>): never {
  const param_errs = items.filter((it) => it.error && it.required).map((it) => ({ param_path: it.path, ...it.error! }));
  const first = [...objFailure.values()][0];
  const code = param_errs.length ? param_errs[0].err_code : first.err_code;
  throw new UspError(code, first.err_msg, param_errs);
}
