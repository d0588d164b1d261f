// The SOAP codec (TR-069 Annex A.2/A.3): ACS envelopes in (xml2js), CPE envelopes out (xml2js Builder).
// Hostile input is refused before parsing: a DTD (entity expansion, external entities) never reaches the
// parser; missing or malformed arguments become CodecError, which the session answers with fault 9003.
// Elements are matched by namespace as well as name: an RPC in a cwmp namespace this CPE does not speak is
// not one of its methods.
import xml2js from 'xml2js';
import type { AcsEnvelope, AcsRequest, CpeMessage, CwmpNs, ParameterValueStruct, SetParameterAttributesStruct } from './messages.ts';
import { NS_URN, SUPPORTED_VERSIONS } from './messages.ts';

export class CodecError extends Error {
  constructor(
    message: string,
    /** Set once the SOAP header was read: the cwmp:ID to echo in the fault (undefined: none to echo). */
    readonly header?: { id?: string },
  ) {
    super(message);
  }
}

type X = unknown;
type Obj = Record<string, X>;

const isObj = (v: X): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const arr = (v: X): X[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
const text = (v: X): string => (typeof v === 'string' ? v : isObj(v) && typeof v._ === 'string' ? v._ : '');
/** Attribute values by local name (the parser runs with xmlns on: each attribute is {value, uri, ...}). */
const attrs = (v: X): Record<string, string> =>
  (isObj(v) && isObj(v.$) ? Object.fromEntries(Object.entries(v.$).map(([k, a]) => [k, isObj(a) ? String(a.value) : String(a)])) : {});
/** The namespace URI of a parsed element ('' when unqualified). */
const nsOf = (v: X): string => (isObj(v) && isObj(v.$ns) ? String(v.$ns.uri) : '');
/** Child element names, without the parser's own keys. */
const childNames = (o: Obj): string[] => Object.keys(o).filter((k) => k !== '$' && k !== '$ns');

function need(o: Obj, name: string): X {
  if (!(name in o)) throw new CodecError(`missing argument ${name}`);
  return o[name];
}
const str = (o: Obj, name: string) => text(need(o, name));
function bool(o: Obj, name: string): boolean {
  const t = str(o, name).trim();
  if (t === 'true' || t === '1') return true;
  if (t === 'false' || t === '0') return false;
  throw new CodecError(`${name}: "${t}" is not a boolean`);
}
function uint(o: Obj, name: string): number {
  const t = str(o, name).trim();
  if (!/^\d{1,10}$/.test(t) || Number(t) > 0xffffffff) throw new CodecError(`${name}: "${t}" is not an unsignedInt`);
  return Number(t);
}
/** SOAP-ENC arrays (A.2.2.1): the member elements of an array argument. */
function members(o: Obj, name: string, member: string): X[] {
  const a = need(o, name);
  return isObj(a) ? arr(a[member]) : [];
}
function strings(o: Obj, name: string): string[] {
  return members(o, name, 'string').map(text);
}

const PARSER_OPTS = {
  explicitArray: false,
  xmlns: true,
  tagNameProcessors: [xml2js.processors.stripPrefix],
  attrNameProcessors: [xml2js.processors.stripPrefix],
  async: false,
  strict: true,
};

const SOAP_ENV = 'http://schemas.xmlsoap.org/soap/envelope/';
/** The cwmp namespaces of the versions this CPE speaks (1.3 and 1.4 keep cwmp-1-2, see messages.ts). */
const CWMP_NS: ReadonlyMap<string, CwmpNs> = new Map((['1-0', '1-1', '1-2'] as const).map((n) => [NS_URN(n), n]));

/** Which CWMP namespace a message uses, from its declarations (1-2 when several, e.g. a 1.4 ACS). */
export function namespaceOf(xml: string): CwmpNs | undefined {
  const found = [...xml.matchAll(/urn:dslforum-org:cwmp-1-([0-2])/g)].map((m) => m[1]);
  if (!found.length) return undefined;
  return `1-${found.sort().at(-1)}` as CwmpNs;
}

function parseXml(xml: string): Obj {
  // Entity expansion ("billion laughs") and external entities (XXE) both need a DTD; SOAP forbids one (SOAP 1.1 §3).
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) throw new CodecError('a DTD is not allowed in a SOAP message');
  let out: Obj | undefined;
  let error: unknown;
  new xml2js.Parser(PARSER_OPTS).parseString(xml, (err: unknown, res: Obj) => { error = err; out = res; });
  if (error || !out) throw new CodecError(`malformed XML: ${error instanceof Error ? error.message.split('\n')[0] : 'no document'}`);
  return out;
}

