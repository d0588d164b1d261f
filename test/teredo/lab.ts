// The Teredo lab (issue 22): a Teredo server, a Teredo relay and an IPv6-only server from Debian's miredo, and a
// client behind an nftables NAT of a chosen kind, in network namespaces tr<pid><tag>-<role>. The topology is the one
// verified in ../shared/PEERS.md §8; documentation prefixes only (RFC 3849, RFC 5737):
//
//                         [br] bridge br0 (the "IPv4 Internet")
//          ┌───────────────────┼──────────────────────┐
//   [srv] wan0 203.0.113.1   [rly] wan0 203.0.113.20  [nat] wan0 203.0.113.10 ── lan0 198.51.100.1 ── [cli] eth0 198.51.100.2
//         wan0 203.0.113.2          2001:db8:20::20          nftables NAT of kind NatKind           (the Teredo client)
//         2001:db8:20::1            v6-0 2001:db8:66::1 ── [v6] eth0 2001:db8:66::2 (IPv6 only, route 2001::/32 via the relay)
//   miredo-server                 miredo (RelayType relay)
//
// A second client side, always restricted (plain masquerade), for client-to-client tests: [nat2] wan0 203.0.113.11 ──
// lan0 192.0.2.1 ── [cli2] eth0 192.0.2.2, where miredoClient('cli2') runs miredo's client as the Teredo peer.
//
// The server holds two IPv4 addresses (RFC 4380 §5.2.1 qualification: a cone probe is answered from the other one)
// and routes the IPv6 server's /64 via the relay over the bridge: it forwards the clients' direct IPv6 connectivity
// tests (§5.2.9) natively, and the echo replies come back through the relay (2001::/32 via the relay).
//
// Never a public Teredo server: every miredo process runs with `-f -c <absolute path in our directory> -p <pid file
// in our directory>` (PEERS.md §8: Debian's /etc/miredo/miredo.conf names a public server).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { ForwarderConfig, TeredoConfig } from '../../src/forwarder/types.ts';
import { JsonlChild } from '../lab/jsonl.ts';
import { endProcess, ensureTools, NetnsLab } from '../lab/netns.ts';
import { waitFor } from '../wait.ts';

const run = promisify(execFile);
const HARNESS = fileURLToPath(new URL('./harness.ts', import.meta.url));

export type Role = 'br' | 'srv' | 'rly' | 'nat' | 'cli' | 'v6' | 'nat2' | 'cli2';
const ROLES: readonly Role[] = ['br', 'srv', 'rly', 'nat', 'cli', 'v6', 'nat2', 'cli2'];

/**
 * 'restricted': plain masquerade. Linux keeps the source port where it can (endpoint-independent mapping) and lets
 * in only replies of a flow the client opened (address- and port-dependent filtering): RFC 4380's port-restricted
 * cone NAT. 'cone': a full cone (see #nat). 'symmetric': masquerade with random ports: each destination gets
 * another mapping (address-dependent mapping), which RFC 4380 §5.2.1 detects and refuses.
 */
export type NatKind = 'restricted' | 'cone' | 'symmetric';

export const SERVER1 = '203.0.113.1';
export const SERVER2 = '203.0.113.2';
export const RELAY4 = '203.0.113.20';
export const NAT_OUTSIDE = '203.0.113.10';
export const CLIENT4 = '198.51.100.2';
export const NAT2_OUTSIDE = '203.0.113.11';
export const CLIENT2_4 = '192.0.2.2';
export const SERVER6 = '2001:db8:66::2';
/** The client's UDP port (its Teredo socket is bound there: the cone NAT's static mapping is for it). */
export const CLIENT_PORT = 3545;
/** The cone NAT's outside port for CLIENT4:CLIENT_PORT (RFC 4380 §4's example port). */
export const CONE_PORT = 40000;
/** The TCP echo port of the IPv6 server. */
export const TCP_PORT = 7007;
export const TEREDO_PORT = 3544;

/** The tun of our client in the lab. */
export const CLIENT_TUN = 'teredo';

