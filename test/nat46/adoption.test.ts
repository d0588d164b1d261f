// Issue 23, "a gateway killed and adopted", end to end in the nat46 lab (lab.ts): gw2 runs the agent's NAT46
// controller (src/dslite/nat46.ts) with a PeerDown adoption of gateway ID 1, prepared and not in force while gw1's
// translator answers gw2's probes (ICMPv6 echo to its hand-off address, native/nat46.cc). gw1's forwarder dies
// (SIGKILL); gw2's probes go unanswered, and after PeerFailureThreshold of them gw2 adopts gateway ID 1 for gw1's
// clients by itself (Nat46Config.adopted) and names gw1's identifier space to export. Then the two steps outside
// the translator: the core's route of that space moves to gw2 (what gw2's BGP speaker does once it exports it)
// and gw1's LAN is re-homed on gw2 (an L2 failover). The client's
// long-lived TCP connection and UDP stream, opened through gw1, go on through gw2 with the same IPv6 source at the
// server: the address is prefix | tenant | gateway ID | client IPv4, so keeping the ID keeps the address, and the
// translation being stateless (RFC 7915) there is nothing else to move. The firewall's flows are rebuilt at gw2
// by the client's next packets (a flow is opened by what a client sends, nat46.h).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Nat46Report, Nat46Settings } from '../../src/dslite/nat46-model.ts';
import type { Counters } from '../../src/forwarder/types.ts';
import { waitFor } from '../wait.ts';
import type { Seen, Stream } from './gateway.ts';
import { client4, gatewayConfig, lan4, nat46Address, Nat46Lab, PORT, SERVER4, space, TENANT, TUN } from './lab.ts';

let lab: Nat46Lab;
before(async () => {
  lab = await Nat46Lab.create('a');
});
after(async () => {
  await lab?.cleanup();
});

const ME6 = nat46Address(TENANT, 1, client4(1));
const seq = (r: Seen) => Number(r.data.split(' ')[1]);

/** gw2's data-model settings: its own forwarder configuration, gateway ID 1 adopted for gw1's LAN when gw1 is Down. */
function watchSettings(): Nat46Settings {
  const config = gatewayConfig(2, { adopted: [{ gatewayId: 1, clients: lan4(1) }] }).nat46!;
  const N = 'Device.X_TWINSTACK-ORG_NAT46.';
  return {
    enable: true, config, peerRows: (config.peers ?? []).map((_, i) => `${N}Peer.${i + 1}.`), adoptedRows: [`${N}Adopted.1.`], activation: ['PeerDown'],
    liveness: { intervalMs: 200, failures: 3, recoveries: 5 },
  };
}

