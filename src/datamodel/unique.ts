// TR-106 §3.5.1 unique keys of the stored rows, as an index: key values -> rows, per table and key. A commit
// checks each row it adds or re-keys with one lookup instead of a scan of the table. With a 10,000-route
// table (IPv4Forwarding's functional key is six parameters, ForwardingMetric among them) a scan made a change of
// 100 routes' metrics cost ~100 ms of the gateway's event loop (issue 20 item 6). Built per table and key on
// first use from the committed values, then kept up to date by the commits (update) like InstanceIndex.
import type { InstanceIndex } from './tree.ts';

/** The lookup key of a row's key values; undefined when one is empty (an empty value is not yet a key). */
export function keyText(values: readonly string[]): string | undefined {
  return values.includes('') ? undefined : JSON.stringify(values);
}

interface KeyIndex {
  readonly table: string;
  readonly params: readonly string[];
  readonly rows: Map<string, string[]>; // key text -> rows holding it (more than one only if stored so)
  readonly keyOf: Map<string, string>; // row -> its key text
}

export class UniqueIndex {
  private readonly indexes = new Map<string, KeyIndex>(); // `${table}\0${params}` -> index
  private readonly byTable = new Map<string, KeyIndex[]>();

  constructor(private readonly values: ReadonlyMap<string, string>, private readonly instances: InstanceIndex) {}

  /** Committed rows of `table` whose `params` have the values `key` (keyText) stands for. */
  rows(table: string, params: readonly string[], key: string): readonly string[] {
    return this.index(table, params).rows.get(key) ?? [];
  }

  /** After a commit wrote the values: index again the rows it added, changed or removed. */
  update(rows: Iterable<string>): void {
    if (this.indexes.size === 0) return;
    for (const row of rows) {
      const m = /^(.*\.)\d+\.$/.exec(row);
      for (const ix of (m && this.byTable.get(m[1])) || []) {
        this.drop(ix, row);
        this.put(ix, row);
      }
    }
  }

  /** Values changed outside commits (start-up): build again on next use. */
  clear(): void {
    this.indexes.clear();
    this.byTable.clear();
  }

  private index(table: string, params: readonly string[]): KeyIndex {
    const id = `${table}\0${params.join('\0')}`;
    let ix = this.indexes.get(id);
    if (!ix) {
      ix = { table, params, rows: new Map(), keyOf: new Map() };
      for (const n of this.instances.instances(table)) this.put(ix, `${table}${n}.`);
      this.indexes.set(id, ix);
      this.byTable.get(table)?.push(ix) ?? this.byTable.set(table, [ix]);
    }
    return ix;
  }

  private put(ix: KeyIndex, row: string): void {
    if (!this.instances.has(row)) return; // removed
    const key = keyText(ix.params.map((p) => this.values.get(`${row}${p}`) ?? ''));
    if (key === undefined) return;
    ix.keyOf.set(row, key);
    ix.rows.get(key)?.push(row) ?? ix.rows.set(key, [row]);
  }

  private drop(ix: KeyIndex, row: string): void {
    const key = ix.keyOf.get(row);
    if (key === undefined) return;
    ix.keyOf.delete(row);
    const list = ix.rows.get(key)!;
    if (list.length === 1) ix.rows.delete(key);
    else list.splice(list.indexOf(row), 1);
  }
}
