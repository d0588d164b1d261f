// N-API surface of the forwarder addon (plain C N-API, no node-addon-api dependency). Loaded only by the
// forwarder's worker thread (src/forwarder/worker.ts) and by its tests. Functions:
//   create() -> handle                      configure(handle, config)
//   open(handle, name, queues, linkMtu[, packetEgress]) -> actual name
//   setNextHop(handle, { aftr, mac, srcMac, ifindex, mtu } | null)   (test hook: inject() then sends
//   the AFTR's packets as Ethernet frames to this next hop, returned in `frames`)
//   start(handle, onEvent[, onEcho])        stop(handle)
//   counters(handle) -> { totals, drops, queueTxPackets, lastRxFromAftrMs, tunnelMtu, naptActive, ... }
//   echoSend(handle, aftr | null) -> { seq, id, sentAtMs[, packet] }   echoFinish(handle, seq, timeoutUs) -> outcome
//   (echo.h: ICMP echo probes through the softwire; `packet` only on a handle without a tun, the test hook)
//   inject(handle, packet | packet[], nowMs[, offload]) -> { out, offloads, events }   (test hook: one
//   batch through the same stages as the tun threads)
//   teredoStart(handle, tunName, teredoConfig) -> actual name    teredoState(handle) -> state (mode 'teredo',
//   teredo.h)    teredoCodec(op, args) -> result (test hook: the Teredo codec), in addon_teredo.cc
#include <arpa/inet.h>
#include <node_api.h>

#include <sys/socket.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "dataplane.h"
#include "teredo.h"

using fw::Dataplane;

