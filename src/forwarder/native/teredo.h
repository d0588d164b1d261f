// Mode 'teredo' (issue 22): a Teredo client (RFC 4380, with the RFC 5991 security updates) for a gateway whose WAN
// has only IPv4 behind a NAT. It owns its own tun (the gateway's Teredo interface, IPv6, MTU 1280, RFC 4380 §5.1.2)
// and one UDP socket bound on the WAN's IPv4 address, and runs in one native thread of its own: the DS-Lite data
// plane (dataplane.h) is not used in this mode. IPv6 read from the tun leaves encapsulated in UDP (RFC 4380 §5.1.1)
// to the peer's mapped address (another Teredo client) or to the relay found for a native IPv6 peer; UDP from the
// server, relays and peers comes back decapsulated onto the tun. Packets never reach JavaScript; the state (qualified
// or not, address, mapping, NAT kind, peers) and the counters are read as one snapshot.
//
// The codec (address, headers, router solicitation and advertisement, bubbles, echo tests) is pure and exposed to the
// tests through the addon (addon.cc teredo* hooks); the client is in teredo.cc.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <node_api.h>
#include <string>
#include <thread>
#include <vector>

namespace fw {
namespace teredo {

constexpr uint16_t kPort = 3544;  // the Teredo server's UDP port (RFC 4380 §5.3)
constexpr int kMtu = 1280;        // RFC 4380 §5.1.2: the Teredo interface's MTU
constexpr int kNice = -10;        // the client thread's priority: the data plane's threads' (dataplane.cc)
// RFC 4380 §4: 2001:0000::/32.
constexpr uint8_t kPrefix[4] = {0x20, 0x01, 0x00, 0x00};
// The flags word of the address (RFC 4380 §4, "CRAAAAUG AAAAAAAA" since RFC 5991): C the cone bit, R reserved, U and
// G zero, the twelve A bits random.
constexpr uint16_t kFlagCone = 0x8000, kRandomBits = 0x3cff;

// Totals (not drops) of the client. Names are the JS keys.
#define TEREDO_TOTALS(X)                                                                                        \
  X(tx_packets) X(tx_bytes)     /* IPv6 packets from the tun sent encapsulated (bubbles and tests not counted) */ \
  X(rx_packets) X(rx_bytes)     /* IPv6 packets decapsulated onto the tun */                                     \
  X(rs_sent)                    /* router solicitations (qualification and refresh, RFC 4380 §5.2.1, §5.2.5) */ \
  X(early_refreshes)            /* refreshes brought forward: a trusted peer stopped answering (silent_peer) */  \
  X(ra_accepted)                /* router advertisements that matched our nonce and were parsed */               \
  X(qualifications)             /* times the client became qualified */                                           \
  X(address_changes)            /* a refresh found another mapping: a new Teredo address (RFC 4380 §5.2.5) */   \
  X(bubbles_direct)             /* bubbles sent to a peer's mapped address or a relay (RFC 4380 §5.2.6) */       \
  X(bubbles_indirect)           /* bubbles sent to a peer through its server (RFC 4380 §5.2.6) */                \
  X(bubbles_received)           /* bubbles read (never written to the tun) */                                     \
  X(echo_tests)                 /* direct IPv6 connectivity tests sent via the server (RFC 4380 §5.2.9) */      \
  X(relays_found)               /* tests answered: the relay's address and port remembered for the peer */       \
  X(peers_trusted)              /* Teredo peers reached directly after bubbles (RFC 4380 §5.2.3 rule 4) */

// One named counter for every reason a packet is dropped (STYLE 14).
#define TEREDO_DROPS(X)                                                                                       \
  X(not_qualified)        /* data before qualification, or after the server was lost */                      \
  X(tun_malformed)        /* from the tun: not IPv6, shorter than its header or payload length */            \
  X(tun_not_unicast)      /* from the tun: multicast or link-local destination (MLD, RS of the kernel) */     \
  X(tun_wrong_source)     /* from the tun: not from our Teredo address (RFC 4380 §5.2.4) */                  \
  X(tun_to_self)          /* from the tun: to our own Teredo address */                                       \
  X(queue_full)           /* a peer's queue (kQueue packets) was full while bubbles or the test were out */   \
  X(peer_unreachable)     /* queued for a Teredo peer that never answered the bubbles */                      \
  X(relay_not_found)      /* queued for a native peer whose connectivity test got no answer (§5.2.9) */       \
  X(peer_table_full)      /* no peer entry free (kMaxPeers, none idle long enough to reuse) */                \
  X(peer_bad_ipv4)        /* a Teredo peer whose mapped IPv4 is not global unicast (RFC 4380 §5.2.4) */        \
  X(udp_bad_header)       /* UDP payload: truncated authentication or origin indication (RFC 4380 §5.1.1) */  \
  X(udp_not_ipv6)         /* UDP payload: not an IPv6 packet whose payload length fits (RFC 4380 §5.2.3) */   \
  X(udp_wrong_destination) /* decapsulated packet not for our Teredo address (nor a bubble to it) */          \
  X(udp_spoofed_teredo)   /* Teredo source whose mapped address is not the UDP source (§5.2.3 rule 4) */      \
  X(udp_unknown_relay)    /* native source, from an address/port that is not its relay (§5.2.3 rule 5; no \
                             test started in answer: CVE-2006-6266) */                            \
  X(server_not_allowed)   /* from the server: neither an advertisement, a bubble, nor for us (§5.2.3) */      \
  X(ra_bad_nonce)         /* advertisement without our nonce (RFC 4380 §5.1.1, §5.2.1) */                   \
  X(ra_invalid)           /* advertisement without origin indication, Teredo prefix or of another server */   \
  X(ra_unexpected)        /* advertisement while none was asked for */                                        \
  X(auth_failed)          /* authentication confirmation byte not zero (RFC 4380 §5.1.1) */                   \
  X(send_error)           /* the UDP socket refused a datagram */                                              \
  X(write_error)          /* the tun refused a packet */

#define TEREDO_TOTAL_ENUM(n) T_##n,
#define TEREDO_DROP_ENUM(n) D_##n,
enum Total { TEREDO_TOTALS(TEREDO_TOTAL_ENUM) T_COUNT };
enum Drop { TEREDO_DROPS(TEREDO_DROP_ENUM) D_COUNT };
#undef TEREDO_TOTAL_ENUM
#undef TEREDO_DROP_ENUM
extern const char *const kTotalNames[T_COUNT];
extern const char *const kDropNames[D_COUNT];

// ---- codec (RFC 4380 §4, §5.1.1; addresses and IPv4 in network byte order in byte arrays) ----

// The fields of a Teredo address, de-obfuscated.
struct Fields {
  uint8_t server[4];
  uint16_t flags;
  uint16_t port;       // the mapped port
  uint8_t ipv4[4];     // the mapped address
};
// 2001:0::/32 | server | flags | ~port | ~ipv4.
void build_address(uint8_t out[16], const Fields &f);
// False if `a` is not in 2001:0::/32.
bool parse_address(const uint8_t a[16], Fields &f);
inline bool is_teredo(const uint8_t a[16]) { return a[0] == 0x20 && a[1] == 0x01 && a[2] == 0 && a[3] == 0; }

// What precedes the IPv6 packet in a Teredo datagram (RFC 4380 §5.1.1): an authentication indicator (0x0001, ID
// and authentication lengths, the client ID, the authentication value, an 8-byte nonce, a confirmation byte), then
// an origin indication (0x0000, ~port, ~IPv4), each optional, in that order.
struct Headers {
  bool auth = false;
  uint8_t nonce[8] = {};
  uint8_t confirmation = 0;
  uint8_t id_len = 0, au_len = 0;
  bool origin = false;
  uint8_t origin_ipv4[4] = {};
  uint16_t origin_port = 0;
  size_t ipv6_offset = 0;  // where the IPv6 packet starts
};
// False: an indicator is truncated (udp_bad_header).
bool parse_headers(const uint8_t *p, size_t n, Headers &h);
// True if p[0..n) is one whole IPv6 packet (version 6, 40 bytes at least, payload length = n - 40).
bool whole_ipv6(const uint8_t *p, size_t n);
// A bubble: an IPv6 header alone, next header 59 (no next header), payload length 0 (RFC 4380 §2.8).
inline bool is_bubble(const uint8_t *ip6, size_t n) { return n == 40 && ip6[6] == 59; }

// The link-local source of our router solicitations (RFC 4380 §5.2.1): fe80::8000:ffff:ffff:ffff with the cone bit,
// fe80::ffff:ffff:ffff without (the server answers a cone one from its other address).
void rs_source(uint8_t out[16], bool cone);
// Authentication indicator with `nonce` (no ID, no authentication value: RFC 4380 §5.2.2's secure qualification is
// not used: the nonce alone, which lets us tell the server's answer from a spoofed one) + a router solicitation to ff02::2 from rs_source(cone) with a
// zeroed source link-layer option, as miredo and Windows send it. Returns the length (13 + 40 + 24).
size_t build_rs(uint8_t *out, const uint8_t nonce[8], bool cone);
// A router advertisement to rs_source(cone) with a Prefix Information option of length 64: its first 8 bytes (the
// Teredo prefix and the server's IPv4), and the MTU option if present (else 0). False if not such an RA.
bool parse_ra(const uint8_t *ip6, size_t n, bool cone, uint8_t prefix[8], uint32_t *mtu);
// A 40-byte bubble from `src` to `dst`.
void build_bubble(uint8_t out[40], const uint8_t src[16], const uint8_t dst[16]);
// ICMPv6 echo request src -> dst, identifier `id`, sequence `seq`, an 8-byte payload (our nonce). 56 bytes: small
// enough for a server to forward (miredo-server refuses ICMPv6 above 88 payload bytes).
size_t build_echo(uint8_t *out, const uint8_t src[16], const uint8_t dst[16], uint16_t id, uint16_t seq, const uint8_t nonce[8]);
// ICMPv6 checksum over an IPv6 packet's payload (RFC 8200 §8.1 pseudo-header), written at ip6 + 40 + 2.
void icmp6_checksum(uint8_t *ip6, size_t n);

// ---- the client ----

struct Config {
  uint8_t server[4], server2[4];  // primary and secondary server address (RFC 4380 §5.2.1)
  uint8_t local[4];               // the WAN's IPv4 address, where the socket is bound
  uint16_t local_port;            // 0: the kernel's choice
  int refresh_s;                  // RFC 4380 §5.2.5: 30 s (each interval drawn in 75..100 % of it, §5.2)
  int qualify_timeout_ms;         // per solicitation, RFC 4380 §5.2.1: 4 s
  int qualify_retries;            // solicitations per probe, RFC 4380 §5.2.1: 3
  int restart_s;                  // after a failed qualification (no server, symmetric NAT)
  bool cone_probe;                // run RFC 4380's cone probe to learn the NAT kind
  int peer_retry_ms;              // bubbles and connectivity tests: interval ...
  int peer_tries;                 // ... and how many before the queued packets are dropped
};

enum class NatKind : uint8_t { kUnknown, kCone, kRestricted, kSymmetric };

// One peer as the state reports it.
struct PeerInfo {
  uint8_t addr[16];
  bool teredo;           // a Teredo peer (direct); else native IPv6 (through a relay)
  bool trusted;          // direct path open (Teredo) or relay known (native)
  uint8_t via_ipv4[4];   // the peer's mapped address, or its relay's
  uint16_t via_port;
  uint64_t tx_packets, rx_packets, dropped;
};

struct Snapshot {
  bool qualified;
  NatKind nat;
  uint8_t address[16];   // valid when qualified
  uint8_t mapped_ipv4[4];
  uint16_t mapped_port;
  uint8_t server[4];
  uint32_t mtu;
  std::string tun;
  std::vector<PeerInfo> peers;
  uint64_t totals[T_COUNT];
  uint64_t drops[D_COUNT];
};

class Client {
 public:
  static constexpr int kMaxPeers = 256;
  static constexpr int kQueue = 16;  // packets held per peer while bubbles or a test are out
  static constexpr int64_t kEarlyRefreshMs = 10000;  // at most one early refresh (silent_peer) this often

