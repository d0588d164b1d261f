// The real WAN (config wan.mode = 'linux', root): the bundled tun forwarder as the B4 (src/forwarder), our
// DHCPv6 and DHCPv4 clients (busybox udhcpc for DHCPv4 when configured), rtnetlink (./netlink.ts) for the IPv4 route and the leased
// address, and one nftables table, loaded once at start, for NAT44 and for keeping each path's
// connection tracking apart (ARCHITECTURE.md "The switch"). IPv6 routes and addresses of the LAN are never
// touched here, so the LAN's IPv6 keeps flowing through every switch.
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Resolver } from 'node:dns/promises';
import { promisify } from 'node:util';
import type { Logger } from 'pino';
import { Emitter } from '../datamodel/index.ts';
import { Forwarder, type Icmpv6ErrorEvent } from '../forwarder/index.ts';
import type { ForwarderConfig } from '../forwarder/types.ts';
import { Dhcp4Client } from './dhcp4.ts';
import { Dhcp6Client } from './dhcp6.ts';
import { addrDelete, addrReplace, routeDelete, routeReplace } from './netlink.ts';
import type { WanConfig } from './index.ts';
import { Dhcp4o6Client } from './dhcp4o6.ts';
import type {
  Dhcp4o6Port, Dhcp4Port, EchoResult, InterfaceInfo, Ipv4Port, Lease4, Lease6, Nat46Config, Nat46Counters, Nat46Port, Platform, SoftwireBinding,
  SoftwireError, TunnelCounters, TunnelPort,
} from './platform.ts';
import { nat46Space } from '../forwarder/addresses.ts';
import { sysfsInterface } from './stats.ts';
import { LinuxTeredo } from './teredo.ts';
import { Udhcpc } from './udhcpc.ts';

const exec = promisify(execFile);
const B4_IPV4 = '192.0.0.2'; // RFC 6333 §5.7
/** Conntrack zones: the softwire's flows and the WAN's (NAT44) flows never share an entry. */
export const ZONE = { tunnel: 1, wan: 2 } as const;
/** How long packets from the previous AFTR are still taken after a move between AFTRs (ms). */
const DRAIN_MS = 3000;

/**
 * The one nftables table of the Linux WAN, loaded at start and never changed by a switch:
 * - Each IPv4 packet is tracked in the zone of the path it takes: from the LAN by a FIB lookup of its
 *   destination (the same lookup the routing decision makes next), from the tun in the softwire's zone,
 *   from the WAN in the WAN's. A switch is then the route alone: the first packet of a flow after it
 *   finds no entry in the new path's zone and gets the binding of that path, so a flow NATed to the
 *   public IPv4 never enters the softwire with that source (an RFC 6333 §6 AFTR drops it), and a flow of
 *   the softwire never leaves the WAN un-NATed. No conntrack flush is needed on the critical path.
 * - NAT44 (RFC 3022) of the LAN behind whatever address the WAN holds (masquerade: nothing to change
 *   when the lease arrives, and entries die with the address).
 * - Guards, counted: never the LAN's private source out of the WAN; nothing but private sources (the LAN,
 *   RFC 1918, 192.0.0.0/29) into the softwire, as the AFTR would refuse them (a DHCP reply unicast to an
 *   address not yet held, routed by default into the tun, was one).
 */
export function nftRuleset(t: string, i: { lan: string; wan: string; tun: string; lanNet: string }): string {
  return `add table ip ${t}
delete table ip ${t}
table ip ${t} {
  chain zones {
    type filter hook prerouting priority raw; policy accept;
    iifname "${i.lan}" fib daddr oifname "${i.tun}" ct zone set ${ZONE.tunnel}
    iifname "${i.lan}" fib daddr oifname "${i.wan}" ct zone set ${ZONE.wan}
    iifname "${i.tun}" ct zone set ${ZONE.tunnel}
    iifname "${i.wan}" ct zone set ${ZONE.wan}
  }
  chain nat {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "${i.wan}" ip saddr ${i.lanNet} masquerade
  }
  chain guard {
    type filter hook postrouting priority srcnat + 10; policy accept;
    oifname "${i.wan}" ip saddr ${i.lanNet} counter name wan_private_source drop
    oifname "${i.tun}" ip saddr { 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 192.0.0.0/29 } accept
    oifname "${i.tun}" ip saddr != ${i.lanNet} counter name tunnel_public_source drop
  }
  counter wan_private_source { }
  counter tunnel_public_source { }
}
`;
}

