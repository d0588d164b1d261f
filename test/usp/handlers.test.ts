// The message handlers in-process (no MTP, no codec): the TR-369 rules of Add, Delete and GetSupportedDM that a
// usp-js controller cannot express (return_unique_key_sets, required=false unique keys, a read-only role).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DataModel } from '../../src/datamodel/index.ts';
import type { Add, GetSupportedDM } from '../../src/usp/codec.ts';
import type { HandlerContext } from '../../src/usp/context.ts';
import { UspError } from '../../src/usp/errors.ts';
import { handleAdd } from '../../src/usp/handle_add.ts';
import { handleDelete } from '../../src/usp/handle_delete.ts';
import { handleGetSupportedDM } from '../../src/usp/handle_supported.ts';
import { seed } from '../../src/usp/index.ts';
import { permissionsOf } from '../../src/usp/trust.ts';

const NAT = 'Device.NAT.InterfaceSetting.';
const SUBS = 'Device.LocalAgent.Subscription.';

function agent(role: 'Full Access' | 'Read Only' = 'Full Access'): HandlerContext {
  const dm = new DataModel({ file: ':memory:' });
  seed(dm, { endpointId: 'os::t', controller: { endpointId: 'proto::c', topic: '/c', role } });
  const path = 'Device.LocalAgent.Controller.1.';
  return { dm, controller: { path, endpointId: 'proto::c' }, perms: permissionsOf(dm, path) };
}

const add = (allow_partial: boolean, ...objs: [string, Record<string, [string, boolean]>][]): Add => ({
  allow_partial,
  create_objs: objs.map(([obj_path, settings]) => ({
    obj_path, param_settings: Object.entries(settings).map(([param, [value, required]]) => ({ param, value, required })),
  })),
});
const threw = (fn: () => unknown): UspError => {
  try { fn(); } catch (e) { if (e instanceof UspError) return e; throw e; }
  return assert.fail('expected a UspError');
};

test('Add: a unique key is required even with required=false (TR-369 §7.5.3 CreateParamSetting, R-ADD.3)', () => {
  const ctx = agent();
  ctx.dm.add(NAT, 'system', { Alias: 'wan' });
  const r = handleAdd(ctx, add(true, [NAT, { Alias: ['wan', false], Enable: ['maybe', false] }]));
  assert.deepEqual(r.add_resp.created_obj_results.map((c) => Object.keys(c.oper_status)), [['oper_failure']]);
  assert.equal((r.add_resp.created_obj_results[0].oper_status as { oper_failure: { err_code: number } }).oper_failure.err_code, 7025);
  assert.equal(ctx.dm.instances(NAT).length, 1);
  // A non-key non-required failure is left out and reported (R-ADD.4); the object is created.
  const ok = handleAdd(ctx, add(true, [NAT, { Alias: ['lan', false], Enable: ['maybe', false] }]));
  const success = (ok.add_resp.created_obj_results[0].oper_status as { oper_success: { instantiated_path: string; param_errs: { param: string; err_code: number }[]; unique_keys: Record<string, string> } }).oper_success;
  assert.deepEqual(success.param_errs.map((p) => [p.param, p.err_code]), [['Enable', 7012]]);
  assert.deepEqual(success.unique_keys, { Alias: 'lan', Interface: '' });
});

test('Add: allow_partial=false is one transaction and its Error names each failing parameter of each object (R-ADD.1)', () => {
  const ctx = agent();
  const before = ctx.dm.instances(NAT);
  const e = threw(() => handleAdd(ctx, add(false,
    [NAT, { Enable: ['true', true] }],
    [NAT, { Enable: ['maybe', true], Alias: ['1st', true] }],
    [SUBS, { ID: ['s', true], Recipient: ['Device.LocalAgent.Controller.1', true] }])));
  assert.equal(e.code, 7012);
  assert.deepEqual(e.paramErrs.map((p) => [p.param_path, p.err_code]), [
    [`${NAT}{i}.Enable`, 7012], [`${NAT}{i}.Alias`, 7012], [`${SUBS}{i}.Recipient`, 7013]]);
  assert.deepEqual(ctx.dm.instances(NAT), before);
  assert.deepEqual(ctx.dm.instances(SUBS), []);
});

