// Wiring: config -> data model -> plug-ins -> front-ends. `npm start` runs this with the embedded default:
// SQLite in ./data, simulated WAN, web and SNMP on loopback, CLI on a local socket.
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import pino from 'pino';
import { ConfigError, loadConfig } from './config.ts';
import { EXIT_ADDON, EXIT_CONFIG, listenFault, openStorage } from './startup.ts';
import { PluginHost, type Plugin } from './datamodel/index.ts';
import { cliPlugin } from './cli/server.ts';
import {
  devicePlugin, EXIT_RESTART, isFactoryReset, predecessorGone, processContext, restartMode, SOFTWARE_VERSION, spawnSuccessor, type RestartRequest,
} from './device/index.ts';
import type { CwmpConfigInput } from './cwmp/index.ts';
import type { SnmpConfig } from './snmp/index.ts';
import type { UspConfig } from './usp/index.ts';
import type { WebConfig } from './web/index.ts';
import { failoverPlugins, type FailoverHandle } from './dslite/index.ts';
import { nat46Plugin } from './dslite/nat46.ts';
import { teredoPlugin } from './dslite/teredo.ts';

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
// Reboot()/FactoryReset(): exit for the supervisor, or start the successor ourselves (src/device/restart.ts).
// `restart` in the config (exit|exec), else TWINSTACK_RESTART (the deploy files set it), else detected.
const restart = restartMode(processContext(config.restart));
// A successor of a restart in place loads while its predecessor stops, and waits here until it is gone.
const predecessor = await predecessorGone();
// Before anything uses the directory (the CLI socket lives there): a second agent stops here, and every storage
// fault exits with one line and its own status (src/startup.ts, README "Exit status").
const storage = openStorage(dataDir, log);
const dm = storage.dm;

/** Longest wait for the plug-ins to stop before the process ends anyway (every committed write is on disk). */
const STOP_DEADLINE_MS = 5000;

function exit(code: number): never {
  dm.close();
  storage.dataDir.release();
  process.exit(code);
}

let stopping: Promise<void> | undefined;
let starting: Promise<void> = Promise.resolve();
/**
 * Stops the agent with exit status `code`. `why` goes into the boot journal first (src/device/boot.ts): what the
 * next start reports in Boot!. `successor`: start the next agent before stopping (a restart in place).
 */
async function shutdown(code: number, why: RestartRequest, successor = false) {
  stopping ??= (async () => {
    try {
      storage.journal.write({ ...why, softwareVersion: SOFTWARE_VERSION, at: new Date().toISOString() });
    } catch (err) {
      log.error({ err }, 'boot journal not written: the next Boot! reports no clean stop');
    }
    if (successor) {
      try {
        log.info({ successor: await spawnSuccessor() }, 'successor started');
      } catch (err) {
        log.error({ err }, 'successor not started: exiting for a supervisor');
        code = EXIT_RESTART;
      }
    }
    log.info({ code, cause: why.cause }, 'stopping');
    // A plug-in that cannot stop (a session to an ACS that does not answer) must not hold the restart.
    setTimeout(() => {
      log.warn({ deadlineMs: STOP_DEADLINE_MS }, 'plug-ins did not stop in time: exiting');
      exit(code);
    }, STOP_DEADLINE_MS);
    await starting.catch(() => undefined); // asked during start-up (the CLI answers first): stop them all
    await host.stop();
    exit(code);
  })();
  return stopping;
}

/** Reboot() and FactoryReset(), whoever asked (src/device/boot.ts causeOf). */
function restartAgent(req: RestartRequest) {
  log.info({ cause: req.cause, commandKey: req.commandKey, restart: restart.mode }, 'restart requested');
  return restart.mode === 'exec' ? shutdown(0, req, true) : shutdown(EXIT_RESTART, req);
}

/** What the remote management protocols ask for (CWMP Reboot/FactoryReset RPCs and Download, USP fallbacks). */
const remote = {
  reboot: () => restartAgent({ cause: 'RemoteReboot', commandKey: '' }),
  factoryReset: () => restartAgent({ cause: 'RemoteFactoryReset', commandKey: '' }),
};

// The Linux WAN cannot run without its addons (build/Release): refuse to start, with the file and the fix, rather
// than run and report every AFTR as unreachable. The simulated WAN of the embedded default needs neither.
if (config.wan.mode === 'linux') {
  try {
    (await import('./forwarder/native.ts')).loadAddon();
    (await import('./wan/netlink.ts')).loadNetlinkAddon();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ERR_TWINSTACK_ADDON') throw e;
    process.stderr.write(`twinstack: ${(e as Error).message}\n`);
    exit(EXIT_ADDON);
  }
}

