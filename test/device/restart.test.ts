// Restart in place and start-up faults of the faces (src/device/restart.ts, src/main.ts, src/startup.ts): which
// restart a supervisor gets; without one, the successor the agent starts itself (same process group, opening the
// data directory and the same ports only once the old process is gone); a port in use is one line and a status.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { restartMode, type RestartContext } from '../../src/device/restart.ts';
import { EXIT_LISTEN, EXIT_PORT_IN_USE } from '../../src/startup.ts';
import { waitFor } from '../wait.ts';
import { alive, AgentRun, cliRequest, QUIET_FACES } from './agent.ts';

test('restartMode: a supervisor gets an exit, anything else a successor', () => {
  const ctx = (env: NodeJS.ProcessEnv, o: Partial<RestartContext> = {}): RestartContext => ({ env, pid: 4242, ppid: 4000, parentName: () => 'bash', ...o });
  const table: [string, RestartContext, 'exit' | 'exec', string][] = [
    ['nothing known: a shell, npm start', ctx({}), 'exec', 'no supervisor'],
    ['the restart setting', ctx({}, { setting: 'exit' }), 'exit', 'configured (restart)'],
    ['the setting wins over detection', ctx({ NOTIFY_SOCKET: '/run/systemd/notify' }, { setting: 'exec' }), 'exec', 'configured (restart)'],
    ['TWINSTACK_RESTART=exit', ctx({ TWINSTACK_RESTART: 'exit' }), 'exit', 'TWINSTACK_RESTART'],
    ['TWINSTACK_RESTART=exec under systemd', ctx({ TWINSTACK_RESTART: 'exec', NOTIFY_SOCKET: '/run/systemd/notify' }), 'exec', 'TWINSTACK_RESTART'],
    ['TWINSTACK_RESTART of no meaning is ignored', ctx({ TWINSTACK_RESTART: 'maybe' }), 'exec', 'no supervisor'],
    ['TWINSTACK_SUPERVISED=1 (deploy files of 0.1)', ctx({ TWINSTACK_SUPERVISED: '1' }), 'exit', 'TWINSTACK_SUPERVISED'],
    ['systemd Type=notify', ctx({ NOTIFY_SOCKET: '/run/systemd/notify', INVOCATION_ID: 'abc' }), 'exit', 'systemd (NOTIFY_SOCKET)'],
    ['systemd started this process', ctx({ INVOCATION_ID: 'abc', SYSTEMD_EXEC_PID: '4242' }), 'exit', 'systemd (SYSTEMD_EXEC_PID)'],
    ['systemd started its parent (bin/start.js)', ctx({ INVOCATION_ID: 'abc', SYSTEMD_EXEC_PID: '4000' }), 'exit', 'systemd (SYSTEMD_EXEC_PID)'],
    ['a terminal of a desktop session (a systemd user unit)', ctx({ INVOCATION_ID: 'abc', SYSTEMD_EXEC_PID: '1234' }), 'exec', 'no supervisor'],
    ['INVOCATION_ID alone', ctx({ INVOCATION_ID: 'abc' }), 'exec', 'no supervisor'],
    ['PID 1 of a container', ctx({}, { pid: 1, ppid: 0 }), 'exit', 'PID 1'],
    ['procd (OpenWrt)', ctx({}, { ppid: 1, parentName: () => 'procd' }), 'exit', 'procd'],
  ];
  for (const [what, c, mode, why] of table) assert.deepEqual(restartMode(c), { mode, why }, what);
});

async function tcpPort(): Promise<Server> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  return s;
}

async function udpPort(): Promise<UdpSocket> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  return s;
}

