// Mode 'nat46' (issue 23): distributed stateless IPv4/IPv6 translation (SIIT, RFC 7915) with a tenant and a
// gateway identifier in the IPv6 address of every client. Several gateways share one IPv6 prefix; each owns a
// gateway ID. LAN IPv4 is translated to IPv6 from
//
//   | prefix (prefix_len bits) | tenant ID | gateway ID | zero padding | client IPv4 (bits 96..127) |
//
// to the RFC 6052 /96 of the IPv4 side (dst96 | server IPv4, as tayga's `prefix`). An IPv6 packet for the prefix
// whose gateway ID is ours passes a stateful firewall (only flows our clients opened) and is translated back to
// IPv4; one carrying a peer's gateway ID is handed off, unchanged, in IPv6-in-IPv6 (RFC 2473) to that peer, which
// takes it as if it had arrived for it, and never hands it on again (no loops); one that does not fit ipv6_mtu with
// the 40 bytes more is refused with a packet too big or sent in fragments (RFC 2473 §7.1, nat46.cc hand_off), which
// the peer reassembles. The flow state is kept only for our own clients (no gateway keeps per-flow state for
// another). A failed peer's gateway ID can be adopted (configured adoption): it is then served as ours, and the
// failed gateway's LAN clients (an IPv4 prefix, now on our LAN) leave with it, so their IPv6 addresses, and the
// servers' view of their flows, do not change. Called by packet.cc in mode 'nat46'; the stages are nat46.cc, the
// flow table is here.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <mutex>

namespace fw {

struct Nat46Peer {
  uint32_t gateway_id;
  uint8_t addr[16];  // its hand-off address (its own Nat46Config::local)
};

// An adopted gateway ID (issue 23 configured adoption) and the IPv4 prefix of its clients.
struct Nat46Adopted {
  uint32_t gateway_id;
  uint32_t net, mask;  // the clients' prefix, host byte order; net has no bits outside mask
  uint8_t base[16];    // prefix | tenant | its gateway ID | zero: its clients' addresses, IPv4 in bytes 12..15
};

// Checked by the TypeScript side (types.ts) and again by the addon for what would make a packet malformed.
struct Nat46Config {
  static constexpr int kMaxPeers = 64;
  static constexpr int kMaxAdopted = 16;
  uint8_t own[16];    // prefix | tenant | our gateway ID | zero: a client's address with its IPv4 in bytes 12..15
  uint8_t prefix_len, tenant_bits, gateway_bits;  // prefix_len + tenant_bits + gateway_bits <= 96
  uint32_t tenant_id, gateway_id;
  uint8_t dst96[16];  // RFC 6052 §2.2 /96 of the IPv4 side; bytes 12..15 zero
  uint8_t local[16];  // our hand-off address: source of hand-offs, of our ICMPv6 errors; peers send to it
  int ipv6_mtu;       // the largest IPv6 packet sent (RFC 7915 §4.1: 1280 unless the network is known better)
  int n_peers;
  Nat46Peer peers[kMaxPeers];
  int n_adopted;  // prefixes do not overlap (types.ts); a client in none leaves with our own gateway ID
  Nat46Adopted adopted[kMaxAdopted];
};

// The `width`-bit field at bit `off` of a 16-byte address (network bit order), width <= 32.
inline uint32_t addr_bits(const uint8_t *a, int off, int width) {
  uint32_t v = 0;
  for (int i = 0; i < width; i++) v = v << 1 | ((a[(off + i) >> 3] >> (7 - ((off + i) & 7))) & 1u);
  return v;
}
inline void set_addr_bits(uint8_t *a, int off, int width, uint32_t v) {
  for (int i = 0; i < width; i++) {
    uint8_t bit = uint8_t(0x80 >> ((off + i) & 7));
    if ((v >> (width - 1 - i)) & 1u) a[(off + i) >> 3] |= bit;
    else a[(off + i) >> 3] &= uint8_t(~bit);
  }
}

// The firewall's flows: one per (client, gateway ID, remote, protocol, client port, remote port), ports 0 for
// protocols without them, the ICMP echo identifier as the client port (RFC 5508 §3.1). The gateway ID the
// client's address had when it opened the flow (ours or an adopted one) is part of it: a flow belongs to the
// client's IPv6 address, so a reply to another gateway ID for the same IPv4 (an adoption added or removed
// since) matches nothing. Opened by what our clients send,
// matched by what comes back. Lifetimes as the lwB4's NAPT (napt.h): UDP and other protocols 300 s (RFC 4787
// REQ-5), TCP 240 s until the remote side answers, 7440 s established, 240 s after FIN or RST (RFC 5382
// REQ-5), ICMP 60 s (RFC 5508 REQ-1). Fixed size (kCapacity flows), no allocation per packet; a full table
// refuses new flows (counted by the caller). One mutex, as the NAPT: replies come up on any queue.
class Nat46Flows {
 public:
  static constexpr int kCapacity = 16384;
  static constexpr int kFrags = 256;
  static constexpr int64_t kFragMs = 5000;
  static constexpr uint8_t kSyn = 0x02, kFin = 0x01, kRst = 0x04, kAck = 0x10;
  struct Key {
    uint32_t client, gateway, remote;
    uint16_t cport, rport;
    uint8_t proto;
    bool operator==(const Key &o) const {
      return client == o.client && gateway == o.gateway && remote == o.remote && cport == o.cport && rport == o.rport &&
             proto == o.proto;
    }
  };

