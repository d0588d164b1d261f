// One CLI request line -> a checked CliRequest, or a DmError('InvalidArgument') whose message names the
// field a person got wrong. Nothing reaches the data model before its shape is checked: a line `null` once
// took the agent down (issue 18), and a wrong field type came back as "reading 'flatMap'".
import type { ErrorObject, ValidateFunction } from 'ajv';
import { DmError } from '../datamodel/index.ts';
// ENVELOPE_SCHEMA and REQUEST_SCHEMAS of protocol.ts, compiled ahead of time (tools/gen-validators.ts).
import * as validators from '../generated/cli-validators.js';
import { ENVELOPE_SCHEMA, type CliRequest } from './protocol.ts';

const EXAMPLE = '{"id":1,"cmd":"get","paths":["Device.DeviceInfo."]}';

const envelope = validators.envelope;
const commands = new Map<string, ValidateFunction>(Object.entries(validators)
  .filter(([name]) => name.startsWith('cmd_')).map(([name, v]) => [name.slice('cmd_'.length), v as ValidateFunction]));

const A_TYPE: Record<string, string> = {
  string: 'a string', array: 'an array', object: 'an object', integer: 'an integer', number: 'a number', boolean: 'true or false', null: 'null',
};

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `${typeof v} ${JSON.stringify(v).slice(0, 40)}`;
}

/** The keys of a JSON pointer (RFC 6901), as ajv reports where an error is. */
const keys = (pointer: string) => pointer.split('/').slice(1).map((k) => k.replace(/~1/g, '/').replace(/~0/g, '~'));

/** `/values/Device.X` -> `values["Device.X"]`, `/paths/0` -> `paths[0]`, `/set/notification` -> `set.notification`. */
function fieldName(pointer: string): string {
  return keys(pointer).map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : /^[A-Za-z_]\w*$/.test(p) ? `${i ? '.' : ''}${p}` : `[${JSON.stringify(p)}]`)).join('');
}

function describe(cmd: string, e: ErrorObject, data: unknown): string {
  const field = fieldName(e.instancePath);
  const value = keys(e.instancePath).reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], data);
  switch (e.keyword) {
    case 'required': return `${cmd}: missing field "${e.params.missingProperty}"`;
    case 'additionalProperties': return `${cmd}: unknown field "${field ? `${field}.` : ''}${e.params.additionalProperty}"`;
    case 'type': return `${cmd}: ${field} must be ${A_TYPE[e.params.type] ?? e.params.type}, not ${kindOf(value)}`;
    case 'enum': return `${cmd}: ${field} must be one of ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}, not ${kindOf(value)}`;
    default: return `${cmd}: ${field} ${e.message}`;
  }
}

/** One line checked: the request, or the error naming every bad field (with the id to echo, 0 if none). */
export type Parsed = { id: number; req: CliRequest; error?: undefined } | { id: number; req?: undefined; error: DmError };

export function parseRequest(line: string): Parsed {
  let req: unknown;
  try {
    req = JSON.parse(line);
  } catch (e) {
    return { id: 0, error: new DmError('InvalidArgument', `a request is one line of JSON such as ${EXAMPLE} (${(e as Error).message})`) };
  }
  if (req === null || typeof req !== 'object' || Array.isArray(req)) {
    return { id: 0, error: new DmError('InvalidArgument', `a request must be a JSON object such as ${EXAMPLE}, not ${kindOf(req)}`) };
  }
  const { id: rawId, cmd } = req as { id?: unknown; cmd?: unknown };
  const id = Number.isSafeInteger(rawId) ? (rawId as number) : 0;
  if (!envelope(req)) {
    return { id, error: new DmError('InvalidArgument', envelope.errors!.map((e) => (e.instancePath === '/cmd' && e.keyword === 'enum'
      ? `unknown command ${JSON.stringify(cmd)}; one of ${ENVELOPE_SCHEMA.properties.cmd.enum.join(', ')}`
      : describe('request', e, req))).join('; ')) };
  }
  const check = commands.get(cmd as string)!;
  if (!check(req)) return { id, error: new DmError('InvalidArgument', check.errors!.map((e) => describe(cmd as string, e, req)).join('; ')) };
  return { id, req: req as CliRequest };
}
