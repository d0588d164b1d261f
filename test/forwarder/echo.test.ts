// Golden tests of the echo probes through the softwire (src/forwarder/native/echo.h, packet.cc) and of the
// draining AFTR (make-before-break), through the addon's inject() hook; on a handle without a tun,
// echoSend() returns the request instead of writing it. Expected bytes come from test/forwarder/packets.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { echoVerdict } from '../../src/forwarder/echo.ts';
import { loadAddon, type NativeConfig, type NativeHandle } from '../../src/forwarder/native.ts';
import { DROP_NAMES, type DropName } from '../../src/forwarder/types.ts';
import { flowLabel, fragment, icmp4, icmpv6, ipv4, ipv6, udp4 } from './packets.ts';

const addon = loadAddon();
const SW = '2001:db8:b4::1';
const AFTR = '2001:db8:ff::1';
const PRIMARY = '2001:db8:ff::2';
const ROUTER = '2001:db8:1::1';
const B4 = '192.0.0.2';
const TARGET = '192.0.0.1';
const NET = '198.51.100.2';
const HOST = '192.0.2.2';
const BASE: NativeConfig = { softwire: SW, aftr: AFTR, drainAftr: '', b4Ipv4: B4, echoTarget: TARGET, mtu: 1460, hopLimit: 64, mssClamp: 0, enabled: true };

/** RFC 792 echo without data from `src` to `dst`, in an RFC 791 header with the IPv4 ID set to the sequence. */
const echo = (type: 0 | 8, src: string, dst: string, id: number, seq: number) =>
  ipv4({ src, dst, proto: 1, id: type === 8 ? seq : 1, payload: icmp4(type, 0, (id << 16) | seq, Buffer.alloc(0)) });
const request = (aftr: string, id: number, seq: number, target = TARGET) => {
  const inner = echo(8, B4, target, id, seq);
  return ipv6({ src: SW, dst: aftr, nextHeader: 4, hopLimit: 64, tclass: 0, flowLabel: flowLabel(inner), payload: inner });
};
const reply = (from: string, id: number, seq: number, src = TARGET) => ipv6({ src: from, dst: SW, nextHeader: 4, payload: echo(0, src, B4, id, seq) });
const fromNet = (aftr: string) => ipv6({ src: aftr, dst: SW, nextHeader: 4, payload: ipv4({ src: NET, dst: HOST, proto: 17, payload: udp4(NET, HOST, 9, 4000, Buffer.alloc(20, 7)) }) });
const unreachable = (quoted: Buffer, source = ROUTER) =>
  ipv6({ src: source, dst: SW, nextHeader: 58, payload: icmpv6(source, SW, 1, 0, 0, quoted) });

function handle(config: Partial<NativeConfig> = {}): NativeHandle {
  const h = addon.create();
  addon.configure(h, { ...BASE, ...config });
  return h;
}
function drops(h: NativeHandle): Partial<Record<DropName, number>> {
  return Object.fromEntries(Object.entries(addon.counters(h).drops).filter(([, n]) => n > 0));
}
const hex = (bs: Buffer[]) => bs.map((b) => b.toString('hex'));

test('the request: IPv6 to the AFTR in use, IPv4 192.0.0.2 -> 192.0.0.1 with its checksum, ICMP echo with id, sequence and checksum', () => {
  const h = handle();
  const a = addon.echoSend(h, null);
  const b = addon.echoSend(h, null);
  assert.equal(a.packet!.toString('hex'), request(AFTR, a.id, a.seq).toString('hex'));
  assert.equal(b.packet!.toString('hex'), request(AFTR, a.id, b.seq).toString('hex'));
  assert.equal(b.id, a.id, 'one ICMP id per forwarder');
  assert.equal(b.seq, a.seq + 1, 'a sequence number per probe');
  assert.ok(Math.abs(a.sentAtMs - Date.now()) < 1000, 'sentAtMs is epoch ms');
  assert.equal(addon.counters(h).totals.echo_sent, 2);
});

test('the request to another AFTR and to a configured target', () => {
  const h = handle({ echoTarget: '192.0.0.6' });
  const p = addon.echoSend(h, PRIMARY);
  assert.equal(p.packet!.toString('hex'), request(PRIMARY, p.id, p.seq, '192.0.0.6').toString('hex'));
});

test('the matching reply from the AFTR in use is consumed and timed; lastRxFromAftr moves', () => {
  const h = handle();
  const p = addon.echoSend(h, null);
  assert.deepEqual(addon.echoFinish(h, p.seq, 60e6).state, 'pending');
  const r = addon.inject(h, reply(AFTR, p.id, p.seq), 4242);
  assert.deepEqual(r.out, []);
  assert.deepEqual(r.events, []);
  const o = addon.echoFinish(h, p.seq, 60e6);
  assert.equal(o.state, 'reply');
  assert.ok(o.state === 'reply' && o.elapsedUs >= 0 && o.elapsedUs < 1e6 && o.aftr === AFTR && o.sentAtMs === p.sentAtMs, JSON.stringify(o));
  assert.deepEqual(addon.echoFinish(h, p.seq, 60e6), { state: 'unknown' }, 'taken once');
  const n = addon.counters(h);
  assert.equal(n.totals.echo_replies, 1);
  assert.equal(n.totals.rx_packets, 0, 'not carried to the LAN');
  assert.equal(n.lastRxFromAftrMs, 4242);
  assert.deepEqual(drops(h), {});
});

