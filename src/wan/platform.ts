// The seam between the failover policy (src/dslite) and the system it drives. Two implementations: the
// simulated WAN of the embedded default (src/sim, in-process, no root) and the Linux WAN (src/wan/linux.ts:
// the tun forwarder, our DHCPv4 and DHCPv6 clients, rtnetlink, nft/conntrack). The policy and the detectors
// see only this interface, so the same code runs in both.
import type { Disposable } from '../datamodel/index.ts';
import type { Nat46Config, TeredoState } from '../forwarder/types.ts';
import type { InterfaceInfo } from './stats.ts';

export type { InterfaceInfo, Nat46Config, TeredoState };

/** A DHCPv6 lease (RFC 8415): what the WAN learnt, including option 64 AFTR-Name (RFC 6334). */
export interface Lease6 {
  /** IA_NA addresses ("2001:db8:1::2/128"). */
  addresses: { address: string; preferred: number; valid: number }[];
  /** IA_PD prefixes ("2001:db8:100::/56"). */
  prefixes: { prefix: string; preferred: number; valid: number }[];
  /** OPTION_DNS_SERVERS (23), RFC 3646. */
  dnsServers: string[];
  /** OPTION_AFTR_NAME (64), RFC 6334 §3, decoded from DNS wire format; '' when absent. */
  aftrName: string;
  /** OPTION_S46_CONT_LW (96), RFC 7598 §5.3; null when absent. */
  lw4o6: null | { br: string[]; bind: null | { ipv4: string; bindPrefix: string /* "2001:db8:1:cafe::/64" */; portParams: { offset: number; psidLength: number; psid: number } | null } };
  /** OPTION_DHCP4_O_DHCP6_SERVER (88), RFC 7341 §8; [] when absent. */
  dhcp4o6Servers: string[];
  /** Every option received, for Device.DHCPv6.Client.{i}.ReceivedOption (value as hex). */
  options: { tag: number; value: string }[];
  serverDuid: string;
  clientDuid: string;
  t1: number;
  t2: number;
  /** ms epoch when the Reply was received. */
  obtained: number;
}

/** A DHCPv4 lease (RFC 2131). */
export interface Lease4 {
  address: string;
  subnetMask: string;
  routers: string[];
  dnsServers: string[];
  server: string;
  leaseTime: number; // seconds
  obtained: number; // ms epoch
  /** OPTION_V4_PORTPARAMS (159), RFC 7618 §4: the port set of a shared address; absent = the whole address. */
  portParams?: { offset: number; psidLength: number; psid: number };
}

export type Dhcp4State = 'Init' | 'Selecting' | 'Requesting' | 'Rebinding' | 'Bound' | 'Renewing';

export interface Dhcp6Port {
  lease(): Lease6 | null;
  /** Fires on every new or changed lease, and with null when it is lost. */
  onLease(fn: (lease: Lease6 | null) => void): Disposable;
  renew(): Promise<void>;
  /**
   * A new exchange with the server for fresh options (lw4o6 re-provisioning after an ICMPv6 trigger, RFC 7596
   * §5.2); resolves with the lease that results, also delivered through onLease, or null after timeoutMs.
   */
  reprovision(timeoutMs: number): Promise<Lease6 | null>;
}

/** A DHCPv4-over-DHCPv6 client (RFC 7341) for an lw4o6 binding with a dynamic address. */
export interface Dhcp4o6Port {
  acquire(timeoutMs: number): Promise<Lease4>;
  release(): Promise<void>;
  stop(): Promise<void>;
}

export interface Dhcp4Port {
  state(): Dhcp4State;
  lease(): Lease4 | null;
  /**
   * Starts acquiring a lease ahead of need (the first suspicion about the softwire) without waiting for it,
   * asking for the previous address again (RFC 2131 §3.2/§4.3.1 requested IP address): a failover that
   * follows finds the lease ready. Nothing happens when a lease is held or being acquired.
   */
  prepare(): void;
  /** Discover/request (RFC 2131 §4.4.1); resolves with the bound lease or rejects after timeoutMs. */
  acquire(timeoutMs: number): Promise<Lease4>;
  /**
   * DHCPRELEASE (RFC 2131 §4.4.6): the public IPv4 goes back to the ISP. The client keeps its state (the
   * address it had, to ask for it again), and a lease being acquired is abandoned.
   */
  release(): Promise<void>;
  renew(): Promise<void>;
  onLease(fn: (lease: Lease4 | null) => void): Disposable;
}

