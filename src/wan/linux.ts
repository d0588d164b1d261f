// The real WAN (config wan.mode = 'linux', root): the bundled tun forwarder as the B4 (src/forwarder), our
// DHCPv6 client, busybox udhcpc for DHCPv4, and iproute2 / nftables / conntrack for addresses, routes,
// NAT44 and flushing the LAN's IPv4 flows on a switch. IPv6 routes and addresses of the LAN are never
// touched here, so the LAN's IPv6 keeps flowing through every switch.
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Resolver } from 'node:dns/promises';
import { promisify } from 'node:util';
import type { Logger } from 'pino';
import { Emitter } from '../datamodel/index.ts';
import { Forwarder, type Icmpv6ErrorEvent } from '../forwarder/index.ts';
import { Dhcp6Client } from './dhcp6.ts';
import type { WanConfig } from './index.ts';
import type { EchoResult, Ipv4Port, Lease4, Lease6, Platform, SoftwireError, TunnelCounters, TunnelPort } from './platform.ts';
import { Udhcpc } from './udhcpc.ts';

const exec = promisify(execFile);
const B4_IPV4 = '192.0.0.2'; // RFC 6333 §5.7

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
  readonly dhcp4: Udhcpc;
  readonly tunnel: TunnelPort;
  readonly ipv4: Ipv4Port;
  private fwd: Forwarder | null = null;
  private aftr: string | null = null;
  private readonly errors = new Emitter<SoftwireError>();
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
    this.dhcp4 = new Udhcpc({ iface: c.wanInterface, command: c.udhcpc, log: log.child({ client: 'dhcpv4' }), apply: (l, old) => this.apply4(l, old) });
    this.tunnel = {
      up: (aftr) => this.up(aftr),
      down: () => this.down(),
      aftr: () => this.aftr,
      counters: () => this.counters(),
      echo: (timeoutMs, aftr) => this.echo(timeoutMs, aftr),
      onError: (fn) => this.errors.on(fn),
    };
    this.ipv4 = {
      routeVia: (path, lease) => this.routeVia(path, lease),
      nat: (lease) => this.nat(lease),
      flushConntrack: () => this.flushConntrack(),
    };
  }

  private async run(cmd: string, ...args: string[]): Promise<string> {
    const { stdout } = await exec(cmd, args);
    return stdout;
  }

  async start(): Promise<void> {
    await this.dhcp6.start();
  }

  async stop(): Promise<void> {
    await this.dhcp6.stop();
    await this.dhcp4.stop();
    await this.fwd?.stop().catch(() => undefined);
    this.fwd = null;
    await this.nat(null).catch(() => undefined);
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

  private async apply4(l: Lease4 | null, old: Lease4 | null) {
    if (old && (!l || old.address !== l.address))
      await this.run('ip', 'addr', 'del', `${old.address}/${maskLen(old.subnetMask)}`, 'dev', this.c.wanInterface).catch(() => undefined);
    if (l) await this.run('ip', 'addr', 'replace', `${l.address}/${maskLen(l.subnetMask)}`, 'dev', this.c.wanInterface);
  }

  // ---- the softwire ---------------------------------------------------------------------------------

  private async up(aftr: string) {
    const softwire = softwireFor(this.c.softwire, this.dhcp6.lease());
    if (!softwire) throw new Error('no softwire address (no wan.softwire, no delegated prefix)');
    const config = { tunName: this.c.tunName, softwire, aftr, mtu: this.c.mtu, mssClamp: this.c.mssClamp, mode: 'dslite' as const };
    if (this.fwd) {
      const c = this.fwd.config;
      if (c.aftr !== aftr || c.softwire !== softwire || !c.enabled) await this.fwd.reconfigure({ ...config, lanFastPath: c.lanFastPath });
    } else {
      const fwd = await Forwarder.start(config, { logger: this.log });
      fwd.on('icmpv6-error', (e: Icmpv6ErrorEvent) => this.errors.fire({ type: e.type, code: e.code, source: e.source, quotedDst: e.quotedDst }));
      fwd.on('error', (err: Error) => { this.log.error({ err }, 'forwarder died'); this.fwd = null; });
      this.fwd = fwd;
      const t = this.c.tunName;
      // The forwarder sets the tun's link MTU to the tunnel MTU + 40 (full-size IPv4-in-IPv6 from the AFTR must
      // come up the tun); IPv4 routes into the tun carry the tunnel MTU instead.
      await this.run('ip', 'link', 'set', t, 'up');
      await this.run('ip', 'addr', 'replace', `${B4_IPV4}/32`, 'dev', t);
      // The softwire's address is routed into the tun, never local (DESIGN.md, one tun).
      await this.run('ip', '-6', 'route', 'replace', `${softwire}/128`, 'dev', t);
      // The Echo detector's target always goes through the softwire, also while IPv4 is native.
      await this.run('ip', 'route', 'replace', `${this.c.echoTarget}/32`, 'dev', t, 'src', B4_IPV4);
    }
    this.aftr = aftr;
  }

  private async down() {
    if (this.fwd) await this.fwd.reconfigure({ ...this.fwd.config, mode: 'off' });
    this.aftr = null;
  }

  private async counters(): Promise<TunnelCounters> {
    if (!this.fwd) return { txPackets: 0, txBytes: 0, rxPackets: 0, rxBytes: 0, drops: 0, lastRxFromAftr: null };
    const c = await this.fwd.counters();
    return {
      txPackets: c.txPackets, txBytes: c.txBytes, rxPackets: c.rxPackets, rxBytes: c.rxBytes,
      drops: Object.values(c.drops).reduce((a, b) => a + b, c.tunQueueDrops), lastRxFromAftr: c.lastRxFromAftr,
    };
  }

  /**
   * ICMP echo through the softwire to the AFTR's 192.0.0.1 (busybox ping, bounded by our own timer). An
   * AFTR other than the one in use cannot be reached through the single tun: its IPv6 reachability only.
   */
  private echo(timeoutMs: number, aftr?: string): Promise<EchoResult> {
    const other = aftr !== undefined && aftr !== this.aftr;
    if (!other && !this.fwd) return Promise.resolve({ ok: false, rttUs: 0, reason: 'no softwire' });
    const args = other
      ? ['ping', '-6', '-c', '1', '-W', String(Math.max(1, Math.ceil(timeoutMs / 1000))), aftr!]
      : ['ping', '-c', '1', '-W', String(Math.max(1, Math.ceil(timeoutMs / 1000))), '-I', B4_IPV4, this.c.echoTarget];
    const t0 = process.hrtime.bigint();
    return new Promise((resolve) => {
      const p = spawn('busybox', args, { stdio: ['ignore', 'pipe', 'ignore'] });
      let out = '';
      p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
      p.once('exit', (code) => {
        clearTimeout(timer);
        const rttUs = Number((process.hrtime.bigint() - t0) / 1000n);
        const m = out.match(/time=([\d.]+) ms/);
        if (code === 0 && m) resolve({ ok: true, rttUs: Math.round(Number(m[1]) * 1000), reason: other ? 'IPv6 reachability only' : '' });
        else resolve({ ok: false, rttUs, reason: `no echo reply from ${other ? aftr : this.c.echoTarget} within ${timeoutMs} ms` });
      });
    });
  }

  // ---- IPv4 path, NAT44, conntrack ------------------------------------------------------------------

  private async routeVia(path: 'tunnel' | 'wan', lease?: Lease4) {
    if (path === 'tunnel') await this.run('ip', 'route', 'replace', 'default', 'dev', this.c.tunName, 'src', B4_IPV4, 'mtu', String(this.c.mtu));
    else {
      const gw = lease?.routers[0];
      await this.run('ip', 'route', 'replace', 'default', ...(gw ? ['via', gw] : []), 'dev', this.c.wanInterface);
    }
    // The LAN fast path only while IPv4 goes into the softwire: in dual-stack the LAN's packets would only
    // pay for its FIB lookup before the kernel forwards them natively (src/forwarder/native/fastpath.h).
    const fastPath = path === 'tunnel' && this.c.lanFastPath ? [this.c.lanInterface] : [];
    if (this.fwd && this.fwd.config.lanFastPath.join() !== fastPath.join())
      await this.fwd.reconfigure({ ...this.fwd.config, mode: this.fwd.config.enabled ? 'dslite' : 'off', lanFastPath: fastPath });
  }

  /** NAT44 of the LAN behind the leased address (RFC 3022) in one atomic nft transaction. */
  private async nat(lease: Lease4 | null) {
    const t = this.c.nftTable;
    let script = `add table ip ${t}\ndelete table ip ${t}\n`;
    if (lease) script += `table ip ${t} {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "${this.c.wanInterface}" ip saddr ${this.lanNet} snat to ${lease.address}
  }
  # A flow tracked before the switch keeps its old (no-NAT) binding until conntrack is flushed: never let
  # its packets out with the LAN's private source (DESIGN step 3).
  chain leak {
    type filter hook postrouting priority srcnat + 10; policy accept;
    oifname "${this.c.wanInterface}" ip saddr ${this.lanNet} counter drop
  }
}\n`;
    await new Promise<void>((resolve, reject) => {
      const p = spawn('nft', ['-f', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
      let err = '';
      p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      p.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`nft: ${err.trim()}`))));
      p.stdin!.end(script);
    });
  }

  /** `conntrack -D` of the LAN's IPv4 flows (DESIGN step 3); the number deleted. */
  private async flushConntrack(): Promise<number> {
    if (!this.c.conntrackFlush) return 0;
    const [net, len] = this.lanNet.split('/');
    const mask = [24, 16, 8, 0].map((s) => ((Number(len) === 0 ? 0 : (0xffffffff << (32 - Number(len))) >>> 0) >>> s) & 255).join('.');
    try {
      const { stderr } = await exec('conntrack', ['-D', '-f', 'ipv4', '--orig-src', net, '--mask-src', mask]);
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

