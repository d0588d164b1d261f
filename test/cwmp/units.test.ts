// Unit tables: the TR-069 §3.2.1.1 retry windows, the fault mapping, SOAP parsing of ACS messages and
// Digest authentication (client answer checked by the server side).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { retryWindow } from '../../src/cwmp/client.ts';
import { KIND_TO_FAULT } from '../../src/cwmp/faults.ts';
import { CodecError, namespaceOf, parseEnvelope } from '../../src/cwmp/soap.ts';
import { authorization, DigestServer } from '../../src/cwmp/auth.ts';
import { TokenBucket } from '../../src/cwmp/connreq.ts';

test('retry windows follow TR-069 Table 3 (m=5, k=2000) and the configured m, k', () => {
  const table: [number, number, number, [number, number]][] = [
    [1, 5, 2000, [5, 10]], [2, 5, 2000, [10, 20]], [3, 5, 2000, [20, 40]], [4, 5, 2000, [40, 80]], [5, 5, 2000, [80, 160]],
    [6, 5, 2000, [160, 320]], [7, 5, 2000, [320, 640]], [8, 5, 2000, [640, 1280]], [9, 5, 2000, [1280, 2560]],
    [10, 5, 2000, [2560, 5120]], [25, 5, 2000, [2560, 5120]], [1, 30, 1500, [30, 45]], [2, 30, 1500, [45, 67.5]], [3, 1, 1000, [1, 1]],
  ];
  for (const [n, m, k, want] of table) assert.deepEqual(retryWindow(n, m, k), want, `n=${n} m=${m} k=${k}`);
});

test('DmError kinds map to TR-069 fault codes', () => {
  assert.deepEqual(KIND_TO_FAULT, {
    InvalidPath: 9005, InvalidValue: 9007, NotWritable: 9008, NotCreatable: 9005, UniqueKeyConflict: 9007, ResourcesExceeded: 9004,
    InvalidArgument: 9003, PermissionDenied: 9001, NotSupported: 9001, Rejected: 9007, NotificationRejected: 9009, CommandFailed: 9002, Internal: 9002,
  });
});

const env = (ns: string, body: string, header = '') =>
  `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:c="urn:dslforum-org:cwmp-${ns}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><s:Header>${header}</s:Header><s:Body>${body}</s:Body></s:Envelope>`;

test('ACS messages parse into typed requests', () => {
  const table: [string, string, unknown][] = [
    ['1-2', '<c:GetParameterNames><ParameterPath>Device.</ParameterPath><NextLevel>1</NextLevel></c:GetParameterNames>',
      { method: 'GetParameterNames', ParameterPath: 'Device.', NextLevel: true }],
    ['1-0', '<c:GetParameterValues><ParameterNames><string>A.</string><string>B</string></ParameterNames></c:GetParameterValues>',
      { method: 'GetParameterValues', ParameterNames: ['A.', 'B'] }],
    ['1-1', '<c:SetParameterValues><ParameterList><ParameterValueStruct><Name>X</Name><Value xsi:type="xsd:unsignedInt">5</Value></ParameterValueStruct></ParameterList><ParameterKey/></c:SetParameterValues>',
      { method: 'SetParameterValues', ParameterList: [{ Name: 'X', Value: '5', type: 'unsignedInt' }], ParameterKey: '' }],
    ['1-2', '<c:InformResponse><MaxEnvelopes>1</MaxEnvelopes></c:InformResponse>', { method: 'InformResponse', MaxEnvelopes: 1 }],
    ['1-2', '<s:Fault><faultcode>Client</faultcode><faultstring>x</faultstring><detail><c:Fault><FaultCode>8005</FaultCode><FaultString>Retry</FaultString></c:Fault></detail></s:Fault>',
      { method: 'Fault', FaultCode: 8005, FaultString: 'Retry' }],
    ['1-2', '<c:ScheduleInform><DelaySeconds>30</DelaySeconds><CommandKey>k</CommandKey></c:ScheduleInform>', { method: 'ScheduleInform', DelaySeconds: 30, CommandKey: 'k' }],
    ['1-2', '<c:Nope/>', { method: 'Unknown', name: 'Nope' }],
  ];
  for (const [ns, body, want] of table) {
    const e = parseEnvelope(env(ns, body, '<c:ID s:mustUnderstand="1">7</c:ID>'));
    assert.deepEqual(e.body, want, body);
    assert.equal(e.ns, ns);
    assert.equal(e.id, '7');
  }
  const h = parseEnvelope(env('1-2', '<c:InformResponse/>', '<c:HoldRequests s:mustUnderstand="1">1</c:HoldRequests><c:UseCWMPVersion s:mustUnderstand="1">1.4</c:UseCWMPVersion>'));
  assert.equal(h.holdRequests, true);
  assert.equal(h.useVersion, '1.4');
  assert.equal(namespaceOf('xmlns:a="urn:dslforum-org:cwmp-1-0" xmlns:b="urn:dslforum-org:cwmp-1-2"'), '1-2');
});

test('malformed ACS messages are CodecErrors', () => {
  const bad = [
    '', 'plain text', '<a><b></a>', '<!DOCTYPE x [<!ENTITY e "e">]><x/>', '<?xml version="1.0"?><!doctype x SYSTEM "http://192.0.2.1/x.dtd"><x/>',
    env('1-2', ''), env('1-2', '<c:GetParameterNames><NextLevel>1</NextLevel></c:GetParameterNames>'),
    env('1-2', '<c:ScheduleInform><DelaySeconds>-1</DelaySeconds></c:ScheduleInform>'),
    env('1-2', '<c:SetParameterAttributes><ParameterList><SetParameterAttributesStruct><Name>A</Name><NotificationChange>yes</NotificationChange><Notification>1</Notification><AccessListChange>0</AccessListChange></SetParameterAttributesStruct></ParameterList></c:SetParameterAttributes>'),
  ];
  for (const b of bad) assert.throws(() => parseEnvelope(b), CodecError, JSON.stringify(b));
});

