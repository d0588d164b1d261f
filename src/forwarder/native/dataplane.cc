// Tun I/O for the B4. See dataplane.h. Readiness is poll(2) in each queue's own thread (no timers: an
// idle forwarder sleeps, a busy one never sleeps between packets), then a batch of non-blocking reads,
// each packet transformed in place and written straight back into the tun (the one-tun design, DESIGN.md).
#include "dataplane.h"

#include <net/if.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

namespace fw {

namespace {

// struct virtio_net_hdr of <linux/virtio_net.h>, which does not compile as C++ (a member named `class`).
// Native byte order: the tun's legacy little-endian default on the machines we run on.
struct virtio_net_hdr {
  uint8_t flags;
  uint8_t gso_type;
  uint16_t hdr_len, gso_size, csum_start, csum_offset;
};
constexpr uint8_t VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
constexpr uint8_t VIRTIO_NET_HDR_GSO_NONE = 0, VIRTIO_NET_HDR_GSO_TCPV4 = 1, VIRTIO_NET_HDR_GSO_UDP_L4 = 5,
                  VIRTIO_NET_HDR_GSO_ECN = 0x80;
// <linux/if_tun.h> of Linux 6.2 (UDP segmentation offload); Debian 12's 6.1 headers lack them.
constexpr unsigned kTunUso4 = 0x20, kTunUso6 = 0x40;

constexpr int kBudget = 256;    // packets per drain before looking at the stop flag again
// 400 µs, not 50: with the packet-socket egress each batch costs one send() besides its reads, and
// longer gaps mean fewer sleeps and wake-ups per packet (two senders in the benchmark: 50 -> 350,
// 100 -> 385, 200 -> 386-411 kpps with flow steering; with CPU steering 100 -> 415-425, 200 -> 436-437,
// 400 -> 438-453, 800 -> 428-440). At 220 kpps per queue a gap gathers ~90 packets, far below the tun's
// 4096-packet queue; a lone packet (ping, TCP handshake) is still forwarded at once.
constexpr long kCoalesceUs = 400;
constexpr int64_t kDenseUs = 200;

// CPU affinity of the queues' threads, re-decided at most every kAffinityCheckUs. A queue counts as loaded
// for kLoadedUs after a drain that found at least kLoadedBatch packets (about 40 kpps at the 400 µs
// moderation): two packets that merely arrive together (a ping and a neighbour solicitation) pin nothing.
constexpr int64_t kAffinityCheckUs = 20000, kLoadedUs = 50000;
constexpr int kLoadedBatch = 16;

constexpr int kTxQueueLen = 4096;
constexpr int kNice = -10;

// Epoch ms, as JavaScript's Date.now(): the clock lastRxFromAftr is compared with. CLOCK_REALTIME, not
// _COARSE (one tick, 4 ms here): read once per drain pass, the vDSO call costs nothing per packet.
int64_t wall_ms() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

std::string errmsg(const char *what) { return std::string(what) + ": " + strerror(errno); }

struct TunSink : Sink {
  int fd;
  Counters *c;
  const Dataplane::EventFn *on_event;
  void emit(const uint8_t *pkt, size_t len, const Offload *off) override {
    virtio_net_hdr h{};
    if (off && off->partial) {
      h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
      h.csum_start = off->csum_start;
      h.csum_offset = off->csum_offset;
    }
    if (off && off->gso_size) {
      h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
      h.gso_size = off->gso_size;
      h.hdr_len = off->hdr_len;
    }
    iovec iov[2] = {{&h, sizeof h}, {const_cast<uint8_t *>(pkt), len}};
    if (writev(fd, iov, 2) < 0) c->inc(D_write_error);
  }
  bool event(const Icmp6Event &ev) override { return (*on_event)(ev); }
};

// Queue selection for a multi-queue tun: the queue of the CPU that forwards the packet into the tun (the
// tun takes the program's result modulo the number of queues). This is what the kernel's XPS does for a
// multi-queue NIC (Documentation/networking/scaling.rst, "XPS: Transmit Packet Steering": the queue is
// chosen by the sending CPU, to cut contention on the queue and cache misses). Each ring then has one
// producer, and a flow keeps its order as long as it is forwarded on one CPU, i.e. as long as the LAN
// NIC's RSS or RPS keeps it there; the kernel's own forwarding has the same property. Measured against a
// flow hash (a 19-instruction program of xor-folded addresses and ports, in place until 2026-11-23):
// 400-405 -> 428-439 kpps with two senders (docs/benchmarks.md). Without a program the kernel would run its
// flow dissector and siphash on every packet. Best effort: if the kernel refuses the program, its own
// flow steering stays.
void steer_by_cpu(int tun_fd) {
  const bpf_insn prog[] = {
      insn(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_get_smp_processor_id),  // r0 = this CPU
      insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
  };
  bpf_attr attr{};
  attr.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
  attr.insns = uint64_t(uintptr_t(prog));
  attr.insn_cnt = sizeof prog / sizeof prog[0];
  attr.license = uint64_t(uintptr_t("GPL"));
  int fd = int(syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof attr));
  if (fd < 0) return;
  if (ioctl(tun_fd, TUNSETSTEERINGEBPF, &fd) < 0) {
    // Older kernel: keep the automatic flow steering.
  }
  ::close(fd);  // the tun holds its own reference
}

// The CPUs whose packets the steering program puts on queue q (CPU number modulo the number of queues, see
// steer_by_cpu), among those the process may run on. Empty if none.
cpu_set_t producer_cpus(const cpu_set_t &allowed, int q, int queues) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int c = 0; c < CPU_SETSIZE; c++)
    if (CPU_ISSET(c, &allowed) && c % queues == q) CPU_SET(c, &set);
  return set;
}

}  // namespace

