// A detector's verdict (Unknown / Healthy / Failed / Disabled with a reason) and who listens to it.
import { Emitter, type Disposable } from '../datamodel/index.ts';
import type { DetectorState, Verdict } from './detectors.ts';

/** A detector's current verdict and its listeners; every detector keeps one (the loop-based ones, BFD, PCP). */
export class VerdictCell {
  private readonly emitter = new Emitter<Verdict>();
  private current: Verdict;

  constructor(private readonly detector: string, enabled: boolean, private readonly now: () => number) {
    this.current = { detector, state: enabled ? 'Unknown' : 'Disabled', reason: '', time: now() };
  }

  get(): Verdict {
    return this.current;
  }

  on(fn: (v: Verdict) => void): Disposable {
    return this.emitter.on(fn);
  }

  /** Reports a state; the same state with the same reason is no change and is not reported again. */
  set(state: DetectorState, reason: string, since?: number): void {
    if (this.current.state === state && this.current.reason === reason) return;
    this.current = { detector: this.detector, state, reason, time: this.now(), ...(since !== undefined ? { since } : {}) };
    this.emitter.fire(this.current);
  }
}
