// Our Teredo client (the forwarder in mode 'teredo', native/teredo.cc) against miredo-server and the miredo relay of
// the lab (lab.ts), behind the restricted and the cone NAT: it qualifies (RFC 4380 §5.2.1), reports the NAT kind and
// the mapping the server saw, finds the relay of the IPv6-only server by a connectivity test (§5.2.9), and carries a
// ping and a TCP connection through it. Behind the symmetric NAT it reports the kind and does not qualify.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { Counters, ForwarderConfig, TeredoState } from '../../src/forwarder/types.ts';
import { waitFor } from '../wait.ts';
import { CLIENT_PORT, CLIENT_TUN, clientConfig, CONE_PORT, NAT2_OUTSIDE, NAT_OUTSIDE, RELAY4, SERVER1, SERVER6, TCP_PORT, TeredoLab, teredoFields, type Child, type NatKind } from './lab.ts';

const TUN = CLIENT_TUN;
const config = (): ForwarderConfig => clientConfig({ refreshIntervalS: 5 });

/** Drops a qualified client may have counted: the kernel's own packets into the tun before and after the address. */
const BENIGN = new Set(['tun_not_unicast', 'not_qualified']);

const cases: Array<[NatKind, 'cone' | 'restricted', number]> = [
  ['restricted', 'restricted', CLIENT_PORT], // masquerade keeps the port when it is free
  ['cone', 'cone', CONE_PORT],
];

