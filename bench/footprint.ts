// `npm run bench:footprint`: the agent as a gateway runs it (dist/main.js, plain node with bin/start.js's
// NODE_FLAGS), each in its own process and measured from outside (/proc/<pid>/status), beside a bare Node
// process (`node -e "setInterval(()=>{},1000)"`) measured in the same run. Per run:
//  - every face enabled on loopback (CWMP to the scripted ACS of test/cwmp, USP over MQTT to a private mosquitto,
//    SNMP, web, CLI) and the embedded simulated WAN, on a fresh data directory: time from spawn to the first CLI
//    answer and to the first Inform the ACS receives, on the first start and on a restart;
//  - idle RSS (BENCH_SETTLE_MS after the restart's boot session);
//  - peak RSS (VmHWM reset through /proc/<pid>/clear_refs, and sampled) during a full CWMP session,
//    GetParameterNames "Device." + GetParameterValues of every parameter, on the agent's own tree and again
//    with BENCH_INTERFACES more IP interfaces (each with an IPv4 address, an IPv6 address and a prefix, as
//    bench:cwmp);
//  - Reboot: the CLI's `operate Device.Reboot()` and the CWMP Reboot RPC, to the "1 BOOT" Inform;
//  - per-face RSS: the agent with only that face enabled minus the agent with none (restarted, idle).
// Medians of BENCH_RUNS runs (min-max beside). FOOTPRINT_FLAGS="--flag ..." replaces NODE_FLAGS (to compare
// V8 flags; "" for none); FOOTPRINT_TSX=1 runs src/main.ts through tsx (the agent before the compiled build);
// BENCH_PER_FACE=0 leaves out the per-face starts. The library floor (bench/lib-floor.mjs) is read beside them: the
// agent's libraries loaded and used once each with none of the agent's code, to tell the agent's share from theirs.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MAIN, NODE_FLAGS } from '../bin/start.js';
import { cliRequest } from '../test/cli-client.ts';
import { ScriptedAcs, arr, names, text, type CpeMsg } from '../test/cwmp/acs.ts';
import { Mosquitto } from '../test/usp/fixture.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const SETTLE_MS = Number(process.env.BENCH_SETTLE_MS ?? 5000);
const INTERFACES = Number(process.env.BENCH_INTERFACES ?? 100);
const TSX = process.env.FOOTPRINT_TSX === '1';
const PER_FACE = process.env.BENCH_PER_FACE !== '0';
const FLAGS = process.env.FOOTPRINT_FLAGS !== undefined ? process.env.FOOTPRINT_FLAGS.split(/\s+/).filter(Boolean) : [...NODE_FLAGS];
const ROOT = join(import.meta.dirname, '..');
const ENTRY = TSX ? ['--import', 'tsx', join(ROOT, 'src/main.ts')] : [MAIN];

type Face = 'cwmp' | 'usp' | 'snmp' | 'web';
const FACES: Face[] = ['cwmp', 'usp', 'snmp', 'web'];

interface Mem { rss: number; anon: number; file: number; hwm: number }

