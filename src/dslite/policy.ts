// The failover policy (DESIGN "The behaviour at the heart of it", steps 1-4):
//   DS-Lite on the primary AFTR -> the next AFTR of the list (explicit failover, after one echo shows it
//   alive) -> dual-stack (DHCPv4 public IPv4, NAT44, IPv4 default route to the WAN). DHCPv4 starts at the
//   first suspicion, so the lease is usually ready when the verdict comes; the switch itself is the route
//   alone (Ipv4Port). Recovery probes run every RecoveryInterval in dual-stack, and on a backup AFTR towards
//   the primary; after RecoveryThreshold good probes and HoldDownTime, a last echo just before the switch
//   and no ICMPv6 error since the last good probe, the gateway returns make-before-break: the softwire is
//   already up, IPv4 moves to it, and the WAN path (lease, NAT44) stays ready for a grace period, so a
//   softwire that fails again at once is left within one route change; then DHCPRELEASE.
// IPv6 is never touched here: only the IPv4 route and the forwarder change, so the LAN's IPv6 service is
// not interrupted by any switch. Every action runs on one queue, one at a time. The recovery's probe timer
// and bookkeeping (good probes, hold-down, the last echo) are recovery.ts; the types are policy-types.ts.
import type { Logger } from 'pino';
import { Emitter, type Disposable } from '../datamodel/index.ts';
import type { Platform, TunnelCounters } from '../wan/platform.ts';
import {
  combine, detectionWindow, DETECTOR_DEFAULTS, DETECTORS, EstablishmentDetector, nodeUdp, type Detector, type DetectorSettings, type UdpOpen, type UdpOptions, type Verdict,
} from './detectors.ts';
import { candidates, literal, primaryEndpoint, resolveAftr, type Endpoint } from './endpoint.ts';
import type { Mode, OutageFrom, PolicyOptions, PolicySettings, PolicyStatus, ServiceMode, SwitchRecord } from './policy-types.ts';
import { Recovery } from './recovery.ts';
import { WanReady } from './wan-ready.ts';

export type { Mode, PolicyOptions, PolicySettings, PolicyStatus, RecoveryStatus, ServiceMode, SwitchRecord } from './policy-types.ts';

/** The echo that shows a backup AFTR alive before the gateway moves to it waits at most this long (ms). */
const BACKUP_CHECK_MAX = 300;

export class FailoverPolicy {
  readonly detectors: Detector[];
  private readonly establishment: EstablishmentDetector;
  private readonly platform: Platform;
  private readonly log: Logger;
  private readonly now: () => number;
  private settings: PolicySettings;
  private readonly opts: PolicyOptions;
  private mode: Mode = 'None';
  private cands: Endpoint[] = [];
  private index = -1;
  private aftrAddress = '';
  private backupSince: number | null = null;
  /** When the last Failed verdict came (ms). */
  private failedAt = 0;
  /** A dual-stack switch that found no DHCPv4 lease: retried by the recovery loop. */
  private pendingDualStack: { reason: string; outage: OutageFrom; verdictAt: number } | null = null;
  private queue: Promise<void> = Promise.resolve();
  private leaseTimer: NodeJS.Timeout | null = null;
  private readonly wanReady: WanReady;
  /** The way back: the probe timer, good probes, hold-down, fresh evidence (recovery.ts). */
  private readonly recovery: Recovery;
  private readonly subs: Disposable[] = [];
  private readonly statusEmitter = new Emitter<PolicyStatus>();
  private readonly switchEmitter = new Emitter<SwitchRecord>();
  private stopped = false;
  /** standAside() was called and resume() has not run: nothing may bring the softwire or dual-stack up. */
  private aside = false;
  /** Dual-stack with IPv6 by Teredo (ipv6ByTeredo): shown as Teredo. */
  private teredo = false;

