// The schema is data: schema/tr181.json (generated from the BBF XML by tools/gen-schema.ts) plus vendor
// extensions in schema/x-*.json (TR-106 §3.3 "X_<VENDOR>_" names). This module only indexes it.
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { BaseType } from './types.ts';
import type { SchemaPath } from './path.ts';

export type Access = 'readOnly' | 'readWrite' | 'writeOnceReadOnly';
export type Protocol = 'cwmp' | 'usp';

export interface ParamDef {
  readonly name: string;
  readonly access: Access;
  readonly type: BaseType;
  /** Named TR-106 data type (IPv6Address, IPPrefix, ...), when the syntax uses one. */
  readonly dataType?: string;
  readonly list?: { minItems?: number; maxItems?: number; maxLength?: number };
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly ranges?: readonly { min?: string; max?: string; step?: string }[];
  readonly enums?: readonly string[];
  readonly patterns?: readonly string[];
  readonly ref?: { kind: 'path' | 'instance'; targetParent?: string; targetType?: string; refType?: string };
  readonly units?: string;
  readonly default?: string;
  /** Credentials: stored, never returned through any interface (TR-181 "secured"/"hidden"). */
  readonly secured?: boolean;
  readonly activeNotify?: 'normal' | 'forceEnabled' | 'forceDefaultEnabled' | 'canDeny';
  readonly mandatory?: boolean;
  readonly description?: string;
}

export interface CommandDef {
  readonly name: string; // "Reboot()"
  readonly async: boolean;
  readonly description?: string;
  readonly input: readonly ParamDef[];
  readonly output: readonly ParamDef[];
}

export interface EventDef {
  readonly name: string; // "Boot!"
  readonly description?: string;
  readonly params: readonly ParamDef[];
}

export interface ObjectDef {
  readonly path: SchemaPath; // ends with "." ; tables end with "{i}."
  /** The object's own name ("Interface" for Device.IP.Interface.{i}.). */
  readonly name: string;
  /** A table (multi-instance object). */
  readonly multi: boolean;
  /** For tables: the ACS/controller may add and delete instances. */
  readonly writable: boolean;
  readonly minEntries: number;
  readonly maxEntries: number | null;
  readonly numEntriesParameter?: string;
  readonly uniqueKeys: readonly { functional: boolean; params: readonly string[] }[];
  readonly description?: string;
  /** Protocol flavours that serve this object; absent: all. */
  readonly protocols?: readonly Protocol[];
  readonly params: ReadonlyMap<string, ParamDef>;
  readonly commands: ReadonlyMap<string, CommandDef>;
  readonly events: ReadonlyMap<string, EventDef>;
  readonly parent?: ObjectDef;
  readonly children: readonly ObjectDef[];
  /** NumberOfEntries parameter name -> the table it counts. */
  readonly counters: ReadonlyMap<string, ObjectDef>;
}

interface RawObject {
  path: string;
  access: string;
  minEntries?: number;
  maxEntries?: number | null;
  numEntriesParameter?: string;
  uniqueKeys?: { functional: boolean; params: string[] }[];
  description?: string;
  protocols?: Protocol[];
  params: ParamDef[];
  commands?: CommandDef[];
  events?: EventDef[];
}

export interface SchemaFile {
  rootDataModelVersion?: string;
  objects: RawObject[];
}

export const SCHEMA_DIR = join(dirname(new URL(import.meta.url).pathname), '../../schema');

/** The object's schema path with its last "{i}." removed: the table path ("Device.IP.Interface."). */
export function tablePathOf(def: ObjectDef): string {
  return def.multi ? def.path.slice(0, -'{i}.'.length) : def.path;
}

export class Schema {
  private readonly objects = new Map<string, ObjectDef>();
  readonly rootDataModelVersion: string;

