// Acceptance 1 and 2: the scripted ACS replays the session a real ACS drives (Inform, empty POST, a
// GetParameterNames walk from "", GetParameterValues in batches of 32, SetParameterValues with xsi:type,
// AddObject then GetParameterNames on the parent, 204); every CPE message validates against the XSD.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FORCED_INFORM, ScriptedAcs, arr, names, pvs, text, valueMap } from './acs.ts';
import { startAgent } from './harness.ts';

test('a real-ACS session: walk, batched GPV, SPV with xsi:type, AddObject, 204', async (t) => {
  const acs = await new ScriptedAcs().start();
  t.after(() => acs.stop());
  const seen = { params: [] as string[], values: new Map<string, string>(), batches: 0, spvStatus: '', instance: 0, parentNames: [] as string[] };
  acs.onSession(async (s) => {
    // Walk the tree level by level as ACSes do on first contact.
    const root = await s.call('GetParameterNames', '<ParameterPath></ParameterPath><NextLevel>true</NextLevel>');
    assert.equal(root.method, 'GetParameterNamesResponse');
    const queue = arr(root.body.ParameterList.ParameterInfoStruct).map((p: any) => text(p.Name));
    assert.deepEqual(queue, ['Device.']);
    while (queue.length) {
      const obj = queue.shift()!;
      const r = await s.call('GetParameterNames', `<ParameterPath>${obj}</ParameterPath><NextLevel>1</NextLevel>`);
      assert.equal(r.method, 'GetParameterNamesResponse', `GPN ${obj}`);
      for (const p of arr(r.body.ParameterList.ParameterInfoStruct)) {
        const n = text((p as any).Name);
        if (n.endsWith('.')) queue.push(n);
        else seen.params.push(n);
      }
    }
    for (let i = 0; i < seen.params.length; i += 32) {
      const r = await s.call('GetParameterValues', names(seen.params.slice(i, i + 32)));
      assert.equal(r.method, 'GetParameterValuesResponse');
      for (const [k, v] of valueMap(r.body.ParameterList)) seen.values.set(k, v);
      seen.batches++;
    }
    const spv = await s.call('SetParameterValues', pvs([
      ['Device.ManagementServer.PeriodicInformInterval', '600', 'unsignedInt'],
      ['Device.ManagementServer.PeriodicInformEnable', 'true', 'boolean'],
      ['Device.DeviceInfo.ProvisioningCode', 'ISP.Gold', 'string'],
    ]) + '<ParameterKey>key-1</ParameterKey>');
    seen.spvStatus = text(spv.body.Status);
    const add = await s.call('AddObject', '<ObjectName>Device.DNS.Client.Server.</ObjectName><ParameterKey>key-2</ParameterKey>');
    seen.instance = Number(text(add.body.InstanceNumber));
    const parent = await s.call('GetParameterNames', '<ParameterPath>Device.DNS.Client.Server.</ParameterPath><NextLevel>true</NextLevel>');
    seen.parentNames = arr(parent.body.ParameterList.ParameterInfoStruct).map((p: any) => text(p.Name));
  });
  const done = acs.nextSession();
  const agent = await startAgent(acs);
  t.after(() => agent.stop());
  const s = await done;
  const { dm } = agent;

  const events = arr(s.inform.body.Event.EventStruct).map((e: any) => text(e.EventCode));
  assert.ok(events.includes('0 BOOTSTRAP') && events.includes('1 BOOT'), `events ${events}`);
  const informValues = valueMap(s.inform.body.ParameterList);
  for (const p of ['Device.RootDataModelVersion', 'Device.DeviceInfo.HardwareVersion', 'Device.DeviceInfo.SoftwareVersion', 'Device.DeviceInfo.ProvisioningCode',
    'Device.ManagementServer.ParameterKey', 'Device.ManagementServer.ConnectionRequestURL', 'Device.ManagementServer.AliasBasedAddressing'])
    assert.ok(informValues.has(p), `Inform lacks ${p}`);
  assert.equal(informValues.get('Device.ManagementServer.ConnectionRequestURL'), agent.client.connectionRequestUrl);

  // The walk found exactly the CWMP view of the tree, and GPV returned its values.
  const expected = dm.get('Device.', { protocol: 'cwmp' }).filter((v) => !v.path.startsWith(`Device.DNS.Client.Server.${seen.instance}.`));
  assert.equal(seen.params.length, expected.length);
  assert.equal(seen.batches, Math.ceil(expected.length / 32));
  assert.ok(!seen.params.some((p) => p.startsWith('Device.LocalAgent.')), 'USP-only objects are hidden');
  assert.equal(seen.values.get('Device.ManagementServer.Password'), '', 'credentials read as ""');
  assert.equal(seen.values.get('Device.DeviceInfo.Manufacturer'), 'twinstack');
  // TR-181 ManagementServer: the connection request methods offered (HTTP only), tables an ACS reads the size of.
  assert.equal(seen.values.get('Device.ManagementServer.SupportedConnReqMethods'), 'HTTP');
  assert.equal(seen.values.get('Device.ManagementServer.ManageableDeviceNumberOfEntries'), '0');
  assert.equal(seen.values.get('Device.ManagementServer.InformParameterNumberOfEntries'), '0');

  assert.equal(seen.spvStatus, '0');
  assert.equal(dm.getValue('Device.ManagementServer.PeriodicInformInterval'), '600');
  assert.equal(dm.getValue('Device.DeviceInfo.ProvisioningCode'), 'ISP.Gold');
  assert.equal(dm.getValue('Device.ManagementServer.ParameterKey'), 'key-2');
  assert.ok(seen.instance >= 1);
  assert.ok(seen.parentNames.includes(`Device.DNS.Client.Server.${seen.instance}.`), `${seen.parentNames}`);
  assert.ok(acs.validateAll() > seen.batches);
});