test('replies that match no probe: another id is passed on as before; ours without a probe is dropped as echo_late', () => {
  const h = handle();
  const p = addon.echoSend(h, null);
  const other = echo(0, TARGET, B4, p.id ^ 0x5a5a, p.seq);
  assert.deepEqual(hex(addon.inject(h, ipv6({ src: AFTR, dst: SW, nextHeader: 4, payload: other }), 1).out), hex([other]));
  assert.deepEqual(addon.inject(h, reply(AFTR, p.id, p.seq + 1), 1).out, [], 'a sequence number never sent');
  assert.deepEqual(addon.inject(h, reply(AFTR, p.id, p.seq, '192.0.0.5'), 1).out, [], 'from another address than the target');
  assert.equal(addon.echoFinish(h, p.seq, 60e6).state, 'pending');
  assert.deepEqual(drops(h), { echo_late: 2 });
  assert.equal(addon.counters(h).totals.rx_packets, 1);
});

test('a reply after the probe was given up is late: dropped, not an answer', () => {
  const h = handle();
  const p = addon.echoSend(h, null);
  assert.equal(addon.echoFinish(h, p.seq, 0).state, 'timeout');
  assert.deepEqual(addon.inject(h, reply(AFTR, p.id, p.seq), 1).out, []);
  assert.deepEqual(drops(h), { echo_late: 1 });
  assert.equal(addon.counters(h).totals.echo_replies, 0);
});

test('a reply from another AFTR with a probe outstanding to it is accepted for the probe only', () => {
  const h = handle();
  const p = addon.echoSend(h, PRIMARY);
  assert.deepEqual(addon.inject(h, fromNet(PRIMARY), 1).out, [], "the other AFTR's traffic stays spoofed");
  assert.deepEqual(addon.inject(h, reply(PRIMARY, p.id, p.seq), 1).out, []);
  assert.equal(addon.echoFinish(h, p.seq, 60e6).state, 'reply');
  assert.deepEqual(drops(h), { v6_spoofed_source: 1 });
  assert.equal(addon.counters(h).lastRxFromAftrMs, 0, 'not the AFTR in use');
});

test('a reply from another AFTR without a probe to it is v6_spoofed_source', () => {
  const h = handle();
  const p = addon.echoSend(h, null); // to the AFTR in use, not to PRIMARY
  assert.deepEqual(addon.inject(h, reply(PRIMARY, p.id, p.seq), 1).out, []);
  assert.deepEqual(drops(h), { v6_spoofed_source: 1 });
  assert.equal(addon.echoFinish(h, p.seq, 60e6).state, 'pending');
});

test('an ICMPv6 error quoting a probe fails it at once; about the AFTR in use it is still an event', () => {
  const h = handle();
  const p = addon.echoSend(h, null);
  const r = addon.inject(h, unreachable(p.packet!, ROUTER), 1);
  assert.deepEqual(r.events.map((e) => ({ ...e })), [{ type: 1, code: 0, source: ROUTER, quotedSrc: SW, quotedDst: AFTR }]);
  const o = addon.echoFinish(h, p.seq, 60e6);
  assert.deepEqual({ ...o, elapsedUs: 0, sentAtMs: 0 }, { state: 'error', elapsedUs: 0, sentAtMs: 0, aftr: AFTR, type: 1, code: 0, source: ROUTER });
  const n = addon.counters(h);
  assert.equal(n.totals.echo_errors, 1);
  assert.equal(n.totals.icmpv6_errors, 1);
});

test('an ICMPv6 error quoting a probe to another AFTR fails the probe, raises no event and is no drop', () => {
  const h = handle();
  const p = addon.echoSend(h, PRIMARY);
  assert.deepEqual(addon.inject(h, unreachable(p.packet!, ROUTER), 1).events, []);
  assert.equal(addon.echoFinish(h, p.seq, 60e6).state, 'error');
  assert.deepEqual(drops(h), {});
  const again = addon.inject(h, unreachable(p.packet!, ROUTER), 1);
  assert.deepEqual(again.events, []);
  assert.deepEqual(drops(h), { icmpv6_other_flow: 1 }, 'once the probe is over, an error about it is another flow again');
});

test("mode 'off': answers to probes are still taken (reply, ICMPv6 error), everything else is mode_off", () => {
  const h = handle({ enabled: false });
  const a = addon.echoSend(h, null);
  const b = addon.echoSend(h, PRIMARY);
  const r = addon.inject(h, [reply(AFTR, a.id, a.seq), unreachable(b.packet!), fromNet(AFTR), reply(AFTR, a.id, a.seq)], 1);
  assert.deepEqual(r.out, []);
  assert.deepEqual(r.events, []);
  assert.equal(addon.echoFinish(h, a.seq, 60e6).state, 'reply');
  assert.equal(addon.echoFinish(h, b.seq, 60e6).state, 'error');
  assert.deepEqual(drops(h), { mode_off: 2 });
});

