// Egress of encapsulated packets straight onto the WAN link (config egress: 'packet'): an AF_PACKET socket
// per data-plane thread, frames built from the next hop's MAC in its PACKET_TX_RING and sent with one
// send(2) per batch. Writing them into the tun instead makes the kernel forward every packet as IPv6
// (route lookup, netfilter forward hooks, neighbour output): two thirds of the B4's time in the benchmark.
// A deliberate deviation from DESIGN.md's "no raw socket": the kernel still owns routing and neighbour
// discovery (RFC 4861). We only read its tables (netlink RTM_GETROUTE / RTM_GETNEIGH, refreshed on every
// route/neighbour/link notification, every second, and at once on a miss), and anything we cannot send
// that way goes into the tun as before: unknown or unresolved neighbour, a route that is not via an
// Ethernet link, a packet above the link MTU, a TCP super-packet (not produced on this path today).
#pragma once
#include <linux/if_packet.h>
#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "packet.h"

namespace fw {

// Where the AFTR's packets go on the wire: the next hop (the route's gateway, or the AFTR itself on-link).
struct NextHop {
  uint8_t aftr[16];  // the AFTR this was resolved for (a reconfigure to another AFTR is a miss until resolved)
  int ifindex;
  int mtu;           // the link's MTU: larger packets go through the tun (the kernel fragments or says PTB)
  uint8_t eth[14];   // Ethernet header: next hop's MAC, our MAC, EtherType 0x86DD (IPv6)
};

// Ethernet II header for an IPv6 frame (IEEE 802.3 §3.2, RFC 2464 §3).
void eth_header(uint8_t out[14], const uint8_t dst[6], const uint8_t src[6]);

// The next hop as the kernel knows it, kept current by a resolver thread.
class Egress {
 public:
  ~Egress();
  std::string start(const uint8_t aftr[16]);  // opens the netlink sockets and the resolver thread
  void set_aftr(const uint8_t aftr[16]);      // reconfigure: resolve the new AFTR
  void stop();
  const NextHop *hop() const { return hop_.load(std::memory_order_acquire); }
  // A packet found no next hop: resolve again now (cheap when one is already pending).
  void kick();
  // The neighbour is STALE: the next packet goes through the tun so that the kernel re-confirms it
  // (RFC 4861 §7.3.3, STALE -> DELAY -> PROBE), as it would if it sent the traffic itself.
  bool take_probe() { return probe_.load(std::memory_order_relaxed) && probe_.exchange(false); }
  void set_for_test(const NextHop *h, bool stale = false);  // test hook: a fixed next hop (null: unknown)

 private:
  void run();
  bool resolve(NextHop &out, bool &stale);
  void publish(const NextHop *h);

  std::atomic<const NextHop *> hop_{nullptr};
  std::vector<NextHop *> hops_;  // every distinct next hop ever published; freed at destruction (changes are rare)
  std::mutex mu_;
  uint8_t aftr_[16]{};
  std::atomic<bool> probe_{false};
  int query_fd_ = -1, monitor_fd_ = -1, kick_fd_ = -1;
  std::atomic<bool> kicked_{false}, stopping_{false};
  std::thread thread_;
  uint32_t seq_ = 0;
};

// Per-thread output: encapsulated packets to the AFTR become frames in the socket's PACKET_TX_RING when
// the next hop is known (each frame: virtio_net_hdr, Ethernet header, packet), everything else goes on
// to the tun sink. Frames wait for flush() (end of a batch, or kBatch frames), which hands them all to
// the kernel with one send(): no per-packet syscall, msghdr or iovec (sendmmsg cost a fifth of the
// thread's time in those).
class EgressSink : public Sink {
 public:
  static constexpr int kBatch = 64;
  static constexpr int kRing = 256;      // frames in the ring
  static constexpr size_t kSlot = 2048;  // frame size; larger packets (jumbo tunnels) are sent alone, at once
  static constexpr size_t kVnet = 10;    // virtio_net_hdr ahead of each frame (PACKET_VNET_HDR)

  // fd: a socket from open_packet_socket(), or -1 for the test hook (a ring in memory, see send_ring()).
  EgressSink(Sink &tun, Counters *c, Egress *eg, bool packet_mode, int fd);
  ~EgressSink() override;
  void emit(const uint8_t *pkt, size_t len, const Offload *off = nullptr) override;
  bool event(const Icmp6Event &ev) override { return tun_.event(ev); }
  void flush();

 protected:
  // Hands frames [first, first + n) (ring indices, modulo kRing) to the kernel; returns how many it
  // dropped. The test hook overrides it to collect the frames.
  virtual int send_ring(int first, int n);
  // Sends one frame (virtio_net_hdr included) outside the ring; false with errno on failure.
  virtual bool send_one(const uint8_t *frame, size_t len);
  tpacket2_hdr *frame(int i) const;
  static constexpr size_t data_offset() { return TPACKET2_HDRLEN - sizeof(sockaddr_ll); }

 private:
  void to_tun(const uint8_t *pkt, size_t len, const Offload *off);
  sockaddr_ll addr() const;
  int pending(int first, int n) const;
  Sink &tun_;
  Counters *c_;
  Egress *eg_;
  bool packet_mode_;
  int fd_;
  uint8_t *ring_ = nullptr;
  std::vector<uint8_t> own_ring_;
  int head_ = 0, n_ = 0;  // frames [head_, head_ + n_) are filled and not yet flushed
  int ifindex_ = 0;
  std::vector<uint8_t> big_;
};

// An AF_PACKET socket that sends only (protocol 0: the kernel delivers nothing to it), taking a
// virtio_net_hdr ahead of each frame. Returns -1 with errno on failure.
int open_packet_socket();

}  // namespace fw
