// The data routes of the web JSON API through fastify inject: browse, search, edit with validation
// errors, add/delete instances, attributes, failover status, and the live event stream.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { get } from 'node:http';
import { connect } from 'node:net';
import { DmError } from '../../src/datamodel/index.ts';
import { HTTP_STATUS } from '../../src/web/errors.ts';
import { plainDescription } from '../../src/web/view.ts';
import { setup } from './fixture.ts';

async function loggedIn(t: { after(fn: () => unknown): void }) {
  const f = await setup();
  t.after(() => f.close());
  const s = await f.login();
  const headers = { cookie: s.cookie, 'x-csrf-token': s.csrf };
  const req = async (method: string, url: string, payload?: object) => {
    const r = await f.app.inject({ method: method as 'GET', url, payload, headers });
    return { status: r.statusCode, body: r.json() };
  };
  return { ...f, s, headers, req };
}

test('tree: one level at a time, tables list their instances with aliases', async (t) => {
  const f = await loggedIn(t);
  f.dm.add('Device.DSLite.InterfaceSetting.', 'system');
  const cases: [string, [string, string, boolean, string?][]][] = [
    ['Device.DSLite.', [['InterfaceSetting', 'table', false]]],
    ['Device.DSLite.InterfaceSetting.', [['1', 'instance', false, 'cpe-1']]],
    ['Device.NAT.InterfaceSetting.', []],
  ];
  for (const [path, want] of cases) {
    const r = await f.req('GET', `/api/tree?path=${encodeURIComponent(path)}`);
    assert.equal(r.status, 200, path);
    assert.deepEqual(r.body.children.map((c: Record<string, unknown>) => [c.name, c.kind, c.writable, ...(c.alias ? [c.alias] : [])]), want, path);
  }
  const root = await f.req('GET', '/api/tree?path=Device.');
  const names = root.body.children.map((c: { name: string }) => c.name);
  for (const n of ['DSLite', 'NAT', 'X_TWINSTACK-ORG_Failover']) assert.ok(names.includes(n), n);
  const bad: [string, number, string][] = [
    ['Device.Nope.', 404, 'InvalidPath'],
    ['Device.DSLite.Enable', 400, 'InvalidArgument'],
    ['Device.DSLite.InterfaceSetting.*.', 400, 'InvalidArgument'],
  ];
  for (const [path, status, kind] of bad) {
    const r = await f.req('GET', `/api/tree?path=${encodeURIComponent(path)}`);
    assert.deepEqual([r.status, r.body.error.kind], [status, kind], path);
  }
});

test('object: parameter details (type, access, description, notification, last change)', async (t) => {
  const f = await loggedIn(t);
  f.dm.add('Device.DSLite.InterfaceSetting.', 'system');
  f.dm.set({ 'Device.DSLite.InterfaceSetting.1.Status': 'Enabled' }, 'system');
  f.dm.setAttributes([{ path: 'Device.DSLite.InterfaceSetting.1.Status', notification: 2 }]);
  const r = await f.req('GET', '/api/object?path=Device.DSLite.InterfaceSetting.1.');
  assert.equal(r.status, 200);
  assert.deepEqual([r.body.kind, r.body.writable], ['instance', false]);
  const by = new Map(r.body.params.map((p: { name: string }) => [p.name, p]));
  const want: [string, Record<string, unknown>][] = [
    ['Status', { value: 'Enabled', type: 'string', access: 'readOnly', writable: false, notification: 2, enums: ['Disabled', 'Enabled', 'Error'] }],
    ['EndpointAddress', { value: '', type: 'string', dataType: 'IPv6Address', access: 'readWrite', writable: true, notification: 0, maxLength: 45 }],
    ['Enable', { value: 'false', type: 'boolean', writable: true }],
  ];
  for (const [name, fields] of want) {
    const p = by.get(name) as Record<string, unknown>;
    for (const [k, v] of Object.entries(fields)) assert.deepEqual(p[k], v, `${name}.${k}`);
  }
  const status = by.get('Status') as { lastChange: string; description: string };
  assert.match(status.lastChange, /^\d{4}-\d\d-\d\dT/);
  assert.ok(!status.description.includes('{{'), status.description);
  const table = await f.req('GET', '/api/object?path=Device.NAT.InterfaceSetting.');
  assert.deepEqual([table.body.kind, table.body.writable, table.body.params], ['table', true, []]);
  const counter = (await f.req('GET', '/api/object?path=Device.DSLite.')).body.params.find((p: { name: string }) => p.name === 'InterfaceSettingNumberOfEntries');
  assert.deepEqual([counter.value, counter.writable], ['1', false]);
});

