// Issue 4 and 17 acceptance, end to end in namespaces with real Kea (DHCPv6 with option 64, DHCPv4), dnsmasq
// for the AFTR names, two strict AFTR fixtures (RFC 6333 §6-7 as ISC AFTR: private inner sources only, NAT
// per softwire; test/fixtures/aftr) and the agent on the Linux WAN with the bundled forwarder, with both CPUs
// busy (stress-ng) the whole time, as a gateway's are. A LAN host sends UDP at 1 kHz (flow.ts): every return
// to DS-Lite must lose none of it, and nothing may be dropped at the AFTR for a wrong source or reach the ISP
// or inet with the LAN's private source.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { cli } from './cli.ts';
import { FO, startLabAgent, type LabAgent } from './agent.ts';
import { cpuLoad, startFlow, type FlowResult } from './flow.ts';
import { createTopo, POOL, type Topo } from './topo.ts';
import { sleep, waitFor } from '../wait.ts';

let t: Topo;
let load: { stop(): Promise<void> };
before(async () => {
  t = await createTopo('e');
  await t.startKea();
  load = cpuLoad();
});
after(async () => {
  await load?.stop();
  await t?.cleanup();
});

/** The moments the agent switched (its own log, ms epoch), to the given mode. */
function switches(a: LabAgent, to: 'DSLite' | 'DualStack'): { time: number; outageMs: number; aftr: string }[] {
  return a.logs().split('\n').filter((l) => l.includes('"msg":"failover switch"')).map((l) => JSON.parse(l))
    .filter((r) => r.to === to).map((r) => ({ time: r.time, outageMs: r.outageMs, aftr: r.aftr }));
}

/** What a strict AFTR and the ISP side must never see, as counts since `base` (wrong source, leaks). */
async function hygiene(base: { wrong: number; leaked: number }) {
  const wrong = (t.aftrCounters('aftr1').wrong_source ?? 0) + (t.aftrCounters('aftr2').wrong_source ?? 0);
  const l = await t.leaked();
  return { wrong: wrong - base.wrong, leaked: l.isp + l.inet - base.leaked };
}
async function hygieneBase() {
  const h = await hygiene({ wrong: 0, leaked: 0 });
  return { wrong: h.wrong, leaked: h.leaked };
}

/** Every source inet saw is an AFTR's pool address or the gateway's public IPv4: never the LAN's. */
function assertSources(f: FlowResult) {
  const bad = Object.keys(f.sources()).filter((s) => s.startsWith('192.168.') || s.startsWith('192.0.0.'));
  assert.deepEqual(bad, [], `private sources at inet: ${JSON.stringify(f.sources())}`);
}

/** Detector and recovery settings for quick tests, written through the data model. */
async function fast(a: LabAgent, extra: Record<string, string> = {}) {
  await cli(a.socket, { cmd: 'set', values: {
    [`${FO}Detector.2.Interval`]: '50', [`${FO}Detector.2.Timeout`]: '300',
    [`${FO}Detector.3.Interval`]: '200', [`${FO}Detector.3.Timeout`]: '200', [`${FO}Detector.3.FailureThreshold`]: '2',
    [`${FO}RecoveryInterval`]: '1', [`${FO}RecoveryThreshold`]: '2', [`${FO}HoldDownTime`]: '2', ...extra,
  } });
}

const ping4 = (count = 2) => t.tryExec('lan', 'busybox', 'ping', '-c', String(count), '-W', '1', '198.51.100.2');

/** IPv6 from the LAN to inet at 20 Hz while `fn` runs: how many probes went unanswered. */
async function ipv6Lost(fn: () => Promise<void>): Promise<{ sent: number; lost: number }> {
  const p = t.spawn('lan', 'busybox', 'ping', '-6', '-i', '0.05', '2001:db8:e::2');
  let out = '';
  p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  await fn();
  // Keep the flow up for another second, then count every request sent until 250 ms before the stop: the
  // failover window is all in, and a request still in flight when ping stops is not counted as lost.
  await sleep(1000);
  const done = new Promise((r) => p.once('exit', r));
  p.kill('SIGINT');
  await done;
  const m = out.match(/(\d+) packets transmitted, (\d+) packets received/);
  assert.ok(m, out.slice(-300));
  const received = new Set([...out.matchAll(/seq=(\d+) /g)].map((r) => Number(r[1])));
  const sent = Number(m[1]) - 5;
  let lost = 0;
  for (let seq = 0; seq < sent; seq++) if (!received.has(seq)) lost++;
  return { sent, lost };
}

