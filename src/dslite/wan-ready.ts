// The dual-stack path kept ready around the switches (DESIGN step 3-4): DHCPv4 starts at the first
// suspicion about the softwire, so a failover finds the lease in hand; after a return to DS-Lite the lease
// (and with it the WAN address and NAT44) stays for a grace period, so a softwire that fails again at once
// is left by one route change; without a verdict, or after the grace period, the address goes back to the
// ISP (DHCPRELEASE) and the WAN path's conntrack entries are dropped.
import type { Logger } from 'pino';
import type { Platform } from '../wan/platform.ts';

/** A lease prepared on a suspicion is given back when no verdict followed within this time (ms). */
export const SUSPICION_HOLD = 10_000;
/** After a return to DS-Lite the WAN path stays ready at least this long (ms), at most GRACE_MAX. */
export const GRACE_MIN = 3000;
export const GRACE_MAX = 15_000;

export interface WanReadyOptions {
  platform: Platform;
  log: Logger;
  /** Runs an action on the policy's queue. */
  enqueue(what: string, fn: () => Promise<unknown> | unknown): void;
  /** True while IPv4 goes into the softwire (the lease is then not in use). */
  inDSLite(): boolean;
}

export class WanReady {
  private graceTimer: NodeJS.Timeout | null = null;
  private suspectTimer: NodeJS.Timeout | null = null;

  constructor(private readonly o: WanReadyOptions) {}

  /** A first sign of trouble: DHCPv4 now, given back after SUSPICION_HOLD without a verdict. */
  suspect(reason: string): void {
    const { dhcp4 } = this.o.platform;
    if (!dhcp4.lease() && dhcp4.state() === 'Init') this.o.log.info({ reason }, 'softwire suspect: DHCPv4 prepared');
    dhcp4.prepare();
    if (this.suspectTimer) clearTimeout(this.suspectTimer);
    this.suspectTimer = setTimeout(() => this.o.enqueue('suspicion over', async () => {
      this.suspectTimer = null;
      if (this.o.inDSLite() && !this.graceTimer) await this.release('suspicion over');
    }), SUSPICION_HOLD);
    this.suspectTimer.unref?.();
  }

  /** Back in DS-Lite: the lease, if any, is kept for `windowMs` (bounded to GRACE_MIN..GRACE_MAX), then released. */
  hold(windowMs: number): void {
    this.cancelGrace();
    const { dhcp4 } = this.o.platform;
    if (!dhcp4.lease() && dhcp4.state() === 'Init') return;
    const ms = Math.min(Math.max(GRACE_MIN, windowMs), GRACE_MAX);
    this.graceTimer = setTimeout(() => this.o.enqueue('grace over', async () => {
      this.graceTimer = null;
      if (this.o.inDSLite()) await this.release('DS-Lite held');
    }), ms);
    this.graceTimer.unref?.();
  }

  /** The lease is in use again (dual-stack): no release pending. */
  cancelGrace(): void {
    if (this.graceTimer) clearTimeout(this.graceTimer);
    this.graceTimer = null;
  }

  stop(): void {
    this.cancelGrace();
    if (this.suspectTimer) clearTimeout(this.suspectTimer);
    this.suspectTimer = null;
  }

  /** The lease goes back now (also what the timers do); a no-op without one. */
  async release(why: string): Promise<void> {
    if (this.suspectTimer) clearTimeout(this.suspectTimer);
    this.suspectTimer = null;
    const { dhcp4, ipv4 } = this.o.platform;
    if (!dhcp4.lease() && dhcp4.state() === 'Init') return;
    this.o.log.info({ why }, 'DHCPv4 lease given back');
    await dhcp4.release().catch((err) => this.o.log.error({ err }, 'DHCPRELEASE failed'));
    void ipv4.flushConntrack('wan').catch(() => undefined);
  }
}
