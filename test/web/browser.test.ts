// The page in Debian's Chromium, driven by playwright-core (issue 8, acceptance 1): log in, browse the tree
// with the keyboard, edit a value, see the server's validation error, add and delete an instance, search,
// and fail/restore the simulated AFTR and watch the mode and the timeline change without a reload.
// Screenshots go to test-artifacts/web/; one of them is docs/web.png.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import { chromium, type Browser, type BrowserContextOptions, type Page } from 'playwright-core';
import { DataModel, DmError, PluginHost, type DataModel as DM } from '../../src/datamodel/index.ts';
import { webPlugin, type WebConfig } from '../../src/web/index.ts';
import { memoryLogger, PASSWORD } from './fixture.ts';

const ART = 'test-artifacts/web';
const F = 'Device.X_TWINSTACK-ORG_Failover.';
const CHROMIUM_ARGS = ['--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'];

/** Initial state: DS-Lite up on a simulated WAN, two healthy detectors, one history row (the boot). */
function seed(dm: DM, t0: number) {
  dm.add('Device.DSLite.InterfaceSetting.', 'system', {
    Enable: 'true', Status: 'Enabled', EndpointAssignmentPrecedence: 'Static', EndpointName: 'aftr.example.net',
    EndpointAddress: '2001:db8:ff::1', EndpointAddressInUse: '2001:db8:ff::1', Origin: 'Static',
  });
  dm.set({ 'Device.DSLite.Enable': 'true', [`${F}Mode`]: 'DSLite', [`${F}CurrentAFTR`]: '2001:db8:ff::1', [`${F}Simulation.Active`]: 'true' }, 'system');
  for (const name of ['Silence', 'ICMPEcho']) dm.add(`${F}Detector.`, 'system', { Name: name, State: 'Healthy' });
  const at = (min: number) => new Date(t0 - min * 60_000).toISOString().replace(/\.\d+Z$/, 'Z');
  const history: [number, string, string, string, string][] = [
    [60, 'None', 'DSLite', 'boot', '0'],
    [40, 'DSLite', 'DualStack', 'ICMPv6Error: destination unreachable code 5 from 2001:db8:ff::1', '4200'],
    [25, 'DualStack', 'DSLite', 'ICMPEcho: 3 good probes', '150'],
  ];
  for (const [min, from, to, reason, outage] of history)
    dm.add(`${F}History.`, 'system', { Time: at(min), From: from, To: to, Reason: reason, AFTR: '2001:db8:ff::1', OutageMs: outage });
  dm.set({ [`${F}SwitchCount`]: '2', [`${F}LastSwitchTime`]: at(25), [`${F}LastSwitchReason`]: 'ICMPEcho: 3 good probes' }, 'system');
}

/**
 * A stand-in for the failover engine (which the failover area implements): AFTRState Down/Blackhole moves to
 * dual-stack, Up moves back, each switch written as status with origin 'system' and a History row.
 */
function fakeFailover(dm: DM) {
  return dm.attach(`${F}Simulation.`, {
    apply(ev) {
      const state = ev.changed.get('AFTRState');
      if (!state) return;
      const from = dm.getValue(`${F}Mode`);
      const to = state === 'Up' ? 'DSLite' : 'DualStack';
      if (from === to) return;
      const time = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
      const reason = state === 'Up' ? 'ICMPEcho: 3 good probes' : `Silence: no packet from 2001:db8:ff::1 for 3000 ms (${state})`;
      const dual = to === 'DualStack';
      dm.commit([
        { op: 'set', path: `${F}Mode`, value: to },
        { op: 'set', path: `${F}CurrentAFTR`, value: dual ? '' : '2001:db8:ff::1' },
        { op: 'set', path: `${F}PublicIPv4Address`, value: dual ? '203.0.113.7' : '' },
        { op: 'set', path: `${F}SwitchCount`, value: String(Number(dm.getValue(`${F}SwitchCount`)) + 1) },
        { op: 'set', path: `${F}LastSwitchTime`, value: time },
        { op: 'set', path: `${F}LastSwitchReason`, value: reason },
        { op: 'set', path: `${F}Detector.1.State`, value: dual ? 'Failed' : 'Healthy' },
        { op: 'set', path: `${F}Detector.1.LastReason`, value: dual ? 'no packet for 3000 ms' : '' },
        { op: 'add', table: `${F}History.`, values: { Time: time, From: from, To: to, Reason: reason, AFTR: '2001:db8:ff::1', OutageMs: dual ? '3400' : '120' } },
      ], 'system');
    },
  });
}

async function shot(page: Page, name: string) {
  await page.screenshot({ path: `${ART}/${name}.png`, fullPage: true });
}

const text = (page: Page, selector: string) => page.locator(selector).innerText();

