// The data-model facade: the only way front-ends and handlers read and change parameters.
// Writes: plan (validate all) -> one SQLite transaction -> change events -> handlers' apply callbacks.
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { KEY_NAME } from './datadir.ts';
import { DmError } from './errors.ts';
import { Path, type SchemaPath } from './path.ts';
import { Schema, type CommandDef, type ObjectDef, type ParamDef, type Protocol } from './schema.ts';
import { emptyWriteSet, Store, type Recovery, type WriteSet } from './store.ts';
import { InstanceIndex, Resolver, schemaOf, type Node } from './tree.ts';
import { plan, type Change, type ChangeEvent, type Origin, type ValidateContext } from './tx.ts';
import { canonical, TypeError_, zeroValue } from './types.ts';
import { UniqueIndex } from './unique.ts';
import { Emitter, type Disposable } from './events.ts';
import { AttributeTable, type AttributeChange, type Attributes } from './attributes.ts';

/** A commit longer than this (ms) is logged: the event loop, failover detectors included, waited that long. */
const SLOW_COMMIT_MS = 20;

export interface ParamValue {
  path: string;
  value: string;
  def: ParamDef;
}

export interface NameInfo {
  path: string; // objects and tables end with "."
  writable: boolean;
  kind: 'object' | 'table' | 'param' | 'command' | 'event';
}

/** Behaviour attached to one schema object (STYLE §4): each callback is optional. */
export interface Handler {
  /** Before commit: throw a DmError to veto the change. */
  validate?(ctx: ValidateContext): void;
  /** After commit: act on the system. Errors are logged; write status back in a system transaction. */
  apply?(ev: { origin: Origin; path: string; kind: 'set' | 'add' | 'delete'; changed: ReadonlyMap<string, string> }): void | Promise<void>;
  /** Live values of one object instance, as one snapshot (Status, Stats, UpTime). */
  read?(objectPath: string): Readonly<Record<string, string>>;
}

/** `commandKey`: the USP Operate's command_key ('' for other callers). */
export type CommandFn = (req: { path: string; objectPath: string; input: Record<string, string>; origin: Origin; commandKey: string }) =>
  Promise<Record<string, string>> | Record<string, string>;

export interface EventOccurrence { path: string; params: Record<string, string> }

/** A module's private key-value space (see `DataModel.state`). */
export interface StateAccess {
  get(k: string): string | undefined;
  set(k: string, v: string): void;
  delete(k: string): void;
  entries(): [string, string][];
}

export interface GetOptions {
  protocol?: Protocol;
  /** Object levels below a partial path to include (USP max_depth); default all. */
  maxDepth?: number;
}

export interface DataModelOptions {
  file: string; // SQLite file or ":memory:"
  schema?: Schema;
  log?: Logger;
  /** Key for the secured parameters at rest; default `twinstack.key` beside a database file. */
  keyFile?: string;
  /** A corrupt database: throw a StartupError (default), or set it aside and start on what can be read. */
  onCorrupt?: 'throw' | 'setAside';
}

/** How this start found the storage, for the faces to tell their managers (read once, at their start). */
export interface StartupInfo {
  /**
   * The database was damaged and set aside; the agent runs on factory defaults plus the rows read back.
   * CWMP reports it as 0 BOOTSTRAP, SNMP with a coldStart (configuration "may have been altered").
   */
  readonly recovered?: Recovery;
}

export class DataModel {
  readonly schema: Schema;
  private readonly store: Store;
  private readonly index: InstanceIndex;
  private readonly unique: UniqueIndex;
  readonly resolver: Resolver;
  private readonly handlers = new Map<string, Handler[]>();
  private readonly commands = new Map<string, CommandFn>();
  private readonly committing: ((ev: ChangeEvent, state: (ns: string) => StateAccess) => void)[] = [];
  // A failing listener is logged, never allowed to take the agent down or stop the other listeners.
  private readonly changeEmitter = new Emitter<ChangeEvent>((err) => this.log?.error({ err }, 'change listener failed'));
  private readonly eventEmitter = new Emitter<EventOccurrence>((err) => this.log?.error({ err }, 'event listener failed'));
  readonly attributes: AttributeTable;
  private readonly log?: Logger;
  readonly startup: StartupInfo;
  /** Live values cached for the duration of one read operation (one snapshot per object). */
  private snapshot: Map<string, Readonly<Record<string, string>>> | null = null;

