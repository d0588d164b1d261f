// Device.Boot! (TR-181 2.16 USP): Cause and CommandKey of the boot, kept across the restart in the boot journal
// (src/device/boot.ts). Tables for the rules, the plug-in in process, then the real agent rebooted by a USP
// controller over mosquitto, by the CLI, killed, and factory reset, each Boot! seen after the restart.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import { DataModel, PluginHost, type EventOccurrence, type Origin } from '../../src/datamodel/index.ts';
import { BOOT_FILE, BootJournal, bootEvent, causeOf, parseBootRecord, type BootRecord, type RestartRequest } from '../../src/device/boot.ts';
import { devicePlugin, SOFTWARE_VERSION } from '../../src/device/index.ts';
import { decodeMsg, decodeRecord, wrapMsg } from '../../src/usp/codec.ts';
import { arr, ScriptedAcs, text } from '../cwmp/acs.ts';
import { AGENT_EID, AGENT_TOPIC, CTRL_EID, CTRL_TOPIC, Mosquitto, RawController } from '../usp/fixture.ts';
import { waitFor } from '../wait.ts';
import { AgentRun, QUIET_FACES } from './agent.ts';

const IDENTITY = { manufacturer: 'twinstack', manufacturerOUI: '000000', modelName: 'gw', productClass: 'HomeGateway', hardwareVersion: 'sim-1' };

test('causeOf: remote management protocols are Remote, the CLI, the web page and the agent itself Local', () => {
  const table: [boolean, Origin, string][] = [
    [false, 'usp', 'RemoteReboot'], [false, 'cwmp', 'RemoteReboot'], [false, 'snmp', 'RemoteReboot'],
    [false, 'cli', 'LocalReboot'], [false, 'web', 'LocalReboot'], [false, 'system', 'LocalReboot'],
    [true, 'usp', 'RemoteFactoryReset'], [true, 'cwmp', 'RemoteFactoryReset'], [true, 'snmp', 'RemoteFactoryReset'],
    [true, 'cli', 'LocalFactoryReset'], [true, 'web', 'LocalFactoryReset'], [true, 'system', 'LocalFactoryReset'],
  ];
  for (const [reset, origin, cause] of table) assert.equal(causeOf(reset, origin), cause, `${reset ? 'FactoryReset' : 'Reboot'} from ${origin}`);
});

test('bootEvent: Boot! arguments from the journal of the last stop', () => {
  const rec = (cause: BootRecord['cause'], commandKey = '', softwareVersion = '0.1.0'): BootRecord => ({ cause, commandKey, softwareVersion, at: '' });
  const table: [BootRecord | null, string, string, Record<string, string>][] = [
    // No journal: a crash, a kill, a power cut. Not remote, so LocalReboot (the enumeration has nothing else).
    [null, '0.1.0', '0.1.0', { CommandKey: '', Cause: 'LocalReboot', FirmwareUpdated: 'false', ParameterMap: '{}' }],
    [null, '', '0.1.0', { CommandKey: '', Cause: 'LocalReboot', FirmwareUpdated: 'false', ParameterMap: '{}' }], // first start
    [null, '0.0.9', '0.1.0', { CommandKey: '', Cause: 'LocalReboot', FirmwareUpdated: 'true', ParameterMap: '{}' }],
    [rec('RemoteReboot', 'k-42'), '0.1.0', '0.1.0', { CommandKey: 'k-42', Cause: 'RemoteReboot', FirmwareUpdated: 'false', ParameterMap: '{}' }],
    [rec('RemoteReboot', 'fw'), '0.0.9', '0.1.0', { CommandKey: 'fw', Cause: 'RemoteReboot', FirmwareUpdated: 'true', ParameterMap: '{}' }],
    [rec('LocalReboot'), '0.1.0', '0.1.0', { CommandKey: '', Cause: 'LocalReboot', FirmwareUpdated: 'false', ParameterMap: '{}' }],
    [rec('RemoteFactoryReset', 'fr'), '0.1.0', '0.1.0', { CommandKey: 'fr', Cause: 'RemoteFactoryReset', FirmwareUpdated: 'false', ParameterMap: '{}' }],
    [rec('LocalFactoryReset'), '0.1.0', '0.1.0', { CommandKey: '', Cause: 'LocalFactoryReset', FirmwareUpdated: 'false', ParameterMap: '{}' }],
  ];
  for (const [r, previous, now, want] of table) assert.deepEqual(bootEvent(r, previous, now), want, JSON.stringify([r, previous, now]));
});

