// Sessions the CPE starts on its own: Reboot ("M Reboot" + "1 BOOT" after the restart), FactoryReset,
// Download with TransferComplete in a later session (success and failure codes), HoldRequests,
// ScheduleInform, periodic inform and active notification.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScriptedAcs, arr, text, valueMap, type Session } from './acs.ts';
import { startAgent } from './harness.ts';

const events = (s: Session) => arr(s.inform.body.Event.EventStruct).map((e: any) => `${text(e.EventCode)}|${text(e.CommandKey)}`).sort();

function tmp(t: { after(fn: () => unknown): void }) {
  const dir = mkdtempSync(join(tmpdir(), 'cwmp-life-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('Reboot: hook after the session, then 1 BOOT + M Reboot with the CommandKey', async (t) => {
  const dir = tmp(t);
  const acs = await new ScriptedAcs().start();
  t.after(() => acs.stop());
  acs.onSession(async (s) => { assert.equal((await s.call('Reboot', '<CommandKey>rb-7</CommandKey>')).method, 'RebootResponse'); });
  const first = acs.nextSession();
  const a1 = await startAgent(acs, { file: join(dir, 'db') });
  await first;
  await a1.client.idle();
  assert.equal(a1.calls.reboot, 1);
  await a1.stop();
  const second = acs.nextSession();
  const a2 = await startAgent(acs, { file: join(dir, 'db') });
  t.after(() => a2.stop());
  const s = await second;
  assert.deepEqual(events(s), ['1 BOOT|', '4 VALUE CHANGE|', 'M Reboot|rb-7']);
  acs.validateAll();
});

test('FactoryReset calls the hook after the session', async (t) => {
  const acs = await new ScriptedAcs().start();
  t.after(() => acs.stop());
  acs.onSession(async (s) => { assert.equal((await s.call('FactoryReset')).method, 'FactoryResetResponse'); });
  const first = acs.nextSession();
  const agent = await startAgent(acs);
  t.after(() => agent.stop());
  await first;
  await agent.client.idle();
  assert.equal(agent.calls.factoryReset, 1);
  acs.validateAll();
});

test('Download: file fetched and installed, TransferComplete in a later session; HoldRequests defers it', async (t) => {
  const dir = tmp(t);
  const files = Fastify();
  const firmware = Buffer.alloc(4096, 7);
  files.get('/fw.bin', async (_req, reply) => reply.type('application/octet-stream').send(firmware));
  await files.listen({ host: '127.0.0.1', port: 0 });
  t.after(() => files.close());
  const base = `http://127.0.0.1:${(files.server.address() as { port: number }).port}`;
  const dl = (key: string, path: string, size: number) =>
    `<CommandKey>${key}</CommandKey><FileType>1 Firmware Upgrade Image</FileType><URL>${base}${path}</URL><Username></Username><Password></Password><FileSize>${size}</FileSize><TargetFileName>fw.bin</TargetFileName><DelaySeconds>0</DelaySeconds><SuccessURL></SuccessURL><FailureURL></FailureURL>`;

  const acs = await new ScriptedAcs({ holdRequests: true }).start();
  t.after(() => acs.stop());
  acs.onSession(async (s) => {
    const r = await s.call('Download', dl('fw-1', '/fw.bin', firmware.length));
    assert.equal(r.method, 'DownloadResponse');
    assert.equal(text(r.body.Status), '1');
  });
  const first = acs.nextSession();
  const agent = await startAgent(acs, { downloadsDir: dir });
  t.after(() => agent.stop());
  await first;
  // The finished transfer opens a session; HoldRequests keeps the CPE from sending TransferComplete in it.
  const held = await acs.nextSession();
  assert.deepEqual(events(held), ['7 TRANSFER COMPLETE|', 'M Download|fw-1']);
  assert.ok(!held.messages.some((m) => m.method === 'TransferComplete'));
  assert.deepEqual(agent.calls.installs.map((i) => i.fileType), ['1 Firmware Upgrade Image']);
  assert.deepEqual(readFileSync(agent.calls.installs[0].path), firmware);

  // Without HoldRequests the next session delivers it; then the events are gone.
  acs.opts.holdRequests = false;
  acs.onSession(async (s) => { assert.equal((await s.call('Download', dl('fw-2', '/missing.bin', 0))).method, 'DownloadResponse'); });
  const next = acs.nextSession();
  agent.client.requestSession('6 CONNECTION REQUEST', true);
  const s2 = await next;
  const tc = s2.messages.find((m) => m.method === 'TransferComplete')!;
  assert.equal(text(tc.body.CommandKey), 'fw-1');
  assert.equal(text(tc.body.FaultStruct.FaultCode), '0');
  // The failed second download (404) reports 9016.
  const s3 = await acs.nextSession();
  assert.deepEqual(events(s3), ['7 TRANSFER COMPLETE|', 'M Download|fw-2']);
  const tc2 = s3.messages.find((m) => m.method === 'TransferComplete')!;
  assert.equal(text(tc2.body.FaultStruct.FaultCode), '9016');
  await agent.client.idle();
  assert.deepEqual(agent.client.events.list(), []);
  acs.validateAll();
});

test('ScheduleInform, periodic inform and active notification start sessions', async (t) => {
  const acs = await new ScriptedAcs().start();
  t.after(() => acs.stop());
  acs.onSession(async (s) => {
    assert.equal((await s.call('ScheduleInform', '<DelaySeconds>1</DelaySeconds><CommandKey>later</CommandKey>')).method, 'ScheduleInformResponse');
  });
  const first = acs.nextSession();
  const agent = await startAgent(acs);
  t.after(() => agent.stop());
  await first;
  assert.deepEqual(events(await acs.nextSession()), ['3 SCHEDULED|', 'M ScheduleInform|later']);

  const active = acs.nextSession();
  agent.dm.setAttributes([{ path: 'Device.DeviceInfo.HostName', notification: 2 }]);
  agent.dm.set({ 'Device.DeviceInfo.HostName': 'gw-1' }, 'web');
  const s = await active;
  assert.deepEqual(events(s), ['4 VALUE CHANGE|']);
  assert.equal(valueMap(s.inform.body.ParameterList).get('Device.DeviceInfo.HostName'), 'gw-1');

  // DefaultActiveNotificationThrottle: the next active-notification session waits out the throttle.
  await agent.client.idle();
  agent.dm.set({ 'Device.ManagementServer.DefaultActiveNotificationThrottle': '1' }, 'web');
  const ended = Date.now();
  const throttled = acs.nextSession();
  agent.dm.set({ 'Device.DeviceInfo.HostName': 'gw-1b' }, 'web');
  await throttled;
  assert.ok(Date.now() - ended >= 900, `throttled session after ${Date.now() - ended} ms`);

  // Passive notification waits for the next session; periodic inform every second brings it.
  agent.dm.setAttributes([{ path: 'Device.DeviceInfo.HostName', notification: 1 }]);
  agent.dm.set({ 'Device.DeviceInfo.HostName': 'gw-2' }, 'web');
  await agent.client.idle();
  const periodic = acs.nextSession();
  agent.dm.set({ 'Device.ManagementServer.PeriodicInformInterval': '1', 'Device.ManagementServer.PeriodicInformEnable': 'true' }, 'web');
  const p = await periodic;
  assert.deepEqual(events(p), ['2 PERIODIC|', '4 VALUE CHANGE|']);
  assert.equal(valueMap(p.inform.body.ParameterList).get('Device.DeviceInfo.HostName'), 'gw-2');
  acs.validateAll();
});
