// Issue 23 with the whole agent on the Linux WAN (the failover lab, test/failover/topo.ts, with Kea as the ISP's
// DHCP and FRR's bgpd as the ISP's BGP speaker), where e2e.test.ts and adoption.test.ts run bare forwarders:
//   - NAT46 enabled through the data model (the CLI socket) on a gateway in dual-stack: the failover policy
//     stands aside (Failover.Mode NAT46, DHCPRELEASE at Kea), the Linux platform starts the forwarder in mode
//     nat46 and routes this gateway's identifier space and hand-off address into its tun;
//   - the gateway's own bgpd announces what the agent routed, with the configuration ARCHITECTURE.md documents
//     (redistribute kernel, filtered to the NAT46 prefix and the hand-off range), and the ISP's bgpd installs it:
//     a LAN host's ping to an IPv4 address goes out translated and its reply comes back on that route;
//   - a PeerDown adoption: while the peer's hand-off address answers, Standby and nothing announced; when it stops,
//     Active and the adopted space announced; when it answers again, Standby and withdrawn;
//   - NAT46 disabled: the spaces withdrawn, the failover takes over (DS-Lite disabled: dual-stack, a Kea lease).
import assert from 'node:assert/strict';
import { after, before, test, type TestContext } from 'node:test';
import { cli } from '../failover/cli.ts';
import { FO, startLabAgent, type LabAgent } from '../failover/agent.ts';
import { createTopo, type Topo } from '../failover/topo.ts';
import { bgpdConf, startBgp, type BgpSpeaker } from '../lab/frr.ts';
import { waitFor } from '../wait.ts';

const N = 'Device.X_TWINSTACK-ORG_NAT46.';
const LOCAL = '2001:db8:ff00::1';
const PEER = '2001:db8:ff00::7';
/** prefix 2001:db8:4600::/40 | tenant 0x2a | gateway ID: the /64 each gateway exports. */
const space = (gw: number) => `2001:db8:462a:${gw.toString(16)}::/64`;
/** inet's IPv4, as the LAN reaches it through the translator: DestinationPrefix | 198.51.100.2 (RFC 6052 /96). */
const SERVER4 = '198.51.100.2';
const SERVER6 = '2001:db8:6464::c633:6402';
/** The LAN host's IPv6 address as the server sees it: prefix | tenant | 1 | 192.168.1.2 (topo.ts LAN4.lan). */
const LAN6 = '2001:db8:462a:1::c0a8:102';

// The gateway's BGP speaker: it announces the kernel routes the agent adds for NAT46 (its identifier spaces, the
// adopted ones while in force, and its hand-off address) and nothing else of its kernel table.
const GATEWAY_BGPD = bgpdConf({
  as: 64512, routerId: '192.0.2.2', neighbor: '2001:db8:5::1', neighborAs: 64500, family: ['redistribute kernel route-map NAT46-EXPORT'],
  tail: `ipv6 prefix-list NAT46-EXPORT seq 5 permit 2001:db8:4600::/40 ge 41 le 96
ipv6 prefix-list NAT46-EXPORT seq 10 permit 2001:db8:ff00::/64 ge 128
route-map NAT46-EXPORT permit 10
 match ipv6 address prefix-list NAT46-EXPORT
!`,
});
const ISP_BGPD = bgpdConf({ as: 64500, routerId: '192.0.2.1', neighbor: '2001:db8:5::2', neighborAs: 64512 });