export const maskLen = (mask: string) => mask.split('.').reduce((n, o) => n + (Number(o) >>> 0).toString(2).replace(/0/g, '').length, 0);

export function networkOf(address: string, mask: string): string {
  const a = address.split('.').map(Number);
  const m = mask.split('.').map(Number);
  return `${a.map((o, i) => o & m[i]).join('.')}/${maskLen(mask)}`;
}

/** The softwire address: configured, or <delegated prefix>::b4 (a PD prefix is routed to us, RFC 8415 §6.3). */
export function softwireFor(config: string, lease: Lease6 | null): string | null {
  if (config) return config;
  const p = lease?.prefixes[0]?.prefix;
  if (!p) return null;
  const net = p.split('/')[0];
  return net.endsWith('::') ? `${net}b4` : `${net}:b4`.replace(/:0:b4$/, '::b4');
}

export class LinuxWan implements Platform {
  readonly simulated = false;
  readonly interfaces: { lan: string; wan: string; tunnel: string };
  readonly dhcp6: Dhcp6Client;
  readonly dhcp4: Dhcp4Port & { start(): Promise<void>; stop(): Promise<void> };
  readonly tunnel: TunnelPort;
  readonly ipv4: Ipv4Port;
  readonly nat46: Nat46Port;
  readonly teredo: LinuxTeredo;
  private fwd: Forwarder | null = null;
  /** The NAT46 configuration in force (issue 23); while set, the forwarder is in mode 'nat46'. */
  private nat46Config: Nat46Config | null = null;
  /** The IPv6 routes into the tun that NAT46 added (hand-off address, identifier spaces). */
  private nat46Routes: string[] = [];
  private aftr: string | null = null;
  /** The lw4o6 binding (null: DS-Lite); the forwarder's mode follows it. */
  private binding: SoftwireBinding | null = null;
  private readonly errors = new Emitter<SoftwireError>();
  private readonly policyErrors = new Emitter<SoftwireError>();
  private readonly lanNet: string;
  private v6addrs: string[] = [];

  constructor(private readonly c: WanConfig, private readonly log: Logger, readonly lanIPv4: { address: string; subnetMask: string }) {
    this.interfaces = { lan: c.lanInterface, wan: c.wanInterface, tunnel: c.tunName };
    this.lanNet = networkOf(lanIPv4.address, lanIPv4.subnetMask);
    let mac = '02:00:00:00:00:01';
    try {
      mac = readFileSync(`/sys/class/net/${c.wanInterface}/address`, 'utf8').trim();
    } catch {
      log.warn({ iface: c.wanInterface }, 'no link-layer address; DUID from a fixed one');
    }
    this.dhcp6 = new Dhcp6Client({ iface: c.wanInterface, mac, log: log.child({ client: 'dhcpv6' }), requestAddresses: true, requestPrefixes: !c.softwire });
    this.dhcp6.onLease((l) => void this.apply6(l));
    const dhcp4 = { iface: c.wanInterface, log: log.child({ client: 'dhcpv4' }), apply: (l: Lease4 | null, old: Lease4 | null) => this.apply4(l, old) };
    this.dhcp4 = c.dhcp4Client === 'udhcpc' ? new Udhcpc({ ...dhcp4, command: c.udhcpc }) : new Dhcp4Client({ ...dhcp4, mac });
    this.tunnel = {
      up: (aftr) => this.up(aftr),
      down: () => this.down(),
      aftr: () => this.aftr,
      counters: () => this.counters(),
      echo: (timeoutMs, aftr) => this.echo(timeoutMs, aftr),
      onError: (fn) => this.errors.on(fn),
      bind: (b) => this.bind(b),
      onPolicyError: (fn) => this.policyErrors.on(fn),
    };
    this.ipv4 = {
      routeVia: (path, lease) => this.routeVia(path, lease),
      flushConntrack: (path) => this.flushConntrack(path),
    };
    this.teredo = new LinuxTeredo(c.teredoTun, `${c.nftTable}_teredo`, (script) => this.nft(script), log.child({ module: 'teredo' }));
    this.nat46 = {
      apply: (c) => this.applyNat46(c),
      config: () => this.nat46Config,
      counters: () => this.nat46Counters(),
      probe: (address, timeoutMs) => {
        if (!this.fwd || this.fwd.config.mode !== 'nat46') return Promise.reject(new Error('not translating'));
        return this.fwd.echo({ aftr: address, timeoutMs });
      },
    };
  }

