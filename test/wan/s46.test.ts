// lw4o6 provisioning against Kea 2.2 (kea-dhcp6 + kea-dhcp4 in 4o6 mode) in a pair of network namespaces:
// the S46 container of RFC 7598 §5.3 and the 4o6 server option (RFC 7341 §8) as the DHCPv6 client decodes them,
// reprovisioning (a fresh Solicit, RFC 7596 §5.2), a Renew (Kea answers it with the S46 options too), and the
// DHCPv4-over-DHCPv6 client (RFC 7341) with RFC 7618's option 159: DORA, renewal at T1 and on demand, release.
// The clients run inside the client namespace in a child process: this same file, started with `child`.
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { Dhcp6Client } from '../../src/wan/dhcp6.ts';
import { Dhcp4o6Client } from '../../src/wan/dhcp4o6.ts';
import type { Lease4, Lease6 } from '../../src/wan/platform.ts';

const run = promisify(execFile);
const SELF = fileURLToPath(import.meta.url);
const SERVER6 = '2001:db8:5::1';
const CLIENT6 = '2001:db8:5::2';
const BIND_PREFIX = '2001:db8:1:cafe::/64';

type Out = Record<string, unknown>;

// ---- the child: the clients, in the client namespace -------------------------------------------------------

async function child(iface: string, what: string): Promise<void> {
  const out = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);
  const log = pino({ level: 'silent' });
  const step = async (name: string, f: () => Promise<unknown>) => {
    const t0 = Date.now();
    try {
      out({ step: name, value: await f(), ms: Date.now() - t0 });
    } catch (err) {
      out({ step: name, error: (err as Error).message, ms: Date.now() - t0 });
    }
  };
  const mac = readFileSync(`/sys/class/net/${iface}/address`, 'utf8').trim();
  const v6 = new Dhcp6Client({ iface, mac, log });
  const first = new Promise<Lease6 | null>((res) => { const d = v6.onLease((l) => { d.dispose(); res(l); }); });
  await v6.start();
  const lease6 = await Promise.race([first, new Promise<null>((r) => setTimeout(() => r(null), 8000))]);
  out({ step: 'lease6', value: lease6 });
  if (what === 'v6' && lease6) {
    await step('reprovision', () => v6.reprovision(5000));
    await step('renew6', async () => { await v6.renew(); return v6.lease(); });
    // The server out of reach (its port dropped here): no new lease, the one held stays.
    for (const cmd of ['add table inet s46', 'add chain inet s46 out { type filter hook output priority 0; }', 'add rule inet s46 out udp dport 547 drop'])
      spawnSync('nft', [cmd], { stdio: 'inherit' });
    const held = v6.lease();
    await step('unreachable', async () => ({ result: await v6.reprovision(1500), heldKept: v6.lease() === held }));
    spawnSync('nft', ['delete table inet s46'], { stdio: 'inherit' });
  }
  if (what === '4o6' && lease6) {
    const c = new Dhcp4o6Client({ iface, servers: lease6.dhcp4o6Servers, source: CLIENT6, bindPrefix: lease6.lw4o6?.bind?.bindPrefix ?? BIND_PREFIX, log });
    await step('acquire', () => c.acquire(5000));
    await step('t1', () => new Promise<Lease4 | null>((res, rej) => {
      const d = c.onLease((l) => { d.dispose(); res(l); });
      setTimeout(() => rej(new Error('no renewal at T1 within 4 s')), 4000).unref();
    }));
    await step('renew', async () => { await c.renew(); return c.lease(); });
    await step('release', async () => { await c.release(); return c.lease(); });
    await step('reacquire', () => c.acquire(5000));
    await c.release();
    await c.stop();
  }
  await v6.stop();
  out({ done: true });
}

// ---- the parent: namespaces, Kea, the assertions -----------------------------------------------------------

const SNS = `s46s${process.pid}`;
const CNS = `s46c${process.pid}`;
const S = `s46s${process.pid}`;
const C = `s46c${process.pid}`;

