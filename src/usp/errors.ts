// USP error codes (TR-369 §10.4 "Error Codes") and the ONE mapping from neutral core error kinds to them.
import { isDmError, type DmErrorKind } from '../datamodel/index.ts';

export const USP_ERR = {
  GENERAL_FAILURE: 7000,
  MESSAGE_NOT_SUPPORTED: 7001,
  REQUEST_DENIED: 7002,
  INTERNAL_ERROR: 7003,
  INVALID_ARGUMENTS: 7004,
  RESOURCES_EXCEEDED: 7005,
  PERMISSION_DENIED: 7006,
  INVALID_CONFIGURATION: 7007,
  INVALID_PATH_SYNTAX: 7008,
  PARAM_ACTION_FAILED: 7009,
  UNSUPPORTED_PARAM: 7010,
  INVALID_TYPE: 7011,
  INVALID_VALUE: 7012,
  PARAM_READ_ONLY: 7013,
  VALUE_CONFLICT: 7014,
  CRUD_FAILURE: 7015,
  OBJECT_DOES_NOT_EXIST: 7016,
  CREATION_FAILURE: 7017,
  NOT_A_TABLE: 7018,
  OBJECT_NOT_CREATABLE: 7019,
  SET_FAILURE: 7020,
  REQUIRED_PARAM_FAILED: 7021,
  COMMAND_FAILURE: 7022,
  COMMAND_CANCELLED: 7023,
  OBJECT_NOT_DELETABLE: 7024,
  UNIQUE_KEY_CONFLICT: 7025,
  INVALID_PATH: 7026,
  INVALID_COMMAND_ARGS: 7027,
  RECORD_NOT_PARSED: 7100,
  SECURE_SESSION_REQUIRED: 7101,
  SECURE_SESSION_NOT_SUPPORTED: 7102,
  SEG_NOT_SUPPORTED: 7103,
  RECORD_FIELD_INVALID: 7104,
} as const;

/** DmError kind -> USP error code: the single table of the USP front-end (STYLE §6). */
const KIND_TO_CODE: Record<DmErrorKind, number> = {
  InvalidPath: USP_ERR.INVALID_PATH,
  InvalidValue: USP_ERR.INVALID_VALUE,
  NotWritable: USP_ERR.PARAM_READ_ONLY,
  NotCreatable: USP_ERR.OBJECT_NOT_CREATABLE,
  UniqueKeyConflict: USP_ERR.UNIQUE_KEY_CONFLICT,
  ResourcesExceeded: USP_ERR.RESOURCES_EXCEEDED,
  InvalidArgument: USP_ERR.INVALID_ARGUMENTS,
  PermissionDenied: USP_ERR.PERMISSION_DENIED,
  NotSupported: USP_ERR.MESSAGE_NOT_SUPPORTED,
  Rejected: USP_ERR.INVALID_CONFIGURATION,
  NotificationRejected: USP_ERR.REQUEST_DENIED,
  CommandFailed: USP_ERR.COMMAND_FAILURE,
  Internal: USP_ERR.INTERNAL_ERROR,
};

export function codeOf(kind: DmErrorKind): number {
  return KIND_TO_CODE[kind];
}

/** An error thrown inside a handler that already carries its USP code. */
export class UspError extends Error {
  constructor(readonly code: number, message: string, readonly paramErrs: { param_path: string; err_code: number; err_msg: string }[] = []) {
    super(message);
  }
}

/** Any thrown value as {err_code, err_msg}; unknown errors are internal (never the caller's fault). */
export function toUspError(e: unknown): { err_code: number; err_msg: string } {
  if (e instanceof UspError) return { err_code: e.code, err_msg: e.message };
  if (isDmError(e)) return { err_code: codeOf(e.kind), err_msg: e.message };
  return { err_code: USP_ERR.INTERNAL_ERROR, err_msg: 'internal error' };
}
