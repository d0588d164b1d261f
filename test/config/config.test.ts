import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, parseArgs } from '../../src/config.ts';

test('config: no file gives the embedded default, frozen', () => {
  const c = loadConfig([]);
  assert.equal(c.dataDir, './data');
  assert.equal(c.log.level, 'info');
  assert.equal(c.device.manufacturer, 'twinstack');
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.device));
});

test('config: flags override the file; every error is listed at once', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ts-cfg-'));
  try {
    const f = join(dir, 'c.json');
    writeFileSync(f, JSON.stringify({ dataDir: '/var/lib/twinstack', log: { level: 'debug' } }));
    const c = loadConfig(['--config', f, '--log-level', 'warn', '--device.modelName=gw-9']);
    assert.deepEqual([c.dataDir, c.log.level, c.device.modelName], ['/var/lib/twinstack', 'warn', 'gw-9']);
    writeFileSync(f, JSON.stringify({ dataDir: 7, log: { level: 'loud' }, bogus: true, device: { manufacturerOUI: 'xyz' } }));
    let err: ConfigError | undefined;
    try { loadConfig(['--config', f]); } catch (e) { err = e as ConfigError; }
    assert.ok(err instanceof ConfigError);
    const text = err.problems.join('\n');
    for (const want of [/must NOT have additional properties "bogus"/, /\/dataDir must be string/, /\/log\/level must be equal to one of the allowed values/, /\/device\/manufacturerOUI must match pattern/])
      assert.match(text, want);
    assert.equal(err.problems.length, 4);
    writeFileSync(f, '{ not json');
    assert.throws(() => loadConfig(['--config', f]), /c\.json: .*JSON/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('config: argument parsing', () => {
  assert.deepEqual(parseArgs(['--data-dir', '/d', '--web.port=8081', '--snmp.communities=["a"]']),
    { file: undefined, overrides: { dataDir: '/d', web: { port: 8081 }, snmp: { communities: ['a'] } } });
  assert.throws(() => parseArgs(['positional']), /unexpected argument/);
  assert.throws(() => parseArgs(['--dangling']), /needs a value/);
});
