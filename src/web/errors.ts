// The web front-end's one mapping table from neutral core errors (DmError kinds) to HTTP status codes
// (RFC 9110 §15). The JSON body keeps the kind and every failing item, so the page can show each
// message next to its field.
import { isDmError, type DmErrorDetail, type DmErrorKind } from '../datamodel/index.ts';

export const HTTP_STATUS: Readonly<Record<DmErrorKind, number>> = {
  InvalidPath: 404,
  InvalidValue: 422,
  NotWritable: 422,
  NotCreatable: 422,
  UniqueKeyConflict: 409,
  ResourcesExceeded: 409,
  InvalidArgument: 400,
  PermissionDenied: 403,
  NotSupported: 501,
  Rejected: 422,
  NotificationRejected: 422,
  CommandFailed: 500,
  Internal: 500,
};

export interface ErrorBody {
  error: { kind: string; message: string; details: DmErrorDetail[] };
}

export function errorBody(kind: string, message: string, details: DmErrorDetail[] = []): ErrorBody {
  return { error: { kind, message, details } };
}

/**
 * Each detail's message without its own path in front (a handler's validate() may already name the path,
 * and the core puts it in front again: "P: P: not an FQDN"), and the error's message rebuilt from them, so
 * the path appears once. A message without details is kept as the core wrote it.
 */
export function onceEach(message: string, details: readonly DmErrorDetail[]): { message: string; details: DmErrorDetail[] } {
  if (!details.length) return { message, details: [] };
  const clean = details.map((d) => {
    let m = d.message;
    while (m.startsWith(`${d.path}: `)) m = m.slice(d.path.length + 2);
    return { path: d.path, kind: d.kind, message: m };
  });
  return { message: clean.map((d) => `${d.path}: ${d.message}`).join('; '), details: clean };
}

/** Maps a thrown error to [status, body]; anything that is not a DmError is an internal error. */
export function toHttp(err: unknown): [number, ErrorBody] {
  if (isDmError(err)) {
    const { message, details } = onceEach(err.message, err.details);
    return [HTTP_STATUS[err.kind] ?? 500, errorBody(err.kind, message, details)];
  }
  return [500, errorBody('Internal', 'internal error')];
}
