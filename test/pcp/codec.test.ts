// PCP MAP requests and responses byte for byte (RFC 6887 §7, §11.1), the §8.3 discards of malformed or
// foreign responses, and the §8.5 Epoch check.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeAddress, decodeMapResponse, encodeAddress, encodeMapRequest, epochCheck, resultName } from '../../src/dslite/pcp-codec.ts';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const NONCE = hex('0102030405060708090a0b0c');

test('MAP request: UDP 5000, lifetime 120, client 192.0.0.2, no external preference', () => {
  const b = encodeMapRequest({ lifetime: 120, clientAddress: '192.0.0.2', nonce: NONCE, protocol: 17, internalPort: 5000, suggestedPort: 5000, suggestedAddress: '' });
  assert.equal(b.toString('hex'), hex(`
    02 01 0000 00000078 00000000000000000000ffffc0000002
    0102030405060708090a0b0c 11 000000 1388 1388 00000000000000000000ffff00000000`).toString('hex'));
});

test('MAP request: renewal with the previous external address and an IPv6 client', () => {
  const b = encodeMapRequest({ lifetime: 3600, clientAddress: '2001:db8::b4', nonce: NONCE, protocol: 6, internalPort: 443, suggestedPort: 40000, suggestedAddress: '11.0.0.1' });
  assert.equal(b.toString('hex'), hex(`
    02 01 0000 00000e10 20010db80000000000000000000000b4
    0102030405060708090a0b0c 06 000000 01bb 9c40 00000000000000000000ffff0b000001`).toString('hex'));
});

const RESPONSE = hex(`
  02 81 00 00 00000078 00000005 000000000000000000000000
  0102030405060708090a0b0c 11 000000 1388 1389 00000000000000000000ffff0b000001`);

test('MAP response: SUCCESS, lifetime, Epoch, assigned external address and port', () => {
  assert.deepEqual(decodeMapResponse(RESPONSE, NONCE), {
    opcode: 1, result: 0, lifetime: 120, epoch: 5, nonce: NONCE, protocol: 17, internalPort: 5000, externalPort: 5001, externalAddress: '11.0.0.1',
  });
});

test('MAP response: NETWORK_FAILURE with a short lifetime, and options skipped by length', () => {
  const b = Buffer.concat([RESPONSE, hex('12 00 0004 00000000'), hex('01 00 0002 abcd0000')]); // PREFER_FAILURE-like + unknown, padded
  b[3] = 7;
  b.writeUInt32BE(30, 4);
  const r = decodeMapResponse(b, NONCE);
  assert.ok(typeof r !== 'string');
  assert.equal(r.result, 7);
  assert.equal(resultName(r.result), 'NETWORK_FAILURE');
  assert.equal(r.lifetime, 30);
});

const edit = (f: (b: Buffer) => void, from = RESPONSE) => { const b = Buffer.from(from); f(b); return b; };
const MALFORMED: { name: string; bytes: Buffer; why: string }[] = [
  { name: '3 octets', bytes: RESPONSE.subarray(0, 3), why: 'short' },
  { name: 'a 24-octet header without the MAP payload', bytes: RESPONSE.subarray(0, 24), why: 'short' },
  { name: '56 octets (MAP payload cut)', bytes: RESPONSE.subarray(0, 56), why: 'short' },
  { name: 'longer than 1100 octets', bytes: Buffer.concat([RESPONSE, Buffer.alloc(1044)]), why: 'long' },
  { name: 'not a multiple of 4', bytes: Buffer.concat([RESPONSE, Buffer.alloc(2)]), why: 'notMultipleOf4' },
  { name: 'version 0 (NAT-PMP)', bytes: edit((b) => (b[0] = 0)), why: 'badVersion' },
  { name: 'version 1', bytes: edit((b) => (b[0] = 1)), why: 'badVersion' },
  { name: 'R bit clear (a request)', bytes: edit((b) => (b[1] = 0x01)), why: 'notResponse' },
  { name: 'PEER opcode', bytes: edit((b) => (b[1] = 0x82)), why: 'badOpcode' },
  { name: 'another mapping nonce', bytes: edit((b) => (b[24] ^= 0xff)), why: 'badNonce' },
  { name: 'option header cut', bytes: Buffer.concat([RESPONSE, hex('0100')]), why: 'notMultipleOf4' },
  { name: 'option longer than the packet', bytes: Buffer.concat([RESPONSE, hex('01 00 0010 00000000')]), why: 'badOption' },
];
for (const c of MALFORMED) {
  test(`malformed response: ${c.name} -> ${c.why}`, () => {
    assert.equal(decodeMapResponse(c.bytes, NONCE), c.why);
  });
}

const ADDRESSES: [string, string][] = [
  ['192.0.0.2', '00000000000000000000ffffc0000002'],
  ['', '00000000000000000000ffff00000000'],
  ['2001:db8::1', '20010db8000000000000000000000001'],
  ['::', '00000000000000000000000000000000'],
];
for (const [a, h] of ADDRESSES) {
  test(`address field ${a || '(none)'}`, () => {
    assert.equal(encodeAddress(a).toString('hex'), h);
    assert.equal(decodeAddress(hex(h)), a || '0.0.0.0');
  });
}

const EPOCHS: { name: string; prev: [number, number] | null; cur: [number, number]; lost: RegExp | null }[] = [
  { name: 'first response', prev: null, cur: [100, 0], lost: null },
  { name: 'steady: 60 s on both sides', prev: [100, 0], cur: [160, 60], lost: null },
  { name: 'one second back is tolerated', prev: [100, 0], cur: [99, 0.5], lost: null },
  { name: 'went backwards (server restart)', prev: [1000, 0], cur: [5, 60], lost: /went backwards from 1000 to 5/ },
  { name: 'too slow: 10 s for 60 s', prev: [100, 0], cur: [110, 60], lost: /advanced 10 s while 60 s passed/ },
  { name: 'too fast: 600 s for 60 s', prev: [100, 0], cur: [700, 60], lost: /advanced 600 s/ },
];
for (const e of EPOCHS) {
  test(`Epoch check (§8.5): ${e.name}`, () => {
    const r = epochCheck(e.prev && { server: e.prev[0], client: e.prev[1] }, { server: e.cur[0], client: e.cur[1] });
    if (e.lost) assert.match(r ?? '', e.lost);
    else assert.equal(r, null);
  });
}
