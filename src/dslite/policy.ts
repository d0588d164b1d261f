// The failover policy (DESIGN "The behaviour at the heart of it", steps 1-4):
//   DS-Lite on the primary AFTR -> the next AFTR of the list (explicit failover) -> dual-stack (DHCPv4
//   public IPv4, NAT44, IPv4 default route to the WAN); in dual-stack the softwire is probed every
//   RecoveryInterval and after RecoveryThreshold good probes (and HoldDownTime in the mode) DS-Lite comes
//   back make-before-break: the softwire is already up, IPv4 moves to it, then DHCPRELEASE.
// IPv6 is never touched here: only the IPv4 route, NAT44 and the forwarder change, so the LAN's IPv6
// service is not interrupted by any switch. Every action runs on one queue, one at a time.
import type { Logger } from 'pino';
import { Emitter, type Disposable } from '../datamodel/index.ts';
import type { Lease4, Platform } from '../wan/platform.ts';
import {
  combine, DETECTOR_DEFAULTS, DETECTORS, EstablishmentDetector, nodeUdp, type Detector, type DetectorSettings, type UdpOpen, type UdpOptions, type Verdict,
} from './detectors.ts';
import { candidates, literal, primaryEndpoint, type Endpoint, type EndpointSettings } from './endpoint.ts';

export type Mode = 'None' | 'DSLite' | 'DualStack';

export interface PolicySettings {
  enable: boolean;
  forcedMode: 'Auto' | 'DSLite' | 'DualStack';
  backupAFTRs: string[];
  combine: 'Any' | 'All' | 'Primary';
  primaryDetector: string;
  /** ms */
  recoveryInterval: number;
  recoveryThreshold: number;
  /** ms: minimum time in dual-stack before an automatic return (flap damping) */
  holdDownTime: number;
  endpoint: EndpointSettings;
}

export interface SwitchRecord {
  time: number;
  from: Mode;
  to: Mode;
  reason: string;
  aftr: string;
  outageMs: number;
}

export interface PolicyStatus {
  mode: Mode;
  /** The AFTR in use as configured or learnt (FQDN or address); '' when none. */
  aftr: string;
  /** Its IPv6 address (EndpointAddressInUse); '' when none. */
  aftrAddress: string;
  origin: 'DHCPv6' | 'Static' | '';
  /** The softwire carries the LAN's IPv4. */
  tunnelActive: boolean;
  publicIPv4: Lease4 | null;
}

export interface PolicyOptions {
  platform: Platform;
  settings: PolicySettings;
  detectorSettings?: Record<string, DetectorSettings>;
  log: Logger;
  now?: () => number;
  /** How long to wait for a DHCPv6 AFTR-Name at boot before "no AFTR" (ms). */
  leaseWait?: number;
  /** How long one DHCPv4 acquisition may take (ms). */
  dhcp4Timeout?: number;
  /** AAAA lookup timeout (ms). */
  dnsTimeout?: number;
}

