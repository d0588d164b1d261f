// The NAT46 controller (issue 23): turns Device.X_TWINSTACK-ORG_NAT46. into a Nat46Config and applies it through
// the WAN platform (Platform.nat46: the forwarder in mode 'nat46' on Linux, a recording translator in the
// simulation), live on every change; writes Status, ExportedRoute and Stats back in system transactions.
//   - ExportedRoute is this gateway's identifier space, Prefix | TenantID | GatewayID with the length Prefix
//     length + TenantBits + GatewayBits: every address of its clients lies in it and nothing of another gateway
//     does, so it is the one route its BGP speaker announces (FRR: `network 2001:db8:462a:102::/64` under
//     `address-family ipv6 unicast`, with the prefix routed to the translator). Empty unless Enabled.
//   - Stats are the forwarder's counters, read every STATS_INTERVAL_MS while enabled and written back when they
//     moved (a system write, no fsync: re-derived from the forwarder), so every face, SNMP's cached view
//     included, sees them within that interval.
//   - Adoption (issue 23's failover tie-in) is configuration: an Adopted row makes this gateway serve another
//     gateway's ID; the forwarder does the rest. Activation Always: in force while enabled. PeerDown: in force
//     while the Peer of that ID is Down. Every enabled Peer is probed every PeerProbeInterval (an ICMPv6 echo to
//     its hand-off address, answered by its translator itself: a gateway whose translator died does not answer,
//     whatever its kernel does); it is Unknown until it answers once, then PeerFailureThreshold misses in a row
//     make it Down, PeerRecoveryThreshold answers in a row Up again. Never Down from Unknown: at start our own
//     routes may not be announced yet, so a live peer's replies cannot reach us, and adopting it would hijack
//     its clients' traffic. Hysteresis both ways, so one lost echo neither takes nor gives back an identifier: a
//     flapping adoption would move the clients' return traffic (the exported route) back and forth.
//   - The failover policy stands aside while NAT46 carries the LAN's IPv4 (policy.ts standAside: no detectors,
//     no DHCPv4 lease, Failover.Mode NAT46, the switch in the History) and takes over again when it stops.
// One plug-in, "nat46", after "failover" (whose platform and policy it drives).
import type { Logger } from 'pino';
import { Emitter, type DataModel, type Disposable, type Plugin, type ValidateContext } from '../datamodel/index.ts';
import { nat46Space } from '../forwarder/addresses.ts';
import type { Nat46Config, Nat46Counters, Platform } from '../wan/platform.ts';
import type { FailoverHandle } from './index.ts';
import {
  dsliteEnabled, NAT46, nat46Problems, readNat46, validateDsliteEnable, validateNat46, writeNat46, type Nat46Report, type Nat46Settings, type PeerStatus,
} from './nat46-model.ts';

/** How often the forwarder's counters are read while translating (ms). */
export const STATS_INTERVAL_MS = 5000;

const ZERO: Nat46Counters = { translated4to6: 0, translated6to4: 0, handedOff: 0, handOffsReceived: 0, dropped: 0 };

/** The IPv4 service NAT46 replaces: the failover policy (policy.ts standAside / resume). */
export interface Nat46Service {
  standAside(reason: string): Promise<void>;
  resume(reason: string): Promise<void>;
}

export interface Nat46Options {
  platform: Pick<Platform, 'nat46'>;
  log: Logger;
  statsIntervalMs?: number;
  service?: Nat46Service;
}

/** A peer's liveness: the probes' verdict and the run of misses or answers that leads to the next one. */
interface PeerWatch {
  status: PeerStatus;
  misses: number;
  answers: number;
}

const peerKey = (p: { gatewayId: number; address: string }) => `${p.gatewayId} ${p.address}`;

