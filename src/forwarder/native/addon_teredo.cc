// The addon's mode 'teredo' calls (teredo.h), beside addon.cc's:
//   teredoStart(handle, tunName, { server, server2, localAddress, localPort, refreshS, qualifyTimeoutMs,
//     qualifyRetries, restartS, coneProbe, peerRetryMs, peerTries }) -> the tun's actual name
//   teredoState(handle) -> { qualified, address, mappedAddress, mappedPort, natKind, server, mtu, tunName, peers,
//     totals, drops }
//   teredoCodec(op, args) -> the codec's answer (test hook; ops below)
// Ranges are checked by types.ts; here only what would make a packet malformed is refused.
#include <arpa/inet.h>
#include <node_api.h>

#include <cstring>
#include <string>

#include "teredo.h"

namespace fw {
namespace teredo {
namespace {

ClientOf client_of = nullptr;

napi_value fail(napi_env env, const std::string &m) {
  napi_throw_error(env, nullptr, ("forwarder addon: " + m).c_str());
  return nullptr;
}

bool prop(napi_env env, napi_value obj, const char *key, napi_value *out) {
  bool has = false;
  if (napi_has_named_property(env, obj, key, &has) != napi_ok || !has) return false;
  return napi_get_named_property(env, obj, key, out) == napi_ok;
}

std::string str(napi_env env, napi_value v) {
  size_t n = 0;
  if (napi_get_value_string_utf8(env, v, nullptr, 0, &n) != napi_ok) return {};
  std::string s(n, '\0');
  napi_get_value_string_utf8(env, v, s.data(), n + 1, &n);
  return s;
}

bool get_int(napi_env env, napi_value obj, const char *key, int *out) {
  napi_value v;
  int32_t i;
  if (!prop(env, obj, key, &v) || napi_get_value_int32(env, v, &i) != napi_ok) return false;
  *out = i;
  return true;
}

bool get_bool(napi_env env, napi_value obj, const char *key, bool *out) {
  napi_value v;
  return prop(env, obj, key, &v) && napi_get_value_bool(env, v, out) == napi_ok;
}

bool get_addr(napi_env env, napi_value obj, const char *key, int family, uint8_t *out) {
  napi_value v;
  return prop(env, obj, key, &v) && inet_pton(family, str(env, v).c_str(), out) == 1;
}

bool get_buffer(napi_env env, napi_value obj, const char *key, const uint8_t **data, size_t *len) {
  napi_value v;
  bool is = false;
  void *d = nullptr;
  if (!prop(env, obj, key, &v) || napi_is_buffer(env, v, &is) != napi_ok || !is || napi_get_buffer_info(env, v, &d, len) != napi_ok)
    return false;
  *data = static_cast<const uint8_t *>(d);
  return true;
}

napi_value text(napi_env env, int family, const void *a) {
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(family, a, buf, sizeof buf);
  napi_value s;
  napi_create_string_utf8(env, buf, NAPI_AUTO_LENGTH, &s);
  return s;
}

napi_value num(napi_env env, double d) {
  napi_value v;
  napi_create_double(env, d, &v);
  return v;
}

napi_value boolean(napi_env env, bool b) {
  napi_value v;
  napi_get_boolean(env, b, &v);
  return v;
}

napi_value null(napi_env env) {
  napi_value v;
  napi_get_null(env, &v);
  return v;
}

napi_value buffer(napi_env env, const uint8_t *p, size_t n) {
  napi_value b;
  void *d;
  napi_create_buffer_copy(env, n, p, &d, &b);
  return b;
}

void set(napi_env env, napi_value o, const char *key, napi_value v) { napi_set_named_property(env, o, key, v); }

size_t argv_of(napi_env env, napi_callback_info info, napi_value *argv, size_t want) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok) return 0;
  return argc;
}

napi_value Start(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (argv_of(env, info, argv, 3) < 3) return fail(env, "teredoStart: missing arguments");
  Client *c = client_of(env, argv[0]);
  if (!c) return nullptr;
  Config cfg{};
  int port = 0;
  napi_value o = argv[2];
  if (!get_addr(env, o, "server", AF_INET, cfg.server) || !get_addr(env, o, "server2", AF_INET, cfg.server2) ||
      !get_addr(env, o, "localAddress", AF_INET, cfg.local) || !get_int(env, o, "localPort", &port) ||
      !get_int(env, o, "refreshS", &cfg.refresh_s) || !get_int(env, o, "qualifyTimeoutMs", &cfg.qualify_timeout_ms) ||
      !get_int(env, o, "qualifyRetries", &cfg.qualify_retries) || !get_int(env, o, "restartS", &cfg.restart_s) ||
      !get_bool(env, o, "coneProbe", &cfg.cone_probe) || !get_int(env, o, "peerRetryMs", &cfg.peer_retry_ms) ||
      !get_int(env, o, "peerTries", &cfg.peer_tries))
    return fail(env, "teredoStart: server, server2, localAddress, localPort, refreshS, qualifyTimeoutMs, qualifyRetries, "
                     "restartS, coneProbe, peerRetryMs, peerTries");
  if (port < 0 || port > 65535 || cfg.refresh_s < 1 || cfg.qualify_timeout_ms < 1 || cfg.qualify_retries < 1 ||
      cfg.restart_s < 1 || cfg.peer_retry_ms < 1 || cfg.peer_tries < 1)
    return fail(env, "teredoStart: values out of range");
  cfg.local_port = uint16_t(port);
  std::string actual;
  std::string err = c->start(str(env, argv[1]), cfg, actual);
  if (!err.empty()) return fail(env, err);
  napi_value s;
  napi_create_string_utf8(env, actual.c_str(), actual.size(), &s);
  return s;
}

napi_value State(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (argv_of(env, info, argv, 1) < 1) return fail(env, "teredoState: missing arguments");
  Client *c = client_of(env, argv[0]);
  if (!c) return nullptr;
  Snapshot s = c->snapshot();
  static const char *const kKinds[] = {"unknown", "cone", "restricted", "symmetric"};
  napi_value o, v, totals, drops, peers;
  napi_create_object(env, &o);
  set(env, o, "qualified", boolean(env, s.qualified));
  set(env, o, "address", s.qualified ? text(env, AF_INET6, s.address) : null(env));
  set(env, o, "mappedAddress", s.qualified ? text(env, AF_INET, s.mapped_ipv4) : null(env));
  set(env, o, "mappedPort", s.qualified ? num(env, s.mapped_port) : null(env));
  napi_create_string_utf8(env, kKinds[int(s.nat)], NAPI_AUTO_LENGTH, &v);
  set(env, o, "natKind", v);
  set(env, o, "server", text(env, AF_INET, s.server));
  set(env, o, "mtu", num(env, s.mtu));
  napi_create_string_utf8(env, s.tun.c_str(), s.tun.size(), &v);
  set(env, o, "tunName", v);
  napi_create_array_with_length(env, s.peers.size(), &peers);
  for (size_t i = 0; i < s.peers.size(); i++) {
    const PeerInfo &p = s.peers[i];
    napi_value e;
    napi_create_object(env, &e);
    set(env, e, "address", text(env, AF_INET6, p.addr));
    napi_create_string_utf8(env, p.teredo ? "teredo" : "native", NAPI_AUTO_LENGTH, &v);
    set(env, e, "kind", v);
    set(env, e, "trusted", boolean(env, p.trusted));
    bool via = p.teredo || p.trusted;
    set(env, e, "viaAddress", via ? text(env, AF_INET, p.via_ipv4) : null(env));
    set(env, e, "viaPort", via ? num(env, p.via_port) : null(env));
    set(env, e, "txPackets", num(env, double(p.tx_packets)));
    set(env, e, "rxPackets", num(env, double(p.rx_packets)));
    set(env, e, "dropped", num(env, double(p.dropped)));
    napi_set_element(env, peers, uint32_t(i), e);
  }
  set(env, o, "peers", peers);
  napi_create_object(env, &totals);
  napi_create_object(env, &drops);
  for (int t = 0; t < T_COUNT; t++) set(env, totals, kTotalNames[t], num(env, double(s.totals[t])));
  for (int d = 0; d < D_COUNT; d++) set(env, drops, kDropNames[d], num(env, double(s.drops[d])));
  set(env, o, "totals", totals);
  set(env, o, "drops", drops);
  return o;
}

// teredoCodec(op, args):
//   'address' { server, flags, port, ipv4 } -> the Teredo address (RFC 4380 §4)
//   'parseAddress' { address } -> { server, flags, port, ipv4 } | null
//   'parseHeaders' { packet } -> { auth: { nonce, confirmation, idLength, authLength } | null,
//                                  origin: { address, port } | null, ipv6Offset } | null (truncated)
//   'routerSolicitation' { nonce, cone } -> the datagram (indicator + RS)
//   'parseRouterAdvertisement' { packet (IPv6), cone } -> { prefix (8 bytes), mtu } | null
//   'bubble' { src, dst } -> 40 bytes      'echo' { src, dst, id, seq, nonce } -> 56 bytes
napi_value Codec(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (argv_of(env, info, argv, 2) < 2) return fail(env, "teredoCodec: missing arguments");
  std::string op = str(env, argv[0]);
  napi_value a = argv[1], o, v;
  uint8_t buf[128];
  if (op == "address") {
    Fields f{};
    int flags, port;
    if (!get_addr(env, a, "server", AF_INET, f.server) || !get_addr(env, a, "ipv4", AF_INET, f.ipv4) ||
        !get_int(env, a, "flags", &flags) || !get_int(env, a, "port", &port))
      return fail(env, "teredoCodec address: server, flags, port, ipv4");
    f.flags = uint16_t(flags), f.port = uint16_t(port);
    build_address(buf, f);
    return text(env, AF_INET6, buf);
  }
  if (op == "parseAddress") {
    uint8_t addr[16];
    Fields f;
    if (!get_addr(env, a, "address", AF_INET6, addr)) return fail(env, "teredoCodec parseAddress: address");
    if (!parse_address(addr, f)) return null(env);
    napi_create_object(env, &o);
    set(env, o, "server", text(env, AF_INET, f.server));
    set(env, o, "flags", num(env, f.flags));
    set(env, o, "port", num(env, f.port));
    set(env, o, "ipv4", text(env, AF_INET, f.ipv4));
    return o;
  }
  const uint8_t *p = nullptr;
  size_t n = 0;
  bool cone = false;
  get_bool(env, a, "cone", &cone);
  if (op == "parseHeaders") {
    if (!get_buffer(env, a, "packet", &p, &n)) return fail(env, "teredoCodec parseHeaders: packet");
    Headers h;
    if (!parse_headers(p, n, h)) return null(env);
    napi_create_object(env, &o);
    if (h.auth) {
      napi_create_object(env, &v);
      set(env, v, "nonce", buffer(env, h.nonce, 8));
      set(env, v, "confirmation", num(env, h.confirmation));
      set(env, v, "idLength", num(env, h.id_len));
      set(env, v, "authLength", num(env, h.au_len));
    }
    set(env, o, "auth", h.auth ? v : null(env));
    if (h.origin) {
      napi_create_object(env, &v);
      set(env, v, "address", text(env, AF_INET, h.origin_ipv4));
      set(env, v, "port", num(env, h.origin_port));
    }
    set(env, o, "origin", h.origin ? v : null(env));
    set(env, o, "ipv6Offset", num(env, double(h.ipv6_offset)));
    return o;
  }
  if (op == "routerSolicitation") {
    if (!get_buffer(env, a, "nonce", &p, &n) || n != 8) return fail(env, "teredoCodec routerSolicitation: nonce (8 bytes)");
    return buffer(env, buf, build_rs(buf, p, cone));
  }
  if (op == "parseRouterAdvertisement") {
    if (!get_buffer(env, a, "packet", &p, &n)) return fail(env, "teredoCodec parseRouterAdvertisement: packet");
    uint8_t prefix[8];
    uint32_t mtu;
    if (!parse_ra(p, n, cone, prefix, &mtu)) return null(env);
    napi_create_object(env, &o);
    set(env, o, "prefix", buffer(env, prefix, 8));
    set(env, o, "mtu", num(env, mtu));
    return o;
  }
  uint8_t src[16], dst[16];
  if (!get_addr(env, a, "src", AF_INET6, src) || !get_addr(env, a, "dst", AF_INET6, dst)) return fail(env, "teredoCodec: src, dst");
  if (op == "bubble") {
    build_bubble(buf, src, dst);
    return buffer(env, buf, 40);
  }
  if (op == "echo") {
    int id, seq;
    if (!get_int(env, a, "id", &id) || !get_int(env, a, "seq", &seq) || !get_buffer(env, a, "nonce", &p, &n) || n != 8)
      return fail(env, "teredoCodec echo: id, seq, nonce (8 bytes)");
    return buffer(env, buf, build_echo(buf, src, dst, uint16_t(id), uint16_t(seq), p));
  }
  return fail(env, "teredoCodec: unknown op " + op);
}

}  // namespace

void define_napi(napi_env env, napi_value exports, ClientOf of) {
  client_of = of;
  napi_property_descriptor props[] = {
      {"teredoStart", nullptr, Start, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"teredoState", nullptr, State, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"teredoCodec", nullptr, Codec, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}

}  // namespace teredo
}  // namespace fw
