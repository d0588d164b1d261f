/* UDP load generator for the forwarder benchmark (PEERS.md §4: "64-byte UDP from a sendmmsg generator").
 * Sends fixed-size datagrams as fast as it can for a while, round-robin over several sockets so that the
 * traffic is several flows (one per source port) and spreads over a multi-queue tun.
 *
 * usage: udpflood DST-IPV4 PORT SECONDS PAYLOAD-BYTES SOCKETS [SEGMENTS]
 * prints the number of datagrams sent. At least one batch is sent. With SEGMENTS > 1 every send is a UDP
 * super-packet of that many datagrams (UDP_SEGMENT, Linux 4.18), which crosses the veth whole.
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

int main(int argc, char **argv) {
  if (argc != 6 && argc != 7) {
    fprintf(stderr, "usage: udpflood DST-IPV4 PORT SECONDS PAYLOAD-BYTES SOCKETS [SEGMENTS]\n");
    return 2;
  }
  struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
  if (inet_pton(AF_INET, argv[1], &dst.sin_addr) != 1) return 2;
  double seconds = atof(argv[3]);
  size_t len = (size_t)atoi(argv[4]);
  int nsock = atoi(argv[5]);
  int segs = argc == 7 ? atoi(argv[6]) : 1;
  if (nsock < 1 || nsock > MAXSOCK || len < 1 || len > 1472 || segs < 1 || segs > 64 || len * (size_t)segs > 65507)
    return 2;  // 65507: the largest UDP payload of one send (65535 - IPv4 - UDP headers)
  int fds[MAXSOCK];
  for (int i = 0; i < nsock; i++) {
    fds[i] = socket(AF_INET, SOCK_DGRAM, 0);
    int seg = (int)len;
    if (fds[i] < 0 || connect(fds[i], (struct sockaddr *)&dst, sizeof dst) < 0 ||
        (segs > 1 && setsockopt(fds[i], SOL_UDP, UDP_SEGMENT, &seg, sizeof seg) < 0)) {
      perror("socket");
      return 1;
    }
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