function suite() {
  describe('lw4o6 provisioning against Kea 2.2', () => {
    const dir = mkdtempSync(join(tmpdir(), 'twinstack-s46-'));
    const daemons: ChildProcess[] = [];
    const cleanup = () => {
      for (const d of daemons) if (d.pid) try { process.kill(d.pid, 'SIGKILL'); } catch { /* gone */ }
      spawnSync('ip', ['netns', 'del', SNS], { stdio: 'ignore' });
      spawnSync('ip', ['netns', 'del', CNS], { stdio: 'ignore' });
    };
    process.once('exit', cleanup);
    const readLog = (name: string) => { try { return readFileSync(join(dir, name), 'utf8'); } catch { return ''; } };
    const logger = (name: string, file: string) => [{ name, severity: 'DEBUG', debuglevel: 55, output_options: [{ output: join(dir, file) }] }];

    before(async () => {
      cleanup();
      for (const ns of [SNS, CNS]) {
        await run('ip', ['netns', 'add', ns]);
        await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
        // Link-local addresses usable at once (no DAD): the DHCPv6 client sends from one.
        for (const k of ['all', 'default']) await run('ip', ['netns', 'exec', ns, 'sysctl', '-qw', `net.ipv6.conf.${k}.accept_dad=0`]);
      }
      await run('ip', ['link', 'add', S, 'netns', SNS, 'type', 'veth', 'peer', 'name', C, 'netns', CNS]);
      await run('ip', ['-n', SNS, 'addr', 'add', `${SERVER6}/64`, 'dev', S, 'nodad']);
      await run('ip', ['-n', SNS, 'addr', 'add', '198.51.100.1/24', 'dev', S]);
      await run('ip', ['-n', CNS, 'addr', 'add', `${CLIENT6}/64`, 'dev', C, 'nodad']);
      await run('ip', ['-n', SNS, 'link', 'set', S, 'up']);
      await run('ip', ['-n', CNS, 'link', 'set', C, 'up']);
      writeFileSync(join(dir, 'kea6.json'), JSON.stringify({ Dhcp6: {
        // The unicast address too: the 4o6 queries go to OPTION_DHCP4_O_DHCP6_SERVER's address.
        'interfaces-config': { interfaces: [`${S}/${SERVER6}`] },
        'server-id': { type: 'EN', 'enterprise-id': 2495, identifier: '0102', persist: false },
        'lease-database': { type: 'memfile', persist: false },
        'dhcp4o6-port': 6767,
        'option-data': [
          { name: 'dhcp4o6-server-addr', data: SERVER6 },
          { name: 's46-cont-lw', space: 'dhcp6' },
          { name: 's46-br', space: 's46-cont-lw-options', data: '2001:db8:ffff::1' },
          { name: 's46-v4v6bind', space: 's46-cont-lw-options', data: `192.0.2.3, ${BIND_PREFIX}` },
          { name: 's46-portparams', space: 's46-v4v6bind-options', data: '0, 1/8' }],
        subnet6: [{ id: 1, subnet: '2001:db8:5::/64', interface: S, pools: [{ pool: '2001:db8:5::100-2001:db8:5::1ff' }] }],
        loggers: logger('kea-dhcp6', 'kea6.log'),
      } }));
      writeFileSync(join(dir, 'kea4.json'), JSON.stringify({ Dhcp4: {
        'interfaces-config': { interfaces: [S], 'dhcp-socket-type': 'udp' },
        'lease-database': { type: 'memfile', persist: false },
        'dhcp4o6-port': 6767,
        // Short times: the renewal at T1 happens within the test.
        'valid-lifetime': 8, 'renew-timer': 2, 'rebind-timer': 5,
        subnet4: [{ id: 2, subnet: '192.0.2.0/24', '4o6-subnet': '2001:db8:5::/64', pools: [{ pool: '192.0.2.10 - 192.0.2.20' }],
          // RFC 7618 §4 option 159, Kea's own definition: offset 4, PSID 5 of 6 bits.
          'option-data': [{ name: 'v4-portparams', data: '4, 5/6' }] }],
        loggers: logger('kea-dhcp4', 'kea4.log'),
      } }));
      const env = { ...process.env, KEA_PIDFILE_DIR: dir, KEA_LOCKFILE_DIR: dir };
      for (const [bin, conf] of [['kea-dhcp6', 'kea6.json'], ['kea-dhcp4', 'kea4.json']]) {
        const t = spawnSync('ip', ['netns', 'exec', SNS, bin, '-t', join(dir, conf)], { env, encoding: 'utf8' });
        assert.equal(t.status, 0, `${bin} -t: ${t.stdout}${t.stderr}`);
        daemons.push(spawn('ip', ['netns', 'exec', SNS, bin, '-c', join(dir, conf)], { stdio: 'ignore', env }));
      }
      for (let i = 0; i < 100 && !(/DHCP6_STARTED/.test(readLog('kea6.log')) && /DHCP4_STARTED/.test(readLog('kea4.log'))); i++) await new Promise((r) => setTimeout(r, 50));
      assert.match(readLog('kea6.log'), /DHCP6_STARTED/);
      assert.match(readLog('kea4.log'), /DHCP4_STARTED/);
    });
    after(() => { cleanup(); if (!process.env.S46_KEEP) rmSync(dir, { recursive: true, force: true }); else console.log(dir); });

    async function inClient(what: 'v6' | '4o6'): Promise<Map<string, Out>> {
      const { stdout } = await run('ip', ['netns', 'exec', CNS, process.execPath, '--import', 'tsx', SELF, 'child', C, what], { timeout: 60_000 });
      const lines = stdout.trim().split('\n').map((l) => JSON.parse(l) as Out);
      assert.ok(lines.at(-1)?.done, stdout);
      return new Map(lines.filter((l) => 'step' in l).map((l) => [l.step as string, l]));
    }

    const LW4O6 = { br: ['2001:db8:ffff::1'], bind: { ipv4: '192.0.2.3', bindPrefix: BIND_PREFIX, portParams: { offset: 0, psidLength: 8, psid: 1 } } };

    test('S46_CONT_LW and the 4o6 server option in the lease; reprovision and Renew bring them again', async () => {
      const r = await inClient('v6');
      const lease = r.get('lease6')!.value as Lease6;
      assert.ok(lease, 'bound');
      assert.deepEqual(lease.lw4o6, LW4O6);
      assert.deepEqual(lease.dhcp4o6Servers, [SERVER6]);
      // What Kea sent for "0, 1/8": offset 0, PSID-len 8, PSID field 0x0100 (left-aligned, RFC 7598 §4.5).
      const cont = lease.options.find((o) => o.tag === 96)!.value;
      assert.match(cont, /005d000400080100$/);
      const re = r.get('reprovision')!;
      assert.equal(re.error, undefined, JSON.stringify(re));
      const fresh = re.value as Lease6;
      assert.deepEqual(fresh.lw4o6, LW4O6);
      assert.ok(fresh.obtained > lease.obtained);
      assert.deepEqual(fresh.addresses.map((a) => a.address), lease.addresses.map((a) => a.address), 'the same address, asked for in the Solicit');
      const renewed = r.get('renew6')!.value as Lease6;
      assert.deepEqual([renewed.lw4o6, renewed.dhcp4o6Servers], [LW4O6, [SERVER6]], 'Kea answers a Renew with the options the ORO asks for');
      const log = readLog('kea6.log');
      assert.ok((log.match(/DHCP6_PACKET_RECEIVED [^\n]*SOLICIT/g) ?? []).length >= 2, 'a Solicit for the lease and one to reprovision');
      assert.ok((log.match(/DHCP6_PACKET_RECEIVED [^\n]*RENEW/g) ?? []).length >= 1);
      const un = r.get('unreachable')!;
      assert.deepEqual(un.value, { result: null, heldKept: true }, JSON.stringify(un));
      assert.ok((un.ms as number) >= 1400 && (un.ms as number) < 2500, `gave up after ${un.ms} ms`);
    });

    test('DHCPv4 over DHCPv6: DORA with option 159, renewal at T1 and on demand, release, Kea seeing each', async () => {
      const r = await inClient('4o6');
      const a = r.get('acquire')!;
      assert.equal(a.error, undefined, JSON.stringify(a));
      const lease = a.value as Lease4;
      assert.match(lease.address, /^192\.0\.2\.(1\d|20)$/);
      assert.deepEqual(lease.portParams, { offset: 4, psidLength: 6, psid: 5 });
      assert.equal(lease.leaseTime, 8);
      assert.ok((a.ms as number) < 3000, `bound in ${a.ms} ms`);
      const t1 = r.get('t1')!;
      assert.equal(t1.error, undefined, JSON.stringify(t1));
      assert.equal((t1.value as Lease4).address, lease.address);
      assert.ok((t1.value as Lease4).obtained - lease.obtained >= 1500, 'renewed at T1 (2 s)');
      const renew = r.get('renew')!;
      assert.equal(renew.error, undefined, JSON.stringify(renew));
      assert.equal((renew.value as Lease4).address, lease.address);
      assert.deepEqual((renew.value as Lease4).portParams, lease.portParams);
      assert.equal(r.get('release')!.value, null);
      const again = r.get('reacquire')!;
      assert.equal(again.error, undefined, JSON.stringify(again));
      assert.equal((again.value as Lease4).address, lease.address, 'the address asked for again (option 50)');
      const log4 = readLog('kea4.log');
      assert.match(log4, new RegExp(`DHCP4_LEASE_ALLOC .*lease ${lease.address.replace(/\./g, '\\.')} has been allocated`));
      assert.equal((log4.match(/DHCP4_RELEASE /g) ?? []).length, 2, 'Kea saw both DHCPRELEASEs');
      // The queries carried RFC 8539 option 137 (the bind prefix); Kea 2.2 has no definition for it and ignored it.
      const log6 = readLog('kea6.log');
      assert.match(log6, /type=00137, len=00009: 40:20:01:0d:b8:00:01:ca:fe/, 'Kea received option 137 (/64, 2001:db8:1:cafe)');
      assert.doesNotMatch(log6, /DHCP6_PACKET_PROCESS_FAIL|DHCP6_PACKET_DROP/);
      // RFC 7341 §6.1 U flag: set (shown as tid 0x800000) on the renewals and releases, clear on the rest.
      assert.ok((log6.match(/DHCPV4_QUERY \(type 20\)/g) ?? []).length >= 8);
      assert.ok((log6.match(/tid=0x800000: DHCPV4_QUERY/g) ?? []).length >= 4);
    });
  });
}

if (process.argv[2] === 'child') {
  await child(process.argv[3], process.argv[4]);
  process.exit(0);
} else {
  suite();
}
