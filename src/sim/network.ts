// The simulated WAN of the embedded default (DESIGN "The embedded default"): `npm start` without root or
// network runs the same policy and detectors against this in-process model of the ISP side:
//   - AFTRs that are Up, Down (the process is dead: the network answers ICMPv6 destination unreachable,
//     code 3, rate-limited like the kernel's 1/s) or Blackhole (silence);
//   - a DHCPv6 server (IA_NA, IA_PD, DNS, option 64 AFTR-Name) and a DHCPv4 server handing out one public
//     IPv4 address, with DHCPRELEASE counted;
//   - a DNS server for the AFTR names;
//   - in place of DS-Lite, optionally an lw4o6 ISP (RFC 7596): DHCPv6 offers OPTION_S46_CONT_LW with a static
//     binding, or a DHCPv4-over-DHCPv6 server hands out the IPv4 address and port set; its BR is an anycast
//     lwAFTR that may be Unbound (the backup took over without our binding: every packet is answered with
//     ICMPv6 code 5, RFC 7596 §6.2, until the gateway provisions again, which installs the next binding);
//   - a forwarder with the same counters and events as src/forwarder, fed by a LAN that sends IPv4 at a
//     steady rate, so the Silence detector has traffic to watch; in NAT46 mode (issue 23) the same LAN traffic
//     is translated (RFC 7915) and answered from the IPv6 side, and the configurations applied are recorded.
import type { Logger } from 'pino';
import { Emitter, type Disposable } from '../datamodel/index.ts';
import type { UdpOpen } from '../dslite/detectors.ts';
import { SimProtocols } from './protocols.ts';
import type {
  Dhcp4o6Port, Dhcp4Port, Dhcp4State, Dhcp6Port, EchoResult, InterfaceInfo, Ipv4Port, Lease4, Lease6, Nat46Config, Nat46Counters, Nat46Port,
  Platform, SoftwireBinding, SoftwireError, TeredoPort, TeredoSettings, TeredoState, TunnelCounters, TunnelPort,
} from '../wan/platform.ts';
import { TEREDO_DROP_NAMES, TEREDO_TOTAL_NAMES } from '../forwarder/teredo.ts';

/** What one simulated interface carried, each way. */
interface LinkCount { txPackets: number; txBytes: number; rxPackets: number; rxBytes: number }
const zero = (): LinkCount => ({ txPackets: 0, txBytes: 0, rxPackets: 0, rxBytes: 0 });
/** IPv6 header added by the softwire (RFC 2473). */
const ENCAP = 40;

export type AftrState = 'Up' | 'Down' | 'Blackhole' | 'Unbound';

/** What the simulated ISP offers for IPv4: DS-Lite, lw4o6 with a static binding, or lw4o6 by DHCP 4o6. */
export type SimSoftwire = 'dslite' | 'lw4o6' | 'lw4o6-dhcp4o6';

/** The simulated lw4o6 ISP: its BR and the bindings it hands out in turn (the next one after each re-provisioning). */
export const SIM_LW4O6 = {
  br: '2001:db8:ffff::1',
  bindPrefix: '2001:db8:1:cafe::/64',
  dhcp4o6Server: '2001:db8:5::1',
  bindings: [
    { ipv4: '192.0.2.3', portParams: { offset: 6, psidLength: 6, psid: 1 } },
    { ipv4: '192.0.2.4', portParams: { offset: 6, psidLength: 6, psid: 2 } },
  ],
};

export interface SimOptions {
  log: Logger;
  /** LAN IPv4 packets per second sent while running. */
  lanPps?: number;
  /** One-way delay of each simulated exchange (ms). */
  delayMs?: number;
  /** Names of the simulated AFTRs: the first is handed out by DHCPv6 (AFTR-Name). */
  aftrs?: { name: string; address: string }[];
  interfaces?: { lan: string; wan: string; tunnel: string };
  lanIPv4?: { address: string; subnetMask: string };
  /** Default 'dslite'. */
  softwire?: SimSoftwire;
}

