// Parameter attributes (TR-069 §A.3.2.4/A.3.2.5): notification (0 off, 1 passive, 2 active) and access
// list, persisted per parameter. Defaults come from the schema's activeNotify (TR-106 DM Schema).
import { DmError, type DmErrorDetail } from './errors.ts';
import { Emitter, type Disposable } from './events.ts';
import type { Schema } from './schema.ts';
import type { Resolver } from './tree.ts';
import { emptyWriteSet, type Store } from './store.ts';
import { schemaOf } from './tree.ts';

export interface Attributes {
  path: string;
  notification: number;
  accessList: string[];
}

export interface AttributeChange {
  changed: Attributes[];
}

/** TR-069 Table 6 defines one access-list entity. */
const ACCESS_ENTITIES = ['Subscriber'];

export class AttributeTable {
  private readonly emitter = new Emitter<AttributeChange>();

  constructor(
    private readonly schema: Schema,
    private readonly store: Store,
    private readonly resolver: Resolver,
  ) {}

  private defOf(path: string) {
    return this.schema.param(schemaOf(path.slice(0, path.lastIndexOf('.') + 1)) + path.slice(path.lastIndexOf('.') + 1))?.def;
  }

  private defaultNotification(path: string): number {
    const a = this.defOf(path)?.activeNotify;
    return a === 'forceEnabled' || a === 'forceDefaultEnabled' ? 2 : 0;
  }

  get(paths: string[]): Attributes[] {
    return paths.map((path) => {
      const s = this.store.attributes.get(path);
      return { path, notification: s?.notification ?? this.defaultNotification(path), accessList: s?.accessList ?? [] };
    });
  }

  /** Parameters with notification 1 or 2 (what a CWMP client watches for value changes). */
  notifying(): Attributes[] {
    const out: Attributes[] = [];
    for (const [path, a] of this.store.attributes) if (a.notification > 0) out.push({ path, ...a });
    for (const o of this.schema.allObjects())
      for (const p of o.params.values())
        if (p.activeNotify === 'forceEnabled' || p.activeNotify === 'forceDefaultEnabled') {
          if (!o.path.includes('{i}') && !this.store.attributes.has(`${o.path}${p.name}`)) out.push({ path: `${o.path}${p.name}`, notification: 2, accessList: [] });
        }
    return out;
  }

  /** Sets attributes of every parameter named; all or nothing. */
  set(items: { path: string; notification?: number; accessList?: string[]; params: string[] }[]): void {
    const errors: DmErrorDetail[] = [];
    const ws = emptyWriteSet();
    const changed: Attributes[] = [];
    for (const it of items) {
      if (it.notification !== undefined && ![0, 1, 2].includes(it.notification))
        errors.push({ path: it.path, kind: 'InvalidArgument', message: `notification ${it.notification} is not 0, 1 or 2` });
      for (const e of it.accessList ?? [])
        if (!ACCESS_ENTITIES.includes(e)) errors.push({ path: it.path, kind: 'InvalidArgument', message: `unknown access-list entity "${e}"` });
      for (const path of it.params) {
        const def = this.defOf(path);
        const cur = this.get([path])[0];
        const n = it.notification ?? cur.notification;
        if (def?.activeNotify === 'canDeny' && n === 2)
          errors.push({ path, kind: 'NotificationRejected', message: 'active notification is not allowed for this parameter' });
        if (def?.activeNotify === 'forceEnabled' && n !== 2)
          errors.push({ path, kind: 'NotificationRejected', message: 'active notification is always on for this parameter' });
        const next = { notification: n, accessList: it.accessList ?? cur.accessList };
        ws.attributes.set(path, next);
        changed.push({ path, ...next });
      }
    }
    if (errors.length) throw DmError.from(errors);
    this.store.write(ws);
    if (changed.length) this.emitter.fire({ changed });
  }

  onChange(listener: (ev: AttributeChange) => void): Disposable {
    return this.emitter.on(listener);
  }
}
