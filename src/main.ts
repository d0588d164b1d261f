// Wiring: config -> data model -> plug-ins -> front-ends. `npm start` runs this with the embedded default:
// SQLite in ./data, simulated WAN, web and SNMP on loopback, CLI on a local socket.
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import pino from 'pino';
import { ConfigError, loadConfig } from './config.ts';
import { DataModel, PluginHost, type Plugin } from './datamodel/index.ts';
import { cliPlugin } from './cli/server.ts';
import { devicePlugin } from './device/index.ts';
import { cwmpPlugin, type CwmpConfigInput } from './cwmp/index.ts';
import { snmpPlugin, type SnmpConfig } from './snmp/index.ts';
import { uspPlugin, type UspConfig } from './usp/index.ts';
import { webPlugin, type WebConfig } from './web/index.ts';
import { failoverPlugins } from './dslite/index.ts';

let config;
try {
  config = loadConfig(process.argv.slice(2));
} catch (e) {
  if (e instanceof ConfigError) {
    console.error(e.message);
    process.exit(2);
  }
  throw e;
}

const log = pino({
  level: config.log.level,
  // A person at a terminal reads lines; a supervisor collecting stdout gets JSON.
  transport: process.stdout.isTTY ? { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname' } } : undefined,
  // Credentials never reach a log line (STYLE §11).
  redact: { paths: ['*.password', '*.Password', '*.adminPassword', '*.authPassword', '*.privPassword', '*.authKey', '*.privKey', '*.community'], censor: '[redacted]' },
});
const dataDir = resolve(config.dataDir);
const dbFile = join(dataDir, 'twinstack.db');
const dm = new DataModel({ file: dbFile, log: log.child({ module: 'datamodel' }) });

let stopping: Promise<void> | undefined;
async function shutdown(code: number, then?: () => void) {
  stopping ??= (async () => {
    log.info({ code }, 'stopping');
    await host.stop();
    dm.close();
    then?.();
    process.exit(code);
  })();
  return stopping;
}

/** Restart in place: a new agent process takes over (the embedded default has no init system). */
function respawn() {
  spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit', detached: true }).unref();
}

const hooks = {
  reboot: () => shutdown(0, respawn),
  factoryReset: () => shutdown(0, () => {
    for (const f of [dbFile, `${dbFile}-wal`, `${dbFile}-shm`]) rmSync(f, { force: true });
    respawn();
  }),
};

const plugins: Plugin[] = [
  devicePlugin(config.device, hooks),
  cliPlugin(config.cli.socket ?? join(dataDir, 'twinstack.sock')),
  ...failoverPlugins(config.wan),
  cwmpPlugin(config.cwmp as CwmpConfigInput, { ...hooks, downloadsDir: join(dataDir, 'downloads') }),
  uspPlugin(config.usp as unknown as UspConfig, hooks),
  snmpPlugin(config.snmp as SnmpConfig),
  webPlugin(config.web as WebConfig),
];

const host = new PluginHost(dm, plugins, log);
process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));
await host.start();
log.info({ dataDir, plugins: plugins.map((p) => p.name) }, 'twinstack running');