  constructor(opts: DataModelOptions) {
    this.schema = opts.schema ?? Schema.load();
    const securedNames = new Set<string>();
    for (const o of this.schema.allObjects()) for (const p of o.params.values()) if (p.secured) securedNames.add(p.name);
    const isSecret = (path: string) => securedNames.has(path.slice(path.lastIndexOf('.') + 1)) && !!this.schema.param(schemaOf(path))?.def.secured;
    this.store = new Store({
      file: opts.file, onCorrupt: opts.onCorrupt,
      secrets: opts.file === ':memory:' ? undefined : { keyFile: opts.keyFile ?? join(dirname(opts.file), KEY_NAME), isSecret },
    });
    this.startup = { recovered: this.store.recovered };
    this.log = opts.log;
    if (this.store.recovered) this.log?.warn({ ...this.store.recovered }, 'database damaged: set aside, started on factory defaults and the rows read back');
    this.index = new InstanceIndex(this.store.objects);
    this.unique = new UniqueIndex(this.store.values, this.index);
    this.resolver = new Resolver(this.schema, this.index, (o, d, p) => this.valueAt(o, d, p));
    this.attributes = new AttributeTable(this.schema, this.store, this.resolver);
    this.ensureStatic();
  }

  /** Creates the values of single-instance objects missing from the store (first start, schema upgrade). */
  private ensureStatic() {
    const ws = emptyWriteSet();
    const fill = (path: string, def: ObjectDef) => {
      for (const [name, p] of def.params) {
        if (def.counters.has(name) || this.store.values.has(`${path}${name}`)) continue;
        ws.values.set(`${path}${name}`, zeroValue(p));
      }
    };
    for (const node of this.resolver.objectsBelow({ kind: 'object', path: 'Device.', def: this.schema.root })) fill(node.path, node.def);
    if (ws.values.size) this.store.write(ws);
    this.unique.clear();
  }

  // ---- reads ----------------------------------------------------------------------------------------

  private valueAt(objectPath: string, def: ObjectDef, param: string): string | undefined {
    const counted = def.counters.get(param);
    if (counted) return String(this.index.instances(`${objectPath}${counted.name}.`).length);
    const live = this.liveValues(objectPath, def);
    if (live && param in live) return live[param];
    return this.store.values.get(`${objectPath}${param}`);
  }

  private liveValues(objectPath: string, def: ObjectDef): Readonly<Record<string, string>> | undefined {
    const hs = this.handlers.get(def.path);
    if (!hs || !hs.some((h) => h.read)) return undefined;
    const cached = this.snapshot?.get(objectPath);
    if (cached) return cached;
    let merged: Record<string, string> = {};
    for (const h of hs) if (h.read) merged = { ...merged, ...h.read(objectPath) };
    this.snapshot?.set(objectPath, merged);
    return merged;
  }

  /** Runs `fn` with one live-value snapshot per object instance. */
  private reading<T>(fn: () => T): T {
    if (this.snapshot) return fn();
    this.snapshot = new Map();
    try {
      return fn();
    } finally {
      this.snapshot = null;
    }
  }

  /** Resolves a path pattern (wildcards, aliases, searches, references) to nodes. */
  resolve(path: string | Path, protocol?: Protocol): Node[] {
    const p = typeof path === 'string' ? Path.parse(path) : path;
    return this.reading(() => this.resolver.resolve(p, protocol));
  }

