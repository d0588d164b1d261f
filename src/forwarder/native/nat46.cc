// Mode 'nat46' (issue 23): RFC 7915 translation both ways with the tenant and gateway identifiers of nat46.h, the
// stateful firewall at the owning gateway and the hand-off to peers. Each stage passes the packet on or drops it
// with exactly one named counter (packet.h). Byte offsets are the RFC 791 / RFC 8200 header layouts.
#include "nat46.h"

#include <cstring>

#include "packet.h"
#include "wire.h"

namespace fw {

using namespace wire;

namespace {

constexpr size_t kMinIpv6Mtu = 1280;        // RFC 8200 §5
constexpr size_t kIcmp4ErrorMax = 576;      // RFC 1812 §4.3.2.3
constexpr size_t kDfThreshold = 1260;       // RFC 7915 §5.1: larger translated packets get DF
constexpr uint8_t kProtoHopOpts = 0, kProtoRouting = 43, kProtoDstOpts = 60, kProtoIpv6 = 41;

// The one's-complement sum of a 16-byte address.
uint32_t sum_addr6(const uint8_t *a) { return sum16(a, 16); }
// RFC 1624 eqn. 3 for many words at once: the checksum at `field` when words summing to `old_sum` are replaced
// by words summing to `new_sum` (the pseudo-header of RFC 768 / RFC 9293 for IPv4 vs RFC 8200 §8.1).
void csum_update(uint8_t *field, uint32_t old_sum, uint32_t new_sum) {
  uint32_t acc = uint16_t(~rd16(field)) + uint32_t(fold(old_sum)) + uint16_t(~fold(new_sum));
  wr16(field, fold(acc));
}
uint32_t pseudo6(const uint8_t *src, const uint8_t *dst, uint32_t len, uint8_t next) {
  return sum_addr6(src) + sum_addr6(dst) + (len >> 16) + (len & 0xffff) + next;
}

// Completes a partial transport checksum (checksum offload through the tun) before the headers change.
bool complete_partial(uint8_t *pkt, size_t len, const Offload *in, bool udp) {
  if (!in || !in->partial) return true;
  size_t at = size_t(in->csum_start) + in->csum_offset;
  if (in->csum_start < 20 || at + 2 > len) return false;
  uint16_t v = fold(sum16(pkt + in->csum_start, len - in->csum_start));
  wr16(pkt + at, v == 0 && udp ? 0xffff : v);  // RFC 768: a computed 0 is sent as all ones
  return true;
}

// ---- addresses (nat46.h) ----

// The IPv4 address of an RFC 6052 /96 address of the IPv4 side, or false.
bool from_dst96(const Nat46Config &n, const uint8_t *a, uint8_t v4[4]) {
  if (memcmp(a, n.dst96, 12) != 0) return false;
  memcpy(v4, a + 12, 4);
  return true;
}
enum Owner : int64_t { kNotOurs = -1, kOtherTenant = -2 };
// The gateway ID of an address of the prefix, or kNotOurs (outside the prefix, padding bits set) / kOtherTenant.
int64_t owner(const Nat46Config &n, const uint8_t *a) {
  int p = n.prefix_len, full = p / 8;
  if (memcmp(a, n.own, size_t(full)) != 0) return kNotOurs;
  if (p % 8 && ((a[full] ^ n.own[full]) & uint8_t(0xff00 >> (p % 8)))) return kNotOurs;
  int pad = p + n.tenant_bits + n.gateway_bits;
  for (int bit = pad; bit < 96; bit++)
    if ((a[bit >> 3] >> (7 - (bit & 7))) & 1) return kNotOurs;
  if (n.tenant_bits && addr_bits(a, p, n.tenant_bits) != n.tenant_id) return kOtherTenant;
  return n.gateway_bits ? int64_t(addr_bits(a, p + n.tenant_bits, n.gateway_bits)) : 0;
}
// Whether we serve gateway ID `gw` as our own: ours, or adopted (issue 23 configured adoption).
bool serves(const Nat46Config &n, uint32_t gw) {
  if (gw == n.gateway_id) return true;
  for (int i = 0; i < n.n_adopted; i++)
    if (n.adopted[i].gateway_id == gw) return true;
  return false;
}
// The gateway ID a LAN client's IPv4 leaves with, and in `base` the first 12 bytes of its IPv6 address: an adopted
// gateway's for the clients of that gateway (their addresses stay what they were before it failed), else ours.
uint32_t client_gateway(const Nat46Config &n, const uint8_t *v4, const uint8_t **base) {
  uint32_t a = rd32(v4);
  for (int i = 0; i < n.n_adopted; i++)
    if ((a & n.adopted[i].mask) == n.adopted[i].net) return *base = n.adopted[i].base, n.adopted[i].gateway_id;
  *base = n.own;
  return n.gateway_id;
}
// The IPv4 address of one of our clients' IPv6 addresses (with the gateway ID its IPv4 leaves with), or false.
bool from_client(const Nat46Config &n, const uint8_t *a, uint8_t v4[4]) {
  const uint8_t *base;
  client_gateway(n, a + 12, &base);
  if (memcmp(a, base, 12) != 0) return false;
  memcpy(v4, a + 12, 4);
  return true;
}
void to_client(const Nat46Config &n, const uint8_t *v4, uint8_t *a) {
  const uint8_t *base;
  client_gateway(n, v4, &base);
  memcpy(a, base, 12), memcpy(a + 12, v4, 4);
}
void to_dst96(const Nat46Config &n, const uint8_t *v4, uint8_t *a) { memcpy(a, n.dst96, 12), memcpy(a + 12, v4, 4); }

// ---- ICMP errors we send ourselves ----

// ICMPv4 error (RFC 792) from b4_ipv4 to the source of `ip`, quoting as much as fits 576 bytes (RFC 1812
// §4.3.2.3); none about ICMP errors, non-first fragments or non-unicast sources (RFC 1812 §4.3.2.7).
void send_icmp4(Context &ctx, const Config &cfg, const uint8_t *ip, size_t tot, uint8_t type, uint8_t code,
                uint32_t word, Sink &out) {
  size_t ihl = (ip[0] & 0x0f) * 4u;
  if ((rd16(ip + 6) & 0x1fff) || ip[12] == 0 || ip[12] >= 224) return;
  if (ip[9] == kProtoIcmp && tot > ihl && ip[ihl] != 8 && ip[ihl] != 0) return;
  size_t quote = tot < kIcmp4ErrorMax - 28 ? tot : kIcmp4ErrorMax - 28;
  uint8_t *r = ctx.scratch + kHeadroom;
  memset(r, 0, 28);
  r[0] = 0x45;
  r[1] = 0xc0;  // internetwork control (RFC 1812 §4.3.2.5)
  wr16(r + 2, uint16_t(28 + quote));
  r[8] = 64;
  r[9] = kProtoIcmp;
  memcpy(r + 12, cfg.b4_ipv4, 4);
  memcpy(r + 16, ip + 12, 4);
  wr16(r + 10, fold(sum16(r, 20)));
  r[20] = type, r[21] = code;
  wr32(r + 24, word);
  memcpy(r + 28, ip, quote);
  wr16(r + 22, fold(sum16(r + 20, 8 + quote)));
  out.emit(r, 28 + quote);
  ctx.counters->add(T_icmp4_sent);
}

// ICMPv6 error (RFC 4443 §2.4) from our hand-off address to the source of `v6`, at most 1280 bytes; none about
// ICMPv6 errors or to multicast sources (RFC 4443 §2.4(e)). `word`: the 32 bits after the checksum (the MTU of a
// packet too big, RFC 4443 §3.2).
void send_icmp6(Context &ctx, const Config &cfg, const uint8_t *v6, size_t tot, uint8_t l4proto, const uint8_t *l4,
                uint8_t type, uint8_t code, uint32_t word, Sink &out) {
  if (v6[8] == 0xff || (l4proto == kProtoIcmp6 && l4 && l4[0] < 128)) return;
  size_t quote = tot < kMinIpv6Mtu - 48 ? tot : kMinIpv6Mtu - 48;
  uint8_t *r = ctx.scratch + kHeadroom;
  memset(r, 0, 48);
  wr32(r, 6u << 28);
  wr16(r + 4, uint16_t(8 + quote));
  r[6] = kProtoIcmp6;
  r[7] = uint8_t(cfg.hop_limit);
  memcpy(r + 8, cfg.n46.local, 16);
  memcpy(r + 24, v6 + 8, 16);
  r[40] = type, r[41] = code;
  wr32(r + 44, word);
  memcpy(r + 48, v6, quote);
  wr16(r + 42, fold(sum16(r + 40, 8 + quote, pseudo6(r + 8, r + 24, uint32_t(8 + quote), kProtoIcmp6))));
  out.emit(r, 48 + quote);
  ctx.counters->add(T_icmp6_sent);
}

// ---- IPv4 -> IPv6 (RFC 7915 §4) ----

// The IPv6 header (and a Fragment header when `frag`: RFC 7915 §4.1, identification from the IPv4 ID) for the
// IPv4 header `ip`, at `h`; `h` may overlap `ip`, so every field is read first. Returns 40 or 48.
size_t write_v6_header(uint8_t *h, const uint8_t *ip, uint8_t hop, const uint8_t *src, const uint8_t *dst,
                       size_t payload, bool frag, uint16_t frag_field) {
  uint8_t tos = ip[1], next = ip[9] == kProtoIcmp ? kProtoIcmp6 : ip[9];
  uint16_t id = rd16(ip + 4);
  wr32(h, 6u << 28 | uint32_t(tos) << 20);  // traffic class = TOS; flow label 0 (RFC 7915 §4.1)
  wr16(h + 4, uint16_t(payload + (frag ? 8 : 0)));
  h[6] = frag ? kProtoFrag : next;
  h[7] = hop;
  memcpy(h + 8, src, 16);
  memcpy(h + 24, dst, 16);
  if (!frag) return 40;
  h[40] = next;
  h[41] = 0;
  wr16(h + 42, frag_field);  // offset in 8-byte units in the top 13 bits, M in the lowest
  wr32(h + 44, id);
  return 48;
}

// The transport checksum of a translated datagram's first bytes (`l4`, `n` of them) for its new pseudo-header
// (RFC 7915 §4.5, §5.5): TCP and UDP by the address change, ICMP echo by the type and the pseudo-header ICMPv6
// has and ICMPv4 has not (RFC 4443 §2.3). `to6`: IPv4 -> IPv6. A zero UDP checksum stays zero (the caller
// decides whether that is allowed).
void fix_transport(uint8_t proto, uint8_t *l4, size_t n, uint32_t old_pseudo, uint32_t new_pseudo, bool to6,
                   uint32_t icmp6_pseudo) {
  if (proto == kProtoTcp && n >= 18) return csum_update(l4 + 16, old_pseudo, new_pseudo);
  if (proto == kProtoUdp && n >= 8) {
    if (rd16(l4 + 6) == 0) return;
    csum_update(l4 + 6, old_pseudo, new_pseudo);
    if (rd16(l4 + 6) == 0) wr16(l4 + 6, 0xffff);
    return;
  }
  if ((proto == kProtoIcmp || proto == kProtoIcmp6) && n >= 4) {
    uint16_t old = rd16(l4);
    static const uint8_t k4to6[9] = {129, 0, 0, 0, 0, 0, 0, 0, 128}, k6to4[2] = {8, 0};
    if (to6 && (l4[0] == 8 || l4[0] == 0)) l4[0] = k4to6[l4[0]];
    else if (!to6 && (l4[0] == 128 || l4[0] == 129)) l4[0] = k6to4[l4[0] - 128];
    else return;
    csum_update(l4 + 2, old + (to6 ? 0 : icmp6_pseudo), rd16(l4) + (to6 ? icmp6_pseudo : 0));
  }
}

// RFC 1191 §7 plateau below a datagram of `len` bytes: the MTU of an ICMPv4 fragmentation-needed without one.
uint32_t plateau(uint32_t len) {
  static const uint32_t table[] = {65535, 32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68};
  for (uint32_t t : table)
    if (len > t) return t;
  return 68;
}

// RFC 7915 §4.2: ICMPv4 error type/code/word -> ICMPv6. False: not translated (silently dropped).
bool map_error4(const Config &cfg, const uint8_t *icmp, const uint8_t *quote, uint8_t &t, uint8_t &c, uint32_t &w) {
  uint8_t code = icmp[1];
  w = 0;
  switch (icmp[0]) {
    case 3:
      t = 1;
      switch (code) {
        case 0: case 1: case 5: case 6: case 7: case 8: case 11: case 12: c = 0; return true;
        case 9: case 10: case 13: case 15: c = 1; return true;
        case 3: c = 4; return true;
        case 2: t = 4, c = 1, w = 6; return true;  // pointer to the Next Header field
        case 4: {
          // Packet Too Big: the MTU + 20 (IPv6 vs IPv4 header), within our own IPv6 MTU, never below 1280.
          uint32_t mtu = rd16(icmp + 6);
          if (mtu < 68) mtu = plateau(rd16(quote + 2));
          mtu += 20;
          if (mtu > uint32_t(cfg.n46.ipv6_mtu)) mtu = uint32_t(cfg.n46.ipv6_mtu);
          if (mtu < kMinIpv6Mtu) mtu = kMinIpv6Mtu;
          t = 2, c = 0, w = mtu;
          return true;
        }
        default: return false;  // 14 (host precedence violation) and unknown codes
      }
    case 11: t = 3, c = code; return code <= 1;
    case 12: {
      // RFC 7915 §4.2 Figure 3: the pointer into the IPv4 header -> into the IPv6 header.
      static const int8_t ptr[20] = {0, 1, 4, 4, -1, -1, -1, -1, 7, 6, -1, -1, 8, 8, 8, 8, 24, 24, 24, 24};
      uint8_t p = icmp[4];
      if ((code != 0 && code != 2) || p >= 20 || ptr[p] < 0) return false;
      t = 4, c = 0, w = uint32_t(ptr[p]);
      return true;
    }
    default: return false;  // source quench, redirect, router messages, timestamps, ... (RFC 7915 §4.2)
  }
}

// An ICMPv4 error from the LAN (about a packet that came in from IPv6): rebuilt as ICMPv6 with the quoted packet
// translated too (RFC 7915 §4.3), its addresses the other way round. Outer hop limit already decremented.
void error_4to6(Context &ctx, const Config &cfg, const uint8_t *ip, size_t tot, uint8_t hop, Sink &out) {
  Counters &c = *ctx.counters;
  const Nat46Config &n = cfg.n46;
  size_t ihl = (ip[0] & 0x0f) * 4u, mlen = tot - ihl;
  const uint8_t *icmp = ip + ihl, *q = icmp + 8;
  if (mlen < 8 + 20) return c.inc(D_nat46_untranslatable_icmp);
  if (fold(sum16(icmp, mlen)) != 0) return c.inc(D_nat46_icmp_bad_checksum);
  size_t qlen = mlen - 8, qihl = (q[0] & 0x0f) * 4u;
  if ((q[0] >> 4) != 4 || qihl < 20 || qihl > qlen || rd16(q + 2) < qihl) return c.inc(D_nat46_untranslatable_icmp);
  uint8_t qproto = q[9];
  bool qfirst = (rd16(q + 6) & 0x1fff) == 0, qfrag = (rd16(q + 6) & 0x3fff) != 0;
  if (qproto == kProtoIcmp && qfirst && qlen >= qihl + 1 && q[qihl] != 8 && q[qihl] != 0)
    return c.inc(D_nat46_untranslatable_icmp);  // an error about an error (RFC 7915 §4.3)
  uint8_t t, code;
  uint32_t w;
  if (!map_error4(cfg, icmp, q, t, code, w)) return c.inc(D_nat46_untranslatable_icmp);
  uint8_t *r = ctx.scratch + kHeadroom, src[16], dst[16], qsrc[16], qdst[16];
  to_client(n, ip + 12, src);
  to_dst96(n, ip + 16, dst);
  to_dst96(n, q + 12, qsrc);  // the quoted packet came from the IPv6 side to our client
  to_client(n, q + 16, qdst);
  size_t qplen = rd16(q + 2) - qihl;
  uint16_t qfield = uint16_t((rd16(q + 6) & 0x1fff) << 3 | ((rd16(q + 6) & 0x2000) ? 1 : 0));
  size_t qh = write_v6_header(r + 48, q, q[8], qsrc, qdst, qplen, qfrag, qfield);
  size_t data = qlen - qihl, room = kMinIpv6Mtu - 48 - qh;  // RFC 4443 §2.4(c): the error fits 1280 bytes
  if (data > room) data = room;
  memcpy(r + 48 + qh, q + qihl, data);
  if (qfirst)
    fix_transport(qproto, r + 48 + qh, data, sum16(q + 12, 8), sum_addr6(qsrc) + sum_addr6(qdst), true,
                  pseudo6(qsrc, qdst, uint32_t(qplen), kProtoIcmp6));
  size_t plen = 8 + qh + data;
  write_v6_header(r, ip, hop, src, dst, plen, false, 0);
  r[40] = t, r[41] = code;
  wr16(r + 42, 0);
  wr32(r + 44, w);
  wr16(r + 42, fold(sum16(r + 40, plen, pseudo6(src, dst, uint32_t(plen), kProtoIcmp6))));
  out.emit(r, 40 + plen);
  c.add(T_nat46_4to6);
}

// Fragments of a translated datagram (`l4` the IPv4 payload of `ip`) no larger than the IPv6 MTU
// (RFC 7915 §4.1: DF=0 packets, and fragments, that do not fit).
void fragment_4to6(Context &ctx, const Config &cfg, const uint8_t *ip, const uint8_t *l4, size_t l4len, uint8_t hop,
                   const uint8_t *src, const uint8_t *dst, Sink &out) {
  size_t chunk = (size_t(cfg.n46.ipv6_mtu) - 48) & ~size_t(7);
  size_t base = size_t(rd16(ip + 6) & 0x1fff) * 8;
  bool mf = rd16(ip + 6) & 0x2000;
  uint8_t *f = ctx.scratch + kHeadroom;
  for (size_t off = 0; off < l4len; off += chunk) {
    size_t k = l4len - off < chunk ? l4len - off : chunk;
    bool more = off + k < l4len || mf;
    size_t h = write_v6_header(f, ip, hop, src, dst, k, true, uint16_t((base + off) | (more ? 1 : 0)));
    memcpy(f + h, l4 + off, k);
    out.emit(f, h + k);
    ctx.counters->add(T_tx_fragments);
  }
}

// Whether the IPv4 options hold a loose or strict source route (RFC 791 §3.1: types 131 and 137) with addresses
// left to visit (pointer <= length): RFC 7915 §4.1 says such a packet is not translated. Malformed options end the
// scan (the header checksum passed; the IPv6 packet carries no options either way).
bool unfinished_source_route(const uint8_t *ip, size_t ihl) {
  for (size_t i = 20; i < ihl;) {
    uint8_t type = ip[i];
    if (type == 0) return false;  // end of option list
    if (type == 1) {              // no operation
      i++;
      continue;
    }
    if (i + 1 >= ihl) return false;
    size_t olen = ip[i + 1];
    if (olen < 2 || i + olen > ihl) return false;
    if ((type == 131 || type == 137) && olen >= 3 && ip[i + 2] <= olen) return true;
    i += olen;
  }
  return false;
}

// LAN -> IPv6: an IPv4 packet of one of our clients (RFC 7915 §4).
void to_ipv6(Context &ctx, const Config &cfg, uint8_t *ip, size_t len, const Offload *in, Sink &out) {
  Counters &c = *ctx.counters;
  const Nat46Config &n = cfg.n46;
  if (in && (in->gso_size || in->gso_other)) return c.inc(D_offload_unsupported);
  if (len < 20) return c.inc(D_v4_truncated);
  size_t ihl = (ip[0] & 0x0f) * 4u;
  if (ihl < 20) return c.inc(D_v4_bad_ihl);
  if (ihl > len) return c.inc(D_v4_truncated);
  size_t tot = rd16(ip + 2);
  if (tot < ihl) return c.inc(D_v4_bad_length);
  if (tot > len) return c.inc(D_v4_truncated);
  if (fold(sum16(ip, ihl)) != 0) return c.inc(D_v4_bad_checksum);
  if (!complete_partial(ip, tot, in, ip[9] == kProtoUdp)) return c.inc(D_offload_unsupported);
  uint8_t proto = ip[9];
  // RFC 7915 §4.1 / tayga: IPv6 extension header numbers are not IPv4 protocols to translate.
  if (proto == kProtoHopOpts || proto == kProtoRouting || proto == kProtoFrag || proto == kProtoIcmp6 || proto == kProtoDstOpts)
    return c.inc(D_nat46_unsupported_header);
  uint16_t ff = rd16(ip + 6);
  bool df = ff & 0x4000, fragment = (ff & 0x3fff) != 0, first = (ff & 0x1fff) == 0;
  uint8_t *l4 = ip + ihl;
  size_t l4len = tot - ihl;
  // A fragment with more to come holds a multiple of 8 bytes, and none reaches past 65535 (RFC 791 §3.2).
  if (((ff & 0x2000) && l4len % 8) || size_t(ff & 0x1fff) * 8 + l4len > 65535) return c.inc(D_nat46_unsupported_header);
  bool icmp_error = proto == kProtoIcmp && l4len >= 1 && l4[0] != 8 && l4[0] != 0;
  // A router's TTL rule (RFC 1812 §5.3.1): the translator is a hop, as tayga.
  if (ip[8] <= 1) {
    c.inc(D_nat46_ttl_expired);
    return send_icmp4(ctx, cfg, ip, tot, 11, 0, 0, out);
  }
  uint8_t hop = uint8_t(ip[8] - 1);
  // RFC 7915 §4.1: an unexpired source route is dropped with destination unreachable, source route failed.
  if (ihl > 20 && unfinished_source_route(ip, ihl)) {
    c.inc(D_nat46_source_route);
    return send_icmp4(ctx, cfg, ip, tot, 3, 5, 0, out);
  }
  if (proto == kProtoIcmp) {
    if (fragment || l4len < 8) return c.inc(D_nat46_untranslatable_icmp);  // no checksum over a fragment
    if (icmp_error) return error_4to6(ctx, cfg, ip, tot, hop, out);
  }
  // DF and too big for the IPv6 side (RFC 7915 §4.1): fragmentation needed, with the MTU the IPv4 host must use.
  if (df && !fragment && tot + 20 > size_t(n.ipv6_mtu)) {
    c.inc(D_v4_df_too_big);
    return send_icmp4(ctx, cfg, ip, tot, 3, 4, uint32_t(n.ipv6_mtu - 20), out);
  }
  uint8_t src[16], dst[16];
  const uint8_t *base;
  // Issue 23 adoption: an adopted gateway's client keeps its IPv6 address (the server's flows resume).
  uint32_t gw = client_gateway(n, ip + 12, &base);
  memcpy(src, base, 12), memcpy(src + 12, ip + 12, 4);
  to_dst96(n, ip + 16, dst);
  Nat46Flows::Key k{rd32(ip + 12), gw, rd32(ip + 16), 0, 0, proto};
  uint8_t flags = 0;
  if (first && (proto == kProtoTcp || proto == kProtoUdp)) {
    if (l4len < (proto == kProtoTcp ? 20u : 8u)) return c.inc(D_v4_truncated);
    // RFC 7915 §4.5: a zero UDP checksum could be computed only over a whole unfragmented datagram; dropped.
    if (proto == kProtoUdp && rd16(l4 + 6) == 0) return c.inc(D_nat46_udp_zero_checksum);
    k.cport = rd16(l4), k.rport = rd16(l4 + 2);
    if (proto == kProtoTcp) flags = l4[13];
  }
  if (proto == kProtoIcmp) {
    if (l4[0] == 0) k.proto = 0xff;  // an echo reply opens nothing
    k.cport = rd16(l4 + 4);
  }
  if (first && k.proto != 0xff && !ctx.shared->flows46.open(k, flags, ctx.now_ms)) return c.inc(D_nat46_table_full);
  if (first)
    fix_transport(proto, l4, l4len, sum16(ip + 12, 8), sum_addr6(src) + sum_addr6(dst), true,
                  pseudo6(src, dst, uint32_t(l4len), kProtoIcmp6));
  c.add(T_tx_packets);
  c.add(T_tx_bytes, tot);
  c.add(T_nat46_4to6);
  // Fragment header only for fragments and for DF=0 packets that must be cut (no atomic fragments, RFC 8021).
  if (40 + (fragment ? 8 : 0) + l4len > size_t(n.ipv6_mtu)) return fragment_4to6(ctx, cfg, ip, l4, l4len, hop, src, dst, out);
  uint16_t field = uint16_t((ff & 0x1fff) << 3 | ((ff & 0x2000) ? 1 : 0));
  uint8_t *h = l4 - (fragment ? 48 : 40);
  write_v6_header(h, ip, hop, src, dst, l4len, fragment, field);
  out.emit(h, size_t(l4 - h) + l4len);
}

// ---- IPv6 -> IPv4 (RFC 7915 §5) ----

// Where the upper layer starts: Hop-by-Hop, Destination Options and a Routing header with no segments left are
// skipped (RFC 7915 §5.1), the Fragment header read (§5.1.1). False: dropped (counted by the caller).
struct V6Parse {
  size_t off;        // of the upper-layer header
  uint8_t proto;
  bool frag, mf;
  size_t frag_off;   // bytes
  uint32_t frag_id;
};
bool parse_v6(const uint8_t *v6, size_t end, V6Parse &p) {
  p = V6Parse{40, v6[6], false, false, 0, 0};
  while (p.proto == kProtoHopOpts || p.proto == kProtoRouting || p.proto == kProtoDstOpts) {
    if (p.off + 8 > end) return false;
    size_t hl = (size_t(v6[p.off + 1]) + 1) * 8;
    if (p.off + hl > end || (p.proto == kProtoRouting && v6[p.off + 3] != 0)) return false;
    p.proto = v6[p.off];
    p.off += hl;
  }
  if (p.proto == kProtoFrag) {
    if (p.off + 8 > end) return false;
    const uint8_t *f = v6 + p.off;
    p.frag = true;
    p.proto = f[0];
    p.frag_off = rd16(f + 2) & 0xfff8;
    p.mf = rd16(f + 2) & 1;
    p.frag_id = rd32(f + 4);
    p.off += 8;
  }
  return p.proto != kProtoIcmp && p.proto != kProtoFrag && p.proto != kProtoHopOpts && p.proto != kProtoRouting &&
         p.proto != kProtoDstOpts;
}

// The IPv4 header for a translated IPv6 packet at `h` (RFC 7915 §5.1; §5.1.1 with a Fragment header).
void write_v4_header(uint8_t *h, uint8_t tclass, size_t payload, const V6Parse &p, uint8_t ttl, const uint8_t *src4,
                     const uint8_t *dst4) {
  h[0] = 0x45;
  h[1] = tclass;
  wr16(h + 2, uint16_t(20 + payload));
  if (p.frag) {
    wr16(h + 4, uint16_t(p.frag_id));
    wr16(h + 6, uint16_t((p.mf ? 0x2000 : 0) | p.frag_off >> 3));
  } else {
    wr16(h + 4, 0);
    wr16(h + 6, 20 + payload > kDfThreshold ? 0x4000 : 0);
  }
  h[8] = ttl;
  h[9] = p.proto == kProtoIcmp6 ? kProtoIcmp : p.proto;
  wr16(h + 10, 0);
  memcpy(h + 12, src4, 4);
  memcpy(h + 16, dst4, 4);
  wr16(h + 10, fold(sum16(h, 20)));
}

// The firewall key of a packet between our client and the remote side; `outbound` says which way it goes.
// ICMP: the echo identifier (requests open, replies match). False: no key (truncated).
// `client6`: the client's IPv6 address (its gateway ID is part of the key).
bool flow_key(const Nat46Config &cfg, uint8_t proto, const uint8_t *l4, size_t n, const uint8_t *client6,
              const uint8_t *remote, bool outbound, Nat46Flows::Key &k) {
  uint32_t gw = addr_bits(client6, cfg.prefix_len + cfg.tenant_bits, cfg.gateway_bits);
  k = Nat46Flows::Key{rd32(client6 + 12), gw, rd32(remote), 0, 0, proto == kProtoIcmp6 ? kProtoIcmp : proto};
  if (proto == kProtoTcp || proto == kProtoUdp) {
    if (n < 4) return false;
    k.cport = rd16(l4 + (outbound ? 0 : 2));
    k.rport = rd16(l4 + (outbound ? 2 : 0));
  } else if (proto == kProtoIcmp6 || proto == kProtoIcmp) {
    if (n < 8) return false;
    k.cport = rd16(l4 + 4);
  }
  return true;
}

// RFC 7915 §5.2: ICMPv6 error -> ICMPv4 type/code/word. False: not translated.
bool map_error6(const Config &cfg, const uint8_t *icmp, uint8_t &t, uint8_t &c, uint32_t &w) {
  uint8_t code = icmp[1];
  w = 0;
  switch (icmp[0]) {
    case 1: {
      static const int8_t codes[5] = {1, 10, 1, 1, 3};
      if (code > 4) return false;
      t = 3, c = uint8_t(codes[code]);
      return true;
    }
    case 2: {
      // Fragmentation needed with the MTU minus the header difference, within our own IPv6 MTU.
      uint32_t mtu = rd32(icmp + 4);
      if (mtu < kMinIpv6Mtu) mtu = kMinIpv6Mtu;  // RFC 8200 §5: no IPv6 link is smaller
      if (mtu > uint32_t(cfg.n46.ipv6_mtu)) mtu = uint32_t(cfg.n46.ipv6_mtu);
      t = 3, c = 4, w = mtu - 20;
      return true;
    }
    case 3: t = 11, c = code; return code <= 1;
    case 4: {
      if (code == 1) return t = 3, c = 2, true;  // unrecognized next header -> protocol unreachable
      // RFC 7915 §5.2 Figure 6: the pointer into the IPv6 header -> into the IPv4 header.
      uint32_t p = rd32(icmp + 4);
      static const int8_t ptr[40] = {0, 1, -1, -1, 2, 2, 9, 8, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12,
                                     12, 12, 12, 12, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16};
      if (code != 0 || p >= 40 || ptr[p] < 0) return false;
      t = 12, c = 0, w = uint32_t(ptr[p]) << 24;
      return true;
    }
    default: return false;
  }
}

// An ICMPv6 error for one of our clients: rebuilt as ICMPv4 with the quoted packet translated (RFC 7915 §5.3),
// only if it quotes a packet of a live flow (the firewall). `src4`: the translated outer source.
void error_6to4(Context &ctx, const Config &cfg, const uint8_t *v6, const V6Parse &p, size_t end, const uint8_t *src4,
                const uint8_t *dst4, Sink &out) {
  Counters &c = *ctx.counters;
  const Nat46Config &n = cfg.n46;
  const uint8_t *icmp = v6 + p.off, *q = icmp + 8;
  size_t mlen = end - p.off;
  if (mlen < 8 + 40 || (q[0] >> 4) != 6) return c.inc(D_nat46_untranslatable_icmp);
  if (fold(sum16(icmp, mlen, pseudo6(v6 + 8, v6 + 24, uint32_t(mlen), kProtoIcmp6))) != 0)
    return c.inc(D_nat46_icmp_bad_checksum);
  uint8_t t, code;
  uint32_t w;
  if (!map_error6(cfg, icmp, t, code, w)) return c.inc(D_nat46_untranslatable_icmp);
  V6Parse qp;
  size_t qlen = mlen - 8;
  uint8_t qsrc4[4], qdst4[4];
  // The quote is a packet our client (the error's destination) sent to the IPv4 side.
  if (!parse_v6(q, qlen, qp) || memcmp(q + 8, v6 + 24, 16) != 0 || !from_client(n, q + 8, qsrc4) ||
      !from_dst96(n, q + 24, qdst4))
    return c.inc(D_nat46_untranslatable_icmp);
  if (size_t(rd16(q + 4)) + 40 < qp.off) return c.inc(D_nat46_untranslatable_icmp);
  const uint8_t *ql4 = q + qp.off;
  size_t data = qlen - qp.off;
  bool qfirst = !qp.frag || qp.frag_off == 0;
  if (qp.proto == kProtoIcmp6 && qfirst && data >= 1 && ql4[0] < 128) return c.inc(D_nat46_untranslatable_icmp);
  // Our client sent the quoted packet: it must belong to a flow it opened.
  Nat46Flows::Key k;
  if (!qfirst || !flow_key(n, qp.proto, ql4, data, q + 8, qdst4, true, k) || !ctx.shared->flows46.match(k, 0, false, ctx.now_ms))
    return c.inc(D_nat46_no_flow);
  if (v6[7] <= 1) return c.inc(D_nat46_hop_limit_expired);  // no error about an error (RFC 4443 §2.4(e))
  uint8_t *r = ctx.scratch + kHeadroom;
  if (data > kIcmp4ErrorMax - 48) data = kIcmp4ErrorMax - 48;  // RFC 1812 §4.3.2.3
  size_t qplen = size_t(rd16(q + 4)) + 40 - qp.off;  // the quoted packet's own length, beyond what is quoted
  write_v4_header(r + 28, uint8_t(rd16(q) >> 4), qplen, qp, q[7], qsrc4, qdst4);
  memcpy(r + 48, ql4, data);
  if (qfirst)
    fix_transport(qp.proto, r + 48, data, sum_addr6(q + 8) + sum_addr6(q + 24), sum16(r + 28 + 12, 8), false,
                  pseudo6(q + 8, q + 24, uint32_t(qplen), kProtoIcmp6));
  V6Parse op{p.off, kProtoIcmp, false, false, 0, 0};
  write_v4_header(r, uint8_t(rd16(v6) >> 4), 8 + 20 + data, op, uint8_t(v6[7] - 1), src4, dst4);
  r[20] = t, r[21] = code;
  wr16(r + 22, 0);
  wr32(r + 24, w);
  wr16(r + 22, fold(sum16(r + 20, 28 + data)));
  out.emit(r, 48 + data);
  c.add(T_rx_packets);
  c.add(T_rx_bytes, 48 + data);
  c.add(T_nat46_6to4);
}

// An IPv6 packet for one of our clients (the gateway ID is ours): firewall, then translation (RFC 7915 §5).
void to_ipv4(Context &ctx, const Config &cfg, uint8_t *v6, size_t end, Sink &out) {
  Counters &c = *ctx.counters;
  const Nat46Config &n = cfg.n46;
  V6Parse p;
  // RFC 8200 §4.5: a fragment with more to come holds a multiple of 8 bytes; none (and no IPv4 packet) passes 65535.
  if (!parse_v6(v6, end, p) || (p.frag && p.mf && (end - p.off) % 8 != 0) || p.frag_off + (end - p.off) > 65535 ||
      20 + (end - p.off) > 65535)
    return c.inc(D_nat46_unsupported_header);
  uint8_t *l4 = v6 + p.off;
  size_t l4len = end - p.off;
  bool first = !p.frag || p.frag_off == 0;
  bool icmp = p.proto == kProtoIcmp6;
  if (icmp && (p.frag || l4len < 8)) return c.inc(D_nat46_untranslatable_icmp);
  bool error = icmp && l4[0] < 128;
  uint8_t src4[4], dst4[4];
  memcpy(dst4, v6 + 36, 4);
  // RFC 7915 §5.1 with RFC 6791: an ICMPv6 error from a router of the IPv6 side has no IPv4 address.
  if (!from_dst96(n, v6 + 8, src4)) {
    if (!error) return c.inc(D_nat46_source_not_mapped);
    memcpy(src4, cfg.b4_ipv4, 4);
  }
  if (error) return error_6to4(ctx, cfg, v6, p, end, src4, dst4, out);
  // A flow belongs to the client's IPv6 address: the gateway ID must be the one its IPv4 leaves with (ours, or
  // the adopted one for an adopted gateway's clients), else no client here opened anything to that address.
  if (!from_client(n, v6 + 24, dst4)) return c.inc(D_nat46_no_flow);
  Nat46Flows &flows = ctx.shared->flows46;
  if (first) {
    if (p.proto == kProtoUdp && l4len >= 8 && rd16(l4 + 6) == 0) return c.inc(D_nat46_udp_zero_checksum);
    if (l4len < (p.proto == kProtoTcp ? 20u : p.proto == kProtoUdp ? 8u : 0u)) return c.inc(D_v6_truncated);
    Nat46Flows::Key k;
    // Echo requests from outside match nothing: only replies to our clients' requests pass.
    if (icmp && l4[0] != 129) return c.inc(D_nat46_no_flow);
    if (!flow_key(n, p.proto, l4, l4len, v6 + 24, src4, false, k) ||
        !flows.match(k, p.proto == kProtoTcp ? l4[13] : 0, true, ctx.now_ms))
      return c.inc(D_nat46_no_flow);
    if (p.frag && p.mf) flows.frag_note(rd32(src4), rd32(dst4), p.frag_id, p.proto, ctx.now_ms);
  } else if (!flows.frag_find(rd32(src4), rd32(dst4), p.frag_id, p.proto, ctx.now_ms)) {
    return c.inc(D_nat46_no_flow);
  }
  // A router's hop limit rule (RFC 8200 §3), after the firewall: nothing unsolicited gets an answer.
  if (v6[7] <= 1) {
    c.inc(D_nat46_hop_limit_expired);
    return send_icmp6(ctx, cfg, v6, end, p.proto, icmp ? l4 : nullptr, 3, 0, 0, out);
  }
  uint8_t *h = l4 - 20;
  uint8_t tclass = uint8_t(rd16(v6) >> 4), ttl = uint8_t(v6[7] - 1);
  uint32_t old_pseudo = sum_addr6(v6 + 8) + sum_addr6(v6 + 24);
  uint32_t icmp_pseudo = pseudo6(v6 + 8, v6 + 24, uint32_t(l4len), kProtoIcmp6);
  write_v4_header(h, tclass, l4len, p, ttl, src4, dst4);
  if (first) fix_transport(p.proto, l4, l4len, old_pseudo, sum16(h + 12, 8), false, icmp_pseudo);
  c.add(T_rx_packets);
  c.add(T_rx_bytes, 20 + l4len);
  c.add(T_nat46_6to4);
  out.emit(h, 20 + l4len);
}

// RFC 2473 §3: the IPv6 packet, unchanged, inside an IPv6 header from our hand-off address to the peer's. The
// kernel that routed it into the tun counted the hop already. Traffic class and flow label come from the
// packet (RFC 2473 §5.1, RFC 6437 §3: a tunnel may keep the inner label).
//
// Path MTU (RFC 2473 §7.1): the tunnel packet is 40 bytes longer, so the tunnel MTU is ipv6Mtu - 40. A packet
// above it and above 1280 bytes is dropped (nat46_handoff_too_big) with an ICMPv6 packet too big (RFC 4443
// §3.2) to its source, MTU max(tunnel MTU, 1280); one of at most 1280 bytes that still does not fit (ipv6Mtu
// below 1320) is encapsulated and the tunnel packet cut into fragments of at most ipv6Mtu (RFC 8200 §4.5),
// which the peer reassembles (from_ipv6).
void hand_off(Context &ctx, const Config &cfg, uint8_t *v6, size_t end, const uint8_t *peer, Sink &out) {
  Counters &c = *ctx.counters;
  size_t tunnel_mtu = size_t(cfg.n46.ipv6_mtu) - 40;
  if (end > tunnel_mtu && end > kMinIpv6Mtu) {
    c.inc(D_nat46_handoff_too_big);
    // No error about an ICMPv6 error (RFC 4443 §2.4(e)); one whose upper layer cannot be found gets none either.
    V6Parse p;
    if (!parse_v6(v6, end, p)) return;
    bool first = !p.frag || p.frag_off == 0;
    uint32_t mtu = uint32_t(tunnel_mtu > kMinIpv6Mtu ? tunnel_mtu : kMinIpv6Mtu);
    return send_icmp6(ctx, cfg, v6, end, p.proto, first && p.off < end ? v6 + p.off : nullptr, 2, 0, mtu, out);
  }
  uint32_t head = rd32(v6);
  auto outer = [&](uint8_t *h, size_t payload, uint8_t next) {
    wr32(h, head);
    wr16(h + 4, uint16_t(payload));
    h[6] = next;
    h[7] = uint8_t(cfg.hop_limit);
    memcpy(h + 8, cfg.n46.local, 16);
    memcpy(h + 24, peer, 16);
  };
  c.add(T_nat46_handed_off);
  if (end <= tunnel_mtu) {
    outer(v6 - 40, end, kProtoIpv6);
    return out.emit(v6 - 40, end + 40);
  }
  size_t chunk = (tunnel_mtu - 8) & ~size_t(7);
  uint32_t id = ctx.shared->frag_id.fetch_add(1, std::memory_order_relaxed);
  uint8_t *f = ctx.scratch + kHeadroom;
  for (size_t off = 0; off < end; off += chunk) {
    size_t k = end - off < chunk ? end - off : chunk;
    outer(f, 8 + k, kProtoFrag);
    f[40] = kProtoIpv6;
    f[41] = 0;
    wr16(f + 42, uint16_t(off | (off + k < end ? 1 : 0)));  // offset in 8-byte units (top 13 bits), M
    wr32(f + 44, id);
    memcpy(f + 48, v6 + off, k);
    out.emit(f, 48 + k);
    c.add(T_tx_fragments);
  }
}

// ---- the hand-off address's own ICMPv6 (RFC 4443 §4) ----

// An ICMPv6 echo to or from the hand-off address. A request is answered (RFC 4443 §4.1: every node has an echo
// responder): the peers probe this address to learn that our translator is alive (issue 23, adoption when a peer
// fails: src/dslite/nat46.ts), and an operator's ping does the same. A reply completes one of our probes of a peer
// (echo.h, the peer's address as the probe's `aftr`; consumed). False: neither (counted by the caller).
bool local_icmp6(Context &ctx, const Config &cfg, uint8_t *v6, size_t end, Sink &out) {
  Counters &c = *ctx.counters;
  if (v6[6] != kProtoIcmp6 || end < 48) return false;
  uint8_t *icmp = v6 + 40;
  uint32_t n = uint32_t(end - 40);
  if (fold(sum16(icmp, n, pseudo6(v6 + 8, v6 + 24, n, kProtoIcmp6))) != 0) return false;
  if (icmp[0] == 129 && icmp[1] == 0 && rd16(icmp + 4) == ctx.shared->probes.id()) {
    static const uint8_t kNoIpv4[4] = {};
    if (!ctx.shared->probes.reply(rd16(icmp + 6), v6 + 8, kNoIpv4, kNoIpv4)) return false;
    return c.add(T_echo_replies), true;
  }
  // Never to a multicast source (RFC 4443 §4.1 answers unicast requests from unicast addresses).
  if (icmp[0] != 128 || icmp[1] != 0 || v6[8] == 0xff) return false;
  uint8_t from[16];
  memcpy(from, v6 + 8, 16);
  memcpy(v6 + 8, cfg.n46.local, 16);
  memcpy(v6 + 24, from, 16);
  v6[7] = uint8_t(cfg.hop_limit);
  icmp[0] = 129;  // identifier, sequence number and data unchanged (RFC 4443 §4.2)
  wr16(icmp + 2, 0);
  wr16(icmp + 2, fold(sum16(icmp, n, pseudo6(v6 + 8, v6 + 24, n, kProtoIcmp6))));
  out.emit(v6, end);
  return c.add(T_echo_answered), true;
}

const Nat46Peer *find_peer(const Nat46Config &n, uint32_t gw) {
  for (int i = 0; i < n.n_peers; i++)
    if (n.peers[i].gateway_id == gw) return &n.peers[i];
  return nullptr;
}

// An IPv6 packet routed into the tun: for our prefix, or handed off to us. `handed`: it came from a peer.
void from_ipv6(Context &ctx, const Config &cfg, uint8_t *v6, size_t len, bool handed, Sink &out) {
  Counters &c = *ctx.counters;
  const Nat46Config &n = cfg.n46;
  if (len < 40) return c.inc(handed ? D_nat46_handoff_bad_inner : D_v6_truncated);
  size_t end = 40 + size_t(rd16(v6 + 4));
  if (end > len || (v6[0] >> 4) != 6) return c.inc(handed ? D_nat46_handoff_bad_inner : D_v6_truncated);
  if (memcmp(v6 + 24, n.local, 16) == 0) {
    // A hand-off, or a fragment of one (RFC 2473 §7.1: the peer cut a tunnel packet that did not fit).
    bool frag = v6[6] == kProtoFrag && end >= 48 && v6[40] == kProtoIpv6;
    if (!handed && local_icmp6(ctx, cfg, v6, end, out)) return;
    if (handed || (v6[6] != kProtoIpv6 && !frag)) return c.inc(D_nat46_to_local);
    bool peer = false;
    for (int i = 0; i < n.n_peers && !peer; i++) peer = memcmp(n.peers[i].addr, v6 + 8, 16) == 0;
    if (!peer) return c.inc(D_nat46_handoff_not_peer);
    uint8_t *inner = v6 + 40;
    size_t inner_len = end - 40;
    // The exit point reassembles (RFC 2473 §7.1, RFC 8200 §4.5); until the last fragment nothing is counted.
    if (frag && !(inner = reassemble(ctx, v6, end - 40, &inner_len))) return;
    c.add(T_nat46_handoff_received);
    return from_ipv6(ctx, cfg, inner, inner_len, true, out);
  }
  int64_t gw = owner(n, v6 + 24);
  if (gw == kNotOurs) return c.inc(D_nat46_not_ours);
  if (gw == kOtherTenant) return c.inc(D_nat46_other_tenant);
  // Ours or adopted (issue 23 configured adoption: served as ours, never handed off, even to a peer configured
  // with that gateway ID, which is the one that failed).
  if (serves(n, uint32_t(gw))) return to_ipv4(ctx, cfg, v6, end, out);
  // Claim 1: another gateway's client. Only once: what a peer handed us is never handed on (no loops).
  if (handed) return c.inc(D_nat46_handoff_loop);
  const Nat46Peer *peer = find_peer(n, uint32_t(gw));
  if (!peer) return c.inc(D_nat46_unknown_gateway);
  hand_off(ctx, cfg, v6, end, peer->addr, out);
}

}  // namespace

size_t nat46_echo_request(const Config &cfg, const uint8_t to[16], uint16_t id, uint16_t seq, uint8_t *out) {
  memset(out, 0, 48);
  wr32(out, 6u << 28);
  wr16(out + 4, 8);
  out[6] = kProtoIcmp6;
  out[7] = uint8_t(cfg.hop_limit);
  memcpy(out + 8, cfg.n46.local, 16);
  memcpy(out + 24, to, 16);
  out[40] = 128;
  wr16(out + 44, id);
  wr16(out + 46, seq);
  wr16(out + 42, fold(sum16(out + 40, 8, pseudo6(out + 8, out + 24, 8, kProtoIcmp6))));
  return 48;
}

void nat46_packet(Context &ctx, const Config &cfg, uint8_t *pkt, size_t len, const Offload *in, Sink &out) {
  Counters &c = *ctx.counters;
  if (len == 0) return c.inc(D_unknown_version);
  if ((pkt[0] >> 4) == 4) return to_ipv6(ctx, cfg, pkt, len, in, out);
  if ((pkt[0] >> 4) != 6) return c.inc(D_unknown_version);
  if (in && (in->gso_size || in->gso_other)) return c.inc(D_offload_unsupported);
  if (in && in->partial && len >= 40) {
    V6Parse p;
    if (!parse_v6(pkt, len, p) || !complete_partial(pkt, len, in, p.proto == kProtoUdp)) return c.inc(D_offload_unsupported);
  }
  from_ipv6(ctx, cfg, pkt, len, false, out);
}

}  // namespace fw
