// Types and config checks of the bundled B4 forwarder (DS-Lite B4, RFC 6333; lwB4, RFC 7596). Shared by the public API (index.ts) and the worker
// thread (worker.ts); imports nothing from the rest of src/ (ARCHITECTURE: the forwarder is isolated).
import { isIPv4, isIPv6 } from 'node:net';
import { ipv4Prefix, ipv6Prefix, overlap4, portSet } from './addresses.ts';
import { resolveTeredo, teredoProblems, type ResolvedTeredo, type TeredoConfig } from './teredo.ts';

// Mode 'teredo's config and state types and checks are in teredo.ts.
export * from './teredo.ts';

/**
 * 'dslite': RFC 6333 B4; 'lw4o6': RFC 7596 lwB4 (own NAPT44 into a port set); 'nat46': RFC 7915 translation with
 * tenant and gateway identifiers (issue 23, Nat46Config); 'teredo': an RFC 4380 Teredo client for an IPv4-only WAN
 * behind a NAT (issue 22, TeredoConfig); 'off': drop everything.
 */
export type ForwarderMode = 'dslite' | 'lw4o6' | 'nat46' | 'teredo' | 'off';

/** A peer gateway of the same prefix (nat46): packets carrying its gateway ID are handed off to `address`. */
export interface Nat46Peer {
  gatewayId: number;
  /** The peer's hand-off address (its own `localAddress`). */
  address: string;
}

/** A failed peer's gateway ID this gateway serves as its own (issue 23 adoption). */
export interface Nat46Adopted {
  gatewayId: number;
  /** The adopted gateway's LAN clients, an IPv4 prefix 'a.b.c.d/len': their IPv4 leaves with this gateway ID. */
  clients: string;
}

/**
 * Mode 'nat46' (issue 23, native/nat46.h). LAN IPv4 from client c to server s leaves as IPv6 from
 * `prefix | tenantId | gatewayId | zero padding | c` (the fields in that order right after the prefix, c in the
 * last 32 bits) to `dstPrefix | s` (RFC 6052 /96, as tayga's `prefix`). IPv6 to the prefix comes back: our own
 * gateway ID (or an adopted one, `adopted`) is translated to IPv4 if it belongs to a flow a client opened (stateful
 * firewall); a peer's gateway ID is handed off to the peer in IPv6-in-IPv6 (RFC 2473) from `localAddress`, in
 * fragments or refused with a packet too big when it does not fit `ipv6Mtu` (RFC 2473 §7.1); another tenant, an unknown
 * gateway ID, or a packet a peer handed to us for yet another gateway are dropped and counted.
 */
export interface Nat46Config {
  /** The prefix shared by the gateways, with its length: '2001:db8:4600::/40'. No bits set beyond the length. */
  prefix: string;
  /** Width of the tenant ID, 0..32 bits. */
  tenantBits: number;
  /** Width of the gateway ID, 1..32 bits. Prefix length + tenantBits + gatewayBits <= 96. */
  gatewayBits: number;
  /** Below 2^tenantBits. */
  tenantId: number;
  /** This gateway's ID, below 2^gatewayBits. */
  gatewayId: number;
  /** RFC 6052 /96 of the IPv4 side: IPv4 destination d becomes dstPrefix | d. Outside `prefix`. */
  dstPrefix: string;
  /** This gateway's hand-off address (unicast IPv6, routed into the tun): source of hand-offs, peers send to it. */
  localAddress: string;
  /** The other gateways of the prefix (at most 64). Default none. */
  peers?: readonly Nat46Peer[];
  /**
   * Configured adoption (at most 16, default none): IPv6 for an adopted gateway ID is served as for ours, never
   * handed off (also when a peer has that ID), and LAN clients inside `clients` leave with the adopted ID, so
   * their addresses stay what the servers knew. Changeable by reconfigure(), for the next packet.
   */
  adopted?: readonly Nat46Adopted[];
  /**
   * The largest IPv6 packet sent; larger ones are fragmented (DF=0) or refused (DF). Default 1280 (RFC 7915 §4.1).
   * Hand-offs get 40 bytes less (RFC 2473 §7.1).
   */
  ipv6Mtu?: number;
}

/** Nat46Config with its defaults applied. */
export interface ResolvedNat46 extends Required<Nat46Config> {
  peers: readonly Nat46Peer[];
  adopted: readonly Nat46Adopted[];
}