  /**
   * Parameter values at or below a path. Secured parameters read as "" (credentials are never readable
   * through any interface). A path that cannot exist throws InvalidPath.
   */
  get(path: string | Path, opts: GetOptions = {}): ParamValue[] {
    return this.reading(() => {
      const out: ParamValue[] = [];
      for (const node of this.resolve(path, opts.protocol)) {
        if (node.kind === 'param') out.push(this.paramValue(node.objectPath, node.object, node.def));
        else if (node.kind === 'object' || node.kind === 'table') {
          for (const o of this.resolver.objectsBelow(node, opts.protocol, opts.maxDepth))
            for (const def of o.def.params.values()) out.push(this.paramValue(o.path, o.def, def));
        }
      }
      return out;
    });
  }

  /** One parameter's value; throws InvalidPath when it does not exist. */
  getValue(path: string): string {
    const node = this.resolver.one(path);
    if (node.kind !== 'param') throw new DmError('InvalidPath', `${path}: not a parameter`, [], path);
    return this.paramValue(node.objectPath, node.object, node.def).value;
  }

  /** A secured parameter's real value, for the agent's own use (e.g. the CWMP client's ACS password). */
  getSecret(path: string): string {
    return this.store.values.get(path) ?? '';
  }

  private paramValue(objectPath: string, object: ObjectDef, def: ParamDef): ParamValue {
    const path = `${objectPath}${def.name}`;
    const value = def.secured ? '' : (this.valueAt(objectPath, object, def.name) ?? '');
    return { path, value, def };
  }

  /** When a stored parameter last changed (ms since epoch), if known. */
  lastChange(path: string): number | undefined {
    return this.store.changedAt.get(path);
  }

  /** Names at or below a path (CWMP GetParameterNames, TR-069 A.3.2.3; USP GetSupportedDM uses the schema). */
  names(path: string | Path, nextLevel: boolean, protocol?: Protocol): NameInfo[] {
    const p = typeof path === 'string' ? Path.parse(path) : path;
    const out: NameInfo[] = [];
    for (const node of this.resolve(p, protocol)) {
      if (node.kind === 'param') {
        if (nextLevel) throw new DmError('InvalidArgument', `${p}: NextLevel needs a partial path`, [], p.toString());
        out.push({ path: node.path, writable: this.paramWritable(node.def), kind: 'param' });
        continue;
      }
      if (node.kind !== 'object' && node.kind !== 'table') continue;
      if (nextLevel) out.push(...this.children(node, protocol));
      else {
        if (node.kind === 'table') out.push({ path: node.path, writable: node.def.writable, kind: 'table' });
        for (const o of this.resolver.objectsBelow(node, protocol)) {
          if (o.path !== 'Device.' || node.path === 'Device.') out.push(this.objectInfo(o.path, o.def));
          for (const c of o.def.children) {
            if (c.multi && Schema.serves(c, protocol)) out.push({ path: `${o.path}${c.name}.`, writable: c.writable, kind: 'table' });
          }
          for (const d of o.def.params.values()) out.push({ path: `${o.path}${d.name}`, writable: this.paramWritable(d), kind: 'param' });
        }
      }
    }
    return out;
  }

  private objectInfo(path: string, def: ObjectDef): NameInfo {
    return { path, writable: def.multi && def.writable, kind: 'object' };
  }

  private children(node: Node, protocol?: Protocol): NameInfo[] {
    if (node.kind === 'table') return this.index.instances(node.path).map((n) => this.objectInfo(`${node.path}${n}.`, node.def));
    if (node.kind !== 'object') return [];
    const out: NameInfo[] = [];
    for (const d of node.def.params.values()) out.push({ path: `${node.path}${d.name}`, writable: this.paramWritable(d), kind: 'param' });
    for (const c of node.def.children) {
      if (!Schema.serves(c, protocol)) continue;
      out.push(c.multi ? { path: `${node.path}${c.name}.`, writable: c.writable, kind: 'table' } : this.objectInfo(`${node.path}${c.name}.`, c));
    }
    return out;
  }

  private paramWritable(d: ParamDef): boolean {
    return d.access !== 'readOnly';
  }

