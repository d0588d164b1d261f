// `npm run bench:nat46` (root; issue 23): translation pps of our forwarder in mode nat46 as a ratio to tayga's
// and to kernel forwarding, in the same run, with the same packets, measured the same way.
//
//   [v4] s0 192.0.2.10/24 (the client C)         [dut] d4 192.0.2.1/24, 2001:db8:2::1/64
//        2001:db8:2::2/64        ──veth──             d6 2001:db8:1::1/64, 198.51.100.1/24   ──veth──
//   [v6] k0 2001:db8:1::2/64, 198.51.100.2/24, SERVER6 = 2001:db8:6464::cb00:7109 (dstPrefix | S, S = 203.0.113.9)
//
// Three devices in dut, chosen by one route per direction (S/32 for IPv4 -> IPv6, CLIENT6/128 back):
//   ours   our forwarder, mode nat46 (tun n46tun, 2 queues), in a child process in dut (test/lab/b4-runner.ts,
//          as bench:forwarder runs it): C -> S leaves as CLIENT6 -> SERVER6 (prefix | tenant | gateway | C,
//          dstPrefix | S, RFC 6052 /96);
//   tayga  Debian's tayga (tun tgtun) with `prefix` = our dstPrefix and `map C CLIENT6`: the same addresses out;
//   kernel dut forwards the packets untranslated (IPv4 C -> S one way, IPv6 SERVER6 -> CLIENT6 the other): the
//          upper reference, not a translation.
// Load: 64-byte IPv4/UDP from test/lab/udpflood.c in v4 (4 flows per process), counted in v6 by nft (prerouting at
// raw priority: count, drop). Back: 84-byte IPv6/UDP (the same 36-byte payload) from its IPv6 twin
// (test/lab/udpflood.c -6) in v6, SERVER6:9 -> CLIENT6:40001-40004, counted in v4. Our forwarder passes IPv6 only
// inside a flow a client opened (its firewall drops unsolicited IPv6), so before every IPv6 -> IPv4 measurement,
// whatever the device, v4 sends one UDP datagram C:4000x -> S:9 per flow through the device under test.
// Offered = what left the sender's veth towards dut (tx packets + tx dropped, i.e. after the shaper, including
// what dut's backlog refused); delivered = the sink's count; pps = delivered / generator seconds.
//   BENCH_RUNS=5 (medians over runs, never the best), BENCH_SECONDS=3 per measurement,
//   BENCH_RATES=50000,100000,flood1,flood2: a number is a paced rate (one generator behind a tbf shaper on its veth,
//     whose queue is deep enough that the generator's sockets block instead of losing), floodN is N unpaced
//     generator processes,
//   BENCH_DIRECTIONS=4to6,6to4, BENCH_STRESS=1 runs `stress-ng --cpu 2` during the measurements,
//   BENCH_TAYGA_NICE=-10: tayga's nice value, by default that of our forwarder's threads (0: tayga as shipped).
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, setPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Counters, ForwarderConfig } from '../src/forwarder/index.ts';
import { LabB4 } from '../test/lab/b4.ts';
import { compileC } from '../test/lab/cc.ts';
import type { Lab, Role } from '../test/lab/lab.ts';
import { waitFor } from '../test/wait.ts';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const RATES = (process.env.BENCH_RATES ?? '50000,100000,flood1,flood2').split(',').map((s) => s.trim()).filter(Boolean);
const DIRECTIONS = (process.env.BENCH_DIRECTIONS ?? '4to6,6to4').split(',').map((s) => s.trim()) as Direction[];
const STRESS = process.env.BENCH_STRESS === '1';
const TAYGA_NICE = Number(process.env.BENCH_TAYGA_NICE ?? -10);
const FLOWS = 4;
const PAYLOAD = 64 - 28; // 64-byte IPv4 packets, 84-byte IPv6 packets
const PORT0 = 40001; // the client's ports of the IPv6 -> IPv4 flows

