// Device.X_TWINSTACK-ORG_Failover.BFD.: the BFD detector's settings (applied at once) and its session
// state, written back in system transactions on every session change; packet counters are read live.
import { isIPv6 } from 'node:net';
import type { Logger } from 'pino';
import { DmError, type DataModel, type Disposable, type ValidateContext } from '../datamodel/index.ts';
import { AUTH_TYPES, diagName } from './bfd-codec.ts';
import { BFD_MIN_INTERVAL_MS, type BfdDetector, type BfdReport, type BfdSettings } from './bfd.ts';
import { FO } from './instances.ts';

export { BFD_MIN_INTERVAL_MS };

const OBJ = `${FO}BFD.`;
/** Key sizes (RFC 5880 §4.2-4.4): a password of 1-16 octets; MD5 keys up to 16, SHA1 keys up to 20. */
const MAX_KEY = [0, 16, 16, 16, 20, 20];

export function readBfd(dm: DataModel): BfdSettings {
  const v = (p: string) => dm.getValue(`${OBJ}${p}`);
  const type = AUTH_TYPES.indexOf(v('AuthenticationType') as (typeof AUTH_TYPES)[number]);
  return {
    desiredMinTx: Number(v('DesiredMinTxInterval')), requiredMinRx: Number(v('RequiredMinRxInterval')), detectMult: Number(v('DetectMult')),
    localAddress: v('LocalAddress'),
    auth: type > 0 ? { type, keyId: Number(v('AuthenticationKeyID')), secret: Buffer.from(dm.getSecret(`${OBJ}AuthenticationKey`)) } : null,
  };
}

function validate(ctx: ValidateContext) {
  const bad = (param: string, msg: string) => { throw new DmError('InvalidValue', `${ctx.path}${param}: ${msg}`, [], `${ctx.path}${param}`); };
  // RFC 5880 §6.8.2: each system advertises how fast it is prepared to send and receive, so it must not offer
  // a rate it cannot keep. Below the floor our packets came late under load, the peer's Detection Time ran
  // out (we saw diagnostic 3), each time a needless failover. Every interval below it is named.
  const tooShort = ['DesiredMinTxInterval', 'RequiredMinRxInterval'].filter((p) => ctx.changed.has(p) && Number(ctx.changed.get(p)) < BFD_MIN_INTERVAL_MS);
  if (tooShort.length) {
    throw DmError.from(tooShort.map((p) => ({
      path: `${ctx.path}${p}`, kind: 'InvalidValue',
      message: `BFD intervals below ${BFD_MIN_INTERVAL_MS} ms cannot be kept under load on this agent (RFC 5880 §6.8.2: a system advertises only the rates it can keep); ${ctx.changed.get(p)} ms refused`,
    })));
  }
  const local = ctx.changed.get('LocalAddress');
  if (local && !isIPv6(local)) bad('LocalAddress', 'not an IPv6 address');
  if (!ctx.changed.has('AuthenticationType') && !ctx.changed.has('AuthenticationKey')) return;
  const type = AUTH_TYPES.indexOf(ctx.value('AuthenticationType') as (typeof AUTH_TYPES)[number]);
  const key = Buffer.byteLength(ctx.changed.get('AuthenticationKey') ?? ctx.value('AuthenticationKey'));
  if (type > 0 && (key < 1 || key > MAX_KEY[type])) bad('AuthenticationKey', `${AUTH_TYPES[type]} needs a key of 1-${MAX_KEY[type]} octets`);
}

function statusOf(r: BfdReport): Record<string, string> {
  return {
    SessionState: r.state, LocalDiagnostic: String(r.localDiag), LastDiagnostic: String(r.lastDiag), LastDiagnosticText: diagName(r.lastDiag),
    LocalDiscriminator: String(r.localDiscr), PeerAddress: r.peer, LocalAddressInUse: r.localAddress,
  };
}

export function bindBfd(dm: DataModel, bfd: BfdDetector, log: Logger): Disposable[] {
  const write = (r: BfdReport) => {
    const want = Object.entries(statusOf(r)).filter(([k, v]) => dm.getValue(`${OBJ}${k}`) !== v);
    if (want.length) dm.set(Object.fromEntries(want.map(([k, v]) => [`${OBJ}${k}`, v])), 'system');
  };
  bfd.configureBfd(readBfd(dm));
  write(bfd.report());
  return [
    dm.attach(OBJ, {
      validate,
      apply: (ev) => { if (ev.origin !== 'system') bfd.configureBfd(readBfd(dm)); },
      read: () => {
        const r = bfd.report();
        return {
          RemoteSessionState: r.remoteState, RemoteDiagnostic: String(r.remoteDiag), RemoteDiscriminator: String(r.remoteDiscr),
          TransmitInterval: String(r.txInterval), DetectionTime: String(r.detectionTime),
          PacketsSent: String(r.sent), PacketsReceived: String(r.received), PacketsDropped: String(r.dropped),
        };
      },
    }),
    bfd.onReport((r) => {
      if (r.state !== dm.getValue(`${OBJ}SessionState`))
        log.info({ state: r.state, remoteState: r.remoteState, diag: r.localDiag, peer: r.peer, detectionTimeUs: r.detectionTime }, 'bfd session');
      write(r);
    }),
  ];
}
