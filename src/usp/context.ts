// What every message handler receives (one handler file per message, like obuspa handle_*.c).
import { isDmError, Path, type DataModel } from '../datamodel/index.ts';
import { UspError, USP_ERR } from './errors.ts';
import type { Permissions } from './trust.ts';

export interface Controller {
  /** "Device.LocalAgent.Controller.1." or undefined for an untrusted sender. */
  path?: string;
  endpointId: string;
}

export interface HandlerContext {
  dm: DataModel;
  controller: Controller;
  perms: Permissions;
}

/** Splits "Device.IP.Interface.1.Enable" into its object path and parameter name. */
export function splitParam(path: string): { object: string; param: string } {
  const cut = path.lastIndexOf('.') + 1;
  return { object: path.slice(0, cut), param: path.slice(cut) };
}

/** Values of the unique-key parameters of one instance (AddResp, ObjectCreation, GetInstancesResp). */
export function uniqueKeysOf(dm: DataModel, objectPath: string): Record<string, string> {
  const def = dm.schema.object(objectPath.replace(/\.\d+(?=\.)/g, '.{i}'));
  const out: Record<string, string> = {};
  for (const key of def?.uniqueKeys ?? []) for (const p of key.params) {
    try {
      out[p] = dm.getValue(`${objectPath}${p}`);
    } catch {
      /* a key of a sub-object; not reported */
    }
  }
  return out;
}

/**
 * Requested paths already parsed: a controller asks for the same few paths again and again, and parsing one
 * (a regular expression per segment) was a visible part of a small Get without the JIT (bin/start.js NODE_FLAGS).
 * Paths are frozen values, so one parse can serve every request; bounded, since controllers choose the strings.
 */
const parsed = new Map<string, Path>();
const PARSED_MAX = 256;

/**
 * A requested path, parsed at the wire edge. A path that does not parse names nothing in the supported data
 * model: 7026 Invalid path (TR-369 §10.4), as for a well-formed path to nothing.
 */
export function parsePath(text: string): Path {
  const known = parsed.get(text);
  if (known) return known;
  try {
    const path = Path.parse(text);
    if (parsed.size >= PARSED_MAX) parsed.clear();
    parsed.set(text, path);
    return path;
  } catch (e) {
    if (isDmError(e)) throw new UspError(USP_ERR.INVALID_PATH, e.message);
    throw e;
  }
}