let t: Topo;
let agent: LabAgent;
let ispBgp: BgpSpeaker;
before(async () => {
  t = await createTopo('a', 'n4');
  await t.startKea();
  await t.startAftr('aftr1');
  // inet is the IPv6 server (its address in the /96) and, on its lo, the peer gateway's hand-off address, which
  // its kernel answers as a live translator would; isp routes both there.
  await t.exec('inet', 'ip', '-6', 'addr', 'add', `${SERVER6}/128`, 'dev', 'lo');
  await t.exec('inet', 'ip', '-6', 'addr', 'add', `${PEER}/128`, 'dev', 'lo');
  await t.exec('isp', 'ip', '-6', 'route', 'add', '2001:db8:6464::/96', 'via', '2001:db8:e::2');
  await t.exec('isp', 'ip', '-6', 'route', 'add', `${PEER}/128`, 'via', '2001:db8:e::2');
  // inet counts what the server gets from the LAN host's translated address.
  await t.exec('inet', 'nft', `add table ip6 srv; add counter ip6 srv lan; add chain ip6 srv in { type filter hook input priority 0; }; add rule ip6 srv in ip6 saddr ${LAN6} ip6 daddr ${SERVER6} counter name lan`);
  const bgp = (role: 'cpe' | 'isp') => ({ dir: t.dir, spawn: (cmd: string, ...a: string[]) => t.spawn(role, cmd, ...a), exec: (cmd: string, ...a: string[]) => t.exec(role, cmd, ...a) });
  await startBgp(bgp('cpe'), 'gw', GATEWAY_BGPD);
  ispBgp = await startBgp(bgp('isp'), 'isp', ISP_BGPD);
  agent = await startLabAgent(t, {}, 'agent', { nat46: true });
});
after(async () => {
  await agent?.stop();
  await t?.cleanup();
});

const keaLog = (what: RegExp) => (t.keaLog(4).match(what) ?? []).length;
/** isp's kernel route for `dst`, learnt by BGP from the gateway ('' when there is none). */
const ispRoute = async (dst: string) => (await t.exec('isp', 'ip', '-6', 'route', 'show', 'exact', dst)).trim();
const learnt = async (dst: string) => /proto bgp/.test(await ispRoute(dst)) && /dev isp-cpe/.test(await ispRoute(dst));
const served = async () => Number(/packets (\d+)/.exec(await t.exec('inet', 'nft', 'list', 'counter', 'ip6', 'srv', 'lan'))![1]);

