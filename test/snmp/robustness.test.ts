// Bad input gets the right error or is counted and dropped, and the agent keeps serving (issue acceptance 4).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DataModel } from '../../src/datamodel/index.ts';
import { SnmpService } from '../../src/snmp/index.ts';
import { CONFIG, populate, toolResult, V3 } from './fixture.ts';
import { authPrivGet, discover, exchange, readReply } from './v3client.ts';

describe('bad input', () => {
  let now = Date.now();
  const dm = new DataModel({ file: ':memory:' });
  const svc = new SnmpService(dm, { ...CONFIG, port: 0 }, { clock: () => now });
  let port = 0;
  let target = '';
  before(async () => { populate(dm); port = (await svc.start()).port; target = `127.0.0.1:${port}`; });
  after(async () => { await svc.stop(); dm.close(); });

  const serving = async () => {
    const r = await toolResult('snmpget', ['-v2c', '-c', 'public', target, '1.3.6.1.2.1.1.2.0']);
    assert.match(r.stdout, /32473\.6333\.4\.1/, 'the agent keeps serving');
  };

  const garbage: [string, Buffer][] = [
    ['empty', Buffer.alloc(0)],
    ['not BER', Buffer.from('GET / HTTP/1.1\r\n\r\n')],
    ['truncated SEQUENCE', Buffer.from([0x30, 0x82, 0xff, 0xff, 0x02, 0x01])],
    ['version 7', Buffer.from('3019020107040670756c69630a00c0020101020100020100300000', 'hex')],
    ['long-form length of 2^32', Buffer.from([0x30, 0x84, 0xff, 0xff, 0xff, 0xff])],
    ['OID arc overflow', Buffer.from('301f020101040670756' + '26c6963a012020101020100020100300730050603ffffffff', 'hex')],
    ['random 1000 bytes', Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 7919) & 0xff))],
  ];
  for (const [name, buf] of garbage) {
    test(`garbage datagram (${name}) is counted and dropped`, async () => {
      const dropped = () => svc.agent.counters.inASNParseErrs + svc.agent.counters.inBadVersions;
      const before = dropped();
      assert.equal(await exchange(port, buf, 300), undefined, 'no reply');
      assert.equal(dropped(), before + 1);
      await serving();
    });
  }

  test('wrong community: no reply, snmpInBadCommunityNames counts it', async () => {
    const r = await toolResult('snmpget', ['-v2c', '-c', 'guess', target, '1.3.6.1.2.1.1.2.0']);
    assert.match(r.stderr, /Timeout/);
    const c = await toolResult('snmpget', ['-v2c', '-c', 'public', target, '1.3.6.1.2.1.11.4.0']);
    assert.match(c.stdout, /Counter32: [1-9]/);
  });

  test('SET through the read-only community: noAccess, nothing changes', async () => {
    const r = await toolResult('snmpset', ['-v2c', '-c', 'public', target, '1.3.6.1.2.1.1.5.0', 's', 'x']);
    assert.match(r.stderr, /noAccess/);
    assert.equal(dm.getValue('Device.DeviceInfo.HostName'), '');
  });

  const v3bad: [string, string[], RegExp][] = [
    ['wrong auth password', ['-v3', '-l', 'authPriv', '-u', 'nocuser', '-a', 'SHA', '-A', 'wrongpass99', '-x', 'AES', '-X', 'privpass123'], /[Aa]uthentication failure/],
    ['unknown user', ['-v3', '-l', 'authPriv', '-u', 'mallory', '-a', 'SHA', '-A', 'authpass123', '-x', 'AES', '-X', 'privpass123'], /[Uu]nknown user name/],
    ['wrong auth protocol', ['-v3', '-l', 'authPriv', '-u', 'nocuser', '-a', 'SHA-256', '-A', 'authpass123', '-x', 'AES', '-X', 'privpass123'], /[Aa]uthentication failure/],
    ['level below the user\'s', ['-v3', '-l', 'authNoPriv', '-u', 'nocuser', '-a', 'SHA', '-A', 'authpass123'], /authorizationError/],
    ['noAuthNoPriv for an auth user', ['-v3', '-l', 'noAuthNoPriv', '-u', 'nocuser'], /authorizationError|[Uu]nsupported security level/],
  ];
  for (const [name, args, want] of v3bad) {
    test(`SNMPv3 ${name}: the right report or error`, async () => {
      const r = await toolResult('snmpget', [...args, target, '1.3.6.1.2.1.1.3.0']);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr + r.stdout, want);
      await serving();
    });
  }

  test('a replayed SNMPv3 message outside the 150 s window gets notInTimeWindow, inside it is answered', async () => {
    const e = await discover(port);
    const msg = authPrivGet(e, '1.3.6.1.2.1.1.3.0');
    assert.equal(readReply((await exchange(port, msg))!).type, 'Response');
    now += 149_000;
    assert.equal(readReply((await exchange(port, msg))!).type, 'Response', 'still inside the window');
    now += 2_000;
    assert.deepEqual(readReply((await exchange(port, msg))!), { type: 'Report', oid: '1.3.6.1.6.3.15.1.1.2.0' });
    // Net-SNMP's tools resynchronise from the report and go on.
    assert.equal((await toolResult('snmpget', [...V3, target, '1.3.6.1.2.1.1.3.0'])).code, 0);
  });

  const badSets: [string, string[], RegExp][] = [
    ['string into an INTEGER', ['1.3.6.1.4.1.32473.6333.1.3.0', 's', 'dualStack'], /wrongType/],
    ['INTEGER into a string', ['1.3.6.1.2.1.1.5.0', 'i', '5'], /wrongType/],
    ['too long for ifAlias (64)', ['1.3.6.1.2.1.31.1.1.1.18.1', 's', 'a'.repeat(65)], /wrongLength/],
    ['IPv4-sized tunnel address', ['1.3.6.1.2.1.10.131.1.1.1.1.10.3', 'x', 'C0000201'], /wrongLength/],
    ['out of range Unsigned32', ['1.3.6.1.4.1.32473.6333.1.10.0', 'u', '101'], /wrongValue/],
    ['unknown enumeration', ['1.3.6.1.2.1.2.2.1.7.1', 'i', '3'], /wrongValue/],
    ['read-only object', ['1.3.6.1.4.1.32473.6333.1.2.0', 'i', '2'], /notWritable/],
    ['instance that does not exist', ['1.3.6.1.2.1.31.1.1.1.18.42', 's', 'x'], /noCreation/],
  ];
  for (const [name, args, want] of badSets) {
    test(`SET of ${name}: ${want.source}`, async () => {
      const before = dm.get('Device.').map((v) => v.value).join('\n');
      const r = await toolResult('snmpset', ['-v2c', '-c', 'private', target, ...args]);
      assert.match(r.stderr, want);
      assert.equal(dm.get('Device.').map((v) => v.value).join('\n'), before, 'nothing changed');
    });
  }
});

test('SNMPv1 error-status uses only the RFC 1157 codes', async () => {
  const dm = new DataModel({ file: ':memory:' });
  populate(dm);
  const svc = new SnmpService(dm, { ...CONFIG, port: 0 });
  const { port } = await svc.start();
  try {
    const cases: [string[], RegExp][] = [
      [['1.3.6.1.4.1.32473.6333.1.3.0', 'i', '9'], /badValue/],
      [['1.3.6.1.4.1.32473.6333.1.2.0', 'i', '1'], /noSuchName/],
      [['1.3.6.1.4.1.32473.6333.1.3.0', 's', 'x'], /badValue/],
    ];
    for (const [args, want] of cases) {
      const r = await toolResult('snmpset', ['-v1', '-c', 'private', `127.0.0.1:${port}`, ...args]);
      assert.match(r.stderr, want);
    }
  } finally {
    await svc.stop();
    dm.close();
  }
});