  /**
   * The LAN and the WAN as the kernel counts them (/sys/class/net); the softwire as the forwarder counts it
   * (its packets leave by AF_PACKET, past the tun's own counters), from the last counters() read.
   */
  interfaceInfo(name: string): InterfaceInfo | undefined {
    if (name !== this.interfaces.tunnel) return sysfsInterface(name);
    const c = this.lastCounters;
    const n = (x: number) => String(x);
    return {
      speed: 0, mac: Buffer.alloc(0), connector: false,
      stats: {
        PacketsSent: n(c.txPackets), BytesSent: n(c.txBytes), PacketsReceived: n(c.rxPackets), BytesReceived: n(c.rxBytes),
        UnicastPacketsSent: n(c.txPackets), UnicastPacketsReceived: n(c.rxPackets), DiscardPacketsReceived: n(c.drops),
      },
    };
  }

  private lastCounters: TunnelCounters = { txPackets: 0, txBytes: 0, rxPackets: 0, rxBytes: 0, drops: 0, lastRxFromAftr: null };

  private async run(cmd: string, ...args: string[]): Promise<string> {
    const { stdout } = await exec(cmd, args);
    return stdout;
  }

  async start(): Promise<void> {
    await this.nft(nftRuleset(this.c.nftTable, { lan: this.c.lanInterface, wan: this.c.wanInterface, tun: this.c.tunName, lanNet: this.lanNet }));
    await this.dhcp4.start();
    await this.dhcp6.start();
  }

  async stop(): Promise<void> {
    await this.teredo.apply(null);
    await this.dhcp6.stop();
    await this.dhcp4.stop();
    await this.fwd?.stop().catch(() => undefined);
    this.fwd = null;
    await this.nft(`add table ip ${this.c.nftTable}\ndelete table ip ${this.c.nftTable}\n`).catch(() => undefined);
  }

  dhcp4o6(o: { servers: string[]; source: string; bindPrefix: string }): Dhcp4o6Port {
    return new Dhcp4o6Client({ iface: this.c.wanInterface, servers: o.servers, source: o.source, bindPrefix: o.bindPrefix, log: this.log.child({ client: 'dhcp4o6' }) });
  }

  async resolve(name: string, servers: string[], timeoutMs: number): Promise<string[]> {
    const r = new Resolver({ timeout: timeoutMs, tries: 2 });
    r.setServers(servers);
    return r.resolve6(name);
  }

  // ---- addresses from DHCP ----------------------------------------------------------------------------

  private async apply6(l: Lease6 | null) {
    const want = (l?.addresses ?? []).map((a) => a.address);
    for (const a of l?.addresses ?? [])
      await this.run('ip', '-6', 'addr', 'replace', `${a.address}/128`, 'dev', this.c.wanInterface, 'valid_lft', String(a.valid), 'preferred_lft', String(a.preferred), 'nodad')
        .catch((err) => this.log.error({ err }, 'IPv6 address not applied'));
    for (const a of this.v6addrs.filter((x) => !want.includes(x)))
      await this.run('ip', '-6', 'addr', 'del', `${a}/128`, 'dev', this.c.wanInterface).catch(() => undefined);
    this.v6addrs = want;
  }

  /** The leased address on the WAN (rtnetlink: no process between the DHCPACK and the switch). */
  private async apply4(l: Lease4 | null, old: Lease4 | null) {
    const dev = this.c.wanInterface;
    if (old && (!l || old.address !== l.address)) {
      try {
        addrDelete({ dev, address: old.address, prefixLen: maskLen(old.subnetMask) });
      } catch {
        // already gone with the link
      }
    }
    if (l) addrReplace({ dev, address: l.address, prefixLen: maskLen(l.subnetMask) });
  }