export const SIM_AFTRS = [
  { name: 'aftr.example.net', address: '2001:db8:ff::1' },
  { name: 'aftr2.example.net', address: '2001:db8:ff::2' },
];

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class SimNetwork implements Platform {
  readonly simulated = true;
  readonly interfaces: { lan: string; wan: string; tunnel: string };
  readonly lanIPv4: { address: string; subnetMask: string };
  readonly dhcp6: Dhcp6Port;
  readonly dhcp4: Dhcp4Port;
  readonly tunnel: TunnelPort;
  readonly ipv4: Ipv4Port;
  readonly nat46: Nat46Port;
  readonly teredo: TeredoPort;
  /** The Teredo settings applied (null: stopped) and when, for the simulated qualification. */
  private teredoRun: { s: TeredoSettings; since: number } | null = null;
  /** Every NAT46 configuration applied, in order (null: translation stopped), for tests and the log. */
  readonly nat46Applied: (Nat46Config | null)[] = [];
  /** Peers' hand-off addresses whose translator does not answer (tests: a peer gateway that died). */
  readonly nat46PeersDown = new Set<string>();
  /** What the simulated ISP saw (tests and the log): DHCPv4 leases granted and released. */
  readonly isp = { dhcp4Leases: 0, dhcp4Releases: 0, dhcp6Replies: 0 };
  /** Where the LAN's IPv4 goes, and the packets it lost on the way. */
  readonly lan = { route: 'none' as 'none' | 'tunnel' | 'wan', sent: 0, delivered: 0, lost: 0, nat: false };

  private readonly log: Logger;
  private readonly delay: number;
  private readonly aftrs: { name: string; address: string }[];
  private readonly state = new Map<string, AftrState>();
  private lease6: Lease6 | null = null;
  private lease4: Lease4 | null = null;
  private dhcp4State: Dhcp4State = 'Init';
  private aftr: string | null = null;
  private readonly counters: TunnelCounters = { txPackets: 0, txBytes: 0, rxPackets: 0, rxBytes: 0, drops: 0, lastRxFromAftr: null };
  private lastIcmp = 0;
  /** Every simulated interface counts what it carries: LAN hosts' packets and their replies, the softwire's
   * packets inside the WAN's, the WAN's native IPv4 in dual-stack. */
  private readonly links = { lan: zero(), wan: zero(), tunnel: zero() };
  private readonly lease6Emitter = new Emitter<Lease6 | null>();
  private readonly lease4Emitter = new Emitter<Lease4 | null>();
  private readonly errorEmitter = new Emitter<SoftwireError>();
  private readonly policyErrorEmitter = new Emitter<SoftwireError>();
  private readonly softwire: SimSoftwire;
  private binding: SoftwireBinding | null = null;
  /** Which of SIM_LW4O6.bindings the ISP hands out now. */
  private bindingIndex = 0;
  /** The DHCP 4o6 lease was released: the next acquisition is a new exchange. */
  private released4o6 = false;
  private nat46Config: Nat46Config | null = null;
  private nat46Counts: Nat46Counters = { translated4to6: 0, translated6to4: 0, handedOff: 0, handOffsReceived: 0, dropped: 0 };
  private traffic: NodeJS.Timeout | null = null;
  private readonly pps: number;
  private readonly protocols: SimProtocols;
  /** UDP to the AFTRs' simulated BFD peers and PCP servers (the detectors' env, see src/dslite/policy.ts). */
  readonly udp: UdpOpen;

  constructor(opts: SimOptions) {
    this.log = opts.log;
    this.delay = opts.delayMs ?? 2;
    this.pps = opts.lanPps ?? 50;
    this.aftrs = opts.aftrs ?? SIM_AFTRS;
    this.softwire = opts.softwire ?? 'dslite';
    for (const a of this.aftrs) this.state.set(a.address, 'Up');
    if (this.softwire !== 'dslite') this.state.set(SIM_LW4O6.br, 'Up');
    this.protocols = new SimProtocols((aftr) => this.state.get(aftr) === 'Up', this.delay, () => this.aftr);
    this.udp = this.protocols.udp;
    this.interfaces = opts.interfaces ?? { lan: 'br-lan', wan: 'wan', tunnel: 'dslite0' };
    this.lanIPv4 = opts.lanIPv4 ?? { address: '192.168.1.1', subnetMask: '255.255.255.0' };
    this.dhcp6 = {
      lease: () => this.lease6,
      onLease: (fn) => this.lease6Emitter.on(fn),
      renew: async () => { await sleep(this.delay * 2); this.grant6(); },
      reprovision: async (timeoutMs) => this.reprovision6(timeoutMs),
    };
    this.dhcp4 = {
      state: () => this.dhcp4State,
      lease: () => this.lease4,
      onLease: (fn) => this.lease4Emitter.on(fn),
      prepare: () => { void this.acquire4(10_000).catch(() => undefined); },
      acquire: (timeoutMs) => this.acquire4(timeoutMs),
      release: async () => this.release4(),
      renew: async () => {
        if (!this.lease4) return;
        this.dhcp4State = 'Renewing';
        await sleep(this.delay * 2);
        this.lease4 = { ...this.lease4, obtained: Date.now() };
        this.dhcp4State = 'Bound';
        this.lease4Emitter.fire(this.lease4);
      },
    };
    this.tunnel = {
      up: async (aftr) => { this.aftr = aftr; },
      down: async () => { this.aftr = null; },
      aftr: () => this.aftr,
      counters: async () => ({ ...this.counters }),
      echo: (timeoutMs, aftr) => this.echo(timeoutMs, aftr),
      onError: (fn) => this.errorEmitter.on(fn),
      bind: async (b) => { this.binding = b; },
      onPolicyError: (fn) => this.policyErrorEmitter.on(fn),
    };
    this.ipv4 = {
      // NAT44 applies to what leaves by the WAN, as the Linux WAN's masquerade rule does.
      routeVia: async (path) => { this.lan.route = path; this.lan.nat = path === 'wan'; },
      flushConntrack: async () => 0,
    };
    this.teredo = {
      interface: 'teredo0',
      apply: async (t) => {
        if (JSON.stringify(t) !== JSON.stringify(this.teredoRun?.s ?? null)) this.teredoRun = t ? { s: t, since: Date.now() } : null;
        this.log.info({ teredo: t !== null, server: t?.server }, 'simulated teredo configured');
      },
      state: async () => (this.teredoRun ? simTeredo(this.teredoRun.s, Date.now() - this.teredoRun.since >= 4 * this.delay) : null),
    };
    this.nat46 = {
      apply: async (c) => {
        // A new configuration is a new translator, as the forwarder's reconfigure into nat46 is: counters from 0.
        if (JSON.stringify(c) !== JSON.stringify(this.nat46Config)) this.nat46Counts = { translated4to6: 0, translated6to4: 0, handedOff: 0, handOffsReceived: 0, dropped: 0 };
        this.nat46Config = c;
        this.nat46Applied.push(c);
        this.log.info({ nat46: c !== null, gatewayId: c?.gatewayId, peers: c?.peers?.length ?? 0 }, 'simulated nat46 configured');
      },
      config: () => this.nat46Config,
      counters: async () => ({ ...this.nat46Counts }),
      // A simulated peer answers unless the test took it down (nat46PeersDown); the delay stands for the RTT.
      probe: async (address, timeoutMs) => {
        if (!this.nat46Config) throw new Error('not translating');
        if (this.nat46PeersDown.has(address)) {
          await sleep(timeoutMs);
          return { ok: false, rttUs: 0, reason: `Echo: no reply from ${address} within ${timeoutMs} ms` };
        }
        await sleep(this.delay);
        return { ok: true, rttUs: this.delay * 1000, reason: '' };
      },
    };
  }

  /** Counters and link facts of br-lan, wan and dslite0, as a kernel would report them (1 Gbit/s Ethernet). */
  interfaceInfo(name: string): InterfaceInfo | undefined {
    const which = (['lan', 'wan', 'tunnel'] as const).find((k) => this.interfaces[k] === name);
    if (!which) return undefined;
    const c = which === 'tunnel' ? { txPackets: this.counters.txPackets, txBytes: this.counters.txBytes, rxPackets: this.counters.rxPackets, rxBytes: this.counters.rxBytes } : this.links[which];
    const n = (x: number) => String(x);
    const physical = which !== 'tunnel';
    return {
      speed: physical ? 1e9 : 0,
      // Locally administered addresses (IEEE 802 U/L bit), one per simulated port.
      mac: physical ? Buffer.from([0x02, 0, 0, 0, 0, which === 'lan' ? 1 : 2]) : Buffer.alloc(0),
      connector: physical,
      stats: {
        BytesSent: n(c.txBytes), BytesReceived: n(c.rxBytes), PacketsSent: n(c.txPackets), PacketsReceived: n(c.rxPackets),
        UnicastPacketsSent: n(c.txPackets), UnicastPacketsReceived: n(c.rxPackets),
        DiscardPacketsReceived: which === 'tunnel' ? n(this.counters.drops) : '0',
      },
    };
  }

  private count(link: LinkCount, dir: 'tx' | 'rx', bytes: number) {
    if (dir === 'tx') { link.txPackets++; link.txBytes += bytes; } else { link.rxPackets++; link.rxBytes += bytes; }
  }

  /** The AFTR the simulated ISP names: the first DS-Lite AFTR, or the lw4o6 BR. */
  private primary(): string {
    return this.softwire === 'dslite' ? this.aftrs[0].address : SIM_LW4O6.br;
  }

  /** Simulation.AFTRState: the state of the AFTR named by DHCPv6 (the primary), or of one address. */
  setAftrState(state: AftrState, address = this.primary()): void {
    if (this.state.get(address) === state) return;
    this.state.set(address, state);
    this.log.info({ aftr: address, state }, 'simulated AFTR state');
  }

  aftrState(address = this.primary()): AftrState {
    return this.state.get(address) ?? 'Down';
  }

  async resolve(name: string, servers: string[], timeoutMs: number): Promise<string[]> {
    if (!servers.length) throw new Error('no DNS server');
    await sleep(Math.min(this.delay * 2, timeoutMs));
    const a = this.aftrs.find((x) => x.name === name.replace(/\.$/, ''));
    if (!a) throw new Error(`NXDOMAIN ${name}`);
    return [a.address];
  }

  async start(): Promise<void> {
    setTimeout(() => this.grant6(), this.delay * 4).unref?.();
    if (this.pps > 0) {
      this.traffic = setInterval(() => this.lanPacket(), Math.max(1, Math.round(1000 / this.pps)));
      this.traffic.unref?.();
    }
  }

  async stop(): Promise<void> {
    this.protocols.stop();
    if (this.traffic) clearInterval(this.traffic);
    this.traffic = null;
  }

  /**
   * Native IPv6 on the WAN or not (tests: an IPv4-only access network, issue 22): without it the DHCPv6 lease is
   * gone (and with it any AFTR); with it a new one is granted.
   */
  setNativeIPv6(on: boolean): void {
    if (on) return this.grant6();
    this.lease6 = null;
    this.lease6Emitter.fire(null);
  }

  private grant6() {
    this.isp.dhcp6Replies++;
    const lw = this.softwire !== 'dslite';
    const aftrName = lw ? '' : this.aftrs[0].name;
    const bind = SIM_LW4O6.bindings[this.bindingIndex % SIM_LW4O6.bindings.length];
    this.lease6 = {
      addresses: [{ address: '2001:db8:1::2', preferred: 3600, valid: 7200 }],
      prefixes: [{ prefix: '2001:db8:100::/56', preferred: 3600, valid: 7200 }],
      dnsServers: ['2001:db8:5::53'],
      aftrName,
      lw4o6: lw ? { br: [SIM_LW4O6.br], bind: this.softwire === 'lw4o6' ? { ...bind, bindPrefix: SIM_LW4O6.bindPrefix } : null } : null,
      dhcp4o6Servers: this.softwire === 'lw4o6-dhcp4o6' ? [SIM_LW4O6.dhcp4o6Server] : [],
      options: [
        { tag: 23, value: '20010db8000500000000000000000053' },
        ...(lw ? [] : [{ tag: 64, value: Buffer.concat([...aftrName.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])), Buffer.from([0])]).toString('hex') }]),
      ],
      serverDuid: '000200000009c0de',
      clientDuid: '00030001020000000001',
      t1: 1800,
      t2: 2880,
      obtained: Date.now(),
    };
    this.lease6Emitter.fire(this.lease6);
  }

  /**
   * lw4o6 re-provisioning: the ISP's provisioning system hands out its next binding and installs it on the BR
   * now serving the anycast address (an Unbound backup becomes Up), as a deployment couples the two.
   */
  private async reprovision6(timeoutMs: number): Promise<Lease6 | null> {
    await sleep(Math.min(this.delay * 2, timeoutMs));
    this.nextBinding();
    this.grant6();
    return this.lease6;
  }

  private nextBinding() {
    this.bindingIndex++;
    if (this.state.get(SIM_LW4O6.br) === 'Unbound') this.setAftrState('Up', SIM_LW4O6.br);
  }

  /** The simulated DHCP 4o6 server (RFC 7341): the current binding's address, with RFC 7618 port parameters. */
  dhcp4o6(): Dhcp4o6Port {
    return {
      acquire: async (timeoutMs) => {
        await sleep(Math.min(this.delay * 4, timeoutMs));
        // An acquisition after a release is a new exchange: the next binding, as reprovision6.
        if (this.released4o6) this.nextBinding();
        this.released4o6 = false;
        const b = SIM_LW4O6.bindings[this.bindingIndex % SIM_LW4O6.bindings.length];
        return { address: b.ipv4, subnetMask: '255.255.255.255', routers: [], dnsServers: [], server: SIM_LW4O6.dhcp4o6Server, leaseTime: 3600, obtained: Date.now(), portParams: b.portParams };
      },
      release: async () => { this.released4o6 = true; },
      stop: async () => undefined,
    };
  }

  private acquiring: Promise<Lease4> | null = null;

  /** One acquisition at a time: prepare() and acquire() share it. */
  private acquire4(timeoutMs: number): Promise<Lease4> {
    if (this.lease4) return Promise.resolve(this.lease4);
    this.acquiring ??= this.discover4(timeoutMs).finally(() => { this.acquiring = null; });
    return this.acquiring;
  }

  private async discover4(timeoutMs: number): Promise<Lease4> {
    this.dhcp4State = 'Selecting';
    await sleep(Math.min(this.delay * 2, timeoutMs));
    this.dhcp4State = 'Requesting';
    await sleep(Math.min(this.delay * 2, timeoutMs));
    this.isp.dhcp4Leases++;
    this.lease4 = { address: '203.0.113.2', subnetMask: '255.255.255.0', routers: ['203.0.113.1'], dnsServers: ['203.0.113.53'], server: '203.0.113.1', leaseTime: 3600, obtained: Date.now() };
    this.dhcp4State = 'Bound';
    this.log.info({ address: this.lease4.address }, 'simulated DHCPv4 lease');
    this.lease4Emitter.fire(this.lease4);
    return this.lease4;
  }

  private release4() {
    if (!this.lease4) return;
    this.isp.dhcp4Releases++;
    this.log.info({ address: this.lease4.address }, 'simulated DHCPRELEASE');
    this.lease4 = null;
    this.dhcp4State = 'Init';
    this.lease4Emitter.fire(null);
  }

  /** One packet into the softwire to `to`; true when the AFTR answers. */
  private viaTunnel(to: string | null, bytes: number): AftrState | 'NoTunnel' {
    if (!to) return 'NoTunnel';
    this.counters.txPackets++;
    this.counters.txBytes += bytes;
    this.count(this.links.wan, 'tx', bytes + ENCAP);
    const st = this.state.get(to) ?? 'Down';
    if (st === 'Up') {
      this.counters.rxPackets++;
      this.counters.rxBytes += bytes;
      this.count(this.links.wan, 'rx', bytes + ENCAP);
      this.counters.lastRxFromAftr = Date.now();
    } else if (st === 'Unbound') {
      // RFC 7596 §6.2: an lwAFTR without our binding answers code 5 (rate-limited like the kernel's errors).
      const now = Date.now();
      if (this.binding && now - this.lastIcmp >= 1000) {
        this.lastIcmp = now;
        this.policyErrorEmitter.fire({ type: 1, code: 5, source: to, quotedDst: to });
      }
    } else if (st === 'Down') {
      // The AFTR's node answers for the dead process (RFC 4443 §3.1 code 3), at most once a second.
      const now = Date.now();
      if (now - this.lastIcmp >= 1000) {
        this.lastIcmp = now;
        this.errorEmitter.fire({ type: 1, code: 3, source: to, quotedDst: to });
      }
    }
    return st;
  }

  /** One 100-byte packet from a LAN host and, when it gets through, its reply back to the LAN. */
  private lanPacket() {
    this.lan.sent++;
    this.count(this.links.lan, 'rx', 100);
    let ok = false;
    if (this.nat46Config) {
      // NAT46 owns the LAN's IPv4 (the data model refuses it beside DS-Lite): each packet is translated to IPv6
      // (100 bytes of IPv4 become 120 of IPv6, RFC 7915 §4.1) and its reply translated back.
      this.nat46Counts.translated4to6++;
      this.count(this.links.wan, 'tx', 120);
      this.count(this.links.wan, 'rx', 120);
      this.nat46Counts.translated6to4++;
      ok = true;
    } else if (this.lan.route === 'wan') {
      this.count(this.links.wan, 'tx', 100);
      this.count(this.links.wan, 'rx', 100);
      ok = true;
    } else if (this.lan.route === 'tunnel') ok = this.viaTunnel(this.aftr, 100) === 'Up';
    if (ok) {
      this.lan.delivered++;
      this.count(this.links.lan, 'tx', 100);
    } else this.lan.lost++;
  }

  private async echo(timeoutMs: number, target?: string): Promise<EchoResult> {
    const to = target ?? this.aftr;
    const t0 = process.hrtime.bigint();
    const st = this.viaTunnel(to, 84);
    if (st === 'NoTunnel') return { ok: false, rttUs: 0, reason: 'no softwire' };
    if (st === 'Blackhole') {
      await sleep(timeoutMs);
      return { ok: false, rttUs: 0, reason: `no echo reply within ${timeoutMs} ms` };
    }
    await sleep(Math.min(this.delay * 2, timeoutMs));
    const rttUs = Number((process.hrtime.bigint() - t0) / 1000n);
    if (st === 'Down') return { ok: false, rttUs, reason: `ICMPv6 destination unreachable from ${to}` };
    if (st === 'Unbound') return { ok: false, rttUs, reason: `ICMPv6 destination unreachable code 5 (no binding) from ${to}` };
    return { ok: true, rttUs, reason: '' };
  }

  onIcmpv6Error(fn: (e: SoftwireError) => void): Disposable {
    return this.errorEmitter.on(fn);
  }
}

