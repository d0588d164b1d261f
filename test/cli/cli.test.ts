// The CLI against a running agent: `twinstack get/set/add/delete/attrs/names/dump`, exit codes and
// error text; requests no agent should die of (issue 18); and the embedded default (`npm start`
// equivalent) answering `twinstack get Device.DSLite.`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pino from 'pino';
import { DataModel, DmError, PluginHost } from '../../src/datamodel/index.ts';
import { cliError, cliPlugin, MAX_LINE } from '../../src/cli/server.ts';

const root = join(import.meta.dirname, '../..');
const bin = join(root, 'bin/twinstack.js');
// Asynchronous on purpose: the agent under test shares this process's event loop.
const cli = (socket: string, ...args: string[]): Promise<{ code: number; out: string; err: string }> =>
  new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args, '--socket', socket], { encoding: 'utf8' }, (error, stdout, stderr) =>
      resolve({ code: error ? Number(error.code) : 0, out: stdout.trim(), err: stderr.trim() }));
  });

/** Sends raw bytes on one connection and collects the reply lines until `replies` arrived or the agent closed. */
function exchange(socket: string, data: string | Buffer, replies: number): Promise<{ lines: unknown[]; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const s = connect(socket);
    let buf = '';
    const lines: unknown[] = [];
    const done = (closed: boolean) => { s.destroy(); resolve({ lines, closed }); };
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) { lines.push(JSON.parse(buf.slice(0, nl))); buf = buf.slice(nl + 1); }
      if (lines.length >= replies) done(false);
    });
    s.on('end', () => done(true));
    s.on('error', (e: NodeJS.ErrnoException) => (e.code === 'EPIPE' || e.code === 'ECONNRESET' ? done(true) : reject(e)));
    s.write(data);
  });
}

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
    [['get', '--socket=/nonexistent/x.sock', 'Device.DSLite.Enable'], 0, /^Device\.DSLite\.Enable=true$/], // the last --socket wins
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

test('no request ends the agent: every JSON type, malformed lines, failing handlers, a 2 MiB line', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ts-cli-'));
  const socket = join(dir, 'agent.sock');
  const dm = new DataModel({ file: ':memory:' });
  const host = new PluginHost(dm, [cliPlugin(socket)], pino({ level: 'silent' }));
  await host.start();
  t.after(async () => { await host.stop(); dm.close(); rmSync(dir, { recursive: true, force: true }); });
  const get = '{"id":99,"cmd":"get","paths":["Device.DeviceInfo.Manufacturer"]}';
  const alive = async () => {
    const { lines } = await exchange(socket, `${get}\n`, 1);
    assert.deepEqual(lines, [{ id: 99, ok: true, result: [['Device.DeviceInfo.Manufacturer', '']] }]);
  };

  const bad = ['null', '0', '-1', '3.14', '"dump"', 'true', 'false', '[]', '[null]', '{}', '', '{', '}', '{"cmd":"get"', '\u0000',
    '{"cmd":"get","paths":null}', '{"cmd":"get","paths":[null]}', '{"cmd":"names","paths":{}}', '{"cmd":"set","values":null}',
    '{"cmd":"set","values":"a=b"}', '{"cmd":"add"}', '{"cmd":"delete","paths":"x"}', '{"cmd":"attrs","paths":[1]}', '{"cmd":"operate"}',
    '{"cmd":"get","paths":["Device..X"]}', '{"cmd":"set","values":{"__proto__":"x"}}'];
  // One connection, one reply per line, in order; the last line is a good one on the same connection.
  const { lines } = await exchange(socket, `${bad.join('\n')}\n${get}\n`, bad.length + 1);
  assert.equal(lines.length, bad.length + 1);
  for (const [i, r] of (lines as { ok: boolean; error: { kind: string; message: string } }[]).slice(0, -1).entries()) {
    assert.equal(r.ok, false, bad[i]);
    assert.match(r.error.kind, /^(InvalidArgument|InvalidPath)$/, bad[i]);
    assert.doesNotMatch(r.error.message, /reading '|undefined|Cannot|TypeError/, bad[i]);
  }
  assert.deepEqual(lines.at(-1), { id: 99, ok: true, result: [['Device.DeviceInfo.Manufacturer', '']] });
  // Bytes that are not UTF-8, then a good line.
  assert.equal((await exchange(socket, Buffer.concat([Buffer.from([0xff, 0xfe, 0xc3, 0x0a]), Buffer.from(`${get}\n`)]), 2)).lines.length, 2);

  // A line over MAX_LINE: one ResourcesExceeded reply, that connection closed, the others served.
  const big = await exchange(socket, `{"cmd":"get","paths":["${'A'.repeat(2 * MAX_LINE)}"]}\n`, 2);
  assert.deepEqual(big.lines, [{ id: 0, ok: false, error: { kind: 'ResourcesExceeded', message: `request line longer than ${MAX_LINE} bytes`, details: [] } }]);
  assert.equal(big.closed, true);
  await alive();

  // A handler that throws something other than a DmError: an error reply without JavaScript internals.
  const real = { get: dm.get, set: dm.set };
  t.after(() => Object.assign(dm, real));
  dm.get = () => { throw new TypeError("Cannot read properties of undefined (reading 'flatMap')"); };
  assert.deepEqual((await exchange(socket, `${get}\n`, 1)).lines,
    [{ id: 99, ok: false, error: { kind: 'Internal', message: 'internal error in the agent (see its log)', details: [] } }]);
  // A full disk as the core reports it (the store maps SQLITE_FULL; the real thing is the next test).
  dm.set = () => { throw new DmError('ResourcesExceeded', 'disk full: /data/twinstack.db: the change was not saved; free space on its file system'); };
  const full = (await exchange(socket, '{"id":5,"cmd":"set","values":{"Device.DSLite.Enable":"true"}}\n', 1)).lines[0] as { error: { kind: string; message: string } };
  assert.equal(full.error.kind, 'ResourcesExceeded');
  assert.match(full.error.message, /^disk full/);
  Object.assign(dm, real);
  await alive();
});

