// Controller trust, MQTT 3.1.1, OnBoardRequest retries, Periodic!, and reconnecting after a broker restart.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeMsg, decodeRecord, wrapMsg } from '../../src/usp/codec.ts';
import { AGENT_EID, CTRL_EID, Mosquitto, RawController, sleep, startAgent, until, uspJs } from './fixture.ts';

test('read-only role: reads and subscriptions allowed, writes, adds, deletes and commands refused (7006)', async (t) => {
  const m = await Mosquitto.start();
  t.after(() => m.stop());
  const a = await startAgent(m.port);
  t.after(() => a.stop());
  const ctrl = a.dm.add('Device.LocalAgent.Controller.', 'system', { EndpointID: 'proto::ro', Enable: 'true', AssignedRole: 'Device.LocalAgent.ControllerTrust.Role.2' }, 'usp').path;
  const mtp = a.dm.add(`${ctrl}MTP.`, 'system', { Enable: 'true', Protocol: 'MQTT' }, 'usp').path;
  a.dm.set({ [`${mtp}MQTT.Topic`]: '/usp/ro' }, 'system', 'usp');
  const usp = await uspJs(m.port, { fromId: 'proto::ro', subscribeEndpoint: '/usp/ro' });
  t.after(() => usp.disconnect());
  assert.equal(await usp.get('Device.LocalAgent.EndpointID'), AGENT_EID);
  const set = await usp.set('Device.X_TWINSTACK-ORG_Failover.RecoveryInterval', '20').catch((e: unknown) => e);
  assert.equal(set.updatedInstFailures[0].paramErrs[0].errCode, 7006);
  assert.equal((await usp.add('Device.NAT.InterfaceSetting.', {}).catch((e: unknown) => e)).errCode, 7006);
  a.dm.add('Device.NAT.InterfaceSetting.', 'system');
  assert.equal((await usp.del('Device.NAT.InterfaceSetting.1.').catch((e: unknown) => e)).errCode, 7006);
  const [reboot] = await usp.operate('Device.Reboot()', { isAsync: false });
  assert.equal((await reboot({}).catch((e: unknown) => e)).errCode, 7006);
  assert.equal(a.hooks.reboots, 0);
  const got: unknown[] = [];
  await usp.subscribe({ id: 'ro', notif: 'ValueChange', reference: 'Device.X_TWINSTACK-ORG_Failover.Mode' }, (msg: unknown) => got.push(msg));
  a.dm.set({ 'Device.X_TWINSTACK-ORG_Failover.Mode': 'DualStack' }, 'system');
  await until(() => got.length === 1, 3000, 'read-only controller notified');
  // Taking the role away removes access at the next message.
  a.dm.set({ [`${ctrl}AssignedRole`]: '' }, 'system', 'usp');
  const denied = await usp.get('Device.LocalAgent.EndpointID').catch((e: unknown) => e);
  assert.equal(denied.errCode, 7006);
});

test('MQTT 3.1.1: replies go to the controller topic with a reply-to suffix (R-MQTT.24)', async (t) => {
  const m = await Mosquitto.start();
  t.after(() => m.stop());
  const a = await startAgent(m.port, {}, '3.1.1');
  t.after(() => a.stop());
  const usp = await uspJs(m.port, { subscribeEndpoint: '/usp/controller/#' });
  t.after(() => usp.disconnect());
  assert.equal(await usp.get('Device.LocalAgent.EndpointID'), AGENT_EID);
  const raw = await RawController.connect(m.port, '/usp/controller', 4);
  t.after(() => raw.close());
  let topic = '';
  raw.client.on('message', (tp) => { topic = tp; });
  raw.client.publish('/usp/agent/reply-to=%2Fusp%2Fcontroller%2Fx', Buffer.from(wrapMsg(AGENT_EID, CTRL_EID, { header: { msg_id: 'r1', msg_type: 'GET' }, body: { request: { get: { param_paths: ['Device.LocalAgent.EndpointID'] } } } })));
  const rec = decodeRecord(await raw.next(0));
  assert.equal(decodeMsg(rec.no_session_context!.payload).header.msg_type, 'GET_RESP');
  assert.equal(topic, '/usp/controller/x/reply-to=%2Fusp%2Fagent');
});