/** Counters of the softwire (the forwarder's, or the simulation's). */
export interface TunnelCounters {
  txPackets: number;
  txBytes: number;
  rxPackets: number;
  rxBytes: number;
  drops: number;
  /** ms epoch of the last packet decapsulated from the AFTR, null if none yet. */
  lastRxFromAftr: number | null;
}

/** An ICMPv6 error about the softwire (RFC 4443 §3). */
export interface SoftwireError {
  type: number;
  code: number;
  source: string;
  /** The AFTR the quoted packet was sent to. */
  quotedDst: string;
}

export interface EchoResult {
  ok: boolean;
  rttUs: number;
  reason: string;
}

/**
 * An lw4o6 binding (RFC 7596 §5.1): the shared IPv4 address, the port set (RFC 7597 §5.1: offset a, PSID
 * length k, PSID as a number below 2^k) and the lwB4's tunnel source built from them (RFC 7597 §6 IID).
 */
export interface SoftwireBinding {
  softwire: string;
  ipv4: string;
  psidOffset: number;
  psidLength: number;
  psid: number;
}

export interface TunnelPort {
  /** Points the softwire at an AFTR (starts the forwarder, or reconfigures it: no gap). */
  up(aftr: string): Promise<void>;
  /**
   * The lw4o6 binding the softwire uses from now on (the AFTR is then the BR and the forwarder NAPTs into the
   * port set), or null for DS-Lite. Applied at once while the softwire is up; a changed binding drops the
   * NAPT state (old connections fail, as RFC 7596 re-provisioning accepts).
   */
  bind(b: SoftwireBinding | null): Promise<void>;
  /**
   * lw4o6: ICMPv6 Destination Unreachable code 5 from the BR about a packet the forwarder sent within the
   * last 30 s (RFC 7596 §6.2: the lwAFTR has no binding for us). These are not delivered to onError.
   */
  onPolicyError(fn: (e: SoftwireError) => void): Disposable;
  /** Stops carrying IPv4 in the tunnel. */
  down(): Promise<void>;
  aftr(): string | null;
  counters(): Promise<TunnelCounters>;
  /**
   * ICMP echo through the softwire to the AFTR's 192.0.0.1 (RFC 6333 §5.7): to the AFTR in use, or to
   * `aftr` (another AFTR probed from the one in use). Timed from when the packet left and judged on that
   * time, so a busy CPU delays the answer but never turns a timely reply into a failure.
   */
  echo(timeoutMs: number, aftr?: string): Promise<EchoResult>;
  onError(fn: (e: SoftwireError) => void): Disposable;
}

/**
 * Where IPv4 leaves the gateway: into the softwire (DS-Lite) or natively out of the WAN (dual-stack, NAT44
 * behind the leased address). The NAT44 of the WAN path and the separation of the two paths' connection
 * tracking are in place before any switch, so a packet's binding always belongs to the path it takes: a
 * switch is the route alone (DESIGN step 3; ARCHITECTURE.md "The switch").
 */
export interface Ipv4Port {
  /** Moves the LAN's IPv4 to a path in one step; make-before-break callers bring the new path up first. */
  routeVia(path: 'tunnel' | 'wan', lease?: Lease4): Promise<void>;
  /** Housekeeping off the critical path: drops the conntrack entries of the path the LAN's IPv4 left. */
  flushConntrack(path: 'tunnel' | 'wan'): Promise<number>;
}

