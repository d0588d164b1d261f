// The Linux side of the Teredo last resort (issue 22, Platform.teredo): a forwarder of its own in mode 'teredo'
// (native/teredo.cc, RFC 4380 client; packets never reach JavaScript) beside the softwire's, on its own tun. The
// client gives the tun its Teredo address; the routes are ours and follow its state:
//   - qualified: the gateway's IPv6 default route into the tun (metric TEREDO_METRIC, behind any native route),
//     and, with a LAN prefix, NAT66 of the LAN's sources to the Teredo address (nft masquerade). Teredo gives one
//     /128 (RFC 4380 §4), and RFC 6296 NPTv6 maps prefixes of equal length only: sharing one address needs the
//     stateful kind. The LAN's own addresses are a ULA the LAN's router advertisements give (not ours).
//   - not qualified, or stopped: neither. A new mapping gives a new address, which the masquerade follows by itself.
import type { Logger } from 'pino';
import { Forwarder, type ForwarderConfig, type TeredoState } from '../forwarder/index.ts';
import { routeDelete, routeReplace } from './netlink.ts';
import type { TeredoPort, TeredoSettings } from './platform.ts';

/** The default route's metric: native IPv6 (DHCPv6, RA: 1024 and below) wins while both exist. */
export const TEREDO_METRIC = 4096;

export class LinuxTeredo implements TeredoPort {
  private fwd: Forwarder | null = null;
  private settings: TeredoSettings | null = null;
  /** What is installed now: the default route, and the NAT66 table for this prefix ('' none). */
  private routed = false;
  private natted = '';

  constructor(
    readonly iface: string,
    private readonly nftTable: string,
    private readonly nft: (script: string) => Promise<void>,
    private readonly log: Logger,
  ) {}

  get interface(): string {
    return this.iface;
  }

  async apply(s: TeredoSettings | null): Promise<void> {
    if (JSON.stringify(s) === JSON.stringify(this.settings) && (s === null || this.fwd)) return;
    await this.stopClient();
    this.settings = s;
    if (!s) return;
    const config: ForwarderConfig = {
      tunName: this.iface, mode: 'teredo', egress: 'tun',
      // Unused in mode 'teredo', required by the config (types.ts): documentation addresses.
      softwire: '2001:db8:b4::1', aftr: '2001:db8:ff::1',
      teredo: { server: s.server, ...(s.server2 ? { server2: s.server2 } : {}), localAddress: s.localAddress, refreshIntervalS: s.refreshIntervalS },
    };
    const fwd = await Forwarder.start(config, { logger: this.log });
    fwd.on('error', (err: Error) => { this.log.error({ err }, 'teredo forwarder died'); if (this.fwd === fwd) this.fwd = null; });
    this.fwd = fwd;
  }

  async state(): Promise<TeredoState | null> {
    const fwd = this.fwd;
    if (!fwd) {
      await this.unroute();
      return null;
    }
    const st = await fwd.teredo();
    if (st.qualified && st.address) await this.route(this.settings?.lanPrefix ?? '');
    else await this.unroute();
    return st;
  }

  private async stopClient(): Promise<void> {
    await this.unroute();
    const fwd = this.fwd;
    this.fwd = null;
    await fwd?.stop().catch((err) => this.log.warn({ err }, 'teredo forwarder not stopped'));
  }

  private async route(lanPrefix: string): Promise<void> {
    if (!this.routed) {
      routeReplace({ dst: '::/0', dev: this.iface, metric: TEREDO_METRIC });
      this.routed = true;
      this.log.info({ iface: this.iface }, 'IPv6 default route into Teredo');
    }
    if (lanPrefix !== this.natted) {
      // One table of our own, replaced whole: masquerade takes the outgoing interface's address, the Teredo address.
      await this.nft(`add table ip6 ${this.nftTable}\ndelete table ip6 ${this.nftTable}\n${lanPrefix ? `table ip6 ${this.nftTable} {
  chain post { type nat hook postrouting priority srcnat; policy accept; oifname "${this.iface}" ip6 saddr ${lanPrefix} masquerade; }
}\n` : ''}`);
      this.natted = lanPrefix;
    }
  }

  private async unroute(): Promise<void> {
    if (this.routed) {
      try {
        routeDelete({ dst: '::/0', dev: this.iface, metric: TEREDO_METRIC });
      } catch {
        // gone with the tun
      }
      this.routed = false;
    }
    if (this.natted) {
      await this.nft(`add table ip6 ${this.nftTable}\ndelete table ip6 ${this.nftTable}\n`).catch(() => undefined);
      this.natted = '';
    }
  }
}
