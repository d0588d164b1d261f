// Generates schema/tr181.json, the TR-181 subset twinstack serves, from the Broadband Forum XML in
// ../shared/specs. Re-runnable: `npm run schema`. Runtime never reads ../shared; it reads the output.
//
// Sources (see ../shared/specs/cwmp/SOURCES.md):
//  - tr-181-2-17-0-cwmp-full.xml: the base for every object in the subset (flattened, full paths);
//  - tr-181-2-18-0-dslite.xml: the newer Device.DSLite. definitions, overlaid parameter by parameter;
//  - tr-181-2-19-1-cwmp.xml: the newer Device.ManagementServer. definitions (with its tables), overlaid the same way;
//  - tr-181-2-16-0-usp-full.xml: Device.LocalAgent., Device.MQTT.Client. and the USP commands and events
//    (they exist only in the USP flavour of TR-181), marked protocols=["usp"] where CWMP lacks them;
//  - tr-106-types.xml: named data types and the Alias components.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseStringPromise } from 'xml2js';

const here = dirname(new URL(import.meta.url).pathname);
const SPECS = process.env.TWINSTACK_SPECS ?? join(here, '../../shared/specs');
const OUT = process.env.TWINSTACK_SCHEMA_OUT ?? join(here, '../schema/tr181.json');

/** Objects served, by exact schema path. Sub-objects not listed are left out (with their counters). */
const SUBSET = [
  'Device.',
  'Device.DeviceInfo.',
  'Device.ManagementServer.',
  // What an ACS adds to every Inform (TR-069 A.3.3.1 ParameterList); served by src/cwmp/inform.ts.
  'Device.ManagementServer.InformParameter.{i}.',
  // LAN devices that announced their ACS in DHCP option 125 (TR-069 Annex F). The agent runs no LAN DHCP
  // server, so the table stays empty; it is served so that ManageableDeviceNumberOfEntries (0) is.
  'Device.ManagementServer.ManageableDevice.{i}.',
  'Device.DSLite.',
  'Device.DSLite.InterfaceSetting.{i}.',
  'Device.IP.',
  'Device.IP.Interface.{i}.',
  'Device.IP.Interface.{i}.IPv4Address.{i}.',
  'Device.IP.Interface.{i}.IPv6Address.{i}.',
  'Device.IP.Interface.{i}.IPv6Prefix.{i}.',
  'Device.IP.Interface.{i}.Stats.',
  'Device.IP.Diagnostics.',
  'Device.IP.Diagnostics.IPPing.',
  'Device.DHCPv4.',
  'Device.DHCPv4.Client.{i}.',
  'Device.DHCPv6.',
  'Device.DHCPv6.Client.{i}.',
  'Device.DHCPv6.Client.{i}.ReceivedOption.{i}.',
  'Device.NAT.',
  'Device.NAT.InterfaceSetting.{i}.',
  'Device.Routing.',
  'Device.Routing.Router.{i}.',
  'Device.Routing.Router.{i}.IPv4Forwarding.{i}.',
  'Device.DNS.',
  'Device.DNS.Client.',
  'Device.DNS.Client.Server.{i}.',
  // lw4o6 (RFC 7596) as BBF models it: a MAP Domain in Encapsulation mode whose one Rule has EABitsLength 0
  // and a /32 IPv4Prefix (the binding), the BR as the Domain's BRIPv6Prefix (ARCHITECTURE.md "lw4o6").
  'Device.MAP.',
  'Device.MAP.Domain.{i}.',
  'Device.MAP.Domain.{i}.Rule.{i}.',
  'Device.MAP.Domain.{i}.Interface.',
  'Device.MAP.Domain.{i}.Interface.Stats.',
];
/** Served only over USP: taken from the USP flavour. */
const USP_SUBSET = [
  'Device.MQTT.',
  'Device.MQTT.Client.{i}.',
  'Device.LocalAgent.',
  'Device.LocalAgent.MTP.{i}.',
  'Device.LocalAgent.MTP.{i}.MQTT.',
  'Device.LocalAgent.MTP.{i}.WebSocket.',
  'Device.LocalAgent.Controller.{i}.',
  'Device.LocalAgent.Controller.{i}.MTP.{i}.',
  'Device.LocalAgent.Controller.{i}.MTP.{i}.MQTT.',
  'Device.LocalAgent.Controller.{i}.MTP.{i}.WebSocket.',
  'Device.LocalAgent.Subscription.{i}.',
  'Device.LocalAgent.Request.{i}.',
  'Device.LocalAgent.ControllerTrust.',
  'Device.LocalAgent.ControllerTrust.Role.{i}.',
  'Device.LocalAgent.ControllerTrust.Role.{i}.Permission.{i}.',
];
/** USP commands and events served on CWMP-flavoured objects. */
const USP_ONLY_MEMBERS = ['Device.Reboot()', 'Device.FactoryReset()', 'Device.Boot!', 'Device.IP.Diagnostics.IPPing()'];

