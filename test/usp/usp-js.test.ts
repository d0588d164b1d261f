// The agent driven by usp-js (npm) as the controller over a private mosquitto (MQTT 5): every message type,
// success and error cases, subscriptions fired by another front-end and by the failover's system write.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Mosquitto, sleep, startAgent, until, uspJs, type Agent, type UspJs } from './fixture.ts';

const FO = 'Device.X_TWINSTACK-ORG_Failover.';
const errOf = async (p: Promise<unknown>) => p.then(() => assert.fail('expected a USP error'), (e) => e as { errCode: number; errMsg: string });

describe('USP agent driven by usp-js over MQTT 5', () => {
  let m: Mosquitto;
  let a: Agent;
  let usp: UspJs;
  before(async () => {
    m = await Mosquitto.start();
    a = await startAgent(m.port);
    // The failover engineer registers ForceSwitch(); the agent serves whatever is registered.
    a.dm.registerCommand(`${FO}ForceSwitch()`, ({ input }) => {
      a.dm.set({ [`${FO}Mode`]: input.Mode }, 'system');
      return { Result: `switched to ${input.Mode}` };
    });
    usp = await uspJs(m.port);
  });
  after(async () => {
    await usp?.disconnect();
    await a?.stop();
    await m?.stop();
  });

  test('Get: plain, wildcard, search (== != < > <= >= &&), reference following', async () => {
    const cases: [string, unknown][] = [
      ['Device.LocalAgent.EndpointID', 'os::twinstack-test'],
      ['Device.LocalAgent.Controller.*.EndpointID', 'proto::test-controller'],
      ['Device.LocalAgent.Controller.[Enable==true].EndpointID', 'proto::test-controller'],
      ['Device.LocalAgent.Controller.[Enable!=true].EndpointID', []],
      ['Device.LocalAgent.ControllerTrust.Role.[Enable==true&&Name=="Read Only"].Name', 'Read Only'],
      ['Device.LocalAgent.ControllerTrust.Role.2.Permission.[Order>1].Targets', 'Device.LocalAgent.Subscription.'],
      ['Device.LocalAgent.ControllerTrust.Role.2.Permission.[Order<2].Targets', 'Device.'],
      ['Device.LocalAgent.ControllerTrust.Role.2.Permission.[Order>=2].Order', '2'],
      ['Device.LocalAgent.ControllerTrust.Role.2.Permission.[Order<=1].Order', '1'],
      ['Device.LocalAgent.Controller.1.AssignedRole+.Name', 'Full Access'],
    ];
    for (const [path, want] of cases) {
      const r = await usp.get(path, { raw: true });
      const got = (r.body.response.getResp.reqPathResults[0].resolvedPathResults ?? []).flatMap((x: { resultParams: Record<string, string> }) => Object.values(x.resultParams));
      assert.deepEqual(got.length === 1 ? got[0] : got, want, path);
    }
  });

  test('Get: max_depth and grouping by object', async () => {
    const depth = async (d: number) => {
      const r = await usp.get('Device.LocalAgent.ControllerTrust.', { raw: true, max_depth: d });
      return r.body.response.getResp.reqPathResults[0].resolvedPathResults.map((x: { resolvedPath: string }) => x.resolvedPath);
    };
    assert.deepEqual(await depth(1), ['Device.LocalAgent.ControllerTrust.']);
    assert.deepEqual(await depth(2), ['Device.LocalAgent.ControllerTrust.', 'Device.LocalAgent.ControllerTrust.Role.1.', 'Device.LocalAgent.ControllerTrust.Role.2.']);
    assert.equal((await depth(0)).length, 6); // unlimited: 1 + 2 roles + 3 permissions
  });

  test('Get: errors', async () => {
    const cases: [string, number][] = [
      ['Device.Nope.', 7026],
      ['Device.LocalAgent.Controller.9.', 7026],
      ['Device.LocalAgent.Controller.1.Nope', 7026],
      ['Device..X', 7026], // malformed: names nothing in the supported data model (was 7004)
    ];
    for (const [path, code] of cases) assert.equal((await errOf(usp.get(path))).errCode, code, path);
  });

  test('Set: success, wildcard, allow_partial, required and non-required failures', async () => {
    assert.deepEqual(await usp.set(`${FO}RecoveryInterval`, '20'), [{ affectedPath: FO, updatedParams: { RecoveryInterval: '20' } }]);
    assert.equal(a.dm.getValue(`${FO}RecoveryInterval`), '20');
    // A non-required failure is reported, the rest is written.
    // usp-js rejects any answer carrying an err_msg, even inside a success: the param error is what it returns.
    const partial = await errOf(usp.set(FO, { RecoveryInterval: '21', HoldDownTime: { value: 'abc', required: false } }));
    assert.deepEqual([(partial as unknown as { param: string }).param, partial.errCode], ['HoldDownTime', 7012]);
    assert.equal(a.dm.getValue(`${FO}RecoveryInterval`), '21');
    assert.equal(a.dm.getValue(`${FO}HoldDownTime`), '30');
    const errors: [string, Record<string, unknown>, number, number][] = [
      // path, values, message/oper err_code, param err_code
      [FO, { RecoveryInterval: 'abc' }, 7021, 7012],
      [FO, { Mode: 'DSLite' }, 7021, 7013],
      [FO, { RecoveryInterval: '99999999' }, 7021, 7012],
      [FO, { RecoveryInterval: 'abc', allowPartial: false }, 7012, 7012],
      [FO, { Nope: '1', allowPartial: false }, 7026, 7026],
    ];
    for (const [path, values, code, paramCode] of errors) {
      const e = (await errOf(usp.set(path, values))) as unknown as { errCode: number; updatedInstFailures?: { paramErrs: { errCode: number }[] }[]; paramErrs?: { errCode: number }[] };
      assert.equal(e.errCode, code, JSON.stringify(values));
      const pe = e.updatedInstFailures?.[0].paramErrs[0] ?? e.paramErrs?.[0];
      assert.equal(pe?.errCode, paramCode, JSON.stringify(values));
    }
    assert.equal(a.dm.getValue(`${FO}RecoveryInterval`), '21'); // nothing of the failed sets was written
    assert.equal((await errOf(usp.set('Device.LocalAgent.Controller.7.', { Enable: 'true' }))).errCode, 7016);
  });

  test('Add and Delete: success, search/wildcard, errors', async () => {
    const p1 = await usp.add('Device.NAT.InterfaceSetting.', { Enable: 'true' });
    const p2 = await usp.add('Device.NAT.InterfaceSetting.', { Enable: 'false' });
    assert.match(p1, /^Device\.NAT\.InterfaceSetting\.\d+\.$/);
    assert.deepEqual(await usp.set('Device.NAT.InterfaceSetting.[Enable==false].', { Alias: 'second' }), [{ affectedPath: p2, updatedParams: { Alias: 'second' } }]);
    await usp.set('Device.NAT.InterfaceSetting.*.', { Enable: 'true' });
    assert.equal(a.dm.getValue(`${p2}Enable`), 'true');
    const addErrors: [string, Record<string, string>, number][] = [
      ['Device.LocalAgent.Request.', {}, 7019],
      ['Device.LocalAgent.', {}, 7018],
      ['Device.Nope.', {}, 7026],
      ['Device.LocalAgent.Controller.', { EndpointID: 'proto::test-controller' }, 7025],
      ['Device.NAT.InterfaceSetting.', { Enable: 'maybe' }, 7012],
    ];
    for (const [path, values, code] of addErrors) {
      const e = (await errOf(usp.add(path, values))) as { errCode: number };
      assert.equal(e.errCode, code, path);
    }
    assert.deepEqual(await usp.del(p1), [p1]);
    assert.deepEqual(await usp.del('Device.NAT.InterfaceSetting.99.'), []);
    assert.equal((await errOf(usp.del('Device.LocalAgent.'))).errCode, 7024);
    assert.deepEqual(a.dm.instances('Device.NAT.InterfaceSetting.'), [p2]);
  });

  test('Operate: sync Reboot()/FactoryReset()/ForceSwitch(), async IPPing() with Request and OperationComplete', async () => {
    const [reboot] = await usp.operate('Device.Reboot()', { isAsync: false });
    assert.deepEqual(await reboot({}), {});
    const [reset] = await usp.operate('Device.FactoryReset()', { isAsync: false });
    assert.deepEqual(await reset({}), {});
    await until(() => a.hooks.reboots === 1 && a.hooks.resets === 1, 2000, 'hooks called');
    const [force] = await usp.operate(`${FO}ForceSwitch()`, { isAsync: false });
    assert.deepEqual(await force({ Mode: 'DSLite' }), { outputArgs: { Result: 'switched to DSLite' } });
    const [ping, cleanup] = await usp.operate('Device.IP.Diagnostics.IPPing()', { isAsync: true });
    const requests: string[][] = [];
    const watch = setInterval(() => requests.push(a.dm.instances('Device.LocalAgent.Request.', 'usp')), 5);
    const out = await ping({ Host: '127.0.0.1', ProtocolVersion: 'IPv4', NumberOfRepetitions: '2', Timeout: '1000', DataBlockSize: '56', DSCP: '0' });
    clearInterval(watch);
    assert.equal(out.Status, 'Complete');
    assert.equal(out.SuccessCount, '2');
    assert.equal(out.IPAddressUsed, '127.0.0.1');
    assert.ok(requests.some((r) => r.length === 1), 'a Device.LocalAgent.Request instance existed while running');
    assert.deepEqual(a.dm.instances('Device.LocalAgent.Request.', 'usp'), []);
    // Mandatory arguments missing: refused in the OperateResp itself (R-OPR.5), so usp-js's async recipe, which
    // waits for an OperationComplete, would wait forever; the Operate is sent as a plain request instead.
    const bad = await errOf(usp._operate('Device.IP.Diagnostics.IPPing()', 'OPERATE@ping-bad', true, { Host: '127.0.0.1' }, ''));
    assert.equal((bad as { errCode: number }).errCode, 7027);
    await cleanup();
    const [unknown] = await usp.operate('Device.Nope()', { isAsync: false });
    assert.equal((await errOf(unknown({}))).errCode, 7026);
    const [unsupported] = await usp.operate('Device.LocalAgent.AddCertificate()', { isAsync: false });
    assert.equal((await errOf(unsupported({}))).errCode, 7022);
  });

  test('GetSupportedDM, GetInstances, GetSupportedProtocol', async () => {
    const [dm] = await usp.supportedDM(FO, { firstLevelOnly: true, returnCommands: true, returnEvents: true, returnParams: true });
    const root = dm.supportedObjs.find((o: { supportedObjPath: string }) => o.supportedObjPath === FO);
    assert.ok(root.supportedParams.some((p: { paramName: string; access: string }) => p.paramName === 'Mode' && p.access === 'PARAM_READ_ONLY'));
    assert.deepEqual(root.supportedCommands.map((c: { commandName: string }) => c.commandName), ['ForceSwitch()']); // TestAFTR() has no handler here
    assert.deepEqual(root.supportedEvents.map((e: { eventName: string }) => e.eventName), ['ModeChange!']);
    assert.ok(dm.supportedObjs.some((o: { supportedObjPath: string; isMultiInstance: boolean }) => o.supportedObjPath === `${FO}Detector.{i}.` && o.isMultiInstance));
    assert.equal((await errOf(usp.supportedDM('Device.Nope.'))).errCode, 7026);
    const [inst] = await usp.instances('Device.LocalAgent.ControllerTrust.Role.');
    assert.deepEqual(inst.currInsts.map((i: { instantiatedObjPath: string; uniqueKeys: Record<string, string> }) => [i.instantiatedObjPath, i.uniqueKeys.Name]),
      [['Device.LocalAgent.ControllerTrust.Role.1.', 'Full Access'], ['Device.LocalAgent.ControllerTrust.Role.1.Permission.1.', undefined],
        ['Device.LocalAgent.ControllerTrust.Role.2.', 'Read Only'], ['Device.LocalAgent.ControllerTrust.Role.2.Permission.1.', undefined],
        ['Device.LocalAgent.ControllerTrust.Role.2.Permission.2.', undefined]]);
    const [first] = await usp.instances('Device.LocalAgent.ControllerTrust.Role.', { firstLevelOnly: true });
    assert.equal(first.currInsts.length, 2);
    assert.deepEqual(await usp.supportedProto('1.3,1.4'), ['1.3', '1.4']);
  });

  test('Notify: ValueChange from the CLI front-end and from a failover switch, ObjectCreation/Deletion, Event', async () => {
    const got: Record<string, unknown[]> = { vc: [], fo: [], oc: [], od: [], ev: [] };
    const subs = [
      await usp.subscribe({ id: 'vc', notif: 'ValueChange', reference: `${FO}RecoveryInterval` }, (msg: unknown) => got.vc.push(msg)),
      await usp.subscribe({ id: 'fo', notif: 'ValueChange', reference: `${FO}Mode` }, (msg: unknown) => got.fo.push(msg)),
      await usp.subscribe({ id: 'oc', notif: 'ObjectCreation', reference: 'Device.NAT.InterfaceSetting.' }, (msg: unknown) => got.oc.push(msg)),
      await usp.subscribe({ id: 'od', notif: 'ObjectDeletion', reference: 'Device.NAT.InterfaceSetting.' }, (msg: unknown) => got.od.push(msg)),
      await usp.subscribe({ id: 'ev', notif: 'Event', reference: 'Device.Boot!' }, (msg: unknown) => got.ev.push(msg)),
    ];
    const subsRows = await usp.get('Device.LocalAgent.Subscription.*.Recipient');
    assert.ok([subsRows].flat().length >= 5);
    a.dm.set({ [`${FO}RecoveryInterval`]: '42' }, 'cli'); // the CLI's write
    a.dm.set({ [`${FO}Mode`]: 'DualStack' }, 'system'); // the failover handler's write
    const added = a.dm.add('Device.NAT.InterfaceSetting.', 'web');
    a.dm.delete(added.path, 'web');
    a.dm.emitEvent('Device.Boot!', { CommandKey: '', Cause: 'LocalReboot', FirmwareUpdated: 'false', ParameterMap: '{}' });
    await until(() => Object.values(got).every((l) => l.length > 0), 3000, 'all notifications');
    assert.deepEqual(got.vc, [{ paramPath: `${FO}RecoveryInterval`, paramValue: '42' }]);
    assert.deepEqual(got.fo, [{ paramPath: `${FO}Mode`, paramValue: 'DualStack' }]);
    assert.equal((got.oc[0] as { objPath: string }).objPath, added.path);
    assert.deepEqual(got.od, [{ objPath: added.path }]);
    assert.deepEqual(got.ev, [{ objPath: 'Device.', eventName: 'Boot!', params: { CommandKey: '', Cause: 'LocalReboot', FirmwareUpdated: 'false', ParameterMap: '{}' } }]);
    // usp-js acknowledges notifications of its own subscriptions (NotifRetry): nothing left to retry.
    await until(() => a.plugin.agent!.notifier.pendingCount === 0, 3000, 'NotifyResp for every Notify');
    for (const unsub of subs) await unsub();
    assert.deepEqual(a.dm.instances('Device.LocalAgent.Subscription.', 'usp'), []);
    a.dm.set({ [`${FO}RecoveryInterval`]: '43' }, 'cli');
    await sleep(200);
    assert.equal(got.vc.length, 1, 'no notification after the subscription is deleted');
  });
});

