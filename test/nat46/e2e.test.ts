// Issue 23 acceptance, end to end in namespaces (lab.ts): three gateways running the bundled forwarder in mode
// nat46 (same prefix and tenant, gateway IDs 1-3, each the others' peer), an IPv6-only core whose routes are
// the gateways' exported ones, an IPv6-only server. Every claim is checked on real packets (what the server and
// the clients receive, what tcpdump sees on their links) and on the forwarders' counters, compared with what
// was sent or captured, never with numbers written here.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Counters, DropName } from '../../src/forwarder/types.ts';
import { checksum, l4Pseudo4, l4Pseudo6 } from '../forwarder/packets.ts';
import { waitFor } from '../wait.ts';
import type { Exchange, Seen } from './gateway.ts';
import {
  B4_IPV4, client4, coreSide, fromBytes6, GWS, gwSide, handoff, nat46Address, Nat46Lab, PORT, PREFIX, SERVER4, SERVER6, space, TENANT, within,
  type Capture, type Gw,
} from './lab.ts';

let lab: Nat46Lab;
before(async () => {
  lab = await Nat46Lab.create('e');
});
after(async () => {
  await lab?.cleanup();
});

/** gw1's client as the IPv6 side knows it: prefix | tenant | 1 | 192.168.1.2. */
const ME6 = nat46Address(TENANT, 1, client4(1));

// ---- counters ----

type Snap = Record<Gw, Counters>;
const snap = async (): Promise<Snap> => {
  const [a, b, c] = await Promise.all(GWS.map((g) => lab.counters(g)));
  return { 1: a, 2: b, 3: c };
};
/** What changed on gateway g between two snapshots: counters by name, drops as `drops.<name>`. */
function delta(before: Snap, now: Snap, g: Gw): Record<string, number> {
  const d: Record<string, number> = {};
  for (const [k, v] of Object.entries(now[g])) if (typeof v === 'number') d[k] = v - ((before[g] as unknown as Record<string, number>)[k] ?? 0);
  for (const [k, v] of Object.entries(now[g].drops)) d[`drops.${k}`] = v - before[g].drops[k as DropName];
  return d;
}
const TRANSLATION = ['nat46Translated4to6', 'nat46Translated6to4', 'nat46HandedOff', 'nat46HandoffReceived', 'nat46FlowsCreated'] as const;
/** The gateway took no part: nothing translated, handed off, received from a peer, no flow opened. */
function untouched(d: Record<string, number>, who: string): void {
  assert.deepEqual(Object.fromEntries(TRANSLATION.map((k) => [k, d[k]])), Object.fromEntries(TRANSLATION.map((k) => [k, 0])), `${who} took part`);
}

// ---- packets ----

const text4 = (b: Buffer) => Array.from(b.subarray(0, 4)).join('.');
const v6 = (p: Buffer) => ({ src: fromBytes6(p.subarray(8, 24)), dst: fromBytes6(p.subarray(24, 40)), next: p[6], hop: p[7], l4: p.subarray(40, 40 + p.readUInt16BE(4)) });
const v4 = (p: Buffer) => {
  const ihl = (p[0] & 15) * 4;
  return { src: text4(p.subarray(12)), dst: text4(p.subarray(16)), proto: p[9], ttl: p[8], l4: p.subarray(ihl, p.readUInt16BE(2)), header: p.subarray(0, ihl) };
};
const is6 = (p: Buffer) => p[0] >> 4 === 6;
const is4 = (p: Buffer) => p[0] >> 4 === 4;
/** Waits until `cap` holds packets matching `pred` (at least `n`, among those from index `from` on), and returns them. */
async function captured(cap: Capture, what: string, pred: (p: Buffer) => boolean, n = 1, from = 0): Promise<Buffer[]> {
  return waitFor(what, async () => {
    const m = cap.packets().slice(from).filter(pred);
    return m.length >= n && m;
  }, 5000, 20);
}

// ---- the claims ----