/**
 * An lw4o6 binding (RFC 7596 §5.1): the shared public IPv4 address and the port set, given as in RFC 7597
 * §5.1 by the PSID offset a, the PSID length k and the PSID (a number below 2^k, right-aligned).
 */
export interface Lw4o6Binding {
  ipv4: string;
  /** a, 0..15: the high bits of a port that are not the PSID (ports with A = 0 are excluded when a > 0). */
  psidOffset: number;
  /** k, 0..16, a + k <= 16. 0: the whole address (no sharing). */
  psidLength: number;
  /** < 2^k. */
  psid: number;
}
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
  /**
   * B4 softwire IPv6 address: routed into the tun, never a local address (DESIGN.md, one tun). In lw4o6 the
   * lwB4's tunnel address, which the caller computes (lwB4Address(), RFC 7596 §5.1).
   */
  softwire: string;
  /**
   * AFTR tunnel end point (RFC 6333 §5); in lw4o6 the BR (the lwAFTR). Only IPv4-in-IPv6 from this address is
   * decapsulated (and see drainAftr).
   */
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
  /**
   * The lw4o6 binding, required when mode is 'lw4o6'. A different binding (address, PSID, offset or length)
   * flushes the NAPT table; the same binding with another BR keeps it.
   */
  lw4o6?: Lw4o6Binding;
  /** The address format, peers and hand-off address, required when mode is 'nat46'. */
  nat46?: Nat46Config;
  /** The Teredo server and the WAN address, required when mode is 'teredo'. */
  teredo?: TeredoConfig;
  /** Source of the ICMPv4 errors the B4 sends to the LAN and of echo probes. Default 192.0.0.2 (RFC 6333 §5.7). */
  b4Ipv4?: string;
  /** Destination of echo probes (Forwarder.echo), the AFTR's IPv4 address. Default 192.0.0.1 (RFC 6333 §5.7). */
  echoTarget?: string;
  /** Number of tun queues, one native thread each. Default: 2 (this machine kind has 2 cores). */
  queues?: number;
  /**
   * Egress of encapsulated packets (see ForwarderEgress). Default 'packet' ('tun', the only one, in nat46); a
   * change needs stop() and start().
   */
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
  mode: ForwarderMode;
  /** mode !== 'off'. */
  enabled: boolean;
  /** Present when given (always when mode is 'lw4o6'). */
  lw4o6?: Lw4o6Binding;
  /** Present when given (always when mode is 'nat46'). */
  nat46?: ResolvedNat46;
  /** Present when given (always when mode is 'teredo'). */
  teredo?: ResolvedTeredo;
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
  'lw_wrong_ipv4',
  'lw_port_out_of_set',
  'napt_no_mapping',
  'napt_no_free_port',
  'napt_table_full',
  'napt_unsupported_proto',
  'napt_fragment',
  'icmpv6_unverified',
  'nat46_not_ours',
  'nat46_other_tenant',
  'nat46_unknown_gateway',
  'nat46_no_flow',
  'nat46_table_full',
  'nat46_udp_zero_checksum',
  'nat46_untranslatable_icmp',
  'nat46_icmp_bad_checksum',
  'nat46_source_not_mapped',
  'nat46_ttl_expired',
  'nat46_source_route',
  'nat46_hop_limit_expired',
  'nat46_unsupported_header',
  'nat46_handoff_loop',
  'nat46_handoff_not_peer',
  'nat46_handoff_bad_inner',
  'nat46_handoff_too_big',
  'nat46_to_local',
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
  /**
   * IPv6 fragments sent for DF=0 packets above the tunnel MTU (RFC 6333 §5.3; nat46: RFC 7915 §4.1), and of nat46
   * hand-offs that do not fit ipv6Mtu (RFC 2473 §7.1).
   */
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
  /** lw4o6: NAPT mappings created (RFC 4787 endpoint-independent: one per internal address, port and protocol). */
  naptCreated: number;
  /** lw4o6: NAPT mappings that expired (UDP 300 s, TCP 7440 s / 240 s, ICMP 60 s idle). */
  naptExpired: number;
  /** lw4o6: NAPT mappings in use now (a gauge). */
  naptActive: number;
  /** lw4o6: LAN packets to the shared address translated both ways and written back to the LAN (RFC 4787 REQ-9). */
  naptHairpin: number;
  /** lw4o6: verified ICMPv6 destination unreachable code 5 from the BR (RFC 7596 §6.2: no binding for us). */
  lwPolicyErrors: number;
  /** nat46: IPv4 packets from the LAN translated to IPv6 (ICMP errors included; also in txPackets unless errors). */
  nat46Translated4to6: number;
  /** nat46: IPv6 packets translated to IPv4 for our clients (also in rxPackets). */
  nat46Translated6to4: number;
  /**
   * nat46: IPv6 packets for a peer's gateway ID handed off to it (IPv6-in-IPv6); one of at most 1280 bytes that
   * does not fit ipv6Mtu - 40 is sent in fragments (RFC 2473 §7.1, also in txFragments), a larger one is
   * refused with a packet too big (drops.nat46_handoff_too_big).
   */
  nat46HandedOff: number;
  /** nat46: IPv6-in-IPv6 from a peer decapsulated, reassembled first if it came in fragments (then translated or dropped as any packet for us). */
  nat46HandoffReceived: number;
  /** nat46: firewall flows opened by our clients, and expired. */
  nat46FlowsCreated: number;
  nat46FlowsExpired: number;
  /** nat46: ICMPv6 errors sent (hop limit exceeded; packet too big for a hand-off, RFC 2473 §7.1). */
  icmp6Sent: number;
  /** nat46: ICMPv6 echo requests to the hand-off address answered (RFC 4443 §4.1; the peers' liveness probes). */
  echoAnswered: number;
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
  /**
   * The error quotes a packet we sent: in lw4o6, IPv4-in-IPv6 softwire -> BR whose inner IPv4 came from the
   * binding's address and a port (or ICMP id) of the set with a mapping used within the last 30 s, or the
   * echo probe's id (a spoofed error must guess both). An unverified code 5 is never raised (counted as
   * icmpv6_unverified). Present on every lw4o6 event; absent in dslite, whose events are exactly as before
   * (each quotes our own softwire -> AFTR traffic, the only check there): read absent as true.
   */
  verified?: boolean;
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

