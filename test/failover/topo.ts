// The failover lab (issue 4 acceptance topology), documentation prefixes only, namespaces fo<pid><tag>-<role>:
//
//  [lan] lan0 192.168.1.2/24 2001:db8:2::2/64     (private IPv4: the strict AFTR refuses any other inner source)
//     | cpe-lan 192.168.1.1/24 2001:db8:2::1/64
//  [cpe] (the agent; tun b4tun, softwire 2001:db8:b4::1)   cpe-wan 2001:db8:5::2/64 (+DHCPv6, +DHCPv4)
//     | isp-cpe 2001:db8:5::1/64 203.0.113.1/26: Kea DHCPv6 (option 64), Kea DHCPv4 (public IPv4), dnsmasq
//  [isp] router ── isp-a1 2001:db8:a1::1 203.0.113.65/30 ── [aftr1] AFTR 2001:db8:ff::1, pool 203.0.113.130
//               ── isp-a2 2001:db8:a2::1 203.0.113.69/30 ── [aftr2] AFTR 2001:db8:ff::2, pool 203.0.113.131
//               ── isp-inet 198.51.100.1/24 2001:db8:e::1/64 ── [inet] inet0 198.51.100.2 2001:db8:e::2
//
// The AFTRs are the strict fixture (test/fixtures/aftr/aftr.c: acl6 2001:db8:b4::/48, private inner sources
// only, its own NAT44 per softwire to its pool address). The pool address is not local on the AFTR node: isp
// routes it there and the AFTR routes it into the fixture's tun. 192.0.0.1 on the AFTR node's lo is for the
// PCP server (miniupnpd, test/pcp); echo requests to it are answered by the fixture itself.
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { compileC } from '../lab/cc.ts';
import { AFTR_SOURCE, readAftrCounters } from '../fixtures/aftr/aftr.ts';

const run = promisify(execFile);
export type Role = 'lan' | 'cpe' | 'isp' | 'aftr1' | 'aftr2' | 'inet';
const ROLES: Role[] = ['lan', 'cpe', 'isp', 'aftr1', 'aftr2', 'inet'];
export const AFTR = { aftr1: '2001:db8:ff::1', aftr2: '2001:db8:ff::2' } as const;
/** Each AFTR's NAT44 pool address (not local there: routed into its tun). */
export const POOL = { aftr1: '203.0.113.130', aftr2: '203.0.113.131' } as const;
/** The AFTRs' acl6: where softwires may come from. */
export const SOFTWIRES = '2001:db8:b4::/48';
/** The LAN's IPv4 (RFC 1918: a deployed AFTR accepts no other inner source). */
export const LAN4 = { prefix: '192.168.1.0/24', lan: '192.168.1.2', cpe: '192.168.1.1' } as const;
const PRIVATE4 = '{ 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 192.0.0.0/29 }';

export interface Topo {
  dir: string;
  ns(role: Role): string;
  exec(role: Role, cmd: string, ...args: string[]): Promise<string>;
  tryExec(role: Role, cmd: string, ...args: string[]): Promise<number>;
  spawn(role: Role, cmd: string, ...args: string[]): ChildProcess;
  startKea(): Promise<void>;
  startAftr(which: 'aftr1' | 'aftr2'): Promise<void>;
  killAftr(which: 'aftr1' | 'aftr2'): Promise<void>;
  blackhole(which: 'aftr1' | 'aftr2', on: boolean): Promise<void>;
  /** The AFTR fixture's named counters (decap, nat_out, wrong_source, ...), cumulative over its restarts. */
  aftrCounters(which: 'aftr1' | 'aftr2'): Record<string, number>;
  /**
   * Packets with a private IPv4 source (RFC 1918, 192.0.0.0/29) that reached isp from the gateway (isp-cpe)
   * or anywhere in inet: un-NATed LAN traffic, e.g. a B4 leaking in dual-stack. Both should stay 0.
   */
  leaked(): Promise<{ isp: number; inet: number }>;
  keaLog(v: 4 | 6): string;
  cleanup(): Promise<void>;
}

const live = new Set<Topo>();
process.once('exit', () => {
  for (const t of live) for (const r of ROLES) spawnSync('ip', ['netns', 'del', t.ns(r)], { stdio: 'ignore' });
});

import { sleep } from '../wait.ts';

