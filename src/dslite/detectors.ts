// Tunnel liveness detectors (DESIGN "The behaviour at the heart of it", step 2). Each is a plug-in: a
// factory in DETECTORS makes one, the policy starts it on the softwire in use and listens to its verdicts,
// and Device.X_TWINSTACK-ORG_Failover.Detector.{i} holds its settings and state. BFD (RFC 5880/5883) and
// PCP (RFC 6887) detectors are further entries of the same table; the policy combines verdicts per
// Failover.Combine (Any / All / Primary), so adding one needs no change elsewhere.
import { createSocket } from 'node:dgram';
import { Emitter, type Disposable } from '../datamodel/index.ts';
import type { EchoResult, SoftwireError, TunnelPort } from '../wan/platform.ts';
import { BfdDetector } from './bfd.ts';
import { PcpDetector } from './pcp.ts';
import { VerdictCell } from './verdict.ts';

export type DetectorState = 'Unknown' | 'Healthy' | 'Failed' | 'Disabled';

export interface DetectorSettings {
  enable: boolean;
  /** ms between checks */
  interval: number;
  /** ms: how long silence or a probe may last before a check fails */
  timeout: number;
  /** consecutive failed checks before the detector reports Failed */
  failureThreshold: number;
}

export interface Verdict {
  detector: string;
  state: DetectorState;
  reason: string;
  time: number;
  /**
   * Failed only, when the detector knows it: the last moment it saw the path working (BFD: the last
   * control packet received). The policy dates the outage from it (History.{i}.OutageMs) instead of from
   * the detectors' worst-case window when no packet came back through the tunnel.
   */
  since?: number;
}

/** A UDP socket of the detectors that speak a protocol to the AFTR side (BFD, PCP). */
export interface UdpSocket {
  send(b: Buffer, port: number, address: string): void;
  address(): { address: string; port: number };
  close(): void;
}

export interface UdpOptions {
  type: 'udp4' | 'udp6';
  /** local address and port (defaults: any, ephemeral) */
  address?: string;
  port?: number;
  /** unicast TTL / hop limit of what is sent */
  ttl?: number;
  /** connect to this peer (fixes the local address the kernel picks) */
  peer?: { address: string; port: number };
  onMessage(msg: Buffer, from: { address: string; port: number }): void;
}

export type UdpOpen = (o: UdpOptions) => Promise<UdpSocket>;

/** Real sockets (the Linux WAN): node:dgram, unref'd so a detector never keeps the process alive. */
export const nodeUdp: UdpOpen = (o) => new Promise((resolve, reject) => {
  const s = createSocket({ type: o.type, reuseAddr: false });
  s.once('error', reject);
  s.on('message', (m, r) => o.onMessage(m, { address: r.address, port: r.port }));
  s.bind({ address: o.address, port: o.port ?? 0 }, () => {
    if (o.ttl) s.setTTL(o.ttl);
    const done = () => {
      s.off('error', reject);
      s.on('error', () => undefined); // ICMP errors of a connected socket: the protocol's timers decide
      s.unref();
      resolve({ send: (b, port, address) => (o.peer ? s.send(b) : s.send(b, port, address)), address: () => s.address(), close: () => s.close() });
    };
    if (o.peer) s.connect(o.peer.port, o.peer.address, done);
    else done();
  });
});

export interface DetectorEnv {
  tunnel: TunnelPort;
  now(): number;
  /** UDP for BFD/PCP: the platform's (the simulated WAN has its own), else nodeUdp (set by the policy). */
  udp?: UdpOpen;
}

export interface Detector {
  readonly name: string;
  settings: DetectorSettings;
  verdict(): Verdict;
  onVerdict(fn: (v: Verdict) => void): Disposable;
  /** Begins watching the softwire to `aftr` (IPv6 address); resets the state to Unknown. */
  start(aftr: string): void;
  stop(): void;
  configure(s: DetectorSettings): void;
  /**
   * Optional: checks an AFTR that is not in use (the recovery loop in dual-stack): ok when this detector
   * would call it healthy. Detectors that talk to the AFTR (BFD, PCP) gate the return to DS-Lite with it.
   */
  probe?(aftr: string): Promise<{ ok: boolean; reason: string }>;
  /**
   * Optional: first signs of trouble short of a verdict (a lost echo below FailureThreshold, an ICMPv6
   * error below its threshold). The policy starts DHCPv4 on it, so the lease
   * is ready if the verdict follows (DESIGN step 3).
   */
  onSuspect?(fn: (reason: string) => void): Disposable;
}

