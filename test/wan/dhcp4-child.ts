// Runs src/wan/dhcp4.ts inside a network namespace for test/wan/dhcp4.test.ts. argv: interface, then a JSON
// array of steps: ['acquire', timeoutMs] | ['release'] | ['renew'] | ['wait', ms] | ['waitLease', ms] (the
// next lease event). The leased address is applied with rtnetlink as src/wan/linux.ts does. stdout: one JSON
// line per step result and per lease event ({ event: 'lease', lease }); the last line is { done: true }.
import { readFileSync } from 'node:fs';
import pino from 'pino';
import { Dhcp4Client } from '../../src/wan/dhcp4.ts';
import { addrDelete, addrReplace } from '../../src/wan/netlink.ts';
import { maskLen } from '../../src/wan/linux.ts';
import type { Lease4 } from '../../src/wan/platform.ts';

const [iface, script] = process.argv.slice(2);
const out = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);
const mac = readFileSync(`/sys/class/net/${iface}/address`, 'utf8').trim();
const client = new Dhcp4Client({
  iface, mac, log: pino({ level: 'silent' }), retransmitMs: 500,
  apply: async (l: Lease4 | null, old: Lease4 | null) => {
    if (old && (!l || old.address !== l.address)) addrDelete({ dev: iface, address: old.address, prefixLen: maskLen(old.subnetMask) });
    if (l) addrReplace({ dev: iface, address: l.address, prefixLen: maskLen(l.subnetMask) });
  },
});
let next: ((l: Lease4 | null) => void) | null = null;
client.onLease((lease) => { out({ event: 'lease', lease, state: client.state() }); next?.(lease); next = null; });
await client.start();
for (const [step, arg] of JSON.parse(script) as [string, number?][]) {
  const t0 = Date.now();
  try {
    if (step === 'acquire') out({ step, lease: await client.acquire(arg!), ms: Date.now() - t0 });
    else if (step === 'release') { await client.release(); out({ step, state: client.state(), lease: client.lease() }); }
    else if (step === 'renew') { await client.renew(); out({ step, lease: client.lease(), ms: Date.now() - t0 }); }
    else if (step === 'wait') { await new Promise((r) => setTimeout(r, arg)); out({ step }); }
    else if (step === 'waitLease') {
      const lease = await new Promise<Lease4 | null>((res, rej) => { next = res; setTimeout(() => rej(new Error(`no lease event within ${arg} ms`)), arg).unref(); });
      out({ step, lease, ms: Date.now() - t0 });
    }
  } catch (err) {
    out({ step, error: (err as Error).message, state: client.state(), ms: Date.now() - t0 });
  }
}
await client.stop();
out({ done: true });
process.exit(0);
