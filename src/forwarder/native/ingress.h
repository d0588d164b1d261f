// Ingress of LAN IPv4 through a veth pair and a PACKET_RX_RING per data-plane thread (config ingress:
// 'packet'). The host routes LAN IPv4 to the pair's kernel side (`<tun>-v4`, NOARP); the frames arrive on
// the B4 side (`<tun>-b4`), where each thread's AF_PACKET socket (one PACKET_FANOUT_CPU group, so a
// packet stays with the CPU that forwarded it, as the tun's steering does) finds them in a memory-mapped
// ring: no read(2) per packet, no copy to a user buffer with its usercopy checks, the way userspace
// dataplanes attach to Linux interfaces (VPP's af_packet host interface). The IP layer of the B4 side
// then drops each frame as not addressed to it (its `otherhost` receive counter). The tun stays for
// everything else: the softwire's traffic from the AFTR, decapsulated IPv4 written back, the egress
// fallback. A second deviation from DESIGN.md's one-tun design; docs/benchmarks.md has the measurements.
#pragma once
#include <linux/if_packet.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>

#include "packet.h"

namespace fw {

// The veth pair. create() replaces a pair of the same name left by a process that died.
class IngressLink {
 public:
  ~IngressLink() { destroy(); }
  std::string create(const std::string &kernel_side, const std::string &b4_side, int mtu);
  void destroy();
  int b4_ifindex() const { return b4_ifindex_; }

 private:
  std::string kernel_side_;
  int b4_ifindex_ = 0;
};

// One thread's receive ring on the B4 side.
class IngressRing {
 public:
  static constexpr int kFrames = 4096;     // ~16 ms of 64-byte packets at 250 kpps per thread
  static constexpr size_t kFrame = 2048;   // an Ethernet frame of a 1500-byte packet, headroom included
  static constexpr size_t kVnet = 10;      // virtio_net_hdr ahead of each frame (PACKET_VNET_HDR)

  ~IngressRing() { close(); }
  std::string open(int ifindex, int fanout_group);
  void close();
  int fd() const { return fd_; }

  // Hands up to `budget` packets to fn(ip, len, offload); returns how many frames it took. The packet
  // has kHeadroom writable bytes before it (PACKET_RESERVE) and is valid until fn returns. A packet too
  // large for a frame (a TCP super-packet) is read whole from the socket's queue into `big` (kMaxPacket +
  // kHeadroom bytes), where the kernel put it beside its truncated copy in the ring (TP_STATUS_COPY).
  template <class F>
  int drain(int budget, uint8_t *big, Counters &c, F &&fn) {
    int n = 0;
    for (; n < budget; n++) {
      tpacket2_hdr *h = frame(next_);
      uint32_t status = __atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE);
      if (!(status & TP_STATUS_USER)) break;
      uint8_t *base = reinterpret_cast<uint8_t *>(h);
      if (status & TP_STATUS_COPY) {
        size_t len = 0;
        uint8_t *ip = read_whole(big, len);
        if (ip) fn(ip, len, offload(ip - kL2 - kVnet, kL2));
        else c.inc(D_ingress_truncated);
      } else if (h->tp_snaplen != h->tp_len || size_t(h->tp_net - h->tp_mac) < kL2) {
        c.inc(D_ingress_truncated);  // no room on the socket's queue for the whole packet
      } else {
        size_t l2 = h->tp_net - h->tp_mac;
        fn(base + h->tp_net, h->tp_snaplen - l2, offload(base + h->tp_mac - kVnet, l2));
      }
      __atomic_store_n(&h->tp_status, uint32_t(TP_STATUS_KERNEL), __ATOMIC_RELEASE);
      next_ = (next_ + 1) % kFrames;
    }
    return n;
  }

  // Frames the kernel dropped because the ring was full since the last call (PACKET_STATISTICS).
  uint32_t take_ring_drops();

 private:
  static constexpr size_t kL2 = 14;  // Ethernet header
  tpacket2_hdr *frame(int i) const { return reinterpret_cast<tpacket2_hdr *>(ring_ + size_t(i) * kFrame); }
  static Offload offload(const uint8_t *vnet, size_t l2);
  uint8_t *read_whole(uint8_t *big, size_t &len);

  int fd_ = -1;
  uint8_t *ring_ = nullptr;
  int next_ = 0;
};

}  // namespace fw
