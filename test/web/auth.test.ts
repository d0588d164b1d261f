// Login, sessions, CSRF, lockout and secrecy of the web API, through fastify inject (issue 8, acceptance 2).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cookieValue, hashPassword, Lockout, verifyPassword } from '../../src/web/auth.ts';
import { ensurePassword, webPlugin } from '../../src/web/index.ts';
import { DataModel, PluginHost } from '../../src/datamodel/index.ts';
import { memoryLogger, PASSWORD, setup } from './fixture.ts';

test('scrypt hashes verify only the right password, and malformed hashes never match', async () => {
  const h = await hashPassword('s3cret-pass');
  assert.match(h, /^\$scrypt\$ln=15,r=8,p=1\$[\w-]{22}\$[\w-]{43}$/);
  const cases: [string, string, boolean][] = [
    ['s3cret-pass', h, true],
    ['s3cret-pasS', h, false],
    ['', h, false],
    ['s3cret-pass', '', false],
    ['s3cret-pass', '$scrypt$ln=40,r=8,p=1$AAAA$AAAA', false],
    ['s3cret-pass', 's3cret-pass', false],
  ];
  for (const [pw, stored, want] of cases) assert.equal(await verifyPassword(pw, stored), want, `${pw} vs ${stored}`);
  assert.notEqual(await hashPassword('s3cret-pass'), h, 'a fresh salt every time');
});

test('lockout keys: IPv4 by address, IPv6 by /64', () => {
  const cases: [string, string][] = [
    ['192.0.2.7', '192.0.2.7'],
    ['::ffff:192.0.2.7', '192.0.2.7'],
    ['2001:db8:1:2:aaaa::1', '2001:db8:1:2::/64'],
    ['2001:db8:1:2::ffff', '2001:db8:1:2::/64'],
    ['::1', '0:0:0:0::/64'],
  ];
  for (const [addr, key] of cases) assert.equal(Lockout.key(addr), key, addr);
});

test('cookie parsing', () => {
  const cases: [string | undefined, string | undefined][] = [
    ['twinstack_session=abc', 'abc'],
    ['a=1; twinstack_session=x-y_z; b=2', 'x-y_z'],
    ['other=1', undefined],
    [undefined, undefined],
  ];
  for (const [header, want] of cases) assert.equal(cookieValue(header, 'twinstack_session'), want);
});

test('no access without login: every API route answers 401', async (t) => {
  const f = await setup();
  t.after(() => f.close());
  const routes: [string, string, unknown?][] = [
    ['GET', '/api/session'],
    ['GET', '/api/tree?path=Device.'],
    ['GET', '/api/object?path=Device.DSLite.'],
    ['GET', '/api/search?q=DSLite'],
    ['GET', '/api/status'],
    ['GET', '/api/events'],
    ['PUT', '/api/values', { values: { 'Device.DSLite.Enable': 'true' } }],
    ['POST', '/api/instances', { table: 'Device.NAT.InterfaceSetting.' }],
    ['DELETE', '/api/instances?path=Device.NAT.InterfaceSetting.1.'],
    ['PUT', '/api/attributes', { path: 'Device.DSLite.Enable', notification: 2 }],
    ['PUT', '/api/password', { current: PASSWORD, password: 'another-password' }],
    ['POST', '/api/logout', {}],
  ];
  for (const cookie of [undefined, 'twinstack_session=forged-session-id']) {
    for (const [method, url, payload] of routes) {
      const r = await f.app.inject({ method: method as 'GET', url, payload: payload as object, headers: cookie ? { cookie } : {} });
      assert.equal(r.statusCode, 401, `${method} ${url} ${cookie ?? ''}`);
      assert.equal(r.json().error.kind, 'LoginRequired');
    }
  }
  assert.equal(f.dm.getValue('Device.DSLite.Enable'), 'false', 'nothing changed');
  // The page itself and its assets load without login (they hold no data).
  for (const url of ['/', '/static/app.js', '/static/app.css']) assert.equal((await f.app.inject(url)).statusCode, 200, url);
});

