// The LAN fast path into the tun. See fastpath.h.
#include "fastpath.h"

#include <errno.h>
#include <net/if.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace fw {

namespace {

// Not yet in every distribution's <linux/bpf.h> (Debian 12 ships the 6.1 UAPI); values from the kernel's
// include/uapi/linux/bpf.h. tcx links need Linux 6.6, BPF_FIB_LOOKUP_SKIP_NEIGH 6.5.
constexpr int kTcxIngress = 46;             // BPF_TCX_INGRESS in enum bpf_attach_type
constexpr int kFibSkipNeigh = 1 << 2;       // BPF_FIB_LOOKUP_SKIP_NEIGH
constexpr int kTcxNext = -1;                // TCX_NEXT: on to the next program, or into the stack

constexpr int kEth = 14;                    // Ethernet header: tc ingress sees the frame from the MAC header
constexpr int kFibParams = -64;             // struct bpf_fib_lookup (64 bytes) at the bottom of the stack
constexpr int kMapKey = -68;

long sys_bpf(int cmd, bpf_attr &attr) { return syscall(SYS_bpf, cmd, &attr, sizeof attr); }

std::string errmsg(const std::string &what) { return what + ": " + strerror(errno); }

int skb(size_t field) { return int(field); }
int fib(size_t field) { return kFibParams + int(field); }

int possible_cpus() {
  // "0-1" or "0,2-3": the highest CPU number + 1 sizes a per-CPU map's value array.
  char buf[256] = {0};
  FILE *f = fopen("/sys/devices/system/cpu/possible", "r");
  if (!f) return 1;
  size_t len = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[len] = 0;
  unsigned long n = 1;
  for (char *s = buf; *s;) {
    if (*s < '0' || *s > '9') { s++; continue; }  // ',' '-' '\n': every number is a CPU, the last the highest
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (v + 1 > n) n = v + 1;
    s = end;
  }
  return int(n);
}

}  // namespace

