// End to end in namespaces (PEERS.md §3): lan -> cpe (our B4 on a tun) -> aftr (fixture, NAT44) -> inet.
// Ping and an iperf3 TCP transfer cross the tunnel; tcpdump shows IPv4-in-IPv6 on the cpe-aftr link;
// killing the AFTR raises an ICMPv6 destination-unreachable event; a blackholed AFTR only goes silent;
// UDP super-packets from the LAN reach the B4 whole (USO) and leave as datagrams.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { AftrFixture } from '../fixtures/aftr/aftr.ts';
import type { Counters as ForwarderCounters } from '../../src/forwarder/types.ts';
import { compileC } from '../lab/cc.ts';
import { LabB4 } from '../lab/b4.ts';
import { ADDR, captureTunnelled, createLab, iperf3Server, waitFor, type Lab } from '../lab/lab.ts';

let lab: Lab;
let aftr: AftrFixture;
let b4: LabB4;

before(async () => {
  lab = await createLab(`fw${process.pid}`);
  aftr = await AftrFixture.start(lab);
  b4 = await LabB4.start(lab, { mssClamp: 1420 });
});
after(async () => {
  await lab?.cleanup();
});

// busybox ping: iputils is not among the Debian peers. -w bounds the whole run.
const ping = (count = 3) => lab.tryExec('lan', 'busybox', 'ping', '-c', String(count), '-i', '0.2', '-W', '2', '-w', '4', ADDR.inet);
const T = { timeout: 30_000 };

const nft = async (role: 'aftr' | 'inet', script: string) => {
  const p = lab.spawn(role, 'nft', '-f', '-');
  p.stdin!.end(script);
  assert.equal(await new Promise((r) => p.once('exit', r)), 0, `nft in ${role}`);
};

/** tcpdump's first `count` IPv4-in-IPv6 packets on the cpe-aftr link while one ping crosses the tunnel. */
const tunnelled = (count: number) => captureTunnelled(lab, count, () => ping(1));

test('ping from lan reaches inet through the B4 and the AFTR', T, async () => {
  const r = await ping();
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /3 packets transmitted, 3 packets received/);
  const c = await b4.counters();
  assert.ok(c.txPackets >= 3 && c.rxPackets >= 3, JSON.stringify(c));
  assert.ok(c.lastRxFromAftr !== null && Date.now() - c.lastRxFromAftr < 5000);
});

test('each tun queue takes what its CPU forwards (XPS-style steering): pings from CPU 0, then from CPU 1', T, async () => {
  assert.ok(availableParallelism() >= 2, 'needs 2 CPUs: the B4 runs one queue per CPU here');
  // The LAN's packet is forwarded into the tun on the CPU that sent it (veth, no RPS), so a pinned sender
  // picks the queue; the other queue's thread sees none of it.
  for (const cpu of [0, 1]) {
    const before = (await b4.counters()).queueTxPackets;
    const r = await lab.tryExec('lan', 'taskset', '-c', String(cpu), 'busybox', 'ping', '-c', '3', '-i', '0.2', '-W', '2', '-w', '4', ADDR.inet);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const after = (await b4.counters()).queueTxPackets;
    assert.deepEqual(after.map((n, q) => n - before[q]), cpu === 0 ? [3, 0] : [0, 3]);
  }
});