namespace {

#define CHECK(call)                                                                  \
  do {                                                                               \
    if ((call) != napi_ok) {                                                         \
      napi_throw_error(env, nullptr, "forwarder addon: N-API call failed: " #call); \
      return nullptr;                                                                \
    }                                                                                \
  } while (0)

napi_value throw_msg(napi_env env, const std::string &m) {
  napi_throw_error(env, nullptr, m.c_str());
  return nullptr;
}

struct Handle {
  Dataplane dp;
  fw::teredo::Client teredo;  // mode 'teredo' (teredo.h): its own tun, socket and thread; the data plane stays idle
  bool test_egress = false;  // setNextHop() was called: inject() goes through an EgressSink
  napi_threadsafe_function tsfn = nullptr;
  napi_threadsafe_function echo_tsfn = nullptr;  // onEcho: a probe was answered
  napi_env env = nullptr;
};

// The worker is going away without stop(): end the threads, which are the only callers of the
// threadsafe function; the environment's teardown then disposes of the function itself.
void cleanup_hook(void *arg) {
  Handle *h = static_cast<Handle *>(arg);
  h->dp.stop();
  h->teredo.stop();
  h->tsfn = nullptr;
  h->echo_tsfn = nullptr;
}

void finalize(napi_env env, void *data, void *) {
  Handle *h = static_cast<Handle *>(data);
  napi_remove_env_cleanup_hook(env, cleanup_hook, h);
  h->dp.stop();
  h->teredo.stop();
  if (h->tsfn) napi_release_threadsafe_function(h->tsfn, napi_tsfn_abort);
  if (h->echo_tsfn) napi_release_threadsafe_function(h->echo_tsfn, napi_tsfn_abort);
  delete h;
}

Handle *get_handle(napi_env env, napi_value v) {
  void *p = nullptr;
  if (napi_get_value_external(env, v, &p) != napi_ok || !p) {
    napi_throw_type_error(env, nullptr, "forwarder addon: not a forwarder handle");
    return nullptr;
  }
  return static_cast<Handle *>(p);
}

std::string get_string(napi_env env, napi_value v) {
  size_t n = 0;
  if (napi_get_value_string_utf8(env, v, nullptr, 0, &n) != napi_ok) return {};
  std::string s(n, '\0');
  napi_get_value_string_utf8(env, v, s.data(), n + 1, &n);
  return s;
}

bool prop(napi_env env, napi_value obj, const char *key, napi_value *out) {
  bool has = false;
  if (napi_has_named_property(env, obj, key, &has) != napi_ok || !has) return false;
  return napi_get_named_property(env, obj, key, out) == napi_ok;
}

bool get_int(napi_env env, napi_value obj, const char *key, int *out) {
  napi_value v;
  int32_t i;
  if (!prop(env, obj, key, &v) || napi_get_value_int32(env, v, &i) != napi_ok) return false;
  *out = i;
  return true;
}

bool get_addr(napi_env env, napi_value obj, const char *key, int family, uint8_t *out) {
  napi_value v;
  if (!prop(env, obj, key, &v)) return false;
  return inet_pton(family, get_string(env, v).c_str(), out) == 1;
}

// Config object: { softwire, aftr, drainAftr ('' or IPv6), b4Ipv4, echoTarget (strings), mtu, hopLimit,
// mssClamp, enabled, lw4o6? ({ ipv4, psidOffset, psidLength, psid } or null: with `enabled`, mode lw4o6) }.
// Validation of
// ranges is the TypeScript side's job; here only what would make a packet malformed is refused.
bool parse_nat46(napi_env env, napi_value v, fw::Nat46Config &n, std::string &err);

bool parse_config(napi_env env, napi_value obj, fw::Config &c, std::string &err) {
  memset(&c, 0, sizeof c);
  if (!get_addr(env, obj, "softwire", AF_INET6, c.softwire)) return err = "config.softwire: not IPv6", false;
  if (!get_addr(env, obj, "aftr", AF_INET6, c.aftr)) return err = "config.aftr: not IPv6", false;
  if (!get_addr(env, obj, "b4Ipv4", AF_INET, c.b4_ipv4)) return err = "config.b4Ipv4: not IPv4", false;
  if (!get_addr(env, obj, "echoTarget", AF_INET, c.echo_target)) return err = "config.echoTarget: not IPv4", false;
  napi_value drain;
  c.drain = prop(env, obj, "drainAftr", &drain) && !get_string(env, drain).empty();
  if (c.drain && !get_addr(env, obj, "drainAftr", AF_INET6, c.drain_aftr)) return err = "config.drainAftr: not IPv6", false;
  if (!get_int(env, obj, "mtu", &c.mtu) || c.mtu < 68 || c.mtu > 65535 - 40) return err = "config.mtu", false;
  if (!get_int(env, obj, "hopLimit", &c.hop_limit) || c.hop_limit < 1 || c.hop_limit > 255)
    return err = "config.hopLimit", false;
  if (!get_int(env, obj, "mssClamp", &c.mss_clamp) || c.mss_clamp < 0 || c.mss_clamp > 65535)
    return err = "config.mssClamp", false;
  napi_value v;
  if (!prop(env, obj, "enabled", &v) || napi_get_value_bool(env, v, &c.enabled) != napi_ok)
    return err = "config.enabled", false;
  napi_valuetype t = napi_undefined;
  if (prop(env, obj, "lw4o6", &v)) napi_typeof(env, v, &t);
  if (t == napi_object) {
    int a, k, psid;
    if (!get_addr(env, v, "ipv4", AF_INET, c.lw.ipv4)) return err = "config.lw4o6.ipv4: not IPv4", false;
    // RFC 7597 §5.1 limits, and a set of at least 2 ports (one is the probes').
    if (!get_int(env, v, "psidOffset", &a) || !get_int(env, v, "psidLength", &k) || !get_int(env, v, "psid", &psid) ||
        a < 0 || a > 15 || k < 0 || a + k > 16 || psid < 0 || psid >= (1 << k) ||
        ((a > 0 ? (1 << a) - 1 : 1) << (16 - a - k)) - (a == 0 && psid == 0 ? 1 : 0) < 2)
      return err = "config.lw4o6: psidOffset 0..15, psidLength 0..16 - psidOffset, psid below 2^psidLength, 2 ports at least", false;
    c.lw.offset = uint8_t(a);
    c.lw.length = uint8_t(k);
    c.lw.psid = uint16_t(psid);
    c.lw4o6 = true;
  }
  t = napi_undefined;
  if (prop(env, obj, "nat46", &v)) napi_typeof(env, v, &t);
  if (t == napi_object) c.nat46 = parse_nat46(env, v, c.n46, err);
  return t != napi_object || c.nat46;
}

// nat46 (nat46.h): { prefix, prefixLength, tenantBits, gatewayBits, tenantId, gatewayId, dstPrefix (the /96's
// address), localAddress, ipv6Mtu, peers: [{ gatewayId, address }], adopted?: [{ gatewayId, clients }] }, checked
// by types.ts; refused here only what would make the address format or a packet malformed.
bool parse_nat46(napi_env env, napi_value v, fw::Nat46Config &n, std::string &err) {
  int p, tb, gb, mtu;
  double tenant, gw;
  napi_value x;
  uint8_t prefix[16];
  if (!get_addr(env, v, "prefix", AF_INET6, prefix) || !get_addr(env, v, "dstPrefix", AF_INET6, n.dst96) ||
      !get_addr(env, v, "localAddress", AF_INET6, n.local) || !get_int(env, v, "prefixLength", &p) ||
      !get_int(env, v, "tenantBits", &tb) || !get_int(env, v, "gatewayBits", &gb) || !get_int(env, v, "ipv6Mtu", &mtu) ||
      !prop(env, v, "tenantId", &x) || napi_get_value_double(env, x, &tenant) != napi_ok ||
      !prop(env, v, "gatewayId", &x) || napi_get_value_double(env, x, &gw) != napi_ok)
    return err = "config.nat46: prefix, prefixLength, tenantBits, gatewayBits, tenantId, gatewayId, dstPrefix, localAddress, ipv6Mtu", false;
  if (p < 0 || tb < 0 || tb > 32 || gb < 1 || gb > 32 || p + tb + gb > 96 || mtu < 1280 || mtu > 65535 ||
      tenant < 0 || tenant >= double(1ull << tb) || gw < 0 || gw >= double(1ull << gb))
    return err = "config.nat46: prefixLength + tenantBits + gatewayBits <= 96, ids within their widths, ipv6Mtu 1280..65535", false;
  memset(n.own, 0, 16);
  for (int bit = 0; bit < p; bit++) n.own[bit >> 3] |= prefix[bit >> 3] & uint8_t(0x80 >> (bit & 7));
  n.prefix_len = uint8_t(p), n.tenant_bits = uint8_t(tb), n.gateway_bits = uint8_t(gb);
  n.tenant_id = uint32_t(tenant), n.gateway_id = uint32_t(gw);
  fw::set_addr_bits(n.own, p, tb, n.tenant_id);
  fw::set_addr_bits(n.own, p + tb, gb, n.gateway_id);
  memset(n.dst96 + 12, 0, 4);
  n.ipv6_mtu = mtu;
  uint32_t count = 0;
  bool is_array = false;
  if (!prop(env, v, "peers", &x) || napi_is_array(env, x, &is_array) != napi_ok || !is_array ||
      napi_get_array_length(env, x, &count) != napi_ok || count > uint32_t(fw::Nat46Config::kMaxPeers))
    return err = "config.nat46.peers: an array of at most 64", false;
  n.n_peers = int(count);
  for (uint32_t i = 0; i < count; i++) {
    napi_value e, id;
    double d;
    if (napi_get_element(env, x, i, &e) != napi_ok || !get_addr(env, e, "address", AF_INET6, n.peers[i].addr) ||
        !prop(env, e, "gatewayId", &id) || napi_get_value_double(env, id, &d) != napi_ok || d < 0 || d >= double(1ull << gb))
      return err = "config.nat46.peers: { gatewayId, address }", false;
    n.peers[i].gateway_id = uint32_t(d);
  }
  // Adopted gateway IDs (issue 23): absent is none. `clients` is 'a.b.c.d/len'; its host bits are cleared here.
  n.n_adopted = 0;
  napi_valuetype t = napi_undefined;
  if (!prop(env, v, "adopted", &x) || napi_typeof(env, x, &t) != napi_ok || t == napi_undefined) return true;
  if (napi_is_array(env, x, &is_array) != napi_ok || !is_array || napi_get_array_length(env, x, &count) != napi_ok ||
      count > uint32_t(fw::Nat46Config::kMaxAdopted))
    return err = "config.nat46.adopted: an array of at most 16", false;
  n.n_adopted = int(count);
  for (uint32_t i = 0; i < count; i++) {
    napi_value e, id, cl;
    double d;
    fw::Nat46Adopted &a = n.adopted[i];
    std::string clients;
    size_t slash = std::string::npos;
    int len = -1;
    if (napi_get_element(env, x, i, &e) == napi_ok && prop(env, e, "clients", &cl)) {
      clients = get_string(env, cl);
      slash = clients.find('/');
    }
    uint8_t v4[4];
    if (slash != std::string::npos && slash + 1 < clients.size() && clients.size() - slash <= 3 &&
        clients.find_first_not_of("0123456789", slash + 1) == std::string::npos)
      len = atoi(clients.c_str() + slash + 1);
    if (len < 0 || len > 32 || inet_pton(AF_INET, clients.substr(0, slash).c_str(), v4) != 1 ||
        !prop(env, e, "gatewayId", &id) || napi_get_value_double(env, id, &d) != napi_ok || d < 0 || d >= double(1ull << gb))
      return err = "config.nat46.adopted: { gatewayId, clients: 'a.b.c.d/len' }", false;
    a.gateway_id = uint32_t(d);
    a.mask = len == 0 ? 0 : ~uint32_t(0) << (32 - len);
    a.net = (uint32_t(v4[0]) << 24 | uint32_t(v4[1]) << 16 | uint32_t(v4[2]) << 8 | v4[3]) & a.mask;
    memcpy(a.base, n.own, 16);
    fw::set_addr_bits(a.base, p + tb, gb, a.gateway_id);
  }
  return true;
}

napi_value ipv6_string(napi_env env, const uint8_t *a) {
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(AF_INET6, a, buf, sizeof buf);
  napi_value s;
  napi_create_string_utf8(env, buf, NAPI_AUTO_LENGTH, &s);
  return s;
}

napi_value event_object(napi_env env, const fw::Icmp6Event &ev) {
  napi_value o, v;
  napi_create_object(env, &o);
  napi_create_uint32(env, ev.type, &v), napi_set_named_property(env, o, "type", v);
  napi_create_uint32(env, ev.code, &v), napi_set_named_property(env, o, "code", v);
  napi_set_named_property(env, o, "source", ipv6_string(env, ev.source));
  napi_set_named_property(env, o, "quotedSrc", ipv6_string(env, ev.quoted_src));
  napi_set_named_property(env, o, "quotedDst", ipv6_string(env, ev.quoted_dst));
  if (ev.type == 2) napi_create_uint32(env, ev.mtu, &v), napi_set_named_property(env, o, "mtu", v);
  if (ev.type == 4) napi_create_uint32(env, ev.pointer, &v), napi_set_named_property(env, o, "pointer", v);
  // Only lw4o6 checks more than the outer quote; a dslite event stays as before (Icmpv6ErrorEvent.verified).
  if (ev.lw4o6) napi_get_boolean(env, ev.verified, &v), napi_set_named_property(env, o, "verified", v);
  return o;
}

void call_js(napi_env env, napi_value cb, void *, void *data) {
  fw::Icmp6Event *ev = static_cast<fw::Icmp6Event *>(data);
  if (env && cb) {
    napi_value undef;
    napi_get_undefined(env, &undef);
    napi_value arg = event_object(env, *ev);
    napi_call_function(env, undef, cb, 1, &arg, nullptr);
  }
  delete ev;
}

void call_js_echo(napi_env env, napi_value cb, void *, void *data) {
  if (!env || !cb) return;
  napi_value undef, seq;
  napi_get_undefined(env, &undef);
  napi_create_uint32(env, uint32_t(reinterpret_cast<uintptr_t>(data)), &seq);
  napi_call_function(env, undef, cb, 1, &seq, nullptr);
}

napi_value args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  napi_value self;
  if (napi_get_cb_info(env, info, &argc, argv, &self, nullptr) != napi_ok || argc < want)
    return throw_msg(env, "forwarder addon: missing arguments");
  return self;
}

// The common preamble of the calls on a handle: `want` arguments, the first one the handle.
Handle *handle_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  return args(env, info, want, argv) ? get_handle(env, argv[0]) : nullptr;
}

