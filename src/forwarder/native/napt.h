// The lwB4's NAPT44 (RFC 7596 §5.1: the lwB4 translates the LAN into its one shared IPv4 address and its port
// set itself), shared by the queue threads. Endpoint-independent mapping (RFC 4787 REQ-1): one mapping per
// internal address, port (or ICMP identifier, RFC 5508 §3) and protocol, whatever the destination; the
// external port is the internal one when that is in the set and free, else a free port of the set from a random
// offset. Fixed-size tables (kCapacity mappings, kFrags fragmented datagrams from outside), no allocation per
// packet; a full table is refused (counted by the caller). Lifetimes: UDP 300 s (RFC 4787 REQ-5), TCP 7440 s
// established / 240 s while transitory (only our SYN seen) or after FIN or RST (RFC 5382 REQ-5), ICMP 60 s
// (RFC 5508 REQ-1). Expiry is lazy (a lookup or an allocation that meets an expired mapping frees it) plus a
// sweep of a slice of the table every 100 ms of LAN traffic, and of all of it when the table is full or the
// counters are read.
//
// One mutex for the whole table. Why not per-thread tables: a flow's packets reach the queue of the CPU that
// forwards them (dataplane.cc), replies from the BR come up on any queue, and an endpoint-independent mapping
// must be one per internal endpoint for all of them. The critical section is a hash lookup and a few stores
// (tens of ns); with one thread per CPU and 2 CPUs the lock is seldom contended, and a futex-backed mutex does
// not spin when its holder was preempted. dslite mode never touches it.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>

namespace fw {

// An lw4o6 binding (RFC 7596 §5.1, RFC 7597 §5.1): the shared address and the port set.
struct LwBinding {
  uint8_t ipv4[4];
  uint8_t offset;  // a, 0..15
  uint8_t length;  // k, 0..16, a + k <= 16
  uint16_t psid;   // < 2^k
};
inline bool same_binding(const LwBinding &x, const LwBinding &y) {
  return x.ipv4[0] == y.ipv4[0] && x.ipv4[1] == y.ipv4[1] && x.ipv4[2] == y.ipv4[2] && x.ipv4[3] == y.ipv4[3] &&
         x.offset == y.offset && x.length == y.length && x.psid == y.psid;
}
// RFC 7597 §5.1: port = A << (16 - a) | PSID << m | M, m = 16 - a - k; with a > 0, A >= 1; never port 0.
inline bool port_in_set(const LwBinding &b, uint16_t port) {
  int m = 16 - b.offset - b.length;
  if (port == 0 || (b.offset > 0 && (port >> (16 - b.offset)) == 0)) return false;
  return b.length == 0 || ((port >> m) & ((1u << b.length) - 1)) == b.psid;
}
// The lowest port of the set: the forwarder's echo probes use it as their ICMP id, the NAPT never hands it out.
inline uint16_t probe_port(const LwBinding &b) {
  int m = 16 - b.offset - b.length;
  uint32_t p = (b.offset > 0 ? 1u << (16 - b.offset) : 0) | uint32_t(b.psid) << m;
  return uint16_t(p == 0 ? 1 : p);
}

class Napt {
 public:
  static constexpr int kCapacity = 16384;
  enum Proto : uint8_t { kTcp, kUdp, kIcmp, kProtos };
  enum Status { kOk, kNoFreePort, kTableFull };
  static constexpr uint8_t kSyn = 0x02, kFin = 0x01, kRst = 0x04, kAck = 0x10;  // RFC 9293 §3.1 flag bits
  static constexpr int64_t kSweepEveryMs = 100;

  Napt();
  // Control thread. A binding other than the one in force (or none: null) empties the table: old connections
  // fail, which RFC 7596 re-provisioning accepts. The same binding keeps it.
  void set_binding(const LwBinding *b);
  // Frees every mapping expired at `now_ms` (the counters read); now_ms < 0: at the latest packet time seen.
  void sweep_all(int64_t now_ms);
  uint64_t created() const { return created_.load(std::memory_order_relaxed); }
  uint64_t expired() const { return expired_.load(std::memory_order_relaxed); }
  int active() const { return active_.load(std::memory_order_relaxed); }

