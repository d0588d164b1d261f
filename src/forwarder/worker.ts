// The forwarder's worker thread: owns the addon handle. Packets never reach JavaScript (the addon's own
// threads forward them), so management load in the main thread cannot stall packets, and a busy main
// thread only delays counters replies and events. Protocol: index.ts sends Request, receives Reply/Event.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { parentPort, workerData } from 'node:worker_threads';
import { loadAddon, type NativeConfig } from './native.ts';
import type { Counters, Icmpv6ErrorEvent, ResolvedConfig } from './types.ts';

export type Request =
  | { id: number; op: 'reconfigure'; config: ResolvedConfig }
  | { id: number; op: 'counters' }
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
  b4Ipv4: c.b4Ipv4,
  mtu: c.mtu,
  hopLimit: c.hopLimit,
  mssClamp: c.mssClamp,
  enabled: c.enabled,
});

function counters(): Counters {
  const n = addon.counters(handle);
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
    drops: n.drops,
    queueTxPackets: n.queueTxPackets,
    lastRxFromAftr: n.lastRxFromAftrMs > 0 ? n.lastRxFromAftrMs : null,
    tunnelMtu: n.tunnelMtu,
    tunQueueDrops: tunDrops(),
    fastPathPackets: n.fastPathPackets,
    fastPathInterfaces: n.fastPathInterfaces,
  };
}

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
    addon.start(handle, (event) => port.postMessage({ kind: 'event', event } satisfies WorkerMessage));
    const fastPathErrors = addon.setFastPath(handle, config.lanFastPath);
    port.postMessage({ kind: 'ready', tunName, fastPathErrors } satisfies WorkerMessage);
  } catch (err) {
    port.postMessage({ kind: 'failed', error: (err as Error).message } satisfies WorkerMessage);
  }
}

port.on('message', (req: Request) => {
  const reply = (value?: unknown) => port.postMessage({ kind: 'reply', id: req.id, ok: true, value } satisfies Reply);
  try {
    switch (req.op) {
      case 'reconfigure':
        addon.configure(handle, nativeConfig(req.config));
        // Reply: the interfaces the fast path could not be attached to (unchanged ones cost nothing).
        return reply(addon.setFastPath(handle, req.config.lanFastPath));
      case 'counters':
        return reply(counters());
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

void start(workerData as ResolvedConfig);
