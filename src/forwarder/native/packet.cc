// DS-Lite B4 per-packet stages, with the hooks into the lwB4's (lw4o6.cc). See packet.h. Each stage either
// passes the packet on or drops it with exactly one named counter. Byte offsets are the RFC 791 / RFC 8200 header layouts.
#include "packet.h"

#include <arpa/inet.h>

#include "lw4o6.h"
#include "nat46.h"
#include "wire.h"

#include <cstring>

namespace fw {

using namespace wire;

#define FW_NAME(n) #n,
const char *const kTotalNames[T_COUNT] = {FW_TOTALS(FW_NAME)};
const char *const kDropNames[D_COUNT] = {FW_DROPS(FW_NAME)};
#undef FW_NAME

namespace {

constexpr int kMinIpv6Mtu = 1280;       // RFC 8200 §5
constexpr int kIcmp4QuoteMax = 576 - 28;  // RFC 1812 §4.3.2.3: error datagram at most 576 bytes
constexpr int64_t kReassemblyTimeoutMs = 5000;  // shorter than RFC 8200's 60 s: a CPE has little memory

int effective_mtu(const Context &ctx, const Config &c) {
  int limit = ctx.shared->path_mtu_limit.load(std::memory_order_relaxed);
  return c.mtu < limit ? c.mtu : limit;
}

// Checks shared by both directions (RFC 791 §3.1; RFC 1812 §5.2.2). Returns the total length or -1.
struct V4Drops { Drop truncated, ihl, length, checksum; };
int check_ipv4(const uint8_t *p, size_t len, Counters &c, const V4Drops &d, bool exact) {
  if (len < 20) return c.inc(d.truncated), -1;
  size_t ihl = (p[0] & 0x0f) * 4u;
  if (ihl < 20) return c.inc(d.ihl), -1;
  if (ihl > len) return c.inc(d.truncated), -1;
  size_t tot = rd16(p + 2);
  if (tot < ihl) return c.inc(d.length), -1;
  if (tot > len) return c.inc(d.truncated), -1;
  if (exact && tot != len) return c.inc(d.length), -1;  // trailing bytes inside the tunnel payload
  if (fold(sum16(p, ihl)) != 0) return c.inc(d.checksum), -1;
  return int(tot);
}

// Optional TCP MSS clamping on SYN segments (RFC 879 §6; RFC 6333 leaves it to the B4).
void clamp_mss(const Context &ctx, const Config &cfg, uint8_t *ip, size_t tot, bool partial) {
  if (cfg.mss_clamp <= 0 || ip[9] != kProtoTcp || (rd16(ip + 6) & 0x3fff) != 0) return;
  size_t ihl = (ip[0] & 0x0f) * 4u;
  if (tot < ihl + 20) return;
  uint8_t *tcp = ip + ihl;
  size_t doff = (tcp[12] >> 4) * 4u;
  if (!(tcp[13] & 0x02) || doff < 20 || ihl + doff > tot) return;
  for (size_t i = 20; i < doff;) {
    uint8_t kind = tcp[i];
    if (kind == 0) break;
    if (kind == 1) { i++; continue; }
    if (i + 1 >= doff || tcp[i + 1] < 2 || i + tcp[i + 1] > doff) break;
    if (kind == 2 && tcp[i + 1] == 4) {
      uint16_t mss = rd16(tcp + i + 2);
      if (mss > cfg.mss_clamp) {
        uint16_t neu = uint16_t(cfg.mss_clamp);
        wr16(tcp + i + 2, neu);
        // At an odd offset the value straddles two checksum words: the one's-complement sum is
        // byte-order independent, so the swapped values update it correctly (RFC 1071 §2(B)).
        if ((i + 2) & 1) mss = uint16_t(mss << 8 | mss >> 8), neu = uint16_t(neu << 8 | neu >> 8);
        // A partial checksum is computed over the segment later: nothing to update yet.
        if (!partial) csum_replace(tcp + 16, mss, neu);
        ctx.counters->add(T_mss_clamped);
      }
      break;
    }
    i += tcp[i + 1];
  }
}

// ICMPv4 destination unreachable, fragmentation needed (RFC 792, RFC 1191 §4), back to the LAN host.
void send_frag_needed(Context &ctx, const Config &cfg, const uint8_t *ip, size_t tot, int mtu, Sink &out) {
  // RFC 1812 §4.3.2.7: no errors about non-first fragments, ICMP errors, or non-unicast sources.
  if (rd16(ip + 6) & 0x1fff) return;
  if (ip[12] == 0 || ip[12] >= 224) return;
  size_t ihl = (ip[0] & 0x0f) * 4u;
  if (ip[9] == kProtoIcmp && tot > ihl) {
    uint8_t t = ip[ihl];
    if (t == 3 || t == 4 || t == 5 || t == 11 || t == 12) return;
  }
  size_t quote = tot < size_t(kIcmp4QuoteMax) ? tot : size_t(kIcmp4QuoteMax);
  uint8_t *r = ctx.scratch + kHeadroom;
  size_t rlen = 28 + quote;
  memset(r, 0, 28);
  r[0] = 0x45;
  r[1] = 0xc0;  // precedence 6, internetwork control (RFC 1812 §4.3.2.5)
  wr16(r + 2, uint16_t(rlen));
  r[8] = 64;
  r[9] = kProtoIcmp;
  memcpy(r + 12, cfg.b4_ipv4, 4);
  memcpy(r + 16, ip + 12, 4);
  wr16(r + 10, fold(sum16(r, 20)));
  uint8_t *icmp = r + 20;
  icmp[0] = 3;
  icmp[1] = 4;
  wr16(icmp + 6, uint16_t(mtu));
  memcpy(icmp + 8, ip, quote);
  wr16(icmp + 2, fold(sum16(icmp, 8 + quote)));
  out.emit(r, rlen);
  ctx.counters->add(T_icmp4_sent);
}

void write_ipv6_header(uint8_t *h, const Config &cfg, uint8_t tclass, uint32_t label, size_t payload,
                       uint8_t next) {
  wr32(h, 6u << 28 | uint32_t(tclass) << 20 | label);
  wr16(h + 4, uint16_t(payload));
  h[6] = next;
  h[7] = uint8_t(cfg.hop_limit);
  memcpy(h + 8, cfg.softwire, 16);
  memcpy(h + 24, cfg.aftr, 16);
}

// RFC 6333 §5.3 / RFC 2473 §7.1: a DF=0 packet larger than the tunnel MTU is carried in IPv6 fragments
// no larger than the tunnel MTU + 40 (the path MTU towards the AFTR).
void encap_fragmented(Context &ctx, const Config &cfg, const uint8_t *ip, size_t tot, int mtu,
                      uint8_t tclass, uint32_t label, Sink &out) {
  size_t chunk = (size_t(mtu) + 40 - 48) & ~size_t(7);
  uint32_t id = ctx.shared->frag_id.fetch_add(1, std::memory_order_relaxed);
  uint8_t *f = ctx.scratch + kHeadroom;
  for (size_t off = 0; off < tot; off += chunk) {
    size_t n = tot - off < chunk ? tot - off : chunk;
    bool more = off + n < tot;
    write_ipv6_header(f, cfg, tclass, label, 8 + n, kProtoFrag);
    f[40] = kProtoIpip;
    f[41] = 0;
    wr16(f + 42, uint16_t(off | (more ? 1 : 0)));  // offset in 8-byte units sits in the top 13 bits
    wr32(f + 44, id);
    memcpy(f + 48, ip + off, n);
    out.emit(f, 48 + n);
    ctx.counters->add(T_tx_fragments);
  }
}

// Completes a partial transport checksum in software (before fragmenting: fragments cannot carry one).
void complete_checksum(uint8_t *ip, size_t tot, const Offload &off) {
  uint16_t v = fold(sum16(ip + off.csum_start, tot - off.csum_start));
  if (v == 0 && ip[9] == kProtoUdp) v = 0xffff;  // RFC 768: 0 means "no checksum"
  wr16(ip + off.csum_start + off.csum_offset, v);
}

// Offsets the kernel gave us must lie inside the packet, or a write would be refused.
bool offload_ok(const Offload &off, size_t tot) {
  return !off.partial || (off.csum_start + size_t(off.csum_offset) + 2 <= tot && off.csum_start >= 20);
}

// One IPv4 packet (never a super-packet) into the tunnel; `off` is its partial checksum, or null.
void encap_one(Context &ctx, const Config &cfg, uint8_t *ip, size_t tot, const Offload *off, Sink &out) {
  Counters &c = *ctx.counters;
  int mtu = effective_mtu(ctx, cfg);
  uint8_t tclass = ip[1];  // DSCP (RFC 2983 uniform model) and ECN (RFC 6040 §4.1 normal mode) copied
  uint32_t label = flow_label(ip, tot);
  if (tot > size_t(mtu) && (rd16(ip + 6) & 0x4000)) {
    c.inc(D_v4_df_too_big);
    return send_frag_needed(ctx, cfg, ip, tot, mtu, out);
  }
  c.add(T_tx_packets);
  c.add(T_tx_bytes, uint64_t(tot));
  if (tot > size_t(mtu)) {
    if (off && off->partial) complete_checksum(ip, tot, *off);
    return encap_fragmented(ctx, cfg, ip, tot, mtu, tclass, label, out);
  }
  uint8_t *h = ip - 40;
  write_ipv6_header(h, cfg, tclass, label, tot, kProtoIpip);
  if (off && off->partial) {
    Offload o{true, uint16_t(off->csum_start + 40), off->csum_offset, 0, false};
    return out.emit(h, tot + 40, &o);
  }
  out.emit(h, tot + 40);
}

// Cuts a super-packet into segments of in.gso_size payload bytes behind its `hdr` bytes of IPv4 and
// transport headers, as the kernel's GSO does (inet_gso_segment): each segment gets the headers with its
// own IPv4 total length, IP ID (incremented) and header checksum; `fix(l4, off, n, i)` adjusts segment i's
// transport header for its payload [off, off + n); its checksum stays partial, the pseudo-header sum
// (RFC 9293 §3.1, RFC 768) at csum_offset, for the egress to complete. DF segments above the tunnel MTU
// get one fragmentation-needed for the whole super-packet, quoting its first segment's worth.
template <typename Fix>
void cut_super_packet(Context &ctx, const Config &cfg, uint8_t *ip, size_t tot, size_t hdr, const Offload &in,
                      uint16_t csum_offset, Total counted, Fix fix, Sink &out) {
  Counters &c = *ctx.counters;
  size_t ihl = (ip[0] & 0x0f) * 4u;
  int mtu = effective_mtu(ctx, cfg);
  if (hdr + in.gso_size > size_t(mtu) && (rd16(ip + 6) & 0x4000)) {
    c.inc(D_v4_df_too_big);
    return send_frag_needed(ctx, cfg, ip, hdr + in.gso_size, mtu, out);
  }
  uint16_t id = rd16(ip + 4);
  size_t payload = tot - hdr;
  uint8_t *seg = ctx.segment + kHeadroom;
  Offload o{true, uint16_t(ihl), csum_offset, 0, false};
  for (size_t off = 0, i = 0; off < payload; off += in.gso_size, i++) {
    size_t n = payload - off < in.gso_size ? payload - off : in.gso_size;
    memcpy(seg, ip, hdr);
    memcpy(seg + hdr, ip + hdr + off, n);
    wr16(seg + 2, uint16_t(hdr + n));
    wr16(seg + 4, uint16_t(id + i));
    wr16(seg + 10, 0);
    wr16(seg + 10, fold(sum16(seg, ihl)));
    fix(seg + ihl, off, n, i);
    wr16(seg + ihl + csum_offset, uint16_t(~fold(sum16(seg + 12, 8) + ip[9] + uint32_t(hdr - ihl + n))));
    encap_one(ctx, cfg, seg, hdr + n, &o, out);
    c.add(counted);
  }
}

// TCP segmentation (TSO, RFC 9293 §3.10.7.4 semantics): each segment its own sequence number; FIN and PSH
// only on the last segment, CWR only on the first.
void encap_tso(Context &ctx, const Config &cfg, uint8_t *ip, size_t tot, const Offload &in, Sink &out) {
  size_t ihl = (ip[0] & 0x0f) * 4u;
  if (ip[9] != kProtoTcp || tot < ihl + 20 || in.gso_size == 0 || (rd16(ip + 6) & 0x3fff) != 0)
    return ctx.counters->inc(D_offload_unsupported);
  size_t hdr = ihl + (ip[ihl + 12] >> 4) * 4u;
  if (hdr > tot || hdr < ihl + 20) return ctx.counters->inc(D_offload_unsupported);
  uint32_t seq = rd32(ip + ihl + 4);
  size_t payload = tot - hdr;
  cut_super_packet(ctx, cfg, ip, tot, hdr, in, 16, T_tso_segmented, [&](uint8_t *t, size_t off, size_t n, size_t i) {
    wr32(t + 4, seq + uint32_t(off));
    if (off + n < payload) t[13] &= uint8_t(~0x09);  // FIN, PSH
    if (i > 0) t[13] &= uint8_t(~0x80);              // CWR
  }, out);
}

// UDP segmentation (USO): the datagrams the kernel's UDP GRO merged on the LAN (rx-udp-gro-forwarding,
// udp_gro_receive_segment) or a local UDP_SEGMENT sender built, cut back as __udp_gso_segment does, each
// with its own UDP length. One read from the tun then carries up to 64 datagrams of a flow.
void encap_uso(Context &ctx, const Config &cfg, uint8_t *ip, size_t tot, const Offload &in, Sink &out) {
  size_t ihl = (ip[0] & 0x0f) * 4u, hdr = ihl + 8;
  if (ip[9] != kProtoUdp || tot <= hdr || in.gso_size == 0 || (rd16(ip + 6) & 0x3fff) != 0 ||
      rd16(ip + ihl + 4) != tot - ihl || !in.partial || in.csum_start != ihl || in.csum_offset != 6)
    return ctx.counters->inc(D_offload_unsupported);
  cut_super_packet(ctx, cfg, ip, tot, hdr, in, 6, T_uso_segmented,
                   [](uint8_t *u, size_t, size_t n, size_t) { wr16(u + 4, uint16_t(8 + n)); }, out);
}

// The size each packet (or each segment of a super-packet) will have in the tunnel; true after answering a DF
// one that does not fit with fragmentation-needed (counted v4_df_too_big), as encap_one and cut_super_packet do.
bool lw_df_too_big(Context &ctx, const Config &cfg, const uint8_t *ip, size_t tot, const Offload *in, Sink &out) {
  if (!(rd16(ip + 6) & 0x4000)) return false;
  size_t ihl = (ip[0] & 0x0f) * 4u, unit = tot;
  if (in && in->gso_size) {
    size_t l4hdr = ip[9] == kProtoTcp && tot >= ihl + 20 ? (ip[ihl + 12] >> 4) * 4u : 8;
    unit = ihl + l4hdr + in->gso_size;
  }
  int mtu = effective_mtu(ctx, cfg);
  if (unit <= size_t(mtu)) return false;
  ctx.counters->inc(D_v4_df_too_big);
  send_frag_needed(ctx, cfg, ip, unit, mtu, out);
  return true;
}

// LAN -> AFTR: IPv4 routed into the tun becomes IPv4-in-IPv6 (RFC 6333 §5.2, RFC 2473 §3).
void encapsulate(Context &ctx, const Config &cfg, uint8_t *ip, size_t len, const Offload *in, Sink &out) {
  Counters &c = *ctx.counters;
  if (in && in->gso_other) return c.inc(D_offload_unsupported);
  int tot = check_ipv4(ip, len, c, {D_v4_truncated, D_v4_bad_ihl, D_v4_bad_length, D_v4_bad_checksum}, false);
  if (tot < 0) return;
  if (in && !offload_ok(*in, size_t(tot))) return c.inc(D_offload_unsupported);
  // lw4o6: the lwB4's own NAPT44 first (RFC 7596 §5.1); what it hairpins or drops ends here. A DF packet too
  // big for the tunnel is refused before it, so the fragmentation-needed quotes the packet as the LAN host sent
  // it: a quote of the translated packet (the shared address and port) matches none of the host's sockets, and
  // its path MTU discovery (RFC 1191 §3) would never learn the tunnel's MTU (TCP stalled after the handshake).
  if (cfg.lw4o6 && (lw_df_too_big(ctx, cfg, ip, size_t(tot), in, out) || !lw_outbound(ctx, cfg, ip, size_t(tot), in, out))) return;
  clamp_mss(ctx, cfg, ip, size_t(tot), in && in->partial);
  if (in && in->gso_size) return in->gso_udp ? encap_uso(ctx, cfg, ip, size_t(tot), *in, out)
                                             : encap_tso(ctx, cfg, ip, size_t(tot), *in, out);
  encap_one(ctx, cfg, ip, size_t(tot), in, out);
}

}  // namespace

// ---- GRO-style coalescing of decapsulated TCP segments (what Linux's tcp_gro_receive accepts) ----

struct Coalescer {
  static constexpr size_t kMax = 65535 - 40;  // a super-packet must still fit an IPv4 total length
  bool active = false;
  size_t len = 0, hdr = 0, mss = 0;
  int segs = 0;
  Offload first_off{};  // first segment's own offload, to write it unchanged if it stays alone
  uint32_t next_seq = 0;
  uint8_t data[kHeadroom + 65536];
  uint8_t *pkt() { return data + kHeadroom; }
};

Coalescer *coalescer_new() { return new Coalescer(); }
void coalescer_free(Coalescer *g) { delete g; }

namespace {

void gro_flush(Context &ctx, Sink &out) {
  Coalescer &g = *ctx.gro;
  if (!g.active) return;
  g.active = false;
  uint8_t *ip = g.pkt();
  if (g.segs == 1) return out.emit(ip, g.len, g.first_off.partial ? &g.first_off : nullptr);
  size_t ihl = (ip[0] & 0x0f) * 4u;
  wr16(ip + 2, uint16_t(g.len));
  wr16(ip + 10, 0);
  wr16(ip + 10, fold(sum16(ip, ihl)));
  // Partial checksum over the whole super-packet: the pseudo-header with its full TCP length, which the
  // kernel's segmentation adjusts per segment (tcp_gso_segment) or a local receiver takes as verified.
  uint32_t acc = sum16(ip + 12, 8) + kProtoTcp + uint32_t(g.len - ihl);
  wr16(ip + ihl + 16, uint16_t(~fold(acc)));
  Offload o{true, uint16_t(ihl), 16, uint16_t(g.mss), uint16_t(g.hdr), false};
  out.emit(ip, g.len, &o);
  ctx.counters->add(T_gro_coalesced, uint64_t(g.segs));
}

// A TCP segment worth holding: no IP options, not a fragment, only ACK (+PSH/FIN on the last), data.
bool gro_candidate(const uint8_t *ip, size_t tot) {
  if ((ip[0] & 0x0f) != 5 || ip[9] != kProtoTcp || (rd16(ip + 6) & 0x3fff) != 0 || tot < 40) return false;
  const uint8_t *t = ip + 20;
  size_t doff = (t[12] >> 4) * 4u;
  if (doff < 20 || 20 + doff >= tot) return false;                  // no payload: a pure ACK
  return (t[13] & ~(0x10 | 0x08 | 0x01)) == 0 && (t[13] & 0x10);  // ACK, maybe PSH/FIN
}

// Does the segment continue what is held: same addresses, TOS, TTL, DF, ports, ack, window, options,
// the next sequence number, and the held segments all full-sized?
bool gro_matches(const Coalescer &g, const uint8_t *ip, size_t tot) {
  const uint8_t *h = g.data + kHeadroom;
  size_t hdr = 20 + (ip[32] >> 4) * 4u;
  if (hdr != g.hdr || g.len + (tot - hdr) > Coalescer::kMax || (tot - hdr) > g.mss) return false;
  if (h[1] != ip[1] || h[8] != ip[8] || rd16(h + 6) != rd16(ip + 6) || memcmp(h + 12, ip + 12, 8) != 0) return false;
  const uint8_t *a = h + 20, *b = ip + 20;
  // Ports, ack, data offset, window and options equal; flags equal but for PSH/FIN (the last may end).
  if (memcmp(a, b, 4) != 0 || memcmp(a + 8, b + 8, 5) != 0 || memcmp(a + 14, b + 14, 2) != 0 ||
      (a[13] & ~0x09) != (b[13] & ~0x09) || memcmp(a + 20, b + 20, hdr - 40) != 0)
    return false;
  if ((a[13] & 0x09) != 0) return false;  // the held run already ended with PSH or FIN
  return rd32(b + 4) == g.next_seq;
}

// A full checksum is verified before the segment joins others (the merged one will claim it valid).
bool tcp_checksum_ok(const uint8_t *ip, size_t tot) {
  uint32_t acc = sum16(ip + 12, 8) + kProtoTcp + uint32_t(tot - 20);
  return fold(sum16(ip + 20, tot - 20, acc)) == 0;
}

void gro_offer(Context &ctx, uint8_t *ip, size_t tot, const Offload *off, Sink &out) {
  if (!ctx.gro) return out.emit(ip, tot, off);
  Coalescer &g = *ctx.gro;
  bool partial = off && off->partial;
  if (!gro_candidate(ip, tot) || (!partial && !tcp_checksum_ok(ip, tot))) {
    gro_flush(ctx, out);
    return out.emit(ip, tot, off);
  }
  size_t hdr = 20 + (ip[32] >> 4) * 4u;
  size_t payload = tot - hdr;
  if (g.active && gro_matches(g, ip, tot)) {
    memcpy(g.pkt() + g.len, ip + hdr, payload);
    g.len += payload;
    g.segs++;
    g.next_seq += uint32_t(payload);
    g.pkt()[20 + 13] |= ip[20 + 13] & 0x09;  // PSH/FIN of the last segment
    if (payload < g.mss || (ip[33] & 0x09)) gro_flush(ctx, out);
    return;
  }
  gro_flush(ctx, out);
  g.active = true;
  memcpy(g.pkt(), ip, tot);
  g.len = tot;
  g.hdr = hdr;
  g.mss = payload;
  g.segs = 1;
  g.first_off = partial ? *off : Offload{};
  g.next_seq = rd32(ip + 24) + uint32_t(payload);
  if (ip[33] & 0x09) gro_flush(ctx, out);
}

// ---- ICMP echo probes through the softwire (echo.h) ----

// The sequence number of an ICMP echo reply (RFC 792) carrying our `id`, or -1. Checks quietly (no counter):
// the caller decides what a packet that is not a probe's reply becomes.
int echo_reply_seq(uint16_t id, const uint8_t *ip, size_t len) {
  if (len < 28 || (ip[0] >> 4) != 4 || ip[9] != kProtoIcmp || (rd16(ip + 6) & 0x3fff) != 0) return -1;
  size_t ihl = (ip[0] & 0x0f) * 4u, tot = rd16(ip + 2);
  if (ihl < 20 || tot > len || tot < ihl + 8 || fold(sum16(ip, ihl)) != 0) return -1;
  const uint8_t *icmp = ip + ihl;
  if (icmp[0] != 0 || icmp[1] != 0 || rd16(icmp + 4) != id || fold(sum16(icmp, tot - ihl)) != 0) return -1;
  return rd16(icmp + 6);
}

// An IPv4-in-IPv6 packet from `src`, an AFTR we do not take traffic from (or none, in mode 'off'): consumed
// if it is the reply to a probe sent to that AFTR.
bool take_probe_reply(Context &ctx, const Config &cfg, const uint8_t *src, const uint8_t *ip, size_t len) {
  Probes &probes = ctx.shared->probes;
  if (!probes.any()) return false;
  int seq = echo_reply_seq(echo_id(cfg, probes), ip, len);
  if (seq < 0 || !probes.reply(uint16_t(seq), src, ip + 12, ip + 16)) return false;
  ctx.counters->add(T_echo_replies);
  return true;
}

// An ICMPv6 error quoting (q, qlen) our request `seq` fails that probe at once (RFC 4443 §2.4(c): as much
// of the invoking packet as fits, so the inner ICMP header is there). True if it did.
bool fail_probe(Context &ctx, const Config &cfg, const uint8_t *v6, uint8_t type, uint8_t code, const uint8_t *q,
                size_t qlen) {
  Probes &probes = ctx.shared->probes;
  if (!probes.any() || qlen < 40 + 28 || q[6] != kProtoIpip || memcmp(q + 8, cfg.softwire, 16) != 0) return false;
  const uint8_t *ip = q + 40;
  size_t ihl = (ip[0] & 0x0f) * 4u;
  if ((ip[0] >> 4) != 4 || ip[9] != kProtoIcmp || ihl < 20 || qlen < 40 + ihl + 8) return false;
  const uint8_t *icmp = ip + ihl;
  if (icmp[0] != 8 || rd16(icmp + 4) != echo_id(cfg, probes)) return false;
  if (!probes.fail(rd16(icmp + 6), q + 24, type, code, v6 + 8)) return false;
  ctx.counters->add(T_echo_errors);
  return true;
}

// AFTR -> LAN: strip the outer header of an IPv4-in-IPv6 packet from the AFTR in use (`in_use`) or from the
// draining one. `in` is the outer packet's offload metadata (a partial checksum of the inner transport), or
// null. The reply to one of our probes is consumed here (never written to the LAN).
void decap_inner(Context &ctx, const Config &cfg, const uint8_t *src, bool in_use, uint8_t outer_tclass, uint8_t *ip,
                 size_t len, const Offload *in, Sink &out) {
  Counters &c = *ctx.counters;
  if (len < 1 || (ip[0] >> 4) != 4) return c.inc(D_inner_bad_version);
  int tot = check_ipv4(ip, len, c, {D_inner_truncated, D_inner_bad_ihl, D_inner_bad_length, D_inner_bad_checksum}, true);
  if (tot < 0) return;
  Offload o{};
  if (in && in->partial) {
    if (in->csum_start < 40) return c.inc(D_offload_unsupported);
    o = Offload{true, uint16_t(in->csum_start - 40), in->csum_offset, 0, false};
    if (!offload_ok(o, size_t(tot))) return c.inc(D_offload_unsupported);
  }
  // RFC 6040 §4.2: propagate congestion experienced from the outer header.
  if ((outer_tclass & 3) == 3 && (ip[1] & 3) != 3) {
    if ((ip[1] & 3) == 0) return c.inc(D_inner_ecn_ce_not_ect);
    uint16_t old = rd16(ip);
    ip[1] |= 3;
    csum_replace(ip + 10, old, rd16(ip));
  }
  if (in_use) c.rx_from_aftr(ctx.now_ms, cfg.aftr_gen);
  else c.add(T_rx_from_drain_aftr);
  // lw4o6: before the NAPT, which never maps the probe's id (echo_id()).
  if (ip[9] == kProtoIcmp && memcmp(ip + 16, echo_source(cfg), 4) == 0) {
    int seq = echo_reply_seq(echo_id(cfg, ctx.shared->probes), ip, size_t(tot));
    if (seq >= 0) {
      if (!ctx.shared->probes.reply(uint16_t(seq), src, ip + 12, ip + 16)) return c.inc(D_echo_late);
      return c.add(T_echo_replies);
    }
  }
  if (cfg.lw4o6 && !lw_inbound(ctx, cfg, ip, size_t(tot), o.partial)) return;
  clamp_mss(ctx, cfg, ip, size_t(tot), o.partial);
  c.add(T_rx_packets);
  c.add(T_rx_bytes, uint64_t(tot));
  gro_offer(ctx, ip, size_t(tot), o.partial ? &o : nullptr, out);
}

// ICMPv6 errors about the softwire (RFC 4443 §3): validated, turned into events, never forwarded.
void handle_icmpv6(Context &ctx, const Config &cfg, const uint8_t *v6, size_t plen, Sink &out) {
  Counters &c = *ctx.counters;
  const uint8_t *icmp = v6 + 40;
  if (plen < 8) return c.inc(D_icmpv6_truncated);
  uint32_t acc = sum16(v6 + 8, 32);  // pseudo-header, RFC 8200 §8.1
  acc += uint32_t(plen >> 16) + uint32_t(plen & 0xffff) + kProtoIcmp6;
  if (fold(sum16(icmp, plen, acc)) != 0) return c.inc(D_icmpv6_bad_checksum);
  uint8_t type = icmp[0], code = icmp[1];
  if (type >= 128) return c.inc(D_icmpv6_informational);
  if (type < 1 || type > 4) return c.inc(D_icmpv6_other_type);
  if (plen < 8 + 40) return c.inc(D_icmpv6_truncated);
  const uint8_t *q = icmp + 8;
  // An error about one of our echo probes fails it at once, whichever AFTR it was sent to.
  bool probe = fail_probe(ctx, cfg, v6, type, code, q, plen - 8);
  // Only errors about our own tunnel traffic count: a forged or misrouted error quoting another flow
  // must not be able to trigger a failover (RFC 4443 §5.2 asks to check what the error quotes).
  if ((q[0] >> 4) != 6 || (q[6] != kProtoIpip && q[6] != kProtoFrag) || memcmp(q + 8, cfg.softwire, 16) != 0 ||
      memcmp(q + 24, cfg.aftr, 16) != 0)
    return probe ? void() : c.inc(D_icmpv6_other_flow);
  Icmp6Event ev{};
  ev.lw4o6 = cfg.lw4o6;
  ev.verified = !cfg.lw4o6 || lw_verify_quote(ctx, cfg, q, plen - 8);
  // lw4o6: unreachable code 5 (RFC 4443 §3.1) is what an lwAFTR sends for an unknown binding (RFC 7596 §6.2),
  // and it makes the gateway provision again: only one quoting a packet we sent recently is believed.
  if (cfg.lw4o6 && type == 1 && code == 5) {
    if (!ev.verified) return c.inc(D_icmpv6_unverified);
    c.add(T_lw_policy_errors);
  }
  ev.type = type;
  ev.code = code;
  memcpy(ev.source, v6 + 8, 16);
  memcpy(ev.quoted_src, q + 8, 16);
  memcpy(ev.quoted_dst, q + 24, 16);
  if (type == 2) {
    // Packet too big (RFC 4443 §3.2): the tunnel MTU becomes the path MTU minus our 40-byte header
    // (RFC 2473 §7.1), never below what IPv6 guarantees (RFC 8200 §5).
    ev.mtu = rd32(icmp + 4);
    int pmtu = ev.mtu < uint32_t(kMinIpv6Mtu) ? kMinIpv6Mtu : ev.mtu > 65535 ? 65535 : int(ev.mtu);
    int limit = pmtu - 40;
    int cur = ctx.shared->path_mtu_limit.load(std::memory_order_relaxed);
    while (limit < cur && !ctx.shared->path_mtu_limit.compare_exchange_weak(cur, limit)) {
    }
  }
  if (type == 4) ev.pointer = rd32(icmp + 4);
  c.add(T_icmpv6_errors);
  if (!out.event(ev)) c.inc(D_event_overflow);
}

}  // namespace

// ---- IPv6 reassembly of fragmented tunnel packets (RFC 8200 §4.5, overlaps discarded per RFC 5722) ----

struct FragSlot {
  bool used = false;
  uint8_t src[16], dst[16];
  uint32_t id = 0;
  int64_t start_ms = 0;
  size_t total = 0;  // known once the last fragment arrived
  size_t got = 0;
  uint8_t map[65536 / 8 / 8];  // one bit per 8-byte block
  uint8_t data[65536];
};

class Reassembler {
 public:
  static constexpr int kSlots = 4;
  FragSlot slots[kSlots];
};

Reassembler *reassembler_new() { return new Reassembler(); }
void reassembler_free(Reassembler *r) { delete r; }

uint8_t *reassemble(Context &ctx, const uint8_t *v6, size_t plen, size_t *total) {
  Counters &c = *ctx.counters;
  Reassembler &r = *ctx.reasm;
  const uint8_t *fh = v6 + 40;
  size_t off = rd16(fh + 2) & 0xfff8;
  bool more = rd16(fh + 2) & 1;
  uint32_t id = rd32(fh + 4);
  size_t n = plen - 8;
  if ((more && n % 8 != 0) || n == 0) return c.inc(D_v6_fragment_bad), nullptr;
  if (off + n > 65535) return c.inc(D_v6_fragment_overflow), nullptr;
  FragSlot *slot = nullptr, *victim = &r.slots[0];
  for (FragSlot &s : r.slots) {
    if (s.used && ctx.now_ms - s.start_ms > kReassemblyTimeoutMs) {
      s.used = false;
      c.inc(D_v6_fragment_expired);
    }
    if (s.used && s.id == id && !memcmp(s.src, v6 + 8, 16) && !memcmp(s.dst, v6 + 24, 16)) slot = &s;
    if (!s.used || (victim->used && s.start_ms < victim->start_ms)) victim = &s;
  }
  if (!slot) {
    if (victim->used) c.inc(D_v6_fragment_expired);
    slot = victim;
    slot->used = true;
    memcpy(slot->src, v6 + 8, 16);
    memcpy(slot->dst, v6 + 24, 16);
    slot->id = id;
    slot->start_ms = ctx.now_ms;
    slot->total = slot->got = 0;
    memset(slot->map, 0, sizeof slot->map);
  }
  size_t b0 = off / 8, b1 = (off + n + 7) / 8;
  for (size_t b = b0; b < b1; b++)
    if (slot->map[b / 8] & (1 << (b % 8))) {
      slot->used = false;
      return c.inc(D_v6_fragment_overflow), nullptr;
    }
  if (!more) {
    if (slot->total && slot->total != off + n) {
      slot->used = false;
      return c.inc(D_v6_fragment_bad), nullptr;
    }
    slot->total = off + n;
  }
  if (slot->total && off + n > slot->total) {
    slot->used = false;
    return c.inc(D_v6_fragment_bad), nullptr;
  }
  for (size_t b = b0; b < b1; b++) slot->map[b / 8] |= uint8_t(1 << (b % 8));
  memcpy(slot->data + off, fh + 8, n);
  slot->got += n;
  if (!slot->total || slot->got != slot->total) return nullptr;
  slot->used = false;
  *total = slot->total;
  return slot->data;
}

namespace {

void handle_fragment(Context &ctx, const Config &cfg, uint8_t *v6, size_t plen, Sink &out) {
  Counters &c = *ctx.counters;
  if (plen < 8) return c.inc(D_v6_truncated);
  const uint8_t *fh = v6 + 40;
  if (fh[0] != kProtoIpip) return c.inc(D_v6_fragment_bad);
  bool in_use = memcmp(v6 + 8, cfg.aftr, 16) == 0;
  if (!in_use && !(cfg.drain && memcmp(v6 + 8, cfg.drain_aftr, 16) == 0)) return c.inc(D_v6_spoofed_source);
  size_t total;
  uint8_t *data = reassemble(ctx, v6, plen, &total);
  if (!data) return;
  uint8_t tclass = uint8_t(rd16(v6) >> 4);
  decap_inner(ctx, cfg, v6 + 8, in_use, tclass, data, total, nullptr, out);
}

}  // namespace

uint32_t flow_label(const uint8_t *ip, size_t len) {
  // FNV-1a over source, destination, protocol and, for unfragmented TCP/UDP/SCTP, the two ports, folded
  // to 20 bits and never 0 (RFC 6437 §2: 0 means "no label"). All fragments of a datagram share a label.
  uint32_t h = 2166136261u;
  auto mix = [&h](const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
  };
  mix(ip + 12, 8);
  mix(ip + 9, 1);
  size_t ihl = (ip[0] & 0x0f) * 4u;
  uint8_t proto = ip[9];
  bool fragmented = (rd16(ip + 6) & 0x3fff) != 0;
  if (!fragmented && (proto == kProtoTcp || proto == kProtoUdp || proto == kProtoSctp) && len >= ihl + 4)
    mix(ip + ihl, 4);
  uint32_t label = (h ^ (h >> 20)) & 0xfffff;
  return label ? label : 1;
}

void flush_batch(Context &ctx, Sink &out) {
  if (ctx.gro) gro_flush(ctx, out);
}

namespace {

// Mode 'off' drops everything but the answers to our probes: the failover probes an AFTR through the
// softwire also while IPv4 is native (an echo reply, or an ICMPv6 error quoting the request; no event then).
bool probe_answer(Context &ctx, const Config &cfg, const uint8_t *v6, size_t len) {
  if (!ctx.shared->probes.any() || len < 40 || (v6[0] >> 4) != 6) return false;
  size_t plen = rd16(v6 + 4);
  if (plen + 40 > len || memcmp(v6 + 24, cfg.softwire, 16) != 0) return false;
  if (v6[6] == kProtoIpip) return take_probe_reply(ctx, cfg, v6 + 8, v6 + 40, plen);
  if (v6[6] != kProtoIcmp6 || plen < 8 + 40) return false;
  uint32_t acc = sum16(v6 + 8, 32) + uint32_t(plen >> 16) + uint32_t(plen & 0xffff) + kProtoIcmp6;
  const uint8_t *icmp = v6 + 40;
  if (fold(sum16(icmp, plen, acc)) != 0 || icmp[0] < 1 || icmp[0] > 4) return false;
  return fail_probe(ctx, cfg, v6, icmp[0], icmp[1], icmp + 8, plen - 8);
}

}  // namespace

size_t build_echo_request(const Config &cfg, const uint8_t aftr[16], uint16_t id, uint16_t seq, uint8_t *out) {
  // RFC 792 echo without data, in an RFC 791 header (no DF: 28 bytes cross any link), encapsulated as
  // encap_one() does: traffic class from the TOS, flow label from the addresses (RFC 6437).
  uint8_t *ip = out + 40;
  memset(ip, 0, 28);
  ip[0] = 0x45;
  wr16(ip + 2, 28);
  wr16(ip + 4, seq);
  ip[8] = 64;
  ip[9] = kProtoIcmp;
  memcpy(ip + 12, echo_source(cfg), 4);
  memcpy(ip + 16, cfg.echo_target, 4);
  wr16(ip + 10, fold(sum16(ip, 20)));
  uint8_t *icmp = ip + 20;
  icmp[0] = 8;
  wr16(icmp + 4, id);
  wr16(icmp + 6, seq);
  wr16(icmp + 2, fold(sum16(icmp, 8)));
  write_ipv6_header(out, cfg, 0, flow_label(ip, 28), 28, kProtoIpip);
  memcpy(out + 24, aftr, 16);
  return 68;
}

void handle_packet(Context &ctx, uint8_t *pkt, size_t len, const Offload *in, Sink &out) {
  Counters &c = *ctx.counters;
  const Config *cfg = ctx.shared->config.load(std::memory_order_acquire);
  if (!cfg) return c.inc(D_mode_off);
  if (!cfg->enabled) return probe_answer(ctx, *cfg, pkt, len) ? void() : c.inc(D_mode_off);
  if (cfg->nat46) return nat46_packet(ctx, *cfg, pkt, len, in, out);  // nat46.cc: its own stages both ways
  if (len == 0) return c.inc(D_unknown_version);
  switch (pkt[0] >> 4) {
    case 4:
      return encapsulate(ctx, *cfg, pkt, len, in, out);
    case 6: {
      if (len < 40) return c.inc(D_v6_truncated);
      size_t plen = rd16(pkt + 4);
      if (plen + 40 > len) return c.inc(D_v6_truncated);
      if (memcmp(pkt + 24, cfg->softwire, 16) != 0) return c.inc(D_v6_not_softwire);
      switch (pkt[6]) {
        case kProtoIpip: {
          // RFC 6333 §6.4 / RFC 2473 §3.6: only the configured tunnel end point may send us IPv4 (and, for a
          // few seconds after a switch, the previous one: make-before-break). From another AFTR, only the
          // reply to a probe we sent it.
          bool in_use = memcmp(pkt + 8, cfg->aftr, 16) == 0;
          if (!in_use && !(cfg->drain && memcmp(pkt + 8, cfg->drain_aftr, 16) == 0))
            return take_probe_reply(ctx, *cfg, pkt + 8, pkt + 40, plen) ? void() : c.inc(D_v6_spoofed_source);
          if (in && (in->gso_other || in->gso_udp)) return c.inc(D_offload_unsupported);
          return decap_inner(ctx, *cfg, pkt + 8, in_use, uint8_t(rd16(pkt) >> 4), pkt + 40, plen, in, out);
        }
        case kProtoIcmp6:
          return handle_icmpv6(ctx, *cfg, pkt, plen, out);
        case kProtoFrag:
          return handle_fragment(ctx, *cfg, pkt, plen, out);
        default:
          return c.inc(D_v6_unexpected_next_header);
      }
    }
    default:
      return c.inc(D_unknown_version);
  }
}

}  // namespace fw
