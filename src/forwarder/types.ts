// Types and config checks of the bundled B4 forwarder. Shared by the public API (index.ts) and the worker
// thread (worker.ts); imports nothing from the rest of src/ (ARCHITECTURE: the forwarder is isolated).
import { isIPv4, isIPv6 } from 'node:net';

export type ForwarderMode = 'dslite' | 'off';
/**
 * How encapsulated packets leave: 'tun' writes them back into the tun and the kernel forwards them as
 * IPv6; 'packet' sends them on the WAN link itself (AF_PACKET, Ethernet header from the kernel's
 * neighbour entry for the AFTR's next hop), falling back to the tun whenever the next hop is unknown or
 * not on an Ethernet link. 'packet' skips the kernel's per-packet IPv6 forwarding, including its
 * netfilter forward/output hooks (native/egress.h; docs/benchmarks.md ## Forwarder).
 */
export type ForwarderEgress = 'tun' | 'packet';

/** The whole forwarder configuration; `reconfigure()` always takes all of it. */
export interface ForwarderConfig {
  /** Name of the tun the forwarder creates (or attaches to); a new name needs stop() and start(). */
  tunName: string;
  /** B4 softwire IPv6 address: routed into the tun, never a local address (DESIGN.md, one tun). */
  softwire: string;
  /** AFTR tunnel end point (RFC 6333 §5). Only IPv4-in-IPv6 from this address is decapsulated. */
  aftr: string;
  /** Tunnel MTU, the largest IPv4 packet carried unfragmented (default 1460); the tun's link MTU is 40 more. */
  mtu?: number;
  /** Outer IPv6 hop limit. Default 64. */
  hopLimit?: number;
  /** Clamp the TCP MSS option of SYNs in both directions to this value; absent or 0: no clamping. */
  mssClamp?: number;
  /** 'off' keeps the tun open and drops everything (counted as mode_off). */
  mode: ForwarderMode;
  /** Source of the ICMPv4 errors the B4 sends to the LAN. Default 192.0.0.2 (RFC 6333 §5.7). */
  b4Ipv4?: string;
  /** Number of tun queues, one native thread each. Default: 2 (this machine kind has 2 cores). */
  queues?: number;
  /** Egress of encapsulated packets (see ForwarderEgress). Default 'packet'; a change needs stop() and start(). */
  egress?: ForwarderEgress;
  /**
   * LAN interfaces whose IPv4 packets routed into the tun are handed to it at tc ingress (native/fastpath.h),
   * skipping the host's IPv4 forwarding path and its netfilter prerouting/forward/postrouting hooks. Needs
   * Linux 6.6 (tcx); an interface it cannot attach to keeps the kernel's path (logged, see
   * Counters.fastPathInterfaces). Default none. Changeable by reconfigure().
   */
  lanFastPath?: readonly string[];
}

/** Config with every default applied, as the worker and the addon see it. */
export interface ResolvedConfig {
  tunName: string;
  softwire: string;
  aftr: string;
  mtu: number;
  hopLimit: number;
  mssClamp: number;
  enabled: boolean;
  b4Ipv4: string;
  queues: number;
  egress: ForwarderEgress;
  lanFastPath: readonly string[];
}

/** Every reason a packet is dropped; the same list as FW_DROPS in native/packet.h. */
export const DROP_NAMES = [
  'mode_off',
  'unknown_version',
  'v4_truncated',
  'v4_bad_ihl',
  'v4_bad_length',
  'v4_bad_checksum',
  'v4_df_too_big',
  'v6_truncated',
  'v6_not_softwire',
  'v6_spoofed_source',
  'v6_unexpected_next_header',
  'v6_fragment_bad',
  'v6_fragment_expired',
  'v6_fragment_overflow',
  'inner_truncated',
  'inner_bad_version',
  'inner_bad_ihl',
  'inner_bad_length',
  'inner_bad_checksum',
  'inner_ecn_ce_not_ect',
  'icmpv6_truncated',
  'icmpv6_bad_checksum',
  'icmpv6_informational',
  'icmpv6_other_type',
  'icmpv6_other_flow',
  'event_overflow',
  'offload_unsupported',
  'write_error',
  'egress_send_error',
] as const;
export type DropName = (typeof DROP_NAMES)[number];

/**
 * Counters of the tunnel. Packets and bytes count the IPv4 packets carried (the tunnel interface's
 * Device.IP.Interface.{i}.Stats); tx is LAN -> AFTR, rx is AFTR -> LAN.
 */
