// The agent against Debian's Net-SNMP tools (snmpget/snmpwalk/snmpbulkwalk/snmpset, v2c and v3 authPriv)
// and snmptrapd: every MIB served from the data model, SETs landing in the data model, and a failover switch
// seen as notifications, ifOperStatus and the default route row.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DataModel } from '../../src/datamodel/index.ts';
import { until } from '../wait.ts';
import { CONFIG, FO, freePort, startAgent, switchToDualStack, tool, V3, V3_SHA256 } from './fixture.ts';

const V2 = (c = 'public') => ['-v2c', '-c', c];

describe('MIBs over SNMPv2c and SNMPv3 authPriv', () => {
  let a: Awaited<ReturnType<typeof startAgent>>;
  before(async () => { a = await startAgent(); });
  after(async () => { await a.svc.stop(); a.dm.close(); });

  const cases: [string, string[], RegExp[]][] = [
    ['system group, our sysObjectID', ['1.3.6.1.2.1.1'], [/\.1\.3\.6\.1\.2\.1\.1\.2\.0 = OID: \.1\.3\.6\.1\.4\.1\.32473\.6333\.4\.1/, /\.1\.3\.6\.1\.2\.1\.1\.3\.0 = Timeticks/]],
    ['ifTable: softwire is tunnel(131), up', ['1.3.6.1.2.1.2.2'], [/\.2\.2\.1\.2\.3 = STRING: "dslite0"/, /\.2\.2\.1\.3\.3 = INTEGER: 131/, /\.2\.2\.1\.8\.3 = INTEGER: 1/, /\.2\.2\.1\.3\.1 = INTEGER: 6/]],
    ['ifXTable: 64-bit counters from the forwarder', ['1.3.6.1.2.1.31.1.1'], [/\.31\.1\.1\.1\.6\.3 = Counter64: 18446744073709551615/, /\.31\.1\.1\.1\.10\.3 = Counter64: 6000000000/, /\.31\.1\.1\.1\.1\.2 = STRING: "wan0"/]],
    ['tunnelIfTable: dsLite(17), local and remote', ['1.3.6.1.2.1.10.131.1.1.1'], [/\.1\.1\.3\.3 = INTEGER: 17/, /\.1\.1\.9\.3 = Hex-STRING: 20 01 0D B8 00 01 00 00 00 00 00 00 00 00 00 02/, /\.1\.1\.10\.3 = Hex-STRING: 20 01 0D B8 00 FF 00 00 00 00 00 00 00 00 00 01/]],
    ['inetCidrRouteTable: default route via the tunnel', ['1.3.6.1.2.1.4.24.7'], [/\.24\.7\.1\.7\.1\.4\.0\.0\.0\.0\.0\.2\.0\.0\.1\.4\.0\.0\.0\.0 = INTEGER: 3/]],
    ['failover MIB: mode, AFTR, detector', ['1.3.6.1.4.1.32473.6333'], [/\.6333\.1\.2\.0 = INTEGER: 1/, /\.6333\.1\.4\.0 = STRING: "2001:db8:ff::1"/, /\.6333\.2\.1\.1\.7\.1 = INTEGER: 2/]],
  ];
  for (const [name, args, want] of cases) {
    for (const [proto, auth] of [['v2c', V2()], ['v3 SHA/AES', V3], ['v3 SHA-256/AES', V3_SHA256]] as const) {
      test(`${name} (${proto} bulkwalk)`, async () => {
        const out = await tool('snmpbulkwalk', [...auth, a.target, ...args]);
        for (const re of want) assert.match(out, re);
      });
    }
    test(`${name} (v2c walk equals bulkwalk)`, async () => {
      const walk = await tool('snmpwalk', [...V2(), a.target, ...args]);
      const bulk = await tool('snmpbulkwalk', [...V2(), '-Cr7', a.target, ...args]);
      const strip = (s: string) => s.split('\n').filter((l) => !/Timeticks|= INTEGER: \d+$/.test(l) || !/\.1\.3\.0 |\.2\.2\.1\.9\./.test(l)).join('\n');
      assert.equal(strip(walk), strip(bulk));
    });
  }

  test('snmpget of scalars and a missing instance', async () => {
    const out = await tool('snmpget', [...V3, a.target, '1.3.6.1.2.1.2.1.0', '1.3.6.1.4.1.32473.6333.1.12.0', '1.3.6.1.2.1.2.2.1.2.99']);
    assert.match(out, /\.1\.3\.6\.1\.2\.1\.2\.1\.0 = INTEGER: 3/);
    assert.match(out, /\.6333\.1\.12\.0 = Counter32: 0/);
    assert.match(out, /\.2\.2\.1\.2\.99 = No Such Instance/);
  });

  // Last column: the value a GET returns afterwards (tunnelIfRemoteInetAddress shows the address in use, which
  // the DS-Lite handler changes, not the configured one).
  const sets: [string, string[], string, string, string, boolean][] = [
    ['sysName -> DeviceInfo.HostName (v2c rw community)', V2('private'), '1.3.6.1.2.1.1.5.0', 's|gw-paris-1', 'Device.DeviceInfo.HostName=gw-paris-1', true],
    ['ForcedMode dualStack(3) (v3 authPriv)', V3, '1.3.6.1.4.1.32473.6333.1.3.0', 'i|3', `${FO}ForcedMode=DualStack`, true],
    ['HoldDownTime Unsigned32 (v3)', V3, '1.3.6.1.4.1.32473.6333.1.11.0', 'u|60', `${FO}HoldDownTime=60`, true],
    ['ifAlias (v2c)', V2('private'), '1.3.6.1.2.1.31.1.1.1.18.2', 's|uplink', 'Device.IP.Interface.2.Alias=uplink', true],
    ['ifAdminStatus down(2)', V2('private'), '1.3.6.1.2.1.2.2.1.7.1', 'i|2', 'Device.IP.Interface.1.Enable=false', true],
    ['tunnelIfRemoteInetAddress binary -> EndpointAddress', V3, '1.3.6.1.2.1.10.131.1.1.1.1.10.3', 'x|20010DB800FF00000000000000000099', 'Device.DSLite.InterfaceSetting.1.EndpointAddress=2001:db8:ff::99', false],
  ];
  for (const [name, auth, oid, tv, expect, echo] of sets) {
    test(`SET ${name} is in the data model the CLI reads`, async () => {
      const [t, v] = tv.split('|');
      await tool('snmpset', [...auth, a.target, oid, t, v]);
      const [path, value] = expect.split('=');
      assert.equal(a.dm.getValue(path), value);
      const back = await tool('snmpget', [...V2(), a.target, oid]);
      assert.equal(back.includes(t === 'x' ? v.match(/../g)!.join(' ') : v), echo, back);
    });
  }

  test('a multi-varbind SET is atomic: one bad value changes nothing', async () => {
    const before = a.dm.getValue(`${FO}RecoveryThreshold`);
    const r = await tool('snmpset', [...V2('private'), a.target, '1.3.6.1.4.1.32473.6333.1.10.0', 'u', '7', '1.3.6.1.4.1.32473.6333.1.9.0', 'u', '999999']).catch((e) => e.stderr as string);
    assert.match(r, /wrongValue/);
    assert.match(r, /Failed object: \.1\.3\.6\.1\.4\.1\.32473\.6333\.1\.9\.0/);
    assert.equal(a.dm.getValue(`${FO}RecoveryThreshold`), before);
  });
});