test('the whole agent on Linux: NAT46 takes IPv4 from the failover (DHCPRELEASE at Kea), its spaces announced by FRR, a peer failure adopted and announced, then given back', { timeout: 180_000 }, async (tc: TestContext) => {
  await agent.waitFor(`${FO}Mode`, 'DSLite', 30_000);
  // Dual-stack first: the AFTR dies, the gateway takes a public address from Kea.
  await t.killAftr('aftr1');
  await agent.waitFor(`${FO}Mode`, 'DualStack', 30_000);
  assert.notEqual(await agent.get(`${FO}PublicIPv4Address`), '');
  const releases = keaLog(/DHCP4_RELEASE /g);

  // The operator's configuration, in the order an ACS would send it: the rows, then everything else in one Set.
  await cli(agent.socket, { cmd: 'add', table: `${N}Peer.`, values: { Enable: 'true', GatewayID: '7', Address: PEER } });
  await cli(agent.socket, { cmd: 'add', table: `${N}Adopted.`, values: { Enable: 'true', GatewayID: '7', Clients: '192.168.7.0/24', Activation: 'PeerDown' } });
  await cli(agent.socket, {
    cmd: 'set', values: {
      'Device.DSLite.Enable': 'false', [`${N}Prefix`]: '2001:db8:4600::/40', [`${N}TenantBits`]: '8', [`${N}GatewayBits`]: '16',
      [`${N}TenantID`]: '42', [`${N}GatewayID`]: '1', [`${N}DestinationPrefix`]: '2001:db8:6464::/96', [`${N}LocalAddress`]: LOCAL,
      [`${N}PeerProbeInterval`]: '200', [`${N}PeerFailureThreshold`]: '3', [`${N}PeerRecoveryThreshold`]: '3', [`${N}Enable`]: 'true',
    },
  });
  await agent.waitFor(`${N}Status`, 'Enabled', 20_000);
  await agent.waitFor(`${FO}Mode`, 'NAT46', 20_000);
  assert.equal(await agent.get(`${FO}PublicIPv4Address`), '');
  await waitFor('DHCPRELEASE at Kea', async () => keaLog(/DHCP4_RELEASE /g) === releases + 1, 20_000);
  assert.equal(await agent.get(`${N}ExportedRoute`), space(1));

  // FRR: the ISP learns this gateway's space and hand-off address from the gateway's bgpd, and nothing else.
  await waitFor("isp's BGP routes to the gateway's space and hand-off address", async () => (await learnt(space(1))) && learnt(`${LOCAL}/128`), 30_000);
  const fromGateway = JSON.parse(await ispBgp.vtysh('show bgp ipv6 unicast json')) as { routes: Record<string, unknown> };
  assert.deepEqual(Object.keys(fromGateway.routes).sort(), [space(1), `${LOCAL}/128`].sort(), 'the gateway announces exactly its NAT46 routes');

  // The LAN's IPv4 through the translator: ping 198.51.100.2 reaches the IPv6 server from prefix | 42 | 1 | 192.168.1.2
  // and the replies come back over the route BGP installed.
  const before = await served();
  const ping = await t.exec('lan', 'ping', '-n', '-c', '3', '-i', '0.2', '-W', '2', SERVER4).catch((e: { stdout?: string }) => e.stdout ?? String(e));
  assert.match(ping, /3 packets transmitted, 3 received/, ping);
  assert.equal(await served() - before, 3, `the server got the three requests from ${LAN6}`);

  // The peer answers: Up, the adoption prepared (Standby), its space not announced.
  const peer = `${N}Peer.1.`;
  const adoption = `${N}Adopted.1.`;
  await agent.waitFor(`${peer}Status`, 'Up', 10_000);
  assert.equal(await agent.get(`${adoption}Status`), 'Standby');
  assert.equal(await ispRoute(space(7)), '');

  // The peer goes away (its hand-off address stops answering): Down, adopted, its space announced.
  await t.exec('inet', 'ip', '-6', 'addr', 'del', `${PEER}/128`, 'dev', 'lo');
  const adoptedIn = await agent.waitFor(`${adoption}Status`, 'Active', 10_000);
  tc.diagnostic(`the peer found Down and adopted ${adoptedIn} ms after its address went (3 probes x 200 ms)`);
  assert.equal(await agent.get(`${peer}Status`), 'Down');
  assert.equal(await agent.get(`${adoption}ExportedRoute`), space(7));
  await waitFor("isp's BGP route to the adopted space", () => learnt(space(7)), 30_000);

  // Back: Up after three answers, the adoption given back, the route withdrawn.
  await t.exec('inet', 'ip', '-6', 'addr', 'add', `${PEER}/128`, 'dev', 'lo');
  await agent.waitFor(`${adoption}Status`, 'Standby', 10_000);
  assert.equal(await agent.get(`${adoption}ExportedRoute`), '');
  await waitFor('the adopted space withdrawn', async () => (await ispRoute(space(7))) === '', 30_000);
  assert.ok(await learnt(space(1)), 'its own space still announced');

  // NAT46 off: its routes withdrawn; the failover takes over (DS-Lite disabled, the AFTR dead: dual-stack, a new lease).
  const allocs = keaLog(/DHCP4_LEASE_ALLOC/g);
  await cli(agent.socket, { cmd: 'set', values: { [`${N}Enable`]: 'false' } });
  await agent.waitFor(`${FO}Mode`, 'DualStack', 30_000);
  await waitFor('the spaces withdrawn', async () => (await ispRoute(space(1))) === '' && (await ispRoute(`${LOCAL}/128`)) === '', 30_000);
  await waitFor('a new lease from Kea', async () => keaLog(/DHCP4_LEASE_ALLOC/g) > allocs, 20_000);
  const history = await cli(agent.socket, { cmd: 'get', paths: [`${FO}History.`] }) as [string, string][];
  const rows = Object.fromEntries(history);
  const transitions = Object.keys(rows).filter((p) => p.endsWith('.From')).map((p) => `${rows[p]}->${rows[p.replace(/From$/, 'To')]}`);
  assert.deepEqual(transitions.slice(-2), ['DualStack->NAT46', 'NAT46->DualStack']);
});