Dataplane::Dataplane()
    : inject_reasm_(reassembler_new()),
      inject_gro_(coalescer_new()),
      inject_scratch_(kMaxPacket + kHeadroom),
      inject_segment_(kMaxPacket + kHeadroom) {}

Dataplane::~Dataplane() {
  stop();
  reassembler_free(inject_reasm_);
  coalescer_free(inject_gro_);
  for (Config *c : configs_) delete c;
}

std::string Dataplane::open(const std::string &name, int queues, int link_mtu, bool packet_egress, std::string &actual) {
  if (!fds_.empty()) return "tun already open";
  if (queues < 1 || queues > kMaxQueues) return "queues out of range";
  if (name.size() >= IFNAMSIZ) return "tun name too long";
  ifreq ifr{};
  for (int q = 0; q < queues; q++) {
    int fd = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return stop(), errmsg("open /dev/net/tun");
    memset(&ifr, 0, sizeof ifr);
    strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI | IFF_MULTI_QUEUE | IFF_VNET_HDR;
    int hdr_size = sizeof(virtio_net_hdr);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0 || ioctl(fd, TUNSETVNETHDRSZ, &hdr_size) < 0) {
      std::string m = errmsg("TUNSETIFF");
      ::close(fd);
      stop();
      return m;
    }
    fds_.push_back(fd);
  }
  actual = ifr.ifr_name;
  tun_name_ = actual;
  // TCP super-packets and partial checksums in both directions (see Offload in packet.h), and UDP
  // super-packets towards us where the kernel has them (Linux 6.2; the tun takes USO4 only with USO6):
  // the LAN's UDP GRO then reaches us in one read per up to 64 datagrams instead of one per datagram.
  // nat46 (configured before the tun is opened) cuts no super-packets: it takes partial checksums only, and the
  // kernel segments the rest before the tun.
  const Config *cur = shared_.config.load();
  if (cur && cur->nat46 && cur->enabled ? ioctl(fds_[0], TUNSETOFFLOAD, (unsigned long)TUN_F_CSUM) < 0
      : ioctl(fds_[0], TUNSETOFFLOAD, (unsigned long)(TUN_F_CSUM | TUN_F_TSO4 | kTunUso4 | kTunUso6)) < 0 &&
        ioctl(fds_[0], TUNSETOFFLOAD, (unsigned long)(TUN_F_CSUM | TUN_F_TSO4)) < 0) {
    std::string m = errmsg("TUNSETOFFLOAD");
    stop();
    return m;
  }
  if (queues > 1) steer_by_cpu(fds_[0]);
  for (int q = 0; packet_egress && q < queues; q++) {
    int fd = open_packet_socket();
    if (fd < 0) return stop(), errmsg("AF_PACKET socket");
    packet_fds_.push_back(fd);
  }
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return stop(), errmsg("socket");
  std::string err;
  memset(&ifr, 0, sizeof ifr);
  strncpy(ifr.ifr_name, actual.c_str(), IFNAMSIZ - 1);
  ifr.ifr_mtu = link_mtu;
  if (ioctl(s, SIOCSIFMTU, &ifr) < 0) err = errmsg("SIOCSIFMTU");
  // A deeper queue than the default 500 rides out the moments the queue's thread is not scheduled.
  ifr.ifr_qlen = kTxQueueLen;
  if (err.empty() && ioctl(s, SIOCSIFTXQLEN, &ifr) < 0) err = errmsg("SIOCSIFTXQLEN");
  if (err.empty() && ioctl(s, SIOCGIFFLAGS, &ifr) < 0) err = errmsg("SIOCGIFFLAGS");
  ifr.ifr_flags |= IFF_UP;
  if (err.empty() && ioctl(s, SIOCSIFFLAGS, &ifr) < 0) err = errmsg("SIOCSIFFLAGS");
  ::close(s);
  if (!err.empty()) stop();
  return err;
}