test('Add: the agent owns Subscription.Recipient and CreationDate; an ID left out is "cpe-<n>" (R-ADD.5)', () => {
  const ctx = agent();
  const r = handleAdd(ctx, add(true, [SUBS, { Enable: ['true', true], NotifType: ['ValueChange', true], ReferenceList: ['Device.LocalAgent.', true] }]));
  const success = (r.add_resp.created_obj_results[0].oper_status as { oper_success: { instantiated_path: string; unique_keys: Record<string, string> } }).oper_success;
  const n = success.instantiated_path.match(/(\d+)\.$/)![1];
  assert.deepEqual(success.unique_keys, { Alias: `cpe-${n}`, Recipient: 'Device.LocalAgent.Controller.1', ID: `cpe-${n}` });
  assert.match(ctx.dm.getValue(`${success.instantiated_path}CreationDate`), /^20\d\d-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
});

test('Delete: allow_partial=true lists each instance it may not delete in unaffected_path_errs (R-DEL.3)', () => {
  const ctx = agent('Read Only');
  const kept = [ctx.dm.add(NAT, 'system').path, ctx.dm.add(NAT, 'system').path];
  const r = handleDelete(ctx, { allow_partial: true, obj_paths: [`${NAT}*.`, 'Device.Nope.'] });
  assert.deepEqual(r.delete_resp.deleted_obj_results.map((d) => d.oper_status), [
    { oper_success: { affected_paths: [], unaffected_path_errs: kept.map((p) => ({ unaffected_path: p, err_code: 7006, err_msg: `${p}: delete permission denied` })) } },
    { oper_failure: { err_code: 7026, err_msg: 'Device.Nope.: no such object or parameter' } },
  ]);
  const e = threw(() => handleDelete(ctx, { allow_partial: false, obj_paths: [`${NAT}*.`, 'Device.Nope.'] }));
  assert.deepEqual(e.paramErrs.map((p) => [p.param_path, p.err_code]), [[kept[0], 7006], [kept[1], 7006], ['Device.Nope.', 7026]]);
  assert.deepEqual(ctx.dm.instances(NAT), kept);
});

test('GetSupportedDM first_level_only: the immediate children carry no parameters, commands, events or unique keys', () => {
  const ctx = agent();
  ctx.dm.registerCommand('Device.LocalAgent.Controller.{i}.SendOnBoardRequest()', () => ({}));
  const req = (obj_paths: string[], first_level_only: boolean): GetSupportedDM => ({
    obj_paths, first_level_only, return_commands: true, return_events: true, return_params: true, return_unique_key_sets: true,
  });
  const [r] = handleGetSupportedDM(ctx, req(['Device.LocalAgent.Controller.{i}.'], true)).get_supported_dm_resp.req_obj_results;
  const [root, ...children] = r.supported_objs;
  assert.deepEqual(root.unique_key_sets, [{ key_names: ['EndpointID'] }, { key_names: ['Alias'] }]);
  assert.ok(root.supported_params.length > 0 && root.supported_commands.some((c) => c.command_name === 'SendOnBoardRequest()'));
  assert.deepEqual(children.map((c) => c.supported_obj_path), ['Device.LocalAgent.Controller.{i}.MTP.{i}.']);
  for (const c of children) assert.deepEqual([c.supported_params, c.supported_commands, c.supported_events, c.unique_key_sets], [[], [], [], []], c.supported_obj_path);
  // Without first_level_only the descendants carry theirs.
  const [all] = handleGetSupportedDM(ctx, req(['Device.LocalAgent.Controller.'], false)).get_supported_dm_resp.req_obj_results;
  assert.deepEqual(all.supported_objs.find((o) => o.supported_obj_path === 'Device.LocalAgent.Controller.{i}.MTP.{i}.')?.unique_key_sets, [{ key_names: ['Protocol'] }, { key_names: ['Alias'] }]);
});
