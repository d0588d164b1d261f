// Mode 'teredo' of the bundled forwarder (issue 22, native/teredo.h): its config, its checks and the state the Teredo
// client reports. Re-exported by types.ts; imports nothing from src/ (the forwarder is isolated, ARCHITECTURE).
import { isIPv4 } from 'node:net';

/**
 * Mode 'teredo' (issue 22, native/teredo.h): the tun (`tunName`) is the gateway's Teredo interface (IPv6, MTU 1280,
 * RFC 4380 §5.1.2); the forwarder qualifies with `server` from a UDP socket bound on `localAddress`, gives the tun the
 * Teredo address it computes (a /32: other Teredo clients are on-link) and carries whatever IPv6 the system routes
 * into the tun. The routes are the caller's (e.g. ::/0 into the tun once `Forwarder.teredo()` says qualified). The
 * config cannot be changed by reconfigure(): stop() and start().
 */
export interface TeredoConfig {
  /** The Teredo server's primary IPv4 address (its address goes into ours, RFC 4380 §4). */
  server: string;
  /** Its secondary address (RFC 4380 §5.2.1 NAT kind checks). Default: the primary + 1, as miredo and Windows. */
  server2?: string;
  /** The WAN's IPv4 address, where the Teredo socket is bound. */
  localAddress: string;
  /** The socket's UDP port; default 0 (the kernel's choice). */
  localPort?: number;
  /**
   * Seconds between refreshes of the NAT mapping once qualified (RFC 4380 §5.2.5): each interval is drawn between 75 %
   * and 100 % of it (§5.2's randomized refresh interval). Below the NAT's UDP mapping lifetime, or the mapping may
   * change between refreshes (the next refresh then finds the new one: a new address). Default 30, 5..3600.
   */
  refreshIntervalS?: number;
  /** Wait for each router advertisement, ms (RFC 4380 §5.2.1: 4 s). Default 4000, 100..60000. */
  qualificationTimeoutMs?: number;
  /** Solicitations per qualification probe (RFC 4380 §5.2.1: 3). Default 3, 1..10. */
  qualificationRetries?: number;
  /** Seconds before qualifying again after no server or a symmetric NAT. Default 60, 1..3600. */
  restartDelayS?: number;
  /** Run RFC 4380 §5.2.1's cone probe to learn whether the NAT is a cone (never advertised, RFC 5991). Default true. */
  coneProbe?: boolean;
}

/** TeredoConfig with its defaults applied. */
export type ResolvedTeredo = Required<TeredoConfig>;

/** A peer of the Teredo client (Forwarder.teredo()): another Teredo client, or a native IPv6 host behind a relay. */
export interface TeredoPeer {
  address: string;
  kind: 'teredo' | 'native';
  /** The direct path is open (teredo: a packet came from its mapping) or the relay is known (native: §5.2.9 test). */
  trusted: boolean;
  /** Where its packets go: the peer's mapped address and port, or its relay's; null while not known. */
  viaAddress: string | null;
  viaPort: number | null;
  txPackets: number;
  rxPackets: number;
  /** Packets for it dropped (queue full, no answer to the bubbles or the test). */
  dropped: number;
}

/** Every reason the Teredo client drops a packet; the same list as TEREDO_DROPS in native/teredo.h. */
export const TEREDO_DROP_NAMES = [
  'not_qualified', 'tun_malformed', 'tun_not_unicast', 'tun_wrong_source', 'tun_to_self', 'queue_full', 'peer_unreachable',
  'relay_not_found', 'peer_table_full', 'peer_bad_ipv4', 'udp_bad_header', 'udp_not_ipv6', 'udp_wrong_destination',
  'udp_spoofed_teredo', 'udp_unknown_relay', 'server_not_allowed', 'ra_bad_nonce', 'ra_invalid', 'ra_unexpected', 'auth_failed',
  'send_error', 'write_error',
] as const;
export type TeredoDropName = (typeof TEREDO_DROP_NAMES)[number];
/** The Teredo client's totals; the same list as TEREDO_TOTALS in native/teredo.h. */
export const TEREDO_TOTAL_NAMES = [
  'tx_packets', 'tx_bytes', 'rx_packets', 'rx_bytes', 'rs_sent', 'early_refreshes', 'ra_accepted', 'qualifications', 'address_changes',
  'bubbles_direct', 'bubbles_indirect', 'bubbles_received', 'echo_tests', 'relays_found', 'peers_trusted',
] as const;
export type TeredoTotalName = (typeof TEREDO_TOTAL_NAMES)[number];

