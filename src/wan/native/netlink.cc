// N-API addon `netlink`: synchronous IPv4 route and address changes over rtnetlink (RFC 3549 §3.1.1,
// rtnetlink(7), netlink(7)), so the failover switches the default route without starting `ip` processes.
// Plain C N-API, no libraries. Each call opens its own NETLINK_ROUTE socket (no state shared between the
// threads or environments that may load the addon), sends one request with NLM_F_ACK and reads the
// kernel's answer, waiting at most TIMEOUT_MS. Functions (arguments checked here; see src/wan/netlink.ts):
//   routeReplace({ dst, dev, gateway?, src?, mtu?, table?, metric? })   RTM_NEWROUTE, CREATE|REPLACE
//   routeDelete({ dst, dev, gateway?, table?, metric? })                RTM_DELROUTE
//   addrReplace({ dev, address, prefixLen, broadcast? })                RTM_NEWADDR, CREATE|REPLACE
//   addrDelete({ dev, address, prefixLen })                             RTM_DELADDR
//   routeGet(dst) -> { dev, gateway?, src? }                             RTM_GETROUTE
//   udpSocket(dev, port) -> fd                                            a UDP socket bound to dev (below)
//   packetSocket(dev) -> { fd, ifindex }                                  a send-only AF_PACKET socket (below)
//   packetSend(fd, ifindex, ipPacket)                                     one IPv4 packet to the link broadcast
// A failure throws an Error whose message names the operation, its arguments, the kernel's errno text and
// the kernel's extended-ack text when it gives one; `code` is the errno name (ENETUNREACH, ...).
#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <node_api.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

namespace {

constexpr int TIMEOUT_MS = 1000;  // a request the kernel never answers must not hang the event loop
constexpr uint32_t NO_VALUE = UINT32_MAX;

// An error to throw: the message and the errno name (empty: a TypeError about the arguments).
struct Failure {
  std::string message;
  std::string code;
};

std::string errno_name(int e) {
  const char *name = strerrorname_np(e);
  return name ? name : "E" + std::to_string(e);
}

std::string errno_text(int e) { return std::string(strerror(e)) + " (" + errno_name(e) + ")"; }

// ---- request building ---------------------------------------------------------------------------------

struct Request {
  alignas(NLMSG_ALIGNTO) unsigned char buf[512];
  nlmsghdr *hdr() { return reinterpret_cast<nlmsghdr *>(buf); }
  void *body() { return NLMSG_DATA(hdr()); }

  Request(uint16_t type, uint16_t flags, size_t body_len) {
    std::memset(buf, 0, sizeof buf);
    hdr()->nlmsg_len = NLMSG_LENGTH(body_len);
    hdr()->nlmsg_type = type;
    hdr()->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
  }
  // Appends one attribute (RFC 3549 §2.3.2: type-length-value, 4-byte aligned); returns it for nesting.
  rtattr *add(uint16_t type, const void *data, size_t len) {
    rtattr *a = reinterpret_cast<rtattr *>(buf + NLMSG_ALIGN(hdr()->nlmsg_len));
    a->rta_type = type;
    a->rta_len = RTA_LENGTH(len);
    if (len) std::memcpy(RTA_DATA(a), data, len);
    hdr()->nlmsg_len = NLMSG_ALIGN(hdr()->nlmsg_len) + RTA_ALIGN(a->rta_len);
    return a;
  }
  rtattr *add_u32(uint16_t type, uint32_t v) { return add(type, &v, sizeof v); }
  void end_nest(rtattr *nest) { nest->rta_len = buf + hdr()->nlmsg_len - reinterpret_cast<unsigned char *>(nest); }
};

// ---- one exchange with the kernel ---------------------------------------------------------------------

class Socket {
 public:
  Socket() : fd_(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE)) {}
  ~Socket() {
    if (fd_ >= 0) close(fd_);
  }
  int fd() const { return fd_; }

 private:
  int fd_;
};