/** VmRSS, RssAnon, RssFile and VmHWM of a process, MiB. */
function mem(pid: number): Mem {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (f: string) => Number(new RegExp(`^${f}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN) / 1024;
  return { rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile'), hwm: kb('VmHWM') };
}

/** Resets VmHWM to the current RSS (proc(5): clear_refs 5); false where not allowed. */
function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

const cli = (socket: string, req: Record<string, unknown>, timeoutMs = 30_000) => cliRequest(socket, req, timeoutMs);

async function cliOk(socket: string, req: Record<string, unknown>): Promise<unknown> {
  const r = await cli(socket, req);
  if (!r.ok) throw new Error(`cli ${JSON.stringify(req)}: ${r.error?.message}`);
  return r.result;
}

/** Polls the CLI until the agent answers; ms since t0. */
async function firstCliAnswer(socket: string, t0: number, proc: ChildProcess, limitMs = 60_000): Promise<number> {
  for (;;) {
    try {
      await cli(socket, { cmd: 'get', paths: ['Device.DeviceInfo.UpTime'] }, 2000);
      return performance.now() - t0;
    } catch {
      if (proc.exitCode !== null) throw new Error(`agent exited (${proc.exitCode}) before answering`);
      if (performance.now() - t0 > limitMs) throw new Error('agent did not answer on its CLI socket');
      await sleep(5);
    }
  }
}

const events = (m: CpeMsg): string[] => arr(m.body.Event?.EventStruct).map((e: any) => text(e.EventCode));

/** The next Inform carrying `code` (later Informs of the same agent are skipped). */
async function informWith(acs: ScriptedAcs, code: string): Promise<CpeMsg> {
  for (;;) {
    const m = await acs.nextInform();
    if (events(m).includes(code)) return m;
  }
}

/** The agent process other than `not` whose command line names `dir` (the one a reboot respawned). */
async function findAgent(dir: string, not: number, limitMs = 10_000): Promise<number> {
  const end = Date.now() + limitMs;
  for (;;) {
    for (const p of readdirSync('/proc').filter((x) => /^\d+$/.test(x)).map(Number)) {
      if (p === not) continue;
      try {
        const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8');
        if (cmd.split('\0').includes(dir)) return p;
      } catch { /* gone */ }
    }
    if (Date.now() > end) throw new Error('respawned agent not found');
    await sleep(20);
  }
}

async function stopPid(pid: number): Promise<void> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  for (let i = 0; i < 500 && existsSync(`/proc/${pid}`); i++) {
    const st = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '')[0];
    if (st === 'Z') return; // exited, not yet reaped by its parent
    await sleep(20);
  }
  try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
}

class Bench {
  acs!: ScriptedAcs;
  broker?: Mosquitto;
  private readonly dirs: string[] = [];
  private readonly pids = new Set<number>();

  async setup() {
    this.acs = await new ScriptedAcs().start();
    try {
      this.broker = await Mosquitto.start();
    } catch (e) {
      console.log(`(no mosquitto: ${(e as Error).message}; USP measured without an MQTT connection)`);
    }
  }

  async teardown() {
    for (const p of this.pids) await stopPid(p);
    // Agents a reboot respawned that a failed run left behind.
    for (const d of this.dirs) await findAgent(d, -1, 0).then(stopPid, () => undefined);
    await this.acs.stop();
    await this.broker?.stop();
    for (const d of this.dirs) rmSync(d, { recursive: true, force: true });
  }

  newDir(): string {
    const d = mkdtempSync(join(tmpdir(), 'ts-footprint-'));
    this.dirs.push(d);
    return d;
  }

  /** The agent's config file for a set of faces, every listener on loopback and a free port. */
  config(dir: string, faces: readonly Face[]): string {
    const on = (f: Face) => faces.includes(f);
    const cfg = {
      log: { level: 'warn' },
      cwmp: on('cwmp') ? { connectionRequest: { port: 0 }, factoryDefaults: { url: this.acs.url, periodicInformEnable: false } } : { enable: false },
      usp: on('usp') && this.broker ? {
        onBoardRequest: false,
        broker: { host: '127.0.0.1', port: this.broker.port },
        controller: { endpointId: 'proto::footprint', topic: '/usp/controller/footprint' },
      } : {},
      snmp: on('snmp') ? { port: 0 } : { enable: false },
      web: on('web') ? { port: 0, adminPassword: 'footprint-bench' } : { enable: false },
    };
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify(cfg));
    return file;
  }

  /** Starts the agent; resolves once it answers on its CLI (and, with CWMP, once the boot session ended). */
  async start(dir: string, faces: readonly Face[]) {
    const cwmp = faces.includes('cwmp');
    const inform = cwmp ? this.acs.nextInform().then(() => performance.now()) : undefined;
    const session = cwmp ? this.acs.nextSession() : undefined;
    const t0 = performance.now();
    const proc = spawn(process.execPath, [...FLAGS, ...ENTRY, '--config', this.config(dir, faces), '--data-dir', dir], { stdio: ['ignore', 'ignore', 'pipe'], cwd: ROOT });
    let stderr = '';
    proc.stderr!.on('data', (d) => { stderr += d; });
    this.pids.add(proc.pid!);
    const socket = join(dir, 'twinstack.sock');
    let cliMs: number;
    try {
      cliMs = await firstCliAnswer(socket, t0, proc);
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${stderr}`);
    }
    const informMs = inform ? (await inform) - t0 : NaN;
    await session;
    return { proc, pid: proc.pid!, socket, cliMs, informMs };
  }

  async stop(pid: number) {
    await stopPid(pid);
    this.pids.delete(pid);
  }

  /** One full CWMP session (GPN "Device." + GPV of every parameter), started by an active notification. */
  async fullSession(pid: number, socket: string, n: number): Promise<{ peak: number; params: number; ms: number }> {
    let params = 0;
    this.acs.onSession(async (s) => {
      const gpn = await s.call('GetParameterNames', '<ParameterPath>Device.</ParameterPath><NextLevel>false</NextLevel>');
      const leaves = arr(gpn.body.ParameterList.ParameterInfoStruct).map((p: any) => text(p.Name)).filter((x: string) => !x.endsWith('.'));
      const gpv = await s.call('GetParameterValues', names(leaves));
      params = arr(gpv.body.ParameterList.ParameterValueStruct).length;
    });
    const done = this.acs.nextSession();
    const exact = resetPeak(pid);
    let sampled = mem(pid).rss;
    const sampler = setInterval(() => { sampled = Math.max(sampled, mem(pid).rss); }, 10);
    const t0 = performance.now();
    await cliOk(socket, { cmd: 'set', values: { 'Device.DeviceInfo.ProvisioningCode': `fp-${n}` } });
    await done;
    const ms = performance.now() - t0;
    clearInterval(sampler);
    const m = mem(pid);
    return { peak: Math.max(exact ? m.hwm : 0, sampled, m.rss), params, ms };
  }

  async addInterfaces(socket: string, count: number) {
    for (let i = 1; i <= count; i++) {
      const ifp = await cliOk(socket, { cmd: 'add', table: 'Device.IP.Interface.', values: { Alias: `bench${i}`, Enable: 'true' } }) as string;
      await cliOk(socket, { cmd: 'add', table: `${ifp}IPv4Address.`, values: { IPAddress: `198.51.100.${(i % 250) + 1}`, SubnetMask: '255.255.255.0' } });
      await cliOk(socket, { cmd: 'add', table: `${ifp}IPv6Address.`, values: { IPAddress: `2001:db8:${i.toString(16)}::1` } });
      await cliOk(socket, { cmd: 'add', table: `${ifp}IPv6Prefix.`, values: { Prefix: `2001:db8:${i.toString(16)}::/64` } });
    }
  }

  /**
   * The library floor (bench/lib-floor.mjs): the agent's libraries loaded and used once each, none of its own
   * code, with the agent's flags; read BENCH_SETTLE_MS after it is up, as the agent's idle RSS.
   */
  async floor(): Promise<Mem> {
    if (!this.broker) return { rss: NaN, anon: NaN, file: NaN, hwm: NaN };
    const p = spawn(process.execPath, [...FLAGS, join(ROOT, 'bench/lib-floor.mjs'), String(this.broker.port)], { stdio: ['ignore', 'pipe', 'inherit'] });
    this.pids.add(p.pid!);
    try {
      await new Promise((resolve, reject) => {
        p.stdout!.once('data', resolve);
        p.once('exit', (code) => reject(new Error(`bench/lib-floor.mjs exited (${code})`)));
      });
      await sleep(SETTLE_MS);
      return mem(p.pid!);
    } finally {
      await this.stop(p.pid!);
    }
  }

  /** Bare node, 1 s after it runs (it says so on stdout). */
  async bare(flags: string[]): Promise<Mem> {
    const p = spawn(process.execPath, [...flags, '-e', 'setInterval(()=>{},1000); console.log("up")'], { stdio: ['ignore', 'pipe', 'ignore'] });
    await new Promise((r) => p.stdout!.once('data', r));
    await sleep(1000);
    const m = mem(p.pid!);
    p.kill();
    return m;
  }
}

