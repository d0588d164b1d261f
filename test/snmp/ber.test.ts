// The BER codec: encodings checked against X.690 / RFC 3416 examples, and decoding of malformed input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BerError, decOid, encInt, encOidContent, encUnsigned, encValue, Reader, Tag, type Value } from '../../src/snmp/ber.ts';
import { decodeMessage, encodeCommunity, encodePdu, encodeVarbinds } from '../../src/snmp/message.ts';

const hex = (b: Buffer) => b.toString('hex');

const values: [string, Value, string][] = [
  ['Integer 0', { type: 'Integer', value: 0 }, '020100'],
  ['Integer 127', { type: 'Integer', value: 127 }, '02017f'],
  ['Integer 128', { type: 'Integer', value: 128 }, '02020080'],
  ['Integer -1', { type: 'Integer', value: -1 }, '0201ff'],
  ['Integer -129', { type: 'Integer', value: -129 }, '0202ff7f'],
  ['Integer 2^31-1', { type: 'Integer', value: 2147483647 }, '02047fffffff'],
  ['Integer -2^31', { type: 'Integer', value: -2147483648 }, '020480000000'],
  ['Counter32 2^32-1', { type: 'Counter32', value: 4294967295 }, '410500ffffffff'],
  ['Gauge32 0', { type: 'Gauge32', value: 0 }, '420100'],
  ['TimeTicks 100', { type: 'TimeTicks', value: 100 }, '430164'],
  ['Counter64 2^64-1', { type: 'Counter64', value: 18446744073709551615n }, '460900ffffffffffffffff'],
  ['Counter64 6e9', { type: 'Counter64', value: 6000000000n }, '46050165a0bc00'],
  ['OCTET STRING binary', { type: 'OctetString', value: Buffer.from('00ff80', 'hex') }, '040300ff80'],
  ['IpAddress', { type: 'IpAddress', value: Buffer.from([192, 0, 2, 1]) }, '4004c0000201'],
  ['OID 1.3.6.1.4.1.32473', { type: 'OID', value: [1, 3, 6, 1, 4, 1, 32473] }, '06082b0601040181fd59'], // 32473 = 1*128^2 + 125*128 + 89,
  ['Null', { type: 'Null' }, '0500'],
  ['endOfMibView', { type: 'EndOfMibView' }, '8200'],
];
for (const [name, v, want] of values) {
  test(`encode and decode ${name}`, () => {
    const b = encValue(v);
    assert.equal(hex(b), want);
    assert.deepEqual(new Reader(b).value(), v);
  });
}

test('unsigned and signed helpers agree with the value encoder', () => {
  assert.equal(hex(encUnsigned(Tag.Gauge32, 0x80)), '42020080');
  assert.equal(hex(encInt(Tag.Integer, 256)), '02020100');
  assert.deepEqual(decOid(encOidContent([2, 999, 3])), [2, 999, 3]);
});

const bad: [string, string][] = [
  ['empty', ''],
  ['length past the end', '3005020101'],
  ['5-byte INTEGER', '020501ffffffff'],
  ['OID with a dangling continuation', '06022b86'],
  ['Counter64 of 10 bytes', '460a01ffffffffffffffffff'],
  ['IpAddress of 3 bytes', '4003c00002'],
  ['unknown tag', '9f0100'],
];
for (const [name, h] of bad) {
  test(`malformed: ${name}`, () => {
    assert.throws(() => new Reader(Buffer.from(h, 'hex')).value(), BerError);
  });
}

test('a community message round-trips with binary octets intact', () => {
  const vbs = [{ oid: [1, 3, 6, 1, 2, 1, 1, 5, 0], value: { type: 'OctetString' as const, value: Buffer.from('20010db8ff00', 'hex') } }];
  const m = decodeMessage(encodeCommunity(1, Buffer.from('private'), encodePdu('SetRequest', 42, 0, 0, encodeVarbinds(vbs))));
  assert.ok(m.version === 1, 'SNMPv2c');
  assert.deepEqual([m.community.toString(), m.pdu.type, m.pdu.requestId, m.pdu.varbinds], ['private', 'SetRequest', 42, vbs]);
});
