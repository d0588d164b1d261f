// The client's command line (bin/cli.js): options anywhere (issue 18: `get PATH --socket S` ignored the
// socket), and the request each command sends.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { buildRequest, parseArgs, UsageError } from '../../bin/cli.js';

test('options anywhere on the line', () => {
  const env = {};
  const def = resolve('data/twinstack.sock');
  // [argv, socket, help, words]
  const table: [string[], string, boolean, string[]][] = [
    [['get', 'Device.'], def, false, ['get', 'Device.']],
    [['--socket', '/s', 'get', 'Device.'], '/s', false, ['get', 'Device.']],
    [['get', 'Device.', '--socket', '/s'], '/s', false, ['get', 'Device.']],
    [['get', '--socket=/s', 'Device.'], '/s', false, ['get', 'Device.']],
    [['get', 'Device.', '--socket=/a=b'], '/a=b', false, ['get', 'Device.']],
    [['names', 'Device.', '--next', '--socket', '/s'], '/s', false, ['names', 'Device.', '--next']],
    [['get', '--help'], def, true, ['get']],
    [['-h'], def, true, []],
    [['set', '--', '--socket=x'], def, false, ['set', '--socket=x']],
  ];
  for (const [argv, socket, help, words] of table) assert.deepEqual(parseArgs(argv, env), { socket, help, words }, argv.join(' '));
  assert.equal(parseArgs(['dump'], { TWINSTACK_SOCKET: '/env.sock' }).socket, '/env.sock');
  assert.equal(parseArgs(['dump', '--socket', '/flag'], { TWINSTACK_SOCKET: '/env.sock' }).socket, '/flag');
  for (const bad of [['get', 'Device.', '--socket'], ['get', '--socket='], ['get', '--sock', 'x']]) {
    assert.throws(() => parseArgs(bad, env), UsageError, bad.join(' '));
  }
});

test('requests per command', () => {
  const table: [string[], object | RegExp][] = [
    [['get', 'A.', 'B'], { id: 1, cmd: 'get', paths: ['A.', 'B'] }],
    [['dump'], { id: 1, cmd: 'dump' }],
    [['names', 'A.', '--next'], { id: 1, cmd: 'names', paths: ['A.'], nextLevel: true }],
    [['set', 'A=1', 'B=x=y'], { id: 1, cmd: 'set', values: { A: '1', B: 'x=y' } }],
    [['add', 'T.', 'Enable=true'], { id: 1, cmd: 'add', table: 'T.', values: { Enable: 'true' } }],
    [['delete', 'T.1.'], { id: 1, cmd: 'delete', paths: ['T.1.'] }],
    [['attrs', 'A'], { id: 1, cmd: 'attrs', paths: ['A'] }],
    [['attrs', 'A', 'notification=2', 'accessList=Subscriber'], { id: 1, cmd: 'attrs', paths: ['A'], set: { notification: 2, accessList: ['Subscriber'] } }],
    [['operate', 'Device.Reboot()', 'x=1'], { id: 1, cmd: 'operate', path: 'Device.Reboot()', input: { x: '1' } }],
    [['get'], /get needs a path/],
    [['set', 'novalue'], /expected NAME=VALUE/],
    [['attrs', 'A', 'colour=red'], /notification= and accessList=/],
    [['frobnicate'], /unknown command "frobnicate"/],
  ];
  for (const [words, want] of table) {
    if (want instanceof RegExp) assert.throws(() => buildRequest(words), (e: Error) => e instanceof UsageError && want.test(e.message), words.join(' '));
    else assert.deepEqual(buildRequest(words), want, words.join(' '));
  }
});
