// The nat46 lab (issue 23): three twinstack gateways sharing one prefix, each with an IPv4-only LAN client, an
// IPv6-only core and an IPv6-only server, in network namespaces n46<pid><tag>-<role>. Documentation prefixes
// only (RFC 3849, RFC 5737; RFC 1918 for the LANs):
//
//  [lan1] lan0 192.168.1.2 ── lan-g1 192.168.1.1 [gw1] tun n46: forwarder, gateway ID 1 ── core0 ┐
//  [lan2] lan0 192.168.2.2 ── lan-g2 192.168.2.1 [gw2] tun n46: forwarder, gateway ID 2 ── core0 ┼─ [core] ── [srv]
//  [lan3] lan0 192.168.3.2 ── lan-g3 192.168.3.1 [gw3] tun n46: forwarder, gateway ID 3 ── core0 ┘  core-gN    srv0
//     gwN core0 2001:db8:c0:N::2/64, core core-gN 2001:db8:c0:N::1/64; every link MTU 1500
//     srv srv0 2001:db8:6464::cb00:7109/128 (= the RFC 6052 /96 | 203.0.113.9), on-link to core over fe80::1/2
//
// The address format (nat46.h): prefix 2001:db8:4600::/40 | tenant 0x2a (8 bits) | gateway ID (16 bits) | zero |
// client IPv4, so gateway N's identifier space is 2001:db8:462a:N::/64 and its client 192.168.N.2 leaves as
// 2001:db8:462a:N::c0a8:N02. IPv4 destination d is 2001:db8:6464::/96 | d. Each gateway routes the whole prefix
// and its hand-off address 2001:db8:ff00::N into its tun (the forwarder sorts our ID, the peers', unknown IDs and
// other tenants, counting each drop) and all IPv4 from its LAN into the tun (the IPv4 side is reached only by
// translation). The core carries no more than the edge: hand-offs keep within the forwarders' ipv6Mtu (RFC 2473
// §7.1: fragmented, or refused with a packet too big), so the core needs no larger MTU.
//
// The core's routes are what a BGP speaker beside each gateway would install from the two routes the gateway
// exports: its identifier space, prefix | tenant | gateway ID as a /(prefix length + tenantBits + gatewayBits)
// (here 2001:db8:462a:N::/64), and its hand-off address as a /128. `routeSpace` moves a space the way a routing
// change does (ECMP or anycast choosing another gateway, a failover, the adoption of a dead gateway's space).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Counters, ForwarderConfig, Nat46Config } from '../../src/forwarder/types.ts';
import { JsonlChild } from '../lab/jsonl.ts';
import { ensureTools, NetnsLab } from '../lab/netns.ts';
import { until } from '../wait.ts';

const run = promisify(execFile);
const DRIVER = fileURLToPath(new URL('./gateway.ts', import.meta.url));

export type Gw = 1 | 2 | 3;
export const GWS: readonly Gw[] = [1, 2, 3];
export type Role = `gw${Gw}` | `lan${Gw}` | 'core' | 'srv';
const ROLES: readonly Role[] = ['gw1', 'gw2', 'gw3', 'lan1', 'lan2', 'lan3', 'core', 'srv'];

export const PREFIX = '2001:db8:4600::/40';
export const TENANT_BITS = 8;
export const GATEWAY_BITS = 16;
export const TENANT = 0x2a;
export const DST96 = '2001:db8:6464::/96';
/** The server as the IPv4 clients know it; it is SERVER6 on the IPv6 side (RFC 6052 §2.2). */
export const SERVER4 = '203.0.113.9';
/**
 * Source of the ICMPv4 errors the translators send and of translated ICMPv6 errors from IPv6 routers (RFC 6791).
 * A deployment would use 192.0.0.8 (RFC 7600); the lab keeps to documentation prefixes.
 */