const C = '192.0.2.10';
const S = '203.0.113.9';
const CLIENT6 = '2001:db8:462a:102::c000:20a'; // 2001:db8:4600::/40 | tenant 0x2a | gateway 0x102 | C
const DST96 = '2001:db8:6464::/96';
const SERVER6 = '2001:db8:6464::cb00:7109'; // DST96 | S
const NAT46: ForwarderConfig = {
  tunName: 'n46tun', softwire: '2001:db8:b4::1', aftr: '2001:db8:ff::1', mode: 'nat46', b4Ipv4: '192.0.2.1', queues: 2,
  nat46: { prefix: '2001:db8:4600::/40', tenantBits: 8, gatewayBits: 16, tenantId: 0x2a, gatewayId: 0x102, dstPrefix: DST96, localAddress: '2001:db8:ff00::1' },
};

type Direction = '4to6' | '6to4';
type Device = 'kernel' | 'tayga' | 'ours';
const DEVICES: Device[] = ['kernel', 'tayga', 'ours'];
type Side = 'v4' | 'dut' | 'v6';
// LabB4 (test/lab/b4.ts) takes a Lab and starts the forwarder in its 'cpe' role: dut plays cpe here.
const SIDE_OF: Record<Role, Side> = { lan: 'v4', cpe: 'dut', aftr: 'dut', inet: 'v6', isp: 'dut' };

interface Net extends Lab {
  on(side: Side): string;
  sh(side: Side, cmd: string, ...args: string[]): Promise<string>;
}

