// TR-106 data types (TR-106 §3.2, DM Schema base types) and their canonical text forms.
// Every value is held and exchanged as canonical text; `canonical()` checks a value against the
// parameter's syntax (size, range, enumeration, pattern, list facets) and returns its canonical form.
import { isIPv4, isIPv6 } from 'node:net';
import type { ParamDef } from './schema.ts';

export type BaseType =
  | 'string' | 'boolean' | 'int' | 'unsignedInt' | 'long' | 'unsignedLong'
  | 'dateTime' | 'base64' | 'hexBinary' | 'decimal';

/** A failed check; the caller names the path. */
export class TypeError_ extends Error {}

const fail = (msg: string): never => {
  throw new TypeError_(msg);
};

const INT_LIMITS: Record<string, [bigint, bigint]> = {
  int: [-(2n ** 31n), 2n ** 31n - 1n],
  unsignedInt: [0n, 2n ** 32n - 1n],
  long: [-(2n ** 63n), 2n ** 63n - 1n],
  unsignedLong: [0n, 2n ** 64n - 1n],
};

/** The TR-106 "Unknown Time" and the other allowed dateTime forms (TR-106 §3.2.1). */
const DATETIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})?$/;

/** Text form of an IPv6 address per RFC 5952 §4 (lower case, longest zero run compressed). */
export function canonicalIPv6(addr: string): string {
  let text = addr.toLowerCase();
  // Expand an embedded IPv4 tail ("::ffff:192.0.2.1") to two hextets first.
  const v4 = text.match(/(\d+\.\d+\.\d+\.\d+)$/);
  if (v4) {
    const o = v4[1].split('.').map(Number);
    text = text.slice(0, -v4[1].length) + `${((o[0] << 8) | o[1]).toString(16)}:${((o[2] << 8) | o[3]).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  const words = groups.map((g) => parseInt(g, 16).toString(16));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== '0') { i++; continue; }
    let j = i;
    while (j < 8 && words[j] === '0') j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  if (best < 0) return words.join(':');
  return `${words.slice(0, best).join(':')}::${words.slice(best + bestLen).join(':')}`;
}

function checkDataType(def: ParamDef, v: string): string {
  // TR-181 Alias data type (TR-106 _AliasCommon, TR-069 Appendix II): never empty, starts with a letter.
  if (def.dataType === 'Alias') return /^[A-Za-z]/.test(v) ? v : fail(v === '' ? 'an Alias is never empty' : `"${v}" does not start with a letter (Alias)`);
  if (v === '') return v; // TR-181: unspecified addresses are empty strings
  switch (def.dataType) {
    case 'IPAddress':
      if (isIPv4(v)) return v;
      if (isIPv6(v) && !v.includes('%')) return canonicalIPv6(v);
      return fail(`"${v}" is not an IPv4 or IPv6 address`);
    case 'IPv4Address':
      return isIPv4(v) ? v : fail(`"${v}" is not an IPv4 address`);
    case 'IPv6Address':
      return isIPv6(v) && !v.includes('%') ? canonicalIPv6(v) : fail(`"${v}" is not an IPv6 address`);
    case 'IPPrefix':
    case 'IPv4Prefix':
    case 'IPv6Prefix': {
      const m = v.match(/^([^/]*)\/(\d{1,3})$/);
      if (!m) return fail(`"${v}" is not a prefix (address/length)`);
      const len = Number(m[2]);
      if (def.dataType !== 'IPv6Prefix' && (m[1] === '' || isIPv4(m[1])) && len <= 32) return v;
      if (def.dataType !== 'IPv4Prefix' && (m[1] === '' || isIPv6(m[1])) && len <= 128)
        return `${m[1] === '' ? '' : canonicalIPv6(m[1])}/${len}`;
      return fail(`"${v}" is not a valid ${def.dataType}`);
    }
    case 'MACAddress':
      return /^([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}$/.test(v) ? v : fail(`"${v}" is not a MAC address`);
    default:
      return v;
  }
}

function checkScalar(def: ParamDef, raw: string): string {
  const v = raw;
  const typeName = def.dataType ?? def.type;
  switch (def.type) {
    case 'boolean':
      // TR-106 §3.2: boolean is "0", "1", "true" or "false"; canonical "true"/"false".
      if (v === 'true' || v === '1') return 'true';
      if (v === 'false' || v === '0') return 'false';
      return fail(`"${v}" is not a boolean (true, false, 1 or 0)`);
    case 'int':
    case 'unsignedInt':
    case 'long':
    case 'unsignedLong': {
      if (!/^-?\d+$/.test(v)) return fail(`"${v}" is not an ${typeName}`);
      const n = BigInt(v);
      const [lo, hi] = INT_LIMITS[def.type];
      if (n < lo || n > hi) return fail(`${v} is outside the ${def.type} range ${lo}..${hi}`);
      checkRanges(def, n);
      return n.toString();
    }
    case 'decimal': {
      if (!/^-?\d+(\.\d+)?$/.test(v)) return fail(`"${v}" is not a decimal`);
      return v;
    }
    case 'dateTime': {
      const m = v.match(DATETIME);
      if (!m) return fail(`"${v}" is not a dateTime (YYYY-MM-DDThh:mm:ss[Z])`);
      const [mo, d, h, mi, s] = [m[2], m[3], m[4], m[5], m[6]].map(Number);
      if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return fail(`"${v}" is not a valid dateTime`);
      return v;
    }
    case 'base64': {
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(v) || v.length % 4 !== 0) return fail(`"${v}" is not base64`);
      checkSize(def, Buffer.from(v, 'base64').length, 'bytes');
      return v;
    }
    case 'hexBinary': {
      if (!/^([0-9A-Fa-f]{2})*$/.test(v)) return fail(`"${v}" is not hexBinary`);
      checkSize(def, v.length / 2, 'bytes');
      return v.toLowerCase();
    }
    case 'string': {
      checkSize(def, [...v].length, 'characters');
      if (def.enums && !def.enums.includes(v)) return fail(`"${v}" is not one of ${def.enums.join(', ')}`);
      const canon = checkDataType(def, v);
      if (def.patterns && def.patterns.length && !def.dataType) {
        // TR-106 patterns are XML Schema regular expressions, implicitly anchored.
        const ok = def.patterns.some((p) => new RegExp(`^(?:${p})$`, 'u').test(v));
        if (!ok) return fail(`"${v}" does not match the ${typeName} pattern`);
      }
      return canon;
    }
  }
}

function checkSize(def: ParamDef, len: number, unit: string) {
  if (def.maxLength !== undefined && len > def.maxLength) fail(`longer than ${def.maxLength} ${unit}`);
  if (def.minLength !== undefined && len < def.minLength) fail(`shorter than ${def.minLength} ${unit}`);
}

function checkRanges(def: ParamDef, n: bigint) {
  if (!def.ranges || def.ranges.length === 0) return;
  const ok = def.ranges.some((r) => {
    if (r.min !== undefined && n < BigInt(r.min)) return false;
    if (r.max !== undefined && n > BigInt(r.max)) return false;
    if (r.step !== undefined && r.min !== undefined && (n - BigInt(r.min)) % BigInt(r.step) !== 0n) return false;
    return true;
  });
  if (!ok) {
    const txt = def.ranges.map((r) => `${r.min ?? ''}..${r.max ?? ''}${r.step ? ` step ${r.step}` : ''}`).join(' or ');
    fail(`${n} is outside the allowed range ${txt}`);
  }
}

/**
 * Checks `text` against the parameter's syntax and returns its canonical form, or throws TypeError_
 * with a message naming the type. Lists (TR-106 §3.2.3) are comma-separated, each item checked.
 */
export function canonical(def: ParamDef, text: string): string {
  if (typeof text !== 'string') fail('value must be text');
  if (def.list) {
    if (def.list.maxLength !== undefined && text.length > def.list.maxLength)
      fail(`list longer than ${def.list.maxLength} characters`);
    if (text === '') {
      if (def.list.minItems) fail(`list needs at least ${def.list.minItems} items`);
      return '';
    }
    const items = text.split(',').map((s) => s.trim());
    if (def.list.minItems !== undefined && items.length < def.list.minItems) fail(`list needs at least ${def.list.minItems} items`);
    if (def.list.maxItems !== undefined && items.length > def.list.maxItems) fail(`list allows at most ${def.list.maxItems} items`);
    return items.map((i) => checkScalar(def, i)).join(',');
  }
  return checkScalar(def, text);
}

/**
 * The value a new instance gets: the schema default, else the type's empty value when the syntax allows it
 * (TR-106: empty string, false, 0, the Unknown Time), else the first enumeration value or the range minimum.
 */
export function zeroValue(def: ParamDef): string {
  if (def.default !== undefined) return def.default;
  const empty = def.list ? '' : ({ boolean: 'false', dateTime: '0001-01-01T00:00:00Z' } as Record<string, string>)[def.type]
    ?? (['int', 'unsignedInt', 'long', 'unsignedLong', 'decimal'].includes(def.type) ? '0' : '');
  try {
    return canonical(def, empty);
  } catch {
    if (def.enums?.length) return def.enums[0];
    const min = def.ranges?.find((r) => r.min !== undefined)?.min;
    return min ?? empty;
  }
}

/** Compares two canonical values for search expressions: numerically when both are numbers. */
export function compareValues(def: ParamDef | undefined, a: string, b: string): number {
  const numeric = def && ['int', 'unsignedInt', 'long', 'unsignedLong', 'decimal'].includes(def.type);
  if (numeric && /^-?\d+(\.\d+)?$/.test(a) && /^-?\d+(\.\d+)?$/.test(b)) {
    const x = Number(a);
    const y = Number(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}
