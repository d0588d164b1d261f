// The TR-069 (CWMP) client as an agent plug-in. main.ts wires it:
//   cwmpPlugin(config.cwmp, { reboot, factoryReset, downloadsDir, install? })
import type { Plugin } from '../datamodel/index.ts';
import { CwmpClient } from './client.ts';
import { resolveConfig, type CwmpConfigInput, type CwmpHooks } from './config.ts';
import { INFORM_PARAMETER, informParameterHandler } from './inform.ts';

export type { CwmpConfig, CwmpConfigInput, CwmpHooks } from './config.ts';
export { CwmpClient, retryWindow } from './client.ts';

export interface CwmpPlugin extends Plugin {
  /** The running client (after start), for tests and the bench. */
  readonly client?: CwmpClient;
}

export function cwmpPlugin(config: CwmpConfigInput, hooks: CwmpHooks): CwmpPlugin {
  const cfg = resolveConfig(config);
  let client: CwmpClient | undefined;
  return {
    name: 'cwmp',
    dependsOn: ['device'],
    get client() {
      return client;
    },
    register({ dm }) {
      // The ACS's InformParameter rows are checked whoever writes them (TR-181: 9007 for a forced parameter).
      return [dm.attach(INFORM_PARAMETER, informParameterHandler(dm))];
    },
    async start({ dm, log }) {
      if (!cfg.enable) return;
      client = new CwmpClient(dm, log, cfg, hooks);
      await client.start();
    },
    async stop() {
      await client?.stop();
    },
  };
}
