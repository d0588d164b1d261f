// Add (TR-369 §7.5.3 "The Add Message"). Every instance is created in the core transaction of its unit, together
// with the values the agent owns in it (Subscription.Recipient): with allow_partial=false the whole message is
// one unit, all or nothing (R-ADD.1, R-ADD.2a), and a failure is an Error whose param_errs name every failing
// parameter (or path) with its own code; with allow_partial=true each table matched by each CreateObject is a
// unit of its own (R-ADD.0) and a failure is the oper_failure of its CreatedObjectResult. A failing non-required
// parameter is left out and reported in the success's param_errs (R-ADD.4); a failing required parameter, or
// any unique-key parameter (§7.5.3 CreateParamSetting: always required), fails its object (R-ADD.3).
import { isDmError, type Change, type DmErrorDetail } from '../datamodel/index.ts';
import type { Add } from './codec.ts';
import { parsePath, uniqueKeysOf, type HandlerContext } from './context.ts';
import { codeOf, toUspError, UspError, USP_ERR } from './errors.ts';

interface ParamErr { param: string; err_code: number; err_msg: string }

/** One instance to create: a table matched by one CreateObject. */
interface Unit {
  requested_path: string;
  /** The table path ("Device.NAT.InterfaceSetting."); absent when the requested path did not resolve. */
  table?: string;
  values: Map<string, { value: string; required: boolean }>;
  /** Left-out non-required parameters (reported in oper_success). */
  dropped: ParamErr[];
  /** Why the object was not created: its failing parameters, or the object itself (no param). */
  failure?: (ParamErr & { object?: true })[];
  created?: string;
}

/**
 * Values the agent owns in a new instance of a table, by schema path (TR-181: "automatically populated by the
 * USP Agent upon creation"). They join the Add's own transaction, so the row never exists without them.
 */
const AGENT_OWNED: Record<string, (ctx: HandlerContext) => Record<string, string>> = {
  'Device.LocalAgent.Subscription.{i}.': (ctx) => ({
    ...(ctx.controller.path ? { Recipient: ctx.controller.path.slice(0, -1) } : {}),
    CreationDate: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
  }),
};

export function handleAdd(ctx: HandlerContext, req: Add) {
  const units: Unit[] = req.create_objs.flatMap((c): Unit[] => {
    const values = new Map(c.param_settings.map((s) => [s.param, { value: s.value, required: s.required }]));
    try {
      const nodes = ctx.dm.resolve(parsePath(c.obj_path.endsWith('.') ? c.obj_path : `${c.obj_path}.`), 'usp');
      if (nodes.some((n) => n.kind !== 'table')) throw new UspError(USP_ERR.NOT_A_TABLE, `${c.obj_path}: not a table`);
      if (!nodes.length) throw new UspError(USP_ERR.OBJECT_DOES_NOT_EXIST, `${c.obj_path}: no such object`);
      for (const n of nodes) if (!ctx.perms.can('Obj', n.path, 'w')) throw new UspError(USP_ERR.PERMISSION_DENIED, `${n.path}: add permission denied`);
      return nodes.map((n) => ({ requested_path: c.obj_path, table: n.path, values: new Map(values), dropped: [] }));
    } catch (e) {
      return [{ requested_path: c.obj_path, values, dropped: [], failure: [{ param: '', object: true, ...toUspError(e) }] }];
    }
  });

  const groups = req.allow_partial ? units.map((u) => [u]) : [units];
  for (const group of groups) if (!group.some((u) => u.failure)) commitGroup(ctx, group);

  if (!req.allow_partial && units.some((u) => u.failure)) throw errorOf(units);
  const created_obj_results = units.map((u) => ({
    requested_path: u.requested_path,
    oper_status: u.failure
      ? { oper_failure: operFailure(u.failure) }
      : { oper_success: { instantiated_path: u.created!, param_errs: u.dropped, unique_keys: readableKeys(ctx, u.created!) } },
  }));
  return { add_resp: { created_obj_results } };
}

/**
 * Commits one unit group in one core transaction. Each refused non-required parameter is left out and the
 * group tried again (nothing is written by a refused try); any other refusal fails the object it belongs to,
 * and with it the group.
 */
function commitGroup(ctx: HandlerContext, group: Unit[]): void {
  for (;;) {
    const changes = group.map((u): Change => ({
      op: 'add', table: u.table!, values: Object.fromEntries([...u.values].map(([k, v]) => [k, v.value])),
      agentValues: AGENT_OWNED[`${u.table}{i}.`]?.(ctx),
    }));
    try {
      const r = ctx.dm.commit(changes, 'usp', 'usp');
      group.forEach((u, i) => { u.created = r.added[i].path; });
      return;
    } catch (e) {
      if (!isDmError(e)) throw e;
      const details: readonly DmErrorDetail[] = e.details.length ? e.details : [{ path: e.path ?? '', kind: e.kind, message: e.message }];
      let dropped = false;
      for (const d of details) {
        const u = d.change === undefined ? undefined : group[d.change];
        const param = u && paramOf(u.table!, d.path);
        const err = { param: param ?? '', err_code: codeOf(d.kind), err_msg: d.message };
        const setting = param !== undefined ? u!.values.get(param) : undefined;
        if (u && setting && !setting.required && !isKey(ctx, u.table!, param!)) {
          u.values.delete(param!);
          u.dropped.push(err);
          dropped = true;
        } else {
          for (const v of u ? [u] : group) (v.failure ??= []).push(param === undefined ? { ...err, object: true } : err);
        }
      }
      if (group.some((u) => u.failure)) return;
      if (!dropped) throw e; // a refusal that names nothing: not the controller's parameters
    }
  }
}

/** The parameter (relative to the new instance) a detail names, or undefined for the object itself. */
function paramOf(table: string, path: string): string | undefined {
  const m = path.slice(table.length).match(/^\d+\.(.+)$/);
  return path.startsWith(table) && m ? m[1] : undefined;
}

const isKey = (ctx: HandlerContext, table: string, param: string) =>
  !!ctx.dm.schema.object(`${table}{i}.`)?.uniqueKeys.some((k) => k.params.includes(param));

/** R-ADD.6: unique keys the controller may not read are left out. */
function readableKeys(ctx: HandlerContext, objectPath: string): Record<string, string> {
  return Object.fromEntries(Object.entries(uniqueKeysOf(ctx.dm, objectPath)).filter(([k]) => ctx.perms.can('Param', `${objectPath}${k}`, 'r')));
}

/** AddResp's OperationFailure has no param_errs: its message names each failing parameter with its code. */
function operFailure(failure: NonNullable<Unit['failure']>) {
  const [first] = failure;
  if (failure.length === 1) return { err_code: first.err_code, err_msg: first.param ? `${first.param}: ${first.err_msg}` : first.err_msg };
  return { err_code: first.err_code, err_msg: failure.map((f) => `${f.param || 'object'} (${f.err_code}): ${f.err_msg}`).join('; ') };
}

/** allow_partial=false: one Error, a ParamError per failing parameter ("<table>{i}.<param>") or path. */
function errorOf(units: Unit[]): UspError {
  const param_errs = units.flatMap((u) => (u.failure ?? []).map((f) => ({
    param_path: f.object ? (u.table ?? u.requested_path) : `${u.table}{i}.${f.param}`, err_code: f.err_code, err_msg: f.err_msg,
  })));
  return new UspError(param_errs[0].err_code, `${param_errs[0].param_path}: ${param_errs[0].err_msg}`, param_errs);
}