test('web page in Chromium: login, browse, edit, validation error, add/delete, live failover', { timeout: 120_000 }, async (t) => {
  mkdirSync(ART, { recursive: true });
  const dm = new DataModel({ file: ':memory:' });
  const t0 = Date.now();
  seed(dm, t0);
  const fake = fakeFailover(dm);
  const { log } = memoryLogger();
  const plugin = webPlugin({ port: 0, adminPassword: PASSWORD });
  const host = new PluginHost(dm, [plugin], log);
  await host.start();
  let browser: Browser | undefined;
  t.after(async () => {
    await browser?.close();
    await host.stop();
    fake.dispose();
    dm.close();
  });
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  const problems: string[] = [];
  page.on('console', (m) => { // Expected HTTP errors (the 401 before login, the 422 of the bad value) are not script errors.
    if (m.type() === 'error' && !/^Failed to load resource: the server responded with a status of (401|422)/.test(m.text())) problems.push(m.text()); });
  page.on('pageerror', (e) => problems.push(String(e)));
  page.on('dialog', (d) => d.accept());

  // ---- login --------------------------------------------------------------------------------------------
  await page.goto(plugin.url!);
  const pw = page.getByLabel('Admin password');
  await pw.fill('not the password');
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('alert').filter({ hasText: 'wrong password' }).waitFor();
  await shot(page, '01-login-error');
  await pw.fill(PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('heading', { name: 'Status' }).waitFor();
  await page.locator('#conn', { hasText: 'Live' }).waitFor();
  const cookie = (await context.cookies()).find((c) => c.name === 'twinstack_session')!;
  assert.deepEqual([cookie.httpOnly, cookie.sameSite], [true, 'Strict']);
  await page.evaluate(() => { (window as unknown as { marker: number }).marker = 42; });

  // ---- browse with the keyboard (WAI-ARIA tree) ---------------------------------------------------------
  const tree = page.getByRole('tree', { name: 'Data model tree' });
  const item = (name: string) => tree.getByRole('treeitem', { name, exact: true });
  await item('DSLite').waitFor();
  await item('Device').focus();
  for (let i = 0; i < 20 && (await page.evaluate(() => document.activeElement?.getAttribute('data-path'))) !== 'Device.DSLite.'; i++) await page.keyboard.press('ArrowDown');
  assert.equal(await item('DSLite').getAttribute('aria-expanded'), 'false');
  await page.keyboard.press('ArrowRight'); // expands
  await item('InterfaceSetting.{i}').waitFor();
  assert.equal(await item('DSLite').getAttribute('aria-expanded'), 'true');
  await page.keyboard.press('ArrowRight'); // into the first child
  await page.keyboard.press('ArrowRight'); // expand the table
  await item('1 (cpe-1)').waitFor();
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('Enter'); // open Device.DSLite.InterfaceSetting.1.
  await page.locator('#detail h3', { hasText: 'Device.DSLite.InterfaceSetting.1.' }).waitFor();
  assert.equal(await item('1 (cpe-1)').getAttribute('aria-selected'), 'true');
  assert.equal(await item('1 (cpe-1)').getAttribute('aria-expanded'), null, 'an end node has no aria-expanded');
  await page.keyboard.press('ArrowLeft'); // to the parent table
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('data-path')), 'Device.DSLite.InterfaceSetting.');
  await page.keyboard.press('ArrowLeft'); // collapse it
  assert.equal(await item('InterfaceSetting.{i}').getAttribute('aria-expanded'), 'false');

  // Read-only values are text, writable ones are controls labelled with the full path.
  const P = 'Device.DSLite.InterfaceSetting.1.';
  assert.equal(await page.getByLabel(`${P}Status`, { exact: true }).count(), 0);
  assert.equal(await page.locator(`#p-${P.replace(/\./g, '_')}Status .pvalue`).innerText(), 'Enabled');
  await page.getByLabel(`Details of ${P}EndpointAddress`, { exact: true }).click();
  const meta = await page.locator(`#p-${P.replace(/\./g, '_')}EndpointAddress dl.meta`).innerText();
  for (const want of ['IPv6Address', 'readWrite', 'Notification', 'Description', 'The address of the tunnel concentrator']) assert.ok(meta.includes(want), want);

  // ---- edit a value, then a bad value ----------------------------------------------------------------
  const addr = page.getByLabel(`${P}EndpointAddress`, { exact: true });
  await addr.fill('2001:DB8:FF::2');
  await page.getByRole('button', { name: `Save ${P}EndpointAddress`, exact: true }).click();
  await page.waitForFunction(() => document.querySelector('form.edit.saved') !== null);
  assert.equal(dm.getValue(`${P}EndpointAddress`), '2001:db8:ff::2');
  await addr.fill('not-an-ip');
  await addr.press('Enter');
  const errId = await addr.getAttribute('aria-describedby');
  const alert = page.locator(`[id="${errId}"]`);
  await alert.filter({ hasText: 'is not an IPv6 address' }).waitFor();
  assert.equal(await alert.getAttribute('role'), 'alert');
  assert.equal(await addr.getAttribute('aria-invalid'), 'true');
  assert.equal(dm.getValue(`${P}EndpointAddress`), '2001:db8:ff::2', 'the bad value was not stored');
  await shot(page, '02-validation-error');
  await addr.fill('2001:db8:ff::1');
  await addr.press('Enter');
  await alert.filter({ hasText: /^$/ }).waitFor({ state: 'attached' });
  assert.equal(await addr.getAttribute('aria-invalid'), null);

  // Values are text, never HTML, also when they change live.
  dm.set({ [`${P}EndpointName`]: '<img src=x onerror="window.xss=1">' }, 'system');
  await page.waitForFunction((p) => (document.querySelector(`[aria-label="${p}EndpointName"]`) as HTMLInputElement | null)?.value.startsWith('<img'), P);
  assert.equal(await page.evaluate(() => (window as unknown as { xss?: number }).xss), undefined);
  dm.set({ [`${P}EndpointName`]: 'aftr.example.net' }, 'system');

  // ---- search, then add and delete an instance -------------------------------------------------------------
  await page.getByRole('searchbox', { name: 'Search by path, name or value' }).fill('aftr.example');
  await page.getByRole('button', { name: `${P}EndpointName`, exact: true }).waitFor();
  await page.getByRole('searchbox').fill('NAT.InterfaceSettingNumberOfEntries');
  await page.getByRole('button', { name: 'Device.NAT.InterfaceSettingNumberOfEntries', exact: true }).click();
  await page.locator('#detail h3', { hasText: /^Device\.NAT\.$/ }).waitFor();
  await item('InterfaceSetting.{i}').nth(0).waitFor();
  await tree.locator('[data-path="Device.NAT.InterfaceSetting."] > .label').click();
  await page.getByRole('button', { name: 'Add instance' }).click();
  await page.locator('#detail h3', { hasText: 'Device.NAT.InterfaceSetting.1.' }).waitFor();
  assert.deepEqual(dm.instances('Device.NAT.InterfaceSetting.'), ['Device.NAT.InterfaceSetting.1.']);
  assert.equal(await tree.locator('[data-path="Device.NAT.InterfaceSetting.1."]').count(), 1);
  const nat = 'Device.NAT.InterfaceSetting.1.';
  await page.getByLabel(`${nat}TCPTranslationTimeout`, { exact: true }).fill('3600');
  await page.getByRole('button', { name: `Save ${nat}TCPTranslationTimeout`, exact: true }).click();
  await page.waitForFunction(() => document.querySelector('form.edit.saved') !== null);
  assert.equal(dm.getValue(`${nat}TCPTranslationTimeout`), '3600');
  await shot(page, '03-instance-added');
  await page.getByRole('button', { name: 'Delete instance' }).click();
  await page.locator('#detail h3', { hasText: /^Device\.NAT\.InterfaceSetting\.$/ }).waitFor();
  await tree.locator('[data-path="Device.NAT.InterfaceSetting.1."]').waitFor({ state: 'detached' });
  assert.deepEqual(dm.instances('Device.NAT.InterfaceSetting.'), []);

  // ---- fail and restore the simulated AFTR: the status panel changes live -------------------------------
  assert.equal(await text(page, '#st-mode'), 'DS-Lite');
  assert.equal(await text(page, '#st-aftr'), '2001:db8:ff::1');
  assert.equal(await page.locator('#timeline-chart rect.outage').count(), 3);
  await page.getByRole('button', { name: 'Fail simulated AFTR' }).click();
  await page.locator('#st-mode', { hasText: 'Dual-stack' }).waitFor({ timeout: 5000 });
  await page.locator('#st-ipv4', { hasText: '203.0.113.7' }).waitFor();
  await page.waitForFunction(() => document.querySelectorAll('#timeline-chart rect.outage').length === 4);
  assert.equal(await text(page, '#sim-state'), 'Down');
  assert.equal(await text(page, '#st-switches'), '3');
  assert.match(await text(page, '#detectors tbody'), /Silence\s+Failed\s+no packet for 3000 ms/);
  assert.match(await page.locator('#tl-desc').textContent() ?? '', /DS-Lite to Dual-stack, outage 3\.4 s/);
  assert.equal(await page.locator('#history tbody tr').count(), 4);
  // Reopen the DS-Lite instance for the picture in the README.
  await page.getByRole('searchbox').fill('EndpointAddressInUse');
  await page.getByRole('button', { name: `${P}EndpointAddressInUse`, exact: true }).click();
  await page.locator('#detail h3', { hasText: P }).waitFor();
  await page.getByRole('searchbox').fill('');
  await page.locator('#search-results li').first().waitFor({ state: 'detached' });
  await shot(page, '04-failed-over');
  // The README picture is refreshed on request only, so ordinary runs leave the work tree clean.
  if (process.env.UPDATE_DOCS_SCREENSHOT === '1') copyFileSync(`${ART}/04-failed-over.png`, 'docs/web.png');
  await page.getByRole('button', { name: 'Restore simulated AFTR' }).click();
  await page.locator('#st-mode', { hasText: 'DS-Lite' }).waitFor({ timeout: 5000 });
  await page.waitForFunction(() => document.querySelectorAll('#timeline-chart rect.outage').length === 5);
  assert.equal(await page.locator('#st-ipv4').count(), 0, 'no public IPv4 shown in DS-Lite');
  assert.equal(await page.evaluate(() => (window as unknown as { marker: number }).marker), 42, 'no reload happened');
  await shot(page, '05-restored');

  // ---- a phone screen: nothing wider than the viewport -----------------------------------------------------
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  await phone.addCookies([{ ...cookie }]);
  const mobile = await phone.newPage();
  await mobile.goto(plugin.url!);
  await mobile.getByRole('heading', { name: 'Status' }).waitFor();
  await mobile.getByRole('treeitem', { name: 'DSLite', exact: true }).waitFor();
  assert.ok(await mobile.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1), 'no horizontal scrolling');
  await shot(mobile, '06-phone');

  // ---- logout ends the session -----------------------------------------------------------------------------
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.getByLabel('Admin password').waitFor();
  const after = await page.evaluate(async () => (await fetch('/api/status')).status);
  assert.equal(after, 401);
  assert.deepEqual(problems, [], 'no script errors or CSP violations');
});

