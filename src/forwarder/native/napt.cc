// The lwB4's NAPT44 table. See napt.h.
#include "napt.h"

#include <cstring>
#include <random>

namespace fw {

Napt::Napt() : rng_(std::random_device{}() | 1) { flush_locked(); }

uint32_t Napt::bucket(uint8_t p, uint32_t addr, uint16_t port) {
  // Multiplicative hashing (Knuth): the high bits of the product mix every input bit.
  uint32_t h = addr * 0x9e3779b1u ^ (uint32_t(port) << 8 | p) * 0x85ebca6bu;
  h ^= h >> 15;
  h *= 0x2c1b3c6du;
  return (h >> 12) & (kBuckets - 1);
}

int64_t Napt::lifetime_ms(uint8_t p, uint8_t state) {
  if (p == kUdp) return 300000;                                 // RFC 4787 REQ-5: at least 2 min, 5 min recommended
  if (p == kIcmp) return 60000;                                 // RFC 5508 REQ-1: at least 60 s
  return state == kEstablished ? 7440000 : 240000;              // RFC 5382 REQ-5: 2 h 4 min; transitory 4 min
}

void Napt::flush_locked() {
  memset(by_ext_, 0xff, sizeof by_ext_);
  memset(buckets_, 0xff, sizeof buckets_);
  for (int i = 0; i < kCapacity; i++) {
    entries_[i].proto = kProtos;
    entries_[i].next = uint16_t(i + 1 < kCapacity ? i + 1 : kNone);
  }
  free_ = 0;
  sweep_at_ = 0;
  memset(frags_, 0, sizeof frags_);
  active_.store(0, std::memory_order_relaxed);
}

void Napt::set_binding(const LwBinding *b) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!b) {
    if (bound_ || active_.load(std::memory_order_relaxed)) flush_locked();
    bound_ = false;
    return;
  }
  if (bound_ && same_binding(*b, binding_)) return;
  flush_locked();
  binding_ = *b;
  bound_ = true;
  probe_ = probe_port(*b);
  n_ports_ = 0;
  for (uint32_t port = 1; port < 65536; port++)
    if (port_in_set(*b, uint16_t(port)) && port != probe_) ports_[n_ports_++] = uint16_t(port);
}

int Napt::find(uint8_t p, uint32_t addr, uint16_t port) const {
  for (uint16_t i = buckets_[bucket(p, addr, port)]; i != kNone; i = entries_[i].next) {
    const Entry &e = entries_[i];
    if (e.proto == p && e.addr == addr && e.port == port) return i;
  }
  return -1;
}