/** Shared bookkeeping: a check loop at Interval, consecutive failures against FailureThreshold. */
abstract class BaseDetector implements Detector {
  private readonly cell: VerdictCell;
  private readonly suspicions = new Emitter<string>();
  private timer: NodeJS.Timeout | null = null;
  private failures = 0;
  private checking = false;
  protected aftr: string | null = null;
  /** Bumped on every start/stop so a check that was in flight cannot report into the next run. */
  private generation = 0;

  constructor(readonly name: string, public settings: DetectorSettings, protected readonly env: DetectorEnv) {
    this.cell = new VerdictCell(name, settings.enable, env.now);
  }

  verdict(): Verdict {
    return this.cell.get();
  }

  onVerdict(fn: (v: Verdict) => void): Disposable {
    return this.cell.on(fn);
  }

  onSuspect(fn: (reason: string) => void): Disposable {
    return this.suspicions.on(fn);
  }

  protected suspect(reason: string): void {
    this.suspicions.fire(reason);
  }

  start(aftr: string): void {
    this.stop();
    this.aftr = aftr;
    this.failures = 0;
    this.set(this.settings.enable ? 'Unknown' : 'Disabled', '');
    if (!this.settings.enable) return;
    this.onStart();
    this.schedule();
  }

  stop(): void {
    this.generation++;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.checking = false;
    this.onStop();
    this.aftr = null;
  }

  configure(s: DetectorSettings): void {
    const was = this.settings;
    this.settings = { ...s };
    if (this.aftr === null) {
      if (!s.enable) this.set('Disabled', '');
      else if (this.cell.get().state === 'Disabled') this.set('Unknown', '');
      return;
    }
    if (was.enable !== s.enable || was.interval !== s.interval) this.start(this.aftr);
  }

  protected onStart(): void {}
  protected onStop(): void {}
  /** One check: true healthy, false failed (with reason), null no evidence either way. */
  protected abstract check(): Promise<{ ok: boolean; reason: string } | null>;

  private schedule() {
    const gen = this.generation;
    this.timer = setTimeout(() => {
      if (gen !== this.generation || this.checking) return;
      this.checking = true;
      this.check()
        .then((r) => { if (gen === this.generation && r) this.record(r.ok, r.reason); })
        .catch((err: Error) => { if (gen === this.generation) this.record(false, `${this.name}: ${err.message}`); })
        .finally(() => {
          if (gen !== this.generation) return;
          this.checking = false;
          this.schedule();
        });
    }, this.settings.interval);
    this.timer.unref?.();
  }

  /** Counts a check result; reports Failed after FailureThreshold consecutive failures. */
  protected record(ok: boolean, reason: string) {
    if (ok) {
      this.failures = 0;
      this.set('Healthy', reason);
    } else if (++this.failures >= this.settings.failureThreshold) {
      this.set('Failed', reason);
    } else {
      this.suspect(reason);
    }
  }

  protected set(state: DetectorState, reason: string) {
    // Only a Failed verdict's reason is news; a repeated Healthy with another reason is no change.
    if (this.cell.get().state === state && state !== 'Failed') return;
    this.cell.set(state, reason);
  }
}

/**
 * (a) Establishment: the softwire cannot be set up (no AFTR name or address, DNS failure, no route). The
 * policy reports the outcome of each attempt; there is no check loop.
 */
export class EstablishmentDetector extends BaseDetector {
  constructor(settings: DetectorSettings, env: DetectorEnv) {
    super('Establishment', settings, env);
  }

  /** The policy's verdict on bringing a softwire up. */
  report(ok: boolean, reason: string) {
    if (!this.settings.enable) return;
    if (ok) this.set('Healthy', reason);
    else this.set('Failed', reason);
  }

  override start(aftr: string): void {
    this.aftr = aftr; // keeps its last verdict: set by report()
  }

  protected async check() {
    return null;
  }
}

