// The device itself: Device.RootDataModelVersion and Device.DeviceInfo identity written once at boot
// (system transaction), live UpTime through a read handler, the Reboot()/FactoryReset() commands and the
// Boot! event (boot.ts: why the agent booted, kept across the restart).
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { DataModel, Origin, Plugin } from '../datamodel/index.ts';
import { bootEvent, causeOf, type BootRecord, type RestartRequest } from './boot.ts';

export { BootJournal, bootEvent, causeOf, isFactoryReset, type BootCause, type BootRecord, type RestartRequest } from './boot.ts';
export { EXIT_RESTART, predecessorGone, processContext, restartMode, spawnSuccessor, type RestartMode } from './restart.ts';

const pkg = JSON.parse(readFileSync(join(dirname(new URL(import.meta.url).pathname), '../../package.json'), 'utf8')) as { version: string };

/** DeviceInfo.SoftwareVersion: the agent's package version. */
export const SOFTWARE_VERSION = pkg.version;

export interface DeviceIdentity {
  manufacturer: string;
  manufacturerOUI: string;
  modelName: string;
  productClass: string;
  hardwareVersion: string;
}

/**
 * What Reboot() and FactoryReset() do (main.ts: journal, stop, restart). Each gets the request: its Boot! cause
 * and the USP command_key. Harnesses may ignore it.
 */
export interface DeviceHooks {
  reboot(req: RestartRequest): Promise<void> | void;
  factoryReset(req: RestartRequest): Promise<void> | void;
  /** The boot journal's record of the last stop (src/startup.ts read it); null or absent: no clean stop. */
  boot?: BootRecord | null;
}

const started = Date.now();

/** Writes identity values that differ from what is stored; the serial number is made once and kept. */
export function writeIdentity(dm: DataModel, id: DeviceIdentity): void {
  const want: Record<string, string> = {
    'Device.RootDataModelVersion': dm.schema.rootDataModelVersion,
    'Device.DeviceInfo.Manufacturer': id.manufacturer,
    'Device.DeviceInfo.ManufacturerOUI': id.manufacturerOUI,
    'Device.DeviceInfo.ModelName': id.modelName,
    'Device.DeviceInfo.ProductClass': id.productClass,
    'Device.DeviceInfo.HardwareVersion': id.hardwareVersion,
    'Device.DeviceInfo.SoftwareVersion': SOFTWARE_VERSION,
  };
  if (dm.getValue('Device.DeviceInfo.SerialNumber') === '') want['Device.DeviceInfo.SerialNumber'] = randomBytes(6).toString('hex').toUpperCase();
  const changed = Object.fromEntries(Object.entries(want).filter(([p, v]) => dm.getValue(p) !== v));
  if (Object.keys(changed).length) dm.set(changed, 'system');
}

export function devicePlugin(id: DeviceIdentity, hooks: DeviceHooks): Plugin {
  // The command's request carries the USP Operate's command_key once the core passes it (CommandFn `commandKey`);
  // any other origin has none.
  type Req = { origin: Origin; commandKey?: string };
  const command = (factoryReset: boolean) => async ({ origin, commandKey }: Req) => {
    const req = { cause: causeOf(factoryReset, origin), commandKey: commandKey ?? '' };
    // After the answer: the caller (a USP controller, the CLI) gets its response before the agent stops.
    setImmediate(() => void (factoryReset ? hooks.factoryReset(req) : hooks.reboot(req)));
    return {};
  };
  return {
    name: 'device',
    register({ dm }) {
      return [
        dm.attach('Device.DeviceInfo.', { read: () => ({ UpTime: String(Math.floor((Date.now() - started) / 1000)) }) }),
        dm.registerCommand('Device.Reboot()', command(false)),
        dm.registerCommand('Device.FactoryReset()', command(true)),
      ];
    },
    start({ dm, log }) {
      // Before writeIdentity: the version stored by the agent that ran before (or the journal's, which survives a
      // factory reset).
      const boot = hooks.boot ?? null;
      const previous = boot?.softwareVersion ?? dm.getValue('Device.DeviceInfo.SoftwareVersion');
      writeIdentity(dm, id);
      const params = bootEvent(boot, previous, SOFTWARE_VERSION);
      log.info({ cause: params.Cause, commandKey: params.CommandKey, firmwareUpdated: params.FirmwareUpdated, cleanStop: boot !== null, stoppedAt: boot?.at }, 'boot');
      dm.emitEvent('Device.Boot!', params);
    },
  };
}