void Napt::release(int i) {
  Entry &e = entries_[i];
  uint16_t *link = &buckets_[bucket(e.proto, e.addr, e.port)];
  while (*link != kNone && *link != i) link = &entries_[*link].next;
  if (*link == i) *link = e.next;
  by_ext_[e.proto][e.ext] = kNone;
  e.proto = kProtos;
  e.next = free_;
  free_ = uint16_t(i);
  active_.store(active_.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
}

bool Napt::live(int i, int64_t now_ms) {
  if (entries_[i].expires_ms > now_ms) return true;
  release(i);
  expired_.store(expired_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  return false;
}

void Napt::sweep(int from, int n, int64_t now_ms) {
  for (int k = 0; k < n; k++) {
    int i = (from + k) % kCapacity;
    if (entries_[i].proto != kProtos) live(i, now_ms);
  }
}

void Napt::sweep_all(int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  sweep(0, kCapacity, now_ms < 0 ? last_now_ms_ : now_ms);
}

bool Napt::port_free(uint8_t p, uint16_t port, int64_t now_ms) {
  uint16_t j = by_ext_[p][port];
  return j == kNone || !live(j, now_ms);
}

// The internal port itself when it is in the set and free, else the first free port of the set walking from
// a random offset (RFC 6056 §3.3.1-like: not predictable from outside); -1 if the set is used up.
int Napt::pick_port(uint8_t p, uint16_t want, int64_t now_ms) {
  if (want != probe_ && port_in_set(binding_, want) && port_free(p, want, now_ms)) return want;
  if (n_ports_ == 0) return -1;
  rng_ ^= rng_ << 13, rng_ ^= rng_ >> 17, rng_ ^= rng_ << 5;  // xorshift32
  int start = int(rng_ % uint32_t(n_ports_));
  for (int k = 0; k < n_ports_; k++) {
    uint16_t port = ports_[(start + k) % n_ports_];
    if (port_free(p, port, now_ms)) return port;
  }
  return -1;
}

// TCP (RFC 5382 REQ-5): transitory until the outside answers, established then, closing after FIN or RST;
// a new SYN from inside over a closing mapping starts a new connection on it.
void Napt::tcp_track(Entry &e, uint8_t flags, bool outbound) {
  if (flags & (kFin | kRst)) e.state = kClosing;
  else if (outbound && (flags & kSyn) && !(flags & kAck) && e.state == kClosing) e.state = kTransitory;
  else if (!outbound && e.state == kTransitory) e.state = kEstablished;
}

Napt::Status Napt::outbound(Proto p, uint32_t addr, uint16_t port, uint8_t tcp_flags, int64_t now_ms, uint16_t *ext) {
  std::lock_guard<std::mutex> lock(mu_);
  last_now_ms_ = now_ms;
  if (now_ms - last_sweep_ms_ >= kSweepEveryMs) {
    last_sweep_ms_ = now_ms;
    sweep(sweep_at_, kCapacity / 16, now_ms);
    sweep_at_ = (sweep_at_ + kCapacity / 16) % kCapacity;
  }
  int i = find(p, addr, port);
  if (i >= 0 && !live(i, now_ms)) i = -1;
  if (i < 0) {
    if (free_ == kNone) sweep(0, kCapacity, now_ms);  // reclaim what expired before refusing
    if (free_ == kNone) return kTableFull;
    int got = pick_port(p, port, now_ms);
    if (got < 0) return kNoFreePort;
    i = free_;
    Entry &e = entries_[i];
    free_ = e.next;
    e.addr = addr;
    e.port = port;
    e.ext = uint16_t(got);
    e.proto = p;
    e.state = kTransitory;
    uint16_t &head = buckets_[bucket(p, addr, port)];
    e.next = head;
    head = uint16_t(i);
    by_ext_[p][e.ext] = uint16_t(i);
    active_.store(active_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    created_.store(created_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  Entry &e = entries_[i];
  if (p == kTcp) tcp_track(e, tcp_flags, true);
  e.expires_ms = now_ms + lifetime_ms(p, e.state);
  e.last_out_ms = now_ms;
  *ext = e.ext;
  return kOk;
}

bool Napt::find_internal(Proto p, uint32_t addr, uint16_t port, int64_t now_ms, uint16_t *ext) {
  std::lock_guard<std::mutex> lock(mu_);
  last_now_ms_ = now_ms;
  int i = find(p, addr, port);
  if (i < 0 || !live(i, now_ms)) return false;
  *ext = entries_[i].ext;
  return true;
}

bool Napt::inbound(Proto p, uint16_t ext, uint8_t tcp_flags, bool refresh, int64_t now_ms, uint32_t *addr, uint16_t *port) {
  std::lock_guard<std::mutex> lock(mu_);
  last_now_ms_ = now_ms;
  uint16_t i = by_ext_[p][ext];
  if (i == kNone || !live(i, now_ms)) return false;
  Entry &e = entries_[i];
  if (refresh && p == kTcp) {
    tcp_track(e, tcp_flags, false);
    e.expires_ms = now_ms + lifetime_ms(p, e.state);
  }
  *addr = e.addr;
  *port = e.port;
  return true;
}

bool Napt::sent_within(Proto p, uint16_t ext, int64_t now_ms, int64_t window_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  uint16_t i = by_ext_[p][ext];
  return i != kNone && live(i, now_ms) && now_ms - entries_[i].last_out_ms <= window_ms;
}

static uint32_t frag_slot(uint32_t src, uint16_t ip_id, uint8_t proto) {
  uint32_t h = (src * 0x9e3779b1u) ^ ((uint32_t(ip_id) << 8 | proto) * 0x85ebca6bu);
  return (h >> 16) % Napt::kFrags;
}

void Napt::frag_note(uint32_t src, uint16_t ip_id, uint8_t proto, uint32_t addr, int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  frags_[frag_slot(src, ip_id, proto)] = Frag{src, addr, ip_id, proto, now_ms + kFragMs};
}

bool Napt::frag_find(uint32_t src, uint16_t ip_id, uint8_t proto, int64_t now_ms, uint32_t *addr) {
  std::lock_guard<std::mutex> lock(mu_);
  const Frag &f = frags_[frag_slot(src, ip_id, proto)];
  if (f.expires_ms <= now_ms || f.src != src || f.ip_id != ip_id || f.proto != proto) return false;
  *addr = f.addr;
  return true;
}

}  // namespace fw
