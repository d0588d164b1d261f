// Synchronous IPv4 route and address changes over rtnetlink (RFC 3549 §3.1.1, rtnetlink(7)): the typed
// loader of the `netlink` N-API addon (src/wan/native/netlink.cc, built by node-gyp from binding.gyp into
// build/Release/netlink.node). One request and its kernel ack per call, on a socket of its own, never
// waiting more than a second: no `ip` process is started, so a route switch does not wait for fork/exec
// under CPU load. Each function throws an Error whose message names the operation and its arguments (as
// ip(8) would spell them) with the kernel's errno text and, when the kernel gives one, its extended-ack
// text; `code` is the errno name ('ENODEV', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ESRCH', 'ETIMEDOUT', ...).
// Malformed arguments throw a TypeError before anything is sent. Needs CAP_NET_ADMIN for changes.
import { loadNative } from '../forwarder/native.ts';

/** The key of an IPv4 route: what selects it in the kernel's table (fib_table_delete). */
export interface RouteKey {
  /**
   * '0.0.0.0/0' (or 'default'), 'a.b.c.d/len' with no host bits set, or 'a.b.c.d' for a /32; or an IPv6 prefix
   * ('2001:db8::1/128', or an address for a /128): a route onto `dev`, without gateway, src or mtu.
   */
  dst: string;
  /** The outgoing interface, by name (resolved with if_nametoindex(3)). */
  dev: string;
  /** The next hop; absent (or ''): the destination is on the link (scope link). */
  gateway?: string;
  /** Routing table id; absent: main (254). */
  table?: number;
  /** RTA_PRIORITY; absent: 0 when adding, any when deleting. */
  metric?: number;
}

export interface Route extends RouteKey {
  /** The preferred source address (RTA_PREFSRC); must be a local address. */
  src?: string;
  /** RTAX_MTU of the route (a locked path MTU is not set). */
  mtu?: number;
}

export interface Ipv4Address {
  dev: string;
  address: string;
  prefixLen: number;
}

/** What routeGet() reports: the kernel's choice for one destination. */
export interface RouteLookup {
  dev: string;
  gateway?: string;
  src?: string;
}

interface NetlinkAddon {
  routeReplace(r: Route): void;
  routeDelete(r: RouteKey): void;
  addrReplace(a: Ipv4Address & { broadcast?: string }): void;
  addrDelete(a: Ipv4Address): void;
  routeGet(dst: string): RouteLookup;
  udpSocket(dev: string, port: number): number;
  packetSocket(dev: string): { fd: number; ifindex: number };
  packetSend(fd: number, ifindex: number, packet: Buffer): void;
}

let cached: NetlinkAddon | undefined;

/**
 * The addon, loaded once; src/main.ts calls it before a Linux WAN starts. A missing or broken file throws an
 * Error with one line naming it and the fix (src/forwarder/native.ts `loadNative`).
 */
export function loadNetlinkAddon(): NetlinkAddon {
  cached ??= loadNative<NetlinkAddon>('netlink');
  return cached;
}
const addon = loadNetlinkAddon;

/**
 * Adds the route or replaces the one with the same key (RTM_NEWROUTE, NLM_F_CREATE|NLM_F_REPLACE): protocol
 * static, type unicast, scope universe with a gateway and link without. Replacing the default route of dev A
 * by one via a gateway on dev B is one atomic change: there is no moment without a default route.
 */
export function routeReplace(r: Route): void {
  addon().routeReplace(r);
}

/** Deletes the route matching the key (RTM_DELROUTE; src and mtu, if given, are ignored); ESRCH when there is none. */
export function routeDelete(r: RouteKey): void {
  addon().routeDelete(r);
}

/**
 * Adds the IPv4 address or updates the existing one with the same address and prefix length (RTM_NEWADDR,
 * NLM_F_CREATE|NLM_F_REPLACE), as `ip addr replace` does. No broadcast address unless given.
 */
export function addrReplace(a: Ipv4Address & { broadcast?: string }): void {
  addon().addrReplace(a);
}

/** Removes the IPv4 address (RTM_DELADDR; a broadcast, if given, is ignored); EADDRNOTAVAIL when the interface does not have it. */
export function addrDelete(a: Ipv4Address): void {
  addon().addrDelete(a);
}

/** The route the kernel would use towards the address (RTM_GETROUTE), as `ip route get` shows it. */
export function routeGet(dst: string): RouteLookup {
  return addon().routeGet(dst);
}

/**
 * A UDP socket on 0.0.0.0:port bound to the interface (SO_BINDTODEVICE), with SO_BROADCAST and SO_REUSEADDR,
 * non-blocking; returns its descriptor for dgram's `socket.bind({ fd })`. The DHCPv4 client's socket: sends
 * leave through that interface and its broadcasts arrive. (A broadcast sent on it takes a source address from
 * another interface when this one has none: the client's broadcasts go through packetSocket instead.)
 * Needs CAP_NET_RAW (SO_BINDTODEVICE); the port below 1024, CAP_NET_BIND_SERVICE.
 */
export function udpSocket(dev: string, port: number): number {
  return addon().udpSocket(dev, port);
}

/**
 * A send-only AF_PACKET socket (SOCK_DGRAM, protocol 0: it receives nothing) bound to the interface, for
 * packetSend. Needs CAP_NET_RAW. Close the fd with fs.closeSync.
 */
export function packetSocket(dev: string): { fd: number; ifindex: number } {
  return addon().packetSocket(dev);
}

/** Sends one whole IPv4 packet (header included) to the link-layer broadcast address of the interface. */
export function packetSend(fd: number, ifindex: number, packet: Buffer): void {
  addon().packetSend(fd, ifindex, packet);
}