// ---- issue "a web page a technician trusts" ---------------------------------------------------------------

interface Started {
  dm: DM;
  url: string;
  browser: Browser;
  /** A logged-in page (the session cookie set through the API), at the page's address. */
  page(options?: BrowserContextOptions): Promise<Page>;
}

/** The agent's web plug-in over a seeded data model, and Chromium; everything closed after the test. */
async function start(t: { after(fn: () => unknown): void }, opts: { seed?: (dm: DM) => void; web?: WebConfig } = {}): Promise<Started> {
  const dm = new DataModel({ file: ':memory:' });
  (opts.seed ?? ((d: DM) => seed(d, Date.now())))(dm);
  const { log } = memoryLogger();
  const plugin = webPlugin({ port: 0, adminPassword: PASSWORD, ...opts.web });
  const host = new PluginHost(dm, [plugin], log);
  await host.start();
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  t.after(async () => {
    await browser.close();
    await host.stop();
    dm.close();
  });
  const url = plugin.url!;
  return {
    dm, url, browser,
    async page(options = { viewport: { width: 1280, height: 900 } }) {
      const context = await browser.newContext(options);
      assert.equal((await context.request.post(`${url}api/login`, { data: { password: PASSWORD } })).status(), 200);
      const page = await context.newPage();
      page.setDefaultTimeout(10_000);
      await page.goto(url);
      await page.getByRole('treeitem', { name: 'DSLite', exact: true }).waitFor();
      return page;
    },
  };
}