export class Nat46Controller {
  private readonly p: Pick<Platform, 'nat46'>;
  private readonly log: Logger;
  private readonly statsMs: number;
  private readonly service?: Nat46Service;
  private report: Nat46Report = { status: 'Disabled', exportedRoute: '', stats: { ...ZERO }, peers: {}, adopted: {} };
  private applied: Nat46Config | null = null;
  /** The settings last configured (and whether DS-Lite was enabled), re-applied when a peer's status changes. */
  private settings: { s: Nat46Settings; dslite: boolean } | null = null;
  private readonly watch = new Map<string, PeerWatch>();
  /** The policy was asked to stand aside and not yet to resume. */
  private aside = false;
  private busy: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  private probeTimer: NodeJS.Timeout | null = null;
  private started = false;
  private stopped = false;
  private readonly emitter = new Emitter<Nat46Report>();

  constructor(o: Nat46Options) {
    this.p = o.platform;
    this.log = o.log;
    this.statsMs = o.statsIntervalMs ?? STATS_INTERVAL_MS;
    this.service = o.service;
  }

  status(): Nat46Report {
    return structuredClone(this.report);
  }

  onReport(fn: (r: Nat46Report) => void): Disposable {
    return this.emitter.on(fn);
  }

  /** The settings from the data model (and whether DS-Lite is enabled); applied in order, one at a time. */
  configure(s: Nat46Settings, dslite: boolean): void {
    this.serial(() => this.apply(s, dslite));
  }

  /**
   * The policy is to stand aside at once if the stored settings translate (at start, before the policy boots: it
   * must not bring a softwire up, or take a DHCPv4 lease, for the moment until the translator is applied).
   */
  claim(s: Nat46Settings, dslite: boolean): void {
    if (!s.enable || dslite || nat46Problems(s.config).length || !this.service) return;
    this.aside = true;
    void this.service.standAside('NAT46 enabled');
  }

