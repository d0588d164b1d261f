// DHCPv4 through busybox udhcpc, driven the way OpenWrt's netifd drives it: udhcpc does the protocol
// (RFC 2131 discover/request, renew at T1, rebind at T2), its hook script only reports each event back to
// us, and we apply the lease (the address here; routes in the policy). The process is started once, at
// the first need, and then stays: a failover must not wait for a process to start or to exit. Control is
// by signals (busybox udhcpc(8)):
//   arm             = at start, udhcpc parked: a shell stopped before it execs `udhcpc -f -R -B`;
//   prepare/acquire = SIGCONT the first time (or a spawn if not armed), later SIGUSR1, which
//                     takes a released client back to discovery with the address it had as the requested
//                     IP address (option 50, RFC 2131 §4.3.1): the ISP's server gives the same one back;
//   renew           = SIGUSR1 while bound (RFC 2131 §4.4.5 renew now);
//   release         = SIGUSR2: DHCPRELEASE (§4.4.6) while bound, then udhcpc idles, keeping its state;
//   stop            = SIGKILL (leaving the agent keeps the lease).
// -B asks for broadcast replies (RFC 2131 §4.1): a reply unicast to an address the WAN does not hold yet
// would be routed by the host, not received.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { setPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Logger } from 'pino';
import { Emitter, type Disposable } from '../datamodel/index.ts';
import type { Dhcp4Port, Dhcp4State, Lease4 } from './platform.ts';

const MARK = '@twinstack-udhcpc ';
/** Scheduling priority of udhcpc (nice value; negative is ahead of ordinary work). */
const UDHCPC_NICE = -10;

/** The hook script: one JSON line per event on stdout (udhcpc's environment, busybox udhcpc(8)). */
const HOOK = `#!/bin/sh
printf '${MARK}{"event":"%s","ip":"%s","subnet":"%s","router":"%s","dns":"%s","serverid":"%s","lease":"%s"}\\n' \\
  "$1" "$ip" "$subnet" "$router" "$dns" "$serverid" "$lease"
`;

export interface UdhcpcOptions {
  iface: string;
  log: Logger;
  /** 'busybox' runs `busybox udhcpc`; anything else is the udhcpc binary. */
  command?: string;
  /** Applies or removes the address on the interface. */
  apply?: (lease: Lease4 | null, old: Lease4 | null) => Promise<void>;
}

interface HookEvent { event: string; ip: string; subnet: string; router: string; dns: string; serverid: string; lease: string }

export function leaseOf(e: HookEvent, now = Date.now()): Lease4 {
  const list = (s: string) => s.split(/\s+/).filter(Boolean);
  return {
    address: e.ip, subnetMask: e.subnet || '255.255.255.255', routers: list(e.router), dnsServers: list(e.dns),
    server: e.serverid, leaseTime: Number(e.lease) || 0, obtained: now,
  };
}

export class Udhcpc implements Dhcp4Port {
  private proc: ChildProcess | null = null;
  private current: Lease4 | null = null;
  private st: Dhcp4State = 'Init';
  private readonly emitter = new Emitter<Lease4 | null>();
  private readonly dir = mkdtempSync(join(tmpdir(), 'twinstack-udhcpc-'));
  private readonly hook = join(this.dir, 'hook.sh');
  private waiters: { resolve: (l: Lease4) => void }[] = [];
  /** SIGUSR2 sent: the client idles until SIGUSR1. */
  private released = false;
  /** Started by arm() and not continued yet. */
  private parked = false;
  /** The last address leased, asked for again (option 50). */
  private previous = '';

