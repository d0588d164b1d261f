// FRR bfdd on the AFTR side of the failover lab (PEERS.md §6): one multihop peer, the gateway's WAN
// address, with the given timers. The AFTR address 2001:db8:ff::1 belongs to the AFTR fixture's tun, so
// BFD to it is steered to bfdd's local address on the AFTR node by NAT (DNAT in, SNAT out): the gateway
// talks to the AFTR address exactly as it would to a real AFTR.
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { AFTR, type Topo } from '../failover/topo.ts';

export const B4_WAN = '2001:db8:5::2';
const LOCAL = { aftr1: '2001:db8:a1::2', aftr2: '2001:db8:a2::2' } as const;

export interface Bfdd {
  dir: string;
  proc: ChildProcess;
  /** bfdd's view of the peer ("up", "down", ...) */
  peerStatus(): Promise<string>;
  /** Drops UDP 4784 both ways in the AFTR namespace (PEERS §6), or lifts the block. */
  block(on: boolean): Promise<void>;
  log(): string;
  stop(): Promise<void>;
}

/**
 * `opts.fifo`: run bfdd under SCHED_FIFO at this priority. The load tests do: bfdd stands for the AFTR, another
 * machine, which the CPU load put on the gateway does not slow down.
 */
export async function startBfdd(t: Topo, which: 'aftr1' | 'aftr2', timers: { tx: number; rx: number; mult: number }, name: string, opts: { fifo?: number } = {}): Promise<Bfdd> {
  const dir = join(t.dir, `bfdd-${name}`);
  chmodSync(t.dir, 0o755); // bfdd runs as frr: its directories must be traversable and its own
  mkdirSync(dir);
  execFileSync('chown', ['frr:frr', dir]);
  const conf = join(dir, 'bfdd.conf');
  writeFileSync(conf, [
    'bfd',
    ` peer ${B4_WAN} multihop local-address ${LOCAL[which]}`,
    `  transmit-interval ${timers.tx}`, `  receive-interval ${timers.rx}`, `  detect-multiplier ${timers.mult}`,
    ' !', '!', '',
  ].join('\n'));
  chmodSync(conf, 0o644);
  await t.exec(which, 'nft', `add table ip6 bfdnat; add chain ip6 bfdnat pre { type nat hook prerouting priority dstnat; }; add chain ip6 bfdnat post { type nat hook postrouting priority srcnat; }; add rule ip6 bfdnat pre ip6 daddr ${AFTR[which]} udp dport 4784 dnat to ${LOCAL[which]}; add rule ip6 bfdnat post ip6 saddr ${LOCAL[which]} udp dport 4784 snat to ${AFTR[which]}`);
  const logFile = join(dir, 'bfdd.log');
  const argv = ['/usr/lib/frr/bfdd', '-f', conf, '-i', join(dir, 'bfdd.pid'), '-P', '0', '--vty_socket', dir, '--bfdctl', join(dir, 'bfdd.sock'), '--log', `file:${logFile}`];
  const [cmd, ...args] = opts.fifo ? ['chrt', '--fifo', String(opts.fifo), ...argv] : argv;
  const proc = t.spawn(which, cmd, ...args);
  let out = '';
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const vtysh = () => t.exec(which, 'vtysh', '--vty_socket', dir, '-c', 'show bfd peers json');
  // Ready when the vty answers.
  for (let i = 0; ; i++) {
    if (proc.exitCode !== null) throw new Error(`bfdd exited: ${out}`);
    if (await vtysh().then(() => true, () => false)) break;
    if (i > 100) throw new Error(`bfdd vty not ready: ${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  let blocked = false;
  const api: Bfdd = {
    dir, proc,
    async peerStatus() {
      const peers = JSON.parse(await vtysh()) as { peer: string; status: string }[];
      return peers.find((p) => p.peer === B4_WAN)?.status ?? 'absent';
    },
    async block(on) {
      if (on === blocked) return;
      blocked = on;
      if (on) await t.exec(which, 'nft', 'add table inet bpblk; add chain inet bpblk in { type filter hook input priority 0; }; add chain inet bpblk out { type filter hook output priority 0; }; add rule inet bpblk in udp dport 4784 drop; add rule inet bpblk out udp dport 4784 drop');
      else await t.exec(which, 'nft', 'delete', 'table', 'inet', 'bpblk');
    },
    log: () => { try { return readFileSync(logFile, 'utf8'); } catch { return ''; } },
    async stop() {
      if (blocked) await api.block(false);
      await t.exec(which, 'nft', 'delete', 'table', 'ip6', 'bfdnat').catch(() => undefined);
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const gone = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await gone;
    },
  };
  return api;
}
