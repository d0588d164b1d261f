// LAN IPv4 into the B4 through a veth pair and PACKET_RX_RINGs. See ingress.h.
#include "ingress.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/veth.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>

#include "netlink.h"
#include "vnet.h"

namespace fw {

namespace {

std::string errmsg(const std::string &what) { return what + ": " + strerror(errno); }

// One rtnetlink request, answered by its acknowledgement; returns 0 or the negative errno.
int rtnl(nlmsghdr *n) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return -errno;
  n->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
  int rc = -EIO;
  if (send(fd, n, n->nlmsg_len, 0) >= 0) {
    alignas(nlmsghdr) uint8_t buf[4096];
    ssize_t len = recv(fd, buf, sizeof buf, 0);
    if (len >= ssize_t(NLMSG_LENGTH(sizeof(nlmsgerr)))) {
      const nlmsghdr *r = reinterpret_cast<const nlmsghdr *>(buf);
      if (r->nlmsg_type == NLMSG_ERROR) rc = reinterpret_cast<const nlmsgerr *>(NLMSG_DATA(r))->error;
    }
  } else {
    rc = -errno;
  }
  ::close(fd);
  return rc;
}

// An RTM_*LINK request in a byte buffer (the attributes follow the headers in the same storage).
struct LinkRequest {
  alignas(nlmsghdr) uint8_t buf[512]{};
  nlmsghdr *n = reinterpret_cast<nlmsghdr *>(buf);
  LinkRequest(uint16_t type, uint16_t flags) {
    n->nlmsg_len = NLMSG_LENGTH(sizeof(ifinfomsg));
    n->nlmsg_type = type;
    n->nlmsg_flags = flags;
    static_cast<ifinfomsg *>(NLMSG_DATA(n))->ifi_family = AF_UNSPEC;
  }
};

int delete_link(const std::string &name) {
  LinkRequest req(RTM_DELLINK, 0);
  add_attr(req.n, sizeof req.buf, IFLA_IFNAME, name.c_str(), name.size() + 1);
  return rtnl(req.n);
}

// ip link add KERNEL mtu MTU type veth peer name B4 mtu MTU
int create_pair(const std::string &kernel_side, const std::string &b4_side, int mtu) {
  LinkRequest req(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  nlmsghdr *n = req.n;
  const size_t cap = sizeof req.buf;
  uint32_t m = uint32_t(mtu);
  add_attr(n, cap, IFLA_IFNAME, kernel_side.c_str(), kernel_side.size() + 1);
  add_attr(n, cap, IFLA_MTU, &m, sizeof m);
  rtattr *info = begin_nest(n, cap, IFLA_LINKINFO);
  add_attr(n, cap, IFLA_INFO_KIND, "veth", 4);
  rtattr *data = begin_nest(n, cap, IFLA_INFO_DATA);
  rtattr *peer = begin_nest(n, cap, VETH_INFO_PEER);
  ifinfomsg peer_info{};  // VETH_INFO_PEER carries an ifinfomsg, then the peer's attributes
  peer_info.ifi_family = AF_UNSPEC;
  append(n, cap, &peer_info, sizeof peer_info);
  add_attr(n, cap, IFLA_IFNAME, b4_side.c_str(), b4_side.size() + 1);
  add_attr(n, cap, IFLA_MTU, &m, sizeof m);
  end_nest(n, peer);
  end_nest(n, data);
  end_nest(n, info);
  return rtnl(n);
}

bool set_flags(const std::string &name, short add) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return false;
  ifreq ifr{};
  strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  bool ok = ioctl(s, SIOCGIFFLAGS, &ifr) == 0;
  ifr.ifr_flags = short(ifr.ifr_flags | add);
  ok = ok && ioctl(s, SIOCSIFFLAGS, &ifr) == 0;
  ::close(s);
  return ok;
}

// No IPv6 on either side: no link-local address, router or multicast listener messages in the ring.
void disable_ipv6(const std::string &name) {
  std::string path = "/proc/sys/net/ipv6/conf/" + name + "/disable_ipv6";
  FILE *f = fopen(path.c_str(), "w");
  if (!f) return;  // no IPv6 in this kernel: nothing to disable
  fputs("1", f);
  fclose(f);
}

}  // namespace

std::string IngressLink::create(const std::string &kernel_side, const std::string &b4_side, int mtu) {
  if (kernel_side.size() >= IFNAMSIZ || b4_side.size() >= IFNAMSIZ) return "ingress link name too long";
  int rc = create_pair(kernel_side, b4_side, mtu);
  if (rc == -EEXIST) {
    // Left by a forwarder that was killed: ours by its name, so replace it.
    delete_link(kernel_side);
    rc = create_pair(kernel_side, b4_side, mtu);
  }
  if (rc < 0) return "veth " + kernel_side + ": " + strerror(-rc);
  kernel_side_ = kernel_side;
  disable_ipv6(kernel_side);
  disable_ipv6(b4_side);
  // NOARP: the host sends to the kernel side without resolving a neighbour, frames carry the kernel
  // side's own MAC as destination, and the B4 side's IP layer never takes them for itself.
  if (!set_flags(kernel_side, IFF_NOARP | IFF_UP) || !set_flags(b4_side, IFF_UP)) {
    std::string m = errmsg("ingress link up");
    destroy();
    return m;
  }
  b4_ifindex_ = int(if_nametoindex(b4_side.c_str()));
  if (b4_ifindex_ == 0) {
    std::string m = errmsg("if_nametoindex " + b4_side);
    destroy();
    return m;
  }
  return "";
}