test("claim: gw1's LAN client reaches the IPv6 server over UDP, TCP and ICMP echo from prefix|tenant|1|client IPv4 (RFC 7915 §4, §5)", { timeout: 60_000 }, async (t) => {
  const c1 = await lab.client(1);
  const cap = await lab.capture('srv', 'srv0');
  t.after(() => cap.stop());
  const seenBefore = (await lab.srv.call<Seen[]>('seen')).length;
  const before = await snap();

  const udp = await c1.call<Exchange>('udpExchange', { to: SERVER4, port: PORT, count: 5, tag: 'claim1' });
  assert.deepEqual([...udp.received].sort((a, b) => a - b), udp.sent, 'every UDP echo came back');
  const tcp = await c1.call<{ localAddress: string; localPort: number }>('tcpOpen', { name: 'claim1', to: SERVER4, port: PORT });
  // 20 kB: full-size segments both ways (the client learns the IPv6 side's MTU through RFC 7915 §4.1 fragmentation-needed).
  assert.deepEqual(await c1.call('tcpRound', { name: 'claim1', bytes: 20_000, tag: 'claim1' }), { equal: true }, 'the TCP echo came back intact');
  await c1.call('tcpClose', { name: 'claim1' });
  const ping = await lab.tryExec('lan1', 'ping', '-n', '-c', '3', '-i', '0.2', '-W', '2', SERVER4);
  assert.equal(ping.code, 0, `ping: ${ping.out}`);
  assert.match(ping.out, /3 packets transmitted, 3 received/);

  // What the server's sockets saw: the client's translated address, the client's own ports (stateless: no NAPT).
  const seen = (await lab.srv.call<Seen[]>('seen')).slice(seenBefore);
  const udpRows = seen.filter((r) => r.proto === 'udp');
  assert.deepEqual(udpRows.map((r) => [r.from, r.fromPort]), udp.sent.map(() => [ME6, udp.localPort]), 'UDP as the server saw it');
  assert.deepEqual(seen.filter((r) => r.proto === 'tcp').map((r) => [r.from, r.fromPort, r.bytes]), [[ME6, tcp.localPort, 20_000]], 'TCP as the server saw it');

  // On the server's link: ICMPv6 echo requests (RFC 7915 §4.2: type 8 -> 128) from the same address, and every
  // packet from the prefix is from it.
  const echoes = await captured(cap, 'echo requests at the server', (p) => is6(p) && v6(p).next === 58 && v6(p).l4[0] === 128, 3);
  assert.deepEqual([...new Set(echoes.map((p) => v6(p).src))], [ME6], 'ICMPv6 echo request sources');
  // Each translated packet the server received, and each it sent to the client, is one the forwarder counted.
  const fromClient = (p: Buffer) => is6(p) && within(v6(p).src, PREFIX);
  const toClient = (p: Buffer) => is6(p) && v6(p).src === SERVER6 && v6(p).dst === ME6;
  const sources = new Set(cap.packets().filter(fromClient).map((p) => v6(p).src));
  assert.deepEqual([...sources], [ME6], 'sources from the prefix at the server');
  let d: Record<string, number> = {};
  await waitFor('gw1 counted what the server received and sent', async () => {
    d = delta(before, await snap(), 1);
    const pk = cap.packets();
    return d.nat46Translated4to6 === pk.filter(fromClient).length && d.nat46Translated6to4 === pk.filter(toClient).length;
  }, 5000).catch((e: Error) => {
    const pk = cap.packets();
    assert.fail(`${e.message}: gw1 4to6 ${d.nat46Translated4to6} 6to4 ${d.nat46Translated6to4}, server link from the client ${pk.filter(fromClient).length} to it ${pk.filter(toClient).length}`);
  });
  // One flow per conversation the client opened: the UDP socket, the TCP connection, ping's echo identifier.
  assert.equal(d.nat46FlowsCreated, 3, 'flows opened on gw1');
  assert.equal(d['drops.nat46_no_flow'], 0, 'nothing of the replies refused by the firewall');
  const now = await snap();
  untouched(delta(before, now, 2), 'gw2');
  untouched(delta(before, now, 3), 'gw3');
});

