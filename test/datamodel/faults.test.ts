// Storage faults at start (issue 18 items 5 and 6), each against the real agent: a one-line message on stderr
// naming the file and what to do, and the exit status of its cause (src/startup.ts EXIT, README "Exit
// status"); a damaged database set aside and recovered; a second agent refused while the first still answers.
// Read-only and full file systems are tmpfs mounts of this test's own (root only: chmod does not stop root).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { chmodSync, chownSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pino from 'pino';
import { DataDir, DataModel, PluginHost, isDmError } from '../../src/datamodel/index.ts';
import { salvage } from '../../src/datamodel/recover.ts';
import { EXIT } from '../../src/startup.ts';
import { devicePlugin } from '../../src/device/index.ts';
import { cwmpPlugin } from '../../src/cwmp/index.ts';
import { snmpPlugin } from '../../src/snmp/index.ts';
import { ScriptedAcs, arr, text } from '../cwmp/acs.ts';
import { cli, runToExit, startAgent } from './agent-run.ts';

const tmp = (p: string) => mkdtempSync(join(tmpdir(), p));

/** Exactly one line on stderr, no stack trace; shown in the test report. */
function oneLine(err: string, t?: TestContext): string {
  const lines = err.trimEnd().split('\n');
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${err}`);
  assert.doesNotMatch(lines[0], /SqliteError|\n\s+at /);
  t?.diagnostic(lines[0]);
  return lines[0];
}

/** A data directory with a database made by the data model itself (as the agent makes it). */
function makeDb(dir: string, fill?: (dm: DataModel) => void): string {
  const d = DataDir.open(dir);
  const dm = new DataModel({ file: d.db, keyFile: d.key });
  fill?.(dm);
  dm.close();
  d.release();
  return d.db;
}

async function withTmpfs(size: string, fn: (mnt: string) => Promise<void>) {
  const mnt = tmp('ts-faults-mnt-');
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', mnt]);
  try {
    await fn(mnt);
  } finally {
    execFileSync('umount', ['-l', mnt]);
    rmSync(mnt, { recursive: true, force: true });
  }
}

/** Fills what is left of a file system, as a log file or a download would; returns the filler's path. */
function fill(mnt: string): string {
  const file = join(mnt, 'filler');
  const fd = openSync(file, 'w');
  try {
    const chunk = Buffer.alloc(64 * 1024, 1);
    for (;;) writeSync(fd, chunk);
  } catch (e) {
    assert.equal((e as NodeJS.ErrnoException).code, 'ENOSPC');
  } finally {
    closeSync(fd);
  }
  return file;
}

test('the exit statuses are distinct per cause', () => {
  const codes = Object.values(EXIT);
  assert.equal(new Set([...codes, 0, 1, 2]).size, codes.length + 3);
});

test('missing data directory that cannot be created: status 3', async (t) => {
  const dir = tmp('ts-faults-');
  try {
    writeFileSync(join(dir, 'afile'), '');
    const r = await runToExit(join(dir, 'afile', 'data'));
    assert.equal(r.code, EXIT.DataDir, r.err);
    assert.match(oneLine(r.err, t), /^twinstack: \S+\/afile\/data: missing and cannot be created: not a directory \(ENOTDIR\); create it for the agent's user or set dataDir to a writable place$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('read-only data directory (a read-only remount): status 4', async (t) => {
  await withTmpfs('4m', async (mnt) => {
    const data = join(mnt, 'data');
    makeDb(data);
    execFileSync('mount', ['-o', 'remount,ro', mnt]);
    const r = await runToExit(data);
    assert.equal(r.code, EXIT.ReadOnly, r.err);
    assert.match(oneLine(r.err, t), /^twinstack: \S+\/data: read-only file system \(EROFS\); make the data directory writable \(remount read-write\) or set dataDir to a writable place$/);
  });
});

test('full disk (a full tmpfs): status 5', async (t) => {
  await withTmpfs('2m', async (mnt) => {
    const data = join(mnt, 'data');
    makeDb(data);
    fill(mnt);
    // The agent's own data directory, and a first start on a full disk.
    for (const dir of [data, join(mnt, 'fresh')]) {
      const r = await runToExit(dir);
      assert.equal(r.code, EXIT.DiskFull, r.err);
      assert.match(oneLine(r.err, t), /^twinstack: \S+\/twinstack\.(db|lock|key): .*\((SQLITE_FULL|SQLITE_IOERR\w*|ENOSPC)\); free space on its file system and start again$/);
    }
  });
});

test('disk full while running: a write fails as ResourcesExceeded naming the file, nothing half-applied, later writes work', async () => {
  await withTmpfs('2m', async (mnt) => {
    const d = DataDir.open(join(mnt, 'data'));
    const dm = new DataModel({ file: d.db, keyFile: d.key });
    try {
      const filler = fill(mnt);
      // The WAL reuses its own space after a checkpoint: write until the file system refuses new pages.
      let failure: unknown;
      let added = 0;
      for (let i = 0; i < 50_000 && !failure; i++) {
        try {
          dm.commit([
            { op: 'add', table: 'Device.NAT.InterfaceSetting.', values: { Alias: `full-${i}`.padEnd(60, 'x') } },
            { op: 'set', path: 'Device.DeviceInfo.ProvisioningCode', value: `p${i}` },
          ], 'cli');
          added++;
        } catch (e) {
          failure = e;
        }
      }
      assert.ok(failure, 'the file system filled up');
      assert.ok(isDmError(failure), String(failure));
      assert.equal(failure.kind, 'ResourcesExceeded');
      assert.match(failure.message, /^disk full: \S+\/twinstack\.db: the change was not saved; free space on its file system$/);
      // The failed transaction is wholly absent; the acknowledged ones wholly present, in the cache and on disk.
      assert.equal(dm.instances('Device.NAT.InterfaceSetting.').length, added);
      assert.equal(dm.getValue('Device.DeviceInfo.ProvisioningCode'), added ? `p${added - 1}` : '');
      rmSync(filler);
      dm.set({ 'Device.DeviceInfo.ProvisioningCode': 'after' }, 'cli');
      assert.equal(dm.integrityCheck(), 'ok');
    } finally {
      dm.close();
      d.release();
    }
    const d2 = DataDir.open(join(mnt, 'data'));
    const again = new DataModel({ file: d2.db, keyFile: d2.key });
    try {
      assert.equal(again.getValue('Device.DeviceInfo.ProvisioningCode'), 'after');
    } finally {
      again.close();
      d2.release();
    }
  });
});

/** Runs the agent on a damaged database: it starts, says so once on stderr and at warn, and keeps the file. */
async function startsOnDamaged(dir: string, t: TestContext): Promise<{ movedTo: string; rows: number }> {
  const a = startAgent(dir);
  try {
    await a.running();
    const line = oneLine(a.err(), t);
    const m = /^twinstack: (\S+)\/twinstack\.db: damaged: (.+); moved to (\S+\/twinstack\.db\.corrupt-\d{8}T\d{6}Z), started on factory defaults(?: \(no row could be read back\)| plus (\d+) rows read back(?:, reading stopped short in [\w, ]+)?); check the storage device$/.exec(line);
    assert.ok(m, line);
    assert.equal(m[1], dir);
    assert.match(m[2], /SQLITE_NOTADB|SQLITE_CORRUPT/);
    assert.ok(existsSync(m[3]), `${m[3]} kept`);
    assert.match(a.out(), /"level":40,.*"movedTo":"[^"]+corrupt-[^"]+".*"msg":"database damaged: set aside, started on factory defaults and the rows read back"/);
    const got = await cli(join(dir, 'twinstack.sock'), 'get', 'Device.DeviceInfo.UpTime');
    assert.equal(got.code, 0, got.err);
    return { movedTo: m[3], rows: Number(m[4] ?? 0) };
  } finally {
    assert.equal(await a.stop(), 0);
  }
}

test('corrupt database (garbage): set aside, the agent starts on factory defaults', { timeout: 90_000 }, async (t) => {
  const dir = tmp('ts-faults-');
  try {
    writeFileSync(join(dir, 'twinstack.db'), Buffer.alloc(64 * 1024, 0x5a));
    const r = await startsOnDamaged(dir, t);
    assert.equal(r.rows, 0);
    assert.equal(readFileSync(r.movedTo).length, 64 * 1024, 'the damaged file is kept as it was');
    assert.equal(statSync(join(dir, 'twinstack.db')).mode & 0o777, 0o600);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('truncated database (a real one cut in half): set aside, rows read back', { timeout: 90_000 }, async (t) => {
  const dir = tmp('ts-faults-');
  try {
    const db = makeDb(dir, (dm) => {
      for (let i = 0; i < 40; i++) dm.add('Device.NAT.InterfaceSetting.', 'system', { Alias: `kept-${i}` });
    });
    truncateSync(db, Math.floor(statSync(db).size / 2));
    const r = await startsOnDamaged(dir, t);
    assert.ok(r.rows > 0, 'rows read back from the first half');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a second agent on the same data directory exits with status 7; the first still answers its CLI', { timeout: 120_000 }, async (t) => {
  const dir = tmp('ts-faults-');
  const first = startAgent(dir);
  try {
    await first.running();
    const socket = join(dir, 'twinstack.sock');
    const before = statSync(socket).ino;
    const dbBefore = readFileSync(join(dir, 'twinstack.db'));
    const r = await runToExit(dir);
    assert.equal(r.code, EXIT.Locked, r.err);
    const pid = first.proc.pid;
    assert.equal(oneLine(r.err, t), `twinstack: ${dir}/twinstack.lock: another twinstack agent (pid ${pid}) is running on ${dir}; stop it first, or give this agent another dataDir`);
    assert.equal(statSync(socket).ino, before, 'the first agent\'s socket was not touched');
    assert.ok(readFileSync(join(dir, 'twinstack.db')).equals(dbBefore), 'nor its database');
    const got = await cli(socket, 'get', 'Device.DeviceInfo.UpTime');
    assert.equal(got.code, 0, got.err);
    assert.match(got.out, /^Device\.DeviceInfo\.UpTime=\d+$/);
  } finally {
    assert.equal(await first.stop(), 0);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a data directory or database of another user: status 8', async (t) => {
  const dir = tmp('ts-faults-');
  try {
    const db = makeDb(dir);
    chownSync(db, 1000, 1000);
    const r = await runToExit(dir);
    assert.equal(r.code, EXIT.Permissions, r.err);
    assert.equal(oneLine(r.err, t), `twinstack: ${db}: owned by uid 1000, not by the agent's uid 0; chown it to uid 0 or run the agent as uid 1000`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('modes: the directory is made 0700 and the files 0600 when they are ours', () => {
  const dir = tmp('ts-faults-');
  try {
    const db = makeDb(dir);
    chmodSync(dir, 0o755);
    chmodSync(db, 0o644);
    chmodSync(join(dir, 'twinstack.key'), 0o644);
    DataDir.open(dir).release();
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    for (const f of ['twinstack.db', 'twinstack.key', 'twinstack.lock']) assert.equal(statSync(join(dir, f)).mode & 0o777, 0o600, f);
    const fresh = join(dir, 'new');
    const d = DataDir.open(fresh);
    new DataModel({ file: d.db, keyFile: d.key }).close();
    d.release();
    assert.equal(statSync(fresh).mode & 0o777, 0o700);
    for (const f of ['twinstack.db', 'twinstack.key', 'twinstack.lock']) assert.equal(statSync(join(fresh, f)).mode & 0o777, 0o600, f);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('recovery in-process: rows on both sides of a damaged page, instance numbers never reused', () => {
  const dir = tmp('ts-faults-');
  try {
    const db = makeDb(dir, (dm) => {
      for (let i = 1; i <= 40; i++) dm.add('Device.NAT.InterfaceSetting.', 'system', { Alias: `kept-${i}` });
      dm.delete('Device.NAT.InterfaceSetting.40.', 'system');
    });
    // Zero one leaf page in the middle of the param table (dbstat: https://sqlite.org/dbstat.html).
    const raw = new Database(db, { readonly: true });
    const leaves = (raw.prepare("SELECT pageno FROM dbstat WHERE name = 'param' AND pagetype = 'leaf' ORDER BY path").all() as { pageno: number }[]).map((r) => r.pageno);
    const pageSize = raw.pragma('page_size', { simple: true }) as number;
    const edge = (order: string) => raw.prepare(`SELECT path, value FROM param ORDER BY path ${order} LIMIT 1`).get() as { path: string; value: string };
    const [first, last] = [edge('ASC'), edge('DESC')];
    const all = (raw.prepare('SELECT count(*) AS n FROM param').get() as { n: number }).n;
    raw.close();
    assert.ok(leaves.length >= 3, `${leaves.length} leaves`);
    const fd = openSync(db, 'r+');
    writeSync(fd, Buffer.alloc(pageSize), 0, pageSize, (leaves[leaves.length >> 1] - 1) * pageSize);
    closeSync(fd);

    // Forwards up to the damaged page, then backwards from the end up to it: both sides come back.
    const got = salvage(db);
    assert.deepEqual(got.damaged, ['param']);
    assert.equal(got.values.get(first.path), first.value);
    assert.equal(got.values.get(last.path), last.value);
    assert.ok(got.values.size < all && got.values.size > all / 2, `${got.values.size} of ${all}`);

    const dm = new DataModel({ file: db, onCorrupt: 'setAside' });
    try {
      const r = dm.startup.recovered;
      assert.ok(r, 'recovered');
      assert.deepEqual(r.damaged, ['param']);
      assert.match(r.movedTo, /\/twinstack\.db\.corrupt-\d{8}T\d{6}Z$/);
      // A new row never takes a number that was in use, 40 included (ARCHITECTURE.md invariant).
      assert.equal(dm.add('Device.NAT.InterfaceSetting.', 'system').instance, 41);
    } finally {
      dm.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * Damage SQLite detects (quick_check) but that leaves every row readable: a freelist in the header that points
 * at a page in use. So the CWMP state is read back whole (the ACS URL already bootstrapped), and only the
 * recovery itself can make the next Inform carry 0 BOOTSTRAP.
 */
function damageFreelist(file: string) {
  const b = readFileSync(file);
  b.writeUInt32BE(b.length / b.readUInt16BE(16) - 1, 32); // first freelist trunk page: the last page, in use
  b.writeUInt32BE(3, 36); // freelist page count
  writeFileSync(file, b);
}

test('a recovered database: the next Inform carries 0 BOOTSTRAP and SNMP sends coldStart', { timeout: 60_000 }, async (t) => {
  const dir = tmp('ts-faults-');
  const acs = await new ScriptedAcs().start();
  const traps = createSocket('udp4');
  await new Promise<void>((r) => traps.bind(0, '127.0.0.1', r));
  const trap = new Promise<Buffer>((r) => traps.once('message', r));
  t.after(async () => { traps.close(); await acs.stop(); rmSync(dir, { recursive: true, force: true }); });

  const file = makeDb(dir, (dm) => {
    dm.set({ 'Device.ManagementServer.URL': acs.url }, 'system');
    dm.state('cwmp').set('seeded', new Date().toISOString());
    dm.state('cwmp').set('bootstrapUrl', acs.url);
  });
  damageFreelist(file);

  const dm = new DataModel({ file, onCorrupt: 'setAside' });
  assert.ok(dm.startup.recovered);
  assert.deepEqual(dm.startup.recovered.damaged, []);
  assert.equal(dm.state('cwmp').get('bootstrapUrl'), acs.url, 'state read back whole');
  const hooks = { reboot() {}, factoryReset() {}, downloadsDir: join(dir, 'downloads') };
  const host = new PluginHost(dm, [
    devicePlugin({ manufacturer: 'twinstack', manufacturerOUI: '00D09E', modelName: 'gw', productClass: 'HomeGateway', hardwareVersion: 'sim-1' }, hooks),
    cwmpPlugin({ connectionRequest: { port: 0 } }, hooks),
    snmpPlugin({ address: '127.0.0.1', port: 0, trapTargets: [{ host: '127.0.0.1', port: (traps.address()).port }] }),
  ], pino({ level: 'silent' }));
  const session = acs.nextSession();
  await host.start();
  t.after(async () => { await host.stop(); dm.close(); });

  const s = await session;
  const events = arr(s.inform.body.Event.EventStruct).map((e: any) => text(e.EventCode));
  assert.ok(events.includes('0 BOOTSTRAP') && events.includes('1 BOOT'), `events ${events}`);
  // SNMPv2-Trap with snmpTrapOID.0 = coldStart (1.3.6.1.6.3.1.1.5.1, RFC 3418).
  const pdu = await trap;
  assert.ok(pdu.includes(Buffer.from('06092b0601060301010501', 'hex')), pdu.toString('hex'));
});