  constructor(private readonly o: UdhcpcOptions) {
    writeFileSync(this.hook, HOOK, { mode: 0o700 });
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

  /**
   * Starts udhcpc parked, ahead of any need: a shell that stops itself (SIGSTOP) before it execs udhcpc.
   * The first need then costs a SIGCONT and an exec, not a process spawned from Node (which took ~200 ms
   * on a busy CPU: the first failover after boot paid it).
   */
  arm(): void {
    if (!this.proc) this.spawn(true);
  }

  async start(): Promise<void> {
    this.arm();
  }

  prepare(): void {
    if (this.current) return;
    if (!this.proc) return this.spawn(false);
    if (this.parked) return this.unpark(this.proc);
    if (this.released) {
      this.released = false;
      this.st = 'Selecting';
      this.proc.kill('SIGUSR1');
    }
  }

  acquire(timeoutMs: number): Promise<Lease4> {
    if (this.current) return Promise.resolve(this.current);
    this.prepare();
    return new Promise((resolve, reject) => {
      const w = { resolve: (l: Lease4) => { clearTimeout(t); resolve(l); } };
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        this.idle(); // no lease: nothing to release; the client rests until the next need
        reject(new Error(`dhcpv4: no lease within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  async renew(): Promise<void> {
    if (this.proc && this.current) {
      this.st = 'Renewing';
      this.proc.kill('SIGUSR1');
    }
  }

  async release(): Promise<void> {
    const p = this.proc;
    if (!p || this.released || this.parked) return;
    const bound = this.current !== null;
    // udhcpc sends the DHCPRELEASE, then reports 'deconfig' (busybox perform_release): the address goes.
    const done = bound ? new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 2000);
      const sub = this.emitter.on((l) => { if (!l) { clearTimeout(t); sub.dispose(); resolve(); } });
    }) : Promise.resolve();
    this.idle();
    await done;
    if (this.current) await this.set(null);
  }

  /** SIGUSR2: release if bound, then rest (state kept) until SIGUSR1. */
  private idle() {
    if (!this.proc || this.released || this.parked) return;
    this.released = true;
    this.proc.kill('SIGUSR2');
    this.st = 'Init';
  }

  async stop(): Promise<void> {
    // Leaving the agent keeps the lease (-R releases only on SIGTERM): SIGKILL, then forget it.
    await this.kill('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** SIGCONT to the parked shell once it has stopped (it may not have reached its SIGSTOP yet at boot). */
  private unpark(p: ChildProcess, tries = 0) {
    this.parked = false;
    this.st = 'Selecting';
    let state = 'T';
    try {
      state = readFileSync(`/proc/${p.pid}/stat`, 'utf8').replace(/^.*\) /s, '')[0];
    } catch {
      // no procfs: assume stopped
    }
    if (state !== 'T' && tries < 200) {
      this.parked = true;
      setTimeout(() => { if (this.proc === p && this.parked) this.unpark(p, tries + 1); }, 5).unref?.();
      return;
    }
    p.kill('SIGCONT');
  }

  private spawn(parked: boolean) {
    const cmd = this.o.command ?? 'busybox';
    // -f foreground, -R release on SIGTERM, -B broadcast replies, -s our hook, -t/-T/-A: 3 discovers 1 s apart,
    // retry after 1 s; -r the address we had.
    const args = ['-f', '-R', '-B', '-i', this.o.iface, '-s', this.hook, '-t', '3', '-T', '1', '-A', '1', '-O', 'dns', '-O', 'router', '-O', 'subnet',
      ...(this.previous ? ['-r', this.previous] : [])];
    this.released = false;
    const argv = cmd === 'busybox' ? ['busybox', 'udhcpc', ...args] : [cmd, ...args];
    // Parked: the shell stops itself and, once continued, becomes udhcpc (same pid, same pipes).
    const p = parked
      ? spawn('sh', ['-c', 'kill -STOP $$; exec "$@"', 'sh', ...argv], { stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = p;
    this.parked = parked;
    this.st = parked ? 'Init' : 'Selecting';
    createInterface({ input: p.stdout! }).on('line', (line) => this.onLine(line));
    createInterface({ input: p.stderr! }).on('line', (line) => this.o.log.debug({ line }, 'udhcpc'));
    p.once('exit', (code, signal) => {
      if (this.proc === p) {
        this.proc = null;
        this.released = false;
        this.parked = false;
      }
      this.o.log.info({ code, signal }, 'udhcpc exited');
    });
    // The DHCP exchange can be on the failover's critical path (an AFTR that dies without warning): udhcpc
    // runs ahead of ordinary work on a busy CPU, as a CPE's network daemons do (it sleeps otherwise).
    try {
      if (p.pid) setPriority(p.pid, UDHCPC_NICE);
    } catch {
      // not permitted (not root): ordinary priority
    }
    this.o.log.info({ pid: p.pid, iface: this.o.iface, parked }, 'udhcpc started');
  }

  private kill(signal: NodeJS.Signals): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(() => p.kill('SIGKILL'), 3000);
      p.once('exit', () => { clearTimeout(t); resolve(); });
      p.kill(signal);
    });
  }

  private onLine(line: string) {
    if (!line.startsWith(MARK)) return this.o.log.debug({ line }, 'udhcpc');
    let e: HookEvent;
    try {
      e = JSON.parse(line.slice(MARK.length));
    } catch {
      return;
    }
    this.o.log.info({ event: e.event, ip: e.ip || undefined }, 'udhcpc event');
    switch (e.event) {
      case 'bound':
      case 'renew':
        void this.set(leaseOf(e));
        break;
      case 'deconfig':
        this.st = this.proc && !this.released ? 'Selecting' : 'Init';
        if (this.current) void this.set(null);
        break;
      case 'leasefail':
        this.st = 'Selecting';
        break;
      case 'nak':
        this.st = 'Init';
        break;
    }
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
    if (l) for (const w of this.waiters.splice(0)) w.resolve(l);
  }
}
