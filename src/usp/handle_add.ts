// Add (TR-369 §7.5.3 "The Add Message"). With allow_partial=false all CreateObjects are one transaction
// (all or nothing, Error on failure); with allow_partial=true each CreateObject is its own transaction.
// A failing non-required parameter is dropped and reported in param_errs; a required one fails the object.
import { isDmError, Path, type Change } from '../datamodel/index.ts';
import type { Add } from './codec.ts';
import { uniqueKeysOf, type HandlerContext } from './context.ts';
import { codeOf, toUspError, UspError, USP_ERR } from './errors.ts';

interface Create {
  requested_path: string;
  tables: string[];
  values: Map<string, { value: string; required: boolean }>;
  param_errs: { param: string; err_code: number; err_msg: string }[];
  failure?: { err_code: number; err_msg: string };
  created: string[];
}

/** Called after each successful Add, so the agent can fill in agent-owned values (Subscription.Recipient). */
export type AfterAdd = (objectPath: string) => void;

export function handleAdd(ctx: HandlerContext, req: Add, afterAdd: AfterAdd) {
  const creates: Create[] = req.create_objs.map((c) => {
    const cr: Create = { requested_path: c.obj_path, tables: [], values: new Map(), param_errs: [], created: [] };
    try {
      const path = Path.parse(c.obj_path.endsWith('.') ? c.obj_path : `${c.obj_path}.`);
      const nodes = ctx.dm.resolve(path, 'usp');
      if (nodes.some((n) => n.kind !== 'table')) throw new UspError(USP_ERR.NOT_A_TABLE, `${c.obj_path}: not a table`);
      if (!nodes.length) throw new UspError(USP_ERR.OBJECT_DOES_NOT_EXIST, `${c.obj_path}: no such object`);
      cr.tables = nodes.map((n) => n.path);
      for (const t of cr.tables) if (!ctx.perms.can('Obj', t, 'w')) throw new UspError(USP_ERR.PERMISSION_DENIED, `${t}: add permission denied`);
      for (const s of c.param_settings) cr.values.set(s.param, { value: s.value, required: s.required });
    } catch (e) {
      cr.failure = toUspError(e);
    }
    return cr;
  });

  const groups = req.allow_partial ? creates.map((c) => [c]) : [creates];
  for (const group of groups) {
    if (group.some((c) => c.failure)) continue;
    for (;;) {
      const changes: Change[] = group.flatMap((c) => c.tables.map((table): Change => ({
        op: 'add', table, values: Object.fromEntries([...c.values].map(([k, v]) => [k, v.value])),
      })));
      try {
        const r = ctx.dm.commit(changes, 'usp', 'usp');
        let i = 0;
        for (const c of group) for (const _t of c.tables) c.created.push(r.added[i++].path);
        break;
      } catch (e) {
        if (!isDmError(e)) throw e;
        let progressed = false;
        for (const d of e.details.length ? e.details : [{ path: e.path ?? '', kind: e.kind, message: e.message }]) {
          const param = d.path.slice(d.path.lastIndexOf('.') + 1);
          const owner = group.find((c) => c.tables.some((t) => d.path.startsWith(t)) && c.values.has(param)) ?? group.find((c) => c.tables.some((t) => d.path.startsWith(t)));
          const v = owner?.values.get(param);
          if (owner && v && !v.required) {
            owner.param_errs.push({ param, err_code: codeOf(d.kind), err_msg: d.message });
            owner.values.delete(param);
            progressed = true;
          } else {
            for (const c of owner ? [owner] : group) c.failure ??= { err_code: codeOf(d.kind), err_msg: d.message };
          }
        }
        if (!progressed) {
          for (const c of group) c.failure ??= toUspError(e);
          break;
        }
      }
    }
  }
  if (!req.allow_partial) {
    const failed = creates.find((c) => c.failure);
    if (failed) throw new UspError(failed.failure!.err_code, failed.failure!.err_msg);
  }
  for (const c of creates) for (const p of c.created) afterAdd(p);
  const created_obj_results = creates.flatMap((c): unknown[] => {
    if (c.failure) return [{ requested_path: c.requested_path, oper_status: { oper_failure: c.failure } }];
    return c.created.map((instantiated_path) => ({
      requested_path: c.requested_path,
      oper_status: { oper_success: { instantiated_path, param_errs: c.param_errs, unique_keys: uniqueKeysOf(ctx.dm, instantiated_path) } },
    }));
  });
  return { add_resp: { created_obj_results } };
}
