// The lwB4 stages (RFC 7596). See lw4o6.h. Translation is in place and every checksum is updated
// incrementally (RFC 1624), never recomputed: a packet that arrived with a wrong checksum keeps a wrong one,
// and a zero UDP checksum ("none", RFC 768) stays zero.
#include "lw4o6.h"

#include <cstring>

#include "wire.h"

namespace fw {

using namespace wire;

namespace {

constexpr int64_t kVerifyWindowMs = 30000;  // an ICMPv6 error must quote what we sent within this time

// Changes to 16-bit words, summed for a checksum update (RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m')).
struct Delta {
  uint32_t d = 0;
  void add(uint16_t old, uint16_t neu) { d += uint16_t(~old) + neu; }
};
// Writes a word, recording the change for an enclosing checksum (the ICMP error around a quoted packet).
void put16(uint8_t *p, uint16_t v, Delta *outer) {
  if (outer) outer->add(rd16(p), v);
  wr16(p, v);
}
// A complete checksum field. UDP: 0 means "no checksum" and stays so; a result of 0 is sent as 0xffff.
void apply_full(uint8_t *field, const Delta &d, bool udp, Delta *outer) {
  uint16_t old = rd16(field);
  if (udp && old == 0) return;
  uint16_t neu = fold(uint32_t(uint16_t(~old)) + d.d);
  if (udp && neu == 0) neu = 0xffff;
  put16(field, neu, outer);
}
// A partial checksum (offload): the field holds the pseudo-header sum, not inverted; the rest is summed later.
void apply_partial(uint8_t *field, const Delta &d) {
  uint32_t v = rd16(field) + d.d;
  while (v >> 16) v = (v & 0xffff) + (v >> 16);
  wr16(field, uint16_t(v));
}

// Rewrites the source (src) or destination address of an IPv4 packet to `addr` and, if port >= 0, the source
// or destination port (TCP, UDP) or the ICMP query identifier (RFC 5508 §3) to `port`, updating the header
// checksum and the transport checksum (TCP and UDP cover the addresses through the pseudo-header, RFC 9293
// §3.1, RFC 768). `l4len`: transport bytes present (a quote may be cut short; a non-first fragment has none):
// fields beyond them are left alone. `partial`: the transport checksum is completed later over the segment
// (the port is inside that sum), only its pseudo-header part changes. `outer`: records every changed word for
// the checksum of the ICMP error quoting this packet.
void rewrite(uint8_t *ip, size_t l4len, bool src, const uint8_t addr[4], int port, bool partial, Delta *outer) {
  size_t ihl = (ip[0] & 0x0f) * 4u;
  uint8_t *l4 = ip + ihl, *a = ip + (src ? 12 : 16);
  uint8_t proto = ip[9];
  Delta ad;
  ad.add(rd16(a), rd16(addr));
  ad.add(rd16(a + 2), rd16(addr + 2));
  bool ports = proto == kProtoTcp || proto == kProtoUdp;
  uint8_t *pp = nullptr;
  if (port >= 0 && ports) pp = l4 + (src ? 0 : 2);
  else if (port >= 0 && proto == kProtoIcmp) pp = l4 + 4;
  if (pp && pp + 2 > l4 + l4len) pp = nullptr;
  size_t coff = proto == kProtoTcp ? 16 : proto == kProtoUdp ? 6 : proto == kProtoIcmp ? 2 : 0;
  if (coff && coff + 2 <= l4len) {
    if (partial) {
      if (ports) apply_partial(l4 + coff, ad);
    } else {
      Delta d = ports ? ad : Delta{};
      if (pp) d.add(rd16(pp), uint16_t(port));
      apply_full(l4 + coff, d, proto == kProtoUdp, outer);
    }
  }
  if (pp) put16(pp, uint16_t(port), outer);
  put16(a, rd16(addr), outer);
  put16(a + 2, rd16(addr + 2), outer);
  apply_full(ip + 10, ad, false, outer);
}

bool is_icmp_error(uint8_t type) { return type == 3 || type == 4 || type == 11 || type == 12; }  // RFC 792, RFC 1812 §4.3.2

// The NAPT key of a packet: protocol, the port of the given side (TCP, UDP), or the ICMP echo identifier.
struct Key {
  Napt::Proto p;
  uint16_t port;
};

uint32_t addr_of(const uint8_t *p) { return rd32(p); }

// The internal endpoint a quoted IPv4 packet (inside an ICMP error) belongs to, on its `src` side: false when
// it is too short, or not TCP, UDP or an ICMP echo (request when `src`, reply otherwise).
bool quoted_key(const uint8_t *q, size_t qlen, bool src, Key *k) {
  if (qlen < 20 || (q[0] >> 4) != 4) return false;
  size_t ihl = (q[0] & 0x0f) * 4u;
  if (ihl < 20 || qlen < ihl + 8) return false;
  const uint8_t *l4 = q + ihl;
  if (q[9] == kProtoTcp || q[9] == kProtoUdp) {
    *k = {q[9] == kProtoTcp ? Napt::kTcp : Napt::kUdp, rd16(l4 + (src ? 0 : 2))};
    return true;
  }
  if (q[9] == kProtoIcmp && l4[0] == (src ? 8 : 0)) {
    *k = {Napt::kIcmp, rd16(l4 + 4)};
    return true;
  }
  return false;
}

// An ICMP error from the LAN (RFC 5508 §4, REQ-4) about a packet we translated in: the quoted packet's destination
// is the internal endpoint; it and the error's own source become the shared address and the mapped port.
bool icmp_error_out(Context &ctx, const Config &cfg, uint8_t *ip, size_t tot) {
  Counters &c = *ctx.counters;
  size_t ihl = (ip[0] & 0x0f) * 4u;
  uint8_t *icmp = ip + ihl, *q = icmp + 8;
  size_t qlen = tot - ihl - 8;
  Key k;
  if (!quoted_key(q, qlen, false, &k)) return c.inc(D_napt_unsupported_proto), false;
  uint16_t ext;
  if (!ctx.shared->napt.find_internal(k.p, addr_of(q + 16), k.port, ctx.now_ms, &ext)) return c.inc(D_napt_no_mapping), false;
  Delta d;
  rewrite(q, qlen - (q[0] & 0x0f) * 4u, false, cfg.lw.ipv4, ext, false, &d);
  apply_full(icmp + 2, d, false, nullptr);
  rewrite(ip, 0, true, cfg.lw.ipv4, -1, false, nullptr);
  return true;
}

// An ICMP error from outside (RFC 5508 §4, REQ-4) about a packet we sent: the quoted packet's source is ours.
bool icmp_error_in(Context &ctx, const Config &cfg, uint8_t *ip, size_t tot) {
  Counters &c = *ctx.counters;
  size_t ihl = (ip[0] & 0x0f) * 4u;
  uint8_t *icmp = ip + ihl, *q = icmp + 8;
  size_t qlen = tot - ihl - 8;
  Key k;
  if (!quoted_key(q, qlen, true, &k)) return c.inc(D_napt_unsupported_proto), false;
  if (memcmp(q + 12, cfg.lw.ipv4, 4) != 0) return c.inc(D_lw_wrong_ipv4), false;
  if (!port_in_set(cfg.lw, k.port)) return c.inc(D_lw_port_out_of_set), false;
  uint32_t addr;
  uint16_t port;
  if (!ctx.shared->napt.inbound(k.p, k.port, 0, false, ctx.now_ms, &addr, &port)) return c.inc(D_napt_no_mapping), false;
  uint8_t a[4];
  wr32(a, addr);
  Delta d;
  rewrite(q, qlen - (q[0] & 0x0f) * 4u, true, a, port, false, &d);
  apply_full(icmp + 2, d, false, nullptr);
  rewrite(ip, 0, false, a, -1, false, nullptr);
  return true;
}

// The key of a LAN packet's source, or false with the drop counted. ICMP errors are handled apart.
bool lan_key(Counters &c, const uint8_t *ip, size_t tot, Key *k, uint8_t *tcp_flags, uint16_t *dport) {
  size_t ihl = (ip[0] & 0x0f) * 4u, l4len = tot - ihl;
  const uint8_t *l4 = ip + ihl;
  *tcp_flags = 0;
  switch (ip[9]) {
    case kProtoTcp:
      if (l4len < 20) return c.inc(D_v4_truncated), false;
      *k = {Napt::kTcp, rd16(l4)};
      *tcp_flags = l4[13];
      *dport = rd16(l4 + 2);
      return true;
    case kProtoUdp:
      if (l4len < 8) return c.inc(D_v4_truncated), false;
      *k = {Napt::kUdp, rd16(l4)};
      *dport = rd16(l4 + 2);
      return true;
    case kProtoIcmp:
      if (l4len < 8) return c.inc(D_v4_truncated), false;
      // RFC 5508 §3: the echo request's identifier is its "port"; a LAN host answering an echo from
      // outside cannot happen (echo requests from outside are not mapped in).
      if (l4[0] != 8) return c.inc(D_napt_unsupported_proto), false;
      *k = {Napt::kIcmp, rd16(l4 + 4)};
      *dport = k->port;
      return true;
    default:
      return c.inc(D_napt_unsupported_proto), false;
  }
}

bool mapped_out(Context &ctx, const Key &k, uint32_t addr, uint8_t flags, uint16_t *ext) {
  switch (ctx.shared->napt.outbound(k.p, addr, k.port, flags, ctx.now_ms, ext)) {
    case Napt::kOk:
      return true;
    case Napt::kNoFreePort:
      return ctx.counters->inc(D_napt_no_free_port), false;
    case Napt::kTableFull:
      return ctx.counters->inc(D_napt_table_full), false;
  }
  return false;
}

}  // namespace

bool lw_outbound(Context &ctx, const Config &cfg, uint8_t *ip, size_t tot, const Offload *in, Sink &out) {
  Counters &c = *ctx.counters;
  bool hairpin = memcmp(ip + 16, cfg.lw.ipv4, 4) == 0;
  bool partial = in && in->partial;
  size_t ihl = (ip[0] & 0x0f) * 4u;
  if (rd16(ip + 6) & 0x1fff) {
    // A non-first fragment carries no ports: only the address changes (its first fragment's transport
    // checksum, updated there, covers the whole datagram). To ourselves it has no mapping to find.
    if (hairpin) return c.inc(D_napt_fragment), false;
    rewrite(ip, 0, true, cfg.lw.ipv4, -1, false, nullptr);
    return true;
  }
  if (ip[9] == kProtoIcmp && tot >= ihl + 8 && is_icmp_error(ip[ihl])) {
    if (hairpin) return c.inc(D_napt_no_mapping), false;
    return icmp_error_out(ctx, cfg, ip, tot);
  }
  Key k;
  uint8_t flags;
  uint16_t dport;
  if (!lan_key(c, ip, tot, &k, &flags, &dport)) return false;
  uint32_t dst_addr = 0;
  uint16_t dst_port = 0;
  if (hairpin) {
    // RFC 4787 REQ-9: to our own shared address, the destination's mapping must exist (an echo request to
    // it has none: nothing inside answers for the address); checked before the source gets a mapping.
    if (k.p == Napt::kIcmp || !port_in_set(cfg.lw, dport) ||
        !ctx.shared->napt.inbound(k.p, dport, flags, true, ctx.now_ms, &dst_addr, &dst_port))
      return c.inc(D_napt_no_mapping), false;
    // A super-packet would go back to the LAN whole: the tun takes only TCPv4 GSO, and hdr_len is unknown here.
    if (in && in->gso_size) return c.inc(D_offload_unsupported), false;
  }
  uint16_t ext;
  if (!mapped_out(ctx, k, rd32(ip + 12), flags, &ext)) return false;
  rewrite(ip, tot - ihl, true, cfg.lw.ipv4, ext, partial, nullptr);
  if (!hairpin) return true;
  // RFC 4787 REQ-9: the receiver sees the sender's external address and port, as from outside.
  uint8_t a[4];
  wr32(a, dst_addr);
  rewrite(ip, tot - ihl, false, a, dst_port, partial, nullptr);
  c.add(T_napt_hairpin);
  out.emit(ip, tot, partial ? in : nullptr);
  return false;
}

bool lw_inbound(Context &ctx, const Config &cfg, uint8_t *ip, size_t tot, bool partial) {
  Counters &c = *ctx.counters;
  if (memcmp(ip + 16, cfg.lw.ipv4, 4) != 0) return c.inc(D_lw_wrong_ipv4), false;
  size_t ihl = (ip[0] & 0x0f) * 4u, l4len = tot - ihl;
  Napt &napt = ctx.shared->napt;
  if (rd16(ip + 6) & 0x1fff) {
    // A later fragment: the internal address its first fragment was translated to (its transport checksum,
    // updated there, covers the whole datagram); never seen or forgotten: dropped.
    uint32_t to;
    if (!napt.frag_find(rd32(ip + 12), rd16(ip + 4), ip[9], ctx.now_ms, &to)) return c.inc(D_napt_fragment), false;
    uint8_t a[4];
    wr32(a, to);
    rewrite(ip, 0, false, a, -1, false, nullptr);
    return true;
  }
  const uint8_t *l4 = ip + ihl;
  Key k;
  uint8_t flags = 0;
  switch (ip[9]) {
    case kProtoTcp:
      if (l4len < 20) return c.inc(D_inner_truncated), false;
      k = {Napt::kTcp, rd16(l4 + 2)};
      flags = l4[13];
      break;
    case kProtoUdp:
      if (l4len < 8) return c.inc(D_inner_truncated), false;
      k = {Napt::kUdp, rd16(l4 + 2)};
      break;
    case kProtoIcmp:
      if (l4len < 8) return c.inc(D_inner_truncated), false;
      if (is_icmp_error(l4[0])) return icmp_error_in(ctx, cfg, ip, tot);
      // RFC 5508 §3: echo replies find their request's mapping by identifier; nothing else from outside
      // (echo requests included) is mapped in.
      if (l4[0] != 0) return c.inc(D_napt_unsupported_proto), false;
      k = {Napt::kIcmp, rd16(l4 + 4)};
      break;
    default:
      return c.inc(D_napt_unsupported_proto), false;
  }
  // RFC 7596 §5.2 / RFC 7597 §8.1: only our port set is ours; anything else on the shared address belongs to
  // another subscriber (or to nobody).
  if (!port_in_set(cfg.lw, k.port)) return c.inc(D_lw_port_out_of_set), false;
  uint32_t addr;
  uint16_t port;
  if (!napt.inbound(k.p, k.port, flags, true, ctx.now_ms, &addr, &port)) return c.inc(D_napt_no_mapping), false;
  if (rd16(ip + 6) & 0x2000) napt.frag_note(rd32(ip + 12), rd16(ip + 4), ip[9], addr, ctx.now_ms);  // MF: more follow
  uint8_t a[4];
  wr32(a, addr);
  rewrite(ip, l4len, false, a, port, partial, nullptr);
  return true;
}

bool lw_verify_quote(Context &ctx, const Config &cfg, const uint8_t *q, size_t qlen) {
  const uint8_t *ip = q + 40;
  size_t n = qlen - 40;
  if (q[6] == kProtoFrag) {
    // Only a first fragment quotes the inner header (RFC 8200 §4.5).
    if (n < 8 || ip[0] != kProtoIpip || (rd16(ip + 2) & 0xfff8) != 0) return false;
    ip += 8, n -= 8;
  } else if (q[6] != kProtoIpip) {
    return false;
  }
  if (n < 20 || (ip[0] >> 4) != 4 || memcmp(ip + 12, cfg.lw.ipv4, 4) != 0) return false;
  Key k;
  if (!quoted_key(ip, n, true, &k)) return false;
  if (k.p == Napt::kIcmp && k.port == probe_port(cfg.lw)) return true;
  return port_in_set(cfg.lw, k.port) && ctx.shared->napt.sent_within(k.p, k.port, ctx.now_ms, kVerifyWindowMs);
}

}  // namespace fw