function parseRequest(name: string, o: Obj): AcsRequest | undefined {
  switch (name) {
    case 'GetRPCMethods': case 'FactoryReset':
      return { method: name };
    case 'GetParameterNames':
      return { method: name, ParameterPath: str(o, 'ParameterPath'), NextLevel: bool(o, 'NextLevel') };
    case 'GetParameterValues': case 'GetParameterAttributes':
      return { method: name, ParameterNames: strings(o, 'ParameterNames') };
    case 'SetParameterValues':
      return { method: name, ParameterList: members(o, 'ParameterList', 'ParameterValueStruct').map(pvs), ParameterKey: text(o.ParameterKey) };
    case 'SetParameterAttributes':
      return { method: name, ParameterList: members(o, 'ParameterList', 'SetParameterAttributesStruct').map(spas) };
    case 'AddObject': case 'DeleteObject':
      return { method: name, ObjectName: str(o, 'ObjectName'), ParameterKey: text(o.ParameterKey) };
    case 'Reboot':
      return { method: name, CommandKey: text(o.CommandKey) };
    case 'ScheduleInform':
      return { method: name, DelaySeconds: uint(o, 'DelaySeconds'), CommandKey: text(o.CommandKey) };
    case 'Download':
      return {
        method: name, CommandKey: text(o.CommandKey), FileType: str(o, 'FileType'), URL: str(o, 'URL'),
        Username: text(o.Username), Password: text(o.Password), FileSize: o.FileSize === undefined ? 0 : uint(o, 'FileSize'),
        TargetFileName: text(o.TargetFileName), DelaySeconds: o.DelaySeconds === undefined ? 0 : uint(o, 'DelaySeconds'),
        SuccessURL: text(o.SuccessURL), FailureURL: text(o.FailureURL),
      };
    default:
      return undefined;
  }
}

function pvs(v: X): ParameterValueStruct {
  if (!isObj(v)) throw new CodecError('ParameterValueStruct without members');
  const value = need(v, 'Value');
  const type = attrs(value).type;
  return { Name: str(v, 'Name'), Value: text(value), ...(type ? { type: type.slice(type.indexOf(':') + 1) } : {}) };
}

function spas(v: X): SetParameterAttributesStruct {
  if (!isObj(v)) throw new CodecError('SetParameterAttributesStruct without members');
  const n = str(v, 'Notification').trim();
  if (!/^\d$/.test(n)) throw new CodecError(`Notification "${n}" is not a number`);
  return {
    Name: str(v, 'Name'), NotificationChange: bool(v, 'NotificationChange'), Notification: Number(n),
    AccessListChange: bool(v, 'AccessListChange'), AccessList: isObj(v.AccessList) ? arr(v.AccessList.string).map(text) : [],
  };
}

/**
 * Parses one ACS message (A.2.2). Throws CodecError for anything that is not a CWMP SOAP envelope. A body
 * element in a namespace that is not one of CWMP_NS parses as an Unknown method with that namespace; an
 * unqualified one is read in the namespace the message declares (lenient, as before namespaces were checked).
 */
