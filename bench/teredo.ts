// `npm run bench:teredo` (root; issue 22): RTT and throughput to the IPv6-only server through our Teredo client (the
// forwarder in mode 'teredo', native/teredo.cc) and through miredo's own client (RelayType client), in the same lab,
// in the same run, back to back.
//
// The lab is the tests' (test/teredo/lab.ts): miredo-server, the miredo relay and the IPv6-only server 2001:db8:66::2;
// our client in `cli` behind the restricted NAT (nft masquerade), miredo's in `cli2` behind the second NAT, built the
// same way. Both qualify with the same server and reach the server through the same relay. Per run and client:
//   RTT         ping -6 -c BENCH_PINGS (200) -i 0.01 to the server: p50 and p99 of the replies' times, loss;
//   TCP         iperf3 -6 -c server -t BENCH_SECONDS (5): what the server received, Mbit/s;
//   UDP         iperf3 -u at BENCH_UDP_MBPS (300) Mbit/s offered, 1200-byte datagrams (within the 1280 MTU): the
//               rate the server received and the loss;
//   CPU         the client's processes' CPU time (user + system, /proc/<pid>/stat: our forwarder's process with its
//               threads; miredo's processes) during the TCP test, in % of one CPU.
// The two clients go one after the other, the first alternating from run to run; medians over BENCH_RUNS (3) runs,
// never the best; ratios ours/miredo are medians of the per-run ratios. BENCH_STRESS=1 runs `stress-ng --cpu 2`
// during the measurements. Our client's thread runs at nice -10 (native/teredo.h kNice, as the data plane's);
// miredo's client gets the same, every thread of it (BENCH_MIREDO_NICE=0: as shipped). The relay (miredo) is in both
// paths: it bounds both clients alike.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { loadavg, setPriority } from 'node:os';
import type { ForwarderConfig, TeredoState } from '../src/forwarder/index.ts';
import { clientConfig, SERVER6, TeredoLab } from '../test/teredo/lab.ts';
import { sleep, waitFor } from '../test/wait.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const PINGS = Number(process.env.BENCH_PINGS ?? 200);
const UDP_MBPS = Number(process.env.BENCH_UDP_MBPS ?? 300);
const STRESS = process.env.BENCH_STRESS === '1';
const MIREDO_NICE = Number(process.env.BENCH_MIREDO_NICE ?? -10);
const IPERF_PORT = 5201;

type Client = 'ours' | 'miredo';
const CLIENTS: Client[] = ['ours', 'miredo'];
const ROLE = { ours: 'cli', miredo: 'cli2' } as const;

interface Sample {
  p50: number;
  p99: number;
  pingLoss: number;
  tcpMbps: number;
  udpMbps: number;
  udpLoss: number;
  tcpCpu: number;
  /** Datagrams the relay's UDP socket refused during the UDP test (its receive buffer full: /proc/net/snmp). */
  relayDrops: number;
}

const CONFIG: ForwarderConfig = clientConfig();

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
};
const pct = (x: number) => `${(100 * x).toFixed(1)} %`;

async function rtt(lab: TeredoLab, c: Client): Promise<Pick<Sample, 'p50' | 'p99' | 'pingLoss'>> {
  const r = await lab.tryExec(ROLE[c], 'ping', '-6', '-c', String(PINGS), '-i', '0.01', '-W', '2', SERVER6);
  const times = [...r.out.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]));
  if (!times.length) throw new Error(`${c}: no ping reply: ${r.out.slice(-500)}`);
  return { p50: quantile(times, 0.5), p99: quantile(times, 0.99), pingLoss: 1 - times.length / PINGS };
}

interface IperfEnd {
  end: { sum_received?: { bits_per_second: number }; sum?: { bits_per_second: number; lost_percent?: number } };
  error?: string;
}

async function iperf(lab: TeredoLab, c: Client, udp: boolean): Promise<IperfEnd> {
  const args = ['-6', '-c', SERVER6, '-p', String(IPERF_PORT), '-t', String(SECONDS), '-J', ...(udp ? ['-u', '-b', `${UDP_MBPS}M`, '-l', '1200'] : [])];
  const r = await lab.tryExec(ROLE[c], 'iperf3', ...args);
  const j = JSON.parse(r.out) as IperfEnd;
  if (j.error) throw new Error(`${c}: iperf3 ${udp ? 'UDP' : 'TCP'}: ${j.error}`);
  return j;
}

