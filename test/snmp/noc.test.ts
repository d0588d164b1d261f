// Issue "NOC-grade SNMP", each item against Net-SNMP's tools and snmptrapd: real counters on every interface,
// ifLastChange that moves only with ifOperStatus, linkDown/linkUp for a status computed on read, the standard
// notifications and groups, and a 10,000-row table served without stalling the event loop.
import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { DataModel } from '../../src/datamodel/index.ts';
import { SnmpService } from '../../src/snmp/index.ts';
import { SimNetwork } from '../../src/sim/network.ts';
import { attachInterfaceStats, sysfsInterface } from '../../src/wan/stats.ts';
import { sleep, until } from '../wait.ts';
import { CONFIG, MIBDIRS, populate, startAgent, startTrapd, tool, toolResult } from './fixture.ts';

const run = promisify(execFile);
const G = ['-v2c', '-c', 'public'];
const W = ['-v2c', '-c', 'private'];
const IF = '1.3.6.1.2.1.2.2.1';
const IFX = '1.3.6.1.2.1.31.1.1.1';
/** "OID = TYPE: value" lines -> OID -> value. */
const parse = (out: string) => new Map(out.trim().split('\n').map((l) => { const [o, v] = l.split(' = '); return [o, v?.replace(/^[\w-]+: /, '')]; }));

describe('item 1: every interface counts its traffic (simulated network, kernel)', () => {
  const sim = new SimNetwork({ log: pino({ level: 'silent' }), lanPps: 200, delayMs: 1, interfaces: { lan: 'lan0', wan: 'wan0', tunnel: 'dslite0' } });
  let a: Awaited<ReturnType<typeof startAgent>>;
  before(async () => {
    await sim.start();
    await sim.tunnel.up('2001:db8:ff::1');
    await sim.ipv4.routeVia('tunnel');
    const dm = new DataModel({ file: ':memory:' });
    attachInterfaceStats(dm, (n) => sim.interfaceInfo(n));
    const f = populate(dm);
    const svc = new SnmpService(dm, CONFIG, { interfaces: (n) => sim.interfaceInfo(n) });
    const { port } = await svc.start();
    a = { dm, svc, port, f, target: `127.0.0.1:${port}` };
  });
  after(async () => { await a.svc.stop(); a.dm.close(); await sim.stop(); });

  test('ifHCIn/OutOctets of LAN, WAN and softwire move, and equal Device.IP.Interface.{i}.Stats', async () => {
    await sleep(300);
    const first = parse(await tool('snmpbulkwalk', [...G, a.target, `${IFX}.6`, `${IFX}.10`]));
    await sleep(300);
    const cols = await tool('snmpget', [...G, a.target, ...[6, 10].flatMap((c) => [1, 2, 3].map((i) => `${IFX}.${c}.${i}`))]);
    const second = parse(cols);
    for (const i of [a.f.lan, a.f.wan, a.f.tun]) {
      for (const c of [6, 10]) {
        const oid = `.${IFX}.${c}.${i}`;
        assert.ok(BigInt(second.get(oid)!) > BigInt(first.get(oid) ?? '0'), `${oid} moves: ${first.get(oid)} -> ${second.get(oid)}`);
      }
    }
    // The WAN carries the softwire's packets with their IPv6 header (40 octets more each).
    assert.ok(BigInt(second.get(`.${IFX}.10.${a.f.wan}`)!) > BigInt(second.get(`.${IFX}.10.${a.f.tun}`)!));
    // The data model serves the same source (the platform's counters) for every row, not only the softwire.
    const bytes = (i: number) => BigInt(a.dm.getValue(`Device.IP.Interface.${i}.Stats.BytesReceived`));
    assert.ok(bytes(a.f.lan) > 0n && bytes(a.f.wan) > 0n, 'Stats of LAN and WAN are not 0');
  });

  test('ifSpeed/ifHighSpeed, ifPhysAddress, ifConnectorPresent: utilisation can be computed', async () => {
    const out = parse(await tool('snmpget', [...G, a.target, `${IF}.5.${a.f.lan}`, `${IF}.6.${a.f.lan}`, `${IFX}.15.${a.f.wan}`, `${IFX}.15.${a.f.tun}`,
      `${IFX}.17.${a.f.lan}`, `${IFX}.17.${a.f.tun}`]));
    assert.equal(out.get(`.${IF}.5.${a.f.lan}`), '1000000000');
    assert.equal(out.get(`.${IF}.6.${a.f.lan}`)?.trim(), '02 00 00 00 00 01');
    assert.equal(out.get(`.${IFX}.15.${a.f.wan}`), '1000');
    assert.equal(out.get(`.${IFX}.15.${a.f.tun}`), '1000', 'the softwire runs at the speed of the WAN below it');
    assert.equal(out.get(`.${IFX}.17.${a.f.lan}`), '1');
    assert.equal(out.get(`.${IFX}.17.${a.f.tun}`), '2');
  });

  test('Linux mode: the kernel counters of an interface (lo), through the data model and ifXTable', async () => {
    const dm = new DataModel({ file: ':memory:' });
    attachInterfaceStats(dm, sysfsInterface);
    const lo = dm.add('Device.IP.Interface.', 'system', { Name: 'lo', Enable: 'true', Status: 'Up', Type: 'Loopback' }).instance;
    const svc = new SnmpService(dm, CONFIG, { interfaces: sysfsInterface });
    const target = `127.0.0.1:${(await svc.start()).port}`;
    try {
      const get = async () => BigInt(parse(await tool('snmpget', [...G, target, `${IFX}.10.${lo}`])).get(`.${IFX}.10.${lo}`)!);
      const before = await get();
      const s = createSocket('udp4');
      for (let i = 0; i < 50; i++) s.send(Buffer.alloc(1000), 9, '127.0.0.1');
      await sleep(100);
      s.close();
      const now = await get();
      assert.ok(now >= before + 50_000n, `ifHCOutOctets of lo counts 50 x 1000 octets: ${before} -> ${now}`);
      assert.ok(BigInt(dm.getValue(`Device.IP.Interface.${lo}.Stats.BytesSent`)) >= now, 'Stats.BytesSent reads the same kernel counter');
    } finally {
      await svc.stop();
      dm.close();
    }
  });
});