export function parseEnvelope(xml: string): AcsEnvelope {
  const doc = parseXml(xml);
  const env = doc.Envelope;
  if (!isObj(env) || !isObj(env.Body) || nsOf(env) !== SOAP_ENV) throw new CodecError('not a SOAP 1.1 envelope');
  const header = isObj(env.Header) ? env.Header : {};
  // TR-069 §3.5: the response echoes the request's ID. Two IDs name no single request (the fault still echoes
  // the ID where both copies agree).
  const ids = arr(header.ID).map(text);
  const read = { id: ids.length && ids.every((i) => i === ids[0]) ? ids[0] : undefined };
  if (ids.length > 1) throw new CodecError(`${ids.length} cwmp:ID headers`, read);
  const [name] = childNames(env.Body);
  if (name === undefined) throw new CodecError('empty SOAP body', read);
  const el = env.Body[name];
  const o = isObj(el) ? el : {};
  // A SOAP Fault is read whatever its detail's namespace: it answers the CPE and is never answered (§3.5).
  const fault = name === 'Fault';
  const methodNs = fault ? nsOf(isObj(o.detail) ? o.detail.Fault : undefined) : nsOf(el);
  const known = CWMP_NS.get(methodNs) ?? (methodNs === '' || fault ? namespaceOf(xml) ?? '1-2' : undefined);
  const hold = text(header.HoldRequests).trim();
  const out: AcsEnvelope = {
    ns: known ?? '1-2', holdRequests: hold === 'true' || hold === '1', body: { method: 'Unknown', name },
    ...(read.id !== undefined ? { id: read.id } : {}),
    ...(header.UseCWMPVersion !== undefined ? { useVersion: text(header.UseCWMPVersion).trim() } : {}),
  };
  if (!known) {
    out.body = { method: 'Unknown', name, namespace: methodNs };
    return out;
  }
  try {
    out.body = parseBody(name, fault, o);
  } catch (e) {
    throw e instanceof CodecError ? new CodecError(e.message, read) : e;
  }
  return out;
}

function parseBody(name: string, fault: boolean, o: Obj): AcsEnvelope['body'] {
  if (fault) {
    const f = isObj(o.detail) && isObj(o.detail.Fault) ? o.detail.Fault : {};
    return { method: 'Fault', FaultCode: Number(text(f.FaultCode)) || 0, FaultString: text(f.FaultString) || text(o.faultstring) };
  }
  if (name === 'InformResponse') return { method: name, MaxEnvelopes: o.MaxEnvelopes === undefined ? 1 : uint(o, 'MaxEnvelopes') };
  if (name === 'TransferCompleteResponse') return { method: name };
  if (name === 'GetRPCMethodsResponse') return { method: name, MethodList: strings(o, 'MethodList') };
  return parseRequest(name, o) ?? { method: 'Unknown', name };
}

/** TR-106 base types as XML Schema types for xsi:type (A.2.1, Table 4). */
export const XSD_TYPE: Record<string, string> = {
  string: 'string', boolean: 'boolean', int: 'int', unsignedInt: 'unsignedInt', long: 'long', unsignedLong: 'unsignedLong',
  dateTime: 'dateTime', base64: 'base64Binary', hexBinary: 'hexBinary', decimal: 'decimal',
};

const array = (type: string, items: unknown[], member: string) => ({ $: { 'soap-enc:arrayType': `${type}[${items.length}]` }, [member]: items });
const values = (list: ParameterValueStruct[]) =>
  array('cwmp:ParameterValueStruct', list.map((p) => ({ Name: p.Name, Value: { _: p.Value, $: { 'xsi:type': `xsd:${p.type ?? 'string'}` } } })), 'ParameterValueStruct');

