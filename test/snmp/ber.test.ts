// The SNMP layer over asn1-ber: encodings checked against X.690 / RFC 3416 examples, decoding of malformed
// input, and the message codec around it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ber, BerError, decodeValue, encodeValue, type Value } from '../../src/snmp/ber.ts';
import { decodeMessage, encodeCommunity, encodePdu, encodeScopedPdu, encodeV3, encodeVarbinds } from '../../src/snmp/message.ts';

const hex = (b: Buffer) => b.toString('hex');

const values: [string, Value, string][] = [
  ['Integer 0', { type: 'Integer', value: 0 }, '020100'],
  ['Integer 127', { type: 'Integer', value: 127 }, '02017f'],
  ['Integer 128', { type: 'Integer', value: 128 }, '02020080'],
  ['Integer 256', { type: 'Integer', value: 256 }, '02020100'],
  ['Integer -1', { type: 'Integer', value: -1 }, '0201ff'],
  ['Integer -129', { type: 'Integer', value: -129 }, '0202ff7f'],
  ['Integer 2^31-1', { type: 'Integer', value: 2147483647 }, '02047fffffff'],
  ['Integer -2^31', { type: 'Integer', value: -2147483648 }, '020480000000'],
  ['Counter32 2^32-1', { type: 'Counter32', value: 4294967295 }, '410500ffffffff'],
  ['Gauge32 0', { type: 'Gauge32', value: 0 }, '420100'],
  ['Gauge32 128', { type: 'Gauge32', value: 0x80 }, '42020080'],
  ['TimeTicks 100', { type: 'TimeTicks', value: 100 }, '430164'],
  ['Counter64 2^64-1', { type: 'Counter64', value: 18446744073709551615n }, '460900ffffffffffffffff'],
  ['Counter64 6e9', { type: 'Counter64', value: 6000000000n }, '46050165a0bc00'],
  ['OCTET STRING binary', { type: 'OctetString', value: Buffer.from('00ff80', 'hex') }, '040300ff80'],
  ['OCTET STRING empty', { type: 'OctetString', value: Buffer.alloc(0) }, '0400'],
  ['Opaque', { type: 'Opaque', value: Buffer.from('9f780442f60000', 'hex') }, '44079f780442f60000'],
  ['IpAddress', { type: 'IpAddress', value: Buffer.from([192, 0, 2, 1]) }, '4004c0000201'],
  ['OID 1.3.6.1.4.1.32473', { type: 'OID', value: [1, 3, 6, 1, 4, 1, 32473] }, '06082b0601040181fd59'], // 32473 = 1*128^2 + 125*128 + 89,
  ['OID 2.999.3 (X.690 §8.19.5 example)', { type: 'OID', value: [2, 999, 3] }, '0603883703'],
  ['OID arc 2^32-1', { type: 'OID', value: [1, 3, 4294967295] }, '06062b8fffffff7f'],
  ['Null', { type: 'Null' }, '0500'],
  ['noSuchObject', { type: 'NoSuchObject' }, '8000'],
  ['noSuchInstance', { type: 'NoSuchInstance' }, '8100'],
  ['endOfMibView', { type: 'EndOfMibView' }, '8200'],
];
for (const [name, v, want] of values) {
  test(`encode and decode ${name}`, () => {
    const b = encodeValue(v);
    assert.equal(hex(b), want);
    assert.deepEqual(decodeValue(b), v);
  });
}

const bad: [string, string][] = [
  ['empty', ''],
  ['length past the end', '3005020101'],
  ['OCTET STRING past the end', '0405aabb'],
  ['5-byte INTEGER', '020501ffffffff'],
  ['zero-length INTEGER', '0200'],
  ['OID with a dangling continuation', '06022b86'],
  ['OID arc of 2^32', '06062b9080808000'],
  ['empty OID', '0600'],
  ['negative Counter32', '4101ff'],
  ['Counter32 of 2^32', '41050100000000'],
  ['Counter64 of 10 bytes', '460a01ffffffffffffffffff'],
  ['IpAddress of 3 bytes', '4003c00002'],
  ['NULL with contents', '050100'],
  ['unknown tag', '9f0100'],
];
for (const [name, h] of bad) {
  test(`malformed: ${name}`, () => {
    assert.throws(() => decodeValue(Buffer.from(h, 'hex')), BerError);
  });
}

