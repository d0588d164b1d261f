// lw4o6 (RFC 7596): the second softwire kind. The gateway is an lwB4: it holds one shared public IPv4 address
// and a port set (PSID, RFC 7597 §5.1), NAPTs the LAN into that set itself (the forwarder), and tunnels to a
// Border Relay (the lwAFTR), which keeps only a per-subscriber binding. This module owns the binding:
//   - where it comes from: OPTION_S46_CONT_LW in the DHCPv6 reply (RFC 7598 §5.3), with the IPv4 address in
//     OPTION_S46_V4V6BIND, or dynamic by DHCPv4-over-DHCPv6 (RFC 7341) when the reply names a DHCP 4o6 server
//     (option 88) instead, the port set then in DHCPv4 option 159 (RFC 7618);
//   - the lwB4's tunnel source, the binding prefix with the RFC 7597 §6 interface identifier (RFC 7596 §5.1),
//     which lets an lwAFTR that creates bindings from data packets validate ours;
//   - the ICMPv6 trigger: lwAFTRs share one anycast address, and when the primary dies the backup answers
//     our packets with Destination Unreachable code 5 (RFC 7596 §6.2, RFC 4443 §3.1) until it has a binding.
//     The forwarder raises only errors quoting a packet we sent within the last 30 s (anti-spoofing); here
//     each trigger is acted on once: the binding is provisioned again (a new DHCPv6 exchange, or DHCP 4o6),
//     the forwarder gets the new one (its NAPT table is flushed when it changed: old connections fail, as
//     RFC 7596 accepts), and triggers within HOLD_OFF_MS of the last action are only recorded.
// The other recovery, an lwAFTR that creates the binding from our data packets, needs nothing from us: no
// trigger arrives, and nothing here or in the policy reacts to a mere path change.
// The BR is the failover policy's AFTR (endpoint.ts): the detectors, backup AFTRs and the dual-stack fallback
// apply to lw4o6 unchanged; when re-provisioning fails the detectors see the softwire fail and decide.
import { isIPv4 } from 'node:net';
import type { Logger } from 'pino';
import { Emitter, type Disposable } from '../datamodel/index.ts';
import { lwB4Address, portSet } from '../forwarder/types.ts';
import type { Dhcp4o6Port, Lease6, SoftwireBinding, SoftwireError } from '../wan/platform.ts';

/**
 * Code-5 errors within this time after the last re-provisioning started belong to the same event (the packets
 * in flight, the echo probes): counted in PolicyErrors, nothing done, no Trigger row.
 */
export const HOLD_OFF_MS = 5000;
/** How long a re-provisioning may take before it counts as Failed. */
export const PROVISION_TIMEOUT_MS = 10_000;

export type Lw4o6Status = 'Disabled' | 'Unprovisioned' | 'Provisioning' | 'Bound' | 'Error';
export type TriggerAction = 'Reprovisioned' | 'Unchanged' | 'Failed';

export interface Trigger {
  time: number;
  source: string;
  action: TriggerAction;
  oldBinding: string;
  newBinding: string;
  durationMs: number;
}

export interface Lw4o6State {
  status: Lw4o6Status;
  provisioning: '' | 'S46Bind' | 'DHCP4o6';
  br: string;
  binding: SoftwireBinding | null;
  /** The binding prefix the softwire address is built from ("2001:db8:1:cafe::/64"). */
  bindPrefix: string;
  policyErrors: number;
  reprovisions: number;
  lastTrigger: number | null;
}

/** What the controller needs of the platform. */
export interface Lw4o6Platform {
  dhcp6: {
    lease(): Lease6 | null;
    onLease(fn: (l: Lease6 | null) => void): Disposable;
    /** A new exchange with the DHCPv6 server for fresh options (a new binding); resolves with the lease. */
    reprovision(timeoutMs: number): Promise<Lease6 | null>;
  };
  tunnel: {
    /** The lw4o6 binding the forwarder uses from now on (null: DS-Lite); applied at once when it is up. */
    bind(b: SoftwireBinding | null): Promise<void>;
    /** ICMPv6 code 5 from the BR about a packet we sent recently (verified by the forwarder). */
    onPolicyError(fn: (e: SoftwireError) => void): Disposable;
  };
  /** A DHCP 4o6 client sending from `source` to `servers` (RFC 7341 §5). */
  dhcp4o6(o: { servers: string[]; source: string; bindPrefix: string }): Dhcp4o6Port;
}