export const B4_IPV4 = '198.51.100.1';
/** The server's UDP and TCP echo port. */
export const PORT = 7007;
/** The tun of each gateway's forwarder. */
export const TUN = 'n46';
export const client4 = (g: Gw): string => `192.168.${g}.2`;
export const lan4 = (g: Gw): string => `192.168.${g}.0/24`;
/** Gateway g's hand-off address (its `localAddress`), exported as a /128. */
export const handoff = (g: Gw): string => `2001:db8:ff00::${g}`;
/** The core's address on its link to gateway g (the source of its ICMPv6 errors towards g's clients). */
export const coreSide = (g: Gw): string => `2001:db8:c0:${g}::1`;
/** Gateway g's address on its link to the core (the next hop of its exported routes). */
export const gwSide = (g: Gw): string => `2001:db8:c0:${g}::2`;

// ---- addresses ----

function big6(s: string): bigint {
  const [head, tail] = s.includes('::') ? s.split('::') : [s, undefined];
  const words = (p: string | undefined) => (p ? p.split(':').map((w) => parseInt(w, 16)) : []);
  const h = words(head);
  const t = words(tail);
  const all = tail === undefined ? h : [...h, ...Array<number>(8 - h.length - t.length).fill(0), ...t];
  return all.reduce((acc, w) => (acc << 16n) | BigInt(w), 0n);
}
/** RFC 5952 text of a 128-bit value (the WHATWG URL serializer compresses the same way). */
function text6(v: bigint): string {
  const groups = Array.from({ length: 8 }, (_, i) => ((v >> BigInt(112 - 16 * i)) & 0xffffn).toString(16));
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
}
/** RFC 5952 form of any IPv6 address text (what sockets and the tests compare). */
export const canon6 = (s: string): string => text6(big6(s));
/** RFC 5952 text of 16 address bytes. */
export const fromBytes6 = (b: Buffer): string => text6(BigInt(`0x${b.subarray(0, 16).toString('hex')}`));
/** Whether an IPv6 address lies inside a prefix 'address/length'. */
export function within(addr: string, prefix: string): boolean {
  const [net, len] = prefix.split('/');
  const shift = BigInt(128 - Number(len));
  return big6(addr) >> shift === big6(net) >> shift;
}
const v4big = (s: string) => s.split('.').reduce((acc, o) => (acc << 8n) | BigInt(o), 0n);
const PREFIX_LEN = Number(PREFIX.split('/')[1]);

/** A client's IPv6 address: prefix | tenant | gateway ID | zero | IPv4 (nat46.h). */
export function nat46Address(tenant: number, gw: number, ipv4: string): string {
  const tenantShift = BigInt(128 - PREFIX_LEN - TENANT_BITS);
  const gwShift = tenantShift - BigInt(GATEWAY_BITS);
  return text6(big6(PREFIX.split('/')[0]) | (BigInt(tenant) << tenantShift) | (BigInt(gw) << gwShift) | v4big(ipv4));
}
/** A gateway's identifier space, the route it exports: prefix | tenant | gateway ID as a /(prefix length + tenantBits + gatewayBits), /64 here. */
export function space(gw: number, tenant = TENANT): string {
  const len = PREFIX_LEN + TENANT_BITS + GATEWAY_BITS;
  return `${nat46Address(tenant, gw, '0.0.0.0')}/${len}`;
}
/** The RFC 6052 /96 address of an IPv4 address of the IPv4 side. */
export const dst6 = (ipv4: string): string => text6(big6(DST96.split('/')[0]) | v4big(ipv4));
export const SERVER6 = dst6(SERVER4);

