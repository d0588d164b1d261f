// Transactions: validate every change of a batch (types, access, unique keys, maxEntries, handler vetoes),
// collecting every error, and only then build one write set. A batch with one bad item changes nothing.
// Like obuspa dm_trans.c: the caller commits the write set in one SQLite transaction, then emits events.
import { DmError, type DmErrorDetail } from './errors.ts';
import { Path } from './path.ts';
import { emptyWriteSet, type WriteSet } from './store.ts';
import { schemaOf, type InstanceIndex, type Resolver } from './tree.ts';
import type { ObjectDef, Protocol, Schema } from './schema.ts';
import { canonical, TypeError_, zeroValue } from './types.ts';
import { keyText, type UniqueIndex } from './unique.ts';

/** Who makes a change. "system" is the agent itself writing status back: it may write read-only values. */
export type Origin = 'system' | 'cwmp' | 'usp' | 'snmp' | 'web' | 'cli';

export type Change =
  /**
   * `privileged`: this one value is written with the agent's own authority inside a caller's transaction,
   * e.g. CWMP's read-only ParameterKey committed atomically with the ACS's values (TR-069 A.3.2.1).
   */
  | { op: 'set'; path: string; value: string; privileged?: boolean }
  /**
   * `agentValues`: values the agent itself owns in the new instance, written with its authority in the same
   * transaction (TR-181 Subscription.Recipient and CreationDate, "automatically populated by the Agent upon
   * creation"): the row never exists without them, and its unique keys are checked with them.
   */
  | { op: 'add'; table: string; values?: Record<string, string>; instance?: number; agentValues?: Record<string, string> }
  | { op: 'delete'; path: string };

export interface ValueChange { path: string; old: string; value: string }

/** What a committed transaction did; listeners get it after the commit. */
export interface ChangeEvent {
  origin: Origin;
  changes: ValueChange[];
  added: string[]; // object paths, parents first
  deleted: string[]; // object paths, children first
}

/** A handler's view of one object instance touched by a transaction, before commit. */
export interface ValidateContext {
  origin: Origin;
  path: string; // object instance path
  kind: 'set' | 'add' | 'delete';
  changed: ReadonlyMap<string, string>; // param -> new value
  /** The value a parameter of this object will have after the transaction. */
  value(param: string): string;
  /**
   * The value any parameter will have after the transaction ('' when its object is deleted or absent): a veto
   * across objects sees the other objects' pending values, not only their committed ones.
   */
  valueAt(path: string): string;
  /** The instances of a table ('Device.X.Peer.') after the transaction, as object paths in instance order. */
  rowsAt(table: string): string[];
}

export interface Planned {
  ws: WriteSet;
  event: ChangeEvent;
  added: { table: string; path: string; instance: number }[];
  touched: Map<string, { def: ObjectDef; kind: 'set' | 'add' | 'delete'; changed: Map<string, string> }>;
}

export interface TxEnv {
  schema: Schema;
  index: InstanceIndex;
  resolver: Resolver;
  values: ReadonlyMap<string, string>;
  nextInstance: ReadonlyMap<string, number>;
  objects: ReadonlySet<string>;
  /** The committed rows by unique key (TR-106 §3.5.1). */
  unique: UniqueIndex;
  protocol?: Protocol;
  validators: (objectSchemaPath: string) => ((ctx: ValidateContext) => void)[];
}

const detail = (path: string, kind: DmErrorDetail['kind'], message: string, change?: number): DmErrorDetail =>
  (change === undefined ? { path, kind, message } : { path, kind, message, change });

/** The prefix of the values the agent assigns to keys a creator left out (TR-181 Alias: "cpe-"; R-ADD.5). */
const AGENT_PREFIX = 'cpe-';

/**
 * Parameters the agent fills in when a creator leaves them out (TR-369 R-ADD.5): the instance's Alias and the
 * writable string parameters of its non-functional unique keys (Subscription.ID), each `cpe-<instance>`.
 */
function agentAssigned(def: ObjectDef): string[] {
  const out = new Set<string>();
  for (const p of def.params.values()) if (p.dataType === 'Alias') out.add(p.name);
  for (const key of def.uniqueKeys) {
    if (key.functional) continue;
    for (const name of key.params) {
      const p = def.params.get(name);
      if (p && p.access !== 'readOnly' && p.type === 'string' && !p.list) out.add(name);
    }
  }
  return [...out];
}

/**
 * TR-369 R-KEY.1: for a USP Controller, a parameter of a non-functional unique key keeps its value once
 * assigned (Subscription.ID, Alias). The agent's own placeholder (`cpe-...`, R-ADD.5) may still be replaced,
 * once. A USP rule only: an ACS may rename an Alias (TR-069 Appendix II), SNMP serves Alias as the writable
 * ifAlias (RFC 2863), and the local web page and CLI are the owner's.
 */
