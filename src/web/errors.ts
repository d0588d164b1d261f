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

/** Maps a thrown error to [status, body]; anything that is not a DmError is an internal error. */
export function toHttp(err: unknown): [number, ErrorBody] {
  if (isDmError(err)) return [HTTP_STATUS[err.kind] ?? 500, errorBody(err.kind, err.message, [...err.details])];
  return [500, errorBody('Internal', 'internal error')];
}