  Client() = default;
  ~Client() { stop(); }
  // Opens the tun `tun` (MTU 1280, up), binds the socket, starts the thread. "" or an errno-style message.
  std::string start(const std::string &tun, const Config &c, std::string &actual);
  void stop();
  bool running() const { return thread_.joinable(); }
  Snapshot snapshot();

 private:
  struct Peer;
  enum class Phase : uint8_t { kProbeCone, kProbeRestricted, kProbeSymmetric, kQualified, kWaiting };

  void run();
  void tick(int64_t now);
  void on_tun(uint8_t *p, size_t n, int64_t now);
  void on_udp(uint8_t *p, size_t n, const uint8_t ip[4], uint16_t port, int64_t now);
  void on_ra(const Headers &h, const uint8_t *ip6, size_t n, int64_t now);
  void send_rs();
  void enter(Phase p, int64_t now);
  int64_t refresh_due(int64_t now);
  void qualified(const uint8_t ipv4[4], uint16_t port, NatKind kind, int64_t now);
  void set_address(const uint8_t *addr);  // null: remove
  bool send(const uint8_t ip[4], uint16_t port, const uint8_t *p, size_t n);
  void write_tun(const uint8_t *p, size_t n);
  Peer *peer(const uint8_t addr[16], int64_t now, bool create);
  void open_path(Peer &pe, int64_t now);
  void flush(Peer &pe);
  void silent_peer(Peer &pe, int64_t now);
  void drop(Drop d) { drops_[d].fetch_add(1, std::memory_order_relaxed); }
  void add(Total t, uint64_t n = 1) { totals_[t].fetch_add(n, std::memory_order_relaxed); }

