// Two BFD sessions wired back to back in memory: the three-way handshake, Poll/Final when timers change,
// detection of a cut path with diagnostic 1, recovery, authentication, and the session-level discards
// of RFC 5880 §6.8.6 (discriminators, authentication), which are counted.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decode, encode, packet, type BfdPacket } from '../../src/dslite/bfd-codec.ts';
import { BfdSession, type BfdConfig } from '../../src/dslite/bfd-session.ts';

import { sleep, until } from '../wait.ts';

const FAST: BfdConfig = { desiredMinTx: 20_000, requiredMinRx: 20_000, detectMult: 3, auth: null };

/** a <-> b; `cut` drops everything; `seen` records what each side sent. */
function pair(ca: BfdConfig, cb: BfdConfig = ca) {
  const link = { cut: false, seen: { a: [] as BfdPacket[], b: [] as BfdPacket[] } };
  const sessions: { a?: BfdSession; b?: BfdSession } = {};
  const wire = (from: 'a' | 'b', to: 'a' | 'b') => (buf: Buffer) => {
    const p = decode(buf);
    if (typeof p !== 'string') link.seen[from].push(p);
    if (!link.cut) setImmediate(() => sessions[to]?.receive(buf));
  };
  sessions.a = new BfdSession(ca, wire('a', 'b'));
  sessions.b = new BfdSession(cb, wire('b', 'a'));
  return { a: sessions.a, b: sessions.b, link, stop: () => { sessions.a!.stop(); sessions.b!.stop(); } };
}

test('handshake Down -> Init -> Up, then a Poll Sequence to the configured rates', async (t) => {
  const { a, b, link, stop } = pair(FAST);
  t.after(stop);
  const states: string[] = [];
  a.onChange(({ status }) => states.push(status.state));
  a.start();
  b.start();
  await until(() => a.status().state === 'Up' && b.status().state === 'Up', 2000);
  // Down -> Init -> Up, or Down -> Up when the peer's Init arrives first (§6.2).
  assert.ok(['Init,Up', 'Up'].includes(states.join()), states.join());
  // Going Up changed Desired Min TX from 1 s to 20 ms: P until F (§6.5).
  await until(() => link.seen.a.some((p) => p.poll) && link.seen.b.some((p) => p.final), 2000);
  assert.ok(!link.seen.a.concat(link.seen.b).some((p) => p.poll && p.final), 'never P and F together');
  await until(() => a.status().txInterval === 20_000 && b.status().txInterval === 20_000, 2000);
  assert.equal(a.status().detectionTime, 60_000);
  assert.equal(a.status().remoteDiscr, b.status().localDiscr);
  assert.equal(a.status().dropped, 0);
});

test('a cut path: Down with diagnostic 1 within the Detection Time; repaired: Up again', async (t) => {
  const { a, b, link, stop } = pair(FAST);
  t.after(stop);
  a.start();
  b.start();
  await until(() => a.status().state === 'Up' && a.status().detectionTime === 60_000 && a.status().txInterval === 20_000, 3000);
  await sleep(100);
  const t0 = Date.now();
  link.cut = true;
  await until(() => a.status().state === 'Down', 1000);
  const took = Date.now() - t0;
  // 60 ms from the last packet (at most 20 ms before the cut); the rest is timer slack on a busy machine.
  assert.ok(took <= 60 + 150, `Down after ${took} ms (detection time 60 ms)`);
  assert.equal(a.status().localDiag, 1);
  assert.equal(a.status().remoteDiscr, 0, 'bfd.RemoteDiscr reset (§6.8.1)');
  link.cut = false;
  await until(() => a.status().state === 'Up' && b.status().state === 'Up', 3000);
  assert.equal(a.status().localDiag, 0);
});

test('timer change while Up: a slower Desired Min TX takes effect only after Final (§6.8.3)', async (t) => {
  const slowDetect = { ...FAST, detectMult: 10 }; // 200 ms: the held-back Final does not end the session
  const { a, b, link, stop } = pair(slowDetect);
  t.after(stop);
  a.start();
  b.start();
  await until(() => a.status().txInterval === 20_000 && b.status().txInterval === 20_000, 3000);
  link.cut = true; // hold the Final back
  await sleep(30);
  a.configure({ ...slowDetect, desiredMinTx: 200_000 });
  await sleep(30);
  assert.equal(a.status().txInterval, 20_000, 'the old interval until the Poll Sequence ends');
  assert.ok(link.seen.a.at(-1)!.poll && link.seen.a.at(-1)!.desiredMinTx === 200_000);
  link.cut = false;
  await until(() => a.status().txInterval === 200_000, 1000);
  await until(() => b.status().detectionTime === 2_000_000, 1000);
});