/** Opens an object through the search box (the hit's button reveals its object). */
async function openByParam(page: Page, path: string) {
  await page.getByRole('searchbox').fill(path);
  await page.getByRole('button', { name: path, exact: true }).click();
  await page.locator('#detail h3', { hasText: path.slice(0, path.lastIndexOf('.') + 1) }).waitFor();
}

const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('a select writes nothing before Save; writes that can cut management access ask first (item 7)', { timeout: 60_000 }, async (t) => {
  const s = await start(t);
  const page = await s.page();
  const dialogs: string[] = [];
  let answer = false;
  page.on('dialog', (d) => { dialogs.push(d.message()); void (answer ? d.accept() : d.dismiss()); });
  const M = 'Device.ManagementServer.';
  await openByParam(page, `${M}EnableCWMP`);
  const cwmp = page.getByLabel(`${M}EnableCWMP`, { exact: true });
  assert.equal(await cwmp.inputValue(), 'true');
  // One arrow key on the focused select: the value changes on screen, nothing is written.
  await cwmp.focus();
  await page.keyboard.press('ArrowDown');
  assert.equal(await cwmp.inputValue(), 'false');
  await settle(400);
  assert.equal(s.dm.getValue(`${M}EnableCWMP`), 'true', 'an arrow key wrote nothing');
  assert.equal(await page.locator(`form.edit.dirty [aria-label="${M}EnableCWMP"]`).count(), 1, 'the field shows it is not saved');
  assert.deepEqual(dialogs, []);
  // Save asks; "Cancel" writes nothing and puts the saved value back.
  await page.getByRole('button', { name: `Save ${M}EnableCWMP`, exact: true }).click();
  await page.waitForFunction((p) => (document.querySelector(`[aria-label="${p}EnableCWMP"]`) as HTMLSelectElement).value === 'true', M);
  assert.equal(dialogs.length, 1);
  assert.match(dialogs[0], /Device\.ManagementServer\.EnableCWMP to false\? This can cut the gateway off from its management/);
  assert.equal(s.dm.getValue(`${M}EnableCWMP`), 'true');
  // Enter on the select saves too; confirmed, it is written.
  answer = true;
  await cwmp.focus();
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.querySelector('form.edit.saved') !== null);
  assert.equal(dialogs.length, 2);
  assert.equal(s.dm.getValue(`${M}EnableCWMP`), 'false');
  // A harmless select saves on Save alone, without a question.
  const periodic = page.getByLabel(`${M}PeriodicInformEnable`, { exact: true });
  await periodic.selectOption('true');
  await settle(300);
  assert.equal(s.dm.getValue(`${M}PeriodicInformEnable`), 'false', 'changing a select writes nothing');
  await page.getByRole('button', { name: `Save ${M}PeriodicInformEnable`, exact: true }).click();
  await page.waitForFunction(() => document.querySelector('form.edit.saved') !== null);
  assert.equal(s.dm.getValue(`${M}PeriodicInformEnable`), 'true');
  assert.equal(dialogs.length, 2);
  // The notification attribute too: a changed select writes nothing, Save does.
  await page.getByLabel(`Details of ${M}PeriodicInformEnable`, { exact: true }).click();
  const notification = page.getByLabel(`Notification of ${M}PeriodicInformEnable`, { exact: true });
  await notification.focus();
  await page.keyboard.press('ArrowDown');
  await settle(300);
  assert.equal(s.dm.getAttributes(`${M}PeriodicInformEnable`)[0].notification, 0, 'an arrow key wrote nothing');
  await page.getByRole('button', { name: `Save notification of ${M}PeriodicInformEnable`, exact: true }).click();
  for (let i = 0; i < 50 && s.dm.getAttributes(`${M}PeriodicInformEnable`)[0].notification !== 1; i++) await settle(50);
  assert.equal(s.dm.getAttributes(`${M}PeriodicInformEnable`)[0].notification, 1);
  // DS-Lite on/off moves IPv4 between softwire and WAN: it asks either way.
  answer = false;
  await openByParam(page, 'Device.DSLite.Enable');
  const dslite = page.getByLabel('Device.DSLite.Enable', { exact: true });
  await dslite.selectOption('false');
  await dslite.press('Enter');
  await page.waitForFunction(() => (document.querySelector('[aria-label="Device.DSLite.Enable"]') as HTMLSelectElement).value === 'true');
  assert.equal(dialogs.length, 3);
  assert.equal(s.dm.getValue('Device.DSLite.Enable'), 'true');
});