describe('items 2 and 3: ifLastChange and linkDown/linkUp follow ifOperStatus, also when computed on read', () => {
  let trapd: Awaited<ReturnType<typeof startTrapd>>;
  let a: Awaited<ReturnType<typeof startAgent>>;
  let up = true;
  let since = Date.now();
  before(async () => {
    trapd = await startTrapd();
    const dm = new DataModel({ file: ':memory:' });
    // As src/dslite does for the softwire: Status and LastChange computed when read, no change event.
    dm.attach('Device.IP.Interface.{i}.', {
      read: (path): Record<string, string> => path === 'Device.IP.Interface.3.'
        ? { Status: up ? 'Up' : 'Down', LastChange: String(Math.floor((Date.now() - since) / 1000)) } : {},
    });
    a = await startAgent({ ...CONFIG, trapTargets: [{ host: '127.0.0.1', port: trapd.port, version: 'v2c', community: 'public' }] }, dm);
  });
  after(async () => { await a.svc.stop(); a.dm.close(); await trapd.stop(); });

  test('ifLastChange is the same on every poll while nothing changes', async () => {
    const poll = async () => parse(await tool('snmpwalk', [...G, a.target, `${IF}.9`]));
    const p1 = await poll();
    await sleep(1100);
    const p2 = await poll();
    assert.equal(p1.size, 3);
    assert.deepEqual([...p2], [...p1]);
    for (const v of p1.values()) assert.match(v!, /^\(0\) /, 'entered its state before the agent started: 0');
  });

  test('a softwire status change seen only on read raises linkDown then linkUp with ifIndex, ifAdminStatus, ifOperStatus', async () => {
    const t = a.f.tun;
    up = false;
    since = Date.now();
    await until(() => trapd.text().includes('.1.3.6.1.6.3.1.1.5.3'), 4000, 'linkDown at snmptrapd');
    const down = trapd.text();
    assert.match(down, new RegExp(`\\.1\\.3\\.6\\.1\\.2\\.1\\.2\\.2\\.1\\.1\\.${t} = INTEGER: ${t}\\s+\\.1\\.3\\.6\\.1\\.2\\.1\\.2\\.2\\.1\\.7\\.${t} = INTEGER: 1\\s+\\.1\\.3\\.6\\.1\\.2\\.1\\.2\\.2\\.1\\.8\\.${t} = INTEGER: 2`));
    const lc = async () => parse(await tool('snmpget', [...G, a.target, `${IF}.9.${t}`, '1.3.6.1.2.1.1.3.0', `${IF}.9.${a.f.lan}`]));
    const r1 = await lc();
    await sleep(1100);
    const r2 = await lc();
    const ticks = (s: string | undefined) => Number(/^\((\d+)\)/.exec(s ?? '')?.[1]);
    assert.ok(ticks(r1.get(`.${IF}.9.${t}`)) > 0 && ticks(r1.get(`.${IF}.9.${t}`)) <= ticks(r1.get('.1.3.6.1.2.1.1.3.0')));
    assert.equal(r2.get(`.${IF}.9.${t}`), r1.get(`.${IF}.9.${t}`), 'stable while the tunnel stays down');
    assert.equal(r2.get(`.${IF}.9.${a.f.lan}`), r1.get(`.${IF}.9.${a.f.lan}`));
    up = true;
    await until(() => trapd.text().includes('.1.3.6.1.6.3.1.1.5.4'), 4000, 'linkUp at snmptrapd');
    assert.match(trapd.text(), new RegExp(`\\.1\\.3\\.6\\.1\\.2\\.1\\.2\\.2\\.1\\.8\\.${t} = INTEGER: 1`));
  });

  test('a stored status change (LAN down) raises linkDown at once', async () => {
    a.dm.set({ [`Device.IP.Interface.${a.f.lan}.Status`]: 'Down' }, 'system');
    await until(() => new RegExp(`\\.2\\.2\\.1\\.8\\.${a.f.lan} = INTEGER: 2`).test(trapd.text()), 2000, 'linkDown of the LAN');
  });
});

