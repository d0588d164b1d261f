// The lw4o6 lab (issue 21): the failover lab's namespaces (test/failover/topo.ts) with an lw4o6 ISP instead of
// DS-Lite, documentation prefixes only:
//
//  [lan] 192.168.1.2 ── [cpe] the agent (lwB4; tun b4tun) ── [isp] Kea DHCPv6 (OPTION_S46_CONT_LW), Kea DHCPv4
//        (public IPv4 for dual-stack; DHCPv4-over-DHCPv6 for 4o6-subnet 192.0.2.0/24, RFC 7341/7618)
//  [isp] ── [aftr1] lwAFTR (primary) ┐ the same anycast BR 2001:db8:ffff::1 and pool 192.0.2.0/24, routed by isp
//        ── [aftr2] lwAFTR (backup)  ┘ to one of them: moveAnycast() is the routing convergence after a death
//        ── [inet] 198.51.100.2
//
// The lwAFTRs are the strict fixture (test/fixtures/lwaftr: a binding per lwB4, ICMPv6 code 5 for any packet
// without one, RFC 7596 §6.2; or, in learn mode, bindings created from valid data packets). The ISP's
// provisioning system is played by `Provisioning`: like a deployment that couples its DHCP servers and its
// lwAFTRs, it installs a binding on the lwAFTR serving the anycast address whenever Kea hands one out (it
// reads Kea's lease files), and chooses the static binding Kea's DHCPv6 offers (a SIGHUP reloads Kea).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { lwB4Address } from '../../src/forwarder/types.ts';
import { LwAftrFixture } from '../fixtures/lwaftr/lwaftr.ts';
import { createTopo, type Topo } from '../failover/topo.ts';
import { sleep } from '../wait.ts';

export const BR = '2001:db8:ffff::1';
export const POOL4 = '192.0.2.0/24';
/** The static binding's prefix: the gateway's softwire prefix, already routed to it by isp. */
export const BIND_PREFIX = '2001:db8:b4::/64';
/** Port parameters of the lab: a = 6, k = 6 (1008 ports a binding). */
export const A = 6;
export const K = 6;
export interface Binding { ipv4: string; psid: number }
type Node = 'aftr1' | 'aftr2';

export interface LwLab {
  t: Topo;
  aftr: Record<Node, LwAftrFixture | null>;
  active: Node;
  prov: Provisioning;
  startLwAftr(n: Node, mode: 'strict' | 'learn'): Promise<LwAftrFixture>;
  killLwAftr(n: Node): Promise<void>;
  /** The anycast BR and the pool now lead to `n` (isp's routes replaced at once). */
  moveAnycast(n: Node): Promise<void>;
  cleanup(): Promise<void>;
}

/** Kea for an lw4o6 ISP: `dynamic` names a DHCP 4o6 server instead of a static S46_V4V6BIND. */
function keaConfigs(dir: string, bind: Binding, dynamic: boolean) {
  const s46 = dynamic
    ? [{ name: 's46-cont-lw', space: 'dhcp6' }, { name: 's46-br', space: 's46-cont-lw-options', data: BR }, { name: 'dhcp4o6-server-addr', data: '2001:db8:5::1' }]
    : [
      { name: 's46-cont-lw', space: 'dhcp6' },
      { name: 's46-br', space: 's46-cont-lw-options', data: BR },
      { name: 's46-v4v6bind', space: 's46-cont-lw-options', data: `${bind.ipv4}, ${BIND_PREFIX}` },
      { name: 's46-portparams', space: 's46-v4v6bind-options', data: `${A}, ${bind.psid}/${K}` },
    ];
  const v6 = { Dhcp6: {
    // The unicast address too: DHCPv4-over-DHCPv6 queries are sent to it (option 88), not to the multicast group.
    'interfaces-config': { interfaces: ['isp-cpe/2001:db8:5::1'] },
    'server-id': { type: 'EN', 'enterprise-id': 2495, identifier: '0102', persist: false },
    'lease-database': { type: 'memfile', persist: true, name: join(dir, 'lease6.csv'), 'lfc-interval': 0 },
    'preferred-lifetime': 300, 'valid-lifetime': 600, 'renew-timer': 150, 'rebind-timer': 240,
    'dhcp4o6-port': 6767,
    'option-data': [{ name: 'dns-servers', data: '2001:db8:5::1' }, ...s46],
    subnet6: [{ id: 1, subnet: '2001:db8:5::/64', interface: 'isp-cpe', pools: [{ pool: '2001:db8:5::100-2001:db8:5::1ff' }],
      'pd-pools': [{ prefix: '2001:db8:100::', 'prefix-len': 48, 'delegated-len': 56 }] }],
    loggers: [{ name: 'kea-dhcp6', severity: 'DEBUG', debuglevel: 40, output_options: [{ output: join(dir, 'kea6.log') }] }],
  } };
  const v4 = { Dhcp4: {
    'interfaces-config': { interfaces: ['isp-cpe'] },
    'lease-database': { type: 'memfile', persist: true, name: join(dir, 'lease4.csv'), 'lfc-interval': 0 },
    'valid-lifetime': 600, 'dhcp4o6-port': 6767,
    subnet4: [
      // dual-stack: the public IPv4 of the fallback
      { id: 1, subnet: '203.0.113.0/26', interface: 'isp-cpe', pools: [{ pool: '203.0.113.10 - 203.0.113.20' }],
        'option-data': [{ name: 'routers', data: '203.0.113.1' }, { name: 'domain-name-servers', data: '203.0.113.1' }] },
      // lw4o6 by DHCPv4-over-DHCPv6: shared addresses with a port set (RFC 7618 option 159)
      { id: 2, subnet: POOL4, '4o6-subnet': '2001:db8:5::/64', pools: [{ pool: '192.0.2.10 - 192.0.2.20' }],
        'option-data': [{ name: 'v4-portparams', data: `${A}, ${bind.psid}/${K}` }] },
    ],
    loggers: [{ name: 'kea-dhcp4', severity: 'DEBUG', debuglevel: 40, output_options: [{ output: join(dir, 'kea4.log') }] }],
  } };
  writeFileSync(join(dir, 'kea6.json'), JSON.stringify(v6));
  writeFileSync(join(dir, 'kea4.json'), JSON.stringify(v4));
}

