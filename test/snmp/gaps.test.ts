// PEERS.md §15: the gaps of the npm net-snmp agent, each shown side by side: the bare library (raw-agent.ts,
// in a child process) behaving badly, and twinstack's agent answering correctly to the same request.
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DataModel } from '../../src/datamodel/index.ts';
import { SnmpService } from '../../src/snmp/index.ts';
import { CONFIG, freePort, startAgent, toolResult, V3 } from './fixture.ts';
import { sleep } from '../wait.ts';
import { authPrivGet, discover, exchange, readReply } from './v3client.ts';

async function rawAgent(...args: string[]): Promise<{ child: ChildProcess; port: number; stderr: () => string; exited: Promise<number | null> }> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/snmp/raw-agent.ts', String(port), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => { err += d; });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d) => { if (String(d).includes('ready')) resolve(); });
    child.on('exit', () => reject(new Error(`raw agent exited: ${err}`)));
  });
  return { child, port, stderr: () => err, exited };
}

const W = ['-v2c', '-c', 'private'];
const G = ['-v2c', '-c', 'public'];

describe('net-snmp agent gaps: the library vs twinstack', () => {
  let raw: Awaited<ReturnType<typeof rawAgent>>;
  let ours: Awaited<ReturnType<typeof startAgent>>;
  let small: Awaited<ReturnType<typeof startAgent>>;
  before(async () => {
    raw = await rawAgent();
    ours = await startAgent();
    small = await startAgent({ ...CONFIG, maxMessageSize: 484 });
  });
  after(async () => {
    raw.child.kill();
    for (const a of [ours, small]) { await a.svc.stop(); a.dm.close(); }
  });

  test('gap 1: a Counter64 given as a number kills the library; ours serves 64-bit counters', async () => {
    const crash = await rawAgent('counter64-number');
    await toolResult('snmpwalk', [...G, `127.0.0.1:${crash.port}`, '1.3.6.1.4.1.32473.6333.9.1.3']);
    const code = await Promise.race([crash.exited, sleep(3000).then(() => 'alive')]);
    crash.child.kill();
    assert.notEqual(code, 'alive', 'the bare library process died');
    assert.match(crash.stderr(), /TypeError/);
    const r = await toolResult('snmpwalk', [...G, ours.target, '1.3.6.1.2.1.31.1.1.1.6']);
    assert.match(r.stdout, /Counter64: 18446744073709551615/);
  });

  test('gap 2: a binary OCTET STRING SET is stored as UTF-8 by the library; ours keeps the octets', async () => {
    const bytes = '20010DB800FF00000000000000000042';
    await toolResult('snmpset', [...W, `127.0.0.1:${raw.port}`, '1.3.6.1.4.1.32473.6333.1.5.0', 'x', bytes]);
    const back = await toolResult('snmpget', [...G, `127.0.0.1:${raw.port}`, '1.3.6.1.4.1.32473.6333.1.5.0']);
    assert.match(back.stdout, /EF BF BD/, 'replacement characters: the octets were decoded as UTF-8');
    const r = await toolResult('snmpset', [...W, ours.target, `1.3.6.1.2.1.10.131.1.1.1.1.10.${ours.f.tun}`, 'x', bytes]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(ours.dm.getValue(`Device.DSLite.InterfaceSetting.${ours.f.sw}.EndpointAddress`), '2001:db8:ff::42');
    // Binary into a text object is refused, not stored mangled.
    const bad = await toolResult('snmpset', [...W, ours.target, '1.3.6.1.4.1.32473.6333.1.5.0', 'x', 'FFFE00']);
    assert.match(bad.stderr, /wrongValue/);
  });

  const errors: [string, string[], RegExp, RegExp][] = [
    ['gap 3: SET of a missing object', ['1.3.6.1.4.1.32473.6333.1.99.0', 'i', '1'], /^$/, /noCreation/],
    ['gap 4: enumeration violation', ['1.3.6.1.4.1.32473.6333.1.3.0', 'i', '7'], /badValue/, /wrongValue/],
    ['gap 5: size violation', ['1.3.6.1.4.1.32473.6333.1.8.0', 's', 'x'.repeat(33)], /badValue/, /wrongLength/],
    ['gap 6: Gauge32 into an INTEGER', ['1.3.6.1.4.1.32473.6333.1.7.0', 'u', '3'], /^$/, /wrongType/],
  ];
  for (const [name, args, rawWant, oursWant] of errors) {
    test(`${name}: library ${rawWant} vs ours ${oursWant}`, async () => {
      const r = await toolResult('snmpset', [...W, `127.0.0.1:${raw.port}`, ...args]);
      if (rawWant.source === '^$') assert.equal(r.code, 0, `library accepted it: ${r.stdout}${r.stderr}`);
      else assert.match(r.stderr, rawWant);
      const o = await toolResult('snmpset', [...W, ours.target, ...args]);
      assert.notEqual(o.code, 0);
      assert.match(o.stderr, oursWant);
    });
  }

  test('gap 7: SNMPv1 GET of a missing object: noSuchName, not an SNMPv2 exception in a v1 PDU', async () => {
    const r = await toolResult('snmpget', ['-v1', '-c', 'public', `127.0.0.1:${raw.port}`, '1.3.6.1.4.1.32473.6333.1.99.0']);
    assert.doesNotMatch(r.stderr, /noSuchName/);
    const o = await toolResult('snmpget', ['-v1', '-c', 'public', ours.target, '1.3.6.1.4.1.32473.6333.1.99.0']);
    assert.match(o.stderr, /noSuchName/);
    const c64 = await toolResult('snmpget', ['-v1', '-c', 'public', ours.target, `1.3.6.1.2.1.31.1.1.1.6.${ours.f.tun}`]);
    assert.match(c64.stderr, /noSuchName/, 'Counter64 is invisible to SNMPv1 (RFC 3584 §4.2.2.1)');
  });

  test('gap 8: GETBULK returns max-repetitions per repeater, not in total', async () => {
    const count = (s: string) => s.trim().split('\n').filter(Boolean).length;
    const r = await toolResult('snmpbulkget', [...G, '-Cn0', '-Cr3', `127.0.0.1:${raw.port}`, '1.3.6.1.4.1.32473.6333.9.1.2', '1.3.6.1.4.1.32473.6333.9.1.3']);
    assert.equal(count(r.stdout), 3);
    const o = await toolResult('snmpbulkget', [...G, '-Cn0', '-Cr3', ours.target, '1.3.6.1.2.1.2.2.1.2', '1.3.6.1.2.1.2.2.1.3']);
    assert.equal(count(o.stdout), 6);
  });

  test('gap 9: too big: the library drops the reply; ours truncates GETBULK and answers tooBig to GET', async () => {
    const r = await toolResult('snmpbulkget', [...G, '-Cr3000', `127.0.0.1:${raw.port}`, '1.3.6.1.4.1.32473.6333.9.1']);
    assert.match(r.stderr, /Timeout/);
    const o = await toolResult('snmpbulkget', [...G, '-Cr3000', small.target, '1.3.6.1']);
    assert.equal(o.code, 0, o.stderr);
    const lines = o.stdout.trim().split('\n').length;
    assert.ok(lines > 5 && lines < 3000, `truncated to fit 484 octets: ${lines} varbinds`);
    const oids = Array.from({ length: 40 }, (_, i) => `1.3.6.1.2.1.2.2.1.${(i % 20) + 2}.${(i % 3) + 1}`);
    const big = await toolResult('snmpget', [...G, small.target, ...oids]);
    assert.match(big.stderr, /tooBig/);
  });

  test('gap 10: the time window: the library answers a message 99999 s off; ours reports notInTimeWindow', async () => {
    const re = await discover(raw.port);
    const rawReply = await exchange(raw.port, authPrivGet({ ...re, time: re.time + 99999 }, '1.3.6.1.4.1.32473.6333.1.3.0'));
    assert.ok(rawReply, 'the library answered');
    assert.equal(readReply(rawReply).type, 'Response');
    const oe = await discover(ours.port);
    const oursReply = await exchange(ours.port, authPrivGet({ ...oe, time: oe.time + 99999 }, '1.3.6.1.2.1.1.3.0'));
    assert.deepEqual(readReply(oursReply!), { type: 'Report', oid: '1.3.6.1.6.3.15.1.1.2.0' });
    const ok = await exchange(ours.port, authPrivGet(oe, '1.3.6.1.2.1.1.3.0'));
    assert.deepEqual(readReply(ok!), { type: 'Response', oid: '1.3.6.1.2.1.1.3.0' });
  });

  test('gaps 10 and 11: engineBoots/engineTime move and the engineID persists across restarts (library: neither)', async () => {
    const r1 = await discover(raw.port);
    await sleep(1100);
    const r2 = await discover(raw.port);
    assert.deepEqual([r1.boots, r1.time, r2.boots, r2.time], [0, 10, 0, 10], 'library: boots/time frozen');
    const again = await rawAgent();
    const r3 = await discover(again.port);
    again.child.kill();
    assert.notDeepEqual(r3.engineID, r1.engineID, 'library: a new engineID at every start');

    const dm = new DataModel({ file: ':memory:' });
    const svc1 = new SnmpService(dm, { ...CONFIG, port: 0 });
    const p1 = (await svc1.start()).port;
    const o1 = await discover(p1);
    await sleep(1100);
    const o2 = await discover(p1);
    await svc1.stop();
    const svc2 = new SnmpService(dm, { ...CONFIG, port: 0 });
    const o3 = await discover((await svc2.start()).port);
    await svc2.stop();
    dm.close();
    assert.ok(o2.time > o1.time, 'engineTime moves');
    assert.equal(o3.boots, o1.boots + 1, 'engineBoots counts the restart');
    assert.deepEqual(o3.engineID, o1.engineID, 'engineID persisted in dm.state("snmp")');
  });

  test('gap 12: a wrong privacy password: the library is silent; ours sends a decryptionError report', async () => {
    const bad = ['-v3', '-l', 'authPriv', '-u', 'nocuser', '-a', 'SHA', '-A', 'authpass123', '-x', 'AES', '-X', 'wrongpass99'];
    const r = await toolResult('snmpget', [...bad, `127.0.0.1:${raw.port}`, '1.3.6.1.4.1.32473.6333.1.3.0']);
    assert.match(r.stderr, /Timeout/);
    const o = await toolResult('snmpget', [...bad, ours.target, '1.3.6.1.2.1.1.3.0']);
    assert.match(o.stderr, /[Dd]ecryption/);
    assert.equal((await toolResult('snmpget', [...V3, ours.target, '1.3.6.1.2.1.1.3.0'])).code, 0, 'and keeps serving');
  });

  test('gap 16: the system group exists', async () => {
    const r = await toolResult('snmpget', [...G, `127.0.0.1:${raw.port}`, '1.3.6.1.2.1.1.3.0']);
    assert.match(r.stdout, /No Such Object/);
    const o = await toolResult('snmpget', [...G, ours.target, '1.3.6.1.2.1.1.3.0']);
    assert.match(o.stdout, /Timeticks/);
  });
});
