// The recovery loop's timer and bookkeeping (DESIGN step 4; each round is policy.ts probe()): whether the way
// back, from dual-stack to DS-Lite or from a backup AFTR to the primary, may be taken yet. It counts good probes
// towards RecoveryThreshold, keeps the hold-down (HoldDownTime times a factor that doubles when a return fails
// again soon: flap damping), remembers the ICMPv6 errors about each AFTR, which spoil a series, and decides
// the return on fresh evidence (a last echo, the gating detectors). The policy owns one and keeps the rest:
// what is probed, the queue and every switch; nothing here changes the gateway's path.
import type { Logger } from 'pino';
import type { Detector } from './detectors.ts';
import type { PolicySettings, RecoveryStatus } from './policy-types.ts';

/** holdFactor doubles after each flap up to this. */
const MAX_HOLD_FACTOR = 8;

export interface RecoveryOptions {
  log: Logger;
  now: () => number;
  /** The settings in force (the policy's configure() replaces them at run time). */
  settings: () => PolicySettings;
  detectors: readonly Detector[];
  /** Queues one recovery round (the policy's probe()); called every RecoveryInterval while the timer runs. */
  probe: () => void;
  /** One echo through the softwire to the AFTR at `addr`, with the Echo detector's timeout. */
  echo: (addr: string) => Promise<{ ok: boolean; reason: string }>;
  /** The count, or what it leads to, changed: the policy shows it on every face (RecoveryState, RecoveryGoodProbes). */
  changed: () => void;
}

export class Recovery {
  private timer: NodeJS.Timeout | null = null;
  private good = 0;
  private holdFactor = 1;
  /** When the current mode (or AFTR) was entered: the hold-down runs from here. */
  private enteredAt = 0;
  /** When the gateway last came back from dual-stack: a failure soon after it is a flap. */
  private lastFailback = 0;
  /** When the previous recovery probe was sent: an ICMPv6 error about the AFTR after it spoils the series. */
  private lastProbeAt = 0;
  /** The last ICMPv6 error about each AFTR address (ms), whatever the mode. */
  private readonly errorsAt = new Map<string, number>();

  constructor(private readonly o: RecoveryOptions) {}

  /** Good probes in a row so far. */
  get goodProbes(): number {
    return this.good;
  }

  /** `returning`: there is a way back to watch (dual-stack, or DS-Lite on a backup AFTR); else Idle. */
  status(returning: boolean): RecoveryStatus {
    if (!returning) return { state: 'Idle', goodProbes: 0, holdFactor: this.holdFactor, returnNotBefore: null };
    const settings = this.o.settings();
    const notBefore = this.enteredAt + settings.holdDownTime * this.holdFactor;
    const state = this.good < settings.recoveryThreshold ? 'Probing' : this.o.now() < notBefore ? 'HoldDown' : 'Returning';
    return { state, goodProbes: this.good, holdFactor: this.holdFactor, returnNotBefore: notBefore };
  }

  /** A mode (or AFTR) entered at `at`: the count starts again and the hold-down runs from then. */
  entered(at: number): void {
    this.enteredAt = at;
    this.good = 0;
  }

  /** The count starts again without a new mode (the policy stands aside). */
  clear(): void {
    this.good = 0;
  }

  /** Back from dual-stack at `at` (make-before-break failback). */
  failedBack(at: number): void {
    this.lastFailback = at;
  }

  /** Entered dual-stack at `switchedAt`: the hold-down's factor for the way back. */
  damp(switchedAt: number): void {
    // Flap damping: a failure soon after a failback doubles the hold-down (up to 8x); a calm period resets it.
    const hold = this.o.settings().holdDownTime * this.holdFactor;
    if (this.lastFailback && switchedAt - this.lastFailback < 2 * hold) this.holdFactor = Math.min(this.holdFactor * 2, MAX_HOLD_FACTOR);
    else this.holdFactor = 1;
  }

  /** An ICMPv6 error about the AFTR at `addr` arrived now (the softwire's error events, in any mode). */
  noteError(addr: string): void {
    this.errorsAt.set(addr, this.o.now());
  }

  /** The probe timer is running. */
  get running(): boolean {
    return this.timer !== null;
  }

  /** (Re)starts the probe timer at the RecoveryInterval in force. */
  startRecovery(): void {
    this.stopRecovery();
    // A new series: its first probe has no previous one for an ICMPv6 error to spoil.
    this.lastProbeAt = 0;
    this.timer = setInterval(() => this.o.probe(), this.o.settings().recoveryInterval);
    this.timer.unref?.();
  }

  stopRecovery(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One round's outcome (`sentAt`: when its probe left): a good one adds to the count, a bad one resets it. */
  countProbe(ok: boolean, sentAt: number, addr: string | undefined, why: string) {
    this.good = ok ? this.good + 1 : 0;
    this.lastProbeAt = sentAt;
    this.o.log.debug({ good: this.good, aftr: addr, why: ok ? undefined : why }, 'recovery probe');
    // The count and what it leads to are shown on every face (RecoveryState, RecoveryGoodProbes).
    this.o.changed();
  }

  /** Enough good probes, and long enough in this mode (HoldDownTime, doubled after flaps). */
  due(): boolean {
    const { recoveryThreshold, holdDownTime } = this.o.settings();
    return this.good >= recoveryThreshold && this.o.now() - this.enteredAt >= holdDownTime * this.holdFactor;
  }

  /** An ICMPv6 error about `addr` since the previous probe was sent spoils the series: a reason, or null. */
  spoiled(addr: string): string | null {
    const at = this.errorsAt.get(addr) ?? 0;
    return this.lastProbeAt && at >= this.lastProbeAt ? `ICMPv6Error: about ${addr} since the last good probe` : null;
  }

  /**
   * The return is decided on fresh evidence: one more echo just before the switch, no ICMPv6 error since
   * the last good probe, and the gating detectors still content. A reason to stay, or null.
   */
  async confirm(addr: string, gate: boolean): Promise<string | null> {
    const sentAt = this.o.now();
    const r = await this.o.echo(addr);
    if (!r.ok) return r.reason;
    const err = this.errorsAt.get(addr) ?? 0;
    if (err >= this.lastProbeAt || err >= sentAt) return `ICMPv6Error: about ${addr} since the last good probe`;
    return gate ? this.gateProbes(addr) : null;
  }

  /** confirm() found `why` to stay: the return is called off and the count starts again. */
  abandon(addr: string, why: string) {
    this.o.log.warn({ aftr: addr, why, good: this.good }, 'return cancelled on fresh evidence');
    this.good = 0;
    this.o.changed();
  }

  /**
   * Detectors that talk to the AFTR (BFD, PCP) must also call it healthy before DS-Lite returns, when their
   * verdict alone would fail it again (Combine Any, or the Primary). A failure reason, or null.
   */
  async gateProbes(addr: string): Promise<string | null> {
    const { combine: how, primaryDetector } = this.o.settings();
    for (const d of this.o.detectors) {
      if (!d.probe || !d.settings.enable || how === 'All' || (how === 'Primary' && d.name !== primaryDetector)) continue;
      const r = await d.probe(addr);
      if (!r.ok) return r.reason;
    }
    return null;
  }
}