  // ---- the softwire ---------------------------------------------------------------------------------

  private async up(aftr: string) {
    if (this.nat46Config) {
      // NAT46 owns the forwarder (the data model refuses it beside DS-Lite, and lw4o6 rides DS-Lite's softwire).
      this.log.warn({ aftr }, 'softwire not brought up: the forwarder is in NAT46 mode');
      return;
    }
    const b = this.binding;
    // lw4o6: the lwB4's address from the binding (RFC 7596 §5.1); DS-Lite: configured or from the delegated prefix.
    const softwire = b ? b.softwire : softwireFor(this.c.softwire, this.dhcp6.lease());
    if (!softwire) throw new Error('no softwire address (no wan.softwire, no delegated prefix)');
    const lw4o6 = b ? { ipv4: b.ipv4, psidOffset: b.psidOffset, psidLength: b.psidLength, psid: b.psid } : undefined;
    const config = { tunName: this.c.tunName, softwire, aftr, mtu: this.c.mtu, mssClamp: this.c.mssClamp, mode: b ? 'lw4o6' as const : 'dslite' as const, lw4o6, echoTarget: this.c.echoTarget };
    if (this.fwd) {
      const c = this.fwd.config;
      if (c.aftr !== aftr || c.softwire !== softwire || !c.enabled || c.mode !== config.mode || JSON.stringify(c.lw4o6) !== JSON.stringify(lw4o6)) {
        // A new softwire address (an lw4o6 binding) is routed in before the forwarder sends from it; the old
        // one's route goes afterwards.
        if (c.softwire !== softwire) this.routeSoftwire(softwire);
        // Make-before-break between AFTRs: what the previous one returns for packets in flight still comes in.
        const drainAftr = c.enabled && c.aftr !== aftr ? c.aftr : '';
        await this.fwd.reconfigure({ ...config, lanFastPath: c.lanFastPath, drainAftr });
        if (drainAftr) this.drainUntil(drainAftr);
        if (c.softwire !== softwire) this.unrouteSoftwire(c.softwire);
      }
    } else {
      await this.startForwarder(config);
      this.routeSoftwire(softwire);
      // The Echo detector's target always goes through the softwire, also while IPv4 is native.
      await this.run('ip', 'route', 'replace', `${this.c.echoTarget}/32`, 'dev', this.c.tunName, 'src', B4_IPV4);
    }
    this.aftr = aftr;
  }

  /** Starts the forwarder on the tun: its events wired, the link up with the B4's IPv4 (RFC 6333 §5.7). */
  private async startForwarder(config: ForwarderConfig): Promise<Forwarder> {
    const fwd = await Forwarder.start(config, { logger: this.log });
    fwd.on('icmpv6-error', (e: Icmpv6ErrorEvent) => {
      const err = { type: e.type, code: e.code, source: e.source, quotedDst: e.quotedDst };
      // lw4o6: code 5 from the BR is the lwAFTR refusing our binding (RFC 7596 §6.2), a provisioning matter
      // (src/dslite/lw4o6.ts), not a softwire failure; the forwarder raises it only when it quotes a packet
      // we sent recently.
      if (this.fwd?.config.mode === 'lw4o6' && e.type === 1 && e.code === 5 && e.verified) this.policyErrors.fire(err);
      else this.errors.fire(err);
    });
    fwd.on('error', (err: Error) => { this.log.error({ err }, 'forwarder died'); this.fwd = null; });
    this.fwd = fwd;
    const t = this.c.tunName;
    // The forwarder sets the tun's link MTU to the tunnel MTU + 40 (full-size IPv4-in-IPv6 from the AFTR must
    // come up the tun); IPv4 routes into the tun carry the tunnel MTU instead.
    await this.run('ip', 'link', 'set', t, 'up');
    await this.run('ip', 'addr', 'replace', `${B4_IPV4}/32`, 'dev', t);
    return fwd;
  }

  /** The softwire's address is routed into the tun, never local (DESIGN.md, one tun); a previous one unrouted. */
  /**
   * rtnetlink, synchronous (./netlink.ts): no process is started on the way from an lw4o6 trigger to the new
   * binding (a spawned `ip` took 50-150 ms under load there).
   */
  private routeSoftwire(softwire: string) {
    routeReplace({ dst: `${softwire}/128`, dev: this.c.tunName });
  }