  start(): void {
    this.started = true;
    this.timer = setInterval(() => this.serial(() => this.refreshStats()), this.statsMs);
    this.timer.unref?.();
    this.scheduleProbes();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.probeTimer) clearTimeout(this.probeTimer);
    this.timer = this.probeTimer = null;
    await this.busy;
  }

  /** Resolves when everything queued so far is done (tests). */
  idle(): Promise<void> {
    return this.busy;
  }

  /** Reads the counters now (also what the timer does). */
  refresh(): Promise<void> {
    this.serial(() => this.refreshStats());
    return this.busy;
  }

  private serial(fn: () => Promise<void>): void {
    this.busy = this.busy.then(() => (this.stopped ? undefined : fn())).catch((err) => this.log.error({ err }, 'nat46 step failed'));
  }

  private set(patch: Partial<Nat46Report>) {
    const next = { ...this.report, ...patch };
    if (JSON.stringify(next) === JSON.stringify(this.report)) return;
    this.report = next;
    this.emitter.fire(this.status());
  }

  private async apply(s: Nat46Settings, dslite: boolean): Promise<void> {
    this.settings = { s, dslite };
    let want: Nat46Config | null = null;
    let status: Nat46Report['status'] = 'Disabled';
    if (s.enable) {
      // The data model's veto refuses both services at once and invalid configurations; what ends here is a
      // stored configuration the forwarder no longer accepts (written before an upgrade changed its checks).
      const problems = dslite ? ['Device.DSLite.Enable is true'] : nat46Problems(s.config);
      if (problems.length) {
        this.log.warn({ problems }, 'nat46 not applied: misconfigured');
        status = 'Error_Misconfigured';
      } else {
        want = this.inForce(s);
        status = 'Enabled';
      }
    }
    if (JSON.stringify(want) !== JSON.stringify(this.applied)) {
      // The policy first: it gives up the softwire and the lease before the forwarder becomes the translator.
      if (want && !this.aside) {
        this.aside = true;
        await this.service?.standAside('NAT46 enabled');
      }
      try {
        await this.p.nat46.apply(want);
        this.applied = want;
        if (want) this.log.info({ gatewayId: want.gatewayId, peers: want.peers?.length ?? 0, adopted: want.adopted?.map((a) => a.gatewayId) ?? [] }, 'nat46 applied');
      } catch (err) {
        this.log.error({ err }, 'nat46 configuration refused by the platform');
        await this.p.nat46.apply(null).catch(() => undefined);
        this.applied = null;
        want = null;
        status = 'Error_Misconfigured';
      }
    }
    // Not translating (disabled, or refused): the LAN's IPv4 goes back to the failover policy.
    if (!want && this.aside) {
      this.aside = false;
      await this.service?.resume(status === 'Disabled' ? 'NAT46 disabled' : 'NAT46 not applied');
    }
    if (!want) this.watch.clear();
    const exportedRoute = want ? nat46Space(want, want.gatewayId) ?? '' : '';
    this.set({ status, exportedRoute, stats: want ? await this.p.nat46.counters() : this.report.stats, ...this.rows(s, want) });
  }

  /** The configuration to apply: every Peer; the adoptions in force (Always, or PeerDown with the peer Down). */
  private inForce(s: Nat46Settings): Nat46Config {
    const peers = s.config.peers ?? [];
    // Forget the peers no longer configured; a new one starts Unknown (its adoptions stay in Standby).
    const keys = new Set(peers.map(peerKey));
    for (const k of this.watch.keys()) if (!keys.has(k)) this.watch.delete(k);
    for (const k of keys) if (!this.watch.has(k)) this.watch.set(k, { status: 'Unknown', misses: 0, answers: 0 });
    const down = (gatewayId: number) => peers.some((p) => p.gatewayId === gatewayId && this.watch.get(peerKey(p))?.status === 'Down');
    const adopted = (s.config.adopted ?? []).filter((a, i) => s.activation[i] !== 'PeerDown' || down(a.gatewayId));
    return { ...s.config, adopted };
  }

  /** The rows' state for the report: each enabled Peer's liveness, each enabled Adopted row Standby or Active. */
  private rows(s: Nat46Settings, applied: Nat46Config | null): Pick<Nat46Report, 'peers' | 'adopted'> {
    if (!applied) return { peers: {}, adopted: {} };
    const peers = Object.fromEntries((s.config.peers ?? []).map((p, i) => [s.peerRows[i], this.watch.get(peerKey(p))?.status ?? 'Unknown']));
    const active = new Set((applied.adopted ?? []).map((a) => a.gatewayId));
    const adopted = Object.fromEntries((s.config.adopted ?? []).map((a, i) => [s.adoptedRows[i], active.has(a.gatewayId)
      ? { status: 'Active' as const, exportedRoute: nat46Space(applied, a.gatewayId) ?? '' }
      : { status: 'Standby' as const, exportedRoute: '' }]));
    return { peers, adopted };
  }

  private scheduleProbes(): void {
    if (this.stopped) return;
    const ms = this.settings?.s.liveness.intervalMs;
    this.probeTimer = setTimeout(() => void this.probeRound(), Number.isFinite(ms) && ms! > 0 ? ms : 1000);
    this.probeTimer.unref?.();
  }

  /**
   * One round: every enabled peer probed at once, each probe given the interval to come back. Off the serial
   * queue (a round may take the whole interval; a Set must not wait for it); a status change re-applies there.
   */
  private async probeRound(): Promise<void> {
    try {
      const cur = this.settings;
      const applied = this.applied;
      if (!cur || !applied || !(applied.peers ?? []).length) return;
      const { liveness } = cur.s;
      const peers = cur.s.config.peers ?? [];
      const results = await Promise.all(peers.map((p) => this.p.nat46.probe(p.address, liveness.intervalMs).catch((e: Error) => ({ ok: false, rttUs: 0, reason: e.message }))));
      // Settings changed meanwhile: the round's verdicts may concern peers that are gone.
      if (this.settings !== cur || this.stopped) return;
      let changed = false;
      peers.forEach((p, i) => {
        const w = this.watch.get(peerKey(p));
        if (!w) return;
        const r = results[i];
        if (r.ok) {
          w.misses = 0;
          w.answers++;
          if (w.status === 'Unknown' || (w.status === 'Down' && w.answers >= liveness.recoveries)) changed = this.peerIs(p, w, 'Up', r.reason) || changed;
        } else {
          w.answers = 0;
          w.misses++;
          // Only a peer seen alive is called Down. One that never answered may be alive with our own routes not
          // yet announced (the replies to our probes come back on them): adopting it would announce a live
          // gateway's space, taking its clients' traffic. It stays Unknown.
          if (w.status === 'Up' && w.misses >= liveness.failures) changed = this.peerIs(p, w, 'Down', r.reason) || changed;
        }
      });
      if (changed) this.serial(() => (this.settings ? this.apply(this.settings.s, this.settings.dslite) : Promise.resolve()));
    } catch (err) {
      this.log.error({ err }, 'nat46 peer probes failed');
    } finally {
      if (this.started) this.scheduleProbes();
    }
  }

  private peerIs(p: { gatewayId: number; address: string }, w: PeerWatch, status: PeerStatus, why: string): boolean {
    const was = w.status;
    w.status = status;
    const level = status === 'Down' || was === 'Down' ? 'warn' : 'info';
    this.log[level]({ gatewayId: p.gatewayId, address: p.address, from: was, to: status, why: why || undefined }, 'nat46 peer status');
    return true;
  }

  private async refreshStats(): Promise<void> {
    if (!this.applied) return;
    this.set({ stats: await this.p.nat46.counters() });
  }
}