test('while two queues are loaded each queue thread keeps to the CPU that feeds it; alone, it may run anywhere', T, async () => {
  assert.ok(availableParallelism() >= 2, 'needs 2 CPUs: the B4 runs one queue per CPU here');
  // The CPUs each native queue thread (fwq0, fwq1) may run on, and those of the whole process.
  const affinity = async () => {
    const list = (status: string) => /Cpus_allowed_list:\s*(\S+)/.exec(status)![1];
    const out: Record<string, string> = { process: list(await readFile(`/proc/${b4.pid}/status`, 'utf8')) };
    for (const tid of await readdir(`/proc/${b4.pid}/task`)) {
      const comm = (await readFile(`/proc/${b4.pid}/task/${tid}/comm`, 'utf8').catch(() => '')).trim();
      if (/^fwq\d$/.test(comm)) out[comm] = list(await readFile(`/proc/${b4.pid}/task/${tid}/status`, 'utf8'));
    }
    return out;
  };
  const start = await affinity();
  assert.deepEqual(start, { process: start.process, fwq0: start.process, fwq1: start.process }, 'unloaded: no thread pinned');
  // The flood stops in aftr before the fixture, which would only be overloaded by it.
  await nft('aftr', `table ip6 affinity {
  chain pre { type filter hook prerouting priority raw; policy accept; ip6 saddr ${ADDR.softwire} ip6 nexthdr 4 drop; }
}
`);
  try {
    const flood = await compileC(fileURLToPath(new URL('../lab/udpflood.c', import.meta.url)));
    // A 64-byte flood from each CPU: both queues loaded.
    const floods = (cpus: number[]) => Promise.all(cpus.map((cpu) => lab.exec('lan', 'taskset', '-c', String(cpu), flood, ADDR.inet, '9', '3', '36', '4')));
    let both = floods([0, 1]);
    await waitFor('fwq0 on CPU 0 and fwq1 on CPU 1', async () => {
      const a = await affinity();
      return a.fwq0 === '0' && a.fwq1 === '1';
    }, 2500);
    await both;
    // Then from CPU 0 alone: queue 0's thread is let go, so the idle CPU can take its share.
    const one = floods([0]);
    await waitFor('fwq0 on any CPU again', async () => (await affinity()).fwq0 === start.process, 2500);
    await one;
    // And both again: pinned again.
    both = floods([0, 1]);
    await waitFor('fwq0 on CPU 0 again', async () => {
      const a = await affinity();
      return a.fwq0 === '0' && a.fwq1 === '1';
    }, 2500);
    await both;
  } finally {
    await lab.tryExec('aftr', 'nft', 'delete', 'table', 'ip6', 'affinity');
  }
});

test('tcpdump on the cpe-aftr link shows IPv4-in-IPv6 from the softwire to the AFTR', T, async () => {
  const stdout = await tunnelled(2);
  assert.match(stdout, /IP6 2001:db8:b4::1 > 2001:db8:ff::1: IP 192\.168\.1\.2 > 198\.51\.100\.2: ICMP echo request/);
  assert.match(stdout, /IP6 2001:db8:ff::1 > 2001:db8:b4::1: IP 198\.51\.100\.2 > 192\.168\.1\.2: ICMP echo reply/);
});

test('iperf3 TCP from lan to inet through the tunnel, MSS clamped', T, async () => {
  await iperf3Server(lab);
  const before = await b4.counters();
  const out = await lab.exec('lan', 'iperf3', '-c', ADDR.inet, '-t', '2', '-J');
  const res = JSON.parse(out) as { end: { sum_received: { bytes: number; bits_per_second: number } } };
  assert.ok(res.end.sum_received.bytes > 1_000_000, `received ${res.end.sum_received.bytes} bytes`);
  const c = await b4.counters();
  assert.ok(c.txBytes - before.txBytes >= res.end.sum_received.bytes, 'every byte went through the B4');
  assert.ok(c.mssClamped - before.mssClamped >= 2, 'SYN and SYN-ACK clamped');
  assert.ok(c.tsoSegments - before.tsoSegments > 0, 'the kernel handed over TCP super-packets (TSO)');
  // The kernel's own IPv6 chatter on the tun (MLD reports, router solicitations) is not for the softwire.
  const drops = Object.entries(c.drops).filter(([name, n]) => n > 0 && name !== 'v6_not_softwire');
  assert.deepEqual(drops, []);
  assert.ok(c.drops.v6_not_softwire < 20, `${c.drops.v6_not_softwire} v6_not_softwire`);
});

test('iperf3 TCP download (inet to lan): decapsulated segments coalesced into super-packets', T, async () => {
  await iperf3Server(lab);
  const before = await b4.counters();
  const out = await lab.exec('lan', 'iperf3', '-c', ADDR.inet, '-t', '2', '-R', '-J');
  const res = JSON.parse(out) as { end: { sum_received: { bytes: number } } };
  assert.ok(res.end.sum_received.bytes > 1_000_000, `received ${res.end.sum_received.bytes} bytes`);
  const c = await b4.counters();
  assert.ok(c.rxBytes - before.rxBytes >= res.end.sum_received.bytes, 'every byte came through the B4');
  assert.ok(c.groCoalesced - before.groCoalesced > 0, 'segments were merged and the kernel took the super-packets');
});

