// Acceptance 4: a value change whose Inform the ACS has not yet answered survives kill -9: after the
// restart the Inform carries 4 VALUE CHANGE (with the changed value) and 1 BOOT, and no second BOOTSTRAP.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScriptedAcs, arr, text, valueMap } from './acs.ts';

const CHILD = join(import.meta.dirname, 'agent-child.ts');

// The same connection request port in both runs, so ConnectionRequestURL does not change on restart.
const CR_PORT = String(43000 + (process.pid % 1000));

function spawnAgent(file: string, url: string): Promise<ChildProcess> {
  const child = fork(CHILD, [file, url, CR_PORT], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    child.once('message', () => resolve(child));
    child.once('exit', (code) => reject(new Error(`agent child exited ${code}`)));
  });
}

const eventsOf = (inform: { body: any }) => arr(inform.body.Event.EventStruct).map((e: any) => text(e.EventCode)).sort();

test('kill -9 after a value change, before the InformResponse: the event is delivered after restart', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cwmp-persist-'));
  const file = join(dir, 'twinstack.db');
  const acs = await new ScriptedAcs().start();
  const children: ChildProcess[] = [];
  t.after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await acs.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const boot = acs.nextSession();
  const first = await spawnAgent(file, acs.url);
  children.push(first);
  const s1 = await boot;
  assert.deepEqual(eventsOf(s1.inform), ['0 BOOTSTRAP', '1 BOOT', '4 VALUE CHANGE']);

  // Active notification on a parameter that is not in every Inform: its change starts a session at once.
  const PARAM = 'Device.ManagementServer.PeriodicInformInterval';
  first.send({ notify: PARAM });
  await new Promise((r) => first.once('message', r));
  acs.stallInform = true;
  const informed = acs.nextInform();
  first.send({ set: { [PARAM]: '4242' } });
  const stalled = await informed;
  assert.deepEqual(eventsOf(stalled), ['4 VALUE CHANGE']);
  assert.equal(valueMap(stalled.body.ParameterList).get(PARAM), '4242');
  first.kill('SIGKILL');
  await new Promise((r) => first.once('exit', r));

  acs.stallInform = false;
  const again = acs.nextSession();
  children.push(await spawnAgent(file, acs.url));
  const s2 = await again;
  assert.deepEqual(eventsOf(s2.inform), ['1 BOOT', '4 VALUE CHANGE']);
  assert.equal(valueMap(s2.inform.body.ParameterList).get(PARAM), '4242');
  acs.validateAll();
});