void Dataplane::configure(const Config &c) {
  std::lock_guard<std::mutex> lock(config_mu_);
  const Config *old = shared_.config.load();
  Config *copy = new Config(c);
  copy->aftr_gen = !old ? 1 : memcmp(old->aftr, c.aftr, 16) != 0 ? old->aftr_gen + 1 : old->aftr_gen;
  configs_.push_back(copy);
  // A new AFTR is a new path: forget what PTB taught us. Another change (mode, MSS clamp, the LAN fast path
  // around it) keeps the path and what we learnt about it.
  if (!old || memcmp(old->aftr, c.aftr, 16) != 0) shared_.path_mtu_limit.store(65535);
  // lw4o6: a new binding empties the NAPT table, the same one (another BR, MTU, ...) keeps it; leaving lw4o6
  // (dslite, off) empties it too. Before the new config is published: no packet maps into the old set after.
  shared_.napt.set_binding(c.lw4o6 && c.enabled ? &c.lw : nullptr);
  // nat46: the firewall's flows belong to the clients' addresses; another prefix, tenant or gateway ID (or
  // leaving nat46) forgets them. Adopting or giving back a gateway ID keeps them: a flow's key holds the gateway
  // ID its client had (nat46.h), so one opened under an ID no longer served matches nothing and expires.
  if (old && old->nat46 && (!(c.nat46 && c.enabled) || memcmp(old->n46.own, c.n46.own, 12) != 0)) shared_.flows46.flush();
  shared_.config.store(copy, std::memory_order_release);
  egress_.set_aftr(c.aftr);
}

std::vector<std::string> Dataplane::set_fast_path(const std::vector<std::string> &ifnames) {
  if (fds_.empty()) return {"tun not open"};
  int tun = int(if_nametoindex(tun_name_.c_str()));
  if (!tun) return {tun_name_ + ": tun has no ifindex"};
  return fast_path_.attach(tun, ifnames);
}

int Dataplane::tunnel_mtu() const {
  const Config *c = shared_.config.load();
  int limit = shared_.path_mtu_limit.load();
  int mtu = c ? c->mtu : 0;
  return mtu < limit ? mtu : limit;
}