// Why OID contents are encoded in ber.ts and not by asn1-ber: its writeOID packs the first subidentifier
// into one octet and its readOID splits it as if the first arc could exceed 2 (X.690 §8.19.4).
test('asn1-ber mangles 2.999.3, which ber.ts encodes itself', () => {
  const w = new Ber.Writer();
  w.writeOID('2.999.3');
  assert.equal(hex(w.buffer), '06023703');
  assert.equal(new Ber.Reader(Buffer.from('0603883703', 'hex')).readOID(), '26.39.3');
});

test('a community message round-trips with binary octets intact', () => {
  const vbs = [{ oid: [1, 3, 6, 1, 2, 1, 1, 5, 0], value: { type: 'OctetString' as const, value: Buffer.from('20010db8ff00', 'hex') } }];
  const m = decodeMessage(encodeCommunity(1, Buffer.from('private'), encodePdu('SetRequest', 42, 0, 0, encodeVarbinds(vbs))));
  assert.ok(m.version === 1, 'SNMPv2c');
  assert.deepEqual([m.community.toString(), m.pdu.type, m.pdu.requestId, m.pdu.varbinds], ['private', 'SetRequest', 42, vbs]);
});

test('a GetRequest as Net-SNMP sends it decodes (RFC 3416 §3 golden bytes)', () => {
  // snmpget -v2c -c public 1.3.6.1.2.1.1.3.0, request-id 0x1234
  const m = decodeMessage(Buffer.from('302702010104067075626c6963a01a02021234020100020100300e300c06082b060102010103000500', 'hex'));
  assert.ok(m.version === 1);
  assert.deepEqual([m.pdu.type, m.pdu.requestId, m.pdu.varbinds], ['GetRequest', 0x1234, [{ oid: [1, 3, 6, 1, 2, 1, 1, 3, 0], value: { type: 'Null' } }]]);
});

const badMessages: [string, string][] = [
  ['varbind overrunning its list', '302702010104067075626c6963a01a020212340201000201003008300c06082b060102010103000500'],
  ['SEQUENCE longer than the datagram', '307f02010104067075626c6963'],
  ['PDU of unknown type', '301202010104067075626c6963af050201000000'],
  ['trailing bytes inside the message', '302a02010104067075626c6963a01a02021234020100020100300e300c06082b060102010103000500020100'],
];
for (const [name, h] of badMessages) {
  test(`malformed message: ${name}`, () => {
    assert.throws(() => decodeMessage(Buffer.from(h, 'hex')), BerError);
  });
}

test('an SNMPv3 message: the reserved HMAC field is a view into it, and decodes back', () => {
  const usm = { engineID: Buffer.from('80007ed90501', 'hex'), engineBoots: 3, engineTime: 1234, userName: 'nocuser', privParams: Buffer.alloc(0) };
  const data = encodeScopedPdu(usm.engineID, Buffer.alloc(0), encodePdu('GetRequest', 7, 0, 0, []));
  const { buf, authParams } = encodeV3({ msgID: 7, msgMaxSize: 65507, flags: 5, usm, authLen: 12, data, encrypted: false });
  assert.equal(hex(authParams), '00'.repeat(12));
  authParams.fill(0xab);
  const m = decodeMessage(buf);
  assert.ok(m.version === 3);
  assert.deepEqual([m.msgID, m.msgMaxSize, m.flags, m.securityModel], [7, 65507, { auth: true, priv: false, reportable: true }, 3]);
  assert.deepEqual({ ...m.usm, authParams: hex(m.usm.authParams) }, { ...usm, authParams: 'ab'.repeat(12) });
  assert.equal(m.usm.authParams.buffer, buf.buffer, 'a view, so the HMAC can be checked in place');
  assert.ok(!Buffer.isBuffer(m.scoped) && m.scoped.pdu.type === 'GetRequest' && m.scoped.pdu.requestId === 7);
});