interface Run {
  bare: Mem;
  bareFlags: Mem;
  floor: Mem;
  first: { cliMs: number; informMs: number };
  restart: { cliMs: number; informMs: number };
  idle: Mem;
  small: { peak: number; params: number; ms: number };
  large: { peak: number; params: number; ms: number };
  rebootCliMs: number;
  rebootRpcMs: number;
  faces: Record<Face | 'none', Mem>;
}

async function oneRun(b: Bench, run: number): Promise<Run> {
  const bare = await b.bare([]);
  const bareFlags = await b.bare(FLAGS);
  const floor = await b.floor();

  // Every face: first start, restart, idle, the two sessions, the two reboots.
  const dir = b.newDir();
  let a = await b.start(dir, FACES);
  const first = { cliMs: a.cliMs, informMs: a.informMs };
  await cliOk(a.socket, { cmd: 'attrs', paths: ['Device.DeviceInfo.ProvisioningCode'], set: { notification: 2 } });
  await b.stop(a.pid);
  a = await b.start(dir, FACES);
  const restart = { cliMs: a.cliMs, informMs: a.informMs };
  await sleep(SETTLE_MS);
  const idle = mem(a.pid);
  const small = await b.fullSession(a.pid, a.socket, run * 10 + 1);
  await b.addInterfaces(a.socket, INTERFACES);
  await sleep(1000);
  const large = await b.fullSession(a.pid, a.socket, run * 10 + 2);

  // Reboot from the CLI: the command to the "1 BOOT" Inform of the agent that takes over.
  let bootSession = b.acs.nextSession();
  let boot = informWith(b.acs, '1 BOOT');
  const t0 = performance.now();
  await cli(a.socket, { cmd: 'operate', path: 'Device.Reboot()' }).catch(() => undefined); // the agent may go first
  await boot;
  const rebootCliMs = performance.now() - t0;
  const pid = await findAgent(dir, a.pid);
  await b.stop(a.pid);
  await bootSession;

  // Reboot from the ACS: RebootResponse to the "1 BOOT" Inform.
  let responded = 0;
  b.acs.onSession(async (s) => {
    await s.call('Reboot', '<CommandKey>footprint</CommandKey>');
    responded = performance.now();
  });
  const rpcSession = b.acs.nextSession();
  bootSession = b.acs.nextSession();
  boot = informWith(b.acs, '1 BOOT');
  await cliOk(a.socket, { cmd: 'set', values: { 'Device.DeviceInfo.ProvisioningCode': `fp-${run}-rpc` } });
  await boot;
  const rebootRpcMs = performance.now() - responded;
  const last = await findAgent(dir, pid);
  await rpcSession;
  await bootSession;
  await b.stop(pid);
  await b.stop(last);

  // Per face: restarted (not a first start), idle.
  const faces = {} as Run['faces'];
  for (const set of (PER_FACE ? [[], ...FACES.map((f) => [f])] : []) as Face[][]) {
    const d = b.newDir();
    const x = await b.start(d, set);
    await b.stop(x.pid);
    const y = await b.start(d, set);
    await sleep(SETTLE_MS);
    faces[set[0] ?? 'none'] = mem(y.pid);
    await b.stop(y.pid);
  }
  return { bare, bareFlags, floor, first, restart, idle, small, large, rebootCliMs, rebootRpcMs, faces };
}