export interface Counters {
  txPackets: number;
  txBytes: number;
  rxPackets: number;
  rxBytes: number;
  /** IPv6 fragments sent for DF=0 packets above the tunnel MTU (RFC 6333 §5.3). */
  txFragments: number;
  /** ICMPv4 fragmentation-needed messages sent to the LAN. */
  icmp4Sent: number;
  /** ICMPv6 errors about the softwire received (each also raised as an 'icmpv6-error' event). */
  icmpv6Errors: number;
  mssClamped: number;
  /** TCP segments cut from super-packets (TSO from the LAN side, see native/packet.h Offload). */
  tsoSegments: number;
  /** UDP datagrams cut from super-packets (the LAN's UDP GRO or a local UDP_SEGMENT sender, native/packet.h). */
  usoSegments: number;
  /** Decapsulated TCP segments written to the LAN side merged into super-packets (GRO-style). */
  groCoalesced: number;
  /** Encapsulated packets sent on the WAN link by the packet socket (egress 'packet'). */
  egressPacket: number;
  /** IPv6 packets written into the tun for the kernel to forward (egress 'tun', or the packet path's fallback). */
  egressTun: number;
  /** Of egressTun: sent through the tun because the AFTR's next hop was unknown (egress 'packet'). */
  egressNeighMiss: number;
  drops: Record<DropName, number>;
  /**
   * txPackets per tun queue (one thread each). The queue is the CPU that forwarded the packet into the
   * tun, modulo the number of queues (XPS-style steering, see dataplane.cc).
   */
  queueTxPackets: number[];
  /** Wall-clock ms of the last packet decapsulated from the AFTR; null if none yet. */
  lastRxFromAftr: number | null;
  /** Tunnel MTU in force: the configured one, or lower after an ICMPv6 packet too big. */
  tunnelMtu: number;
  /**
   * Packets the kernel dropped at the tun because its queue (4096 packets per B4 thread) was full: the B4
   * fell behind its input. The tun's own tx_dropped; outside the B4's drops, which it cannot see.
   */
  tunQueueDrops: number;
  /** IPv4 packets the LAN fast path handed to the tun (a subset of txPackets' input; lanFastPath). */
  fastPathPackets: number;
  /** The lanFastPath interfaces the fast path is attached to now. */
  fastPathInterfaces: string[];
}

/** An ICMPv6 error about the softwire (RFC 4443 §3), for the failover detectors (DESIGN §2d). */
export interface Icmpv6ErrorEvent {
  /** 1 destination unreachable, 2 packet too big, 3 time exceeded, 4 parameter problem. */
  type: number;
  code: number;
  /** Sender of the error (the AFTR, or a router on the way). */
  source: string;
  /** The quoted packet's source (our softwire) and destination (the AFTR it was sent to). */
  quotedSrc: string;
  quotedDst: string;
  /** Packet too big: the MTU the router reported. */
  mtu?: number;
  /** Parameter problem: the pointer. */
  pointer?: number;
}

export class ForwarderConfigError extends Error {
  override readonly name = 'ForwarderConfigError';
  constructor(readonly problems: string[]) {
    super(`invalid forwarder config: ${problems.join('; ')}`);
  }
}

const IFNAME = /^[A-Za-z0-9_.-]{1,15}$/;
const intIn = (v: unknown, lo: number, hi: number): boolean =>
  typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi;

/** Applies defaults and lists every problem at once (STYLE 10). */
export function resolveConfig(c: ForwarderConfig): ResolvedConfig {
  const r: ResolvedConfig = {
    tunName: c.tunName,
    softwire: c.softwire,
    aftr: c.aftr,
    mtu: c.mtu ?? 1460,
    hopLimit: c.hopLimit ?? 64,
    mssClamp: c.mssClamp ?? 0,
    enabled: c.mode === 'dslite',
    b4Ipv4: c.b4Ipv4 ?? '192.0.0.2',
    queues: c.queues ?? 2,
    egress: c.egress ?? 'packet',
    lanFastPath: Object.freeze(Array.isArray(c.lanFastPath) ? [...(c.lanFastPath as string[])] : []),
  };
  const problems: string[] = [];
  if (typeof r.tunName !== 'string' || !IFNAME.test(r.tunName)) problems.push('tunName: 1-15 characters [A-Za-z0-9_.-]');
  if (!isIPv6(r.softwire)) problems.push('softwire: not an IPv6 address');
  if (!isIPv6(r.aftr)) problems.push('aftr: not an IPv6 address');
  // 1280 - 40: an IPv6 link must carry 1280 bytes (RFC 8200 §5); 65495 + 40 fills the IPv6 payload length.
  if (!intIn(r.mtu, 1240, 65495)) problems.push('mtu: integer 1240..65495');
  if (!intIn(r.hopLimit, 1, 255)) problems.push('hopLimit: integer 1..255');
  if (!intIn(r.mssClamp, 0, 65535)) problems.push('mssClamp: integer 0..65535');
  if (c.mode !== 'dslite' && c.mode !== 'off') problems.push("mode: 'dslite' or 'off'");
  if (!isIPv4(r.b4Ipv4)) problems.push('b4Ipv4: not an IPv4 address');
  if (!intIn(r.queues, 1, 16)) problems.push('queues: integer 1..16');
  if (r.egress !== 'tun' && r.egress !== 'packet') problems.push("egress: 'tun' or 'packet'");
  if ((c.lanFastPath !== undefined && !Array.isArray(c.lanFastPath)) || r.lanFastPath.some((n) => typeof n !== 'string' || !IFNAME.test(n) || n === r.tunName))
    problems.push('lanFastPath: interface names (1-15 characters [A-Za-z0-9_.-]), not the tun');
  if (problems.length) throw new ForwarderConfigError(problems);
  return Object.freeze(r);
}