/**
 * (b) Silence: packets went into the softwire but none came back from the AFTR within Timeout. Counters
 * are read every Interval; a blackholed AFTR sends nothing, so only this timer sees it (PEERS §3).
 * One-way traffic is normal (a UDP stream, an upload with delayed ACKs), so silence is evidence, not proof:
 * before reporting a failure, one echo through the softwire (to 192.0.0.1, RFC 6333 §5.7) must go
 * unanswered too. Without it a healthy AFTR was declared dead under a LAN-to-internet UDP stream.
 */
export class SilenceDetector extends BaseDetector {
  private base: { tx: number; rx: number } | null = null;
  private unansweredSince: number | null = null;
  private lastPoll = 0;
  /** The confirming echo of this silence, sent half way through Timeout; its result once known. */
  private confirm: { done: EchoResult | null } | null = null;

  constructor(settings: DetectorSettings, env: DetectorEnv) {
    super('Silence', settings, env);
  }

  protected override onStart() {
    this.base = null;
    this.unansweredSince = null;
    this.confirm = null;
  }

  protected async check() {
    const c = await this.env.tunnel.counters();
    const now = this.env.now();
    const prevPoll = this.lastPoll;
    this.lastPoll = now;
    if (!this.base) {
      this.base = { tx: c.txPackets, rx: c.rxPackets };
      return null;
    }
    if (c.rxPackets > this.base.rx) return this.heard(c);
    if (c.txPackets <= this.base.tx) return null; // nothing sent: silence proves nothing
    // The first unanswered packet left after the previous poll (or after the last one from the AFTR).
    this.unansweredSince ??= Math.max(prevPoll, c.lastRxFromAftr ?? 0);
    const silent = now - this.unansweredSince;
    // No suspicion from silence alone: one-way traffic is normal, and a lease taken on every quiet upload
    // would churn the ISP's pool. The Echo detector's first lost probe is the early sign for a blackhole.
    if (silent < this.settings.timeout / 2) return null;
    // Half way through Timeout the confirming echo leaves (RFC 6333 §5.7), so at Timeout the verdict is ready
    // instead of starting an echo then and waiting its timeout too (a blackhole took Timeout + 1 s).
    if (!this.confirm) {
      const confirm: { done: EchoResult | null } = { done: null };
      this.confirm = confirm;
      void this.env.tunnel.echo(Math.min(this.settings.timeout, 1000)).then((r) => { confirm.done = r; });
    }
    const echo = this.confirm.done;
    if (echo?.ok) return this.heard(await this.env.tunnel.counters());
    if (silent < this.settings.timeout || !echo) return null;
    return { ok: false, reason: `Silence: no packet from ${this.aftr} for ${silent} ms while ${c.txPackets - this.base.tx} were sent, and ${echo.reason}` };
  }

  private heard(c: { txPackets: number; rxPackets: number }) {
    this.base = { tx: c.txPackets, rx: c.rxPackets };
    this.unansweredSince = null;
    this.confirm = null;
    return { ok: true, reason: '' };
  }
}

/** (c) ICMP echo through the softwire every Interval; a reply within Timeout is healthy. */
export class EchoDetector extends BaseDetector {
  constructor(settings: DetectorSettings, env: DetectorEnv) {
    super('Echo', settings, env);
  }

  protected async check() {
    const r = await this.env.tunnel.echo(this.settings.timeout);
    return r.ok ? { ok: true, reason: '' } : { ok: false, reason: `Echo: ${r.reason}` };
  }
}

/**
 * (d) ICMPv6 error about the softwire (RFC 4443 §3.1 destination unreachable, §3.3 time exceeded) from the
 * forwarder's events: FailureThreshold errors within Timeout fail it at once. Packet Too Big (§3.2) is path
 * MTU, not failure. A packet from the AFTR after the last error makes it healthy again.
 */
export class Icmpv6ErrorDetector extends BaseDetector {
  private sub: Disposable | null = null;
  private errors: number[] = [];
  private rxMark = -1;

  constructor(settings: DetectorSettings, env: DetectorEnv) {
    super('ICMPv6Error', settings, env);
  }

  protected override onStart() {
    this.errors = [];
    this.rxMark = -1;
    this.sub = this.env.tunnel.onError((e) => this.onError(e));
  }

