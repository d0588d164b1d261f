// The deployment files (deploy/) run the agent under the supervisors they are written for, and the start path
// refuses what it cannot run. This machine runs the suite in a container without systemd as PID 1, so:
//  - systemd: `systemd-analyze verify` on the unit; a harness that runs the unit's own ExecStart, Environment
//    and Restart= rules (kill -9 -> started again and answering the CLI; Reboot() -> status 75 -> started again;
//    a stop or an invalid configuration -> not restarted) with a NOTIFY_SOCKET that must receive READY=1
//    (`systemd-run` needs systemd as PID 1, which this machine's container does not have);
//  - procd: the init script's start_service sourced with stubs for the procd and UCI functions, reading the
//    shipped UCI file; its command is run and respawned per its `respawn` parameters after kill -9;
//  - one V8 flag list everywhere (bin/start.js, package.json, the unit, the init script);
//  - a missing addon is a one-line start-up error naming the fix (status 10), never an AFTR failure.
// The agent is the compiled one (dist/, npm install builds it), on the simulated WAN, every port 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAIN, NODE_FLAGS } from '../bin/start.js';
import { loadConfig } from '../src/config.ts';
import { cliRequest } from './cli-client.ts';
import { sleep, waitFor } from './wait.ts';

const ROOT = join(import.meta.dirname, '..');
const UNIT = join(ROOT, 'deploy/twinstack.service');
const INIT = join(ROOT, 'deploy/openwrt/twinstack.init');
const UCI = join(ROOT, 'deploy/openwrt/twinstack.config');
/** Loopback, free ports, simulated WAN: what the tests add to a deployment's own arguments. */
const TEST_FLAGS = ['--wan.mode=simulated', '--cwmp.connectionRequest.port=0', '--snmp.port=0', '--web.port=0', '--web.address=127.0.0.1', '--snmp.address=127.0.0.1'];