int64_t now_ms() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

// The kernel's extended-ack message (netlink(7), NETLINK_EXT_ACK) after an NLMSG_ERROR, if any.
std::string ext_ack_text(const nlmsghdr *h) {
  if (!(h->nlmsg_flags & NLM_F_ACK_TLVS)) return "";
  const nlmsgerr *err = static_cast<const nlmsgerr *>(NLMSG_DATA(h));
  size_t off = sizeof(nlmsgerr);
  if (!(h->nlmsg_flags & NLM_F_CAPPED)) off += err->msg.nlmsg_len - sizeof(nlmsghdr);
  size_t payload = h->nlmsg_len - NLMSG_HDRLEN;
  if (off > payload) return "";
  const unsigned char *p = static_cast<const unsigned char *>(NLMSG_DATA(h)) + NLMSG_ALIGN(off);
  int left = int(payload) - int(NLMSG_ALIGN(off));
  for (const rtattr *a = reinterpret_cast<const rtattr *>(p); RTA_OK(a, left); a = RTA_NEXT(a, left))
    if (a->rta_type == NLMSGERR_ATTR_MSG) return std::string(static_cast<const char *>(RTA_DATA(a)), strnlen(static_cast<const char *>(RTA_DATA(a)), RTA_PAYLOAD(a)));
  return "";
}

// Sends `req` and waits for its answer: the ack (an NLMSG_ERROR with error 0), an error, or, for a
// request without NLM_F_ACK semantics such as RTM_GETROUTE, the reply message copied into `reply`.
bool exchange(Request &req, const std::string &what, Failure &fail, std::string *reply = nullptr) {
  static std::atomic<uint32_t> next_seq{1};
  Socket s;
  if (s.fd() < 0) return fail = {what + ": netlink socket: " + errno_text(errno), errno_name(errno)}, false;
  int one = 1;
  setsockopt(s.fd(), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);  // the kernel says why (4.12+)
  setsockopt(s.fd(), SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);  // errors without our request echoed
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  uint32_t seq = next_seq.fetch_add(1);
  req.hdr()->nlmsg_seq = seq;
  ssize_t n;
  do n = sendto(s.fd(), req.buf, req.hdr()->nlmsg_len, 0, reinterpret_cast<sockaddr *>(&kernel), sizeof kernel);
  while (n < 0 && errno == EINTR);
  if (n < 0) return fail = {what + ": netlink send: " + errno_text(errno), errno_name(errno)}, false;

  const int64_t deadline = now_ms() + TIMEOUT_MS;
  alignas(NLMSG_ALIGNTO) unsigned char buf[16384];
  for (;;) {
    int64_t left = deadline - now_ms();
    if (left <= 0) break;
    timeval tv{time_t(left / 1000), suseconds_t(left % 1000 * 1000)};
    setsockopt(s.fd(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_nl from{};
    socklen_t fromlen = sizeof from;
    n = recvfrom(s.fd(), buf, sizeof buf, 0, reinterpret_cast<sockaddr *>(&from), &fromlen);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n < 0) return fail = {what + ": netlink receive: " + errno_text(errno), errno_name(errno)}, false;
    if (from.nl_pid != 0) continue;  // only the kernel answers
    int len = int(n);
    for (nlmsghdr *h = reinterpret_cast<nlmsghdr *>(buf); NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_seq != seq) continue;  // not ours (cannot happen on a fresh socket; cheap to check)
      if (h->nlmsg_type == NLMSG_ERROR) {
        if (h->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr))) return fail = {what + ": truncated netlink error", "EPROTO"}, false;
        int e = -static_cast<const nlmsgerr *>(NLMSG_DATA(h))->error;
        if (e == 0) {
          if (reply) return fail = {what + ": the kernel acknowledged without a reply", "EPROTO"}, false;
          return true;
        }
        std::string ext = ext_ack_text(h);
        return fail = {what + ": " + errno_text(e) + (ext.empty() ? "" : ": " + ext), errno_name(e)}, false;
      }
      if (reply) {
        reply->assign(reinterpret_cast<const char *>(h), h->nlmsg_len);
        return true;  // RTM_GETROUTE answers once; the ack that may follow is not needed
      }
    }
  }
  return fail = {what + ": no answer from the kernel within " + std::to_string(TIMEOUT_MS) + " ms", "ETIMEDOUT"}, false;
}

