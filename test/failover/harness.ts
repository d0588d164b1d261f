// Shared set-up of the failover tests: the agent's failover plug-in on the simulated WAN, in-process.
import pino from 'pino';
import { DataModel, PluginHost } from '../../src/datamodel/index.ts';
import { failoverPlugins, type FailoverHandle, type WanConfig } from '../../src/dslite/index.ts';
import { nat46Plugin } from '../../src/dslite/nat46.ts';
import { teredoPlugin } from '../../src/dslite/teredo.ts';
import type { SimNetwork } from '../../src/sim/network.ts';

export const FO = 'Device.X_TWINSTACK-ORG_Failover.';

/** Detector settings that decide within ~100-300 ms (the "fast" row of docs/benchmarks.md). */
export const FAST_DETECTORS: Record<string, Record<string, string>> = {
  Silence: { Interval: '20', Timeout: '150' },
  Echo: { Interval: '50', Timeout: '50', FailureThreshold: '2' },
};
export const FAST_RECOVERY: Record<string, string> = { RecoveryInterval: '1', RecoveryThreshold: '1', HoldDownTime: '0' };

/** Concrete paths for the settings of named detectors and of the failover object. */
export function settingsFor(dm: DataModel, detectors: Record<string, Record<string, string>>, failover: Record<string, string> = {}): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, params] of Object.entries(detectors)) {
    const row = dm.get(`${FO}Detector.*.Name`).find((v) => v.value === name)!.path.slice(0, -'Name'.length);
    for (const [k, v] of Object.entries(params)) out[`${row}${k}`] = v;
  }
  for (const [k, v] of Object.entries(failover)) out[`${FO}${k}`] = v;
  return out;
}

export interface Agent {
  dm: DataModel;
  host: PluginHost;
  sim: SimNetwork;
  handle: FailoverHandle;
  stop(): Promise<void>;
}

/** `nat46`, `teredo`: with the NAT46 (issue 23) and Teredo (issue 22) plug-ins after the failover's, as the agent runs them. */
export async function startAgent(opts: { file?: string; wan?: Partial<WanConfig>; fast?: boolean; nat46?: boolean; teredo?: boolean } = {}): Promise<Agent> {
  const log = pino({ level: process.env.TEST_LOG ?? 'silent' });
  const dm = new DataModel({ file: opts.file ?? ':memory:' });
  const handle: FailoverHandle = { platform: null, policy: null };
  const plugins = failoverPlugins({ leaseWaitMs: 300, ...opts.wan, sim: { lanPps: 200, delayMs: 1, ...opts.wan?.sim } }, handle);
  const host = new PluginHost(dm, [...plugins, ...(opts.nat46 ? [nat46Plugin(handle)] : []), ...(opts.teredo ? [teredoPlugin(handle)] : [])], log);
  await host.start();
  // Written through the data model like any controller would: they take effect without a restart.
  if (opts.fast) dm.set(settingsFor(dm, FAST_DETECTORS, FAST_RECOVERY), 'cli');
  return {
    dm, host, handle, sim: handle.platform as SimNetwork,
    async stop() {
      await host.stop();
      dm.close();
    },
  };
}

export { until } from '../wait.ts';
