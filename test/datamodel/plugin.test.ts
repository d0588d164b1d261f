import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { DataModel, PluginHost, orderPlugins, type Plugin } from '../../src/datamodel/index.ts';

const P = (name: string, dependsOn: string[] = [], log: string[] = []): Plugin => ({
  name, dependsOn,
  register: ({ dm }) => { log.push(`register ${name}`); return [dm.onChange(() => log.push(`change seen by ${name}`))]; },
  start: () => { log.push(`start ${name}`); },
  stop: () => { log.push(`stop ${name}`); },
});

test('plug-ins: ordered by dependencies; missing dependencies and cycles refused', () => {
  const t: [Plugin[], string | RegExp][] = [
    [[P('snmp', ['failover']), P('failover', ['wan']), P('wan')], 'wan,failover,snmp'],
    [[P('a'), P('b')], 'a,b'],
    [[P('a', ['x'])], /a depends on missing plug-in x/],
    [[P('a', ['b']), P('b', ['a'])], /dependency cycle a -> b -> a/],
    [[P('a'), P('a')], /duplicate/],
  ];
  for (const [plugins, want] of t) {
    if (typeof want === 'string') assert.equal(orderPlugins(plugins).map((p) => p.name).join(), want);
    else assert.throws(() => orderPlugins(plugins), want);
  }
});

test('plug-ins: lifecycle in order, stop in reverse, disposers run at stop', async () => {
  const log: string[] = [];
  const dm = new DataModel({ file: ':memory:' });
  const host = new PluginHost(dm, [P('b', ['a'], log), P('a', [], log)], pino({ level: 'silent' }));
  await host.start();
  dm.set({ 'Device.DSLite.Enable': 'true' }, 'cli');
  await host.stop();
  dm.set({ 'Device.DSLite.Enable': 'false' }, 'cli');
  assert.deepEqual(log, ['register a', 'register b', 'start a', 'start b', 'change seen by a', 'change seen by b', 'stop b', 'stop a']);
});