// ---- argument reading ---------------------------------------------------------------------------------

struct Args {
  napi_env env;
  napi_value obj;
  std::string op;
  Failure *fail;

  bool type_error(const std::string &m) {
    *fail = {op + ": " + m, ""};
    return false;
  }
  bool str(const char *key, std::string &out, bool required) {
    napi_value v;
    napi_valuetype t;
    if (napi_get_named_property(env, obj, key, &v) != napi_ok || napi_typeof(env, v, &t) != napi_ok) return type_error("cannot read " + std::string(key));
    if (t == napi_undefined && !required) return true;
    if (t != napi_string) return type_error(std::string(key) + " must be a string");
    char tmp[128];
    size_t len;
    if (napi_get_value_string_utf8(env, v, tmp, sizeof tmp, &len) != napi_ok || len >= sizeof tmp - 1) return type_error(std::string(key) + " is too long");
    out.assign(tmp, len);
    return true;
  }
  // An optional integer in [0, max]; NO_VALUE when absent.
  bool u32(const char *key, uint32_t &out, uint32_t max) {
    out = NO_VALUE;
    napi_value v;
    napi_valuetype t;
    if (napi_get_named_property(env, obj, key, &v) != napi_ok || napi_typeof(env, v, &t) != napi_ok) return type_error("cannot read " + std::string(key));
    if (t == napi_undefined) return true;
    double d;
    if (t != napi_number || napi_get_value_double(env, v, &d) != napi_ok || d != double(int64_t(d)) || d < 0 || d > max)
      return type_error(std::string(key) + " must be an integer from 0 to " + std::to_string(max));
    out = uint32_t(d);
    return true;
  }
  bool ipv4(const char *key, in_addr &out, bool required, bool &present) {
    std::string s;
    if (!str(key, s, required)) return false;
    present = !s.empty() || required;
    if (!present) return true;
    if (inet_pton(AF_INET, s.c_str(), &out) != 1) return type_error(std::string(key) + " \"" + s + "\" is not an IPv4 address");
    return true;
  }
  // The interface `name` by index (if_nametoindex(3)); a missing one fails like the kernel would.
  bool ifindex(const std::string &name, uint32_t &out) {
    out = if_nametoindex(name.c_str());
    if (out == 0) {
      *fail = {op + ": device \"" + name + "\": " + errno_text(ENODEV), "ENODEV"};
      return false;
    }
    return true;
  }
};

// "0.0.0.0/0", "default", "a.b.c.d/len" or "a.b.c.d" (a /32); or an IPv6 prefix ("2001:db8::1/128", or an
// address alone for a /128), which sets `family` to AF_INET6 (the lwB4 address routed into the tun).
bool parse_prefix(Args &a, const std::string &s, int &family, uint8_t *addr, uint8_t &len) {
  std::string host = s == "default" ? "0.0.0.0/0" : s;
  family = host.find(':') != std::string::npos ? AF_INET6 : AF_INET;
  int max = family == AF_INET6 ? 128 : 32;
  size_t slash = host.find('/');
  int l = max;
  if (slash != std::string::npos) {
    std::string ls = host.substr(slash + 1);
    if (ls.empty() || ls.size() > 3 || ls.find_first_not_of("0123456789") != std::string::npos || (l = std::stoi(ls)) > max)
      return a.type_error("dst \"" + s + "\": bad prefix length");
    host.resize(slash);
  }
  if (inet_pton(family, host.c_str(), addr) != 1) return a.type_error("dst \"" + s + "\" is not an IPv4 or IPv6 prefix");
  len = uint8_t(l);
  return true;
}