export interface Lw4o6Options {
  platform: Lw4o6Platform;
  log: Logger;
  now?: () => number;
  holdOffMs?: number;
  provisionTimeoutMs?: number;
}

/** "192.0.2.3 1/8": the binding as History and the trigger rows show it. */
export function bindingText(b: SoftwireBinding | null): string {
  return b ? `${b.ipv4} ${b.psid}/${b.psidLength}` : '';
}

const sameBinding = (a: SoftwireBinding | null, b: SoftwireBinding | null) =>
  bindingText(a) === bindingText(b) && a?.softwire === b?.softwire && a?.psidOffset === b?.psidOffset;

/** The /64 the lwB4's address is built in: the S46 bind prefix, else the delegated prefix, else the IA_NA's. */
export function bindPrefixOf(lease: Lease6): string | null {
  const fromS46 = lease.lw4o6?.bind?.bindPrefix;
  if (fromS46) return fromS46;
  const pd = lease.prefixes[0]?.prefix;
  const base = pd ?? (lease.addresses[0] ? `${lease.addresses[0].address.split('/')[0]}/64` : null);
  if (!base) return null;
  const [addr, len] = base.split('/');
  // RFC 7597 §5.2: the End-user prefix up to 64 bits; the IID takes the other 64.
  return Number(len) <= 64 ? base : `${addr}/64`;
}

/** A binding from its parts, or null (with the reason logged by the caller) when they are unusable. */
export function makeBinding(bindPrefix: string, ipv4: string, pp: { offset: number; psidLength: number; psid: number } | null | undefined): SoftwireBinding {
  if (!isIPv4(ipv4)) throw new Error(`not an IPv4 address: ${ipv4}`);
  // Without port parameters the whole address is ours (RFC 7598 §4.5: PSID-len 0).
  const p = pp ?? { offset: 0, psidLength: 0, psid: 0 };
  const b = { ipv4, psidOffset: p.offset, psidLength: p.psidLength, psid: p.psid };
  if (portSet(b).count < 2) throw new Error(`port set of ${bindingText({ ...b, softwire: '' })} offset ${p.offset} is too small`);
  return { ...b, softwire: lwB4Address(bindPrefix, b) };
}

export class Lw4o6Controller {
  private readonly p: Lw4o6Platform;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly holdOffMs: number;
  private readonly timeoutMs: number;
  private state: Lw4o6State = { status: 'Disabled', provisioning: '', br: '', binding: null, bindPrefix: '', policyErrors: 0, reprovisions: 0, lastTrigger: null };
  private enabled = true;
  private dhcp4o6: Dhcp4o6Port | null = null;
  private dhcp4o6Key = '';
  private lastAction = -Infinity;
  private busy: Promise<void> = Promise.resolve();
  private readonly subs: Disposable[] = [];
  private readonly stateEmitter = new Emitter<Lw4o6State>();
  private readonly triggerEmitter = new Emitter<Trigger>();
  private stopped = false;

  constructor(o: Lw4o6Options) {
    this.p = o.platform;
    this.log = o.log;
    this.now = o.now ?? Date.now;
    this.holdOffMs = o.holdOffMs ?? HOLD_OFF_MS;
    this.timeoutMs = o.provisionTimeoutMs ?? PROVISION_TIMEOUT_MS;
  }

  status(): Lw4o6State {
    return { ...this.state };
  }

  onState(fn: (s: Lw4o6State) => void): Disposable {
    return this.stateEmitter.on(fn);
  }

  onTrigger(fn: (t: Trigger) => void): Disposable {
    return this.triggerEmitter.on(fn);
  }

  /** Device.MAP.Enable and the Domain's Enable: without them DHCPv6's lw4o6 offer is ignored (DS-Lite). */
  setEnabled(on: boolean): void {
    if (on === this.enabled) return;
    this.enabled = on;
    this.serial(() => this.fromLease(this.p.dhcp6.lease()));
  }

