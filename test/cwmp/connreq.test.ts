// Acceptance 3: the connection request server (TR-069 §3.2.2) against curl as the ACS-side client:
// Digest works and a session with "6 CONNECTION REQUEST" follows, wrong credentials get 401, a flood is
// rate limited (503) and does not turn into a flood of sessions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ScriptedAcs, arr, text } from './acs.ts';
import { CR_PASS, CR_USER, startAgent } from './harness.ts';

const run = promisify(execFile);

/** curl --digest; prints the final HTTP status. */
async function curl(url: string, user: string, pass: string): Promise<number> {
  const { stdout } = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--digest', '-u', `${user}:${pass}`, url]);
  return Number(stdout);
}

test('connection request: Digest, 401 on wrong credentials, rate limit, session follows', async (t) => {
  const acs = await new ScriptedAcs().start();
  t.after(() => acs.stop());
  const boot = acs.nextSession();
  const agent = await startAgent(acs, { config: { connectionRequest: { rateLimit: { max: 3, windowSeconds: 60 } } } });
  t.after(() => agent.stop());
  await boot;
  const url = agent.dm.getValue('Device.ManagementServer.ConnectionRequestURL');
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/cwmp-cr$/);
  assert.equal(url, agent.client.connectionRequestUrl);

  // A plain GET without credentials is challenged with Digest.
  const { stdout: hdrs } = await run('curl', ['-s', '-D', '-', '-o', '/dev/null', url]);
  assert.match(hdrs, /^HTTP\/1\.1 401/);
  assert.match(hdrs, /WWW-Authenticate: Digest realm="twinstack-cwmp", qop="auth"/i);

  assert.equal(await curl(url, CR_USER, 'wrong'), 401);
  assert.equal(await curl(url, 'nobody', CR_PASS), 401);

  const next = acs.nextSession();
  assert.equal(await curl(url, CR_USER, CR_PASS), 200);
  const s = await next;
  assert.deepEqual(arr(s.inform.body.Event.EventStruct).map((e: any) => text(e.EventCode)), ['6 CONNECTION REQUEST']);

  // Flood: 12 authenticated requests at once; at most 2 more are accepted (3 per window), the rest get 503.
  const sessionsBefore = acs.sessions.length;
  const codes = await Promise.all(Array.from({ length: 12 }, () => curl(url, CR_USER, CR_PASS)));
  assert.equal(codes.filter((c) => c === 200).length, 2, `codes ${codes}`);
  assert.equal(codes.filter((c) => c === 503).length, 10, `codes ${codes}`);
  await new Promise((r) => setTimeout(r, 300));
  await agent.client.idle();
  assert.ok(acs.sessions.length - sessionsBefore <= 2, `${acs.sessions.length - sessionsBefore} sessions after the flood`);
  acs.validateAll();
});