test('a full disk answers ResourcesExceeded "disk full" and the agent goes on (a full tmpfs, root only)', { skip: process.getuid?.() !== 0 }, async (t) => {
  const mnt = mkdtempSync(join(tmpdir(), 'ts-cli-full-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m,mode=0700', 'tmpfs', mnt]);
  const dir = mkdtempSync(join(tmpdir(), 'ts-cli-'));
  const socket = join(dir, 'agent.sock');
  const dm = new DataModel({ file: join(mnt, 'twinstack.db') });
  const host = new PluginHost(dm, [cliPlugin(socket)], pino({ level: 'silent' }));
  await host.start();
  t.after(async () => {
    await host.stop();
    dm.close();
    execFileSync('umount', ['-l', mnt]);
    rmSync(mnt, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  });
  const fd = openSync(join(mnt, 'filler'), 'w');
  try {
    for (;;) writeSync(fd, Buffer.alloc(16 * 1024, 1));
  } catch (e) {
    assert.equal((e as NodeJS.ErrnoException).code, 'ENOSPC');
  } finally {
    closeSync(fd);
  }
  // Each commit appends to the WAL until the few kB left are gone.
  let failed: { kind: string; message: string } | undefined;
  let saved = '';
  for (let i = 0; i < 200 && !failed; i++) {
    const [r] = (await exchange(socket, `{"id":${i},"cmd":"set","values":{"Device.DeviceInfo.ProvisioningCode":"code-${i}"}}\n`, 1)).lines as { ok: boolean; error?: { kind: string; message: string } }[];
    if (!r.ok) failed = r.error;
    else saved = `code-${i}`;
  }
  assert.ok(failed, 'a write failed on the full disk');
  assert.equal(failed.kind, 'ResourcesExceeded', failed.message);
  assert.match(failed.message, /^disk full/);
  assert.equal(dm.getValue('Device.DeviceInfo.ProvisioningCode'), saved, 'the failed write changed nothing');
  rmSync(join(mnt, 'filler'));
  const ok = (await exchange(socket, '{"id":1,"cmd":"set","values":{"Device.DeviceInfo.ProvisioningCode":"after"}}\n', 1)).lines[0];
  assert.deepEqual(ok, { id: 1, ok: true, result: null });
  assert.equal(dm.getValue('Device.DeviceInfo.ProvisioningCode'), 'after');
});

test('cliError: one mapping of failures to CLI errors', () => {
  const table: [unknown, string, RegExp][] = [
    [new DmError('InvalidValue', 'Device.X: bad'), 'InvalidValue', /^Device\.X: bad$/],
    // A validator's "PATH: reason" detail: the path once, not "PATH: PATH: reason".
    [DmError.from([{ path: 'Device.X.Y', kind: 'InvalidValue', message: 'Device.X.Y: not an FQDN' }]), 'InvalidValue', /^Device\.X\.Y: not an FQDN$/],
    [new DmError('ResourcesExceeded', 'disk full: /d/twinstack.db: the change was not saved'), 'ResourcesExceeded', /^disk full/],
    // SQLite's own errors never reach a face: the store maps them (test/datamodel/faults.test.ts).
    [new Database.SqliteError('database or disk is full', 'SQLITE_FULL'), 'Internal', /^internal error in the agent/],
    [new TypeError("Cannot read properties of null (reading 'cmd')"), 'Internal', /^internal error in the agent/],
    [null, 'Internal', /^internal error/],
    ['a string', 'Internal', /^internal error/],
  ];
  for (const [e, kind, message] of table) {
    const r = cliError(e);
    assert.equal(r.kind, kind, String(e));
    assert.match(r.message, message, String(e));
  }
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