  constructor(files: SchemaFile[]) {
    this.rootDataModelVersion = files.find((f) => f.rootDataModelVersion)?.rootDataModelVersion ?? '2.19';
    const raws = files.flatMap((f) => f.objects).sort((a, b) => a.path.length - b.path.length);
    for (const raw of raws) {
      if (this.objects.has(raw.path)) throw new Error(`schema: duplicate object ${raw.path}`);
      const multi = raw.path.endsWith('.{i}.');
      const parentPath = parentObjectPath(raw.path);
      const parent = parentPath === undefined ? undefined : this.objects.get(parentPath);
      if (parentPath !== undefined && !parent) throw new Error(`schema: ${raw.path} has no parent ${parentPath}`);
      const segs = raw.path.slice(0, -1).split('.');
      const def: ObjectDef = {
        path: raw.path as SchemaPath,
        name: multi ? segs[segs.length - 2] : segs[segs.length - 1],
        multi,
        writable: multi && raw.access === 'readWrite',
        minEntries: raw.minEntries ?? 1,
        maxEntries: raw.maxEntries === undefined ? 1 : raw.maxEntries,
        numEntriesParameter: raw.numEntriesParameter,
        uniqueKeys: raw.uniqueKeys ?? [],
        description: raw.description,
        protocols: raw.protocols ?? parent?.protocols,
        params: new Map(raw.params.map((p) => [p.name, multi ? aliasTyped(p) : p])),
        // A command with no arguments may leave its input or output list out of the file.
        commands: new Map((raw.commands ?? []).map((c) => [c.name, { ...c, input: c.input ?? [], output: c.output ?? [] }])),
        events: new Map((raw.events ?? []).map((e) => [e.name, e])),
        parent,
        children: [],
        counters: new Map(),
      };
      this.objects.set(raw.path, def);
      if (parent) {
        (parent.children as ObjectDef[]).push(def);
        if (multi && def.numEntriesParameter) (parent.counters as Map<string, ObjectDef>).set(def.numEntriesParameter, def);
      }
    }
    for (const o of this.objects.values()) (o.children as ObjectDef[]).sort((a, b) => (a.path < b.path ? -1 : 1));
  }

  /** Loads schema/tr181.json and every vendor file schema/x-*.json. */
  static load(dir = SCHEMA_DIR): Schema {
    const files = ['tr181.json', ...readdirSync(dir).filter((f) => /^x-.*\.json$/.test(f)).sort()];
    return new Schema(files.map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as SchemaFile));
  }

  get root(): ObjectDef {
    return this.objects.get('Device.')!;
  }

  object(path: SchemaPath | string): ObjectDef | undefined {
    return this.objects.get(path);
  }

  /** The parameter at a schema path ("Device.DSLite.Enable"), with its object. */
  param(path: SchemaPath | string): { object: ObjectDef; def: ParamDef } | undefined {
    const cut = path.lastIndexOf('.') + 1;
    const object = this.objects.get(path.slice(0, cut));
    const def = object?.params.get(path.slice(cut));
    return object && def ? { object, def } : undefined;
  }

  allObjects(): IterableIterator<ObjectDef> {
    return this.objects.values();
  }

  /** True when the object is served over this protocol flavour. */
  static serves(def: ObjectDef, protocol: Protocol | undefined): boolean {
    return !protocol || !def.protocols || def.protocols.includes(protocol);
  }
}

/**
 * A table's Alias parameter is of the TR-181 `Alias` data type (TR-106 `_AliasCommon`: not empty, starts with a
 * letter, agent-assigned values start with "cpe-"). tools/gen-schema.ts emits `"dataType": "Alias"` where the
 * XML refers to the type; some of the XML's tables declare their Alias as a plain string(64), and get it here.
 */
function aliasTyped(p: ParamDef): ParamDef {
  return p.name === 'Alias' && p.type === 'string' && !p.dataType && !p.list ? { ...p, dataType: 'Alias' } : p;
}

function parentObjectPath(path: string): string | undefined {
  if (path === 'Device.') return undefined;
  const body = path.slice(0, -1);
  const segs = body.split('.');
  segs.pop();
  if (path.endsWith('.{i}.')) segs.pop(); // a table's parent is above its name
  return `${segs.join('.')}.`;
}
