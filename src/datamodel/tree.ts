// The instance tree: which objects exist, and resolution of path patterns (instance numbers, wildcards,
// CWMP aliases, USP search expressions, USP reference following) to concrete nodes.
import { DmError } from './errors.ts';
import { Path, type SchemaPath, type SearchTerm } from './path.ts';
import { Schema, tablePathOf, type CommandDef, type EventDef, type ObjectDef, type ParamDef, type Protocol } from './schema.ts';
import { compareValues } from './types.ts';

export type Node =
  | { kind: 'object'; path: string; def: ObjectDef } // "Device.IP.Interface.1." or "Device.DSLite."
  | { kind: 'table'; path: string; def: ObjectDef } // "Device.IP.Interface." (def: the {i} object)
  | { kind: 'param'; path: string; objectPath: string; object: ObjectDef; def: ParamDef }
  | { kind: 'command'; path: string; objectPath: string; object: ObjectDef; def: CommandDef }
  | { kind: 'event'; path: string; objectPath: string; object: ObjectDef; def: EventDef };

/** Read access the resolver needs: a parameter's current value (stored or live). */
export type ValueOf = (objectPath: string, object: ObjectDef, param: string) => string | undefined;

export class InstanceIndex {
  /** Table path ("Device.IP.Interface.1.IPv4Address.") -> instance numbers, ascending. */
  private readonly tables = new Map<string, number[]>();

  constructor(objects: Iterable<string>) {
    for (const o of objects) this.add(o);
  }

  static split(objectPath: string): { table: string; n: number } {
    const m = objectPath.match(/^(.*\.)(\d+)\.$/);
    if (!m) throw new Error(`not an instance path: ${objectPath}`);
    return { table: m[1], n: Number(m[2]) };
  }

  add(objectPath: string) {
    const { table, n } = InstanceIndex.split(objectPath);
    let list = this.tables.get(table);
    if (!list) this.tables.set(table, (list = []));
    // Instances are mostly added with the next number: append; otherwise a binary search keeps the order
    // (a 10,000-route commit would otherwise sort the table once per row).
    if (!list.length || n > list[list.length - 1]) {
      list.push(n);
      return;
    }
    let lo = 0, hi = list.length;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (list[mid] < n) lo = mid + 1; else hi = mid; }
    if (list[lo] !== n) list.splice(lo, 0, n);
  }

  remove(objectPath: string) {
    const { table, n } = InstanceIndex.split(objectPath);
    const list = this.tables.get(table);
    if (!list) return;
    const i = list.indexOf(n);
    if (i >= 0) list.splice(i, 1);
  }

  instances(tablePath: string): readonly number[] {
    return this.tables.get(tablePath) ?? [];
  }

  has(objectPath: string): boolean {
    const { table, n } = InstanceIndex.split(objectPath);
    const list = this.instances(table);
    let lo = 0, hi = list.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (list[mid] === n) return true;
      if (list[mid] < n) lo = mid + 1;
      else hi = mid - 1;
    }
    return false;
  }
}

/** Schema path of a concrete object path ("Device.IP.Interface.1." -> "Device.IP.Interface.{i}."). */
export const schemaOf = (objectPath: string): SchemaPath => objectPath.replace(/\.\d+(?=\.)/g, '.{i}') as SchemaPath;

export class Resolver {
  constructor(
    private readonly schema: Schema,
    private readonly index: InstanceIndex,
    private readonly valueOf: ValueOf,
  ) {}

  /** Does the concrete object path name an existing object? */
  exists(objectPath: string): boolean {
    const def = this.schema.object(schemaOf(objectPath));
    if (!def) return false;
    const path = Path.parse(objectPath);
    let prefix = '';
    let i = 0;
    for (const seg of path.segments) {
      prefix += `${seg.k === 'index' ? seg.n : (seg as { name: string }).name}.`;
      if (seg.k === 'index' && !this.index.has(prefix)) return false;
      i++;
    }
    return i > 0 && (!def.multi || /\.\d+\.$/.test(objectPath));
  }

  /**
   * Resolves a path to nodes. A path that matches nothing because an instance does not exist (or a search
   * matches none) yields []; a path that cannot exist in the schema throws InvalidPath.
   */
  resolve(path: Path, protocol?: Protocol): Node[] {
    if (path.length === 0) return [{ kind: 'object', path: 'Device.', def: this.schema.root }];
    const first = path.segments[0];
    if (first.k !== 'name' || first.name !== 'Device') throw this.invalid(path, 'paths start with "Device."');
    const out: Node[] = [];
    this.walk(path, 1, 'Device.', this.schema.root, false, protocol, out);
    return out;
  }

  /** Exactly one concrete node, or an error naming the path. */
  one(text: string | Path, protocol?: Protocol): Node {
    const path = typeof text === 'string' ? Path.parse(text) : text;
    const nodes = this.resolve(path, protocol);
    if (nodes.length !== 1) throw new DmError('InvalidPath', `${path}: no such ${path.partial ? 'object' : 'parameter'}`, [], path.toString());
    return nodes[0];
  }

  private invalid(path: Path, why: string): DmError {
    return new DmError('InvalidPath', `${path}: ${why}`, [], path.toString());
  }