type X = any; // xml2js node

interface Facets {
  type?: string; dataType?: string; list?: { minItems?: number; maxItems?: number; maxLength?: number };
  minLength?: number; maxLength?: number; ranges?: { min?: string; max?: string; step?: string }[];
  enums?: string[]; patterns?: string[]; ref?: Record<string, string>; enumRef?: string; units?: string;
}

const attrs = (n: X): Record<string, string> => (n && n.$) || {};
const kids = (n: X, name: string): X[] => (n && n[name]) || [];
const text = (n: X): string => (typeof n === 'string' ? n : (n?._ ?? ''));
const num = (s: string | undefined) => (s === undefined ? undefined : Number(s));

function describe(n: X): string | undefined {
  const d = kids(n, 'description')[0];
  if (!d) return undefined;
  const s = text(d).replace(/\s+/g, ' ').trim();
  return s.length > 700 ? `${s.slice(0, 697)}...` : s;
}

class TypeTable {
  private defs = new Map<string, X>();
  add(doc: X) { for (const d of kids(doc, 'dataType')) this.defs.set(attrs(d).name, d); }
  /** Facets of a named data type, base first, derived facets overriding (TR-106 DM Schema §A.2.3). */
  resolve(name: string): Facets {
    const d = this.defs.get(name);
    if (!d) throw new Error(`unknown dataType ${name}`);
    const base: Facets = attrs(d).base ? this.resolve(attrs(d).base) : {};
    const own = facetsOf(d, this);
    return mergeFacets(base, own, /^_/.test(name) ? undefined : name);
  }
}

function mergeFacets(base: Facets, own: Facets, name?: string): Facets {
  const out: Facets = { ...base };
  for (const [k, v] of Object.entries(own)) if (v !== undefined) (out as X)[k] = v;
  if (name) out.dataType = name;
  else if (own.dataType) out.dataType = own.dataType;
  return out;
}

const BASE_TYPES = ['string', 'boolean', 'int', 'unsignedInt', 'long', 'unsignedLong', 'dateTime', 'base64',
  'hexBinary', 'decimal'];

/** Reads the facets directly inside a <syntax>, a <dataType> or a base-type element. */
function facetsOf(n: X, types: TypeTable): Facets {
  const f: Facets = {};
  const list = kids(n, 'list')[0];
  if (list !== undefined) {
    const la = attrs(list);
    const ls = kids(list, 'size')[0];
    f.list = { minItems: num(la.minItems), maxItems: num(la.maxItems), maxLength: num(attrs(ls).maxLength) };
  }
  for (const t of BASE_TYPES) {
    const el = kids(n, t)[0];
    if (el === undefined) continue;
    f.type = t;
    Object.assign(f, facetsOf(typeof el === 'string' ? {} : el, types));
    f.type = t;
  }
  const dt = kids(n, 'dataType')[0];
  if (dt !== undefined && attrs(dt).ref) {
    const resolved = types.resolve(attrs(dt).ref);
    const own = facetsOf(dt, types);
    Object.assign(f, mergeFacets(resolved, own));
  }
  const size = kids(n, 'size');
  if (size.length) {
    const a = attrs(size[0]);
    if (a.minLength !== undefined) f.minLength = Number(a.minLength);
    if (a.maxLength !== undefined) f.maxLength = Number(a.maxLength);
  }
  const range = kids(n, 'range');
  if (range.length) f.ranges = range.map((r) => { const a = attrs(r); return { min: a.minInclusive, max: a.maxInclusive, step: a.step }; });
  const en = kids(n, 'enumeration');
  if (en.length) f.enums = en.map((e) => attrs(e).value);
  const pat = kids(n, 'pattern');
  if (pat.length) f.patterns = pat.map((p) => attrs(p).value);
  const pr = kids(n, 'pathRef')[0];
  if (pr) f.ref = { kind: 'path', ...attrs(pr) };
  const ir = kids(n, 'instanceRef')[0];
  if (ir) f.ref = { kind: 'instance', ...attrs(ir) };
  const er = kids(n, 'enumerationRef')[0];
  if (er) f.enumRef = attrs(er).targetParam;
  const units = kids(n, 'units')[0];
  if (units) f.units = attrs(units).value;
  return f;
}

