// AddObject and DeleteObject (TR-069 A.3.2.6, A.3.2.7). Like SetParameterValues, the change and the new
// ParameterKey are one transaction; the ACS may only add to and delete from writable tables.
import { DmError } from '../../datamodel/index.ts';
import { CwmpFault } from '../faults.ts';
import type { RpcHandler } from './context.ts';
import { cwmpPath } from './paths.ts';

const PARAMETER_KEY = 'Device.ManagementServer.ParameterKey';

function checkKey(key: string) {
  if (key.length > 32) throw new CwmpFault(9003, 'ParameterKey longer than 32 characters');
}

export const addObject: RpcHandler<'AddObject'> = (req, { dm, acsCommit }) => {
  checkKey(req.ParameterKey);
  if (!req.ObjectName.endsWith('.')) throw new CwmpFault(9005, 'ObjectName must end with "."');
  const nodes = dm.resolve(cwmpPath(dm, req.ObjectName), 'cwmp');
  const node = nodes.length === 1 ? nodes[0] : undefined;
  if (!node || node.kind !== 'table') throw new CwmpFault(9005, `${req.ObjectName}: not a table`);
  const r = acsCommit(() => dm.commit([
    { op: 'add', table: node.path },
    { op: 'set', path: PARAMETER_KEY, value: req.ParameterKey, privileged: true },
  ], 'cwmp', 'cwmp'));
  return { method: 'AddObjectResponse', InstanceNumber: r.added[0].instance, Status: 0 };
};

export const deleteObject: RpcHandler<'DeleteObject'> = (req, { dm, acsCommit }) => {
  checkKey(req.ParameterKey);
  if (!req.ObjectName.endsWith('.')) throw new CwmpFault(9005, 'ObjectName must end with "."');
  const nodes = dm.resolve(cwmpPath(dm, req.ObjectName), 'cwmp');
  const node = nodes.length === 1 ? nodes[0] : undefined;
  if (!node || node.kind !== 'object' || !node.def.multi) throw new CwmpFault(9005, `${req.ObjectName}: no such instance`);
  acsCommit(() => dm.commit([
    { op: 'delete', path: node.path },
    { op: 'set', path: PARAMETER_KEY, value: req.ParameterKey, privileged: true },
  ], 'cwmp', 'cwmp'));
  return { method: 'DeleteObjectResponse', Status: 0 };
};
