// Issue 4 acceptance, end to end in namespaces with real Kea (DHCPv6 with option 64, DHCPv4), dnsmasq for
// the AFTR names, two AFTR fixtures and the agent on the Linux WAN with the bundled forwarder.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { cli } from './cli.ts';
import { FO, startLabAgent, type LabAgent } from './agent.ts';
import { createTopo, type Topo } from './topo.ts';
import { sleep } from '../wait.ts';

let t: Topo;
before(async () => {
  t = await createTopo('e');
  await t.startKea();
});
after(() => t?.cleanup());

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
    assert.equal(await a.get('Device.DNS.Client.Server.1.DNSServer'), '2001:db8:5::1');
    assert.match(await a.get('Device.IP.Interface.2.IPv6Address.1.IPAddress'), /^2001:db8:5::1[0-9a-f]{2}$/);
    assert.equal(await ping4(), 0);
    assert.ok(Number(await a.get('Device.IP.Interface.3.Stats.PacketsSent')) >= 0);
  });
});

for (const how of ['killed', 'blackholed'] as const) {
  test(`AFTR ${how}: dual-stack with a Kea lease, IPv4 and IPv6 flow; AFTR back: DS-Lite and DHCPRELEASE`, async () => {
    await t.startAftr('aftr1');
    // The 'killed' run opts in to the LAN fast path: attached in DS-Lite, detached in dual-stack, attached again.
    await withAgent(`fail-${how}`, how === 'killed' ? { lanFastPath: true } : {}, async (a) => {
      await a.waitFor(`${FO}Mode`, 'DSLite');
      await fast(a);
      const allocs = keaAllocs();
      const releases = keaReleases();
      const v6 = await ipv6Lost(async () => {
        if (how === 'killed') await t.killAftr('aftr1');
        else await t.blackhole('aftr1', true);
        // Traffic for the Silence detector (and the user's view): the LAN keeps trying.
        void ping4(3);
        await a.waitFor(`${FO}Mode`, 'DualStack', 10_000);
        assert.match(await a.get(`${FO}PublicIPv4Address`), /^203\.0\.113\.(1\d|20)$/);
        assert.equal(keaAllocs(), allocs + 1, 'Kea leased the public IPv4');
        assert.equal(await a.get('Device.Routing.Router.1.IPv4Forwarding.1.Interface'), 'Device.IP.Interface.2');
        assert.equal(await ping4(), 0, 'the LAN reaches inet in dual-stack');
        if (how === 'killed') await t.startAftr('aftr1');
        else await t.blackhole('aftr1', false);
        await a.waitFor(`${FO}Mode`, 'DSLite', 15_000);
      });
      assert.equal(v6.lost, 0, `LAN IPv6 lost ${v6.lost} of ${v6.sent}`);
      await a.waitFor(`${FO}PublicIPv4Address`, '');
      assert.equal(keaReleases(), releases + 1, 'Kea saw the DHCPRELEASE');
      assert.equal(await ping4(), 0, 'the LAN reaches inet through DS-Lite again');
      const reason = await a.get(`${FO}History.1.Reason`);
      assert.match(reason, how === 'killed' ? /^ICMPv6Error: / : /^(Silence|Echo): /);
    });
  });
}

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

test('two AFTRs: the first dying moves to the second, with no dual-stack and no DHCPv4 lease', async () => {
  await t.startAftr('aftr1');
  await t.startAftr('aftr2');
  await withAgent('two', {}, async (a) => {
    await a.waitFor(`${FO}Mode`, 'DSLite');
    await fast(a, { [`${FO}BackupAFTRs`]: 'aftr2.example.net' });
    const allocs = keaAllocs();
    await t.killAftr('aftr1');
    void ping4(3);
    await a.waitFor(`${FO}CurrentAFTR`, 'aftr2.example.net', 10_000);
    assert.equal(await a.get(`${FO}Mode`), 'DSLite');
    assert.equal(await ping4(), 0);
    assert.equal(keaAllocs(), allocs, 'no DHCPv4 lease');
    assert.equal(await a.get(`${FO}History.1.To`), 'DSLite');
  });
  await t.killAftr('aftr2');
  await t.startAftr('aftr1');
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