/** The processes in the namespace of `role` now (the client's, before any measuring tool runs there). */
const nsPids = (lab: TeredoLab, role: string) => spawnSync('ip', ['netns', 'pids', lab.ns(role as 'cli')], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
const TICK_MS = 1000 / Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100);
/** User + system CPU time of `pids` (with all their threads), ms. */
function cpuMs(pids: string[]): number {
  let ticks = 0;
  for (const pid of pids) {
    // Fields after the command's closing parenthesis: utime and stime are the 12th and 13th.
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    ticks += Number(f[11]) + Number(f[12]);
  }
  return ticks * TICK_MS;
}

/** Udp RcvbufErrors in the relay's namespace. */
async function relayRcvbufErrors(lab: TeredoLab): Promise<number> {
  const lines = (await lab.exec('rly', 'cat', '/proc/net/snmp')).split('\n').filter((l) => l.startsWith('Udp:'));
  const [names, values] = lines.map((l) => l.split(/\s+/));
  return Number(values[names.indexOf('RcvbufErrors')]);
}

async function measure(lab: TeredoLab, c: Client, pids: string[]): Promise<Sample> {
  const ping = await rtt(lab, c);
  const cpu0 = cpuMs(pids);
  const t0 = Date.now();
  const tcp = await iperf(lab, c, false);
  const tcpCpu = (cpuMs(pids) - cpu0) / (Date.now() - t0);
  const drops0 = await relayRcvbufErrors(lab);
  const udp = await iperf(lab, c, true);
  const relayDrops = (await relayRcvbufErrors(lab)) - drops0;
  // UDP: the server's count (iperf3 3.12 reports it to the client in end.sum: rate and loss).
  const loss = (udp.end.sum?.lost_percent ?? 0) / 100;
  return {
    ...ping,
    tcpMbps: (tcp.end.sum_received?.bits_per_second ?? 0) / 1e6,
    udpMbps: ((udp.end.sum?.bits_per_second ?? 0) * (1 - loss)) / 1e6,
    udpLoss: loss,
    tcpCpu,
    relayDrops,
  };
}