describe('failover switch seen by a poller and by snmptrapd', () => {
  const dir = mkdtempSync(join(tmpdir(), `snmp-trap-${process.pid}-`));
  const ENGINE = '80007ed905' + '0102030405060708';
  let trapd: ReturnType<typeof spawn> | undefined;
  let a: Awaited<ReturnType<typeof startAgent>>;
  const log = join(dir, 'trap.log');

  before(async () => {
    const [p2, p3, p3i] = [await freePort(), await freePort(), await freePort()];
    writeFileSync(join(dir, 'snmptrapd.conf'), [
      'authCommunity log public',
      `createUser -e 0x${ENGINE} trapuser SHA authpass123 AES privpass123`,
      'createUser trapuser SHA authpass123 AES privpass123',
      'authUser log trapuser priv',
    ].join('\n') + '\n');
    writeFileSync(log, '');
    trapd = spawn('snmptrapd', ['-f', '-C', '-c', join(dir, 'snmptrapd.conf'), '-m', '', '-Lf', log, '-On',
      `udp:127.0.0.1:${p2}`, `udp:127.0.0.1:${p3}`, `udp:127.0.0.1:${p3i}`], { env: { ...process.env, SNMP_PERSISTENT_DIR: join(dir, 'persist') }, stdio: 'ignore' });
    await until(() => readFileSync(log, 'utf8').includes('NET-SNMP version'), 5000, 'snmptrapd started');
    const dm = new DataModel({ file: ':memory:' });
    dm.state('snmp').set('engineID', ENGINE);
    a = await startAgent({
      ...CONFIG,
      users: [...CONFIG.users!, { name: 'trapuser', authProtocol: 'sha', authPassword: 'authpass123', privProtocol: 'aes', privPassword: 'privpass123' }],
      trapTargets: [
        { host: '127.0.0.1', port: p2, version: 'v2c', community: 'public' },
        { host: '127.0.0.1', port: p2, version: 'v2c', community: 'public', inform: true },
        { host: '127.0.0.1', port: p3, version: 'v3', user: 'trapuser' },
        { host: '127.0.0.1', port: p3i, version: 'v3', user: 'trapuser', inform: true },
      ],
    }, dm);
  });
  after(async () => {
    await a?.svc.stop();
    a?.dm.close();
    // snmptrapd writes its persistent state as it exits: remove the directory only after that.
    if (trapd && trapd.exitCode === null && trapd.signalCode === null) {
      const gone = new Promise((r) => trapd!.once('exit', r));
      trapd.kill();
      await gone;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  test('ifOperStatus, the default route row and traps follow the switch', async () => {
    const route = '1.3.6.1.2.1.4.24.7.1.7';
    assert.match(await tool('snmpget', ['-v2c', '-c', 'public', a.target, `1.3.6.1.2.1.2.2.1.8.${a.f.tun}`]), /INTEGER: 1/);
    assert.match(await tool('snmpwalk', ['-v2c', '-c', 'public', a.target, route]), /\.0\.2\.0\.0\.1\.4\.0\.0\.0\.0 = INTEGER: 3\n/);

    switchToDualStack(a.dm, a.f);

    assert.match(await tool('snmpget', [...V3, a.target, `1.3.6.1.2.1.2.2.1.8.${a.f.tun}`]), /INTEGER: 2/);
    const routes = await tool('snmpbulkwalk', [...V3, a.target, route]);
    assert.match(routes, /\.7\.1\.4\.0\.0\.0\.0\.0\.2\.0\.0\.1\.4\.198\.51\.100\.1 = INTEGER: 2\n/);
    assert.doesNotMatch(routes, /\.1\.4\.0\.0\.0\.0 = INTEGER: 3/);
    assert.match(await tool('snmpget', ['-v2c', '-c', 'public', a.target, '1.3.6.1.4.1.32473.6333.1.2.0']), /INTEGER: 2/);

    // v2c trap + v2c inform + v3 trap + v3 inform: each of the two notifications arrives four times.
    const count = (re: RegExp) => (readFileSync(log, 'utf8').match(re) ?? []).length;
    await until(() => count(/\.1\.3\.6\.1\.4\.1\.32473\.6333\.0\.1/g) >= 4 && count(/\.1\.3\.6\.1\.6\.3\.1\.1\.5\.3/g) >= 4, 5000, '4 failover and 4 linkDown/linkUp notifications');
    const text = readFileSync(log, 'utf8');
    assert.match(text, /\.1\.3\.6\.1\.4\.1\.32473\.6333\.1\.14\.0 = STRING: "Silence: no packet from 2001:db8:ff::1 for 3000 ms"/);
    assert.match(text, new RegExp(`\\.1\\.3\\.6\\.1\\.2\\.1\\.2\\.2\\.1\\.8\\.${a.f.tun} = INTEGER: 2`));
    // coldStart at start (RFC 3418) is the first notification: 2 informs for it, 4 for the switch.
    assert.match(text, /\.1\.3\.6\.1\.6\.3\.1\.1\.4\.1\.0 = OID: \.1\.3\.6\.1\.6\.3\.1\.1\.5\.1/);
    await until(() => a.svc.notifier.acked >= 6, 5000, '6 informs acknowledged');
    assert.equal(a.svc.notifier.acked, 6, 'both informs of coldStart and of both switch notifications acknowledged');
  });
});