function tmp(t: { after(fn: () => unknown): void }, name: string): string {
  const d = mkdtempSync(join(tmpdir(), `ts-deploy-${name}-`));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

const cli = (socket: string, req: Record<string, unknown>) => cliRequest(socket, req, 5000);

const answers = (socket: string) => waitFor('the agent answering its CLI', async () =>
  cli(socket, { cmd: 'get', paths: ['Device.DeviceInfo.UpTime'] }).then((r) => r.ok, () => false), 30_000, 50);

/** [Service] settings of a unit file, each key with its values in order. */
function serviceSection(file: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let inService = false;
  for (const raw of readFileSync(file, 'utf8').split('\n')) {
    const line = raw.trim();
    if (line.startsWith('[')) inService = line === '[Service]';
    if (!inService || !line || line.startsWith('#') || !line.includes('=')) continue;
    const i = line.indexOf('=');
    out.set(line.slice(0, i), [...(out.get(line.slice(0, i)) ?? []), line.slice(i + 1)]);
  }
  return out;
}

/** Exit of one supervised process: status or signal. */
type Exit = { code: number | null; signal: NodeJS.Signals | null };

/**
 * A supervisor: runs `argv`, and when it ends asks `policy` whether (and after how long) to start it again.
 * `stop()` is the supervisor's own stop: SIGTERM, never restarted.
 */
class Supervisor {
  readonly starts: number[] = [];
  readonly exits: Exit[] = [];
  /** performance.now() of each start and each exit. */
  readonly startTimes: number[] = [];
  readonly exitTimes: number[] = [];
  private startedAt = 0;
  private proc?: ChildProcess;
  private stopped = false;
  stderr = '';
  /** The agents' JSON log lines, every process's. */
  stdout = '';

  /** `policy(exit, ranMs)`: ms before the next start, or null to stay down. */
  constructor(private readonly argv: string[], private readonly env: NodeJS.ProcessEnv, private readonly policy: (e: Exit, ranMs: number) => number | null) {}

  start(): void {
    const p = spawn(this.argv[0], this.argv.slice(1), { env: this.env, stdio: ['ignore', 'pipe', 'pipe'] });
    p.stdout!.on('data', (d) => { this.stdout += d; });
    this.proc = p;
    this.starts.push(p.pid!);
    this.startTimes.push(performance.now());
    this.startedAt = Date.now();
    p.stderr!.on('data', (d) => { this.stderr += d; });
    p.on('exit', (code, signal) => {
      this.exits.push({ code, signal });
      this.exitTimes.push(performance.now());
      if (this.stopped) return;
      const delay = this.policy({ code, signal }, Date.now() - this.startedAt);
      if (delay !== null) setTimeout(() => { if (!this.stopped) this.start(); }, delay);
    });
  }

  get pid(): number {
    return this.proc!.pid!;
  }

  /** Resolves when the current process has started every face ("twinstack running"). */
  ready(): Promise<unknown> {
    const pid = this.pid;
    return waitFor(`process ${pid} running`, async () => this.stdout.split('\n').some((l) => l.includes('"twinstack running"') && l.includes(`"pid":${pid},`)), 30_000, 20);
  }

  /** Resolves when a process after the `n`th has started. */
  startedAfter(n: number): Promise<number> {
    return waitFor(`start #${n + 1}`, async () => this.starts[n], 15_000, 20);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    await new Promise<void>((r) => { p.once('exit', () => r()); p.kill('SIGTERM'); });
  }
}

/** A systemd time span (systemd.time(7)): "1", "1.5s", "100ms", "1min 30s"; seconds without a unit. */
function timespanMs(span: string): number {
  const unit: Record<string, number> = { us: 0.001, ms: 1, '': 1000, s: 1000, sec: 1000, m: 60_000, min: 60_000 };
  let ms = 0;
  for (const m of span.matchAll(/([\d.]+)\s*([a-z]*)/g)) {
    assert.ok(m[2] in unit, `time span unit "${m[2]}" in ${span}`);
    ms += Number(m[1]) * unit[m[2]];
  }
  return ms;
}

/** systemd's Restart= decision (systemd.service(5)) for the settings of the unit; null: stays down. */
function systemdPolicy(svc: Map<string, string[]>): (e: Exit) => number | null {
  const list = (k: string) => (svc.get(k) ?? []).flatMap((v) => v.split(/\s+/)).filter(Boolean).map(Number);
  const success = [0, ...list('SuccessExitStatus')];
  const prevent = list('RestartPreventExitStatus');
  const force = list('RestartForceExitStatus');
  const restart = svc.get('Restart')?.[0] ?? 'no';
  const delayMs = timespanMs(svc.get('RestartSec')?.[0] ?? '100ms');
  return ({ code, signal }) => {
    if (code !== null && prevent.includes(code)) return null;
    if (code !== null && force.includes(code)) return delayMs;
    const clean = signal === null ? success.includes(code!) : ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGPIPE'].includes(signal);
    if (restart === 'always' || (restart === 'on-failure' && !clean)) return delayMs;
    return null;
  };
}

/**
 * A NOTIFY_SOCKET (AF_UNIX datagrams, which Node cannot receive) served by python3 as systemd would: each
 * message printed, file descriptors passed with it (systemd-notify's barrier) closed.
 */
function notifyListener(path: string): { messages: () => string; stop: () => void } | null {
  if (spawnSync('python3', ['--version']).status !== 0) return null;
  const py = `
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("listening", flush=True)
while True:
    msg, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(16 * 4))
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            for i in range(0, len(data) - len(data) % 4, 4):
                os.close(int.from_bytes(data[i:i + 4], sys.byteorder))
    print(msg.decode().replace("\\n", " "), flush=True)
`;
  const p = spawn('python3', ['-c', py, path], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  p.stdout!.on('data', (d) => { out += d; });
  return { messages: () => out, stop: () => p.kill() };
}

test('one V8 flag list: bin/start.js, npm start, the systemd unit, the procd init script', () => {
  const flags = NODE_FLAGS.join(' ');
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  assert.equal(pkg.scripts.start, `node ${flags} dist/main.js`);
  assert.match(serviceSection(UNIT).get('ExecStart')![0], new RegExp(`^/usr/bin/node ${flags} /opt/twinstack/dist/main\\.js `));
  assert.match(readFileSync(INIT, 'utf8'), new RegExp(`^NODE_FLAGS="${flags}"$`, 'm'));
  assert.ok(existsSync(MAIN), 'dist/main.js is built (npm install runs tools/build.js)');
});

test('systemd unit: systemd-analyze verify', { skip: process.env.CI !== 'true' && spawnSync('systemd-analyze', ['--version']).status !== 0 && 'no systemd-analyze' }, () => {
  const r = spawnSync('systemd-analyze', ['verify', UNIT], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr.split('\n').filter((l) => l.includes('twinstack.service')).join('\n'), '', 'no warning about the unit');
});

test('systemd unit: ExecStart under its Restart= rules: kill -9, Reboot(), stop, invalid config', async (t) => {
  const dir = tmp(t, 'systemd');
  const svc = serviceSection(UNIT);
  const config = join(dir, 'twinstack.json');
  writeFileSync(config, '{}');
  const data = join(dir, 'data');
  const argv = svc.get('ExecStart')![0].split(/\s+/).map((a) => a
    .replace(/^\/usr\/bin\/node$/, process.execPath)
    .replace('/opt/twinstack/', `${ROOT}/`)
    .replace('/etc/twinstack/twinstack.json', config)
    .replace('/var/lib/twinstack', data));
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH };
  for (const e of svc.get('Environment') ?? []) env[e.slice(0, e.indexOf('='))] = e.slice(e.indexOf('=') + 1);
  const notify = notifyListener(join(dir, 'notify'));
  if (notify) {
    t.after(() => notify.stop());
    await waitFor('the notify socket', async () => existsSync(join(dir, 'notify')));
    env.NOTIFY_SOCKET = join(dir, 'notify');
  }
  mkdirSync(data, { mode: 0o700 }); // StateDirectory=
  const sup = new Supervisor([...argv, ...TEST_FLAGS], env, systemdPolicy(svc));
  t.after(() => sup.stop());
  const socket = join(data, 'twinstack.sock');

  sup.start();
  await answers(socket);
  if (notify) await waitFor('READY=1 from systemd-notify', async () => notify.messages().includes(`READY=1 MAINPID=${sup.pid}`), 10_000);

  // A crash (SIGKILL) is a failure: started again after RestartSec.
  process.kill(sup.pid, 'SIGKILL');
  await sup.startedAfter(1);
  await answers(socket);
  assert.deepEqual(sup.exits[0], { code: null, signal: 'SIGKILL' });

  // Reboot(): the agent stops with 75 (RestartForceExitStatus) and systemd starts it, no detached respawn.
  // Promptly (bench/footprint.ts: Reboot to the "1 BOOT" Inform within 2 s): the agent's own stop and the
  // unit's restart delay are each bounded here; the start-up itself is the bench's to measure.
  await sup.ready();
  const t0 = performance.now();
  await cli(socket, { cmd: 'operate', path: 'Device.Reboot()' }).catch(() => undefined);
  await sup.startedAfter(2);
  await answers(socket);
  assert.deepEqual(sup.exits[1], { code: 75, signal: null });
  assert.equal(sup.starts.length, 3);
  promptly(t, sup, t0, 1, 'systemd');

  // systemctl stop: SIGTERM, status 0, stays down.
  await sup.stop();
  assert.deepEqual(sup.exits[2], { code: 0, signal: null });

  // An invalid configuration (status 2) is not restarted: RestartPreventExitStatus.
  writeFileSync(config, '{"web": {"port": "eighty"}}');
  const bad = new Supervisor([...argv, '--wan.mode=simulated'], env, systemdPolicy(svc));
  bad.start();
  await waitFor('the invalid configuration to end the agent', async () => bad.exits.length === 1, 15_000);
  await sleep(timespanMs(svc.get('RestartSec')![0]) + 500);
  assert.deepEqual(bad.exits, [{ code: 2, signal: null }]);
  assert.equal(bad.starts.length, 1);
  assert.match(bad.stderr, /web\/port must be integer/);
});

/**
 * A Reboot() requested at `t0` (the agent fully started) ended run `n` (0-based) and the supervisor started the
 * next one promptly: the agent's stop within 1 s (it takes tens of ms; the margin is for a loaded machine), the
 * supervisor's delay (RestartSec=, procd's respawn timeout) within 0.2 s. Together they leave the 2 s of the
 * Reboot target to the start-up.
 */
function promptly(t: { diagnostic(m: string): void }, sup: Supervisor, t0: number, n: number, who: string) {
  const stopMs = sup.exitTimes[n] - t0;
  const delayMs = sup.startTimes[n + 1] - sup.exitTimes[n];
  t.diagnostic(`${who}: Reboot() to exit ${Math.round(stopMs)} ms, exit to the next start ${Math.round(delayMs)} ms, then the start-up`);
  assert.ok(stopMs < 1000, `Reboot() to the agent's exit: ${Math.round(stopMs)} ms`);
  assert.ok(delayMs < 200, `${who} restarted the agent ${Math.round(delayMs)} ms after its exit`);
}

/** Processes other than this one whose command line names `dir` (agents on that data directory). */
function agentsOn(dir: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc').filter((x) => /^\d+$/.test(x)).map(Number)) {
    try {
      if (p !== process.pid && readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').includes(dir)) out.push(p);
    } catch { /* gone */ }
  }
  return out;
}

test('a unit of its own, without TWINSTACK_RESTART: under systemd (NOTIFY_SOCKET) Reboot() exits 75, no process left behind', async (t) => {
  const dir = tmp(t, 'own-unit');
  const data = join(dir, 'data');
  // What systemd gives a Type=notify service (no listener: systemd-notify fails, which the agent only logs).
  const env = { PATH: process.env.PATH, NOTIFY_SOCKET: join(dir, 'notify'), INVOCATION_ID: '7f3c9a0e5b2d4c1f8e6a9b0c1d2e3f40' };
  const p = spawn(process.execPath, [...NODE_FLAGS, MAIN, '--data-dir', data, ...TEST_FLAGS], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  p.stderr!.on('data', (d) => { stderr += d; });
  t.after(() => { for (const pid of [p.pid!, ...agentsOn(data)]) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } });
  const exited = new Promise<Exit>((r) => p.once('exit', (code, signal) => r({ code, signal })));
  await answers(join(data, 'twinstack.sock'));
  await cli(join(data, 'twinstack.sock'), { cmd: 'operate', path: 'Device.Reboot()' }).catch(() => undefined);
  assert.deepEqual(await exited, { code: 75, signal: null }, stderr);
  await sleep(500);
  assert.deepEqual(agentsOn(data), [], 'no successor of its own: systemd restarts the unit');
});

/** Runs the init script's start_service with procd and UCI stubs; what it set, parameter by parameter. */
function procdParams(uciFile: string, env: NodeJS.ProcessEnv): Map<string, string[]> {
  const stubs = `
UCI_FILE="$1"
# UCI (/lib/functions.sh): options of section "main" read from the file.
config_load() { :; }
config_get() {
  local __v
  __v=$(awk -v o="$3" '$1 == "option" && $2 == o { sub(/^[ \\t]*option[ \\t]+[^ \\t]+[ \\t]+/, ""); gsub(/^'"'"'|'"'"'$/, ""); print; exit }' "$UCI_FILE")
  [ -n "$__v" ] || __v="$4"
  eval "$1=\\$__v"
}
config_get_bool() {
  local __b
  config_get __b "$2" "$3" "$4"
  case "$__b" in 1|on|true|yes|enabled) eval "$1=1" ;; *) eval "$1=0" ;; esac
}
# procd (/lib/functions/procd.sh): every value on its own line.
procd_open_instance() { :; }
procd_close_instance() { :; }
procd_set_param() { local k="$1"; shift; echo "set $k"; for a in "$@"; do printf 'arg %s\\n' "$a"; done; }
procd_append_param() { local k="$1"; shift; echo "append $k"; for a in "$@"; do printf 'arg %s\\n' "$a"; done; }
procd_add_reload_trigger() { :; }
. "$2"
start_service
`;
  const r = spawnSync('sh', ['-c', stubs, 'sh', uciFile, INIT], { encoding: 'utf8', env });
  assert.equal(r.status, 0, r.stderr);
  const params = new Map<string, string[]>();
  let key = '';
  for (const line of r.stdout.split('\n')) {
    const [op, ...rest] = line.split(' ');
    if (op === 'set' || op === 'append') {
      key = rest[0];
      if (op === 'set') params.set(key, []);
    } else if (op === 'arg') {
      params.get(key)!.push(rest.join(' '));
    }
  }
  return params;
}

/** The shipped UCI file with some options replaced. */
function uciWith(file: string, options: Record<string, string>): void {
  let text = readFileSync(UCI, 'utf8');
  for (const [k, v] of Object.entries(options)) text = text.replace(new RegExp(`^(\\s*)#?\\s*option ${k} .*$`, 'm'), `$1option ${k} '${v}'`);
  writeFileSync(file, text);
}

test('procd init script: UCI options become agent flags that the config schema accepts', (t) => {
  const dir = tmp(t, 'uci');
  const uci = join(dir, 'twinstack');
  const data = join(dir, 'data');
  uciWith(uci, { data_dir: data, cwmp_acs_url: 'https://acs.example.net/cwmp', config_file: join(dir, 'c.json') });
  writeFileSync(join(dir, 'c.json'), '{}');
  const p = procdParams(uci, { PATH: process.env.PATH, TWINSTACK_HOME: '/usr/lib/twinstack' });
  const cmd = p.get('command')!;
  const head = ['/usr/bin/node', ...NODE_FLAGS, '/usr/lib/twinstack/dist/main.js', '--data-dir', data, '--config', join(dir, 'c.json')];
  assert.deepEqual(cmd.slice(0, head.length), head);
  assert.ok(cmd.includes('--wan.mode=linux') && cmd.includes('--web.port=8080') && cmd.includes('--snmp.enable=true') && cmd.includes('--wan.lanFastPath=false'), cmd.join(' '));
  assert.ok(cmd.includes('--cwmp.factoryDefaults.url=https://acs.example.net/cwmp'));
  const config = loadConfig(cmd.slice(cmd.indexOf('--data-dir')));
  assert.equal(config.dataDir, data);
  assert.equal(config.wan.mode, 'linux');
  assert.equal(config.snmp.port, 161);
  assert.equal(config.web.enable, true);
  assert.equal((config.cwmp as { factoryDefaults: { url: string } }).factoryDefaults.url, 'https://acs.example.net/cwmp');
  assert.deepEqual(p.get('respawn'), ['60', '0', '5']);
  assert.deepEqual(p.get('env'), ['TWINSTACK_RESTART=exit']);
  assert.deepEqual([p.get('stdout'), p.get('stderr')], [['1'], ['1']]);
});

test('procd init script: the command it sets, respawned after kill -9 and after Reboot()', async (t) => {
  const dir = tmp(t, 'procd');
  const uci = join(dir, 'twinstack');
  const data = join(dir, 'data');
  uciWith(uci, {
    data_dir: data, wan_mode: 'simulated', cwmp_cr_address: '127.0.0.1', cwmp_cr_port: '0',
    snmp_address: '127.0.0.1', snmp_port: '0', web_address: '127.0.0.1', web_port: '0',
  });
  const p = procdParams(uci, { PATH: process.env.PATH, TWINSTACK_HOME: ROOT, NODE: process.execPath });
  assert.equal(statSync(data).mode & 0o777, 0o700);
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH };
  for (const e of p.get('env') ?? []) env[e.slice(0, e.indexOf('='))] = e.slice(e.indexOf('=') + 1);
  // procd's respawn: a run shorter than threshold s is a crash; after retry crashes it stays down; else it is
  // started again after timeout s.
  const [threshold, timeout, retry] = p.get('respawn')!.map(Number);
  let crashes = 0;
  const sup = new Supervisor(p.get('command')!, env, (_e, ranMs) => (ranMs < threshold * 1000 && ++crashes > retry ? null : timeout * 1000));
  t.after(() => sup.stop());
  const socket = join(data, 'twinstack.sock');
  sup.start();
  await answers(socket);

  process.kill(sup.pid, 'SIGKILL');
  await sup.startedAfter(1);
  await answers(socket);

  await sup.ready();
  const t0 = performance.now();
  await cli(socket, { cmd: 'operate', path: 'Device.Reboot()' }).catch(() => undefined);
  await sup.startedAfter(2);
  await answers(socket);
  assert.deepEqual(sup.exits, [{ code: null, signal: 'SIGKILL' }, { code: 75, signal: null }]);
  promptly(t, sup, t0, 1, 'procd');

  // /etc/init.d/twinstack stop: SIGTERM, not respawned.
  await sup.stop();
  assert.equal(sup.starts.length, 3);
});