function paramOf(p: X, types: TypeTable): X {
  const a = attrs(p);
  const syn = kids(p, 'syntax')[0] ?? {};
  const sa = attrs(syn);
  const f = facetsOf(syn, types);
  const def = kids(syn, 'default')[0];
  const out: X = { name: a.name, access: a.access ?? 'readOnly', ...f };
  if (!out.type) throw new Error(`no base type for ${a.name}`);
  if (def && (attrs(def).type === 'object' || attrs(def).type === 'factory')) out.default = attrs(def).value;
  // A list default in TR-106 §3.2.3's bracketed syntax ("[]" in 2.19 InformParameter.EventList) is served in the
  // comma-separated form every other list value has ("" for the empty list).
  if (out.list && typeof out.default === 'string' && /^\[.*\]$/.test(out.default)) out.default = out.default.slice(1, -1);
  if (sa.secured === 'true' || sa.hidden === 'true') out.secured = true;
  if (sa.command === 'true') out.command = true;
  if (a.activeNotify) out.activeNotify = a.activeNotify;
  if (a.mandatory === 'true') out.mandatory = true;
  if (a.version) out.version = a.version;
  out.description = describe(p);
  return out;
}

function objectOf(o: X, types: TypeTable, components: Map<string, X>): X {
  const a = attrs(o);
  const params: X[] = [];
  for (const p of kids(o, 'parameter')) params.push(paramOf(p, types));
  for (const c of kids(o, 'component')) {
    const comp = components.get(attrs(c).ref);
    if (!comp) continue; // resolved by the overlay against the base definition
    for (const p of kids(comp, 'parameter')) params.push(paramOf(p, types));
  }
  const obj: X = {
    path: a.name,
    access: a.access ?? 'readOnly',
    minEntries: num(a.minEntries) ?? 1,
    maxEntries: a.maxEntries === 'unbounded' ? null : num(a.maxEntries) ?? 1,
    numEntriesParameter: a.numEntriesParameter,
    enableParameter: a.enableParameter,
    uniqueKeys: kids(o, 'uniqueKey').map((u) => ({
      functional: attrs(u).functional !== 'false',
      params: kids(u, 'parameter').map((p) => attrs(p).ref),
    })),
    description: describe(o),
    params,
    commands: kids(o, 'command').map((c) => ({
      name: attrs(c).name, async: attrs(c).async === 'true', description: describe(c),
      input: kids(kids(c, 'input')[0], 'parameter').map((p) => paramOf(p, types)),
      output: kids(kids(c, 'output')[0], 'parameter').map((p) => paramOf(p, types)),
    })),
    events: kids(o, 'event').map((e) => ({
      name: attrs(e).name, description: describe(e),
      params: kids(e, 'parameter').map((p) => paramOf(p, types)),
    })),
  };
  if (!obj.uniqueKeys.length) delete obj.uniqueKeys;
  return obj;
}