std::string Dataplane::start(EventFn on_event, std::function<void(uint16_t)> on_echo) {
  if (fds_.empty()) return "tun not open";
  if (!threads_.empty()) return "already started";
  on_event_ = std::move(on_event);
  shared_.probes.on_done = std::move(on_echo);
  stopping_.store(false);
  stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stop_fd_ < 0) return errmsg("eventfd");
  const Config *c = shared_.config.load();
  if (!packet_fds_.empty()) {
    if (!c) return "not configured";
    std::string err = egress_.start(c->aftr);
    if (!err.empty()) return err;
  }
  for (int q = 0; q < int(fds_.size()); q++) threads_.emplace_back(&Dataplane::run, this, q);
  return "";
}

void Dataplane::stop() {
  stopping_.store(true);
  if (stop_fd_ >= 0) {
    uint64_t one = 1;
    if (write(stop_fd_, &one, sizeof one) < 0) {
      // eventfd write cannot fail short of a counter overflow; the join below would then hang,
      // so fall through to closing the fds, which makes poll() report POLLNVAL.
    }
  }
  for (std::thread &t : threads_) t.join();
  threads_.clear();
  shared_.probes.on_done = nullptr;
  fast_path_.close();
  egress_.stop();
  for (int fd : fds_) ::close(fd);
  fds_.clear();
  for (int fd : packet_fds_) ::close(fd);
  packet_fds_.clear();
  if (stop_fd_ >= 0) ::close(stop_fd_);
  stop_fd_ = -1;
}

bool Dataplane::others_loaded(int q, int64_t now_us) const {
  for (int o = 0; o < int(fds_.size()); o++) {
    if (o == q) continue;
    int64_t at = states_[o].loaded_at_us.load(std::memory_order_relaxed);
    if (at >= 0 && now_us - at < kLoadedUs) return true;
  }
  return false;
}

