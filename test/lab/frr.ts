// FRR's zebra and bgpd (Debian frr 8.4) in one of a lab's namespaces, as a BGP speaker: the real peer that
// announces what a gateway exports (issue 23: the NAT46 identifier spaces) and installs what it learns in the
// kernel. Both run in the foreground under the lab's spawn (tracked, killed at cleanup), as user frr: their
// directory is frr's and its parents traversable (PEERS.md §6). No /etc/frr: every file is under `dir`.
import { execFileSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface BgpSpeaker {
  /** One vtysh command's output ("show bgp ipv6 unicast json", ...). */
  vtysh(cmd: string): Promise<string>;
}

export interface BgpLab {
  dir: string;
  spawn(cmd: string, ...args: string[]): ChildProcess;
  exec(cmd: string, ...args: string[]): Promise<string>;
}

/**
 * A bgpd.conf with one eBGP IPv6 neighbour, sessions and updates without delays (a lab, not an Internet peer):
 * `family` lines go into its IPv6 unicast address family, `tail` after the router block (prefix-lists, route-maps).
 */
export function bgpdConf(o: { as: number; routerId: string; neighbor: string; neighborAs: number; family?: string[]; tail?: string }): string {
  const n = o.neighbor;
  return [
    `router bgp ${o.as}`, ` bgp router-id ${o.routerId}`, ' no bgp ebgp-requires-policy', ' no bgp default ipv4-unicast',
    ` neighbor ${n} remote-as ${o.neighborAs}`, ` neighbor ${n} timers connect 1`, ` neighbor ${n} advertisement-interval 0`,
    ' address-family ipv6 unicast', ...(o.family ?? []).map((l) => `  ${l}`), `  neighbor ${n} activate`, ' exit-address-family', '!',
    o.tail ?? '', '',
  ].join('\n');
}

/** zebra, then bgpd with `bgpdConf`; resolves once bgpd's vty answers. */
export async function startBgp(lab: BgpLab, name: string, bgpdConf: string): Promise<BgpSpeaker> {
  const dir = join(lab.dir, `frr-${name}`);
  chmodSync(lab.dir, 0o755);
  mkdirSync(dir);
  execFileSync('chown', ['frr:frr', dir]);
  const conf = (file: string, text: string) => {
    writeFileSync(join(dir, file), text);
    chmodSync(join(dir, file), 0o644);
    return join(dir, file);
  };
  const zserv = join(dir, 'zserv.api');
  const common = ['-z', zserv, '--vty_socket', dir];
  const procs: { name: string; proc: ChildProcess; out: string }[] = [];
  const start = (daemon: string, ...args: string[]) => {
    const p = { name: daemon, proc: lab.spawn(`/usr/lib/frr/${daemon}`, ...args), out: '' };
    p.proc.stdout!.on('data', (d: Buffer) => (p.out += d.toString()));
    p.proc.stderr!.on('data', (d: Buffer) => (p.out += d.toString()));
    procs.push(p);
  };
  const vtysh = (cmd: string) => lab.exec('vtysh', '--vty_socket', dir, '-c', cmd);
  const ready = async (daemon: string, cmd: string) => {
    for (let i = 0; ; i++) {
      const dead = procs.find((p) => p.proc.exitCode !== null);
      if (dead) throw new Error(`${dead.name} exited: ${dead.out}`);
      if (await vtysh(cmd).then(() => true, () => false)) return;
      if (i > 200) throw new Error(`${daemon}'s vty not ready`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  start('zebra', '-f', conf('zebra.conf', ''), '-i', join(dir, 'zebra.pid'), ...common, '--log', `file:${join(dir, 'zebra.log')}`);
  await ready('zebra', 'show ipv6 route');
  start('bgpd', '-f', conf('bgpd.conf', bgpdConf), '-i', join(dir, 'bgpd.pid'), ...common, '-p', '179', '--log', `file:${join(dir, 'bgpd.log')}`);
  await ready('bgpd', 'show bgp summary');
  return { vtysh };
}
