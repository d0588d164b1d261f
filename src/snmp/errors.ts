// The one table from the core's neutral DmError kinds to SNMP error-status (RFC 3416 §4.2.5), and the
// SNMPv2 -> SNMPv1 translation for a multi-lingual agent (RFC 3584 §4.4).
import type { DmErrorKind } from '../datamodel/index.ts';
import { ErrorStatus, type ErrorStatusName } from './message.ts';

export const DM_ERROR_STATUS: Record<DmErrorKind, ErrorStatusName> = {
  InvalidPath: 'noCreation', // the instance does not exist and SNMP cannot create it
  InvalidValue: 'wrongValue', // type/size were checked already; range, enumeration or pattern failed
  NotWritable: 'notWritable',
  NotCreatable: 'noCreation',
  UniqueKeyConflict: 'inconsistentValue', // valid alone, not together with the other values
  ResourcesExceeded: 'resourceUnavailable',
  InvalidArgument: 'wrongValue',
  PermissionDenied: 'noAccess',
  NotSupported: 'genErr',
  Rejected: 'inconsistentValue', // a handler vetoed it in the current state
  NotificationRejected: 'genErr',
  CommandFailed: 'commitFailed',
  Internal: 'genErr',
};

const V1: Partial<Record<ErrorStatusName, ErrorStatusName>> = {
  noAccess: 'noSuchName', notWritable: 'noSuchName', noCreation: 'noSuchName', inconsistentName: 'noSuchName', authorizationError: 'noSuchName',
  wrongType: 'badValue', wrongLength: 'badValue', wrongEncoding: 'badValue', wrongValue: 'badValue', inconsistentValue: 'badValue',
  resourceUnavailable: 'genErr', commitFailed: 'genErr', undoFailed: 'genErr',
};

/** The error-status number to put on the wire for this protocol version (0 = SNMPv1). */
export function errorStatus(name: ErrorStatusName, version: number): number {
  return ErrorStatus[version === 0 ? (V1[name] ?? name) : name];
}