  /** Instance object paths of the tables a path names (USP GetInstances). */
  instances(path: string | Path, protocol?: Protocol): string[] {
    const out: string[] = [];
    for (const node of this.resolve(path, protocol))
      for (const o of this.resolver.objectsBelow(node, protocol)) if (o.def.multi) out.push(o.path);
    return out;
  }

  // ---- writes ---------------------------------------------------------------------------------------

  private plan(changes: readonly Change[], origin: Origin, protocol?: Protocol) {
    return this.reading(() => plan({
      schema: this.schema, index: this.index, resolver: this.resolver, values: this.store.values,
      nextInstance: this.store.nextInstance, objects: this.store.objects, unique: this.unique, protocol,
      validators: (sp) => (this.handlers.get(sp) ?? []).flatMap((h) => (h.validate ? [h.validate.bind(h)] : [])),
    }, changes, origin));
  }

  /** Runs every check of `commit` without writing: throws the DmError a commit would throw. */
  validate(changes: readonly Change[], origin: Origin, protocol?: Protocol): void {
    this.plan(changes, origin, protocol);
  }

  /**
   * Applies a batch atomically: validates everything, commits in one SQLite transaction, emits one change
   * event, then runs the handlers' apply callbacks. Throws a DmError naming every bad item; nothing changes.
   */
  commit(changes: readonly Change[], origin: Origin, protocol?: Protocol) {
    const planned = this.plan(changes, origin, protocol);
    for (const o of planned.ws.removedObjects) planned.ws.attributes.set(o, null);
    for (const a of this.store.attributes.keys())
      if (planned.ws.removedObjects.some((o) => a.startsWith(o))) planned.ws.attributes.set(a, null);
    this.addCounterChanges(planned.event);
    for (const fn of this.committing) {
      try {
        fn(planned.event, (ns) => this.txState(planned.ws, ns));
      } catch (err) {
        this.log?.error({ err }, 'commit participant failed');
      }
    }
    const t0 = performance.now();
    // The gateway's own writes need no fsync (store.ts); a manager's, and any front-end state riding along, do.
    this.store.write(planned.ws, origin !== 'system' || planned.ws.state.size > 0);
    const ms = performance.now() - t0;
    if (ms > SLOW_COMMIT_MS) this.log?.warn({ ms: Math.round(ms), origin, values: planned.ws.values.size }, 'slow commit');
    for (const o of planned.ws.removedObjects) this.index.remove(o);
    for (const o of planned.ws.addedObjects) this.index.add(o);
    this.unique.update([...planned.touched.keys(), ...planned.ws.removedObjects]);
    if (planned.event.changes.length || planned.event.added.length || planned.event.deleted.length) this.changeEmitter.fire(planned.event);
    for (const [path, t] of planned.touched) {
      for (const h of this.handlers.get(schemaOf(path)) ?? []) {
        if (!h.apply) continue;
        Promise.resolve()
          .then(() => h.apply!({ origin, path, kind: t.kind, changed: t.changed }))
          .catch((err) => this.log?.error({ err, path }, 'handler apply failed'));
      }
    }
    return { added: planned.added, event: planned.event };
  }

  /** NumberOfEntries values are derived; report their changes like any other value change. */
  private addCounterChanges(ev: ChangeEvent) {
    const tables = new Map<string, number>();
    for (const o of ev.added) { const t = InstanceIndex.split(o).table; tables.set(t, (tables.get(t) ?? 0) + 1); }
    for (const o of ev.deleted) { const t = InstanceIndex.split(o).table; tables.set(t, (tables.get(t) ?? 0) - 1); }
    for (const [table, delta] of tables) {
      if (delta === 0) continue;
      const parent = table.slice(0, table.slice(0, -1).lastIndexOf('.') + 1);
      if (ev.deleted.includes(parent) || !this.resolver.exists(parent === 'Device.' ? 'Device.' : parent) && parent !== 'Device.') continue;
      const parentDef = this.schema.object(schemaOf(parent));
      const tableName = table.slice(parent.length, -1);
      const counter = [...(parentDef?.counters ?? [])].find(([, d]) => d.name === tableName)?.[0];
      if (!counter) continue;
      const now = this.index.instances(table).length + delta; // the index is updated after the SQLite commit
      ev.changes.push({ path: `${parent}${counter}`, old: String(now - delta), value: String(now) });
    }
  }