// ---- the operations -----------------------------------------------------------------------------------

struct RouteArgs {
  std::string dst_text, dev;
  int family = AF_INET;
  uint8_t dst[16]{};
  in_addr gateway{}, src{};
  uint8_t dst_len = 0;
  uint32_t oif = 0, mtu = NO_VALUE, table = NO_VALUE, metric = NO_VALUE;
  bool has_gateway = false, has_src = false;
};

bool read_route(Args &a, RouteArgs &r, bool replace) {
  if (!a.str("dst", r.dst_text, true) || !parse_prefix(a, r.dst_text, r.family, r.dst, r.dst_len)) return false;
  if (!a.ipv4("gateway", r.gateway, false, r.has_gateway)) return false;
  // IPv6 destinations are routes onto a link (the tun) only: no IPv4 gateway, source or MTU for them.
  if (r.family == AF_INET6 && r.has_gateway) return a.type_error("gateway: only for an IPv4 dst");
  if (!a.u32("table", r.table, UINT32_MAX - 1) || !a.u32("metric", r.metric, UINT32_MAX - 1)) return false;
  // src and mtu are not part of the key: routeDelete ignores them, so the object given to routeReplace
  // deletes that route.
  if (replace && (!a.ipv4("src", r.src, false, r.has_src) || !a.u32("mtu", r.mtu, 65535))) return false;
  if (r.family == AF_INET6 && r.has_src) return a.type_error("src: only for an IPv4 dst");
  // The description in errors reads like the ip(8) command it replaces.
  std::string d = r.dst_text;
  if (r.has_gateway) {
    char g[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &r.gateway, g, sizeof g);
    d += std::string(" via ") + g;
  }
  a.op += " " + d;
  if (!a.str("dev", r.dev, true)) return false;
  a.op += " dev " + r.dev;
  return a.ifindex(r.dev, r.oif);
}

void add_route_key(Request &q, rtmsg *rt, const RouteArgs &r) {
  rt->rtm_family = uint8_t(r.family);
  rt->rtm_dst_len = r.dst_len;
  uint32_t table = r.table == NO_VALUE ? RT_TABLE_MAIN : r.table;
  rt->rtm_table = uint8_t(table < 256 ? table : uint32_t(RT_TABLE_UNSPEC));  // RTA_TABLE carries the full id
  q.add_u32(RTA_TABLE, table);
  if (r.dst_len) q.add(RTA_DST, r.dst, r.family == AF_INET6 ? 16 : 4);
  q.add_u32(RTA_OIF, r.oif);
  if (r.has_gateway) q.add(RTA_GATEWAY, &r.gateway, 4);
  if (r.metric != NO_VALUE) q.add_u32(RTA_PRIORITY, r.metric);
}

bool route_replace(Args &a) {
  RouteArgs r;
  if (!read_route(a, r, true)) return false;
  Request q(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, sizeof(rtmsg));
  rtmsg *rt = static_cast<rtmsg *>(q.body());
  rt->rtm_protocol = RTPROT_STATIC;
  // Without a gateway the destination is on the link (a tun, a point-to-point WAN), as ip(8) does; IPv6 routes
  // are always of universe scope (the kernel refuses others).
  rt->rtm_scope = r.has_gateway || r.family == AF_INET6 ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
  rt->rtm_type = RTN_UNICAST;
  add_route_key(q, rt, r);
  if (r.has_src) q.add(RTA_PREFSRC, &r.src, 4);
  if (r.mtu != NO_VALUE) {
    rtattr *m = q.add(RTA_METRICS, nullptr, 0);
    q.add_u32(RTAX_MTU, r.mtu);
    q.end_nest(m);
  }
  return exchange(q, a.op, *a.fail);
}

