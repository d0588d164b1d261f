// snmpPlugin under the PluginHost: config defaults from the schema fragment, start, serve, stop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { DataModel, PluginHost } from '../../src/datamodel/index.ts';
import { snmpPlugin } from '../../src/snmp/index.ts';
import { toolResult } from './fixture.ts';

test('snmpPlugin starts on the configured port, serves, persists its engine state, and stops', async () => {
  const dm = new DataModel({ file: ':memory:' });
  const port = 45000 + (process.pid % 900);
  const host = new PluginHost(dm, [snmpPlugin({ address: '127.0.0.1', port, communities: [{ name: 'public' }] })], pino({ level: 'silent' }));
  await host.start();
  try {
    const r = await toolResult('snmpget', ['-v2c', '-c', 'public', `127.0.0.1:${port}`, '1.3.6.1.2.1.1.2.0', '1.3.6.1.6.3.10.2.1.2.0']);
    assert.match(r.stdout, /32473\.6333\.4\.1/);
    assert.match(r.stdout, /\.1\.3\.6\.1\.6\.3\.10\.2\.1\.2\.0 = INTEGER: 1/);
    assert.equal(dm.state('snmp').get('engineBoots'), '1');
    assert.match(dm.state('snmp').get('engineID') ?? '', /^80007ed905[0-9a-f]{16}$/);
  } finally {
    await host.stop();
    dm.close();
  }
  const after = await toolResult('snmpget', ['-v2c', '-c', 'public', `127.0.0.1:${port}`, '1.3.6.1.2.1.1.2.0']);
  assert.match(after.stderr, /Timeout/, 'stopped');
});
