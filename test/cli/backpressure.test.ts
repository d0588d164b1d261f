// Back-pressure on the CLI socket (issue 18): a client that sends 4,000 `dump` requests and never reads
// grew the agent from 103 MB to 415 MB. Now each connection is served one request at a time and not read
// while its reply waits, so the agent's memory stays flat and other clients are still served.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { sleep } from '../wait.ts';
import { startAgentProcess } from './agent.ts';

const MB = 1024 * 1024;

test('a client that never reads does not grow the agent', { timeout: 120_000 }, async (t) => {
  const agent = await startAgentProcess(['--web.enable=false', '--snmp.enable=false', '--cwmp.enable=false']);
  t.after(() => agent.stop());
  const dump = await agent.request({ cmd: 'dump' });
  assert.equal(dump.ok, true);
  const replyBytes = JSON.stringify(dump).length;
  await sleep(500);
  const before = agent.rss();

  const greedy = connect(agent.socket);
  t.after(() => greedy.destroy());
  await new Promise((r) => greedy.once('connect', r));
  greedy.pause(); // never reads
  const line = '{"id":1,"cmd":"dump"}\n';
  greedy.write(line.repeat(4000));
  await sleep(3000); // the old server had answered all 4,000 by then
  const during = agent.rss();

  const other = await agent.request({ cmd: 'get', paths: ['Device.DeviceInfo.Manufacturer'] });
  assert.deepEqual(other, { id: 1, ok: true, result: [['Device.DeviceInfo.Manufacturer', 'twinstack']] });
  greedy.destroy();
  await sleep(500);
  const after = agent.rss();
  t.diagnostic(`dump reply ${replyBytes} B; RSS before ${(before / MB).toFixed(1)} MB, while the client stalls ${(during / MB).toFixed(1)} MB, after ${(after / MB).toFixed(1)} MB`);
  assert.ok(during - before < 40 * MB, `RSS grew ${((during - before) / MB).toFixed(1)} MB while the client stalled`);
  assert.ok(after - before < 40 * MB, `RSS grew ${((after - before) / MB).toFixed(1)} MB`);
  assert.equal(agent.alive(), true);
  assert.equal((await agent.request({ cmd: 'dump' })).ok, true);
});