/** A stand-in for src/dslite's EndpointName check: its message names the path, as the real one does. */
function fqdnCheck(dm: DM) {
  return dm.attach('Device.DSLite.InterfaceSetting.{i}.', {
    validate(ctx) {
      const name = ctx.changed.get('EndpointName');
      if (name !== undefined && name !== '' && !/^[a-z0-9-]+(\.[a-z0-9-]+)+$/i.test(name))
        throw new DmError('InvalidValue', `${ctx.path}EndpointName: not an FQDN`, [], `${ctx.path}EndpointName`);
    },
  });
}

test('an error names the path once and wraps on a 375 px screen (item 8)', { timeout: 60_000 }, async (t) => {
  const s = await start(t);
  const check = fqdnCheck(s.dm);
  t.after(() => check.dispose());
  const page = await s.page({ viewport: { width: 375, height: 740 }, isMobile: true, hasTouch: true });
  const P = 'Device.DSLite.InterfaceSetting.1.';
  await openByParam(page, `${P}EndpointName`);
  const name = page.getByLabel(`${P}EndpointName`, { exact: true });
  await name.fill('not a name!');
  await page.getByRole('button', { name: `Save ${P}EndpointName`, exact: true }).click();
  const alert = page.locator(`[id="${await name.getAttribute('aria-describedby')}"]`);
  await alert.filter({ hasText: 'not an FQDN' }).waitFor();
  const shown = await page.locator('#detail').innerText();
  assert.ok(!shown.includes(`${P}EndpointName: ${P}EndpointName`), shown);
  assert.equal(await alert.innerText(), 'not an FQDN', 'beside its field the path is the label, not the message');
  // The API's message names it once too.
  const answer = await page.evaluate(async (p) => {
    const { csrfToken } = await (await fetch('/api/session')).json();
    const r = await fetch('/api/values', { method: 'PUT', headers: { 'content-type': 'application/json', 'x-csrf-token': csrfToken }, body: JSON.stringify({ values: { [`${p}EndpointName`]: 'bad name' } }) });
    return r.json();
  }, P);
  assert.deepEqual([answer.error.kind, answer.error.message], ['InvalidValue', `${P}EndpointName: not an FQDN`]);
  assert.deepEqual(answer.error.details.map((d: Record<string, string>) => [d.path, d.message]), [[`${P}EndpointName`, 'not an FQDN']]);
  // Nothing wider than the screen; every Save button whole on it.
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'no horizontal scrolling');
  for (const box of await page.locator('#detail form.edit button').evaluateAll((bs) => bs.map((b) => b.getBoundingClientRect().right)))
    assert.ok(box <= 375, `a Save button ends at ${box} px`);
  await shot(page, '07-error-375');
});

