// Byte-order and Internet-checksum helpers shared by the packet stages (packet.cc, lw4o6.cc). RFC 791 / RFC
// 8200 layouts are read big-endian byte by byte: no alignment assumptions.
#pragma once
#include <cstddef>
#include <cstdint>

namespace fw {
namespace wire {

constexpr uint8_t kProtoIcmp = 1, kProtoIpip = 4, kProtoTcp = 6, kProtoUdp = 17, kProtoFrag = 44,
                  kProtoIcmp6 = 58, kProtoSctp = 132;

inline uint16_t rd16(const uint8_t *p) { return uint16_t(p[0] << 8 | p[1]); }
inline uint32_t rd32(const uint8_t *p) { return uint32_t(p[0]) << 24 | p[1] << 16 | p[2] << 8 | p[3]; }
inline void wr16(uint8_t *p, uint16_t v) { p[0] = uint8_t(v >> 8); p[1] = uint8_t(v); }
inline void wr32(uint8_t *p, uint32_t v) { wr16(p, uint16_t(v >> 16)); wr16(p + 2, uint16_t(v)); }

// RFC 1071 one's-complement sum, not yet folded or inverted.
inline uint32_t sum16(const uint8_t *p, size_t n, uint32_t acc = 0) {
  for (; n >= 2; p += 2, n -= 2) acc += rd16(p);
  if (n) acc += uint32_t(p[0]) << 8;
  return acc;
}
inline uint16_t fold(uint32_t acc) {
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return uint16_t(~acc);
}
// RFC 1624 eqn. 3: update a checksum field when one 16-bit word changes from old to neu.
inline void csum_replace(uint8_t *field, uint16_t old, uint16_t neu) {
  uint32_t acc = uint16_t(~rd16(field)) + uint16_t(~old) + neu;
  wr16(field, fold(acc));
}

}  // namespace wire
}  // namespace fw