test('claim: a response routed to the wrong gateway (gw2) is handed off in IPv6-in-IPv6 to gw1 and still reaches the client; gw2 keeps no flow (RFC 2473)', { timeout: 60_000 }, async (t) => {
  const c1 = await lab.client(1);
  // As ECMP, anycast or a failover would: the core now sends gw1's identifier space to gw2.
  await lab.routeSpace(1, 2);
  t.after(() => lab.routeSpace(1, 1));
  // What the core forwarded: gw1's space to gw2, and anything from gw2's hand-off address to gw1's (IPv6-in-IPv6,
  // or its fragments when a response does not fit the tunnel whole, RFC 2473 §7.1).
  const toGw2 = await lab.counter('core', 'space1_to_gw2', `oifname "core-g2" ip6 daddr ${space(1)}`);
  const handoffs = await lab.counter('core', 'handoff_2_to_1', `oifname "core-g1" ip6 saddr ${handoff(2)} ip6 daddr ${handoff(1)}`);
  const seenBefore = (await lab.srv.call<Seen[]>('seen')).length;
  const before = await snap();

  const udp = await c1.call<Exchange>('udpExchange', { to: SERVER4, port: PORT, count: 5, tag: 'claim2' });
  assert.deepEqual([...udp.received].sort((a, b) => a - b), udp.sent, 'every UDP echo came back through gw2');
  const tcp = await c1.call<{ localPort: number }>('tcpOpen', { name: 'claim2', to: SERVER4, port: PORT });
  assert.deepEqual(await c1.call('tcpRound', { name: 'claim2', bytes: 20_000, tag: 'claim2' }), { equal: true }, 'the TCP echo came back intact through gw2');
  await c1.call('tcpClose', { name: 'claim2' });
  const ping = await lab.tryExec('lan1', 'ping', '-n', '-c', '3', '-i', '0.2', '-W', '2', SERVER4);
  assert.match(ping.out, /3 packets transmitted, 3 received/, ping.out);
  const seen = (await lab.srv.call<Seen[]>('seen')).slice(seenBefore);
  assert.deepEqual([...new Set(seen.map((r) => r.from))], [ME6], 'the client keeps its address whichever gateway the return path takes');
  assert.ok(seen.some((r) => r.proto === 'tcp' && r.fromPort === tcp.localPort && r.bytes === 20_000), 'TCP at the server');

  // Every response the core sent to gw2 was handed off once (or, too big for the tunnel, refused with a packet too
  // big that made the server send smaller ones), decapsulated once by gw1 and translated there.
  let d2: Record<string, number> = {};
  let d1: Record<string, number> = {};
  let core = { toGw2: 0, handoffs: 0 };
  await waitFor('every response handed off and translated once', async () => {
    core = { toGw2: await toGw2(), handoffs: await handoffs() };
    const now = await snap();
    d2 = delta(before, now, 2);
    d1 = delta(before, now, 1);
    return d2.nat46HandedOff > 0 && d2.nat46HandedOff + d2['drops.nat46_handoff_too_big'] === core.toGw2 && d1.nat46HandoffReceived === d2.nat46HandedOff &&
      d1.nat46Translated6to4 === d1.nat46HandoffReceived && core.handoffs >= d2.nat46HandedOff;
  }, 5000).catch((e: Error) => assert.fail(`${e.message}: core ${JSON.stringify(core)}, gw2 handed off ${d2.nat46HandedOff} refused too big ` +
    `${d2['drops.nat46_handoff_too_big']}, gw1 received ${d1.nat46HandoffReceived} translated ${d1.nat46Translated6to4}`));
  // gw2 only passed them on: nothing translated either way, no flow opened, none looked for.
  assert.deepEqual(
    { t46: d2.nat46Translated4to6, t64: d2.nat46Translated6to4, flows: d2.nat46FlowsCreated, noFlow: d2['drops.nat46_no_flow'] },
    { t46: 0, t64: 0, flows: 0, noFlow: 0 }, 'gw2 keeps no state for gw1\'s client');
  assert.equal(d1['drops.nat46_handoff_not_peer'] + d1['drops.nat46_handoff_loop'] + d1['drops.nat46_handoff_bad_inner'], 0, 'gw1 refused no hand-off');
  untouched(delta(before, await snap(), 3), 'gw3');
});