/**
 * Attaches the veto and the apply handlers; the controller's reports are written back. The stored settings are
 * applied by the caller (`applyStored`) once the platform runs.
 */
export function bindNat46Model(o: { dm: DataModel; controller: Nat46Controller; log: Logger }): Disposable[] {
  const { dm, controller, log } = o;
  const write = (r: Nat46Report) => {
    try {
      writeNat46(dm, r);
    } catch (err) {
      log.error({ err }, 'nat46 state not written');
    }
  };
  // Only what a manager writes changes a setting; the gateway's own writes (Status, Stats) would only queue work.
  const apply = (ev: { origin: string }) => {
    if (ev.origin !== 'system') controller.configure(readNat46(dm), dsliteEnabled(dm));
  };
  const validate = (ctx: ValidateContext) => validateNat46(dm, ctx);
  write(controller.status());
  return [
    controller.onReport(write),
    dm.attach(NAT46, { validate, apply }),
    dm.attach(`${NAT46}Peer.{i}.`, { validate, apply }),
    dm.attach(`${NAT46}Adopted.{i}.`, { validate, apply }),
    // Device.DSLite.Enable and NAT46 exclude each other; a change of DS-Lite's may also clear a misconfiguration.
    dm.attach('Device.DSLite.', { validate: (ctx) => validateDsliteEnable(dm, ctx), apply }),
  ];
}

/** Applies what the data model holds now (at start: the settings stored before a restart). */
export function applyStored(dm: DataModel, controller: Nat46Controller): void {
  controller.configure(readNat46(dm), dsliteEnabled(dm));
}

/**
 * The NAT46 plug-in: after "failover", whose platform (`handle.platform`, set in its register()) it drives.
 */
export function nat46Plugin(handle: FailoverHandle): Plugin {
  let controller: Nat46Controller;
  return {
    name: 'nat46',
    dependsOn: ['failover'],
    register({ dm, log }) {
      if (!handle.platform) throw new Error('nat46: the failover plug-in registered no platform');
      const policy = handle.policy;
      const service: Nat46Service | undefined = policy ? {
        standAside: (reason) => policy.standAside('NAT46', reason),
        resume: (reason) => policy.resume(reason),
      } : undefined;
      controller = new Nat46Controller({ platform: handle.platform, log: log.child({ module: 'nat46' }), service });
      // Before the policy starts: with NAT46 stored enabled it must not boot a softwire first.
      controller.claim(readNat46(dm), dsliteEnabled(dm));
      return bindNat46Model({ dm, controller, log });
    },
    // After "failover" started the platform: the forwarder is configured only on a running WAN.
    start({ dm }) {
      applyStored(dm, controller);
      controller.start();
    },
    async stop() {
      await controller.stop();
    },
  };
}