test('description templates become plain text', () => {
  const cases: [string | undefined, string][] = [
    [undefined, ''],
    ['See {{param|EndpointName}} and {{enum|Static|EndpointAssignmentPrecedence}}.', 'See EndpointName and Static.'],
    ['It is {{empty}} if unknown. {{bibref|RFC6333|Section 5.7}}', 'It is an empty string if unknown. [RFC6333 Section 5.7]'],
    ["{{datatype|expand}}", ''],
    ["Based on ''OPTION_DS_LITE_NAME'' of {{object}}.", 'Based on OPTION_DS_LITE_NAME of this object.'],
    ['{{list|each entry is {{param|Name}}}}', 'Comma-separated list, each entry is Name.'],
  ];
  for (const [input, want] of cases) assert.equal(plainDescription(input), want, String(input));
});

test('search by path, name or value, limited', async (t) => {
  const f = await loggedIn(t);
  f.dm.add('Device.DSLite.InterfaceSetting.', 'system', { EndpointName: 'aftr.example.net' });
  const cases: [string, string[]][] = [
    ['aftr.example', ['Device.DSLite.InterfaceSetting.1.EndpointName=value']],
    ['endpointaddressinuse', ['Device.DSLite.InterfaceSetting.1.EndpointAddressInUse=path']],
    ['Simulation.Active', ['Device.X_TWINSTACK-ORG_Failover.Simulation.Active=path']],
    ['no-such-thing-anywhere', []],
  ];
  for (const [q, want] of cases) {
    const r = await f.req('GET', `/api/search?q=${encodeURIComponent(q)}`);
    assert.deepEqual(r.body.hits.map((h: { path: string; match: string }) => `${h.path}=${h.match}`), want, q);
  }
  const limited = await f.req('GET', '/api/search?q=Device.&limit=3');
  assert.deepEqual([limited.body.hits.length, limited.body.truncated], [3, true]);
  assert.equal((await f.req('GET', '/api/search?q=x&limit=0')).status, 400);
});

test('edit values: canonical value stored, every bad item named, nothing changed on error', async (t) => {
  const f = await loggedIn(t);
  f.dm.add('Device.DSLite.InterfaceSetting.', 'system');
  const p = 'Device.DSLite.InterfaceSetting.1.';
  const ok = await f.req('PUT', '/api/values', { values: { [`${p}EndpointAddress`]: '2001:DB8:0:0::1', [`${p}Enable`]: '1' } });
  assert.equal(ok.status, 200);
  assert.deepEqual(ok.body.changes.map((c: { path: string; value: string }) => [c.path, c.value]).sort(),
    [[`${p}Enable`, 'true'], [`${p}EndpointAddress`, '2001:db8::1']]);
  assert.equal(f.dm.lastChange(`${p}EndpointAddress`) !== undefined, true);
  const bad: [Record<string, string>, number, string, [string, string][]][] = [
    [{ [`${p}EndpointAddress`]: 'not-an-address' }, 422, 'InvalidValue', [[`${p}EndpointAddress`, 'InvalidValue']]],
    [{ [`${p}Status`]: 'Enabled' }, 422, 'NotWritable', [[`${p}Status`, 'NotWritable']]],
    [{ [`${p}Enable`]: 'false', [`${p}EndpointAddress`]: 'zz', [`${p}EndpointAssignmentPrecedence`]: 'Magic' }, 422, 'InvalidValue',
      [[`${p}EndpointAddress`, 'InvalidValue'], [`${p}EndpointAssignmentPrecedence`, 'InvalidValue']]],
    [{ 'Device.DSLite.InterfaceSetting.9.Enable': 'true' }, 404, 'InvalidPath', [['Device.DSLite.InterfaceSetting.9.Enable', 'InvalidPath']]],
  ];
  for (const [values, status, kind, details] of bad) {
    const r = await f.req('PUT', '/api/values', { values });
    assert.equal(r.status, status, JSON.stringify(values));
    assert.equal(r.body.error.kind, kind);
    assert.deepEqual(r.body.error.details.map((d: { path: string; kind: string }) => [d.path, d.kind]), details);
    assert.ok(r.body.error.details.every((d: { message: string }) => d.message.length > 0));
  }
  assert.equal(f.dm.getValue(`${p}Enable`), 'true', 'the batch with a bad item changed nothing');
  assert.equal(f.dm.getValue(`${p}EndpointAddress`), '2001:db8::1');
  for (const body of [{}, { values: {} }, { values: { x: { a: 1 } } }, { values: { [`${p}Enable`]: 'true' }, extra: 1 }])
    assert.equal((await f.req('PUT', '/api/values', body)).status, 400, JSON.stringify(body));
});

