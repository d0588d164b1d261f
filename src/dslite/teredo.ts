// The Teredo last resort (issue 22): Device.X_TWINSTACK-ORG_Teredo. (schema/x-twinstack-teredo.json) applied to
// the platform's `teredo` port (Linux: the forwarder in mode 'teredo', src/wan/teredo.ts).
//   - When: Enable, the WAN without native IPv6 (no DHCPv6 lease) and with an IPv4 address (the DHCPv4 lease of
//     dual-stack, which the client binds to). DS-Lite needs IPv6, so without it the failover policy is in
//     dual-stack already; Teredo adds the IPv6. As soon as native IPv6 appears (a DHCPv6 lease) it stops: Teredo
//     is a last resort (RFC 4380 §1: "a service of last resort"), and the policy may then find an AFTR.
//   - What shows it: Status, the address and mapping, the NAT type, the peers with their relays, the counters,
//     read from the forwarder every POLL_MS; and Failover.Mode Teredo while qualified (policy.ts ipv6ByTeredo),
//     with its start and end in the History like any switch.
//   - Error: a symmetric NAT (RFC 4380 §5.2.1: no Teredo behind it) or no answer from the server within
//     NO_ANSWER_MS; the client keeps trying, and Status follows when it qualifies.
// One plug-in, "teredo", after "failover" (whose platform and policy it uses).
import { isIPv6 } from 'node:net';
import type { Logger } from 'pino';
import { DmError, Emitter, type Change, type DataModel, type Disposable, type Plugin, type ValidateContext } from '../datamodel/index.ts';
import { teredoProblems, resolveTeredo, TEREDO_DROP_NAMES, type TeredoState } from '../forwarder/teredo.ts';
import type { Platform, TeredoSettings } from '../wan/platform.ts';
import type { FailoverHandle } from './index.ts';
import { iso, UNKNOWN_TIME } from './model.ts';

export const TEREDO = 'Device.X_TWINSTACK-ORG_Teredo.';
/** How often the client's state is read while it runs (ms): status and addresses follow within this. */
export const POLL_MS = 1000;
/** Counters alone (Stats, the peers' packet counts) are written at most this often (ms): a commit per poll while data flows would be work for nothing. */
export const STATS_MS = 5000;
/** Not qualified this long after the start: Error, the server does not answer (3 x 4 s per probe, RFC 4380 §5.2.1, twice). */
export const NO_ANSWER_MS = 25_000;

export interface TeredoConfigDm {
  enable: boolean;
  server: string;
  server2: string;
  refreshIntervalS: number;
  lanPrefix: string;
}

type Status = 'Disabled' | 'Standby' | 'Qualifying' | 'Qualified' | 'Error';

/** What the controller writes back. */
export interface TeredoReport {
  status: Status;
  lastError: string;
  state: TeredoState | null;
  /** When it last qualified (ms), 0 if never. */
  qualifiedAt: number;
}

/** The settings through `value` (a path -> its value: committed, or what a transaction leaves). */
function settingsFrom(value: (path: string) => string): TeredoConfigDm {
  const v = (p: string) => value(TEREDO + p);
  return {
    enable: v('Enable') === 'true', server: v('ServerAddress'), server2: v('SecondaryServerAddress'),
    refreshIntervalS: Number(v('RefreshInterval')), lanPrefix: v('LANPrefix'),
  };
}

export const readTeredo = (dm: DataModel): TeredoConfigDm => settingsFrom((p) => dm.getValue(p));