const keaReleases = () => (t.keaLog(4).match(/DHCP4_RELEASE /g) ?? []).length;
const keaAllocs = () => (t.keaLog(4).match(/DHCP4_LEASE_ALLOC/g) ?? []).length;

async function withAgent(name: string, wan: Record<string, unknown>, fn: (a: LabAgent) => Promise<void>) {
  const a = await startLabAgent(t, wan, name);
  try {
    await fn(a);
  } finally {
    await a.stop();
  }
}

test('boot: AFTR-Name by DHCPv6, resolved by DNS, DS-Lite up, the LAN reaches inet over IPv4', async () => {
  await t.startAftr('aftr1');
  await withAgent('boot', {}, async (a) => {
    await a.waitFor(`${FO}Mode`, 'DSLite');
    assert.equal(await a.get(`${FO}CurrentAFTR`), 'aftr.example.net');
    assert.equal(await a.get('Device.DSLite.InterfaceSetting.1.EndpointAddressInUse'), '2001:db8:ff::1');
    assert.equal(await a.get('Device.DSLite.InterfaceSetting.1.Origin'), 'DHCPv6');
    // TR-181 2.18: EndpointName shows the AFTR-Name Kea sent (option 64) while DHCPv6 has the precedence.
    assert.equal(await a.get('Device.DSLite.InterfaceSetting.1.EndpointName'), 'aftr.example.net');
    assert.equal(await a.get('Device.DNS.Client.Server.1.DNSServer'), '2001:db8:5::1');
    assert.match(await a.get('Device.IP.Interface.2.IPv6Address.1.IPAddress'), /^2001:db8:5::1[0-9a-f]{2}$/);
    assert.equal(await ping4(), 0);
    assert.ok(Number(await a.get('Device.IP.Interface.3.Stats.PacketsSent')) >= 0);
  });
});

for (const how of ['killed', 'blackholed'] as const) {
  test(`AFTR ${how}: dual-stack with a Kea lease, IPv4 and IPv6 flow; AFTR back: DS-Lite with 0 lost, then DHCPRELEASE`, async () => {
    await t.startAftr('aftr1');
    // The 'killed' run opts in to the LAN fast path: attached in DS-Lite, detached in dual-stack, attached again.
    await withAgent(`fail-${how}`, how === 'killed' ? { lanFastPath: true } : {}, async (a) => {
      await a.waitFor(`${FO}Mode`, 'DSLite');
      await fast(a);
      const allocs = keaAllocs();
      const releases = keaReleases();
      const base = await hygieneBase();
      const flow = await startFlow(t);
      let failAt = 0;
      let backAt = 0;
      const v6 = await ipv6Lost(async () => {
        await sleep(500);
        failAt = Date.now();
        if (how === 'killed') await t.killAftr('aftr1');
        else await t.blackhole('aftr1', true);
        await a.waitFor(`${FO}Mode`, 'DualStack', 10_000);
        assert.match(await a.get(`${FO}PublicIPv4Address`), /^203\.0\.113\.(1\d|20)$/);
        assert.equal(keaAllocs(), allocs + 1, 'Kea leased the public IPv4');
        assert.equal(await a.get('Device.Routing.Router.1.IPv4Forwarding.1.Interface'), 'Device.IP.Interface.2');
        assert.equal(await ping4(), 0, 'the LAN reaches inet in dual-stack');
        await sleep(500);
        backAt = Date.now();
        if (how === 'killed') await t.startAftr('aftr1');
        else await t.blackhole('aftr1', false);
        await a.waitFor(`${FO}Mode`, 'DSLite', 15_000);
      });
      await sleep(1500);
      const f = await flow.stop();
      assert.equal(v6.lost, 0, `LAN IPv6 lost ${v6.lost} of ${v6.sent}`);
      // Make-before-break back: not one of the LAN's packets lost from the AFTR's return on.
      const [back] = switches(a, 'DSLite').slice(-1);
      assert.ok(back && back.time > backAt, 'the return is in the log');
      assert.equal(f.lostBetween(backAt, back.time + 1500), 0, `lost on the return to DS-Lite (switch at ${back.time})`);
      assertSources(f);
      assert.ok(f.sources()[POOL.aftr1] > 0, `through the AFTR's NAT: ${JSON.stringify(f.sources())}`);
      assert.deepEqual(await hygiene(base), { wrong: 0, leaked: 0 }, 'nothing dropped at the AFTR for a wrong source, nothing leaked');
      // OutageMs: what the LAN host saw, within 100 ms.
      const seen = f.lostBetween(failAt, backAt);
      const recorded = Number(await a.get(`${FO}History.1.OutageMs`));
      assert.ok(Math.abs(recorded - seen) <= 100, `OutageMs ${recorded} vs ${seen} ms seen by the LAN host`);
      // The WAN path stays ready for the grace period (a few seconds), then the address goes back.
      await waitFor('DHCPRELEASE at Kea', async () => keaReleases() === releases + 1, 20_000);
      await a.waitFor(`${FO}PublicIPv4Address`, '');
      assert.equal(await ping4(), 0, 'the LAN reaches inet through DS-Lite again');
      const reason = await a.get(`${FO}History.1.Reason`);
      assert.match(reason, how === 'killed' ? /^ICMPv6Error: / : /^(Silence|Echo): /);
    });
  });
}