  Nat46Flows() { flush(); }
  void flush() {
    std::lock_guard<std::mutex> lock(mu_);
    memset(buckets_, 0xff, sizeof buckets_);
    for (int i = 0; i < kCapacity; i++) used_[i] = false, entries_[i].next = uint16_t(i + 1 < kCapacity ? i + 1 : kNone);
    free_ = 0;
    memset(frags_, 0, sizeof frags_);
    active_.store(0, std::memory_order_relaxed);
  }
  // An outbound packet of the flow: opened if new, refreshed. False: the table is full.
  bool open(const Key &k, uint8_t tcp_flags, int64_t now_ms) {
    std::lock_guard<std::mutex> lock(mu_);
    int i = find(k, now_ms);
    if (i < 0) {
      if (free_ == kNone) sweep(now_ms);
      if (free_ == kNone) return false;
      i = free_;
      free_ = entries_[i].next;
      used_[i] = true;
      Entry &e = entries_[i];
      e.key = k;
      e.state = kTransitory;
      uint16_t &head = buckets_[bucket(k)];
      e.next = head;
      head = uint16_t(i);
      active_.fetch_add(1, std::memory_order_relaxed);
      created_.fetch_add(1, std::memory_order_relaxed);
    }
    track(entries_[i], tcp_flags, true, now_ms);
    return true;
  }
  // An inbound packet: whether its flow is live; `refresh` (not for the quote of an ICMP error) follows the
  // TCP state. Inbound UDP, ICMP and others do not extend the lifetime (RFC 4787 REQ-6).
  bool match(const Key &k, uint8_t tcp_flags, bool refresh, int64_t now_ms) {
    std::lock_guard<std::mutex> lock(mu_);
    int i = find(k, now_ms);
    if (i < 0) return false;
    if (refresh && k.proto == 6) track(entries_[i], tcp_flags, false, now_ms);
    return true;
  }
  // IPv6 fragments from outside: only the first carries the ports. Once it passed, the later ones of that
  // datagram (RFC 8200 §4.5: source, destination, identification) pass for kFragMs. Direct-mapped.
  void frag_note(uint32_t remote, uint32_t client, uint32_t id, uint8_t proto, int64_t now_ms) {
    std::lock_guard<std::mutex> lock(mu_);
    frags_[frag_slot(remote, id)] = Frag{remote, client, id, proto, now_ms + kFragMs};
  }
  bool frag_find(uint32_t remote, uint32_t client, uint32_t id, uint8_t proto, int64_t now_ms) {
    std::lock_guard<std::mutex> lock(mu_);
    const Frag &f = frags_[frag_slot(remote, id)];
    return f.expires_ms > now_ms && f.remote == remote && f.client == client && f.id == id && f.proto == proto;
  }
  uint64_t created() const { return created_.load(std::memory_order_relaxed); }
  uint64_t expired() const { return expired_.load(std::memory_order_relaxed); }
  int active() const { return active_.load(std::memory_order_relaxed); }

