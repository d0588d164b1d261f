// Network-namespace lab for end-to-end tests and benchmarks (PEERS.md §2-3), documentation prefixes only,
// except the LAN's private IPv4 (the AFTR fixture, like a deployed AFTR, refuses any other inner source):
//
//   [lan] lan0 192.168.1.2/24 ── cpe-lan 192.168.1.1/24 [cpe] cpe-wan 2001:db8:1::2/64 (+203.0.113.2/24)
//                                                       │
//   [inet] inet0 198.51.100.2/24 ── aftr-inet 198.51.100.1/24 [aftr] aftr-cpe 2001:db8:1::1/64 (+203.0.113.1/24)
//   [isp] (optional, for DHCP later) isp0 2001:db8:5::1/64 198.51.100.129/25 ── cpe-isp [cpe]
//
// The B4 softwire is 2001:db8:b4::1 and the AFTR 2001:db8:ff::1; aftr routes 2001:db8:b4::/48 back to cpe.
// The AFTR fixture NATs to its pool address 192.0.2.130, which is routed into its tun (not local in aftr).
// The IPv4 on the cpe-aftr link serves only the kernel-routing baselines of the benchmarks.
// Namespaces are named <prefix>-<role> so concurrent runs never collide; cleanup() always deletes them and
// kills every process started through the lab (by pid), and runs at process exit as a last resort.
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { waitFor } from '../wait.ts';

const run = promisify(execFile);

export const ADDR = {
  lan: '192.168.1.2',
  cpeLan: '192.168.1.1',
  lanPrefix: '192.168.1.0/24',
  cpeWan6: '2001:db8:1::2',
  aftrWan6: '2001:db8:1::1',
  cpeWan4: '203.0.113.2',
  aftrWan4: '203.0.113.1',
  inet: '198.51.100.2',
  aftrInet: '198.51.100.1',
  softwire: '2001:db8:b4::1',
  softwirePrefix: '2001:db8:b4::/48',
  aftr: '2001:db8:ff::1',
  aftrPool: '192.0.2.130',
  b4Ipv4: '192.0.0.2',
} as const;

export type Role = 'lan' | 'cpe' | 'aftr' | 'inet' | 'isp';

