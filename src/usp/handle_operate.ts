// Operate (TR-369 §7.5.5, §7.4.5 "Commands"). Sync commands answer with their output arguments. Async
// commands get a Device.LocalAgent.Request.{i} instance, answered at once with its path; the result goes
// out later as an OperationComplete Notify and the Request instance is removed (TR-181 Request.{i}).
// Input arguments are checked before anything starts: a missing mandatory or bad one is a cmd_failure 7027 in
// the OperateResp itself (R-OPR.5), never a Request and a later OperationComplete.
import { isDmError, schemaOf, type DataModel } from '../datamodel/index.ts';
import type { Operate } from './codec.ts';
import { parsePath, type HandlerContext } from './context.ts';
import { toUspError, UspError, USP_ERR } from './errors.ts';

export interface OperationResult {
  path: string; // "Device.IP.Diagnostics.IPPing()"
  commandKey: string;
  output?: Record<string, string>;
  failure?: { err_code: number; err_msg: string };
}

export type OnComplete = (r: OperationResult) => void;

export async function handleOperate(ctx: HandlerContext, req: Operate, onComplete: OnComplete) {
  const path = parsePath(req.command);
  const nodes = ctx.dm.resolve(path, 'usp');
  if (nodes.some((n) => n.kind !== 'command')) throw new UspError(USP_ERR.INVALID_PATH, `${req.command}: not a command`);
  if (!nodes.length && path.isConcrete) throw new UspError(USP_ERR.OBJECT_DOES_NOT_EXIST, `${req.command}: no such object`);
  const operation_results = [];
  for (const node of nodes) {
    if (node.kind !== 'command') continue;
    if (!ctx.perms.can('CommandEvent', node.path, 'x')) {
      operation_results.push({ executed_command: node.path, cmd_failure: { err_code: USP_ERR.PERMISSION_DENIED, err_msg: 'operate permission denied' } });
      continue;
    }
    if (!ctx.dm.hasCommand(`${schemaOf(node.objectPath)}${node.def.name}`)) {
      operation_results.push({ executed_command: node.path, cmd_failure: { err_code: USP_ERR.COMMAND_FAILURE, err_msg: 'command not supported' } });
      continue;
    }
    if (!node.def.async) {
      try {
        const [r] = await ctx.dm.operate(node.path, req.input_args, 'usp', req.command_key);
        operation_results.push({ executed_command: node.path, req_output_args: { output_args: r.output } });
      } catch (e) {
        operation_results.push({ executed_command: node.path, cmd_failure: failureOf(e) });
      }
      continue;
    }
    let request: string;
    try {
      ctx.dm.checkCommand(node.path, req.input_args);
      request = ctx.dm.add('Device.LocalAgent.Request.', 'system', {
        Originator: ctx.controller.endpointId, Command: node.path, CommandKey: req.command_key, Status: 'Active',
      }, 'usp').path;
    } catch (e) {
      operation_results.push({ executed_command: node.path, cmd_failure: failureOf(e) });
      continue;
    }
    operation_results.push({ executed_command: node.path, req_obj_path: request });
    void runAsync(ctx.dm, node.path, req, request, onComplete);
  }
  return { operate_resp: { operation_results } };
}

async function runAsync(dm: DataModel, path: string, req: Operate, request: string, onComplete: OnComplete) {
  let result: OperationResult;
  try {
    const [r] = await dm.operate(path, req.input_args, 'usp', req.command_key);
    result = { path, commandKey: req.command_key, output: r.output };
  } catch (e) {
    result = { path, commandKey: req.command_key, failure: failureOf(e) };
  }
  try {
    dm.delete(request, 'system', 'usp');
  } catch {
    /* already gone (a reboot or a factory reset cleared the table) */
  }
  onComplete(result);
}

function failureOf(e: unknown) {
  // Bad input arguments are the controller's fault (7027); anything else failed while running (7022).
  if (isDmError(e) && (e.kind === 'InvalidArgument' || e.kind === 'InvalidValue')) return { err_code: USP_ERR.INVALID_COMMAND_ARGS, err_msg: e.message };
  const u = toUspError(e);
  return isDmError(e) || e instanceof UspError ? u : { err_code: USP_ERR.COMMAND_FAILURE, err_msg: e instanceof Error ? e.message : String(e) };
}