bool route_delete(Args &a) {
  RouteArgs r;
  if (!read_route(a, r, false)) return false;
  Request q(RTM_DELROUTE, 0, sizeof(rtmsg));
  rtmsg *rt = static_cast<rtmsg *>(q.body());
  rt->rtm_scope = RT_SCOPE_NOWHERE;  // any scope, protocol and type: only the key given selects the route
  add_route_key(q, rt, r);
  return exchange(q, a.op, *a.fail);
}

bool addr_change(Args &a, bool replace) {
  std::string dev, addr_text;
  in_addr addr{}, brd{};
  bool present, has_brd = false;
  uint32_t plen, oif;
  if (!a.ipv4("address", addr, true, present) || !a.u32("prefixLen", plen, 32)) return false;
  if (plen == NO_VALUE) return a.type_error("prefixLen is required");
  if (replace && !a.ipv4("broadcast", brd, false, has_brd)) return false;  // not part of the key: ignored by delete
  if (!a.str("address", addr_text, true) || !a.str("dev", dev, true)) return false;
  a.op += " " + addr_text + "/" + std::to_string(plen) + " dev " + dev;
  if (!a.ifindex(dev, oif)) return false;
  Request q(replace ? RTM_NEWADDR : RTM_DELADDR, replace ? NLM_F_CREATE | NLM_F_REPLACE : 0, sizeof(ifaddrmsg));
  ifaddrmsg *ifa = static_cast<ifaddrmsg *>(q.body());
  ifa->ifa_family = AF_INET;
  ifa->ifa_prefixlen = uint8_t(plen);
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  ifa->ifa_index = oif;
  // IFA_LOCAL is the interface's address; IFA_ADDRESS the same on a broadcast link (rtnetlink(7)).
  q.add(IFA_LOCAL, &addr, 4);
  q.add(IFA_ADDRESS, &addr, 4);
  if (has_brd) q.add(IFA_BROADCAST, &brd, 4);
  return exchange(q, a.op, *a.fail);
}

// ---- N-API glue ---------------------------------------------------------------------------------------

napi_value throw_failure(napi_env env, const Failure &f) {
  if (f.code.empty()) {
    napi_throw_type_error(env, nullptr, f.message.c_str());
    return nullptr;
  }
  napi_value msg, code, err;
  napi_create_string_utf8(env, f.message.c_str(), f.message.size(), &msg);
  napi_create_string_utf8(env, f.code.c_str(), f.code.size(), &code);
  napi_create_error(env, code, msg, &err);
  napi_throw(env, err);
  return nullptr;
}

// Calls `fn` with the first argument, which must be an object.
napi_value with_object(napi_env env, napi_callback_info info, const char *op, bool (*fn)(Args &)) {
  size_t argc = 1;
  napi_value argv[1];
  napi_valuetype t = napi_undefined;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < 1 || napi_typeof(env, argv[0], &t) != napi_ok || t != napi_object)
    return throw_failure(env, {std::string(op) + ": expects an object", ""});
  Failure fail;
  Args a{env, argv[0], op, &fail};
  if (!fn(a)) return throw_failure(env, fail);
  napi_value undef;
  napi_get_undefined(env, &undef);
  return undef;
}

napi_value RouteReplace(napi_env env, napi_callback_info info) { return with_object(env, info, "routeReplace", route_replace); }
napi_value RouteDelete(napi_env env, napi_callback_info info) { return with_object(env, info, "routeDelete", route_delete); }
napi_value AddrReplace(napi_env env, napi_callback_info info) {
  return with_object(env, info, "addrReplace", [](Args &a) { return addr_change(a, true); });
}
napi_value AddrDelete(napi_env env, napi_callback_info info) {
  return with_object(env, info, "addrDelete", [](Args &a) { return addr_change(a, false); });
}

void set_string(napi_env env, napi_value obj, const char *key, const char *value) {
  napi_value v;
  napi_create_string_utf8(env, value, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, obj, key, v);
}

