// Neutral core errors. Front-ends map `kind` to their own codes in one table each (CWMP 9xxx in src/cwmp,
// USP 7xxx in src/usp, SNMP error-status in src/snmp); the core never knows a protocol's codes.

export type DmErrorKind =
  | 'InvalidPath' // no such object, parameter, instance or command
  | 'InvalidValue' // value does not satisfy the parameter's type, size, range, enumeration or pattern
  | 'NotWritable' // read-only parameter, or write-once already written
  | 'NotCreatable' // table does not allow add/delete for this origin, or a single-instance object
  | 'UniqueKeyConflict' // a unique key would be duplicated (TR-106 §3.5.1)
  | 'ResourcesExceeded' // maxEntries reached, or request too large
  | 'InvalidArgument' // malformed request: bad path syntax, missing command input, bad attribute
  | 'PermissionDenied' // caller's role may not do this
  | 'NotSupported' // a command without a handler, an unsupported feature
  | 'Rejected' // a handler's validate callback vetoed the change
  | 'NotificationRejected' // active notification refused for this parameter (TR-069 activeNotify)
  | 'CommandFailed' // a command ran and failed
  | 'Internal'; // anything else; never the caller's fault

/** One failing parameter or object in a batch. */
export interface DmErrorDetail {
  path: string;
  kind: DmErrorKind;
  message: string;
  /** The index, in the batch given to `commit`, of the change this item belongs to (when it belongs to one). */
  change?: number;
}

export class DmError extends Error {
  override readonly name = 'DmError';
  constructor(
    readonly kind: DmErrorKind,
    message: string,
    /** Every failing item of a batch; a batch with one bad value changes nothing and names all of them. */
    readonly details: readonly DmErrorDetail[] = [],
    readonly path?: string,
  ) {
    super(message);
  }

  static from(details: DmErrorDetail[]): DmError {
    if (details.length === 1) {
      const d = details[0];
      return new DmError(d.kind, `${d.path}: ${d.message}`, details, d.path);
    }
    const kinds = new Set(details.map((d) => d.kind));
    const kind = kinds.size === 1 ? details[0].kind : 'InvalidValue';
    return new DmError(kind, details.map((d) => `${d.path}: ${d.message}`).join('; '), details);
  }
}

export const isDmError = (e: unknown): e is DmError => e instanceof DmError;
