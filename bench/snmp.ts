// `npm run bench:snmp`: snmpbulkwalk (Debian Net-SNMP 5.9) of the whole twinstack agent and of a 10,000-row
// inetCidrRouteTable, against Debian's snmpd walking its whole tree and its inetCidrRouteTable holding 10,000
// routes (IPv6 routes in a private network namespace), all in the same run. snmpd is measured on its fast
// path: a warm-up walk first fills its table cache, so every timed walk is served from memory. Rates are
// varbinds per second of wall time of the snmpbulkwalk process, the median of ROUNDS runs (not the best);
// the ratio is ours / snmpd. The agent runs alone in a child with the gateway's V8 flags (test/snmp/
// scale-agent.ts, the process issue 20's scale test measures), so the stalls it prints are the agent's own:
// the longest gap its 1 ms timer saw less the run-queue wait (what the agent held the loop), that gap in wall
// time, and the loop's whole delay (perf_hooks.monitorEventLoopDelay): the longest a failover detector waited.
// BENCH_ROWS, BENCH_ROUNDS, BENCH_REPS change the table size, the runs per figure and the bulk sizes.
import { execFile, fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { NODE_FLAGS } from '../bin/start.js';

const run = promisify(execFile);
const ROWS = Number(process.env.BENCH_ROWS ?? 10_000);
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

/** One question to the agent's process and its answer (test/snmp/scale-agent.ts protocol). */
function ask<T>(child: ChildProcess, cmd: object, key: string): Promise<T> {
  return new Promise((resolve) => {
    const on = (m: Record<string, unknown>) => { if (key in m) { child.off('message', on); resolve(m[key] as T); } };
    child.on('message', on);
    child.send(cmd);
  });
}

interface Report { maxStallMs: number; p99StallMs: number; agentStallMs: number; agentHeldMs: number; heldGapWallMs: number; heldGapWaitMs: number; maxRequestMs: number; heapMB: number }

async function main() {
  // Ours: the boot-time objects plus ROWS IPv4 routes, in the agent's own process.
  const child = fork(new URL('../test/snmp/scale-agent.ts', import.meta.url).pathname, [], {
    execArgv: [...NODE_FLAGS, '--import', 'tsx'], env: { ...process.env, ROWS: String(ROWS), CACHE_MS: '1000' }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m: { ready?: number }) => (m.ready ? resolve(m.ready) : reject(new Error('no ready'))));
    child.once('exit', (code) => reject(new Error(`the agent's process exited ${code}`)));
  });

  // snmpd in its own namespace with ROWS routes (2001:db8::/32, documentation prefix).
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
    // Measured for the whole run (snmpd's walks leave the agent idle; its upkeep timers still tick).
    const ours = (r: string, oid?: string) => walk(r, ['env'], target, oid);
    await ask(child, { cmd: 'measure' }, 'measuring');
    for (const r of REPS_LIST) {
      line(`whole agent, -Cr${r}`, await ours(r), await walk(r, inNs, snmpdTarget));
      line(`inetCidrRouteTable ${ROWS} rows, -Cr${r}`, await ours(r, ROUTE_TABLE), await walk(r, inNs, snmpdTarget, ROUTE_TABLE));
    }
    const s = await ask<Report>(child, { cmd: 'report' }, 'report');
    console.log(`| walk (median of ${ROUNDS}) | twinstack | snmpd 5.9 | ratio (target >= 0.5x) |\n|---|---|---|---|\n${rows.join('\n')}`);
    console.log(`longest event-loop stall by the agent: ${s.agentHeldMs.toFixed(1)} ms held (that gap ${s.heldGapWallMs.toFixed(1)} ms wall, ${s.heldGapWaitMs.toFixed(1)} ms waiting for a CPU); longest gap in wall time ${s.agentStallMs.toFixed(1)} ms; loop delay max ${s.maxStallMs.toFixed(1)} ms, p99 ${s.p99StallMs.toFixed(1)} ms; longest request ${s.maxRequestMs.toFixed(1)} ms (limit 20 ms); heap ${s.heapMB.toFixed(0)} MB`);
  } finally {
    snmpd?.kill();
    await run('ip', ['netns', 'del', NS]).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
    child.send({ cmd: 'stop' });
    await new Promise((r) => { child.once('exit', r); setTimeout(() => { child.kill('SIGKILL'); r(undefined); }, 5000).unref(); });
  }
}

await main();