function frozenKey(origin: Origin, def: ObjectDef, param: string, current: string): boolean {
  return origin === 'usp' && def.multi && current !== '' && !current.startsWith(AGENT_PREFIX)
    && def.uniqueKeys.some((k) => !k.functional && k.params.includes(param));
}

export function plan(env: TxEnv, changes: readonly Change[], origin: Origin): Planned {
  const errors: DmErrorDetail[] = [];
  const ws = emptyWriteSet();
  const next = new Map<string, string>(); // pending values (path -> value)
  const removed = new Set<string>(); // pending removed object paths
  const addedObjs: string[] = [];
  // Lookups a batch of thousands of adds (a routing table) makes per change: sets and counts, not scans.
  const addedSet = new Set<string>();
  const addedPerTable = new Map<string, number>();
  const added: Planned['added'] = [];
  const touched: Planned['touched'] = new Map();
  const system = origin === 'system';
  const seenSet = new Set<string>();
  const setBy = new Map<string, number>(); // parameter path -> index of the change that sets it
  const addedBy = new Map<string, number>(); // added object path -> index of its add change
  /** The change a detail belongs to: the one setting that parameter, else the one adding its object. */
  const changeOf = (path: string): number | undefined =>
    setBy.get(path) ?? [...addedBy].find(([o]) => path.startsWith(o))?.[1];

  const current = (p: string) => (next.has(p) ? next.get(p) : env.values.get(p));
  const touch = (path: string, def: ObjectDef, kind: 'set' | 'add' | 'delete') => {
    let t = touched.get(path);
    if (!t) touched.set(path, (t = { def, kind, changed: new Map() }));
    return t;
  };
  /** Whether a path lies in an object this transaction deletes. */
  const gone = (p: string) => removed.size > 0 && [...removed].some((r) => p.startsWith(r));
  const alive = (objectPath: string) => !gone(objectPath) && (addedSet.has(objectPath) || env.resolver.exists(objectPath));

  /** Creates an instance's values (and its single-instance sub-objects') with defaults. */
  const materialize = (objectPath: string, def: ObjectDef) => {
    for (const [name, p] of def.params) {
      if (def.counters.has(name)) continue;
      next.set(`${objectPath}${name}`, zeroValue(p));
    }
    for (const child of def.children) if (!child.multi) materialize(`${objectPath}${child.name}.`, child);
  };

  for (const [i, ch] of changes.entries()) {
    try {
      if (ch.op === 'set') {
        const path = Path.parse(ch.path);
        if (!path.isConcrete && !path.segments.some((s) => s.k === 'alias')) throw new DmError('InvalidArgument', 'a set needs one concrete parameter path');
        const node = env.resolver.one(path, env.protocol);
        if (node.kind !== 'param') throw new DmError('InvalidPath', 'not a parameter');
        if (!alive(node.objectPath)) throw new DmError('InvalidPath', 'no such object instance');
        if (seenSet.has(node.path)) throw new DmError('InvalidArgument', 'parameter named twice in one set');
        seenSet.add(node.path);
        if (node.object.counters.has(node.def.name)) throw new DmError('NotWritable', 'parameter is read-only');
        const isNew = addedSet.has(node.objectPath);
        const mayWrite = system || ch.privileged === true;
        if (!mayWrite && node.def.access === 'readOnly') throw new DmError('NotWritable', 'parameter is read-only');
        if (!mayWrite && !isNew && node.def.access === 'writeOnceReadOnly' && (env.values.get(node.path) ?? '') !== '')
          throw new DmError('NotWritable', 'parameter can be written only once');
        let value: string;
        try {
          value = canonical(node.def, ch.value);
        } catch (e) {
          if (e instanceof TypeError_) throw new DmError('InvalidValue', `${e.message} (type ${typeLabel(node.def)})`);
          throw e;
        }
        const stored = env.values.get(node.path) ?? '';
        if (!mayWrite && !isNew && value !== stored && frozenKey(origin, node.object, node.def.name, stored))
          throw new DmError('NotWritable', 'a non-functional unique key does not change once assigned (TR-369 R-KEY.1)');
        next.set(node.path, value);
        setBy.set(node.path, i);
        touch(node.objectPath, node.object, isNew ? 'add' : 'set').changed.set(node.def.name, value);
      } else if (ch.op === 'add') {
        const tpath = Path.parse(ch.table.endsWith('.') ? ch.table : `${ch.table}.`);
        const node = env.resolver.one(tpath, env.protocol);
        if (node.kind !== 'table') throw new DmError('NotCreatable', node.kind === 'object' ? 'not a table: an instance cannot be added here' : 'not a table');
        const def = node.def;
        if (!system && !def.writable) throw new DmError('NotCreatable', 'instances of this table cannot be added');
        const parent = node.path.slice(0, node.path.slice(0, -1).lastIndexOf('.') + 1);
        if (!alive(parent)) throw new DmError('InvalidPath', 'no such parent object');
        const live = env.index.instances(node.path).filter((n) => !removed.has(`${node.path}${n}.`)).length
          + (addedPerTable.get(node.path) ?? 0);
        if (def.maxEntries !== null && live >= def.maxEntries)
          throw new DmError('ResourcesExceeded', `at most ${def.maxEntries} instances`);
        const pending = ws.nextInstance.get(node.path) ?? env.nextInstance.get(node.path) ?? 1;
        const used = Math.max(0, ...env.index.instances(node.path));
        let n = Math.max(pending, used + 1);
        if (ch.instance !== undefined) {
          // Only the agent chooses numbers (factory defaults); they still never go backwards.
          if (!system || ch.instance < n) throw new DmError('InvalidArgument', `instance ${ch.instance} cannot be created`);
          n = ch.instance;
        }
        ws.nextInstance.set(node.path, n + 1);
        const objectPath = `${node.path}${n}.`;
        addedObjs.push(objectPath);
        addedSet.add(objectPath);
        addedPerTable.set(node.path, (addedPerTable.get(node.path) ?? 0) + 1);
        addedBy.set(objectPath, i);
        materialize(objectPath, def);
        // TR-069 Appendix II / TR-181 Alias, TR-369 R-ADD.5: keys the creator left out get "cpe-<n>".
        for (const name of agentAssigned(def))
          if (!(name in (ch.values ?? {})) && !(name in (ch.agentValues ?? {}))) next.set(`${objectPath}${name}`, `${AGENT_PREFIX}${n}`);
        touch(objectPath, def, 'add');
        added.push({ table: node.path, path: objectPath, instance: n });
        const settings: [string, string, Origin][] = [
          ...Object.entries(ch.agentValues ?? {}).map(([k, v]): [string, string, Origin] => [k, v, 'system']),
          ...Object.entries(ch.values ?? {}).map(([k, v]): [string, string, Origin] => [k, v, origin]),
        ];
        for (const [name, value, by] of settings) {
          const inner = planSetInto(env, { path: `${objectPath}${name}`, value }, by, next, objectPath);
          if (inner) errors.push({ ...inner, change: i });
          else touch(objectPath, def, 'add').changed.set(name, next.get(`${objectPath}${name}`)!);
        }
      } else {
        const path = Path.parse(ch.path.endsWith('.') ? ch.path : `${ch.path}.`);
        const node = env.resolver.one(path, env.protocol);
        if (node.kind !== 'object' || !node.def.multi) throw new DmError('NotCreatable', 'only table instances can be deleted');
        if (!system && !node.def.writable) throw new DmError('NotCreatable', 'instances of this table cannot be deleted');
        if (removed.has(node.path)) continue;
        removed.add(node.path);
        touch(node.path, node.def, 'delete');
      }
    } catch (e) {
      if (!(e instanceof DmError)) throw e;
      const p = ch.op === 'add' ? ch.table : ch.path;
      const prefix = `${e.path ?? p}: `;
      errors.push(detail(e.path ?? p, e.kind, e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.message, i));
    }
  }

  if (errors.length === 0) checkUniqueKeys(env, next, removed, touched, errors);
  /** A table's rows after the transaction: the committed ones not deleted, then the added ones (numbered higher). */
  const rowsAfter = (table: string): string[] => [
    ...env.index.instances(table).map((n) => `${table}${n}.`).filter((o) => !gone(o)),
    ...addedObjs.filter((o) => o.startsWith(table) && /^\d+\.$/.test(o.slice(table.length)) && !gone(o)),
  ];
  if (errors.length === 0) {
    for (const [path, t] of touched) {
      for (const validate of env.validators(schemaOf(path))) {
        try {
          validate({
            origin, path, kind: t.kind, changed: t.changed,
            value: (param) => current(`${path}${param}`) ?? '',
            valueAt: (p) => (gone(p) ? '' : current(p) ?? ''),
            rowsAt: (table) => rowsAfter(table),
          });
        } catch (e) {
          if (!(e instanceof DmError)) throw e;
          errors.push(...(e.details.length ? e.details : [detail(e.path ?? path, e.kind, e.message)]));
        }
      }
    }
  }
  for (const d of errors) if (d.change === undefined) { const c = changeOf(d.path); if (c !== undefined) d.change = c; }
  if (errors.length) throw DmError.from(errors);

  // Build the write set and the event.
  const event: ChangeEvent = { origin, changes: [], added: addedObjs, deleted: [] };
  const removedList = [...removed];
  for (const r of removedList) {
    for (const o of [...env.objects].filter((o) => o.startsWith(r)).sort((a, b) => b.length - a.length)) {
      ws.removedObjects.push(o);
      event.deleted.push(o);
    }
    for (const p of env.values.keys()) if (p.startsWith(r)) ws.removedValues.push(p);
  }
  ws.addedObjects.push(...addedObjs);
  for (const [p, v] of next) {
    if (removedList.some((r) => p.startsWith(r))) continue;
    ws.values.set(p, v);
    const old = env.values.get(p);
    const inNew = addedSet.size > 0 && inAdded(p, addedSet);
    if (!inNew && old !== v) event.changes.push({ path: p, old: old ?? '', value: v });
  }
  return { ws, event, added, touched };
}