/** sax (under xml2js) knows only the predefined entities: expand the DTD internal subset's own. */
function expandEntities(xml: string): string {
  const ents = new Map<string, string>();
  for (const m of xml.matchAll(/<!ENTITY\s+(\w+)\s+"([^"]*)"\s*>/g)) ents.set(m[1], m[2]);
  if (!ents.size) return xml;
  const body = xml.replace(/<!DOCTYPE[^[]*\[[\s\S]*?\]>/, '');
  return body.replace(/&(\w+);/g, (all, name) => ents.get(name) ?? all);
}

async function load(file: string): Promise<X> {
  const doc = await parseStringPromise(expandEntities(readFileSync(join(SPECS, file), 'utf8')));
  return doc['dm:document'];
}

function objectsIn(doc: X): X[] {
  const models = kids(doc, 'model');
  const inComponents = kids(doc, 'component').flatMap((c) => kids(c, 'object'));
  return [...models.flatMap((m) => kids(m, 'object')), ...inComponents];
}

/** Overlay a newer object definition onto the base: parameters replaced by name or appended. */
function overlay(base: X, newer: X): X {
  const params = [...base.params];
  for (const p of newer.params) {
    const i = params.findIndex((q: X) => q.name === p.name);
    if (i >= 0) params[i] = p; else params.push(p);
  }
  return { ...base, ...newer, params, commands: base.commands, events: base.events };
}

async function main() {
  const types = new TypeTable();
  const components = new Map<string, X>();
  const tr106 = await load('cwmp/tr-106-types.xml');
  types.add(tr106);
  for (const c of kids(tr106, 'component')) components.set(attrs(c).name, c);
  // CWMP files import "Alias" as _AliasCWMP (readWrite, tr-106-types.xml).
  components.set('Alias', components.get('_AliasCWMP'));

  const full = await load('cwmp/tr-181-2-17-0-cwmp-full.xml');
  types.add(full);
  const byPath = new Map<string, X>(objectsIn(full).map((o) => [attrs(o).name, o]));
  const objects = new Map<string, X>();
  for (const path of SUBSET) {
    const o = byPath.get(path);
    if (!o) throw new Error(`missing in 2.17 full: ${path}`);
    objects.set(path, objectOf(o, types, new Map()));
  }
  for (const file of ['cwmp/tr-181-2-18-0-dslite.xml', 'cwmp/tr-181-2-19-1-cwmp.xml']) {
    const doc = await load(file);
    types.add(doc);
    for (const o of objectsIn(doc)) {
      const path = attrs(o).name;
      if (objects.has(path) && (path.startsWith('Device.DSLite.') || path.startsWith('Device.ManagementServer.')))
        objects.set(path, overlay(objects.get(path), objectOf(o, types, components)));
    }
  }

  // TR-181 2.18+ CWMP files import Alias as _AliasCWMP (readWrite; tr-106-types.xml). The 2.17 full file still
  // has writeOnceReadOnly; serve the newer definition everywhere in the CWMP flavour.
  const aliasCWMP = paramOf(kids(components.get('_AliasCWMP'), 'parameter')[0], types);
  for (const o of objects.values()) o.params = o.params.map((p: X) => (p.name === 'Alias' ? { ...aliasCWMP } : p));

  const usp = await load('usp/tr-181-2-16-0-usp-full.xml');
  const uspTypes = new TypeTable();
  uspTypes.add(tr106);
  uspTypes.add(usp);
  const uspByPath = new Map<string, X>(objectsIn(usp).map((o) => [attrs(o).name, o]));
  for (const path of USP_SUBSET) {
    const o = uspByPath.get(path);
    if (!o) throw new Error(`missing in 2.16 USP full: ${path}`);
    objects.set(path, { ...objectOf(o, uspTypes, new Map()), protocols: ['usp'] });
  }
  for (const member of USP_ONLY_MEMBERS) {
    const cut = member.lastIndexOf('.') + 1;
    const objPath = member.slice(0, cut);
    const name = member.slice(cut);
    const src = objectOf(uspByPath.get(objPath), uspTypes, new Map());
    const target = objects.get(objPath);
    const cmd = src.commands.find((c: X) => c.name === name);
    const ev = src.events.find((e: X) => e.name === name);
    if (cmd) target.commands.push(cmd);
    else if (ev) target.events.push(ev);
    else throw new Error(`missing USP member ${member}`);
  }
  // Device.Boot!/Periodic! etc: commands/events are USP-only by nature (TR-181 USP flavour).
  for (const o of objects.values()) {
    if (o.protocols) continue;
    if (o.path === 'Device.LocalAgent.') continue;
  }

  // Drop NumberOfEntries counters of tables left out of the subset, and parameters of the root object other
  // than those the agent maintains (TR-181 Device. has many counters for tables we do not serve).
  const tables = new Set([...objects.values()].filter((o) => o.numEntriesParameter).map((o) => `${o.path}`));
  for (const o of objects.values()) {
    o.params = o.params.filter((p: X) => {
      if (!p.name.endsWith('NumberOfEntries')) return true;
      const table = `${o.path}${p.name.slice(0, -'NumberOfEntries'.length)}.{i}.`;
      return tables.has(table);
    });
  }
  const sorted = [...objects.values()].sort((a, b) => (a.path < b.path ? -1 : 1));
  const out = {
    generatedFrom: ['tr-181-2-17-0-cwmp-full.xml', 'tr-181-2-18-0-dslite.xml', 'tr-181-2-19-1-cwmp.xml',
      'tr-181-2-16-0-usp-full.xml', 'tr-106-types.xml'],
    rootDataModelVersion: '2.19',
    objects: sorted,
  };
  writeFileSync(OUT, `${JSON.stringify(out, null, 1)}\n`);
  const nParams = sorted.reduce((n, o) => n + o.params.length, 0);
  console.log(`schema: ${sorted.length} objects, ${nParams} parameters -> ${OUT}`);
}

await main();