test('UDP super-packets from the LAN (UDP_SEGMENT) reach the B4 whole and leave as datagrams (USO)', T, async () => {
  // 64 sends of 4 datagrams of 200 bytes each cross the lan veth as super-packets; the tun takes them
  // whole (TUN_F_USO4) and the B4 cuts them: on the cpe-aftr link each datagram is one IPv6 packet of
  // 40 + 20 + 8 + 200 bytes, counted in aftr before its IP layer does anything else with it.
  await nft('aftr', `table ip6 uso {
  counter dgrams {}
  chain pre { type filter hook prerouting priority raw; policy accept; ip6 saddr ${ADDR.softwire} ip6 nexthdr 4 meta length 268 counter name dgrams; }
}
`);
  // No port unreachable back from inet: on the sender's connected sockets it would end a sendmmsg batch
  // early (ECONNREFUSED), and fewer than the 64 sends would go out.
  await nft('inet', `table ip uso {
  chain input { type filter hook input priority 0; policy accept; udp dport 9 drop; }
}
`);
  try {
    const flood = await compileC(fileURLToPath(new URL('../lab/udpflood.c', import.meta.url)));
    const before = await b4.counters();
    const sent = Number(await lab.exec('lan', flood, ADDR.inet, '9', '0', '200', '1', '4'));
    assert.equal(sent, 256);
    const seen = () => lab.exec('aftr', 'nft', 'list', 'counter', 'ip6', 'uso', 'dgrams').then((o) => Number(/packets (\d+)/.exec(o)![1]));
    await waitFor('256 datagrams on the cpe-aftr link', async () => (await seen()) >= 256);
    const c = await b4.counters();
    assert.equal(c.usoSegments - before.usoSegments, 256, 'every datagram came out of a super-packet');
    assert.equal(c.txPackets - before.txPackets, 256);
    assert.equal(await seen(), 256);
    const drops = Object.entries(c.drops).filter(([name, n]) => n > 0 && name !== 'v6_not_softwire');
    assert.deepEqual(drops, []);
  } finally {
    await lab.tryExec('aftr', 'nft', 'delete', 'table', 'ip6', 'uso');
    await lab.tryExec('inet', 'nft', 'delete', 'table', 'ip', 'uso');
  }
});

test('killing the AFTR makes ICMPv6 destination unreachable arrive as an event', T, async () => {
  await aftr.kill();
  const r = await ping(2);
  assert.notEqual(r.code, 0);
  const ev = await b4.waitEvent((e) => e.type === 1);
  assert.deepEqual(ev, { type: 1, code: 0, source: ADDR.aftrWan6, quotedSrc: ADDR.softwire, quotedDst: ADDR.aftr });
  const c = await b4.counters();
  assert.ok(c.icmpv6Errors >= 1);
  await aftr.restart();
  assert.equal((await ping(2)).code, 0, 'recovers once the AFTR is back');
});

test('a blackholed AFTR goes silent: packets sent, none received, no event', T, async () => {
  await aftr.blackhole(true);
  const before = await b4.counters();
  const events = b4.events.length;
  assert.notEqual((await ping(2)).code, 0);
  const c = await b4.counters();
  assert.ok(c.txPackets - before.txPackets >= 2);
  assert.equal(c.rxPackets, before.rxPackets);
  assert.equal(c.lastRxFromAftr, before.lastRxFromAftr);
  assert.equal(b4.events.length, events);
  await aftr.blackhole(false);
  assert.equal((await ping(2)).code, 0);
});

test('reconfigure to another AFTR: traffic follows the new address', T, async () => {
  const other = '2001:db8:ff::2';
  await b4.reconfigure({ tunName: 'b4tun', softwire: ADDR.softwire, aftr: other, mode: 'dslite' });
  const stdout = await tunnelled(1);
  assert.match(stdout, /IP6 2001:db8:b4::1 > 2001:db8:ff::2: IP 192\.168\.1\.2 > 198\.51\.100\.2/);
  // The aftr namespace has no route to ...ff::2: the kernel there says so, about the new AFTR.
  const ev = await b4.waitEvent((e) => e.quotedDst === other);
  assert.equal(ev.type, 1);
  await b4.reconfigure({ tunName: 'b4tun', softwire: ADDR.softwire, aftr: ADDR.aftr, mode: 'dslite', mssClamp: 1420 });
  assert.equal((await ping(1)).code, 0);
});

