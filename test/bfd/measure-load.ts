// How the BFD minimum interval (BFD_MIN_INTERVAL_MS) was chosen: the agent's session against FRR bfdd at
// MS x 3 for MINUTES, the CPUs saturated (stress-ng --cpu 2) and the agent's main thread blocked BLOCK ms out
// of every PERIOD ms; Down transitions are counted on both sides.
//   node --import tsx test/bfd/measure-load.ts MS MINUTES [BLOCK=200] [PERIOD=1000] [inprocess] [nostress]
import { spawn } from 'node:child_process';
import { startLoadLab } from './load-lab.ts';

const [ms, minutes, block = 200, period = 1000] = process.argv.slice(2, 6).map(Number).filter((n) => !Number.isNaN(n));
const inprocess = process.argv.includes('inprocess');
const stress = !process.argv.includes('nostress');
const duration = Math.round(minutes * 60_000);

const lab = await startLoadLab(`m${ms}`, ms, 3, { inprocess });
const cpu = stress ? spawn('stress-ng', ['--cpu', '2', '--timeout', `${Math.ceil(duration / 1000) + 5}s`, '--quiet'], { stdio: 'ignore' }) : null;
try {
  const r = await lab.load(block, period, duration);
  console.log(JSON.stringify({ ms, mult: 3, minutes, block, period, session: inprocess ? 'main thread' : 'worker thread', threadPriorities: lab.threadPriorities, stress: stress ? 'stress-ng --cpu 2' : 'none', ...r }));
} finally {
  cpu?.kill('SIGTERM');
  await lab.stop();
}
