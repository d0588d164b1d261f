// Egress of encapsulated packets on the WAN link through AF_PACKET. See egress.h.
#include "egress.h"

#include <errno.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>

namespace fw {

void eth_header(uint8_t out[14], const uint8_t dst[6], const uint8_t src[6]) {
  memcpy(out, dst, 6);
  memcpy(out + 6, src, 6);
  out[12] = ETH_P_IPV6 >> 8;
  out[13] = ETH_P_IPV6 & 0xff;
}

// struct virtio_net_hdr (see dataplane.cc), ahead of every frame on a PACKET_VNET_HDR socket.
struct VnetHdr {
  uint8_t flags;
  uint8_t gso_type;
  uint16_t hdr_len, gso_size, csum_start, csum_offset;
};
static_assert(sizeof(VnetHdr) == EgressSink::kVnet, "virtio_net_hdr is 10 bytes");

int open_packet_socket() {
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  // The LAN's packets come with their transport checksum left to the kernel (checksum offload, as
  // through the tun); a virtio_net_hdr per frame hands that on instead of summing every payload here.
  int one = 1;
  if (setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one) < 0) return ::close(fd), -1;
  // No PACKET_QDISC_BYPASS: through dev_queue_xmit the frames pass the link's qdisc (as forwarded
  // packets would) and its taps, so tcpdump on the WAN still shows them; bypassing measured no faster.
  return fd;
}

namespace {

constexpr int kRefreshMs = 1000;  // periodic re-resolution besides notifications

// Appends one rtattr to a netlink request.
void add_attr(nlmsghdr *n, size_t cap, uint16_t type, const void *data, size_t len) {
  size_t off = NLMSG_ALIGN(n->nlmsg_len);
  if (off + RTA_SPACE(len) > cap) return;
  rtattr *a = reinterpret_cast<rtattr *>(reinterpret_cast<uint8_t *>(n) + off);
  a->rta_type = type;
  a->rta_len = uint16_t(RTA_LENGTH(len));
  memcpy(RTA_DATA(a), data, len);
  n->nlmsg_len = uint32_t(off + RTA_SPACE(len));
}

// NUD states in which the kernel itself would send to the cached link-layer address (RFC 4861 §7.3.2).
constexpr uint16_t kUsable = NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT | NUD_NOARP;

}  // namespace

Egress::~Egress() {
  stop();
  for (NextHop *h : hops_) delete h;
}

std::string Egress::start(const uint8_t aftr[16]) {
  memcpy(aftr_, aftr, 16);
  query_fd_ = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  monitor_fd_ = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
  kick_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (query_fd_ < 0 || monitor_fd_ < 0 || kick_fd_ < 0) return stop(), std::string("netlink: ") + strerror(errno);
  timeval tv{1, 0};  // a query never blocks the resolver for long
  setsockopt(query_fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_nl sa{};
  sa.nl_family = AF_NETLINK;
  sa.nl_groups = RTMGRP_LINK | RTMGRP_NEIGH | RTMGRP_IPV6_ROUTE;
  if (bind(monitor_fd_, reinterpret_cast<sockaddr *>(&sa), sizeof sa) < 0)
    return stop(), std::string("netlink bind: ") + strerror(errno);
  stopping_.store(false);
  thread_ = std::thread(&Egress::run, this);
  return "";
}

void Egress::stop() {
  stopping_.store(true);
  if (thread_.joinable()) {
    kick();
    uint64_t one = 1;
    if (write(kick_fd_, &one, sizeof one) < 0) {
      // cannot fail short of a counter overflow
    }
    thread_.join();
  }
  for (int *fd : {&query_fd_, &monitor_fd_, &kick_fd_})
    if (*fd >= 0) ::close(*fd), *fd = -1;
}

void Egress::set_aftr(const uint8_t aftr[16]) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    memcpy(aftr_, aftr, 16);
  }
  kicked_.store(false);
  kick();
}

void Egress::kick() {
  if (kick_fd_ < 0 || kicked_.exchange(true)) return;
  uint64_t one = 1;
  if (write(kick_fd_, &one, sizeof one) < 0) {
    // eventfd: see stop()
  }
}

