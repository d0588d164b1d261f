// RPC dispatch: one handler per ACS method; any error becomes a CWMP fault (faults.ts).
import type { AcsRequest, CpeMessage } from '../messages.ts';
import { FAULTS, toFault, type FaultCode, type ParamFault } from '../faults.ts';
import type { RpcContext, RpcHandler } from './context.ts';
import { getParameterAttributes, getParameterNames, getParameterValues, setParameterAttributes, setParameterValues } from './params.ts';
import { addObject, deleteObject } from './objects.ts';
import { download, factoryReset, getRPCMethods, reboot, scheduleInform } from './device.ts';

export type { RpcContext } from './context.ts';
export { METHODS } from './device.ts';

const HANDLERS: { [M in AcsRequest['method']]: RpcHandler<M> } = {
  GetRPCMethods: getRPCMethods,
  GetParameterNames: getParameterNames,
  GetParameterValues: getParameterValues,
  SetParameterValues: setParameterValues,
  GetParameterAttributes: getParameterAttributes,
  SetParameterAttributes: setParameterAttributes,
  AddObject: addObject,
  DeleteObject: deleteObject,
  Reboot: reboot,
  FactoryReset: factoryReset,
  ScheduleInform: scheduleInform,
  Download: download,
};

/** Runs one ACS request; returns its response or a Fault message (never throws for the ACS's mistakes). */
export async function handleRequest(req: AcsRequest, ctx: RpcContext): Promise<{ msg: CpeMessage; soap?: 'Client' | 'Server' }> {
  try {
    const handler = HANDLERS[req.method] as RpcHandler<typeof req.method>;
    return { msg: await handler(req as never, ctx) };
  } catch (err) {
    const f = toFault(err);
    if (f.code === 9002) ctx.log.error({ err, method: req.method }, 'RPC failed');
    else ctx.log.debug({ method: req.method, code: f.code, reason: f.message }, 'RPC fault');
    return { msg: faultMessage(f.code, f.message, f.params), soap: faultSoap(f.code) };
  }
}

export function faultMessage(code: FaultCode, text: string, params: readonly ParamFault[] = []): CpeMessage {
  return { method: 'Fault', FaultCode: code, FaultString: text, SetParameterValuesFault: [...params] };
}

export const faultSoap = (code: FaultCode) => FAULTS[code].soap;
