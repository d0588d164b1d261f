// Wiring: config -> data model -> plug-ins -> front-ends. `npm start` runs this with the embedded default:
// SQLite in ./data, simulated WAN, web and SNMP on loopback, CLI on a local socket.
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import pino from 'pino';
import { ConfigError, loadConfig } from './config.ts';
import { EXIT_CONFIG, openStorage } from './startup.ts';
import { PluginHost, type Plugin } from './datamodel/index.ts';
import { cliPlugin } from './cli/server.ts';
import { devicePlugin } from './device/index.ts';
import type { CwmpConfigInput } from './cwmp/index.ts';
import type { SnmpConfig } from './snmp/index.ts';
import type { UspConfig } from './usp/index.ts';
import type { WebConfig } from './web/index.ts';
import { failoverPlugins } from './dslite/index.ts';

let config;
try {
  config = loadConfig(process.argv.slice(2));
} catch (e) {
  if (e instanceof ConfigError) {
    console.error(e.message);
    process.exit(EXIT_CONFIG);
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
// Before anything uses the directory (the CLI socket lives there): a second agent stops here, and every storage
// fault exits with one line and its own status (src/startup.ts, README "Exit status").
const storage = openStorage(dataDir, log);
const dbFile = storage.dataDir.db;
const dm = storage.dm;

let stopping: Promise<void> | undefined;
async function shutdown(code: number, then?: () => void) {
  stopping ??= (async () => {
    log.info({ code }, 'stopping');
    await host.stop();
    dm.close();
    storage.dataDir.release(); // before a restart in place starts the next agent
    then?.();
    process.exit(code);
  })();
  return stopping;
}

/**
 * Under a supervisor (deploy/: systemd, procd set TWINSTACK_SUPERVISED=1) a restart is the supervisor's: the
 * agent exits with EXIT_RESTART and is started again. A detached process of our own would be killed with
 * systemd's control group, or run unsupervised beside procd's new instance.
 */
const supervised = process.env.TWINSTACK_SUPERVISED === '1';
const EXIT_RESTART = 75;

/** Restart in place: a new agent process takes over (the embedded default has no init system). */
function respawn() {
  if (supervised) return;
  spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit', detached: true }).unref();
}

const hooks = {
  reboot: () => shutdown(supervised ? EXIT_RESTART : 0, respawn),
  factoryReset: () => shutdown(supervised ? EXIT_RESTART : 0, () => {
    for (const f of [dbFile, `${dbFile}-wal`, `${dbFile}-shm`]) rmSync(f, { force: true });
    respawn();
  }),
};

/** Exit status when the Linux WAN's native addons are missing or broken (beside src/startup.ts's). */
const EXIT_ADDON = 10;

// The Linux WAN cannot run without its addons (build/Release): refuse to start, with the file and the fix, rather
// than run and report every AFTR as unreachable. The simulated WAN of the embedded default needs neither.
if (config.wan.mode === 'linux') {
  try {
    (await import('./forwarder/native.ts')).loadAddon();
    (await import('./wan/netlink.ts')).loadNetlinkAddon();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ERR_TWINSTACK_ADDON') throw e;
    process.stderr.write(`twinstack: ${(e as Error).message}\n`);
    dm.close();
    storage.dataDir.release();
    process.exit(EXIT_ADDON);
  }
}

// A face is imported only when enabled: a disabled one costs no memory or start-up time (its libraries,
// fastify, xml2js, net-snmp, are never loaded; bench/footprint.ts measures each). USP is always on: it
// serves Device.LocalAgent. and its MTPs are data-model rows a controller or the CLI may add at any time.
const plugins: Plugin[] = [
  devicePlugin(config.device, hooks),
  cliPlugin(config.cli.socket ?? join(dataDir, 'twinstack.sock')),
  ...failoverPlugins(config.wan),
];
if (config.cwmp.enable !== false) {
  const { cwmpPlugin } = await import('./cwmp/index.ts');
  plugins.push(cwmpPlugin(config.cwmp as CwmpConfigInput, { ...hooks, downloadsDir: join(dataDir, 'downloads') }));
}
plugins.push((await import('./usp/index.ts')).uspPlugin(config.usp as unknown as UspConfig, hooks));
if (config.snmp.enable !== false) plugins.push((await import('./snmp/index.ts')).snmpPlugin(config.snmp as SnmpConfig));
if (config.web.enable !== false) plugins.push((await import('./web/index.ts')).webPlugin(config.web as WebConfig));

const host = new PluginHost(dm, plugins, log);
process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));
await host.start();
log.info({ dataDir, plugins: plugins.map((p) => p.name) }, 'twinstack running');
// systemd Type=notify (deploy/twinstack.service): ready once every face listens. Node has no AF_UNIX datagram
// socket to send READY=1 itself; systemd-notify sends it (NotifyAccess=all, since it is our child).
if (process.env.NOTIFY_SOCKET) {
  spawn('systemd-notify', ['--ready', `--pid=${process.pid}`], { stdio: 'ignore' })
    .on('error', (err) => log.warn({ err }, 'systemd-notify not run'))
    .on('exit', (code) => { if (code) log.warn({ code }, 'systemd-notify failed'); });
}
