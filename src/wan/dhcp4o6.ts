// DHCPv4 over DHCPv6 (RFC 7341) for an lwB4 whose binding comes from a DHCPv4 server (RFC 7596 §5.1, the
// dynamic case): each DHCPv4 message travels in OPTION_DHCPV4_MSG (87) of a DHCPV4-QUERY (20), sent over
// UDP/IPv6 from the lwB4's `source` port 546 to port 547 of every address of OPTION_DHCP4_O_DHCP6_SERVER
// (RFC 7341 §5, §8; none: All_DHCP_Relay_Agents_and_Servers on the link); the answer comes back in a
// DHCPV4-RESPONSE (21), matched by the DHCPv4 transaction id and hardware address (RFC 7341 §6: the two
// messages carry 24 bits of flags where DHCPv6 has its transaction id). The DHCPv4 side is RFC 2131's state machine as src/wan/dhcp4.ts runs it:
//
//   DISCOVER --OFFER--> REQUEST (50 + 54) --ACK--> BOUND --T1: REQUEST, ciaddr, U=1 (RENEWING)-->
//   --T2: REQUEST, ciaddr, U=0 (REBINDING)--> expiry: the lease goes.  NAK: DISCOVER again.
//
// The U flag (RFC 7341 §6.1) says whether the DHCPv4 message would have been unicast over IPv4: set for the
// RENEWING REQUEST and the RELEASE, clear for the rest. The client asks for OPTION_V4_PORTPARAMS (159, RFC 7618
// §4) and sends the softwire prefix in OPTION_S46_BIND_IPV6_PREFIX (137, RFC 8539 §7.1) so that a 4o6 server
// can bind the address to it; Kea 2.2 does not know 137 and ignores it (test/wan/s46.test.ts).
import { createSocket, type Socket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { Emitter, type Disposable } from '../datamodel/index.ts';
import * as c4 from './dhcp4-codec.ts';
import * as c6 from './dhcp6-codec.ts';
import type { Dhcp4o6Port, Lease4 } from './platform.ts';

export interface Dhcp4o6ClientOptions {
  /** The interface the DHCPv6 servers are reached on (scope of link-local and multicast destinations). */
  iface: string;
  /** OPTION_DHCP4_O_DHCP6_SERVER's addresses; [] sends to ff02::1:2 (RFC 7341 §8). */
  servers: string[];
  /** The lwB4's IPv6 address the queries come from (and the answers go to). */
  source: string;
  /** The softwire prefix ("2001:db8:1:cafe::/64"), sent as RFC 8539 OPTION_S46_BIND_IPV6_PREFIX; '' for none. */
  bindPrefix: string;
  log: Logger;
  serverPort?: number;
  clientPort?: number;
  /** chaddr and client identifier; default the interface's Ethernet address, else one derived from `source`. */
  mac?: string;
}

/** RFC 2131 §4.1 doubles from 4 s; as src/wan/dhcp4.ts, 1 s keeps a lost message off the critical path. */
const RETRANSMIT_MS = 1000;
const MAX_RETRANSMIT_MS = 64_000;
const REQUEST_TRIES = 4;
/** Option 55: mask, router, DNS, lease time, T1, T2, and RFC 7618's port parameters. */
const PARAMS = [c4.OPT.SUBNET_MASK, c4.OPT.ROUTER, c4.OPT.DNS_SERVERS, c4.OPT.LEASE_TIME, c4.OPT.RENEWAL_TIME, c4.OPT.REBINDING_TIME, c4.OPT.V4_PORTPARAMS];
const ALL_SERVERS = 'ff02::1:2';

interface Pending { xid: number; done: boolean; accept: (m: c4.Message) => boolean; resolve: (m: c4.Message) => void }

/** The interface's Ethernet address, or a locally administered one made of `source`'s last 5 bytes. */
function chaddrFor(iface: string, source: string): string {
  try {
    const mac = readFileSync(`/sys/class/net/${iface}/address`, 'utf8').trim();
    if (/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(mac) && mac !== '00:00:00:00:00:00') return mac;
  } catch { /* no such interface (a tun has no address either) */ }
  return [0x02, ...c6.addrBytes(source).subarray(11)].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

export class Dhcp4o6Client implements Dhcp4o6Port {
  private socket: Socket | null = null;
  private current: Lease4 | null = null;
  private readonly emitter = new Emitter<Lease4 | null>();
  private pending: Pending | null = null;
  private timers: NodeJS.Timeout[] = [];
  /** Bumped by release/stop/timeout: an exchange of an older epoch stops where it is. */
  private epoch = 0;
  private acquiring = false;
  private previous = '';
  private started = 0;
  private waiters: ((l: Lease4) => void)[] = [];
  private deadlines = { t2: 0, end: 0 };
  private renewing = false;
  private readonly mac: string;
  private readonly clientId: Buffer;

  constructor(private readonly o: Dhcp4o6ClientOptions) {
    this.mac = (o.mac ?? chaddrFor(o.iface, o.source)).toLowerCase();
    this.clientId = Buffer.concat([Buffer.from([1]), c4.macBytes(this.mac)]); // RFC 2132 §9.14: type 1 + chaddr
  }

  lease(): Lease4 | null {
    return this.current;
  }

  onLease(fn: (l: Lease4 | null) => void): Disposable {
    return this.emitter.on(fn);
  }

  /** DISCOVER/OFFER/REQUEST/ACK (RFC 2131 §4.4.1) over 4o6; the lease held when there is one. */
  async acquire(timeoutMs: number): Promise<Lease4> {
    if (this.current) return this.current;
    await this.open();
    if (!this.acquiring) void this.acquireLoop(this.epoch);
    return new Promise((resolve, reject) => {
      const w = (l: Lease4) => { clearTimeout(t); resolve(l); };
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        this.abandon();
        reject(new Error(`dhcp4o6: no lease within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  /** RENEWING at once (RFC 2131 §4.4.5), as at T1. */
  async renew(): Promise<void> {
    await this.extend('renew', this.epoch);
  }

  /** DHCPRELEASE (RFC 2131 §4.4.6) with ciaddr and option 54, U=1; no answer comes. */
  async release(): Promise<void> {
    const l = this.current;
    this.abandon();
    this.clearTimers();
    if (!l) return;
    const msg = this.message(c4.MSG.RELEASE, randomInt(0, 2 ** 32), l.address, [[c4.OPT.SERVER_ID, c4.ipBytes(l.server)]]);
    await this.send(msg, c6.FLAG_UNICAST).catch((err) => this.o.log.warn({ err: (err as Error).message }, 'dhcp4o6 release not sent'));
    this.o.log.info({ address: l.address, server: l.server }, 'dhcp4o6 released');
    this.set(null);
  }

  /** Closes the socket; the lease is neither released nor announced as lost. */
  async stop(): Promise<void> {
    this.abandon();
    this.clearTimers();
    this.socket?.close();
    this.socket = null;
  }

  // ---- internals ------------------------------------------------------------------------------------

  private async open(): Promise<void> {
    if (this.socket) return;
    const s = createSocket({ type: 'udp6', reuseAddr: true });
    s.on('message', (buf) => this.onMessage(buf));
    s.on('error', (err) => this.o.log.error({ err }, 'dhcp4o6 socket error'));
    // Bound to the source address: the server answers the query's source (Kea does), and port 546 on '::' may
    // be the DHCPv6 client's (Linux prefers the socket bound to the address for what is sent to it).
    await new Promise<void>((res, rej) => { s.once('error', rej); s.bind(this.o.clientPort ?? 546, this.o.source, () => { s.off('error', rej); res(); }); });
    this.socket = s;
  }

  private abandon() {
    this.epoch++;
    this.acquiring = false;
    this.renewing = false;
    this.pending = null;
  }

  private clearTimers() {
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
  }

  private later(ms: number, fn: () => void) {
    const t = setTimeout(() => { this.timers = this.timers.filter((x) => x !== t); fn(); }, Math.max(0, Math.min(ms, 2 ** 31 - 1)));
    t.unref?.();
    this.timers.push(t);
  }

  /** A DHCPv4 message; the BROADCAST flag stays clear: the answer travels in DHCPv6, never as an IPv4 broadcast. */
  private message(type: number, xid: number, ciaddr: string, options: [number, Buffer][]): Buffer {
    const params: [number, Buffer][] = type === c4.MSG.RELEASE ? [] : [[c4.OPT.PARAM_REQUEST_LIST, Buffer.from(PARAMS)]];
    return c4.encode({
      xid, type, secs: this.started ? Math.floor((Date.now() - this.started) / 1000) : 0, flags: 0,
      ciaddr, yiaddr: '0.0.0.0', siaddr: '0.0.0.0', giaddr: '0.0.0.0', chaddr: this.mac,
      options: new Map<number, Buffer>([[c4.OPT.CLIENT_ID, this.clientId], ...options, ...params]),
    });
  }

  /** A DHCPV4-QUERY (RFC 7341 §6.1) around `msg`, to every server. */
  private async send(msg: Buffer, flags: number): Promise<void> {
    const s = this.socket;
    if (!s) throw new Error('dhcp4o6: client stopped');
    const options = [c6.opt(c6.OPT.DHCPV4_MSG, msg)];
    if (this.o.bindPrefix) options.push(c6.bindPrefixOption(this.o.bindPrefix));
    const query = c6.encode({ type: c6.MSG.DHCPV4_QUERY, xid: flags, options });
    const to = this.o.servers.length ? this.o.servers : [ALL_SERVERS];
    await Promise.all(to.map((a) => new Promise<void>((res, rej) => {
      const scoped = /^(fe80|ff0[12]):/i.test(a) ? `${a}%${this.o.iface}` : a;
      s.send(query, this.o.serverPort ?? 547, scoped, (err) => (err ? rej(err) : res()));
    })));
  }

  /**
   * Sends and retransmits (RFC 2131 §4.1: doubling from RETRANSMIT_MS, randomized ±10 %, at most 64 s) until an
   * acceptable answer comes, `tries` sends are spent, `until` (ms epoch) passes or the epoch changes.
   */
  private exchange(epoch: number, build: () => Buffer, flags: number, xid: number, accept: (m: c4.Message) => boolean, tries = Infinity, until = Infinity): Promise<c4.Message> {
    return new Promise((resolve, reject) => {
      let rt = RETRANSMIT_MS;
      let sent = 0;
      const p: Pending = { xid, done: false, accept, resolve: (m) => { p.done = true; if (this.pending === p) this.pending = null; resolve(m); } };
      this.pending = p;
      const fail = (why: string) => { p.done = true; if (this.pending === p) this.pending = null; reject(new Error(why)); };
      const go = () => {
        if (p.done) return;
        if (epoch !== this.epoch) return fail('dhcp4o6: abandoned');
        if (this.pending !== p) return fail('dhcp4o6: superseded by another exchange');
        if (sent >= tries || Date.now() >= until) return fail('dhcp4o6: no answer');
        sent++;
        this.send(build(), flags).catch((err) => this.o.log.debug({ err: (err as Error).message }, 'dhcp4o6 send failed'));
        const wait = Math.min(rt * (0.9 + Math.random() * 0.2), until - Date.now());
        rt = Math.min(rt * 2, MAX_RETRANSMIT_MS);
        this.later(wait, go);
      };
      go();
    });
  }

  private onMessage(buf: Buffer) {
    let m: c4.Message;
    try {
      const r = c6.decode(buf);
      if (r.type !== c6.MSG.DHCPV4_RESPONSE) return;
      const inner = c6.find(r.options, c6.OPT.DHCPV4_MSG);
      if (!inner) throw new Error('DHCPV4-RESPONSE without OPTION_DHCPV4_MSG (RFC 7341 §6.2: MUST)');
      m = c4.decode(inner.data);
    } catch (err) {
      this.o.log.debug({ reason: (err as Error).message }, 'dhcp4o6 message ignored');
      return;
    }
    const p = this.pending;
    if (!p || m.op !== c4.OP.BOOTREPLY || m.xid !== p.xid || m.chaddr !== this.mac || !p.accept(m)) return;
    p.resolve(m);
  }

  /**
   * The lease an OFFER/ACK carries, null when it lacks an address, server identifier or lease time (RFC 2131
   * table 3) or its option 159 is malformed: a shared address used whole would take other lwB4s' ports.
   */
  private leaseOf(m: c4.Message): Lease4 | null {
    const server = c4.addresses(m.options.get(c4.OPT.SERVER_ID))[0] ?? '';
    const leaseTime = c4.u32(m.options.get(c4.OPT.LEASE_TIME));
    if (m.yiaddr === '0.0.0.0' || !server || leaseTime === undefined) return null;
    const pp = m.options.get(c4.OPT.V4_PORTPARAMS);
    let portParams: c4.PortParams | undefined;
    try {
      portParams = pp ? c4.portParams(pp) : undefined;
    } catch (err) {
      this.o.log.warn({ reason: (err as Error).message, server }, 'dhcp4o6 answer ignored: option 159 malformed');
      return null;
    }
    return {
      address: m.yiaddr,
      subnetMask: c4.addresses(m.options.get(c4.OPT.SUBNET_MASK))[0] ?? '255.255.255.255',
      routers: c4.addresses(m.options.get(c4.OPT.ROUTER)),
      dnsServers: c4.addresses(m.options.get(c4.OPT.DNS_SERVERS)),
      server, leaseTime, obtained: Date.now(),
      ...(portParams ? { portParams } : {}),
    };
  }

  private async acquireLoop(epoch: number): Promise<void> {
    this.acquiring = true;
    this.started = Date.now();
    try {
      while (epoch === this.epoch) {
        const xid = randomInt(0, 2 ** 32);
        const hint: [number, Buffer][] = this.previous ? [[c4.OPT.REQUESTED_IP, c4.ipBytes(this.previous)]] : [];
        const offer = await this.exchange(epoch, () => this.message(c4.MSG.DISCOVER, xid, '0.0.0.0', hint), 0, xid,
          (m) => m.type === c4.MSG.OFFER && this.leaseOf(m) !== null);
        const offered = this.leaseOf(offer)!;
        // RFC 2131 §4.3.2 SELECTING: 50 = yiaddr, 54 = the chosen server, ciaddr 0; U=0 (broadcast over IPv4).
        const req: [number, Buffer][] = [[c4.OPT.REQUESTED_IP, c4.ipBytes(offered.address)], [c4.OPT.SERVER_ID, c4.ipBytes(offered.server)]];
        let answer: c4.Message;
        try {
          answer = await this.exchange(epoch, () => this.message(c4.MSG.REQUEST, xid, '0.0.0.0', req), 0, xid,
            (m) => (m.type === c4.MSG.ACK && this.leaseOf(m) !== null) || m.type === c4.MSG.NAK, REQUEST_TRIES);
        } catch (err) {
          if (epoch !== this.epoch) return;
          this.o.log.warn({ server: offered.server, err: (err as Error).message }, 'dhcp4o6 request unanswered; discovering again');
          continue;
        }
        if (answer.type === c4.MSG.NAK) {
          this.o.log.warn({ server: offered.server, message: answer.options.get(c4.OPT.MESSAGE)?.toString() }, 'dhcp4o6 NAK; discovering again');
          this.previous = '';
          continue;
        }
        if (epoch === this.epoch) this.bound(answer, epoch);
        return;
      }
    } catch (err) {
      if (epoch === this.epoch) this.o.log.warn({ err: (err as Error).message }, 'dhcp4o6 acquisition stopped');
    } finally {
      if (epoch === this.epoch) this.acquiring = false;
    }
  }

  private bound(ack: c4.Message, epoch: number) {
    const l = this.leaseOf(ack)!;
    this.acquiring = false;
    this.started = 0;
    this.o.log.info({ address: l.address, server: l.server, lease: l.leaseTime, portParams: l.portParams }, 'dhcp4o6 bound');
    this.set(l);
    this.clearTimers();
    // RFC 2131 §4.4.5: T1 0.5 and T2 0.875 of the lease unless options 58/59 say otherwise.
    const t1 = c4.u32(ack.options.get(c4.OPT.RENEWAL_TIME)) ?? l.leaseTime * 0.5;
    const t2 = c4.u32(ack.options.get(c4.OPT.REBINDING_TIME)) ?? l.leaseTime * 0.875;
    this.deadlines = { t2: l.obtained + t2 * 1000, end: l.obtained + l.leaseTime * 1000 };
    this.later(t1 * 1000, () => void this.extend('renew', epoch));
  }

  /**
   * RENEWING until T2 (REQUEST with ciaddr, U=1), then REBINDING until the lease ends (U=0), RFC 2131 §4.4.5
   * and RFC 7341 §6.1. ACK: bound again; NAK or the end of the lease: the lease goes and a DISCOVER follows.
   */
  private async extend(how: 'renew' | 'rebind', epoch: number): Promise<void> {
    const l = this.current;
    if (!l || epoch !== this.epoch || !this.socket) return;
    if (how === 'renew') {
      if (this.renewing) return; // T1 and renew() met
      this.renewing = true;
    }
    const { t2, end } = this.deadlines;
    this.started = Date.now();
    const xid = randomInt(0, 2 ** 32);
    try {
      const m = await this.exchange(epoch, () => this.message(c4.MSG.REQUEST, xid, l.address, []), how === 'renew' ? c6.FLAG_UNICAST : 0, xid,
        (r) => (r.type === c4.MSG.ACK && this.leaseOf(r)?.address === l.address) || r.type === c4.MSG.NAK, Infinity, how === 'renew' ? t2 : end);
      if (epoch !== this.epoch) return;
      this.renewing = false;
      if (m.type === c4.MSG.ACK) return this.bound(m, epoch);
      this.o.log.warn({ address: l.address, how }, 'dhcp4o6 NAK on renewal: the address goes');
    } catch (err) {
      if (epoch !== this.epoch) return;
      if (how === 'renew') return this.extend('rebind', epoch);
      this.renewing = false;
      this.o.log.warn({ address: l.address, err: (err as Error).message }, 'dhcp4o6 lease ended without renewal');
    }
    this.set(null);
    if (epoch === this.epoch && !this.acquiring) void this.acquireLoop(epoch);
  }

  private set(l: Lease4 | null) {
    this.current = l;
    if (l) this.previous = l.address;
    this.emitter.fire(l);
    if (l) for (const w of this.waiters.splice(0)) w(l);
  }
}