test('add and delete instances where the table allows it', async (t) => {
  const f = await loggedIn(t);
  f.dm.add('Device.DSLite.InterfaceSetting.', 'system');
  const a = await f.req('POST', '/api/instances', { table: 'Device.NAT.InterfaceSetting.' });
  const b = await f.req('POST', '/api/instances', { table: 'Device.NAT.InterfaceSetting.', values: { Interface: 'Device.IP.Interface.1' } });
  assert.deepEqual([a.status, a.body], [201, { path: 'Device.NAT.InterfaceSetting.1.', instance: 1 }]);
  assert.deepEqual([b.status, b.body.instance], [201, 2]);
  assert.equal(f.dm.getValue('Device.NAT.InterfaceSetting.2.Interface'), 'Device.IP.Interface.1');
  const del = await f.req('DELETE', '/api/instances?path=Device.NAT.InterfaceSetting.1.');
  assert.deepEqual([del.status, del.body], [200, { deleted: ['Device.NAT.InterfaceSetting.1.'] }]);
  assert.deepEqual(f.dm.instances('Device.NAT.InterfaceSetting.'), ['Device.NAT.InterfaceSetting.2.']);
  const again = await f.req('POST', '/api/instances', { table: 'Device.NAT.InterfaceSetting.' });
  assert.equal(again.body.instance, 3, 'instance numbers are never reused');
  const refused: [string, string, object | undefined, number, string][] = [
    ['POST', '/api/instances', { table: 'Device.DSLite.InterfaceSetting.' }, 422, 'NotCreatable'],
    ['DELETE', '/api/instances?path=Device.DSLite.InterfaceSetting.1.', undefined, 422, 'NotCreatable'],
    ['POST', '/api/instances', { table: 'Device.DSLite.' }, 422, 'NotCreatable'],
    ['DELETE', '/api/instances?path=Device.NAT.InterfaceSetting.1.', undefined, 404, 'InvalidPath'],
  ];
  for (const [method, url, body, status, kind] of refused) {
    const r = await f.req(method, url, body);
    assert.deepEqual([r.status, r.body.error.kind], [status, kind], `${method} ${url}`);
  }
  assert.deepEqual(f.dm.instances('Device.DSLite.InterfaceSetting.'), ['Device.DSLite.InterfaceSetting.1.']);
});

test('notification attribute: set through the API, out-of-range values refused', async (t) => {
  const f = await loggedIn(t);
  const ok = await f.req('PUT', '/api/attributes', { path: 'Device.DSLite.Enable', notification: 1 });
  assert.equal(ok.status, 200);
  assert.equal(f.dm.getAttributes('Device.DSLite.Enable')[0].notification, 1);
  assert.equal((await f.req('PUT', '/api/attributes', { path: 'Device.DSLite.Enable', notification: 3 })).status, 400);
});

test('error kinds map to HTTP statuses in one table', () => {
  const cases: [keyof typeof HTTP_STATUS, number][] = [
    ['InvalidPath', 404], ['InvalidValue', 422], ['NotWritable', 422], ['NotCreatable', 422], ['UniqueKeyConflict', 409],
    ['ResourcesExceeded', 409], ['InvalidArgument', 400], ['PermissionDenied', 403], ['NotSupported', 501], ['Internal', 500],
  ];
  for (const [kind, status] of cases) assert.equal(HTTP_STATUS[kind], status, kind);
});

