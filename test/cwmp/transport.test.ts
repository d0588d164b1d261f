// HTTP side of sessions (TR-069 §3.4): Basic and Digest to the ACS with the Digest retry on the same
// keep-alive connection, session cookies, TLS with certificate checks, protocol versions (cwmp-1-0 from
// an old ACS, UseCWMPVersion from a 1.4 ACS).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScriptedAcs, names, type AcsOptions } from './acs.ts';
import { startAgent } from './harness.ts';

async function oneSession(t: { after(fn: () => unknown): void }, opts: AcsOptions, config = {}) {
  const acs = await new ScriptedAcs(opts).start();
  t.after(() => acs.stop());
  let gpv = '';
  acs.onSession(async (s) => { gpv = (await s.call('GetParameterValues', names(['Device.DeviceInfo.SoftwareVersion']))).raw; });
  const done = acs.nextSession();
  const agent = await startAgent(acs, { config });
  t.after(() => agent.stop());
  await done;
  return { acs, agent, gpv };
}

for (const auth of ['basic', 'digest'] as const) {
  test(`${auth} authentication to the ACS, one connection, cookies kept`, async (t) => {
    const { acs } = await oneSession(t, { auth, username: 'acs', password: 'secret' });
    // Inform unauthenticated -> 401 -> Inform again with credentials, then the session, all on one socket.
    assert.equal(acs.requests[0].authorization, undefined);
    assert.ok(acs.requests.slice(1).every((r) => r.authorization?.startsWith(auth === 'basic' ? 'Basic ' : 'Digest ')));
    assert.equal(new Set(acs.requests.map((r) => r.port)).size, 1, 'one TCP connection for the session');
    assert.ok(acs.requests.slice(2).every((r) => r.cookie?.startsWith('acs-session=')), 'cookie returned after the InformResponse');
    acs.validateAll();
  });
}

test('wrong ACS password: session fails, no crash, retried later', async (t) => {
  const acs = await new ScriptedAcs({ auth: 'digest', username: 'acs', password: 'secret' }).start();
  t.after(() => acs.stop());
  const agent = await startAgent(acs, { config: { factoryDefaults: { password: 'wrong' } } });
  t.after(() => agent.stop());
  await agent.client.nextSessionEnd();
  assert.deepEqual(agent.client.lastSession, { error: 'ACS rejected the credentials' });
  assert.equal(acs.sessions.length, 0);
});

test('an old ACS speaking cwmp-1-0 gets answers in cwmp-1-0', async (t) => {
  const { acs, gpv } = await oneSession(t, { ns: 'urn:dslforum-org:cwmp-1-0' });
  assert.match(acs.sent[0], /xmlns:cwmp="urn:dslforum-org:cwmp-1-2"/, 'the Inform offers 1-2 with SupportedCWMPVersions');
  assert.match(acs.sent[0], /<cwmp:SupportedCWMPVersions soap-env:mustUnderstand="0">1.0,1.1,1.2,1.3,1.4</);
  assert.match(gpv, /xmlns:cwmp="urn:dslforum-org:cwmp-1-0"/);
  assert.doesNotMatch(gpv, /cwmp-1-2/);
});

test('a 1.4 ACS with UseCWMPVersion keeps the cwmp-1-2 namespace', async (t) => {
  const { acs, gpv } = await oneSession(t, { useVersion: '1.4' });
  assert.match(gpv, /xmlns:cwmp="urn:dslforum-org:cwmp-1-2"/);
  acs.validateAll();
});

test('TLS: the ACS certificate is checked against the configured CA', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cwmp-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const o = (...a: string[]) => execFileSync('openssl', a, { cwd: dir, stdio: 'pipe' });
  o('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=test ACS CA');
  writeFileSync(join(dir, 'san.cnf'), 'subjectAltName=IP:127.0.0.1\n');
  o('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'acs.key', '-out', 'acs.csr', '-subj', '/CN=127.0.0.1');
  o('x509', '-req', '-in', 'acs.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'acs.pem', '-days', '2',
    '-extfile', 'san.cnf');
  const https = { key: readFileSync(join(dir, 'acs.key'), 'utf8'), cert: readFileSync(join(dir, 'acs.pem'), 'utf8') };
  const good = await oneSession(t, { https }, { tls: { caFile: join(dir, 'ca.pem') } });
  assert.ok(good.gpv.includes('GetParameterValuesResponse'));
  good.acs.validateAll();

  const acs = await new ScriptedAcs({ https }).start();
  t.after(() => acs.stop());
  const agent = await startAgent(acs); // system CAs only: the test CA is not trusted
  t.after(() => agent.stop());
  await agent.client.nextSessionEnd();
  assert.match((agent.client.lastSession as { error: string }).error, /self.signed|unable to (get|verify)|certificate/i);
  assert.equal(acs.sessions.length, 0);
});

test('an InformResponse in an unknown cwmp namespace ends the session before anything runs', async (t) => {
  // TR-069 Amd 6 §3.7.4: the session runs in a CWMP version both sides support; cwmp-9-9 is none of this
  // CPE's (SupportedCWMPVersions 1.0-1.4, namespaces 1-0, 1-1, 1-2). The CPE does not go on as if it were 1-2.
  const acs = await new ScriptedAcs({ ns: 'urn:dslforum-org:cwmp-9-9' }).start();
  t.after(() => acs.stop());
  acs.onSession(async (s) => { await s.call('SetParameterValues', `<ParameterList soap-enc:arrayType="cwmp:ParameterValueStruct[1]"><ParameterValueStruct><Name>Device.DeviceInfo.ProvisioningCode</Name><Value xsi:type="xsd:string">foreign</Value></ParameterValueStruct></ParameterList><ParameterKey>k</ParameterKey>`); });
  const agent = await startAgent(acs, { config: { factoryDefaults: { periodicInformEnable: false } } });
  t.after(() => agent.stop());
  await agent.client.nextSessionEnd();
  assert.match((agent.client.lastSession as { error?: string }).error ?? '', /cwmp-9-9/, JSON.stringify(agent.client.lastSession));
  assert.equal(acs.requests.length, 1, 'nothing after the Inform');
  assert.equal(agent.dm.getValue('Device.DeviceInfo.ProvisioningCode'), '');
  acs.validateAll();
});
