// AFTR selection (TR-181 Device.DSLite.InterfaceSetting.{i}, RFC 6333 §5, RFC 6334): where the AFTR
// comes from (DHCPv6 option 64 or static), whether the FQDN or the IPv6 address is preferred, and its
// resolution over the DNS servers DHCPv6 gave.
import { isIPv6 } from 'node:net';
import { canonicalIPv6 } from '../datamodel/index.ts';
import type { Lease6, Platform } from '../wan/platform.ts';

export interface EndpointSettings {
  enable: boolean;
  /** EndpointAssignmentPrecedence: DHCPv6 (option 64 wins when present) or Static. */
  assignment: 'DHCPv6' | 'Static';
  /** EndpointAddressTypePrecedence: which static value to use, FQDN (EndpointName) or IPv6Address. */
  addressType: 'FQDN' | 'IPv6Address';
  /** The static EndpointName (configured while the precedence was Static; not DHCPv6's, which it may show). */
  name: string;
  address: string;
  /** lw4o6 offers are taken (Device.MAP enabled): the BR of OPTION_S46_CONT_LW is then the AFTR (lw4o6.ts). */
  lw4o6?: boolean;
}

export interface Endpoint {
  /** FQDN or IPv6 address, as configured or learnt. */
  aftr: string;
  origin: 'DHCPv6' | 'Static';
}

/** The primary AFTR; null when none is known (an establishment failure: "no AFTR"). */
export function primaryEndpoint(s: EndpointSettings, lease: Lease6 | null): Endpoint | null {
  // RFC 7598 §5.3: an lw4o6 offer names its BR (OPTION_S46_BR); the softwire goes there, whatever DS-Lite says.
  const br = s.lw4o6 ? lease?.lw4o6?.br[0] : undefined;
  if (br) return { aftr: br, origin: 'DHCPv6' };
  if (!s.enable) return null;
  const fromDhcp = lease?.aftrName ? { aftr: lease.aftrName, origin: 'DHCPv6' as const } : null;
  const staticValue = s.addressType === 'IPv6Address' ? s.address || s.name : s.name || s.address;
  const fromStatic = staticValue ? { aftr: staticValue, origin: 'Static' as const } : null;
  // TR-181 EndpointAssignmentPrecedence: the preferred source, the other one as a fallback.
  return s.assignment === 'DHCPv6' ? (fromDhcp ?? fromStatic) : (fromStatic ?? fromDhcp);
}

/**
 * Device.DSLite.InterfaceSetting.{i}.EndpointName as TR-181 2.18 defines it: the name "actually applied", i.e.
 * that of the source EndpointAssignmentPrecedence picks when both are available (the other one when only it
 * is): DHCPv6's AFTR-Name (RFC 6334 OPTION_AFTR_NAME, 64) or the static name. Shown whether or not DS-Lite is
 * enabled.
 */
export function appliedEndpointName(s: EndpointSettings, lease: Lease6 | null): string {
  return primaryEndpoint({ ...s, enable: true, lw4o6: false }, lease)?.origin === 'DHCPv6' ? lease!.aftrName : s.name;
}

/** The ordered candidates: the primary, then the backups (vendor BackupAFTRs), without duplicates. */
export function candidates(primary: Endpoint | null, backups: readonly string[]): Endpoint[] {
  const out: Endpoint[] = primary ? [primary] : [];
  for (const b of backups) {
    const v = b.trim();
    if (v && !out.some((e) => e.aftr === v)) out.push({ aftr: v, origin: 'Static' });
  }
  return out;
}

/** An IPv6 literal in canonical form, or null for an FQDN. */
export function literal(aftr: string): string | null {
  return isIPv6(aftr) ? canonicalIPv6(aftr) : null;
}

/**
 * An AFTR's IPv6 address: a literal as is, an FQDN by AAAA over the DHCPv6 lease's DNS servers (RFC 6334 §5). Every
 * failure is an Establishment reason (the detector of that name reports it).
 */
export async function resolveAftr(platform: Pick<Platform, 'dhcp6' | 'resolve'>, aftr: string, timeoutMs: number): Promise<string> {
  const lit = literal(aftr);
  if (lit) return lit;
  const servers = platform.dhcp6.lease()?.dnsServers ?? [];
  if (!servers.length) throw new Error(`Establishment: no DNS server to resolve ${aftr}`);
  const addrs = await platform.resolve(aftr, servers, timeoutMs)
    .catch((e: Error) => { throw new Error(`Establishment: DNS failure resolving ${aftr}: ${e.message}`); });
  if (!addrs.length) throw new Error(`Establishment: ${aftr} has no AAAA record`);
  return literal(addrs[0]) ?? addrs[0];
}