test('parseBootRecord: only a whole record with a Cause of the enumeration counts', () => {
  const ok = { cause: 'RemoteReboot', commandKey: 'k', softwareVersion: '0.1.0', at: '2026-01-01T00:00:00.000Z' };
  const table: [string, BootRecord | null][] = [
    [JSON.stringify(ok), ok as BootRecord],
    [JSON.stringify({ ...ok, at: undefined }), { ...ok, at: '' } as BootRecord],
    [JSON.stringify({ ...ok, cause: 'Reboot' }), null],
    [JSON.stringify({ ...ok, cause: 'FactoryReset' }), null],
    [JSON.stringify({ ...ok, commandKey: 1 }), null],
    [JSON.stringify({ ...ok, softwareVersion: undefined }), null],
    ['{"cause":"LocalReboot"', null],
    ['', null],
    ['null', null],
    ['[]', null],
  ];
  for (const [text, want] of table) assert.deepEqual(parseBootRecord(text), want, text);
});

test('BootJournal: written whole (0600, no temporary file left), read back, cleared; unreadable is none', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ts-journal-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const j = new BootJournal(dir);
  assert.equal(j.read(), null);
  const rec: BootRecord = { cause: 'RemoteFactoryReset', commandKey: 'x', softwareVersion: '0.1.0', at: '2026-01-01T00:00:00.000Z' };
  j.write(rec);
  assert.deepEqual(j.read(), rec);
  assert.equal(statSync(join(dir, BOOT_FILE)).mode & 0o777, 0o600);
  assert.deepEqual(readdirSync(dir), [BOOT_FILE]);
  j.write({ ...rec, cause: 'LocalReboot' });
  assert.equal(j.read()!.cause, 'LocalReboot');
  j.clear();
  assert.equal(j.read(), null);
  j.clear(); // nothing to clear
  writeFileSync(join(dir, BOOT_FILE), 'garbage');
  assert.equal(j.read(), null);
});

test('the device plug-in: Reboot()/FactoryReset() name their cause by origin; Boot! at start from the journal', async () => {
  const asked: RestartRequest[] = [];
  const events: EventOccurrence[] = [];
  const run = async (boot: BootRecord | null, stored: string) => {
    const dm = new DataModel({ file: ':memory:' });
    if (stored) dm.set({ 'Device.DeviceInfo.SoftwareVersion': stored }, 'system');
    dm.onEvent((e) => events.push(e));
    const host = new PluginHost(dm, [devicePlugin(IDENTITY, { reboot: (r) => { asked.push(r); }, factoryReset: (r) => { asked.push(r); }, boot })], pino({ level: 'silent' }));
    await host.start();
    return { dm, host };
  };
  const { dm, host } = await run({ cause: 'RemoteReboot', commandKey: 'k-1', softwareVersion: '0.0.1', at: '' }, '');
  assert.deepEqual(events, [{ path: 'Device.Boot!', params: { CommandKey: 'k-1', Cause: 'RemoteReboot', FirmwareUpdated: String(SOFTWARE_VERSION !== '0.0.1'), ParameterMap: '{}' } }]);
  for (const origin of ['usp', 'cli', 'web'] as const) {
    await dm.operate('Device.Reboot()', {}, origin);
    await dm.operate('Device.FactoryReset()', {}, origin);
  }
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(asked, [
    { cause: 'RemoteReboot', commandKey: '' }, { cause: 'RemoteFactoryReset', commandKey: '' },
    { cause: 'LocalReboot', commandKey: '' }, { cause: 'LocalFactoryReset', commandKey: '' },
    { cause: 'LocalReboot', commandKey: '' }, { cause: 'LocalFactoryReset', commandKey: '' },
  ]);
  await host.stop();
  dm.close();
  // No journal: no clean stop; the version stored by the agent that ran before tells whether it changed.
  events.length = 0;
  const second = await run(null, '0.0.1-old');
  assert.deepEqual(events.map((e) => e.params), [{ CommandKey: '', Cause: 'LocalReboot', FirmwareUpdated: 'true', ParameterMap: '{}' }]);
  assert.equal(second.dm.getValue('Device.DeviceInfo.SoftwareVersion'), SOFTWARE_VERSION);
  await second.host.stop();
  second.dm.close();
});

/** The Boot! events a controller has received so far, as their argument maps. */
function boots(ctrl: RawController): Record<string, string>[] {
  const out: Record<string, string>[] = [];
  for (const buf of ctrl.received) {
    const rec = decodeRecord(buf);
    if (!rec.no_session_context) continue;
    const msg = decodeMsg(rec.no_session_context.payload);
    const ev = (msg.body.request as { notify?: { event?: { obj_path: string; event_name: string; params: Record<string, string> } } } | undefined)?.notify?.event;
    if (ev?.obj_path === 'Device.' && ev.event_name === 'Boot!') out.push(ev.params);
  }
  return out;
}