test('login sets an HttpOnly SameSite session cookie; logout and idle timeout end the session', async (t) => {
  const f = await setup({ sessionTimeout: 600 });
  t.after(() => f.close());
  const r = await f.app.inject({ method: 'POST', url: '/api/login', payload: { password: PASSWORD } });
  assert.equal(r.statusCode, 200);
  assert.match(String(r.headers['set-cookie']), /^twinstack_session=[\w-]{43}; Path=\/; HttpOnly; SameSite=Strict$/);
  const s = await f.login();
  const get = () => f.app.inject({ url: '/api/session', headers: { cookie: s.cookie } });
  assert.equal((await get()).statusCode, 200);
  assert.equal((await get()).json().csrfToken, s.csrf);
  f.advance(599_000);
  assert.equal((await get()).statusCode, 200, 'activity keeps the session');
  f.advance(601_000);
  assert.equal((await get()).statusCode, 401, 'idle beyond sessionTimeout');

  const s2 = await f.login();
  const out = await f.app.inject({ method: 'POST', url: '/api/logout', headers: { cookie: s2.cookie, 'x-csrf-token': s2.csrf } });
  assert.equal(out.statusCode, 200);
  assert.match(String(out.headers['set-cookie']), /Max-Age=0/);
  assert.equal((await f.app.inject({ url: '/api/status', headers: { cookie: s2.cookie } })).statusCode, 401);
});

test('CSRF: every change needs the session token and the same origin', async (t) => {
  const f = await setup();
  t.after(() => f.close());
  f.dm.add('Device.NAT.InterfaceSetting.', 'system');
  const s = await f.login();
  const changes: [string, string, unknown][] = [
    ['PUT', '/api/values', { values: { 'Device.DSLite.Enable': 'true' } }],
    ['POST', '/api/instances', { table: 'Device.NAT.InterfaceSetting.' }],
    ['DELETE', '/api/instances?path=Device.NAT.InterfaceSetting.1.', undefined],
    ['PUT', '/api/attributes', { path: 'Device.DSLite.Enable', notification: 2 }],
    ['PUT', '/api/password', { current: PASSWORD, password: 'another-password' }],
    ['POST', '/api/logout', {}],
  ];
  const bad: [string, Record<string, string>, number, string][] = [
    ['no token', {}, 403, 'CsrfTokenInvalid'],
    ['wrong token', { 'x-csrf-token': 'x'.repeat(43) }, 403, 'CsrfTokenInvalid'],
    ['another session\'s token', { 'x-csrf-token': (await f.login()).csrf }, 403, 'CsrfTokenInvalid'],
    ['cross-origin', { 'x-csrf-token': s.csrf, origin: 'http://evil.example' }, 403, 'CrossOrigin'],
    ['cross-site fetch', { 'x-csrf-token': s.csrf, 'sec-fetch-site': 'cross-site' }, 403, 'CrossOrigin'],
  ];
  for (const [what, headers, status, kind] of bad) {
    for (const [method, url, payload] of changes) {
      const r = await f.app.inject({ method: method as 'PUT', url, payload: payload as object, headers: { cookie: s.cookie, ...headers } });
      assert.equal(r.statusCode, status, `${what}: ${method} ${url}`);
      assert.equal(r.json().error.kind, kind, `${what}: ${method} ${url}`);
    }
  }
  assert.equal(f.dm.getValue('Device.DSLite.Enable'), 'false');
  assert.deepEqual(f.dm.instances('Device.NAT.InterfaceSetting.'), ['Device.NAT.InterfaceSetting.1.']);
  assert.equal(f.dm.getAttributes('Device.DSLite.Enable')[0].notification, 0);
  // A cross-site login attempt and a form-encoded (non-JSON) login are refused too.
  const xLogin = await f.app.inject({ method: 'POST', url: '/api/login', payload: { password: PASSWORD }, headers: { origin: 'http://evil.example' } });
  assert.equal(xLogin.statusCode, 403);
  const formLogin = await f.app.inject({ method: 'POST', url: '/api/login', payload: `password=${PASSWORD}`, headers: { 'content-type': 'text/plain' } });
  assert.equal(formLogin.statusCode, 415);
  // With the token and the same origin the change goes through.
  const ok = await f.app.inject({ method: 'PUT', url: '/api/values', payload: { values: { 'Device.DSLite.Enable': 'true' } },
    headers: { cookie: s.cookie, 'x-csrf-token': s.csrf, origin: 'http://gw.lan:8080', host: 'gw.lan:8080' } });
  assert.equal(ok.statusCode, 200);
  assert.equal(f.dm.getValue('Device.DSLite.Enable'), 'true');
});

