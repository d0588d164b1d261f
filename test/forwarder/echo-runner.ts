// Runs the forwarder in the lab's cpe namespace for the echo end-to-end tests (started by echo-lab.ts through
// `ip netns exec`, as test/lab/b4-runner.ts does for the others). One JSON object per line. stdin:
// {op:'echo', aftr?, timeoutMs, count?, intervalMs?} (count probes, one every intervalMs, all answered at
// once), {op:'counters'}, {op:'stop'}; stdout: {kind:'ready'|'echo'|'counters'|'event'|'stopped'|'error', ...}.
import { setTimeout as sleep } from 'node:timers/promises';
import { createInterface } from 'node:readline';
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
    const req = JSON.parse(line) as { op: string; aftr?: string; timeoutMs?: number; count?: number; intervalMs?: number };
    try {
      if (req.op === 'echo') out({ kind: 'echo', value: await series(req.aftr, req.timeoutMs!, req.count ?? 1, req.intervalMs ?? 0) });
      else if (req.op === 'counters') out({ kind: 'counters', value: await fwd.counters() });
      else if (req.op === 'stop') await stop();
    } catch (e) {
      out({ kind: 'error', error: (e as Error).message });
    }
  })
  .on('close', () => void stop());
out({ kind: 'ready' });
