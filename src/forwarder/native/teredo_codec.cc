// Mode 'teredo' (issue 22): the Teredo codec, pure functions over byte arrays (teredo.h): addresses (RFC 4380 §4), the
// indicators before the IPv6 packet (§5.1.1), router solicitation and advertisement (§5.2.1), bubbles, echo tests.
#include <cstring>

#include "teredo.h"
#include "wire.h"

namespace fw {
namespace teredo {

using wire::rd16;
using wire::wr16;

void build_address(uint8_t out[16], const Fields &f) {
  memcpy(out, kPrefix, 4);
  memcpy(out + 4, f.server, 4);
  wr16(out + 8, f.flags);
  wr16(out + 10, uint16_t(~f.port));  // RFC 4380 §4: port and address obfuscated (every bit inverted)
  for (int i = 0; i < 4; i++) out[12 + i] = uint8_t(~f.ipv4[i]);
}

bool parse_address(const uint8_t a[16], Fields &f) {
  if (!is_teredo(a)) return false;
  memcpy(f.server, a + 4, 4);
  f.flags = rd16(a + 8);
  f.port = uint16_t(~rd16(a + 10));
  for (int i = 0; i < 4; i++) f.ipv4[i] = uint8_t(~a[12 + i]);
  return true;
}

bool parse_headers(const uint8_t *p, size_t n, Headers &h) {
  size_t off = 0;
  // RFC 4380 §5.1.1: the authentication indicator first, then the origin indication; the IPv6 packet starts with
  // a version nibble of 6, so a zero first byte can only be an indicator.
  if (n - off >= 2 && p[off] == 0 && p[off + 1] == 1) {
    if (n - off < 4) return false;
    h.id_len = p[off + 2];
    h.au_len = p[off + 3];
    size_t len = 4 + size_t(h.id_len) + h.au_len + 8 + 1;
    if (n - off < len) return false;
    h.auth = true;
    memcpy(h.nonce, p + off + 4 + h.id_len + h.au_len, 8);
    h.confirmation = p[off + len - 1];
    off += len;
  }
  if (n - off >= 2 && p[off] == 0 && p[off + 1] == 0) {
    if (n - off < 8) return false;
    h.origin = true;
    h.origin_port = uint16_t(~rd16(p + off + 2));
    for (int i = 0; i < 4; i++) h.origin_ipv4[i] = uint8_t(~p[off + 4 + i]);
    off += 8;
  }
  if (n - off >= 1 && p[off] == 0) return false;  // another indicator, or one out of order
  h.ipv6_offset = off;
  return true;
}

bool whole_ipv6(const uint8_t *p, size_t n) { return n >= 40 && (p[0] >> 4) == 6 && size_t(rd16(p + 4)) + 40 == n; }

void rs_source(uint8_t out[16], bool cone) {
  static const uint8_t kLl[16] = {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  memcpy(out, kLl, 16);
  if (cone) out[8] = 0x80;
}

void icmp6_checksum(uint8_t *ip6, size_t n) {
  size_t plen = n - 40;
  ip6[42] = ip6[43] = 0;
  uint32_t acc = wire::sum16(ip6 + 8, 32);  // source and destination
  acc += uint32_t(plen >> 16) + uint32_t(plen & 0xffff) + wire::kProtoIcmp6;
  acc = wire::sum16(ip6 + 40, plen, acc);
  wr16(ip6 + 42, wire::fold(acc));
}

static void ipv6_header(uint8_t *out, uint16_t plen, uint8_t next, uint8_t hops, const uint8_t src[16], const uint8_t dst[16]) {
  memset(out, 0, 8);
  out[0] = 0x60;
  wr16(out + 4, plen);
  out[6] = next;
  out[7] = hops;
  memcpy(out + 8, src, 16);
  memcpy(out + 24, dst, 16);
}

size_t build_rs(uint8_t *out, const uint8_t nonce[8], bool cone) {
  // Authentication indicator, no client ID and no authentication value (RFC 4380 §5.1.1).
  out[0] = 0, out[1] = 1, out[2] = 0, out[3] = 0;
  memcpy(out + 4, nonce, 8);
  out[12] = 0;
  uint8_t *ip6 = out + 13;
  static const uint8_t kAllRouters[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
  uint8_t src[16];
  rs_source(src, cone);
  ipv6_header(ip6, 24, wire::kProtoIcmp6, 255, src, kAllRouters);
  uint8_t *rs = ip6 + 40;
  memset(rs, 0, 24);
  rs[0] = 133;  // router solicitation (RFC 4861 §4.1)
  rs[8] = 1;    // source link-layer address option, 16 bytes, zero (what miredo and Windows send)
  rs[9] = 2;
  icmp6_checksum(ip6, 64);
  return 13 + 64;
}

bool parse_ra(const uint8_t *ip6, size_t n, bool cone, uint8_t prefix[8], uint32_t *mtu) {
  uint8_t dst[16];
  rs_source(dst, cone);
  if (n < 40 + 16 || ip6[6] != wire::kProtoIcmp6 || memcmp(ip6 + 24, dst, 16) != 0) return false;
  const uint8_t *ra = ip6 + 40;
  if (ra[0] != 134 || ra[1] != 0) return false;
  bool have_prefix = false;
  *mtu = 0;
  for (size_t off = 40 + 16; off + 8 <= n;) {
    size_t len = size_t(ip6[off + 1]) * 8;
    if (len == 0 || off + len > n) return false;
    if (ip6[off] == 3) {  // prefix information (RFC 4861 §4.6.2): one, of length 64 (RFC 4380 §5.2.1)
      if (len < 32 || ip6[off + 2] != 64 || have_prefix) return false;
      memcpy(prefix, ip6 + off + 16, 8);
      have_prefix = true;
    } else if (ip6[off] == 5) {  // MTU
      *mtu = wire::rd32(ip6 + off + 4);
    }
    off += len;
  }
  return have_prefix;
}

void build_bubble(uint8_t out[40], const uint8_t src[16], const uint8_t dst[16]) {
  ipv6_header(out, 0, 59, 255, src, dst);
}

size_t build_echo(uint8_t *out, const uint8_t src[16], const uint8_t dst[16], uint16_t id, uint16_t seq, const uint8_t nonce[8]) {
  ipv6_header(out, 16, wire::kProtoIcmp6, 64, src, dst);
  uint8_t *e = out + 40;
  e[0] = 128, e[1] = 0;
  wr16(e + 4, id);
  wr16(e + 6, seq);
  memcpy(e + 8, nonce, 8);
  icmp6_checksum(out, 56);
  return 56;
}

}  // namespace teredo
}  // namespace fw