test('a Linux WAN start without its native addon: one line naming the fix, status 10', {
  skip: process.env.CI !== 'true' && spawnSync('unshare', ['-n', 'true']).status !== 0 && 'no network namespace (unshare -n) to keep a Linux WAN start off this host',
}, async (t) => {
  // A copy of the package without build/: the agent must stop before it touches any interface (it runs in a
  // network namespace of its own all the same).
  const dir = tmp(t, 'addon');
  cpSync(join(ROOT, 'dist'), join(dir, 'dist'), { recursive: true });
  cpSync(join(ROOT, 'schema'), join(dir, 'schema'), { recursive: true });
  cpSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  const r = spawnSync('unshare', ['-n', process.execPath, join(dir, 'dist/main.js'), '--data-dir', join(dir, 'data'), '--wan.mode=linux', ...TEST_FLAGS.slice(1)], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 10, r.stderr);
  assert.equal(r.stderr, 'twinstack: build/Release/forwarder.node is missing: run `npm run build:addons`\n');
});

test('tools/build-addons.js: built addons whose sources are unchanged are not built again', () => {
  const addon = join(ROOT, 'build/Release/forwarder.node');
  spawnSync(process.execPath, [join(ROOT, 'tools/build-addons.js')], { encoding: 'utf8' });
  const before = statSync(addon);
  const r = spawnSync(process.execPath, [join(ROOT, 'tools/build-addons.js')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'build-addons: up to date');
  const after = statSync(addon);
  assert.deepEqual([after.ino, after.mtimeMs], [before.ino, before.mtimeMs]);
});
