/* UDP load generator for the forwarder benchmarks (PEERS.md §4: "64-byte UDP from a sendmmsg generator").
 * Sends fixed-size datagrams as fast as it can for a while, round-robin over several sockets so that the
 * traffic is several flows (one per socket) and spreads over a multi-queue tun.
 *
 * usage: udpflood DST-IPV4 PORT SECONDS PAYLOAD-BYTES SOCKETS [SEGMENTS]
 *   socket i: an ephemeral source port -> DST:PORT. With SEGMENTS > 1 every send is a UDP super-packet of that
 *   many datagrams (UDP_SEGMENT, Linux 4.18), which crosses the veth whole.
 * usage: udpflood -6 SRC-IPV6 SRC-PORT DST-IPV6 FIRST-DST-PORT SECONDS PAYLOAD-BYTES SOCKETS
 *   socket i: [SRC]:SRC-PORT -> [DST]:FIRST-DST-PORT+i, every socket bound to the one source (bench:nat46's
 *   IPv6 -> IPv4 direction: the server's side of flows a client opened, which our translator's firewall passes,
 *   ARCHITECTURE.md "NAT46").
 * Prints the number of datagrams sent. At least one batch is sent.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <time.h>

#define BATCH 64
#define MAXSOCK 64

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static const char *usage =
    "usage: udpflood DST-IPV4 PORT SECONDS PAYLOAD-BYTES SOCKETS [SEGMENTS]\n"
    "       udpflood -6 SRC-IPV6 SRC-PORT DST-IPV6 FIRST-DST-PORT SECONDS PAYLOAD-BYTES SOCKETS\n";

/* IPv4: nsock sockets connected to dst:port, UDP_SEGMENT when segs > 1. */
static int open4(char **a, int nsock, size_t len, int segs, int *fds) {
  struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons(atoi(a[1]))};
  if (inet_pton(AF_INET, a[0], &dst.sin_addr) != 1) return -1;
  for (int i = 0; i < nsock; i++) {
    int seg = (int)len;
    fds[i] = socket(AF_INET, SOCK_DGRAM, 0);
    if (fds[i] < 0 || connect(fds[i], (struct sockaddr *)&dst, sizeof dst) < 0 ||
        (segs > 1 && setsockopt(fds[i], SOL_UDP, UDP_SEGMENT, &seg, sizeof seg) < 0))
      return -1;
  }
  return 0;
}

/* IPv6: nsock sockets bound to [src]:src-port (SO_REUSEPORT), socket i connected to [dst]:first-port+i. */
static int open6(char **a, int nsock, int *fds) {
  struct sockaddr_in6 src = {.sin6_family = AF_INET6, .sin6_port = htons(atoi(a[1]))};
  struct sockaddr_in6 dst = {.sin6_family = AF_INET6};
  int port0 = atoi(a[3]);
  if (inet_pton(AF_INET6, a[0], &src.sin6_addr) != 1 || inet_pton(AF_INET6, a[2], &dst.sin6_addr) != 1) return -1;
  if (port0 < 1 || port0 + nsock > 65536) return -1;
  for (int i = 0; i < nsock; i++) {
    int one = 1;
    dst.sin6_port = htons(port0 + i);
    fds[i] = socket(AF_INET6, SOCK_DGRAM, 0);
    if (fds[i] < 0 || setsockopt(fds[i], SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0 ||
        bind(fds[i], (struct sockaddr *)&src, sizeof src) < 0 || connect(fds[i], (struct sockaddr *)&dst, sizeof dst) < 0)
      return -1;
  }
  return 0;
}

int main(int argc, char **argv) {
  int v6 = argc > 1 && strcmp(argv[1], "-6") == 0;
  if (v6 ? argc != 9 : argc != 6 && argc != 7) return fputs(usage, stderr), 2;
  char **t = argv + (v6 ? 6 : 3); /* SECONDS PAYLOAD-BYTES SOCKETS [SEGMENTS] */
  double seconds = atof(t[0]);
  size_t len = (size_t)atoi(t[1]);
  int nsock = atoi(t[2]);
  int segs = !v6 && argc == 7 ? atoi(t[3]) : 1;
  size_t maxlen = v6 ? 1452 : 1472; /* a 1500-byte link less the IP and UDP headers */
  if (nsock < 1 || nsock > MAXSOCK || len < 1 || len > maxlen || segs < 1 || segs > 64 || len * (size_t)segs > 65507)
    return fputs(usage, stderr), 2; /* 65507: the largest UDP payload of one send (65535 - IPv4 - UDP headers) */
  int fds[MAXSOCK];
  if ((v6 ? open6(argv + 2, nsock, fds) : open4(argv + 1, nsock, len, segs, fds)) < 0) {
    perror("socket");
    return 1;
  }
  static char payload[65507];
  memset(payload, 0x5a, sizeof payload);
  struct iovec iov = {.iov_base = payload, .iov_len = len * (size_t)segs};
  struct mmsghdr msgs[BATCH];
  memset(msgs, 0, sizeof msgs);
  for (int i = 0; i < BATCH; i++) {
    msgs[i].msg_hdr.msg_iov = &iov;
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  unsigned long long sent = 0;
  double end = now() + seconds;
  int k = 0;
  do {
    int n = sendmmsg(fds[k], msgs, BATCH, 0);
    if (n > 0) sent += (unsigned long long)n * (unsigned long long)segs;
    k = (k + 1) % nsock;
  } while (now() < end);
  printf("%llu\n", sent);
  return 0;
}