export interface Lab {
  readonly prefix: string;
  ns(role: Role): string;
  /** Runs a command inside a namespace and returns its stdout; rejects on a non-zero exit. */
  exec(role: Role, cmd: string, ...args: string[]): Promise<string>;
  /** Like exec, but resolves with the exit code and output instead of rejecting. */
  tryExec(role: Role, cmd: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Starts a long-running process in a namespace; cleanup() kills it by pid. */
  spawn(role: Role, cmd: string, ...args: string[]): ChildProcess;
  /** Registers extra cleanup work (run before the namespaces are deleted, last registered first). */
  defer(fn: () => Promise<void> | void): void;
  cleanup(): Promise<void>;
}

const live = new Set<Lab>();
process.once('exit', () => {
  // Synchronous last resort if a test forgot (or could not reach) its cleanup.
  for (const lab of live)
    for (const role of ['lan', 'cpe', 'aftr', 'inet', 'isp'] as Role[]) spawnSync('ip', ['netns', 'del', lab.ns(role)], { stdio: 'ignore' });
});

export async function createLab(prefix: string, opts: { isp?: boolean } = {}): Promise<Lab> {
  const roles: Role[] = ['lan', 'cpe', 'aftr', 'inet', ...(opts.isp ? (['isp'] as Role[]) : [])];
  const children = new Set<ChildProcess>();
  const deferred: Array<() => Promise<void> | void> = [];
  const ns = (role: Role) => `${prefix}-${role}`;
  const ip = (...args: string[]) => run('ip', args);
  const lab: Lab = {
    prefix,
    ns,
    async exec(role, cmd, ...args) {
      const { stdout } = await run('ip', ['netns', 'exec', ns(role), cmd, ...args], { maxBuffer: 64 << 20 });
      return stdout;
    },
    async tryExec(role, cmd, ...args) {
      try {
        const { stdout, stderr } = await run('ip', ['netns', 'exec', ns(role), cmd, ...args], { maxBuffer: 64 << 20 });
        return { code: 0, stdout, stderr };
      } catch (e) {
        const err = e as { code?: number; stdout?: string; stderr?: string };
        return { code: typeof err.code === 'number' ? err.code : 1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
      }
    },
    spawn(role, cmd, ...args) {
      const child = spawn('ip', ['netns', 'exec', ns(role), cmd, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
      children.add(child);
      child.once('exit', () => children.delete(child));
      return child;
    },
    defer(fn) {
      deferred.push(fn);
    },
    async cleanup() {
      for (const fn of deferred.reverse()) await Promise.resolve(fn()).catch(() => undefined);
      deferred.length = 0;
      await Promise.all(
        [...children].map(
          (c) =>
            new Promise<void>((resolve) => {
              if (c.exitCode !== null || c.signalCode !== null) return resolve();
              c.once('exit', () => resolve());
              c.kill('SIGTERM');
              setTimeout(() => c.kill('SIGKILL'), 2000).unref();
            }),
        ),
      );
      for (const role of roles) await ip('netns', 'del', ns(role)).catch(() => undefined);
      live.delete(lab);
    },
  };
  live.add(lab);
  try {
    for (const role of roles) {
      await ip('netns', 'add', ns(role));
      await ip('-n', ns(role), 'link', 'set', 'lo', 'up');
    }
    const veth = async (a: Role, an: string, b: Role, bn: string) => {
      await ip('link', 'add', an, 'netns', ns(a), 'type', 'veth', 'peer', 'name', bn, 'netns', ns(b));
      await ip('-n', ns(a), 'link', 'set', an, 'up');
      await ip('-n', ns(b), 'link', 'set', bn, 'up');
    };
    // Temporary root-namespace names would collide between concurrent runs: create in place.
    await veth('lan', 'lan0', 'cpe', 'cpe-lan');
    await veth('cpe', 'cpe-wan', 'aftr', 'aftr-cpe');
    await veth('aftr', 'aftr-inet', 'inet', 'inet0');
    const addr = (role: Role, dev: string, a: string) => ip('-n', ns(role), 'addr', 'add', a, 'dev', dev, ...(a.includes(':') ? ['nodad'] : []));
    await addr('lan', 'lan0', `${ADDR.lan}/24`);
    await addr('cpe', 'cpe-lan', `${ADDR.cpeLan}/24`);
    await addr('cpe', 'cpe-wan', `${ADDR.cpeWan6}/64`);
    await addr('cpe', 'cpe-wan', `${ADDR.cpeWan4}/24`);
    await addr('aftr', 'aftr-cpe', `${ADDR.aftrWan6}/64`);
    await addr('aftr', 'aftr-cpe', `${ADDR.aftrWan4}/24`);
    await addr('aftr', 'aftr-inet', `${ADDR.aftrInet}/24`);
    await addr('inet', 'inet0', `${ADDR.inet}/24`);
    await ip('-n', ns('lan'), 'route', 'add', 'default', 'via', ADDR.cpeLan);
    await ip('-n', ns('cpe'), '-6', 'route', 'add', 'default', 'via', ADDR.aftrWan6);
    await ip('-n', ns('aftr'), '-6', 'route', 'add', ADDR.softwirePrefix, 'via', ADDR.cpeWan6);
    await ip('-n', ns('inet'), 'route', 'add', 'default', 'via', ADDR.aftrInet);
    for (const role of ['cpe', 'aftr'] as Role[])
      await lab.exec(role, 'sysctl', '-qw', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1');
    if (opts.isp) {
      await veth('isp', 'isp0', 'cpe', 'cpe-isp');
      await addr('isp', 'isp0', '2001:db8:5::1/64');
      await addr('isp', 'isp0', '198.51.100.129/25');
    }
  } catch (e) {
    await lab.cleanup();
    throw e;
  }
  return lab;
}

/** cpe: IPv4 via the B4's tun (DS-Lite) — the one-tun wiring of DESIGN.md / PEERS.md §3. */
export async function routeViaB4(lab: Lab, tun: string): Promise<void> {
  const n = lab.ns('cpe');
  await run('ip', ['-n', n, 'addr', 'add', `${ADDR.b4Ipv4}/32`, 'dev', tun]);
  await run('ip', ['-n', n, 'route', 'replace', 'default', 'dev', tun]);
  await run('ip', ['-n', n, '-6', 'route', 'replace', `${ADDR.softwire}/128`, 'dev', tun]);
}

/** cpe: IPv4 routed natively by the kernel to aftr (the benchmarks' reference). */
export async function routeNatively(lab: Lab): Promise<void> {
  await run('ip', ['-n', lab.ns('cpe'), 'route', 'replace', 'default', 'via', ADDR.aftrWan4]);
  await run('ip', ['-n', lab.ns('aftr'), 'route', 'replace', ADDR.lanPrefix, 'via', ADDR.cpeWan4]);
}

// The lab's tests wait with the shared poller.
export { waitFor };

/**
 * tcpdump's first `count` IPv4-in-IPv6 packets on the cpe-aftr link (cpe-wan) while `traffic` runs; `flags`
 * go to tcpdump (e.g. -v, which also checks the inner IPv4 header checksum).
 */
export async function captureTunnelled(lab: Lab, count: number, traffic: () => Promise<unknown>, flags: string[] = []): Promise<string> {
  const dump = lab.spawn('cpe', 'tcpdump', '-l', '-n', ...flags, '-i', 'cpe-wan', '-c', String(count), 'ip6 and ip6[6] == 4');
  let stdout = '';
  let stderr = '';
  dump.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  dump.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  await waitFor('tcpdump to listen', async () => stderr.includes('listening on'), 5000);
  const done = new Promise((r) => dump.once('exit', r));
  await traffic();
  await done;
  return stdout;
}

/** An iperf3 server in inet for one test (-1), listening when this resolves. */
export async function iperf3Server(lab: Lab): Promise<void> {
  const server = lab.spawn('inet', 'iperf3', '-s', '-1', '--forceflush', '-B', ADDR.inet);
  let out = '';
  server.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  await waitFor('iperf3 server', async () => out.includes('Server listening'), 5000);
}
