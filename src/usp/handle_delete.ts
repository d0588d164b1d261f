// Delete (TR-369 §7.5.4 "The Delete Message"). A path that resolves to no instance is a success with no
// affected paths (R-DEL.2a). allow_partial=false deletes everything in one transaction or nothing, and the Error
// names every failing path in param_errs (R-DEL.1); allow_partial=true treats each requested path on its own
// (R-DEL.0): a path that is not an instance path fails as a whole (oper_failure), an instance that may not be
// deleted is listed in unaffected_path_errs while the others go (R-DEL.3).
import { isDmError } from '../datamodel/index.ts';
import type { Delete } from './codec.ts';
import { parsePath, type HandlerContext } from './context.ts';
import { codeOf, toUspError, UspError, USP_ERR } from './errors.ts';

interface PathErr { path: string; err_code: number; err_msg: string }

interface Plan {
  requested_path: string;
  /** Instances to delete. */
  objs: string[];
  /** Matched instances that may not be deleted. */
  refused: PathErr[];
  /** The requested path itself failed. */
  failure?: PathErr;
  affected: string[];
}

export function handleDelete(ctx: HandlerContext, req: Delete) {
  const plans = req.obj_paths.map((requested_path): Plan => {
    const plan: Plan = { requested_path, objs: [], refused: [], affected: [] };
    try {
      for (const n of ctx.dm.resolve(parsePath(requested_path.endsWith('.') ? requested_path : `${requested_path}.`), 'usp')) {
        if (n.kind !== 'object' || !n.def.multi) throw new UspError(USP_ERR.OBJECT_NOT_DELETABLE, `${n.path}: not a table instance`);
        if (!n.def.writable) plan.refused.push({ path: n.path, err_code: USP_ERR.OBJECT_NOT_DELETABLE, err_msg: `${n.path}: instances of this table cannot be deleted` });
        else if (!ctx.perms.can('InstantiatedObj', n.path, 'w')) plan.refused.push({ path: n.path, err_code: USP_ERR.PERMISSION_DENIED, err_msg: `${n.path}: delete permission denied` });
        else plan.objs.push(n.path);
      }
    } catch (e) {
      plan.failure = { path: requested_path, ...toUspError(e) };
    }
    return plan;
  });
  const run = (group: Plan[]) => {
    const r = ctx.dm.commit(group.flatMap((p) => p.objs.map((path) => ({ op: 'delete' as const, path }))), 'usp', 'usp');
    for (const p of group) p.affected = r.event.deleted.filter((d) => p.objs.some((o) => d.startsWith(o))).reverse();
  };

  if (!req.allow_partial) {
    const failed = plans.flatMap((p) => (p.failure ? [p.failure] : p.refused));
    if (failed.length) throw errorOf(failed);
    try {
      run(plans);
    } catch (e) {
      if (!isDmError(e)) throw e;
      throw errorOf(e.details.length ? e.details.map((d) => ({ path: d.path, err_code: codeOf(d.kind), err_msg: d.message })) : [{ path: e.path ?? '', ...toUspError(e) }]);
    }
  } else {
    for (const p of plans) {
      if (p.failure || !p.objs.length) continue;
      try {
        run([p]);
      } catch (e) {
        p.failure = { path: p.requested_path, ...toUspError(e) };
      }
    }
  }
  const deleted_obj_results = plans.map((p) => ({
    requested_path: p.requested_path,
    oper_status: p.failure
      ? { oper_failure: { err_code: p.failure.err_code, err_msg: p.failure.err_msg } }
      : { oper_success: { affected_paths: p.affected, unaffected_path_errs: p.refused.map((r) => ({ unaffected_path: r.path, err_code: r.err_code, err_msg: r.err_msg })) } },
  }));
  return { delete_resp: { deleted_obj_results } };
}

/** One Error naming every failing path with its own code (R-DEL.1). */
function errorOf(failed: PathErr[]): UspError {
  return new UspError(failed[0].err_code, failed[0].err_msg, failed.map((f) => ({ param_path: f.path, err_code: f.err_code, err_msg: f.err_msg })));
}