test('the status says when the return to DS-Lite will come (item 9)', { timeout: 60_000 }, async (t) => {
  const switched = new Date(Date.now() - 10_000).toISOString().replace(/\.\d+Z$/, 'Z');
  const s = await start(t, {
    seed: (dm) => {
      seed(dm, Date.now());
      dm.set({ [`${F}Mode`]: 'DualStack', [`${F}CurrentAFTR`]: '', [`${F}LastSwitchTime`]: switched, [`${F}Detector.1.State`]: 'Failed', [`${F}HoldDownTime`]: '30' }, 'system');
    },
  });
  const page = await s.page();
  const ret = page.locator('#st-return');
  assert.equal(await page.locator('#st-return').evaluate((dd) => dd.previousElementSibling?.textContent), 'Return to DS-Lite');
  const first = await ret.innerText();
  assert.match(first, /^pending: after 3 good probes in a row \(every 10 s\), at the earliest [\d:]+( [AP]M)? \(in ([1-9]|1\d|20) s: HoldDownTime 30 s after the last switch\)$/);
  assert.ok(await page.locator('#detectors-note').isVisible(), 'the Failed detector is explained');
  // It counts down without a reload.
  const secs = (text: string) => Number(/\(in (\d+) s/.exec(text)![1]);
  await page.waitForFunction((n) => Number(/\(in (\d+) s/.exec(document.getElementById('st-return')!.textContent!)?.[1]) < n, secs(first), { timeout: 3000 });
  // With the policy's live state in the data model (RecoveryState, ...), the page shows it as it is.
  const live = async (recovery: Record<string, string>, want: RegExp) => {
    await page.unroute('**/api/status');
    await page.route('**/api/status', async (route) => {
      const body = await (await route.fetch()).json();
      await route.fulfill({ json: { ...body, recovery: { ...body.recovery, ...recovery } } });
    });
    s.dm.set({ [`${F}SwitchCount`]: String(Number(s.dm.getValue(`${F}SwitchCount`)) + 1) }, 'system'); // any failover change reloads the panel
    await page.waitForFunction((w) => new RegExp(w).test(document.getElementById('st-return')?.textContent ?? ''), want.source, { timeout: 5000 });
  };
  await live({ state: 'Probing', goodProbes: '1' }, /^probing every 10 s: 1 of 3 good probes$/);
  await live({ state: 'HoldDown', goodProbes: '3', holdDownFactor: '2', returnNotBefore: new Date(Date.now() + 45_000).toISOString() },
    /^AFTR answers; held down after flapping \(2× HoldDownTime\), returning in ([34]\d) s \(at [\d:]+( [AP]M)?\)$/);
  await live({ state: 'Returning' }, /^returning now$/);
  await shot(page, '08-return-pending');
  // Back in DS-Lite on the primary: nothing pending.
  await page.unroute('**/api/status');
  s.dm.set({ [`${F}Mode`]: 'DSLite' }, 'system');
  await page.locator('#st-return').waitFor({ state: 'detached' });
});

test('first render: the code in one request round, the data beside it (item 10)', { timeout: 90_000 }, async (t) => {
  const s = await start(t);
  const page = await s.page();
  // The moment the tree's first level is in the document, on the page's own clock (from navigation start).
  await page.addInitScript(() => {
    new MutationObserver((_, watch) => {
      if (!document.querySelector('#tree [role="group"] [role="treeitem"]')) return;
      (window as unknown as { treeAt: number }).treeAt = performance.now();
      watch.disconnect();
    }).observe(document, { childList: true, subtree: true });
  });
  const times: number[] = [];
  const firstReads = ['/static/api.js', '/static/tree.js', '/static/detail.js', '/static/status.js', '/api/session', '/api/tree?path=Device.', '/api/status'];
  const navigate = async () => {
    await page.goto(s.url);
    await page.waitForFunction(() => (window as unknown as { treeAt?: number }).treeAt !== undefined);
    const load = await page.evaluate(() => ({
      tree: (window as unknown as { treeAt: number }).treeAt,
      res: performance.getEntriesByType('resource').map((r) => {
        const e = r as PerformanceResourceTiming;
        return { name: new URL(e.name).pathname + new URL(e.name).search, start: e.startTime, end: e.responseEnd };
      }),
    }));
    const at = (n: string) => load.res.filter((r) => r.name === n);
    // Each module and first read is fetched once: app.js's imports and first reads used the preloaded responses.
    for (const n of firstReads) assert.equal(at(n).length, 1, `${n} fetched once`);
    return { tree: load.tree, app: at('/static/app.js')[0], at };
  };
  for (let i = 0; i < 7; i++) {
    const load = await navigate();
    times.push(load.tree);
    if (i === 0) t.diagnostic(`request starts (ms): app.js ${load.app.start.toFixed(1)}, arrived ${load.app.end.toFixed(1)}; ${firstReads.map((n) => `${n} ${load.at(n)[0].start.toFixed(1)}`).join(', ')}`);
  }
  // No module and no first read waits for app.js (one round). Checked with app.js held back 400 ms, so what
  // only app.js would ask for starts after it has arrived by a margin no scheduling noise closes: on the
  // timed loads above a busy renderer may reach the later <link>s a few ms after a fast app.js has arrived
  // (CI once saw status.js start 70.9 ms, app.js arrived at 62.1 ms), which says nothing about the design.
  await page.route('**/static/app.js', async (route) => {
    await new Promise((r) => setTimeout(r, 400));
    await route.continue();
  });
  const held = await navigate();
  await page.unroute('**/static/app.js');
  assert.ok(held.app.end - held.app.start >= 400, `app.js was held back (${held.app.start.toFixed(1)}-${held.app.end.toFixed(1)} ms)`);
  for (const n of firstReads) {
    const r = held.at(n)[0];
    assert.ok(r.start < held.app.end, `${n} starts before app.js has arrived (${r.start.toFixed(1)} >= ${held.app.end.toFixed(1)} ms)`);
  }
  times.sort((a, b) => a - b);
  const median = times[times.length >> 1];
  t.diagnostic(`first render (navigation start to the tree rendered), median of ${times.length}: ${median.toFixed(0)} ms; all ${times.map((x) => x.toFixed(0)).join(', ')}`);
  // The 200 ms goal is for a quiet machine; on a shared, loaded one the figure is reported, not judged.
  if (loadavg()[0] < 1) assert.ok(median < 200, `median first render ${median.toFixed(0)} ms (goal 200 ms)`);
  else t.diagnostic(`load average ${loadavg()[0].toFixed(1)}: the 200 ms goal was not checked`);
});

/** axe-core's WCAG 2 A and AA rules on the page as it is now; the CSP is bypassed to load axe itself. */
async function axeViolations(page: Page): Promise<string[]> {
  const source = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
  await page.evaluate(source);
  const result = await page.evaluate(() => (window as unknown as { axe: { run(c: Document, o: object): Promise<{ violations: { id: string; nodes: { target: string[]; failureSummary: string }[] }[] }> } })
    .axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
      // An expanded treeitem holds its group (WAI-ARIA APG tree pattern): its name is its own label
      // (aria-labelledby), not the text of the items below it, which this rule would ask for.
      rules: { 'label-content-name-mismatch': { enabled: false } },
    }));
  return result.violations.flatMap((v) => v.nodes.map((n) => `${v.id} ${n.target.join(' ')}: ${n.failureSummary.replace(/\s+/g, ' ')}`));
}

