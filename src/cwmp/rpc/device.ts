// Device RPCs: GetRPCMethods (A.3.1.1), Reboot (A.3.2.9), FactoryReset (A.4.1.4), ScheduleInform
// (A.4.1.2) and Download (A.3.2.8). Reboot, FactoryReset and Download act after the session ended.
import { CwmpFault } from '../faults.ts';
import { EV } from '../events.ts';
import { UNKNOWN_TIME } from '../messages.ts';
import type { RpcHandler } from './context.ts';

/** Every ACS-callable method this CPE implements (A.3.1.1 MethodList). */
export const METHODS = [
  'GetRPCMethods', 'GetParameterNames', 'GetParameterValues', 'SetParameterValues', 'GetParameterAttributes',
  'SetParameterAttributes', 'AddObject', 'DeleteObject', 'Reboot', 'Download', 'FactoryReset', 'ScheduleInform',
] as const;

export const getRPCMethods: RpcHandler<'GetRPCMethods'> = () => ({ method: 'GetRPCMethodsResponse', MethodList: [...METHODS] });

export const reboot: RpcHandler<'Reboot'> = (req, ctx) => {
  if (req.CommandKey.length > 32) throw new CwmpFault(9003, 'CommandKey longer than 32 characters');
  // "M Reboot" is persisted now so the Inform after the restart carries it (Table 7).
  ctx.events.add(EV.M_REBOOT, req.CommandKey);
  ctx.log.info({ commandKey: req.CommandKey }, 'reboot requested by the ACS');
  ctx.afterSession(() => ctx.hooks.reboot());
  return { method: 'RebootResponse' };
};

export const factoryReset: RpcHandler<'FactoryReset'> = (_req, ctx) => {
  ctx.log.info('factory reset requested by the ACS');
  ctx.afterSession(() => ctx.hooks.factoryReset());
  return { method: 'FactoryResetResponse' };
};

export const scheduleInform: RpcHandler<'ScheduleInform'> = (req, ctx) => {
  if (req.DelaySeconds < 1) throw new CwmpFault(9003, 'DelaySeconds must be at least 1');
  if (req.CommandKey.length > 32) throw new CwmpFault(9003, 'CommandKey longer than 32 characters');
  ctx.scheduleInform(req.DelaySeconds, req.CommandKey);
  return { method: 'ScheduleInformResponse' };
};

export const download: RpcHandler<'Download'> = (req, ctx) => {
  if (req.CommandKey.length > 32) throw new CwmpFault(9003, 'CommandKey longer than 32 characters');
  if (!ctx.downloadTypes.includes(req.FileType)) throw new CwmpFault(9003, `FileType "${req.FileType}" is not supported`);
  let url: URL;
  try {
    url = new URL(req.URL);
  } catch {
    throw new CwmpFault(9003, 'URL is not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new CwmpFault(9013, `${url.protocol} transfers are not supported`);
  if (url.username || url.password) throw new CwmpFault(9003, 'credentials belong in Username/Password, not in the URL');
  ctx.queueDownload(req);
  // Status 1: the download is not done before this response; TransferComplete follows (A.3.2.8).
  return { method: 'DownloadResponse', Status: 1, StartTime: UNKNOWN_TIME, CompleteTime: UNKNOWN_TIME };
};
