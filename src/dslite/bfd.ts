// The BFD detector: one multihop BFD session (RFC 5883) over IPv6 UDP to the AFTR, Asynchronous mode
// (RFC 5880). Packets leave from a port in 49152-65535 with hop limit 255 (RFC 5881 §4, RFC 5883 §5) and
// are received on port 4784. Session Up is Healthy; Down after Up is Failed with the diagnostic
// (LastSwitchReason shows it); a peer that signals AdminDown is not a path failure (RFC 5882 §3.2).
// A session the agent starts or restarts itself (new LocalAddress or key) is Unknown until it is Up: only
// a session that was Up can lose its path; one that never comes Up fails after the Detector's Timeout.
// Timer changes never restart the session: they go through a Poll Sequence (RFC 5880 §6.8.3).
// The session also runs while the AFTR is only probed (dual-stack), so the return to DS-Lite waits for Up.
// Over real sockets (nodeUdp, the Linux WAN) the session runs in its own worker thread (bfd-thread.ts), so
// a busy main event loop cannot make our packets late; over the simulated WAN's UDP it runs here. Both
// run the same session code (bfd-link.ts).
import { isIPv6 } from 'node:net';
import { Emitter, type Disposable } from '../datamodel/index.ts';
import { diagName, type AuthKey, type BfdState } from './bfd-codec.ts';
import { openBfdSession, type BfdHandle } from './bfd-link.ts';
import type { BfdConfig, BfdStatus } from './bfd-session.ts';
import { openBfdThread } from './bfd-thread.ts';
import { nodeUdp, type Detector, type DetectorEnv, type DetectorSettings, type DetectorState, type UdpOpen, type Verdict } from './detectors.ts';
import { VerdictCell } from './verdict.ts';


/** The BFD object's settings (milliseconds in the data model). */
export interface BfdSettings {
  desiredMinTx: number; // ms
  requiredMinRx: number; // ms
  detectMult: number;
  /** local IPv6 address ('' = the one the kernel picks towards the AFTR) */
  localAddress: string;
  auth: AuthKey | null;
}

export const BFD_SETTINGS_DEFAULTS: BfdSettings = { desiredMinTx: 300, requiredMinRx: 300, detectMult: 3, localAddress: '', auth: null };

/**
 * The shortest DesiredMinTxInterval and RequiredMinRxInterval this agent can keep under load (ms), measured
 * against FRR bfdd with the CPUs saturated (stress-ng --cpu 2) for 30 minutes (`npm run bench:soak -- bfd 30 MS`,
 * docs/benchmarks.md): 50 ms x 3 went Down once in 30 minutes (bfdd's Detection Time of 150 ms ran out on our
 * packets), 100 ms x 3 held. Shorter intervals are refused when set (bfd-model.ts): RFC 5880 §6.8.2, a system
 * advertises only the rates it can keep, and each false Down costs a whole failover.
 */
export const BFD_MIN_INTERVAL_MS = 100;

export interface BfdReport extends BfdStatus {
  peer: string;
  localAddress: string;
  /** the diagnostic of the last transition to Down (0 if none) */
  lastDiag: number;
}

export class BfdDetector implements Detector {
  readonly name = 'BFD';
  private readonly reports = new Emitter<BfdReport>();
  private readonly cell: VerdictCell;
  private bfd: BfdSettings = { ...BFD_SETTINGS_DEFAULTS };
  /** the settings the current session was opened with */
  private opened: BfdSettings = { ...BFD_SETTINGS_DEFAULTS };
  private session: BfdHandle | null = null;
  /** bumped whenever the session is closed: a session still being opened then is stopped, not kept */
  private generation = 0;
  private peer = '';
  private local = '';
  private lastDiag = 0;
  private upTimer: NodeJS.Timeout | null = null;
  private watching = false;
  /** the AFTR in use, kept while disabled so enabling starts at once */
  private target = '';
  private opening: Promise<void> | null = null;

  constructor(public settings: DetectorSettings, private readonly env: DetectorEnv) {
    this.cell = new VerdictCell(this.name, settings.enable, env.now);
  }

  verdict(): Verdict {
    return this.cell.get();
  }

  onVerdict(fn: (v: Verdict) => void): Disposable {
    return this.cell.on(fn);
  }

  /** Session changes (state, diagnostics) for the data model. */
  onReport(fn: (r: BfdReport) => void): Disposable {
    return this.reports.on(fn);
  }

  report(): BfdReport {
    return this.reportOf(this.session?.status() ?? null);
  }

  private reportOf(status: BfdStatus | null): BfdReport {
    const s = status ?? {
      state: 'Down' as BfdState, remoteState: 'Down' as BfdState, localDiag: 0, remoteDiag: 0, localDiscr: 0, remoteDiscr: 0,
      txInterval: 0, detectionTime: 0, lastReceivedAt: 0, sent: 0, received: 0, dropped: 0, drops: {},
    };
    return { ...s, state: status ? s.state : 'AdminDown', peer: this.peer, localAddress: this.local, lastDiag: this.lastDiag };
  }

  start(aftr: string): void {
    this.watching = true;
    this.target = aftr;
    this.set(this.settings.enable ? 'Unknown' : 'Disabled', '');
    if (!this.settings.enable) return this.close();
    void this.ensure(aftr);
    // A session kept from probing may already be Up.
    if (this.session && this.peer === aftr && this.session.status().state === 'Up') this.set('Healthy', '');
    this.armUpTimer();
  }

  stop(): void {
    this.watching = false;
    this.clearUpTimer();
    this.close();
  }

