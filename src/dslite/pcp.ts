// The PCP detector: an RFC 6887 client that keeps one short-lived MAP (UDP, the client's own port) at the
// PCP server on the AFTR side, through the softwire (the AFTR's well-known 192.0.0.1, RFC 6333 §5.7, by
// default). Requests are retransmitted as §8.1.1 says, bounded by the Detector row's Timeout (MRD); the
// mapping is renewed at 1/2-5/8 of the lifetime the server granted (§11.2.1), no sooner than Interval.
// Failures: NETWORK_FAILURE (7), no answer within the schedule (loss of the server), and an Epoch showing
// that the server lost its state (§8.5). Other result codes are reported, not failures.
import { randomBytes } from 'node:crypto';
import { Emitter, type Disposable } from '../datamodel/index.ts';
import type { Detector, DetectorEnv, DetectorSettings, DetectorState, UdpOpen, UdpSocket, Verdict } from './detectors.ts';
import {
  decodeMapResponse, encodeMapRequest, epochCheck, NETWORK_FAILURE, PCP_PORT, resultName, type EpochMark, type MapResponse, type PcpDrop,
} from './pcp-codec.ts';
import { VerdictCell } from './verdict.ts';


export interface PcpSettings {
  server: string;
  /** requested lifetime, seconds */
  lifetime: number;
}

export const PCP_SETTINGS_DEFAULTS: PcpSettings = { server: '192.0.0.1', lifetime: 120 };

export interface PcpReport {
  server: string;
  resultCode: number | null;
  result: string;
  lifetime: number;
  epoch: number | null;
  externalAddress: string;
  externalPort: number;
  internalPort: number;
  requests: number;
  responses: number;
  dropped: number;
  drops: Partial<Record<PcpDrop | 'badSource', number>>;
}

const MRT = 1_024_000; // §8.1.1
const IRT = 3000;

type Outcome = { kind: 'answer'; r: MapResponse } | { kind: 'lost'; sent: number };

export class PcpDetector implements Detector {
  readonly name = 'PCP';
  private readonly reports = new Emitter<PcpReport>();
  private readonly cell: VerdictCell;
  private pcp: PcpSettings = { ...PCP_SETTINGS_DEFAULTS };
  private generation = 0;
  private timer: NodeJS.Timeout | null = null;
  private failures = 0;
  private epoch: EpochMark | null = null;
  private epochAftr = '';
  private watching: string | null = null;
  /** The run's socket: its port is the mapping's internal port, its nonce the mapping's (§11.2). */
  private socket: { gen: number | null; s: UdpSocket; nonce: Buffer; onAnswer: ((r: MapResponse) => void) | null } | null = null;
  private readonly state: PcpReport = {
    server: '', resultCode: null, result: '', lifetime: 0, epoch: null, externalAddress: '', externalPort: 0, internalPort: 0,
    requests: 0, responses: 0, dropped: 0, drops: {},
  };

  constructor(public settings: DetectorSettings, private readonly env: DetectorEnv) {
    this.cell = new VerdictCell(this.name, settings.enable, env.now);
  }

  verdict(): Verdict {
    return this.cell.get();
  }

  onVerdict(fn: (v: Verdict) => void): Disposable {
    return this.cell.on(fn);
  }

  onReport(fn: (r: PcpReport) => void): Disposable {
    return this.reports.on(fn);
  }

  report(): PcpReport {
    return { ...this.state, drops: { ...this.state.drops } };
  }

  start(aftr: string): void {
    this.stop();
    // Another AFTR is another PCP server, even at the same address: its Epoch starts afresh (§8.5).
    if (aftr !== this.epochAftr) this.epoch = null;
    this.epochAftr = aftr;
    this.watching = aftr;
    this.failures = 0;
    this.set(this.settings.enable ? 'Unknown' : 'Disabled', '');
    if (this.settings.enable) void this.loop(this.generation);
  }

  stop(): void {
    this.generation++;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.watching = null;
    this.socket?.s.close();
    this.socket = null;
  }

  configure(s: DetectorSettings): void {
    const was = this.settings;
    this.settings = { ...s };
    if (!s.enable) {
      const w = this.watching;
      this.stop();
      this.watching = w;
      this.set('Disabled', '');
    } else if (!was.enable || was.interval !== s.interval || was.timeout !== s.timeout) {
      if (this.watching) this.start(this.watching);
      else this.set('Unknown', '');
    }
  }

  configurePcp(p: PcpSettings): void {
    const changed = p.server !== this.pcp.server || p.lifetime !== this.pcp.lifetime;
    this.pcp = { ...p };
    if (changed && this.watching && this.settings.enable) {
      this.epoch = null; // another server: another Epoch
      this.start(this.watching);
    }
  }

  /** Recovery probe through the softwire in use: one MAP exchange. */
  async probe(): Promise<{ ok: boolean; reason: string }> {
    if (!this.settings.enable) return { ok: true, reason: '' };
    const v = await this.exchangeOnce(null).catch((err: Error) => ({ ok: false, reason: `PCP: ${err.message}` }));
    return { ok: v.ok, reason: v.reason };
  }

  // ---- internals ------------------------------------------------------------------------------------