std::string FastPath::load(int tun) {
  if (map_fd_ < 0) {
    bpf_attr m{};
    m.map_type = BPF_MAP_TYPE_PERCPU_ARRAY;  // one packet counter per CPU: no atomic in the packet path
    m.key_size = 4;
    m.value_size = 8;
    m.max_entries = 1;
    map_fd_ = int(sys_bpf(BPF_MAP_CREATE, m));
    if (map_fd_ < 0) return errmsg("BPF_MAP_CREATE");
  }
  if (prog_fd_ >= 0 && prog_tun_ == tun) return "";
  if (prog_fd_ >= 0) ::close(prog_fd_), prog_fd_ = -1;

  // r6 = skb, r7/r8 = data/data_end, r9 = scratch. Offsets into the frame: IPv4 header at kEth.
  std::vector<bpf_insn> p;
  std::vector<size_t> to_kernel;  // jumps patched to the "let the kernel have it" exit
  auto e = [&](bpf_insn i) { p.push_back(i); };
  auto unless = [&](uint8_t op, uint8_t dst, uint8_t src, int32_t imm) {  // jump away if the condition holds
    to_kernel.push_back(p.size());
    e(insn(BPF_JMP | op | (src ? BPF_X : BPF_K), dst, src, 0, imm));
  };
  auto load_packet = [&]() {
    e(insn(BPF_LDX | BPF_W | BPF_MEM, 7, 6, skb(offsetof(__sk_buff, data)), 0));
    e(insn(BPF_LDX | BPF_W | BPF_MEM, 8, 6, skb(offsetof(__sk_buff, data_end)), 0));
    e(insn(BPF_ALU64 | BPF_MOV | BPF_X, 2, 7, 0, 0));
    e(insn(BPF_ALU64 | BPF_ADD | BPF_K, 2, 0, 0, kEth + 20));
    unless(BPF_JGT, 2, 8, 0);  // Ethernet + IPv4 header not in the linear data
  };
  e(insn(BPF_ALU64 | BPF_MOV | BPF_X, 6, 1, 0, 0));
  // ip_forward() forwards only frames addressed to this host (PACKET_HOST), untagged here.
  e(insn(BPF_LDX | BPF_W | BPF_MEM, 2, 6, skb(offsetof(__sk_buff, pkt_type)), 0));
  unless(BPF_JNE, 2, 0, 0);
  e(insn(BPF_LDX | BPF_W | BPF_MEM, 2, 6, skb(offsetof(__sk_buff, vlan_present)), 0));
  unless(BPF_JNE, 2, 0, 0);
  e(insn(BPF_LDX | BPF_W | BPF_MEM, 2, 6, skb(offsetof(__sk_buff, protocol)), 0));
  unless(BPF_JNE, 2, 0, 0x0008);  // htons(ETH_P_IP) as the little-endian load sees it
  load_packet();
  // Version 4, no options (options, e.g. router alert, are the kernel's: RFC 2113, ip_forward()).
  e(insn(BPF_LDX | BPF_B | BPF_MEM, 2, 7, kEth + 0, 0));
  unless(BPF_JNE, 2, 0, 0x45);
  // TTL 0 or 1: the kernel sends the ICMP time exceeded (RFC 1812 §5.3.1).
  e(insn(BPF_LDX | BPF_B | BPF_MEM, 2, 7, kEth + 8, 0));
  unless(BPF_JLE, 2, 0, 1);
  // The FIB decides, as for ip_route_input(): struct bpf_fib_lookup zeroed, then family, protocol, TOS,
  // input interface, addresses. No tot_len: the helper then checks the skb against the output device's
  // MTU the way forwarding does (is_skb_forwardable, TCP super-packets included).
  e(insn(BPF_ALU64 | BPF_MOV | BPF_K, 2, 0, 0, 0));
  for (int off = kFibParams; off < 0; off += 8) e(insn(BPF_STX | BPF_DW | BPF_MEM, 10, 2, int16_t(off), 0));
  e(insn(BPF_ST | BPF_B | BPF_MEM, 10, 0, fib(offsetof(bpf_fib_lookup, family)), 2));  // AF_INET
  e(insn(BPF_LDX | BPF_B | BPF_MEM, 2, 7, kEth + 9, 0));
  e(insn(BPF_STX | BPF_B | BPF_MEM, 10, 2, fib(offsetof(bpf_fib_lookup, l4_protocol)), 0));
  e(insn(BPF_LDX | BPF_B | BPF_MEM, 2, 7, kEth + 1, 0));
  e(insn(BPF_STX | BPF_B | BPF_MEM, 10, 2, fib(offsetof(bpf_fib_lookup, tos)), 0));
  e(insn(BPF_LDX | BPF_W | BPF_MEM, 2, 6, skb(offsetof(__sk_buff, ifindex)), 0));
  e(insn(BPF_STX | BPF_W | BPF_MEM, 10, 2, fib(offsetof(bpf_fib_lookup, ifindex)), 0));
  e(insn(BPF_LDX | BPF_W | BPF_MEM, 2, 7, kEth + 12, 0));
  e(insn(BPF_STX | BPF_W | BPF_MEM, 10, 2, fib(offsetof(bpf_fib_lookup, ipv4_src)), 0));
  e(insn(BPF_LDX | BPF_W | BPF_MEM, 2, 7, kEth + 16, 0));
  e(insn(BPF_STX | BPF_W | BPF_MEM, 10, 2, fib(offsetof(bpf_fib_lookup, ipv4_dst)), 0));
  e(insn(BPF_ALU64 | BPF_MOV | BPF_X, 1, 6, 0, 0));
  e(insn(BPF_ALU64 | BPF_MOV | BPF_X, 2, 10, 0, 0));
  e(insn(BPF_ALU64 | BPF_ADD | BPF_K, 2, 0, 0, kFibParams));
  e(insn(BPF_ALU64 | BPF_MOV | BPF_K, 3, 0, 0, 64));
  e(insn(BPF_ALU64 | BPF_MOV | BPF_K, 4, 0, 0, kFibSkipNeigh));  // the tun has no neighbours
  e(insn(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_fib_lookup));
  unless(BPF_JNE, 0, 0, 0);  // not BPF_FIB_LKUP_RET_SUCCESS: local, broadcast, unreachable, forwarding off, MTU
  e(insn(BPF_LDX | BPF_W | BPF_MEM, 2, 10, fib(offsetof(bpf_fib_lookup, ifindex)), 0));
  unless(BPF_JNE, 2, 0, tun);  // routed elsewhere (native IPv4, another LAN): the kernel's
  // ip_decrease_ttl(): TTL - 1 and the header checksum updated incrementally (RFC 1624), so a header that
  // arrived with a bad checksum still has one and the B4 drops it (v4_bad_checksum), as ip_rcv() would.
  load_packet();
  e(insn(BPF_LDX | BPF_B | BPF_MEM, 2, 7, kEth + 8, 0));
  e(insn(BPF_ALU64 | BPF_ADD | BPF_K, 2, 0, 0, -1));
  e(insn(BPF_STX | BPF_B | BPF_MEM, 7, 2, kEth + 8, 0));
  e(insn(BPF_LDX | BPF_H | BPF_MEM, 2, 7, kEth + 10, 0));
  e(insn(BPF_ALU64 | BPF_ADD | BPF_K, 2, 0, 0, 1));  // += htons(0x0100), little-endian view
  e(insn(BPF_JMP | BPF_JLT | BPF_K, 2, 0, 1, 0xffff));
  e(insn(BPF_ALU64 | BPF_ADD | BPF_K, 2, 0, 0, 1));  // end-around carry
  e(insn(BPF_STX | BPF_H | BPF_MEM, 7, 2, kEth + 10, 0));
  // Count it (per-CPU slot 0) in packets: a GRO super-packet counts its segments (gso_segs, 0 if none).
  e(insn(BPF_ST | BPF_W | BPF_MEM, 10, 0, kMapKey, 0));
  e(insn(BPF_LD | BPF_DW | BPF_IMM, 1, BPF_PSEUDO_MAP_FD, 0, map_fd_));
  e(insn(0, 0, 0, 0, 0));
  e(insn(BPF_ALU64 | BPF_MOV | BPF_X, 2, 10, 0, 0));
  e(insn(BPF_ALU64 | BPF_ADD | BPF_K, 2, 0, 0, kMapKey));
  e(insn(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_map_lookup_elem));
  e(insn(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 6, 0));
  e(insn(BPF_LDX | BPF_W | BPF_MEM, 3, 6, skb(offsetof(__sk_buff, gso_segs)), 0));
  e(insn(BPF_JMP | BPF_JNE | BPF_K, 3, 0, 1, 0));
  e(insn(BPF_ALU64 | BPF_MOV | BPF_K, 3, 0, 0, 1));
  e(insn(BPF_LDX | BPF_DW | BPF_MEM, 2, 0, 0, 0));
  e(insn(BPF_ALU64 | BPF_ADD | BPF_X, 2, 3, 0, 0));
  e(insn(BPF_STX | BPF_DW | BPF_MEM, 0, 2, 0, 0));
  // Out of the tun's transmit path (the kernel strips the Ethernet header for a tun, __bpf_redirect_no_mac).
  e(insn(BPF_ALU64 | BPF_MOV | BPF_K, 1, 0, 0, tun));
  e(insn(BPF_ALU64 | BPF_MOV | BPF_K, 2, 0, 0, 0));
  e(insn(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_redirect));
  e(insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
  size_t kernel = p.size();
  e(insn(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, kTcxNext));
  e(insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
  for (size_t j : to_kernel) p[j].off = int16_t(kernel - j - 1);

  static char log[16384];
  bpf_attr a{};
  a.prog_type = BPF_PROG_TYPE_SCHED_CLS;
  a.expected_attach_type = kTcxIngress;
  a.insns = uint64_t(uintptr_t(p.data()));
  a.insn_cnt = uint32_t(p.size());
  a.license = uint64_t(uintptr_t("GPL"));
  a.log_buf = uint64_t(uintptr_t(log));
  a.log_size = sizeof log;
  a.log_level = 1;
  log[0] = 0;
  prog_fd_ = int(sys_bpf(BPF_PROG_LOAD, a));
  if (prog_fd_ < 0) {
    std::string m = errmsg("BPF_PROG_LOAD");
    // The verifier's last line says why.
    std::string l(log);
    while (!l.empty() && l.back() == '\n') l.pop_back();
    size_t nl = l.rfind('\n');
    return l.empty() ? m : m + " (" + l.substr(nl == std::string::npos ? 0 : nl + 1) + ")";
  }
  prog_tun_ = tun;
  return "";
}

std::vector<std::string> FastPath::attach(int tun_ifindex, const std::vector<std::string> &ifnames) {
  std::vector<std::string> errors;
  if (prog_fd_ >= 0 && prog_tun_ != tun_ifindex) detach_all();  // links of a program for another tun
  auto listed = [](const std::vector<std::string> &v, const std::string &n) { return std::find(v.begin(), v.end(), n) != v.end(); };
  for (size_t i = 0; i < names_.size();) {
    if (listed(ifnames, names_[i])) {
      i++;
      continue;
    }
    ::close(links_[i]);  // closing a tcx link detaches its program
    links_.erase(links_.begin() + long(i));
    names_.erase(names_.begin() + long(i));
  }
  std::vector<std::string> todo;
  for (const std::string &n : ifnames)
    if (!listed(names_, n) && !listed(todo, n)) todo.push_back(n);
  if (todo.empty()) return errors;
  std::string err = load(tun_ifindex);
  if (!err.empty()) {
    for (const std::string &n : todo) errors.push_back(n + ": " + err);
    return errors;
  }
  for (const std::string &n : todo) {
    unsigned idx = if_nametoindex(n.c_str());
    if (!idx) {
      errors.push_back(n + ": no such interface");
      continue;
    }
    bpf_attr l{};
    l.link_create.prog_fd = uint32_t(prog_fd_);
    l.link_create.target_ifindex = idx;
    l.link_create.attach_type = kTcxIngress;
    int fd = int(sys_bpf(BPF_LINK_CREATE, l));
    if (fd < 0) {
      errors.push_back(n + ": " + errmsg("tcx attach"));
      continue;
    }
    links_.push_back(fd);
    names_.push_back(n);
  }
  return errors;
}

void FastPath::detach_all() {
  for (int fd : links_) ::close(fd);
  links_.clear();
  names_.clear();
}

void FastPath::close() {
  detach_all();
  if (prog_fd_ >= 0) ::close(prog_fd_);
  prog_fd_ = -1;
  if (map_fd_ >= 0) ::close(map_fd_);
  map_fd_ = -1;
}

uint64_t FastPath::packets() const {
  if (map_fd_ < 0) return 0;
  static const int cpus = possible_cpus();
  std::vector<uint64_t> v(size_t(cpus), 0);
  uint32_t key = 0;
  bpf_attr q{};
  q.map_fd = uint32_t(map_fd_);
  q.key = uint64_t(uintptr_t(&key));
  q.value = uint64_t(uintptr_t(v.data()));
  if (sys_bpf(BPF_MAP_LOOKUP_ELEM, q) < 0) return 0;
  uint64_t sum = 0;
  for (uint64_t x : v) sum += x;
  return sum;
}

}  // namespace fw