test('the AFTR dies again at the moment of the return: back to dual-stack at once on the lease kept, no new DHCP', async () => {
  await t.startAftr('aftr1');
  await withAgent('again', {}, async (a) => {
    await a.waitFor(`${FO}Mode`, 'DSLite');
    await fast(a);
    const flow = await startFlow(t);
    await t.killAftr('aftr1');
    await a.waitFor(`${FO}Mode`, 'DualStack', 10_000);
    const allocs = keaAllocs();
    await t.startAftr('aftr1');
    // Kill it as soon as the gateway is back on it (polled every 10 ms through the CLI).
    await waitFor('the return', async () => (await a.get(`${FO}Mode`)) === 'DSLite', 15_000, 10);
    const killAt = Date.now();
    await t.killAftr('aftr1');
    await a.waitFor(`${FO}Mode`, 'DualStack', 5_000);
    await sleep(1000);
    const f = await flow.stop();
    assert.equal(keaAllocs(), allocs, 'the lease kept through the grace period: no DHCP exchange');
    const gap = f.longestGap(killAt - 200, Date.now());
    assert.ok(gap < 1000, `longest silence at inet ${gap} ms (was 2.5 s)`);
    assertSources(f);
  });
});

// Both DHCPv4 clients: the agent's own (the default) and busybox udhcpc (wan.dhcp4Client 'udhcpc').
for (const dhcp4Client of ['builtin', 'udhcpc'] as const) test(`a second failover within the lease time gets the same public IPv4 from Kea (DHCPv4 client ${dhcp4Client})`, async () => {
  await t.startAftr('aftr1');
  await withAgent(`same-${dhcp4Client}`, { dhcp4Client }, async (a) => {
    await a.waitFor(`${FO}Mode`, 'DSLite');
    await fast(a);
    const releases = keaReleases();
    await t.killAftr('aftr1');
    await a.waitFor(`${FO}Mode`, 'DualStack', 10_000);
    const first = await a.get(`${FO}PublicIPv4Address`);
    await t.startAftr('aftr1');
    await a.waitFor(`${FO}Mode`, 'DSLite', 15_000);
    await waitFor('DHCPRELEASE at Kea', async () => keaReleases() === releases + 1, 20_000);
    await t.killAftr('aftr1');
    await a.waitFor(`${FO}Mode`, 'DualStack', 10_000);
    assert.equal(await a.get(`${FO}PublicIPv4Address`), first);
    await t.startAftr('aftr1');
    await a.waitFor(`${FO}Mode`, 'DSLite', 15_000);
  });
});

test('AFTR absent at boot: dual-stack with a Kea lease', async () => {
  await t.killAftr('aftr1');
  await withAgent('absent', {}, async (a) => {
    await fast(a);
    await a.waitFor(`${FO}Mode`, 'DualStack', 15_000);
    assert.equal(await ping4(), 0);
    assert.match(await a.get(`${FO}PublicIPv4Address`), /^203\.0\.113\./);
  });
  await t.startAftr('aftr1');
});

