// Child agent for persist.test.ts: the device and CWMP plug-ins on a SQLite file, pointed at a scripted
// ACS. The parent sends {notify: path} (active notification on) and {set: {path: value}} (a local change,
// origin "web") over IPC and kills it with
// SIGKILL at the moment it chooses.
import pino from 'pino';
import { DataModel, PluginHost } from '../../src/datamodel/index.ts';
import { devicePlugin } from '../../src/device/index.ts';
import { cwmpPlugin } from '../../src/cwmp/index.ts';
import { IDENTITY } from './harness.ts';

const [file, url, crPort] = process.argv.slice(2);
const dm = new DataModel({ file });
const noop = () => {};
const host = new PluginHost(dm, [
  devicePlugin(IDENTITY, { reboot: noop, factoryReset: noop }),
  cwmpPlugin({ connectionRequest: { port: Number(crPort ?? 0) }, factoryDefaults: { url, username: 'acs', password: 'secret' } }, { reboot: noop, factoryReset: noop, downloadsDir: '/tmp' }),
], pino({ level: 'silent' }));
await host.start();
process.on('message', (m: { set?: Record<string, string>; notify?: string }) => {
  if (m.notify) dm.setAttributes([{ path: m.notify, notification: 2 }]);
  if (m.set) dm.set(m.set, 'web');
  process.send?.({ done: true });
});
process.send?.({ ready: true });