/** The kernel's neighbour entry for the B4's next hop (the aftr namespace's end of the WAN link). */
const nextHop = async () => {
  const line = (await lab.exec('cpe', 'ip', '-6', 'neigh', 'show', ADDR.aftrWan6, 'dev', 'cpe-wan')).trim();
  const m = /lladdr (\S+) .*?(\S+)$/.exec(line); // '... lladdr MAC [router] STATE'
  assert.ok(m, `neighbour entry of ${ADDR.aftrWan6}: ${JSON.stringify(line)}`);
  return { mac: m[1], state: m[2] };
};
const delta = (a: ForwarderCounters, b: ForwarderCounters) => (k: 'egressPacket' | 'egressTun' | 'egressNeighMiss' | 'egressNeighProbe') => b[k] - a[k];

test("egress 'packet' (default): the AFTR's packets leave on the WAN link from the B4's packet socket", T, async () => {
  // Run alone, this is the first traffic: the kernel resolves the next hop on the first packet (a miss).
  await waitFor('next hop known', async () => {
    await ping(1);
    return (await nextHop().catch(() => null)) !== null;
  });
  const before = await b4.counters();
  assert.equal((await ping(3)).code, 0);
  const d = delta(before, await b4.counters());
  assert.equal(d('egressNeighMiss'), 0, 'the next hop was known throughout');
  // The entry may have gone STALE since the last test (after its ReachableTime): then exactly one packet
  // goes through the kernel to have it re-confirmed (next test); nothing else takes the tun.
  assert.ok(d('egressNeighProbe') <= 1, `re-confirmation packets: ${d('egressNeighProbe')}`);
  assert.equal(d('egressTun'), d('egressNeighProbe'), 'nothing through the tun but a re-confirmation');
  assert.equal(d('egressPacket') + d('egressNeighProbe'), 3, 'each ping once, by one path or the other');
});

test('a STALE next hop: one packet goes through the kernel, which re-confirms it (RFC 4861 §7.3.3), the rest by the packet socket', T, async () => {
  const { mac } = await nextHop();
  const before = await b4.counters();
  // As after ReachableTime without confirmation; the resolver hears of it by netlink.
  await lab.exec('cpe', 'ip', '-6', 'neigh', 'replace', ADDR.aftrWan6, 'lladdr', mac, 'dev', 'cpe-wan', 'nud', 'stale');
  assert.equal((await ping(3)).code, 0);
  const d = delta(before, await b4.counters());
  assert.deepEqual(
    { probe: d('egressNeighProbe'), tun: d('egressTun'), miss: d('egressNeighMiss'), packet: d('egressPacket') },
    { probe: 1, tun: 1, miss: 0, packet: 2 },
  );
  // Without that packet the kernel would see no traffic to the next hop and keep the entry STALE (and a
  // changed MAC unnoticed); with it the entry went DELAY, then PROBE and REACHABLE.
  assert.notEqual((await nextHop()).state, 'STALE');
});

test('neighbour of the next hop flushed: packets go through the tun (counted as misses) until the kernel resolves it again', T, async () => {
  const before = await b4.counters();
  await lab.exec('cpe', 'ip', '-6', 'neigh', 'flush', 'dev', 'cpe-wan');
  // The resolver hears of the flush by netlink; the first ping may precede that by a moment.
  await waitFor('next hop forgotten', async () => {
    await ping(1);
    return (await b4.counters()).egressNeighMiss > before.egressNeighMiss;
  }, 10_000, 100);
  const miss = await b4.counters();
  assert.ok(miss.egressTun > before.egressTun, 'the missed packets went into the tun');
  // The kernel resolved the router while forwarding them; the packet socket takes over again.
  await waitFor('packet egress again', async () => {
    await ping(1);
    return (await b4.counters()).egressPacket > miss.egressPacket;
  }, 10_000, 100);
  assert.equal((await ping(2)).code, 0);
});

