// The BFD detector against an in-memory AFTR (the env's UDP hook): settings changed at run time. Timer
// changes go through a Poll Sequence (RFC 5880 §6.8.3) and neither side ever leaves Up; a restart by the
// agent itself (new LocalAddress) reads Unknown until the new session is Up, never Failed; a session whose
// Detection Time expires in Init, before it was ever Up, is no path failure (the Detector Timeout decides).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BfdDetector, BFD_MIN_INTERVAL_MS, BFD_SETTINGS_DEFAULTS, type BfdSettings } from '../../src/dslite/bfd.ts';
import { decode, encode, packet, type BfdPacket } from '../../src/dslite/bfd-codec.ts';
import { BfdSession } from '../../src/dslite/bfd-session.ts';
import type { DetectorEnv, UdpOpen, UdpOptions, Verdict } from '../../src/dslite/detectors.ts';

const AFTR = '2001:db8:ff::1';
import { sleep, until } from '../wait.ts';

/** The shortest interval the agent runs (below it a setting runs at it): the sessions here run at it. */
const F = BFD_MIN_INTERVAL_MS;

/** The AFTR side: `deliver` gets what the gateway sends; `reply` reaches the gateway's newest transmit socket. */
function aftr(deliver: (b: Buffer, local: string) => void) {
  let tx: UdpOptions | null = null;
  const sent: BfdPacket[] = [];
  const locals: string[] = [];
  const udp: UdpOpen = async (o) => {
    if (o.peer) {
      tx = o;
      locals.push(o.address ?? '2001:db8:5::2');
    }
    const local = o.address ?? '2001:db8:5::2';
    return {
      send: (b) => {
        const p = decode(b);
        if (typeof p !== 'string') sent.push(p);
        setImmediate(() => deliver(b, local));
      },
      address: () => ({ address: local, port: o.port ?? 50000 }),
      close: () => { if (tx === o) tx = null; },
    };
  };
  const reply = (b: Buffer) => { const o = tx; if (o) setImmediate(() => o.onMessage(b, { address: AFTR, port: 49152 })); };
  return { udp, reply, sent, locals };
}

function detector(udp: UdpOpen, bfd: Partial<BfdSettings>) {
  const env: DetectorEnv = { tunnel: null as never, now: Date.now, udp };
  const d = new BfdDetector({ enable: true, interval: 1000, timeout: 5000, failureThreshold: 1 }, env);
  const verdicts: Verdict[] = [];
  d.onVerdict((v) => verdicts.push(v));
  const settings = { ...BFD_SETTINGS_DEFAULTS, ...bfd };
  d.configureBfd(settings);
  return { d, verdicts, settings };
}

/** An AFTR running one of our own sessions (it answers whichever gateway session talks to it). */
function sessionPeer(ms: number) {
  let peer: BfdSession;
  const side = aftr((b) => peer.receive(b));
  peer = new BfdSession({ desiredMinTx: ms * 1000, requiredMinRx: ms * 1000, detectMult: 3, auth: null }, side.reply, 0x7777);
  const peerStates: string[] = [];
  peer.onChange(({ status }) => peerStates.push(`${status.state}/${status.localDiag}`));
  peer.start();
  return { ...side, peer, peerStates };
}

test('timer changes while Up go through Poll/Final: neither side leaves Up, the verdict stays Healthy', async (t) => {
  const a = sessionPeer(F);
  const { d, verdicts, settings } = detector(a.udp, { desiredMinTx: F, requiredMinRx: F });
  t.after(() => { d.stop(); a.peer.stop(); });
  d.start(AFTR);
  await until(() => d.verdict().state === 'Healthy' && d.report().detectionTime === 3 * F * 1000 && d.report().txInterval === F * 1000, 5000);
  const verdictsBefore = verdicts.length;
  const peerBefore = a.peerStates.length;
  const steps: [Partial<BfdSettings>, number, number][] = [
    // settings, then TransmitInterval and DetectionTime (µs) once the Poll Sequence is over (the peer: F ms x 3)
    [{ desiredMinTx: 3 * F }, 3 * F * 1000, 3 * F * 1000],
    [{ desiredMinTx: F }, F * 1000, 3 * F * 1000],
    [{ requiredMinRx: 4 * F }, F * 1000, 12 * F * 1000],
    [{ requiredMinRx: F, detectMult: 5 }, F * 1000, 3 * F * 1000],
    [{ detectMult: 3 }, F * 1000, 3 * F * 1000],
  ];
  let cur = settings;
  for (const [change, tx, detect] of steps) {
    const from = a.sent.length;
    cur = { ...cur, ...change };
    d.configureBfd(cur);
    const timers = Boolean(change.desiredMinTx || change.requiredMinRx);
    // Done: the values in force, and for timer changes a Poll answered (a later packet without P).
    const polled = () => { const ps = a.sent.slice(from); const i = ps.findIndex((p) => p.poll); return i >= 0 && ps.slice(i).some((p) => !p.poll); };
    await until(() => d.report().txInterval === tx && d.report().detectionTime === detect && (!timers || polled()), 3000);
    const polls = a.sent.slice(from).filter((p) => p.poll);
    if (timers) {
      assert.ok(polls.length >= 1, `a Poll for ${JSON.stringify(change)}`);
      assert.equal(polls.at(-1)!.desiredMinTx, cur.desiredMinTx * 1000);
      assert.equal(polls.at(-1)!.requiredMinRx, cur.requiredMinRx * 1000);
    }
    await sleep(200);
    assert.equal(a.peer.status().detectionTime, cur.detectMult * Math.max(F * 1000, cur.desiredMinTx * 1000), 'the peer follows');
  }
  assert.equal(d.report().state, 'Up');
  assert.equal(a.peer.status().state, 'Up');
  assert.deepEqual(a.peerStates.slice(peerBefore), [], 'the peer never left Up');
  assert.deepEqual(verdicts.slice(verdictsBefore), [], 'the verdict never left Healthy');
  assert.equal(a.locals.length, 1, 'one session throughout: no restart');
});