void Egress::set_for_test(const NextHop *h, bool stale) {
  probe_.store(h && stale);
  publish(h);
}

void Egress::publish(const NextHop *h) {
  std::lock_guard<std::mutex> lock(mu_);
  const NextHop *cur = hop_.load();
  if (!h) {
    hop_.store(nullptr, std::memory_order_release);
    return;
  }
  if (cur && memcmp(cur, h, sizeof *h) == 0) return;
  // Readers may hold the previous pointer for the rest of their batch: never free while running.
  for (NextHop *old : hops_)
    if (memcmp(old, h, sizeof *h) == 0) return hop_.store(old, std::memory_order_release);
  NextHop *copy = new NextHop(*h);
  hops_.push_back(copy);
  hop_.store(copy, std::memory_order_release);
}

void Egress::run() {
  pollfd pfd[2] = {{monitor_fd_, POLLIN, 0}, {kick_fd_, POLLIN, 0}};
  std::vector<uint8_t> drain(16384);
  for (;;) {
    NextHop h;
    bool stale = false;
    bool ok = resolve(h, stale);
    publish(ok ? &h : nullptr);
    probe_.store(ok && stale);
    kicked_.store(false);
    if (poll(pfd, 2, kRefreshMs) < 0 && errno != EINTR) break;
    if (stopping_.load()) break;
    while (recv(monitor_fd_, drain.data(), drain.size(), MSG_DONTWAIT) > 0) {
    }
    uint64_t v;
    if (read(kick_fd_, &v, sizeof v) < 0) {
      // EAGAIN: woken by a notification or the timeout
    }
  }
}