test('OnBoardRequest is retried until a NotifyResp; Periodic! follows PeriodicNotifInterval', async (t) => {
  const m = await Mosquitto.start();
  t.after(() => m.stop());
  const raw = await RawController.connect(m.port);
  t.after(() => raw.close());
  const { DataModel, PluginHost } = await import('../../src/datamodel/index.ts');
  const { seed, uspPlugin } = await import('../../src/usp/index.ts');
  const dm = new DataModel({ file: ':memory:' });
  const config = {
    endpointId: AGENT_EID, broker: { host: '127.0.0.1', port: m.port, agentTopic: '/usp/agent' },
    controller: { endpointId: CTRL_EID, topic: '/usp/controller', periodicNotifInterval: 1 },
  };
  seed(dm, config);
  // Fast retries for the test: 1 s, multiplier 1.0 (TR-181 USPNotifRetry*).
  dm.set({ 'Device.LocalAgent.Controller.1.USPNotifRetryMinimumWaitInterval': '1', 'Device.LocalAgent.Controller.1.USPNotifRetryIntervalMultiplier': '1000' }, 'system', 'usp');
  dm.add('Device.LocalAgent.Subscription.', 'system', { Enable: 'true', ID: 'per', NotifType: 'Event', ReferenceList: 'Device.LocalAgent.Periodic!', Recipient: 'Device.LocalAgent.Controller.1', Persistent: 'true' }, 'usp');
  const { default: pino } = await import('pino');
  const host = new PluginHost(dm, [uspPlugin(config, { reboot() {}, factoryReset() {} })], pino({ level: 'silent' }));
  await host.start();
  t.after(async () => { await host.stop(); dm.close(); });
  const notifies = () => raw.received.map((b) => decodeRecord(b)).filter((r) => r.record_type === 'no_session_context')
    .map((r) => decodeMsg(r.no_session_context!.payload)).filter((x) => x.header.msg_type === 'NOTIFY');
  const onboards = () => notifies().filter((x) => (x.body.request as { notify: { on_board_req?: unknown } }).notify.on_board_req);
  await until(() => onboards().length >= 2, 5000, 'OnBoardRequest sent twice');
  const ob = onboards()[0];
  const n = ob.body.request as unknown as { notify: { send_resp: boolean; subscription_id: string; on_board_req: { agent_supported_protocol_versions: string } } };
  assert.equal(n.notify.send_resp, true);
  assert.equal(n.notify.on_board_req.agent_supported_protocol_versions, '1.3,1.4');
  assert.equal(new Set(onboards().map((x) => x.header.msg_id)).size, 1, 'retries keep the msg_id');
  raw.publish(wrapMsg(AGENT_EID, CTRL_EID, { header: { msg_id: ob.header.msg_id, msg_type: 'NOTIFY_RESP' }, body: { response: { notify_resp: { subscription_id: '' } } } }));
  await until(() => dm.state('usp').get(`onboarded:${CTRL_EID}`) === '1', 3000, 'onboarded flag');
  const count = onboards().length;
  await sleep(2200);
  assert.equal(onboards().length, count, 'no retry after the NotifyResp');
  const periodic = notifies().filter((x) => (x.body.request as { notify: { event?: { event_name: string } } }).notify.event?.event_name === 'Periodic!');
  assert.ok(periodic.length >= 2, `Periodic! events: ${periodic.length}`);
});

test('reconnects after a broker restart and sends MQTTConnect again', async (t) => {
  const m = await Mosquitto.start();
  t.after(() => m.stop());
  const a = await startAgent(m.port);
  t.after(() => a.stop());
  a.dm.set({ 'Device.MQTT.Client.1.ConnectRetryTime': '1', 'Device.MQTT.Client.1.ConnectRetryIntervalMultiplier': '1000' }, 'system', 'usp');
  await until(() => a.dm.getValue('Device.MQTT.Client.1.Status') === 'Connected', 5000, 'reconnected with new settings');
  await m.kill();
  await until(() => a.dm.getValue('Device.MQTT.Client.1.Status') !== 'Connected', 5000, 'disconnect noticed');
  assert.equal(a.dm.getValue('Device.LocalAgent.MTP.1.Status'), 'Down');
  await sleep(1500); // at least one failed attempt while the broker is down
  await m.run();
  const raw = await RawController.connect(m.port);
  t.after(() => raw.close());
  const rec = decodeRecord(await raw.next(0, 8000));
  assert.equal(rec.record_type, 'mqtt_connect');
  assert.deepEqual(rec.mqtt_connect, { version: 'V5', subscribed_topic: '/usp/agent' });
  assert.equal(a.dm.getValue('Device.LocalAgent.MTP.1.Status'), 'Up');
  const usp = await uspJs(m.port);
  t.after(() => usp.disconnect());
  assert.equal(await usp.get('Device.LocalAgent.EndpointID'), AGENT_EID);
});