function body(m: CpeMessage): Obj {
  switch (m.method) {
    case 'Inform':
      return {
        DeviceId: m.DeviceId, Event: array('cwmp:EventStruct', m.Event, 'EventStruct'), MaxEnvelopes: m.MaxEnvelopes,
        CurrentTime: m.CurrentTime, RetryCount: m.RetryCount, ParameterList: values(m.ParameterList),
      };
    case 'TransferComplete':
      return { CommandKey: m.CommandKey, FaultStruct: { FaultCode: m.FaultCode, FaultString: m.FaultString }, StartTime: m.StartTime, CompleteTime: m.CompleteTime };
    case 'GetRPCMethodsResponse':
      return { MethodList: array('xsd:string', m.MethodList, 'string') };
    case 'GetParameterNamesResponse':
      return { ParameterList: array('cwmp:ParameterInfoStruct', m.ParameterList.map((p) => ({ Name: p.Name, Writable: p.Writable ? 1 : 0 })), 'ParameterInfoStruct') };
    case 'GetParameterValuesResponse':
      return { ParameterList: values(m.ParameterList) };
    case 'GetParameterAttributesResponse':
      return {
        ParameterList: array('cwmp:ParameterAttributeStruct', m.ParameterList.map((a) => ({
          Name: a.Name, Notification: a.Notification, AccessList: array('xsd:string', a.AccessList, 'string'),
        })), 'ParameterAttributeStruct'),
      };
    case 'SetParameterValuesResponse': case 'DeleteObjectResponse':
      return { Status: m.Status };
    case 'AddObjectResponse':
      return { InstanceNumber: m.InstanceNumber, Status: m.Status };
    case 'DownloadResponse':
      return { Status: m.Status, StartTime: m.StartTime, CompleteTime: m.CompleteTime };
    case 'SetParameterAttributesResponse': case 'RebootResponse': case 'FactoryResetResponse': case 'ScheduleInformResponse':
      return {};
    case 'Fault':
      return {};
  }
}

function faultBody(m: Extract<CpeMessage, { method: 'Fault' }>, soap: 'Client' | 'Server'): Obj {
  return {
    faultcode: soap, faultstring: 'CWMP fault',
    detail: {
      'cwmp:Fault': {
        FaultCode: m.FaultCode, FaultString: m.FaultString,
        ...(m.SetParameterValuesFault.length ? { SetParameterValuesFault: m.SetParameterValuesFault } : {}),
      },
    },
  };
}

const builder = new xml2js.Builder({ renderOpts: { pretty: false }, xmldec: { version: '1.0', encoding: 'UTF-8' } });

export interface BuildOptions {
  ns: CwmpNs;
  /** cwmp:ID header (A.2.2.1): the ACS's ID echoed in a response, or the CPE's own for its requests. */
  id?: string;
  /** SOAP faultcode for a Fault body. */
  soapFaultCode?: 'Client' | 'Server';
}

/** Serializes one CPE message into a SOAP envelope in the session's namespace. */
export function buildEnvelope(m: CpeMessage, opts: BuildOptions): string {
  const header: Obj = {};
  if (opts.id !== undefined) header['cwmp:ID'] = { _: opts.id, $: { 'soap-env:mustUnderstand': '1' } };
  // A.2.3.1: the CPE announces its versions in the Inform; the header exists from the 1-2 namespace on.
  if (m.method === 'Inform' && opts.ns === '1-2') header['cwmp:SupportedCWMPVersions'] = { _: SUPPORTED_VERSIONS, $: { 'soap-env:mustUnderstand': '0' } };
  const content = m.method === 'Fault' ? { 'soap-env:Fault': faultBody(m, opts.soapFaultCode ?? 'Server') } : { [`cwmp:${m.method}`]: body(m) };
  return builder.buildObject({
    'soap-env:Envelope': {
      $: {
        'xmlns:soap-env': 'http://schemas.xmlsoap.org/soap/envelope/',
        'xmlns:soap-enc': 'http://schemas.xmlsoap.org/soap/encoding/',
        'xmlns:xsd': 'http://www.w3.org/2001/XMLSchema',
        'xmlns:xsi': 'http://www.w3.org/2001/XMLSchema-instance',
        'xmlns:cwmp': NS_URN(opts.ns),
      },
      ...(Object.keys(header).length ? { 'soap-env:Header': header } : {}),
      'soap-env:Body': content,
    },
  });
}
