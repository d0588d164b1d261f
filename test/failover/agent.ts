// Starts the agent (agent-runner.ts) in the lab's cpe namespace on the Linux WAN, and waits on its state.
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getValue } from './cli.ts';
import type { Topo } from './topo.ts';

export const FO = 'Device.X_TWINSTACK-ORG_Failover.';

/**
 * The fast detector profile of the benchmarks (docs/benchmarks.md), written through the data model on a fresh
 * database: Silence (Detector.2) 20 ms / 150 ms, Echo (Detector.3) 100 ms / 100 ms x 2.
 */
export const FAST_PROFILE: Record<string, string> = {
  [`${FO}Detector.2.Interval`]: '20', [`${FO}Detector.2.Timeout`]: '150',
  [`${FO}Detector.3.Interval`]: '100', [`${FO}Detector.3.Timeout`]: '100', [`${FO}Detector.3.FailureThreshold`]: '2',
};

export interface LabAgent {
  socket: string;
  proc: ChildProcess;
  logs: () => string;
  get(path: string): Promise<string>;
  waitFor(path: string, value: string | RegExp, ms?: number): Promise<number>;
  stop(): Promise<void>;
}

/** `opts.nat46`: with the NAT46 plug-in (agent-runner.ts). */
export async function startLabAgent(t: Topo, wan: Record<string, unknown> = {}, name = 'agent', opts: { nat46?: boolean } = {}): Promise<LabAgent> {
  const socket = join(t.dir, `${name}.sock`);
  const cfg = join(t.dir, `${name}.json`);
  writeFileSync(cfg, JSON.stringify({
    db: join(t.dir, `${name}.db`), socket,
    wan: {
      mode: 'linux', lanInterface: 'cpe-lan', wanInterface: 'cpe-wan', tunName: 'b4tun', lanAddress: '192.168.1.1/24',
      softwire: '2001:db8:b4::1', leaseWaitMs: 5000, dhcp4TimeoutMs: 8000, ...wan,
    },
    nat46: opts.nat46 ?? false,
  }));
  const runner = fileURLToPath(new URL('./agent-runner.ts', import.meta.url));
  const proc = t.spawn('cpe', process.execPath, '--import', 'tsx', runner, cfg);
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise<void>((resolve, reject) => {
    const check = () => { if (out.includes('"agent ready"')) { proc.stdout!.off('data', check); resolve(); } };
    proc.stdout!.on('data', check);
    proc.once('exit', (c) => reject(new Error(`agent exited ${c}: ${out}`)));
  });
  const get = (path: string) => getValue(socket, path);
  return {
    socket, proc, logs: () => out, get,
    async waitFor(path, value, ms = 15000) {
      const t0 = Date.now();
      for (;;) {
        const v = await get(path).catch(() => '');
        if (typeof value === 'string' ? v === value : value.test(v)) return Date.now() - t0;
        if (Date.now() - t0 > ms) throw new Error(`${path} is "${v}", not ${value} after ${ms} ms\n${out.split('\n').slice(-30).join('\n')}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const gone = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await gone;
    },
  };
}