const MAX_HOLD_FACTOR = 8;

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
  private enteredAt = 0;
  private goodProbes = 0;
  private holdFactor = 1;
  private lastFailback = 0;
  private queue: Promise<void> = Promise.resolve();
  private recoveryTimer: NodeJS.Timeout | null = null;
  private leaseTimer: NodeJS.Timeout | null = null;
  private readonly subs: Disposable[] = [];
  private readonly statusEmitter = new Emitter<PolicyStatus>();
  private readonly switchEmitter = new Emitter<SwitchRecord>();
  private stopped = false;

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
  }

  status(): PolicyStatus {
    const active = this.mode === 'DSLite';
    const e = this.index >= 0 ? this.cands[this.index] : undefined;
    return {
      mode: this.mode,
      aftr: active && e ? e.aftr : '',
      aftrAddress: active ? this.aftrAddress : '',
      origin: active && e ? e.origin : '',
      tunnelActive: active,
      publicIPv4: this.mode === 'DualStack' ? this.platform.dhcp4.lease() : null,
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
    for (const d of this.detectors) this.subs.push(d.onVerdict((v) => this.onVerdict(v)));
    this.enqueue('boot', () => this.boot());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const s of this.subs.splice(0)) s.dispose();
    this.stopRecovery();
    if (this.leaseTimer) clearTimeout(this.leaseTimer);
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
    if (prev.recoveryInterval !== next.recoveryInterval && this.recoveryTimer) this.startRecovery();
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
        if (this.mode === to) return resolve(`already in ${to}`);
        const ok = await this.switchTo(to, `ForceSwitch() to ${to}`);
        resolve(ok ? `switched to ${to}` : `could not switch to ${to}`);
      });
    });
  }

  /** TestAFTR(): probes an AFTR without switching. */
  async testAftr(aftr: string): Promise<{ reachable: boolean; rttUs: number; reason: string }> {
    const addr = await this.resolve(aftr).catch((e: Error) => e);
    if (addr instanceof Error) return { reachable: false, rttUs: 0, reason: addr.message };
    const timeout = this.detector('Echo')?.settings.timeout ?? 1000;
    const r = await this.platform.tunnel.echo(timeout, addr);
    return { reachable: r.ok, rttUs: r.rttUs, reason: r.reason };
  }

  // ---- internals ------------------------------------------------------------------------------------

  private enqueue(what: string, fn: () => Promise<unknown> | unknown) {
    this.queue = this.queue.then(async () => {
      if (this.stopped) return;
      try {
        await fn();
      } catch (err) {
        this.log.error({ err, action: what }, 'failover action failed');
      }
    });
  }

  private recompute() {
    this.cands = candidates(primaryEndpoint(this.settings.endpoint, this.platform.dhcp6.lease()), this.settings.backupAFTRs);
  }

  private async boot() {
    this.recompute();
    if (this.settings.forcedMode === 'DualStack') return this.switchTo('DualStack', 'ForcedMode DualStack');
    const needLease = this.settings.endpoint.assignment === 'DHCPv6' && !this.platform.dhcp6.lease();
    if (this.cands.length === 0 && needLease) {
      // RFC 6334: the AFTR-Name comes with the DHCPv6 reply; wait for it a while before calling it absent.
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
      if (this.leaseTimer) clearTimeout(this.leaseTimer);
      if (this.cands.length) await this.bringUp('boot');
      return;
    }
    if (before !== JSON.stringify(this.cands)) await this.reselect('DHCPv6 AFTR-Name changed');
  }

  /** From None: the first AFTR that can be established, or dual-stack. */
  private async bringUp(why: string) {
    const r = await this.establish(0);
    if (r) {
      await this.platform.ipv4.routeVia('tunnel');
      this.enterDSLite(r.index, r.addr, why, 0, false);
      return;
    }
    await this.switchTo('DualStack', this.establishment.verdict().reason || 'Establishment: no AFTR');
  }

  /** The AFTR settings or the lease changed while running: start again from the primary. */
  private async reselect(why: string) {
    this.recompute();
    if (this.mode !== 'DSLite') return;
    const want = this.cands[0];
    const cur = this.cands[this.index];
    if (want && cur && want.aftr === cur.aftr && this.index === 0) return;
    await this.failover(why, true);
  }

  private onVerdict(v: Verdict) {
    this.log.debug({ detector: v.detector, state: v.state, reason: v.reason }, 'detector verdict');
    if (v.state === 'Failed') this.enqueue('verdict', () => this.evaluate());
  }

  private async evaluate() {
    if (this.mode !== 'DSLite') return;
    const reason = combine(this.detectors.map((d) => d.verdict()), this.settings.combine, this.settings.primaryDetector);
    if (!reason) return;
    if (!this.settings.enable || this.settings.forcedMode !== 'Auto') {
      this.log.warn({ reason, enable: this.settings.enable, forcedMode: this.settings.forcedMode }, 'softwire failed; automatic failover off');
      return;
    }
    await this.failover(reason, false);
  }

  /** DS-Lite failed: the next AFTR, or dual-stack when none is left. */
  private async failover(reason: string, fromStart: boolean) {
    const detectedAt = this.now();
    const outageStart = await this.outageStart(detectedAt);
    for (const d of this.detectors) if (d !== this.establishment) d.stop();
    const r = await this.establish(fromStart ? 0 : this.index + 1);
    if (r) {
      await this.platform.ipv4.flushConntrack();
      this.enterDSLite(r.index, r.addr, reason, this.now() - outageStart, true);
      return;
    }
    await this.switchTo('DualStack', reason, outageStart);
  }

  /**
   * When the outage began: the latest moment the path is known to have worked. That is the last packet
   * from the AFTR through the tunnel, or a failed detector's own last sign of life (BFD's last control
   * packet), and never earlier than the detectors' window (a detector would have failed sooner).
   */
  private async outageStart(detectedAt: number): Promise<number> {
    const c = await this.platform.tunnel.counters().catch(() => null);
    const window = Math.max(...this.detectors.filter((d) => d.settings.enable)
      .map((d) => d.settings.timeout + d.settings.interval * d.settings.failureThreshold), 0);
    const since = this.detectors.map((d) => d.verdict()).filter((v) => v.state === 'Failed' && v.since !== undefined).map((v) => v.since!);
    return Math.min(detectedAt, Math.max(c?.lastRxFromAftr ?? detectedAt, detectedAt - window, ...since));
  }

  private async resolve(aftr: string): Promise<string> {
    const lit = literal(aftr);
    if (lit) return lit;
    const servers = this.platform.dhcp6.lease()?.dnsServers ?? [];
    if (!servers.length) throw new Error(`Establishment: no DNS server to resolve ${aftr}`);
    const addrs = await this.platform.resolve(aftr, servers, this.opts.dnsTimeout ?? 2000)
      .catch((e: Error) => { throw new Error(`Establishment: DNS failure resolving ${aftr}: ${e.message}`); });
    if (!addrs.length) throw new Error(`Establishment: ${aftr} has no AAAA record`);
    return literal(addrs[0]) ?? addrs[0];
  }

  /** Brings the softwire up to the first AFTR from `from` on that resolves and routes (step 2a). */
  private async establish(from: number): Promise<{ index: number; addr: string } | null> {
    if (this.cands.length === 0) {
      this.establishment.report(false, 'Establishment: no AFTR (no DHCPv6 AFTR-Name, no static endpoint)');
      return null;
    }
    for (let i = from; i < this.cands.length; i++) {
      try {
        const addr = await this.resolve(this.cands[i].aftr);
        await this.platform.tunnel.up(addr).catch((e: Error) => { throw new Error(`Establishment: no route to ${addr}: ${e.message}`); });
        this.establishment.report(true, '');
        return { index: i, addr };
      } catch (err) {
        const reason = (err as Error).message;
        this.log.warn({ aftr: this.cands[i].aftr, reason }, 'AFTR not established');
        this.establishment.report(false, reason);
      }
    }
    return null;
  }

  private enterDSLite(index: number, addr: string, reason: string, outageMs: number, record: boolean) {
    const from = this.mode;
    this.mode = 'DSLite';
    this.index = index;
    this.aftrAddress = addr;
    this.enteredAt = this.now();
    this.stopRecovery();
    for (const d of this.detectors) d.start(addr);
    if (record || from !== 'None') this.recordSwitch(from, 'DSLite', reason, this.cands[index].aftr, outageMs);
    else this.log.info({ aftr: this.cands[index].aftr, address: addr }, 'DS-Lite up');
    this.statusEmitter.fire(this.status());
  }

  /** Moves to a mode (failover, failback, forced). Returns false when it cannot be reached now. */
  private async switchTo(to: 'DSLite' | 'DualStack', reason: string, outageStart?: number): Promise<boolean> {
    if (to === 'DSLite') {
      this.recompute();
      const r = await this.establish(0);
      if (!r) return false;
      await this.failback(r.index, r.addr, reason);
      return true;
    }
    if (this.mode === 'DualStack') return true;
    const start = outageStart ?? this.now();
    let lease: Lease4;
    try {
      lease = await this.platform.dhcp4.acquire(this.opts.dhcp4Timeout ?? 10_000);
    } catch (err) {
      this.log.error({ err, reason }, 'no DHCPv4 lease for dual-stack');
      this.startRecovery(); // retried from the recovery loop
      return false;
    }
    // NAT first, then the route: the first packet on the new path already has its binding.
    await this.platform.ipv4.nat(lease);
    await this.platform.ipv4.routeVia('wan', lease);
    await this.platform.ipv4.flushConntrack();
    const from = this.mode;
    const switchedAt = this.now();
    this.mode = 'DualStack';
    this.enteredAt = switchedAt;
    this.goodProbes = 0;
    for (const d of this.detectors) if (d !== this.establishment) d.stop();
    // Flap damping: a failure soon after a failback doubles the hold-down (up to 8x); a calm period resets it.
    const hold = this.settings.holdDownTime * this.holdFactor;
    if (this.lastFailback && switchedAt - this.lastFailback < 2 * hold) this.holdFactor = Math.min(this.holdFactor * 2, MAX_HOLD_FACTOR);
    else this.holdFactor = 1;
    this.recordSwitch(from, 'DualStack', reason, '', from === 'None' ? 0 : switchedAt - start);
    this.statusEmitter.fire(this.status());
    this.startRecovery();
    return true;
  }

  /** Make-before-break back to DS-Lite (step 4): softwire up, IPv4 onto it, NAT off, then DHCPRELEASE. */
  private async failback(index: number, addr: string, reason: string) {
    const from = this.mode;
    await this.platform.tunnel.up(addr);
    await this.platform.ipv4.routeVia('tunnel');
    await this.platform.ipv4.nat(null);
    await this.platform.ipv4.flushConntrack();
    if (from === 'DualStack') this.lastFailback = this.now();
    this.enterDSLite(index, addr, reason, 0, true);
    if (this.platform.dhcp4.lease()) await this.platform.dhcp4.release().catch((err) => this.log.error({ err }, 'DHCPRELEASE failed'));
  }

  private startRecovery() {
    this.stopRecovery();
    this.recoveryTimer = setInterval(() => this.enqueue('recovery probe', () => this.probe()), this.settings.recoveryInterval);
    this.recoveryTimer.unref?.();
  }

  private stopRecovery() {
    if (this.recoveryTimer) clearInterval(this.recoveryTimer);
    this.recoveryTimer = null;
  }

  /** One recovery round in dual-stack: the first candidate that answers an echo counts as a good probe. */
  private async probe() {
    if (this.mode === 'None') {
      await this.bringUp('retry');
      return;
    }
    if (this.mode !== 'DualStack') return this.stopRecovery();
    this.recompute();
    const timeout = this.detector('Echo')?.settings.timeout ?? 1000;
    let found: { index: number; addr: string } | null = null;
    let why = 'no AFTR';
    for (let i = 0; i < this.cands.length && !found; i++) {
      try {
        const addr = await this.resolve(this.cands[i].aftr);
        if (this.platform.tunnel.aftr() !== addr) await this.platform.tunnel.up(addr);
        const r = await this.platform.tunnel.echo(timeout);
        const gate = r.ok ? await this.gateProbes(addr) : null;
        if (r.ok && !gate) found = { index: i, addr };
        else why = gate ?? r.reason;
      } catch (err) {
        why = (err as Error).message;
      }
    }
    this.goodProbes = found ? this.goodProbes + 1 : 0;
    this.log.debug({ good: this.goodProbes, aftr: found?.addr, why: found ? undefined : why }, 'recovery probe');
    if (!found || !this.settings.enable || this.settings.forcedMode !== 'Auto') return;
    const held = this.now() - this.enteredAt;
    const hold = this.settings.holdDownTime * this.holdFactor;
    if (this.goodProbes < this.settings.recoveryThreshold || held < hold) return;
    this.index = found.index;
    await this.failback(found.index, found.addr, `Recovered: ${this.goodProbes} good probes of ${this.cands[found.index].aftr}`);
  }

  /**
   * Detectors that talk to the AFTR (BFD, PCP) must also call it healthy before DS-Lite returns, when their
   * verdict alone would fail it again (Combine Any, or the Primary). A failure reason, or null.
   */
  private async gateProbes(addr: string): Promise<string | null> {
    const { combine: how, primaryDetector } = this.settings;
    for (const d of this.detectors) {
      if (!d.probe || !d.settings.enable || how === 'All' || (how === 'Primary' && d.name !== primaryDetector)) continue;
      const r = await d.probe(addr);
      if (!r.ok) return r.reason;
    }
    return null;
  }

  private recordSwitch(from: Mode, to: Mode, reason: string, aftr: string, outageMs: number) {
    const rec: SwitchRecord = { time: this.now(), from, to, reason, aftr, outageMs: Math.max(0, Math.round(outageMs)) };
    this.log.warn({ from, to, reason, aftr, outageMs: rec.outageMs }, 'failover switch');
    this.switchEmitter.fire(rec);
  }
}
