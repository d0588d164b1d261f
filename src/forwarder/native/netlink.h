// Small rtnetlink request helpers shared by the egress resolver and the ingress link (RFC 3549 message
// format: nlmsghdr, a family header, then type-length-value attributes, nestable).
#pragma once
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace fw {

// Appends one attribute to the request `n` (of `cap` bytes); too little room leaves it unchanged.
inline rtattr *add_attr(nlmsghdr *n, size_t cap, uint16_t type, const void *data, size_t len) {
  size_t off = NLMSG_ALIGN(n->nlmsg_len);
  if (off + RTA_SPACE(len) > cap) return nullptr;
  rtattr *a = reinterpret_cast<rtattr *>(reinterpret_cast<uint8_t *>(n) + off);
  a->rta_type = type;
  a->rta_len = uint16_t(RTA_LENGTH(len));
  if (len) memcpy(RTA_DATA(a), data, len);
  n->nlmsg_len = uint32_t(off + RTA_SPACE(len));
  return a;
}

// Appends a bare structure (a family header inside a nested attribute, e.g. VETH_INFO_PEER's ifinfomsg).
inline bool append(nlmsghdr *n, size_t cap, const void *data, size_t len) {
  size_t off = NLMSG_ALIGN(n->nlmsg_len);
  if (off + NLMSG_ALIGN(len) > cap) return false;
  memcpy(reinterpret_cast<uint8_t *>(n) + off, data, len);
  n->nlmsg_len = uint32_t(off + NLMSG_ALIGN(len));
  return true;
}

// A nested attribute: begin, add its members, then end() sets its length to cover them.
inline rtattr *begin_nest(nlmsghdr *n, size_t cap, uint16_t type) { return add_attr(n, cap, type, nullptr, 0); }
inline void end_nest(nlmsghdr *n, rtattr *nest) {
  if (nest) nest->rta_len = uint16_t(reinterpret_cast<uint8_t *>(n) + n->nlmsg_len - reinterpret_cast<uint8_t *>(nest));
}

}  // namespace fw
