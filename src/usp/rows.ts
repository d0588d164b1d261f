// Reading LocalAgent tables as rows: one dm.get per table, grouped by instance.
import type { DataModel } from '../datamodel/index.ts';

export interface Row {
  path: string; // "Device.LocalAgent.Controller.1."
  /** Values by path relative to the instance ("EndpointID", "MTP.1.MQTT.Topic"). */
  v: Record<string, string>;
}

export function rows(dm: DataModel, table: string): Row[] {
  const out = new Map<string, Row>();
  for (const { path, value } of dm.get(table, { protocol: 'usp' })) {
    const m = path.slice(table.length).match(/^(\d+)\.(.*)$/);
    if (!m) continue;
    const inst = `${table}${m[1]}.`;
    let r = out.get(inst);
    if (!r) out.set(inst, (r = { path: inst, v: {} }));
    r.v[m[2]] = value;
  }
  return [...out.values()];
}

/** Sub-rows of a row ("MTP." of a Controller row), with relative paths below the sub-instance. */
export function subRows(row: Row, table: string): Row[] {
  const out = new Map<string, Row>();
  for (const [k, value] of Object.entries(row.v)) {
    if (!k.startsWith(table)) continue;
    const m = k.slice(table.length).match(/^(\d+)\.(.*)$/);
    if (!m) continue;
    const inst = `${row.path}${table}${m[1]}.`;
    let r = out.get(inst);
    if (!r) out.set(inst, (r = { path: inst, v: {} }));
    r.v[m[2]] = value;
  }
  return [...out.values()];
}

export const list = (v: string | undefined) => (v ?? '').split(',').map((s) => s.trim()).filter(Boolean);

/** Retry interval for attempt n>=1 (TR-369 §6.?: m*(k/1000)^(n-1) .. m*(k/1000)^n seconds, randomized). */
export function retryDelayMs(n: number, minSeconds: number, multiplier: number, maxSeconds = Infinity): number {
  const k = Math.max(multiplier, 1000) / 1000;
  const lo = Math.min(minSeconds * k ** (n - 1), maxSeconds);
  const hi = Math.min(minSeconds * k ** n, maxSeconds);
  return Math.round((lo + Math.random() * (hi - lo)) * 1000);
}
