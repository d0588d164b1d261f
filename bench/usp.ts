// `npm run bench:usp`: USP over MQTT 5 on loopback (a private mosquitto), one request in flight at a time:
// Get Device.DeviceInfo. (the smallest useful Get), a single-parameter Set, and Gets of the whole Device.DSLite.
// and Device.IP. subtrees. The agent (USP plug-in on an in-memory data model) runs in a child process of its
// own so that its CPU time (process.cpuUsage(), user + system, read in the child around each measured batch)
// holds none of the controller's or the echo peer's work; it runs once with the gateway's V8 flags (bin/start.js
// NODE_FLAGS: interpreter only) and once with node's defaults. Reported per row: median over BENCH_RUNS runs of
// msgs/s, agent CPU per message, p50/p99 round trip, the round trip and CPU per message of a bare mqtt.js echo
// peer (a child with the same flags; the MQTT floor under the agent) through the same broker with the same sizes,
// and reference CPU / agent CPU where obuspa figures exist.
//   BENCH_N=300 requests per row and run, BENCH_RUNS=5, BENCH_FLAGS=both|gateway|default|"--flag --flag",
//   BENCH_STRESS=1 runs `stress-ng --cpu 2` during the measurement (the machine's CPUs busy),
//   BENCH_ROWS=DeviceInfo,Set keeps the rows whose name contains one of these,
//   BENCH_AGENT_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" adds node flags to the agent process (profiling).
import { spawn, type ChildProcess } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import pino from 'pino';
import { NODE_FLAGS } from '../bin/start.js';
import { DataModel, PluginHost } from '../src/datamodel/index.ts';
import { decodeMsg, decodeRecord, wrapMsg } from '../src/usp/codec.ts';
import { uspPlugin } from '../src/usp/index.ts';
import { Mosquitto } from '../test/usp/fixture.ts';
import { buildBenchTree } from './tree.ts';

/**
 * obuspa's agent CPU per message, measured with the same requests through the same broker in one run on a quiet
 * machine (the issue "Cost per small message, and under load"; obuspa is not installable on the bench machine,
 * so these are the figures quoted there): Get of Device.DeviceInfo. and a single-parameter Set.
 */
const OBUSPA_CPU_US_SMALL_GET = 187;
const OBUSPA_CPU_US_SET = 536;

/** The V8 flags a gateway runs the agent with. */
const GATEWAY_FLAGS: readonly string[] = NODE_FLAGS;

const N = Number(process.env.BENCH_N ?? 300);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const INTERFACES = Number(process.env.BENCH_INTERFACES ?? 10);
const AGENT = 'os::twinstack-bench';
const CTRL = 'proto::bench-controller';
const SELF = fileURLToPath(import.meta.url);

type Cpu = { user: number; system: number };
type ToAgent = { cmd: 'cpu' } | { cmd: 'stop' } | { cmd: 'size'; bytes: number };
type FromAgent = { ready: true; counts: Record<string, number> } | { cpu: Cpu };

/** The agent side: the USP plug-in on its own data model, connected to the parent's broker; answers IPC. */
async function agentMain(port: number): Promise<void> {
  const dm = new DataModel({ file: ':memory:' });
  buildBenchTree(dm, INTERFACES);
  dm.add('Device.DSLite.InterfaceSetting.', 'system', { Enable: 'true', EndpointName: 'aftr.example.net' });
  const host = new PluginHost(dm, [uspPlugin({
    endpointId: AGENT, onBoardRequest: false, broker: { host: '127.0.0.1', port, agentTopic: '/usp/agent' },
    controller: { endpointId: CTRL, topic: '/usp/controller' },
  }, { reboot() {}, factoryReset() {} })], pino({ level: 'silent' }));
  await host.start();
  while (dm.getValue('Device.MQTT.Client.1.Status') !== 'Connected') await new Promise((r) => setTimeout(r, 20));
  const count = (p: string) => dm.get(p, { protocol: 'usp' }).length;
  const send = (m: FromAgent) => process.send!(m);
  process.on('message', async (m: ToAgent) => {
    if (m.cmd === 'cpu') send({ cpu: process.cpuUsage() });
    else {
      await host.stop();
      dm.close();
      process.exit(0);
    }
  });
  send({ ready: true, counts: { 'Device.DeviceInfo.': count('Device.DeviceInfo.'), 'Device.DSLite.': count('Device.DSLite.'), 'Device.IP.': count('Device.IP.') } });
}

