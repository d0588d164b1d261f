// Typed loader of the forwarder's N-API addon (src/forwarder/native/*.cc, built by node-gyp at
// `npm install` from binding.gyp into build/Release, tools/build-addons.js). Used by the worker thread, by
// the tests, and by src/main.ts to refuse a Linux WAN start without it.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { DropName, Icmpv6ErrorEvent, Lw4o6Binding, Nat46Peer, ResolvedNat46, ResolvedTeredo, TeredoState } from './types.ts';

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
  /**
   * With `enabled`: mode lw4o6 with this binding (RFC 7596); absent or null: dslite. Without `enabled` (mode
   * 'off') the echo probes still go from the binding's address with its reserved id.
   */
  lw4o6?: Lw4o6Binding | null;
  /** With `enabled`: mode nat46 (native/nat46.h); absent or null: not. */
  nat46?: NativeNat46 | null;
}

/** The nat46 config as the addon takes it: the prefix split into address and length, the /96 as its address. */
export type NativeNat46 = ResolvedNat46 & { prefixLength: number };

/** A checked nat46 config (types.ts resolveConfig) in the addon's form. */
export function nativeNat46(n: ResolvedNat46): NativeNat46 {
  const [prefix, length] = n.prefix.split('/');
  return { ...n, prefix, prefixLength: Number(length), dstPrefix: n.dstPrefix.split('/')[0] };
}

/** Mode 'teredo' as the addon's teredoStart() takes it (native/addon_teredo.cc). */
export interface NativeTeredo {
  server: string;
  server2: string;
  localAddress: string;
  localPort: number;
  refreshS: number;
  qualifyTimeoutMs: number;
  qualifyRetries: number;
  restartS: number;
  coneProbe: boolean;
  /** Bubbles and connectivity tests towards a peer: interval and count before its queued packets are dropped. */
  peerRetryMs: number;
  peerTries: number;
}

/** A checked teredo config (types.ts resolveConfig) in the addon's form. */
export function nativeTeredo(t: ResolvedTeredo): NativeTeredo {
  return {
    server: t.server, server2: t.server2, localAddress: t.localAddress, localPort: t.localPort, refreshS: t.refreshIntervalS,
    qualifyTimeoutMs: t.qualificationTimeoutMs, qualifyRetries: t.qualificationRetries, restartS: t.restartDelayS, coneProbe: t.coneProbe,
    // RFC 4380 §5.2.6: bubbles 2 s apart, up to 4 of them; the same for the connectivity test (§5.2.9).
    peerRetryMs: 2000, peerTries: 4,
  };
}

/** The Teredo codec (native/teredo.h) as the test hook teredoCodec() exposes it. */
export interface TeredoCodec {
  (op: 'address', a: { server: string; flags: number; port: number; ipv4: string }): string;
  (op: 'parseAddress', a: { address: string }): { server: string; flags: number; port: number; ipv4: string } | null;
  (op: 'parseHeaders', a: { packet: Buffer }): {
    auth: { nonce: Buffer; confirmation: number; idLength: number; authLength: number } | null;
    origin: { address: string; port: number } | null;
    ipv6Offset: number;
  } | null;
  (op: 'routerSolicitation', a: { nonce: Buffer; cone: boolean }): Buffer;
  (op: 'parseRouterAdvertisement', a: { packet: Buffer; cone: boolean }): { prefix: Buffer; mtu: number } | null;
  (op: 'bubble', a: { src: string; dst: string }): Buffer;
  (op: 'echo', a: { src: string; dst: string; id: number; seq: number; nonce: Buffer }): Buffer;
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
    egress_neigh_probe: number;
    echo_sent: number;
    echo_replies: number;
    echo_errors: number;
    rx_from_drain_aftr: number;
    napt_created: number;
    napt_expired: number;
    napt_hairpin: number;
    lw_policy_errors: number;
    nat46_4to6: number;
    nat46_6to4: number;
    nat46_handed_off: number;
    nat46_handoff_received: number;
    nat46_flows_created: number;
    nat46_flows_expired: number;
    icmp6_sent: number;
    echo_answered: number;
  };
  /** NAPT mappings in use (lw4o6), expired ones freed first. */
  naptActive: number;
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
  /** `stale`: the neighbour entry is STALE, so the next packet goes through the tun (RFC 4861 §7.3.3). */
  setNextHop(h: NativeHandle, hop: { aftr: string; mac: string; srcMac: string; ifindex: number; mtu: number; stale?: boolean } | null): void;
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
  /** Mode 'teredo': opens the tun (MTU 1280, up), binds the socket and starts qualifying; the tun's actual name. */
  teredoStart(h: NativeHandle, tunName: string, config: NativeTeredo): string;
  teredoState(h: NativeHandle): TeredoState;
  /** Test hook: the Teredo codec (no handle). */
  teredoCodec: TeredoCodec;
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

/** `code` of the Error thrown when an addon cannot be loaded. */
export const ADDON_ERROR = 'ERR_TWINSTACK_ADDON';

/**
 * Why an ELF shared object is not whole, or null: dlopen maps the file, and a truncated one (an interrupted
 * build or copy) raises SIGBUS inside it, which no JavaScript can catch. The headers' tables must lie within
 * the file (ELF: 32 and 64 bit, either byte order; the section header table is last in what linkers write).
 */
function elfDamage(file: string): string | null {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const h = Buffer.alloc(64);
    if (readSync(fd, h, 0, 64, 0) < 52 || h.readUInt32BE(0) !== 0x7f454c46) return 'not an ELF file';
    const le = h[5] === 1;
    const u16 = (o: number) => (le ? h.readUInt16LE(o) : h.readUInt16BE(o));
    const u32 = (o: number) => (le ? h.readUInt32LE(o) : h.readUInt32BE(o));
    const u64 = (o: number) => Number(le ? h.readBigUInt64LE(o) : h.readBigUInt64BE(o));
    const [phoff, shoff, ph, sh] = h[4] === 2 ? [u64(0x20), u64(0x28), 0x36, 0x3a] : [u32(0x1c), u32(0x20), 0x2a, 0x2e];
    const end = Math.max(phoff + u16(ph) * u16(ph + 2), shoff + u16(sh) * u16(sh + 2));
    return end > size ? `truncated: ${size} bytes, its headers reach ${end}` : null;
  } finally {
    closeSync(fd);
  }
}

/**
 * Loads `build/Release/<name>.node`, or throws an Error (`code` ADDON_ERROR) whose message is one line naming
 * the file, why and the fix: a missing or broken addon must read as that, never as an AFTR or network fault.
 * Also the loader of the netlink addon (src/wan/netlink.ts).
 */
export function loadNative<T>(name: string): T {
  const file = `build/Release/${name}.node`;
  const path = fileURLToPath(new URL(`../../${file}`, import.meta.url));
  let why: string | null;
  try {
    const damage = elfDamage(path);
    why = damage && `is damaged (${damage})`;
    if (!why) return createRequire(import.meta.url)(path) as T;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    why = err.code === 'ENOENT' || err.code === 'MODULE_NOT_FOUND' ? 'is missing' : `does not load (${err.message.split('\n')[0]})`;
  }
  throw Object.assign(new Error(`${file} ${why}: run \`npm run build:addons\``), { code: ADDON_ERROR });
}

export function loadAddon(): NativeAddon {
  cached ??= loadNative<NativeAddon>('forwarder');
  return cached;
}