test('64 probes outstanding at most; the 65th is refused', () => {
  const h = handle();
  for (let i = 0; i < 64; i++) addon.echoSend(h, i % 2 ? PRIMARY : null);
  assert.throws(() => addon.echoSend(h, null), /too many echo probes outstanding/);
});

// ---- make-before-break: the draining AFTR ----

test('drainAftr: its packets are decapsulated and counted, new traffic goes to the AFTR in use, lastRxFromAftr does not move', () => {
  const h = handle({ aftr: AFTR, drainAftr: PRIMARY });
  const inner = fromNet(PRIMARY).subarray(40);
  assert.deepEqual(hex(addon.inject(h, fromNet(PRIMARY), 5000).out), hex([inner]));
  const out = addon.inject(h, ipv4({ src: HOST, dst: NET, proto: 17, payload: udp4(HOST, NET, 4000, 9, Buffer.alloc(20)) }), 1).out;
  assert.equal(out[0].subarray(24, 40).toString('hex'), ipv6({ src: SW, dst: AFTR, nextHeader: 4, payload: Buffer.alloc(0) }).subarray(24, 40).toString('hex'));
  const n = addon.counters(h);
  assert.equal(n.totals.rx_from_drain_aftr, 1);
  assert.equal(n.totals.rx_packets, 1);
  assert.equal(n.lastRxFromAftrMs, 0);
  assert.deepEqual(drops(h), {});
});

test('drainAftr: fragments from it are reassembled; once cleared, it is spoofed again', () => {
  const h = handle({ drainAftr: PRIMARY });
  const inner = ipv4({ src: NET, dst: HOST, proto: 17, payload: udp4(NET, HOST, 9, 4000, Buffer.alloc(972, 3)) });
  const frag = (off: number, n: number, more: boolean) =>
    ipv6({ src: PRIMARY, dst: SW, nextHeader: 44, payload: fragment(4, off, more, 9, inner.subarray(off, off + n)) });
  assert.deepEqual(hex(addon.inject(h, [frag(0, 504, true), frag(504, inner.length - 504, false)], 1).out), hex([inner]));
  addon.configure(h, BASE);
  assert.deepEqual(addon.inject(h, fromNet(PRIMARY), 1).out, []);
  assert.deepEqual(drops(h), { v6_spoofed_source: 1 });
});

test('lastRxFromAftr belongs to the AFTR in use: null again after a switch, kept over other reconfigures', () => {
  const h = handle();
  addon.inject(h, fromNet(AFTR), 7000);
  addon.configure(h, { ...BASE, mssClamp: 1400 });
  assert.equal(addon.counters(h).lastRxFromAftrMs, 7000);
  addon.configure(h, { ...BASE, aftr: PRIMARY, drainAftr: AFTR });
  assert.equal(addon.counters(h).lastRxFromAftrMs, 0);
  addon.inject(h, fromNet(AFTR), 8000);
  assert.equal(addon.counters(h).lastRxFromAftrMs, 0, 'the draining AFTR does not count');
  addon.inject(h, fromNet(PRIMARY), 9000);
  assert.equal(addon.counters(h).lastRxFromAftrMs, 9000);
});

test('drop counter names match the addon (echo_late included)', () => {
  assert.deepEqual(Object.keys(addon.counters(handle()).drops), [...DROP_NAMES]);
});

// ---- the verdict, from the addon's times only ----

const outcome = { sentAtMs: 1_700_000_000_000, aftr: AFTR };
const verdicts: Array<[string, Parameters<typeof echoVerdict>[0], { ok: boolean; rttUs: number; reason: string }]> = [
  ['a reply within the timeout', { state: 'reply', elapsedUs: 850, ...outcome }, { ok: true, rttUs: 850, reason: '' }],
  ['a reply at exactly the timeout', { state: 'reply', elapsedUs: 100_000, ...outcome }, { ok: true, rttUs: 100_000, reason: '' }],
  [
    'a reply 1 us late',
    { state: 'reply', elapsedUs: 100_001, ...outcome },
    { ok: false, rttUs: 100_001, reason: `echo reply from ${TARGET} via ${AFTR} after 100.0 ms, later than 100 ms` },
  ],
  [
    'an ICMPv6 error',
    { state: 'error', elapsedUs: 900, type: 1, code: 3, source: ROUTER, ...outcome },
    { ok: false, rttUs: 900, reason: `ICMPv6 destination unreachable (type 1, code 3) from ${ROUTER} for the echo to ${TARGET} via ${AFTR}` },
  ],
  ['no answer', { state: 'timeout', elapsedUs: 100_250, ...outcome }, { ok: false, rttUs: 100_250, reason: `no echo reply from ${TARGET} via ${AFTR} within 100 ms` }],
];
for (const [name, o, want] of verdicts) {
  test(`verdict: ${name}`, () => {
    assert.deepEqual(echoVerdict(o, TARGET, 100), { ...want, sentAt: outcome.sentAtMs });
  });
}