napi_value Create(napi_env env, napi_callback_info) {
  Handle *h = new Handle();
  h->env = env;
  napi_value ext;
  CHECK(napi_create_external(env, h, finalize, nullptr, &ext));
  napi_add_env_cleanup_hook(env, cleanup_hook, h);
  return ext;
}

napi_value Configure(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  Handle *h = handle_args(env, info, 2, argv);
  if (!h) return nullptr;
  fw::Config c;
  std::string err;
  if (!parse_config(env, argv[1], c, err)) return throw_msg(env, "forwarder addon: invalid " + err);
  h->dp.configure(c);
  return nullptr;
}

napi_value Open(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  size_t argc = 5;
  CHECK(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  if (argc < 4) return throw_msg(env, "forwarder addon: missing arguments");
  Handle *h = get_handle(env, argv[0]);
  if (!h) return nullptr;
  int32_t queues = 0, mtu = 0;
  bool packet_egress = false;
  CHECK(napi_get_value_int32(env, argv[2], &queues));
  CHECK(napi_get_value_int32(env, argv[3], &mtu));
  if (argc > 4) CHECK(napi_get_value_bool(env, argv[4], &packet_egress));
  std::string actual;
  std::string err = h->dp.open(get_string(env, argv[1]), queues, mtu, packet_egress, actual);
  if (!err.empty()) return throw_msg(env, "forwarder addon: " + err);
  napi_value s;
  CHECK(napi_create_string_utf8(env, actual.c_str(), actual.size(), &s));
  return s;
}

napi_value Start(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  size_t argc = 3;
  CHECK(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  if (argc < 2) return throw_msg(env, "forwarder addon: missing arguments");
  Handle *h = get_handle(env, argv[0]);
  if (!h) return nullptr;
  std::function<void(uint16_t)> on_echo;
  napi_valuetype t = napi_undefined;
  if (argc > 2) napi_typeof(env, argv[2], &t);
  if (t == napi_function) {
    napi_value echo_name;
    CHECK(napi_create_string_utf8(env, "forwarder-echo", NAPI_AUTO_LENGTH, &echo_name));
    // At most one call per outstanding probe: the queue never fills. Were a call lost, the caller's own
    // timeout still takes the outcome (finish() reads the native times, not the call's).
    CHECK(napi_create_threadsafe_function(env, argv[2], nullptr, echo_name, fw::Probes::kSlots, 1, nullptr, nullptr,
                                          nullptr, call_js_echo, &h->echo_tsfn));
    CHECK(napi_unref_threadsafe_function(env, h->echo_tsfn));
    napi_threadsafe_function echo_tsfn = h->echo_tsfn;
    on_echo = [echo_tsfn](uint16_t seq) {
      napi_call_threadsafe_function(echo_tsfn, reinterpret_cast<void *>(uintptr_t(seq)), napi_tsfn_nonblocking);
    };
  }
  napi_value name;
  CHECK(napi_create_string_utf8(env, "forwarder-icmpv6-events", NAPI_AUTO_LENGTH, &name));
  // A bounded queue: a stalled control plane costs events (counted), never packets.
  CHECK(napi_create_threadsafe_function(env, argv[1], nullptr, name, 256, 1, nullptr, nullptr, nullptr, call_js,
                                        &h->tsfn));
  CHECK(napi_unref_threadsafe_function(env, h->tsfn));
  napi_threadsafe_function tsfn = h->tsfn;
  std::string err = h->dp.start([tsfn](const fw::Icmp6Event &ev) {
    fw::Icmp6Event *copy = new fw::Icmp6Event(ev);
    if (napi_call_threadsafe_function(tsfn, copy, napi_tsfn_nonblocking) == napi_ok) return true;
    delete copy;
    return false;
  }, std::move(on_echo));
  if (!err.empty()) return throw_msg(env, "forwarder addon: " + err);
  return nullptr;
}

napi_value Stop(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  Handle *h = handle_args(env, info, 1, argv);
  if (!h) return nullptr;
  h->dp.stop();
  h->teredo.stop();
  if (h->tsfn) napi_release_threadsafe_function(h->tsfn, napi_tsfn_abort);
  if (h->echo_tsfn) napi_release_threadsafe_function(h->echo_tsfn, napi_tsfn_abort);
  h->tsfn = h->echo_tsfn = nullptr;
  return nullptr;
}

// echoSend(handle, aftr | null) -> { seq, id, sentAtMs[, packet] }: one probe (Dataplane::echo_send).
napi_value EchoSend(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  Handle *h = handle_args(env, info, 2, argv);
  if (!h) return nullptr;
  napi_valuetype t;
  CHECK(napi_typeof(env, argv[1], &t));
  uint8_t aftr[16];
  if (t == napi_string && inet_pton(AF_INET6, get_string(env, argv[1]).c_str(), aftr) != 1)
    return throw_msg(env, "forwarder addon: echo: aftr is not an IPv6 address");
  Dataplane::EchoSent r = h->dp.echo_send(t == napi_string ? aftr : nullptr);
  if (!r.err.empty()) return throw_msg(env, "forwarder addon: echo: " + r.err);
  napi_value o, v;
  CHECK(napi_create_object(env, &o));
  napi_create_uint32(env, r.seq, &v), napi_set_named_property(env, o, "seq", v);
  napi_create_uint32(env, h->dp.echo_id(), &v), napi_set_named_property(env, o, "id", v);
  napi_create_double(env, double(r.sent_wall_ms), &v), napi_set_named_property(env, o, "sentAtMs", v);
  if (!r.packet.empty()) {
    void *data;
    napi_create_buffer_copy(env, r.packet.size(), r.packet.data(), &data, &v);
    napi_set_named_property(env, o, "packet", v);
  }
  return o;
}

// echoFinish(handle, seq, timeoutUs) -> { state, sentAtMs, elapsedUs[, aftr, type, code, source] }.
napi_value EchoFinish(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  Handle *h = handle_args(env, info, 3, argv);
  if (!h) return nullptr;
  uint32_t seq;
  double timeout_us;
  CHECK(napi_get_value_uint32(env, argv[1], &seq));
  CHECK(napi_get_value_double(env, argv[2], &timeout_us));
  fw::EchoOutcome r = h->dp.echo_finish(uint16_t(seq), int64_t(timeout_us));
  static const char *const kStates[] = {"unknown", "pending", "timeout", "reply", "error"};
  napi_value o, v;
  CHECK(napi_create_object(env, &o));
  napi_create_string_utf8(env, kStates[r.kind], NAPI_AUTO_LENGTH, &v), napi_set_named_property(env, o, "state", v);
  if (r.kind == fw::EchoOutcome::kUnknown) return o;
  napi_create_double(env, double(r.sent_wall_ms), &v), napi_set_named_property(env, o, "sentAtMs", v);
  napi_create_double(env, double(r.done_us - r.sent_us), &v), napi_set_named_property(env, o, "elapsedUs", v);
  napi_set_named_property(env, o, "aftr", ipv6_string(env, r.aftr));
  if (r.kind == fw::EchoOutcome::kError) {
    napi_create_uint32(env, r.type, &v), napi_set_named_property(env, o, "type", v);
    napi_create_uint32(env, r.code, &v), napi_set_named_property(env, o, "code", v);
    napi_set_named_property(env, o, "source", ipv6_string(env, r.source));
  }
  return o;
}

napi_value Counters(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  Handle *h = handle_args(env, info, 1, argv);
  if (!h) return nullptr;
  uint64_t totals[fw::T_COUNT], drops[fw::D_COUNT];
  h->dp.sum(totals, drops);
  napi_value o, t, d, v;
  CHECK(napi_create_object(env, &o));
  CHECK(napi_create_object(env, &t));
  CHECK(napi_create_object(env, &d));
  // Doubles are exact to 2^53: years of line rate.
  for (int i = 0; i < fw::T_COUNT; i++)
    napi_create_double(env, double(totals[i]), &v), napi_set_named_property(env, t, fw::kTotalNames[i], v);
  for (int i = 0; i < fw::D_COUNT; i++)
    napi_create_double(env, double(drops[i]), &v), napi_set_named_property(env, d, fw::kDropNames[i], v);
  napi_set_named_property(env, o, "totals", t);
  napi_value qs;
  CHECK(napi_create_array_with_length(env, size_t(h->dp.queues()), &qs));
  for (int q = 0; q < h->dp.queues(); q++)
    napi_create_double(env, double(h->dp.queue_total(q, fw::T_tx_packets)), &v), napi_set_element(env, qs, uint32_t(q), v);
  napi_set_named_property(env, o, "queueTxPackets", qs);
  napi_set_named_property(env, o, "drops", d);
  napi_create_double(env, double(h->dp.last_rx_from_aftr_ms()), &v);
  napi_set_named_property(env, o, "lastRxFromAftrMs", v);
  napi_create_int32(env, h->dp.napt_active(), &v);
  napi_set_named_property(env, o, "naptActive", v);
  napi_create_int32(env, h->dp.tunnel_mtu(), &v);
  napi_set_named_property(env, o, "tunnelMtu", v);
  napi_create_double(env, double(h->dp.fast_path_packets()), &v);
  napi_set_named_property(env, o, "fastPathPackets", v);
  const std::vector<std::string> &fp = h->dp.fast_path_interfaces();
  CHECK(napi_create_array_with_length(env, fp.size(), &qs));
  for (size_t i = 0; i < fp.size(); i++)
    napi_create_string_utf8(env, fp[i].c_str(), fp[i].size(), &v), napi_set_element(env, qs, uint32_t(i), v);
  napi_set_named_property(env, o, "fastPathInterfaces", qs);
  return o;
}

// setFastPath(handle, ifnames[]) -> the interfaces it could not attach to, with why (fastpath.h).
napi_value SetFastPath(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  Handle *h = handle_args(env, info, 2, argv);
  if (!h) return nullptr;
  uint32_t n = 0;
  bool is_array = false;
  napi_is_array(env, argv[1], &is_array);
  if (!is_array) return throw_msg(env, "forwarder addon: fast path interfaces must be an array");
  CHECK(napi_get_array_length(env, argv[1], &n));
  std::vector<std::string> names;
  for (uint32_t i = 0; i < n; i++) {
    napi_value v;
    CHECK(napi_get_element(env, argv[1], i, &v));
    names.push_back(get_string(env, v));
  }
  std::vector<std::string> errors = h->dp.set_fast_path(names);
  napi_value out, v;
  CHECK(napi_create_array_with_length(env, errors.size(), &out));
  for (size_t i = 0; i < errors.size(); i++)
    napi_create_string_utf8(env, errors[i].c_str(), errors[i].size(), &v), napi_set_element(env, out, uint32_t(i), v);
  return out;
}

struct CollectSink : fw::Sink {
  napi_env env;
  napi_value out, offloads, events;
  uint32_t n_out = 0, n_ev = 0;
  void emit(const uint8_t *pkt, size_t len, const fw::Offload *off) override {
    napi_value b, o, v;
    void *data;
    napi_create_buffer_copy(env, len, pkt, &data, &b);
    if (off && off->partial) {
      napi_create_object(env, &o);
      napi_create_uint32(env, off->csum_start, &v), napi_set_named_property(env, o, "csumStart", v);
      napi_create_uint32(env, off->csum_offset, &v), napi_set_named_property(env, o, "csumOffset", v);
      if (off->gso_size) {
        napi_create_uint32(env, off->gso_size, &v), napi_set_named_property(env, o, "gsoSize", v);
        napi_create_uint32(env, off->hdr_len, &v), napi_set_named_property(env, o, "hdrLen", v);
      }
    } else {
      napi_get_null(env, &o);
    }
    napi_set_element(env, offloads, n_out, o);
    napi_set_element(env, out, n_out++, b);
  }
  bool event(const fw::Icmp6Event &ev) override {
    napi_set_element(env, events, n_ev++, event_object(env, ev));
    return true;
  }
};

bool get_mac(napi_env env, napi_value obj, const char *key, uint8_t out[6]) {
  napi_value v;
  if (!prop(env, obj, key, &v)) return false;
  unsigned m[6];
  if (sscanf(get_string(env, v).c_str(), "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 6) return false;
  for (int i = 0; i < 6; i++) out[i] = uint8_t(m[i]);
  return true;
}

napi_value SetNextHop(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  Handle *h = handle_args(env, info, 2, argv);
  if (!h) return nullptr;
  h->test_egress = true;
  napi_valuetype t;
  CHECK(napi_typeof(env, argv[1], &t));
  if (t != napi_object) return h->dp.egress().set_for_test(nullptr), nullptr;
  fw::NextHop hop{};
  uint8_t dst[6], src[6];
  if (!get_addr(env, argv[1], "aftr", AF_INET6, hop.aftr) || !get_mac(env, argv[1], "mac", dst) ||
      !get_mac(env, argv[1], "srcMac", src) || !get_int(env, argv[1], "ifindex", &hop.ifindex) ||
      !get_int(env, argv[1], "mtu", &hop.mtu))
    return throw_msg(env, "forwarder addon: next hop needs aftr, mac, srcMac, ifindex, mtu");
  fw::eth_header(hop.eth, dst, src);
  napi_value stale;
  bool is_stale = false;
  if (prop(env, argv[1], "stale", &stale)) napi_get_value_bool(env, stale, &is_stale);
  h->dp.egress().set_for_test(&hop, is_stale);
  return nullptr;
}

// The packet socket of inject(): frames are collected from the ring instead of sent, each as the
// socket takes it: virtio_net_hdr (10 bytes), Ethernet header, packet.
struct CollectFrames : fw::EgressSink {
  napi_env env;
  napi_value frames;
  uint32_t n = 0;
  CollectFrames(fw::Sink &tun, fw::Counters *c, fw::Egress *eg, bool packet_mode)
      : fw::EgressSink(tun, c, eg, packet_mode, -1) {}
  int send_ring(int first, int count) override {
    for (int i = 0; i < count; i++) {
      tpacket2_hdr *f = frame((first + i) % kRing);
      napi_value b;
      void *data;
      napi_create_buffer_copy(env, f->tp_len, reinterpret_cast<uint8_t *>(f) + data_offset(), &data, &b);
      napi_set_element(env, frames, n++, b);
      f->tp_status = TP_STATUS_AVAILABLE;
    }
    return 0;
  }
  bool send_one(const uint8_t *frame, size_t len) override {
    napi_value b;
    void *data;
    napi_create_buffer_copy(env, len, frame, &data, &b);
    napi_set_element(env, frames, n++, b);
    return true;
  }
};

// inject(handle, packet, nowMs[, offload]): offload = { csumStart?, csumOffset?, gsoSize? (TCPv4), usoSize? (UDP) } as the tun's
// virtio_net_hdr would carry it.
napi_value Inject(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  size_t argc = 4;
  CHECK(napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr));
  if (argc < 3) return throw_msg(env, "forwarder addon: missing arguments");
  Handle *h = get_handle(env, argv[0]);
  if (!h) return nullptr;
  double now;
  CHECK(napi_get_value_double(env, argv[2], &now));
  std::vector<napi_value> packets;
  bool is_array = false;
  CHECK(napi_is_array(env, argv[1], &is_array));
  if (is_array) {
    uint32_t n = 0;
    CHECK(napi_get_array_length(env, argv[1], &n));
    for (uint32_t i = 0; i < n; i++) {
      napi_value e;
      CHECK(napi_get_element(env, argv[1], i, &e));
      packets.push_back(e);
    }
  } else {
    packets.push_back(argv[1]);
  }
  fw::Offload off{};
  bool has_off = false;
  napi_valuetype t = napi_undefined;
  if (argc > 3) napi_typeof(env, argv[3], &t);
  if (t == napi_object) {
    int v;
    has_off = true;
    if (get_int(env, argv[3], "csumStart", &v)) off.partial = true, off.csum_start = uint16_t(v);
    if (get_int(env, argv[3], "csumOffset", &v)) off.csum_offset = uint16_t(v);
    if (get_int(env, argv[3], "gsoSize", &v)) off.gso_size = uint16_t(v);
    if (get_int(env, argv[3], "usoSize", &v)) off.gso_size = uint16_t(v), off.gso_udp = true;
  }
  CollectSink sink;
  sink.env = env;
  CHECK(napi_create_array(env, &sink.out));
  CHECK(napi_create_array(env, &sink.offloads));
  CHECK(napi_create_array(env, &sink.events));
  // As in the data plane, every output passes the egress stage: 'packet' once setNextHop() was called.
  CollectFrames frames(sink, h->dp.inject_counters(), &h->dp.egress(), h->test_egress);
  frames.env = env;
  CHECK(napi_create_array(env, &frames.frames));
  for (napi_value p : packets) {
    void *data;
    size_t len;
    CHECK(napi_get_buffer_info(env, p, &data, &len));
    if (len > fw::kMaxPacket) return throw_msg(env, "forwarder addon: packet too large");
    std::vector<uint8_t> buf(fw::kHeadroom + len);
    memcpy(buf.data() + fw::kHeadroom, data, len);
    h->dp.inject(buf.data() + fw::kHeadroom, len, has_off ? &off : nullptr, int64_t(now), frames);
  }
  h->dp.inject_flush(frames);
  frames.flush();
  napi_value o;
  CHECK(napi_create_object(env, &o));
  napi_set_named_property(env, o, "out", sink.out);
  napi_set_named_property(env, o, "offloads", sink.offloads);
  napi_set_named_property(env, o, "events", sink.events);
  napi_set_named_property(env, o, "frames", frames.frames);
  return o;
}

// Mode 'teredo's calls (addon_teredo.cc) reach a handle's client through this.
fw::teredo::Client *teredo_client(napi_env env, napi_value v) {
  Handle *h = get_handle(env, v);
  return h ? &h->teredo : nullptr;
}

}  // namespace

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"create", nullptr, Create, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"configure", nullptr, Configure, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"open", nullptr, Open, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"start", nullptr, Start, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"stop", nullptr, Stop, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"counters", nullptr, Counters, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setFastPath", nullptr, SetFastPath, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setNextHop", nullptr, SetNextHop, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"inject", nullptr, Inject, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"echoSend", nullptr, EchoSend, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"echoFinish", nullptr, EchoFinish, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  fw::teredo::define_napi(env, exports, teredo_client);
  return exports;
}