/**
 * A simulated Teredo client's state: qualified (behind a restricted NAT mapping 192.0.2.1:40000, the address built as
 * RFC 4380 §4 says: 2001:0::/32, the server, flags, the mapped port and address obfuscated) once `ready`.
 */
function simTeredo(s: TeredoSettings, ready: boolean): TeredoState {
  const server = s.server.split('.').map(Number);
  const mapped = [192, 0, 2, 1].map((o) => o ^ 0xff);
  const hex = (a: number, b: number) => ((a << 8) | b).toString(16);
  const address = `2001:0:${hex(server[0], server[1])}:${hex(server[2], server[3])}:0:${(40000 ^ 0xffff).toString(16)}:${hex(mapped[0], mapped[1])}:${hex(mapped[2], mapped[3])}`;
  return {
    qualified: ready, address: ready ? address : null, mappedAddress: ready ? '192.0.2.1' : null, mappedPort: ready ? 40000 : null,
    natKind: ready ? 'restricted' : 'unknown', server: s.server, mtu: 1280, tunName: 'teredo0', peers: [],
    totals: Object.fromEntries(TEREDO_TOTAL_NAMES.map((n) => [n, n === 'qualifications' && ready ? 1 : 0])) as TeredoState['totals'],
    drops: Object.fromEntries(TEREDO_DROP_NAMES.map((n) => [n, 0])) as TeredoState['drops'],
  };
}
