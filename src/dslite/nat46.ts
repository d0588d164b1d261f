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
//     gateway's ID; the forwarder does the rest.
// One plug-in, "nat46", after "failover" (whose platform it drives).
import type { Logger } from 'pino';
import { Emitter, type DataModel, type Disposable, type Plugin, type ValidateContext } from '../datamodel/index.ts';
import { nat46Space } from '../forwarder/addresses.ts';
import type { Nat46Config, Nat46Counters, Platform } from '../wan/platform.ts';
import type { FailoverHandle } from './index.ts';
import {
  dsliteEnabled, NAT46, nat46Problems, readNat46, validateDsliteEnable, validateNat46, writeNat46, type Nat46Report, type Nat46Settings,
} from './nat46-model.ts';

/** How often the forwarder's counters are read while translating (ms). */
export const STATS_INTERVAL_MS = 5000;

const ZERO: Nat46Counters = { translated4to6: 0, translated6to4: 0, handedOff: 0, handOffsReceived: 0, dropped: 0 };

export interface Nat46Options {
  platform: Pick<Platform, 'nat46'>;
  log: Logger;
  statsIntervalMs?: number;
}

export class Nat46Controller {
  private readonly p: Pick<Platform, 'nat46'>;
  private readonly log: Logger;
  private readonly statsMs: number;
  private report: Nat46Report = { status: 'Disabled', exportedRoute: '', stats: { ...ZERO } };
  private applied: Nat46Config | null = null;
  private busy: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly emitter = new Emitter<Nat46Report>();

  constructor(o: Nat46Options) {
    this.p = o.platform;
    this.log = o.log;
    this.statsMs = o.statsIntervalMs ?? STATS_INTERVAL_MS;
  }

  status(): Nat46Report {
    return { ...this.report, stats: { ...this.report.stats } };
  }

  onReport(fn: (r: Nat46Report) => void): Disposable {
    return this.emitter.on(fn);
  }

  /** The settings from the data model (and whether DS-Lite is enabled); applied in order, one at a time. */
  configure(s: Nat46Settings, dslite: boolean): void {
    this.serial(() => this.apply(s, dslite));
  }

  start(): void {
    this.timer = setInterval(() => this.serial(() => this.refreshStats()), this.statsMs);
    this.timer.unref?.();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
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
        want = s.config;
        status = 'Enabled';
      }
    }
    if (JSON.stringify(want) !== JSON.stringify(this.applied)) {
      try {
        await this.p.nat46.apply(want);
        this.applied = want;
        if (want) this.log.info({ gatewayId: want.gatewayId, peers: want.peers?.length ?? 0, adopted: want.adopted?.length ?? 0 }, 'nat46 applied');
      } catch (err) {
        this.log.error({ err }, 'nat46 configuration refused by the platform');
        await this.p.nat46.apply(null).catch(() => undefined);
        this.applied = null;
        want = null;
        status = 'Error_Misconfigured';
      }
    }
    const exportedRoute = want ? nat46Space(want, want.gatewayId) ?? '' : '';
    this.set({ status, exportedRoute, stats: want ? await this.p.nat46.counters() : this.report.stats });
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
      controller = new Nat46Controller({ platform: handle.platform, log: log.child({ module: 'nat46' }) });
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