  constructor(opts: PolicyOptions) {
    this.opts = opts;
    this.platform = opts.platform;
    this.settings = opts.settings;
    this.log = opts.log;
    this.now = opts.now ?? Date.now;
    // A platform may carry its own UDP (the simulated WAN's BFD peer and PCP server); else real sockets.
    const udp = (opts.platform as { udp?: UdpOpen }).udp;
    const env = { tunnel: opts.platform.tunnel, now: this.now, udp: udp ? (o: UdpOptions) => udp.call(opts.platform, o) : nodeUdp };
    const settingsOf = (name: string) => opts.detectorSettings?.[name] ?? DETECTOR_DEFAULTS[name] ?? DETECTOR_DEFAULTS.Echo;
    this.detectors = Object.entries(DETECTORS).map(([name, make]) => make(settingsOf(name), env));
    this.establishment = this.detectors.find((d): d is EstablishmentDetector => d instanceof EstablishmentDetector)!;
    this.wanReady = new WanReady({ platform: this.platform, log: this.log, enqueue: (w, fn) => this.enqueue(w, fn), inDSLite: () => this.mode === 'DSLite' });
    this.recovery = new Recovery({
      log: this.log, now: this.now, settings: () => this.settings, detectors: this.detectors,
      probe: () => this.enqueue('recovery probe', () => this.probe()),
      echo: (addr) => this.platform.tunnel.echo(this.echoTimeout(), addr), changed: () => this.statusEmitter.fire(this.status()),
    });
    // The policy hears a verdict before anyone else (the data model's status rows are bookkeeping): its
    // DHCPv4 exchange leaves in the verdict's tick, not after every other listener has run.
    for (const d of this.detectors) {
      this.subs.push(d.onVerdict((v) => this.onVerdict(v)));
      if (d.onSuspect) this.subs.push(d.onSuspect((reason) => this.onSuspect(reason)));
    }
  }

  status(): PolicyStatus {
    const active = this.mode === 'DSLite';
    const e = this.index >= 0 ? this.cands[this.index] : undefined;
    return {
      mode: this.mode,
      serviceMode: this.shown(this.mode),
      aftr: active && e ? e.aftr : '',
      aftrAddress: active ? this.aftrAddress : '',
      origin: active && e ? e.origin : '',
      tunnelActive: active,
      publicIPv4: this.mode === 'DualStack' ? this.platform.dhcp4.lease() : null,
      backupSince: active ? this.backupSince : null,
      recovery: this.recovery.status(this.mode === 'DualStack' || (active && this.index > 0)),
    };
  }

  onStatus(fn: (s: PolicyStatus) => void): Disposable {
    return this.statusEmitter.on(fn);
  }

  onSwitch(fn: (r: SwitchRecord) => void): Disposable {
    return this.switchEmitter.on(fn);
  }

  detector(name: string): Detector | undefined {
    return this.detectors.find((d) => d.name === name);
  }