test('status: mode, AFTR, public IPv4, detectors, counters and history (oldest first)', async (t) => {
  const f = await loggedIn(t);
  const F = 'Device.X_TWINSTACK-ORG_Failover.';
  assert.equal((await f.req('GET', '/api/status')).body.backupAFTRSince, '0001-01-01T00:00:00Z', 'on the primary: the Unknown Time');
  f.dm.set({ [`${F}BackupAFTRSince`]: '2026-01-01T09:00:00Z' }, 'system');
  assert.equal((await f.req('GET', '/api/status')).body.backupAFTRSince, '2026-01-01T09:00:00Z');
  f.dm.set({ [`${F}Mode`]: 'DualStack', [`${F}PublicIPv4Address`]: '203.0.113.7', [`${F}SwitchCount`]: '2', [`${F}Simulation.Active`]: 'true', [`${F}Simulation.AFTRState`]: 'Down' }, 'system');
  f.dm.add(`${F}Detector.`, 'system', { Name: 'Silence', State: 'Failed', LastReason: 'no packet for 3000 ms' });
  f.dm.add(`${F}History.`, 'system', { Time: '2026-01-01T10:05:00Z', From: 'DSLite', To: 'DualStack', Reason: 'Silence', AFTR: '2001:db8::1', OutageMs: '3200' });
  f.dm.add(`${F}History.`, 'system', { Time: '2026-01-01T10:00:00Z', From: 'None', To: 'DSLite', Reason: 'boot', AFTR: '2001:db8::1', OutageMs: '0' });
  const r = await f.req('GET', '/api/status');
  assert.equal(r.status, 200);
  const s = r.body;
  assert.deepEqual([s.mode, s.publicIPv4Address, s.switchCount, s.simulation], ['DualStack', '203.0.113.7', '2', { active: true, aftrState: 'Down' }]);
  assert.deepEqual(s.detectors.map((d: Record<string, string>) => [d.name, d.state, d.lastReason]), [['Silence', 'Failed', 'no packet for 3000 ms']]);
  assert.deepEqual(s.history.map((h: Record<string, unknown>) => [h.time, h.from, h.to, h.outageMs]),
    [['2026-01-01T10:00:00Z', 'None', 'DSLite', 0], ['2026-01-01T10:05:00Z', 'DSLite', 'DualStack', 3200]]);
  // The simulation buttons are plain sets through the data model, origin 'web'.
  const origins: string[] = [];
  f.dm.onChange((ev) => origins.push(ev.origin));
  assert.equal((await f.req('PUT', '/api/values', { values: { [`${F}Simulation.AFTRState`]: 'Up' } })).status, 200);
  assert.deepEqual(origins, ['web']);
});

test('status: the lw4o6 binding and its triggers (newest last)', async (t) => {
  const f = await loggedIn(t);
  const LW = 'Device.X_TWINSTACK-ORG_Failover.LW4o6.';
  assert.deepEqual((await f.req('GET', '/api/status')).body.lw4o6, { status: 'Disabled', ipv4Address: '', portRanges: '', portCount: '0', br: '', policyErrors: '0', triggers: [] });
  f.dm.set({ 'Device.X_TWINSTACK-ORG_Failover.Mode': 'LW4o6', [`${LW}Status`]: 'Bound', [`${LW}IPv4Address`]: '192.0.2.3', [`${LW}PortRanges`]: '1040-1055,2064-2079', [`${LW}PortCount`]: '1008', [`${LW}BRAddress`]: '2001:db8:ffff::1', [`${LW}PolicyErrors`]: '1' }, 'system');
  f.dm.add(`${LW}Trigger.`, 'system', { Time: '2026-01-01T10:00:00Z', Source: '2001:db8:ffff::1', Action: 'Reprovisioned', OldBinding: '192.0.2.3 1/6', NewBinding: '192.0.2.4 2/6', DurationMs: '40' });
  f.dm.add(`${LW}Trigger.`, 'system', { Time: '2026-01-01T10:00:01Z', Source: '2001:db8:ffff::1', Action: 'Unchanged', OldBinding: '192.0.2.4 2/6', NewBinding: '192.0.2.4 2/6', DurationMs: '30' });
  const s = (await f.req('GET', '/api/status')).body;
  assert.equal(s.mode, 'LW4o6');
  assert.deepEqual(s.lw4o6, {
    status: 'Bound', ipv4Address: '192.0.2.3', portRanges: '1040-1055,2064-2079', portCount: '1008', br: '2001:db8:ffff::1', policyErrors: '1',
    triggers: [
      { time: '2026-01-01T10:00:00Z', action: 'Reprovisioned', oldBinding: '192.0.2.3 1/6', newBinding: '192.0.2.4 2/6' },
      { time: '2026-01-01T10:00:01Z', action: 'Unchanged', oldBinding: '192.0.2.4 2/6', newBinding: '192.0.2.4 2/6' },
    ],
  });
});