bool Egress::resolve(NextHop &out, bool &stale) {
  memset(&out, 0, sizeof out);
  {
    std::lock_guard<std::mutex> lock(mu_);
    memcpy(out.aftr, aftr_, 16);
  }
  alignas(nlmsghdr) uint8_t req[256]{};
  std::vector<uint8_t> buf(65536);
  // 1. The route the kernel would use for the AFTR (RTM_GETROUTE: a lookup, not a dump).
  nlmsghdr *n = reinterpret_cast<nlmsghdr *>(req);
  n->nlmsg_len = NLMSG_LENGTH(sizeof(rtmsg));
  n->nlmsg_type = RTM_GETROUTE;
  n->nlmsg_flags = NLM_F_REQUEST;
  n->nlmsg_seq = ++seq_;
  rtmsg *rt = static_cast<rtmsg *>(NLMSG_DATA(n));
  rt->rtm_family = AF_INET6;
  rt->rtm_dst_len = 128;
  add_attr(n, sizeof req, RTA_DST, out.aftr, 16);
  if (send(query_fd_, n, n->nlmsg_len, 0) < 0) return false;
  ssize_t len = recv(query_fd_, buf.data(), buf.size(), 0);
  if (len <= 0) return false;
  n = reinterpret_cast<nlmsghdr *>(buf.data());
  if (!NLMSG_OK(n, size_t(len)) || n->nlmsg_type != RTM_NEWROUTE) return false;
  rt = static_cast<rtmsg *>(NLMSG_DATA(n));
  if (rt->rtm_type != RTN_UNICAST) return false;  // local, unreachable, blackhole: the kernel decides
  uint8_t nexthop[16];
  memcpy(nexthop, out.aftr, 16);
  int oif = 0;
  int alen = int(RTM_PAYLOAD(n));
  for (rtattr *a = RTM_RTA(rt); RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
    if (a->rta_type == RTA_OIF) memcpy(&oif, RTA_DATA(a), 4);
    if (a->rta_type == RTA_GATEWAY && RTA_PAYLOAD(a) == 16) memcpy(nexthop, RTA_DATA(a), 16);
    if (a->rta_type == RTA_MULTIPATH) return false;  // ECMP: leave the choice to the kernel
  }
  if (oif <= 0) return false;
  // 2. The link: Ethernet only (a tunnel or the tun itself has no MAC to build a header from).
  ifreq ifr{};
  if (!if_indextoname(unsigned(oif), ifr.ifr_name)) return false;
  int s = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return false;
  bool eth = ioctl(s, SIOCGIFHWADDR, &ifr) == 0 && ifr.ifr_hwaddr.sa_family == ARPHRD_ETHER;
  uint8_t src[6];
  memcpy(src, ifr.ifr_hwaddr.sa_data, 6);
  bool mtu_ok = eth && ioctl(s, SIOCGIFMTU, &ifr) == 0;
  ::close(s);
  if (!mtu_ok) return false;
  out.mtu = ifr.ifr_mtu;
  out.ifindex = oif;
  // 3. The next hop's neighbour entry (a dump of the IPv6 neighbours; the table is small on a CPE).
  memset(req, 0, sizeof req);
  n = reinterpret_cast<nlmsghdr *>(req);
  n->nlmsg_len = NLMSG_LENGTH(sizeof(ndmsg));
  n->nlmsg_type = RTM_GETNEIGH;
  n->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  n->nlmsg_seq = ++seq_;
  static_cast<ndmsg *>(NLMSG_DATA(n))->ndm_family = AF_INET6;
  if (send(query_fd_, n, n->nlmsg_len, 0) < 0) return false;
  bool found = false;
  for (bool done = false; !done;) {
    len = recv(query_fd_, buf.data(), buf.size(), 0);
    if (len <= 0) return false;
    for (n = reinterpret_cast<nlmsghdr *>(buf.data()); NLMSG_OK(n, size_t(len)); n = NLMSG_NEXT(n, len)) {
      if (n->nlmsg_type == NLMSG_DONE || n->nlmsg_type == NLMSG_ERROR) {
        done = true;
        break;
      }
      if (n->nlmsg_type != RTM_NEWNEIGH || found) continue;
      ndmsg *nd = static_cast<ndmsg *>(NLMSG_DATA(n));
      if (nd->ndm_ifindex != oif || !(nd->ndm_state & kUsable)) continue;
      const uint8_t *dst = nullptr, *mac = nullptr;
      int nlen = int(n->nlmsg_len - NLMSG_LENGTH(sizeof *nd));
      for (rtattr *a = reinterpret_cast<rtattr *>(reinterpret_cast<uint8_t *>(nd) + NLMSG_ALIGN(sizeof *nd)); RTA_OK(a, nlen);
           a = RTA_NEXT(a, nlen)) {
        if (a->rta_type == NDA_DST && RTA_PAYLOAD(a) == 16) dst = static_cast<uint8_t *>(RTA_DATA(a));
        if (a->rta_type == NDA_LLADDR && RTA_PAYLOAD(a) == 6) mac = static_cast<uint8_t *>(RTA_DATA(a));
      }
      if (!dst || !mac || memcmp(dst, nexthop, 16) != 0) continue;
      eth_header(out.eth, mac, src);
      stale = nd->ndm_state & NUD_STALE;
      found = true;
    }
  }
  return found;
}

// The ring: TPACKET_V2 frames of kSlot bytes; each frame's packet data starts after the tpacket2_hdr
// (the kernel's TPACKET2_HDRLEN minus the sockaddr_ll it reserves for receive rings).
constexpr size_t kData = TPACKET2_HDRLEN - sizeof(sockaddr_ll);
constexpr size_t kBlock = 65536;

