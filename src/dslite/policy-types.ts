// The failover policy's vocabulary (policy.ts): its settings and options, the modes it moves between, and what
// it reports (status, the recovery's progress, one record per switch). They stand apart from the behaviour so
// that policy.ts reads as behaviour and the recovery's bookkeeping (recovery.ts) names them without importing
// the policy. Importers take them from policy.ts, which re-exports them.
import type { Logger } from 'pino';
import type { Lease4, Platform, TunnelCounters } from '../wan/platform.ts';
import type { DetectorSettings, Verdict } from './detectors.ts';
import type { EndpointSettings } from './endpoint.ts';

/** NAT46: another service carries the LAN's IPv4 (issue 23, nat46.ts) and the policy stands aside (standAside()). */
export type Mode = 'None' | 'DSLite' | 'DualStack' | 'NAT46';
/** The mode as the data model shows it: the softwire mode says which softwire (DS-Lite, or lw4o6, lw4o6.ts). */
export type ServiceMode = 'None' | 'DSLite' | 'LW4o6' | 'DualStack' | 'NAT46' | 'Teredo';

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
  from: ServiceMode;
  to: ServiceMode;
  reason: string;
  aftr: string;
  outageMs: number;
  /** From the verdict to the new path carrying traffic (failovers only; logged, for the benchmarks). */
  verdictToSwitchMs?: number;
  /** Of that, waiting for the DHCPv4 lease (0 when it was ready). */
  leaseWaitMs?: number;
}

/**
 * When an outage began: known (a planned or forced move: now), or to be dated after the switch from the
 * forwarder's last packet from the AFTR and the failed detectors' verdicts (outageStart()).
 */
export type OutageFrom = number | { verdicts: Verdict[]; counters: Promise<TunnelCounters | null> };

export interface PolicyStatus {
  mode: Mode;
  /** `mode` with the softwire named: DSLite or LW4o6. */
  serviceMode: ServiceMode;
  /** The AFTR in use as configured or learnt (FQDN or address); '' when none. */
  aftr: string;
  /** Its IPv6 address (EndpointAddressInUse); '' when none. */
  aftrAddress: string;
  origin: 'DHCPv6' | 'Static' | '';
  /** The softwire carries the LAN's IPv4. */
  tunnelActive: boolean;
  publicIPv4: Lease4 | null;
  /** Since when (ms epoch) the gateway is on a backup AFTR after an explicit failover; null on the primary. */
  backupSince: number | null;
  /** The way back (to DS-Lite, or from a backup to the primary AFTR): what a technician waits for. */
  recovery: RecoveryStatus;
}

/**
 * Idle: nothing to return to (DS-Lite on the primary, or no mode yet). Probing: counting good probes towards
 * RecoveryThreshold. HoldDown: enough good probes, waiting for HoldDownTime x holdFactor since the switch.
 * Returning: both met; the last echo before the switch is under way.
 */
export interface RecoveryStatus {
  state: 'Idle' | 'Probing' | 'HoldDown' | 'Returning';
  goodProbes: number;
  /** HoldDownTime's multiplier in force: doubled when a return failed again soon (flap damping), up to 8. */
  holdFactor: number;
  /** Earliest automatic return (ms epoch): the switch + HoldDownTime x holdFactor; null when Idle. */
  returnNotBefore: number | null;
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
  /**
   * The softwire's kind and readiness when it is not always DS-Lite (lw4o6.ts): `ready()` is awaited before
   * the tunnel comes up (the lw4o6 binding may still be on its way) and rejects with the Establishment reason
   * when there is none.
   */
  softwire?: { kind(): 'DSLite' | 'LW4o6'; ready(): Promise<void> };
}
