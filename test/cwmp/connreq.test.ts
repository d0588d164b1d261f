// Acceptance 3: the connection request server (TR-069 Amendment 6 §3.2.2) against curl as the ACS-side
// client: Digest works and a session with "6 CONNECTION REQUEST" follows, wrong credentials get 401; the
// rate limit never gets in the way of an ACS at work (a CR during a session is accepted and gives one
// follow-up session), while a flood neither turns into a flood of sessions nor allows unbounded guessing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { authorization, type DigestState } from '../../src/cwmp/auth.ts';
import { ScriptedAcs, arr, text, type Session } from './acs.ts';
import { CR_PASS, CR_USER, startAgent } from './harness.ts';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const events = (s: Session) => arr(s.inform.body.Event.EventStruct).map((e: any) => text(e.EventCode));

/** curl --digest; prints the final HTTP status. */
async function curl(url: string, user: string, pass: string): Promise<number> {
  const { stdout } = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--digest', '-u', `${user}:${pass}`, url]);
  return Number(stdout);
}

/** curl --digest, returning the final response's status line and headers. */
async function curlHeaders(url: string, user: string, pass: string): Promise<string> {
  const { stdout } = await run('curl', ['-s', '-D', '-', '-o', '/dev/null', '--digest', '-u', `${user}:${pass}`, url]);
  return stdout.split(/\r?\n\r?\n/).filter((b) => b.trim()).at(-1)!;
}

test('connection request: Digest, 401 on wrong credentials, session follows; a flood is bounded (§3.2.2)', async (t) => {
  const acs = await new ScriptedAcs().start();
  t.after(() => acs.stop());
  const boot = acs.nextSession();
  // A bucket of 4 sessions that does not refill during the test; unauthenticated tries get 5x (20).
  const agent = await startAgent(acs, { config: { connectionRequest: { rateLimit: { max: 4, windowSeconds: 3600 } } } });
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
  assert.deepEqual(events(s), ['6 CONNECTION REQUEST']);
  await agent.client.idle();

  // Flood: 12 authenticated requests at once. The first starts a session (a token), those arriving during a
  // session are accepted and fold into one follow-up session (a token each): the flood starts at most the 3
  // sessions left in the bucket, however long it goes on.
  const sessionsBefore = acs.sessions.length;
  const codes = await Promise.all(Array.from({ length: 12 }, () => curl(url, CR_USER, CR_PASS)));
  assert.ok(codes.every((c) => c === 200 || c === 503), `codes ${codes}`);
  assert.ok(codes.includes(200), `codes ${codes}`);
  await sleep(500);
  assert.ok(acs.sessions.length - sessionsBefore <= 3, `${acs.sessions.length - sessionsBefore} sessions after the flood`);
  // The flood goes on with the bucket empty: 12 more authenticated requests (one challenge, the nonce count
  // going up) are all refused for the rate limit, and no session starts.
  const { stdout: ch } = await run('curl', ['-s', '-D', '-', '-o', '/dev/null', url]);
  const challenge = /WWW-Authenticate: (.*)\r?\n/i.exec(ch)![1];
  let state: DigestState | undefined;
  const more: number[] = [];
  for (let i = 0; i < 12; i++) {
    const a = authorization(challenge, { username: CR_USER, password: CR_PASS }, 'GET', new URL(url).pathname, state)!;
    state = a.state;
    more.push((await fetch(url, { headers: { authorization: a.header } })).status);
  }
  assert.deepEqual(more, Array(12).fill(503));
  await sleep(300);
  assert.ok(acs.sessions.length - sessionsBefore <= 3, `${acs.sessions.length - sessionsBefore} sessions after the flood`);

  assert.ok(acs.sessions.length - sessionsBefore <= 3);
  acs.validateAll();
});

test('an ACS at work: 12 connection requests in a few seconds each get 200 and their session (default limit)', async (t) => {
  // TR-069 Amd 6 §3.2.2 lets the CPE limit connection requests "to reduce the possibility of a denial of
  // service"; GenieACS sends one per task it pushes (refresh, sets, reboot, download) and takes a 503 as "device
  // offline" until the next periodic Inform: the default limit must never refuse such a pattern.
  const acs = await new ScriptedAcs().start();
  t.after(() => acs.stop());
  const boot = acs.nextSession();
  const agent = await startAgent(acs);
  t.after(() => agent.stop());
  await boot;
  await agent.client.idle();
  const url = agent.client.connectionRequestUrl;
  for (let i = 1; i <= 12; i++) {
    const next = acs.nextSession();
    assert.equal(await curl(url, CR_USER, CR_PASS), 200, `connection request ${i}`);
    assert.deepEqual(events(await next), ['6 CONNECTION REQUEST'], `session ${i}`);
    await agent.client.idle();
  }
  acs.validateAll();
});