  set(values: Record<string, string> | [string, string][], origin: Origin, protocol?: Protocol) {
    const entries = Array.isArray(values) ? values : Object.entries(values);
    return this.commit(entries.map(([path, value]) => ({ op: 'set', path, value })), origin, protocol);
  }

  /** Adds one instance; returns its object path ("Device.NAT.InterfaceSetting.3."). */
  add(table: string, origin: Origin, values?: Record<string, string>, protocol?: Protocol): { path: string; instance: number } {
    const r = this.commit([{ op: 'add', table, values }], origin, protocol);
    return { path: r.added[0].path, instance: r.added[0].instance };
  }

  delete(path: string, origin: Origin, protocol?: Protocol) {
    return this.commit([{ op: 'delete', path }], origin, protocol);
  }

  // ---- handlers, subscriptions, commands, events --------------------------------------------------------

  /** Attaches behaviour to a schema object path ("Device.DSLite.InterfaceSetting.{i}."). */
  attach(schemaPath: SchemaPath | string, handler: Handler): Disposable {
    if (!this.schema.object(schemaPath)) throw new Error(`attach: no schema object ${schemaPath}`);
    const list = this.handlers.get(schemaPath) ?? [];
    list.push(handler);
    this.handlers.set(schemaPath, list);
    return { dispose: () => { const i = list.indexOf(handler); if (i >= 0) list.splice(i, 1); } };
  }

  onChange(listener: (ev: ChangeEvent) => void): Disposable {
    return this.changeEmitter.on(listener);
  }

  onAttributeChange(listener: (ev: AttributeChange) => void): Disposable {
    return this.attributes.onChange(listener);
  }

  getAttributes(path: string, protocol?: Protocol): Attributes[] {
    return this.attributes.get(this.get(path, { protocol }).map((v) => v.path));
  }

  setAttributes(items: { path: string; notification?: number; accessList?: string[] }[], protocol?: Protocol): void {
    const expanded = items.map((it) => ({ ...it, params: this.get(it.path, { protocol }).map((v) => v.path) }));
    this.attributes.set(expanded);
  }

  /** Registers the implementation of a command ("Device.Reboot()"); commands without one are unsupported. */
  registerCommand(schemaPath: string, fn: CommandFn): Disposable {
    const cut = schemaPath.lastIndexOf('.') + 1;
    if (!this.schema.object(schemaPath.slice(0, cut))?.commands.has(schemaPath.slice(cut)))
      throw new Error(`registerCommand: no schema command ${schemaPath}`);
    this.commands.set(schemaPath, fn);
    return { dispose: () => { if (this.commands.get(schemaPath) === fn) this.commands.delete(schemaPath); } };
  }

  hasCommand(schemaPath: string): boolean {
    return this.commands.has(schemaPath);
  }

  /** Runs a command after checking its input arguments against the schema. */
  async operate(path: string, input: Record<string, string>, origin: Origin, commandKey = ''): Promise<{ path: string; output: Record<string, string> }[]> {
    const results = [];
    for (const { node, fn, args } of this.prepareCommand(path, input))
      results.push({ path: node.path, output: await fn({ path: node.path, objectPath: node.objectPath, input: args, origin, commandKey }) });
    return results;
  }

  /**
   * Runs every check of `operate` without running anything: throws the DmError `operate` would throw before
   * starting (no such command, no implementation, bad or missing input arguments). A caller that starts a
   * command in the background checks first, so that bad input is refused at once (TR-369 R-OPR.5).
   */
  checkCommand(path: string, input: Record<string, string>): void {
    this.prepareCommand(path, input);
  }