/**
 * Our client's forwarder config in the client namespace: the lab's server, CLIENT4:CLIENT_PORT (the cone NAT's
 * mapping), a 1 s qualification timeout (the cone probe's solicitations are dropped by a restricted NAT: 3 x 4 s
 * otherwise), and `teredo` on top.
 */
export function clientConfig(teredo: Partial<TeredoConfig> = {}): ForwarderConfig {
  return {
    tunName: CLIENT_TUN, mode: 'teredo',
    // Unused in mode 'teredo', required by the config (types.ts): documentation addresses.
    softwire: '2001:db8:b4::1', aftr: '2001:db8:ff::1',
    teredo: { server: SERVER1, server2: SERVER2, localAddress: CLIENT4, localPort: CLIENT_PORT, qualificationTimeoutMs: 1000, ...teredo },
  };
}

/**
 * A harness.ts child in a namespace (a forwarder in mode 'teredo', or a host's sockets), driven by JSON lines
 * (../lab/jsonl.ts).
 */
export class Child extends JsonlChild {
  static async start(ns: string, kind: 'forwarder' | 'host', name: string, track: (p: ChildProcess) => void): Promise<Child> {
    const c = new Child(ns, HARNESS, [kind], name, track);
    await c.ready;
    return c;
  }
}

/** UDP packet counts at the Teredo server (port 3544, both addresses) and at the relay (its IPv4 side). */
export interface PeerCounts {
  serverIn: number;
  serverOut: number;
  relayIn: number;
  relayOut: number;
}

export class TeredoLab extends NetnsLab<Role> {
  private constructor(tag: string, readonly nat: NatKind) {
    super(`tr${process.pid}${tag}`);
  }