  protected override onStop() {
    this.sub?.dispose();
    this.sub = null;
  }

  private onError(e: SoftwireError) {
    if (e.quotedDst !== this.aftr || (e.type !== 1 && e.type !== 3)) return;
    const now = this.env.now();
    this.errors = [...this.errors.filter((t) => now - t < this.settings.timeout), now];
    this.rxMark = -1;
    const what = e.type === 1 ? `destination unreachable code ${e.code}` : `time exceeded code ${e.code}`;
    const reason = `ICMPv6Error: ${what} from ${e.source} about ${e.quotedDst}`;
    if (this.errors.length >= this.settings.failureThreshold) this.set('Failed', reason);
    else this.suspect(reason);
  }

  protected async check() {
    const c = await this.env.tunnel.counters();
    if (this.rxMark < 0) {
      this.rxMark = c.rxPackets;
      return null;
    }
    if (c.rxPackets > this.rxMark) {
      this.errors = [];
      this.rxMark = c.rxPackets;
      return { ok: true, reason: '' };
    }
    return null;
  }

  protected override record(ok: boolean, reason: string) {
    if (ok) this.set('Healthy', reason);
  }
}

/** Default settings per detector: together they keep a failover within 5 s (docs/benchmarks.md). */
export const DETECTOR_DEFAULTS: Record<string, DetectorSettings> = {
  Establishment: { enable: true, interval: 1000, timeout: 3000, failureThreshold: 1 },
  Silence: { enable: true, interval: 250, timeout: 2000, failureThreshold: 1 },
  Echo: { enable: true, interval: 1000, timeout: 1000, failureThreshold: 3 },
  ICMPv6Error: { enable: true, interval: 1000, timeout: 3000, failureThreshold: 1 },
  // Off by default: they need a BFD peer / PCP server on the AFTR side. BFD: Timeout is how long the
  // session may take to come Up. PCP: Interval is the shortest time between requests, Timeout the
  // retransmission window (MRD).
  BFD: { enable: false, interval: 1000, timeout: 10_000, failureThreshold: 1 },
  PCP: { enable: false, interval: 1000, timeout: 10_000, failureThreshold: 1 },
};

export type DetectorFactory = (settings: DetectorSettings, env: DetectorEnv) => Detector;

/** The detector plug-ins, by Detector.{i}.Name. */
export const DETECTORS: Record<string, DetectorFactory> = {
  Establishment: (s, e) => new EstablishmentDetector(s, e),
  Silence: (s, e) => new SilenceDetector(s, e),
  Echo: (s, e) => new EchoDetector(s, e),
  ICMPv6Error: (s, e) => new Icmpv6ErrorDetector(s, e),
  BFD: (s, e) => new BfdDetector(s, e),
  PCP: (s, e) => new PcpDetector(s, e),
};

/** Combines verdicts (Failover.Combine): a failure reason, or null while the softwire counts as healthy. */
export function combine(verdicts: readonly Verdict[], how: 'Any' | 'All' | 'Primary', primary: string): string | null {
  const live = verdicts.filter((v) => v.state !== 'Disabled');
  const failed = live.filter((v) => v.state === 'Failed');
  // An unestablished softwire carries nothing: that is decisive whatever the combination.
  const est = failed.find((v) => v.detector === 'Establishment');
  if (est) return est.reason;
  if (how === 'Primary') return failed.find((v) => v.detector === primary)?.reason ?? null;
  if (how === 'All') {
    const watching = live.filter((v) => v.detector !== 'Establishment');
    return watching.length > 0 && watching.every((v) => v.state === 'Failed') ? failed.map((v) => v.reason).join('; ') : null;
  }
  return failed[0]?.reason ?? null;
}

/**
 * The longest time the enabled watching detectors may take to call a failure (ms): the earliest an outage can have
 * begun before a verdict. Establishment only reports; BFD and PCP keep their own time of the last sign of life.
 */
export function detectionWindow(detectors: readonly Detector[]): number {
  return Math.max(...detectors.filter((d) => d.settings.enable && !(d instanceof EstablishmentDetector) && d.name !== 'BFD' && d.name !== 'PCP')
    .map((d) => d.settings.timeout + d.settings.interval * d.settings.failureThreshold), 0);
}
