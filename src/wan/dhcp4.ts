// The agent's own DHCPv4 client (RFC 2131), so that nothing but the agent's own event loop stands between a
// failover verdict and the lease: no process to signal, no hook script to run (busybox udhcpc, the previous
// client, kept as wan.dhcp4Client 'udhcpc', sometimes took 1.5-3 s to react to its signal on a loaded CPU:
// docs/benchmarks.md). Two sockets, opened at start and kept while the agent runs (src/wan/native/netlink.cc):
// - a UDP socket on port 68 bound to the WAN interface: it receives every reply (the BROADCAST flag asks the
//   server to broadcast them, §4.1: a reply unicast to an address the WAN does not hold yet would be routed
//   by the host instead) and sends the unicasts of a bound client (renew, release) from the leased address;
// - a send-only packet socket for the broadcasts, sent as whole IPv4/UDP packets with source 0.0.0.0 (or the
//   address held, when rebinding): a UDP socket would take the source from another interface (the LAN's),
//   which our own guard on the WAN drops and the ISP's server must not see.
//
//   INIT --DISCOVER (option 50: the address we had, §4.3.1)--> SELECTING --OFFER-->
//   REQUEST (50 + 54, broadcast) --ACK--> BOUND --T1: REQUEST unicast (RENEWING)--> --T2: broadcast
//   (REBINDING)--> expiry: INIT again.  NAK anywhere: INIT.  release(): DHCPRELEASE (§4.4.6), idle.
//
// The leased address is applied by the caller (src/wan/linux.ts) through `apply`, as with the DHCPv6 client.
// No ARP probe of the offered address (§4.4.1 SHOULD): it would put a second on the failover's critical path,
// the ISP's server owns the pool, and busybox udhcpc does not probe by default either.
import { createSocket, type Socket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import type { Logger } from 'pino';
import { Emitter, type Disposable } from '../datamodel/index.ts';
import * as c from './dhcp4-codec.ts';
import { closeSync } from 'node:fs';
import { packetSend, packetSocket, udpSocket } from './netlink.ts';
import type { Dhcp4Port, Dhcp4State, Lease4 } from './platform.ts';

export interface Dhcp4Options {
  iface: string;
  /** The interface's Ethernet address (chaddr, and the client identifier: type 1 + address, RFC 2132 §9.14). */
  mac: string;
  log: Logger;
  /** Applies or removes the address on the interface; called before the lease is announced. */
  apply?: (lease: Lease4 | null, old: Lease4 | null) => Promise<void>;
  clientPort?: number;
  serverPort?: number;
  /** First retransmission timeout, doubled per retry up to 64 s (§4.1: 4 s; see RETRANSMIT_MS). */
  retransmitMs?: number;
}

/**
 * RFC 2131 §4.1 suggests 4 s before the first retransmission. On the failover's critical path a lost DISCOVER
 * would then cost 4 s of the LAN's IPv4; 1 s is what this client waits (busybox udhcpc: 3 s, -T).
 */
const RETRANSMIT_MS = 1000;
/** Retransmissions of a REQUEST in SELECTING before starting over with a DISCOVER. */
const REQUEST_TRIES = 4;
/** What the client asks for (option 55): subnet mask, router, DNS servers, lease time, T1, T2. */
const BROADCAST = '255.255.255.255';
const PARAMS = [c.OPT.SUBNET_MASK, c.OPT.ROUTER, c.OPT.DNS_SERVERS, c.OPT.LEASE_TIME, c.OPT.RENEWAL_TIME, c.OPT.REBINDING_TIME];

interface Pending { xid: number; done: boolean; accept: (m: c.Message) => boolean; resolve: (m: c.Message) => void }

export class Dhcp4Client implements Dhcp4Port {
  private socket: Socket | null = null;
  private link: { fd: number; ifindex: number } | null = null;
  private current: Lease4 | null = null;
  private st: Dhcp4State = 'Init';
  private readonly emitter = new Emitter<Lease4 | null>();
  private pending: Pending | null = null;
  private timers: NodeJS.Timeout[] = [];
  /** Bumped by release/stop/timeout: an exchange of an older epoch stops where it is. */
  private epoch = 0;
  private acquiring = false;
  /** The last address leased, asked for again (option 50). */
  private previous = '';
  /** When the current acquisition began (the `secs` field). */
  private started = 0;
  private waiters: ((l: Lease4) => void)[] = [];
  /** When the current lease must be rebound (T2) and when it ends, ms epoch. */
  private deadlines = { t2: 0, end: 0 };
  private readonly clientId: Buffer;

  constructor(private readonly o: Dhcp4Options) {
    this.clientId = Buffer.concat([Buffer.from([1]), c.macBytes(o.mac)]);
  }

  state(): Dhcp4State {
    return this.st;
  }

  lease(): Lease4 | null {
    return this.current;
  }

  onLease(fn: (l: Lease4 | null) => void): Disposable {
    return this.emitter.on(fn);
  }

  /** Opens the socket (once, at start: a failover then finds it ready). */
  async start(): Promise<void> {
    if (this.socket) return;
    const fd = udpSocket(this.o.iface, this.o.clientPort ?? 68);
    const s = createSocket({ type: 'udp4' });
    s.on('message', (buf) => this.onMessage(buf));
    s.on('error', (err) => this.o.log.error({ err }, 'dhcpv4 socket error'));
    await new Promise<void>((res, rej) => { s.once('error', rej); s.bind({ fd }, () => { s.off('error', rej); res(); }); });
    this.socket = s;
    this.link = packetSocket(this.o.iface);
  }

  /** Closes the socket; the lease stays on the interface (leaving the agent is not a release). */
  async stop(): Promise<void> {
    this.abandon();
    this.clearTimers();
    this.socket?.close();
    this.socket = null;
    if (this.link) closeSync(this.link.fd);
    this.link = null;
  }

  prepare(): void {
    if (this.current || this.acquiring) return;
    void this.acquireLoop(this.epoch);
  }

  acquire(timeoutMs: number): Promise<Lease4> {
    if (this.current) return Promise.resolve(this.current);
    this.prepare();
    return new Promise((resolve, reject) => {
      const w = (l: Lease4) => { clearTimeout(t); resolve(l); };
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        this.abandon(); // no lease: the client rests until the next need
        reject(new Error(`dhcpv4: no lease within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  async renew(): Promise<void> {
    await this.extend('renew', this.epoch);
  }

  async release(): Promise<void> {
    const l = this.current;
    this.abandon();
    this.clearTimers();
    if (!l) return;
    // §4.4.6: unicast to the server that gave the lease, from the leased address; no answer comes.
    await this.send(this.message(c.MSG.RELEASE, randomInt(0, 2 ** 32), { ciaddr: l.address, flags: 0 },
      [[c.OPT.SERVER_ID, c.ipBytes(l.server)]]), l.server).catch((err) => this.o.log.warn({ err: (err as Error).message }, 'dhcpv4 release not sent'));
    this.o.log.info({ address: l.address, server: l.server }, 'dhcpv4 released');
    await this.set(null);
  }

  // ---- internals ------------------------------------------------------------------------------------

  /** Stops what is under way (acquisition, renewal), keeping the lease and the address asked for next. */
  private abandon() {
    this.epoch++;
    this.acquiring = false;
    this.pending = null;
    if (!this.current) this.st = 'Init';
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

  private message(type: number, xid: number, h: { ciaddr?: string; flags?: number }, options: [number, Buffer][]): Buffer {
    return c.encode({
      xid, type, secs: this.started ? Math.floor((Date.now() - this.started) / 1000) : 0,
      flags: h.flags ?? c.FLAG_BROADCAST, ciaddr: h.ciaddr ?? '0.0.0.0', yiaddr: '0.0.0.0', siaddr: '0.0.0.0', giaddr: '0.0.0.0',
      chaddr: this.o.mac,
      options: new Map<number, Buffer>([
        [c.OPT.CLIENT_ID, this.clientId],
        ...options,
        ...(type === c.MSG.RELEASE ? [] : [[c.OPT.PARAM_REQUEST_LIST, Buffer.from(PARAMS)] as [number, Buffer], [c.OPT.MAX_MESSAGE_SIZE, Buffer.from([0x05, 0xdc])] as [number, Buffer]]),
      ]),
    });
  }

  /** Sends to `to`: a server's address (unicast from the address held), or BROADCAST from `src`. */
  private send(msg: Buffer, to: string, src = '0.0.0.0'): Promise<void> {
    const s = this.socket;
    if (!s || !this.link) return Promise.reject(new Error('dhcpv4: client not started'));
    if (to === BROADCAST) {
      try {
        packetSend(this.link.fd, this.link.ifindex, c.ipUdp(src, BROADCAST, this.o.clientPort ?? 68, this.o.serverPort ?? 67, msg));
        return Promise.resolve();
      } catch (err) {
        return Promise.reject(err);
      }
    }
    return new Promise((res, rej) => s.send(msg, this.o.serverPort ?? 67, to, (err) => (err ? rej(err) : res())));
  }

  /**
   * Sends a message and retransmits it (§4.1: doubling from RETRANSMIT_MS, randomized, at most 64 s) until an
   * acceptable answer comes, `tries` sends are spent, `until` (ms epoch) passes or the epoch changes.
   */
  private exchange(epoch: number, build: () => Buffer, to: string, xid: number, accept: (m: c.Message) => boolean, tries = Infinity, until = Infinity, src?: string): Promise<c.Message> {
    return new Promise((resolve, reject) => {
      let rt = this.o.retransmitMs ?? RETRANSMIT_MS;
      let sent = 0;
      const p: Pending = { xid, done: false, accept, resolve: (m) => { p.done = true; if (this.pending === p) this.pending = null; resolve(m); } };
      this.pending = p;
      const fail = (why: string) => { p.done = true; if (this.pending === p) this.pending = null; reject(new Error(why)); };
      const go = () => {
        if (p.done) return;
        if (epoch !== this.epoch) return fail('dhcpv4: abandoned');
        if (this.pending !== p) return fail('dhcpv4: superseded by another exchange');
        if (sent >= tries || Date.now() >= until) return fail('dhcpv4: no answer');
        sent++;
        this.o.log.debug({ xid, to, sent }, 'dhcpv4 send');
        this.send(build(), to, src).catch((err) => this.o.log.debug({ err: (err as Error).message }, 'dhcpv4 send failed'));
        const wait = Math.min(rt * (0.9 + Math.random() * 0.2), until - Date.now());
        rt = Math.min(rt * 2, 64_000);
        this.later(wait, go);
      };
      go();
    });
  }

  private onMessage(buf: Buffer) {
    let m: c.Message;
    try {
      m = c.decode(buf);
    } catch {
      return; // not DHCP, or malformed: ignored (§4.1 the client discards what it cannot use)
    }
    const p = this.pending;
    // Ours: a BOOTREPLY with our transaction id and hardware address (§4.1, §4.4.1).
    if (!p || m.op !== c.OP.BOOTREPLY || m.xid !== p.xid || m.chaddr !== this.o.mac.toLowerCase() || !p.accept(m)) return;
    this.o.log.debug({ xid: m.xid, type: m.type }, 'dhcpv4 answer');
    p.resolve(m);
  }

  private leaseOf(m: c.Message): Lease4 | null {
    const server = c.addresses(m.options.get(c.OPT.SERVER_ID))[0] ?? '';
    const leaseTime = c.u32(m.options.get(c.OPT.LEASE_TIME));
    if (m.yiaddr === '0.0.0.0' || !server || leaseTime === undefined) return null;
    return {
      address: m.yiaddr,
      subnetMask: c.addresses(m.options.get(c.OPT.SUBNET_MASK))[0] ?? '255.255.255.255',
      routers: c.addresses(m.options.get(c.OPT.ROUTER)),
      dnsServers: c.addresses(m.options.get(c.OPT.DNS_SERVERS)),
      server, leaseTime, obtained: Date.now(),
    };
  }

  /** DISCOVER/OFFER/REQUEST/ACK until bound or abandoned (§4.4.1). */
  private async acquireLoop(epoch: number): Promise<void> {
    this.acquiring = true;
    this.started = Date.now();
    try {
      while (epoch === this.epoch) {
        this.st = 'Selecting';
        const xid = randomInt(0, 2 ** 32);
        const hint: [number, Buffer][] = this.previous ? [[c.OPT.REQUESTED_IP, c.ipBytes(this.previous)]] : [];
        const offer = await this.exchange(epoch, () => this.message(c.MSG.DISCOVER, xid, {}, hint), BROADCAST, xid, (m) => m.type === c.MSG.OFFER && this.leaseOf(m) !== null);
        const offered = this.leaseOf(offer)!;
        this.st = 'Requesting';
        // §4.3.2 SELECTING: 'requested IP address' = yiaddr, 'server identifier' = the chosen server, ciaddr 0, broadcast.
        const req: [number, Buffer][] = [[c.OPT.REQUESTED_IP, c.ipBytes(offered.address)], [c.OPT.SERVER_ID, c.ipBytes(offered.server)]];
        let answer: c.Message;
        try {
          answer = await this.exchange(epoch, () => this.message(c.MSG.REQUEST, xid, {}, req), BROADCAST, xid,
            (m) => (m.type === c.MSG.ACK && this.leaseOf(m) !== null) || m.type === c.MSG.NAK, REQUEST_TRIES);
        } catch (err) {
          if (epoch !== this.epoch) return;
          this.o.log.warn({ server: offered.server, err: (err as Error).message }, 'dhcpv4 request unanswered; discovering again');
          continue;
        }
        if (answer.type === c.MSG.NAK) {
          this.o.log.warn({ server: offered.server, message: answer.options.get(c.OPT.MESSAGE)?.toString() }, 'dhcpv4 NAK; discovering again');
          this.previous = '';
          continue;
        }
        if (epoch !== this.epoch) return;
        await this.bound(answer, epoch);
        return;
      }
    } catch (err) {
      if (epoch === this.epoch) this.o.log.warn({ err: (err as Error).message }, 'dhcpv4 acquisition stopped');
    } finally {
      if (epoch === this.epoch) this.acquiring = false;
    }
  }

  private async bound(ack: c.Message, epoch: number) {
    const l = this.leaseOf(ack)!;
    this.acquiring = false;
    this.started = 0;
    this.o.log.info({ address: l.address, server: l.server, lease: l.leaseTime, routers: l.routers }, 'dhcpv4 bound');
    await this.set(l);
    if (epoch !== this.epoch) return;
    this.clearTimers();
    // §4.4.5: T1 defaults to 0.5 and T2 to 0.875 of the lease (options 58/59 when the server gives them).
    const t1 = c.u32(ack.options.get(c.OPT.RENEWAL_TIME)) ?? l.leaseTime * 0.5;
    const t2 = c.u32(ack.options.get(c.OPT.REBINDING_TIME)) ?? l.leaseTime * 0.875;
    this.deadlines = { t2: l.obtained + t2 * 1000, end: l.obtained + l.leaseTime * 1000 };
    this.later(t1 * 1000, () => void this.extend('renew', epoch));
  }

  /**
   * RENEWING (§4.4.5): REQUEST with ciaddr, unicast to the server, until T2; then REBINDING: broadcast, until
   * the lease ends. ACK: bound again (same or new times); NAK or the end of the lease: the address goes and
   * the client starts over.
   */
  private async extend(how: 'renew' | 'rebind', epoch: number): Promise<void> {
    const l = this.current;
    if (!l || epoch !== this.epoch) return;
    if (how === 'renew' && this.st !== 'Bound') return; // a renewal is under way already (T1 and renew() met)
    const { t2, end } = this.deadlines;
    this.st = how === 'renew' ? 'Renewing' : 'Rebinding';
    this.started = Date.now();
    const xid = randomInt(0, 2 ** 32);
    const to = how === 'renew' ? l.server : BROADCAST;
    try {
      const m = await this.exchange(epoch, () => this.message(c.MSG.REQUEST, xid, { ciaddr: l.address, flags: 0 }, []), to, xid,
        (r) => (r.type === c.MSG.ACK && this.leaseOf(r)?.address === l.address) || r.type === c.MSG.NAK, Infinity, how === 'renew' ? t2 : end, l.address);
      if (epoch !== this.epoch) return;
      if (m.type === c.MSG.ACK) return void (await this.bound(m, epoch));
      this.o.log.warn({ address: l.address, how }, 'dhcpv4 NAK on renewal: the address goes');
    } catch (err) {
      if (epoch !== this.epoch) return;
      if (how === 'renew') return this.extend('rebind', epoch);
      this.o.log.warn({ address: l.address, err: (err as Error).message }, 'dhcpv4 lease ended without renewal');
    }
    await this.set(null);
    if (epoch === this.epoch) this.prepare();
  }

  private async set(l: Lease4 | null) {
    const old = this.current;
    this.current = l;
    if (l) this.previous = l.address;
    this.st = l ? 'Bound' : 'Init';
    try {
      await this.o.apply?.(l, old);
    } catch (err) {
      this.o.log.error({ err }, 'dhcpv4 lease not applied');
    }
    this.emitter.fire(l);
    if (l) for (const w of this.waiters.splice(0)) w(l);
  }
}
