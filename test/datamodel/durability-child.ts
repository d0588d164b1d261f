// Child for durability.test.ts: N sets of one parameter with the given origin, between two markers on stdout
// that strace shows beside the fsyncs (what the store's setup syncs is outside them).
import { writeSync } from 'node:fs';
import { DataModel } from '../../src/datamodel/index.ts';
import type { Origin } from '../../src/datamodel/tx.ts';

const [file, origin, n] = process.argv.slice(2);
const dm = new DataModel({ file });
writeSync(1, 'begin\n');
for (let i = 0; i < Number(n); i++) dm.set({ 'Device.DeviceInfo.ProvisioningCode': `p${i}` }, origin as Origin);
writeSync(1, 'end\n');
dm.close();