EgressSink::EgressSink(Sink &tun, Counters *c, Egress *eg, bool packet_mode, int fd)
    : tun_(tun), c_(c), eg_(eg), packet_mode_(packet_mode), fd_(fd), big_(kMaxPacket + kVnet + 14) {
  if (!packet_mode_) return;
  if (fd_ >= 0) {
    tpacket_req req{};
    req.tp_block_size = kBlock;
    req.tp_frame_size = kSlot;
    req.tp_block_nr = kRing * kSlot / kBlock;
    req.tp_frame_nr = kRing;
    int v = TPACKET_V2, one = 1;
    // PACKET_LOSS: a frame the kernel cannot send as built (above the MTU after a change) is marked
    // TP_STATUS_WRONG_FORMAT and skipped instead of stopping the ring; we hand it to the tun.
    if (setsockopt(fd_, SOL_PACKET, PACKET_VERSION, &v, sizeof v) == 0 &&
        setsockopt(fd_, SOL_PACKET, PACKET_LOSS, &one, sizeof one) == 0 &&
        setsockopt(fd_, SOL_PACKET, PACKET_TX_RING, &req, sizeof req) == 0) {
      void *m = mmap(nullptr, kRing * kSlot, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
      if (m != MAP_FAILED) ring_ = static_cast<uint8_t *>(m);
    }
    if (!ring_) packet_mode_ = false;  // no ring: everything through the tun, as egress 'tun'
  } else {
    own_ring_.assign(kRing * kSlot, 0);  // the test hook's "ring"
    ring_ = own_ring_.data();
  }
}

EgressSink::~EgressSink() {
  if (ring_ && own_ring_.empty()) munmap(ring_, kRing * kSlot);
}

tpacket2_hdr *EgressSink::frame(int i) const { return reinterpret_cast<tpacket2_hdr *>(ring_ + size_t(i) * kSlot); }

void EgressSink::to_tun(const uint8_t *pkt, size_t len, const Offload *off) {
  if (len >= 40 && (pkt[0] >> 4) == 6) c_->add(T_egress_tun);
  tun_.emit(pkt, len, off);
}

void EgressSink::emit(const uint8_t *pkt, size_t len, const Offload *off) {
  // Only our encapsulated packets to the AFTR, not TCP super-packets; the ICMPv4 errors and
  // decapsulated IPv4 go to the LAN side, through the tun.
  bool ours = packet_mode_ && len >= 40 && (pkt[0] >> 4) == 6 && !(off && off->gso_size);
  if (!ours) return to_tun(pkt, len, off);
  const NextHop *h = eg_->hop();
  if (!h || memcmp(h->aftr, pkt + 24, 16) != 0) {
    // Unknown neighbour (or not yet resolved for a new AFTR): the kernel forwards it and resolves.
    c_->add(T_egress_neigh_miss);
    eg_->kick();
    flush();  // keep the order of the flow
    return to_tun(pkt, len, off);
  }
  if (len > size_t(h->mtu)) {
    flush();
    return to_tun(pkt, len, off);
  }
  if (eg_->take_probe()) {
    c_->add(T_egress_neigh_probe);
    flush();
    return to_tun(pkt, len, off);
  }
  if (n_ > 0 && h->ifindex != ifindex_) flush();
  ifindex_ = h->ifindex;
  // virtio_net_hdr: the LAN's transport checksum is still partial (checksum offload through the tun);
  // its start moves by the Ethernet header.
  // hdr_len = the whole frame: the kernel copies it into the skb's linear data. Left at 0, the frame
  // would be attached as page fragments, which veth then copies into freshly allocated pages.
  VnetHdr vh{};
  vh.hdr_len = uint16_t(14 + len);
  if (off && off->partial) {
    vh.flags = 1;  // VIRTIO_NET_HDR_F_NEEDS_CSUM
    vh.csum_start = uint16_t(off->csum_start + 14);
    vh.csum_offset = off->csum_offset;
  }
  if (kData + kVnet + 14 + len > kSlot) {
    // A jumbo tunnel packet: one sendmsg now, after what is queued.
    flush();
    memcpy(big_.data(), &vh, kVnet);
    memcpy(big_.data() + kVnet, h->eth, 14);
    memcpy(big_.data() + kVnet + 14, pkt, len);
    if (send_one(big_.data(), len + kVnet + 14)) c_->add(T_egress_packet);
    else if (errno == EMSGSIZE) to_tun(pkt, len, off);
    else c_->inc(D_egress_send_error);
    return;
  }
  int i = (head_ + n_) % kRing;
  tpacket2_hdr *f = frame(i);
  if (__atomic_load_n(&f->tp_status, __ATOMIC_ACQUIRE) != TP_STATUS_AVAILABLE) {
    // The ring is full of frames the kernel could not send yet (link down?): the kernel decides.
    flush();
    if (__atomic_load_n(&f->tp_status, __ATOMIC_ACQUIRE) != TP_STATUS_AVAILABLE) return to_tun(pkt, len, off);
  }
  uint8_t *d = reinterpret_cast<uint8_t *>(f) + kData;
  memcpy(d, &vh, kVnet);
  memcpy(d + kVnet, h->eth, 14);
  memcpy(d + kVnet + 14, pkt, len);
  f->tp_len = uint32_t(kVnet + 14 + len);
  __atomic_store_n(&f->tp_status, TP_STATUS_SEND_REQUEST, __ATOMIC_RELEASE);
  if (++n_ == kBatch) flush();
}

sockaddr_ll EgressSink::addr() const {
  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_IPV6);
  sll.sll_ifindex = ifindex_;
  return sll;
}

