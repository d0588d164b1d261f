// BFD Control packets byte for byte (RFC 5880 §4.1-4.4) and the §6.8.6 discards of malformed packets.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decode, encode, packet, verifyAuth, type AuthKey, type BfdPacket } from '../../src/dslite/bfd-codec.ts';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

const ENCODED: { name: string; p: Partial<BfdPacket>; key?: AuthKey; seq?: number; bytes: string }[] = [
  {
    name: 'Up, Poll, 300 ms x 3',
    p: { state: 'Up', poll: true, detectMult: 3, myDisc: 1, yourDisc: 2, desiredMinTx: 300_000, requiredMinRx: 300_000 },
    bytes: '20e00318 00000001 00000002 000493e0 000493e0 00000000',
  },
  {
    name: 'Down, diagnostic 1, slow rate, no peer yet',
    p: { state: 'Down', diag: 1, detectMult: 3, myDisc: 0xdeadbeef, yourDisc: 0, desiredMinTx: 1_000_000, requiredMinRx: 10_000_000 },
    bytes: '21400318 deadbeef 00000000 000f4240 00989680 00000000',
  },
  {
    name: 'Init, Final, C bit, 100 ms x 5, echo 50 ms',
    p: { state: 'Init', final: true, cpi: true, detectMult: 5, myDisc: 7, yourDisc: 9, desiredMinTx: 100_000, requiredMinRx: 100_000, requiredMinEchoRx: 50_000 },
    bytes: '20980518 00000007 00000009 000186a0 000186a0 0000c350',
  },
  {
    name: 'AdminDown, diagnostic 7',
    p: { state: 'AdminDown', diag: 7, detectMult: 3, myDisc: 1, yourDisc: 2 },
    bytes: '27000318 00000001 00000002 000f4240 000f4240 00000000',
  },
  {
    name: 'Simple Password "abc", key ID 5',
    p: { state: 'Up', myDisc: 1, yourDisc: 2 },
    key: { type: 1, keyId: 5, secret: Buffer.from('abc') },
    bytes: '20c4031e 00000001 00000002 000f4240 000f4240 00000000 0106 05 616263',
  },
];

for (const c of ENCODED) {
  test(`encode/decode: ${c.name}`, () => {
    const b = encode(packet(c.p), c.key, c.seq);
    assert.equal(b.toString('hex'), hex(c.bytes).toString('hex'));
    const d = decode(b);
    assert.ok(typeof d !== 'string', String(d));
    const want = packet(c.p);
    for (const k of Object.keys(want) as (keyof BfdPacket)[]) if (k !== 'auth') assert.deepEqual(d[k], want[k], k);
    if (c.key) assert.ok(verifyAuth(b, d, c.key));
  });
}

test('Keyed SHA1: Auth Len 28, sequence, digest over the packet with the key in place (§6.7.4)', () => {
  const key: AuthKey = { type: 4, keyId: 3, secret: Buffer.from('0123456789abcdefghij') };
  const b = encode(packet({ state: 'Up', myDisc: 1, yourDisc: 2 }), key, 0x01020304);
  assert.equal(b.length, 52);
  assert.equal(b.subarray(0, 32).toString('hex'), hex('20c40334 00000001 00000002 000f4240 000f4240 00000000 041c0300 01020304').toString('hex'));
  const d = decode(b);
  assert.ok(typeof d !== 'string');
  assert.equal(d.auth?.sequence, 0x01020304);
  assert.ok(verifyAuth(b, d, key));
  assert.equal(verifyAuth(b, d, { ...key, secret: Buffer.from('wrong key') }), false);
  assert.equal(verifyAuth(b, d, { ...key, keyId: 4 }), false);
  const tampered = Buffer.from(b);
  tampered[15] ^= 1;
  const t = decode(tampered);
  assert.ok(typeof t !== 'string');
  assert.equal(verifyAuth(tampered, t, key), false);
});

test('Keyed MD5 and the meticulous types have their own Auth Len and verify', () => {
  for (const [type, len] of [[2, 48], [3, 48], [5, 52]] as const) {
    const key: AuthKey = { type, keyId: 1, secret: Buffer.from('secret') };
    const b = encode(packet({ state: 'Init', myDisc: 4, yourDisc: 5 }), key, 9);
    assert.equal(b.length, len, `type ${type}`);
    const d = decode(b);
    assert.ok(typeof d !== 'string' && verifyAuth(b, d, key), `type ${type}`);
  }
});

const base = () => encode(packet({ state: 'Up', myDisc: 1, yourDisc: 2 }));
const edit = (f: (b: Buffer) => void, from = base()) => { const b = Buffer.from(from); f(b); return b; };

const MALFORMED: { name: string; bytes: Buffer; why: string }[] = [
  { name: 'fewer than 4 octets', bytes: Buffer.from([0x20, 0xc0, 3]), why: 'short' },
  { name: 'version 0', bytes: edit((b) => (b[0] = 0x00)), why: 'badVersion' },
  { name: 'version 2', bytes: edit((b) => (b[0] = 0x40)), why: 'badVersion' },
  { name: 'Length 23 (below the minimum)', bytes: edit((b) => (b[3] = 23)), why: 'badLength' },
  { name: 'Length 28 beyond the 24-octet payload', bytes: edit((b) => (b[3] = 28)), why: 'badLength' },
  { name: 'truncated to 20 octets', bytes: base().subarray(0, 20), why: 'badLength' },
  { name: 'A bit with Length 24 (no room for the section)', bytes: edit((b) => (b[1] |= 4)), why: 'badLength' },
  { name: 'Detect Mult 0', bytes: edit((b) => (b[2] = 0)), why: 'zeroMultiplier' },
  { name: 'Multipoint bit', bytes: edit((b) => (b[1] |= 1)), why: 'multipoint' },
  { name: 'My Discriminator 0', bytes: edit((b) => b.writeUInt32BE(0, 4)), why: 'zeroMyDisc' },
  { name: 'unknown auth type 9', bytes: Buffer.concat([edit((b) => { b[1] |= 4; b[3] = 28; }), Buffer.from([9, 4, 1, 0])]), why: 'badAuthSection' },
  { name: 'SHA1 section with Auth Len 24', bytes: Buffer.concat([edit((b) => { b[1] |= 4; b[3] = 48; }), Buffer.from([4, 24]), Buffer.alloc(22)]), why: 'badAuthSection' },
];

for (const c of MALFORMED) {
  test(`malformed: ${c.name} -> ${c.why}`, () => {
    assert.equal(decode(c.bytes), c.why);
  });
}
