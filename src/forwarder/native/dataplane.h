// The tun data plane: one multi-queue tun (IFF_TUN|IFF_NO_PI|IFF_MULTI_QUEUE|IFF_VNET_HDR), one thread per
// queue, each waiting in poll(2) and then draining its queue in a batch through handle_packet().
// JavaScript never touches a packet; it configures, reads counters and receives ICMPv6 events.
#pragma once
#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "egress.h"
#include "fastpath.h"
#include "packet.h"

namespace fw {

struct alignas(64) ThreadState {
  Counters counters{};
  // When this queue's thread last drained a batch of kLoadedBatch packets or more, CLOCK_MONOTONIC µs:
  // the other queues' threads read it to decide their CPU affinity (Dataplane::run).
  std::atomic<int64_t> loaded_at_us{-1};
};

class Dataplane {
 public:
  using EventFn = std::function<bool(const Icmp6Event &)>;
  static constexpr int kMaxQueues = 16;

  Dataplane();
  ~Dataplane();

  // Creates (or attaches to) the tun `name` with `queues` queues, sets its MTU and brings it up; with
  // `packet_egress`, also one AF_PACKET socket per queue (egress.h). Returns an errno-style message on
  // failure, "" on success; `actual` receives the kernel's name.
  std::string open(const std::string &name, int queues, int link_mtu, bool packet_egress, std::string &actual);
  void configure(const Config &c);  // whole config, swapped atomically; a new AFTR resets the PTB-learned MTU
  // The LAN fast path (fastpath.h) on exactly these interfaces; one message per interface left without it.
  std::vector<std::string> set_fast_path(const std::vector<std::string> &ifnames);
  uint64_t fast_path_packets() const { return fast_path_.packets(); }
  const std::vector<std::string> &fast_path_interfaces() const { return fast_path_.interfaces(); }
  // on_echo: a probe was answered (reply or ICMPv6 error), called from a data-plane thread; may be empty.
  std::string start(EventFn on_event, std::function<void(uint16_t seq)> on_echo = nullptr);
  void stop();  // joins the threads and closes the tun (the kernel then deletes it)

  // Test hook: one packet through the same stages on the caller's thread; inject_flush() ends a batch.
  void inject(uint8_t *pkt, size_t len, const Offload *off, int64_t now_ms, Sink &out);
  void inject_flush(Sink &out);

  // Test hook state: the next hop inject() sees, and inject()'s own counters.
  Egress &egress() { return egress_; }
  Counters *inject_counters() { return &states_[kMaxQueues].counters; }

  // ICMP echo probe through the softwire to `aftr` (null: the AFTR in use), echo.h. Written into the tun (queue
  // 0) as the kernel-forwarded egress does, from the calling (control) thread: any AFTR, whatever the egress
  // and the mode. Without a tun (the test hook) the request is returned in `packet` instead.
  struct EchoSent {
    std::string err;
    uint16_t seq = 0;
    int64_t sent_wall_ms = 0;
    std::vector<uint8_t> packet;
  };
  EchoSent echo_send(const uint8_t *aftr);
  EchoOutcome echo_finish(uint16_t seq, int64_t timeout_us) { return shared_.probes.finish(seq, timeout_us); }
  // The ICMP id of the probes in force: the forwarder's own, or in lw4o6 the reserved port (packet.h echo_id).
  uint16_t echo_id() const;
  // NAPT mappings in use (lw4o6), after freeing the expired ones.
  int napt_active();

  void sum(uint64_t totals[T_COUNT], uint64_t drops[D_COUNT]) const;
  // One total of one queue's thread (q < queues()): how the steering spreads the load.
  uint64_t queue_total(int q, Total t) const { return states_[q].counters.total[t].load(std::memory_order_relaxed); }
  // Wall-clock ms (epoch) of the last packet decapsulated from the AFTR in use; 0: none since it became so.
  int64_t last_rx_from_aftr_ms() const;
  int tunnel_mtu() const;
  int queues() const { return int(fds_.size()); }

 private:
  void run(int q);
  bool others_loaded(int q, int64_t now_us) const;

  Shared shared_;
  std::vector<Config *> configs_;  // every config ever installed; freed at destruction (reconfig is rare)
  std::mutex config_mu_;
  std::vector<int> fds_;
  std::string tun_name_;
  FastPath fast_path_;
  std::vector<int> packet_fds_;  // one per queue with packet egress, else empty
  Egress egress_;
  int stop_fd_ = -1;
  std::atomic<bool> stopping_{false};
  std::vector<std::thread> threads_;
  ThreadState states_[kMaxQueues + 1];  // last one belongs to the control thread: inject(), echo_send()
  Reassembler *inject_reasm_;
  Coalescer *inject_gro_;
  std::vector<uint8_t> inject_scratch_, inject_segment_;
  EventFn on_event_;
};

}  // namespace fw