/** The problems of enabled settings, as the forwarder's own checks state them, at the parameter concerned. */
function problems(c: TeredoConfigDm): { path: string; message: string }[] {
  const out: { path: string; message: string }[] = [];
  const FIELD: Record<string, string> = { server: 'ServerAddress', server2: 'SecondaryServerAddress', refreshIntervalS: 'RefreshInterval' };
  // localAddress is the WAN's lease, known only at run time: a placeholder that passes.
  for (const p of teredoProblems(resolveTeredo({ server: c.server, ...(c.server2 ? { server2: c.server2 } : {}), localAddress: '192.0.2.1', refreshIntervalS: c.refreshIntervalS }))) {
    const field = /^teredo\.(\w+):/.exec(p)?.[1] ?? 'server';
    // An empty secondary is derived from the primary: only the primary's problem is the operator's to fix.
    if (field === 'server2' && !c.server2) continue;
    out.push({ path: TEREDO + (FIELD[field] ?? 'ServerAddress'), message: `the enabled Teredo settings would be invalid: ${p}` });
  }
  if (c.lanPrefix) {
    const [addr, len] = c.lanPrefix.split('/');
    if (!isIPv6(addr ?? '') || !/^\d+$/.test(len ?? '') || Number(len) > 128) out.push({ path: `${TEREDO}LANPrefix`, message: 'LANPrefix: an IPv6 prefix, address/length' });
  }
  return out;
}

/** The veto: enabled settings must be usable (a Set that would leave them invalid is refused whole). */
export function validateTeredo(ctx: ValidateContext): void {
  if (ctx.origin === 'system') return;
  const c = settingsFrom((p) => ctx.valueAt(p));
  if (!c.enable) return;
  const p = problems(c);
  if (p.length) throw DmError.from(p.map((x) => ({ ...x, kind: 'InvalidValue' as const })));
}

export interface TeredoOptions {
  platform: Pick<Platform, 'teredo' | 'dhcp6' | 'dhcp4'>;
  log: Logger;
  /** The failover policy, told when IPv6 is by Teredo (Failover.Mode, History). */
  policy?: { ipv6ByTeredo(on: boolean, reason: string): void };
  pollMs?: number;
  now?: () => number;
}

export class TeredoController {
  private settings: TeredoConfigDm | null = null;
  private applied: TeredoSettings | null = null;
  private startedAt = 0;
  /** When the counters were last reported (ms). */
  private countersAt = 0;
  private report: TeredoReport = { status: 'Disabled', lastError: '', state: null, qualifiedAt: 0 };
  private busy: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  private readonly subs: Disposable[] = [];
  private stopped = false;
  private readonly emitter = new Emitter<TeredoReport>();
  private readonly now: () => number;

  constructor(private readonly o: TeredoOptions) {
    this.now = o.now ?? Date.now;
  }

  status(): TeredoReport {
    return structuredClone(this.report);
  }

  onReport(fn: (r: TeredoReport) => void): Disposable {
    return this.emitter.on(fn);
  }

  configure(c: TeredoConfigDm): void {
    this.settings = c;
    this.serial(() => this.evaluate());
  }

  start(): void {
    // The WAN's addresses decide: a DHCPv6 lease (native IPv6) ends Teredo, a DHCPv4 lease is where it binds.
    this.subs.push(this.o.platform.dhcp6.onLease(() => this.serial(() => this.evaluate())));
    this.subs.push(this.o.platform.dhcp4.onLease(() => this.serial(() => this.evaluate())));
    this.timer = setInterval(() => this.serial(() => this.poll()), this.o.pollMs ?? POLL_MS);
    this.timer.unref?.();
    this.serial(() => this.evaluate());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    for (const s of this.subs.splice(0)) s.dispose();
    await this.busy;
    await this.o.platform.teredo.apply(null).catch(() => undefined);
  }

  idle(): Promise<void> {
    return this.busy;
  }

  private serial(fn: () => Promise<void>): void {
    this.busy = this.busy.then(() => (this.stopped ? undefined : fn())).catch((err) => this.o.log.error({ err }, 'teredo step failed'));
  }

