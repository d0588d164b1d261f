// Runs the forwarder inside a lab namespace (started by b4.ts through `ip netns exec`): the tun must be
// created in the cpe namespace, and a thread of the test process cannot switch namespaces on its own.
// Protocol: one JSON object per line. stdin: {op:'counters'|'stop'}, {op:'reconfigure', config} or
// {op:'echo', aftr?, timeoutMs, count?, intervalMs?} (count probes, one every intervalMs, answered together);
// stdout: {kind:'ready'|'event'|'counters'|'reconfigured'|'echo'|'stopped'|'error', ...}. EOF on stdin stops.
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { Forwarder, type EchoResult, type ForwarderConfig } from '../../src/forwarder/index.ts';

const out = (m: object) => process.stdout.write(`${JSON.stringify(m)}\n`);
const config = JSON.parse(process.argv[2]) as ForwarderConfig;
const fwd = await Forwarder.start(config, { logger: pino({ level: 'warn' }, pino.destination(2)) }).catch((e: Error) => {
  out({ kind: 'error', error: e.message });
  process.exit(1);
});
fwd.on('icmpv6-error', (event) => out({ kind: 'event', event }));

async function series(aftr: string | undefined, timeoutMs: number, count: number, intervalMs: number): Promise<EchoResult[]> {
  const probes: Array<Promise<EchoResult>> = [];
  for (let i = 0; i < count; i++) {
    if (i > 0) await sleep(intervalMs);
    probes.push(fwd.echo({ aftr, timeoutMs }));
  }
  return Promise.all(probes);
}

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await fwd.stop();
  out({ kind: 'stopped' });
  process.exit(0);
};
createInterface({ input: process.stdin })
  .on('line', async (line) => {
    const req = JSON.parse(line) as { op: string; config?: ForwarderConfig; aftr?: string; timeoutMs?: number; count?: number; intervalMs?: number };
    try {
      if (req.op === 'counters') out({ kind: 'counters', value: await fwd.counters() });
      else if (req.op === 'echo') out({ kind: 'echo', value: await series(req.aftr, req.timeoutMs!, req.count ?? 1, req.intervalMs ?? 0) });
      else if (req.op === 'reconfigure') await fwd.reconfigure(req.config!), out({ kind: 'reconfigured' });
      else if (req.op === 'stop') await stop();
    } catch (e) {
      out({ kind: 'error', error: (e as Error).message });
    }
  })
  .on('close', () => void stop());
out({ kind: 'ready', tunName: config.tunName });