void IngressLink::destroy() {
  if (kernel_side_.empty()) return;
  delete_link(kernel_side_);  // deletes both sides
  kernel_side_.clear();
  b4_ifindex_ = 0;
}

std::string IngressRing::open(int ifindex, int fanout_group) {
  fd_ = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
  if (fd_ < 0) return errmsg("AF_PACKET socket");
  int v2 = TPACKET_V2, one = 1, reserve = int(kHeadroom);
  // V2, not V3: a V3 block reaches user space only when full or when its timer (1 ms at least) expires,
  // so a lone packet (a ping, a TCP handshake) would wait; V2 wakes the thread per frame, like the tun.
  tpacket_req req{};
  req.tp_block_size = 1 << 16;
  req.tp_frame_size = kFrame;
  req.tp_frame_nr = kFrames;
  req.tp_block_nr = unsigned(kFrames * kFrame) >> 16;
  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_ALL);
  sll.sll_ifindex = ifindex;
  int fanout = (fanout_group & 0xffff) | (PACKET_FANOUT_CPU << 16);
  std::string err;
  if (setsockopt(fd_, SOL_PACKET, PACKET_VERSION, &v2, sizeof v2) < 0) err = "PACKET_VERSION";
  // The partial checksums and TCP super-packets of the LAN come with a virtio_net_hdr, as from the tun.
  else if (setsockopt(fd_, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one) < 0) err = "PACKET_VNET_HDR";
  // Room for the outer IPv6 header in front of each packet, so it is encapsulated in place.
  else if (setsockopt(fd_, SOL_PACKET, PACKET_RESERVE, &reserve, sizeof reserve) < 0) err = "PACKET_RESERVE";
  // Packets larger than a frame also wait whole on the socket's queue (TP_STATUS_COPY).
  else if (setsockopt(fd_, SOL_PACKET, PACKET_COPY_THRESH, &one, sizeof one) < 0) err = "PACKET_COPY_THRESH";
  else if (setsockopt(fd_, SOL_PACKET, PACKET_RX_RING, &req, sizeof req) < 0) err = "PACKET_RX_RING";
  if (!err.empty()) return close(), errmsg(err);
  void *m = mmap(nullptr, size_t(kFrames) * kFrame, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
  if (m == MAP_FAILED) return close(), errmsg("mmap ring");
  ring_ = static_cast<uint8_t *>(m);
  // Room on the socket's queue for TCP super-packets kept whole (above rmem_max needs CAP_NET_ADMIN).
  int rcvbuf = 8 << 20;
  if (setsockopt(fd_, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0)
    setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  if (bind(fd_, reinterpret_cast<sockaddr *>(&sll), sizeof sll) < 0) return close(), errmsg("bind ingress");
  // Each packet to the ring of the CPU that forwarded it (cpu modulo the group's sockets).
  if (setsockopt(fd_, SOL_PACKET, PACKET_FANOUT, &fanout, sizeof fanout) < 0) return close(), errmsg("PACKET_FANOUT");
  return "";
}

void IngressRing::close() {
  if (ring_) munmap(ring_, size_t(kFrames) * kFrame);
  ring_ = nullptr;
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Offload IngressRing::offload(const uint8_t *vnet, size_t l2) {
  VnetHdr h;
  memcpy(&h, vnet, sizeof h);
  return offload_from_vnet(h, l2);
}

uint8_t *IngressRing::read_whole(uint8_t *big, size_t &len) {
  // Laid out so that the IP packet lands at kHeadroom, after the virtio_net_hdr and Ethernet header.
  uint8_t *at = big + kHeadroom - kL2 - kVnet;
  ssize_t n = recv(fd_, at, kMaxPacket + kL2 + kVnet, MSG_DONTWAIT | MSG_TRUNC);
  if (n < ssize_t(kVnet + kL2) || size_t(n) > kMaxPacket + kL2 + kVnet) return nullptr;
  len = size_t(n) - kVnet - kL2;
  return big + kHeadroom;
}

uint32_t IngressRing::take_ring_drops() {
  tpacket_stats st{};
  socklen_t len = sizeof st;
  if (fd_ < 0 || getsockopt(fd_, SOL_PACKET, PACKET_STATISTICS, &st, &len) < 0) return 0;
  return st.tp_drops;
}

}  // namespace fw