  /** Builds namespaces, links, routes and the NAT; starts miredo-server and the miredo relay; counters in place. */
  static async create(tag: string, nat: NatKind): Promise<TeredoLab> {
    // The Debian tools the lab drives (tools/ensure-peers.sh installs them too). Debian's postinst would start
    // miredo with /etc/miredo/miredo.conf (a public server) where services can start: a policy-rc.d that refuses is
    // what keeps it from starting (this machine has one).
    ensureTools('teredo', { ip: 'iproute2', nft: 'nftables', ping: 'iputils-ping', miredo: 'miredo', 'miredo-server': 'miredo-server' });
    const lab = new TeredoLab(tag, nat);
    await lab.setUp(() => lab.#build());
    return lab;
  }

  async #build(): Promise<void> {
    const ip = (...a: string[]) => run('ip', a);
    await this.addNamespaces(ROLES);
    await Promise.all(ROLES.map((r) => {
      const sysctls = ['net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0'];
      if (r === 'nat' || r === 'nat2') sysctls.push('net.ipv4.ip_forward=1');
      if (r === 'rly') sysctls.push('net.ipv6.conf.all.forwarding=1');
      return this.exec(r, 'sysctl', '-qw', ...sysctls);
    }));
    const addr = (r: Role, dev: string, a: string) => ip('-n', this.ns(r), 'addr', 'add', a, 'dev', dev, ...(a.includes(':') ? ['nodad'] : []));
    const route = (r: Role, ...a: string[]) => ip('-n', this.ns(r), ...(a[0].includes(':') ? ['-6'] : []), 'route', 'add', ...a);
    const veth = async (a: Role, an: string, b: Role, bn: string) => {
      await ip('link', 'add', 'name', an, 'netns', this.ns(a), 'type', 'veth', 'peer', 'name', bn, 'netns', this.ns(b));
      await ip('-n', this.ns(a), 'link', 'set', an, 'up');
      await ip('-n', this.ns(b), 'link', 'set', bn, 'up');
    };
    await ip('-n', this.ns('br'), 'link', 'add', 'br0', 'type', 'bridge');
    await ip('-n', this.ns('br'), 'link', 'set', 'br0', 'up');
    for (const r of ['srv', 'rly', 'nat', 'nat2'] as const) {
      await veth('br', `b-${r}`, r, 'wan0');
      await ip('-n', this.ns('br'), 'link', 'set', `b-${r}`, 'master', 'br0');
    }
    await addr('srv', 'wan0', `${SERVER1}/24`);
    await addr('srv', 'wan0', `${SERVER2}/24`);
    await addr('srv', 'wan0', '2001:db8:20::1/64');
    await addr('rly', 'wan0', `${RELAY4}/24`);
    await addr('rly', 'wan0', '2001:db8:20::20/64');
    await addr('nat', 'wan0', `${NAT_OUTSIDE}/24`);
    await veth('nat', 'lan0', 'cli', 'eth0');
    await addr('nat', 'lan0', '198.51.100.1/24');
    await addr('cli', 'eth0', `${CLIENT4}/24`);
    await route('cli', 'default', 'via', '198.51.100.1');
    await addr('nat2', 'wan0', `${NAT2_OUTSIDE}/24`);
    await veth('nat2', 'lan0', 'cli2', 'eth0');
    await addr('nat2', 'lan0', '192.0.2.1/24');
    await addr('cli2', 'eth0', `${CLIENT2_4}/24`);
    await route('cli2', 'default', 'via', '192.0.2.1');
    await this.exec('nat2', 'nft', this.#natRules('restricted', CLIENT2_4));
    await veth('rly', 'v6-0', 'v6', 'eth0');
    await addr('rly', 'v6-0', '2001:db8:66::1/64');
    await addr('v6', 'eth0', `${SERVER6}/64`);
    await route('v6', '::/0', 'via', '2001:db8:66::1');
    await route('srv', '2001:db8:66::/64', 'via', '2001:db8:20::20');
    await this.exec('nat', 'nft', this.#natRules(this.nat, CLIENT4));
    // Counters (PeerCounts): the server's Teredo port on both addresses, the relay's IPv4 UDP.
    await this.exec('srv', 'nft', [
      'add table inet lab',
      'add counter inet lab server_in', 'add counter inet lab server_out',
      'add chain inet lab in { type filter hook input priority 0; policy accept; }',
      'add chain inet lab out { type filter hook output priority 0; policy accept; }',
      `add rule inet lab in udp dport ${TEREDO_PORT} counter name server_in`,
      `add rule inet lab out udp sport ${TEREDO_PORT} counter name server_out`,
    ].join('; '));
    await this.exec('rly', 'nft', [
      'add table inet lab',
      'add counter inet lab relay_in', 'add counter inet lab relay_out',
      'add chain inet lab in { type filter hook input priority 0; policy accept; }',
      'add chain inet lab out { type filter hook output priority 0; policy accept; }',
      'add rule inet lab in iifname "wan0" meta nfproto ipv4 meta l4proto udp counter name relay_in',
      'add rule inet lab out oifname "wan0" meta nfproto ipv4 meta l4proto udp counter name relay_out',
    ].join('; '));
    this.#conf('server.conf', [`ServerBindAddress ${SERVER1}`, `ServerBindAddress2 ${SERVER2}`]);
    this.#conf('relay.conf', ['RelayType relay', 'InterfaceName teredo', `BindAddress ${RELAY4}`]);
    this.#miredo('srv', 'miredo-server', 'server.conf');
    this.#miredo('rly', 'miredo', 'relay.conf');
    // The relay is ready when its interface carries the Teredo prefix route; the server when it listens on 3544.
    await waitFor('the miredo relay', async () => /2001::\/32/.test(await this.exec('rly', 'ip', '-6', 'route').catch(() => '')), 10_000, 100);
    await waitFor('miredo-server', async () => (await this.exec('srv', 'ss', '-uln').catch(() => '')).includes(`${SERVER2}:${TEREDO_PORT}`), 10_000, 100);
  }

  /**
   * The NAT's ruleset. 'cone' is a full cone made of two static rules: every packet of CLIENT4:CLIENT_PORT leaves from
   * NAT_OUTSIDE:CONE_PORT (snat, so the mapping is the same for every destination: endpoint-independent mapping),
   * and every packet to NAT_OUTSIDE:CONE_PORT from anyone is let in to CLIENT4:CLIENT_PORT (dnat in prerouting:
   * endpoint-independent filtering). An inbound packet from a host the client never wrote to (the server's second
   * address answering a cone probe, a relay, another Teredo client) therefore reaches it: that is a cone NAT.
   */
  #natRules(nat: NatKind, client: string): string {
    // The NAT box's own firewall drops what nobody asked for, as a home gateway's does. It matters: without it the
    // kernel confirms a conntrack entry for an unsolicited packet to the box (and answers port unreachable), e.g. the
    // Teredo server's answer to a cone probe, and the NAT's next mapping towards that server clashes with the entry
    // and gets another port, so that a port-restricted NAT looks symmetric to RFC 4380 §5.2.1's probes.
    // The nat chains see only the first packet of a connection: `client_flows` counts the NAT mappings (conntrack
    // entries) made for the client's Teredo socket, one per destination, and again after one expired (natFlows()).
    const base = [
      'add table ip nat', 'add chain ip nat post { type nat hook postrouting priority 100; }',
      'add counter ip nat client_flows',
      `add rule ip nat post oifname "wan0" ip saddr ${client} udp sport ${CLIENT_PORT} counter name client_flows`,
      'add table ip filter', 'add chain ip filter in { type filter hook input priority 0; policy accept; }',
      'add rule ip filter in iifname "wan0" ct state new drop',
    ];
    if (nat === 'restricted') return [...base, 'add rule ip nat post oifname "wan0" masquerade'].join('; ');
    if (nat === 'symmetric') return [...base, 'add rule ip nat post oifname "wan0" masquerade random'].join('; ');
    return [
      ...base,
      'add chain ip nat pre { type nat hook prerouting priority -100; }',
      `add rule ip nat pre iifname "wan0" udp dport ${CONE_PORT} dnat to ${CLIENT4}:${CLIENT_PORT}`,
      `add rule ip nat post oifname "wan0" ip saddr ${CLIENT4} udp sport ${CLIENT_PORT} snat to ${NAT_OUTSIDE}:${CONE_PORT}`,
      'add rule ip nat post oifname "wan0" masquerade',
    ].join('; ');
  }

  #conf(name: string, lines: string[]): string {
    const file = join(this.dir, name);
    writeFileSync(file, `${lines.join('\n')}\n`);
    return file;
  }

