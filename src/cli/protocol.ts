// The CLI wire format (one JSON object per line each way), shared by the server and the client.
import type { DmErrorDetail, DmErrorKind } from '../datamodel/index.ts';

export type CliRequest = { id: number } & (
  | { cmd: 'get'; paths: string[] }
  | { cmd: 'dump' }
  | { cmd: 'names'; paths: string[]; nextLevel?: boolean }
  | { cmd: 'set'; values: Record<string, string> }
  | { cmd: 'add'; table: string; values?: Record<string, string> }
  | { cmd: 'delete'; paths: string[] }
  | { cmd: 'attrs'; paths: string[]; set?: { notification?: number; accessList?: string[] } }
  | { cmd: 'operate'; path: string; input: Record<string, string> }
);

export type CliResponse =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: { kind: DmErrorKind; message: string; details: DmErrorDetail[] } };
