// The agent's own DHCPv6 client (RFC 8415), for exact control of every message: Solicit -> Advertise ->
// Request -> Reply (or Rapid Commit, §18.2.1), Renew at T1, Rebind at T2, Release on demand, with the
// retransmission rules of §15. It asks for IA_NA and/or IA_PD and, in the ORO (§21.7; Kea sends options
// only when asked), for DNS servers (23), the AFTR-Name (64, RFC 6334), the DHCP 4o6 servers (88, RFC 7341 §8)
// and the lw4o6 container (96, RFC 7598 §5.3). Addresses are applied by the caller (src/wan/linux.ts), which
// sees the leases through onLease like any Dhcp6Port. A malformed option is left out of the lease with a
// logged reason; it never costs the lease.
import { createSocket, type Socket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import type { Logger } from 'pino';
import { Emitter, type Disposable } from '../datamodel/index.ts';
import * as c from './dhcp6-codec.ts';
import type { Dhcp6Port, Lease6 } from './platform.ts';

export interface Dhcp6Options {
  iface: string;
  /** Link-layer address for the DUID-LL. */
  mac: string;
  log: Logger;
  requestAddresses?: boolean;
  requestPrefixes?: boolean;
  rapidCommit?: boolean;
  /** Options asked for in the ORO. */
  oro?: number[];
  clientPort?: number;
  serverPort?: number;
  /** All_DHCP_Relay_Agents_and_Servers (RFC 8415 §7.1). */
  server?: string;
}

interface Retrans { irt: number; mrt: number; mrc: number; mrd: number }
// RFC 8415 §7.6 (seconds there, ms here).
const SOL: Retrans = { irt: 1000, mrt: 3600_000, mrc: 0, mrd: 0 };
const REQ: Retrans = { irt: 1000, mrt: 30_000, mrc: 10, mrd: 0 };
const REN: Retrans = { irt: 10_000, mrt: 600_000, mrc: 0, mrd: 0 };
const REL: Retrans = { irt: 1000, mrt: 0, mrc: 4, mrd: 0 };
/** The default ORO: RFC 3646, RFC 6334, RFC 7341 §8 (88), RFC 7598 §5.3 (96). */
const ORO = [c.OPT.DNS_SERVERS, c.OPT.AFTR_NAME, c.OPT.DHCP4_O_DHCP6_SERVER, c.OPT.S46_CONT_LW];
const IAID = 1;

/** RFC 8415 §15: RT = 2*RTprev + RAND*RTprev, RAND in [-0.1, 0.1]; the first RT = IRT + RAND*IRT. */
export function nextRt(prev: number, r: Retrans, rand = (Math.random() - 0.5) / 5): number {
  let rt = prev === 0 ? r.irt + rand * r.irt : 2 * prev + rand * prev;
  if (r.mrt && rt > r.mrt) rt = r.mrt + rand * r.mrt;
  return rt;
}

export class Dhcp6Client implements Dhcp6Port {
  private socket: Socket | null = null;
  private current: Lease6 | null = null;
  private readonly emitter = new Emitter<Lease6 | null>();
  private readonly duid: Buffer;
  private pending: { xid: number; accept: (m: c.Message) => boolean; resolve: (m: c.Message) => void } | null = null;
  private timers: NodeJS.Timeout[] = [];
  private running = false;
  private epoch = 0;
  private reprovisioning: Promise<Lease6 | null> | null = null;

  constructor(private readonly o: Dhcp6Options) {
    this.duid = c.duidLL(o.mac);
  }

  lease(): Lease6 | null {
    return this.current;
  }

  onLease(fn: (l: Lease6 | null) => void): Disposable {
    return this.emitter.on(fn);
  }

  async start(): Promise<void> {
    const s = createSocket({ type: 'udp6', reuseAddr: true });
    s.on('message', (buf) => this.onMessage(buf));
    s.on('error', (err) => this.o.log.error({ err }, 'dhcpv6 socket error'));
    await new Promise<void>((res, rej) => { s.once('error', rej); s.bind(this.o.clientPort ?? 546, '::', () => { s.off('error', rej); res(); }); });
    this.socket = s;
    this.running = true;
    void this.acquire();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.epoch++;
    this.clearTimers();
    this.pending = null;
    this.socket?.close();
    this.socket = null;
  }

  async renew(): Promise<void> {
    if (!this.current) return;
    this.clearTimers();
    await this.extend('renew');
  }

  /**
   * A fresh Solicit/Request (RFC 8415 §18.2.1-2, asking for the addresses held) for new S46 options after the
   * BR refused our binding (RFC 7596 §5.2 / §6.2): unlike a Renew it may reach another server, and Kea answers
   * it with the options of its current configuration. The lease held stays in force meanwhile; on success the
   * new lease is announced through onLease and returned. null when no Reply came within timeoutMs: the lease
   * held carries on with its T1 timer as before. While no lease is held, waits for the acquisition under way;
   * a call while another runs joins it.
   */
  reprovision(timeoutMs: number): Promise<Lease6 | null> {
    if (!this.running) return Promise.resolve(null);
    if (!this.current) return this.nextLease(timeoutMs);
    this.reprovisioning ??= this.fresh(this.current, timeoutMs).finally(() => { this.reprovisioning = null; });
    return this.reprovisioning;
  }

  private async fresh(held: Lease6, timeoutMs: number): Promise<Lease6 | null> {
    this.clearTimers();
    const epoch = ++this.epoch; // any Renew/Rebind under way stops where it is
    const deadline = Date.now() + timeoutMs;
    let timer: NodeJS.Timeout | undefined;
    try {
      // An exchange of an older epoch (stop()) falls silent rather than failing: the timer ends the wait.
      const late = new Promise<never>((_, rej) => { timer = setTimeout(() => rej(new Error('dhcpv6: no Reply in time')), timeoutMs + 50); });
      const lease = await Promise.race([this.solicit(held, deadline), late]);
      if (epoch !== this.epoch) return null;
      this.bound(lease);
      return lease;
    } catch (err) {
      if (epoch !== this.epoch || !this.running) return null;
      this.o.log.warn({ err: (err as Error).message }, 'dhcpv6 reprovisioning failed; keeping the lease');
      const t1 = held.obtained + held.t1 * 1000 - Date.now();
      this.later(Math.max(0, t1), () => void this.extend('renew'));
      return null;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Release (RFC 8415 §18.2.7): the addresses and prefixes go back to the server. */
  async release(): Promise<void> {
    const l = this.current;
    if (!l) return;
    this.clearTimers();
    await this.exchange(c.MSG.RELEASE, this.identify(l, true), (m) => m.type === c.MSG.REPLY, REL).catch(() => undefined);
    this.setLease(null);
  }

  // ---- internals ------------------------------------------------------------------------------------

  private clearTimers() {
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
  }

  private later(ms: number, fn: () => void) {
    const t = setTimeout(fn, Math.min(ms, 2 ** 31 - 1));
    t.unref?.();
    this.timers.push(t);
  }

  private nextLease(timeoutMs: number): Promise<Lease6 | null> {
    return new Promise((resolve) => {
      const t = setTimeout(() => { d.dispose(); resolve(null); }, timeoutMs);
      const d = this.emitter.on((l) => { if (l) { clearTimeout(t); d.dispose(); resolve(l); } });
    });
  }

  private setLease(l: Lease6 | null) {
    this.current = l;
    this.emitter.fire(l);
  }

  private base(): c.Option[] {
    const opts = [c.opt(c.OPT.CLIENTID, this.duid), c.oro(...(this.o.oro ?? ORO))];
    return opts;
  }

  private ias(l: Lease6 | null, lifetimes = false): c.Option[] {
    const out: c.Option[] = [];
    if (this.o.requestAddresses ?? true) out.push(c.encodeIa(c.OPT.IA_NA, { iaid: IAID, addrs: l?.addresses ?? [], prefixes: [] }, lifetimes));
    if (this.o.requestPrefixes ?? false) out.push(c.encodeIa(c.OPT.IA_PD, { iaid: IAID, addrs: [], prefixes: l?.prefixes ?? [] }, lifetimes));
    return out;
  }

  private identify(l: Lease6, withServer: boolean): c.Option[] {
    return [...this.base(), ...(withServer ? [c.opt(c.OPT.SERVERID, Buffer.from(l.serverDuid, 'hex'))] : []), ...this.ias(l)];
  }

  /** Sends a message and retransmits it (RFC 8415 §15) until an acceptable answer arrives. */
  private exchange(type: number, options: c.Option[], accept: (m: c.Message) => boolean, r: Retrans, deadline?: number): Promise<c.Message> {
    const xid = randomInt(0, 0xffffff);
    const epoch = this.epoch;
    const started = Date.now();
    return new Promise((resolve, reject) => {
      let rt = 0;
      let count = 0;
      this.pending = { xid, accept, resolve: (m) => { this.pending = null; resolve(m); } };
      const send = () => {
        if (epoch !== this.epoch || this.pending?.xid !== xid) return;
        const end = deadline ?? (r.mrd ? started + r.mrd : Infinity);
        if ((r.mrc && count >= r.mrc) || Date.now() >= end) {
          this.pending = null;
          return reject(new Error(`dhcpv6: no answer to message type ${type}`));
        }
        count++;
        // Elapsed Time (§21.9) in hundredths of a second since the exchange began.
        const msg = c.encode({ type, xid, options: [...options, c.elapsed(Math.round((Date.now() - started) / 10))] });
        this.socket?.send(msg, this.o.serverPort ?? 547, `${this.o.server ?? 'ff02::1:2'}%${this.o.iface}`, (err) => {
          if (err) this.o.log.debug({ err }, 'dhcpv6 send failed');
        });
        rt = nextRt(rt, r);
        this.later(Math.min(rt, end - Date.now()), send);
      };
      send();
    });
  }

  private onMessage(buf: Buffer) {
    let m: c.Message;
    try {
      m = c.decode(buf);
    } catch (err) {
      this.o.log.debug({ reason: (err as Error).message }, 'dhcpv6 message ignored');
      return;
    }
    const p = this.pending;
    if (!p || m.xid !== p.xid) return;
    // RFC 8415 §16: a reply must carry our Client ID.
    const cid = c.find(m.options, c.OPT.CLIENTID);
    if (!cid || !cid.data.equals(this.duid) || !p.accept(m)) return;
    p.resolve(m);
  }

  private toLease(m: c.Message): Lease6 | null {
    const na = c.find(m.options, c.OPT.IA_NA);
    const pd = c.find(m.options, c.OPT.IA_PD);
    const iaNa = na ? c.decodeIa(na) : null;
    const iaPd = pd ? c.decodeIa(pd) : null;
    const addresses = iaNa && !iaNa.status ? iaNa.addrs.filter((a) => a.valid > 0) : [];
    const prefixes = iaPd && !iaPd.status ? iaPd.prefixes.filter((p) => p.valid > 0) : [];
    if (!addresses.length && !prefixes.length) return null;
    const ia = iaNa && addresses.length ? iaNa : iaPd!;
    const preferred = Math.min(...[...addresses, ...prefixes].map((x) => x.preferred));
    return {
      addresses, prefixes,
      dnsServers: c.dnsServers(c.find(m.options, c.OPT.DNS_SERVERS)),
      aftrName: c.domainName(c.find(m.options, c.OPT.AFTR_NAME)),
      lw4o6: this.optional(() => c.decodeLw4o6(c.find(m.options, c.OPT.S46_CONT_LW)), null),
      dhcp4o6Servers: this.optional(() => c.addressList(c.find(m.options, c.OPT.DHCP4_O_DHCP6_SERVER)), []),
      options: m.options.map((o) => ({ tag: o.code, value: o.data.toString('hex') })),
      serverDuid: c.find(m.options, c.OPT.SERVERID)?.data.toString('hex') ?? '',
      clientDuid: this.duid.toString('hex'),
      // §21.4: T1/T2 of 0 leave the times to the client (0.5 and 0.8 of the preferred lifetime).
      t1: ia.t1 || Math.floor(preferred * 0.5),
      t2: ia.t2 || Math.floor(preferred * 0.8),
      obtained: Date.now(),
    };
  }

  /** An option of the lease decoded by `f`; `fallback` (and the reason logged) when it is malformed. */
  private optional<T>(f: () => T, fallback: T): T {
    try {
      return f();
    } catch (err) {
      if (!(err instanceof c.Dhcp6FormatError)) throw err;
      this.o.log.warn({ reason: err.message }, 'dhcpv6 option ignored');
      return fallback;
    }
  }

  /** Solicit/Advertise (or Rapid Commit Reply)/Request/Reply once, asking for what `hint` holds (§18.2.1). */
  private async solicit(hint: Lease6 | null, deadline?: number): Promise<Lease6> {
    const rapid = this.o.rapidCommit ?? false;
    const sol = [...this.base(), ...this.ias(hint), ...(rapid ? [c.opt(c.OPT.RAPID_COMMIT)] : [])];
    const adv = await this.exchange(c.MSG.SOLICIT, sol, (m) => (m.type === c.MSG.ADVERTISE && c.statusOf(m.options) === 0)
      || (rapid && m.type === c.MSG.REPLY && !!c.find(m.options, c.OPT.RAPID_COMMIT)), SOL, deadline);
    let reply = adv;
    if (adv.type === c.MSG.ADVERTISE) {
      const offered = this.toLease(adv);
      const server = c.find(adv.options, c.OPT.SERVERID)!;
      const req = [...this.base(), c.opt(c.OPT.SERVERID, server.data), ...this.ias(offered)];
      reply = await this.exchange(c.MSG.REQUEST, req, (m) => m.type === c.MSG.REPLY, REQ, deadline);
    }
    const lease = this.toLease(reply);
    if (!lease) throw new Error(`dhcpv6: Reply without addresses (status ${c.statusOf(reply.options)})`);
    return lease;
  }

  /** Solicit/Advertise/Request/Reply until bound; retried forever while running. */
  private async acquire(): Promise<void> {
    while (this.running) {
      try {
        this.bound(await this.solicit(null));
        return;
      } catch (err) {
        if (!this.running) return;
        this.o.log.warn({ err: (err as Error).message }, 'dhcpv6 acquisition failed; retrying');
      }
    }
  }

  private bound(l: Lease6) {
    this.o.log.info({ addresses: l.addresses.map((a) => a.address), prefixes: l.prefixes.map((p) => p.prefix), aftrName: l.aftrName, dns: l.dnsServers, lw4o6: l.lw4o6, dhcp4o6Servers: l.dhcp4o6Servers }, 'dhcpv6 bound');
    this.setLease(l);
    this.clearTimers();
    this.later(l.t1 * 1000, () => void this.extend('renew'));
  }

  /** Renew at T1 (to the server that gave the lease), Rebind at T2 (to any server), §18.2.4-5. */
  private async extend(how: 'renew' | 'rebind'): Promise<void> {
    const l = this.current;
    if (!l || !this.running) return;
    const valid = Math.min(...[...l.addresses, ...l.prefixes].map((x) => x.valid));
    const until = l.obtained + (how === 'renew' ? l.t2 : valid) * 1000;
    try {
      const type = how === 'renew' ? c.MSG.RENEW : c.MSG.REBIND;
      const reply = await this.exchange(type, this.identify(l, how === 'renew'), (m) => m.type === c.MSG.REPLY, REN, until);
      const next = this.toLease(reply);
      if (next) return this.bound(next);
      throw new Error('dhcpv6: lease not extended');
    } catch (err) {
      if (!this.running) return;
      this.o.log.warn({ err: (err as Error).message, how }, 'dhcpv6 lease not extended');
      if (how === 'renew') return this.extend('rebind');
      this.setLease(null);
      void this.acquire();
    }
  }
}