const close = (s: Server | UdpSocket) => new Promise<void>((r) => (s as Server).close(() => r()));
const tcp = (s: Server) => (s.address() as AddressInfo).port;
/** Process group and session of a process (proc(5) stat fields 5 and 6). */
/** Parent pid of a process (proc(5) stat field 4). */
const parentOf = (pid: number) => Number(readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ')[1]);
const groupOf = (pid: number) => readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ').slice(2, 4).map(Number);

test('no supervisor: Reboot() starts the successor in the same process group, on the same ports once the old agent is gone', async (t) => {
  // Fixed ports (taken and freed here): the successor must bind exactly what its predecessor held.
  const [web, snmp] = [await tcpPort(), await udpPort()];
  const ports = [tcp(web), snmp.address().port];
  await close(web);
  await close(snmp);
  const a = new AgentRun(['--wan.mode=simulated', '--cwmp.enable=false', '--web.address=127.0.0.1', `--web.port=${ports[0]}`, '--snmp.address=127.0.0.1', `--snmp.port=${ports[1]}`]);
  t.after(() => a.stop());
  const first = await a.running(1);
  assert.equal(first.pid, a.first.pid);
  assert.deepEqual([first.restart, first.restartBy], ['exec', 'no supervisor']);
  const firstExit = new Promise<number | null>((r) => a.first.once('exit', (code) => r(code)));

  for (const n of [2, 3]) {
    const before = a.pid;
    await a.cli({ cmd: 'operate', path: 'Device.Reboot()' });
    const next = await a.running(n);
    assert.notEqual(next.pid, before);
    assert.equal(next.predecessor, before, 'the successor waited for its predecessor');
    assert.equal(alive(before), false);
    // Not detached: the process group and session of the agent first started (the test's own).
    assert.deepEqual(groupOf(next.pid), groupOf(process.pid), `successor #${n - 1}`);
    assert.deepEqual((await a.cli({ cmd: 'get', paths: ['Device.DeviceInfo.SoftwareVersion'] })).ok, true);
  }
  assert.equal(await firstExit, 0);
  // Spawned before the old agent stopped (it loads meanwhile), yet nothing was contended: no port or lock error.
  const lines = a.lines().filter((l) => l.pid === first.pid).map((l) => l.msg);
  assert.ok(lines.indexOf('successor started') < lines.indexOf('stopping'), lines.join(', '));
  assert.equal(a.stderr, '');
  assert.deepEqual(a.lines().filter((l) => (l.level as number) >= 50).map((l) => l.msg), []);
});

test('a face that cannot listen: one line naming it, its address and port; its own exit status; no stack trace', async (t) => {
  const web = await tcpPort();
  const cr = await tcpPort();
  const snmp = await udpPort();
  t.after(() => Promise.all([close(web), close(cr), close(snmp)]));
  const base = ['--wan.mode=simulated', '--cwmp.enable=false', '--web.address=127.0.0.1', '--web.port=0', '--snmp.address=127.0.0.1', '--snmp.port=0'];
  const cases: [string, string[], number, string][] = [
    ['web', [...base, `--web.port=${tcp(web)}`], EXIT_PORT_IN_USE,
      `twinstack: web server: cannot listen on 127.0.0.1:${tcp(web)}: address already in use (EADDRINUSE); stop the program using it or change web.address and web.port\n`],
    ['CWMP connection requests', [...base, '--cwmp.enable=true', '--cwmp.connectionRequest.address=127.0.0.1', `--cwmp.connectionRequest.port=${tcp(cr)}`], EXIT_PORT_IN_USE,
      `twinstack: CWMP connection request server: cannot listen on 127.0.0.1:${tcp(cr)}: address already in use (EADDRINUSE); stop the program using it or change cwmp.connectionRequest.address and .port\n`],
    ['SNMP', [...base, `--snmp.port=${snmp.address().port}`], EXIT_PORT_IN_USE,
      `twinstack: SNMP agent: cannot listen on 127.0.0.1:${snmp.address().port}: address already in use (EADDRINUSE); stop the program using it or change snmp.address and snmp.port\n`],
    // TEST-NET-1 (RFC 5737): on no interface of this host.
    ['web on an address of another host', [...base, '--web.address=192.0.2.1', '--web.port=8080'], EXIT_LISTEN,
      'twinstack: web server: cannot listen on 192.0.2.1:8080: address not available on this host (EADDRNOTAVAIL); change web.address and web.port\n'],
  ];
  for (const [face, args, status, line] of cases) {
    const a = new AgentRun(args);
    const code = await new Promise<number | null>((r) => a.first.once('exit', (c) => r(c)));
    await waitFor('stderr closed', async () => a.first.stderr!.readableEnded || a.first.stderr!.destroyed, 2000).catch(() => undefined);
    assert.equal(a.stderr, line, face);
    assert.equal(code, status, face);
    // The faces started before it were stopped: the CLI socket is gone, the data directory unlocked.
    assert.equal(existsSync(a.socket), false, face);
    await a.stop();
  }
});

test('bin/start.js on Node 20 (no process.execve): it supervises its agent; Reboot() is a new child of the same wrapper', {
  skip: typeof (process as { execve?: unknown }).execve === 'function' && 'process.execve: the wrapper becomes the agent',
}, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ts-start-'));
  const wrapper = spawn(process.execPath, [join(import.meta.dirname, '../../bin/twinstack.js'), 'start', '--data-dir', dir, ...QUIET_FACES],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH } });
  let out = '';
  wrapper.stdout!.on('data', (d) => { out += d; });
  wrapper.stderr!.on('data', (d) => { out += d; });
  t.after(() => { try { wrapper.kill('SIGKILL'); } catch { /* gone */ } rmSync(dir, { recursive: true, force: true }); });
  const running = () => out.split('\n').filter((l) => l.includes('"twinstack running"')).map((l) => JSON.parse(l) as { pid: number; restartBy: string });
  await waitFor('the agent under bin/start.js', async () => running().length === 1, 60_000);
  const first = running()[0];
  assert.equal(parentOf(first.pid), wrapper.pid);
  assert.equal(first.restartBy, 'TWINSTACK_RESTART');
  await cliRequest(join(dir, 'twinstack.sock'), { cmd: 'operate', path: 'Device.Reboot()' });
  await waitFor('the agent started again by bin/start.js', async () => running().length === 2, 30_000);
  const second = running()[1];
  assert.notEqual(second.pid, first.pid);
  assert.equal(parentOf(second.pid), wrapper.pid, 'a child of the wrapper, not an orphan');
  // The wrapper's stop ends the agent, and nothing is left.
  const exited = new Promise<number | null>((r) => wrapper.once('exit', (code) => r(code)));
  wrapper.kill('SIGTERM');
  assert.equal(await exited, 0);
  assert.equal(alive(second.pid), false);
});