/** A plug-in's start() failure, with the plug-in's name (a port in use names its face). */
class StartFailure extends Error {
  constructor(readonly plugin: string, readonly error: unknown) {
    super(`${plugin}: start failed`);
  }
}
const named = (p: Plugin): Plugin => ({
  name: p.name,
  dependsOn: p.dependsOn,
  register: (ctx) => p.register(ctx),
  start: async (ctx) => {
    try {
      await p.start?.(ctx);
    } catch (e) {
      throw new StartFailure(p.name, e);
    }
  },
  stop: (ctx) => p.stop?.(ctx),
});

// A face is imported only when enabled: a disabled one costs no memory or start-up time (its libraries,
// fastify, xml2js, net-snmp, are never loaded; bench/footprint.ts measures each). USP is always on: it
// serves Device.LocalAgent. and its MTPs are data-model rows a controller or the CLI may add at any time.
// The failover plug-in's platform, which also counts every interface (SNMP's ifTable, IP.Interface.{i}.Stats).
const failover: FailoverHandle = { platform: null, policy: null };
const plugins: Plugin[] = [
  devicePlugin(config.device, { reboot: restartAgent, factoryReset: restartAgent, boot: storage.boot }),
  cliPlugin(config.cli.socket ?? join(dataDir, 'twinstack.sock')),
  ...failoverPlugins(config.wan, failover),
  // Issue 23's translator drives the failover plug-in's platform (its forwarder).
  nat46Plugin(failover),
  teredoPlugin(failover),
];
if (config.cwmp.enable !== false) {
  const { cwmpPlugin } = await import('./cwmp/index.ts');
  plugins.push(cwmpPlugin(config.cwmp as CwmpConfigInput, { ...remote, downloadsDir: join(dataDir, 'downloads') }));
}
plugins.push((await import('./usp/index.ts')).uspPlugin(config.usp as unknown as UspConfig, remote));
if (config.snmp.enable !== false) plugins.push((await import('./snmp/index.ts')).snmpPlugin(config.snmp as SnmpConfig, {
    interfaces: (name) => failover.platform?.interfaceInfo(name),
    // warmStart (RFC 3418) when the agent restarted with its configuration unaltered: a clean stop or a reboot
    // before; coldStart after a factory reset, a crash or power loss (no clean stop), or on a first start.
    warm: storage.boot !== null && !isFactoryReset(storage.boot.cause),
  }));
if (config.web.enable !== false) plugins.push((await import('./web/index.ts')).webPlugin(config.web as WebConfig));

const host = new PluginHost(dm, plugins.map(named), log);
const stop = () => void shutdown(0, { cause: 'LocalReboot', commandKey: '' });
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
try {
  await (starting = host.start());
} catch (e) {
  if (stopping) await stopping; // a restart asked meanwhile ends the process
  const fault = e instanceof StartFailure ? listenFault(e.plugin, e.error) : undefined;
  if (!fault) throw e instanceof StartFailure ? e.error : e;
  // One line and a status of its own (src/startup.ts), no stack trace. The boot journal stays as it is: the
  // start that succeeds reports the stop before this one.
  process.stderr.write(fault.line);
  stopping = Promise.resolve();
  setTimeout(() => exit(fault.status), STOP_DEADLINE_MS);
  await host.stop();
  exit(fault.status);
}
// Started: the journal of the last stop has been reported (Boot!); from now on, no journal means no clean stop
// (unless a restart was asked during the start: its journal is the next start's).
try {
  if (!stopping) storage.journal.clear();
} catch (err) {
  log.error({ err }, 'boot journal not cleared');
}
log.info({ dataDir, plugins: plugins.map((p) => p.name), restart: restart.mode, restartBy: restart.why, predecessor: predecessor?.pid, waitedMs: predecessor?.waitedMs }, 'twinstack running');
// systemd Type=notify (deploy/twinstack.service): ready once every face listens. Node has no AF_UNIX datagram
// socket to send READY=1 itself; systemd-notify sends it (NotifyAccess=all, since it is our child).
if (process.env.NOTIFY_SOCKET) {
  spawn('systemd-notify', ['--ready', `--pid=${process.pid}`], { stdio: 'ignore' })
    .on('error', (err) => log.warn({ err }, 'systemd-notify not run'))
    .on('exit', (code) => { if (code) log.warn({ code }, 'systemd-notify failed'); });
}