/** `area` prefixes the namespace names (each test area has its own, e.g. 'bp' for BFD/PCP). */
export async function createTopo(tag: string, area = 'fo'): Promise<Topo> {
  const prefix = `${area}${process.pid}${tag}`;
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  const children = new Set<ChildProcess>();
  const aftrs = new Map<string, ChildProcess>();
  const ns = (r: Role) => `${prefix}-${r}`;
  const ip = (...a: string[]) => run('ip', a);
  const counterFile = (which: 'aftr1' | 'aftr2') => join(dir, `${which}.counters`);
  const t: Topo = {
    dir,
    ns,
    async exec(role, cmd, ...args) {
      return (await run('ip', ['netns', 'exec', ns(role), cmd, ...args], { maxBuffer: 16 << 20 })).stdout;
    },
    async tryExec(role, cmd, ...args) {
      return run('ip', ['netns', 'exec', ns(role), cmd, ...args]).then(() => 0, (e: { code?: number }) => (typeof e.code === 'number' ? e.code : 1));
    },
    spawn(role, cmd, ...args) {
      // Only the gateway (cpe) shares its CPUs with the load the tests put on them (stress-ng): every other
      // role stands for another machine (a LAN host, the ISP's Kea and AFTRs, a host on the internet), so it
      // runs ahead of the load (nice -10), and what is measured is the gateway, not a starved peer.
      const peer = role === 'cpe' ? [] : ['nice', '-n', '-10'];
      const c = spawn('ip', ['netns', 'exec', ns(role), ...peer, cmd, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, KEA_PIDFILE_DIR: dir, KEA_LOCKFILE_DIR: dir } });
      children.add(c);
      c.once('exit', () => children.delete(c));
      return c;
    },
    async startKea() {
      writeFileSync(join(dir, 'kea6.json'), JSON.stringify({ Dhcp6: {
        'interfaces-config': { interfaces: ['isp-cpe'] },
        'server-id': { type: 'EN', 'enterprise-id': 2495, identifier: '0102', persist: false },
        'lease-database': { type: 'memfile', persist: false },
        'preferred-lifetime': 300, 'valid-lifetime': 600, 'renew-timer': 150, 'rebind-timer': 240,
        'option-data': [{ name: 'aftr-name', data: 'aftr.example.net.' }, { name: 'dns-servers', data: '2001:db8:5::1' }],
        subnet6: [{ id: 1, subnet: '2001:db8:5::/64', interface: 'isp-cpe', pools: [{ pool: '2001:db8:5::100-2001:db8:5::1ff' }],
          'pd-pools': [{ prefix: '2001:db8:100::', 'prefix-len': 48, 'delegated-len': 56 }] }],
        loggers: [{ name: 'kea-dhcp6', severity: 'DEBUG', debuglevel: 40, output_options: [{ output: join(dir, 'kea6.log') }] }],
      } }));
      writeFileSync(join(dir, 'kea4.json'), JSON.stringify({ Dhcp4: {
        'interfaces-config': { interfaces: ['isp-cpe'] },
        'lease-database': { type: 'memfile', persist: false }, 'valid-lifetime': 600,
        subnet4: [{ id: 1, subnet: '203.0.113.0/26', interface: 'isp-cpe', pools: [{ pool: '203.0.113.10 - 203.0.113.20' }],
          'option-data': [{ name: 'routers', data: '203.0.113.1' }, { name: 'domain-name-servers', data: '203.0.113.1' }] }],
        loggers: [{ name: 'kea-dhcp4', severity: 'DEBUG', debuglevel: 40, output_options: [{ output: join(dir, 'kea4.log') }] }],
      } }));
      t.spawn('isp', 'kea-dhcp6', '-c', join(dir, 'kea6.json'));
      t.spawn('isp', 'kea-dhcp4', '-c', join(dir, 'kea4.json'));
      t.spawn('isp', 'dnsmasq', '--no-daemon', '--conf-file=/dev/null', '--port=53', '--listen-address=2001:db8:5::1', '--bind-interfaces',
        '--no-resolv', '--no-hosts', '--user=root', `--pid-file=${join(dir, 'dnsmasq.pid')}`,
        `--host-record=aftr.example.net,${AFTR.aftr1}`, `--host-record=aftr2.example.net,${AFTR.aftr2}`);
      await sleep(500);
    },
    async startAftr(which) {
      if (aftrs.has(which)) return;
      const bin = await compileC(AFTR_SOURCE);
      // One counter file per AFTR for the topology's life: a restarted fixture continues it.
      const p = t.spawn(which, bin, 'aftrtun', AFTR[which], SOFTWIRES, POOL[which], counterFile(which));
      aftrs.set(which, p);
      let err = '';
      p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      await new Promise<void>((res, rej) => { p.stdout!.once('data', () => res()); p.once('exit', (c) => rej(new Error(`aftr exited ${c}: ${err}`))); });
      await t.exec(which, 'ip', 'link', 'set', 'aftrtun', 'up');
      // In front of the unreachable routes of the set-up (metric 4096): they answer again once the tun is gone.
      await t.exec(which, 'ip', '-6', 'route', 'replace', `${AFTR[which]}/128`, 'dev', 'aftrtun');
      await t.exec(which, 'ip', 'route', 'replace', `${POOL[which]}/32`, 'dev', 'aftrtun');
      // The PCP server's answers from 192.0.0.1 to the B4s (the fixture returns them to the asking softwire).
      await t.exec(which, 'ip', 'route', 'replace', '192.0.0.0/29', 'dev', 'aftrtun');
    },
    async killAftr(which) {
      const p = aftrs.get(which);
      if (!p) return;
      aftrs.delete(which);
      const gone = new Promise((r) => p.once('exit', r));
      // The kernel unregisters the dead process's tun, and its routes with it, only after RCU grace periods
      // that took seconds here on CPUs the tests keep busy (on a real AFTR host, not loaded by the gateway's
      // work, it is immediate): the routes go with the process, so the node answers ICMPv6 unreachable from
      // the death on. One shell at the peers' priority does both: commands spawned one by one from the test
      // process (nice 0, on the loaded CPUs) left the routes up to 650 ms after the death, which the LAN host
      // saw as outage of the gateway's.
      const kill = t.spawn(which, 'sh', '-c', `kill -9 ${p.pid}; ip -6 route del ${AFTR[which]}/128 dev aftrtun; ip route del ${POOL[which]}/32 dev aftrtun; true`);
      await new Promise((r) => kill.once('exit', r));
      await gone;
      for (let i = 0; i < 100 && (await t.tryExec(which, 'ip', 'link', 'show', 'aftrtun')) === 0; i++) await sleep(20);
    },
    async blackhole(which, on) {
      if (on) await t.exec(which, 'nft', 'add table inet bh; add chain inet bh pre { type filter hook prerouting priority raw; policy accept; }; add rule inet bh pre ip6 nexthdr 4 drop');
      else await t.exec(which, 'nft', 'delete', 'table', 'inet', 'bh');
    },
    aftrCounters(which) {
      return readAftrCounters(counterFile(which));
    },
    async leaked() {
      const count = async (role: Role) => Number(/packets (\d+)/.exec(await t.exec(role, 'nft', 'list', 'counter', 'ip', 'leak', 'private'))![1]);
      return { isp: await count('isp'), inet: await count('inet') };
    },
    keaLog(v) {
      try {
        return spawnSync('cat', [join(dir, `kea${v}.log`)]).stdout.toString();
      } catch {
        return '';
      }
    },
    async cleanup() {
      await Promise.all([...children].map((c) => new Promise<void>((res) => {
        if (c.exitCode !== null || c.signalCode !== null) return res();
        c.once('exit', () => res());
        c.kill('SIGTERM');
        setTimeout(() => c.kill('SIGKILL'), 2000).unref();
      })));
      for (const r of ROLES) await ip('netns', 'del', ns(r)).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
      live.delete(t);
    },
  };
  live.add(t);
  try {
    for (const r of ROLES) {
      await ip('netns', 'add', ns(r));
      // IPv6 usable at once (no DAD), forwarding where routing happens.
      await t.exec(r, 'sysctl', '-qw', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0');
      await ip('-n', ns(r), 'link', 'set', 'lo', 'up');
    }
    for (const r of ['cpe', 'isp', 'aftr1', 'aftr2'] as Role[]) await t.exec(r, 'sysctl', '-qw', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1');
    const veth = async (a: Role, an: string, b: Role, bn: string) => {
      await ip('link', 'add', an, 'netns', ns(a), 'type', 'veth', 'peer', 'name', bn, 'netns', ns(b));
      await ip('-n', ns(a), 'link', 'set', an, 'up');
      await ip('-n', ns(b), 'link', 'set', bn, 'up');
    };
    await veth('lan', 'lan0', 'cpe', 'cpe-lan');
    await veth('cpe', 'cpe-wan', 'isp', 'isp-cpe');
    await veth('isp', 'isp-a1', 'aftr1', 'a1-isp');
    await veth('isp', 'isp-a2', 'aftr2', 'a2-isp');
    await veth('isp', 'isp-inet', 'inet', 'inet0');
    const addr = (r: Role, dev: string, ...as: string[]) => Promise.all(as.map((a) => ip('-n', ns(r), 'addr', 'add', a, 'dev', dev, ...(a.includes(':') ? ['nodad'] : []))));
    const route = (r: Role, ...a: string[]) => ip('-n', ns(r), ...(a[0].includes(':') ? ['-6'] : []), 'route', 'add', ...a);
    await addr('lan', 'lan0', `${LAN4.lan}/24`, '2001:db8:2::2/64');
    await addr('cpe', 'cpe-lan', `${LAN4.cpe}/24`, '2001:db8:2::1/64');
    await addr('cpe', 'cpe-wan', '2001:db8:5::2/64');
    await addr('isp', 'isp-cpe', '2001:db8:5::1/64', '203.0.113.1/26');
    await addr('isp', 'isp-a1', '2001:db8:a1::1/64', '203.0.113.65/30');
    await addr('isp', 'isp-a2', '2001:db8:a2::1/64', '203.0.113.69/30');
    await addr('isp', 'isp-inet', '2001:db8:e::1/64', '198.51.100.1/24');
    await addr('aftr1', 'a1-isp', '2001:db8:a1::2/64', '203.0.113.66/30');
    await addr('aftr2', 'a2-isp', '2001:db8:a2::2/64', '203.0.113.70/30');
    await addr('inet', 'inet0', '198.51.100.2/24', '2001:db8:e::2/64');
    for (const a of ['aftr1', 'aftr2'] as const) await addr(a, 'lo', '192.0.0.1/32');
    await route('lan', 'default', 'via', LAN4.cpe);
    await route('lan', '::/0', 'via', '2001:db8:2::1');
    await route('cpe', '::/0', 'via', '2001:db8:5::1');
    await route('isp', '2001:db8:2::/64', 'via', '2001:db8:5::2');
    await route('isp', '2001:db8:b4::/48', 'via', '2001:db8:5::2');
    await route('isp', `${AFTR.aftr1}/128`, 'via', '2001:db8:a1::2');
    await route('isp', `${AFTR.aftr2}/128`, 'via', '2001:db8:a2::2');
    await route('isp', `${POOL.aftr1}/32`, 'via', '203.0.113.66');
    await route('isp', `${POOL.aftr2}/32`, 'via', '203.0.113.70');
    await route('aftr1', '::/0', 'via', '2001:db8:a1::1');
    await route('aftr1', 'default', 'via', '203.0.113.65');
    await route('aftr2', '::/0', 'via', '2001:db8:a2::1');
    await route('aftr2', 'default', 'via', '203.0.113.69');
    await route('inet', 'default', 'via', '198.51.100.1');
    await route('inet', '::/0', 'via', '2001:db8:e::1');
    // Without its fixture an AFTR node has no route to the AFTR address or the pool (not even its default,
    // which would loop them back through isp): tunnel packets are answered with ICMPv6 destination
    // unreachable, no route (RFC 4443 §3.1 code 0), as by a dead AFTR. The fixture's tun routes
    // (metric 0 for IPv4, 1024 for IPv6) take precedence while it runs. The NAT44 is the fixture's own, none
    // in the kernel.
    for (const a of ['aftr1', 'aftr2'] as const) {
      await route(a, 'unreachable', `${AFTR[a]}/128`, 'metric', '4096');
      await route(a, 'unreachable', `${POOL[a]}/32`, 'metric', '4096');
    }
    // Private IPv4 sources where only public ones belong: from the gateway into isp, and in inet.
    await t.exec('isp', 'nft', `add table ip leak; add counter ip leak private; add chain ip leak pre { type filter hook prerouting priority raw; policy accept; }; add rule ip leak pre iifname "isp-cpe" ip saddr ${PRIVATE4} counter name private`);
    await t.exec('inet', 'nft', `add table ip leak; add counter ip leak private; add chain ip leak pre { type filter hook prerouting priority raw; policy accept; }; add rule ip leak pre ip saddr ${PRIVATE4} counter name private`);
  } catch (e) {
    await t.cleanup();
    throw e;
  }
  return t;
}
