// src/wan/netlink.ts against the kernel: a namespace of its own with a veth pair A-B (B on 10.99.0.0/24,
// A holding the B4 address 192.0.0.2/32 as the tun does). A node child inside the namespace makes the calls
// (netlink-child.ts); `ip -j route` / `ip -j addr` from outside check that exactly what was asked was done
// and nothing else, and that failures leave the tables as they were.
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';

const run = promisify(execFile);
const CHILD = fileURLToPath(new URL('./netlink-child.ts', import.meta.url));
const NS = `nl${process.pid}`;
const A = `nla${process.pid}`;
const B = `nlb${process.pid}`;
const GW = '10.99.0.254';
const B4 = '192.0.0.2';

type Result = { ok: true; value: unknown } | { ok: false; name: string; code: string | null; message: string };

/** Runs the calls in order in one child inside the namespace. */
async function calls(...ops: Array<[string, unknown]>): Promise<Result[]> {
  const { stdout } = await run('ip', ['netns', 'exec', NS, process.execPath, '--import', 'tsx', CHILD, JSON.stringify(ops)]);
  return JSON.parse(stdout) as Result[];
}

async function ok(...ops: Array<[string, unknown]>): Promise<unknown[]> {
  const rs = await calls(...ops);
  for (const r of rs) assert.ok(r.ok, JSON.stringify(r));
  return rs.map((r) => (r.ok ? r.value : undefined));
}

const ip = async (...args: string[]) => (await run('ip', ['-n', NS, ...args])).stdout;
/** The IPv4 routes of a table as `ip -j route` shows them. */
const routes = async (table = 'main') => JSON.parse(await ip('-j', 'route', 'show', 'table', table)) as object[];
/** The IPv4 addresses of an interface: [local, prefixlen, broadcast?] each. */
async function addrs(dev: string): Promise<object[]> {
  const [link] = JSON.parse(await ip('-j', '-4', 'addr', 'show', 'dev', dev)) as Array<{ addr_info: Array<Record<string, unknown>> }>;
  return link.addr_info.map((a) => ({ local: a.local, prefixlen: a.prefixlen, ...(a.broadcast ? { broadcast: a.broadcast } : {}) }));
}

const CONNECTED = { dst: '10.99.0.0/24', dev: B, protocol: 'kernel', scope: 'link', prefsrc: '10.99.0.1', flags: [] };
const VIA_TUN = { dst: 'default', dev: A, protocol: 'static', scope: 'link', prefsrc: B4, metrics: [{ mtu: 1460 }], flags: [] };
const VIA_WAN = { dst: 'default', gateway: GW, dev: B, protocol: 'static', flags: [] };
const tunnel = { dst: '0.0.0.0/0', dev: A, src: B4, mtu: 1460 };
const wan = { dst: '0.0.0.0/0', dev: B, gateway: GW };

function cleanup() {
  spawnSync('ip', ['netns', 'del', NS], { stdio: 'ignore' });
}
process.once('exit', cleanup); // the last resort if the after hook is never reached

before(async () => {
  cleanup();
  await run('ip', ['netns', 'add', NS]);
  await ip('link', 'set', 'lo', 'up');
  await ip('link', 'add', A, 'type', 'veth', 'peer', 'name', B);
  await ip('addr', 'add', `${B4}/32`, 'dev', A);
  await ip('addr', 'add', '10.99.0.1/24', 'dev', B);
  await ip('link', 'set', A, 'up');
  await ip('link', 'set', B, 'up');
});
after(cleanup);

const T = { timeout: 30_000 };

test('default route: dev A with src and mtu, replaced by via GW dev B, and back', T, async () => {
  assert.deepEqual(await routes(), [CONNECTED]);
  await ok(['routeReplace', tunnel]);
  assert.deepEqual(await routes(), [VIA_TUN, CONNECTED]);
  assert.deepEqual(await ok(['routeGet', '198.51.100.1']), [{ dev: A, src: B4 }]);
  await ok(['routeReplace', wan]);
  assert.deepEqual(await routes(), [VIA_WAN, CONNECTED], 'replaced, not added: one default route');
  assert.deepEqual(await ok(['routeGet', '198.51.100.1']), [{ dev: B, gateway: GW, src: '10.99.0.1' }]);
  await ok(['routeReplace', tunnel], ['routeReplace', tunnel]);
  assert.deepEqual(await routes(), [VIA_TUN, CONNECTED], 'back, and idempotent');
});

test('a route in another table with a metric, deleted by its key', T, async () => {
  const r = { dst: '203.0.113.0/24', dev: B, gateway: GW, table: 1000, metric: 50 };
  await ok(['routeReplace', r]);
  assert.deepEqual(await routes('1000'), [{ dst: '203.0.113.0/24', gateway: GW, dev: B, protocol: 'static', metric: 50, flags: [] }]);
  await ok(['routeReplace', { ...r, metric: 60 }]);
  assert.equal((await routes('1000')).length, 2, 'the metric is part of the key: a second route');
  await ok(['routeDelete', r], ['routeDelete', { dst: r.dst, dev: B, table: 1000 }]);
  assert.deepEqual(await routes('1000'), []);
  assert.deepEqual(await routes(), [VIA_TUN, CONNECTED], 'main untouched');
});

test('routeDelete of the default route (given as it was replaced: src and mtu ignored), then no route', T, async () => {
  const [del, get] = await calls(['routeDelete', tunnel], ['routeGet', '198.51.100.1']);
  assert.ok(del.ok, JSON.stringify(del));
  assert.deepEqual(await routes(), [CONNECTED]);
  assert.ok(!get.ok);
  assert.equal(get.code, 'ENETUNREACH');
  assert.equal(get.message, 'routeGet 198.51.100.1: Network is unreachable (ENETUNREACH)');
  await ok(['routeReplace', tunnel]);
});