  private prepareCommand(path: string, input: Record<string, string>) {
    const nodes = this.resolve(path, 'usp').filter((n): n is Extract<Node, { kind: 'command' }> => n.kind === 'command');
    if (!nodes.length) throw new DmError('InvalidPath', `${path}: no such command`, [], path);
    return nodes.map((node) => {
      const fn = this.commands.get(schemaOf(node.objectPath) + node.def.name);
      if (!fn) throw new DmError('NotSupported', `${node.path}: command not supported`, [], node.path);
      return { node, fn, args: checkInput(node.path, node.def, input) };
    });
  }

  emitEvent(path: string, params: Record<string, string> = {}): void {
    this.eventEmitter.fire({ path, params });
  }

  onEvent(listener: (ev: EventOccurrence) => void): Disposable {
    return this.eventEmitter.on(listener);
  }

  /**
   * A participant in every commit: it sees the change event before the SQLite commit, and what it writes to
   * module state joins the same transaction (e.g. CWMP's pending VALUE CHANGE: a crash can never keep the
   * change and lose its notification). Keep it quick and synchronous; errors are logged, never fatal.
   */
  onCommitting(fn: (ev: ChangeEvent, state: (ns: string) => StateAccess) => void): Disposable {
    this.committing.push(fn);
    return { dispose: () => { const i = this.committing.indexOf(fn); if (i >= 0) this.committing.splice(i, 1); } };
  }

  private txState(ws: WriteSet, ns: string): StateAccess {
    const key = (k: string) => `${ns}\0${k}`;
    return {
      get: (k) => { const v = ws.state.get(key(k)); return v === null ? undefined : (v ?? this.store.state.get(key(k))); },
      set: (k, v) => { ws.state.set(key(k), v); },
      delete: (k) => { ws.state.set(key(k), null); },
      entries: () => {
        const m = new Map(this.state(ns).entries());
        for (const [k, v] of ws.state) if (k.startsWith(`${ns}\0`)) { if (v === null) m.delete(k.slice(ns.length + 1)); else m.set(k.slice(ns.length + 1), v); }
        return [...m];
      },
    };
  }

  // ---- private state of the agent's modules ---------------------------------------------------------

  /** A small persistent key-value space (pending CWMP events, SNMP engineID); never exposed as parameters. */
  state(ns: string): StateAccess {
    const key = (k: string) => `${ns}\0${k}`;
    return {
      get: (k: string): string | undefined => this.store.state.get(key(k)),
      set: (k: string, v: string) => { const ws = emptyWriteSet(); ws.state.set(key(k), v); this.store.write(ws); },
      delete: (k: string) => { const ws = emptyWriteSet(); ws.state.set(key(k), null); this.store.write(ws); },
      entries: (): [string, string][] => [...this.store.state].filter(([k]) => k.startsWith(`${ns}\0`)).map(([k, v]) => [k.slice(ns.length + 1), v]),
    };
  }

  integrityCheck(): string {
    return this.store.integrityCheck();
  }

  close(): void {
    this.store.close();
  }
}

function checkInput(path: string, def: CommandDef, input: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  const errors = [];
  for (const p of def.input) {
    const v = input[p.name];
    if (v === undefined) {
      if (p.mandatory) errors.push({ path: `${path}.${p.name}`, kind: 'InvalidArgument' as const, message: 'mandatory input argument missing' });
      continue;
    }
    try {
      out[p.name] = canonical(p, v);
    } catch (e) {
      if (!(e instanceof TypeError_)) throw e;
      errors.push({ path: `${path}.${p.name}`, kind: 'InvalidValue' as const, message: e.message });
    }
  }
  for (const k of Object.keys(input))
    if (!def.input.some((p) => p.name === k)) errors.push({ path: `${path}.${k}`, kind: 'InvalidArgument' as const, message: 'unknown input argument' });
  if (errors.length) throw DmError.from(errors);
  return out;
}