test("egress 'tun': the kernel forwards the encapsulated packets, none from the packet socket", T, async () => {
  await b4.stop();
  b4 = await LabB4.start(lab, { mssClamp: 1420, egress: 'tun' });
  assert.equal((await ping(3)).code, 0);
  const c = await b4.counters();
  assert.equal(c.egressPacket, 0);
  assert.ok(c.egressTun >= 3 && c.egressNeighMiss === 0, JSON.stringify(c));
});

// ---- echo probes from the forwarder itself (RFC 6333 §5.7: 192.0.0.2 -> the AFTR's 192.0.0.1) ----

let prober: LabB4;
const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

test('echo through the softwire: the AFTR fixture answers 192.0.0.1, timed natively; the reply is consumed', T, async () => {
  await b4.stop();
  prober = await LabB4.start(lab, { mssClamp: 1420 });
  const [r] = await prober.echo({ timeoutMs: 1000 });
  assert.ok(r.ok && r.rttUs > 0 && r.reason === '', JSON.stringify(r));
  assert.ok(Math.abs(r.sentAt - Date.now()) < 5000);
  const c = await prober.counters();
  assert.equal(c.echoSent, 1);
  assert.equal(c.echoReplies, 1);
  assert.equal(c.rxPackets, 0, 'not written to the LAN side');
  assert.ok(c.lastRxFromAftr !== null && Math.abs(c.lastRxFromAftr - r.sentAt) < 1000, 'the reply dates the AFTR in use');
  assert.equal((await ping(1)).code, 0, 'the data plane forwards as before');
});

test('echo via an AFTR the network has no route to: fails at once with the ICMPv6 reason, no event (not the AFTR in use)', T, async () => {
  const other = '2001:db8:ff::2';
  const events = prober.events.length;
  const t0 = performance.now();
  const [r] = await prober.echo({ aftr: other, timeoutMs: 3000 });
  assert.ok(performance.now() - t0 < 1000, `answered after ${performance.now() - t0} ms`);
  assert.equal(r.ok, false);
  assert.equal(r.reason, `ICMPv6 destination unreachable (type 1, code 0) from ${ADDR.aftrWan6} for the echo to 192.0.0.1 via ${other}`);
  assert.equal(prober.events.length, events);
});

test('echo with the AFTR killed: fails with the ICMPv6 reason well within the timeout, and the event is raised', T, async () => {
  await aftr.kill();
  try {
    const t0 = performance.now();
    const [r] = await prober.echo({ timeoutMs: 3000 });
    const took = performance.now() - t0;
    assert.ok(took < 1000 && r.rttUs < 1_000_000, `answered after ${took} ms: ${JSON.stringify(r)}`);
    assert.equal(r.ok, false);
    assert.equal(r.reason, `ICMPv6 destination unreachable (type 1, code 0) from ${ADDR.aftrWan6} for the echo to 192.0.0.1 via ${ADDR.aftr}`);
    await waitFor('icmpv6 event', async () => prober.events.some((e) => e.type === 1 && e.quotedDst === ADDR.aftr), 2000);
  } finally {
    await aftr.restart();
  }
  const [r] = await prober.echo({ timeoutMs: 1000 });
  assert.ok(r.ok, `recovers: ${JSON.stringify(r)}`);
});

test('echo under CPU load (stress-ng --cpu 2): 200 probes at 20 ms intervals, 100 ms timeout, all answered in time', { timeout: 60_000 }, async (t) => {
  const stress = spawn('stress-ng', ['--cpu', '2', '--timeout', '60s', '--quiet'], { stdio: 'ignore' });
  try {
    await new Promise((r) => setTimeout(r, 500)); // the hogs running
    const results = await prober.echo({ timeoutMs: 100, count: 200, intervalMs: 20 });
    const rtts = results.map((r) => r.rttUs);
    t.diagnostic(`rtt p50 ${percentile(rtts, 50)} us, p99 ${percentile(rtts, 99)} us, max ${Math.max(...rtts)} us`);
    assert.deepEqual(results.filter((r) => !r.ok), []);
  } finally {
    if (stress.exitCode === null && stress.signalCode === null) {
      const gone = new Promise((r) => stress.once('exit', r));
      stress.kill('SIGTERM');
      await gone;
    }
  }
});
