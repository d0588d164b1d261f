// The CLI against a running agent: `twinstack get/set/add/delete/attrs/names/dump`, exit codes and
// error text; and the embedded default (`npm start` equivalent) answering `twinstack get Device.DSLite.`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { DataModel, PluginHost } from '../../src/datamodel/index.ts';
import { cliPlugin } from '../../src/cli/server.ts';

const root = join(import.meta.dirname, '../..');
const bin = join(root, 'bin/twinstack.js');
// Asynchronous on purpose: the agent under test shares this process's event loop.
const cli = (socket: string, ...args: string[]): Promise<{ code: number; out: string; err: string }> =>
  new Promise((resolve) => {
    execFile(process.execPath, [bin, '--socket', socket, ...args], { encoding: 'utf8' }, (error, stdout, stderr) =>
      resolve({ code: error ? Number(error.code) : 0, out: stdout.trim(), err: stderr.trim() }));
  });

test('CLI commands against the agent socket', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ts-cli-'));
  const socket = join(dir, 'agent.sock');
  const dm = new DataModel({ file: ':memory:' });
  dm.add('Device.DSLite.InterfaceSetting.', 'system');
  const host = new PluginHost(dm, [cliPlugin(socket)], pino({ level: 'silent' }));
  await host.start();
  t.after(async () => { await host.stop(); dm.close(); rmSync(dir, { recursive: true, force: true }); });

  assert.equal(statSync(socket).mode & 0o777, 0o600);
  // [args, exit code, stdout (or stderr when failing) pattern]
  const table: [string[], number, RegExp][] = [
    [['get', 'Device.DSLite.'], 0, /^Device\.DSLite\.Enable=false\nDevice\.DSLite\.InterfaceSettingNumberOfEntries=1\nDevice\.DSLite\.InterfaceSetting\.1\.Enable=false/],
    [['set', 'Device.DSLite.Enable=maybe'], 1, /InvalidValue: Device\.DSLite\.Enable: "maybe" is not a boolean .*\(type boolean\)/],
    [['set', 'Device.DSLite.Enable=true', 'Device.DSLite.InterfaceSetting.1.Status=Enabled'], 1, /NotWritable/],
    [['get', 'Device.DSLite.Enable'], 0, /^Device\.DSLite\.Enable=false$/],
    [['set', 'Device.DSLite.Enable=true', 'Device.DSLite.InterfaceSetting.1.EndpointName=aftr.example.net'], 0, /^OK$/],
    [['get', 'Device.DSLite.Enable', 'Device.DSLite.InterfaceSetting.1.EndpointName'], 0, /^Device\.DSLite\.Enable=true\nDevice\.DSLite\.InterfaceSetting\.1\.EndpointName=aftr\.example\.net$/],
    [['add', 'Device.NAT.InterfaceSetting.', 'Enable=true'], 0, /^Device\.NAT\.InterfaceSetting\.1\.$/],
    [['add', 'Device.DSLite.InterfaceSetting.'], 1, /NotCreatable/],
    [['delete', 'Device.NAT.InterfaceSetting.1.'], 0, /^OK$/],
    [['delete', 'Device.NAT.InterfaceSetting.1.'], 1, /InvalidPath/],
    [['attrs', 'Device.DSLite.Enable', 'notification=2'], 0, /^Device\.DSLite\.Enable notification=2 accessList=$/],
    [['names', 'Device.DSLite.', '--next'], 0, /^Device\.DSLite\.Enable rw\nDevice\.DSLite\.InterfaceSettingNumberOfEntries ro\nDevice\.DSLite\.InterfaceSetting\. ro$/],
    [['set', 'Device.ManagementServer.Password=secret'], 0, /^OK$/],
    [['get', 'Device.ManagementServer.Password'], 0, /^Device\.ManagementServer\.Password=$/],
    [['get', 'Device.Nope.'], 1, /InvalidPath/],
    [['operate', 'Device.Reboot()'], 1, /NotSupported/],
    [['frobnicate'], 2, /unknown command/],
    [['set', 'novalue'], 2, /expected NAME=VALUE/],
  ];
  for (const [args, code, pattern] of table) {
    const r = await cli(socket, ...args);
    assert.equal(r.code, code, `${args.join(' ')}: ${r.err}`);
    assert.match(code === 0 ? r.out : r.err, pattern, args.join(' '));
  }
  assert.ok((await cli(socket, 'dump')).out.split('\n').length > 100);
  const gone = await cli(join(dir, 'nope.sock'), 'get', 'Device.');
  assert.equal(gone.code, 1);
  assert.match(gone.err, /cannot reach the agent/);
});

test('embedded default: the agent starts without root, network or config, and the CLI reads it', { timeout: 60_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ts-start-'));
  const agent = spawn(process.execPath, ['--import', 'tsx', join(root, 'src/main.ts'), '--data-dir', dir, '--web.port=0', '--snmp.port=0', '--cwmp.connectionRequest.port=0'],
    { stdio: ['ignore', 'pipe', 'pipe'], cwd: root });
  let log = '';
  agent.stdout.on('data', (d) => (log += d));
  agent.stderr.on('data', (d) => (log += d));
  t.after(() => { agent.kill('SIGKILL'); rmSync(dir, { recursive: true, force: true }); });
  const socket = join(dir, 'twinstack.sock');
  for (let i = 0; i < 200 && !/twinstack running/.test(log); i++) await new Promise((r) => setTimeout(r, 100));
  assert.match(log, /twinstack running/, log);
  assert.ok(existsSync(join(dir, 'twinstack.db')));
  const got = await cli(socket, 'get', 'Device.DSLite.');
  assert.equal(got.code, 0, got.err);
  assert.match(got.out, /^Device\.DSLite\.Enable=/m);
  assert.match((await cli(socket, 'get', 'Device.DeviceInfo.SoftwareVersion')).out, /^Device\.DeviceInfo\.SoftwareVersion=\d+\.\d+\.\d+$/);
  const bad = await cli(socket, 'set', 'Device.DSLite.Enable=maybe');
  assert.equal(bad.code, 1);
  assert.match(bad.err, /boolean/);
  agent.kill('SIGTERM');
  const code = await new Promise((r) => agent.on('exit', r));
  assert.equal(code, 0);
  assert.ok(!existsSync(socket), 'socket removed on a clean stop');
});