  /** Map, renew, repeat; one socket (so one internal port and one nonce) per run. */
  private async loop(gen: number) {
    while (gen === this.generation) {
      const v = await this.exchangeOnce(gen).catch((err: Error) => ({ ok: false, reason: `PCP: ${err.message}`, waitMs: 0 }));
      if (gen !== this.generation) return;
      if (v.ok) {
        this.failures = 0;
        this.set('Healthy', v.reason);
      } else if (++this.failures >= this.settings.failureThreshold) this.set('Failed', v.reason);
      await new Promise<void>((resolve) => {
        this.timer = setTimeout(resolve, Math.max(this.settings.interval, v.waitMs));
        this.timer.unref?.();
      });
    }
  }

  /** One request with its retransmissions; the verdict and how long until the next one. */
  private async exchangeOnce(gen: number | null): Promise<{ ok: boolean; reason: string; waitMs: number }> {
    const server = this.pcp.server;
    if (!this.socket || this.socket.gen !== gen) await this.openSocket(gen, server);
    const sock = this.socket!;
    const me = sock.s.address();
    const req = encodeMapRequest({
      lifetime: this.pcp.lifetime, clientAddress: me.address, nonce: sock.nonce, protocol: 17,
      internalPort: me.port, suggestedPort: this.state.externalPort || me.port, suggestedAddress: this.state.externalAddress,
    });
    const outcome = await this.transact(sock, req);
    if (gen !== null && gen !== this.generation) return { ok: true, reason: '', waitMs: 0 };
    if (outcome.kind === 'lost') {
      this.state.resultCode = null;
      this.state.result = 'NoResponse';
      this.reports.fire(this.report());
      return { ok: false, reason: `PCP: no answer from ${server} within ${this.settings.timeout} ms (${outcome.sent} requests)`, waitMs: 0 };
    }
    const r = outcome.r;
    Object.assign(this.state, { server, resultCode: r.result, result: resultName(r.result), lifetime: r.lifetime, epoch: r.epoch, internalPort: r.internalPort });
    const lostState = epochCheck(this.epoch, { server: r.epoch, client: this.env.now() / 1000 });
    this.epoch = { server: r.epoch, client: this.env.now() / 1000 };
    if (r.result === 0) Object.assign(this.state, { externalAddress: r.externalAddress, externalPort: r.externalPort });
    else if (r.result === NETWORK_FAILURE) Object.assign(this.state, { externalAddress: '', externalPort: 0 });
    this.reports.fire(this.report());
    if (lostState) return { ok: false, reason: `PCP: ${lostState} at ${server}: the server lost its state`, waitMs: 0 };
    if (r.result === NETWORK_FAILURE) return { ok: false, reason: `PCP: NETWORK_FAILURE (7) from ${server}`, waitMs: 0 };
    if (r.result !== 0) {
      // Reported, not a failure: the server answered. Retry when the error's lifetime says (§7.4, §8.3).
      return { ok: true, reason: `PCP: result ${r.result} ${resultName(r.result)} from ${server}`, waitMs: Math.min(r.lifetime, 600) * 1000 };
    }
    return { ok: true, reason: '', waitMs: r.lifetime * 1000 * (0.5 + Math.random() / 8) };
  }

  private async openSocket(gen: number | null, server: string) {
    this.socket?.s.close();
    this.socket = null;
    const udp = this.udp();
    const holder = { gen, nonce: randomBytes(12), onAnswer: null as ((r: MapResponse) => void) | null, s: null as unknown as UdpSocket };
    holder.s = await udp({
      type: 'udp4', peer: { address: server, port: PCP_PORT },
      onMessage: (m, from) => {
        if (from.address !== server || from.port !== PCP_PORT) return this.drop('badSource');
        const r = decodeMapResponse(m, holder.nonce);
        if (typeof r === 'string') return this.drop(r);
        this.state.responses++;
        holder.onAnswer?.(r);
      },
    });
    this.socket = holder;
  }

  /** §8.1.1: RT = IRT(1 + RAND), then 2 RT(1 + RAND) up to MRT, RAND in [-0.1, 0.1]; stops after MRD (Timeout). */
  private transact(sock: NonNullable<PcpDetector['socket']>, req: Buffer): Promise<Outcome> {
    const mrd = this.settings.timeout;
    const irt = Math.min(IRT, mrd / 3);
    const rand = () => (Math.random() - 0.5) / 5;
    return new Promise((resolve) => {
      const t0 = this.env.now();
      let sent = 0;
      let rt = irt * (1 + rand());
      let timer: NodeJS.Timeout;
      const finish = (o: Outcome) => {
        clearTimeout(timer);
        sock.onAnswer = null;
        resolve(o);
      };
      sock.onAnswer = (r) => finish({ kind: 'answer', r });
      const send = () => {
        const left = mrd - (this.env.now() - t0);
        if (left <= 0 || this.socket !== sock) return finish({ kind: 'lost', sent });
        try {
          sock.s.send(req, PCP_PORT, this.pcp.server);
        } catch {
          return finish({ kind: 'lost', sent });
        }
        sent++;
        this.state.requests++;
        timer = setTimeout(send, Math.min(rt, left));
        timer.unref?.();
        rt = Math.min(2 * rt * (1 + rand()), MRT);
      };
      send();
    });
  }

  private drop(why: PcpDrop | 'badSource') {
    this.state.dropped++;
    this.state.drops[why] = (this.state.drops[why] ?? 0) + 1;
  }

  private udp(): UdpOpen {
    if (!this.env.udp) throw new Error('no UDP in the detector environment');
    return this.env.udp;
  }

  private set(state: DetectorState, reason: string) {
    this.cell.set(state, reason);
  }
}