  start(): void {
    this.subs.push(this.p.dhcp6.onLease((l) => this.serial(() => this.fromLease(l))));
    this.subs.push(this.p.tunnel.onPolicyError((e) => this.onPolicyError(e)));
    this.serial(() => this.fromLease(this.p.dhcp6.lease()));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const s of this.subs.splice(0)) s.dispose();
    await this.busy;
    await this.dhcp4o6?.stop();
    this.dhcp4o6 = null;
  }

  /** The softwire kind the failover policy shows (Mode, History). */
  kind(): 'DSLite' | 'LW4o6' {
    return this.state.status === 'Disabled' ? 'DSLite' : 'LW4o6';
  }

  /**
   * Awaited by the policy before the softwire comes up: when the lease offers lw4o6, the binding must be in
   * the forwarder first (a DHCP 4o6 exchange may still be under way). Rejects with the Establishment reason.
   */
  async ready(): Promise<void> {
    this.serial(() => this.fromLease(this.p.dhcp6.lease()));
    await this.busy;
    if (this.state.status !== 'Disabled' && this.state.status !== 'Bound')
      throw new Error(`Establishment: no lw4o6 binding (${this.state.status === 'Error' ? 'provisioning failed' : this.state.status})`);
  }

  /** Resolves when everything queued so far is done (tests). */
  idle(): Promise<void> {
    return this.busy;
  }

  private serial(fn: () => Promise<void>): void {
    this.busy = this.busy.then(() => (this.stopped ? undefined : fn())).catch((err) => this.log.error({ err }, 'lw4o6 step failed'));
  }

  private set(patch: Partial<Lw4o6State>) {
    this.state = { ...this.state, ...patch };
    this.stateEmitter.fire(this.status());
  }

  /** What the DHCPv6 lease says: lw4o6 or not, and the binding if it carries one. */
  private async fromLease(lease: Lease6 | null): Promise<void> {
    const lw = this.enabled ? lease?.lw4o6 : null;
    if (!lease || !lw || !lw.br.length) {
      if (this.state.status !== 'Disabled') {
        await this.p.tunnel.bind(null);
        await this.dropDhcp4o6(true);
        this.set({ status: 'Disabled', provisioning: '', br: '', binding: null, bindPrefix: '' });
      }
      return;
    }
    const br = lw.br[0];
    const prefix = bindPrefixOf(lease);
    if (!prefix) {
      this.log.warn('lw4o6 offered without a prefix or address to build the softwire address from');
      this.set({ status: 'Error', br });
      return;
    }
    if (lw.bind) {
      await this.dropDhcp4o6(false);
      await this.apply(makeBinding(prefix, lw.bind.ipv4, lw.bind.portParams), 'S46Bind', br, prefix);
    } else if (lease.dhcp4o6Servers.length) {
      // Keep a binding already obtained from the same servers (a renewed DHCPv6 lease changes nothing here).
      const key = `${lease.dhcp4o6Servers.join(',')} ${prefix}`;
      if (key === this.dhcp4o6Key && this.state.binding) {
        if (br !== this.state.br) this.set({ br });
        return;
      }
      await this.acquire4o6(lease, prefix, br);
    } else {
      this.log.warn({ br }, 'lw4o6 offered without a binding or a DHCP 4o6 server');
      this.set({ status: 'Unprovisioned', br, binding: null });
    }
  }

  private async apply(binding: SoftwireBinding, provisioning: 'S46Bind' | 'DHCP4o6', br: string, bindPrefix: string) {
    if (!sameBinding(binding, this.state.binding)) await this.p.tunnel.bind(binding);
    this.set({ status: 'Bound', provisioning, br, binding, bindPrefix });
  }

  private async acquire4o6(lease: Lease6, prefix: string, br: string): Promise<void> {
    await this.dropDhcp4o6(false);
    this.set({ status: 'Provisioning', br });
    // The 4o6 messages are sent from an address of ours the server can answer: the IA_NA address, or the
    // softwire prefix's first address (RFC 7341 §5 leaves the choice to the client).
    const source = lease.addresses[0]?.address.split('/')[0] ?? `${prefix.split('/')[0]}1`;
    const client = this.p.dhcp4o6({ servers: lease.dhcp4o6Servers, source, bindPrefix: prefix });
    this.dhcp4o6 = client;
    this.dhcp4o6Key = `${lease.dhcp4o6Servers.join(',')} ${prefix}`;
    try {
      const l4 = await client.acquire(this.timeoutMs);
      await this.apply(makeBinding(prefix, l4.address, l4.portParams), 'DHCP4o6', br, prefix);
    } catch (err) {
      this.log.warn({ err }, 'no binding by DHCPv4-over-DHCPv6');
      this.set({ status: 'Error' });
    }
  }

  private async dropDhcp4o6(release: boolean) {
    const c = this.dhcp4o6;
    this.dhcp4o6 = null;
    this.dhcp4o6Key = '';
    if (!c) return;
    if (release) await c.release().catch(() => undefined);
    await c.stop();
  }

  /**
   * Re-provisioning on request (the Reprovision() command): as a trigger would, without one. Refused while lw4o6
   * is not in use.
   */
  reprovisionNow(): Promise<{ action: TriggerAction; binding: string }> {
    if (this.state.status === 'Disabled') return Promise.reject(new Error('lw4o6 is not in use'));
    return new Promise((resolve) => this.serial(async () => resolve(await this.attempt())));
  }

  /** A verified code 5 from the BR: re-provision once per event, record every one. */
  private onPolicyError(e: SoftwireError) {
    if (this.state.status === 'Disabled') return;
    const at = this.now();
    this.set({ policyErrors: this.state.policyErrors + 1, lastTrigger: at });
    const old = bindingText(this.state.binding);
    if (at - this.lastAction < this.holdOffMs) return;
    this.lastAction = at;
    this.log.info({ source: e.source, binding: old }, 'lw4o6 binding refused by the BR: provisioning again');
    this.serial(async () => {
      const r = await this.attempt();
      const t = { time: at, source: e.source, action: r.action, oldBinding: old, newBinding: r.binding, durationMs: Math.max(0, Math.round(this.now() - at)) };
      // Not `time`: pino's own field (the moment of the log line) would be overwritten.
      this.log.info({ ...t, time: undefined, triggerTime: new Date(at).toISOString() }, 'lw4o6 trigger handled');
      this.triggerEmitter.fire(t);
    });
  }

  /** One re-provisioning, counted; what came of it and the binding in use after it ('' when it failed). */
  private async attempt(): Promise<{ action: TriggerAction; binding: string }> {
    this.set({ reprovisions: this.state.reprovisions + 1 });
    const before = this.state.binding;
    let action: TriggerAction = 'Failed';
    try {
      await this.reprovision();
      action = this.state.status !== 'Bound' ? 'Failed' : sameBinding(before, this.state.binding) ? 'Unchanged' : 'Reprovisioned';
    } catch (err) {
      this.log.warn({ err }, 'lw4o6 re-provisioning failed');
      this.set({ status: 'Error' });
    }
    return { action, binding: action === 'Failed' ? '' : bindingText(this.state.binding) };
  }

  private async reprovision(): Promise<void> {
    this.set({ status: 'Provisioning' });
    if (this.state.provisioning === 'DHCP4o6' && this.dhcp4o6) {
      // A new DHCP 4o6 exchange: the backup's provisioning system hands out a binding it knows (RFC 7596 §5.2).
      const lease = this.p.dhcp6.lease();
      if (!lease) throw new Error('no DHCPv6 lease');
      const prefix = this.state.bindPrefix;
      await this.dhcp4o6.release().catch(() => undefined);
      this.dhcp4o6Key = '';
      await this.acquire4o6(lease, prefix, this.state.br);
      return;
    }
    // S46_V4V6BIND: a new DHCPv6 exchange; its lease arrives through onLease like any other.
    const lease = await this.p.dhcp6.reprovision(this.timeoutMs);
    if (!lease) throw new Error('no DHCPv6 reply');
    await this.fromLease(lease);
  }
}