test('two AFTRs: the first dying moves to the second with no DHCPv4; back, the gateway returns to it with 0 lost', async () => {
  await t.startAftr('aftr1');
  await t.startAftr('aftr2');
  await withAgent('two', {}, async (a) => {
    await a.waitFor(`${FO}Mode`, 'DSLite');
    await fast(a, { [`${FO}BackupAFTRs`]: 'aftr2.example.net' });
    const allocs = keaAllocs();
    const base = await hygieneBase();
    const flow = await startFlow(t);
    const failAt = Date.now();
    await t.killAftr('aftr1');
    await a.waitFor(`${FO}CurrentAFTR`, 'aftr2.example.net', 10_000);
    assert.equal(await a.get(`${FO}Mode`), 'DSLite');
    assert.match(await a.get(`${FO}BackupAFTRSince`), /^20\d\d-/);
    assert.equal(await ping4(), 0);
    assert.equal(keaAllocs(), allocs, 'no DHCPv4 lease');
    assert.equal(await a.get(`${FO}History.1.To`), 'DSLite');
    const backAt = Date.now();
    await t.startAftr('aftr1');
    await a.waitFor(`${FO}CurrentAFTR`, 'aftr.example.net', 15_000);
    await sleep(1500);
    const f = await flow.stop();
    assert.equal(await a.get(`${FO}BackupAFTRSince`), '0001-01-01T00:00:00Z');
    assert.match(await a.get(`${FO}History.2.Reason`), /^Recovered: \d+ good probes of the primary aftr\.example\.net/);
    assert.equal(await a.get(`${FO}History.2.OutageMs`), '0');
    const [back] = switches(a, 'DSLite').filter((s) => s.aftr === 'aftr.example.net').slice(-1);
    assert.equal(f.lostBetween(backAt, back.time + 1500), 0, 'lost on the return to the primary');
    // OutageMs of the move to the backup: what the LAN host saw, within 100 ms (dated from the forwarder's last
    // packet from the primary, read before the forwarder moved to the backup).
    const seen = f.lostBetween(failAt, backAt);
    const recorded = Number(await a.get(`${FO}History.1.OutageMs`));
    assert.ok(Math.abs(recorded - seen) <= 100, `OutageMs ${recorded} vs ${seen} ms seen by the LAN host`);
    assert.ok(f.sources()[POOL.aftr2] > 0 && f.sources()[POOL.aftr1] > 0, JSON.stringify(f.sources()));
    assertSources(f);
    assert.deepEqual(await hygiene(base), { wrong: 0, leaked: 0 });
    assert.equal(keaAllocs(), allocs, 'no DHCPv4 lease');
  });
  await t.killAftr('aftr2');
});

test('a flapping AFTR does not switch more than the hold-down allows; History survives a restart and is logged', async () => {
  await t.startAftr('aftr1');
  let history: string[] = [];
  await withAgent('flap', {}, async (a) => {
    await a.waitFor(`${FO}Mode`, 'DSLite');
    await fast(a, { [`${FO}HoldDownTime`]: '6' });
    const t0 = Date.now();
    while (Date.now() - t0 < 12_000) {
      await t.blackhole('aftr1', true);
      void ping4(2);
      await new Promise((r) => setTimeout(r, 2000));
      await t.blackhole('aftr1', false);
      await new Promise((r) => setTimeout(r, 2000));
    }
    const switches = Number(await a.get(`${FO}SwitchCount`));
    // 12 s of flapping with a 6 s hold-down: out, back at most once, out again at most.
    assert.ok(switches >= 1 && switches <= 3, `switches ${switches}`);
    history = ((await cli(a.socket, { cmd: 'get', paths: [`${FO}History.`] })) as [string, string][]).map(([p, v]) => `${p}=${v}`);
    assert.equal(a.logs().split('\n').filter((l) => l.includes('"msg":"failover switch"')).length, switches);
  });
  await withAgent('flap', {}, async (a) => {
    const again = ((await cli(a.socket, { cmd: 'get', paths: [`${FO}History.`] })) as [string, string][]).map(([p, v]) => `${p}=${v}`);
    assert.deepEqual(again, history);
  });
});
