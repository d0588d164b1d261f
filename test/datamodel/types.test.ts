import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonical, canonicalIPv6, zeroValue, type ParamDef } from '../../src/datamodel/index.ts';

const P = (over: Partial<ParamDef>): ParamDef => ({ name: 'X', access: 'readWrite', type: 'string', ...over } as ParamDef);

// [definition, input, expected canonical value or an Error pattern]
const table: [Partial<ParamDef>, string, string | RegExp][] = [
  [{ type: 'boolean' }, 'true', 'true'], [{ type: 'boolean' }, '1', 'true'], [{ type: 'boolean' }, '0', 'false'],
  [{ type: 'boolean' }, 'false', 'false'], [{ type: 'boolean' }, 'maybe', /not a boolean/], [{ type: 'boolean' }, 'TRUE', /not a boolean/],
  [{ type: 'int' }, '-2147483648', '-2147483648'], [{ type: 'int' }, '2147483648', /outside the int range/], [{ type: 'int' }, '1.5', /not an int/],
  [{ type: 'int' }, '007', '7'], [{ type: 'int' }, '', /not an int/],
  [{ type: 'unsignedInt' }, '4294967295', '4294967295'], [{ type: 'unsignedInt' }, '-1', /outside the unsignedInt range/],
  [{ type: 'long' }, '-9223372036854775808', '-9223372036854775808'], [{ type: 'long' }, '9223372036854775808', /outside/],
  [{ type: 'unsignedLong' }, '18446744073709551615', '18446744073709551615'], [{ type: 'unsignedLong' }, '18446744073709551616', /outside/],
  [{ type: 'unsignedInt', ranges: [{ min: '1', max: '10' }] }, '10', '10'], [{ type: 'unsignedInt', ranges: [{ min: '1', max: '10' }] }, '0', /range 1..10/],
  [{ type: 'int', ranges: [{ min: '0', max: '100', step: '10' }] }, '30', '30'], [{ type: 'int', ranges: [{ min: '0', max: '100', step: '10' }] }, '35', /step 10/],
  [{ type: 'int', ranges: [{ min: '-1', max: '-1' }, { min: '1', max: '5' }] }, '-1', '-1'], [{ type: 'int', ranges: [{ min: '-1', max: '-1' }, { min: '1', max: '5' }] }, '0', /-1..-1 or 1..5/],
  [{ type: 'dateTime' }, '2026-11-23T12:00:00Z', '2026-11-23T12:00:00Z'], [{ type: 'dateTime' }, '0001-01-01T00:00:00Z', '0001-01-01T00:00:00Z'],
  [{ type: 'dateTime' }, '2026-11-23T12:00:00.123+01:00', '2026-11-23T12:00:00.123+01:00'], [{ type: 'dateTime' }, '2026-13-01T00:00:00Z', /not a valid dateTime/],
  [{ type: 'dateTime' }, 'yesterday', /not a dateTime/],
  [{ type: 'base64' }, 'aGVsbG8=', 'aGVsbG8='], [{ type: 'base64' }, 'aGVsbG8', /not base64/], [{ type: 'base64', maxLength: 4 }, 'aGVsbG8=', /longer than 4 bytes/],
  [{ type: 'hexBinary' }, 'DEADbeef', 'deadbeef'], [{ type: 'hexBinary' }, 'abc', /not hexBinary/], [{ type: 'hexBinary', maxLength: 2 }, 'aabbcc', /longer than 2 bytes/],
  [{ type: 'decimal' }, '-1.25', '-1.25'], [{ type: 'decimal' }, '1e3', /not a decimal/],
  [{ maxLength: 3 }, 'abc', 'abc'], [{ maxLength: 3 }, 'abcd', /longer than 3 characters/], [{ minLength: 2 }, 'a', /shorter than 2/],
  [{ maxLength: 3 }, 'äöü', 'äöü'],
  [{ enums: ['DHCPv6', 'Static'] }, 'Static', 'Static'], [{ enums: ['DHCPv6', 'Static'] }, 'static', /not one of DHCPv6, Static/],
  [{ patterns: ['', 'cpe-[0-9]+'] }, 'cpe-12', 'cpe-12'], [{ patterns: ['', 'cpe-[0-9]+'] }, '', ''], [{ patterns: ['', 'cpe-[0-9]+'] }, 'xcpe-1', /does not match/],
  [{ dataType: 'IPv4Address', maxLength: 15 }, '192.0.2.1', '192.0.2.1'], [{ dataType: 'IPv4Address' }, '192.0.2.256', /not an IPv4 address/],
  [{ dataType: 'IPv4Address' }, '', ''],
  [{ dataType: 'IPv6Address' }, '2001:DB8:0:0:0:0:0:1', '2001:db8::1'], [{ dataType: 'IPv6Address' }, '2001:db8::1%eth0', /not an IPv6 address/],
  [{ dataType: 'IPv6Address' }, '192.0.2.1', /not an IPv6 address/],
  [{ dataType: 'IPAddress' }, '192.0.2.1', '192.0.2.1'], [{ dataType: 'IPAddress' }, '2001:0db8::0001', '2001:db8::1'], [{ dataType: 'IPAddress' }, 'host', /not an IPv4 or IPv6/],
  [{ dataType: 'IPv6Prefix' }, '2001:DB8::/32', '2001:db8::/32'], [{ dataType: 'IPv6Prefix' }, '2001:db8::/129', /not a valid IPv6Prefix/],
  [{ dataType: 'IPv6Prefix' }, '/64', '/64'], [{ dataType: 'IPv4Prefix' }, '198.51.100.0/24', '198.51.100.0/24'], [{ dataType: 'IPv4Prefix' }, '198.51.100.0', /not a prefix/],
  [{ dataType: 'MACAddress' }, '02:00:00:00:00:01', '02:00:00:00:00:01'], [{ dataType: 'MACAddress' }, '02-00-00-00-00-01', /not a MAC/],
  [{ list: {} }, 'a, b,c', 'a,b,c'], [{ list: { maxItems: 2 } }, 'a,b,c', /at most 2 items/], [{ list: {}, enums: ['X', 'Y'] }, 'X,Z', /"Z" is not one of X, Y/],
  [{ list: {}, dataType: 'IPv6Address' }, '2001:DB8::1,2001:db8::2', '2001:db8::1,2001:db8::2'], [{ list: {} }, '', ''],
  [{ list: { maxLength: 5 } }, 'aa,bbb', /list longer than 5/],
  [{ type: 'unsignedInt', list: {} }, '1,2,x', /not an unsignedInt/],
  // TR-181 Alias data type (TR-106 _AliasCommon): never empty, starts with a letter, at most 64 characters.
  [{ dataType: 'Alias', maxLength: 64 }, 'cpe-1', 'cpe-1'], [{ dataType: 'Alias', maxLength: 64 }, '88InvalidAlias', /does not start with a letter/],
  [{ dataType: 'Alias', maxLength: 64 }, '', /never empty/], [{ dataType: 'Alias', maxLength: 64 }, `a${'b'.repeat(64)}`, /longer than 64/],
];