// The TR-369 requirements of the issue, each against usp-js over mosquitto on a fresh agent (nothing shared with
// the suite above). usp-js rejects any answer carrying an err_msg, so whole answers are read with `answerTo`.
describe('TR-369 requirements against usp-js over MQTT 5', () => {
  const SUBS = 'Device.LocalAgent.Subscription.';
  const NAT = 'Device.NAT.InterfaceSetting.';
  let m: Mosquitto;
  let a: Agent;
  let usp: UspJs;
  before(async () => {
    m = await Mosquitto.start();
    a = await startAgent(m.port);
    usp = await uspJs(m.port);
  });
  after(async () => {
    await usp?.disconnect();
    await a?.stop();
    await m?.stop();
  });

  /** Runs `send` and returns the whole decoded answer usp-js saw for a message id matching `id`, resolved or not. */
  const answerTo = async (id: RegExp, send: () => Promise<unknown>): Promise<Record<string, UspJs>> => {
    let raw: Record<string, UspJs> | undefined;
    const off = usp.on(id, (_msg: unknown, full: Record<string, UspJs>) => { raw = full; });
    try {
      await send().catch(() => undefined);
      await until(() => raw !== undefined, 3000, `answer to ${id}`);
    } finally {
      off();
    }
    return raw!;
  };
  const rows = (table: string) => a.dm.instances(table, 'usp').filter((p) => /^\d+\.$/.test(p.slice(table.length)));
  const sub = (id: string, extra: Record<string, unknown> = {}) => ({ ID: id, Enable: 'true', NotifType: 'ValueChange', ReferenceList: `${FO}Mode`, ...extra });

  test('R-ADD.1/R-ADD.0: a failed Add leaves nothing behind; allow_partial=true answers an AddResp with oper_failure', async () => {
    const first = await usp.add(SUBS, sub('dup'));
    assert.equal(a.dm.getValue(`${first}Recipient`), 'Device.LocalAgent.Controller.1');
    const before = rows(SUBS);
    // TR-106 §3.5.1 unique key (Recipient, ID): the duplicate is refused, and no half-made row remains.
    assert.equal((await errOf(usp.add(SUBS, sub('dup')))).errCode, 7025);
    assert.deepEqual(rows(SUBS), before);
    // allow_partial=false: two CreateObjects are one transaction (R-ADD.1): neither is created.
    const all = (await errOf(usp.add([SUBS, SUBS], [sub('fresh', { allowPartial: false }), sub('dup', { allowPartial: false })]))) as { errCode: number };
    assert.equal(all.errCode, 7025);
    assert.deepEqual(rows(SUBS), before);
    // allow_partial=true: each object on its own (R-ADD.0): one created, one oper_failure, in an AddResp.
    const resp = await answerTo(/^ADD@/, () => usp.add([SUBS, SUBS], [sub('fresh'), sub('dup')]));
    const results = resp.body.response?.addResp?.createdObjResults ?? [];
    assert.equal(results.length, 2, JSON.stringify(resp.body));
    const created = results[0].operStatus.operSuccess.instantiatedPath;
    assert.equal(results[1].operStatus.operFailure.errCode, 7025);
    assert.deepEqual(rows(SUBS), [...before, created]);
    assert.deepEqual(a.dm.get(`${SUBS}*.Recipient`).map((v) => v.value).filter((r) => r === ''), [], 'no subscription without Recipient');
  });

  test('R-ADD.5/R-NOT: ObjectCreation and AddResp carry the real unique keys, Recipient included', async () => {
    const got: Record<string, UspJs>[] = [];
    const unsub = await usp.subscribe({ id: 'oc-subs', notif: 'ObjectCreation', reference: SUBS }, (_m: unknown, full: Record<string, UspJs>) => got.push(full));
    const resp = await answerTo(/^ADD@/, () => usp.add(SUBS, sub('keys')));
    const success = resp.body.response.addResp.createdObjResults[0].operStatus.operSuccess;
    const want = { Alias: `cpe-${success.instantiatedPath.match(/(\d+)\.$/)[1]}`, Recipient: 'Device.LocalAgent.Controller.1', ID: 'keys' };
    assert.deepEqual(success.uniqueKeys, want);
    await until(() => got.length === 1, 3000, 'ObjectCreation');
    assert.deepEqual(got[0].body.request.notify.objCreation, { objPath: success.instantiatedPath, uniqueKeys: want });
    await unsub();
  });

  test('R-KEY.1: a non-functional unique key (Subscription.ID) does not change once set; Notify keeps its subscription_id', async () => {
    const got: unknown[] = [];
    await usp.subscribe({ id: 'keep', notif: 'ValueChange', reference: `${FO}RecoveryInterval` }, (msg: unknown) => got.push(msg));
    const path = rows(SUBS).find((p) => a.dm.getValue(`${p}ID`) === 'NOTIFY@keep')!;
    const e = (await errOf(usp.set(path, { ID: 'NOTIFY@other' }))) as unknown as { errCode: number; updatedInstFailures: { paramErrs: { param: string; errCode: number }[] }[] };
    assert.deepEqual([e.errCode, e.updatedInstFailures[0].paramErrs[0].param, e.updatedInstFailures[0].paramErrs[0].errCode], [7021, 'ID', 7013]);
    const strict = (await errOf(usp.set(path, { ID: 'NOTIFY@other', allowPartial: false }))) as unknown as { errCode: number; paramErrs: { paramPath: string; errCode: number }[] };
    assert.deepEqual([strict.errCode, strict.paramErrs.map((p) => [p.paramPath, p.errCode])], [7013, [[`${path}ID`, 7013]]]);
    assert.equal(a.dm.getValue(`${path}ID`), 'NOTIFY@keep');
    a.dm.set({ [`${FO}RecoveryInterval`]: '77' }, 'cli');
    await until(() => got.length === 1, 3000, 'ValueChange under the unchanged subscription_id');
  });

  test('R-ADD.4, Error param_errs: every failing parameter and path of an Add or Delete is named with its own code', async () => {
    const strict = (await errOf(usp.add(NAT, { Enable: 'maybe', Nope: '1', allowPartial: false }))) as unknown as { errCode: number; paramErrs: { paramPath: string; errCode: number; errMsg: string }[] };
    assert.equal(strict.errCode, 7012);
    assert.deepEqual(strict.paramErrs.map((p) => [p.paramPath, p.errCode]), [[`${NAT}{i}.Enable`, 7012], [`${NAT}{i}.Nope`, 7026]]);
    assert.ok(strict.paramErrs.every((p) => p.errMsg !== ''));
    const unknown = (await errOf(usp.add('Device.Nope.', { Enable: 'true', allowPartial: false }))) as unknown as { errCode: number; paramErrs: { paramPath: string; errCode: number }[] };
    assert.deepEqual([unknown.errCode, unknown.paramErrs.map((p) => [p.paramPath, p.errCode])], [7026, [['Device.Nope.', 7026]]]);
    // allow_partial=true: the oper_failure names both parameters (AddResp OperationFailure has no param_errs field).
    const partial = await errOf(usp.add(NAT, { Enable: 'maybe', Nope: '1' }));
    assert.equal(partial.errCode, 7012);
    assert.match(partial.errMsg, /Enable.*Nope/);
    assert.deepEqual(rows(NAT), []);
    // Delete, allow_partial=false (R-DEL.1): one param_err per failing path, nothing deleted.
    const kept = await usp.add(NAT, { Enable: 'true' });
    const del = (await errOf(usp.del([kept, 'Device.LocalAgent.', 'Device.Nope.1.'], false))) as unknown as { errCode: number; paramErrs: { paramPath: string; errCode: number }[] };
    assert.deepEqual([del.errCode, del.paramErrs.map((p) => [p.paramPath, p.errCode])], [7024, [['Device.LocalAgent.', 7024], ['Device.Nope.1.', 7026]]]);
    assert.deepEqual(rows(NAT), [kept]);
  });

  test('GetSupportedDM (USP 1.3): command, event and parameter paths; first_level_only; lists are PARAM_STRING', async () => {
    const one = async (path: string) => (await usp.supportedDM(path, { returnCommands: true, returnEvents: true, returnParams: true }))[0];
    const names = (l: UspJs[] | undefined, k: string) => (l ?? []).map((x) => x[k]); // usp-js leaves out empty lists
    const reboot = await one('Device.Reboot()');
    assert.deepEqual(reboot.supportedObjs.map((o: UspJs) => [o.supportedObjPath, names(o.supportedCommands, 'commandName'), names(o.supportedEvents, 'eventName'), names(o.supportedParams, 'paramName')]),
      [['Device.', ['Reboot()'], [], []]]);
    const boot = await one('Device.Boot!');
    assert.deepEqual(boot.supportedObjs.map((o: UspJs) => [o.supportedObjPath, names(o.supportedCommands, 'commandName'), names(o.supportedEvents, 'eventName'), names(o.supportedParams, 'paramName')]),
      [['Device.', [], ['Boot!'], []]]);
    for (const path of ['Device.LocalAgent.Controller.{i}.EndpointID', 'Device.LocalAgent.Controller.1.EndpointID']) {
      const param = await one(path);
      assert.deepEqual(param.supportedObjs.map((o: UspJs) => [o.supportedObjPath, o.supportedParams.map((p: UspJs) => [p.paramName, p.access, p.valueType])]),
        [['Device.LocalAgent.Controller.{i}.', [['EndpointID', 'PARAM_READ_WRITE', 'PARAM_STRING']]]], path);
    }
    // A list of unsignedInt is a string on the wire (GetSupportedDMResp ParamValueType: the parameter's base type).
    const dhcp = await one('Device.DHCPv6.Client.{i}.');
    const types = Object.fromEntries(dhcp.supportedObjs[0].supportedParams.map((p: UspJs) => [p.paramName, p.valueType]));
    assert.deepEqual([types.SupportedOptions, types.RequestedOptions, types.SuggestedT1], ['PARAM_STRING', 'PARAM_STRING', 'PARAM_INT']);
    // first_level_only: the object with its details, its immediate children without theirs.
    const [first] = await usp.supportedDM('Device.LocalAgent.', { firstLevelOnly: true, returnCommands: true, returnEvents: true, returnParams: true });
    const [root, ...children] = first.supportedObjs;
    assert.equal(root.supportedObjPath, 'Device.LocalAgent.');
    assert.ok(root.supportedParams.length > 0 && root.supportedEvents.length > 0);
    assert.ok(children.some((c: UspJs) => c.supportedObjPath === 'Device.LocalAgent.Controller.{i}.'));
    assert.ok(children.every((c: UspJs) => /^Device\.LocalAgent\.[A-Za-z]+\.(\{i\}\.)?$/.test(c.supportedObjPath)), 'immediate children only');
    assert.deepEqual(children.filter((c: UspJs) => c.supportedParams?.length || c.supportedCommands?.length || c.supportedEvents?.length || c.uniqueKeySets?.length)
      .map((c: UspJs) => c.supportedObjPath), []);
    assert.equal((await errOf(usp.supportedDM('Device.LocalAgent.Controller.9.EndpointID'))).errCode, 7016); // an instance path names an existing object
    assert.equal((await errOf(usp.supportedDM('Device.Nope()'))).errCode, 7026);
    assert.equal((await errOf(usp.supportedDM('Device.LocalAgent.AddCertificate()'))).errCode, 7026); // no handler: not supported
  });

  test('R-OPR.5: missing mandatory input arguments of an async command fail in the OperateResp (7027), no Request, no OperationComplete', async () => {
    const [ping, cleanup] = await usp.operate('Device.IP.Diagnostics.IPPing()', { isAsync: true, ID: 'bad-input' });
    const completions: unknown[] = [];
    ping.subscribe((msg: unknown) => completions.push(msg));
    const requests: string[][] = [];
    const watch = setInterval(() => requests.push(a.dm.instances('Device.LocalAgent.Request.', 'usp')), 1);
    const e = await errOf(usp._operate('Device.IP.Diagnostics.IPPing()', 'OPERATE@bad-input', true, { DataBlockSize: '56' }, 'k1'));
    clearInterval(watch);
    assert.equal(e.errCode, 7027);
    assert.match(e.errMsg, /Host/);
    await sleep(200);
    assert.deepEqual(completions, []);
    assert.ok(requests.every((r) => r.length === 0), 'no Device.LocalAgent.Request instance was created');
    await cleanup();
  });

  test('Alias (TR-181 Alias data type): starts with a letter, at most 64 characters, not empty; cpe- values are the agent\'s', async () => {
    const bad: [Record<string, string>, number][] = [
      [{ Alias: '88InvalidAlias' }, 7012], [{ Alias: 'a'.repeat(65) }, 7012], [{ Alias: '' }, 7012], [{ Alias: '-x' }, 7012],
    ];
    for (const [values, code] of bad) assert.equal((await errOf(usp.add(NAT, values))).errCode, code, JSON.stringify(values));
    const p = await usp.add(NAT, {});
    assert.match(a.dm.getValue(`${p}Alias`), /^cpe-\d+$/);
    assert.equal((await errOf(usp.set(p, { Alias: '9lives' }))).errCode, 7021);
    await usp.set(p, { Alias: 'Uplink-1' }); // replaces the agent's cpe- value once
    assert.equal(a.dm.getValue(`${p}Alias`), 'Uplink-1');
    assert.equal((await errOf(usp.set(p, { Alias: 'Uplink-2' }))).errCode, 7021); // R-KEY.1 from then on
  });

  test('Get: a malformed path is an invalid path (7026)', async () => {
    for (const path of ['Device..X', 'Device.LocalAgent.[', 'Device.LocalAgent.Controller.0.', 'Device.LocalAgent.EndpointID.']) {
      const r = await usp.get(path, { raw: true }).catch((e: unknown) => e);
      const code = r.body?.response?.getResp?.reqPathResults?.[0]?.errCode ?? r.errCode;
      assert.equal(code, 7026, path);
    }
  });
});
