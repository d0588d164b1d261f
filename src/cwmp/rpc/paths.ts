// CWMP path rules on top of the core's Path grammar: TR-069 names (A.3.2.1) with partial paths, instance
// numbers, and aliases only when AliasBasedAddressing is on (Appendix II). USP searches, reference
// following and wildcards are not CWMP syntax here (InstanceWildcardsSupported is false).
import { DmError, Path } from '../../datamodel/index.ts';
import type { DataModel } from '../../datamodel/index.ts';
import { CwmpFault } from '../faults.ts';

/** TR-069 A.3.2.1: names are at most 256 characters. */
const MAX_NAME = 256;

export function cwmpPath(dm: DataModel, text: string): Path {
  if (text.length > MAX_NAME) throw new CwmpFault(9005, `name longer than ${MAX_NAME} characters`);
  let p: Path;
  try {
    p = Path.parse(text);
  } catch (e) {
    if (e instanceof DmError) throw new CwmpFault(9005, e.message);
    throw e;
  }
  const aliases = dm.getValue('Device.ManagementServer.AliasBasedAddressing') === 'true';
  for (const s of p.segments) {
    if (s.k === 'name' && (s.name.endsWith('()') || s.name.endsWith('!'))) throw new CwmpFault(9005, `${text}: commands and events are not CWMP names`);
    if (s.k === 'search' || s.k === 'ref' || s.k === 'placeholder' || s.k === 'wildcard' || (s.k === 'alias' && !aliases))
      throw new CwmpFault(9005, `${text}: not a CWMP parameter name`);
  }
  return p;
}
