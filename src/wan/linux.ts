import type { Logger } from 'pino';
import type { Platform } from './platform.ts';
import type { WanConfig } from './index.ts';
export class LinuxWan implements Platform {
  readonly simulated = false; declare interfaces: Platform["interfaces"]; declare lanIPv4: Platform["lanIPv4"]; declare dhcp6: Platform["dhcp6"]; declare dhcp4: Platform["dhcp4"]; declare tunnel: Platform["tunnel"]; declare ipv4: Platform["ipv4"];
  async resolve(): Promise<string[]> { return []; } async start() {} async stop() {}
  constructor(_c: WanConfig, _l: Logger, _x: unknown) { throw new Error('linux WAN: not yet'); }
}
export type _P = Platform;