test('lockout after repeated failures, per client, lifted after lockoutTime', async (t) => {
  const f = await setup({ lockoutAttempts: 3, lockoutTime: 60 });
  t.after(() => f.close());
  const steps: [string, string, number][] = [
    ['wrong-1', '192.0.2.10', 401],
    ['wrong-2', '192.0.2.10', 401],
    ['wrong-3', '192.0.2.10', 401],
    [PASSWORD, '192.0.2.10', 429], // locked: even the right password is refused
    [PASSWORD, '192.0.2.11', 200], // another client is not locked
    ['wrong-1', '2001:db8::1', 401],
    ['wrong-2', '2001:db8::2', 401],
    ['wrong-3', '2001:db8::3', 401],
    [PASSWORD, '2001:db8::4', 429], // the same /64
    [PASSWORD, '2001:db8:0:1::4', 200],
  ];
  for (const [pw, addr, status] of steps) {
    const r = await f.login(pw, addr);
    assert.equal(r.status, status, `${pw} from ${addr}`);
    if (status === 429) {
      assert.equal(r.body.error.kind, 'LockedOut');
      assert.equal(r.cookie, '');
    }
  }
  const locked = await f.app.inject({ method: 'POST', url: '/api/login', payload: { password: PASSWORD }, remoteAddress: '192.0.2.10' });
  assert.equal(locked.headers['retry-after'], '60');
  f.advance(61_000);
  assert.equal((await f.login(PASSWORD, '192.0.2.10')).status, 200, 'lock lifted');
  // A burst of parallel guesses meets the lockout too (attempts are checked one at a time).
  const burst = await Promise.all(Array.from({ length: 6 }, (_, i) => f.login(`guess-${i}`, '198.51.100.9')));
  assert.deepEqual(burst.map((r) => r.status), [401, 401, 401, 429, 429, 429]);
  assert.ok(f.lines.some((l) => l.msg === 'web login failed' && l.client === '192.0.2.10'));
});