  /** What should run now, applied; then the state read. */
  private async evaluate(): Promise<void> {
    const c = this.settings;
    const { dhcp6, dhcp4 } = this.o.platform;
    let want: TeredoSettings | null = null;
    let status: Status = 'Disabled';
    let why = '';
    if (c?.enable) {
      const p = problems(c);
      const lease4 = dhcp4.lease();
      if (p.length) [status, why] = ['Error', p.map((x) => x.message).join('; ')];
      else if (dhcp6.lease()) status = 'Standby'; // native IPv6: not needed
      else if (!lease4) status = 'Standby'; // no IPv4 on the WAN yet: nothing to bind to
      else {
        want = { server: c.server, server2: c.server2, localAddress: lease4.address, refreshIntervalS: c.refreshIntervalS, lanPrefix: c.lanPrefix };
        status = 'Qualifying';
      }
    }
    if (JSON.stringify(want) !== JSON.stringify(this.applied)) {
      try {
        await this.o.platform.teredo.apply(want);
        this.applied = want;
        this.startedAt = this.now();
        this.o.log.info({ running: want !== null, server: want?.server, localAddress: want?.localAddress, status }, 'teredo applied');
      } catch (err) {
        this.o.log.error({ err }, 'teredo refused by the platform');
        await this.o.platform.teredo.apply(null).catch(() => undefined);
        this.applied = null;
        [status, why] = ['Error', `the platform refused it: ${(err as Error).message}`];
      }
    }
    if (!this.applied) return this.set({ status, lastError: why, state: null });
    await this.poll();
  }

  /** Reads the client's state: Qualified, Qualifying or Error, and Failover.Mode follows qualification. */
  private async poll(): Promise<void> {
    if (!this.applied) return;
    const state = await this.o.platform.teredo.state();
    let status: Status = 'Qualifying';
    let why = '';
    if (state?.qualified) status = 'Qualified';
    else if (state?.natKind === 'symmetric') [status, why] = ['Error', 'the NAT is symmetric: no Teredo behind it (RFC 4380 §5.2.1); trying again'];
    else if (this.now() - this.startedAt > NO_ANSWER_MS) [status, why] = ['Error', `no qualification from ${this.applied.server} (RFC 4380 §5.2.1); trying again`];
    const qualifiedAt = status === 'Qualified' && (this.report.status !== 'Qualified' || this.report.state?.address !== state?.address) ? this.now() : this.report.qualifiedAt;
    const next = { ...this.report, status, lastError: why, state, qualifiedAt };
    if (withoutCounters(next) === withoutCounters(this.report) && this.now() - this.countersAt < STATS_MS) return;
    this.countersAt = this.now();
    this.set(next);
  }

  private set(patch: Partial<TeredoReport>): void {
    const was = this.report.status;
    const next = { ...this.report, ...patch };
    if (JSON.stringify(next) === JSON.stringify(this.report)) return;
    this.report = next;
    if ((was === 'Qualified') !== (next.status === 'Qualified')) {
      const reason = next.status === 'Qualified' ? `Teredo qualified with ${this.applied?.server}: ${next.state?.address}`
        : this.o.platform.dhcp6.lease() ? 'native IPv6 on the WAN: Teredo stopped' : `Teredo lost: ${next.lastError || next.status}`;
      this.o.log.warn({ from: was, to: next.status, reason }, 'teredo');
      this.o.policy?.ipv6ByTeredo(next.status === 'Qualified', reason);
    }
    this.emitter.fire(this.status());
  }
}

/** The report with every packet counter left out: what must be shown within a poll. */
function withoutCounters(r: TeredoReport): string {
  const st = r.state && { ...r.state, totals: null, drops: null, peers: r.state.peers.map((p) => ({ ...p, txPackets: 0, rxPackets: 0, dropped: 0 })) };
  return JSON.stringify({ ...r, state: st });
}

