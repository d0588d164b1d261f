// The LAN fast path into the tun: a BPF program at the tc ingress (tcx) of each LAN interface hands the
// IPv4 packets that the kernel's FIB would forward into the tun straight to the tun, so they skip the
// IPv4 receive and forwarding path (ip_rcv, ip_forward, the netfilter prerouting/forward/postrouting
// hooks, ip_output). What ip_forward itself guarantees is kept: only unicast to this host's MAC, a FIB
// decision (the same tables, including the route into the tun), TTL > 1 and decremented. Everything else
// (IP options, TTL 1, VLAN tags, not routed into the tun, FIB errors) continues into the kernel unchanged.
// The skb keeps its offload state, so partial checksums and TCP super-packets reach the B4 as they did
// through the kernel (docs/benchmarks.md ## Forwarder, "LAN fast path").
#pragma once
#include <linux/bpf.h>

#include <cstdint>
#include <string>
#include <vector>

namespace fw {

inline bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  bpf_insn i{};
  i.code = code;
  i.dst_reg = dst & 0xf;
  i.src_reg = src & 0xf;
  i.off = off;
  i.imm = imm;
  return i;
}

class FastPath {
 public:
  FastPath() = default;
  FastPath(const FastPath &) = delete;
  FastPath &operator=(const FastPath &) = delete;
  ~FastPath() { close(); }

  // Makes the program attached to exactly `ifnames`, redirecting into the tun `tun_ifindex`: detaches it
  // from interfaces no longer listed, attaches it to the ones it is not on yet (so an unchanged list costs
  // nothing). Returns one message per interface it could not attach to; those keep the kernel's path.
  std::vector<std::string> attach(int tun_ifindex, const std::vector<std::string> &ifnames);
  void close();
  void detach_all();
  // Packets handed to the tun by the program since open (all CPUs).
  uint64_t packets() const;
  const std::vector<std::string> &interfaces() const { return names_; }

 private:
  std::string load(int tun_ifindex);

  int map_fd_ = -1;
  int prog_fd_ = -1;
  int prog_tun_ = 0;  // the tun ifindex compiled into prog_fd_
  std::vector<int> links_;
  std::vector<std::string> names_;
};

}  // namespace fw
