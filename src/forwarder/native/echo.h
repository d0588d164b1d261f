// ICMP echo probes through the softwire (RFC 6333 §5.7): the B4's 192.0.0.2 asks the AFTR's 192.0.0.1, the
// request encapsulated to an AFTR, the one in use or another (the primary probed while a backup carries the
// traffic). The control thread starts a probe (Dataplane::echo_send: slot, then one tun write) and takes its
// outcome (finish); a data-plane thread completes it from the decapsulation path (the matching echo reply,
// consumed) or from an ICMPv6 error quoting the request. Both ends are timed here with CLOCK_MONOTONIC, so a
// late JavaScript event loop can delay a verdict but never change it. One ICMP id per forwarder, one
// sequence number per probe; a probe's slot is its sequence number modulo kSlots, so the data plane finds
// it without a search or a lock. Header-only (binding.gyp's source list is shared with other targets' work).
#pragma once
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <functional>
#include <random>
#include <thread>

namespace fw {

inline int64_t mono_us() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

// What finish() found.
struct EchoOutcome {
  enum Kind { kUnknown, kPending, kTimeout, kReply, kError } kind = kUnknown;
  int64_t sent_us = 0;       // CLOCK_MONOTONIC, just before the request was written
  int64_t done_us = 0;       // reply or error arrival (kReply, kError), withdrawal (kTimeout), now (kPending)
  int64_t sent_wall_ms = 0;  // CLOCK_REALTIME ms of the send, for the API's sentAt
  uint8_t aftr[16] = {};
  uint8_t type = 0, code = 0, source[16] = {};  // kError: the ICMPv6 error and its sender
};

class Probes {
 public:
  static constexpr int kSlots = 64;  // probes outstanding at once, per forwarder

  Probes() : id_(uint16_t(std::random_device{}() ^ uint32_t(getpid()))) {}

  uint16_t id() const { return id_; }
  // Any probe waiting: the data plane looks at other AFTRs' packets and ICMPv6 errors only then.
  bool any() const { return waiting_.load(std::memory_order_relaxed) > 0; }

  // Control thread: reserves a slot for a probe to `aftr`; the sequence number, or -1 if all are busy.
  int reserve(const uint8_t aftr[16], const uint8_t target[4], const uint8_t b4[4]) {
    for (int tries = 0; tries < kSlots; tries++) {
      uint16_t seq = next_seq_++;
      Slot &s = slots_[seq % kSlots];
      int free = kFree;
      if (!s.state.compare_exchange_strong(free, kFilling, std::memory_order_acquire)) continue;
      s.seq = seq;
      memcpy(s.aftr, aftr, 16);
      memcpy(s.target, target, 4);
      memcpy(s.b4, b4, 4);
      return seq;
    }
    return -1;
  }
  // Control thread: the request is about to be written; from now on an answer completes the probe.
  void arm(uint16_t seq, int64_t sent_us, int64_t sent_wall_ms) {
    Slot &s = slots_[seq % kSlots];
    s.sent_us = sent_us;
    s.sent_wall_ms = sent_wall_ms;
    waiting_.fetch_add(1, std::memory_order_relaxed);
    s.state.store(kPending, std::memory_order_release);
  }

  // Data plane: an echo reply `seq` decapsulated from `aftr`, inner `src` -> `dst`. True if it completed the
  // probe (only a reply from the AFTR the request was sent to, by the address it was sent to, counts).
  bool reply(uint16_t seq, const uint8_t aftr[16], const uint8_t src[4], const uint8_t dst[4]) {
    Slot *s = claim(seq, aftr);
    if (!s) return false;
    if (memcmp(s->target, src, 4) != 0 || memcmp(s->b4, dst, 4) != 0) return release_claim(*s), false;
    s->kind = EchoOutcome::kReply;
    return complete(*s), true;
  }
  // Data plane: an ICMPv6 error (RFC 4443 §3) from `source` quoting the request `seq` to `aftr`.
  bool fail(uint16_t seq, const uint8_t aftr[16], uint8_t type, uint8_t code, const uint8_t source[16]) {
    Slot *s = claim(seq, aftr);
    if (!s) return false;
    s->kind = EchoOutcome::kError;
    s->type = type;
    s->code = code;
    memcpy(s->source, source, 16);
    return complete(*s), true;
  }

  // Control thread: the outcome of probe `seq`. A completed probe's slot is freed. A pending one is withdrawn
  // (kTimeout, slot freed) once `timeout_us` have passed since its send; before that it stays (kPending).
  EchoOutcome finish(uint16_t seq, int64_t timeout_us) {
    Slot &s = slots_[seq % kSlots];
    EchoOutcome o;
    for (;;) {
      int st = s.state.load(std::memory_order_acquire);
      if (st == kFree || st == kFilling || s.seq != seq) return o;  // not outstanding (finished already)
      if (st == kCompleting) {
        std::this_thread::yield();  // a data-plane thread is writing the outcome: a few stores
        continue;
      }
      o.sent_us = s.sent_us;
      o.sent_wall_ms = s.sent_wall_ms;
      memcpy(o.aftr, s.aftr, 16);
      if (st == kPending) {
        int64_t now = mono_us();
        o.done_us = now;
        if (now - s.sent_us < timeout_us) return o.kind = EchoOutcome::kPending, o;
        int pending = kPending;
        if (!s.state.compare_exchange_strong(pending, kFree, std::memory_order_acq_rel)) continue;  // answered meanwhile
        waiting_.fetch_sub(1, std::memory_order_relaxed);
        return o.kind = EchoOutcome::kTimeout, o;
      }
      o.kind = s.kind;
      o.done_us = s.done_us;
      o.type = s.type;
      o.code = s.code;
      memcpy(o.source, s.source, 16);
      s.state.store(kFree, std::memory_order_release);
      return o;
    }
  }

  // Called by the data-plane thread that completed a probe (set before the threads start, cleared after).
  std::function<void(uint16_t seq)> on_done;

 private:
  enum State { kFree, kFilling, kPending, kCompleting, kDone };
  struct Slot {
    std::atomic<int> state{kFree};
    uint16_t seq = 0;
    uint8_t aftr[16] = {}, target[4] = {}, b4[4] = {};
    int64_t sent_us = 0, sent_wall_ms = 0, done_us = 0;
    EchoOutcome::Kind kind = EchoOutcome::kUnknown;
    uint8_t type = 0, code = 0, source[16] = {};
  };

  // The pending probe `seq` to `aftr`, taken for completion (kCompleting), or null. Claimed first and checked
  // after: the fields cannot change under a claimed slot.
  Slot *claim(uint16_t seq, const uint8_t aftr[16]) {
    Slot &s = slots_[seq % kSlots];
    int pending = kPending;
    if (!s.state.compare_exchange_strong(pending, kCompleting, std::memory_order_acquire)) return nullptr;
    if (s.seq != seq || memcmp(s.aftr, aftr, 16) != 0) return release_claim(s), nullptr;
    return &s;
  }
  void release_claim(Slot &s) { s.state.store(kPending, std::memory_order_release); }
  void complete(Slot &s) {
    s.done_us = mono_us();
    uint16_t seq = s.seq;
    waiting_.fetch_sub(1, std::memory_order_relaxed);
    s.state.store(kDone, std::memory_order_release);
    if (on_done) on_done(seq);
  }

  const uint16_t id_;
  uint16_t next_seq_ = 0;  // control thread only
  std::atomic<int> waiting_{0};
  Slot slots_[kSlots];
};

}  // namespace fw
