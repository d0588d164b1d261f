// The SNMP agent alone in a process run with the gateway's V8 flags (bin/start.js NODE_FLAGS), over a data
// model (SQLite file) holding ROWS IPv4 routes, so the event loop it measures is the agent's own: the test
// runner's work and the spawning of Net-SNMP tools happen in the parent. Used by test/snmp/scale.test.ts
// (issue 20 item 6) and bench/snmp.ts.
//
// Parent -> child (IPC): { cmd: 'measure' } starts the event-loop delay histogram (resolution 1 ms) and the
// gap timer, resets the agent's longest request, answers { measuring: true }; { cmd: 'change', rows } changes
// that many routes in one commit (what a routing daemon's update does); { cmd: 'report' } answers with the
// figures; { cmd: 'stop' }.
//
// Three stalls are reported. The histogram's is the loop's whole: it also holds the simulated daemon's commits,
// which run here because the agent must see them on its own data model (100 routes re-keyed, ~9 ms with the
// gateway's interpreter-only flags, more with the CPUs shared). The agent's stall is the longest gap between
// two ticks of a 1 ms timer less the commit time inside that gap: what the agent (its requests, its row
// upkeep, the garbage its work leaves) held the loop, in wall time. On two shared cores that wall time also
// holds the time the kernel gave the CPU to another process (the Net-SNMP tools, the test runner, stress-ng:
// the thread was runnable and waiting, in slices of the scheduler's 4 ms), so the agent's held stall is the same
// gap less the main thread's run-queue wait inside it (/proc/self/task/<tid>/schedstat, second field, exact at
// each switch back in: Documentation/scheduler/sched-stats.rst), less the commit's own time off that wait:
// what the agent's work (on the CPU or blocked in a system call) held the loop, on any machine.
// Child -> parent: { ready: port } once the table is served, { report: {...} }.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { DataModel } from '../../src/datamodel/index.ts';
import { SnmpService } from '../../src/snmp/index.ts';
import { CONFIG, populate } from './fixture.ts';

const ROWS = Number(process.env.ROWS ?? 10_000);
const CACHE_MS = Number(process.env.CACHE_MS ?? 1000);

const dir = mkdtempSync(join(tmpdir(), 'snmp-scale-'));
const dm = new DataModel({ file: join(dir, 'tree.db') });
const f = populate(dm);
const table = `Device.Routing.Router.${f.router}.IPv4Forwarding.`;
const route = (i: number) => ({ DestIPAddress: `10.${(i >> 8) & 255}.${i & 255}.0`, DestSubnetMask: '255.255.255.0', GatewayIPAddress: '198.51.100.1' });
dm.commit(Array.from({ length: ROWS - 1 }, (_, i) => ({
  op: 'add' as const, table,
  values: { Enable: 'true', Status: 'Enabled', ...route(i), Interface: `Device.IP.Interface.${f.wan}`, Origin: 'Static' },
})), 'system');
const instances = dm.instances(table);

const svc = new SnmpService(dm, { ...CONFIG, port: 0, cacheMs: CACHE_MS });
const { port } = await svc.start();

const stall = monitorEventLoopDelay({ resolution: 1 });
let changed = 0;
let changeMs = 0;
let commitInGap = 0;
let agentStallMs = 0;
let commitWaitInGap = 0;
/** The gap the agent held longest: that time, and the gap's wall time and run-queue wait (both less the commit). */
let held = { ms: 0, wallMs: 0, waitMs: 0 };
let lastTick = 0;
let lastWait = 0;
let gapTimer: NodeJS.Timeout | undefined;

/** The main thread's time runnable but waiting for a CPU (ms), from the kernel's scheduler statistics. */
const SCHEDSTAT = `/proc/self/task/${process.pid}/schedstat`;
const runQueueWait = (): number => Number(readFileSync(SCHEDSTAT, 'latin1').split(' ', 2)[1]) / 1e6;

process.on('message', (m: { cmd: string; rows?: number }) => {
  if (m.cmd === 'measure') {
    stall.reset();
    stall.enable();
    svc.agent.maxRequestMs = 0;
    changeMs = 0;
    agentStallMs = 0;
    commitInGap = 0;
    commitWaitInGap = 0;
    held = { ms: 0, wallMs: 0, waitMs: 0 };
    lastTick = performance.now();
    lastWait = runQueueWait();
    clearInterval(gapTimer);
    gapTimer = setInterval(() => {
      const now = performance.now();
      const wait = runQueueWait();
      const wallMs = now - lastTick - commitInGap;
      const waitMs = wait - lastWait - commitWaitInGap;
      agentStallMs = Math.max(agentStallMs, wallMs);
      if (wallMs - waitMs > held.ms) held = { ms: wallMs - waitMs, wallMs, waitMs };
      lastTick = now;
      lastWait = wait;
      commitInGap = 0;
      commitWaitInGap = 0;
    }, 1);
    process.send!({ measuring: true });
  } else if (m.cmd === 'change') {
    // Move the gateway of `rows` routes (metric change as a routing daemon would make it); each changed row
    // is read again by the agent, the rest stay as encoded.
    const n = m.rows ?? 100;
    const set: Record<string, string> = {};
    for (let k = 0; k < n; k++) {
      const row = instances[(changed + k) % instances.length];
      set[`${row}ForwardingMetric`] = String((changed + k) % 1000);
    }
    changed += n;
    const t0 = performance.now();
    const wait0 = runQueueWait();
    dm.set(set, 'system');
    const ms = performance.now() - t0;
    changeMs = Math.max(changeMs, ms);
    commitInGap += ms;
    commitWaitInGap += runQueueWait() - wait0;
    process.send!({ changed: n });
  } else if (m.cmd === 'report') {
    process.send!({
      report: {
        maxStallMs: stall.max / 1e6, agentStallMs, agentHeldMs: held.ms, heldGapWallMs: held.wallMs, heldGapWaitMs: held.waitMs, p99StallMs: stall.percentile(99) / 1e6, samples: stall.count,
        maxRequestMs: svc.agent.maxRequestMs, maxCommitMs: changeMs, heapMB: process.memoryUsage().heapUsed / 2 ** 20,
      },
    });
  } else if (m.cmd === 'stop') {
    stall.disable();
    clearInterval(gapTimer);
    void svc.stop().then(() => {
      dm.close();
      rmSync(dir, { recursive: true, force: true });
      process.exit(0);
    });
  }
});
process.send!({ ready: port });
