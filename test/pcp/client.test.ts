// The PCP detector against an in-memory PCP server (the env's UDP hook): MAP and renewal, the failures
// (NETWORK_FAILURE, loss of the server, an Epoch going backwards), result codes that are only reported,
// and malformed or foreign responses, which are dropped and counted.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DetectorEnv, UdpOpen } from '../../src/dslite/detectors.ts';
import { PcpDetector } from '../../src/dslite/pcp.ts';
import type { Verdict } from '../../src/dslite/detectors.ts';

import { sleep, until } from '../wait.ts';

type Reply = { bytes: Buffer; from?: { address: string; port: number } };
/** The server: answers each request with what `respond` returns (a list, possibly empty). */
function server(respond: (req: Buffer, n: number) => Reply[]) {
  const seen: Buffer[] = [];
  const udp: UdpOpen = async (o) => ({
    send: (b) => {
      seen.push(Buffer.from(b));
      for (const r of respond(b, seen.length)) setImmediate(() => o.onMessage(r.bytes, r.from ?? { address: o.peer!.address, port: o.peer!.port }));
    },
    address: () => ({ address: '192.0.0.2', port: 40000 }),
    close: () => undefined,
  });
  return { udp, seen };
}

/** A response to `req`: result, lifetime, epoch, external 11.0.0.1:port. */
function answer(req: Buffer, result: number, lifetime: number, epoch: number, port = 40000): Buffer {
  const b = Buffer.from(req);
  b[1] |= 0x80;
  b[3] = result;
  b.writeUInt32BE(lifetime, 4);
  b.writeUInt32BE(epoch, 8);
  b.fill(0, 12, 24);
  b.writeUInt16BE(port, 42);
  Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 11, 0, 0, 1]).copy(b, 44);
  return b;
}

function detector(respond: (req: Buffer, n: number) => Reply[], timeout = 300) {
  const s = server(respond);
  const env: DetectorEnv = { tunnel: null as never, now: Date.now, udp: s.udp };
  const d = new PcpDetector({ enable: true, interval: 10, timeout, failureThreshold: 1 }, env);
  const verdicts: Verdict[] = [];
  d.onVerdict((v) => verdicts.push(v));
  return { d, seen: s.seen, verdicts };
}

test('MAP succeeds, the mapping is reported, and it is renewed within the granted lifetime', async (t) => {
  const { d, seen, verdicts } = detector((req, n) => [{ bytes: answer(req, 0, 1, 100 + n) }]);
  d.configurePcp({ server: '192.0.0.1', lifetime: 1 });
  t.after(() => d.stop());
  d.start('2001:db8:ff::1');
  await until(() => d.verdict().state === 'Healthy', 1000);
  const r = d.report();
  assert.deepEqual([r.result, r.resultCode, r.externalAddress, r.externalPort, r.internalPort, r.lifetime], ['SUCCESS', 0, '11.0.0.1', 40000, 40000, 1]);
  // Granted 1 s: renewed at 0.5-0.625 s (§11.2.1), with the same nonce.
  await until(() => seen.length >= 3, 2000);
  assert.ok(seen.every((b) => b.subarray(24, 36).equals(seen[0].subarray(24, 36))), 'same nonce on renewal');
  assert.equal(seen[0].readUInt32BE(4), 1, 'requested lifetime');
  assert.deepEqual(verdicts.map((v) => v.state), ['Unknown', 'Healthy'].slice(verdicts[0]?.state === 'Unknown' ? 0 : 1));
});

test('malformed and foreign responses are dropped and counted; the good one is taken', async (t) => {
  const { d } = detector((req) => {
    const good = answer(req, 0, 120, 7);
    const bad = (f: (b: Buffer) => void) => { const b = Buffer.from(good); f(b); return b; };
    return [
      { bytes: good.subarray(0, 24) },
      { bytes: bad((b) => (b[0] = 1)) },
      { bytes: bad((b) => (b[24] ^= 1)) },
      { bytes: bad((b) => (b[1] = 0x01)) },
      { bytes: good, from: { address: '192.0.0.9', port: 5351 } },
      { bytes: good },
    ];
  });
  t.after(() => d.stop());
  d.start('2001:db8:ff::1');
  await until(() => d.verdict().state === 'Healthy', 1000);
  const r = d.report();
  assert.deepEqual(r.drops, { short: 1, badVersion: 1, badNonce: 1, notResponse: 1, badSource: 1 });
  assert.equal(r.dropped, 5);
  assert.equal(r.responses, 1);
});

const OUTCOMES: { name: string; respond: (req: Buffer, n: number) => Reply[]; state: string; reason: RegExp }[] = [
  { name: 'NETWORK_FAILURE is a failure', respond: (req) => [{ bytes: answer(req, 7, 30, 5) }], state: 'Failed', reason: /^PCP: NETWORK_FAILURE \(7\) from 192\.0\.0\.1$/ },
  { name: 'no answer within the retransmission schedule is a failure', respond: () => [], state: 'Failed', reason: /^PCP: no answer from 192\.0\.0\.1 within 300 ms \([2-4] requests\)$/ },
  {
    name: 'an Epoch going backwards is a failure', respond: (req, n) => [{ bytes: answer(req, 0, 1, n === 1 ? 5000 : 3) }],
    state: 'Failed', reason: /^PCP: Epoch went backwards from 5000 to 3 at 192\.0\.0\.1/,
  },
  { name: 'NO_RESOURCES is reported, not a failure', respond: (req) => [{ bytes: answer(req, 8, 30, 5) }], state: 'Healthy', reason: /^PCP: result 8 NO_RESOURCES from 192\.0\.0\.1$/ },
  { name: 'NOT_AUTHORIZED is reported, not a failure', respond: (req) => [{ bytes: answer(req, 2, 30, 5) }], state: 'Healthy', reason: /NOT_AUTHORIZED/ },
];
for (const c of OUTCOMES) {
  test(`outcome: ${c.name}`, async (t) => {
    const { d } = detector(c.respond);
    d.configurePcp({ server: '192.0.0.1', lifetime: 1 });
    t.after(() => d.stop());
    d.start('2001:db8:ff::1');
    await until(() => d.verdict().state === c.state, 2000);
    assert.match(d.verdict().reason, c.reason);
  });
}

test('probe(): one exchange, false on NETWORK_FAILURE', async () => {
  let result = 7;
  const { d } = detector((req) => [{ bytes: answer(req, result, 30, 5) }]);
  assert.deepEqual(await d.probe(), { ok: false, reason: 'PCP: NETWORK_FAILURE (7) from 192.0.0.1' });
  result = 0;
  assert.equal((await d.probe()).ok, true);
  d.stop();
});