void EgressSink::flush() {
  if (n_ == 0) return;
  int first = head_, n = n_;
  head_ = (head_ + n_) % kRing;
  n_ = 0;
  int dropped = send_ring(first, n);
  for (int k = 0; k < dropped; k++) c_->inc(D_egress_send_error);
  int sent = n - dropped;
  // Frames the kernel refused as built go to the tun (the MTU went down under us).
  for (int k = 0; k < n; k++) {
    tpacket2_hdr *f = frame((first + k) % kRing);
    if (__atomic_load_n(&f->tp_status, __ATOMIC_ACQUIRE) != TP_STATUS_WRONG_FORMAT) continue;
    const uint8_t *d = reinterpret_cast<const uint8_t *>(f) + kData;
    const VnetHdr *vh = reinterpret_cast<const VnetHdr *>(d);
    Offload o{};
    o.partial = vh->flags & 1;
    o.csum_start = uint16_t(vh->csum_start - 14);
    o.csum_offset = vh->csum_offset;
    to_tun(d + kVnet + 14, f->tp_len - kVnet - 14, o.partial ? &o : nullptr);
    __atomic_store_n(&f->tp_status, TP_STATUS_AVAILABLE, __ATOMIC_RELEASE);
    sent--;
  }
  c_->add(T_egress_packet, uint64_t(sent > 0 ? sent : 0));
}

int EgressSink::send_ring(int first, int n) {
  // One send() takes every frame marked TP_STATUS_SEND_REQUEST, in ring order; a blocking send returns
  // when they are all out (veth and NIC drivers free the skb, which hands the frame back). A frame the
  // device refuses (queue full: NET_XMIT_DROP) makes send() fail with that one dropped; send again for
  // the rest. No progress at all (link down): the frames stay queued and go with the next batch.
  sockaddr_ll sll = addr();
  int dropped = 0;
  for (int tries = 0; tries <= n; tries++) {
    tpacket2_hdr *last = frame((first + n - 1) % kRing);
    if (__atomic_load_n(&last->tp_status, __ATOMIC_ACQUIRE) != TP_STATUS_SEND_REQUEST) break;
    int pending_before = pending(first, n);
    if (sendto(fd_, nullptr, 0, 0, reinterpret_cast<sockaddr *>(&sll), sizeof sll) >= 0) continue;
    if (pending(first, n) == pending_before) break;
    dropped++;
  }
  return dropped;
}

bool EgressSink::send_one(const uint8_t *frame, size_t len) {
  iovec iov{const_cast<uint8_t *>(frame), len};
  msghdr m{};
  sockaddr_ll sll = addr();
  m.msg_name = &sll;
  m.msg_namelen = sizeof sll;
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  return sendmsg(fd_, &m, 0) >= 0;
}

int EgressSink::pending(int first, int n) const {
  int p = 0;
  for (int k = 0; k < n; k++)
    if (__atomic_load_n(&frame((first + k) % kRing)->tp_status, __ATOMIC_ACQUIRE) == TP_STATUS_SEND_REQUEST) p++;
  return p;
}

}  // namespace fw