/** Writes the report: the object's values, the Peer table (rows by address), the counters; one system commit. */
export function writeTeredo(dm: DataModel, r: TeredoReport): void {
  const st = r.state;
  const q = r.status === 'Qualified' && st;
  const native = st?.peers.filter((p) => p.kind === 'native' && p.viaAddress) ?? [];
  const relay = native.at(-1);
  const t = st?.totals;
  const want: Record<string, string> = {
    Status: r.status, LastError: r.lastError.slice(0, 256),
    TeredoAddress: q ? st.address ?? '' : '', MappedAddress: q ? st.mappedAddress ?? '' : '', MappedPort: String(q ? st.mappedPort ?? 0 : 0),
    NATType: { unknown: 'Unknown', cone: 'Cone', restricted: 'Restricted', symmetric: 'Symmetric' }[st?.natKind ?? 'unknown'],
    QualificationTime: r.qualifiedAt ? iso(r.qualifiedAt) : UNKNOWN_TIME,
    RelayInUse: relay ? `${relay.viaAddress}:${relay.viaPort}` : '',
    'Stats.PacketsSent': String(t?.tx_packets ?? 0), 'Stats.PacketsReceived': String(t?.rx_packets ?? 0),
    'Stats.BytesSent': String(t?.tx_bytes ?? 0), 'Stats.BytesReceived': String(t?.rx_bytes ?? 0),
    'Stats.Qualifications': String(t?.qualifications ?? 0), 'Stats.AddressChanges': String(t?.address_changes ?? 0),
    'Stats.ServerPackets': String((t?.rs_sent ?? 0) + (t?.bubbles_indirect ?? 0) + (t?.echo_tests ?? 0)),
    'Stats.Dropped': String(st ? TEREDO_DROP_NAMES.reduce((n, d) => n + st.drops[d], 0) : 0),
  };
  const changes: Change[] = Object.entries(want).filter(([k, v]) => dm.getValue(TEREDO + k) !== v).map(([k, value]) => ({ op: 'set', path: TEREDO + k, value }));
  // The Peer table: one row per peer address, kept in place while the peer is known.
  const peers = new Map((st?.peers ?? []).map((p) => [p.address, p]));
  const rows = dm.instances(`${TEREDO}Peer.`);
  const seen = new Set<string>();
  for (const row of rows) {
    const p = peers.get(dm.getValue(`${row}Address`));
    if (!p || seen.has(p.address)) {
      changes.push({ op: 'delete', path: row });
      continue;
    }
    seen.add(p.address);
    for (const [k, v] of Object.entries(peerValues(p))) if (dm.getValue(row + k) !== v) changes.push({ op: 'set', path: row + k, value: v });
  }
  for (const p of peers.values()) if (!seen.has(p.address)) changes.push({ op: 'add', table: `${TEREDO}Peer.`, values: peerValues(p) });
  if (changes.length) dm.commit(changes, 'system');
}

function peerValues(p: TeredoState['peers'][number]): Record<string, string> {
  return {
    Address: p.address, Type: p.kind === 'teredo' ? 'Teredo' : 'Native', Trusted: String(p.trusted),
    Via: p.viaAddress ? `${p.viaAddress}:${p.viaPort}` : '', PacketsSent: String(p.txPackets), PacketsReceived: String(p.rxPackets), Dropped: String(p.dropped),
  };
}

export function bindTeredoModel(o: { dm: DataModel; controller: TeredoController; log: Logger }): Disposable[] {
  const { dm, controller, log } = o;
  const write = (r: TeredoReport) => {
    try {
      writeTeredo(dm, r);
    } catch (err) {
      log.error({ err }, 'teredo state not written');
    }
  };
  write(controller.status());
  return [
    controller.onReport(write),
    dm.attach(TEREDO, {
      validate: validateTeredo,
      apply: (ev: { origin: string }) => { if (ev.origin !== 'system') controller.configure(readTeredo(dm)); },
    }),
  ];
}

/** The Teredo plug-in: after "failover", whose platform and policy (`handle`, set in its register()) it uses. */
export function teredoPlugin(handle: FailoverHandle): Plugin {
  let controller: TeredoController;
  return {
    name: 'teredo',
    dependsOn: ['failover'],
    register({ dm, log }) {
      if (!handle.platform) throw new Error('teredo: the failover plug-in registered no platform');
      const policy = handle.policy;
      controller = new TeredoController({
        platform: handle.platform, log: log.child({ module: 'teredo' }),
        policy: policy ? { ipv6ByTeredo: (on, reason) => policy.ipv6ByTeredo(on, reason) } : undefined,
      });
      return bindTeredoModel({ dm, controller, log });
    },
    start({ dm }) {
      controller.configure(readTeredo(dm));
      controller.start();
    },
    async stop() {
      await controller.stop();
    },
  };
}