// The address arithmetic (port sets, lwB4 and NAT46 addresses, prefixes) is in addresses.ts.
export { inPortSet, lwB4Address, nat46Space, portSet } from './addresses.ts';

/** The problems of an lw4o6 binding (RFC 7597 §5.1 limits), or why it is missing. */
function bindingProblems(b: Lw4o6Binding | undefined, mode: ForwarderMode): string[] {
  if (b === undefined) return mode === 'lw4o6' ? ["lw4o6: required when mode is 'lw4o6'"] : [];
  if (typeof b !== 'object' || b === null) return ['lw4o6: an object { ipv4, psidOffset, psidLength, psid }'];
  const p: string[] = [];
  if (!isIPv4(b.ipv4)) p.push('lw4o6.ipv4: not an IPv4 address');
  if (!intIn(b.psidOffset, 0, 15)) p.push('lw4o6.psidOffset: integer 0..15');
  if (!intIn(b.psidLength, 0, 16)) p.push('lw4o6.psidLength: integer 0..16');
  else if (intIn(b.psidOffset, 0, 15) && b.psidOffset + b.psidLength > 16) p.push('lw4o6: psidOffset + psidLength above 16');
  else if (!intIn(b.psid, 0, 2 ** b.psidLength - 1)) p.push('lw4o6.psid: integer below 2^psidLength');
  // One port is the echo probes' (never handed out by the NAPT): a set of one port leaves the LAN none.
  else if (intIn(b.psidOffset, 0, 15) && portSet(b).count < 2) p.push('lw4o6: the port set has fewer than 2 ports');
  return p;
}

const unicast6 = (s: unknown): boolean => typeof s === 'string' && isIPv6(s) && !/^ff/i.test(s) && !/^::1?$/.test(s) && !s.includes('%');

