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
  /** AFTR tunnel end point (RFC 6333 §5). Only IPv4-in-IPv6 from this address is decapsulated (and see drainAftr). */
  aftr: string;
  /**
   * Make-before-break: the previous AFTR, or '' (default). IPv4-in-IPv6 from it is still decapsulated (the
   * packets in flight when the gateway moved to `aftr`, counted in rxFromDrainAftr) while everything new is
   * encapsulated to `aftr`. Set it on the switch and clear it a few seconds later with another reconfigure.
   */
  drainAftr?: string;
  /** Tunnel MTU, the largest IPv4 packet carried unfragmented (default 1460); the tun's link MTU is 40 more. */
  mtu?: number;
  /** Outer IPv6 hop limit. Default 64. */
  hopLimit?: number;
  /** Clamp the TCP MSS option of SYNs in both directions to this value; absent or 0: no clamping. */
  mssClamp?: number;
  /** 'off' keeps the tun open and drops everything (counted as mode_off). */
  mode: ForwarderMode;
  /** Source of the ICMPv4 errors the B4 sends to the LAN and of echo probes. Default 192.0.0.2 (RFC 6333 §5.7). */
  b4Ipv4?: string;
  /** Destination of echo probes (Forwarder.echo), the AFTR's IPv4 address. Default 192.0.0.1 (RFC 6333 §5.7). */
  echoTarget?: string;
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
  drainAftr: string;
  mtu: number;
  hopLimit: number;
  mssClamp: number;
  enabled: boolean;
  b4Ipv4: string;
  echoTarget: string;
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
  'echo_late',
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
  /**
   * Of egressTun: one packet each time the next hop's neighbour entry is STALE, handed to the kernel so
   * that its own traffic moves the entry to DELAY and PROBE and it is re-confirmed (RFC 4861 §7.3.3).
   */
  egressNeighProbe: number;
  /** ICMP echo probes sent (Forwarder.echo), written into the tun; not counted in egressTun or txPackets. */
  echoSent: number;
  /** Echo replies that answered a probe: consumed by the forwarder, never written to the LAN (not in rxPackets). */
  echoReplies: number;
  /** ICMPv6 errors quoting a probe, which failed it (also in icmpv6Errors when about the AFTR in use). */
  echoErrors: number;
  /** IPv4-in-IPv6 packets decapsulated from drainAftr (also in rxPackets unless they answered a probe). */
  rxFromDrainAftr: number;
  drops: Record<DropName, number>;
  /**
   * txPackets per tun queue (one thread each). The queue is the CPU that forwarded the packet into the
   * tun, modulo the number of queues (XPS-style steering, see dataplane.cc).
   */
  queueTxPackets: number[];
  /**
   * Epoch ms (CLOCK_REALTIME, the clock of Date.now()) of the last packet decapsulated from the AFTR in use,
   * echo replies included, drainAftr's packets not; null if none since that AFTR was configured (a reconfigure
   * to another AFTR starts again from null). Resolution 1 ms: each B4 thread reads the clock once per drain
   * pass, just before its reads, so the value is never later than the packet's read and earlier only by the
   * pass (a lone packet: microseconds; a full pass of 256 packets: well under 1 ms). Kept per B4 thread, the
   * latest reported, so a thread still on an older pass never moves it back.
   */
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

/** Forwarder.echo(): one ICMP echo through the softwire (RFC 6333 §5.7), b4Ipv4 -> echoTarget. */
export interface EchoOptions {
  /** The AFTR to encapsulate the request to; default the AFTR in use. Any AFTR (e.g. the primary while a backup is in use). */
  aftr?: string;
  /** The reply must arrive within this many ms of the send, as the forwarder's own clock measures it. */
  timeoutMs: number;
}

/**
 * The verdict of one probe, from the forwarder's native timestamps (CLOCK_MONOTONIC when the request was
 * written and when the reply or error was read from the tun): a busy JavaScript thread delays the answer but
 * never changes it.
 */
export interface EchoResult {
  /** A reply arrived within timeoutMs. */
  ok: boolean;
  /** Send to reply (or to the ICMPv6 error); with no answer, send to the moment the probe was given up (>= timeoutMs). */
  rttUs: number;
  /** Epoch ms of the send. */
  sentAt: number;
  /** '' if ok; else why, e.g. `no echo reply from 192.0.0.1 via 2001:db8::1 within 100 ms`. */
  reason: string;
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
    drainAftr: c.drainAftr ?? '',
    mtu: c.mtu ?? 1460,
    hopLimit: c.hopLimit ?? 64,
    mssClamp: c.mssClamp ?? 0,
    enabled: c.mode === 'dslite',
    b4Ipv4: c.b4Ipv4 ?? '192.0.0.2',
    echoTarget: c.echoTarget ?? '192.0.0.1',
    queues: c.queues ?? 2,
    egress: c.egress ?? 'packet',
    lanFastPath: Object.freeze(Array.isArray(c.lanFastPath) ? [...(c.lanFastPath as string[])] : []),
  };
  const problems: string[] = [];
  if (typeof r.tunName !== 'string' || !IFNAME.test(r.tunName)) problems.push('tunName: 1-15 characters [A-Za-z0-9_.-]');
  if (!isIPv6(r.softwire)) problems.push('softwire: not an IPv6 address');
  if (!isIPv6(r.aftr)) problems.push('aftr: not an IPv6 address');
  if (r.drainAftr !== '' && !isIPv6(r.drainAftr)) problems.push("drainAftr: '' or an IPv6 address");
  // 1280 - 40: an IPv6 link must carry 1280 bytes (RFC 8200 §5); 65495 + 40 fills the IPv6 payload length.
  if (!intIn(r.mtu, 1240, 65495)) problems.push('mtu: integer 1240..65495');
  if (!intIn(r.hopLimit, 1, 255)) problems.push('hopLimit: integer 1..255');
  if (!intIn(r.mssClamp, 0, 65535)) problems.push('mssClamp: integer 0..65535');
  if (c.mode !== 'dslite' && c.mode !== 'off') problems.push("mode: 'dslite' or 'off'");
  if (!isIPv4(r.b4Ipv4)) problems.push('b4Ipv4: not an IPv4 address');
  if (!isIPv4(r.echoTarget)) problems.push('echoTarget: not an IPv4 address');
  if (!intIn(r.queues, 1, 16)) problems.push('queues: integer 1..16');
  if (r.egress !== 'tun' && r.egress !== 'packet') problems.push("egress: 'tun' or 'packet'");
  if ((c.lanFastPath !== undefined && !Array.isArray(c.lanFastPath)) || r.lanFastPath.some((n) => typeof n !== 'string' || !IFNAME.test(n) || n === r.tunName))
    problems.push('lanFastPath: interface names (1-15 characters [A-Za-z0-9_.-]), not the tun');
  if (problems.length) throw new ForwarderConfigError(problems);
  return Object.freeze(r);
}
