// Pending Inform events (src/cwmp/events.ts): an event or a value change recorded while the Inform that
// carries the same code is in flight is not acknowledged with it (TR-069 Amendment 6 §3.7.1.5: an event is
// kept until delivered; A.3.3.1: a changed parameter goes in the ParameterList with "4 VALUE CHANGE").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { StateAccess } from '../../src/datamodel/index.ts';
import { EV, PendingEvents } from '../../src/cwmp/events.ts';
import { ScriptedAcs, arr, text, valueMap, type Session } from './acs.ts';
import { startAgent } from './harness.ts';

function memState(): StateAccess {
  const m = new Map<string, string>();
  return { get: (k) => m.get(k), set: (k, v) => { m.set(k, v); }, delete: (k) => { m.delete(k); }, entries: () => [...m] };
}

const events = (s: Session) => arr(s.inform.body.Event.EventStruct).map((e: any) => text(e.EventCode)).sort();

test('acknowledging an Inform drops only what it carried: re-added events and changes stay pending', () => {
  const ev = new PendingEvents(memState());
  ev.addValueChanges(['Device.A', 'Device.B']);
  ev.add(EV.CONNECTION_REQUEST);
  const inform = ev.snapshot();
  // While the Inform is in flight: B changes again, C changes, another connection request comes in.
  ev.addValueChanges(['Device.B', 'Device.C']);
  ev.add(EV.CONNECTION_REQUEST);
  ev.add(EV.BOOT);
  ev.delivered(inform);
  assert.deepEqual(ev.list().map((e) => e.EventCode).sort(), [EV.BOOT, EV.VALUE_CHANGE, EV.CONNECTION_REQUEST]);
  assert.deepEqual(ev.valueChanges().sort(), ['Device.B', 'Device.C']);
  // The next Inform carries all of it; acknowledging it leaves nothing.
  ev.delivered(ev.snapshot());
  assert.deepEqual(ev.list(), []);
  assert.deepEqual(ev.valueChanges(), []);
});

test('events written before sequence numbers existed are still delivered and acknowledged', () => {
  const st = memState();
  st.set('events', JSON.stringify([{ EventCode: EV.VALUE_CHANGE, CommandKey: '' }, { EventCode: EV.M_REBOOT, CommandKey: 'k' }]));
  st.set('valueChanges', JSON.stringify(['Device.A']));
  const ev = new PendingEvents(st);
  const inform = ev.snapshot();
  assert.deepEqual(inform.events.map((e) => e.EventCode), [EV.VALUE_CHANGE, EV.M_REBOOT]);
  assert.deepEqual(ev.valueChanges(), ['Device.A']);
  ev.delivered(inform);
  assert.deepEqual(ev.list(), []);
  assert.deepEqual(ev.valueChanges(), []);
});

test('a value change while the Inform is in flight keeps "4 VALUE CHANGE" for the next Inform', async (t) => {
  // The strict ACS refuses an Inform that reports a changed parameter without "4 VALUE CHANGE": ACS presets
  // keyed on that event would never see the change.
  const acs = await new ScriptedAcs().start();
  t.after(() => acs.stop());
  const boot = acs.nextSession();
  const agent = await startAgent(acs);
  t.after(() => agent.stop());
  await boot;
  await agent.client.idle();
  const { dm, client } = agent;
  dm.setAttributes([{ path: 'Device.DeviceInfo.HostName', notification: 1 }, { path: 'Device.ManagementServer.PeriodicInformInterval', notification: 1 }]);
  dm.set({ 'Device.DeviceInfo.HostName': 'gw-a' }, 'web');

  // Between the Inform and its InformResponse: HostName changes again and another parameter changes.
  acs.beforeInformResponse = () => {
    acs.beforeInformResponse = undefined;
    dm.set({ 'Device.DeviceInfo.HostName': 'gw-b', 'Device.ManagementServer.PeriodicInformInterval': '7200' }, 'web');
  };
  const first = acs.nextSession();
  client.requestSession(EV.CONNECTION_REQUEST, true);
  const s1 = await first;
  assert.deepEqual(events(s1), [EV.VALUE_CHANGE, EV.CONNECTION_REQUEST]);
  assert.equal(valueMap(s1.inform.body.ParameterList).get('Device.DeviceInfo.HostName'), 'gw-a');
  await client.idle();

  const second = acs.nextSession();
  client.requestSession(EV.CONNECTION_REQUEST, true);
  const s2 = await second;
  assert.deepEqual(events(s2), [EV.VALUE_CHANGE, EV.CONNECTION_REQUEST]);
  const values = valueMap(s2.inform.body.ParameterList);
  assert.equal(values.get('Device.DeviceInfo.HostName'), 'gw-b', 'the later value is reported too');
  assert.equal(values.get('Device.ManagementServer.PeriodicInformInterval'), '7200');
  await client.idle();
  assert.deepEqual(client.events.list(), []);
  assert.deepEqual(client.events.valueChanges(), []);
  acs.validateAll();
});
