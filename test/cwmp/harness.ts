// Runs the CWMP plug-in in-process on a data model (with the device identity plug-in), against a
// ScriptedAcs. Hooks are fakes that record calls.
import pino from 'pino';
import { DataModel, PluginHost } from '../../src/datamodel/index.ts';
import { devicePlugin } from '../../src/device/index.ts';
import { cwmpPlugin, type CwmpConfigInput, type CwmpHooks } from '../../src/cwmp/index.ts';
import type { CwmpClient } from '../../src/cwmp/client.ts';
import type { ScriptedAcs } from './acs.ts';

export const CR_USER = 'cr-user';
export const CR_PASS = 'cr-pass';

export interface Agent {
  dm: DataModel;
  client: CwmpClient;
  calls: { reboot: number; factoryReset: number; installs: { fileType: string; path: string }[] };
  stop(): Promise<void>;
}

export const IDENTITY = { manufacturer: 'twinstack', manufacturerOUI: '00D09E', modelName: 'twinstack-gw', productClass: 'HomeGateway', hardwareVersion: 'sim-1' };

export async function startAgent(acs: ScriptedAcs | undefined, opts: { file?: string; config?: CwmpConfigInput; hooks?: Partial<CwmpHooks>; downloadsDir?: string; level?: string } = {}): Promise<Agent> {
  const dm = new DataModel({ file: opts.file ?? ':memory:' });
  const calls: Agent['calls'] = { reboot: 0, factoryReset: 0, installs: [] };
  const hooks: CwmpHooks = {
    reboot: () => { calls.reboot++; },
    factoryReset: () => { calls.factoryReset++; },
    downloadsDir: opts.downloadsDir ?? '/tmp/cwmp-test-downloads',
    install: async (f) => { calls.installs.push(f); },
    ...opts.hooks,
  };
  const cfg: CwmpConfigInput = {
    ...opts.config,
    connectionRequest: { port: 0, ...opts.config?.connectionRequest },
    factoryDefaults: {
      url: acs?.url, username: acs?.opts.username ?? 'acs', password: acs?.opts.password ?? 'secret',
      connectionRequestUsername: CR_USER, connectionRequestPassword: CR_PASS, ...opts.config?.factoryDefaults,
    },
  };
  const plugin = cwmpPlugin(cfg, hooks);
  const log = pino({ level: opts.level ?? process.env.CWMP_TEST_LOG ?? 'silent' });
  const host = new PluginHost(dm, [devicePlugin(IDENTITY, { reboot() {}, factoryReset() {} }), plugin], log);
  await host.start();
  return {
    dm, client: plugin.client!, calls,
    async stop() {
      await host.stop();
      dm.close();
    },
  };
}