void Dataplane::run(int q) {
  // Packets before management: the data-plane threads run at a higher priority than the rest of the
  // agent and than the LAN hosts' traffic generators sharing the CPU (best effort: needs CAP_SYS_NICE).
  if (setpriority(PRIO_PROCESS, pid_t(syscall(SYS_gettid)), kNice) < 0) {
    // Unprivileged: forward at the default priority.
  }
  // "fwq<queue>" in top -H, ps -L and /proc/<pid>/task/<tid>/comm.
  char thread_name[16];
  snprintf(thread_name, sizeof thread_name, "fwq%d", q);
  pthread_setname_np(pthread_self(), thread_name);
  int fd = fds_[q];
  Counters &counters = states_[q].counters;
  std::vector<uint8_t> buf(kMaxPacket + kHeadroom), scratch(kMaxPacket + kHeadroom), segment(kMaxPacket + kHeadroom);
  Reassembler *reasm = reassembler_new();
  Coalescer *gro = coalescer_new();
  Context ctx{&shared_, &counters, reasm, scratch.data(), segment.data(), 0, gro};
  // Each read starts with the virtio_net_hdr, placed so that the packet itself lands at kHeadroom.
  virtio_net_hdr *vh = reinterpret_cast<virtio_net_hdr *>(buf.data() + kHeadroom - sizeof(virtio_net_hdr));
  TunSink sink;
  sink.fd = fd;
  sink.c = &counters;
  sink.on_event = &on_event_;
  bool packet_egress = !packet_fds_.empty();
  EgressSink out(sink, &counters, &egress_, packet_egress, packet_egress ? packet_fds_[q] : -1);
  // CPU affinity. A queue is fed by the CPUs that forward into the tun (steer_by_cpu); when its thread runs
  // on another CPU, every packet crosses CPUs: the skb the producer wrote, the ring slot, the free back to
  // the producer's slab. Measured with one sender, the B4 thread's own cost per packet: 2.03-2.09 µs on the
  // producer's CPU, 2.8-4.5 µs on the other one (docs/benchmarks.md, session 5). So while several queues
  // are loaded, each thread keeps to its producers' CPUs, as the kernel's own receive processing does (NAPI
  // and RPS run where the packet arrived): all CPUs then forward, each its own packets. While only this
  // queue is loaded (one busy LAN CPU), the thread may run anywhere, so an idle CPU can take the B4's half
  // of the work. Best effort: without a usable set (cpuset, fewer CPUs than queues) nothing is pinned.
  cpu_set_t allowed;
  if (sched_getaffinity(0, sizeof allowed, &allowed) < 0) CPU_ZERO(&allowed);  // then `own` is empty: no pinning
  cpu_set_t own = producer_cpus(allowed, q, int(fds_.size()));
  bool can_pin = fds_.size() > 1 && CPU_COUNT(&own) > 0 && !CPU_EQUAL(&own, &allowed);
  bool pinned = false;
  int64_t affinity_checked_us = 0;
  pollfd pfd[2] = {{fd, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
  // Sleeps of a few tens of µs must not stretch to the default 50 µs timer slack.
  prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
  for (;;) {
    int64_t waited_from = mono_us();
    if (poll(pfd, 2, -1) < 0 && errno != EINTR) break;
    if (pfd[1].revents || (pfd[0].revents & (POLLERR | POLLNVAL | POLLHUP))) break;
    bool dense = mono_us() - waited_from < kDenseUs;
    // Busy period: drain the queue; under load (several packets per drain, or packets arriving less
    // than kDenseUs apart) let packets gather for kCoalesceUs and drain again, until a drain finds
    // nothing. Sparse traffic (a ping, a TCP handshake) is forwarded the moment poll reports it; under
    // load packets wait at most kCoalesceUs, in exchange for one sleep and wake-up per batch instead
    // of per packet, and no wake-up work in the senders' path meanwhile (interrupt moderation, as NAPI).
    for (;;) {
      ctx.now_ms = wall_ms();
      int n = 0;
      for (; n < kBudget; n++) {
        ssize_t len = read(fd, vh, kMaxPacket + sizeof *vh);
        if (len < 0) break;  // EAGAIN: queue drained
        if (size_t(len) < sizeof *vh) continue;
        Offload off{};
        off.partial = vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM;
        off.csum_start = vh->csum_start;
        off.csum_offset = vh->csum_offset;
        uint8_t gso = uint8_t(vh->gso_type & ~VIRTIO_NET_HDR_GSO_ECN);
        if (gso == VIRTIO_NET_HDR_GSO_TCPV4) off.gso_size = vh->gso_size;
        else if (gso == VIRTIO_NET_HDR_GSO_UDP_L4) off.gso_size = vh->gso_size, off.gso_udp = true;
        else off.gso_other = gso != VIRTIO_NET_HDR_GSO_NONE;
        handle_packet(ctx, buf.data() + kHeadroom, size_t(len) - sizeof *vh, &off, out);
      }
      flush_batch(ctx, out);
      out.flush();
      if (n == 0 || stopping_.load(std::memory_order_relaxed)) break;
      if (n == 1 && !dense) break;
      dense = true;
      int64_t now_us = mono_us();
      if (n >= kLoadedBatch) states_[q].loaded_at_us.store(now_us, std::memory_order_relaxed);
      if (can_pin && now_us - affinity_checked_us >= kAffinityCheckUs) {
        affinity_checked_us = now_us;
        bool pin = others_loaded(q, now_us);
        if (pin != pinned && sched_setaffinity(0, sizeof(cpu_set_t), pin ? &own : &allowed) == 0) pinned = pin;
      }
      if (n < kBudget) {
        timespec ts{0, kCoalesceUs * 1000};
        nanosleep(&ts, nullptr);
      }
    }
    if (stopping_.load(std::memory_order_relaxed)) break;
  }
  reassembler_free(reasm);
  coalescer_free(gro);
}

void Dataplane::inject(uint8_t *pkt, size_t len, const Offload *off, int64_t now_ms, Sink &out) {
  Context ctx{&shared_, &states_[kMaxQueues].counters, inject_reasm_, inject_scratch_.data(),
              inject_segment_.data(), now_ms, inject_gro_};
  handle_packet(ctx, pkt, len, off, out);
}

void Dataplane::inject_flush(Sink &out) {
  Context ctx{&shared_, &states_[kMaxQueues].counters, inject_reasm_, inject_scratch_.data(),
              inject_segment_.data(), 0, inject_gro_};
  flush_batch(ctx, out);
}

Dataplane::EchoSent Dataplane::echo_send(const uint8_t *aftr) {
  EchoSent r;
  const Config *c = shared_.config.load(std::memory_order_acquire);
  if (!c) return r.err = "not configured", r;
  const uint8_t *to = aftr ? aftr : c->aftr;
  // In nat46 a probe is an ICMPv6 echo to a peer's hand-off address (no IPv4 inside: nothing to match but the id).
  static const uint8_t kNoIpv4[4] = {};
  int seq = c->nat46 ? shared_.probes.reserve(to, kNoIpv4, kNoIpv4) : shared_.probes.reserve(to, c->echo_target, echo_source(*c));
  if (seq < 0) return r.err = "too many echo probes outstanding", r;
  r.seq = uint16_t(seq);
  virtio_net_hdr h{};  // nothing to offload
  uint8_t pkt[68];
  size_t len = c->nat46 ? nat46_echo_request(*c, to, shared_.probes.id(), r.seq, pkt)
                        : build_echo_request(*c, to, fw::echo_id(*c, shared_.probes), r.seq, pkt);
  r.sent_wall_ms = wall_ms();
  Counters &counters = states_[kMaxQueues].counters;
  if (fds_.empty()) {
    r.packet.assign(pkt, pkt + len);
    shared_.probes.arm(r.seq, mono_us(), r.sent_wall_ms);
    counters.add(T_echo_sent);
    return r;
  }
  // Timed just before the write: an answer can only come after it, and a write delayed by the scheduler
  // counts against the AFTR (never the other way round).
  shared_.probes.arm(r.seq, mono_us(), r.sent_wall_ms);
  iovec iov[2] = {{&h, sizeof h}, {pkt, len}};
  if (writev(fds_[0], iov, 2) < 0) {
    r.err = errmsg("echo request write");
    shared_.probes.finish(r.seq, 0);  // withdrawn
    counters.inc(D_write_error);
    return r;
  }
  counters.add(T_echo_sent);
  return r;
}

int Dataplane::napt_active() {
  // With the tun open, at the time the data plane uses (wall clock); the test hook's time is the caller's,
  // the latest given to inject().
  shared_.napt.sweep_all(fds_.empty() ? -1 : wall_ms());
  return shared_.napt.active();
}

uint16_t Dataplane::echo_id() const {
  const Config *c = shared_.config.load(std::memory_order_acquire);
  return c ? fw::echo_id(*c, shared_.probes) : shared_.probes.id();
}

int64_t Dataplane::last_rx_from_aftr_ms() const {
  const Config *c = shared_.config.load(std::memory_order_acquire);
  if (!c) return 0;
  int64_t last = 0;
  for (const ThreadState &s : states_) {
    if (s.counters.last_rx_gen.load(std::memory_order_acquire) != c->aftr_gen) continue;  // an earlier AFTR's
    int64_t ms = s.counters.last_rx_ms.load(std::memory_order_relaxed);
    if (ms > last) last = ms;
  }
  return last;
}

void Dataplane::sum(uint64_t totals[T_COUNT], uint64_t drops[D_COUNT]) const {
  for (int t = 0; t < T_COUNT; t++) totals[t] = 0;
  for (int d = 0; d < D_COUNT; d++) drops[d] = 0;
  for (const ThreadState &s : states_) {
    for (int t = 0; t < T_COUNT; t++) totals[t] += s.counters.total[t].load(std::memory_order_relaxed);
    for (int d = 0; d < D_COUNT; d++) drops[d] += s.counters.drop[d].load(std::memory_order_relaxed);
  }
  // The NAPT table counts its own (it is shared by the threads, napt.h).
  totals[T_napt_created] += shared_.napt.created();
  totals[T_napt_expired] += shared_.napt.expired();
  totals[T_nat46_flows_created] += shared_.flows46.created();
  totals[T_nat46_flows_expired] += shared_.flows46.expired();
}

}  // namespace fw
