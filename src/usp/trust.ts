// ControllerTrust (TR-369 §9.4, TR-181 Device.LocalAgent.ControllerTrust.Role.{i}.Permission.{i}.): a
// controller's roles (AssignedRole + InheritedRole, else UntrustedRole) grant permission strings per target.
// Each permission string has four positions "rwxn" (TR-181 Permission.Param/Obj/InstantiatedObj/CommandEvent);
// a later (higher Order) matching permission overrides an earlier one; several roles combine as a union.
import type { DataModel } from '../datamodel/index.ts';

export type PermKind = 'Param' | 'Obj' | 'InstantiatedObj' | 'CommandEvent';
export type PermFlag = 'r' | 'w' | 'x' | 'n';
const FLAG_POS: Record<PermFlag, number> = { r: 0, w: 1, x: 2, n: 3 };

interface CompiledPermission {
  order: number;
  targets: RegExp[];
  perms: Record<PermKind, string>;
}

const ROLE_TABLE = 'Device.LocalAgent.ControllerTrust.Role.';

/** A target ("Device.IP.Interface.*.", "Device.LocalAgent.Subscription.") as a regular expression. */
export function targetRegExp(target: string): RegExp {
  const partial = target.endsWith('.');
  const body = target
    .split('.')
    .map((seg) => (seg === '*' || seg === '{i}' ? '\\d+' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('\\.');
  return new RegExp(`^${body}${partial ? '' : '$'}`);
}

/** The permissions one controller holds, compiled once per trust-configuration change. */
export class Permissions {
  constructor(private readonly roles: CompiledPermission[][]) {}

  static readonly none = new Permissions([]);

  /** May the controller do `flag` on `path` (a parameter, object, command or event path)? */
  can(kind: PermKind, path: string, flag: PermFlag): boolean {
    for (const role of this.roles) {
      let granted: boolean | undefined;
      for (const p of role) if (p.targets.some((t) => t.test(path))) granted = p.perms[kind][FLAG_POS[flag]] === flag;
      if (granted) return true;
    }
    return false;
  }
}

function compileRole(dm: DataModel, rolePath: string): CompiledPermission[] {
  const role = rolePath.endsWith('.') ? rolePath : `${rolePath}.`;
  const vals = new Map(dm.get(`${role}`, { protocol: 'usp' }).map((v) => [v.path.slice(role.length), v.value]));
  if (vals.get('Enable') !== 'true') return [];
  const perms: CompiledPermission[] = [];
  for (const inst of dm.instances(`${role}Permission.`, 'usp')) {
    const v = (p: string) => vals.get(`${inst.slice(role.length)}${p}`) ?? '';
    if (v('Enable') !== 'true') continue;
    perms.push({
      order: Number(v('Order')),
      targets: v('Targets').split(',').map((s) => s.trim()).filter(Boolean).map(targetRegExp),
      perms: { Param: v('Param'), Obj: v('Obj'), InstantiatedObj: v('InstantiatedObj'), CommandEvent: v('CommandEvent') },
    });
  }
  return perms.sort((a, b) => a.order - b.order);
}

/** The permissions of the controller at `controllerPath` (an untrusted sender passes undefined). */
export function permissionsOf(dm: DataModel, controllerPath: string | undefined): Permissions {
  const list = (p: string) => dm.getValue(p).split(',').map((s) => s.trim()).filter(Boolean);
  let roles: string[] = [];
  if (controllerPath) roles = [...list(`${controllerPath}AssignedRole`), ...list(`${controllerPath}InheritedRole`)];
  if (!roles.length) roles = list('Device.LocalAgent.ControllerTrust.UntrustedRole');
  const compiled = roles.filter((r) => r.startsWith(ROLE_TABLE)).map((r) => {
    try {
      return compileRole(dm, r);
    } catch {
      return []; // a dangling role reference grants nothing
    }
  });
  return new Permissions(compiled);
}

/** Factory roles (TR-369 §9.4.1 examples): full access, and read-only with the right to manage subscriptions. */
export const FACTORY_ROLES = [
  {
    Name: 'Full Access',
    permissions: [{ Order: '1', Targets: 'Device.', Param: 'rw-n', Obj: 'rw-n', InstantiatedObj: 'rw-n', CommandEvent: 'r-xn' }],
  },
  {
    Name: 'Read Only',
    permissions: [
      { Order: '1', Targets: 'Device.', Param: 'r--n', Obj: 'r--n', InstantiatedObj: 'r--n', CommandEvent: 'r--n' },
      { Order: '2', Targets: 'Device.LocalAgent.Subscription.', Param: 'rw-n', Obj: 'rw-n', InstantiatedObj: 'rw-n', CommandEvent: 'r--n' },
    ],
  },
];
