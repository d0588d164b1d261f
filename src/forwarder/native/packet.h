// DS-Lite B4 (RFC 6333, RFC 2473) and lwB4 (RFC 7596) packet transforms: the per-packet fast path, shared by the tun data
// plane threads (dataplane.cc) and by the addon's `process()` test hook, so golden tests exercise the
// very code that forwards packets. No N-API, no I/O here: input is one packet from the tun, output is
// zero or more packets to write back into the tun, a counter bump, and optionally one ICMPv6 event.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "echo.h"
#include "napt.h"
#include "nat46.h"

namespace fw {

// Totals (not drops). They feed Device.IP.Interface.{i}.Stats of the tunnel interface: byte counts are
// the IPv4 packets carried (what the tunnel interface sends and receives), not the outer IPv6 bytes.
#define FW_TOTALS(X)                                                                                       \
  X(tx_packets) X(tx_bytes) X(rx_packets) X(rx_bytes) X(tx_fragments) X(icmp4_sent) X(icmpv6_errors)     \
  X(mss_clamped) X(tso_segmented) X(gro_coalesced)                                                     \
  X(uso_segmented)      /* datagrams cut from UDP super-packets (USO, the LAN's UDP GRO) */             \
  X(egress_packet)      /* encapsulated packets sent on the WAN link by the packet socket (egress.h) */    \
  X(egress_tun)         /* IPv6 packets written into the tun, for the kernel to forward */               \
  X(egress_neigh_miss)  /* of those, sent through the tun because the AFTR's next hop was not known */   \
  X(egress_neigh_probe) /* of those, sent through the tun for the kernel to re-confirm a STALE next hop */ \
  X(echo_sent)          /* ICMP echo probes written into the tun (echo.h; not in egress_tun) */          \
  X(echo_replies)       /* echo replies that completed a probe (consumed, never written to the LAN) */   \
  X(echo_errors)        /* ICMPv6 errors that failed a probe (raised as events only for the AFTR in use) */ \
  X(rx_from_drain_aftr) /* IPv4-in-IPv6 accepted from the previous AFTR (Config::drain_aftr) */             \
  X(napt_created)       /* lw4o6: NAPT mappings created (counted by the table, napt.h) */                \
  X(napt_expired)       /* lw4o6: NAPT mappings expired (counted by the table) */                         \
  X(napt_hairpin)       /* lw4o6: LAN packets to the shared address sent back to the LAN (RFC 4787 REQ-9) */ \
  X(lw_policy_errors)   /* lw4o6: verified ICMPv6 unreachable code 5 from the BR (RFC 7596 §6.2) */           \
  X(nat46_4to6)         /* nat46: IPv4 packets from the LAN translated to IPv6 (RFC 7915 §4) */               \
  X(nat46_6to4)         /* nat46: IPv6 packets translated to IPv4 and written to the LAN (RFC 7915 §5) */     \
  X(nat46_handed_off)   /* nat46: IPv6 for a peer's gateway ID sent to that peer in IPv6-in-IPv6 (fragmented \
                           or not: each packet once; the fragments also in tx_fragments, RFC 2473 §7.1) */   \
  X(nat46_handoff_received) /* nat46: IPv6-in-IPv6 from a peer, decapsulated (reassembled first if cut) */  \
  X(nat46_flows_created) /* nat46: firewall flows opened by our clients (counted by the table, nat46.h) */  \
  X(nat46_flows_expired) /* nat46: firewall flows expired (counted by the table) */                         \
  X(icmp6_sent)         /* nat46: ICMPv6 errors we sent (time exceeded, hand-off packet too big) */ \
  X(echo_answered)      /* nat46: ICMPv6 echo requests to the hand-off address answered (RFC 4443 §4.1) */

// One named counter for every reason a packet is dropped (STYLE 14). Names are the JS keys.
#define FW_DROPS(X)                                                                                        \
  X(mode_off)              /* forwarder configured off */                                                 \
  X(unknown_version)       /* neither IPv4 nor IPv6 (or empty) */                                          \
  X(v4_truncated)          /* shorter than its IPv4 header or total length */                              \
  X(v4_bad_ihl)            /* IHL < 5 */                                                                   \
  X(v4_bad_length)         /* total length < header length */                                              \
  X(v4_bad_checksum)       /* IPv4 header checksum wrong */                                                \
  X(v4_df_too_big)         /* DF set and larger than the tunnel MTU: ICMP frag-needed sent (RFC 1191) */   \
  X(v6_truncated)          /* shorter than 40 bytes or than its payload length */                          \
  X(v6_not_softwire)       /* IPv6 destination is not our softwire address */                              \
  X(v6_spoofed_source)     /* IPv4-in-IPv6 not from the AFTR in use or the draining one (RFC 6333 §6.4), \
                              and not the reply to a probe of that AFTR */                                \
  X(v6_unexpected_next_header) /* neither IPv4 (4), ICMPv6 (58) nor fragment (44) */                       \
  X(v6_fragment_bad)       /* malformed fragment header, or fragment of something else than IPv4 (nat46: IPv6) */ \
  X(v6_fragment_expired)   /* reassembly not completed in time, or displaced by a newer datagram */        \
  X(v6_fragment_overflow)  /* reassembled datagram larger than 65535 or overlapping fragments */            \
  X(inner_truncated)       /* decapsulated IPv4 shorter than its header/total length */                    \
  X(inner_bad_version)     /* decapsulated payload is not IPv4 */                                          \
  X(inner_bad_ihl)                                                                                         \
  X(inner_bad_length)                                                                                      \
  X(inner_bad_checksum)                                                                                    \
  X(inner_ecn_ce_not_ect)  /* outer CE over a not-ECT inner packet (RFC 6040 §4.2) */                      \
  X(icmpv6_truncated)      /* ICMPv6 too short, or error quoting less than an IPv6 header */               \
  X(icmpv6_bad_checksum)                                                                                   \
  X(icmpv6_informational)  /* echo and other informational messages to the softwire address */             \
  X(icmpv6_other_type)     /* error types we do not act on (e.g. parameter problem codes > 3) */           \
  X(icmpv6_other_flow)     /* error quoting a packet that is not softwire -> current AFTR IPv4-in-IPv6 */  \
  X(event_overflow)        /* ICMPv6 event dropped: the control plane is not draining events */            \
  X(offload_unsupported)   /* super-packet of a kind we cannot cut (not TCP or UDP over IPv4), bad offsets */ \
  X(write_error)           /* the tun refused a packet */                                                  \
  X(egress_send_error)     /* the packet socket refused a frame (device queue full, link down) */          \
  X(echo_late)             /* echo reply with our ICMP id from the AFTR in use but no probe waiting for it */ \
  X(lw_wrong_ipv4)         /* lw4o6: from the BR, inner destination (or an ICMP error's quoted source) not ours */ \
  X(lw_port_out_of_set)    /* lw4o6: from the BR, destination port (ICMP id) not in our port set */       \
  X(napt_no_mapping)       /* lw4o6: to the shared address at a port without a live mapping */           \
  X(napt_no_free_port)     /* lw4o6: a new mapping, but every port of the set is taken */                \
  X(napt_table_full)       /* lw4o6: a new mapping, but the table holds Napt::kCapacity already */       \
  X(napt_unsupported_proto) /* lw4o6: not TCP, UDP, ICMP echo or an ICMP error (e.g. GRE, ESP, SCTP) */  \
  X(napt_fragment)         /* lw4o6: later IPv4 fragment whose first was not translated (before it, or forgotten) */ \
  X(icmpv6_unverified)     /* lw4o6: unreachable code 5 quoting no packet we sent recently (anti-spoofing) */ \
  X(nat46_not_ours)        /* nat46: IPv6 destination outside the prefix (or padding bits set), not the hand-off address */ \
  X(nat46_other_tenant)    /* nat46: destination in the prefix with another tenant ID */                  \
  X(nat46_unknown_gateway) /* nat46: destination with a gateway ID neither ours nor a peer's */           \
  X(nat46_no_flow)         /* nat46: from outside, not part of a flow a client of ours opened (firewall) */ \
  X(nat46_table_full)      /* nat46: a new flow, but the table holds Nat46Flows::kCapacity already */     \
  X(nat46_udp_zero_checksum) /* nat46: UDP without a checksum (RFC 7915 §4.5: not computed here) */       \
  X(nat46_untranslatable_icmp) /* nat46: ICMP type/code without a translation (RFC 7915 §4.2, §5.2), fragmented, \
                              an error quoting an error, or quoting a packet that is not ours */          \
  X(nat46_icmp_bad_checksum) /* nat46: ICMP error with a wrong checksum (it is rebuilt, so checked first) */ \
  X(nat46_source_not_mapped) /* nat46: IPv6 source outside the RFC 6052 /96 (not an ICMPv6 error) */    \
  X(nat46_ttl_expired)     /* nat46: IPv4 TTL <= 1: ICMPv4 time exceeded sent (RFC 1812 §5.3.1) */        \
  X(nat46_source_route)    /* nat46: IPv4 with an unexpired LSRR/SSRR option: ICMPv4 source route failed sent \
                              (RFC 7915 §4.1) */                                                          \
  X(nat46_hop_limit_expired) /* nat46: IPv6 hop limit <= 1: ICMPv6 time exceeded sent (RFC 4443 §3.3) */   \
  X(nat46_unsupported_header) /* nat46: routing header with segments left, bad extension or fragment header, \
                              an IPv6-only protocol in IPv4 (RFC 7915 §5.1) */                            \
  X(nat46_handoff_loop)    /* nat46: a handed-off packet for another gateway: never handed on again */    \
  X(nat46_handoff_not_peer) /* nat46: IPv6-in-IPv6 to the hand-off address from no configured peer */     \
  X(nat46_handoff_bad_inner) /* nat46: hand-off whose inner packet is not a whole IPv6 packet */          \
  X(nat46_handoff_too_big) /* nat46: to hand off, above the tunnel MTU (ipv6Mtu - 40) and 1280 bytes: an    \
                              ICMPv6 packet too big sent unless it is an ICMPv6 error (RFC 2473 §7.1) */  \
  X(nat46_to_local)        /* nat46: anything else to the hand-off address (ICMPv6 but an echo request or the reply \
                              to one of our probes, or with a wrong checksum; any other protocol) */

#define FW_TOTAL_ENUM(n) T_##n,
#define FW_DROP_ENUM(n) D_##n,
enum Total { FW_TOTALS(FW_TOTAL_ENUM) T_COUNT };
enum Drop { FW_DROPS(FW_DROP_ENUM) D_COUNT };
#undef FW_TOTAL_ENUM
#undef FW_DROP_ENUM

extern const char *const kTotalNames[T_COUNT];
extern const char *const kDropNames[D_COUNT];

// The whole configuration, replaced as one value on reconfigure (never mutated in place).
struct Config {
  uint8_t softwire[16];
  uint8_t aftr[16];
  uint8_t b4_ipv4[4];  // source of ICMPv4 we generate: 192.0.0.2 (RFC 6333 §5.7)
  int mtu;             // tunnel MTU: the largest IPv4 packet carried unfragmented (default 1460)
  int hop_limit;       // outer IPv6 hop limit
  int mss_clamp;       // 0 = off; else TCP MSS option values above it are lowered on SYNs both ways
  bool enabled;        // mode 'dslite' (true) or 'off'
  // Make-before-break: IPv4-in-IPv6 from this previous AFTR is still decapsulated (what was in flight when
  // the B4 moved to `aftr`), while everything new goes to `aftr`. Only if `drain`.
  bool drain;
  uint8_t drain_aftr[16];
  uint8_t echo_target[4];  // inner destination of echo probes: the AFTR's 192.0.0.1 (RFC 6333 §5.7)
  uint32_t aftr_gen;       // set by Dataplane::configure: changes whenever `aftr` does
  // Mode 'lw4o6' (with `enabled`): the lwB4 of RFC 7596. `softwire` is the lwB4 address, `aftr` the BR, and
  // LAN IPv4 is NAPTed into `lw` (lw4o6.cc) before encapsulation, BR IPv4 translated back after it. Without
  // `enabled` (mode 'off' while the binding is kept) only the echo probes' identity follows `lw`: the
  // failover probes the BR from the address and id it knows (echo_source, echo_id).
  bool lw4o6;
  LwBinding lw;
  // Mode 'nat46' (with `enabled`; nat46.h): `n46` is the address format, the peers and the hand-off address;
  // softwire, aftr and the echo probes are not used. b4_ipv4 is the source of the ICMPv4 errors we send and of
  // translated ICMPv6 errors from an IPv6 source outside the /96 (RFC 7915 §5.1 with RFC 6791).
  bool nat46;
  Nat46Config n46;
};

// Per-thread counters: only the owning thread writes, any thread may read (relaxed atomics, no locks).
struct Counters {
  std::atomic<uint64_t> total[T_COUNT];
  std::atomic<uint64_t> drop[D_COUNT];
  // Wall-clock ms (CLOCK_REALTIME, epoch) of this thread's last packet decapsulated from the AFTR of
  // Config::aftr_gen. Per thread, so that the queue threads do not write one cache line per packet and a
  // thread holding an older batch time cannot move the reported time back; the reader takes the maximum.
  std::atomic<int64_t> last_rx_ms;
  std::atomic<uint32_t> last_rx_gen;
  void add(Total t, uint64_t n = 1) { total[t].store(total[t].load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  void inc(Drop d) { drop[d].store(drop[d].load(std::memory_order_relaxed) + 1, std::memory_order_relaxed); }
  void rx_from_aftr(int64_t ms, uint32_t gen) {
    if (last_rx_ms.load(std::memory_order_relaxed) == ms && last_rx_gen.load(std::memory_order_relaxed) == gen) return;
    last_rx_ms.store(ms, std::memory_order_relaxed);
    last_rx_gen.store(gen, std::memory_order_release);  // a reader that sees gen sees this ms or a later one
  }
};

// An ICMPv6 error about the softwire, raised to the control plane (failover detectors, DESIGN §2d).
struct Icmp6Event {
  uint8_t type, code;
  uint8_t source[16];      // who sent the error
  uint8_t quoted_src[16];  // the invoking packet's outer source (our softwire) ...
  uint8_t quoted_dst[16];  // ... and destination (the AFTR)
  uint32_t mtu;            // packet too big only; 0 otherwise
  uint32_t pointer;        // parameter problem only
  // The quote is a packet we sent (lw4o6: from the binding's address and a port with a mapping used within
  // 30 s, or the probe id; dslite: always, the quote is checked as before).
  bool verified;
  bool lw4o6;              // raised in lw4o6 mode: only then does the addon report `verified`
};

// The mutable state shared by all threads of one forwarder.
struct Shared {
  std::atomic<const Config *> config{nullptr};
  std::atomic<int> path_mtu_limit{65535};  // tunnel MTU lowered by packet-too-big (RFC 2473 §7.1)
  std::atomic<uint32_t> frag_id{0};
  Probes probes;  // ICMP echo probes through the softwire (echo.h)
  Napt napt;      // lw4o6 only (napt.h)
  Nat46Flows flows46;  // nat46 only (nat46.h)
};

// Bytes that must be free and writable before every input packet (room for the outer header).
constexpr size_t kHeadroom = 64;
constexpr size_t kMaxPacket = 65535;
class Reassembler;
struct Coalescer;

// Offload metadata of a packet, as in virtio_net_hdr (the tun is opened with IFF_VNET_HDR): the kernel
// hands us TCP super-packets (TSO) and packets whose transport checksum is left to be completed
// (checksum offload), and takes the same back, so that a bulk TCP transfer costs one read per 64 KB and
// nobody checksums a segment that never leaves the machine.
struct Offload {
  bool partial = false;      // transport checksum incomplete: sum from csum_start to the end, stored at
  uint16_t csum_start = 0;   // csum_start + csum_offset (which holds the pseudo-header sum meanwhile)
  uint16_t csum_offset = 0;
  uint16_t gso_size = 0;     // a TCPv4 super-packet of segments of this payload size (TSO in, GRO out)
  uint16_t hdr_len = 0;      // output with gso_size: IPv4 + TCP header length
  bool gso_other = false;    // input only: a GSO type we did not ask for (counted, dropped)
  // Input only, with gso_size: a UDP super-packet (USO, VIRTIO_NET_HDR_GSO_UDP_L4) of datagrams of
  // gso_size payload bytes, what the kernel's UDP GRO builds from one flow's datagrams on the LAN.
  bool gso_udp = false;
};

// Where the results of one packet go; implemented by the data plane (tun writes) and the test hook.
struct Sink {
  virtual void emit(const uint8_t *pkt, size_t len, const Offload *off = nullptr) = 0;
  virtual bool event(const Icmp6Event &ev) = 0;  // false: queue full (counted as event_overflow)
  virtual ~Sink() = default;
};

struct Context {
  Shared *shared;
  Counters *counters;
  Reassembler *reasm;
  uint8_t *scratch;  // kMaxPacket + kHeadroom bytes, for ICMP replies, fragments and reassembly output
  uint8_t *segment;  // kMaxPacket + kHeadroom bytes, for TSO segments
  int64_t now_ms;    // wall clock (CLOCK_REALTIME ms), taken before each drain pass
  Coalescer *gro;    // decapsulated TCP segments waiting to be written as one super-packet; null: off
};

// Process one packet read from the tun. `pkt` has kHeadroom writable bytes before it and may be modified.
// `in` is its offload metadata, or null.
void handle_packet(Context &ctx, uint8_t *pkt, size_t len, const Offload *in, Sink &out);

// RFC 6437 flow label from the inner IPv4 5-tuple (3-tuple for non-first fragments and other protocols).
uint32_t flow_label(const uint8_t *ip4, size_t len);

// End of a batch of reads: writes what the coalescer holds. Call before sleeping or polling.
void flush_batch(Context &ctx, Sink &out);

// The probe `seq` (echo.h): IPv4 ICMP echo request from echo_source(cfg) to cfg.echo_target, with ICMP `id`
// (echo_id()), encapsulated from the softwire to `aftr`. Writes 68 bytes to `out`; returns 68.
size_t build_echo_request(const Config &cfg, const uint8_t aftr[16], uint16_t id, uint16_t seq, uint8_t *out);

// Echo probes' inner source and ICMP id: 192.0.0.2 (b4_ipv4) and the forwarder's id in dslite; in lw4o6 the
// binding's address and the lowest port of its set, which the NAPT never hands out (RFC 7596 §8: the lwAFTR
// takes ICMP ids as ports).
inline const uint8_t *echo_source(const Config &cfg) { return cfg.lw4o6 ? cfg.lw.ipv4 : cfg.b4_ipv4; }
inline uint16_t echo_id(const Config &cfg, const Probes &probes) { return cfg.lw4o6 ? probe_port(cfg.lw) : probes.id(); }

Reassembler *reassembler_new();
void reassembler_free(Reassembler *r);
// IPv6 reassembly (RFC 8200 §4.5, overlaps discarded per RFC 5722) in this thread's Reassembler: `v6` a fragment
// (Fragment header at byte 40, `plen` bytes after the IPv6 header, at least 8), keyed by source, destination and
// identification. The whole fragmentable part once the fragment completes it (valid until this thread's next
// fragment), with its length in `total`; else null: held for the rest, or dropped and counted (v6_fragment_*).
uint8_t *reassemble(Context &ctx, const uint8_t *v6, size_t plen, size_t *total);
Coalescer *coalescer_new();
void coalescer_free(Coalescer *g);

}  // namespace fw