test('the peer going AdminDown takes the session Down with diagnostic 3', async (t) => {
  const { a, b, stop } = pair(FAST);
  t.after(stop);
  a.start();
  b.start();
  await until(() => a.status().state === 'Up', 2000);
  b.stop();
  await until(() => a.status().state === 'Down', 1000);
  assert.equal(a.status().localDiag, 3);
  assert.equal(a.status().remoteState, 'AdminDown');
});

test('authentication: Meticulous Keyed SHA1 comes Up; a wrong key is dropped and counted', async (t) => {
  const key = { type: 5, keyId: 1, secret: Buffer.from('s3cret') };
  const ok = pair({ ...FAST, auth: key });
  t.after(ok.stop);
  ok.a.start();
  ok.b.start();
  await until(() => ok.a.status().state === 'Up' && ok.b.status().state === 'Up', 2000);
  const bad = pair({ ...FAST, auth: key }, { ...FAST, auth: { ...key, secret: Buffer.from('other') } });
  t.after(bad.stop);
  bad.a.start();
  bad.b.start();
  await sleep(100);
  assert.equal(bad.b.status().state, 'Down');
  assert.ok((bad.b.status().drops.authFailed ?? 0) >= 1);
  const none = pair({ ...FAST, auth: key }, FAST);
  t.after(none.stop);
  none.a.start();
  none.b.start();
  await sleep(100);
  assert.ok((none.b.status().drops.authUnexpected ?? 0) >= 1);
  assert.ok((none.a.status().drops.authMissing ?? 0) >= 1);
});

test('session-level discards are counted by reason (§6.8.6)', () => {
  const s = new BfdSession(FAST, () => undefined, 0x1111);
  s.start();
  const rx = (p: Partial<BfdPacket>) => s.receive(encode(packet({ myDisc: 0x2222, ...p })));
  rx({ state: 'Down', yourDisc: 0x9999 }); // wrong Your Discriminator
  rx({ state: 'Up', yourDisc: 0 }); // zero Your Discriminator while not Down
  const zeroMult = encode(packet({ state: 'Up', myDisc: 0x2222, yourDisc: 0x1111 }));
  zeroMult[2] = 0;
  s.receive(zeroMult);
  s.receive(Buffer.from([0x40, 0, 3, 24])); // bad version
  assert.deepEqual(s.status().drops, { badYourDisc: 1, zeroYourDisc: 1, zeroMultiplier: 1, badVersion: 1 });
  assert.equal(s.status().dropped, 4);
  assert.equal(s.status().received, 0);
  assert.equal(s.status().state, 'Down');
  rx({ state: 'Down', yourDisc: 0 }); // a valid first packet
  assert.equal(s.status().state, 'Init');
  assert.equal(s.status().received, 1);
  s.stop();
  rx({ state: 'Init', yourDisc: 0x1111 });
  assert.equal(s.status().drops.adminDown, 1);
});

test('a peer that asks for 1 s until it is Up (FRR bfdd) is then served at its own rate at once (§6.8.7)', async (t) => {
  // The scripted peer: Init with Required Min RX 1 s, then Up with 30 ms; its Detection Time is 3 x 30 ms.
  const sent: { at: number; p: BfdPacket }[] = [];
  const s = new BfdSession({ ...FAST, desiredMinTx: 30_000, requiredMinRx: 30_000 }, (b) => sent.push({ at: Date.now(), p: decode(b) as BfdPacket }), 0x1111);
  t.after(() => s.stop());
  s.start();
  const peer = (p: Partial<BfdPacket>) => s.receive(encode(packet({ myDisc: 0x2222, yourDisc: 0x1111, ...p })));
  peer({ state: 'Init', desiredMinTx: 1_000_000, requiredMinRx: 1_000_000 });
  assert.equal(s.status().state, 'Up');
  peer({ state: 'Up', poll: true, desiredMinTx: 30_000, requiredMinRx: 30_000 });
  const from = Date.now();
  const keepAlive = setInterval(() => peer({ state: 'Up', desiredMinTx: 30_000, requiredMinRx: 30_000 }), 20);
  t.after(() => clearInterval(keepAlive));
  await sleep(400);
  clearInterval(keepAlive);
  const times = [from, ...sent.filter((x) => x.at >= from && !x.p.final).map((x) => x.at)];
  const gaps = times.slice(1).map((at, i) => at - times[i]);
  // At most 30 ms apart (plus timer slack on a shared machine), never the 750-1000 ms of the slow rate.
  assert.ok(gaps.length >= 8, `only ${gaps.length} periodic packets in 400 ms`);
  assert.ok(Math.max(...gaps) <= 30 + 40, `gaps ${gaps.join(',')} ms`);
  assert.equal(s.status().txInterval, 30_000);
});