test('TR-106 types: canonical forms of good values, named errors for bad ones', () => {
  for (const [over, input, want] of table) {
    const def = P(over);
    const label = `${JSON.stringify(over)} ${JSON.stringify(input)}`;
    if (typeof want === 'string') assert.equal(canonical(def, input), want, label);
    else assert.throws(() => canonical(def, input), want, label);
  }
});

test('IPv6 text form follows RFC 5952', () => {
  const t: [string, string][] = [
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['::', '::'], ['::1', '::1'], ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], ['::ffff:192.0.2.1', '::ffff:c000:201'],
    ['2001:DB8::FF00:42:8329', '2001:db8::ff00:42:8329'], ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
  ];
  for (const [i, o] of t) assert.equal(canonicalIPv6(i), o, i);
});

test('zero values: defaults, empty values allowed by the syntax, else first enum or range minimum', () => {
  const t: [Partial<ParamDef>, string][] = [
    [{ type: 'boolean' }, 'false'], [{ type: 'unsignedInt' }, '0'], [{ type: 'unsignedInt', ranges: [{ min: '1', max: '5' }] }, '1'],
    [{ type: 'dateTime' }, '0001-01-01T00:00:00Z'], [{}, ''], [{ enums: ['Disabled', 'Enabled'] }, 'Disabled'],
    [{ default: 'DHCPv6', enums: ['DHCPv6', 'Static'] }, 'DHCPv6'], [{ list: {}, enums: ['A'] }, ''],
  ];
  for (const [over, want] of t) assert.equal(zeroValue(P(over)), want, JSON.stringify(over));
});