/** Rows of a Kea memfile lease CSV, by column name. */
function leases(file: string): Record<string, string>[] {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const [head, ...rows] = text.trim().split('\n');
  const cols = head.split(',');
  return rows.map((r) => Object.fromEntries(r.split(',').map((v, i) => [cols[i], v])));
}

/**
 * The ISP's provisioning system: installs each binding Kea hands out on the lwAFTR serving the anycast
 * address, and chooses the static binding Kea's DHCPv6 offers.
 */
export class Provisioning {
  binding: Binding;
  /** Bindings installed, in order (lwB4 address, IPv4, PSID, node). */
  readonly installed: { ipv6: string; ipv4: string; psid: number; node: Node; at: number }[] = [];
  private seen4 = 0;
  private seen6 = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly lab: LwLab, private readonly dir: string, private readonly kea6: () => number | undefined, bind: Binding, readonly dynamic: boolean) {
    this.binding = bind;
  }

  /** The static binding DHCPv6 offers from now on (Kea reloads its configuration on SIGHUP). */
  async offer(bind: Binding): Promise<void> {
    this.binding = bind;
    keaConfigs(this.dir, bind, this.dynamic);
    // Kea answers nothing while it reloads: wait for its log to say the new configuration is in force, or a
    // Solicit sent meanwhile waits for its retransmission (a 2.7 s trigger once, against 0.3 s).
    const done = () => (readFileSync(join(this.dir, 'kea6.log'), 'utf8').match(/DHCP6_CONFIG_COMPLETE/g) ?? []).length;
    const before = done();
    const pid = this.kea6();
    if (pid) process.kill(pid, 'SIGHUP');
    for (let i = 0; i < 250 && done() === before; i++) await sleep(20);
    if (done() === before) throw new Error('Kea did not reload its configuration within 5 s');
  }

  /** Installs the static binding on a node now (the primary, before the gateway starts). */
  async install(node: Node, bind = this.binding): Promise<void> {
    const ipv6 = lwB4Address(BIND_PREFIX, { ipv4: bind.ipv4, psidOffset: A, psidLength: K, psid: bind.psid });
    await this.lab.aftr[node]!.bind(ipv6, bind.ipv4, A, K, bind.psid);
    this.installed.push({ ipv6, ipv4: bind.ipv4, psid: bind.psid, node, at: Date.now() });
  }

  /** Watches Kea's lease files every 10 ms: each new lease is installed on the active lwAFTR. */
  start(): void {
    this.seen4 = leases(join(this.dir, 'lease4.csv')).length;
    this.seen6 = leases(join(this.dir, 'lease6.csv')).length;
    this.timer = setInterval(() => void this.poll().catch(() => undefined), 10);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  private async poll() {
    const active = this.lab.aftr[this.lab.active];
    if (!active) return;
    const l6 = leases(join(this.dir, 'lease6.csv'));
    const new6 = l6.slice(this.seen6).filter((r) => Number(r.valid_lifetime) > 0 && r.lease_type === '0');
    this.seen6 = l6.length;
    if (new6.length && !this.dynamic) await this.install(this.lab.active);
    const l4 = leases(join(this.dir, 'lease4.csv'));
    const new4 = l4.slice(this.seen4).filter((r) => Number(r.valid_lifetime) > 0 && r.subnet_id === '2');
    this.seen4 = l4.length;
    for (const r of new4) {
      // The lwB4 builds its address in its delegated prefix (RFC 7596 §5.1; RFC 8539 would tell the server).
      const pd = l6.filter((x) => x.lease_type === '2' && Number(x.valid_lifetime) > 0).pop();
      if (!pd) continue;
      const ipv6 = lwB4Address(`${pd.address}/${pd.prefix_len}`, { ipv4: r.address, psidOffset: A, psidLength: K, psid: this.binding.psid });
      await active.bind(ipv6, r.address, A, K, this.binding.psid);
      this.installed.push({ ipv6, ipv4: r.address, psid: this.binding.psid, node: this.lab.active, at: Date.now() });
    }
  }
}