for (const [nat, kind, mappedPort] of cases) {
  describe(`our Teredo client behind the ${nat} NAT`, () => {
    let lab: TeredoLab | undefined;
    let fwd: Child;
    let state: TeredoState;
    after(() => lab?.cleanup());

    test('qualifies with miredo-server: NAT kind, mapping, address 2001:0::/32 | server | random flags | mapping', async () => {
      lab = await TeredoLab.create(nat === 'cone' ? 'C' : 'R', nat);
      fwd = await lab.child('cli', 'forwarder');
      await fwd.call('start', { config: config() });
      state = await waitFor('qualification', async () => {
        const s = await fwd.call<TeredoState>('teredo');
        return s.qualified && s;
      }, 20_000, 100);
      assert.equal(state.natKind, kind);
      assert.equal(state.mappedAddress, NAT_OUTSIDE);
      assert.equal(state.mappedPort, mappedPort);
      const f = teredoFields(state.address!);
      assert.deepEqual({ server: f.server, port: f.port, ipv4: f.ipv4 }, { server: SERVER1, port: mappedPort, ipv4: NAT_OUTSIDE });
      // RFC 5991: never the cone bit (nor R, U, G); only the twelve random bits may be set.
      assert.equal(f.flags & ~0x3cff, 0, state.address!);
      const addr = await lab.exec('cli', 'ip', '-6', 'addr', 'show', 'dev', TUN);
      assert.match(addr, new RegExp(`inet6 ${state.address}/32`));
      assert.equal(state.mtu, 1280);
      assert.ok(state.totals.rs_sent >= (kind === 'cone' ? 1 : 2) && state.totals.ra_accepted >= (kind === 'cone' ? 1 : 2), JSON.stringify(state.totals));
    });

    test('pings the IPv6-only server through the relay it found, and keeps a TCP connection', async () => {
      assert.ok(lab && state?.qualified, 'qualified first');
      await lab.exec('cli', 'ip', '-6', 'route', 'add', '::/0', 'dev', TUN);
      const ping = await lab.tryExec('cli', 'ping', '-6', '-c', '3', '-i', '0.3', '-W', '5', SERVER6);
      assert.equal(ping.code, 0, ping.out);
      assert.match(ping.out, /3 received/);
      let s = await fwd.call<TeredoState>('teredo');
      const peer = s.peers.find((p) => p.address === SERVER6);
      assert.ok(peer, JSON.stringify(s.peers));
      assert.equal(peer.kind, 'native');
      assert.equal(peer.trusted, true);
      assert.equal(peer.viaAddress, RELAY4);
      assert.ok(peer.txPackets >= 3 && peer.rxPackets >= 3, JSON.stringify(peer));
      assert.equal(s.totals.relays_found, 1);
      assert.equal(s.totals.echo_tests, 1);

      const v6 = await lab.child('v6', 'host');
      await v6.call('tcpServe', { port: TCP_PORT });
      const cli = await lab.child('cli', 'host');
      const round = await cli.call<{ localAddress: string; equal: boolean }>('tcpRound', { to: SERVER6, port: TCP_PORT, bytes: 20_000 });
      assert.equal(round.equal, true);
      assert.equal(round.localAddress, state.address);

      // Once the relay is known, data goes to it and never through the server (what lab.counts() is for).
      const before = await lab.counts();
      const burst = await lab.tryExec('cli', 'ping', '-6', '-c', '20', '-i', '0.02', '-W', '2', SERVER6);
      assert.match(burst.out, /20 received/);
      const now = await lab.counts();
      assert.ok(now.relayIn - before.relayIn >= 20 && now.relayOut - before.relayOut >= 20, JSON.stringify({ before, now }));
      assert.ok(now.serverIn - before.serverIn <= 2, `server packets during the burst (refreshes only): ${JSON.stringify({ before, now })}`);

      s = await fwd.call<TeredoState>('teredo');
      const unexpected = Object.entries(s.drops).filter(([name, n]) => n > 0 && !BENIGN.has(name));
      assert.deepEqual(unexpected, [], JSON.stringify(s.drops));
      assert.ok(s.totals.tx_packets >= 30 && s.totals.rx_packets >= 30, JSON.stringify(s.totals));
      // The tunnel interface's counters (Forwarder.counters()) are the Teredo client's packets in this mode.
      const c = await fwd.call<Counters>('counters');
      assert.ok(c.txPackets >= s.totals.tx_packets && c.rxPackets >= s.totals.rx_packets, JSON.stringify({ c: [c.txPackets, c.rxPackets], s: s.totals }));
    });

    test('refreshes the mapping every refreshIntervalS (RFC 4380 §5.2.5): solicitation, advertisement, same address', async () => {
      assert.ok(lab && state?.qualified, 'qualified first');
      const first = await fwd.call<TeredoState>('teredo');
      const s = await waitFor('a refresh', async () => {
        const st = await fwd.call<TeredoState>('teredo');
        return st.totals.ra_accepted > first.totals.ra_accepted && st;
      }, 9000, 200);
      assert.equal(s.qualified, true);
      assert.equal(s.address, state.address);
      assert.equal(s.totals.qualifications, 1);
      assert.equal(s.totals.address_changes, 0);
    });

    test('talks directly to another Teredo client (miredo behind a second NAT) after bubbles (RFC 4380 §5.2.6)', async () => {
      assert.ok(lab && state?.qualified, 'qualified first');
      const peer = await lab.miredoClient('cli2');
      const ping = await lab.tryExec('cli', 'ping', '-6', '-c', '3', '-i', '0.3', '-W', '5', peer.address);
      assert.equal(ping.code, 0, `${ping.out}\n${peer.log()}`);
      const s = await fwd.call<TeredoState>('teredo');
      const p = s.peers.find((x) => x.address === peer.address);
      assert.ok(p, JSON.stringify(s.peers));
      const f = teredoFields(peer.address);
      assert.deepEqual({ kind: p.kind, trusted: p.trusted, viaAddress: p.viaAddress, viaPort: p.viaPort }, { kind: 'teredo', trusted: true, viaAddress: NAT2_OUTSIDE, viaPort: f.port });
      assert.ok(s.totals.bubbles_direct >= 1 && s.totals.bubbles_indirect >= 1 && s.totals.peers_trusted === 1, JSON.stringify(s.totals));
      await peer.stop();
    });
  });
}

describe('our Teredo client behind the symmetric NAT', () => {
  let lab: TeredoLab | undefined;
  after(() => lab?.cleanup());

  test('reports the NAT as symmetric and does not qualify (RFC 4380 §5.2.1)', async () => {
    lab = await TeredoLab.create('S', 'symmetric');
    const fwd = await lab.child('cli', 'forwarder');
    await fwd.call('start', { config: config() });
    const s = await waitFor('the NAT kind', async () => {
      const st = await fwd.call<TeredoState>('teredo');
      return st.natKind !== 'unknown' && st;
    }, 20_000, 100);
    assert.equal(s.natKind, 'symmetric');
    assert.equal(s.qualified, false);
    assert.equal(s.address, null);
  });
});