  /** miredo or miredo-server in `role`, always with our absolute config and pid file (PEERS.md §8). */
  #miredo(role: Role, bin: 'miredo' | 'miredo-server', conf: string): { proc: ChildProcess; log: () => string } {
    const p = this.track(spawn('ip', ['netns', 'exec', this.ns(role), bin, '-f', '-c', join(this.dir, conf), '-p', join(this.dir, `${role}-${bin}.pid`)], { stdio: ['ignore', 'ignore', 'pipe'] }));
    let err = '';
    p.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
    return { proc: p, log: () => err };
  }

  /**
   * miredo's own client (RelayType client) in a client namespace, its Teredo socket on CLIENT_PORT (the cone NAT's
   * mapping); resolves with its Teredo address once its `teredo` interface has one. `stop()` ends it by pid.
   */
  async miredoClient(role: 'cli' | 'cli2' = 'cli', timeoutMs = 20_000): Promise<{ address: string; log: () => string; stop: () => Promise<void> }> {
    const conf = `client-${role}.conf`;
    this.#conf(conf, ['RelayType client', 'InterfaceName teredo', `ServerAddress ${SERVER1}`, `ServerAddress2 ${SERVER2}`,
      `BindAddress ${role === 'cli' ? CLIENT4 : CLIENT2_4}`, `BindPort ${CLIENT_PORT}`]);
    const { proc: p, log } = this.#miredo(role, 'miredo', conf);
    const address = await waitFor('the miredo client\'s Teredo address', async () => {
      if (p.exitCode !== null) throw new Error(`miredo client exited: ${log()}`);
      const out = await this.exec(role, 'ip', '-6', 'addr', 'show', 'dev', 'teredo').catch(() => '');
      return /inet6 (2001:0?:[0-9a-f:]+)\/32/.exec(out)?.[1];
    }, timeoutMs, 200);
    return { address, log, stop: () => endProcess(p) };
  }

  /** A harness child (forwarder or host sockets) in `role`, ended by cleanup(). */
  child(role: Role, kind: 'forwarder' | 'host'): Promise<Child> {
    return this.startChild((track) => Child.start(this.ns(role), kind, `${role}-${kind}`, track));
  }

  /** The packets the Teredo server and the relay have handled so far (nft counters in their namespaces). */
  async counts(): Promise<PeerCounts> {
    const read = async (role: Role, name: string) => Number(/packets (\d+)/.exec(await this.exec(role, 'nft', 'list', 'counter', 'inet', 'lab', name))![1]);
    const [serverIn, serverOut, relayIn, relayOut] = await Promise.all([
      read('srv', 'server_in'), read('srv', 'server_out'), read('rly', 'relay_in'), read('rly', 'relay_out'),
    ]);
    return { serverIn, serverOut, relayIn, relayOut };
  }

  /**
   * The NAT's UDP conntrack timeouts (seconds, both the unreplied and the stream one): how long a mapping lives
   * without packets. They hold in the NAT's namespace only, for connections' next packets too.
   */
  async natUdpTimeout(seconds: number, role: 'nat' | 'nat2' = 'nat'): Promise<void> {
    await this.exec(role, 'sysctl', '-qw', `net.netfilter.nf_conntrack_udp_timeout=${seconds}`, `net.netfilter.nf_conntrack_udp_timeout_stream=${seconds}`);
  }

  /** The NAT mappings made so far for the client's Teredo socket (CLIENT4:CLIENT_PORT; CLIENT2_4's for 'nat2'). */
  async natFlows(role: 'nat' | 'nat2' = 'nat'): Promise<number> {
    return Number(/packets (\d+)/.exec(await this.exec(role, 'nft', 'list', 'counter', 'ip', 'nat', 'client_flows'))![1]);
  }

  /**
   * The restricted NAT hands the client's socket `port` for its next mappings, as a NAT does that has forgotten the
   * old mapping and gives the port to somebody else (or reboots). Mappings alive keep their port (the NAT decides at
   * a connection's first packet): call it once the client's mappings have expired (natUdpTimeout), or the client
   * would show another port to each destination.
   */
  async natRemap(port: number): Promise<void> {
    if (this.nat !== 'restricted') throw new Error('natRemap: the restricted NAT only');
    await this.exec('nat', 'nft', [
      'flush chain ip nat post',
      `add rule ip nat post oifname "wan0" ip saddr ${CLIENT4} udp sport ${CLIENT_PORT} counter name client_flows`,
      `add rule ip nat post oifname "wan0" ip saddr ${CLIENT4} udp sport ${CLIENT_PORT} snat to ${NAT_OUTSIDE}:${port}`,
      'add rule ip nat post oifname "wan0" masquerade',
    ].join('; '));
  }

  /** A long-running command in `role` (an iperf3 server, stress), killed by pid at cleanup() or by the caller. */
  spawn(role: Role, cmd: string, ...args: string[]): ChildProcess {
    const p = this.track(spawn('ip', ['netns', 'exec', this.ns(role), cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }));
    p.stdout!.resume();
    p.stderr!.resume();
    return p;
  }

  /** Stops a process of spawn() or miredoClient(): SIGTERM, SIGKILL after 3 s, both by pid. */
  stop(p: ChildProcess): Promise<void> {
    return endProcess(p);
  }

  /** Children ended (politely, then by pid), miredo processes stopped by pid, namespaces deleted. Safe to call twice. */
  override async cleanup(): Promise<void> {
    await this.teardown('SIGTERM');
  }
}

/** The fields of a Teredo address (RFC 4380 §4), for assertions: server IPv4, flags, mapped port and IPv4 (de-obfuscated). */
export function teredoFields(address: string): { server: string; flags: number; port: number; ipv4: string } {
  const [head, tail] = address.split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail ? tail.split(':') : [];
  const words = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const w = words.map((x) => parseInt(x, 16));
  if (w[0] !== 0x2001 || w[1] !== 0) throw new Error(`${address} is not a Teredo address`);
  const v4 = (hi: number, lo: number) => [hi >> 8, hi & 0xff, lo >> 8, lo & 0xff].join('.');
  return { server: v4(w[2], w[3]), flags: w[4], port: w[5] ^ 0xffff, ipv4: v4(w[6] ^ 0xffff, w[7] ^ 0xffff) };
}