  // Data plane. A LAN packet from addr:port (host order) with these TCP flags (0 for UDP and ICMP): its
  // mapping, created if needed, refreshed (RFC 4787 REQ-6: outbound refresh). `*ext` the external port.
  Status outbound(Proto p, uint32_t addr, uint16_t port, uint8_t tcp_flags, int64_t now_ms, uint16_t *ext);
  // The live mapping of addr:port, not refreshed (an ICMP error from the LAN about it); false if none.
  bool find_internal(Proto p, uint32_t addr, uint16_t port, int64_t now_ms, uint16_t *ext);
  // A packet from outside to external port `ext`: the internal endpoint of its live mapping; false if none.
  // `refresh`: TCP state follows the flags and the lifetime restarts (UDP and ICMP are refreshed outbound only).
  bool inbound(Proto p, uint16_t ext, uint8_t tcp_flags, bool refresh, int64_t now_ms, uint32_t *addr, uint16_t *port);
  // Whether `ext` has a live mapping that sent a packet to the BR within `window_ms` (ICMPv6 error checks).
  bool sent_within(Proto p, uint16_t ext, int64_t now_ms, int64_t window_ms);
  // Fragments from outside: only the first carries the ports. Its translation notes (source, IP ID, protocol)
  // -> internal address, and the later fragments of that datagram find it (RFC 791 §3.2 identifies a datagram
  // by these and the destination, ours), for kFragMs. Direct-mapped, kFrags slots: a collision forgets the
  // older datagram, whose later fragments are then dropped (counted by the caller).
  static constexpr int kFrags = 256;
  static constexpr int64_t kFragMs = 5000;
  void frag_note(uint32_t src, uint16_t ip_id, uint8_t proto, uint32_t addr, int64_t now_ms);
  bool frag_find(uint32_t src, uint16_t ip_id, uint8_t proto, int64_t now_ms, uint32_t *addr);

 private:
  static constexpr uint16_t kNone = 0xffff;
  static constexpr int kBuckets = 2 * kCapacity;
  struct Entry {
    uint32_t addr;
    uint16_t port, ext;
    uint8_t proto;  // kProtos: free
    uint8_t state;  // TCP: kTransitory, kEstablished, kClosing
    uint16_t next;  // bucket chain, or free list
    int64_t expires_ms, last_out_ms;
  };
  enum TcpState : uint8_t { kTransitory, kEstablished, kClosing };

  static uint32_t bucket(uint8_t p, uint32_t addr, uint16_t port);
  static int64_t lifetime_ms(uint8_t p, uint8_t state);
  int find(uint8_t p, uint32_t addr, uint16_t port) const;
  bool live(int i, int64_t now_ms);  // false: expired, and freed
  void release(int i);
  bool port_free(uint8_t p, uint16_t port, int64_t now_ms);
  int pick_port(uint8_t p, uint16_t want, int64_t now_ms);
  void sweep(int from, int n, int64_t now_ms);
  void tcp_track(Entry &e, uint8_t flags, bool outbound);
  void flush_locked();

  std::mutex mu_;
  bool bound_ = false;
  LwBinding binding_{};
  uint16_t probe_ = 0;
  int n_ports_ = 0;          // ports_[0 .. n_ports_): the set in ascending order, the probe port excluded
  uint16_t ports_[65536];
  uint16_t by_ext_[kProtos][65536];  // external port -> entry
  uint16_t buckets_[kBuckets];       // hash of the internal endpoint -> chain of entries
  Entry entries_[kCapacity];
  struct Frag {
    uint32_t src, addr;
    uint16_t ip_id;
    uint8_t proto;
    int64_t expires_ms;  // 0: free
  };
  Frag frags_[kFrags];
  uint16_t free_ = kNone;
  int sweep_at_ = 0;
  int64_t last_sweep_ms_ = 0, last_now_ms_ = 0;
  uint32_t rng_;
  std::atomic<int> active_{0};
  std::atomic<uint64_t> created_{0}, expired_{0};
};

}  // namespace fw
