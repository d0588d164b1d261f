// Issue 20 item 6: a NOC polling a gateway whose routing table holds 10,000 routes must not stall the agent's
// event loop, which also runs the failover detectors: no more than 20 ms, not per request and not in all
// (the agent's stall counts garbage collection, the change listeners and the row upkeep between requests;
// only the simulated routing daemon's own commits are left out, scale-agent.ts says how, and are reported).
// Requests are bounded in wall time; the stall between two ticks is bounded in the time the agent held the loop
// (the gap less the main thread's run-queue wait), and printed in wall time beside it, because on two cores
// shared with the walking tools and the runner the kernel may hold the runnable thread off the CPU for a slice
// or two: that wait is printed, not hidden.
// The agent runs alone in a child with the gateway's V8 flags (test/snmp/scale-agent.ts); the walks come from
// Debian's Net-SNMP tools, bulk and single-step, with the live values older than the cache time between polls
// (the case that used to re-encode the whole tree) and route changes arriving while a walk is in progress
// (only the changed rows are read again).
import assert from 'node:assert/strict';
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { NODE_FLAGS } from '../../bin/start.js';

const ROWS = 10_000;
const COLUMNS = 11; // inetCidrRouteIfIndex .. inetCidrRouteStatus (RFC 4292)
const ROUTE_TABLE = '1.3.6.1.2.1.4.24.7';
const LIMIT_MS = 20;

interface Report {
  maxStallMs: number; agentStallMs: number; agentHeldMs: number; heldGapWallMs: number; heldGapWaitMs: number;
  p99StallMs: number; samples: number; maxRequestMs: number; maxCommitMs: number; heapMB: number }

let child: ChildProcess;
let target = '';

function ask<T>(cmd: object, key: string): Promise<T> {
  return new Promise((resolve) => {
    const on = (m: Record<string, unknown>) => { if (key in m) { child.off('message', on); resolve(m[key] as T); } };
    child.on('message', on);
    child.send(cmd);
  });
}

/** A walk by a Net-SNMP tool; counts the varbinds it printed without holding them (5 MB of text). */
function walk(tool: string, args: string[], oid: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const p = spawn(tool, ['-v2c', '-c', 'public', '-On', '-Oq', '-m', '', '-t', '5', '-r', '1', ...args, target, oid],
      { env: { ...process.env, MIBS: '', SNMPCONFPATH: '/nonexistent' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let lines = 0;
    let err = '';
    p.stdout.on('data', (b: Buffer) => { for (let i = b.indexOf(10); i >= 0; i = b.indexOf(10, i + 1)) lines++; });
    p.stderr.on('data', (b: Buffer) => { err += b; });
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve(lines) : reject(new Error(`${tool} exited ${code}: ${err}`))));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('item 6: a 10,000-row inetCidrRouteTable never stalls the event loop more than 20 ms', () => {
  before(async () => {
    child = fork(new URL('./scale-agent.ts', import.meta.url).pathname, [], {
      execArgv: [...NODE_FLAGS, '--import', 'tsx'], env: { ...process.env, ROWS: String(ROWS), CACHE_MS: '1000' }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const port = await new Promise<number>((resolve, reject) => {
      child.once('message', (m: { ready?: number }) => (m.ready ? resolve(m.ready) : reject(new Error('no ready'))));
      child.once('exit', (code) => reject(new Error(`scale agent exited ${code}`)));
    });
    target = `127.0.0.1:${port}`;
    // One walk before measuring: the first request of each kind loads code (start-up, not steady state).
    await walk('snmpbulkwalk', ['-Cr25'], ROUTE_TABLE);
  });
  after(async () => {
    if (child.exitCode === null) {
      child.send({ cmd: 'stop' });
      await new Promise((r) => { child.once('exit', r); setTimeout(() => { child.kill('SIGKILL'); r(undefined); }, 5000).unref(); });
    }
  });

  test('bulk and single-step walks, stale live values and route changes during the walks', async () => {
    await ask({ cmd: 'measure' }, 'measuring');
    let walking = true;
    // A routing daemon's updates: 100 routes changed every 250 ms while the NOC walks.
    const updates = (async () => {
      while (walking) {
        await ask({ cmd: 'change', rows: 100 }, 'changed');
        await sleep(250);
      }
    })();
    try {
      for (let round = 0; round < 3; round++) {
        await sleep(1100); // the live values (counters, uptime) are older than the cache time again
        assert.ok(await walk('snmpbulkwalk', ['-Cr25'], '1.3') >= ROWS * COLUMNS, 'the whole agent, bulk');
      }
      assert.equal(await walk('snmpbulkwalk', ['-Cr10'], ROUTE_TABLE), ROWS * COLUMNS, 'the table, bulk');
      assert.equal(await walk('snmpwalk', [], `${ROUTE_TABLE}.1.7`), ROWS, 'one column, GETNEXT by GETNEXT');
    } finally {
      walking = false;
      await updates;
    }
    const r = await ask<Report>({ cmd: 'report' }, 'report');
    console.log(`# ${ROWS} routes: longest stall held by the agent ${r.agentHeldMs.toFixed(1)} ms (that gap ${r.heldGapWallMs.toFixed(1)} ms wall, ${r.heldGapWaitMs.toFixed(1)} ms of it waiting for a CPU); longest in wall time ${r.agentStallMs.toFixed(1)} ms; of the loop ${r.maxStallMs.toFixed(1)} ms with the daemon's commits (p99 ${r.p99StallMs.toFixed(1)} ms, ${r.samples} samples), longest request ${r.maxRequestMs.toFixed(1)} ms, longest route commit ${r.maxCommitMs.toFixed(1)} ms, heap ${r.heapMB.toFixed(0)} MB`);
    assert.ok(r.samples > 1000, 'the histogram ran through the walks');
    assert.ok(r.maxRequestMs <= LIMIT_MS, `one request held the loop ${r.maxRequestMs.toFixed(1)} ms`);
    assert.ok(r.agentHeldMs <= LIMIT_MS, `the agent held the event loop ${r.agentHeldMs.toFixed(1)} ms between two ticks`);
  });
});
