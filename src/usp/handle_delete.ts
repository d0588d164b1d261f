// Delete (TR-369 §7.5.4 "The Delete Message"). A path that resolves to no instance is a success with no
// affected paths (R-DEL.2); allow_partial=false deletes everything in one transaction or nothing.
import { Path } from '../datamodel/index.ts';
import type { Delete } from './codec.ts';
import type { HandlerContext } from './context.ts';
import { toUspError, UspError, USP_ERR } from './errors.ts';

export function handleDelete(ctx: HandlerContext, req: Delete) {
  const plans = req.obj_paths.map((requested_path) => {
    try {
      const path = Path.parse(requested_path.endsWith('.') ? requested_path : `${requested_path}.`);
      const nodes = ctx.dm.resolve(path, 'usp');
      const objs: string[] = [];
      for (const n of nodes) {
        if (n.kind !== 'object' || !n.def.multi) throw new UspError(USP_ERR.OBJECT_NOT_DELETABLE, `${n.path}: not a table instance`);
        if (!ctx.perms.can('InstantiatedObj', n.path, 'w')) throw new UspError(USP_ERR.PERMISSION_DENIED, `${n.path}: delete permission denied`);
        objs.push(n.path);
      }
      return { requested_path, objs, affected: [] as string[] };
    } catch (e) {
      return { requested_path, objs: [], affected: [] as string[], failure: toUspError(e) };
    }
  });
  const run = (group: typeof plans) => {
    const r = ctx.dm.commit(group.flatMap((p) => p.objs.map((path) => ({ op: 'delete' as const, path }))), 'usp', 'usp');
    for (const p of group) p.affected = r.event.deleted.filter((d) => p.objs.some((o) => d.startsWith(o))).reverse();
  };
  if (!req.allow_partial) {
    const failed = plans.find((p) => p.failure);
    if (failed) throw new UspError(failed.failure!.err_code, failed.failure!.err_msg);
    run(plans);
  } else {
    for (const p of plans) {
      if (p.failure) continue;
      try {
        run([p]);
      } catch (e) {
        (p as { failure?: unknown }).failure = toUspError(e);
      }
    }
  }
  const deleted_obj_results = plans.map((p) => ({
    requested_path: p.requested_path,
    oper_status: 'failure' in p && p.failure
      ? { oper_failure: p.failure }
      : { oper_success: { affected_paths: p.affected, unaffected_path_errs: [] } },
  }));
  return { delete_resp: { deleted_obj_results } };
}
