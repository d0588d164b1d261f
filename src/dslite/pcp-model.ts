// Device.X_TWINSTACK-ORG_Failover.PCP.: the PCP detector's settings (applied at once) and the last
// response (result, Epoch, the mapped external address and port), written back in system transactions;
// the request/response counters are read live.
import { isIPv4 } from 'node:net';
import type { Logger } from 'pino';
import { DmError, type DataModel, type Disposable } from '../datamodel/index.ts';
import type { PcpDetector, PcpReport, PcpSettings } from './pcp.ts';
import { FO } from './instances.ts';

const OBJ = `${FO}PCP.`;

export function readPcp(dm: DataModel): PcpSettings {
  return { server: dm.getValue(`${OBJ}Server`), lifetime: Number(dm.getValue(`${OBJ}Lifetime`)) };
}

export function bindPcp(dm: DataModel, pcp: PcpDetector, log: Logger): Disposable[] {
  const write = (r: PcpReport) => {
    const status: Record<string, string> = {
      ResultCode: String(r.resultCode ?? 0), LastResult: r.result, AssignedLifetime: String(r.lifetime), Epoch: String(r.epoch ?? 0),
      ExternalAddress: r.externalAddress, ExternalPort: String(r.externalPort), InternalPort: String(r.internalPort),
    };
    const want = Object.entries(status).filter(([k, v]) => dm.getValue(`${OBJ}${k}`) !== v);
    if (want.length) dm.set(Object.fromEntries(want.map(([k, v]) => [`${OBJ}${k}`, v])), 'system');
  };
  pcp.configurePcp(readPcp(dm));
  write(pcp.report());
  let last = '';
  return [
    dm.attach(OBJ, {
      validate: (ctx) => {
        const s = ctx.changed.get('Server');
        if (s !== undefined && !isIPv4(s)) throw new DmError('InvalidValue', `${ctx.path}Server: not an IPv4 address`, [], `${ctx.path}Server`);
      },
      apply: (ev) => { if (ev.origin !== 'system') pcp.configurePcp(readPcp(dm)); },
      read: () => {
        const r = pcp.report();
        return { RequestsSent: String(r.requests), ResponsesReceived: String(r.responses), ResponsesDropped: String(r.dropped) };
      },
    }),
    pcp.onReport((r) => {
      const key = `${r.result}/${r.externalAddress}:${r.externalPort}/${r.epoch}`;
      if (key !== last) log.info({ result: r.result, code: r.resultCode, lifetime: r.lifetime, epoch: r.epoch, external: `${r.externalAddress}:${r.externalPort}` }, 'pcp map');
      last = key;
      write(r);
    }),
  ];
}
