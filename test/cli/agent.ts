// A real agent process (src/main.ts through tsx) in a fresh data directory, for the tests that need the
// whole process: whether it is still alive, its RSS, its log, and its CLI socket.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliRequest, type CliReply } from '../cli-client.ts';

const root = join(import.meta.dirname, '../..');

export interface AgentProcess {
  proc: ChildProcess;
  dir: string;
  socket: string;
  /** Everything the agent printed (JSON log lines). */
  log(): string;
  alive(): boolean;
  /** Resident set size in bytes (VmRSS). */
  rss(): number;
  /** One CLI request over a fresh connection; resolves with the parsed reply. */
  request(req: object, timeoutMs?: number): Promise<CliReply>;
  stop(): Promise<void>;
}

/** Starts the agent with `args` (config flags) and waits for "twinstack running". */
export async function startAgentProcess(args: string[] = [], timeoutMs = 120_000): Promise<AgentProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'ts-agent-'));
  const socket = join(dir, 'twinstack.sock');
  const proc = spawn(process.execPath, ['--import', 'tsx', join(root, 'src/main.ts'), '--data-dir', dir, ...args],
    { stdio: ['ignore', 'pipe', 'pipe'], cwd: root });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const agent: AgentProcess = {
    proc, dir, socket,
    log: () => out,
    alive: () => proc.exitCode === null && proc.signalCode === null,
    rss: () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${proc.pid}/status`, 'utf8'))![1]) * 1024,
    request: (req, ms = 10_000) => cliRequest(socket, req, ms),
    async stop() {
      if (agent.alive()) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
        if (agent.alive()) proc.kill('SIGKILL');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  const end = Date.now() + timeoutMs;
  while (!/twinstack running/.test(out)) {
    if (!agent.alive() || Date.now() > end) {
      await agent.stop();
      throw new Error(`agent did not start:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return agent;
}