/** What the translator counted since it entered NAT46 mode (issue 23; the forwarder's nat46 counters). */
export interface Nat46Counters {
  /** IPv4 from the LAN translated to IPv6 (RFC 7915 §4). */
  translated4to6: number;
  /** IPv6 translated to IPv4 for our clients (RFC 7915 §5). */
  translated6to4: number;
  /** IPv6 for a peer's gateway ID handed to it in IPv6-in-IPv6 (RFC 2473). */
  handedOff: number;
  /** IPv6-in-IPv6 from a peer decapsulated. */
  handOffsReceived: number;
  /** The sum of the nat46_* drop counters. */
  dropped: number;
}

/**
 * The distributed stateless 4->6 translation (issue 23): the forwarder in mode 'nat46'. An alternative IPv4
 * service to the softwire (the data model refuses both at once), so the port owns the forwarder's mode while
 * a config is applied.
 */
export interface Nat46Port {
  /**
   * Translates with this configuration from now on (the forwarder started or reconfigured in mode 'nat46', egress
   * 'tun'; the hand-off address and the identifier space routed into it), or stops translating (null). Rejects
   * when the platform cannot apply it; the caller shows that as Error_Misconfigured.
   */
  apply(c: Nat46Config | null): Promise<void>;
  /** The configuration in force, null when not translating. */
  config(): Nat46Config | null;
  counters(): Promise<Nat46Counters>;
  /**
   * Whether a peer's translator is alive: one ICMPv6 echo request from our hand-off address to its (`address`),
   * which its translator answers itself (RFC 4443 §4.1, native/nat46.cc), sent and timed by the forwarder. ok iff
   * the reply came within timeoutMs. Rejects when not translating or the probe cannot be sent.
   */
  probe(address: string, timeoutMs: number): Promise<EchoResult>;
}

/** What the Teredo controller asks for (issue 22, src/dslite/teredo.ts). */
export interface TeredoSettings {
  /** The server's two IPv4 addresses (RFC 4380 §5.2.1); server2 '' for the primary + 1. */
  server: string;
  server2: string;
  /** The WAN's IPv4 address, where the client's socket is bound. */
  localAddress: string;
  refreshIntervalS: number;
  /** LAN sources NATed to the Teredo address (NAT66); '' for the gateway alone. */
  lanPrefix: string;
}

/**
 * The Teredo client (issue 22): the bundled forwarder in mode 'teredo' (Linux: a forwarder of its own beside the
 * softwire's, on the tun `interface`). While it is qualified the gateway's IPv6 default route points into it and
 * LAN sources in `lanPrefix` leave with the Teredo address.
 */
export interface TeredoPort {
  readonly interface: string;
  /** Runs the client with these settings (restarted when they change), or stops it and removes its routes (null). */
  apply(s: TeredoSettings | null): Promise<void>;
  /** The client's state; null when it does not run. Also keeps the routes in step with it (qualified or not). */
  state(): Promise<TeredoState | null>;
}

export interface Platform {
  readonly simulated: boolean;
  readonly interfaces: { lan: string; wan: string; tunnel: string };
  readonly lanIPv4: { address: string; subnetMask: string };
  readonly dhcp6: Dhcp6Port;
  readonly dhcp4: Dhcp4Port;
  readonly tunnel: TunnelPort;
  readonly ipv4: Ipv4Port;
  readonly nat46: Nat46Port;
  readonly teredo: TeredoPort;
  /**
   * Counters, speed and address of an interface by name (the LAN, the WAN, the softwire): what
   * Device.IP.Interface.{i}.Stats and IF-MIB serve. Undefined for a name the platform does not know.
   */
  interfaceInfo(name: string): InterfaceInfo | undefined;
  /**
   * A DHCP 4o6 client sending from `source` to `servers` (OPTION_DHCP4_O_DHCP6_SERVER), with the lwB4's binding
   * prefix (RFC 8539 OPTION_S46_BIND_IPV6_PREFIX); the caller stops it.
   */
  dhcp4o6(o: { servers: string[]; source: string; bindPrefix: string }): Dhcp4o6Port;
  /** AAAA lookup of the AFTR name over the given DNS servers (RFC 6334 §5). */
  resolve(name: string, servers: string[], timeoutMs: number): Promise<string[]>;
  start(): Promise<void>;
  stop(): Promise<void>;
}