/** Every thread of every process in the namespace of `role` at `nice`. */
async function renice(lab: TeredoLab, role: 'cli2', nice: number): Promise<number> {
  let n = 0;
  for (const pid of nsPids(lab, role))
    for (const tid of readdirSync(`/proc/${pid}/task`)) setPriority(Number(tid), nice), n++;
  return n;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('bench:teredo needs root (network namespaces, tun)');
  for (const tool of ['iperf3', 'miredo', 'miredo-server', ...(STRESS ? ['stress-ng'] : [])])
    if (spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status !== 0) throw new Error(`${tool} missing: run tools/ensure-peers.sh`);
  const lab = await TeredoLab.create('B', 'restricted');
  let stress: ChildProcess | undefined;
  const stopStress = () => { if (stress?.pid && stress.exitCode === null) process.kill(stress.pid, 'SIGTERM'); };
  const onSignal = (code: number) => () => { stopStress(); void lab.cleanup().finally(() => process.exit(code)); };
  process.once('SIGINT', onSignal(130));
  process.once('SIGTERM', onSignal(143));
  try {
    const fwd = await lab.child('cli', 'forwarder');
    await fwd.call('start', { config: CONFIG });
    await waitFor('our client qualified', async () => (await fwd.call<TeredoState>('teredo')).qualified, 20_000, 100);
    await lab.exec('cli', 'ip', '-6', 'route', 'add', '::/0', 'dev', 'teredo');
    const pids = { ours: nsPids(lab, 'cli'), miredo: [] as string[] };
    const miredo = await lab.miredoClient('cli2');
    const threads = await renice(lab, 'cli2', MIREDO_NICE);
    pids.miredo = nsPids(lab, 'cli2');
    lab.spawn('v6', 'iperf3', '-s', '-p', String(IPERF_PORT));
    await waitFor('the iperf3 server', async () => (await lab.exec('v6', 'ss', '-tln')).includes(`:${IPERF_PORT}`), 5000, 100);
    // Each client finds the relay (RFC 4380 §5.2.9) before anything is measured.
    for (const c of CLIENTS) await lab.exec(ROLE[c], 'ping', '-6', '-c', '3', '-i', '0.2', '-W', '3', SERVER6);

    if (STRESS) {
      // Its workers are children of this pid; stress-ng stops them when it gets SIGTERM (and by itself at worst).
      stress = spawn('stress-ng', ['--cpu', '2', '--quiet', '--timeout', '1800'], { stdio: 'ignore' });
      await sleep(1000);
    }
    const load0 = loadavg()[0];
    const samples: Record<Client, Sample[]> = { ours: [], miredo: [] };
    for (let r = 0; r < RUNS; r++) {
      const order = r % 2 ? [...CLIENTS].reverse() : CLIENTS;
      for (const c of order) {
        const s = await measure(lab, c, pids[c]);
        samples[c].push(s);
        console.log(`run ${r + 1} ${c.padEnd(6)} RTT p50 ${s.p50.toFixed(3)} ms, p99 ${s.p99.toFixed(3)} ms (loss ${pct(s.pingLoss)}); TCP ${s.tcpMbps.toFixed(1)} Mbit/s; UDP ${s.udpMbps.toFixed(1)} Mbit/s of ${UDP_MBPS} (loss ${pct(s.udpLoss)}, ${s.relayDrops} at the relay's full socket); client CPU during TCP ${pct(s.tcpCpu)}`);
      }
    }
    const load1 = loadavg()[0];
    stopStress();
    const ours = await fwd.call<TeredoState>('teredo');
    const version = spawnSync('dpkg-query', ['-W', '-f=${Version}', 'miredo'], { encoding: 'utf8' }).stdout || '(version unknown)';

    const m = (c: Client, k: keyof Sample) => median(samples[c].map((s) => s[k]));
    const ratio = (k: keyof Sample) => median(samples.ours.map((s, i) => s[k] / samples.miredo[i][k])).toFixed(2);
    console.log('');
    console.log(`teredo benchmark, ${new Date().toISOString()}: ${STRESS ? 'with stress-ng --cpu 2 running' : 'no load generator'}; load average (1 min) ${load0.toFixed(2)} before, ${load1.toFixed(2)} after; medians of ${RUNS} runs; miredo ${version}, its ${threads} threads at nice ${MIREDO_NICE}`);
    console.log('');
    console.log(`| client | RTT p50 (ms) | RTT p99 (ms) | ping loss | TCP (Mbit/s, ${SECONDS} s) | UDP at ${UDP_MBPS} Mbit/s: received (Mbit/s) | UDP loss | client CPU during TCP |`);
    console.log('|---|---|---|---|---|---|---|---|');
    for (const c of CLIENTS)
      console.log(`| ${c === 'ours' ? 'ours (mode teredo)' : `miredo ${version} (RelayType client)`} | ${m(c, 'p50').toFixed(3)} | ${m(c, 'p99').toFixed(3)} | ${pct(m(c, 'pingLoss'))} | ${m(c, 'tcpMbps').toFixed(1)} | ${m(c, 'udpMbps').toFixed(1)} | ${pct(m(c, 'udpLoss'))} | ${pct(m(c, 'tcpCpu'))} |`);
    console.log(`| **ours / miredo** | **${ratio('p50')}** | **${ratio('p99')}** | | **${ratio('tcpMbps')}** | **${ratio('udpMbps')}** | | **${ratio('tcpCpu')}** |`);
    console.log('');
    const drops = Object.fromEntries(Object.entries(ours.drops).filter(([, n]) => n > 0));
    const tunDrops = async (role: 'cli' | 'cli2') => {
      const [l] = JSON.parse(await lab.exec(role, 'ip', '-j', '-s', 'link', 'show', 'dev', 'teredo')) as Array<{ stats64: { tx: { dropped: number } } }>;
      return l.stats64.tx.dropped;
    };
    console.log(`dropped at the full tun queue (all tests): ours ${await tunDrops('cli')}, miredo ${await tunDrops('cli2')}`);
    console.log(`ours: ${ours.totals.tx_packets} packets out, ${ours.totals.rx_packets} in; qualifications ${ours.totals.qualifications}, address changes ${ours.totals.address_changes}; drops ${JSON.stringify(drops)}`);
    await miredo.stop();
  } finally {
    stopStress();
    await lab.cleanup();
  }
}

main().catch((e: Error) => {
  console.error(e.stack ?? e.message);
  process.exitCode = 1;
});
