// Acceptance 1 and 2: the scripted ACS replays the session a real ACS drives (Inform, empty POST, a
// GetParameterNames walk from "", GetParameterValues in batches of 32, SetParameterValues with xsi:type,
// AddObject then GetParameterNames on the parent, 204); every CPE message validates against the XSD.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ScriptedAcs, arr, names, pvs, text, valueMap } from './acs.ts';
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

  assert.equal(seen.spvStatus, '0');
  assert.equal(dm.getValue('Device.ManagementServer.PeriodicInformInterval'), '600');
  assert.equal(dm.getValue('Device.DeviceInfo.ProvisioningCode'), 'ISP.Gold');
  assert.equal(dm.getValue('Device.ManagementServer.ParameterKey'), 'key-2');
  assert.ok(seen.instance >= 1);
  assert.ok(seen.parentNames.includes(`Device.DNS.Client.Server.${seen.instance}.`), `${seen.parentNames}`);
  assert.ok(acs.validateAll() > seen.batches);
});
