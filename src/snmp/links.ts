// The agent's record of each interface's ifOperStatus and when it entered it (ifLastChange, RFC 2863
// §3.1.8 and IF-MIB ifLastChange: "the value of sysUpTime at the time the interface entered its current
// operational state"), and the source of linkDown/linkUp (RFC 2863 §6). The softwire's Status is computed
// when read (src/dslite), so no change event announces it: the statuses are sampled on every data-model
// change, before every request that reads the interface tables, and once a second, and every transition
// seen is one notification.
import type { DataModel } from '../datamodel/index.ts';

/** RFC 2863 ifOperStatus from TR-181 Status (same vocabulary, Error counts as down). */
export const OPER: Record<string, number> = { Up: 1, Down: 2, Testing: 3, Unknown: 4, Dormant: 5, NotPresent: 6, LowerLayerDown: 7, Error: 2 };

const IP_IF = 'Device.IP.Interface.';

export interface LinkState {
  oper: number;
  admin: number;
  /** sysUpTime (TimeTicks) when the interface entered `oper`; 0 when it did so before the agent started. */
  lastChange: number;
}

export interface LinkTransition { ifIndex: number; admin: number; oper: number; from: number }

export class LinkMonitor {
  private readonly links = new Map<number, LinkState>();
  private primed = false;

  constructor(private readonly dm: DataModel) {}

  get(ifIndex: number): LinkState | undefined {
    return this.links.get(ifIndex);
  }

  /**
   * Reads every interface's Status and Enable; returns the operational transitions since the last sample.
   * An interface seen for the first time is recorded without a transition (it entered its state before we
   * looked, or was just created: RFC 2863 §6 sends linkUp/linkDown on changes only).
   */
  sample(uptime: number): LinkTransition[] {
    const out: LinkTransition[] = [];
    let instances: string[];
    try {
      instances = this.dm.instances(IP_IF);
    } catch {
      return out;
    }
    const seen = new Set<number>();
    for (const path of instances) {
      const i = Number(path.slice(IP_IF.length, -1));
      seen.add(i);
      const oper = OPER[this.dm.getValue(`${path}Status`)] ?? 4;
      const admin = this.dm.getValue(`${path}Enable`) === 'true' ? 1 : 2;
      const was = this.links.get(i);
      if (!was) {
        this.links.set(i, { oper, admin, lastChange: this.primed ? uptime : 0 });
        continue;
      }
      was.admin = admin;
      if (was.oper === oper) continue;
      out.push({ ifIndex: i, admin, oper, from: was.oper });
      was.oper = oper;
      was.lastChange = uptime;
    }
    for (const i of this.links.keys()) if (!seen.has(i)) this.links.delete(i);
    this.primed = true;
    return out;
  }
}