  Config cfg_{};
  std::string tun_name_;
  int tun_ = -1, udp_ = -1, stop_fd_ = -1, ifindex_ = 0;
  std::thread thread_;
  std::mutex mu_;  // the state below: taken by the thread per event, by snapshot()
  Phase phase_ = Phase::kProbeCone;
  NatKind nat_ = NatKind::kUnknown;
  bool qualified_ = false;
  uint8_t address_[16] = {};
  uint8_t mapped_ipv4_[4] = {};
  uint16_t mapped_port_ = 0;
  uint16_t flags_ = 0;              // our address's flags: random bits (RFC 5991), never the cone bit
  uint8_t probe_ipv4_[4] = {};      // the mapping the restricted probe saw (compared by the symmetric one)
  uint16_t probe_port_ = 0;
  uint8_t nonce_[8] = {};
  int tries_ = 0;                   // solicitations sent in this phase
  int64_t due_ms_ = 0;              // next solicitation (or restart)
  int64_t last_early_ms_ = 0;       // the last early refresh (silent_peer), 0: none
  uint32_t mtu_ = kMtu;
  std::vector<Peer *> peers_;
  std::atomic<uint64_t> totals_[T_COUNT] = {};
  std::atomic<uint64_t> drops_[D_COUNT] = {};
};

// The addon's mode 'teredo' calls (addon_teredo.cc): teredoStart, teredoState and the codec hook teredoCodec, defined
// on `exports`; `client_of` finds a handle's client (addon.cc owns the handles).
using ClientOf = Client *(*)(napi_env env, napi_value handle);
void define_napi(napi_env env, napi_value exports, ClientOf client_of);

}  // namespace teredo
}  // namespace fw