/** What the Teredo client knows now (Forwarder.teredo()). */
export interface TeredoState {
  qualified: boolean;
  /** Our Teredo address (RFC 4380 §4), null until qualified. */
  address: string | null;
  /** The NAT's mapping of our socket as the server saw it (origin indication), null until qualified. */
  mappedAddress: string | null;
  mappedPort: number | null;
  /** What qualification found (RFC 4380 §5.2.1); 'unknown' before, and after the server was lost. */
  natKind: 'unknown' | 'cone' | 'restricted' | 'symmetric';
  server: string;
  /** The link MTU (1280, or what the server's advertisement said). */
  mtu: number;
  tunName: string;
  peers: TeredoPeer[];
  totals: Record<TeredoTotalName, number>;
  drops: Record<TeredoDropName, number>;
}

/** TeredoConfig with its defaults applied (a non-object is kept as is, for teredoProblems to name). */
export function resolveTeredo(t: TeredoConfig): ResolvedTeredo {
  if (!t || typeof t !== 'object') return t;
  return Object.freeze({
    server: t.server, server2: t.server2 ?? nextIpv4(t.server), localAddress: t.localAddress, localPort: t.localPort ?? 0,
    refreshIntervalS: t.refreshIntervalS ?? 30, qualificationTimeoutMs: t.qualificationTimeoutMs ?? 4000,
    qualificationRetries: t.qualificationRetries ?? 3, restartDelayS: t.restartDelayS ?? 60, coneProbe: t.coneProbe ?? true,
  });
}

const intIn = (v: unknown, lo: number, hi: number): boolean => typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi;

/** The problems of a resolved teredo config (resolveTeredo), or that it is missing (mode 'teredo' without it). */
export function teredoProblems(t: ResolvedTeredo | undefined): string[] {
  if (t === undefined) return ["teredo: required when mode is 'teredo'"];
  const p: string[] = [];
  if (!global4(t.server)) p.push('teredo.server: a global unicast IPv4 address');
  if (!global4(t.server2) || t.server2 === t.server) p.push('teredo.server2: a global unicast IPv4 address, not the primary');
  if (typeof t.localAddress !== 'string' || !isIPv4(t.localAddress)) p.push('teredo.localAddress: an IPv4 address');
  if (!intIn(t.localPort, 0, 65535)) p.push('teredo.localPort: integer 0..65535');
  if (!intIn(t.refreshIntervalS, 5, 3600)) p.push('teredo.refreshIntervalS: integer 5..3600');
  if (!intIn(t.qualificationTimeoutMs, 100, 60000)) p.push('teredo.qualificationTimeoutMs: integer 100..60000');
  if (!intIn(t.qualificationRetries, 1, 10)) p.push('teredo.qualificationRetries: integer 1..10');
  if (!intIn(t.restartDelayS, 1, 3600)) p.push('teredo.restartDelayS: integer 1..3600');
  if (typeof t.coneProbe !== 'boolean') p.push('teredo.coneProbe: a boolean');
  return p;
}

/**
 * What miredo takes for a server address (PEERS.md §8: documentation prefixes pass; RFC 1918, 0/8, 127/8,
 * 169.254/16 and multicast and above do not).
 */
function global4(s: unknown): boolean {
  if (typeof s !== 'string' || !isIPv4(s)) return false;
  const [a, b] = s.split('.').map(Number);
  return a !== 0 && a !== 10 && a !== 127 && a < 224 && !(a === 172 && b >= 16 && b < 32) && !(a === 192 && b === 168) && !(a === 169 && b === 254);
}

/** The next IPv4 address (miredo's and Windows' default secondary server address), or '' if there is none. */
function nextIpv4(s: unknown): string {
  if (typeof s !== 'string' || !isIPv4(s)) return '';
  const n = s.split('.').reduce((acc, o) => acc * 256 + Number(o), 0) + 1;
  return n > 0xffffffff ? '' : [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff].join('.');
}

