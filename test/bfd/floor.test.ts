// The BFD minimum interval: DesiredMinTxInterval and RequiredMinRxInterval below BFD_MIN_INTERVAL_MS are
// refused when set (the data model's validate), with a message saying why, as InvalidValue (CWMP 9007,
// USP 7012, SNMP wrongValue through each front-end's table); the batch changes nothing. At the floor it is
// accepted. A value below it stored before the floor existed runs at the floor.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DmError } from '../../src/datamodel/index.ts';
import { BFD_MIN_INTERVAL_MS } from '../../src/dslite/bfd-model.ts';
import { BfdDetector, BFD_SETTINGS_DEFAULTS } from '../../src/dslite/bfd.ts';
import { FO, startAgent } from '../failover/harness.ts';
import { until } from '../wait.ts';

const MESSAGE = new RegExp(`^BFD intervals below ${BFD_MIN_INTERVAL_MS} ms cannot be kept under load on this agent \\(RFC 5880 §6\\.8\\.2`);

test(`a set below ${BFD_MIN_INTERVAL_MS} ms is refused with the reason and changes nothing; at the floor it is accepted`, async (t) => {
  const a = await startAgent();
  t.after(() => a.stop());
  const v = (p: string) => a.dm.getValue(`${FO}BFD.${p}`);
  const before = { tx: v('DesiredMinTxInterval'), rx: v('RequiredMinRxInterval'), mult: v('DetectMult') };
  const cases: { set: Record<string, string>; bad: string[] }[] = [
    { set: { DesiredMinTxInterval: '10' }, bad: ['DesiredMinTxInterval'] },
    { set: { RequiredMinRxInterval: '10' }, bad: ['RequiredMinRxInterval'] },
    { set: { DesiredMinTxInterval: String(BFD_MIN_INTERVAL_MS - 1), RequiredMinRxInterval: '10', DetectMult: '5' }, bad: ['DesiredMinTxInterval', 'RequiredMinRxInterval'] },
    // one bad item in a batch: the good ones are not written either
    { set: { DesiredMinTxInterval: '10', RequiredMinRxInterval: '1000', DetectMult: '5' }, bad: ['DesiredMinTxInterval'] },
  ];
  for (const c of cases) {
    const values = Object.fromEntries(Object.entries(c.set).map(([k, x]) => [`${FO}BFD.${k}`, x]));
    const err = (() => { try { a.dm.set(values, 'cli'); } catch (e) { return e; } return null; })();
    assert.ok(err instanceof DmError, `${JSON.stringify(c.set)} refused`);
    assert.equal(err.kind, 'InvalidValue');
    assert.deepEqual(err.details.map((d) => d.path), c.bad.map((p) => `${FO}BFD.${p}`));
    for (const d of err.details) {
      assert.equal(d.kind, 'InvalidValue');
      assert.match(d.message, MESSAGE);
      assert.match(d.message, new RegExp(`; ${c.set[d.path.slice(`${FO}BFD.`.length)]} ms refused$`));
    }
    assert.deepEqual({ tx: v('DesiredMinTxInterval'), rx: v('RequiredMinRxInterval'), mult: v('DetectMult') }, before, 'nothing changed');
  }
  const floor = String(BFD_MIN_INTERVAL_MS);
  a.dm.set({ [`${FO}BFD.DesiredMinTxInterval`]: floor, [`${FO}BFD.RequiredMinRxInterval`]: floor }, 'cli');
  assert.equal(v('DesiredMinTxInterval'), floor);
  assert.equal(v('RequiredMinRxInterval'), floor);
});

test('a session configured below the floor (a value stored before it existed) runs at the floor', async (t) => {
  const sent: Buffer[] = [];
  const d = new BfdDetector({ enable: true, interval: 1000, timeout: 5000, failureThreshold: 1 }, {
    tunnel: null as never, now: Date.now,
    udp: async (o) => ({ send: (b) => { sent.push(b); }, address: () => ({ address: o.address ?? '2001:db8:5::2', port: o.port ?? 50000 }), close: () => undefined }),
  });
  t.after(() => d.stop());
  d.configureBfd({ ...BFD_SETTINGS_DEFAULTS, desiredMinTx: 10, requiredMinRx: 10 });
  d.start('2001:db8:ff::1');
  await until(() => sent.length > 0);
  // Required Min RX Interval (octets 16-19, microseconds): what the peer is told we can receive.
  assert.equal(sent[0].readUInt32BE(16), BFD_MIN_INTERVAL_MS * 1000);
});