test('live events: change events stream over SSE, secured values blanked, stream ends at logout', async (t) => {
  const f = await loggedIn(t);
  await f.app.listen({ host: '127.0.0.1', port: 0 });
  const port = (f.app.server.address() as { port: number }).port;
  const frames: string[] = [];
  let ended = false;
  const res = await new Promise<import('node:http').IncomingMessage>((resolve, reject) =>
    get({ host: '127.0.0.1', port, path: '/api/events', headers: { cookie: f.s.cookie } }, resolve).on('error', reject));
  assert.equal(res.statusCode, 200);
  assert.match(String(res.headers['content-type']), /^text\/event-stream/);
  res.setEncoding('utf8');
  res.on('data', (d: string) => frames.push(...d.split('\n\n').filter(Boolean)));
  res.on('end', () => { ended = true; });
  const waitFor = async (pred: () => boolean) => { for (let i = 0; i < 100 && !pred(); i++) await new Promise((r) => setTimeout(r, 20)); assert.ok(pred()); };
  await waitFor(() => frames.some((x) => x.includes('event: hello')));
  f.dm.set({ 'Device.X_TWINSTACK-ORG_Failover.Mode': 'DualStack' }, 'system');
  f.dm.set({ 'Device.ManagementServer.Password': 'very-secret' }, 'cwmp');
  f.dm.add('Device.NAT.InterfaceSetting.', 'web');
  await waitFor(() => frames.filter((x) => x.startsWith('event: change')).length === 3);
  const events = frames.filter((x) => x.startsWith('event: change')).map((x) => JSON.parse(x.split('data: ')[1]));
  assert.deepEqual(events[0], { origin: 'system', changes: [{ path: 'Device.X_TWINSTACK-ORG_Failover.Mode', old: 'None', value: 'DualStack' }], added: [], deleted: [] });
  assert.deepEqual(events[1].changes, [{ path: 'Device.ManagementServer.Password', old: '', value: '' }]);
  assert.deepEqual([events[2].origin, events[2].added], ['web', ['Device.NAT.InterfaceSetting.1.']]);
  assert.ok(!frames.join('').includes('very-secret'));
  await f.app.inject({ method: 'POST', url: '/api/logout', headers: f.headers });
  await waitFor(() => ended);
  assert.ok(frames.some((x) => x.startsWith('event: expired')));
  assert.equal(f.server.hub.size, 0);
});

/** The README's section on the web page and its JSON API. */
function readmeWebSection(): string {
  const text = readFileSync('README.md', 'utf8');
  const from = text.indexOf('## The web page and its JSON API');
  return text.slice(from, text.indexOf('\n## ', from + 1));
}

test('request errors answer as the README documents: invalid JSON, forbidden names, text only, 413, 415', async (t) => {
  const f = await loggedIn(t);
  const big = `{"values": {"Device.DSLite.Enable": "${'x'.repeat(300 * 1024)}"}}`;
  const cases: [string, string, string, number, string][] = [
    ['PUT', '/api/values', '{"values": ', 400, 'InvalidJson'],
    ['PUT', '/api/values', '', 400, 'InvalidJson'],
    ['PUT', '/api/values', '{"values": {"__proto__": "x"}}', 400, 'InvalidArgument'],
    ['PUT', '/api/values', '{"values": {"Device.DSLite.Enable": "true"}, "constructor": {"prototype": {}}}', 400, 'InvalidArgument'],
    ['PUT', '/api/values', '{"values": {"Device.DSLite.Enable": true}}', 400, 'InvalidArgument'],
    ['PUT', '/api/values', '{"values": {"Device.NAT.InterfaceSetting.1.TCPTranslationTimeout": 3600}}', 400, 'InvalidArgument'],
    ['POST', '/api/instances', '{"table": "Device.NAT.InterfaceSetting.", "values": {"Enable": false}}', 400, 'InvalidArgument'],
    ['PUT', '/api/attributes', '{"path": "Device.DSLite.Enable", "notification": "2"}', 400, 'InvalidArgument'],
    ['PUT', '/api/values', big, 413, 'BodyTooLarge'],
  ];
  for (const [method, url, payload, status, kind] of cases) {
    const r = await f.app.inject({ method: method as 'PUT', url, payload, headers: { ...f.headers, 'content-type': 'application/json' } });
    const what = `${method} ${url} ${payload.slice(0, 80)}`;
    assert.deepEqual([r.statusCode, r.json().error.kind], [status, kind], what);
    assert.ok(r.json().error.message.length > 0 && Array.isArray(r.json().error.details), what);
    assert.match(String(r.headers['content-security-policy']), /default-src 'none'/, what);
  }
  const form = await f.app.inject({ method: 'PUT', url: '/api/values', payload: 'values=1', headers: { ...f.headers, 'content-type': 'application/x-www-form-urlencoded' } });
  assert.deepEqual([form.statusCode, form.json().error.kind], [415, 'UnsupportedMediaType']);
  assert.equal(f.dm.getValue('Device.DSLite.Enable'), 'false', 'nothing changed');
  // Every answer above is in the README, with the body limit.
  const doc = readmeWebSection();
  for (const [status, kind] of [...cases.map((c) => [c[3], c[4]] as const), [415, 'UnsupportedMediaType'] as const, [431, 'HeadersTooLarge'] as const])
    assert.match(doc, new RegExp(`${status}[^\\n]*\`${kind}\``), `README: ${status} ${kind}`);
  assert.match(doc, /256 KiB/);
  assert.match(doc, /`__proto__`/);
});

