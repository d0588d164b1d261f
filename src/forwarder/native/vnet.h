// struct virtio_net_hdr (Virtio 1.1 §5.1.6, <linux/virtio_net.h>, which does not compile as C++: a member
// named `class`), as the tun (IFF_VNET_HDR) and packet sockets (PACKET_VNET_HDR) put it ahead of each
// packet, and its translation to and from our Offload. Native byte order: the tun's and the packet
// socket's legacy little-endian default on the machines we run on.
#pragma once
#include <cstddef>
#include <cstdint>

#include "packet.h"

namespace fw {

struct VnetHdr {
  uint8_t flags;
  uint8_t gso_type;
  uint16_t hdr_len, gso_size, csum_start, csum_offset;
};
static_assert(sizeof(VnetHdr) == 10, "virtio_net_hdr is 10 bytes");

constexpr uint8_t VNET_F_NEEDS_CSUM = 1;
constexpr uint8_t VNET_GSO_NONE = 0, VNET_GSO_TCPV4 = 1, VNET_GSO_ECN = 0x80;

// The offload metadata of a packet that starts `l2` bytes after the frame the header describes (14 on
// an Ethernet packet socket, 0 on the tun): csum_start counts from the frame's start.
inline Offload offload_from_vnet(const VnetHdr &h, size_t l2) {
  Offload off{};
  off.partial = h.flags & VNET_F_NEEDS_CSUM;
  off.csum_start = uint16_t(h.csum_start - l2);
  off.csum_offset = h.csum_offset;
  uint8_t gso = uint8_t(h.gso_type & ~VNET_GSO_ECN);
  if (gso == VNET_GSO_TCPV4) off.gso_size = h.gso_size;
  else off.gso_other = gso != VNET_GSO_NONE;
  return off;
}

}  // namespace fw
