// How the agent restarts itself for Reboot() and FactoryReset(): by exiting for its supervisor ("exit"), or, with
// no supervisor, by starting its successor itself ("exec").
//
// The choice, and why:
//  - A supervisor restarts what it started: systemd (deploy/twinstack.service: RestartForceExitStatus=75), procd
//    (deploy/openwrt/twinstack.init: respawn), bin/start.js when it runs the agent as its child. Under one, the
//    agent only exits with EXIT_RESTART. A process of our own would be an orphan outside its control: killed
//    with systemd's control group, or running beside procd's new instance (two agents on one data directory
//    and one set of ports: the EADDRINUSE crash seen in the field).
//  - Without one (`npm start`, a shell), nobody would start the agent again. The same process cannot become the
//    new agent on Node 20 (process.execve exists from Node 22.15; bin/start.js uses it), and a parent that stays
//    to wait for its successor would keep the old agent's memory for as long as the new one runs, one more
//    process per reboot. So the agent spawns its successor and exits, and the successor is an ordinary child:
//    not detached (same process group, session and control group: a kill of the group, a hangup of the session
//    and a service manager's stop still reach it), its stdio the same. It is spawned first, so that it loads
//    while the old agent stops, and it waits for the old process to be gone before it opens the data directory:
//    the old one holds an end of a pipe that the kernel closes only when that process has exited, after every
//    socket and lock of it was released, whatever its plug-ins did on the way out. No port or lock is ever
//    contended. (An interactive shell takes the terminal back when the first process exits: `twinstack start`
//    keeps the agent in the foreground, bin/start.js supervising it.)
// Detection: `restart` (config, when the schema has it) or TWINSTACK_RESTART=exit|exec decide; else systemd
// (NOTIFY_SOCKET, or INVOCATION_ID with SYSTEMD_EXEC_PID naming this process or its parent), procd (the parent's
// name), PID 1 (a container: its end ends everything) mean "exit"; anything else "exec". INVOCATION_ID alone is
// not enough: every process of a desktop session's terminal (a systemd user unit) has it.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Socket } from 'node:net';

export type RestartMode = 'exit' | 'exec';

/** Exit status asking the supervisor for a restart (sysexits.h EX_TEMPFAIL; the systemd unit and procd restart on it). */
export const EXIT_RESTART = 75;

/** What the restart mode is decided from (the process's own values by default). */
export interface RestartContext {
  /** The `restart` setting, when configured. */
  setting?: string;
  env: NodeJS.ProcessEnv;
  pid: number;
  ppid: number;
  /** The parent's process name (/proc/<ppid>/comm). */
  parentName: () => string;
}

const procName = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
};

export function processContext(setting?: string): RestartContext {
  return { setting, env: process.env, pid: process.pid, ppid: process.ppid, parentName: () => procName(process.ppid) };
}

/** The restart mode and the reason for it (logged at start). */
export function restartMode(c: RestartContext): { mode: RestartMode; why: string } {
  const explicit = (v: string | undefined) => (v === 'exit' || v === 'exec' ? v : undefined);
  const setting = explicit(c.setting);
  if (setting) return { mode: setting, why: 'configured (restart)' };
  const env = explicit(c.env.TWINSTACK_RESTART);
  if (env) return { mode: env, why: 'TWINSTACK_RESTART' };
  if (c.env.TWINSTACK_SUPERVISED === '1') return { mode: 'exit', why: 'TWINSTACK_SUPERVISED' };
  if (c.env.NOTIFY_SOCKET) return { mode: 'exit', why: 'systemd (NOTIFY_SOCKET)' };
  const exec = c.env.SYSTEMD_EXEC_PID;
  if (c.env.INVOCATION_ID && (exec === String(c.pid) || exec === String(c.ppid)))
    return { mode: 'exit', why: 'systemd (SYSTEMD_EXEC_PID)' };
  if (c.pid === 1) return { mode: 'exit', why: 'PID 1' };
  if (c.parentName() === 'procd') return { mode: 'exit', why: 'procd' };
  return { mode: 'exec', why: 'no supervisor' };
}

/** The environment variable that tells a successor its predecessor's pid (fd 3 is the pipe from it). */
const PREDECESSOR = 'TWINSTACK_PREDECESSOR';

/**
 * Starts the successor: this program again, same arguments and flags, not detached. Resolves once it runs;
 * rejects when it could not be started (the caller then exits for a supervisor, if any).
 */
export function spawnSuccessor(): Promise<number> {
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: ['inherit', 'inherit', 'inherit', 'pipe'],
    env: { ...process.env, [PREDECESSOR]: String(process.pid) },
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('spawn', () => {
      child.off('error', reject);
      // Our end of the pipe stays open until this process exits; nothing of the child keeps our loop alive.
      (child.stdio[3] as Socket).unref();
      child.unref();
      resolve(child.pid!);
    });
  });
}

/**
 * In a successor: waits until the predecessor has exited (its end of the pipe on fd 3 closes), so that its
 * ports, lock and files are free. At most `limitMs` (then the data directory's lock decides). Resolves at once
 * in an agent started any other way.
 */
export async function predecessorGone(limitMs = 30_000): Promise<{ pid: number; waitedMs: number } | null> {
  const pid = Number(process.env[PREDECESSOR]);
  if (!pid) return null;
  delete process.env[PREDECESSOR];
  const t0 = performance.now();
  await new Promise<void>((resolve) => {
    let pipe: Socket;
    try {
      pipe = new Socket({ fd: 3, readable: true, writable: false });
    } catch {
      resolve(); // no pipe on fd 3: not started by spawnSuccessor()
      return;
    }
    const timer = setTimeout(done, limitMs);
    function done() {
      clearTimeout(timer);
      pipe.destroy();
      resolve();
    }
    pipe.on('data', () => undefined);
    pipe.once('end', done);
    pipe.once('close', done);
    pipe.once('error', done);
  });
  return { pid, waitedMs: Math.round(performance.now() - t0) };
}