const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
const span = (xs: number[], digits = 1) => `${med(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}-${Math.max(...xs).toFixed(digits)})`;

const b = new Bench();
await b.setup();
const runs: Run[] = [];
try {
  for (let r = 0; r < RUNS; r++) {
    runs.push(await oneRun(b, r));
    process.stderr.write(`run ${r + 1}/${RUNS} done\n`);
  }
} finally {
  await b.teardown();
}

const col = <T>(f: (r: Run) => T) => runs.map(f) as unknown as number[];
const what = TSX ? 'src/main.ts through tsx' : 'dist/main.js';
console.log(`footprint: node ${process.version}, agent ${what}, flags ${FLAGS.join(' ') || '(none)'}; ${RUNS} runs, median (min-max), MiB and ms`);
console.log(`bare node (node -e "setInterval(()=>{},1000)"): RSS ${span(col((r) => r.bare.rss))}, anon ${span(col((r) => r.bare.anon))}; with the agent's flags: RSS ${span(col((r) => r.bareFlags.rss))}`);
console.log(`library floor (bench/lib-floor.mjs: the agent's libraries used once each, no agent code, the agent's flags, read as idle): RSS ${span(col((r) => r.floor.rss))}, anon ${span(col((r) => r.floor.anon))}`);
console.log(`idle, every face (CWMP, USP over MQTT, SNMP, web, CLI), simulated WAN: RSS ${span(col((r) => r.idle.rss))} (target <= 60), anon ${span(col((r) => r.idle.anon))}, file ${span(col((r) => r.idle.file))}; bare node + ${(med(col((r) => r.idle.rss)) - med(col((r) => r.bare.rss))).toFixed(1)}`);
console.log(`peak during a full CWMP session (GPN Device. + GPV of all): agent tree (${runs[0].small.params} parameters) ${span(col((r) => r.small.peak))} in ${span(col((r) => r.small.ms), 0)} ms; +${INTERFACES} IP interfaces (${runs[0].large.params} parameters) ${span(col((r) => r.large.peak))} (target <= 90) in ${span(col((r) => r.large.ms), 0)} ms`);
const none = PER_FACE ? med(col((r) => r.faces.none.rss)) : NaN;
if (PER_FACE) console.log(`per face (only that face minus none; none ${none.toFixed(1)}, CLI and the simulated WAN always on): ${FACES.map((f) => `${f} +${(med(col((r) => r.faces[f].rss)) - none).toFixed(1)}`).join(', ')}${b.broker ? '' : ' (usp without MQTT)'}`);
console.log(`start-up to the first CLI answer: first start ${span(col((r) => r.first.cliMs), 0)}, restart ${span(col((r) => r.restart.cliMs), 0)} (target <= 1000)`);
console.log(`start-up to the first Inform at the ACS: first start (0 BOOTSTRAP) ${span(col((r) => r.first.informMs), 0)}, restart (1 BOOT) ${span(col((r) => r.restart.informMs), 0)} (target <= 1000)`);
console.log(`Reboot to the "1 BOOT" Inform: CLI operate Device.Reboot() ${span(col((r) => r.rebootCliMs), 0)}, CWMP Reboot (from RebootResponse) ${span(col((r) => r.rebootRpcMs), 0)} (target <= 2000)`);
