// miniupnpd as the PCP server of an AFTR in the failover lab (PEERS.md §7): it listens on the AFTR's
// 192.0.0.1 (reached through the softwire) and maps to the external interface gwext, which carries an
// ordinary global-unicast IPv4 inside the sealed namespace because miniupnpd refuses documentation and
// private space (every MAP would be NO_RESOURCES). Removing that address makes it answer NETWORK_FAILURE.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { Topo } from '../failover/topo.ts';

/** Not routed anywhere: the namespace is sealed. */
export const EXT4 = { aftr1: '11.0.0.1', aftr2: '11.0.0.2' } as const;

const NFT = `table inet filter {
  chain forward { type filter hook forward priority 0; policy accept; jump miniupnpd; }
  chain miniupnpd { }
  chain prerouting { type nat hook prerouting priority -100; policy accept; jump prerouting_miniupnpd; }
  chain postrouting { type nat hook postrouting priority 100; policy accept; jump postrouting_miniupnpd; }
  chain prerouting_miniupnpd { }
  chain postrouting_miniupnpd { }
}
`;

export interface Miniupnpd {
  proc: ChildProcess;
  /** Removes (false) or restores (true) gwext's IPv4. */
  external(on: boolean): Promise<void>;
  log(): string;
  stop(): Promise<void>;
}

export async function startMiniupnpd(t: Topo, which: 'aftr1' | 'aftr2', opts: { minLifetime: number }): Promise<Miniupnpd> {
  // veth, not dummy: this kernel has no dummy module. The peer end only keeps the link up.
  await t.exec(which, 'ip', 'link', 'add', 'gwext', 'type', 'veth', 'peer', 'name', 'gwext-p');
  await t.exec(which, 'ip', 'link', 'set', 'gwext', 'up');
  await t.exec(which, 'ip', 'link', 'set', 'gwext-p', 'up');
  const addr = `${EXT4[which]}/24`;
  await t.exec(which, 'ip', 'addr', 'add', addr, 'dev', 'gwext');
  const nft = join(t.dir, `miniupnpd-${which}.nft`);
  writeFileSync(nft, NFT);
  await t.exec(which, 'nft', '-f', nft);
  const conf = join(t.dir, `miniupnpd-${which}.conf`);
  writeFileSync(conf, [
    'ext_ifname=gwext', 'listening_ip=192.0.0.1/29', 'enable_natpmp=yes', 'enable_upnp=no',
    `min_lifetime=${opts.minLifetime}`, 'max_lifetime=86400', 'secure_mode=yes', 'system_uptime=no',
    'uuid=00000000-0000-4000-8000-000000000001', 'allow 1024-65535 192.0.0.0/29 1024-65535', 'deny 0-65535 0.0.0.0/0 0-65535', '',
  ].join('\n'));
  const proc = t.spawn(which, 'miniupnpd', '-d', '-f', conf, '-P', join(t.dir, `miniupnpd-${which}.pid`));
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  for (let i = 0; !out.includes('Listening for NAT-PMP/PCP traffic'); i++) {
    if (proc.exitCode !== null || i > 100) throw new Error(`miniupnpd did not start: ${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    proc,
    async external(on) {
      if (on) await t.exec(which, 'ip', 'addr', 'replace', addr, 'dev', 'gwext');
      else await t.exec(which, 'ip', 'addr', 'flush', 'dev', 'gwext');
    },
    log: () => out,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        const gone = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await gone;
      }
      // Its DNAT rules outlive it (PEERS §7): remove the table and the interface.
      await t.exec(which, 'nft', 'delete', 'table', 'inet', 'filter').catch(() => undefined);
      await t.exec(which, 'ip', 'link', 'del', 'gwext').catch(() => undefined);
    },
  };
}
