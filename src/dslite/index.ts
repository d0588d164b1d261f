// DS-Lite <-> dual-stack failover: the plug-in factory src/main.ts wires in. One plug-in, "failover":
// register() creates the gateway's rows (when absent) and attaches the data-model handlers; start() starts
// the WAN (simulated or Linux) and the policy; stop() ends both, releasing nothing on the way out (a
// restart keeps the ISP's view stable; DHCPRELEASE is sent only when DS-Lite returns).
import type { Disposable, Plugin } from '../datamodel/index.ts';
import type { Platform } from '../wan/platform.ts';
import { createPlatform, WAN_DEFAULTS, type WanConfig } from '../wan/index.ts';
import { ensureRows, type GatewayRows } from './instances.ts';
import { Lw4o6Controller } from './lw4o6.ts';
import { bindLw4o6Model } from './lw4o6-model.ts';
import { adoptStaticEndpointName, bindModel, readDetector, readSettings, writeInitial } from './model.ts';
import { FailoverPolicy } from './policy.ts';

export type { WanConfig } from '../wan/index.ts';
export { FailoverPolicy, type Mode, type PolicySettings, type SwitchRecord } from './policy.ts';
export { DETECTORS, DETECTOR_DEFAULTS, combine, type Detector, type DetectorFactory } from './detectors.ts';

export interface FailoverHandle {
  platform: Platform | null;
  policy: FailoverPolicy | null;
  lw4o6?: Lw4o6Controller | null;
}

function parseCidr(cidr: string): { address: string; subnetMask: string } {
  const [address, len] = cidr.split('/');
  const n = Number(len ?? 24);
  const mask = n === 0 ? 0 : (0xffffffff << (32 - n)) >>> 0;
  return { address, subnetMask: [24, 16, 8, 0].map((s) => (mask >>> s) & 255).join('.') };
}

/**
 * The failover plug-ins. `handle` (optional) receives the platform and policy once started (tests, bench).
 * Config: schema/config/wan.schema.json (`config.wan`).
 */
export function failoverPlugins(raw: Partial<WanConfig> | Readonly<Record<string, unknown>>, handle?: FailoverHandle): Plugin[] {
  const config = { ...WAN_DEFAULTS, ...(raw as Partial<WanConfig>) };
  let rows: GatewayRows;
  let platform: Platform;
  let policy: FailoverPolicy;
  let lw4o6: Lw4o6Controller;
  return [{
    name: 'failover',
    register({ dm, log }) {
      const lanIPv4 = parseCidr(config.lanAddress);
      platform = createPlatform(config, log.child({ module: 'wan' }), lanIPv4);
      rows = ensureRows(dm, { ...platform.interfaces, lanIPv4 });
      adoptStaticEndpointName(dm, rows.dslite);
      const detectorSettings = Object.fromEntries([...rows.detectors].map(([name, row]) => [name, readDetector(dm, row)]));
      lw4o6 = new Lw4o6Controller({ platform, log: log.child({ module: 'lw4o6' }) });
      policy = new FailoverPolicy({
        platform, settings: readSettings(dm, rows), detectorSettings, log: log.child({ module: 'failover' }),
        leaseWait: config.leaseWaitMs, dhcp4Timeout: config.dhcp4TimeoutMs, softwire: lw4o6,
      });
      writeInitial(dm, rows, platform.simulated, platform.dhcp6.lease());
      const sim = platform as Platform & { setAftrState?: (s: 'Up' | 'Down' | 'Blackhole' | 'Unbound') => void };
      const setAftrState = platform.simulated && sim.setAftrState ? sim.setAftrState.bind(sim) : undefined;
      const disposables: Disposable[] = bindModel({ dm, rows, policy, platform, log, setAftrState });
      disposables.push(...bindLw4o6Model({
        dm, rows: { domain: rows.map }, controller: lw4o6, tunnelName: platform.interfaces.tunnel, log,
        interfaceInfo: (n) => platform.interfaceInfo(n),
        // Device.MAP.Enable decides whether the BR is the AFTR too (endpoint.ts).
        onEnable: () => policy.configure(readSettings(dm, rows)),
      }));
      if (setAftrState) setAftrState(dm.getValue('Device.X_TWINSTACK-ORG_Failover.Simulation.AFTRState') as 'Up' | 'Down' | 'Blackhole' | 'Unbound');
      if (handle) Object.assign(handle, { platform, policy, lw4o6 });
      return disposables;
    },
    async start() {
      await platform.start();
      lw4o6.start();
      policy.start();
    },
    async stop() {
      await policy.stop();
      await lw4o6.stop();
      await platform.stop();
    },
  }];
}