/** A USP Operate of a command from the controller, with a command_key. */
const operate = (command: string, commandKey: string) => wrapMsg(AGENT_EID, CTRL_EID, {
  header: { msg_id: `op-${commandKey}`, msg_type: 'OPERATE' },
  body: { request: { operate: { command, command_key: commandKey, send_resp: true, input_args: {} } } },
});

/** The agent with USP over the broker, the controller of the fixture as its factory controller. */
const uspArgs = (port: number) => [...QUIET_FACES, '--web.enable=false', '--snmp.enable=false', `--usp.endpointId=${AGENT_EID}`, '--usp.onBoardRequest=false',
  '--usp.broker.host=127.0.0.1', `--usp.broker.port=${port}`, `--usp.broker.agentTopic=${AGENT_TOPIC}`,
  `--usp.controller.endpointId=${CTRL_EID}`, `--usp.controller.topic=${CTRL_TOPIC}`];

/** Waits until the agent's MQTT client is connected to the broker. */
const connected = (a: AgentRun) => waitFor('the agent connected to the broker', async () => {
  const r = await a.cli({ cmd: 'get', paths: ['Device.MQTT.Client.1.Status'] }).catch(() => undefined);
  return JSON.stringify(r?.result) === JSON.stringify([['Device.MQTT.Client.1.Status', 'Connected']]);
}, 15_000);

/** The controller's persistent subscription to Device.Boot! (USP Add; Persistent: it outlives a restart). */
async function subscribeBoot(ctrl: RawController) {
  const from = ctrl.received.length;
  const params = { Enable: 'true', ID: 'boot', NotifType: 'Event', ReferenceList: 'Device.Boot!', Persistent: 'true' };
  ctrl.publish(wrapMsg(AGENT_EID, CTRL_EID, {
    header: { msg_id: 'add-boot', msg_type: 'ADD' },
    body: { request: { add: { allow_partial: false, create_objs: [{ obj_path: 'Device.LocalAgent.Subscription.', param_settings: Object.entries(params).map(([param, value]) => ({ param, value, required: true })) }] } } },
  }));
  for (let i = from; ; i++) {
    const rec = decodeRecord(await ctrl.next(i, 10_000));
    if (!rec.no_session_context) continue; // the agent's MQTT connect record
    const resp = decodeMsg(rec.no_session_context.payload);
    if (resp.header.msg_id !== 'add-boot') continue;
    assert.equal(resp.header.msg_type, 'ADD_RESP', JSON.stringify(resp.body));
    return;
  }
}

/** A broker, a controller subscribed to Boot!, and an agent connected to it (all stopped after the test). */
async function uspAgent(t: { after(fn: () => unknown): void }) {
  const broker = await Mosquitto.start();
  t.after(() => broker.stop());
  const ctrl = await RawController.connect(broker.port);
  t.after(() => ctrl.close());
  const a = new AgentRun(uspArgs(broker.port));
  t.after(() => a.stop());
  await a.running(1);
  await connected(a);
  await subscribeBoot(ctrl);
  return { broker, ctrl, a };
}