napi_value RouteGet(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  char tmp[64];
  size_t len = 0;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < 1 ||
      napi_get_value_string_utf8(env, argv[0], tmp, sizeof tmp, &len) != napi_ok)
    return throw_failure(env, {"routeGet: expects an IPv4 address", ""});
  std::string dst(tmp, len), op = "routeGet " + dst;
  in_addr addr{};
  if (inet_pton(AF_INET, dst.c_str(), &addr) != 1) return throw_failure(env, {op + ": not an IPv4 address", ""});
  Request q(RTM_GETROUTE, 0, sizeof(rtmsg));
  rtmsg *rt = static_cast<rtmsg *>(q.body());
  rt->rtm_family = AF_INET;
  rt->rtm_dst_len = 32;
  q.add(RTA_DST, &addr, 4);
  Failure fail;
  std::string reply;
  if (!exchange(q, op, fail, &reply)) return throw_failure(env, fail);
  const nlmsghdr *h = reinterpret_cast<const nlmsghdr *>(reply.data());
  if (h->nlmsg_type != RTM_NEWROUTE || h->nlmsg_len < NLMSG_LENGTH(sizeof(rtmsg))) return throw_failure(env, {op + ": unexpected reply", "EPROTO"});
  napi_value out;
  napi_create_object(env, &out);
  int left = int(RTM_PAYLOAD(h));
  char a4[INET_ADDRSTRLEN];
  for (const rtattr *a = RTM_RTA(static_cast<const rtmsg *>(NLMSG_DATA(h))); RTA_OK(a, left); a = RTA_NEXT(a, left)) {
    if (a->rta_type == RTA_OIF && RTA_PAYLOAD(a) == 4) {
      char name[IF_NAMESIZE];
      if (if_indextoname(*static_cast<const uint32_t *>(RTA_DATA(a)), name)) set_string(env, out, "dev", name);
    } else if ((a->rta_type == RTA_GATEWAY || a->rta_type == RTA_PREFSRC) && RTA_PAYLOAD(a) == 4) {
      inet_ntop(AF_INET, RTA_DATA(a), a4, sizeof a4);
      set_string(env, out, a->rta_type == RTA_GATEWAY ? "gateway" : "src", a4);
    }
  }
  return out;
}

// The DHCPv4 client's socket (src/wan/dhcp4.ts): UDP on 0.0.0.0:port, SO_BINDTODEVICE to the WAN,
// SO_BROADCAST, SO_REUSEADDR, non-blocking; Node's dgram takes it by fd (socket.bind({ fd })), since dgram
// cannot bind to a device. Bound to the device, a broadcast DHCPDISCOVER leaves through the WAN with source
// 0.0.0.0 while the WAN holds no IPv4 address (RFC 2131 §4.1), and broadcast replies are received there: no
// packet socket is needed, and the socket is opened once, never per message.
napi_value UdpSocket(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  char dev[IF_NAMESIZE + 1];
  size_t len = 0;
  uint32_t port = 0;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < 2 ||
      napi_get_value_string_utf8(env, argv[0], dev, sizeof dev, &len) != napi_ok || len == 0 || len >= IF_NAMESIZE ||
      napi_get_value_uint32(env, argv[1], &port) != napi_ok || port > 65535)
    return throw_failure(env, {"udpSocket: expects (interface name, port)", ""});
  std::string op = "udpSocket " + std::string(dev, len) + " " + std::to_string(port);
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_failure(env, {op + ": socket: " + errno_text(errno), errno_name(errno)});
  const int one = 1;
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(uint16_t(port));
  const char *step = nullptr;
  if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, dev, socklen_t(len)) < 0) step = "SO_BINDTODEVICE";
  else if (setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof one) < 0) step = "SO_BROADCAST";
  else if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) step = "SO_REUSEADDR";
  else if (bind(fd, reinterpret_cast<sockaddr *>(&sa), sizeof sa) < 0) step = "bind";
  if (step) {
    int e = errno;
    close(fd);
    return throw_failure(env, {op + ": " + step + ": " + errno_text(e), errno_name(e)});
  }
  napi_value out;
  napi_create_int32(env, fd, &out);
  return out;
}