test('a restart by the agent (new LocalAddress) reads Unknown until the new session is Up, never Failed', async (t) => {
  const a = sessionPeer(F);
  const { d, verdicts, settings } = detector(a.udp, { desiredMinTx: F, requiredMinRx: F });
  t.after(() => { d.stop(); a.peer.stop(); });
  d.start(AFTR);
  await until(() => d.verdict().state === 'Healthy', 5000);
  const before = verdicts.length;
  d.configureBfd({ ...settings, localAddress: '2001:db8:5::3' });
  await until(() => verdicts.length > before + 1 && d.verdict().state === 'Healthy', 5000);
  assert.deepEqual(verdicts.slice(before).map((v) => v.state), ['Unknown', 'Healthy']);
  assert.deepEqual(a.locals, ['2001:db8:5::2', '2001:db8:5::3']);
  assert.equal(d.report().localAddress, '2001:db8:5::3');
  // The old session ended with AdminDown (diagnostic 7), so the peer saw no path failure (§6.8.16).
  assert.ok(a.sent.some((p) => p.state === 'AdminDown' && p.diag === 7));
  assert.equal(a.peer.status().state, 'Up');
});

test('a new LocalAddress while the session is being opened is applied once it is open', async (t) => {
  const a = sessionPeer(F);
  const { d, settings } = detector(a.udp, { desiredMinTx: F, requiredMinRx: F });
  t.after(() => { d.stop(); a.peer.stop(); });
  d.start(AFTR);
  d.configureBfd({ ...settings, localAddress: '2001:db8:5::3' }); // same tick: the session is still opening
  await until(() => d.verdict().state === 'Healthy' && d.report().localAddress === '2001:db8:5::3', 5000);
  assert.equal(a.locals.at(-1), '2001:db8:5::3');
});

test('Init timing out to Down before the session was ever Up is not a failure; Down after Up is', async (t) => {
  // A scripted peer at F ms x 3: Down (-> Init), then silence (-> Down, diagnostic 1), then Down, Init (-> Up).
  const side = aftr(() => undefined);
  const { d, verdicts } = detector(side.udp, { desiredMinTx: F, requiredMinRx: F });
  t.after(() => d.stop());
  d.start(AFTR);
  await until(() => side.sent.length > 0, 2000);
  const my = side.sent[0].myDisc;
  const peer = (p: Partial<BfdPacket>) => side.reply(encode(packet({ myDisc: 0x2222, desiredMinTx: F * 1000, requiredMinRx: F * 1000, ...p })));
  peer({ state: 'Down' });
  await until(() => d.report().state === 'Init', 2000);
  await until(() => d.report().state === 'Down', 2000);
  assert.equal(d.report().localDiag, 1);
  await sleep(50);
  assert.equal(d.verdict().state, 'Unknown');
  peer({ state: 'Down' });
  await until(() => d.report().state === 'Init', 2000);
  peer({ state: 'Init', yourDisc: my });
  await until(() => d.verdict().state === 'Healthy', 2000);
  assert.deepEqual(verdicts.map((v) => v.state), ['Healthy']);
  // Once it was Up, a Down is a failure with the diagnostic.
  peer({ state: 'Down', diag: 3, yourDisc: my });
  await until(() => d.verdict().state === 'Failed', 2000);
  assert.equal(d.verdict().reason, `BFD: session to ${AFTR} Down, diagnostic 3 (Neighbor Signaled Session Down)`);
});

test('a Down after Up dates the failure from the last control packet received (Verdict.since, for OutageMs)', async (t) => {
  // The peer at F ms x 3 goes silent (a blackhole, not AdminDown): Down with diagnostic 1 one Detection Time
  // (3 F ms) after its last packet, and the verdict says when that packet came.
  let silent = false;
  let peer: BfdSession;
  const side = aftr((b) => peer.receive(b));
  peer = new BfdSession({ desiredMinTx: F * 1000, requiredMinRx: F * 1000, detectMult: 3, auth: null }, (b) => { if (!silent) side.reply(b); }, 0x7777);
  peer.start();
  const { d } = detector(side.udp, { desiredMinTx: F, requiredMinRx: F });
  t.after(() => { d.stop(); peer.stop(); });
  d.start(AFTR);
  await until(() => d.verdict().state === 'Healthy' && d.report().detectionTime === 3 * F * 1000, 5000);
  await sleep(4 * F);
  const before = d.report().lastReceivedAt;
  silent = true;
  const silencedAt = Date.now();
  await until(() => d.verdict().state === 'Failed', 2000);
  const v = d.verdict();
  assert.equal(v.reason, `BFD: session to ${AFTR} Down, diagnostic 1 (Control Detection Time Expired)`);
  assert.ok(v.since !== undefined && v.since >= before && v.since <= silencedAt + 5, `since ${v.since}, last before ${before}, silenced ${silencedAt}`);
  assert.ok(v.time - v.since! >= 3 * F - 10, `failed ${v.time - v.since!} ms after the last packet (Detection Time ${3 * F} ms)`);
  assert.equal(d.report().lastReceivedAt, v.since);
});
