// `npm run bench:snmp`: snmpbulkwalk (Debian Net-SNMP 5.9) of the whole twinstack agent and of a 1,000-row
// inetCidrRouteTable, against Debian's snmpd walking its whole tree and its inetCidrRouteTable holding 1,000
// routes (IPv6 routes in a private network namespace), all in the same run. snmpd is measured on its fast
// path: a warm-up walk first fills its table cache, so every timed walk is served from memory. Rates are
// varbinds per second of wall time of the snmpbulkwalk process, the median of ROUNDS runs (not the best);
// the ratio is ours / snmpd. The agent runs in this process, so the longest event-loop stall during its
// walks (perf_hooks.monitorEventLoopDelay) is the longest a failover detector would have waited.
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { DataModel } from '../src/datamodel/index.ts';
import { SnmpService } from '../src/snmp/index.ts';
import { CONFIG, populate } from '../test/snmp/fixture.ts';

const run = promisify(execFile);
const ROWS = Number(process.env.BENCH_ROWS ?? 1000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const REPS_LIST = (process.env.BENCH_REPS ?? '10,25').split(',');
const NS = `snmpbench-${process.pid}`;
const PORT = 45000 + (process.pid % 900);
const ROUTE_TABLE = '1.3.6.1.2.1.4.24.7';

/** Runs one snmpbulkwalk; counts its output lines chunk by chunk (one 5 MB string would stall this loop). */
function walkOnce(cmd: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { env: { ...process.env, MIBS: '', SNMPCONFPATH: '/nonexistent' }, stdio: ['ignore', 'pipe', 'ignore'] });
    let lines = 0;
    p.stdout.on('data', (b: Buffer) => { for (let i = b.indexOf(10); i >= 0; i = b.indexOf(10, i + 1)) lines++; });
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve(lines) : reject(new Error(`${cmd} exited ${code}`))));
  });
}

