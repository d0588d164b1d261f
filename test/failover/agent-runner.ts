// Runs the failover part of the agent inside a namespace (spawned by the end-to-end tests and the bench):
// the data model on a file, the CLI socket, and the failover plug-in on the Linux WAN (with `"nat46": true` or
// `"teredo": true` in the config, the NAT46 or Teredo plug-in after it, as the agent runs them). Usage:
//   node --import tsx test/failover/agent-runner.ts CONFIG.json     (logs: pino JSON on stdout)
import { readFileSync } from 'node:fs';
import pino from 'pino';
import { cliPlugin } from '../../src/cli/server.ts';
import { DataModel, PluginHost } from '../../src/datamodel/index.ts';
import { failoverPlugins, type FailoverHandle } from '../../src/dslite/index.ts';
import { nat46Plugin } from '../../src/dslite/nat46.ts';
import { teredoPlugin } from '../../src/dslite/teredo.ts';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8')) as { db: string; socket: string; wan: Record<string, unknown>; nat46?: boolean; teredo?: boolean };
const log = pino({ level: process.env.LOG_LEVEL ?? 'info' });
const dm = new DataModel({ file: config.db, log });
const handle: FailoverHandle = { platform: null, policy: null };
const host = new PluginHost(dm, [cliPlugin(config.socket), ...failoverPlugins(config.wan, handle), ...(config.nat46 ? [nat46Plugin(handle)] : []),
  ...(config.teredo ? [teredoPlugin(handle)] : [])], log);
const stop = async () => {
  await host.stop();
  dm.close();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
await host.start();
log.info({ socket: config.socket }, 'agent ready');