/** Whether a parameter path lies in one of the added objects (or their single-instance sub-objects). */
function inAdded(p: string, added: ReadonlySet<string>): boolean {
  for (let i = p.indexOf('.'); i >= 0; i = p.indexOf('.', i + 1)) if (added.has(p.slice(0, i + 1))) return true;
  return false;
}

function planSetInto(env: TxEnv, ch: { path: string; value: string }, origin: Origin, next: Map<string, string>, objectPath: string): DmErrorDetail | undefined {
  const name = ch.path.slice(objectPath.length);
  const def = env.schema.object(schemaOf(objectPath))!;
  const p = def.params.get(name);
  if (!p || def.counters.has(name)) return detail(ch.path, 'InvalidPath', 'no such parameter');
  if (origin !== 'system' && p.access === 'readOnly') return detail(ch.path, 'NotWritable', 'parameter is read-only');
  try {
    next.set(ch.path, canonical(p, ch.value));
  } catch (e) {
    if (e instanceof TypeError_) return detail(ch.path, 'InvalidValue', `${e.message} (type ${typeLabel(p)})`);
    throw e;
  }
  return undefined;
}

export const typeLabel = (p: { type: string; dataType?: string; list?: unknown }) =>
  `${p.list ? 'list of ' : ''}${p.dataType ?? p.type}`;