test('claim: ICMP errors both ways, IPv4 side -> IPv6 (RFC 7915 §4.2-4.3) and IPv6 side -> IPv4 (§5.2-5.3)', { timeout: 60_000 }, async (t) => {
  const c1 = await lab.client(1);
  const lanCap = await lab.capture('lan1', 'lan0', 'icmp');
  const srvCap = await lab.capture('srv', 'srv0', 'icmp6');
  const coreCap = await lab.capture('gw1', 'core0', 'icmp6');
  t.after(() => Promise.all([lanCap.stop(), srvCap.stop(), coreCap.stop()]));
  // Test 1's TCP taught the client the path MTU towards the server (1260): forgotten, so the DF probe below is
  // sent at its full size instead of being refused by the client's own stack.
  await lab.exec('lan1', 'ip', 'route', 'flush', 'cache');
  const icmp4From = (src: string, type: number) => (p: Buffer) => is4(p) && v4(p).proto === 1 && v4(p).src === src && v4(p).l4[0] === type;

  await t.test('the translator itself, IPv4 side: TTL exceeded and fragmentation needed (RFC 7915 §4.1)', async () => {
    const before = await snap();
    // TTL 2: the gateway's kernel takes one routing into the tun (RFC 1812 §5.3.1), the translator is the next hop.
    await lab.tryExec('lan1', 'ping', '-n', '-c', '1', '-t', '2', '-W', '1', SERVER4);
    const [te] = await captured(lanCap, 'time exceeded at the client', icmp4From(B4_IPV4, 11));
    const q = v4(v4(te).l4.subarray(8));
    assert.deepEqual({ code: v4(te).l4[1], dst: v4(te).dst, qsrc: q.src, qdst: q.dst, qproto: q.proto, qttl: q.ttl, qtype: q.l4[0] },
      { code: 0, dst: client4(1), qsrc: client4(1), qdst: SERVER4, qproto: 1, qttl: 1, qtype: 8 }, 'ICMPv4 time exceeded quoting the echo request');
    assert.equal(checksum(v4(te).l4), 0, 'ICMPv4 checksum');
    // DF and too big for the IPv6 side: fragmentation needed with the MTU the host must use (the IPv6 MTU, 1280
    // by default, less the 20 bytes the IPv6 header adds; RFC 7915 §4.1, RFC 1191 §4).
    const size = 1300;
    await lab.tryExec('lan1', 'ping', '-n', '-c', '1', '-M', 'do', '-s', String(size), '-W', '1', SERVER4);
    const [fn] = await captured(lanCap, 'fragmentation needed at the client', (p) => icmp4From(B4_IPV4, 3)(p) && v4(p).l4[1] === 4);
    const mtu = v4(fn).l4.readUInt16BE(6);
    const { ipv6Mtu } = await lab.gw[1].call<{ ipv6Mtu: number }>('config');
    assert.equal(mtu, ipv6Mtu - 20, 'next-hop MTU');
    assert.equal(v4(v4(fn).l4.subarray(8)).header.readUInt16BE(2), 28 + size, 'the quoted packet is the probe');
    const d = delta(before, await snap(), 1);
    assert.deepEqual({ ttl: d['drops.nat46_ttl_expired'], df: d['drops.v4_df_too_big'], sent: d.icmp4Sent, t46: d.nat46Translated4to6 },
      { ttl: 1, df: 1, sent: 2, t46: 0 }, 'gw1: each probe refused with its counter, one ICMPv4 error each, nothing translated');
  });

  await t.test("an ICMPv4 error from the client (port unreachable) reaches the server as ICMPv6 with the quote translated", async () => {
    // The server speaks first on a flow the client opened and then closed: the client's stack answers port unreachable.
    await lab.srv.call('udpServe', { port: PORT + 1, echo: false });
    const { localPort } = await c1.call<{ localPort: number }>('udpOneWay', { to: SERVER4, port: PORT + 1, count: 1 });
    await waitFor('the client\'s datagram at the server', async () => (await lab.srv.call<Seen[]>('seen')).some((r) => r.port === PORT + 1 && r.fromPort === localPort));
    const before = await snap();
    await lab.srv.call('udpServerSend', { port: PORT + 1, to: ME6, toPort: localPort, count: 1, data: 'unwanted' });
    const [e6] = await captured(srvCap, 'ICMPv6 destination unreachable at the server', (p) => is6(p) && v6(p).next === 58 && v6(p).l4[0] === 1);
    const e = v6(e6);
    // RFC 7915 §4.2: type 3 code 3 -> type 1 code 4; the outer addresses are the client's and the server's.
    assert.deepEqual({ src: e.src, dst: e.dst, type: e.l4[0], code: e.l4[1] }, { src: ME6, dst: SERVER6, type: 1, code: 4 });
    assert.equal(checksum(l4Pseudo6(e.src, e.dst, 58, e.l4.length), e.l4), 0, 'ICMPv6 checksum (RFC 4443 §2.3)');
    // §4.3: the quoted IPv4 packet became the IPv6 packet the server sent, UDP checksum recomputed for it.
    const q = v6(e.l4.subarray(8));
    assert.deepEqual({ src: q.src, dst: q.dst, next: q.next, sport: q.l4.readUInt16BE(0), dport: q.l4.readUInt16BE(2), data: q.l4.subarray(8).toString() },
      { src: SERVER6, dst: ME6, next: 17, sport: PORT + 1, dport: localPort, data: 'unwanted' }, 'the quoted packet');
    assert.equal(checksum(l4Pseudo6(q.src, q.dst, 17, q.l4.length), q.l4), 0, 'quoted UDP checksum');
    const d = delta(before, await snap(), 1);
    assert.deepEqual({ t64: d.nat46Translated6to4, t46: d.nat46Translated4to6 }, { t64: 1, t46: 1 }, 'gw1: the datagram in, the error out');
  });

  await t.test('an ICMPv6 error from the server (port unreachable) reaches the client as ICMPv4 with the quote translated', async () => {
    const closed = PORT + 2; // nothing listens there
    const before = await snap();
    const { localPort } = await c1.call<{ localPort: number }>('udpOneWay', { to: SERVER4, port: closed, count: 1 });
    const [e4] = await captured(lanCap, 'ICMPv4 port unreachable at the client', (p) => icmp4From(SERVER4, 3)(p) && v4(p).l4[1] === 3);
    const e = v4(e4);
    // RFC 7915 §5.2: type 1 code 4 -> type 3 code 3; the source is the server's IPv4 (RFC 6052 /96).
    assert.equal(checksum(e.header), 0, 'IPv4 header checksum');
    assert.equal(checksum(e.l4), 0, 'ICMPv4 checksum');
    const q = v4(e.l4.subarray(8));
    assert.deepEqual({ dst: e.dst, qsrc: q.src, qdst: q.dst, qproto: q.proto, sport: q.l4.readUInt16BE(0), dport: q.l4.readUInt16BE(2) },
      { dst: client4(1), qsrc: client4(1), qdst: SERVER4, qproto: 17, sport: localPort, dport: closed }, 'the quoted packet (§5.3)');
    assert.equal(checksum(q.header), 0, 'quoted IPv4 header checksum');
    assert.equal(checksum(l4Pseudo4(q.src, q.dst, 17, q.l4.length), q.l4), 0, 'quoted UDP checksum, for the IPv4 pseudo-header');
    const d = delta(before, await snap(), 1);
    assert.deepEqual({ t46: d.nat46Translated4to6, t64: d.nat46Translated6to4 }, { t46: 1, t64: 1 }, 'gw1: the datagram out, the error in');
  });

  await t.test('an ICMPv6 hop limit exceeded from a core router reaches the client as ICMPv4 time exceeded from the RFC 6791 address', async () => {
    const before = await snap();
    const mark = lanCap.packets().length;
    // TTL 4: gw1's kernel (IPv4, 4 -> 3), the translator (-> hop limit 2), gw1's kernel (IPv6, -> 1): the core
    // cannot forward it (RFC 8200 §3) and answers hop limit exceeded (RFC 4443 §3.3) from its own address.
    await lab.tryExec('lan1', 'ping', '-n', '-c', '1', '-t', '4', '-W', '1', SERVER4);
    const [e6] = await captured(coreCap, 'the core\'s ICMPv6 time exceeded', (p) => is6(p) && v6(p).next === 58 && v6(p).l4[0] === 3);
    assert.deepEqual({ src: v6(e6).src, dst: v6(e6).dst }, { src: coreSide(1), dst: ME6 }, 'sent by the core to the client\'s IPv6 address');
    // The core's address has no IPv4 form: the error comes from the translator's own address (RFC 6791, RFC 7915 §5.1).
    const [e4] = await captured(lanCap, 'ICMPv4 time exceeded from the core at the client', icmp4From(B4_IPV4, 11), 1, mark);
    const e = v4(e4);
    assert.equal(checksum(e.l4), 0, 'ICMPv4 checksum');
    const q = v4(e.l4.subarray(8));
    // §5.3: the quoted ICMPv6 echo request is an ICMPv4 echo request again (type 128 -> 8, checksum without a
    // pseudo-header), with the hop limit it had at the core as its TTL.
    assert.deepEqual({ code: e.l4[1], qsrc: q.src, qdst: q.dst, qproto: q.proto, qtype: q.l4[0], qttl: q.ttl },
      { code: 0, qsrc: client4(1), qdst: SERVER4, qproto: 1, qtype: 8, qttl: v6(e6.subarray(48)).hop });
    assert.equal(checksum(q.l4), 0, 'quoted ICMPv4 echo checksum');
    const d = delta(before, await snap(), 1);
    assert.deepEqual({ t46: d.nat46Translated4to6, t64: d.nat46Translated6to4 }, { t46: 1, t64: 1 }, 'gw1: the probe out, the error in');
  });
});