  private walk(path: Path, i: number, at: string, def: ObjectDef, atTable: boolean, protocol: Protocol | undefined, out: Node[]) {
    if (!Schema.serves(def, protocol)) throw this.invalid(path, 'no such object');
    if (i === path.length) {
      out.push(atTable ? { kind: 'table', path: at, def } : { kind: 'object', path: at, def });
      return;
    }
    const seg = path.segments[i];
    if (atTable) {
      for (const n of this.instancesFor(path, at, def, seg)) this.walk(path, i + 1, `${at}${n}.`, def, false, protocol, out);
      return;
    }
    const isLast = i === path.length - 1;
    if (seg.k === 'ref') {
      const pdef = def.params.get(seg.name);
      if (!pdef || !pdef.ref) throw this.invalid(path, `${seg.name} is not a reference parameter`);
      const value = this.valueOf(at, def, seg.name) ?? '';
      // TR-369 §2.5.5: follow each path in a (list-valued) reference; empty references lead nowhere.
      for (const target of value.split(',').map((s) => s.trim()).filter(Boolean)) {
        const rest = Path.of(path.segments.slice(i + 1), path.partial);
        const targetPath = Path.parse(target.endsWith('.') ? target : `${target}.`);
        const full = Path.of([...targetPath.segments, ...rest.segments], path.partial);
        if (rest.length === 0 && !path.partial) continue;
        out.push(...this.resolve(full, protocol));
      }
      return;
    }
    if (seg.k !== 'name') throw this.invalid(path, `unexpected "${path.segments[i].k}" segment`);
    const name = seg.name;
    if (name.endsWith('()')) {
      const c = def.commands.get(name);
      if (!c || !isLast) throw this.invalid(path, 'no such command');
      out.push({ kind: 'command', path: `${at}${name}`, objectPath: at, object: def, def: c });
      return;
    }
    if (name.endsWith('!')) {
      const e = def.events.get(name);
      if (!e || !isLast) throw this.invalid(path, 'no such event');
      out.push({ kind: 'event', path: `${at}${name}`, objectPath: at, object: def, def: e });
      return;
    }
    const p = def.params.get(name);
    if (p && isLast && !path.partial) {
      out.push({ kind: 'param', path: `${at}${name}`, objectPath: at, object: def, def: p });
      return;
    }
    const child = def.children.find((c) => c.name === name);
    if (!child) throw this.invalid(path, p ? 'a parameter has no children' : 'no such object or parameter');
    if (!path.partial && isLast) throw this.invalid(path, 'an object path ends with "."');
    this.walk(path, i + 1, child.multi ? `${at}${name}.` : `${at}${name}.`, child, child.multi, protocol, out);
  }

  private instancesFor(path: Path, table: string, def: ObjectDef, seg: Path['segments'][number]): number[] {
    const all = this.index.instances(table);
    switch (seg.k) {
      case 'index': return all.includes(seg.n) ? [seg.n] : [];
      case 'wildcard': return [...all];
      case 'alias':
        return all.filter((n) => this.valueOf(`${table}${n}.`, def, 'Alias') === seg.alias);
      case 'search':
        return all.filter((n) => seg.terms.every((t) => this.matches(path, `${table}${n}.`, def, t)));
      default:
        throw this.invalid(path, `an instance of ${tablePathOf(def)} is needed here`);
    }
  }

  private matches(path: Path, objectPath: string, def: ObjectDef, term: SearchTerm): boolean {
    let at = objectPath;
    let d: ObjectDef | undefined = def;
    for (const name of term.param.slice(0, -1)) {
      d = d.children.find((c) => c.name === name && !c.multi);
      if (!d) throw this.invalid(path, `no object ${name} for the search`);
      at = `${at}${name}.`;
    }
    const pname = term.param[term.param.length - 1];
    const pdef = d.params.get(pname);
    if (!pdef) throw this.invalid(path, `no parameter ${term.param.join('.')} for the search`);
    const v = this.valueOf(at, d, pname) ?? '';
    const c = compareValues(pdef, v, term.value);
    switch (term.op) {
      case '==': return c === 0;
      case '!=': return c !== 0;
      case '<': return c < 0;
      case '>': return c > 0;
      case '<=': return c <= 0;
      case '>=': return c >= 0;
    }
  }

  /**
   * Visits every existing object at and below a node, parents first (schema order, instances ascending).
   * `maxDepth` counts object levels below the start (0: only the start object).
   */
  *objectsBelow(node: Node, protocol?: Protocol, maxDepth = Infinity): Generator<{ path: string; def: ObjectDef; depth: number }> {
    if (node.kind === 'table') {
      for (const n of this.index.instances(node.path)) yield* this.below(`${node.path}${n}.`, node.def, protocol, maxDepth, 1);
      return;
    }
    if (node.kind === 'object') yield* this.below(node.path, node.def, protocol, maxDepth, 0);
  }

  private *below(path: string, def: ObjectDef, protocol: Protocol | undefined, maxDepth: number, depth: number): Generator<{ path: string; def: ObjectDef; depth: number }> {
    if (!Schema.serves(def, protocol) || depth > maxDepth) return;
    yield { path, def, depth };
    for (const child of def.children) {
      if (child.multi) {
        const table = `${path}${child.name}.`;
        for (const n of this.index.instances(table)) yield* this.below(`${table}${n}.`, child, protocol, maxDepth, depth + 1);
      } else yield* this.below(`${path}${child.name}.`, child, protocol, maxDepth, depth + 1);
    }
  }
}
