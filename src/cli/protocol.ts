// The CLI wire format (one JSON object per line each way), shared by the server and the client
// (bin/cli.js speaks it in plain JavaScript). REQUEST_SCHEMAS below is the shape the server accepts; the
// types are what a request that passed it looks like.
import type { DmErrorDetail, DmErrorKind } from '../datamodel/index.ts';

export type CliRequest = { id: number } & (
  | { cmd: 'get'; paths: string[] }
  | { cmd: 'dump' }
  | { cmd: 'names'; paths: string[]; nextLevel?: boolean }
  | { cmd: 'set'; values: Record<string, string> }
  | { cmd: 'add'; table: string; values?: Record<string, string> }
  | { cmd: 'delete'; paths: string[] }
  | { cmd: 'attrs'; paths: string[]; set?: { notification?: number; accessList?: string[] } }
  | { cmd: 'operate'; path: string; input?: Record<string, string> }
);

export type CliResponse =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: { kind: DmErrorKind; message: string; details: DmErrorDetail[] } };

const strings = { type: 'array', items: { type: 'string' } } as const;
const stringMap = { type: 'object', additionalProperties: { type: 'string' } } as const;

/** Every request: an object naming a known command; `id` is echoed in the reply. */
export const ENVELOPE_SCHEMA = {
  type: 'object',
  required: ['cmd'],
  properties: {
    id: { type: 'integer' },
    cmd: { enum: ['get', 'dump', 'names', 'set', 'add', 'delete', 'attrs', 'operate'] },
  },
} as const;

/** The fields of each command besides `id` and `cmd`; nothing else is accepted. */
export const REQUEST_SCHEMAS: Record<CliRequest['cmd'], { required: string[]; properties: Record<string, object> }> = {
  get: { required: ['paths'], properties: { paths: strings } },
  dump: { required: [], properties: {} },
  names: { required: ['paths'], properties: { paths: strings, nextLevel: { type: 'boolean' } } },
  set: { required: ['values'], properties: { values: stringMap } },
  add: { required: ['table'], properties: { table: { type: 'string' }, values: stringMap } },
  delete: { required: ['paths'], properties: { paths: strings } },
  attrs: {
    required: ['paths'],
    properties: {
      paths: strings,
      set: {
        type: 'object', additionalProperties: false,
        properties: { notification: { enum: [0, 1, 2] }, accessList: strings },
      },
    },
  },
  operate: { required: ['path'], properties: { path: { type: 'string' }, input: stringMap } },
};