/** The problems of a nat46 config, or why it is missing. */
function nat46Problems(n: ResolvedNat46 | undefined, mode: ForwarderMode): string[] {
  if (n === undefined) return mode === 'nat46' ? ["nat46: required when mode is 'nat46'"] : [];
  const p: string[] = [];
  const prefix = ipv6Prefix(n.prefix);
  if (!prefix) p.push("nat46.prefix: an IPv6 prefix 'address/length' without bits set beyond the length");
  if (!intIn(n.tenantBits, 0, 32)) p.push('nat46.tenantBits: integer 0..32');
  if (!intIn(n.gatewayBits, 1, 32)) p.push('nat46.gatewayBits: integer 1..32');
  const widths = intIn(n.tenantBits, 0, 32) && intIn(n.gatewayBits, 1, 32);
  if (prefix && widths && prefix.length + n.tenantBits + n.gatewayBits > 96)
    p.push('nat46: prefix length + tenantBits + gatewayBits above 96 (the client IPv4 takes the last 32 bits)');
  if (widths && !intIn(n.tenantId, 0, 2 ** n.tenantBits - 1)) p.push('nat46.tenantId: integer below 2^tenantBits');
  if (widths && !intIn(n.gatewayId, 0, 2 ** n.gatewayBits - 1)) p.push('nat46.gatewayId: integer below 2^gatewayBits');
  const dst = ipv6Prefix(n.dstPrefix);
  if (!dst || dst.length !== 96) p.push('nat46.dstPrefix: an IPv6 /96 (RFC 6052) without bits set beyond it');
  else if (prefix && dst.bytes.subarray(0, prefix.length >> 3).equals(prefix.bytes.subarray(0, prefix.length >> 3)) &&
    (prefix.length % 8 === 0 || ((dst.bytes[prefix.length >> 3] ^ prefix.bytes[prefix.length >> 3]) & (0xff00 >> (prefix.length % 8)) & 0xff) === 0))
    p.push('nat46.dstPrefix: inside nat46.prefix');
  if (!unicast6(n.localAddress)) p.push('nat46.localAddress: a unicast IPv6 address');
  if (!intIn(n.ipv6Mtu, 1280, 65535)) p.push('nat46.ipv6Mtu: integer 1280..65535');
  if (!Array.isArray(n.peers) || n.peers.length > 64) p.push('nat46.peers: a list of at most 64 { gatewayId, address }');
  else {
    const seen = new Set<number>();
    n.peers.forEach((peer, i) => {
      const id = peer?.gatewayId;
      if (widths && (!intIn(id, 0, 2 ** n.gatewayBits - 1) || id === n.gatewayId || seen.has(id)))
        p.push(`nat46.peers[${i}].gatewayId: integer below 2^gatewayBits, not ours, not repeated`);
      seen.add(id);
      if (!unicast6(peer?.address)) p.push(`nat46.peers[${i}].address: a unicast IPv6 address`);
    });
  }
  if (!Array.isArray(n.adopted) || n.adopted.length > 16) p.push('nat46.adopted: a list of at most 16 { gatewayId, clients }');
  else {
    const ids = new Set<number>();
    const prefixes: Array<{ net: number; length: number } | null> = [];
    n.adopted.forEach((a, i) => {
      const id = a?.gatewayId;
      // Adopting a configured peer's ID is the point (it failed): adoption wins over the peer entry.
      if (widths && (!intIn(id, 0, 2 ** n.gatewayBits - 1) || id === n.gatewayId || ids.has(id)))
        p.push(`nat46.adopted[${i}].gatewayId: integer below 2^gatewayBits, not ours, not repeated`);
      ids.add(id);
      const c = ipv4Prefix(a?.clients);
      if (!c) p.push(`nat46.adopted[${i}].clients: an IPv4 prefix 'a.b.c.d/len' without bits set beyond the length`);
      // Each client leaves with one gateway ID.
      const j = c ? prefixes.findIndex((o) => o !== null && overlap4(o, c)) : -1;
      if (j >= 0) p.push(`nat46.adopted[${i}].clients: overlaps nat46.adopted[${j}].clients`);
      prefixes.push(c);
    });
  }
  return p;
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
    mode: c.mode,
    enabled: c.mode === 'dslite' || c.mode === 'lw4o6' || c.mode === 'nat46' || c.mode === 'teredo',
    b4Ipv4: c.b4Ipv4 ?? '192.0.0.2',
    echoTarget: c.echoTarget ?? '192.0.0.1',
    queues: c.queues ?? 2,
    // nat46 writes everything into the tun: the packet egress sends only to the AFTR's next hop.
    egress: c.egress ?? (c.mode === 'nat46' || c.mode === 'teredo' ? 'tun' : 'packet'),
    lanFastPath: Object.freeze(Array.isArray(c.lanFastPath) ? [...(c.lanFastPath as string[])] : []),
  };
  if (c.lw4o6 !== undefined) {
    const b = c.lw4o6;
    // A copy in a fixed key order: callers compare bindings as JSON.
    r.lw4o6 = b && typeof b === 'object' ? Object.freeze({ ipv4: b.ipv4, psidOffset: b.psidOffset, psidLength: b.psidLength, psid: b.psid }) : b;
  }
  if (c.nat46 !== undefined) {
    const n = c.nat46;
    r.nat46 = n && typeof n === 'object'
      ? Object.freeze({ prefix: n.prefix, tenantBits: n.tenantBits, gatewayBits: n.gatewayBits, tenantId: n.tenantId, gatewayId: n.gatewayId,
          dstPrefix: n.dstPrefix, localAddress: n.localAddress, ipv6Mtu: n.ipv6Mtu ?? 1280,
          peers: Object.freeze(Array.isArray(n.peers) ? n.peers.map((p) => Object.freeze({ gatewayId: p?.gatewayId, address: p?.address })) : (n.peers ?? [])) as readonly Nat46Peer[],
          adopted: Object.freeze(Array.isArray(n.adopted) ? n.adopted.map((a) => Object.freeze({ gatewayId: a?.gatewayId, clients: a?.clients })) : (n.adopted ?? [])) as readonly Nat46Adopted[] })
      : n;
  }
  if (c.teredo !== undefined) r.teredo = resolveTeredo(c.teredo);
  const problems: string[] = [];
  if (typeof r.tunName !== 'string' || !IFNAME.test(r.tunName)) problems.push('tunName: 1-15 characters [A-Za-z0-9_.-]');
  if (!isIPv6(r.softwire)) problems.push('softwire: not an IPv6 address');
  if (!isIPv6(r.aftr)) problems.push('aftr: not an IPv6 address');
  if (r.drainAftr !== '' && !isIPv6(r.drainAftr)) problems.push("drainAftr: '' or an IPv6 address");
  // 1280 - 40: an IPv6 link must carry 1280 bytes (RFC 8200 §5); 65495 + 40 fills the IPv6 payload length.
  if (!intIn(r.mtu, 1240, 65495)) problems.push('mtu: integer 1240..65495');
  if (!intIn(r.hopLimit, 1, 255)) problems.push('hopLimit: integer 1..255');
  if (!intIn(r.mssClamp, 0, 65535)) problems.push('mssClamp: integer 0..65535');
  // The text predates 'nat46' and is asserted as is by test/forwarder/config.test.ts (not ours to change here).
  if (c.mode !== 'dslite' && c.mode !== 'lw4o6' && c.mode !== 'nat46' && c.mode !== 'teredo' && c.mode !== 'off') problems.push("mode: 'dslite', 'lw4o6', 'nat46' or 'off'");
  problems.push(...bindingProblems(r.lw4o6, c.mode));
  if (r.nat46 !== undefined && (typeof r.nat46 !== 'object' || r.nat46 === null))
    problems.push('nat46: an object { prefix, tenantBits, gatewayBits, tenantId, gatewayId, dstPrefix, localAddress, peers?, adopted?, ipv6Mtu? }');
  else problems.push(...nat46Problems(r.nat46, c.mode));
  if (c.mode === 'nat46' && r.egress !== 'tun') problems.push("egress: 'tun' in mode 'nat46'");
  if (r.teredo !== undefined && (typeof r.teredo !== 'object' || r.teredo === null))
    problems.push('teredo: an object { server, localAddress, server2?, localPort?, refreshIntervalS?, qualificationTimeoutMs?, qualificationRetries?, restartDelayS?, coneProbe? }');
  else if (r.teredo !== undefined || c.mode === 'teredo') problems.push(...teredoProblems(r.teredo));
  if (c.mode === 'teredo' && r.egress !== 'tun') problems.push("egress: 'tun' in mode 'teredo'");
  if (!isIPv4(r.b4Ipv4)) problems.push('b4Ipv4: not an IPv4 address');
  if (!isIPv4(r.echoTarget)) problems.push('echoTarget: not an IPv4 address');
  if (!intIn(r.queues, 1, 16)) problems.push('queues: integer 1..16');
  if (r.egress !== 'tun' && r.egress !== 'packet') problems.push("egress: 'tun' or 'packet'");
  if ((c.lanFastPath !== undefined && !Array.isArray(c.lanFastPath)) || r.lanFastPath.some((n) => typeof n !== 'string' || !IFNAME.test(n) || n === r.tunName))
    problems.push('lanFastPath: interface names (1-15 characters [A-Za-z0-9_.-]), not the tun');
  if (problems.length) throw new ForwarderConfigError(problems);
  return Object.freeze(r);
}