  private unrouteSoftwire(softwire: string) {
    if (this.fwd?.config.softwire === softwire) return; // in use again
    try {
      routeDelete({ dst: `${softwire}/128`, dev: this.c.tunName });
    } catch {
      // already gone (with the tun)
    }
  }

  /** A new lw4o6 binding (or DS-Lite again): applied at once while the softwire is up. */
  private async bind(b: SoftwireBinding | null) {
    this.binding = b;
    if (this.fwd?.config.enabled && this.aftr) await this.up(this.aftr);
  }

  /** Stops taking packets from a previous AFTR after DRAIN_MS (another reconfigure, off the critical path). */
  private drainUntil(previous: string) {
    const t = setTimeout(() => {
      const fwd = this.fwd;
      if (fwd && fwd.config.drainAftr === previous) void fwd.reconfigure({ ...fwd.config, drainAftr: '' }).catch(() => undefined);
    }, DRAIN_MS);
    t.unref?.();
  }

  private async down() {
    if (this.fwd && !this.nat46Config) await this.fwd.reconfigure({ ...this.fwd.config, mode: 'off' });
    this.aftr = null;
  }

  // ---- NAT46 (issue 23) -----------------------------------------------------------------------------

  /**
   * The forwarder in mode 'nat46' with this configuration, or back out of it (null). Egress is 'tun' in nat46
   * (src/forwarder/types.ts) and a change of egress needs a new forwarder, so entering or leaving the mode
   * restarts it; a new nat46 configuration alone is a reconfigure. IPv6 to the hand-off address and to the
   * identifier spaces (ours and the adopted IDs') is routed into the tun, where the translator takes it, and
   * the LAN's IPv4 default route points into the tun.
   */
  private async applyNat46(c: Nat46Config | null): Promise<void> {
    const t = this.c.tunName;
    if (c) {
      const config: ForwarderConfig = {
        // softwire and aftr are not used in nat46 mode; the hand-off address stands in for both.
        tunName: t, softwire: c.localAddress, aftr: c.localAddress, mode: 'nat46', egress: 'tun', nat46: c, mtu: this.c.mtu, echoTarget: this.c.echoTarget,
      };
      // Set first: whatever a failure from here leaves (a forwarder half-way into nat46, some routes) is undone by
      // apply(null), which the caller sends when this rejects.
      this.nat46Config = c;
      if (this.fwd && this.fwd.config.egress === 'tun') await this.fwd.reconfigure({ ...config, lanFastPath: this.fwd.config.lanFastPath });
      else {
        await this.fwd?.stop().catch(() => undefined);
        this.fwd = null;
        await this.startForwarder(config);
      }
      const spaces = [c.gatewayId, ...(c.adopted ?? []).map((a) => a.gatewayId)].map((id) => nat46Space(c, id)).filter((r): r is string => r !== null);
      const want = [`${c.localAddress}/128`, ...spaces];
      const old = this.nat46Routes;
      // Tracked before they are added, so that whatever a failure leaves behind is removed with the rest.
      this.nat46Routes = [...new Set([...old, ...want])];
      for (const dst of want) routeReplace({ dst, dev: t });
      this.unroute(old.filter((r) => !want.includes(r)));
      this.nat46Routes = want;
      routeReplace({ dst: '0.0.0.0/0', dev: t, src: B4_IPV4, mtu: this.c.mtu });
      return;
    }
    if (!this.nat46Config) return;
    this.nat46Config = null;
    this.unroute(this.nat46Routes);
    this.nat46Routes = [];
    // Out of nat46: a new forwarder (egress 'packet' again) when the softwire is to be up, else none.
    await this.fwd?.stop().catch(() => undefined);
    this.fwd = null;
    const aftr = this.aftr;
    this.aftr = null;
    if (aftr) await this.up(aftr);
  }

  private unroute(routes: readonly string[]) {
    for (const dst of routes) {
      try {
        routeDelete({ dst, dev: this.c.tunName });
      } catch {
        // already gone (with the tun)
      }
    }
  }