/**
 * The floor under the agent: a bare mqtt.js client in a node with the same flags and the agent's client options,
 * answering each PUBLISH on /echo/req to its Response Topic with a payload of the size the agent gave.
 */
async function echoMain(port: number): Promise<void> {
  const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { protocolVersion: 5, writeCache: false, log: () => undefined });
  let size = 0;
  const opts = { qos: 0 as const, properties: { responseTopic: '/echo/req', contentType: 'usp.msg' } };
  c.on('message', (_t, _p, packet) => c.publish(packet.properties?.responseTopic ?? '/echo/resp', Buffer.alloc(size), opts));
  await c.subscribeAsync('/echo/req');
  process.on('message', async (m: ToAgent) => {
    if (m.cmd === 'cpu') process.send!({ cpu: process.cpuUsage() } satisfies FromAgent);
    else if (m.cmd === 'size') size = m.bytes;
    else {
      await c.endAsync();
      process.exit(0);
    }
  });
  process.send!({ ready: true, counts: {} } satisfies FromAgent);
}

/** A child process (the agent, or the echo peer); `cpu()` reads its cumulative CPU time in microseconds. */
async function startChild(role: 'agent' | 'echo', port: number, flags: readonly string[]) {
  const extra = role === 'agent' ? process.env.BENCH_AGENT_ARGS?.split(' ').filter(Boolean) ?? [] : [];
  const child: ChildProcess = spawn(process.execPath, [...flags, ...extra, '--import', 'tsx', SELF], {
    env: { ...process.env, BENCH_ROLE: role, BENCH_BROKER_PORT: String(port) }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const next = () => new Promise<FromAgent>((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`agent exited (${code})`));
    child.once('exit', onExit);
    child.once('message', (m) => { child.off('exit', onExit); resolve(m as FromAgent); });
  });
  const ready = await next();
  if (!('ready' in ready)) throw new Error('agent did not start');
  return {
    child,
    counts: ready.counts,
    async cpu(): Promise<Cpu> {
      const p = next();
      child.send({ cmd: 'cpu' } satisfies ToAgent);
      const m = await p;
      if (!('cpu' in m)) throw new Error('unexpected answer from the agent');
      return m.cpu;
    },
    size(bytes: number): void {
      child.send({ cmd: 'size', bytes } satisfies ToAgent);
    },
    async stop(): Promise<void> {
      if (child.exitCode !== null) return;
      const gone = new Promise((r) => child.once('exit', r));
      child.send({ cmd: 'stop' } satisfies ToAgent);
      await Promise.race([gone, new Promise((r) => setTimeout(r, 3000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};
const median = (xs: number[]) => quantile(xs, 0.5);

interface Row { name: string; make: (i: number) => unknown; expect: string; refUs?: number }
interface RunResult { reqBytes: number; respBytes: number; msgsPerS: number; cpuUs: number; sysUs: number; p50: number; p99: number; echoP50: number; echoCpuUs: number }
type Child = Awaited<ReturnType<typeof startChild>>;

async function parentMain(): Promise<void> {
  const broker = await Mosquitto.start();
  let stress: ChildProcess | undefined;
  const agents: { stop(): Promise<void>; child: ChildProcess }[] = [];
  const cleanup = () => {
    if (stress?.pid && stress.exitCode === null) process.kill(stress.pid, 'SIGTERM');
    for (const a of agents) if (a.child.exitCode === null) a.child.kill('SIGKILL');
  };
  process.once('SIGINT', () => { cleanup(); process.exit(130); });
  process.once('SIGTERM', () => { cleanup(); process.exit(143); });
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, { protocolVersion: 5 });
  try {
    if (process.env.BENCH_STRESS === '1') {
      // Its workers are children of this pid; stress-ng stops them when it gets SIGTERM.
      stress = spawn('stress-ng', ['--cpu', '2', '--quiet'], { stdio: 'ignore' });
      await new Promise((r) => setTimeout(r, 1000));
    }
    let waiting: ((b: Buffer) => void) | undefined;
    client.on('message', (topic, payload) => {
      if (topic === '/usp/controller' || topic === '/echo/resp') waiting?.(payload);
    });
    await client.subscribeAsync(['/usp/controller', '/echo/resp']);
    const roundTrip = (topic: string, bytes: Uint8Array, responseTopic: string) => new Promise<Buffer>((resolve) => {
      waiting = resolve;
      client.publish(topic, Buffer.from(bytes), { properties: { responseTopic, contentType: 'usp.msg' } });
    });

    const get = (path: string) => () => ({ header: { msg_id: 'g', msg_type: 'GET' }, body: { request: { get: { param_paths: [path] } } } });
    const all: Row[] = [
      { name: 'Get Device.DeviceInfo.', make: get('Device.DeviceInfo.'), expect: 'GET_RESP', refUs: OBUSPA_CPU_US_SMALL_GET },
      {
        name: 'Set 1 param', expect: 'SET_RESP', refUs: OBUSPA_CPU_US_SET, make: (i) => ({
          header: { msg_id: `s${i}`, msg_type: 'SET' },
          body: { request: { set: { allow_partial: false, update_objs: [{ obj_path: 'Device.X_TWINSTACK-ORG_Failover.', param_settings: [{ param: 'RecoveryInterval', value: String(10 + (i % 50)), required: true }] }] } } },
        }),
      },
      { name: 'Get Device.DSLite.', make: get('Device.DSLite.'), expect: 'GET_RESP' },
      { name: 'Get Device.IP.', make: get('Device.IP.'), expect: 'GET_RESP' },
    ];
    const only = process.env.BENCH_ROWS?.split(',');
    const rows = only ? all.filter((r) => only.some((o) => r.name.includes(o))) : all;

    async function measure(agent: Child, echo: Child, row: Row): Promise<RunResult> {
      const reqs = Array.from({ length: N }, (_, i) => wrapMsg(AGENT, CTRL, row.make(i)));
      for (let i = 0; i < 20; i++) await roundTrip('/usp/agent', reqs[i % N], '/usp/controller'); // warm-up
      const rtt: number[] = [];
      let respBytes = 0;
      const cpu0 = await agent.cpu();
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < N; i++) {
        const t = process.hrtime.bigint();
        const resp = await roundTrip('/usp/agent', reqs[i], '/usp/controller');
        rtt.push(Number(process.hrtime.bigint() - t) / 1e3);
        if (i === 0) {
          const m = decodeMsg(decodeRecord(resp).no_session_context!.payload);
          if (m.header.msg_type !== row.expect) throw new Error(`${row.name}: ${m.header.msg_type} answered`);
        }
        respBytes = resp.length;
      }
      const wallUs = Number(process.hrtime.bigint() - t0) / 1e3;
      const cpu1 = await agent.cpu();
      const cpuUs = cpu1.user + cpu1.system - cpu0.user - cpu0.system;
      echo.size(respBytes);
      const req = Buffer.alloc(reqs[0].length);
      for (let i = 0; i < 20; i++) await roundTrip('/echo/req', req, '/echo/resp');
      const echoRtt: number[] = [];
      const e0 = await echo.cpu();
      for (let i = 0; i < N; i++) {
        const t = process.hrtime.bigint();
        await roundTrip('/echo/req', req, '/echo/resp');
        echoRtt.push(Number(process.hrtime.bigint() - t) / 1e3);
      }
      const e1 = await echo.cpu();
      return {
        reqBytes: reqs[0].length, respBytes, msgsPerS: (N * 1e6) / wallUs, cpuUs: cpuUs / N, sysUs: (cpu1.system - cpu0.system) / N,
        p50: quantile(rtt, 0.5), p99: quantile(rtt, 0.99), echoP50: quantile(echoRtt, 0.5), echoCpuUs: (e1.user + e1.system - e0.user - e0.system) / N,
      };
    }

    const which = process.env.BENCH_FLAGS ?? 'both';
    const configs = which.startsWith('--') ? [{ label: `flags ${which}`, flags: which.split(' ') }] : [
      ...(which !== 'default' ? [{ label: `gateway flags (${GATEWAY_FLAGS.join(' ')})`, flags: GATEWAY_FLAGS }] : []),
      ...(which !== 'gateway' ? [{ label: 'node default flags', flags: [] as readonly string[] }] : []),
    ];
    const load = stress ? 'with stress-ng --cpu 2 running' : 'no load generator';
    console.log(`USP over MQTT 5 on loopback (mosquitto, one request in flight), ${N} requests per row, median of ${RUNS} runs; ${load}; ${new Date().toISOString()}`);
    for (const cfg of configs) {
      const loadBefore = loadavg()[0];
      const agent = await startChild('agent', broker.port, cfg.flags);
      const echo = await startChild('echo', broker.port, cfg.flags);
      agents.push(agent, echo);
      const results = new Map<Row, RunResult[]>(rows.map((r) => [r, []]));
      for (let run = 0; run < RUNS; run++) for (const r of rows) results.get(r)!.push(await measure(agent, echo, r));
      await agent.stop();
      await echo.stop();
      console.log(`\nagent with ${cfg.label}; load average (1 min) ${loadBefore.toFixed(2)} before, ${loadavg()[0].toFixed(2)} after`);
      console.log('| operation | params | request B | reply B | msgs/s | agent CPU/msg (of it system) | p50 / p99 round trip | MQTT echo: p50, CPU/msg | reference CPU/msg | reference / agent |');
      console.log('|---|---|---|---|---|---|---|---|---|---|');
      for (const r of rows) {
        const rs = results.get(r)!;
        const cpu = median(rs.map((x) => x.cpuUs));
        const params = r.name.startsWith('Get') ? String(agent.counts[r.name.slice(4)]) : '1';
        const ref = r.refUs ? `${r.refUs} us (obuspa)` : '-';
        const ratio = r.refUs ? `${(r.refUs / cpu).toFixed(2)}x` : '-';
        console.log(`| ${r.name} | ${params} | ${rs[0].reqBytes} | ${rs[0].respBytes} | ${Math.round(median(rs.map((x) => x.msgsPerS)))} | ${Math.round(cpu)} us (${Math.round(median(rs.map((x) => x.sysUs)))} us) | ${(median(rs.map((x) => x.p50)) / 1e3).toFixed(2)} / ${(median(rs.map((x) => x.p99)) / 1e3).toFixed(2)} ms | ${(median(rs.map((x) => x.echoP50)) / 1e3).toFixed(2)} ms, ${Math.round(median(rs.map((x) => x.echoCpuUs)))} us | ${ref} | ${ratio} |`);
      }
    }
  } finally {
    cleanup();
    await client.endAsync().catch(() => undefined);
    await broker.stop();
  }
}

if (process.env.BENCH_ROLE === 'agent') await agentMain(Number(process.env.BENCH_BROKER_PORT));
else if (process.env.BENCH_ROLE === 'echo') await echoMain(Number(process.env.BENCH_BROKER_PORT));
else await parentMain();