test('passwords and the hash are never returned by any route', async (t) => {
  const f = await setup();
  t.after(() => f.close());
  const hash = f.dm.state('web').get('passwordHash')!;
  assert.match(hash, /^\$scrypt\$/);
  const s = await f.login();
  const h = { cookie: s.cookie, 'x-csrf-token': s.csrf };
  // A secured parameter written through the API reads back as "".
  const secret = 'acs-secret-value';
  const set = await f.app.inject({ method: 'PUT', url: '/api/values', headers: h, payload: { values: { 'Device.ManagementServer.Password': secret } } });
  assert.equal(set.statusCode, 200);
  assert.equal(f.dm.getSecret('Device.ManagementServer.Password'), secret);
  const reads = [
    '/api/session', '/api/status', '/api/tree?path=Device.', '/api/object?path=Device.ManagementServer.',
    `/api/search?q=${secret}`, `/api/search?q=${encodeURIComponent(PASSWORD)}`, '/api/search?q=scrypt', '/api/search?q=Password',
  ];
  const bodies = [set.body, s.body && JSON.stringify(s.body)];
  for (const url of reads) {
    const r = await f.app.inject({ url, headers: h });
    assert.equal(r.statusCode, 200, url);
    bodies.push(r.body);
  }
  for (const b of bodies) for (const needle of [PASSWORD, hash, hash.split('$').pop()!, secret]) assert.ok(!b.includes(needle), `leak of ${needle} in ${b.slice(0, 80)}`);
  const obj = (await f.app.inject({ url: '/api/object?path=Device.ManagementServer.', headers: h })).json();
  const pw = obj.params.find((p: { name: string }) => p.name === 'Password');
  assert.deepEqual([pw.value, pw.secured, pw.writable], ['', true, true]);
  assert.deepEqual((await f.app.inject({ url: `/api/search?q=${secret}`, headers: h })).json().hits, []);
  // Changing the password: the old one stops working, the response holds nothing.
  const wrongCurrent = await f.app.inject({ method: 'PUT', url: '/api/password', headers: h, payload: { current: 'nope-nope', password: 'new-password-1' } });
  assert.equal(wrongCurrent.statusCode, 401);
  const tooShort = await f.app.inject({ method: 'PUT', url: '/api/password', headers: h, payload: { current: PASSWORD, password: 'short' } });
  assert.equal(tooShort.statusCode, 400);
  const other = await f.login();
  const change = await f.app.inject({ method: 'PUT', url: '/api/password', headers: h, payload: { current: PASSWORD, password: 'new-password-1' } });
  assert.deepEqual([change.statusCode, change.body], [200, '{}']);
  assert.equal((await f.app.inject({ url: '/api/session', headers: { cookie: other.cookie } })).statusCode, 401, 'other sessions end');
  assert.equal((await f.app.inject({ url: '/api/session', headers: { cookie: s.cookie } })).statusCode, 200, 'this one stays');
  assert.equal((await f.login(PASSWORD)).status, 401);
  assert.equal((await f.login('new-password-1')).status, 200);
  assert.ok(!JSON.stringify(f.lines).includes('new-password-1') && !JSON.stringify(f.lines).includes(PASSWORD), 'never logged');
});

test('first start without a configured password: a random one is generated, logged once, and works', async (t) => {
  const dm = new DataModel({ file: ':memory:' });
  t.after(() => dm.close());
  const { log, lines } = memoryLogger();
  await ensurePassword(dm, log, undefined);
  const gen = lines.filter((l) => l.msg === 'web admin password generated at first start');
  assert.equal(gen.length, 1);
  const pw = gen[0].generatedPassword as string;
  assert.match(pw, /^[a-zA-Z2-9]{16}$/);
  assert.ok(await verifyPassword(pw, dm.state('web').get('passwordHash')!));
  // Second start: the stored hash wins (also over a configured initial password), nothing is logged.
  await ensurePassword(dm, log, 'configured-later');
  assert.equal(lines.filter((l) => l.msg === 'web admin password generated at first start').length, 1);
  assert.ok(await verifyPassword(pw, dm.state('web').get('passwordHash')!));
  // The plug-in listens on the configured loopback address and serves the login.
  const plugin = webPlugin({ port: 0, adminPassword: PASSWORD });
  const host = new PluginHost(dm, [plugin], log);
  await host.start();
  t.after(() => host.stop());
  assert.match(plugin.url!, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  const r = await fetch(new URL('/api/login', plugin.url), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: 'x' }) });
  assert.equal(r.status, 401);
  assert.ok(await verifyPassword(pw, dm.state('web').get('passwordHash')!), 'the configured password does not replace a stored hash');
});

test('security headers on pages, assets, API answers and errors', async (t) => {
  const f = await setup();
  t.after(() => f.close());
  for (const url of ['/', '/static/app.js', '/api/status', '/api/nothing', '/nothing']) {
    const r = await f.app.inject(url);
    const csp = String(r.headers['content-security-policy']);
    assert.match(csp, /default-src 'none'/, url);
    assert.match(csp, /script-src 'self'(;|$)/, url);
    assert.match(csp, /frame-ancestors 'none'/, url);
    assert.equal(r.headers['x-content-type-options'], 'nosniff', url);
    assert.equal(r.headers['x-frame-options'], 'DENY', url);
    assert.equal(r.headers['referrer-policy'], 'no-referrer', url);
  }
  assert.equal((await f.app.inject('/api/status')).headers['cache-control'], 'no-store');
  assert.match(String((await f.app.inject('/static/app.js')).headers['content-type']), /^text\/javascript/);
});