test('claim: an unknown gateway ID and another tenant are dropped and counted at the gateway they reach', { timeout: 60_000 }, async (t) => {
  // A covering route of the whole prefix towards gw1 (a stale aggregate): the only way such packets reach a
  // gateway, since no gateway exports gateway ID 9 or tenant 0x2b.
  await lab.exec('core', 'ip', '-6', 'route', 'add', PREFIX, 'via', gwSide(1));
  t.after(() => lab.exec('core', 'ip', '-6', 'route', 'del', PREFIX, 'via', gwSide(1)));
  const unknown = nat46Address(TENANT, 9, client4(1));
  const otherTenant = nat46Address(TENANT + 1, 1, client4(1));
  const toUnknown = await lab.counter('core', 'unknown_gw9', `oifname "core-g1" ip6 daddr ${space(9)}`);
  const toOther = await lab.counter('core', 'other_tenant', `oifname "core-g1" ip6 daddr ${space(1, TENANT + 1)}`);
  const lanCap = await lab.capture('lan1', 'lan0', 'ip');
  t.after(() => lanCap.stop());
  const before = await snap();
  await lab.srv.call('udpOneWay', { to: unknown, port: PORT, count: 4 });
  await lab.srv.call('udpOneWay', { to: otherTenant, port: PORT, count: 3 });
  let d: Record<string, number> = {};
  let core = { unknown: 0, other: 0 };
  await waitFor('gw1 counted every packet the core sent it', async () => {
    core = { unknown: await toUnknown(), other: await toOther() };
    d = delta(before, await snap(), 1);
    return core.unknown === 4 && core.other === 3 && d['drops.nat46_unknown_gateway'] === core.unknown && d['drops.nat46_other_tenant'] === core.other;
  }, 5000).catch((e: Error) => assert.fail(`${e.message}: core ${JSON.stringify(core)}, gw1 unknown_gateway ${d['drops.nat46_unknown_gateway']} other_tenant ${d['drops.nat46_other_tenant']}`));
  untouched(d, 'gw1 (the drops aside)');
  assert.deepEqual(lanCap.packets().filter(is4).map((p) => v4(p).src), [], 'nothing reached the LAN');
});

