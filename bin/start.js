// `twinstack start [ARGS]`: runs the compiled agent (dist/main.js, built by `npm install`) with plain node and
// the V8 flags a gateway runs it with (NODE_FLAGS). bin/twinstack.js's start branch calls start(); `npm start`,
// deploy/twinstack.service and deploy/openwrt/twinstack.init start node with the same flags themselves
// (test/deploy.test.ts checks they agree).
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const MAIN = join(root, 'dist/main.js');

/**
 * V8 flags for a gateway (docs/benchmarks.md "Footprint" has the measurements behind each):
 *  --max-semi-space-size=1  the young generation stays at 2 x 1 MB instead of growing to 2 x 16 MB: the
 *                           agent's allocations are small and short-lived, scavenges stay cheap (-14 MB idle);
 *  --max-old-space-size=128 a leak or a runaway request ends the process (the supervisor restarts it) before it
 *                           takes the gateway's memory; the largest CWMP session measured peaks far below;
 *  --no-opt --no-sparkplug  JavaScript stays in V8's bytecode interpreter: no optimizing or baseline compiler,
 *                           their code and their compile-time memory (-15 MB idle, -20 MB at a session's peak),
 *                           and start-up is shorter (no compile jobs competing for the CPU). A management agent
 *                           runs little hot JavaScript (packets never reach it): a full CWMP session of 6,617
 *                           parameters took as long. Regular expressions are still compiled and WebAssembly
 *                           stays available, unlike --lite-mode/--jitless, which saved no more here;
 *  --no-parallel-scavenge   the main thread scavenges the 1 MB young generation alone: a parallel scavenge hands
 *                           work to V8's helper threads and waits for them, and on a gateway whose two CPUs are
 *                           busy a preempted helper held the event loop (and the failover detectors) 50-112 ms
 *                           where the main thread alone takes at most ~14 ms (issue 20 item 6, docs/benchmarks.md
 *                           "SNMP").
 */
export const NODE_FLAGS = ['--max-semi-space-size=1', '--max-old-space-size=128', '--no-opt', '--no-sparkplug', '--no-parallel-scavenge'];

/** The agent's exit status asking for a restart (src/device/restart.ts EXIT_RESTART). */
const EXIT_RESTART = 75;

/** Newest modification time (ms) of the TypeScript sources, 0 when there are none (an installed package). */
function newestSource(dir = join(root, 'src')) {
  let newest = 0;
  if (!existsSync(dir)) return 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestSource(p));
    else if (e.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

/**
 * Runs the agent with `args` (its own options: --config, --data-dir, --web.port=...). Resolves only if the
 * agent runs in this process; otherwise this process ends with the agent's exit status.
 */
export async function start(args) {
  if (!existsSync(MAIN)) {
    process.stderr.write('twinstack: dist/main.js is missing: run `npm run build` (npm install runs it)\n');
    process.exit(1);
  }
  if (newestSource() > statSync(MAIN).mtimeMs) {
    process.stderr.write('twinstack: warning: src/ is newer than dist/: `npm run build` to run the current sources\n');
  }
  if (NODE_FLAGS.every((f) => process.execArgv.includes(f))) {
    process.argv = [process.argv[0], MAIN, ...args];
    await import(MAIN);
    return;
  }
  const argv = [...NODE_FLAGS, MAIN, ...args];
  // Node >= 22.15: the same process becomes the agent (a supervisor keeps its PID).
  if (typeof process.execve === 'function') process.execve(process.execPath, [process.execPath, ...argv], process.env);
  // Node 20 cannot exec: the agent runs as our child, this process waiting for it (signals passed on). We are
  // then its supervisor: Reboot() and FactoryReset() end it with status 75 (TWINSTACK_RESTART=exit,
  // src/device/restart.ts) and it is started again here, so nothing outlives this process or escapes a
  // supervisor of ours.
  let child;
  const run = () => {
    child = spawn(process.execPath, argv, { stdio: 'inherit', env: { ...process.env, TWINSTACK_RESTART: 'exit' } });
    child.on('exit', (code, signal) => {
      if (code === EXIT_RESTART && !stopping) return run();
      if (signal) {
        process.removeAllListeners(signal);
        process.kill(process.pid, signal);
      }
      process.exit(code ?? 1);
    });
  };
  let stopping = false;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => { stopping = true; child.kill(sig); });
  run();
}