test('end to end: Boot! after USP Reboot(), the CLI\'s reboot, kill -9, USP and CLI FactoryReset()', async (t) => {
  const { broker, ctrl, a } = await uspAgent(t);
  const journal = join(a.dir, BOOT_FILE);

  // USP Operate Device.Reboot(): a remote trigger.
  ctrl.publish(operate('Device.Reboot()', 'k-usp'));
  await a.running(2);
  const [usp] = await waitFor('Boot! after the USP Reboot()', async () => boots(ctrl).length >= 1 && boots(ctrl), 15_000);
  assert.deepEqual({ ...usp, CommandKey: undefined }, { Cause: 'RemoteReboot', FirmwareUpdated: 'false', ParameterMap: '{}', CommandKey: undefined });
  assert.equal(existsSync(journal), false, 'the journal is cleared once the agent runs');

  // The CLI (a local socket): a local trigger, no CommandKey.
  await a.cli({ cmd: 'operate', path: 'Device.Reboot()' });
  await a.running(3);
  const cli = await waitFor('Boot! after the CLI reboot', async () => boots(ctrl).length >= 2 && boots(ctrl)[1], 15_000);
  assert.deepEqual(cli, { CommandKey: '', Cause: 'LocalReboot', FirmwareUpdated: 'false', ParameterMap: '{}' });

  // kill -9: no clean stop recorded. Nobody restarts it (no supervisor): started again on the same directory.
  process.kill(a.pid, 'SIGKILL');
  await waitFor('the killed agent gone', async () => !existsSync(`/proc/${a.pid}`) || (await a.cli({ cmd: 'get', paths: ['Device.DeviceInfo.UpTime'] }).then(() => false, () => true)), 10_000);
  const b = new AgentRun(uspArgs(broker.port), { dir: a.dir });
  t.after(() => b.stop());
  await b.running(1);
  const crash = await waitFor('Boot! after kill -9', async () => boots(ctrl).length >= 3 && boots(ctrl)[2], 15_000);
  assert.deepEqual(crash, { CommandKey: '', Cause: 'LocalReboot', FirmwareUpdated: 'false', ParameterMap: '{}' });
  assert.deepEqual(b.logged('boot').map((l) => [l.cause, l.cleanStop]), [['LocalReboot', false]]);

  // USP FactoryReset(): the database is wiped at the next start, so the subscription is gone with it; the agent's
  // "boot" line carries what Boot! said. ProvisioningCode shows the wipe.
  assert.ok((await b.cli({ cmd: 'set', values: { 'Device.DeviceInfo.ProvisioningCode': 'before-reset' } })).ok);
  ctrl.publish(operate('Device.FactoryReset()', 'k-reset'));
  await b.running(2);
  assert.deepEqual(b.logged('boot').slice(1).map((l) => [l.cause, l.cleanStop]), [['RemoteFactoryReset', true]]);
  assert.equal(b.logged('factory reset: database removed').length, 1);
  assert.deepEqual((await b.cli({ cmd: 'get', paths: ['Device.DeviceInfo.ProvisioningCode', 'Device.LocalAgent.SubscriptionNumberOfEntries'] })).result,
    [['Device.DeviceInfo.ProvisioningCode', ''], ['Device.LocalAgent.SubscriptionNumberOfEntries', '0']]);
  assert.equal(existsSync(journal), false);

  // The CLI's factory reset: local.
  await b.cli({ cmd: 'operate', path: 'Device.FactoryReset()' });
  await b.running(3);
  assert.deepEqual(b.logged('boot').slice(2).map((l) => [l.cause, l.commandKey, l.cleanStop]), [['LocalFactoryReset', '', true]]);
  assert.equal(boots(ctrl).length, 3, 'no subscription survived the resets');
});

test('end to end: Boot! after USP Reboot() carries the Operate\'s command_key', async (t) => {
  const { broker, ctrl, a } = await uspAgent(t);
  ctrl.publish(operate('Device.Reboot()', 'k-42'));
  await a.running(2);
  const [boot] = await waitFor('Boot! after the USP Reboot()', async () => boots(ctrl).length >= 1 && boots(ctrl), 15_000);
  assert.deepEqual(boot, { CommandKey: 'k-42', Cause: 'RemoteReboot', FirmwareUpdated: 'false', ParameterMap: '{}' });
});

test('end to end: a CWMP Reboot RPC is a remote trigger: RemoteReboot; its CommandKey goes in the "M Reboot" Inform', async (t) => {
  const acs = await new ScriptedAcs().start();
  t.after(() => acs.stop());
  const bootstrap = acs.nextSession();
  const a = new AgentRun([...QUIET_FACES, '--cwmp.enable=true', '--cwmp.connectionRequest.address=127.0.0.1', '--cwmp.connectionRequest.port=0',
    `--cwmp.factoryDefaults.url=${acs.url}`, '--cwmp.factoryDefaults.periodicInformEnable=false']);
  t.after(() => a.stop());
  await a.running(1);
  await bootstrap;
  // A session of the ACS's own: an active notification opens it, the ACS calls Reboot in it.
  acs.onSession(async (s) => { await s.call('Reboot', '<CommandKey>acs-key</CommandKey>'); });
  const rpc = acs.nextSession();
  assert.ok((await a.cli({ cmd: 'attrs', paths: ['Device.DeviceInfo.ProvisioningCode'], set: { notification: 2 } })).ok);
  assert.ok((await a.cli({ cmd: 'set', values: { 'Device.DeviceInfo.ProvisioningCode': 'reboot-me' } })).ok);
  await rpc;
  const inform = await waitFor('the Inform after the reboot', async () => {
    const m = await acs.nextInform();
    const events = arr(m.body.Event?.EventStruct).map((e: { EventCode: unknown; CommandKey: unknown }) => [text(e.EventCode), text(e.CommandKey)]);
    return events.some(([code]) => code === '1 BOOT') && events;
  }, 30_000, 0);
  assert.deepEqual(inform.filter(([code]) => code === '1 BOOT' || code === 'M Reboot').sort(), [['1 BOOT', ''], ['M Reboot', 'acs-key']]);
  await a.running(2);
  // Device.Boot!'s CommandKey is the USP command_key only ("empty if the boot was not requested via a USP operation").
  assert.deepEqual(a.logged('boot').slice(1).map((l) => [l.cause, l.commandKey, l.cleanStop]), [['RemoteReboot', '', true]]);
});
