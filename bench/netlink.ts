// `node --import tsx bench/netlink.ts`: how long one switch of the IPv4 default route takes through
// src/wan/netlink.ts (routeReplace, median of 1000 calls) against spawning `ip route replace` as
// src/wan/linux.ts did (median of 50), in the same run, in a namespace of its own (veth pair A-B), with
// `stress-ng --cpu 2` loading every core as the failover's worst case; the same without load for reference.
// Each call alternates between the two default routes the failover switches between (dev A with src and
// mtu, via a gateway on dev B), so every call is a real change. The timings are taken by a child inside the
// namespace (this file with --child), the parent sets up, loads and cleans up.
import { execFile, spawn, spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const NETLINK_CALLS = 1000;
const SPAWNED_CALLS = 50;

interface Timings { netlink: number[]; spawned: number[] }

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];

async function child(a: string, b: string): Promise<void> {
  const { routeReplace } = await import('../src/wan/netlink.ts');
  const routes = [{ dst: '0.0.0.0/0', dev: a, src: '192.0.0.2', mtu: 1460 }, { dst: '0.0.0.0/0', dev: b, gateway: '10.99.0.254' }];
  const args = [['route', 'replace', 'default', 'dev', a, 'src', '192.0.0.2', 'mtu', '1460'], ['route', 'replace', 'default', 'via', '10.99.0.254', 'dev', b]];
  const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
  for (let i = 0; i < 20; i++) routeReplace(routes[i & 1]); // warm-up: addon loaded, code paths hot
  const t: Timings = { netlink: [], spawned: [] };
  for (let i = 0; i < NETLINK_CALLS; i++) {
    const t0 = process.hrtime.bigint();
    routeReplace(routes[i & 1]);
    t.netlink.push(ms(t0));
  }
  for (let i = 0; i < SPAWNED_CALLS; i++) {
    const t0 = process.hrtime.bigint();
    await run('ip', args[i & 1]);
    t.spawned.push(ms(t0));
  }
  process.stdout.write(JSON.stringify(t));
}

async function main(): Promise<void> {
  if (spawnSync('stress-ng', ['--version'], { stdio: 'ignore' }).status !== 0) throw new Error('stress-ng missing: run tools/ensure-peers.sh');
  const ns = `nlbench${process.pid}`;
  const [a, b] = [`nba${process.pid}`, `nbb${process.pid}`];
  const cleanup = () => spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  process.once('exit', cleanup);
  const ip = (...args: string[]) => run('ip', ['-n', ns, ...args]);
  await run('ip', ['netns', 'add', ns]);
  await ip('link', 'add', a, 'type', 'veth', 'peer', 'name', b);
  await ip('addr', 'add', '192.0.0.2/32', 'dev', a);
  await ip('addr', 'add', '10.99.0.1/24', 'dev', b);
  await ip('link', 'set', a, 'up');
  await ip('link', 'set', b, 'up');

  const self = fileURLToPath(import.meta.url);
  const measure = async (): Promise<Timings> =>
    JSON.parse((await run('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', self, '--child', a, b], { maxBuffer: 1 << 20 })).stdout) as Timings;
  const row = (label: string, t: Timings) => {
    const n = median(t.netlink), s = median(t.spawned);
    console.log(`  ${label.padEnd(22)} netlink ${n.toFixed(3).padStart(7)} ms (p99 ${pct(t.netlink, 0.99).toFixed(3)}, max ${Math.max(...t.netlink).toFixed(3)})` +
      `   ip spawned ${s.toFixed(2).padStart(7)} ms (max ${Math.max(...t.spawned).toFixed(2)})   spawned/netlink ${(s / n).toFixed(0)}x`);
  };

  const idle = await measure();
  const stress = spawn('stress-ng', ['--cpu', '2', '--timeout', '300s', '--quiet'], { stdio: 'ignore' });
  let loaded: Timings;
  try {
    await new Promise((r) => setTimeout(r, 1500)); // the workers running before the first call
    loaded = await measure();
  } finally {
    if (stress.pid) process.kill(stress.pid, 'SIGTERM');
    cleanup();
  }
  console.log(`netlink benchmark: default route switch, median of ${NETLINK_CALLS} routeReplace calls vs ${SPAWNED_CALLS} spawned \`ip route replace\` (load average ${loadavg().map((l) => l.toFixed(1)).join(' ')})`);
  row('stress-ng --cpu 2', loaded);
  row('idle (reference)', idle);
}

if (process.argv[2] === '--child') await child(process.argv[3], process.argv[4]);
else await main();