/** Three namespaces n46b<pid>-{v4,dut,v6}; cleanup() kills what was spawned (by pid) and deletes them. */
async function createNet(prefix: string): Promise<Net> {
  const children = new Set<ChildProcess>();
  const deferred: Array<() => Promise<void> | void> = [];
  const on = (side: Side) => `${prefix}-${side}`;
  const ip = (...args: string[]) => run('ip', args);
  const net: Net = {
    prefix,
    on,
    ns: (role) => on(SIDE_OF[role]),
    async sh(side, cmd, ...args) {
      return (await run('ip', ['netns', 'exec', on(side), cmd, ...args], { maxBuffer: 16 << 20 })).stdout;
    },
    exec: (role, cmd, ...args) => net.sh(SIDE_OF[role], cmd, ...args),
    async tryExec(role, cmd, ...args) {
      try {
        const { stdout, stderr } = await run('ip', ['netns', 'exec', net.ns(role), cmd, ...args]);
        return { code: 0, stdout, stderr };
      } catch (e) {
        const err = e as { code?: number; stdout?: string; stderr?: string };
        return { code: typeof err.code === 'number' ? err.code : 1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
      }
    },
    spawn(role, cmd, ...args) {
      const child = spawn('ip', ['netns', 'exec', net.ns(role), cmd, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
      children.add(child);
      child.once('exit', () => children.delete(child));
      return child;
    },
    defer: (fn) => void deferred.push(fn),
    async cleanup() {
      for (const fn of deferred.reverse()) await Promise.resolve(fn()).catch(() => undefined);
      deferred.length = 0;
      await Promise.all([...children].map((c) => new Promise<void>((resolve) => {
        if (c.exitCode !== null || c.signalCode !== null) return resolve();
        c.once('exit', () => resolve());
        c.kill('SIGTERM');
        setTimeout(() => c.kill('SIGKILL'), 2000).unref();
      })));
      for (const side of ['v4', 'dut', 'v6'] as Side[]) await ip('netns', 'del', on(side)).catch(() => undefined);
    },
  };
  // Last resort if the process dies before main()'s finally (the pids are gone with us; the namespaces are not).
  process.once('exit', () => { for (const side of ['v4', 'dut', 'v6'] as Side[]) spawnSync('ip', ['netns', 'del', on(side)], { stdio: 'ignore' }); });
  try {
    for (const side of ['v4', 'dut', 'v6'] as Side[]) {
      await ip('netns', 'add', on(side));
      await ip('-n', on(side), 'link', 'set', 'lo', 'up');
    }
    const veth = async (a: Side, an: string, b: Side, bn: string) => {
      await ip('link', 'add', an, 'netns', on(a), 'type', 'veth', 'peer', 'name', bn, 'netns', on(b));
      await ip('-n', on(a), 'link', 'set', an, 'up');
      await ip('-n', on(b), 'link', 'set', bn, 'up');
    };
    await veth('v4', 's0', 'dut', 'd4');
    await veth('dut', 'd6', 'v6', 'k0');
    const addr = (side: Side, dev: string, a: string) => ip('-n', on(side), 'addr', 'add', a, 'dev', dev, ...(a.includes(':') ? ['nodad'] : []));
    await addr('v4', 's0', `${C}/24`);
    await addr('v4', 's0', '2001:db8:2::2/64');
    await addr('dut', 'd4', '192.0.2.1/24');
    await addr('dut', 'd4', '2001:db8:2::1/64');
    await addr('dut', 'd6', '2001:db8:1::1/64');
    await addr('dut', 'd6', '198.51.100.1/24');
    await addr('v6', 'k0', '2001:db8:1::2/64');
    await addr('v6', 'k0', '198.51.100.2/24');
    await addr('v6', 'k0', `${SERVER6}/128`);
    await ip('-n', on('v4'), 'route', 'add', 'default', 'via', '192.0.2.1');
    await ip('-n', on('v6'), '-6', 'route', 'add', 'default', 'via', '2001:db8:1::1');
    await ip('-n', on('dut'), '-6', 'route', 'add', DST96, 'via', '2001:db8:1::2');
    await net.sh('dut', 'sysctl', '-qw', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1');
  } catch (e) {
    await net.cleanup();
    throw e;
  }
  return net;
}

async function nft(net: Net, side: Side, script: string): Promise<void> {
  const p = spawn('ip', ['netns', 'exec', net.on(side), 'nft', '-f', '-'], { stdio: ['pipe', 'ignore', 'inherit'] });
  p.stdin!.end(script);
  if ((await new Promise((r) => p.once('exit', r))) !== 0) throw new Error(`nft failed: ${script}`);
}

/** The sink's counter of packets delivered: in v6 (IPv4 -> IPv6) or v4 (back), translated or not (kernel). */
async function delivered(net: Net, dir: Direction): Promise<number> {
  const side = dir === '4to6' ? 'v6' : 'v4';
  const out = await net.sh(side, 'nft', 'list', 'table', 'inet', 'n46sink');
  return [...out.matchAll(/packets (\d+)/g)].reduce((a, m) => a + Number(m[1]), 0);
}

/** tx packets + tx dropped of a veth: what the sender put on the wire towards dut, after any shaper. */
async function linkTx(net: Net, side: Side, dev: string): Promise<number> {
  const [link] = JSON.parse(await net.sh(side, 'ip', '-j', '-s', 'link', 'show', 'dev', dev)) as Array<{ stats64: { tx: { packets: number; dropped: number } } }>;
  return link.stats64.tx.packets + link.stats64.tx.dropped;
}

/** One route per direction picks the device: S/32 for IPv4 -> IPv6, CLIENT6/128 for IPv6 -> IPv4. */
async function route(net: Net, device: Device): Promise<void> {
  const dut = net.on('dut');
  const v4 = { kernel: ['via', '198.51.100.2', 'dev', 'd6'], tayga: ['dev', 'tgtun'], ours: ['dev', 'n46tun'] }[device];
  const v6 = { kernel: ['via', '2001:db8:2::2', 'dev', 'd4'], tayga: ['dev', 'tgtun'], ours: ['dev', 'n46tun'] }[device];
  await run('ip', ['-n', dut, 'route', 'replace', `${S}/32`, ...v4]);
  await run('ip', ['-n', dut, '-6', 'route', 'replace', `${CLIENT6}/128`, ...v6]);
}

/** The client opens its flows (C:PORT0+i -> S:9, one datagram each) through whatever device is routed. */
async function openFlows(net: Net): Promise<void> {
  await net.sh('v4', 'python3', '-c', `import socket
for p in range(${PORT0}, ${PORT0 + FLOWS}):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(('${C}', p))
    s.sendto(b'o' * ${PAYLOAD}, ('${S}', 9))
    s.close()`);
}

/** Paced: a tbf on the sender's veth (rate from the frame size, queue deep enough that sockets block); flood: none. */
async function shape(net: Net, dir: Direction, rate: string): Promise<void> {
  const [side, dev, frame] = dir === '4to6' ? (['v4', 's0', 14 + 64] as const) : (['v6', 'k0', 14 + 84] as const);
  await run('ip', ['netns', 'exec', net.on(side), 'tc', 'qdisc', 'del', 'dev', dev, 'root']).catch(() => undefined);
  if (/^\d+$/.test(rate))
    await net.sh(side, 'tc', 'qdisc', 'add', 'dev', dev, 'root', 'tbf', 'rate', `${Number(rate) * frame * 8}bit`, 'burst', String(32 * frame), 'limit', String(4 << 20));
}

/**
 * Packets offered and delivered; tunDrops: of the lost, those the kernel dropped at the device's full tun queue;
 * cpuMs: CPU time (user + system) of the device's process (tayga; our runner with its native threads), 0 for the kernel.
 */
interface Sample { offered: number; delivered: number; tunDrops: number; cpuMs: number }

/** utime + stime of a process, in ms (/proc/<pid>/stat fields 14 and 15, clock ticks of 10 ms). */
function cpuMs(pid: number | undefined): number {
  if (pid === undefined) return 0;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // from field 3 (state) on: comm may hold spaces
  return (Number(f[11]) + Number(f[12])) * 10;
}

/** tx dropped of the device's tun (ours: Counters.tunQueueDrops, read the same way for both); 0 for the kernel. */
async function tunDrops(net: Net, device: Device): Promise<number> {
  if (device === 'kernel') return 0;
  const [link] = JSON.parse(await net.sh('dut', 'ip', '-j', '-s', 'link', 'show', 'dev', device === 'ours' ? 'n46tun' : 'tgtun')) as Array<{ stats64: { tx: { dropped: number } } }>;
  return link.stats64.tx.dropped;
}

async function measure(net: Net, gens: { flood: string }, dir: Direction, device: Device, rate: string, pid: number | undefined): Promise<Sample> {
  await route(net, device);
  if (dir === '6to4') await openFlows(net);
  await sleep(200); // the previous measurement's queues drain; flows are in place
  const [side, dev] = dir === '4to6' ? (['v4', 's0'] as const) : (['v6', 'k0'] as const);
  const tx0 = await linkTx(net, side, dev);
  const rx0 = await delivered(net, dir);
  const q0 = await tunDrops(net, device);
  const c0 = cpuMs(pid);
  const senders = /^flood(\d+)$/.exec(rate) ? Number(rate.slice(5)) : 1;
  await Promise.all(Array.from({ length: senders }, () => dir === '4to6'
    ? net.sh('v4', gens.flood, S, '9', String(SECONDS), String(PAYLOAD), String(FLOWS))
    : net.sh('v6', gens.flood, '-6', SERVER6, '9', CLIENT6, String(PORT0), String(SECONDS), String(PAYLOAD), String(FLOWS))));
  await sleep(100); // what is still in the tuns' rings or the shaper arrives
  const c1 = cpuMs(pid);
  return { offered: (await linkTx(net, side, dev)) - tx0, delivered: (await delivered(net, dir)) - rx0, tunDrops: (await tunDrops(net, device)) - q0, cpuMs: c1 - c0 };
}

/** tayga (PEERS.md §9) in dut: its prefix is our dstPrefix, C is mapped statically to CLIENT6. */
async function startTayga(net: Net, dir: string): Promise<ChildProcess> {
  const conf = join(dir, 'tayga.conf');
  writeFileSync(conf, ['tun-device tgtun', 'ipv4-addr 203.0.113.64', 'ipv6-addr 2001:db8:ff00::64', `prefix ${DST96}`, `map ${C} ${CLIENT6}`, `data-dir ${dir}`, ''].join('\n'));
  await net.sh('dut', 'tayga', '-c', conf, '--mktun');
  await net.sh('dut', 'ip', 'link', 'set', 'tgtun', 'up');
  const tayga = net.spawn('cpe', 'tayga', '-c', conf, '--nodetach');
  let log = '';
  tayga.stdout!.on('data', (d) => (log += d));
  tayga.stderr!.on('data', (d) => (log += d));
  // Started once it holds the tun open (`ip netns exec` execs, so the pid is tayga's).
  const holdsTun = () => { try { return readdirSync(`/proc/${tayga.pid}/fd`).some((fd) => readlinkSync(`/proc/${tayga.pid}/fd/${fd}`) === '/dev/net/tun'); } catch { return false; } };
  await waitFor('tayga to open its tun', async () => tayga.exitCode !== null || holdsTun(), 10_000, 20);
  if (tayga.exitCode !== null) throw new Error(`tayga exited: ${log}`);
  // Our forwarder's threads run at nice -10 (native/dataplane.cc); on 2 shared CPUs a tayga at nice 0 would lose
  // to the generators and everything else, and the ratio would measure the scheduler (BENCH_TAYGA_NICE=0: as shipped).
  setPriority(tayga.pid!, TAYGA_NICE);
  return tayga;
}

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const pct = (x: number) => `${(100 * x).toFixed(x < 0.001 ? 2 : 1)} %`;
/** The device process's CPU time per delivered packet, in microseconds. */
const cpuUs = (s: Sample) => (s.delivered ? ((1000 * s.cpuMs) / s.delivered).toFixed(2) : '-');
const rateLabel = (r: string) => (/^\d+$/.test(r) ? `paced ${fmt(Number(r))} pps` : `flood, ${r.slice(5)} generator${r === 'flood1' ? '' : 's'}`);

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('bench:nat46 needs root (network namespaces, tun)');
  const badRate = RATES.find((r) => !/^(\d+|flood\d+)$/.test(r));
  if (badRate !== undefined) throw new Error(`BENCH_RATES: '${badRate}' is neither a pps number nor floodN`);
  if (DIRECTIONS.some((d) => d !== '4to6' && d !== '6to4')) throw new Error('BENCH_DIRECTIONS: 4to6 and/or 6to4');
  for (const tool of ['tayga', 'nft', 'tc', 'python3', ...(STRESS ? ['stress-ng'] : [])])
    if (spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status !== 0) throw new Error(`${tool} missing: run tools/ensure-peers.sh`);
  const net = await createNet(`n46b${process.pid}`);
  const dir = mkdtempSync(join(tmpdir(), 'bench-nat46-'));
  let stress: ChildProcess | undefined;
  const stopStress = () => { if (stress?.pid && stress.exitCode === null) process.kill(stress.pid, 'SIGTERM'); };
  const onSignal = (code: number) => () => { stopStress(); void net.cleanup().finally(() => process.exit(code)); };
  process.once('SIGINT', onSignal(130));
  process.once('SIGTERM', onSignal(143));
  try {
    const gens = {
      flood: await compileC(fileURLToPath(new URL('../test/lab/udpflood.c', import.meta.url))),
    };
    for (const [side, dirn] of [['v6', '4to6'], ['v4', '6to4']] as const)
      await nft(net, side, `table inet n46sink {
  chain pre { type filter hook prerouting priority raw; policy accept;
    ${dirn === '4to6'
      ? `ip saddr ${C} ip daddr ${S} udp dport 9 counter drop\n    ip6 saddr ${CLIENT6} ip6 daddr ${SERVER6} udp dport 9 counter drop`
      : `ip saddr ${S} ip daddr ${C} udp sport 9 counter drop\n    ip6 saddr ${SERVER6} ip6 daddr ${CLIENT6} udp sport 9 counter drop`}
  }
}`);
    const ours = await LabB4.start(net, NAT46, { role: 'cpe', routes: false });
    const tayga = await startTayga(net, dir);
    // Neighbours resolved before the first measurement, for every device's path.
    for (const target of ['198.51.100.2', '2001:db8:1::2', C, '2001:db8:2::2'])
      await net.sh('dut', 'busybox', 'ping', ...(target.includes(':') ? ['-6'] : []), '-c', '1', '-W', '1', target);
    for (const device of DEVICES) {
      await route(net, device);
      await openFlows(net);
    }

    if (STRESS) {
      // Its workers are children of this pid; stress-ng stops them when it gets SIGTERM.
      stress = spawn('stress-ng', ['--cpu', '2', '--quiet'], { stdio: 'ignore' });
      await sleep(1000);
    }
    const load0 = loadavg()[0];
    const samples = new Map<string, Sample[]>();
    const key = (d: Direction, r: string, dev: Device) => `${d}/${r}/${dev}`;
    for (let r = 0; r < RUNS; r++) {
      // Devices alternate within each run, and the one that goes first rotates, so that other load on the
      // machine falls on all three alike.
      const order = DEVICES.map((_, i) => DEVICES[(i + r) % DEVICES.length]);
      for (const d of DIRECTIONS)
        for (const rate of RATES) {
          await shape(net, d, rate);
          for (const device of order) {
            const s = await measure(net, gens, d, device, rate, { kernel: undefined, tayga: tayga.pid, ours: ours.pid }[device]);
            samples.set(key(d, rate, device), [...(samples.get(key(d, rate, device)) ?? []), s]);
            console.log(`run ${r + 1} ${d} ${rateLabel(rate).padEnd(24)} ${device.padEnd(6)} offered ${fmt(s.offered / SECONDS).padStart(9)} pps, delivered ${fmt(s.delivered / SECONDS).padStart(9)} pps (loss ${pct(1 - s.delivered / s.offered)}${device === 'kernel' ? '' : `, ${fmt(s.tunDrops)} packets of it at the full tun queue; ${cpuUs(s)} us CPU per packet`})`);
          }
        }
      for (const d of DIRECTIONS) await shape(net, d, 'flood');
    }
    const load1 = loadavg()[0];
    const taygaVersion = spawnSync('dpkg-query', ['-W', '-f=${Version}', 'tayga'], { encoding: 'utf8' }).stdout || '(version unknown)';
    stopStress();
    const oc: Counters = await ours.counters();
    const [tgLink] = JSON.parse(await net.sh('dut', 'ip', '-j', '-s', 'link', 'show', 'dev', 'tgtun')) as Array<{ stats64: { tx: { dropped: number } } }>;

    console.log('');
    console.log(`nat46 benchmark, ${new Date().toISOString()}: ${STRESS ? 'with stress-ng --cpu 2 running' : 'no load generator'}; load average (1 min) ${load0.toFixed(2)} before, ${load1.toFixed(2)} after; medians of ${RUNS} runs of ${SECONDS} s`);
    console.log('');
    console.log('| direction | offered load | offered pps (kernel / tayga / ours) | kernel pps (loss) | tayga pps (loss) | ours pps (loss) | ours / tayga | ours / kernel | of the loss, at the tun queue (tayga / ours) | CPU us per packet (tayga / ours) |');
    console.log('|---|---|---|---|---|---|---|---|---|---|');
    for (const d of DIRECTIONS)
      for (const rate of RATES) {
        const s = (dev: Device) => samples.get(key(d, rate, dev))!;
        const pps = (dev: Device) => s(dev).map((x) => x.delivered / SECONDS);
        const cell = (dev: Device) => `${fmt(median(pps(dev)))} (${pct(median(s(dev).map((x) => 1 - x.delivered / x.offered)))})`;
        // Ratios per run (the devices of one run measured within seconds of each other), then their median.
        const ratio = (other: Device) => median(pps('ours').map((o, i) => o / pps(other)[i])).toFixed(2);
        const offered = DEVICES.map((dev) => fmt(median(s(dev).map((x) => x.offered / SECONDS)))).join(' / ');
        const atTun = (dev: Device) => {
          // A few ARP/ND packets leave the sender's veth too: loss below 0.1 % is not looked at.
          const lossy = s(dev).filter((x) => x.offered - x.delivered > x.offered / 1000);
          return lossy.length ? pct(median(lossy.map((x) => x.tunDrops / (x.offered - x.delivered)))) : '-';
        };
        const cpu = (dev: Device) => (1000 * median(s(dev).map((x) => x.cpuMs / x.delivered))).toFixed(2);
        const dirText = d === '4to6' ? 'IPv4 -> IPv6 (kernel: IPv4 forwarded)' : 'IPv6 -> IPv4 (kernel: IPv6 forwarded)';
        console.log(`| ${dirText} | ${rateLabel(rate)} | ${offered} | ${cell('kernel')} | ${cell('tayga')} | **${cell('ours')}** | **${ratio('tayga')}** | **${ratio('kernel')}** | ${atTun('tayga')} / ${atTun('ours')} | ${cpu('tayga')} / ${cpu('ours')} |`);
      }
    console.log('');
    const drops = Object.entries(oc.drops).filter(([, n]) => n > 0);
    console.log(`ours: ${fmt(oc.nat46Translated4to6)} translated 4->6, ${fmt(oc.nat46Translated6to4)} 6->4, ${fmt(oc.nat46FlowsCreated)} flows opened, ${fmt(oc.tunQueueDrops)} dropped at a full tun queue; drops ${JSON.stringify(Object.fromEntries(drops))}`);
    console.log(`tayga: ${fmt(tgLink.stats64.tx.dropped)} dropped at its full tun queue (tgtun tx_dropped)`);
    console.log('');
    console.log(`Method. \`${STRESS ? 'BENCH_STRESS=1 ' : ''}BENCH_RUNS=${RUNS} npm run bench:nat46\` builds three network namespaces on veth (documentation prefixes only): a sender, ` +
      'the device under test (dut) and a counting sink (nft at the prerouting hook, raw priority: count and drop). ' +
      `In dut three devices wait side by side and one route per direction picks the one measured: our forwarder in mode nat46 (tun, 2 queues, in a child process inside dut), tayga ${taygaVersion} at nice ${TAYGA_NICE}${TAYGA_NICE === -10 ? ', as our forwarder\'s threads' : ''} (single-threaded; its \`prefix\` our RFC 6052 dstPrefix ${DST96}, \`map ${C} ${CLIENT6}\`, so the same IPv6 addresses come out), and the kernel forwarding the same packets untranslated (the upper reference; not a translation). ` +
      `IPv4 -> IPv6: 64-byte IPv4/UDP from the sendmmsg generator of bench:forwarder (test/lab/udpflood.c, ${FLOWS} flows per process) from the client ${C} to ${S}, counted as IPv6 ${CLIENT6} -> ${SERVER6} (kernel: as IPv4). ` +
      `IPv6 -> IPv4: 84-byte IPv6/UDP (the same 36-byte payload) from an IPv6 twin of that generator, ${SERVER6}:9 -> ${CLIENT6}:${PORT0}-${PORT0 + FLOWS - 1}, counted as IPv4 in the client's namespace (kernel: IPv6 forwarded); our forwarder drops unsolicited IPv6, so before each such measurement the client sends one datagram per flow (${C}:${PORT0}-${PORT0 + FLOWS - 1} -> ${S}:9) through the device under test, which opens the flows in our firewall (tayga and the kernel keep no state). ` +
      `Offered loads: ${RATES.map(rateLabel).join('; ')} (paced = one generator behind a tbf shaper on its veth, deep enough that the generator blocks rather than loses; flood = unpaced generator processes competing with the devices for the 2 CPUs). ` +
      `Offered pps = packets that left the sender's veth towards dut (after the shaper, including those dut's backlog refused) / ${SECONDS} s; delivered pps = the sink's count / ${SECONDS} s; loss = 1 - delivered / offered, and the share of the lost packets that the kernel dropped at the device's full tun queue (its tx_dropped) is given where there was loss (above 0.1 %: the sender's veth also carries a few ARP/ND packets); CPU per packet = the device process's user + system time (/proc/<pid>/stat: tayga; our forwarder's process with its native threads) / delivered packets, which the share of the 2 CPUs each device got does not change as much as its rate. ` +
      `Each run measures every direction, load and device once, ${SECONDS} s each, the three devices back to back (the first of them rotating from run to run); the table gives medians over ${RUNS} runs (never the best run), and the ratios are medians of the per-run ratios.${STRESS ? ' `stress-ng --cpu 2` ran during all measurements.' : ''}`);
  } finally {
    stopStress();
    await net.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
