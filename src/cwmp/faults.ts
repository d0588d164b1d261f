// CWMP fault codes (TR-069 Amendment 6, §A.5.1 Table 70). The one table mapping the core's neutral DmError
// kinds to CPE fault codes; nothing else in the agent knows these numbers.
import { DmError, type DmErrorKind } from '../datamodel/index.ts';

export type FaultCode =
  | 9000 | 9001 | 9002 | 9003 | 9004 | 9005 | 9006 | 9007 | 9008 | 9009
  | 9010 | 9011 | 9012 | 9013 | 9014 | 9015 | 9016 | 9017 | 9018 | 9019;

/** TR-069 Table 70: the fault string and the SOAP faultcode ("Client" when the ACS's request is at fault). */
export const FAULTS: Record<FaultCode, { text: string; soap: 'Client' | 'Server' }> = {
  9000: { text: 'Method not supported', soap: 'Server' },
  9001: { text: 'Request denied', soap: 'Server' },
  9002: { text: 'Internal error', soap: 'Server' },
  9003: { text: 'Invalid arguments', soap: 'Client' },
  9004: { text: 'Resources exceeded', soap: 'Server' },
  9005: { text: 'Invalid parameter name', soap: 'Client' },
  9006: { text: 'Invalid parameter type', soap: 'Client' },
  9007: { text: 'Invalid parameter value', soap: 'Client' },
  9008: { text: 'Attempt to set a non-writable parameter', soap: 'Client' },
  9009: { text: 'Notification request rejected', soap: 'Server' },
  9010: { text: 'File transfer failure', soap: 'Server' },
  9011: { text: 'Upload failure', soap: 'Server' },
  9012: { text: 'File transfer server authentication failure', soap: 'Server' },
  9013: { text: 'Unsupported protocol for file transfer', soap: 'Server' },
  9014: { text: 'File transfer failure: unable to join multicast group', soap: 'Server' },
  9015: { text: 'File transfer failure: unable to contact file server', soap: 'Server' },
  9016: { text: 'File transfer failure: unable to access file', soap: 'Server' },
  9017: { text: 'File transfer failure: unable to complete download', soap: 'Server' },
  9018: { text: 'File transfer failure: file corrupted', soap: 'Server' },
  9019: { text: 'File transfer failure: file authentication failure', soap: 'Server' },
};

/** The core's error kinds as CWMP faults (STYLE §6: one mapping table per protocol). */
export const KIND_TO_FAULT: Record<DmErrorKind, FaultCode> = {
  InvalidPath: 9005,
  InvalidValue: 9007,
  NotWritable: 9008,
  NotCreatable: 9005, // AddObject/DeleteObject on something that is not a writable table (A.3.2.6/7)
  UniqueKeyConflict: 9007,
  ResourcesExceeded: 9004,
  InvalidArgument: 9003,
  PermissionDenied: 9001,
  NotSupported: 9001,
  Rejected: 9007, // a handler vetoed the value (e.g. a reference to a missing object)
  NotificationRejected: 9009,
  CommandFailed: 9002,
  Internal: 9002,
};

export interface ParamFault {
  ParameterName: string;
  FaultCode: FaultCode;
  FaultString: string;
}

/** A fault the CPE answers an RPC with (the body of a SOAP Fault, TR-069 §A.3.1.2). */
export class CwmpFault extends Error {
  constructor(
    readonly code: FaultCode,
    message: string = FAULTS[code].text,
    /** SetParameterValues only: one entry per offending parameter (A.3.2.1). */
    readonly params: readonly ParamFault[] = [],
  ) {
    super(message);
  }
}

/** Maps any error raised while handling an RPC to a CwmpFault; unknown errors become 9002. */
export function toFault(err: unknown): CwmpFault {
  if (err instanceof CwmpFault) return err;
  if (err instanceof DmError) return new CwmpFault(KIND_TO_FAULT[err.kind], err.message);
  return new CwmpFault(9002);
}

/**
 * SetParameterValues faults: 9003 at the top with one SetParameterValuesFault per bad parameter
 * (A.3.2.1), each carrying that parameter's own code.
 */
export function spvFault(err: DmError): CwmpFault {
  const details = err.details.length ? err.details : [{ path: err.path ?? '', kind: err.kind, message: err.message }];
  return new CwmpFault(9003, FAULTS[9003].text, details.map((d) => ({
    ParameterName: d.path, FaultCode: KIND_TO_FAULT[d.kind], FaultString: d.message,
  })));
}
