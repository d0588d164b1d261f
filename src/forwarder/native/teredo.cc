// Mode 'teredo' (issue 22): the Teredo client. See teredo.h; the codec is teredo_codec.cc. One thread waits in poll(2)
// on the tun, the UDP socket and a stop eventfd (at most 100 ms, the timers' resolution), then handles what came under
// the state's mutex.
#include "teredo.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "wire.h"

namespace fw {
namespace teredo {

#define TEREDO_NAME(n) #n,
const char *const kTotalNames[T_COUNT] = {TEREDO_TOTALS(TEREDO_NAME)};
const char *const kDropNames[D_COUNT] = {TEREDO_DROPS(TEREDO_NAME)};
#undef TEREDO_NAME

using wire::rd16;

namespace {

int64_t mono_ms() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

void random_bytes(void *p, size_t n) {
  uint8_t *b = static_cast<uint8_t *>(p);
  while (n) {
    ssize_t r = getrandom(b, n, 0);
    if (r <= 0) continue;  // EINTR; the pool is initialised long before a gateway runs this
    b += r, n -= size_t(r);
  }
}

// RFC 4380 §5.2.4 (and miredo's is_ipv4_global_unicast): no Teredo peer at 0/8, 127/8, multicast or above.
bool global_ipv4(const uint8_t a[4]) { return a[0] != 0 && a[0] != 127 && a[0] < 224; }

std::string errmsg(const char *what) { return std::string(what) + ": " + strerror(errno); }

// struct in6_ifreq of <linux/ipv6.h>, which clashes with <netinet/in.h>.
struct In6Ifreq {
  in6_addr addr;
  uint32_t prefixlen;
  int ifindex;
};

}  // namespace

struct Client::Peer {
  uint8_t addr[16];
  bool teredo = false;
  bool trusted = false;
  uint8_t via_ipv4[4] = {};
  uint16_t via_port = 0;
  bool pending = false;  // bubbles or a connectivity test out, packets queued
  int tries = 0;
  int64_t next_ms = 0, last_ms = 0;
  int64_t unanswered_ms = 0;  // our first packet to it since its last one to us (0: it answered since)
  uint16_t echo_id = 0, echo_seq = 0;
  uint8_t echo_nonce[8] = {};
  std::vector<std::vector<uint8_t>> queue;
  uint64_t tx = 0, rx = 0, dropped = 0;
};

std::string Client::start(const std::string &tun, const Config &c, std::string &actual) {
  if (running()) return "teredo client already running";
  if (tun.size() >= IFNAMSIZ) return "tun name too long";
  cfg_ = c;
  tun_ = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (tun_ < 0) return errmsg("open /dev/net/tun");
  ifreq ifr{};
  strncpy(ifr.ifr_name, tun.c_str(), IFNAMSIZ - 1);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  if (ioctl(tun_, TUNSETIFF, &ifr) < 0) return stop(), errmsg("TUNSETIFF");
  tun_name_ = actual = ifr.ifr_name;
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return stop(), errmsg("socket");
  std::string err;
  ifr.ifr_mtu = kMtu;
  if (ioctl(s, SIOCSIFMTU, &ifr) < 0) err = errmsg("SIOCSIFMTU");
  if (err.empty() && ioctl(s, SIOCGIFFLAGS, &ifr) < 0) err = errmsg("SIOCGIFFLAGS");
  ifr.ifr_flags |= IFF_UP;
  if (err.empty() && ioctl(s, SIOCSIFFLAGS, &ifr) < 0) err = errmsg("SIOCSIFFLAGS");
  ::close(s);
  if (!err.empty()) return stop(), err;
  ifindex_ = int(if_nametoindex(actual.c_str()));
  udp_ = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (udp_ < 0) return stop(), errmsg("UDP socket");
  // Encapsulated packets of up to 1280 + 8 + 13 bytes: let the IPv4 path fragment them rather than refuse them.
  int pmtu = IP_PMTUDISC_DONT;
  setsockopt(udp_, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof pmtu);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  memcpy(&sa.sin_addr, c.local, 4);
  sa.sin_port = htons(c.local_port);
  if (bind(udp_, reinterpret_cast<sockaddr *>(&sa), sizeof sa) < 0) return stop(), errmsg("bind");
  stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stop_fd_ < 0) return stop(), errmsg("eventfd");
  // RFC 5991: twelve random bits in the flags, chosen once (the address stays stable across refreshes); the cone bit,
  // R, U and G zero, so the address tells nobody the NAT's kind.
  random_bytes(&flags_, sizeof flags_);
  flags_ &= kRandomBits;
  enter(c.cone_probe ? Phase::kProbeCone : Phase::kProbeRestricted, mono_ms());
  thread_ = std::thread(&Client::run, this);
  return "";
}

void Client::stop() {
  if (thread_.joinable()) {
    uint64_t one = 1;
    if (write(stop_fd_, &one, sizeof one) < 0) {
      // Cannot fail short of a counter overflow.
    }
    thread_.join();
  }
  for (int *fd : {&tun_, &udp_, &stop_fd_})
    if (*fd >= 0) ::close(*fd), *fd = -1;
  for (Peer *p : peers_) delete p;
  peers_.clear();
  qualified_ = false;
}

Snapshot Client::snapshot() {
  std::lock_guard<std::mutex> lock(mu_);
  Snapshot s{};
  s.qualified = qualified_;
  s.nat = nat_;
  memcpy(s.address, address_, 16);
  memcpy(s.mapped_ipv4, mapped_ipv4_, 4);
  s.mapped_port = mapped_port_;
  memcpy(s.server, cfg_.server, 4);
  s.mtu = mtu_;
  s.tun = tun_name_;
  for (const Peer *p : peers_) {
    PeerInfo i{};
    memcpy(i.addr, p->addr, 16);
    i.teredo = p->teredo;
    i.trusted = p->trusted;
    memcpy(i.via_ipv4, p->via_ipv4, 4);
    i.via_port = p->via_port;
    i.tx_packets = p->tx, i.rx_packets = p->rx, i.dropped = p->dropped;
    s.peers.push_back(i);
  }
  for (int t = 0; t < T_COUNT; t++) s.totals[t] = totals_[t].load(std::memory_order_relaxed);
  for (int d = 0; d < D_COUNT; d++) s.drops[d] = drops_[d].load(std::memory_order_relaxed);
  return s;
}

void Client::run() {
  // Packets before management, as the data plane's threads (dataplane.cc): this thread is mode 'teredo's data plane
  // (best effort: needs CAP_SYS_NICE).
  if (setpriority(PRIO_PROCESS, pid_t(syscall(SYS_gettid)), kNice) < 0) {
    // Unprivileged: the default priority.
  }
  pthread_setname_np(pthread_self(), "teredo");
  std::vector<uint8_t> buf(65536);
  pollfd pfd[3] = {{tun_, POLLIN, 0}, {udp_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
  for (;;) {
    if (poll(pfd, 3, 100) < 0 && errno != EINTR) break;
    if (pfd[2].revents) break;
    std::lock_guard<std::mutex> lock(mu_);
    int64_t now = mono_ms();
    // Only the descriptors poll named: a read that can only fail is a system call per wakeup for nothing.
    for (int i = 0; i < 64 && pfd[0].revents; i++) {
      ssize_t n = read(tun_, buf.data(), buf.size());
      if (n < 0) break;
      on_tun(buf.data(), size_t(n), now);
    }
    for (int i = 0; i < 64 && pfd[1].revents; i++) {
      sockaddr_in from{};
      socklen_t fl = sizeof from;
      ssize_t n = recvfrom(udp_, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr *>(&from), &fl);
      if (n < 0) break;
      on_udp(buf.data(), size_t(n), reinterpret_cast<const uint8_t *>(&from.sin_addr), ntohs(from.sin_port), now);
    }
    tick(now);
  }
}

// RFC 4380 §5.2.1 qualification as a state machine: the cone probe (solicitation with the cone bit, answered from
// the server's other address: only a cone NAT lets it in), then the restricted probe to the primary address and the
// symmetric check to the secondary one (the same mapping both times, or the NAT is symmetric). Each probe sends up
// to qualify_retries solicitations, qualify_timeout_ms apart. Qualified, the client solicits again every randomized
// refresh interval (refresh_due)
// (§5.2.5 maintenance: it keeps the NAT's mapping alive and shows a changed one); retries unanswered lose the server.
void Client::enter(Phase p, int64_t now) {
  phase_ = p;
  tries_ = 0;
  // A fresh nonce for every probe's solicitations; only an advertisement echoing it counts (RFC 4380 §5.1.1, §5.2.1).
  random_bytes(nonce_, sizeof nonce_);
  due_ms_ = p == Phase::kWaiting ? now + int64_t(cfg_.restart_s) * 1000 : p == Phase::kQualified ? refresh_due(now) : now;
}

// RFC 4380 §5.2 and §5.2.5: the next refresh after a "randomized Teredo refresh interval", between 75 % and 100 % of
// the refresh interval, so that clients that qualified together (a gateway fleet after a power cut) do not keep
// soliciting the server together. Below the interval, never above: it is what keeps the NAT's mapping alive.
int64_t Client::refresh_due(int64_t now) {
  uint16_t r;
  random_bytes(&r, sizeof r);
  int64_t full = int64_t(cfg_.refresh_s) * 1000;
  return now + full - full * r / (4 * 65536);
}

void Client::send_rs() {
  uint8_t pkt[13 + 64];
  bool cone = phase_ == Phase::kProbeCone;
  size_t n = build_rs(pkt, nonce_, cone);
  if (send(phase_ == Phase::kProbeSymmetric ? cfg_.server2 : cfg_.server, kPort, pkt, n)) add(T_rs_sent);
}

void Client::tick(int64_t now) {
  if (now >= due_ms_) {
    if (phase_ == Phase::kWaiting) {
      enter(cfg_.cone_probe ? Phase::kProbeCone : Phase::kProbeRestricted, now);
    } else if (tries_ >= cfg_.qualify_retries) {
      switch (phase_) {
        case Phase::kProbeCone: enter(Phase::kProbeRestricted, now); break;
        // No answer from the secondary address: the check is not done; try the whole restricted probe again, as
        // miredo does.
        case Phase::kProbeSymmetric: enter(Phase::kProbeRestricted, now); break;
        case Phase::kProbeRestricted: enter(Phase::kWaiting, now); break;  // no server
        case Phase::kQualified:
          // The server is lost (RFC 4380 §5.2.5): the address goes, qualification starts again.
          qualified_ = false;
          nat_ = NatKind::kUnknown;
          set_address(nullptr);
          enter(cfg_.cone_probe ? Phase::kProbeCone : Phase::kProbeRestricted, now);
          break;
        case Phase::kWaiting: break;
      }
    } else {
      // Each refresh round solicits with a nonce of its own, kept for its retries.
      if (phase_ == Phase::kQualified && tries_ == 0) random_bytes(nonce_, sizeof nonce_);
      send_rs();
      tries_++;
      due_ms_ = now + cfg_.qualify_timeout_ms;
    }
  }
  for (Peer *pe : peers_) {
    if (!pe->pending || now < pe->next_ms) continue;
    if (pe->tries < cfg_.peer_tries) {
      open_path(*pe, now);
      continue;
    }
    // No answer: what waited is dropped, each packet counted.
    for (size_t i = 0; i < pe->queue.size(); i++) drop(pe->teredo ? D_peer_unreachable : D_relay_not_found);
    pe->dropped += pe->queue.size();
    pe->queue.clear();
    pe->pending = false;
    pe->tries = 0;
  }
}

void Client::on_ra(const Headers &h, const uint8_t *ip6, size_t n, int64_t now) {
  bool asked = phase_ == Phase::kProbeCone || phase_ == Phase::kProbeRestricted || phase_ == Phase::kProbeSymmetric ||
               (phase_ == Phase::kQualified && tries_ > 0);
  if (!asked) return drop(D_ra_unexpected);
  if (!h.auth || memcmp(h.nonce, nonce_, 8) != 0) return drop(D_ra_bad_nonce);
  if (h.confirmation != 0) return drop(D_auth_failed);
  uint8_t prefix[8];
  uint32_t mtu = 0;
  // The prefix must be 2001:0::/32 with our primary server's address (RFC 4380 §5.2.1), and the origin indication
  // carries our mapping.
  if (!parse_ra(ip6, n, phase_ == Phase::kProbeCone, prefix, &mtu) || memcmp(prefix, kPrefix, 4) != 0 ||
      memcmp(prefix + 4, cfg_.server, 4) != 0 || !h.origin)
    return drop(D_ra_invalid);
  add(T_ra_accepted);
  if (mtu >= 1280 && mtu <= 65535) mtu_ = mtu;
  switch (phase_) {
    case Phase::kProbeCone: return qualified(h.origin_ipv4, h.origin_port, NatKind::kCone, now);
    case Phase::kProbeRestricted:
      memcpy(probe_ipv4_, h.origin_ipv4, 4);
      probe_port_ = h.origin_port;
      return enter(Phase::kProbeSymmetric, now);
    case Phase::kProbeSymmetric:
      if (memcmp(probe_ipv4_, h.origin_ipv4, 4) == 0 && probe_port_ == h.origin_port)
        return qualified(h.origin_ipv4, h.origin_port, NatKind::kRestricted, now);
      // Another mapping for another destination: a symmetric NAT. RFC 4380 §5.2.1 gives up (RFC 6081's symmetric
      // NAT extension is not implemented); the kind is reported and qualification retried after restart_s.
      nat_ = NatKind::kSymmetric;
      return enter(Phase::kWaiting, now);
    case Phase::kQualified:
      tries_ = 0;
      due_ms_ = refresh_due(now);
      if (memcmp(mapped_ipv4_, h.origin_ipv4, 4) != 0 || mapped_port_ != h.origin_port) {
        add(T_address_changes);
        qualified(h.origin_ipv4, h.origin_port, nat_, now);
      }
      return;
    case Phase::kWaiting: return;
  }
}

void Client::qualified(const uint8_t ipv4[4], uint16_t port, NatKind kind, int64_t now) {
  Fields f{};
  memcpy(f.server, cfg_.server, 4);
  f.flags = flags_;
  f.port = port;
  memcpy(f.ipv4, ipv4, 4);
  uint8_t addr[16];
  build_address(addr, f);
  if (!qualified_ || memcmp(addr, address_, 16) != 0) {
    set_address(addr);
    // Every peer knew the old address (relays keep per-client state): start afresh.
    for (Peer *p : peers_) delete p;
    peers_.clear();
  }
  if (!qualified_) add(T_qualifications);
  qualified_ = true;
  nat_ = kind;
  memcpy(mapped_ipv4_, ipv4, 4);
  mapped_port_ = port;
  enter(Phase::kQualified, now);
}

void Client::set_address(const uint8_t *addr) {
  int s = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return;
  In6Ifreq r{};
  r.ifindex = ifindex_;
  // /32: the kernel routes 2001:0::/32 into the tun, so other Teredo clients are reached directly.
  r.prefixlen = 32;
  if (qualified_) {
    memcpy(&r.addr, address_, 16);
    ioctl(s, SIOCDIFADDR, &r);
  }
  if (addr) {
    memcpy(&r.addr, addr, 16);
    memcpy(address_, addr, 16);
    ioctl(s, SIOCSIFADDR, &r);
  } else {
    memset(address_, 0, 16);
  }
  ::close(s);
}

bool Client::send(const uint8_t ip[4], uint16_t port, const uint8_t *p, size_t n) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  memcpy(&sa.sin_addr, ip, 4);
  sa.sin_port = htons(port);
  if (sendto(udp_, p, n, 0, reinterpret_cast<sockaddr *>(&sa), sizeof sa) < 0) return drop(D_send_error), false;
  return true;
}

void Client::write_tun(const uint8_t *p, size_t n) {
  if (write(tun_, p, n) < 0) return drop(D_write_error);
  add(T_rx_packets);
  add(T_rx_bytes, n);
}

Client::Peer *Client::peer(const uint8_t addr[16], int64_t now, bool create) {
  for (Peer *p : peers_)
    if (memcmp(p->addr, addr, 16) == 0) return p->last_ms = now, p;
  if (!create) return nullptr;
  Peer *p = nullptr;
  if (int(peers_.size()) < kMaxPeers) {
    p = new Peer();
    peers_.push_back(p);
  } else {
    // The entry idle longest, if idle 30 s (RFC 4380 §5.2: peer entries are soft state) and with nothing queued.
    for (Peer *o : peers_)
      if (!o->pending && now - o->last_ms > 30000 && (!p || o->last_ms < p->last_ms)) p = o;
    if (!p) return nullptr;
    *p = Peer();
  }
  memcpy(p->addr, addr, 16);
  p->teredo = is_teredo(addr);
  p->last_ms = now;
  if (p->teredo) {
    Fields f;
    parse_address(addr, f);
    memcpy(p->via_ipv4, f.ipv4, 4);
    p->via_port = f.port;
  }
  return p;
}

// RFC 4380 §5.2.6 for a Teredo peer: a bubble to its mapped address (opens our NAT towards it) and one through its
// server (which forwards it with our origin, so that the peer bubbles back and opens its own NAT); §5.2.9 for a native
// peer: an ICMPv6 echo through our server, whose reply comes through the relay nearest to the peer.
void Client::open_path(Peer &pe, int64_t now) {
  if (pe.teredo) {
    uint8_t b[40];
    build_bubble(b, address_, pe.addr);
    Fields f;
    parse_address(pe.addr, f);
    if (send(f.ipv4, f.port, b, 40)) add(T_bubbles_direct);
    if (send(f.server, kPort, b, 40)) add(T_bubbles_indirect);
  } else {
    random_bytes(&pe.echo_id, 2);
    random_bytes(&pe.echo_seq, 2);
    random_bytes(pe.echo_nonce, 8);
    uint8_t e[56];
    build_echo(e, address_, pe.addr, pe.echo_id, pe.echo_seq, pe.echo_nonce);
    if (send(cfg_.server, kPort, e, sizeof e)) add(T_echo_tests);
  }
  pe.pending = true;
  pe.tries++;
  pe.next_ms = now + cfg_.peer_retry_ms;
}

// A trusted peer that stopped answering while we keep sending: our NAT may have given our socket another mapping
// (the old one expired between two refreshes, RFC 4380 §5.2.5), which the relay or the peer refuses since it is not
// the one our address names. Refreshing now, rather than at the next refresh interval, shows it (a new address) or
// confirms the mapping; as RFC 6081 §5.1 allows for a peer whose neighbour entry is being probed. At most one such
// refresh every kEarlyRefreshMs, whatever the traffic (a one-way flow to a silent host).
void Client::silent_peer(Peer &pe, int64_t now) {
  if (pe.unanswered_ms == 0) {
    pe.unanswered_ms = now;
    return;
  }
  if (now - pe.unanswered_ms < cfg_.peer_retry_ms || phase_ != Phase::kQualified || tries_ > 0) return;
  if (last_early_ms_ != 0 && now - last_early_ms_ < kEarlyRefreshMs) return;
  last_early_ms_ = now;
  pe.unanswered_ms = 0;
  due_ms_ = now;
  add(T_early_refreshes);
}

void Client::flush(Peer &pe) {
  for (const std::vector<uint8_t> &q : pe.queue) {
    if (!send(pe.via_ipv4, pe.via_port, q.data(), q.size())) continue;
    pe.tx++;
    add(T_tx_packets);
    add(T_tx_bytes, q.size());
  }
  pe.queue.clear();
  pe.pending = false;
  pe.tries = 0;
}

// RFC 4380 §5.2.4: IPv6 from the tun.
void Client::on_tun(uint8_t *p, size_t n, int64_t now) {
  if (!whole_ipv6(p, n)) return drop(D_tun_malformed);
  const uint8_t *src = p + 8, *dst = p + 24;
  if (dst[0] == 0xff || (dst[0] == 0xfe && (dst[1] & 0xc0) == 0x80)) return drop(D_tun_not_unicast);
  if (!qualified_) return drop(D_not_qualified);
  if (memcmp(src, address_, 16) != 0) return drop(D_tun_wrong_source);
  if (memcmp(dst, address_, 16) == 0) return drop(D_tun_to_self);
  Peer *pe = peer(dst, now, true);
  if (!pe) return drop(D_peer_table_full);
  if (pe->trusted) {
    if (!send(pe->via_ipv4, pe->via_port, p, n)) return;
    pe->tx++;
    add(T_tx_packets);
    add(T_tx_bytes, n);
    return silent_peer(*pe, now);
  }
  if (pe->teredo && !global_ipv4(pe->via_ipv4)) return pe->dropped++, drop(D_peer_bad_ipv4);
  if (int(pe->queue.size()) >= kQueue) return pe->dropped++, drop(D_queue_full);
  pe->queue.emplace_back(p, p + n);
  if (!pe->pending) open_path(*pe, now);
}

// RFC 4380 §5.2.3: UDP from the server, relays and peers.
void Client::on_udp(uint8_t *p, size_t n, const uint8_t ip[4], uint16_t port, int64_t now) {
  Headers h;
  if (!parse_headers(p, n, h)) return drop(D_udp_bad_header);
  const uint8_t *ip6 = p + h.ipv6_offset;
  size_t len = n - h.ipv6_offset;
  if (!whole_ipv6(ip6, len)) return drop(D_udp_not_ipv6);
  const uint8_t *src = ip6 + 8, *dst = ip6 + 24;
  bool from_server = port == kPort && (memcmp(ip, cfg_.server, 4) == 0 || memcmp(ip, cfg_.server2, 4) == 0);
  if (from_server) {
    if (ip6[6] == wire::kProtoIcmp6 && len >= 41 && ip6[40] == 134) return on_ra(h, ip6, len, now);
    if (is_bubble(ip6, len) && h.origin) {
      // An indirect bubble (a relay or a Teredo peer wants to reach us): answer with a direct bubble to the origin,
      // which opens our NAT towards it (RFC 4380 §5.2.3).
      add(T_bubbles_received);
      if (!qualified_) return drop(D_not_qualified);
      uint8_t b[40];
      build_bubble(b, address_, src);
      if (global_ipv4(h.origin_ipv4) && send(h.origin_ipv4, h.origin_port, b, 40)) add(T_bubbles_direct);
      return;
    }
    if (!qualified_ || memcmp(dst, address_, 16) != 0) return drop(D_server_not_allowed);
    return write_tun(ip6, len);
  }
  if (!qualified_) return drop(D_not_qualified);
  if (memcmp(dst, address_, 16) != 0) return drop(D_udp_wrong_destination);
  if (is_teredo(src)) {
    // Rule 4: a Teredo source must come from the mapping its address names; then the direct path is open.
    Fields f;
    parse_address(src, f);
    if (memcmp(f.ipv4, ip, 4) != 0 || f.port != port) return drop(D_udp_spoofed_teredo);
    if (Peer *pe = peer(src, now, true)) {
      if (!pe->trusted) pe->trusted = true, add(T_peers_trusted);
      pe->rx++;
      pe->unanswered_ms = 0;
      flush(*pe);
    }
    if (is_bubble(ip6, len)) return add(T_bubbles_received);
    return write_tun(ip6, len);
  }
  // Rule 5: a native source only through the relay its connectivity test found.
  Peer *pe = peer(src, now, false);
  bool via_relay = pe && pe->trusted && memcmp(pe->via_ipv4, ip, 4) == 0 && pe->via_port == port;
  if (!via_relay && pe && pe->pending && !pe->trusted && len == 56 && ip6[6] == wire::kProtoIcmp6 && ip6[40] == 129 &&
      ip6[41] == 0 && rd16(ip6 + 44) == pe->echo_id && rd16(ip6 + 46) == pe->echo_seq && memcmp(ip6 + 48, pe->echo_nonce, 8) == 0) {
    // The answer to our test: this relay serves the peer (§5.2.9). Consumed; what waited goes out now.
    pe->trusted = true;
    memcpy(pe->via_ipv4, ip, 4);
    pe->via_port = port;
    pe->rx++;
    add(T_relays_found);
    return flush(*pe);
  }
  if (is_bubble(ip6, len)) return add(T_bubbles_received);
  if (!via_relay) return drop(D_udp_unknown_relay);
  pe->rx++;
  pe->unanswered_ms = 0;
  write_tun(ip6, len);
}

}  // namespace teredo
}  // namespace fw
