// The device itself: Device.RootDataModelVersion and Device.DeviceInfo identity written once at boot
// (system transaction), live UpTime through a read handler, and the Reboot()/FactoryReset() commands.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { DataModel, Plugin } from '../datamodel/index.ts';

const pkg = JSON.parse(readFileSync(join(dirname(new URL(import.meta.url).pathname), '../../package.json'), 'utf8')) as { version: string };

export interface DeviceIdentity {
  manufacturer: string;
  manufacturerOUI: string;
  modelName: string;
  productClass: string;
  hardwareVersion: string;
}

export interface DeviceHooks {
  reboot(): Promise<void> | void;
  factoryReset(): Promise<void> | void;
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
    'Device.DeviceInfo.SoftwareVersion': pkg.version,
  };
  if (dm.getValue('Device.DeviceInfo.SerialNumber') === '') want['Device.DeviceInfo.SerialNumber'] = randomBytes(6).toString('hex').toUpperCase();
  const changed = Object.fromEntries(Object.entries(want).filter(([p, v]) => dm.getValue(p) !== v));
  if (Object.keys(changed).length) dm.set(changed, 'system');
}

export function devicePlugin(id: DeviceIdentity, hooks: DeviceHooks): Plugin {
  return {
    name: 'device',
    register({ dm }) {
      return [
        dm.attach('Device.DeviceInfo.', { read: () => ({ UpTime: String(Math.floor((Date.now() - started) / 1000)) }) }),
        dm.registerCommand('Device.Reboot()', async () => { setImmediate(() => void hooks.reboot()); return {}; }),
        dm.registerCommand('Device.FactoryReset()', async () => { setImmediate(() => void hooks.factoryReset()); return {}; }),
      ];
    },
    start({ dm }) {
      writeIdentity(dm, id);
      dm.emitEvent('Device.Boot!', { CommandKey: '', Cause: 'LocalReboot', FirmwareUpdated: 'false', ParameterMap: '{}' });
    },
  };
}