test('a connection request during a session: 200, then exactly one follow-up session; 503 without Retry-After only when idle and out of budget', async (t) => {
  // TR-069 §3.2.2: the CPE does not end the session in progress; it answers each request and starts one session
  // after it. A refusal for the rate limit is a 503 that SHOULD NOT carry Retry-After.
  const acs = await new ScriptedAcs().start();
  t.after(() => acs.stop());
  const boot = acs.nextSession();
  const agent = await startAgent(acs, { config: { connectionRequest: { rateLimit: { max: 2, windowSeconds: 3600 } } } });
  t.after(() => agent.stop());
  await boot;
  await agent.client.idle();
  const url = agent.client.connectionRequestUrl;

  let inSession!: () => void;
  const started = new Promise<void>((r) => { inSession = r; });
  let release!: () => void;
  const held = new Promise<void>((r) => { release = r; });
  acs.onSession(async () => { inSession(); await held; });
  const first = acs.nextSession();
  assert.equal(await curl(url, CR_USER, CR_PASS), 200);
  await started;
  const during = await Promise.all(Array.from({ length: 6 }, () => curl(url, CR_USER, CR_PASS)));
  assert.deepEqual(during, [200, 200, 200, 200, 200, 200], 'never 503 while a session is in progress');
  const followUp = acs.nextSession();
  release();
  assert.deepEqual(events(await first), ['6 CONNECTION REQUEST']);
  assert.deepEqual(events(await followUp), ['6 CONNECTION REQUEST'], 'the follow-up Inform says why it came');
  await agent.client.idle();
  await sleep(300);
  assert.equal(acs.sessions.length, 3, 'boot, the requested session and one follow-up');

  // Both tokens are spent (the first request, the follow-up) and no session runs: the next request is refused.
  const refused = await curlHeaders(url, CR_USER, CR_PASS);
  assert.match(refused, /^HTTP\/1\.1 503/);
  assert.doesNotMatch(refused, /Retry-After/i);
  await sleep(300);
  await agent.client.idle();
  assert.equal(acs.sessions.length, 3);
  acs.validateAll();
});

test('guessing is bounded: past the budget of unauthenticated tries every request gets 503, the right password too', async (t) => {
  // §3.2.2 lets the CPE restrict the requests it accepts; a budget that only turned wrong answers into 503
  // would still tell the right password apart (200), an oracle at full speed.
  const acs = await new ScriptedAcs().start();
  t.after(() => acs.stop());
  const boot = acs.nextSession();
  // 10 sessions, 50 unauthenticated tries; nothing refills during the test.
  const agent = await startAgent(acs, { config: { connectionRequest: { rateLimit: { max: 10, windowSeconds: 3600 } } } });
  t.after(() => agent.stop());
  await boot;
  await agent.client.idle();
  const url = agent.client.connectionRequestUrl;
  const path = new URL(url).pathname;
  const { stdout: ch } = await run('curl', ['-s', '-D', '-', '-o', '/dev/null', url]);
  const challenge = /WWW-Authenticate: (.*)\r?\n/i.exec(ch)![1];
  const guesses: number[] = [];
  for (let i = 0; i < 60; i++) {
    const header = authorization(challenge, { username: CR_USER, password: `guess-${i}` }, 'GET', path)!.header;
    guesses.push((await fetch(url, { headers: { authorization: header } })).status);
  }
  // The challenge took one try: 49 wrong answers are told so, the rest get 503.
  assert.deepEqual(guesses, [...Array(49).fill(401), ...Array(11).fill(503)]);
  const right = authorization(challenge, { username: CR_USER, password: CR_PASS }, 'GET', path)!.header;
  assert.equal((await fetch(url, { headers: { authorization: right } })).status, 503, 'no oracle for the right password');
  await sleep(300);
  assert.equal(acs.sessions.length, 1, 'no session from any of it');
  acs.validateAll();
});