test('Digest: the client answer passes the server check once; wrong password and replay are denied', () => {
  const server = new DigestServer('r');
  const cred = { username: 'u', password: 'p' };
  const challenge = server.challenge();
  const a = authorization(challenge, cred, 'GET', '/cr')!;
  assert.equal(server.verify(a.header, 'GET', cred), 'ok');
  assert.equal(server.verify(a.header, 'GET', cred), 'denied', 'same nonce count replayed');
  assert.equal(server.verify(authorization(challenge, { username: 'u', password: 'x' }, 'GET', '/cr')!.header, 'GET', cred), 'denied');
  assert.equal(server.verify(undefined, 'GET', cred), 'denied');
  assert.equal(server.verify(a.header, 'GET', { username: '', password: '' }), 'denied', 'no credentials configured: nobody gets in');
  const stale = new DigestServer('r', -1);
  assert.equal(stale.verify(authorization(stale.challenge(), cred, 'GET', '/cr')!.header, 'GET', cred), 'stale');
  assert.match(authorization('Basic realm="x"', cred, 'POST', '/')!.header, /^Basic dTpw$/);
});

test('Digest: challenges issued in the same millisecond have their own nonces; each first answer passes', () => {
  const server = new DigestServer('r');
  const cred = { username: 'u', password: 'p' };
  // Concurrent connection requests (the flood in connreq.test.ts) are challenged within one millisecond.
  const challenges = Array.from({ length: 20 }, () => server.challenge());
  assert.equal(new Set(challenges).size, 20);
  for (const c of challenges) assert.equal(server.verify(authorization(c, cred, 'GET', '/cr')!.header, 'GET', cred), 'ok', c);
  // A nonce whose MAC is right but whose body was altered is refused.
  const nonce = /nonce="([^"]+)"/.exec(challenges[0])![1];
  const forged = challenges[0].replace(nonce, `0${nonce}`);
  assert.equal(server.verify(authorization(forged, cred, 'GET', '/cr')!.header, 'GET', cred), 'denied');
});

test('TokenBucket: a burst up to the capacity, then the refill rate; reserve goes into debt and says how long', () => {
  // The connection request budget (TR-069 §3.2.2): 3 at once, refilled at 3 per 60 s (one per 20 s).
  const b = new TokenBucket(3, 60_000, 0);
  assert.deepEqual([b.take(0), b.take(0), b.take(0), b.take(0)], [true, true, true, false]);
  assert.equal(b.take(19_999), false);
  assert.equal(b.take(20_000), true);
  assert.equal(b.has(20_000), false);
  assert.equal(b.reserve(20_000), 20_000, 'a follow-up session waits for the next token');
  assert.equal(b.take(39_999), false, 'the reserved token is not there for anyone else');
  assert.equal(b.take(60_000), true);
  assert.equal(b.has(10_000_000), true);
  assert.deepEqual([b.take(10_000_000), b.take(10_000_000), b.take(10_000_000), b.take(10_000_000)], [true, true, true, false], 'never more than the capacity');
  assert.equal(new TokenBucket(30, 60_000, 0).reserve(0), 0);
});

test('namespaces and cwmp:ID headers: what the session answers with 9000 or 9003 (TR-069 Amd 6 §3.5, §3.7.4)', () => {
  const spv = (p: string) => `<${p}SetParameterValues><ParameterList><ParameterValueStruct><Name>X</Name><Value>5</Value></ParameterValueStruct></ParameterList><ParameterKey/></${p}SetParameterValues>`;
  // A method in a cwmp namespace of no version this CPE speaks is not one of its methods.
  for (const ns of ['9-9', '1-3', '2-0']) assert.deepEqual(parseEnvelope(env(ns, spv('c:'))).body, { method: 'Unknown', name: 'SetParameterValues', namespace: `urn:dslforum-org:cwmp-${ns}` }, ns);
  // An unqualified method is read in the namespace the message declares.
  const bare = parseEnvelope(env('1-0', spv('')));
  assert.equal(bare.body.method, 'SetParameterValues');
  assert.equal(bare.ns, '1-0');
  // A SOAP 1.2 envelope is not the SOAP 1.1 envelope CWMP uses.
  assert.throws(() => parseEnvelope(env('1-2', spv('c:')).replace('http://schemas.xmlsoap.org/soap/envelope/', 'http://www.w3.org/2003/05/soap-envelope')), CodecError);
  // Two IDs: a CodecError that still says which ID to echo (only when both copies agree).
  const twoIds = (a: string, b: string) => env('1-2', spv('c:'), `<c:ID s:mustUnderstand="1">${a}</c:ID><c:ID s:mustUnderstand="1">${b}</c:ID>`);
  const caught = (xml: string) => { try { parseEnvelope(xml); } catch (e) { return e; } return undefined; };
  const differ = caught(twoIds('a', 'b'));
  assert.ok(differ instanceof CodecError);
  assert.deepEqual(differ.header, { id: undefined });
  const same = caught(twoIds('a', 'a'));
  assert.ok(same instanceof CodecError);
  assert.deepEqual(same.header, { id: 'a' });
  // A bad argument after a good header: the fault can echo the ID.
  const badArg = caught(env('1-2', '<c:GetParameterNames><NextLevel>1</NextLevel></c:GetParameterNames>', '<c:ID s:mustUnderstand="1">7</c:ID>'));
  assert.ok(badArg instanceof CodecError);
  assert.deepEqual(badArg.header, { id: '7' });
});
