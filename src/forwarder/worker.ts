// The forwarder's worker thread: owns the addon handle. Packets never reach JavaScript (the addon's own
// threads forward them), so management load in the main thread cannot stall packets, and a busy main
// thread only delays counters replies, echo verdicts and events. Protocol: index.ts sends Request, receives
// Reply/Event.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { parentPort, workerData } from 'node:worker_threads';
import { echoVerdict } from './echo.ts';
import { loadAddon, nativeNat46, nativeTeredo, type NativeConfig } from './native.ts';
import type { Counters, EchoResult, Icmpv6ErrorEvent, ResolvedConfig } from './types.ts';

export type Request =
  | { id: number; op: 'reconfigure'; config: ResolvedConfig }
  | { id: number; op: 'counters' }
  | { id: number; op: 'echo'; aftr: string | null; timeoutMs: number }
  | { id: number; op: 'teredo' }
  | { id: number; op: 'stop' };
export type Reply = { kind: 'reply'; id: number; ok: true; value?: unknown } | { kind: 'reply'; id: number; ok: false; error: string };
export type WorkerMessage =
  | Reply
  | { kind: 'ready'; tunName: string; fastPathErrors: string[] }
  | { kind: 'failed'; error: string }
  | { kind: 'event'; event: Icmpv6ErrorEvent };

const run = promisify(execFile);
const port = parentPort!;
const addon = loadAddon();
const handle = addon.create();

const nativeConfig = (c: ResolvedConfig): NativeConfig => ({
  softwire: c.softwire,
  aftr: c.aftr,
  drainAftr: c.drainAftr,
  b4Ipv4: c.b4Ipv4,
  echoTarget: c.echoTarget,
  mtu: c.mtu,
  hopLimit: c.hopLimit,
  mssClamp: c.mssClamp,
  enabled: c.enabled,
  // 'off' keeps an lw4o6 binding for the echo probes' identity (the BR knows no other), dslite has none.
  lw4o6: c.mode === 'dslite' || c.mode === 'nat46' ? null : (c.lw4o6 ?? null),
  nat46: c.mode === 'nat46' && c.nat46 ? nativeNat46(c.nat46) : null,
});

function counters(): Counters {
  const n = addon.counters(handle);
  // Mode 'teredo': the tunnel interface's packets are the Teredo client's (the data plane is idle).
  if (config.mode === 'teredo') {
    const t = addon.teredoState(handle).totals;
    n.totals.tx_packets = t.tx_packets;
    n.totals.tx_bytes = t.tx_bytes;
    n.totals.rx_packets = t.rx_packets;
    n.totals.rx_bytes = t.rx_bytes;
  }
  return {
    txPackets: n.totals.tx_packets,
    txBytes: n.totals.tx_bytes,
    rxPackets: n.totals.rx_packets,
    rxBytes: n.totals.rx_bytes,
    txFragments: n.totals.tx_fragments,
    icmp4Sent: n.totals.icmp4_sent,
    icmpv6Errors: n.totals.icmpv6_errors,
    mssClamped: n.totals.mss_clamped,
    tsoSegments: n.totals.tso_segmented,
    usoSegments: n.totals.uso_segmented,
    groCoalesced: n.totals.gro_coalesced,
    egressPacket: n.totals.egress_packet,
    egressTun: n.totals.egress_tun,
    egressNeighMiss: n.totals.egress_neigh_miss,
    egressNeighProbe: n.totals.egress_neigh_probe,
    echoSent: n.totals.echo_sent,
    echoReplies: n.totals.echo_replies,
    echoErrors: n.totals.echo_errors,
    rxFromDrainAftr: n.totals.rx_from_drain_aftr,
    naptCreated: n.totals.napt_created,
    naptExpired: n.totals.napt_expired,
    naptActive: n.naptActive,
    naptHairpin: n.totals.napt_hairpin,
    lwPolicyErrors: n.totals.lw_policy_errors,
    nat46Translated4to6: n.totals.nat46_4to6,
    nat46Translated6to4: n.totals.nat46_6to4,
    nat46HandedOff: n.totals.nat46_handed_off,
    nat46HandoffReceived: n.totals.nat46_handoff_received,
    nat46FlowsCreated: n.totals.nat46_flows_created,
    nat46FlowsExpired: n.totals.nat46_flows_expired,
    icmp6Sent: n.totals.icmp6_sent,
    echoAnswered: n.totals.echo_answered,
    drops: n.drops,
    queueTxPackets: n.queueTxPackets,
    lastRxFromAftr: n.lastRxFromAftrMs > 0 ? n.lastRxFromAftrMs : null,
    tunnelMtu: n.tunnelMtu,
    tunQueueDrops: tunDrops(),
    fastPathPackets: n.fastPathPackets,
    fastPathInterfaces: n.fastPathInterfaces,
  };
}

// Echo probes waiting for their outcome, by sequence number. Each settles on the addon's call (the reply or
// ICMPv6 error was read) or on its timer, whichever comes first; the verdict comes from the addon's times.
interface Probe {
  reqId: number;
  target: string;
  timeoutMs: number;
  timer: NodeJS.Timeout;
}
const probes = new Map<number, Probe>();

function echo(reqId: number, aftr: string | null, timeoutMs: number, target: string): void {
  const { seq } = addon.echoSend(handle, aftr);
  const probe: Probe = { reqId, target, timeoutMs, timer: setTimeout(() => settle(seq), timeoutMs) };
  probes.set(seq, probe);
}

