// CLI request checking (src/cli/request.ts): every JSON value type and malformed line gets InvalidArgument
// with a message naming the field, never a JavaScript internal (issue 18: `null` killed the agent).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRequest } from '../../src/cli/request.ts';

const SHAPE = /^a request must be a JSON object such as \{"id":1,"cmd":"get",.*\}, not /;

test('request lines: accepted shapes and the message for each bad one', () => {
  // [line, id echoed, expected request or error message pattern]
  const table: [string, number, object | RegExp][] = [
    ['{"id":7,"cmd":"get","paths":["Device."]}', 7, { id: 7, cmd: 'get', paths: ['Device.'] }],
    ['{"cmd":"dump"}', 0, { cmd: 'dump' }],
    ['{"id":2,"cmd":"attrs","paths":["Device.DSLite.Enable"],"set":{"notification":2,"accessList":[]}}', 2, { id: 2, cmd: 'attrs', paths: ['Device.DSLite.Enable'], set: { notification: 2, accessList: [] } }],
    ['{"id":3,"cmd":"operate","path":"Device.Reboot()"}', 3, { id: 3, cmd: 'operate', path: 'Device.Reboot()' }],
    ['null', 0, new RegExp(`${SHAPE.source}null$`)],
    ['0', 0, new RegExp(`${SHAPE.source}number 0$`)],
    ['-1.5e300', 0, new RegExp(`${SHAPE.source}number -1\\.5e\\+300$`)],
    ['"get Device."', 0, new RegExp(`${SHAPE.source}string "get Device\\."$`)],
    ['true', 0, new RegExp(`${SHAPE.source}boolean true$`)],
    ['false', 0, new RegExp(`${SHAPE.source}boolean false$`)],
    ['[]', 0, new RegExp(`${SHAPE.source}an array$`)],
    ['[{"cmd":"dump"}]', 0, new RegExp(`${SHAPE.source}an array$`)],
    ['', 0, /^a request is one line of JSON such as .* \(Unexpected end of JSON input\)$/],
    ['{"cmd":', 0, /^a request is one line of JSON/],
    ['\u0000\u00ff garbage', 0, /^a request is one line of JSON/],
    ['{}', 0, /^request: missing field "cmd"$/],
    ['{"id":4}', 4, /^request: missing field "cmd"$/],
    ['{"id":"x","cmd":"dump"}', 0, /^request: id must be an integer, not string "x"$/],
    ['{"id":1.5,"cmd":"dump"}', 0, /^request: id must be an integer, not number 1\.5$/],
    ['{"cmd":null}', 0, /^unknown command null; one of get, dump, names, set, add, delete, attrs, operate$/],
    ['{"cmd":"frobnicate"}', 0, /^unknown command "frobnicate"; one of get, dump/],
    ['{"cmd":"__proto__"}', 0, /^unknown command "__proto__"/],
    ['{"cmd":{"x":1}}', 0, /^unknown command \{"x":1\}/],
    ['{"id":5,"cmd":"get"}', 5, /^get: missing field "paths"$/],
    ['{"cmd":"get","paths":null}', 0, /^get: paths must be an array, not null$/],
    ['{"cmd":"get","paths":"Device."}', 0, /^get: paths must be an array, not string "Device\."$/],
    ['{"cmd":"get","paths":{"0":"Device."}}', 0, /^get: paths must be an array, not an object$/],
    ['{"cmd":"get","paths":[1,"Device.",null]}', 0, /^get: paths\[0\] must be a string, not number 1; get: paths\[2\] must be a string, not null$/],
    ['{"cmd":"get","paths":["Device."],"path":"x"}', 0, /^get: unknown field "path"$/],
    ['{"cmd":"names","paths":["Device."],"nextLevel":"yes"}', 0, /^names: nextLevel must be true or false, not string "yes"$/],
    ['{"cmd":"set","values":[["Device.DSLite.Enable","true"]]}', 0, /^set: values must be an object, not an array$/],
    ['{"cmd":"set","values":{"Device.DSLite.Enable":true}}', 0, /^set: values\["Device\.DSLite\.Enable"\] must be a string, not boolean true$/],
    ['{"cmd":"add","table":5}', 0, /^add: table must be a string, not number 5$/],
    ['{"cmd":"add","table":"Device.NAT.InterfaceSetting.","values":null}', 0, /^add: values must be an object, not null$/],
    ['{"cmd":"delete","paths":[[]]}', 0, /^delete: paths\[0\] must be a string, not an array$/],
    ['{"cmd":"attrs","paths":["a"],"set":{"notification":7,"x":1}}', 0, /^attrs: unknown field "set\.x"; attrs: set\.notification must be one of 0, 1, 2, not number 7$/],
    ['{"cmd":"attrs","paths":["a"],"set":{"accessList":"Subscriber"}}', 0, /^attrs: set\.accessList must be an array, not string "Subscriber"$/],
    ['{"cmd":"operate","path":["Device.Reboot()"]}', 0, /^operate: path must be a string, not an array$/],
    ['{"cmd":"operate","path":"Device.Reboot()","input":{"a":1}}', 0, /^operate: input\.a must be a string, not number 1$/],
  ];
  for (const [line, id, want] of table) {
    const r = parseRequest(line);
    assert.equal(r.id, id, line);
    if (want instanceof RegExp) {
      assert.ok(r.error, `${line}: expected an error`);
      assert.equal(r.error.kind, 'InvalidArgument', line);
      assert.match(r.error.message, want, line);
    } else {
      assert.equal(r.error, undefined, `${line}: ${r.error?.message}`);
      assert.deepEqual(r.req, want, line);
    }
  }
});