// The DHCPv4 client's broadcasts (src/wan/dhcp4.ts). A UDP socket cannot send them with source 0.0.0.0 once
// the host has an address elsewhere: the kernel picks a source from another interface (inet_select_addr:
// the LAN's, or the B4's 192.0.0.2), which the ISP's server must not see and our own WAN guard drops. So
// broadcasts go as whole IPv4/UDP packets built by the client (RFC 2131 §4.1: source 0.0.0.0) through an
// AF_PACKET SOCK_DGRAM socket to the link broadcast, as busybox udhcpc and dhcpcd send them. The socket has
// protocol 0: it receives nothing (packet(7)), so it costs nothing while idle; it is opened once at start.
napi_value PacketSocket(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  char dev[IF_NAMESIZE + 1];
  size_t len = 0;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < 1 ||
      napi_get_value_string_utf8(env, argv[0], dev, sizeof dev, &len) != napi_ok || len == 0 || len >= IF_NAMESIZE)
    return throw_failure(env, {"packetSocket: expects an interface name", ""});
  std::string op = "packetSocket " + std::string(dev, len);
  unsigned ifindex = if_nametoindex(dev);
  if (!ifindex) return throw_failure(env, {op + ": " + errno_text(errno), errno_name(errno)});
  int fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_failure(env, {op + ": socket: " + errno_text(errno), errno_name(errno)});
  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = 0;  // bound to the interface, receiving nothing
  sll.sll_ifindex = int(ifindex);
  if (bind(fd, reinterpret_cast<sockaddr *>(&sll), sizeof sll) < 0) {
    int e = errno;
    close(fd);
    return throw_failure(env, {op + ": bind: " + errno_text(e), errno_name(e)});
  }
  napi_value out, v;
  napi_create_object(env, &out);
  napi_create_int32(env, fd, &v);
  napi_set_named_property(env, out, "fd", v);
  napi_create_uint32(env, ifindex, &v);
  napi_set_named_property(env, out, "ifindex", v);
  return out;
}

napi_value PacketSend(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  int32_t fd = -1;
  uint32_t ifindex = 0;
  void *data = nullptr;
  size_t len = 0;
  bool is_buffer = false;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < 3 ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok || napi_get_value_uint32(env, argv[1], &ifindex) != napi_ok ||
      napi_is_buffer(env, argv[2], &is_buffer) != napi_ok || !is_buffer || napi_get_buffer_info(env, argv[2], &data, &len) != napi_ok || len < 20)
    return throw_failure(env, {"packetSend: expects (fd, ifindex, IPv4 packet)", ""});
  sockaddr_ll to{};
  to.sll_family = AF_PACKET;
  to.sll_protocol = htons(ETH_P_IP);
  to.sll_ifindex = int(ifindex);
  to.sll_halen = ETH_ALEN;
  std::memset(to.sll_addr, 0xff, ETH_ALEN);
  if (sendto(fd, data, len, 0, reinterpret_cast<sockaddr *>(&to), sizeof to) < 0)
    return throw_failure(env, {"packetSend: " + errno_text(errno), errno_name(errno)});
  napi_value undef;
  napi_get_undefined(env, &undef);
  return undef;
}

napi_value Init(napi_env env, napi_value exports) {
  const napi_property_descriptor props[] = {
      {"routeReplace", nullptr, RouteReplace, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"routeDelete", nullptr, RouteDelete, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"addrReplace", nullptr, AddrReplace, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"addrDelete", nullptr, AddrDelete, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"routeGet", nullptr, RouteGet, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"udpSocket", nullptr, UdpSocket, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"packetSocket", nullptr, PacketSocket, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"packetSend", nullptr, PacketSend, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