test('adoption on peer failure: gw1 killed, gw2 adopts gateway ID 1 by itself, its LAN re-homed: TCP and UDP resume from the same IPv6 source at the server', { timeout: 90_000 }, async (t) => {
  // gw2 watches its peers; gw1 and gw3 answer: both Up, the adoption in Standby, nothing adopted in the forwarder.
  const PEER1 = 'Device.X_TWINSTACK-ORG_NAT46.Peer.1.';
  const ADOPTED = 'Device.X_TWINSTACK-ORG_NAT46.Adopted.1.';
  await lab.gw[2].call('watch', { settings: watchSettings() });
  const report = () => lab.gw[2].call<Nat46Report>('watchStatus');
  await waitFor('gw2 sees gw1 and gw3 Up', async () => Object.values((await report()).peers).every((s) => s === 'Up') && (await report()), 10_000);
  assert.deepEqual((await report()).adopted, { [ADOPTED]: { status: 'Standby', exportedRoute: '' } });
  assert.deepEqual((await lab.gw[2].call<{ adopted: unknown[] }>('config')).adopted, [], 'prepared, not in force');
  assert.ok((await lab.counters(1)).echoAnswered > 0, "gw1's translator answered gw2's probes");

  const c1 = await lab.client(1);
  // Opened through gw1: one TCP connection kept for the whole test and a UDP stream (one socket, one port).
  const tcp = await c1.call<{ localPort: number }>('tcpOpen', { name: 'long', to: SERVER4, port: PORT });
  assert.deepEqual(await c1.call('tcpRound', { name: 'long', bytes: 4000, tag: 'via-gw1' }), { equal: true }, 'TCP through gw1');
  const { localPort } = await c1.call<{ localPort: number }>('udpStream', { name: 's', to: SERVER4, port: PORT, intervalMs: 20 });
  t.after(() => c1.alive && c1.call('streamStop', { name: 's' }));
  const stream = () => c1.call<Stream>('streamState', { name: 's' });
  await waitFor('the UDP stream flowing through gw1', async () => (await stream()).received.length >= 5, 10_000);
  const streamRows = async () => (await lab.srv.call<Seen[]>('seen')).filter((r) => r.proto === 'udp' && r.fromPort === localPort);
  assert.deepEqual([...new Set((await streamRows()).map((r) => r.from))], [ME6], 'the stream at the server, through gw1');

  // gw1 dies: its process killed by pid, so the kernel closes its tun (and the routes through it) at once.
  const killedAt = Date.now();
  await lab.gw[1].kill('SIGKILL');
  await waitFor("gw1's tun gone", async () => (await lab.tryExec('gw1', 'ip', 'link', 'show', TUN)).code !== 0, 10_000);
  const lastBefore = Math.max(...(await streamRows()).map(seq));

  // gw2 finds gw1 Down (three probes of 200 ms unanswered) and adopts gateway ID 1 itself. The adoption comes
  // before the LAN: a client of gw1 that reached gw2 first would leave with gw2's own ID (as any client outside
  // the adopted prefixes, nat46.h), an address the server has never seen. Until the LAN arrives, what gw2 gets
  // for ID 1 matches no flow there and is dropped. gw1 stays gw2's peer: an adopted ID is never handed off.
  const before2: Counters = await lab.counters(2);
  const adopted = await waitFor('gw2 adopting gateway ID 1', async () => {
    const r = await report();
    return r.adopted[ADOPTED]?.status === 'Active' && r;
  }, 10_000);
  const detectedAt = Date.now();
  assert.equal(adopted.peers[PEER1], 'Down');
  assert.equal(adopted.adopted[ADOPTED].exportedRoute, space(1), "gw1's identifier space, for gw2's BGP speaker to export");
  assert.deepEqual((await lab.gw[2].call<{ adopted: unknown[] }>('config')).adopted, [{ gatewayId: 1, clients: lan4(1) }], 'gw2 runs with the adoption (Nat46Config.adopted)');
  t.diagnostic(`gw1 found Down and adopted ${detectedAt - killedAt} ms after the kill (3 probes x 200 ms)`);
  // What gw2's BGP speaker and the L2 failover do with it.
  await lab.routeSpace(1, 2);
  await lab.moveLan(1, 2);
  const recoveredAt = Date.now();
  // Sent from now on, a datagram can only have gone through gw2 (gw1's tun and LAN are gone).
  const viaGw2 = (await stream()).sent;

  // The stream resumes: new datagrams reach the server and their echoes come back to the client.
  await waitFor('the UDP stream resumed through gw2', async () => (await streamRows()).some((r) => seq(r) >= viaGw2) &&
    (await stream()).received.some(([s]) => s >= viaGw2), 10_000).catch(async (e: Error) => {
    const c2 = await lab.counters(2);
    assert.fail(`${e.message}; gw2 since the adoption: 4to6 ${c2.nat46Translated4to6 - before2.nat46Translated4to6}, 6to4 ` +
      `${c2.nat46Translated6to4 - before2.nat46Translated6to4}, handed off ${c2.nat46HandedOff - before2.nat46HandedOff}, drops ` +
      JSON.stringify(Object.fromEntries(Object.entries(c2.drops).filter(([k, v]) => v !== before2.drops[k as keyof Counters['drops']]))));
  });
  const firstAfter = (await stream()).received.find(([s]) => s > lastBefore)!;
  t.diagnostic(`UDP echoes missing from the kill to the first one through gw2: ${firstAfter[1] - killedAt} ms (recovery steps took ${recoveredAt - killedAt} ms)`);
  // The same TCP connection carries data again (the client's segment opens the flow at gw2).
  assert.deepEqual(await c1.call('tcpRound', { name: 'long', bytes: 4000, tag: 'via-gw2' }, 20_000), { equal: true }, 'TCP through gw2, same connection');
  const final = await c1.call<Stream>('streamStop', { name: 's' });

  // What the server saw: the stream from one address and port before and after; the connection one row, all bytes.
  const rows = await streamRows();
  assert.deepEqual([...new Set(rows.map((r) => r.from))], [ME6], 'the stream\'s source at the server, before and after');
  assert.ok(rows.some((r) => seq(r) >= viaGw2), 'datagrams through gw2 at the server');
  const conn = (await lab.srv.call<Seen[]>('seen')).filter((r) => r.proto === 'tcp');
  assert.deepEqual(conn.map((r) => [r.from, r.fromPort, r.bytes]), [[ME6, tcp.localPort, 8000]], 'one TCP connection, from the same address, every byte');

  // gw2 carried the adopted client's traffic itself (nothing handed off to the dead gw1), and opened its flows.
  const d = await lab.counters(2);
  const after = rows.filter((r) => seq(r) >= viaGw2).length;
  assert.equal(d.nat46HandedOff - before2.nat46HandedOff, 0, 'nothing handed off by gw2');
  assert.ok(d.nat46Translated4to6 - before2.nat46Translated4to6 >= after, `gw2 translated the client's datagrams (${after} at the server)`);
  assert.ok(d.nat46Translated6to4 - before2.nat46Translated6to4 >= final.received.filter(([s]) => s >= viaGw2).length, 'gw2 translated the echoes');
  assert.ok(d.nat46FlowsCreated - before2.nat46FlowsCreated >= 2, 'gw2 opened the UDP and the TCP flow');
});
