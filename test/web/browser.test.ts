// The page in Debian's Chromium, driven by playwright-core (issue 8, acceptance 1): log in, browse the tree
// with the keyboard, edit a value, see the server's validation error, add and delete an instance, search,
// and fail/restore the simulated AFTR and watch the mode and the timeline change without a reload.
// Screenshots go to test-artifacts/web/; one of them is docs/web.png.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { DataModel, PluginHost, type DataModel as DM } from '../../src/datamodel/index.ts';
import { webPlugin } from '../../src/web/index.ts';
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
