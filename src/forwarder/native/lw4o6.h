// The lwB4's own stages (RFC 7596): NAPT44 into the binding's port set on the way to the BR, the translation
// back on the way from it, hairpinning, and the check of what an ICMPv6 error from the BR quotes. Called by
// packet.cc in mode 'lw4o6' only; the NAPT table is napt.h.
#pragma once
#include <cstddef>
#include <cstdint>

#include "packet.h"

namespace fw {

// LAN -> BR, a checked IPv4 packet (`tot` bytes; `in` its offload metadata or null): source translated to the
// binding's address and a port of the set (the mapping created if needed). True: go on to encapsulation.
// False: consumed, i.e. hairpinned back to the LAN (RFC 4787 REQ-9) or dropped with its counter.
bool lw_outbound(Context &ctx, const Config &cfg, uint8_t *ip, size_t tot, const Offload *in, Sink &out);

// BR -> LAN, a checked decapsulated IPv4 packet: destination translated back to the internal endpoint (ICMP
// errors: the quoted packet too, RFC 5508 §4, REQ-4). True: write it to the LAN; false: dropped with its counter.
// `partial`: its transport checksum is left to complete (only the pseudo-header part is updated).
bool lw_inbound(Context &ctx, const Config &cfg, uint8_t *ip, size_t tot, bool partial);

// Whether an ICMPv6 error's quote `q` (qlen bytes: IPv6 softwire -> BR carrying IPv4, possibly a first
// fragment) is a packet we sent recently: inner source the binding's address, a port or ICMP id of the set
// whose mapping sent within the last 30 s, or the echo probe's id.
bool lw_verify_quote(Context &ctx, const Config &cfg, const uint8_t *q, size_t qlen);

}  // namespace fw