  configure(s: DetectorSettings): void {
    const was = this.settings;
    this.settings = { ...s };
    if (!s.enable) {
      this.close();
      this.clearUpTimer();
      this.set('Disabled', '');
    } else if (!was.enable) {
      this.set('Unknown', '');
      if (this.watching) this.start(this.target);
    }
  }

  /** The BFD object changed: timers through a Poll Sequence; a new local address or key restarts. */
  configureBfd(b: BfdSettings): void {
    this.bfd = { ...b };
    void this.apply();
  }

  /** Recovery probe: keeps a session to `aftr` running; healthy once it is Up. */
  async probe(aftr: string): Promise<{ ok: boolean; reason: string }> {
    if (!this.settings.enable) return { ok: true, reason: '' };
    await this.ensure(aftr);
    const st = this.session?.status().state ?? 'Down';
    return st === 'Up' ? { ok: true, reason: '' } : { ok: false, reason: `BFD: session to ${aftr} is ${st}` };
  }

  // ---- internals ------------------------------------------------------------------------------------

  /** Brings the session (once it is open, if it is being opened) to the current settings. */
  private async apply() {
    if (this.opening) await this.opening;
    if (!this.session) return;
    const o = this.opened;
    if (this.bfd.localAddress !== o.localAddress || JSON.stringify(this.bfd.auth) !== JSON.stringify(o.auth)) {
      this.close();
      if (this.watching) this.start(this.target);
    } else this.session.configure(this.sessionConfig());
  }

  private sessionConfig(): BfdConfig {
    // A value stored before the floor existed is raised to it: the session never runs faster than it can keep.
    const us = (ms: number) => Math.max(ms, BFD_MIN_INTERVAL_MS) * 1000;
    return { desiredMinTx: us(this.bfd.desiredMinTx), requiredMinRx: us(this.bfd.requiredMinRx), detectMult: this.bfd.detectMult, auth: this.bfd.auth };
  }

  /** Opens the sockets and the session to `aftr` unless they exist already. */
  private async ensure(aftr: string): Promise<void> {
    if (this.opening) await this.opening;
    if (this.session && this.peer === aftr) return;
    this.close();
    this.peer = aftr;
    this.opening = this.open(aftr).catch((err: Error) => {
      this.close();
      this.set('Failed', `BFD: cannot open a session to ${aftr}: ${err.message}`);
    }).finally(() => { this.opening = null; });
    await this.opening;
  }

  private async open(aftr: string) {
    if (!isIPv6(aftr)) throw new Error('not an IPv6 address');
    const udp = this.udp();
    const gen = this.generation;
    this.opened = { ...this.bfd };
    const o = { aftr, localAddress: this.opened.localAddress, config: this.sessionConfig() };
    // Real sockets: the session gets its own thread; anything else (the simulated WAN) runs it here.
    const session = udp === nodeUdp ? await openBfdThread(o) : await openBfdSession(udp, o);
    if (gen !== this.generation) return session.stop(); // closed (stopped, disabled) while it was opening
    this.session = session;
    this.local = session.local;
    session.onChange(({ from, status }) => this.onChange(from, status));
    session.onFailure?.((err) => this.lost(session, err));
  }

  /** The session's thread died: the session is gone; a new one is opened (Unknown until it is Up). */
  private lost(session: BfdHandle, err: Error) {
    if (session !== this.session) return;
    this.close();
    if (!this.watching || !this.settings.enable) return; // a probe opens a new one when it needs it
    this.set('Unknown', `BFD: the session's thread ended (${err.message}); opening a new session`);
    void this.ensure(this.target);
    this.armUpTimer();
  }

  private onChange(from: BfdState, s: BfdStatus) {
    if (s.state === 'Down') this.lastDiag = s.localDiag;
    // The status of the change itself: a session in another thread may have moved on since.
    this.reports.fire(this.reportOf(s));
    if (!this.watching || !this.settings.enable) return;
    if (s.state === 'Up') {
      this.clearUpTimer();
      this.set('Healthy', '');
    } else if (s.state === 'Down' && from === 'Up') {
      // RFC 5882 §3.2: a neighbour going AdminDown is not a failure of the path.
      if (s.remoteState === 'AdminDown') this.set('Unknown', `BFD: ${this.peer} signalled AdminDown`);
      // The path worked until the peer's last packet: the outage dates from there, not from the verdict.
      else this.set('Failed', `BFD: session to ${this.peer} Down, diagnostic ${s.localDiag} (${diagName(s.localDiag)})`, s.lastReceivedAt || undefined);
      this.armUpTimer();
    }
  }

  /** A session that does not come Up within Timeout is a failure (the AFTR does not answer BFD). */
  private armUpTimer() {
    this.clearUpTimer();
    if (!this.settings.enable || this.session?.status().state === 'Up') return;
    const peer = this.peer;
    this.upTimer = setTimeout(() => {
      const st = this.session?.status().state ?? 'Down';
      if (this.watching && st !== 'Up' && this.cell.get().state !== 'Failed')
        this.set('Failed', `BFD: session to ${peer} not Up within ${this.settings.timeout} ms (${st})`);
    }, this.settings.timeout);
    this.upTimer.unref?.();
  }

  private clearUpTimer() {
    if (this.upTimer) clearTimeout(this.upTimer);
    this.upTimer = null;
  }

  private close() {
    this.generation++;
    this.session?.stop();
    this.session = null;
    this.reports.fire(this.report());
  }

  private udp(): UdpOpen {
    if (!this.env.udp) throw new Error('no UDP in the detector environment');
    return this.env.udp;
  }

  private set(state: DetectorState, reason: string, since?: number) {
    this.cell.set(state, reason, since);
  }
}