  private async nat46Counters(): Promise<Nat46Counters> {
    if (!this.fwd || this.fwd.config.mode !== 'nat46') return { translated4to6: 0, translated6to4: 0, handedOff: 0, handOffsReceived: 0, dropped: 0 };
    const c = await this.fwd.counters();
    const dropped = Object.entries(c.drops).reduce((n, [name, v]) => (name.startsWith('nat46_') ? n + v : n), 0);
    return { translated4to6: c.nat46Translated4to6, translated6to4: c.nat46Translated6to4, handedOff: c.nat46HandedOff, handOffsReceived: c.nat46HandoffReceived, dropped };
  }

  private async counters(): Promise<TunnelCounters> {
    if (!this.fwd) return { txPackets: 0, txBytes: 0, rxPackets: 0, rxBytes: 0, drops: 0, lastRxFromAftr: null };
    const c = await this.fwd.counters();
    this.lastCounters = {
      txPackets: c.txPackets, txBytes: c.txBytes, rxPackets: c.rxPackets, rxBytes: c.rxBytes,
      drops: Object.values(c.drops).reduce((a, b) => a + b, c.tunQueueDrops), lastRxFromAftr: c.lastRxFromAftr,
    };
    return { ...this.lastCounters };
  }

  /** ICMP echo through the softwire, sent and timed by the forwarder (src/forwarder: no process, native clock). */
  private async echo(timeoutMs: number, aftr?: string): Promise<EchoResult> {
    if (!this.fwd) return { ok: false, rttUs: 0, reason: 'no softwire' };
    const r = await this.fwd.echo({ aftr, timeoutMs });
    return { ok: r.ok, rttUs: r.rttUs, reason: r.reason };
  }

  // ---- IPv4 path, NAT44, conntrack ------------------------------------------------------------------

  /**
   * The switch: the IPv4 default route, one rtnetlink message. NAT44 and the zones are in place already
   * (nftRuleset), so nothing else changes with it.
   */
  private async routeVia(path: 'tunnel' | 'wan', lease?: Lease4) {
    if (this.nat46Config) {
      // NAT46 owns IPv4 (its default route into the tun, applyNat46): the DS-Lite failover does not move it.
      this.log.warn({ path }, 'IPv4 route not moved: the forwarder is in NAT46 mode');
      return;
    }
    if (path === 'tunnel') routeReplace({ dst: '0.0.0.0/0', dev: this.c.tunName, src: B4_IPV4, mtu: this.c.mtu });
    else routeReplace({ dst: '0.0.0.0/0', dev: this.c.wanInterface, gateway: lease?.routers[0] });
    // The LAN fast path only while IPv4 goes into the softwire: in dual-stack the LAN's packets would only
    // pay for its FIB lookup before the kernel forwards them natively (src/forwarder/native/fastpath.h).
    // Its program asks the FIB itself, so the route change already moved the traffic: this is housekeeping.
    const fastPath = path === 'tunnel' && this.c.lanFastPath ? [this.c.lanInterface] : [];
    const fwd = this.fwd;
    if (fwd && fwd.config.lanFastPath.join() !== fastPath.join())
      void fwd.reconfigure({ ...fwd.config, lanFastPath: fastPath })
        .catch((err) => this.log.warn({ err }, 'LAN fast path not changed'));
  }

  private nft(script: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const p = spawn('nft', ['-f', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
      let err = '';
      p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      p.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`nft: ${err.trim()}`))));
      p.stdin!.end(script);
    });
  }

  /** `conntrack -D -w ZONE`: the entries of the path left (housekeeping after a switch); the number deleted. */
  private async flushConntrack(path: 'tunnel' | 'wan'): Promise<number> {
    if (!this.c.conntrackFlush) return 0;
    try {
      const { stderr } = await exec('conntrack', ['-D', '-f', 'ipv4', '-w', String(ZONE[path])]);
      return Number(stderr.match(/(\d+) flow entries/)?.[1] ?? 0);
    } catch (e) {
      // Exit status 1 with "0 flow entries have been deleted" is not an error.
      const stderr = (e as { stderr?: string }).stderr ?? '';
      if (/0 flow entries/.test(stderr)) return 0;
      this.log.warn({ err: stderr.trim() }, 'conntrack flush failed');
      return 0;
    }
  }
}