describe('item 4: standard notifications and groups', () => {
  let trapd: Awaited<ReturnType<typeof startTrapd>>;
  let a: Awaited<ReturnType<typeof startAgent>>;
  const COLD = '.1.3.6.1.6.3.1.1.4.1.0 = OID: .1.3.6.1.6.3.1.1.5.1';
  const WARM = '.1.3.6.1.6.3.1.1.4.1.0 = OID: .1.3.6.1.6.3.1.1.5.2';
  const AUTH = '.1.3.6.1.6.3.1.1.4.1.0 = OID: .1.3.6.1.6.3.1.1.5.5';
  const MODE = '.1.3.6.1.6.3.1.1.4.1.0 = OID: .1.3.6.1.4.1.32473.6333.0.1';
  const targets = () => [{ host: '127.0.0.1', port: trapd.port, version: 'v2c' as const, community: 'public' }];
  before(async () => {
    trapd = await startTrapd();
    const dm = new DataModel({ file: ':memory:' });
    dm.set({ 'Device.X_TWINSTACK-ORG_Failover.Mode': 'None' }, 'system');
    a = await startAgent({ ...CONFIG, trapTargets: targets() }, dm);
  });
  after(async () => { await a.svc.stop(); a.dm.close(); await trapd.stop(); });

  test('coldStart at start, not a mode-change trap with SwitchCount 0 (boot None -> DSLite)', async () => {
    await until(() => trapd.text().includes(COLD), 3000, 'coldStart');
    assert.ok(!trapd.text().includes(MODE), 'the boot-time mode is not a switch');
    const dm = new DataModel({ file: ':memory:' });
    populate(dm);
    const svc = new SnmpService(dm, { ...CONFIG, trapTargets: targets() }, { warm: true });
    await svc.start();
    await until(() => trapd.text().includes(WARM), 3000, 'warmStart after a restart in place');
    await svc.stop();
    dm.close();
  });

  test('authenticationFailure only while snmpEnableAuthenTraps is enabled(1); snmpInBadCommunityNames/Uses count', async () => {
    const auth = () => trapd.text().split(AUTH).length - 1;
    assert.match(await tool('snmpget', [...G, a.target, '1.3.6.1.2.1.11.30.0']), /INTEGER: 2/);
    await toolResult('snmpget', ['-v2c', '-c', 'guess', a.target, '1.3.6.1.2.1.1.3.0']);
    await sleep(200);
    assert.equal(auth(), 0);
    await tool('snmpset', [...W, a.target, '1.3.6.1.2.1.11.30.0', 'i', '1']);
    assert.equal(a.dm.state('snmp').get('enableAuthenTraps'), '1', 'kept across restarts');
    await toolResult('snmpget', ['-v2c', '-c', 'guess', a.target, '1.3.6.1.2.1.1.3.0']);
    await until(() => auth() >= 1, 3000, 'authenticationFailure trap');
    const ro = await toolResult('snmpset', [...G, a.target, '1.3.6.1.2.1.1.5.0', 's', 'x']);
    assert.match(ro.stderr, /noAccess/);
    const c = parse(await tool('snmpget', [...G, a.target, '1.3.6.1.2.1.11.4.0', '1.3.6.1.2.1.11.5.0']));
    assert.ok(Number(c.get('.1.3.6.1.2.1.11.4.0')) >= 2, 'snmpInBadCommunityNames');
    assert.equal(c.get('.1.3.6.1.2.1.11.5.0'), '1', 'snmpInBadCommunityUses: a SET through the read-only community');
  });

  test('sysORTable names the MIB modules implemented; sysORLastChange is 0', async () => {
    const out = await tool('snmpwalk', [...G, a.target, '1.3.6.1.2.1.1.8', '1.3.6.1.2.1.1.9']);
    const m = parse(await tool('snmpwalk', [...G, a.target, '1.3.6.1.2.1.1.9.1.2']));
    assert.ok([...m.values()].includes('.1.3.6.1.2.1.31'), 'IF-MIB');
    assert.ok([...m.values()].includes('.1.3.6.1.4.1.32473.6333'), 'TWINSTACK-FAILOVER-MIB');
    assert.equal(m.size, 7);
    const last = await tool('snmpget', [...G, a.target, '1.3.6.1.2.1.1.8.0']);
    assert.match(last, /Timeticks: \(0\)/);
    assert.ok(out.length > 0);
    const { stdout } = await run('snmptranslate', ['-M', MIBDIRS, '-m', 'SNMPv2-MIB', '-OS', '.1.3.6.1.2.1.1.9.1.3.1', '.1.3.6.1.2.1.1.8.0']);
    assert.deepEqual(stdout.split('\n').filter(Boolean), ['SNMPv2-MIB::sysORDescr.1', 'SNMPv2-MIB::sysORLastChange.0']);
  });

  test('snmpSetSerialNo is a TestAndIncr: the current value succeeds and increments, a stale one fails', async () => {
    const cur = Number(parse(await tool('snmpget', [...G, a.target, '1.3.6.1.6.3.1.1.6.1.0'])).get('.1.3.6.1.6.3.1.1.6.1.0'));
    await tool('snmpset', [...W, a.target, '1.3.6.1.6.3.1.1.6.1.0', 'i', String(cur), '1.3.6.1.2.1.1.5.0', 's', 'gw-1']);
    assert.equal(a.dm.getValue('Device.DeviceInfo.HostName'), 'gw-1');
    assert.match(await tool('snmpget', [...G, a.target, '1.3.6.1.6.3.1.1.6.1.0']), new RegExp(`INTEGER: ${cur + 1}\\n`));
    const stale = await toolResult('snmpset', [...W, a.target, '1.3.6.1.6.3.1.1.6.1.0', 'i', String(cur), '1.3.6.1.2.1.1.5.0', 's', 'gw-2']);
    assert.match(stale.stderr, /inconsistentValue/);
    assert.equal(a.dm.getValue('Device.DeviceInfo.HostName'), 'gw-1', 'the whole SET is refused');
  });
});
