// Typed loader of the forwarder's N-API addon (src/forwarder/native/*.cc, built by node-gyp at
// `npm install` from binding.gyp into build/Release). Used by the worker thread and by the tests.
import { createRequire } from 'node:module';
import type { DropName, Icmpv6ErrorEvent } from './types.ts';

declare const handleBrand: unique symbol;
export type NativeHandle = { readonly [handleBrand]: true };

/** What the addon's configure() takes: ResolvedConfig without the tun fields. */
export interface NativeConfig {
  softwire: string;
  aftr: string;
  /** '' or the previous AFTR, still decapsulated (make-before-break). */
  drainAftr: string;
  b4Ipv4: string;
  echoTarget: string;
  mtu: number;
  hopLimit: number;
  mssClamp: number;
  enabled: boolean;
}

export interface NativeCounters {
  totals: {
    tx_packets: number;
    tx_bytes: number;
    rx_packets: number;
    rx_bytes: number;
    tx_fragments: number;
    icmp4_sent: number;
    icmpv6_errors: number;
    mss_clamped: number;
    tso_segmented: number;
    uso_segmented: number;
    gro_coalesced: number;
    egress_packet: number;
    egress_tun: number;
    egress_neigh_miss: number;
    echo_sent: number;
    echo_replies: number;
    echo_errors: number;
    rx_from_drain_aftr: number;
  };
  drops: Record<DropName, number>;
  queueTxPackets: number[];
  lastRxFromAftrMs: number;
  tunnelMtu: number;
  fastPathPackets: number;
  fastPathInterfaces: string[];
}

/** Offload metadata of a packet written to the tun (virtio_net_hdr): partial checksum, GSO super-packet. */
export interface NativeOffload {
  csumStart: number;
  csumOffset: number;
  gsoSize?: number;
  hdrLen?: number;
}

/** A probe's outcome as echoFinish() found it; times are the addon's CLOCK_MONOTONIC (echo.h). */
export type NativeEchoOutcome =
  | { state: 'unknown' }
  | {
      state: 'pending' | 'timeout' | 'reply' | 'error';
      /** Wall-clock ms of the send. */
      sentAtMs: number;
      /** From the send to the reply or error (reply, error), to the withdrawal (timeout), to now (pending). */
      elapsedUs: number;
      aftr: string;
      /** error: the ICMPv6 error (RFC 4443 §3) and its sender. */
      type?: number;
      code?: number;
      source?: string;
    };

export interface NativeAddon {
  create(): NativeHandle;
  configure(h: NativeHandle, config: NativeConfig): void;
  /** Returns the name the kernel gave the tun. `packetEgress`: AF_PACKET sockets for the WAN (egress.h). */
  open(h: NativeHandle, name: string, queues: number, linkMtu: number, packetEgress?: boolean): string;
  /**
   * Test hook: from now on inject() sends the AFTR's encapsulated packets as Ethernet frames to this next
   * hop (returned in `frames`); null: the next hop is unknown (a miss: the packets go to `out`).
   */
  setNextHop(h: NativeHandle, hop: { aftr: string; mac: string; srcMac: string; ifindex: number; mtu: number } | null): void;
  /** Attaches the LAN fast path to exactly these interfaces (after open); the ones it could not, with why. */
  setFastPath(h: NativeHandle, ifnames: readonly string[]): string[];
  /** onEcho(seq): the probe `seq` was answered (take its outcome with echoFinish). */
  start(h: NativeHandle, onEvent: (ev: Icmpv6ErrorEvent) => void, onEcho?: (seq: number) => void): void;
  /**
   * Sends one ICMP echo probe through the softwire to `aftr` (null: the AFTR in use). On a handle without a
   * tun (the test hook) nothing is sent: the request comes back in `packet`.
   */
  echoSend(h: NativeHandle, aftr: string | null): { seq: number; id: number; sentAtMs: number; packet?: Buffer };
  /**
   * The outcome of probe `seq`; an answered probe is forgotten, a pending one is withdrawn ('timeout') once
   * `timeoutUs` have passed since its send, else left ('pending').
   */
  echoFinish(h: NativeHandle, seq: number, timeoutUs: number): NativeEchoOutcome;
  stop(h: NativeHandle): void;
  counters(h: NativeHandle): NativeCounters;
  /**
   * Test hook: one batch of packets (all with the offload metadata the tun's virtio_net_hdr would carry)
   * through the data-plane stages; what would be written to the tun (with its offload metadata), events.
   */
  inject(
    h: NativeHandle,
    packets: Buffer | Buffer[],
    nowMs: number,
    /** gsoSize: a TCPv4 super-packet (TSO); usoSize: a UDP one (USO). */
    offload?: { csumStart?: number; csumOffset?: number; gsoSize?: number; usoSize?: number },
  ): { out: Buffer[]; offloads: Array<NativeOffload | null>; events: Icmpv6ErrorEvent[]; frames: Buffer[] };
}

let cached: NativeAddon | undefined;

export function loadAddon(): NativeAddon {
  if (!cached) {
    const require = createRequire(import.meta.url);
    cached = require('../../build/Release/forwarder.node') as NativeAddon;
  }
  return cached;
}
