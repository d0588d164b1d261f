// The LAN fast path (src/forwarder/native/fastpath.h) end to end in namespaces: with `lanFastPath:
// ['cpe-lan']` the IPv4 the cpe would route into the tun reaches it from tc ingress, so the cpe's kernel
// forwards none of it (its IP ForwDatagrams counter stays put), and it still behaves as forwarded: TTL one
// lower, TTL 1 answered by the kernel, checksums and TCP super-packets intact (iperf3), other routes left
// to the kernel, attach and detach by reconfigure().
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { AftrFixture } from '../fixtures/aftr/aftr.ts';
import { LabB4 } from '../lab/b4.ts';
import { ADDR, captureTunnelled, createLab, iperf3Server, routeNatively, type Lab } from '../lab/lab.ts';
import type { ForwarderConfig } from '../../src/forwarder/index.ts';

let lab: Lab;
let b4: LabB4;
const config: ForwarderConfig = { tunName: 'b4tun', softwire: ADDR.softwire, aftr: ADDR.aftr, mode: 'dslite', mssClamp: 1420, lanFastPath: ['cpe-lan'] };

before(async () => {
  lab = await createLab(`fp${process.pid}`);
  await AftrFixture.start(lab);
  b4 = await LabB4.start(lab, config);
  const nft = lab.spawn('cpe', 'nft', '-f', '-');
  nft.stdin!.end(`table ip fpt {
  counter intotun {}
  chain fc { type filter hook forward priority 0; policy accept; oifname "b4tun" counter name intotun; }
}
`);
  assert.equal(await new Promise((r) => nft.once('exit', r)), 0, 'nft counter in the forward hook');
});
after(async () => {
  await lab?.cleanup();
});

const T = { timeout: 30_000 };
const ping = (count = 3, ...args: string[]) =>
  lab.tryExec('lan', 'busybox', 'ping', '-c', String(count), '-i', '0.2', '-W', '2', '-w', '4', ...args, ADDR.inet);

/**
 * Packets the cpe's kernel forwarded into the tun: an nft counter in its forward hook, which the fast path
 * skips (IPv4 only: the AFTR's IPv6 towards the softwire is forwarded into the tun too).
 */
async function kernelIntoTun(): Promise<number> {
  return Number(/packets (\d+)/.exec(await lab.exec('cpe', 'nft', 'list', 'counter', 'ip', 'fpt', 'intotun'))![1]);
}

/** One counter of the cpe's /proc/net/snmp, e.g. ('Icmp', 'OutTimeExcds'). */
async function snmp(group: string, name: string): Promise<number> {
  const lines = (await lab.exec('cpe', 'cat', '/proc/net/snmp')).split('\n').filter((l) => l.startsWith(`${group}: `));
  const names = lines[0].split(' ');
  return Number(lines[1].split(' ')[names.indexOf(name)]);
}

test('attached to cpe-lan: pings cross the tunnel without the cpe kernel forwarding them', T, async () => {
  assert.deepEqual((await b4.counters()).fastPathInterfaces, ['cpe-lan']);
  const forwarded = await kernelIntoTun();
  const before = await b4.counters();
  const r = await ping(3);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const c = await b4.counters();
  assert.equal(c.fastPathPackets - before.fastPathPackets, 3, JSON.stringify(c));
  assert.equal(c.txPackets - before.txPackets, 3);
  assert.equal(await kernelIntoTun(), forwarded, 'the kernel forwarded none of them');
});

test('TTL is decremented once, with a valid header checksum, as forwarding does (RFC 1812 §5.3.1)', T, async () => {
  // tcpdump -v checks the inner IPv4 header checksum and prints the TTL the B4 encapsulated.
  const out = await captureTunnelled(lab, 1, async () => assert.equal((await ping(1, '-t', '10')).code, 0), ['-v']);
  assert.match(out, /IP \(tos 0x0, ttl 9, .*proto ICMP \(1\), length 84\)\s+192\.168\.1\.2 > 198\.51\.100\.2: ICMP echo request/, out);
  assert.doesNotMatch(out, /bad cksum/);
});

test('TTL 1 is left to the kernel, which answers time exceeded', T, async () => {
  const before = await b4.counters();
  const exceeded = await snmp('Icmp', 'OutTimeExcds');
  await ping(1, '-t', '1');
  assert.equal(await snmp('Icmp', 'OutTimeExcds'), exceeded + 1);
  const c = await b4.counters();
  assert.equal(c.fastPathPackets, before.fastPathPackets);
  assert.equal(c.txPackets, before.txPackets);
});

test('iperf3 TCP through the fast path: super-packets and partial checksums reach the B4 intact', T, async () => {
  await iperf3Server(lab);
  const forwarded = await kernelIntoTun();
  const before = await b4.counters();
  const res = JSON.parse(await lab.exec('lan', 'iperf3', '-c', ADDR.inet, '-t', '2', '-J')) as { end: { sum_received: { bytes: number } } };
  assert.ok(res.end.sum_received.bytes > 1_000_000, `received ${res.end.sum_received.bytes} bytes`);
  const c = await b4.counters();
  assert.ok(c.tsoSegments - before.tsoSegments > 0, 'the B4 cut super-packets it got from the fast path');
  assert.ok(c.fastPathPackets - before.fastPathPackets > 0);
  assert.equal(c.drops.v4_bad_checksum, 0);
  assert.equal(await kernelIntoTun(), forwarded);
});

test('IPv4 routed elsewhere (native dual-stack route) is left to the kernel', T, async () => {
  await routeNatively(lab);
  try {
    const before = await b4.counters();
    const forwarded = await snmp('Ip', 'ForwDatagrams');
    await ping(2); // the reply has no way back here; only the way out matters
    assert.equal((await b4.counters()).fastPathPackets, before.fastPathPackets);
    assert.ok((await snmp('Ip', 'ForwDatagrams')) >= forwarded + 2, 'the kernel forwarded them out of cpe-wan');
  } finally {
    await lab.exec('cpe', 'ip', 'route', 'replace', 'default', 'dev', 'b4tun');
  }
});

test('reconfigure detaches and re-attaches it; an unknown interface keeps the kernel path', T, async () => {
  await b4.reconfigure({ ...config, lanFastPath: [] });
  assert.deepEqual((await b4.counters()).fastPathInterfaces, []);
  let before = await b4.counters();
  let forwarded = await kernelIntoTun();
  assert.equal((await ping(2)).code, 0);
  assert.equal((await b4.counters()).fastPathPackets, before.fastPathPackets);
  assert.equal(await kernelIntoTun(), forwarded + 2, 'the kernel forwarded them into the tun');

  await b4.reconfigure({ ...config, lanFastPath: ['nosuch0', 'cpe-lan'] });
  assert.deepEqual((await b4.counters()).fastPathInterfaces, ['cpe-lan']);
  before = await b4.counters();
  forwarded = await kernelIntoTun();
  assert.equal((await ping(2)).code, 0);
  assert.equal((await b4.counters()).fastPathPackets - before.fastPathPackets, 2);
  assert.equal(await kernelIntoTun(), forwarded);
});