/** Where a line breaks inside an element's text: the characters either side of each break. */
function lineBreaks(page: Page, selector: string): Promise<string[][]> {
  return page.locator(selector).evaluateAll((els) => els.map((e) => {
    const chars: { c: string; top: number }[] = [];
    const walk = document.createTreeWalker(e, NodeFilter.SHOW_TEXT);
    for (let n = walk.nextNode(); n; n = walk.nextNode()) {
      for (let i = 0; i < n.textContent!.length; i++) {
        const r = document.createRange();
        r.setStart(n, i);
        r.setEnd(n, i + 1);
        chars.push({ c: n.textContent![i], top: Math.round(r.getBoundingClientRect().top) });
      }
    }
    return chars.flatMap((x, i) => (i && x.top > chars[i - 1].top ? [`${chars[i - 1].c}|${x.c}`] : []));
  }).flat().map((b) => b.split('|')));
}

test('contrast, line breaks, plurals, lockout time, live search hits, timeline start, tree in view (item 11)', { timeout: 90_000 }, async (t) => {
  const P = 'Device.DSLite.InterfaceSetting.1.';
  const longAddress = '2001:db8:ffff:ffff:ffff:ffff:ffff:fff1';
  const s = await start(t, {
    seed: (dm) => {
      seed(dm, Date.now());
      dm.set({ [`${F}SwitchCount`]: '1', [`${P}EndpointAddressInUse`]: longAddress }, 'system');
    },
    web: { lockoutAttempts: 2, lockoutTime: 300 },
  });
  // A laptop screen: the tree is in view without scrolling.
  const page = await s.page({ viewport: { width: 1280, height: 800 }, bypassCSP: true });
  const pane = await page.locator('.tree-pane').boundingBox();
  assert.ok(pane && pane.y + pane.height <= 800, `the tree pane ends at ${pane && pane.y + pane.height} px on an 800 px screen`);
  await shot(page, '09-laptop');
  // "1 switch", not "1 switches".
  assert.match(await page.locator('#timeline-chart svg').textContent() ?? '', /DS-Lite now · 1 switch(?!es)/);
  // Contrast and the rest of WCAG 2.1 AA, with an object open.
  await openByParam(page, `${P}EndpointAssignmentPrecedence`);
  assert.deepEqual(await axeViolations(page), []);
  // Names break between words only, never inside one.
  for (const [a, b] of await lineBreaks(page, '#detail .pname'))
    assert.ok(/[a-z0-9]/.test(a) && /[A-Z]/.test(b) || /[._-]/.test(a), `a name broken between "${a}" and "${b}"`);
  // A search hit follows a save.
  const hit = page.locator(`.hit-value[data-path="${P}EndpointAssignmentPrecedence"]`);
  assert.equal(await hit.innerText(), 'Static');
  await page.getByLabel(`${P}EndpointAssignmentPrecedence`, { exact: true }).selectOption('DHCPv6');
  await page.getByRole('button', { name: `Save ${P}EndpointAssignmentPrecedence`, exact: true }).click();
  await page.locator(`.hit-value[data-path="${P}EndpointAssignmentPrecedence"]`, { hasText: 'DHCPv6' }).waitFor({ timeout: 5000 });

  // A phone: an IPv6 address stays on one line, and the page stays within the screen.
  const phone = await s.page({ viewport: { width: 375, height: 740 }, isMobile: true, hasTouch: true });
  await openByParam(phone, `${P}EndpointAddressInUse`);
  const addr = phone.locator(`#p-${P.replace(/\./g, '_')}EndpointAddressInUse .pvalue`);
  assert.ok(await addr.evaluate((e) => e.scrollWidth <= e.clientWidth + 1), 'the address fits its box');
  assert.equal(await addr.innerText(), longAddress);
  assert.deepEqual(await lineBreaks(phone, `#p-${P.replace(/\./g, '_')}EndpointAddressInUse .pvalue`), [], 'the address is on one line');
  assert.deepEqual(await lineBreaks(phone, '#st-aftr'), []);
  assert.ok(await phone.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'no horizontal scrolling');

  // The lockout says how long it lasts.
  const context = await s.browser.newContext();
  const login = await context.newPage();
  await login.goto(s.url);
  for (let i = 0; i < 3; i++) {
    await login.getByLabel('Admin password').fill(`wrong ${i}`);
    await login.getByRole('button', { name: 'Log in' }).click();
    await login.locator('#login-error', { hasText: i < 2 ? 'wrong password' : 'too many' }).waitFor();
  }
  assert.equal(await login.locator('#login-error').innerText(), 'too many failed logins; try again in 5 minutes');
});

test('the timeline paints nothing before the agent started (item 11)', { timeout: 60_000 }, async (t) => {
  const s = await start(t, {
    seed: (dm) => {
      dm.set({ 'Device.DSLite.Enable': 'true', [`${F}Mode`]: 'DSLite', [`${F}CurrentAFTR`]: '2001:db8:ff::1', 'Device.DeviceInfo.UpTime': '120' }, 'system');
    },
  });
  const page = await s.page();
  await page.locator('#timeline-chart rect.band').first().waitFor();
  const { width, bands } = await page.locator('#timeline-chart svg').evaluate((svg) => ({
    width: Number(svg.getAttribute('width')),
    bands: [...svg.querySelectorAll('rect.band')].map((r) => Number(r.getAttribute('x'))),
  }));
  // The axis spans the last hour; the agent has run for 2 minutes: its band starts in the last 1/30.
  const agentStart = 20 + (width - 40) * (58 / 60);
  assert.ok(bands.length === 1 && bands[0] >= agentStart - 2, `a band starts at ${bands[0]} px, before the agent started (${agentStart.toFixed(0)} px)`);
});