/** Gateway g's forwarder config: same prefix and tenant, gateway ID g, the two others as peers. */
export function gatewayConfig(g: Gw, nat46: Partial<Nat46Config> = {}): ForwarderConfig {
  return {
    tunName: TUN,
    // Unused in nat46, required by the config (types.ts): documentation addresses.
    softwire: '2001:db8:b4::1',
    aftr: '2001:db8:ff::1',
    mode: 'nat46',
    b4Ipv4: B4_IPV4,
    nat46: {
      prefix: PREFIX, tenantBits: TENANT_BITS, gatewayBits: GATEWAY_BITS, tenantId: TENANT, gatewayId: g,
      dstPrefix: DST96, localAddress: handoff(g), peers: GWS.filter((p) => p !== g).map((p) => ({ gatewayId: p, address: handoff(p) })),
      ...nat46,
    },
  };
}

// ---- the child processes ----

/** A `gateway.ts` child in a namespace (a forwarder or a host), driven by JSON lines (../lab/jsonl.ts). */
export class Child extends JsonlChild {
  /** `track` gets the process at once, so that it can be killed while it is still starting. */
  static async start(ns: string, kind: 'forwarder' | 'host', name: string, track?: (p: ChildProcess) => void): Promise<Child> {
    const c = new Child(ns, DRIVER, [kind], name, track);
    await c.ready;
    return c;
  }
}

// ---- captures ----