test("the hand-off address answers ICMPv6 echo itself (RFC 4443 §4.1): an operator's ping and a peer's liveness probe; an address with no translator does not", { timeout: 60_000 }, async () => {
  const before = await snap();
  // From the core, as an operator would check a gateway's translator: three requests, three replies from gw1's forwarder.
  const ping = await lab.tryExec('core', 'ping', '-6', '-n', '-c', '3', '-i', '0.2', '-W', '2', handoff(1));
  assert.equal(ping.code, 0, ping.out);
  assert.match(ping.out, /3 packets transmitted, 3 received/);
  // gw2's forwarder probes gw1's hand-off address from its own (Nat46Port.probe): answered, timed natively.
  const r = await lab.gw[2].call<{ ok: boolean; rttUs: number; reason: string }>('echo', { to: handoff(1), timeoutMs: 1000 });
  assert.equal(r.ok, true, r.reason);
  assert.ok(r.rttUs > 0 && r.rttUs < 1_000_000, `rtt ${r.rttUs} us`);
  // An address of the hand-off range that no translator owns: the probe fails (the core answers unreachable, which
  // is not an echo reply: counted at gw2 as to the hand-off address, nat46_to_local).
  const none = await lab.gw[2].call<{ ok: boolean; reason: string }>('echo', { to: '2001:db8:ff00::99', timeoutMs: 300 });
  assert.equal(none.ok, false);
  const now = await snap();
  assert.equal(delta(before, now, 1).echoAnswered, 4, 'gw1 answered the three pings and the probe');
  assert.equal(delta(before, now, 2).echoReplies, 1, "gw2's probe completed by gw1's reply");
  assert.equal(delta(before, now, 2).echoSent, 2);
  assert.equal(delta(before, now, 2)['drops.nat46_to_local'], 1, "the core's unreachable about the second probe");
  for (const g of GWS) untouched(delta(before, now, g), `gw${g}`);
});
