/* The IPv6 twin of udpflood.c for bench:nat46's IPv6 -> IPv4 direction: the same sendmmsg loop (batches of 64,
 * round-robin over the sockets), but every socket is bound to one source address and port (the server's side of
 * the flows the client opened) and connected to its own destination port, so that the packets belong to known
 * flows (our translator's firewall passes IPv6 only for flows a client opened, ARCHITECTURE.md "NAT46").
 *
 * usage: udpflood6 SRC-IPV6 SRC-PORT DST-IPV6 FIRST-DST-PORT SECONDS PAYLOAD-BYTES SOCKETS
 * socket i: [SRC]:SRC-PORT -> [DST]:FIRST-DST-PORT+i. Prints the number of datagrams sent. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define BATCH 64
#define MAXSOCK 64

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc != 8) {
    fprintf(stderr, "usage: udpflood6 SRC-IPV6 SRC-PORT DST-IPV6 FIRST-DST-PORT SECONDS PAYLOAD-BYTES SOCKETS\n");
    return 2;
  }
  struct sockaddr_in6 src = {.sin6_family = AF_INET6, .sin6_port = htons(atoi(argv[2]))};
  struct sockaddr_in6 dst = {.sin6_family = AF_INET6};
  if (inet_pton(AF_INET6, argv[1], &src.sin6_addr) != 1 || inet_pton(AF_INET6, argv[3], &dst.sin6_addr) != 1) return 2;
  int port0 = atoi(argv[4]);
  double seconds = atof(argv[5]);
  size_t len = (size_t)atoi(argv[6]);
  int nsock = atoi(argv[7]);
  if (nsock < 1 || nsock > MAXSOCK || len < 1 || len > 1452 || port0 < 1 || port0 + nsock > 65536) return 2;
  int fds[MAXSOCK];
  for (int i = 0; i < nsock; i++) {
    int one = 1;
    dst.sin6_port = htons(port0 + i);
    fds[i] = socket(AF_INET6, SOCK_DGRAM, 0);
    if (fds[i] < 0 || setsockopt(fds[i], SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0 ||
        bind(fds[i], (struct sockaddr *)&src, sizeof src) < 0 || connect(fds[i], (struct sockaddr *)&dst, sizeof dst) < 0) {
      perror("socket");
      return 1;
    }
  }
  static char payload[1452];
  memset(payload, 0x5a, sizeof payload);
  struct iovec iov = {.iov_base = payload, .iov_len = len};
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
    if (n > 0) sent += (unsigned long long)n;
    k = (k + 1) % nsock;
  } while (now() < end);
  printf("%llu\n", sent);
  return 0;
}
