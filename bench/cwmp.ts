// `npm run bench:cwmp`: a full CWMP session against the scripted ACS (Inform, GetParameterNames of the
// whole tree, GetParameterValues of every parameter, SetParameterValues of 10), the agent in its own
// process so its RSS is its own. Reference measured in the same run: the same work done in-process
// without HTTP and XML parsing on the ACS side (data-model reads/writes plus building the envelopes).
import { fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { DataModel, PluginHost } from '../src/datamodel/index.ts';
import { devicePlugin } from '../src/device/index.ts';
import { cwmpPlugin } from '../src/cwmp/index.ts';
import { buildEnvelope } from '../src/cwmp/soap.ts';
import { xsdTypeOf } from '../src/cwmp/rpc/params.ts';
import { buildBenchTree } from './tree.ts';
import { ScriptedAcs, arr, names, pvs, text } from '../test/cwmp/acs.ts';

const INTERFACES = Number(process.env.BENCH_INTERFACES ?? 100);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const IDENTITY = { manufacturer: 'twinstack', manufacturerOUI: '00D09E', modelName: 'twinstack-gw', productClass: 'HomeGateway', hardwareVersion: 'bench' };

const buildTree = (dm: DataModel) => buildBenchTree(dm, INTERFACES);

const spvList = (round: number): [string, string, string][] =>
  Array.from({ length: 10 }, (_, i) => [`Device.IP.Interface.${i + 1}.Alias`, `bench-${round}-${i}`, 'string']);

function vm(field: string): number {
  const m = readFileSync('/proc/self/status', 'utf8').match(new RegExp(`${field}:\\s+(\\d+) kB`));
  return m ? Number(m[1]) * 1024 : 0;
}

if (process.argv[2] === 'agent') {
  // The agent process: device + CWMP plug-ins on a SQLite file.
  const [, , , file, url] = process.argv;
  const dm = new DataModel({ file });
  buildTree(dm);
  const noop = () => {};
  const plugin = cwmpPlugin({ connectionRequest: { port: 0 }, factoryDefaults: { url, periodicInformEnable: false } }, { reboot: noop, factoryReset: noop, downloadsDir: tmpdir() });
  const host = new PluginHost(dm, [devicePlugin(IDENTITY, { reboot: noop, factoryReset: noop }), plugin], pino({ level: 'silent' }));
  await host.start();
  await plugin.client!.idle();
  process.on('message', async (m: string) => {
    if (m === 'session') {
      plugin.client!.requestSession('6 CONNECTION REQUEST', true);
      await new Promise((r) => setImmediate(r));
      await plugin.client!.idle();
      process.send!({ rss: vm('VmRSS'), hwm: vm('VmHWM') });
    } else if (m === 'exit') {
      await host.stop();
      process.exit(0);
    }
  });
  process.send!({ ready: true });
} else {
  const dir = mkdtempSync(join(tmpdir(), 'ts-bench-cwmp-'));
  const acs = await new ScriptedAcs().start();
  try {
    const boot = acs.nextSession();
    const child = fork(new URL(import.meta.url).pathname, ['agent', join(dir, 'twinstack.db'), acs.url], { execArgv: ['--import', 'tsx'] });
    const reply = () => new Promise<{ rss: number; hwm: number; ready?: boolean }>((r) => child.once('message', r as never));
    await reply();
    await boot;

    const runs: { ms: number; params: number; names: number; bytes: number; rss: number; hwm: number }[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      let params = 0;
      let nameCount = 0;
      acs.onSession(async (s) => {
        const gpn = await s.call('GetParameterNames', '<ParameterPath>Device.</ParameterPath><NextLevel>false</NextLevel>');
        const all = arr(gpn.body.ParameterList.ParameterInfoStruct).map((p: any) => text(p.Name));
        nameCount = all.length;
        const leaves = all.filter((n) => !n.endsWith('.'));
        const gpv = await s.call('GetParameterValues', names(leaves));
        params = arr(gpv.body.ParameterList.ParameterValueStruct).length;
        const spv = await s.call('SetParameterValues', `${pvs(spvList(round))}<ParameterKey>bench-${round}</ParameterKey>`);
        if (text(spv.body.Status) !== '0') throw new Error('SPV failed');
      });
      const sentBefore = acs.requests.reduce((a, r) => a + r.bytes, 0);
      const done = acs.nextSession();
      const t0 = performance.now();
      child.send('session');
      await done;
      const ms = performance.now() - t0;
      const mem = await reply();
      runs.push({ ms, params, names: nameCount, bytes: acs.requests.reduce((a, r) => a + r.bytes, 0) - sentBefore, ...mem });
    }
    child.send('exit');
    acs.validateAll();

    // Reference: the same CPE-side work in-process (no HTTP, no ACS parsing).
    const dm = new DataModel({ file: ':memory:' });
    buildTree(dm);
    const refMs: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const t0 = performance.now();
      const n = dm.names('Device.', false, 'cwmp');
      buildEnvelope({ method: 'GetParameterNamesResponse', ParameterList: n.map((x) => ({ Name: x.path, Writable: x.writable })) }, { ns: '1-2', id: '1' });
      const values = n.filter((x) => x.kind === 'param').flatMap((x) => dm.get(x.path, { protocol: 'cwmp' }));
      buildEnvelope({ method: 'GetParameterValuesResponse', ParameterList: values.map((v) => ({ Name: v.path, Value: v.value, type: xsdTypeOf(v.def) })) }, { ns: '1-2', id: '1' });
      dm.commit(spvList(round + 100).map(([path, value]) => ({ op: 'set' as const, path, value })), 'system', 'cwmp');
      refMs.push(performance.now() - t0);
    }
    dm.close();

    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const ms = med(runs.map((r) => r.ms));
    const ref = med(refMs);
    const last = runs[runs.length - 1];
    const mb = (b: number) => (b / 1048576).toFixed(1);
    console.log(`tree: ${last.names} names, ${last.params} parameters (${INTERFACES} IP interfaces); ${ROUNDS} sessions`);
    console.log(`full session (Inform, GPN Device., GPV of ${last.params}, SPV of 10): median ${ms.toFixed(1)} ms, ${Math.round((last.params * 1000) / ms)} parameters/s`);
    console.log(`CPE sent ${(last.bytes / 1024).toFixed(0)} KiB per session; agent RSS ${mb(last.rss)} MiB (peak ${mb(last.hwm)} MiB)`);
    console.log(`reference (same CPE work in-process, no HTTP/ACS): ${ref.toFixed(1)} ms; ratio session/reference ${(ms / ref).toFixed(2)}x`);
  } finally {
    await acs.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