/** The IP packets of a pcap file (Ethernet, Linux cooked v1/v2 or raw IP link types), link headers removed. */
export function pcapPackets(file: string): Buffer[] {
  let b: Buffer;
  try {
    b = readFileSync(file);
  } catch {
    return [];
  }
  if (b.length < 24) return [];
  const le = b.readUInt32LE(0) === 0xa1b2c3d4;
  const u32 = (o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const link = u32(20);
  const skip = link === 1 ? 14 : link === 113 ? 16 : link === 276 ? 20 : 0;
  const out: Buffer[] = [];
  for (let o = 24; o + 16 <= b.length; ) {
    const n = u32(o + 8);
    if (o + 16 + n > b.length) break;
    const frame = b.subarray(o + 16, o + 16 + n);
    o += 16 + n;
    const ip = frame.subarray(skip);
    if (ip.length >= 20 && (ip[0] >> 4 === 4 || ip[0] >> 4 === 6)) out.push(ip);
  }
  return out;
}

export interface Capture {
  /** Every IP packet captured so far. */
  packets(): Buffer[];
  stop(): Promise<void>;
}

// ---- the lab ----

export class Nat46Lab extends NetnsLab<Role> {
  readonly gw = {} as Record<Gw, Child>;
  /** The server's sockets (its UDP and TCP echo servers on PORT run from the start). */
  srv!: Child;
  #clients = new Map<Gw, Promise<Child>>();
  #nftTables = new Set<Role>();

  private constructor(tag: string) {
    super(`n46${process.pid}${tag}`);
  }

  #ip(...args: string[]): Promise<unknown> {
    return run('ip', args);
  }

  /** Builds the namespaces, links and routes, starts the three forwarders, the clients and the server. */
  static async create(tag: string): Promise<Nat46Lab> {
    // tools/ensure-peers.sh installs the suite's peers; iputils-ping is not among them yet.
    ensureTools('nat46', { ip: 'iproute2', nft: 'nftables', tcpdump: 'tcpdump', ping: 'iputils-ping' });
    const lab = new Nat46Lab(tag);
    await lab.setUp(() => lab.#build());
    return lab;
  }

  async #build(): Promise<void> {
    const ip = (...a: string[]) => this.#ip(...a);
    await this.addNamespaces(ROLES);
    await Promise.all(ROLES.map(async (r) => {
      // IPv6 usable at once (no DAD); no reverse-path filter: translated packets arrive from the tun with sources
      // (the IPv4 side, B4_IPV4) that are routed back into it anyway, but a default of 2 elsewhere must not matter.
      const sysctls = ['net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0', 'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0'];
      if (r.startsWith('gw')) sysctls.push('net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1');
      if (r === 'core') sysctls.push('net.ipv6.conf.all.forwarding=1');
      await this.exec(r, 'sysctl', '-qw', ...sysctls);
    }));
    // Every skb on a lab link is one wire packet: no sender builds multi-segment ones (gso_max_segs 1: TCP's TSO
    // autosizing is capped by it) and no receiver merges them (gro_max_size 0). Otherwise tcpdump and nft count
    // super-packets where the forwarder, behind a tun that takes none in nat46, counts segments.
    const veth = async (a: Role, an: string, b: Role, bn: string) => {
      await ip('link', 'add', 'name', an, 'netns', this.ns(a), 'type', 'veth', 'peer', 'name', bn, 'netns', this.ns(b));
      await ip('-n', this.ns(a), 'link', 'set', an, 'gso_max_segs', '1', 'gro_max_size', '0', 'up');
      await ip('-n', this.ns(b), 'link', 'set', bn, 'gso_max_segs', '1', 'gro_max_size', '0', 'up');
    };
    const addr = (r: Role, dev: string, a: string) => ip('-n', this.ns(r), 'addr', 'add', a, 'dev', dev, ...(a.includes(':') ? ['nodad'] : []));
    const route = (r: Role, ...a: string[]) => ip('-n', this.ns(r), ...(a[0].includes(':') ? ['-6'] : []), 'route', 'add', ...a);
    for (const g of GWS) {
      await veth(`lan${g}`, 'lan0', `gw${g}`, `lan-g${g}`);
      await veth(`gw${g}`, 'core0', 'core', `core-g${g}`);
      await addr(`lan${g}`, 'lan0', `${client4(g)}/24`);
      await addr(`gw${g}`, `lan-g${g}`, `192.168.${g}.1/24`);
      await addr(`gw${g}`, 'core0', `${gwSide(g)}/64`);
      await addr('core', `core-g${g}`, `${coreSide(g)}/64`);
      await route(`lan${g}`, 'default', 'via', `192.168.${g}.1`);
      await route(`gw${g}`, '::/0', 'via', coreSide(g));
    }
    // The server's only global address is SERVER6 (its replies cannot take another source), on-link to the core.
    await veth('core', 'core-srv', 'srv', 'srv0');
    await addr('core', 'core-srv', 'fe80::1/64');
    await addr('srv', 'srv0', 'fe80::2/64');
    await addr('srv', 'srv0', `${SERVER6}/128`);
    await route('srv', '::/0', 'via', 'fe80::1', 'dev', 'srv0');
    await route('core', DST96, 'via', 'fe80::2', 'dev', 'core-srv');

    // gw1's client is in every test: started with the rest; the other clients when first asked for. All settled
    // before going on, so a failure leaves no child still starting behind cleanup().
    const started = await Promise.allSettled([
      ...GWS.map((g) => this.#spawn(`gw${g}`, 'forwarder')),
      this.#spawn('srv', 'host'),
      this.client(1),
    ]);
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    const [g1, g2, g3, srv] = started.map((r) => (r as PromiseFulfilledResult<Child>).value);
    Object.assign(this.gw, { 1: g1, 2: g2, 3: g3 });
    this.srv = srv;
    await Promise.all(GWS.map(async (g) => {
      await this.gw[g].call('start', { config: gatewayConfig(g) });
      await route(`gw${g}`, PREFIX, 'dev', TUN);
      await route(`gw${g}`, `${handoff(g)}/128`, 'dev', TUN);
      await route(`gw${g}`, 'default', 'dev', TUN);
    }));
    for (const g of GWS) {
      await this.routeSpace(g, g);
      await route('core', `${handoff(g)}/128`, 'via', gwSide(g));
    }
    await srv.call('udpServe', { port: PORT });
    await srv.call('tcpServe', { port: PORT });
  }

  #spawn(role: Role, kind: 'forwarder' | 'host'): Promise<Child> {
    return this.startChild((track) => Child.start(this.ns(role), kind, role, track));
  }

  /** The sockets of gateway g's LAN client (a host child in lan<g>, started on first use). */
  client(g: Gw): Promise<Child> {
    let c = this.#clients.get(g);
    if (!c) this.#clients.set(g, (c = this.#spawn(`lan${g}`, 'host')));
    return c;
  }

  /** The core's route of gateway g's identifier space now leads to gateway `via` (replaced at once). */
  async routeSpace(g: Gw, via: Gw): Promise<void> {
    await this.#ip('-n', this.ns('core'), '-6', 'route', 'replace', space(g), 'via', gwSide(via));
  }

  /**
   * Re-homes gateway g's LAN on gateway `to`, as moving the cable (or an L2 failover) would: gw<g>'s end of the
   * LAN link moves into gw<to> with the LAN gateway address 192.168.g.1. The client keeps its interface, its
   * IPv4 address, its default route and its sockets; the link keeps its MAC, so not even the client's ARP entry
   * changes.
   */
  async moveLan(g: Gw, to: Gw): Promise<void> {
    const dev = `lan-g${g}`;
    await this.#ip('-n', this.ns(`gw${g}`), 'link', 'set', dev, 'netns', this.ns(`gw${to}`));
    await this.#ip('-n', this.ns(`gw${to}`), 'addr', 'add', `192.168.${g}.1/24`, 'dev', dev);
    await this.#ip('-n', this.ns(`gw${to}`), 'link', 'set', dev, 'up');
  }

  counters(g: Gw): Promise<Counters> {
    return this.gw[g].call<Counters>('counters');
  }

  /**
   * A named nftables packet counter in `role`'s forward hook for packets matching `match` (nft syntax, e.g.
   * `oifname "core-g2" ip6 daddr 2001:db8:462a:1::/64`); returns its reader.
   */
  async counter(role: Role, name: string, match: string): Promise<() => Promise<number>> {
    if (!this.#nftTables.has(role)) {
      await this.exec(role, 'nft', 'add table inet lab; add chain inet lab counted { type filter hook forward priority 0; policy accept; }');
      this.#nftTables.add(role);
    }
    await this.exec(role, 'nft', `add counter inet lab ${name}; add rule inet lab counted ${match} counter name ${name}`);
    return async () => Number(/packets (\d+)/.exec(await this.exec(role, 'nft', 'list', 'counter', 'inet', 'lab', name))![1]);
  }

  /** tcpdump on `dev` in `role` (optional BPF filter words), ready when it returns. */
  async capture(role: Role, dev: string, ...filter: string[]): Promise<Capture> {
    const file = join(this.dir, `${role}-${dev}-${Date.now()}-${Math.random().toString(36).slice(2, 6)}.pcap`);
    // -Z root: tcpdump would otherwise drop to its own user and fail to write into our 0700 directory.
    const p = this.track(spawn('ip', ['netns', 'exec', this.ns(role), 'tcpdump', '-U', '-n', '-Z', 'root', '-i', dev, '-w', file, ...filter], { stdio: ['ignore', 'ignore', 'pipe'] }));
    let err = '';
    p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    await until(() => /listening on/.test(err) || p.exitCode !== null, 10_000, `tcpdump on ${role} ${dev}`);
    if (p.exitCode !== null) throw new Error(`tcpdump on ${role} ${dev} exited: ${err}`);
    return {
      packets: () => pcapPackets(file),
      stop: async () => {
        if (p.exitCode === null && p.signalCode === null) {
          const gone = new Promise((r) => p.once('exit', r));
          process.kill(p.pid!, 'SIGTERM');
          await gone;
        }
      },
    };
  }

  /** Children ended (politely, then by pid), namespaces deleted, files removed. Safe to call twice. */
  override async cleanup(): Promise<void> {
    // Clients still starting are in the lab's children once started: wait for them, so that none is left behind.
    await Promise.all([...this.#clients.values()].map((c) => c.catch(() => null)));
    await this.teardown('SIGKILL');
  }
}