function settle(seq: number): void {
  const p = probes.get(seq);
  if (!p) return; // settled already (the addon's call and the timer both came)
  const o = addon.echoFinish(handle, seq, p.timeoutMs * 1000);
  if (o.state === 'pending') {
    // The timer came before the addon's clock says timeoutMs have passed (timers round to ms): wait the rest.
    p.timer = setTimeout(() => settle(seq), Math.max(1, Math.ceil(p.timeoutMs - o.elapsedUs / 1000)));
    return;
  }
  clearTimeout(p.timer);
  probes.delete(seq);
  if (o.state === 'unknown') {
    port.postMessage({ kind: 'reply', id: p.reqId, ok: false, error: 'echo: probe lost' } satisfies Reply);
    return;
  }
  port.postMessage({ kind: 'reply', id: p.reqId, ok: true, value: echoVerdict(o, p.target, p.timeoutMs) satisfies EchoResult } satisfies Reply);
}

let config = workerData as ResolvedConfig;
let tunName = '';
// tun_net_xmit() counts a full queue as the device's tx_dropped (drivers/net/tun.c).
function tunDrops(): number {
  try {
    return Number(readFileSync(`/sys/class/net/${tunName}/statistics/tx_dropped`, 'utf8'));
  } catch {
    return 0;
  }
}

async function start(config: ResolvedConfig): Promise<void> {
  try {
    if (config.mode === 'teredo') return await startTeredo(config);
    addon.configure(handle, nativeConfig(config));
    // Link MTU = tunnel MTU + 40: the IPv4-in-IPv6 packets routed *into* the tun towards the softwire are
    // 40 bytes longer than the IPv4 they carry. IPv4 above the tunnel MTU reaches us too and gets our
    // fragmentation-needed (DF) or outer IPv6 fragmentation (RFC 6333 §5.3); routing LAN IPv4 into the tun
    // with a route MTU of the tunnel MTU lets the kernel answer DF packets itself instead.
    tunName = addon.open(handle, config.tunName, config.queues, config.mtu + 40, config.egress === 'packet');
    // The ICMPv4 errors we write into the tun come from 192.0.0.2, which the host itself holds on the
    // tun (RFC 6333 §5.7): without accept_local the kernel drops them as martians (fib_validate_source).
    await writeFile(`/proc/sys/net/ipv4/conf/${tunName}/accept_local`, '1').catch(() => undefined);
    // No qdisc in front of the tun: its own per-queue rings (4096 packets) are the queue, and a qdisc
    // would add a lock and an enqueue/dequeue to every packet the LAN sends (best effort: needs tc).
    await run('tc', ['qdisc', 'replace', 'dev', tunName, 'root', 'noqueue']).catch(() => undefined);
    // The tun is a tunnel, not a LAN: no router solicitations out of it (each would count as v6_not_softwire).
    await writeFile(`/proc/sys/net/ipv6/conf/${tunName}/router_solicitations`, '0').catch(() => undefined);
    addon.start(handle, (event) => port.postMessage({ kind: 'event', event } satisfies WorkerMessage), settle);
    const fastPathErrors = addon.setFastPath(handle, config.lanFastPath);
    port.postMessage({ kind: 'ready', tunName, fastPathErrors } satisfies WorkerMessage);
  } catch (err) {
    port.postMessage({ kind: 'failed', error: (err as Error).message } satisfies WorkerMessage);
  }
}

// Mode 'teredo' (native/teredo.h): the Teredo client's own tun, socket and thread; the DS-Lite data plane is not
// opened (no probes, no fast path, no ICMPv6 events in this mode).
async function startTeredo(config: ResolvedConfig): Promise<void> {
  tunName = addon.teredoStart(handle, config.tunName, nativeTeredo(config.teredo!));
  // The kernel's router solicitations and the like would only be counted as drops (tun_not_unicast).
  await writeFile(`/proc/sys/net/ipv6/conf/${tunName}/router_solicitations`, '0').catch(() => undefined);
  port.postMessage({ kind: 'ready', tunName, fastPathErrors: [] } satisfies WorkerMessage);
}

port.on('message', (req: Request) => {
  const reply = (value?: unknown) => port.postMessage({ kind: 'reply', id: req.id, ok: true, value } satisfies Reply);
  try {
    switch (req.op) {
      case 'reconfigure':
        // index.ts refuses any change in mode 'teredo': the same config again is nothing to do.
        if (config.mode === 'teredo') return reply([]);
        addon.configure(handle, nativeConfig(req.config));
        config = req.config;
        // Reply: the interfaces the fast path could not be attached to (unchanged ones cost nothing).
        return reply(addon.setFastPath(handle, req.config.lanFastPath));
      case 'counters':
        return reply(counters());
      case 'teredo':
        if (config.mode !== 'teredo') throw new Error("teredo: mode is not 'teredo'");
        return reply(addon.teredoState(handle));
      case 'echo':
        return echo(req.id, req.aftr, req.timeoutMs, config.echoTarget); // replies when settled
      case 'stop':
        addon.stop(handle);
        reply();
        port.close();
        return;
    }
  } catch (err) {
    port.postMessage({ kind: 'reply', id: req.id, ok: false, error: (err as Error).message } satisfies Reply);
  }
});

void start(config);