 private:
  static constexpr uint16_t kNone = 0xffff;
  static constexpr int kBuckets = 2 * kCapacity;
  enum : uint8_t { kTransitory, kEstablished, kClosing };
  struct Entry {
    Key key;
    uint8_t state;
    uint16_t next;  // bucket chain, or free list
    int64_t expires_ms;
  };
  struct Frag {
    uint32_t remote, client, id;
    uint8_t proto;
    int64_t expires_ms;  // 0: free
  };
  static uint32_t bucket(const Key &k) {
    uint32_t h = k.client * 0x9e3779b1u ^ k.remote * 0x85ebca6bu ^ (uint32_t(k.cport) << 16 | k.rport) * 0xc2b2ae35u ^
                 k.gateway * 0x27d4eb2fu ^ k.proto;
    h ^= h >> 15;
    h *= 0x2c1b3c6du;
    return (h >> 12) & (kBuckets - 1);
  }
  static uint32_t frag_slot(uint32_t remote, uint32_t id) { return ((remote * 0x9e3779b1u) ^ (id * 0x85ebca6bu)) >> 24; }
  static int64_t lifetime_ms(uint8_t proto, uint8_t state) {
    if (proto == 1) return 60000;
    if (proto != 6) return 300000;
    return state == kEstablished ? 7440000 : 240000;
  }
  // TCP (RFC 5382 REQ-5): transitory until the remote side answers, then established; closing after FIN/RST.
  void track(Entry &e, uint8_t flags, bool outbound, int64_t now_ms) {
    if (e.key.proto == 6) {
      if (flags & (kFin | kRst)) e.state = kClosing;
      else if (outbound && (flags & kSyn) && !(flags & kAck) && e.state == kClosing) e.state = kTransitory;
      else if (!outbound && e.state == kTransitory) e.state = kEstablished;
    }
    if (outbound || e.key.proto == 6) e.expires_ms = now_ms + lifetime_ms(e.key.proto, e.state);
  }
  // The live entry of k, or -1; an expired one met on the way is freed.
  int find(const Key &k, int64_t now_ms) {
    for (uint16_t i = buckets_[bucket(k)]; i != kNone;) {
      uint16_t next = entries_[i].next;
      if (entries_[i].key == k) return live(i, now_ms) ? i : -1;
      i = next;
    }
    return -1;
  }
  bool live(int i, int64_t now_ms) {
    if (entries_[i].expires_ms > now_ms) return true;
    uint16_t *link = &buckets_[bucket(entries_[i].key)];
    while (*link != kNone && *link != i) link = &entries_[*link].next;
    if (*link == i) *link = entries_[i].next;
    used_[i] = false;
    entries_[i].next = free_;
    free_ = uint16_t(i);
    active_.fetch_sub(1, std::memory_order_relaxed);
    expired_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  void sweep(int64_t now_ms) {
    for (int i = 0; i < kCapacity; i++)
      if (used_[i]) live(i, now_ms);
  }

  std::mutex mu_;
  uint16_t buckets_[kBuckets];
  Entry entries_[kCapacity];
  bool used_[kCapacity];
  Frag frags_[kFrags];
  uint16_t free_ = kNone;
  std::atomic<int> active_{0};
  std::atomic<uint64_t> created_{0}, expired_{0};
};

struct Context;
struct Config;
struct Offload;
struct Sink;

// The probe `seq` of a peer (echo.h): an ICMPv6 echo request (RFC 4443 §4.1) from our hand-off address to `to`, the
// peer's, with ICMP `id`, no data. Its translator answers it (nat46.cc local_icmp6), a dead one does not. Writes 48
// bytes to `out`; returns 48.
size_t nat46_echo_request(const Config &cfg, const uint8_t to[16], uint16_t id, uint16_t seq, uint8_t *out);

// One packet read from the tun in mode 'nat46' (IPv4 from the LAN, IPv6 for the prefix or the hand-off address).
void nat46_packet(Context &ctx, const Config &cfg, uint8_t *pkt, size_t len, const Offload *in, Sink &out);

}  // namespace fw
