// The lw4o6 rows of `npm run bench:failover` (issue 21): the lw4o6 lab (test/lw4o6/lab.ts: Kea with the S46
// options, two strict lwAFTR fixtures behind one anycast BR), the agent on the Linux WAN as the lwB4, a LAN
// host sending UDP at 1 kHz, both CPUs busy (the caller's stress-ng). Per trial the primary lwAFTR dies (the
// anycast route moves to the backup with it) and what is measured is the time from its death to LAN IPv4
// flowing again through the backup:
//   lw4o6-icmp:  the backup has no binding and answers ICMPv6 code 5; the gateway provisions again (DHCPv6),
//                the ISP's provisioning installs the new binding (another address and PSID) on the backup;
//   lw4o6-learn: the backup creates the binding from the gateway's data packets; the gateway does nothing.
// Between trials the primary comes back with the binding the gateway holds, and the anycast route with it.
import { cli } from '../test/failover/cli.ts';
import { FO, startLabAgent } from '../test/failover/agent.ts';
import { startFlow } from '../test/failover/flow.ts';
import { createLwLab, type Binding } from '../test/lw4o6/lab.ts';

export type LwKind = 'lw4o6-icmp' | 'lw4o6-learn';
export const LW_KINDS: LwKind[] = ['lw4o6-icmp', 'lw4o6-learn'];
export interface LwTrial { kind: LwKind; n: number; outageMs: number; longestGapMs: number; firstReplyMs: number; reprovisions: number; switches: number }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const LW = `${FO}LW4o6.`;
const BINDINGS: Binding[] = [{ ipv4: '192.0.2.3', psid: 1 }, { ipv4: '192.0.2.4', psid: 2 }];

export async function runLw4o6(kind: LwKind, trials: number): Promise<LwTrial[]> {
  const l = await createLwLab(kind === 'lw4o6-icmp' ? 'bi' : 'bl', { bind: BINDINGS[0] });
  const out: LwTrial[] = [];
  try {
    await l.startLwAftr('aftr1', 'strict');
    await l.startLwAftr('aftr2', kind === 'lw4o6-icmp' ? 'strict' : 'learn');
    await l.prov.install('aftr1');
    const a = await startLabAgent(l.t, {}, `bench-${kind}`);
    try {
      await a.waitFor(`${FO}Mode`, 'LW4o6', 20_000);
      await cli(a.socket, { cmd: 'set', values: { [`${FO}RecoveryInterval`]: '1', [`${FO}RecoveryThreshold`]: '2', [`${FO}HoldDownTime`]: '2' } });
      l.prov.start();
      for (let n = 1; n <= trials; n++) {
        const held = BINDINGS.find((b) => b.ipv4 === l.prov.binding.ipv4)!;
        // The ISP's plan for the backup: the other binding (icmp); the learning backup keeps the address.
        if (kind === 'lw4o6-icmp') await l.prov.offer(BINDINGS[(BINDINGS.indexOf(held) + 1) % BINDINGS.length]);
        const reprovisions = Number(await a.get(`${LW}Reprovisions`));
        const switches = Number(await a.get(`${FO}SwitchCount`));
        const flow = await startFlow(l.t);
        await sleep(1000);
        // The death as the network sees it: from here on the anycast address leads to the backup.
        await l.moveAnycast('aftr2');
        const diedAt = Date.now();
        await l.killLwAftr('aftr1');
        if (kind === 'lw4o6-icmp') await a.waitFor(`${LW}IPv4Address`, l.prov.binding.ipv4, 15_000);
        await sleep(2000);
        const f = await flow.stop();
        const first = f.replies.filter((r) => r.sentAt >= diedAt).sort((x, y) => x.backAt - y.backAt)[0];
        out.push({
          kind, n,
          outageMs: f.lostBetween(diedAt, diedAt + 2000),
          longestGapMs: f.longestGap(diedAt - 100, diedAt + 2000),
          firstReplyMs: first ? first.backAt - diedAt : -1,
          reprovisions: Number(await a.get(`${LW}Reprovisions`)) - reprovisions,
          switches: Number(await a.get(`${FO}SwitchCount`)) - switches,
        });
        console.log(JSON.stringify(out[out.length - 1]));
        // Back to the start: the primary returns knowing the binding the gateway now holds, the anycast route
        // with it; the backup forgets what it learnt or was given.
        await l.startLwAftr('aftr1', 'strict');
        await l.prov.install('aftr1');
        await l.moveAnycast('aftr1');
        await l.aftr.aftr2!.flush();
        await sleep(1500);
      }
    } finally {
      await a.stop();
    }
  } finally {
    await l.cleanup();
  }
  return out;
}
