// CWMP messages as discriminated unions named as TR-069 Annex A names them (STYLE §7). The codec
// (soap.ts) turns wire XML into these and back; handlers only see these types.

/** Namespace suffixes: cwmp-1-2 carries CWMP 1.2, 1.3 and 1.4 (the 1-3/1-4 XSDs keep the 1-2 namespace). */
export type CwmpNs = '1-0' | '1-1' | '1-2';
export const NS_URN = (ns: CwmpNs) => `urn:dslforum-org:cwmp-${ns}`;
/** TR-069 §A.2.3.1 SupportedCWMPVersions: every protocol version this CPE speaks. */
export const SUPPORTED_VERSIONS = '1.0,1.1,1.2,1.3,1.4';

export interface ParameterValueStruct {
  Name: string;
  Value: string;
  /** xsi:type without prefix ("string", "unsignedInt", ...); absent when the sender gave none. */
  type?: string;
}

export interface SetParameterAttributesStruct {
  Name: string;
  NotificationChange: boolean;
  Notification: number;
  AccessListChange: boolean;
  AccessList: string[];
}

/** Requests the ACS sends to the CPE (A.3.1, A.3.2, A.4.1). */
export type AcsRequest =
  | { method: 'GetRPCMethods' }
  | { method: 'GetParameterNames'; ParameterPath: string; NextLevel: boolean }
  | { method: 'GetParameterValues'; ParameterNames: string[] }
  | { method: 'SetParameterValues'; ParameterList: ParameterValueStruct[]; ParameterKey: string }
  | { method: 'GetParameterAttributes'; ParameterNames: string[] }
  | { method: 'SetParameterAttributes'; ParameterList: SetParameterAttributesStruct[] }
  | { method: 'AddObject'; ObjectName: string; ParameterKey: string }
  | { method: 'DeleteObject'; ObjectName: string; ParameterKey: string }
  | { method: 'Reboot'; CommandKey: string }
  | { method: 'FactoryReset' }
  | { method: 'ScheduleInform'; DelaySeconds: number; CommandKey: string }
  | {
      method: 'Download'; CommandKey: string; FileType: string; URL: string; Username: string; Password: string;
      FileSize: number; TargetFileName: string; DelaySeconds: number; SuccessURL: string; FailureURL: string;
    };

export type AcsMethod = AcsRequest['method'];

/** Responses the ACS sends to the CPE's own requests. */
export type AcsResponse =
  | { method: 'InformResponse'; MaxEnvelopes: number }
  | { method: 'TransferCompleteResponse' }
  | { method: 'GetRPCMethodsResponse'; MethodList: string[] };

export interface SoapFaultIn {
  method: 'Fault';
  FaultCode: number;
  FaultString: string;
}

/** What one HTTP body from the ACS holds. */
export interface AcsEnvelope {
  ns: CwmpNs;
  id?: string;
  holdRequests: boolean;
  /** UseCWMPVersion header (A.2.3.2), e.g. "1.4". */
  useVersion?: string;
  /** Unknown: a method this CPE does not have; `namespace` when it is in a namespace that is no CWMP version it speaks. */
  body: AcsRequest | AcsResponse | SoapFaultIn | { method: 'Unknown'; name: string; namespace?: string };
}

export interface EventStruct {
  EventCode: string;
  CommandKey: string;
}

export interface DeviceIdStruct {
  Manufacturer: string;
  OUI: string;
  ProductClass: string;
  SerialNumber: string;
}

export interface TransferCompleteArgs {
  CommandKey: string;
  FaultCode: number;
  FaultString: string;
  StartTime: string;
  CompleteTime: string;
}

export interface ParameterInfoStruct {
  Name: string;
  Writable: boolean;
}

export interface ParameterAttributeStruct {
  Name: string;
  Notification: number;
  AccessList: string[];
}

/** Messages the CPE sends: its requests and its responses to the ACS's requests. */
export type CpeMessage =
  | { method: 'Inform'; DeviceId: DeviceIdStruct; Event: EventStruct[]; MaxEnvelopes: number; CurrentTime: string; RetryCount: number; ParameterList: ParameterValueStruct[] }
  | ({ method: 'TransferComplete' } & TransferCompleteArgs)
  | { method: 'GetRPCMethodsResponse'; MethodList: string[] }
  | { method: 'GetParameterNamesResponse'; ParameterList: ParameterInfoStruct[] }
  | { method: 'GetParameterValuesResponse'; ParameterList: ParameterValueStruct[] }
  | { method: 'SetParameterValuesResponse'; Status: 0 | 1 }
  | { method: 'GetParameterAttributesResponse'; ParameterList: ParameterAttributeStruct[] }
  | { method: 'SetParameterAttributesResponse' }
  | { method: 'AddObjectResponse'; InstanceNumber: number; Status: 0 | 1 }
  | { method: 'DeleteObjectResponse'; Status: 0 | 1 }
  | { method: 'RebootResponse' }
  | { method: 'FactoryResetResponse' }
  | { method: 'ScheduleInformResponse' }
  | { method: 'DownloadResponse'; Status: 0 | 1; StartTime: string; CompleteTime: string }
  | { method: 'Fault'; FaultCode: number; FaultString: string; SetParameterValuesFault: { ParameterName: string; FaultCode: number; FaultString: string }[] };

/** TR-069 §3.2.1 unknown time, used for StartTime/CompleteTime before a transfer completes. */
export const UNKNOWN_TIME = '0001-01-01T00:00:00Z';
