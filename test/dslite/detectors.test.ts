// Detectors and the Combine rule, against a scripted softwire (no timers of the policy involved).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Emitter } from '../../src/datamodel/index.ts';
import { combine, EchoDetector, Icmpv6ErrorDetector, SilenceDetector, type Verdict } from '../../src/dslite/detectors.ts';
import type { EchoResult, SoftwireError, TunnelCounters, TunnelPort } from '../../src/wan/platform.ts';

const v = (detector: string, state: Verdict['state'], reason = ''): Verdict => ({ detector, state, reason, time: 0 });

const combineCases: { name: string; verdicts: Verdict[]; how: 'Any' | 'All' | 'Primary'; primary?: string; want: string | null }[] = [
  { name: 'Any: one failed', verdicts: [v('Silence', 'Failed', 's'), v('Echo', 'Healthy')], how: 'Any', want: 's' },
  { name: 'Any: none failed', verdicts: [v('Silence', 'Healthy'), v('Echo', 'Unknown')], how: 'Any', want: null },
  { name: 'All: one of two failed', verdicts: [v('Silence', 'Failed', 's'), v('Echo', 'Healthy')], how: 'All', want: null },
  { name: 'All: both failed', verdicts: [v('Silence', 'Failed', 's'), v('Echo', 'Failed', 'e')], how: 'All', want: 's; e' },
  { name: 'All: disabled ones do not count', verdicts: [v('Silence', 'Failed', 's'), v('Echo', 'Disabled')], how: 'All', want: 's' },
  { name: 'Primary: the primary failed', verdicts: [v('Silence', 'Healthy'), v('Echo', 'Failed', 'e')], how: 'Primary', primary: 'Echo', want: 'e' },
  { name: 'Primary: another failed', verdicts: [v('Silence', 'Failed', 's'), v('Echo', 'Healthy')], how: 'Primary', primary: 'Echo', want: null },
  { name: 'Establishment failure decides under All', verdicts: [v('Establishment', 'Failed', 'no AFTR'), v('Echo', 'Unknown')], how: 'All', want: 'no AFTR' },
];
for (const c of combineCases) test(`combine: ${c.name}`, () => assert.equal(combine(c.verdicts, c.how, c.primary ?? 'Silence'), c.want));

/** A softwire whose counters and echo replies the test scripts. */
function fakeTunnel() {
  const errors = new Emitter<SoftwireError>();
  const state = { c: { txPackets: 0, txBytes: 0, rxPackets: 0, rxBytes: 0, drops: 0, lastRxFromAftr: null } as TunnelCounters, echo: { ok: true, rttUs: 100, reason: '' } as EchoResult };
  const port: TunnelPort = {
    up: async () => {}, down: async () => {}, aftr: () => '2001:db8:ff::1',
    counters: async () => ({ ...state.c }), echo: async () => state.echo, onError: (fn) => errors.on(fn),
    bind: async () => {}, onPolicyError: (fn) => new Emitter<SoftwireError>().on(fn),
  };
  return { port, state, errors };
}
import { sleep } from '../wait.ts';
const env = (port: TunnelPort) => ({ tunnel: port, now: Date.now });

test('Silence: traffic sent and nothing back for Timeout fails; an answer heals it', async () => {
  const f = fakeTunnel();
  const d = new SilenceDetector({ enable: true, interval: 10, timeout: 60, failureThreshold: 1 }, env(f.port));
  d.start('2001:db8:ff::1');
  f.state.c.txPackets = 5; f.state.c.rxPackets = 5;
  await sleep(30);
  f.state.c.txPackets = 50; // the AFTR stops answering, echoes included
  f.state.echo = { ok: false, rttUs: 0, reason: 'no echo reply within 60 ms' };
  await sleep(200);
  assert.equal(d.verdict().state, 'Failed');
  assert.match(d.verdict().reason, /^Silence: no packet from 2001:db8:ff::1 for \d+ ms while 45 were sent, and no echo reply within 60 ms$/);
  f.state.c.rxPackets = 6;
  await sleep(30);
  assert.equal(d.verdict().state, 'Healthy');
  d.stop();
});

// Regression: a LAN-to-internet UDP stream gets no answers; the confirming echo keeps a healthy AFTR healthy.
test('Silence: one-way traffic with an AFTR that answers echoes is not a failure', async () => {
  const f = fakeTunnel();
  const d = new SilenceDetector({ enable: true, interval: 10, timeout: 40, failureThreshold: 1 }, env(f.port));
  const states: string[] = [];
  d.onVerdict((v) => states.push(v.state));
  d.start('2001:db8:ff::1');
  f.state.c.txPackets = 5; f.state.c.rxPackets = 5;
  await sleep(30);
  for (let i = 0; i < 20; i++) { f.state.c.txPackets += 10; await sleep(10); } // 200 ms of one-way traffic
  assert.ok(!states.includes('Failed'), states.join());
  assert.equal(d.verdict().state, 'Healthy');
  d.stop();
});

test('Silence: no traffic is no evidence', async () => {
  const f = fakeTunnel();
  const d = new SilenceDetector({ enable: true, interval: 10, timeout: 30, failureThreshold: 1 }, env(f.port));
  d.start('2001:db8:ff::1');
  await sleep(100);
  assert.equal(d.verdict().state, 'Unknown');
  d.stop();
});

test('Echo: FailureThreshold consecutive failures', async () => {
  const f = fakeTunnel();
  const d = new EchoDetector({ enable: true, interval: 10, timeout: 10, failureThreshold: 3 }, env(f.port));
  const seen: string[] = [];
  d.onVerdict((x) => seen.push(x.state));
  d.start('2001:db8:ff::1');
  await sleep(40);
  f.state.echo = { ok: false, rttUs: 0, reason: 'no echo reply within 10 ms' };
  await sleep(100);
  assert.deepEqual(seen, ['Healthy', 'Failed']);
  assert.equal(d.verdict().reason, 'Echo: no echo reply within 10 ms');
  d.stop();
});

const icmpCases: { name: string; e: SoftwireError; want: Verdict['state'] }[] = [
  { name: 'destination unreachable about our AFTR', e: { type: 1, code: 3, source: '2001:db8:1::1', quotedDst: '2001:db8:ff::1' }, want: 'Failed' },
  { name: 'time exceeded about our AFTR', e: { type: 3, code: 0, source: '2001:db8:1::1', quotedDst: '2001:db8:ff::1' }, want: 'Failed' },
  { name: 'packet too big is path MTU, not failure', e: { type: 2, code: 0, source: '2001:db8:1::1', quotedDst: '2001:db8:ff::1' }, want: 'Unknown' },
  { name: 'about another AFTR', e: { type: 1, code: 3, source: '2001:db8:1::1', quotedDst: '2001:db8:ff::2' }, want: 'Unknown' },
];
for (const c of icmpCases) {
  test(`ICMPv6Error: ${c.name}`, () => {
    const f = fakeTunnel();
    const d = new Icmpv6ErrorDetector({ enable: true, interval: 1000, timeout: 1000, failureThreshold: 1 }, env(f.port));
    d.start('2001:db8:ff::1');
    f.errors.fire(c.e);
    assert.equal(d.verdict().state, c.want);
    d.stop();
  });
}