  start(): void {
    this.subs.push(this.platform.dhcp6.onLease(() => this.enqueue('dhcpv6 lease', () => this.onLease())));
    this.subs.push(this.platform.tunnel.onError((e) => this.recovery.noteError(e.quotedDst)));
    this.enqueue('boot', () => this.boot());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const s of this.subs.splice(0)) s.dispose();
    this.recovery.stopRecovery();
    if (this.leaseTimer) clearTimeout(this.leaseTimer);
    this.wanReady.stop();
    for (const d of this.detectors) d.stop();
    await this.queue;
  }

  /** Runs the queued actions so far (tests). */
  idle(): Promise<void> {
    return this.queue;
  }

  /** New settings take effect at once (TR-181 writable parameters, no restart). */
  configure(next: PolicySettings): void {
    const prev = this.settings;
    this.settings = next;
    if (prev.recoveryInterval !== next.recoveryInterval && this.recovery.running) this.recovery.startRecovery();
    const aftrChanged = JSON.stringify([prev.endpoint, prev.backupAFTRs]) !== JSON.stringify([next.endpoint, next.backupAFTRs]);
    if (prev.forcedMode !== next.forcedMode && next.forcedMode !== 'Auto') {
      const target = next.forcedMode;
      this.enqueue('forced mode', () => this.switchTo(target, `ForcedMode ${target}`));
    } else if (aftrChanged) {
      this.enqueue('aftr settings', () => this.reselect('AFTR settings changed'));
    }
    // Combine and the detector set may now see a failure that was tolerated before.
    this.enqueue('settings', () => this.evaluate());
  }

  configureDetector(name: string, s: DetectorSettings): void {
    this.detector(name)?.configure(s);
    this.enqueue('detector settings', () => this.evaluate());
  }

  /** ForceSwitch(): a one-off switch; the detectors resume control afterwards (ForcedMode Auto). */
  forceSwitch(to: 'DSLite' | 'DualStack'): Promise<string> {
    return new Promise((resolve) => {
      this.enqueue('force switch', async () => {
        if (this.aside) return resolve('NAT46 carries IPv4: disable it first');
        if (this.mode === to) return resolve(`already in ${to}`);
        const ok = await this.switchTo(to, `ForceSwitch() to ${to}`);
        resolve(ok ? `switched to ${to}` : `could not switch to ${to}`);
      }, true);
    });
  }

  /**
   * Another IPv4 service takes the LAN's IPv4 (NAT46, issue 23), before it is applied: detectors and recovery stop,
   * the DHCPv4 lease goes back (an address not used is the ISP's), the softwire goes down, the switch is recorded
   * like any other. Until resume() nothing else on the queue runs (enqueue).
   */
  standAside(to: 'NAT46', reason: string): Promise<void> {
    this.aside = true; // at once: a boot or a probe queued before must not bring anything up
    return new Promise((resolve) => this.enqueue('stand aside', async () => {
      try {
        if (this.mode === to) return;
        const from = this.mode;
        const aftr = from === 'DSLite' ? (this.cands[this.index]?.aftr ?? '') : '';
        this.mode = to;
        this.index = -1;
        this.aftrAddress = '';
        this.backupSince = null;
        this.recovery.clear();
        this.pendingDualStack = null;
        this.recovery.stopRecovery();
        if (this.leaseTimer) clearTimeout(this.leaseTimer);
        this.leaseTimer = null;
        for (const d of this.detectors) d.stop();
        this.wanReady.stop();
        await this.platform.tunnel.down().catch((err) => this.log.warn({ err }, 'softwire not brought down'));
        await this.wanReady.release(reason);
        this.recordSwitch({ from, to, reason, aftr, outageMs: 0 });
        this.teredo = false;
        this.statusEmitter.fire(this.status());
      } finally {
        resolve();
      }
    }, true));
  }

  /**
   * IPv6 by Teredo over dual-stack's native IPv4 (issue 22, teredo.ts): Mode shows Teredo while it is qualified,
   * and its start and end are switches in the History. Nothing else changes here: IPv4 stays on the WAN.
   */
  ipv6ByTeredo(on: boolean, reason: string): void {
    this.enqueue('teredo', () => {
      if (on === this.teredo || (on && this.mode !== 'DualStack')) return;
      // Recorded as shown: dual-stack is Teredo while the flag is set.
      if (!on) this.teredo = false;
      this.recordSwitch({ from: on ? 'DualStack' : 'Teredo', to: on ? 'Teredo' : this.mode, reason, aftr: '', outageMs: 0 });
      this.teredo = on;
      this.statusEmitter.fire(this.status());
    }, true);
  }

  /** The other service is gone (NAT46 disabled): the policy takes over again as at boot (softwire, else dual-stack). */
  resume(reason: string): Promise<void> {
    return new Promise((resolve) => this.enqueue('resume', async () => {
      try {
        if (!this.aside) return;
        this.aside = false;
        if (this.mode !== 'NAT46') return;
        this.recompute();
        const r = await this.establish(0, false);
        if (r) {
          await this.platform.ipv4.routeVia('tunnel');
          this.enterDSLite(r.index, r.addr, reason, 0, true);
        } else {
          const now = this.now();
          await this.toDualStack(reason, now, now);
        }
      } finally {
        resolve();
      }
    }, true));
  }

  /** TestAFTR(): probes an AFTR without switching. */
  async testAftr(aftr: string): Promise<{ reachable: boolean; rttUs: number; reason: string }> {
    const addr = await this.resolve(aftr).catch((e: Error) => e);
    if (addr instanceof Error) return { reachable: false, rttUs: 0, reason: addr.message };
    const r = await this.platform.tunnel.echo(this.echoTimeout(), addr);
    return { reachable: r.ok, rttUs: r.rttUs, reason: r.reason };
  }

  // ---- internals ------------------------------------------------------------------------------------

  /**
   * One action on the queue. While the policy stands aside (standAside(), until resume()) it is dropped when its
   * turn comes, unless `whileAside`: no boot, lease, verdict, probe or forced mode brings anything up meanwhile.
   */
  private enqueue(what: string, fn: () => Promise<unknown> | unknown, whileAside = false) {
    this.queue = this.queue.then(async () => {
      if (this.stopped || (this.aside && !whileAside)) return;
      try {
        await fn();
      } catch (err) {
        this.log.error({ err, action: what }, 'failover action failed');
      }
    });
  }

  private echoTimeout(): number {
    return this.detector('Echo')?.settings.timeout ?? 1000;
  }

  private automatic(): boolean {
    return this.settings.enable && this.settings.forcedMode === 'Auto';
  }

  private recompute() {
    this.cands = candidates(primaryEndpoint(this.settings.endpoint, this.platform.dhcp6.lease()), this.settings.backupAFTRs);
  }

  private async boot() {
    this.recompute();
    if (this.settings.forcedMode === 'DualStack') return this.switchTo('DualStack', 'ForcedMode DualStack');
    // RFC 6334: the AFTR-Name comes with the DHCPv6 reply, and so do the DNS servers that resolve an FQDN. Wait
    // for it a while before calling it absent, unless the AFTR is a static IPv6 address: a static name must not
    // be used because it is there first while DHCPv6 has the precedence (TR-181 EndpointAssignmentPrecedence).
    const needLease = !this.platform.dhcp6.lease()
      && (this.settings.endpoint.assignment === 'DHCPv6' || this.cands.length === 0 || literal(this.cands[0].aftr) === null);
    if (needLease) {
      this.leaseTimer = setTimeout(() => this.enqueue('lease wait', () => this.bootWithout()), this.opts.leaseWait ?? 10_000);
      this.leaseTimer.unref?.();
      return;
    }
    await this.bringUp('boot');
  }

  private async bootWithout() {
    if (this.mode !== 'None') return;
    await this.bringUp('boot');
  }

  private async onLease() {
    const before = JSON.stringify(this.cands);
    this.recompute();
    if (this.mode === 'None') {
      // The reply the boot waited for: with an AFTR, DS-Lite; without one (no option 64, nothing static), no AFTR.
      if (!this.platform.dhcp6.lease()) return;
      if (this.leaseTimer) clearTimeout(this.leaseTimer);
      await this.bringUp('boot');
      return;
    }
    if (before !== JSON.stringify(this.cands)) await this.reselect('DHCPv6 AFTR-Name changed');
  }

  /** From None: the first AFTR that can be established, or dual-stack. */
  private async bringUp(why: string) {
    const r = await this.establish(0, false);
    if (r) {
      await this.platform.ipv4.routeVia('tunnel');
      this.enterDSLite(r.index, r.addr, why, 0, false);
      return;
    }
    const now = this.now();
    await this.toDualStack(this.establishment.verdict().reason || 'Establishment: no AFTR', now, now);
  }

  /** The AFTR settings or the lease changed while running: start again from the primary, no outage. */
  private async reselect(why: string) {
    const cur = this.index >= 0 ? this.cands[this.index] : undefined;
    this.recompute();
    if (this.mode !== 'DSLite') return;
    const want = this.cands[0];
    if (want && cur && want.aftr === cur.aftr && this.index === 0) {
      // The same AFTR, now perhaps by the other method: Origin follows (TR-181 InterfaceSetting.{i}.Origin).
      if (want.origin !== cur.origin) this.statusEmitter.fire(this.status());
      return;
    }
    await this.failover(why, true);
  }

  private onVerdict(v: Verdict) {
    this.log.debug({ detector: v.detector, state: v.state, reason: v.reason }, 'detector verdict');
    if (v.state !== 'Failed') return;
    this.failedAt = v.time;
    // When dual-stack would be the next step and nothing was prepared, the DHCPv4 exchange starts in this
    // very tick, beside the queue's work (the outage's start, the combination of verdicts): an AFTR that
    // dies without warning gives no suspicion first.
    // (As a suspicion: if the combination of verdicts does not fail the softwire, the lease goes back.)
    this.onSuspect(v.reason);
    this.enqueue('verdict', () => this.evaluate());
  }

  /** A first sign of trouble: when dual-stack would be the next step, the lease is made ready (wan-ready.ts). */
  private onSuspect(reason: string) {
    if (this.mode !== 'DSLite' || this.aside || !this.automatic() || this.index < this.cands.length - 1) return;
    this.wanReady.suspect(reason);
  }

  private async evaluate() {
    if (this.mode !== 'DSLite') return;
    const reason = combine(this.detectors.map((d) => d.verdict()), this.settings.combine, this.settings.primaryDetector);
    if (!reason) return;
    if (!this.automatic()) {
      this.log.warn({ reason, enable: this.settings.enable, forcedMode: this.settings.forcedMode }, 'softwire failed; automatic failover off');
      return;
    }
    await this.failover(reason, false);
  }

  /**
   * DS-Lite failed: the next AFTR, or dual-stack when none is left. `planned` (new AFTR settings) moves
   * make-before-break from the primary on: no outage.
   */
  private async failover(reason: string, planned: boolean) {
    // Timed from the detector's verdict, not from when the queue got to it.
    const now = this.now();
    const verdictAt = !planned && this.failedAt && now - this.failedAt < 10_000 ? Math.min(this.failedAt, now) : now;
    this.log.debug({ reason, planned, queueMs: now - verdictAt }, 'failover begins');
    // The forwarder's counters (its last packet from the AFTR) are asked for now and awaited only after the
    // switch: a round trip to its thread, which a busy CPU can delay, stays off the critical path, and the answer
    // is the one from before the switch (its requests are served in order; a new AFTR resets lastRxFromAftr).
    const verdicts = this.detectors.map((d) => d.verdict());
    const counters = planned ? Promise.resolve(null) : this.platform.tunnel.counters().catch(() => null);
    for (const d of this.detectors) if (d !== this.establishment) d.stop();
    const r = await this.establish(planned ? 0 : this.index + 1, !planned);
    if (r) {
      const at = this.now();
      const outageMs = planned ? 0 : at - this.outageStart(verdictAt, verdicts, await counters);
      this.enterDSLite(r.index, r.addr, reason, outageMs, true, planned ? undefined : at - verdictAt);
      return;
    }
    await this.toDualStack(reason, planned ? verdictAt : { verdicts, counters }, verdictAt);
  }

  /**
   * When the outage began: the latest moment the path is known to have worked. That is the last packet
   * from the AFTR through the tunnel (the forwarder's own clock, so within a packet interval of what a LAN
   * host saw), or a failed detector's own last sign of life (BFD's last control packet), and never earlier
   * than the detectors' window (a detector would have failed sooner).
   */
  private outageStart(detectedAt: number, verdicts: Verdict[], c: TunnelCounters | null): number {
    const since = verdicts.filter((v) => v.state === 'Failed' && v.since !== undefined).map((v) => v.since!);
    const window = detectionWindow(this.detectors);
    const start = Math.min(detectedAt, Math.max(c?.lastRxFromAftr ?? detectedAt, detectedAt - window, ...since));
    this.log.debug({ detectedAt, lastRxFromAftr: c?.lastRxFromAftr, window, since, start }, 'outage start');
    return start;
  }

  private resolve(aftr: string): Promise<string> {
    return resolveAftr(this.platform, aftr, this.opts.dnsTimeout ?? 2000);
  }

  /**
   * Brings the softwire up to the first AFTR from `from` on that resolves and routes (step 2a). With
   * `check`, a backup AFTR must first answer one echo through the softwire: moving to a dead backup would
   * cost a whole detection window before dual-stack.
   */
  private async establish(from: number, check: boolean): Promise<{ index: number; addr: string } | null> {
    if (this.cands.length === 0) {
      this.establishment.report(false, 'Establishment: no AFTR (no DHCPv6 AFTR-Name, no static endpoint)');
      return null;
    }
    for (let i = from; i < this.cands.length; i++) {
      try {
        const addr = await this.resolve(this.cands[i].aftr);
        await this.opts.softwire?.ready();
        if (check && i > 0) {
          const e = await this.platform.tunnel.echo(Math.min(this.echoTimeout(), BACKUP_CHECK_MAX), addr);
          if (!e.ok) throw new Error(`Echo: backup AFTR ${this.cands[i].aftr}: ${e.reason}`);
        }
        await this.platform.tunnel.up(addr).catch((e: Error) => { throw new Error(`Establishment: no route to ${addr}: ${e.message}`); });
        this.establishment.report(true, '');
        return { index: i, addr };
      } catch (err) {
        const reason = (err as Error).message;
        this.log.warn({ aftr: this.cands[i].aftr, reason }, 'AFTR not established');
        if (reason.startsWith('Establishment')) this.establishment.report(false, reason);
      }
    }
    return null;
  }

  private enterDSLite(index: number, addr: string, reason: string, outageMs: number, record: boolean, verdictToSwitchMs?: number) {
    const from = this.mode;
    const fromAftr = this.index;
    this.mode = 'DSLite';
    this.index = index;
    this.aftrAddress = addr;
    const enteredAt = this.now();
    this.recovery.entered(enteredAt);
    this.pendingDualStack = null;
    this.backupSince = index > 0 ? (from === 'DSLite' && fromAftr > 0 ? this.backupSince : enteredAt) : null;
    for (const d of this.detectors) d.start(addr);
    // On a backup AFTR the recovery loop probes the primary, to return to it (same hysteresis).
    if (index > 0) this.recovery.startRecovery();
    else this.recovery.stopRecovery();
    if (record || from !== 'None') this.recordSwitch({ from, to: 'DSLite', reason, aftr: this.cands[index].aftr, outageMs, verdictToSwitchMs });
    else this.log.info({ aftr: this.cands[index].aftr, address: addr }, 'DS-Lite up');
    this.teredo = false;
    this.statusEmitter.fire(this.status());
  }

  /** Moves to a mode on request (forced, ForceSwitch). Returns false when it cannot be reached now. */
  private async switchTo(to: 'DSLite' | 'DualStack', reason: string): Promise<boolean> {
    if (to === 'DualStack') {
      const now = this.now();
      return this.toDualStack(reason, now, now);
    }
    this.recompute();
    const r = await this.establish(0, false);
    if (!r) return false;
    await this.failback(r.index, r.addr, reason);
    return true;
  }

  /**
   * To dual-stack: the lease (usually ready: prepared at the first suspicion, or kept through the grace
   * period of a return), then the switch, which is the route alone.
   */
  private async toDualStack(reason: string, outage: OutageFrom, verdictAt: number): Promise<boolean> {
    if (this.mode === 'DualStack') return true;
    this.wanReady.cancelGrace();
    const t0 = this.now();
    let lease = this.platform.dhcp4.lease();
    if (!lease) {
      try {
        lease = await this.platform.dhcp4.acquire(this.opts.dhcp4Timeout ?? 10_000);
      } catch (err) {
        this.log.error({ err, reason }, 'no DHCPv4 lease for dual-stack');
        this.pendingDualStack = { reason, outage, verdictAt };
        this.recovery.startRecovery(); // retried from the recovery loop
        return false;
      }
    }
    const leaseWaitMs = this.now() - t0;
    await this.platform.ipv4.routeVia('wan', lease);
    const switchedAt = this.now();
    const from = this.mode;
    this.mode = 'DualStack';
    this.recovery.entered(switchedAt);
    this.backupSince = null;
    this.pendingDualStack = null;
    for (const d of this.detectors) if (d !== this.establishment) d.stop();
    this.recovery.damp(switchedAt);
    const failure = from !== 'None' && from !== 'NAT46' && !reason.startsWith('ForcedMode') && !reason.startsWith('ForceSwitch');
    const outageStart = typeof outage === 'number' ? outage : this.outageStart(verdictAt, outage.verdicts, await outage.counters);
    this.recordSwitch({
      // The AFTR left behind (this.index still names it here): the History row says which one failed.
      from, to: 'DualStack', reason, aftr: from === 'DSLite' ? (this.cands[this.index]?.aftr ?? '') : '', outageMs: failure ? switchedAt - outageStart : 0,
      ...(failure ? { verdictToSwitchMs: switchedAt - verdictAt, leaseWaitMs } : {}),
    });
    this.statusEmitter.fire(this.status());
    this.recovery.startRecovery();
    // Housekeeping off the critical path: the softwire's flows are not used any more.
    void this.platform.ipv4.flushConntrack('tunnel').catch(() => undefined);
    return true;
  }

  /**
   * Make-before-break back to DS-Lite (step 4): the softwire is up, IPv4 moves to it; the WAN path and
   * its lease stay ready for a grace period (a softwire failing again at once is left by one route
   * change), then DHCPRELEASE.
   */
  private async failback(index: number, addr: string, reason: string) {
    const from = this.mode;
    await this.platform.tunnel.up(addr);
    await this.platform.ipv4.routeVia('tunnel');
    if (from === 'DualStack') this.recovery.failedBack(this.now());
    this.enterDSLite(index, addr, reason, 0, true);
    this.wanReady.hold(detectionWindow(this.detectors));
  }

  /** One recovery round: in dual-stack towards any AFTR of the list, on a backup towards the primary. */
  private async probe() {
    if (this.mode === 'None') return this.bringUp('retry');
    if (this.pendingDualStack) {
      const p = this.pendingDualStack;
      await this.toDualStack(p.reason, p.outage, p.verdictAt);
      return;
    }
    if (this.mode === 'DSLite' && this.index > 0) return this.probePrimary();
    if (this.mode !== 'DualStack') return this.recovery.stopRecovery();
    this.recompute();
    const sentAt = this.now();
    let found: { index: number; addr: string } | null = null;
    let why = 'no AFTR';
    for (let i = 0; i < this.cands.length && !found; i++) {
      try {
        const addr = await this.resolve(this.cands[i].aftr);
        // The forwarder probes any AFTR from the softwire it has (no reconfiguration per candidate); it is
        // started on the first one if it never was (an AFTR absent at boot).
        if (this.platform.tunnel.aftr() === null) await this.platform.tunnel.up(addr);
        const r = await this.platform.tunnel.echo(this.echoTimeout(), addr);
        // A live candidate: the softwire points at it, so the gating detectors that speak through it (PCP) ask it.
        if (r.ok && this.platform.tunnel.aftr() !== addr) await this.platform.tunnel.up(addr);
        const bad = r.ok ? this.recovery.spoiled(addr) ?? await this.recovery.gateProbes(addr) : r.reason;
        if (!bad) found = { index: i, addr };
        else why = bad;
      } catch (err) {
        why = (err as Error).message;
      }
    }
    this.recovery.countProbe(found !== null, sentAt, found?.addr, why);
    if (!found || !this.automatic() || !this.recovery.due()) return;
    const last = await this.recovery.confirm(found.addr, true);
    if (last) return this.recovery.abandon(found.addr, last);
    this.index = found.index;
    await this.failback(found.index, found.addr, `Recovered: ${this.recovery.goodProbes} good probes of ${this.cands[found.index].aftr}`);
  }

  /** On a backup AFTR: the primary is probed through the softwire; healthy again, the gateway returns to it. */
  private async probePrimary() {
    this.recompute();
    const primary = this.cands[0];
    if (!primary) return;
    const sentAt = this.now();
    let addr = '';
    let bad: string | null;
    try {
      addr = await this.resolve(primary.aftr);
      const r = await this.platform.tunnel.echo(this.echoTimeout(), addr);
      bad = r.ok ? this.recovery.spoiled(addr) : r.reason;
    } catch (err) {
      bad = (err as Error).message;
    }
    this.recovery.countProbe(!bad, sentAt, addr, bad ?? '');
    if (bad || !this.automatic() || !this.recovery.due()) return;
    const last = await this.recovery.confirm(addr, false);
    if (last) return this.recovery.abandon(addr, last);
    const from = this.cands[this.index]?.aftr ?? '';
    // The forwarder moves to the primary and still takes what the backup returns for the packets in flight.
    await this.platform.tunnel.up(addr);
    this.enterDSLite(0, addr, `Recovered: ${this.recovery.goodProbes} good probes of the primary ${primary.aftr} (from backup ${from})`, 0, true);
  }

  /** The mode as shown: the softwire mode named after the softwire in use. */
  private shown(m: ServiceMode): ServiceMode {
    if (m === 'DualStack' && this.teredo) return 'Teredo';
    return m === 'DSLite' ? (this.opts.softwire?.kind() ?? 'DSLite') : m;
  }

  /** The modes as shown: the softwire named, dual-stack with Teredo as Teredo. */
  private recordSwitch(r: Omit<SwitchRecord, 'time'>) {
    const rec: SwitchRecord = { ...r, from: this.shown(r.from), to: this.shown(r.to), time: this.now(), outageMs: Math.max(0, Math.round(r.outageMs)) };
    this.log.warn({ ...rec }, 'failover switch');
    this.switchEmitter.fire(rec);
  }
}