async function walk(REPS: string, prefix: string[], target: string, oid?: string): Promise<{ n: number; ms: number }> {
  const times: number[] = [];
  let n = 0;
  for (let i = 0; i < ROUNDS; i++) {
    const t0 = process.hrtime.bigint();
    n = await walkOnce(prefix[0], [...prefix.slice(1), 'snmpbulkwalk', '-v2c', '-c', 'public', `-Cr${REPS}`, '-On', '-Oq', '-m', '', '-t', '5', target, ...(oid ? [oid] : ['1.3'])]);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  times.sort((x, y) => x - y);
  return { n, ms: times[times.length >> 1] };
}

async function sh(cmd: string, args: string[]) {
  await run(cmd, args);
}

async function main() {
  // Ours: the boot-time objects plus 1,000 IPv4 routes.
  const dm = new DataModel({ file: ':memory:' });
  const f = populate(dm);
  const changes = Array.from({ length: ROWS - 1 }, (_, i) => ({
    op: 'add' as const, table: `Device.Routing.Router.${f.router}.IPv4Forwarding.`,
    values: { Enable: 'true', Status: 'Enabled', DestIPAddress: `10.${i >> 8}.${i & 255}.0`, DestSubnetMask: '255.255.255.0', GatewayIPAddress: '198.51.100.1', Interface: `Device.IP.Interface.${f.wan}`, Origin: 'Static' },
  }));
  dm.commit(changes, 'system');
  const svc = new SnmpService(dm, { ...CONFIG, port: 0, cacheMs: 1000 });
  const { port } = await svc.start();

  // snmpd in its own namespace with 1,000 routes (2001:db8::/32, documentation prefix).
  const dir = mkdtempSync(join(tmpdir(), 'snmpbench-'));
  let snmpd: ReturnType<typeof spawn> | undefined;
  try {
    await sh('ip', ['netns', 'add', NS]);
    await sh('ip', ['-n', NS, 'link', 'set', 'lo', 'up']);
    // No dummy module on this kernel: a veth pair inside the namespace carries the routes.
    await sh('ip', ['-n', NS, 'link', 'add', 'd0', 'type', 'veth', 'peer', 'name', 'd1']);
    await sh('ip', ['-n', NS, 'link', 'set', 'd0', 'up']);
    await sh('ip', ['-n', NS, 'link', 'set', 'd1', 'up']);
    const batch = Array.from({ length: ROWS }, (_, i) => `route add 2001:db8:${(i + 1).toString(16)}::/48 dev d0`).join('\n');
    writeFileSync(join(dir, 'routes'), `${batch}\n`);
    await sh('ip', ['-n', NS, '-6', '-batch', join(dir, 'routes')]);
    writeFileSync(join(dir, 'snmpd.conf'), `agentAddress udp:127.0.0.1:${PORT}\nrocommunity public 127.0.0.1\n`);
    snmpd = spawn('ip', ['netns', 'exec', NS, 'snmpd', '-f', '-C', '-c', join(dir, 'snmpd.conf'), '-Lf', join(dir, 'snmpd.log'), '-M', '/usr/share/snmp/mibs', '-m', ''],
      { env: { ...process.env, SNMP_PERSISTENT_DIR: join(dir, 'persist') }, stdio: 'ignore' });
    const inNs = ['ip', 'netns', 'exec', NS];
    for (let i = 0; i < 50; i++) {
      try { await run('ip', [...inNs.slice(1), 'snmpget', '-v2c', '-c', 'public', '-r', '0', '-t', '0.2', `127.0.0.1:${PORT}`, '1.3.6.1.2.1.1.3.0']); break; } catch { /* starting */ }
    }
    const target = `127.0.0.1:${port}`;
    const rows: string[] = [];
    const line = (what: string, o: { n: number; ms: number }, s: { n: number; ms: number }) => {
      const ro = o.n / (o.ms / 1000), rs = s.n / (s.ms / 1000);
      rows.push(`| ${what} | ${o.n} in ${o.ms.toFixed(0)} ms = ${Math.round(ro)}/s | ${s.n} in ${s.ms.toFixed(0)} ms = ${Math.round(rs)}/s | **${(ro / rs).toFixed(2)}x** |`);
    };
    const snmpdTarget = `127.0.0.1:${PORT}`;
    await walk('25', ['env'], target); // warm-up (JIT)
    await walk('25', inNs, snmpdTarget); // snmpd's caches filled: its fast path from here on
    // Enabled for the whole run (snmpd's walks are child processes; they leave this loop idle): a histogram
    // disabled between walks would count the pause as one long delay.
    const stall = monitorEventLoopDelay({ resolution: 1 });
    const ours = (r: string, oid?: string) => walk(r, ['env'], target, oid);
    stall.enable();
    for (const r of REPS_LIST) {
      line(`whole agent, -Cr${r}`, await ours(r), await walk(r, inNs, snmpdTarget));
      line(`inetCidrRouteTable ${ROWS} rows, -Cr${r}`, await ours(r, ROUTE_TABLE), await walk(r, inNs, snmpdTarget, ROUTE_TABLE));
    }
    stall.disable();
    console.log(`| walk (median of ${ROUNDS}) | twinstack | snmpd 5.9 | ratio (target >= 0.5x) |\n|---|---|---|---|\n${rows.join('\n')}`);
    // The loop's delay also holds this process's own work (spawning each snmpbulkwalk is synchronous in
    // libuv); the agent's own share is the longest single request.
    console.log(`longest event-loop stall during twinstack's walks: ${(stall.max / 1e6).toFixed(1)} ms (p99 ${(stall.percentile(99) / 1e6).toFixed(1)} ms); longest request in the agent: ${svc.agent.maxRequestMs.toFixed(1)} ms`);
  } finally {
    snmpd?.kill();
    await run('ip', ['netns', 'del', NS]).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
    await svc.stop();
    dm.close();
  }
}

await main();
