// Acceptance 5: bad input from the ACS gets a SOAP fault or a closed session, never a crash and never a
// half-applied set: malformed XML, non-SOAP, unknown RPCs, wrong types, DTDs (entity expansion, external
// entities), oversized requests and bodies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ScriptedAcs, faultOf, names, pvs, text, type CpeMsg } from './acs.ts';
import { startAgent } from './harness.ts';

const LAUGHS = `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;"><!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;"><!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;"><!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">]>`;

const acsEnv = (acs: ScriptedAcs, body: string) => acs.envelope(body);

test('hostile ACS input: faults, no crash, no partial set', async (t) => {
  const acs = await new ScriptedAcs().start();
  t.after(() => acs.stop());
  const spvBody = (extra: string) => `<cwmp:SetParameterValues>${pvs([
    ['Device.DeviceInfo.ProvisioningCode', 'half', 'string'], ['Device.ManagementServer.PeriodicInformInterval', extra, 'unsignedInt'],
  ])}<ParameterKey>evil</ParameterKey></cwmp:SetParameterValues>`;
  const cases: [string, string, (m: CpeMsg) => void][] = [];
  const fault = (code: number) => (m: CpeMsg) => { assert.equal(m.method, 'Fault'); assert.equal(text(faultOf(m).FaultCode), String(code)); };
  cases.push(['malformed XML', '<soap-env:Envelope xmlns:soap-env="http://schemas.xmlsoap.org/soap/envelope/"><soap-env:Body><cwmp:GetRPCMethods>', fault(9003)]);
  cases.push(['not SOAP', '<html><body>hello</body></html>', fault(9003)]);
  cases.push(['not XML', '\u0000\u0001binary garbage', fault(9003)]);
  cases.push(['billion laughs', `${LAUGHS}${acsEnv(acs, '<cwmp:GetParameterValues><ParameterNames soap-enc:arrayType="xsd:string[1]"><string>&lol9;</string></ParameterNames></cwmp:GetParameterValues>').replace(/^<\?xml[^>]*>/, '')}`, fault(9003)]);
  cases.push(['external entity', `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>${acsEnv(acs, '<cwmp:GetParameterNames><ParameterPath>&xxe;</ParameterPath><NextLevel>true</NextLevel></cwmp:GetParameterNames>').replace(/^<\?xml[^>]*>/, '')}`,
    (m) => { fault(9003)(m); assert.doesNotMatch(m.raw, /root:/); }]);
  cases.push(['undeclared entity', acsEnv(acs, '<cwmp:GetParameterNames><ParameterPath>&nope;</ParameterPath><NextLevel>true</NextLevel></cwmp:GetParameterNames>'), fault(9003)]);
  cases.push(['unknown RPC', acsEnv(acs, '<cwmp:X_EVIL_Shell><Cmd>rm -rf /</Cmd></cwmp:X_EVIL_Shell>'), fault(9000)]);
  cases.push(['empty body element', acsEnv(acs, ''), fault(9003)]);
  cases.push(['SPV with one wrong value applies nothing', acsEnv(acs, spvBody('-5')), fault(9003)]);
  cases.push(['SPV with a value of the wrong xsi:type', acsEnv(acs, spvBody('true').replace('xsd:unsignedInt', 'xsd:boolean')), fault(9003)]);
  cases.push(['SPV array of non-structs', acsEnv(acs, '<cwmp:SetParameterValues><ParameterList><ParameterValueStruct>x</ParameterValueStruct></ParameterList><ParameterKey>k</ParameterKey></cwmp:SetParameterValues>'), fault(9003)]);
  cases.push(['SPV name of 10 kB', acsEnv(acs, `<cwmp:SetParameterValues>${pvs([[`Device.${'A'.repeat(10000)}`, '1', 'string']])}<ParameterKey>k</ParameterKey></cwmp:SetParameterValues>`), fault(9003)]);
  cases.push(['GPV of the whole tree 2000 times', acsEnv(acs, `<cwmp:GetParameterValues>${names(Array(2000).fill('Device.'))}</cwmp:GetParameterValues>`), fault(9004)]);
  cases.push(['deep nesting', acsEnv(acs, `<cwmp:GetRPCMethods>${'<a>'.repeat(20000)}${'</a>'.repeat(20000)}</cwmp:GetRPCMethods>`), (m) => assert.equal(m.method, 'GetRPCMethodsResponse')]);
  // TR-069 Amd 6 §3.5: a request for an RPC method the CPE does not support gets "Method not supported", 9000
  // from a CPE (8000 is the ACS's code, A.5.2). A method in a cwmp namespace this CPE does not speak (§3.7.4
  // version negotiation: 1-0, 1-1, 1-2) is such a method: never executed.
  const foreign = (body: string) => acsEnv(acs, body).replace('urn:dslforum-org:cwmp-1-2', 'urn:dslforum-org:cwmp-9-9');
  cases.push(['SPV in an unknown cwmp namespace', foreign(spvBody('60')), fault(9000)]);
  cases.push(['GPV in an unknown cwmp namespace', foreign(`<cwmp:GetParameterValues>${names(['Device.DeviceInfo.ProvisioningCode'])}</cwmp:GetParameterValues>`), fault(9000)]);
  // §3.5 SOAP header ID: the response echoes the request's ID. Two IDs name no one request: the request is
  // invalid (9003, not executed), and the fault echoes the ID only where both copies agree.
  cases.push(['two different cwmp:ID headers', acs.envelope(spvBody('60'), 'id-a', '<cwmp:ID soap-env:mustUnderstand="1">id-b</cwmp:ID>'),
    (m) => { fault(9003)(m); assert.equal(m.id, undefined, 'no cwmp:ID in the answer'); assert.doesNotMatch(m.raw, /<cwmp:ID/); }]);
  cases.push(['two equal cwmp:ID headers', acs.envelope(spvBody('60'), 'id-c', '<cwmp:ID soap-env:mustUnderstand="1">id-c</cwmp:ID>'),
    (m) => { fault(9003)(m); assert.equal(m.id, 'id-c'); }]);
  cases.push(['still serving afterwards', acsEnv(acs, `<cwmp:GetParameterValues>${names(['Device.DeviceInfo.ProvisioningCode'])}</cwmp:GetParameterValues>`),
    (m) => assert.equal(m.method, 'GetParameterValuesResponse')]);
  const results: CpeMsg[] = [];
  acs.onSession(async (s) => { for (const [, body] of cases) results.push(await s.callRaw(body)); });
  const done = acs.nextSession();
  const agent = await startAgent(acs, { config: { maxMessageBytes: 1024 * 1024 } });
  t.after(() => agent.stop());
  await done;
  for (const [i, [name, , check]] of cases.entries()) {
    try { check(results[i]); } catch (e) { throw new Error(`${name}: ${(e as Error).message}`); }
  }
  assert.equal(agent.dm.getValue('Device.DeviceInfo.ProvisioningCode'), '', 'no half-applied set');
  assert.equal(agent.dm.getValue('Device.ManagementServer.ParameterKey'), '');
  acs.validateAll();

  // A body larger than maxMessageBytes closes the session; the agent lives on and the retry succeeds.
  await agent.client.idle();
  agent.dm.set({ 'Device.ManagementServer.CWMPRetryMinimumWaitInterval': '1', 'Device.ManagementServer.CWMPRetryIntervalMultiplier': '1000' }, 'system');
  acs.onSession(async (s) => { await s.callRaw(acsEnv(acs, `<cwmp:GetRPCMethods><X>${'x'.repeat(2 * 1024 * 1024)}</X></cwmp:GetRPCMethods>`)); });
  const failed = agent.client.nextSessionEnd();
  agent.client.requestSession('6 CONNECTION REQUEST', true);
  await failed;
  assert.match((agent.client.lastSession as { error: string }).error, /exceeds 1048576 bytes/, JSON.stringify(agent.client.lastSession));
  const retry = acs.nextSession();
  const r = await retry;
  assert.equal(text(r.inform.body.RetryCount), '1');
});