test('InformParameter: enabled entries ride in the Inform for their events; forced names and "4 VALUE CHANGE" are refused', async (t) => {
  // TR-181 Device.ManagementServer.InformParameter.{i}. (TR-069 Amd 6 A.3.3.1 Inform ParameterList): each enabled
  // entry's parameters go in every Inform that delivers one of its EventList events; an empty EventList means all
  // events but "4 VALUE CHANGE". Forced Inform parameters and "4 VALUE CHANGE" in EventList fail the set (9007).
  const acs = await new ScriptedAcs().start();
  t.after(() => acs.stop());
  const IP = 'Device.ManagementServer.InformParameter.';
  acs.informParameters = ['Device.DeviceInfo.UpTime', 'Device.DeviceInfo.HostName', 'Device.DNS.Client.Server.*.DNSServer'];
  const got: Record<string, string> = {};
  const spvFaults: Record<string, number>[] = [];
  const spvFault = (r: { body: any }) => Object.fromEntries(arr(r.body?.detail?.Fault?.SetParameterValuesFault).map((p: any) => [text(p.ParameterName), Number(text(p.FaultCode))]));
  acs.onSession(async (s) => {
    for (const [n, addr] of [[1, '192.0.2.53'], [2, '192.0.2.54']] as const) {
      assert.equal(text((await s.call('AddObject', '<ObjectName>Device.DNS.Client.Server.</ObjectName><ParameterKey></ParameterKey>')).body.InstanceNumber), String(n));
      assert.equal((await s.call('SetParameterValues', pvs([[`Device.DNS.Client.Server.${n}.DNSServer`, addr, 'string']]) + '<ParameterKey></ParameterKey>')).method, 'SetParameterValuesResponse');
    }
    for (let i = 1; i <= 4; i++) assert.equal(text((await s.call('AddObject', `<ObjectName>${IP}</ObjectName><ParameterKey></ParameterKey>`)).body.InstanceNumber), String(i));
    const spv = await s.call('SetParameterValues', pvs([
      [`${IP}1.Enable`, 'true', 'boolean'], [`${IP}1.ParameterName`, 'Device.DeviceInfo.UpTime', 'string'],
      [`${IP}2.Enable`, 'true', 'boolean'], [`${IP}2.ParameterName`, 'Device.DeviceInfo.HostName', 'string'], [`${IP}2.EventList`, '6 CONNECTION REQUEST', 'string'],
      [`${IP}3.Enable`, 'false', 'boolean'], [`${IP}3.ParameterName`, 'Device.DeviceInfo.ModelName', 'string'],
      [`${IP}4.Enable`, 'true', 'boolean'], [`${IP}4.ParameterName`, 'Device.DNS.Client.Server.*.DNSServer', 'string'], [`${IP}4.EventList`, '3 SCHEDULED,1 BOOT', 'string'],
    ]) + '<ParameterKey>ip</ParameterKey>');
    got.spv = spv.method === 'Fault' ? JSON.stringify(spvFault(spv)) : text(spv.body.Status);
    for (const [name, value] of [
      ['ParameterName', 'Device.DeviceInfo.SoftwareVersion'], // forced Inform parameter
      ['ParameterName', 'Device.ManagementServer.ConnectionRequestURL'], // forced Inform parameter
      ['ParameterName', 'Device.DeviceInfo.'], // an object, not a parameter
      ['ParameterName', 'Device.DeviceInfo.NoSuchThing'],
      ['ParameterName', 'Device.DNS.Client.*.DNSServer'], // "*" where no instance number goes
      ['ParameterName', 'Device.DeviceInfo.UpTime'], // already entry 1 (unique key)
      ['EventList', '2 PERIODIC,4 VALUE CHANGE'],
    ]) spvFaults.push(spvFault(await s.call('SetParameterValues', pvs([[`${IP}3.${name}`, value, 'string']]) + '<ParameterKey>bad</ParameterKey>')));
    got.count = text(valueMap((await s.call('GetParameterValues', names(['Device.ManagementServer.InformParameterNumberOfEntries']))).body.ParameterList).get('Device.ManagementServer.InformParameterNumberOfEntries'));
    assert.equal((await s.call('ScheduleInform', '<DelaySeconds>1</DelaySeconds><CommandKey>ip</CommandKey>')).method, 'ScheduleInformResponse');
  });
  const first = acs.nextSession();
  const agent = await startAgent(acs);
  t.after(() => agent.stop());
  await first;
  assert.equal(got.spv, '0');
  assert.equal(got.count, '4');
  assert.deepEqual(spvFaults, [
    { [`${IP}3.ParameterName`]: 9007 }, { [`${IP}3.ParameterName`]: 9007 }, { [`${IP}3.ParameterName`]: 9007 }, { [`${IP}3.ParameterName`]: 9007 },
    { [`${IP}3.ParameterName`]: 9007 }, { [`${IP}3.ParameterName`]: 9007 }, { [`${IP}3.EventList`]: 9007 },
  ]);
  const listed = (s: { inform: { body: any } }) => [...valueMap(s.inform.body.ParameterList).keys()].filter((n) => !FORCED_INFORM.has(n)).sort();

  // "3 SCHEDULED" + "M ScheduleInform": entry 1 (all events) and entry 4 (its list); not 2 (CONNECTION REQUEST only), not 3 (disabled).
  const scheduled = await acs.nextSession();
  assert.deepEqual(listed(scheduled), ['Device.DNS.Client.Server.1.DNSServer', 'Device.DNS.Client.Server.2.DNSServer', 'Device.DeviceInfo.UpTime']);
  assert.equal(valueMap(scheduled.inform.body.ParameterList).get('Device.DNS.Client.Server.2.DNSServer'), '192.0.2.54');
  await agent.client.idle();

  const cr = acs.nextSession();
  agent.client.requestSession('6 CONNECTION REQUEST', true);
  assert.deepEqual(listed(await cr), ['Device.DeviceInfo.HostName', 'Device.DeviceInfo.UpTime']);
  await agent.client.idle();

  // An Inform for "4 VALUE CHANGE" alone carries the changed parameter and the forced ones, nothing else.
  const vc = acs.nextSession();
  agent.dm.set({ 'Device.DeviceInfo.ProvisioningCode': 'changed' }, 'web');
  const v = await vc;
  assert.deepEqual(arr(v.inform.body.Event.EventStruct).map((e: any) => text(e.EventCode)), ['4 VALUE CHANGE']);
  assert.deepEqual(listed(v), []);
  acs.validateAll();
});
