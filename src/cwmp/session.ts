// One CWMP session (TR-069 §3.7.1, §3.7.2.4): Inform -> InformResponse, the CPE's own requests
// (TransferComplete) unless the ACS holds them, an empty POST, then the ACS's requests until it answers
// with HTTP 204 (or an empty 200). Events are acknowledged as the ACS acknowledges them.
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { DataModel } from '../datamodel/index.ts';
import { EV, type PendingEvents } from './events.ts';
import { HttpError, HttpSession, type HttpOptions } from './http.ts';
import { type AcsEnvelope, type CpeMessage, type CwmpNs } from './messages.ts';
import { CodecError, buildEnvelope, parseEnvelope } from './soap.ts';
import { faultMessage, handleRequest, type RpcContext } from './rpc/index.ts';
import { informParameterList } from './inform.ts';

/** Upper bound on messages in one session: an ACS looping forever cannot keep the CPE busy forever. */
const MAX_EXCHANGES = 100_000;

export interface SessionDeps {
  dm: DataModel;
  log: Logger;
  events: PendingEvents;
  http: HttpOptions;
  rpc: Omit<RpcContext, 'log'>;
  /** Called for every message the CPE sends (tests validate each against the XSD). */
  onSend?: (xml: string) => void;
}

export interface SessionResult {
  /** Whether the ACS acknowledged the Inform (events delivered). */
  informed: boolean;
  exchanges: number;
  localPorts: number[];
}

/** Maps a UseCWMPVersion header or the ACS's namespace to the namespace the rest of the session uses (A.2.3). */
function sessionNs(env: AcsEnvelope): CwmpNs {
  if (env.useVersion === '1.0') return '1-0';
  if (env.useVersion === '1.1') return '1-1';
  return env.ns;
}

export async function runSession(deps: SessionDeps, retryCount: number): Promise<SessionResult> {
  const { dm, events } = deps;
  const url = dm.getValue('Device.ManagementServer.URL');
  if (!url) throw new HttpError('no ACS URL configured');
  const log = deps.log.child({ session: randomBytes(4).toString('hex') });
  const http = new HttpSession(url, { username: dm.getValue('Device.ManagementServer.Username'), password: dm.getSecret('Device.ManagementServer.Password') }, deps.http);
  const ctx: RpcContext = { ...deps.rpc, log };
  let ns: CwmpNs = '1-2';
  let exchanges = 0;
  let informed = false;
  const send = async (msg: CpeMessage | '', id?: string, soap?: 'Client' | 'Server') => {
    if (++exchanges > MAX_EXCHANGES) throw new HttpError('session too long');
    const xml = msg === '' ? '' : buildEnvelope(msg, { ns, id, soapFaultCode: soap });
    if (xml) deps.onSend?.(xml);
    log.debug({ method: msg === '' ? 'empty' : msg.method }, 'cwmp send');
    const reply = await http.post(xml);
    if (reply.status === 204 || (reply.status === 200 && reply.body.trim() === '')) return undefined;
    if (reply.status !== 200) throw new HttpError(`ACS answered HTTP ${reply.status}`, reply.status);
    return reply.body;
  };
  try {
    // What this Inform reports; only that is acknowledged by its InformResponse (an event or change recorded
    // while it is in flight stays for the next Inform).
    const sent = events.snapshot();
    const info = (p: string) => dm.getValue(`Device.DeviceInfo.${p}`);
    const inform: CpeMessage = {
      method: 'Inform',
      DeviceId: { Manufacturer: info('Manufacturer'), OUI: info('ManufacturerOUI'), ProductClass: info('ProductClass'), SerialNumber: info('SerialNumber') },
      Event: sent.events.map((e) => ({ EventCode: e.EventCode, CommandKey: e.CommandKey })), MaxEnvelopes: 1,
      CurrentTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), RetryCount: retryCount,
      ParameterList: informParameterList(dm, sent),
    };
    log.info({ events: sent.events.map((e) => e.EventCode), retryCount }, 'session start');
    const body = await send(inform, randomBytes(4).toString('hex'));
    if (body === undefined) throw new HttpError('empty reply to Inform');
    const env = parseEnvelope(body);
    if (env.body.method === 'Fault') throw new HttpError(`ACS faulted the Inform: ${env.body.FaultCode} ${env.body.FaultString}`);
    // §3.7.4: the session runs in a version both sides speak; an answer in another namespace is not one.
    if (env.body.method === 'Unknown' && env.body.namespace !== undefined) throw new HttpError(`ACS answered in namespace ${env.body.namespace || '(none)'}, no CWMP version this CPE speaks`);
    if (env.body.method !== 'InformResponse') throw new HttpError(`expected InformResponse, got ${env.body.method}`);
    ns = sessionNs(env);
    // §3.7.1.5: delivered events are gone once the ACS has the InformResponse out; BOOTSTRAP marks this URL done.
    events.delivered(sent);
    if (sent.events.some((e) => e.EventCode === EV.BOOTSTRAP)) events.set('bootstrapUrl', url);
    informed = true;
    let hold = env.holdRequests;

    // The CPE's own requests, unless the ACS asked to hold them (A.2.3 HoldRequests).
    for (const t of events.transfers()) {
      if (hold) break;
      const r = await send({ method: 'TransferComplete', ...t }, randomBytes(4).toString('hex'));
      if (r === undefined) break;
      const renv = parseEnvelope(r);
      hold = renv.holdRequests;
      if (renv.body.method === 'TransferCompleteResponse') events.transferAcknowledged(t);
      else log.warn({ method: renv.body.method }, 'TransferComplete not acknowledged');
    }

    // The empty POST hands the session to the ACS (§3.7.2.4).
    let next = await send('');
    while (next !== undefined) {
      let acs: AcsEnvelope;
      try {
        acs = parseEnvelope(next);
      } catch (e) {
        if (!(e instanceof CodecError)) throw e;
        log.warn({ reason: e.message }, 'unparseable ACS message');
        // The ID the header gave (none when it gave two different ones), else a best guess from the raw text.
        const id = e.header ? e.header.id : /<(?:\w+:)?ID\b[^>]*>([^<]{0,64})</.exec(next)?.[1];
        next = await send(faultMessage(9003, e.message), id, 'Client');
        continue;
      }
      const b = acs.body;
      if (b.method === 'Unknown') {
        // §3.5: a method the CPE does not support gets 9000, also one named in a namespace that is no CWMP version
        // this CPE speaks (cwmp-9-9's SetParameterValues is not ours to run).
        const why = b.namespace === undefined ? `method ${b.name || '(none)'} not supported` : `${b.name} in namespace ${b.namespace || '(none)'} is not a CWMP method this CPE supports`;
        next = await send(faultMessage(9000, why), acs.id, 'Server');
      } else if (b.method === 'Fault' || b.method === 'InformResponse' || b.method === 'TransferCompleteResponse' || b.method === 'GetRPCMethodsResponse') {
        next = await send(''); // a stray response: nothing to answer, give the ACS the turn again
      } else {
        const r = await handleRequest(b, ctx);
        next = await send(r.msg, acs.id, r.soap);
      }
    }
    log.info({ exchanges }, 'session end');
    return { informed, exchanges, localPorts: [...http.localPorts] };
  } catch (err) {
    if (informed) Object.assign(err as object, { informed });
    throw err;
  } finally {
    http.close();
  }
}