test('an IPv6 /128 onto a link (the lwB4 address into the tun): added, idempotent, deleted; no gateway or src for it', T, async () => {
  const v6 = async () => (JSON.parse(await ip('-j', '-6', 'route', 'show', 'table', 'main', 'dev', A)) as Array<Record<string, unknown>>)
    .filter((r) => String(r.dst).startsWith('2001:db8:')).map((r) => ({ dst: r.dst, protocol: r.protocol }));
  const r = { dst: '2001:db8:b4::c000:203:1/128', dev: A };
  await ok(['routeReplace', r], ['routeReplace', r]);
  assert.deepEqual(await v6(), [{ dst: '2001:db8:b4::c000:203:1', protocol: 'static' }]);
  // An address alone is a /128.
  await ok(['routeReplace', { dst: '2001:db8:b4::c000:204:2', dev: A }]);
  assert.deepEqual((await v6()).map((x) => x.dst), ['2001:db8:b4::c000:203:1', '2001:db8:b4::c000:204:2']);
  await ok(['routeDelete', r], ['routeDelete', { dst: '2001:db8:b4::c000:204:2/128', dev: A }]);
  assert.deepEqual(await v6(), []);
  const [gw, src, len] = await calls(['routeReplace', { ...r, gateway: GW }], ['routeReplace', { ...r, src: B4 }], ['routeReplace', { dst: '2001:db8::/129', dev: A }]);
  assert.deepEqual([gw, src, len].map((x) => (x.ok ? 'ok' : x.message)), [
    'routeReplace: gateway: only for an IPv4 dst', 'routeReplace: src: only for an IPv4 dst', 'routeReplace: dst "2001:db8::/129": bad prefix length',
  ]);
  assert.deepEqual(await v6(), []);
  assert.deepEqual(await routes(), [VIA_TUN, CONNECTED], 'IPv4 untouched');
});

test('address added with a broadcast, replaced without duplicating, deleted', T, async () => {
  const a = { dev: B, address: '10.99.0.7', prefixLen: 24 };
  await ok(['addrReplace', { ...a, broadcast: '10.99.0.255' }]);
  assert.deepEqual(await addrs(B), [{ local: '10.99.0.1', prefixlen: 24 }, { local: '10.99.0.7', prefixlen: 24, broadcast: '10.99.0.255' }]);
  await ok(['addrReplace', { ...a, broadcast: '10.99.0.255' }]);
  assert.equal((await addrs(B)).length, 2, 'replace is idempotent');
  await ok(['addrReplace', { dev: A, address: '100.64.0.9', prefixLen: 30 }]);
  assert.deepEqual(await addrs(A), [{ local: B4, prefixlen: 32 }, { local: '100.64.0.9', prefixlen: 30 }]);
  await ok(['addrDelete', a], ['addrDelete', { dev: A, address: '100.64.0.9', prefixLen: 30 }]);
  assert.deepEqual(await addrs(B), [{ local: '10.99.0.1', prefixlen: 24 }]);
  assert.deepEqual(await addrs(A), [{ local: B4, prefixlen: 32 }]);
});

test('failures say what and why, and change nothing', T, async () => {
  const before = { main: await routes(), a: await addrs(A), b: await addrs(B) };
  const rs = await calls(
    ['routeReplace', { dst: '0.0.0.0/0', dev: 'nosuchdev0' }],
    ['routeReplace', { dst: '0.0.0.0/0', dev: B, gateway: '10.200.0.1' }],
    ['routeReplace', { dst: '0.0.0.0/0', dev: A, src: '10.200.0.1' }],
    ['routeDelete', { dst: '198.51.100.0/24', dev: B }],
    ['addrDelete', { dev: B, address: '10.99.0.8', prefixLen: 24 }],
    ['addrReplace', { dev: 'nosuchdev0', address: '10.99.0.8', prefixLen: 24 }],
    ['routeReplace', { dst: '10.1.0.1/16', dev: B }],
    ['routeReplace', { dst: '0.0.0.0/0', dev: B, gateway: 'gw' }],
  );
  const failed = (r: Result) => (r.ok ? assert.fail('succeeded') : r);
  assert.deepEqual(
    rs.map((r) => [failed(r).code, failed(r).message]),
    [
      ['ENODEV', 'routeReplace 0.0.0.0/0 dev nosuchdev0: device "nosuchdev0": No such device (ENODEV)'],
      ['ENETUNREACH', `routeReplace 0.0.0.0/0 via 10.200.0.1 dev ${B}: Network is unreachable (ENETUNREACH): Nexthop has invalid gateway`],
      ['EINVAL', `routeReplace 0.0.0.0/0 dev ${A}: Invalid argument (EINVAL): Invalid prefsrc address`],
      ['ESRCH', `routeDelete 198.51.100.0/24 dev ${B}: No such process (ESRCH)`],
      ['EADDRNOTAVAIL', `addrDelete 10.99.0.8/24 dev ${B}: Cannot assign requested address (EADDRNOTAVAIL): ipv4: Address not found`],
      ['ENODEV', 'addrReplace 10.99.0.8/24 dev nosuchdev0: device "nosuchdev0": No such device (ENODEV)'],
      ['EINVAL', `routeReplace 10.1.0.1/16 dev ${B}: Invalid argument (EINVAL): Invalid prefix for given prefix length`],
      [null, 'routeReplace: gateway "gw" is not an IPv4 address'],
    ],
  );
  assert.equal(failed(rs[7]).name, 'TypeError');
  assert.deepEqual({ main: await routes(), a: await addrs(A), b: await addrs(B) }, before);
});