export async function createLwLab(tag: string, opts: { dynamic?: boolean; bind?: Binding } = {}): Promise<LwLab> {
  const t = await createTopo(tag, 'lw');
  const bind = opts.bind ?? { ipv4: '192.0.2.3', psid: 1 };
  const counters = (n: Node) => join(t.dir, `${n}.lwcounters`);
  const node = { aftr1: { via6: '2001:db8:a1::2', via4: '203.0.113.66' }, aftr2: { via6: '2001:db8:a2::2', via4: '203.0.113.70' } };
  const lab: LwLab = {
    t,
    aftr: { aftr1: null, aftr2: null },
    active: 'aftr1',
    prov: null as unknown as Provisioning,
    async startLwAftr(n, mode) {
      const f = await LwAftrFixture.start({ netns: t.ns(n), br: BR, echo: '192.0.0.1', pool: POOL4, a: A, k: K, countersFile: counters(n), mode });
      lab.aftr[n] = f;
      return f;
    },
    async killLwAftr(n) {
      const f = lab.aftr[n];
      lab.aftr[n] = null;
      await f?.kill();
    },
    async moveAnycast(n) {
      lab.active = n;
      // One shell at the peers' priority, as killAftr does in topo.ts: both routes move together.
      const sh = t.spawn('isp', 'sh', '-c', `ip -6 route replace ${BR}/128 via ${node[n].via6}; ip route replace ${POOL4} via ${node[n].via4}`);
      await new Promise((r) => sh.once('exit', r));
    },
    async cleanup() {
      lab.prov?.stop();
      for (const n of ['aftr1', 'aftr2'] as const) await lab.aftr[n]?.kill().catch(() => undefined);
      await t.cleanup();
    },
  };
  try {
    // Without its fixture an lwAFTR node answers for the anycast address and the pool with unreachable (a dead
    // lwAFTR), as the DS-Lite AFTR nodes of topo.ts do.
    for (const n of ['aftr1', 'aftr2'] as const) {
      await t.exec(n, 'ip', '-6', 'route', 'add', 'unreachable', `${BR}/128`, 'metric', '4096');
      await t.exec(n, 'ip', 'route', 'add', 'unreachable', POOL4, 'metric', '4096');
    }
    // Delegated prefixes (the DHCP 4o6 lwB4 builds its address there) lead to the gateway.
    await t.exec('isp', 'ip', '-6', 'route', 'add', '2001:db8:100::/48', 'via', '2001:db8:5::2');
    await lab.moveAnycast('aftr1');
    keaConfigs(t.dir, bind, !!opts.dynamic);
    const k6 = t.spawn('isp', 'kea-dhcp6', '-c', join(t.dir, 'kea6.json'));
    t.spawn('isp', 'kea-dhcp4', '-c', join(t.dir, 'kea4.json'));
    // `spawn` runs `ip netns exec nice ... kea-dhcp6`: the daemon's own pid is read from Kea's pid file.
    const pidOf6 = () => {
      try {
        return Number(readFileSync(join(t.dir, 'kea6-kea-dhcp6.pid'), 'utf8').trim()) || k6.pid;
      } catch {
        return k6.pid;
      }
    };
    lab.prov = new Provisioning(lab, t.dir, pidOf6, bind, !!opts.dynamic);
    await sleep(500);
  } catch (e) {
    await lab.cleanup();
    throw e;
  }
  return lab;
}
