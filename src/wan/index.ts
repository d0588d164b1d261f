// WAN provisioning: the platform the failover policy drives. `mode: 'simulated'` (the embedded default) is
// the in-process network of src/sim; `mode: 'linux'` is the real WAN (src/wan/linux.ts).
import type { Logger } from 'pino';
import { SimNetwork } from '../sim/network.ts';
import { LinuxWan } from './linux.ts';
import type { Platform } from './platform.ts';

export type * from './platform.ts';

/** config.wan (schema/config/wan.schema.json); ajv fills the defaults. */
export interface WanConfig {
  mode: 'simulated' | 'linux';
  lanInterface: string;
  wanInterface: string;
  tunName: string;
  /** The Teredo client's tun (issue 22). */
  teredoTun: string;
  lanAddress: string;
  softwire: string;
  mtu: number;
  mssClamp: number;
  lanFastPath: boolean;
  echoTarget: string;
  nftTable: string;
  conntrackFlush: boolean;
  dhcp4Client: 'builtin' | 'udhcpc';
  udhcpc: string;
  dhcp6Client: 'builtin';
  dhcp4TimeoutMs: number;
  leaseWaitMs: number;
  sim: { lanPps: number; delayMs: number; softwire: 'dslite' | 'lw4o6' | 'lw4o6-dhcp4o6' };
}

export const WAN_DEFAULTS: WanConfig = {
  mode: 'simulated', lanInterface: 'br-lan', wanInterface: 'wan', tunName: 'dslite0', teredoTun: 'teredo0', lanAddress: '192.168.1.1/24',
  softwire: '', mtu: 1460, mssClamp: 1420, lanFastPath: false, echoTarget: '192.0.0.1', nftTable: 'twinstack_nat', conntrackFlush: true,
  dhcp4Client: 'builtin', udhcpc: 'busybox', dhcp6Client: 'builtin', dhcp4TimeoutMs: 10_000, leaseWaitMs: 10_000,
  sim: { lanPps: 50, delayMs: 2, softwire: 'dslite' },
};

export function createPlatform(partial: Partial<WanConfig>, log: Logger, lanIPv4: { address: string; subnetMask: string }): Platform {
  const config: WanConfig = { ...WAN_DEFAULTS, ...partial, sim: { ...WAN_DEFAULTS.sim, ...partial.sim } };
  const interfaces = { lan: config.lanInterface, wan: config.wanInterface, tunnel: config.tunName };
  if (config.mode === 'linux') return new LinuxWan(config, log, lanIPv4);
  return new SimNetwork({ log, lanPps: config.sim.lanPps, delayMs: config.sim.delayMs, interfaces, lanIPv4, softwire: config.sim.softwire });
}