/**
 * TR-106 §3.5.1: unique keys stay unique within each table (empty values are not yet keys). Only rows this
 * transaction adds or whose key parameters it changes are compared, each against the table's other rows.
 */
function checkUniqueKeys(env: TxEnv, next: Map<string, string>, removed: Set<string>, touched: Planned['touched'], errors: DmErrorDetail[]) {
  const valueOf = (row: string, param: string) => next.get(`${row}${param}`) ?? env.values.get(`${row}${param}`) ?? '';
  const keyAfter = (row: string, params: readonly string[]) => keyText(params.map((k) => valueOf(row, k)));
  const tableOf = (row: string) => row.slice(0, row.slice(0, -1).lastIndexOf('.') + 1);
  // The rows this transaction adds or re-keys, by table and key: compared with each other (O(touched)).
  const local = new Map<string, Map<string, string[]>>();
  const localRows = (table: string, params: readonly string[]) => {
    const id = `${table}\0${params.join('\0')}`;
    let m = local.get(id);
    if (!m) {
      local.set(id, (m = new Map()));
      for (const [r, o] of touched) {
        if (o.kind === 'delete' || !r.startsWith(table) || tableOf(r) !== table) continue;
        const k = keyAfter(r, params);
        if (k !== undefined) m.get(k)?.push(r) ?? m.set(k, [r]);
      }
    }
    return m;
  };
  for (const [row, t] of touched) {
    if (t.kind === 'delete' || !t.def.multi || t.def.uniqueKeys.length === 0) continue;
    const table = tableOf(row);
    for (const key of t.def.uniqueKeys) {
      if (t.kind === 'set' && !key.params.some((k) => t.changed.has(k))) continue;
      const mine = key.params.map((k) => valueOf(row, k));
      const k = keyText(mine);
      if (k === undefined) continue;
      // A stored row with this key that keeps it (not removed, not re-keyed here), else another row of this batch.
      const clash = env.unique.rows(table, key.params, k).find((o) => o !== row && !removed.has(o) && (!touched.has(o) || keyAfter(o, key.params) === k))
        ?? localRows(table, key.params).get(k)?.find((o) => o !== row);
      // Named after a key parameter this transaction set, preferring one the manager can write (ID, not Recipient).
      const writable = (p: string) => t.def.params.get(p)?.access !== 'readOnly';
      const named = key.params.find((p) => t.changed.has(p) && writable(p)) ?? key.params.find((p) => t.changed.has(p)) ?? key.params[0];
      if (clash) errors.push(detail(`${row}${named}`, 'UniqueKeyConflict', `${key.params.join('+')} "${mine.join('", "')}" is already used by ${clash}`));
    }
  }
}