test('oversized headers: 431 with the JSON error shape and the security headers', async (t) => {
  const f = await loggedIn(t);
  await f.app.listen({ host: '127.0.0.1', port: 0 });
  const port = (f.app.server.address() as { port: number }).port;
  const answer = await new Promise<string>((resolve, reject) => {
    const sock = connect(port, '127.0.0.1', () => sock.write(`GET /api/session HTTP/1.1\r\nhost: 127.0.0.1\r\nx-big: ${'a'.repeat(20 * 1024)}\r\n\r\n`));
    let data = '';
    sock.setEncoding('utf8');
    sock.on('data', (d) => { data += d; });
    sock.on('end', () => resolve(data));
    sock.on('error', reject);
  });
  const [head, body] = answer.split('\r\n\r\n');
  const [statusLine, ...lines] = head.split('\r\n');
  const headers = new Map(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
  assert.match(statusLine, /^HTTP\/1\.1 431 /);
  assert.deepEqual(JSON.parse(body), { error: { kind: 'HeadersTooLarge', message: 'the request headers are larger than 16 KiB', details: [] } });
  assert.match(headers.get('content-type') ?? '', /^application\/json/);
  for (const h of ['content-security-policy', 'x-content-type-options', 'x-frame-options', 'referrer-policy']) assert.ok(headers.has(h), h);
});

test('an error names each path once; writes that can cut management access are marked', async (t) => {
  const f = await loggedIn(t);
  f.dm.add('Device.DSLite.InterfaceSetting.', 'system');
  const p = 'Device.DSLite.InterfaceSetting.1.';
  // As src/dslite's EndpointName check does, the handler's message already names the path.
  const check = f.dm.attach('Device.DSLite.InterfaceSetting.{i}.', {
    validate(ctx) {
      if (ctx.changed.get('EndpointName') === 'bad name') throw new DmError('InvalidValue', `${ctx.path}EndpointName: not an FQDN`, [], `${ctx.path}EndpointName`);
    },
  });
  t.after(() => check.dispose());
  const r = await f.req('PUT', '/api/values', { values: { [`${p}EndpointName`]: 'bad name' } });
  assert.equal(r.status, 422);
  assert.equal(r.body.error.message, `${p}EndpointName: not an FQDN`);
  assert.deepEqual(r.body.error.details.map((d: { path: string; message: string }) => [d.path, d.message]), [[`${p}EndpointName`, 'not an FQDN']]);
  // Several bad items: each path once, each detail's message without it.
  const two = await f.req('PUT', '/api/values', { values: { [`${p}EndpointAddress`]: 'zz', [`${p}EndpointAssignmentPrecedence`]: 'Magic' } });
  for (const d of two.body.error.details) {
    assert.equal(two.body.error.message.split(d.path).length - 1, 1, `${d.path} once in: ${two.body.error.message}`);
    assert.ok(!d.message.includes(d.path), d.message);
  }
  const confirm = async (obj: string) => new Map<string, string[] | undefined>((await f.req('GET', `/api/object?path=${obj}`)).body.params.map((x: { name: string; confirm?: string[] }) => [x.name, x.confirm]));
  const cases: [string, string, string[] | undefined][] = [
    ['Device.ManagementServer.', 'EnableCWMP', ['false']],
    ['Device.ManagementServer.', 'PeriodicInformEnable', undefined],
    ['Device.DSLite.', 'Enable', ['true', 'false']],
    [p, 'Enable', ['true', 'false']],
    [p, 'EndpointName', undefined],
  ];
  for (const [obj, name, want] of cases) assert.deepEqual((await confirm(obj)).get(name), want, `${obj}${name}`);
});
