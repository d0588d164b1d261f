// Issue 22's point about Teredo's cost: the Teredo server only qualifies clients, keeps their NAT mappings open and
// introduces them to relays (RFC 4380 §5.2.1, §5.2.5, §5.2.9); the data goes through the relay. Behind the restricted
// NAT of the lab (lab.ts), a client sends 1,000 ICMPv6 echo requests to the IPv6-only server and gets the replies,
// and the lab's nft counters say how many UDP packets the server and the relay handled meanwhile: the server's count
// must be a small constant (qualification, refresh, relay discovery, bubbles: no data), the relay must carry the
// 1,000 each way. Our client and, as the reference, miredo's own client in the same lab, one after the other.
import assert from 'node:assert/strict';
import { after, describe, test, type TestContext } from 'node:test';
import type { ForwarderConfig, TeredoState } from '../../src/forwarder/types.ts';
import { waitFor } from '../wait.ts';
import { clientConfig, SERVER6, TeredoLab, type PeerCounts, type Role } from './lab.ts';

const N = 1000;
/**
 * What the server may handle in a window of data without handling the data: a relay discovery (§5.2.9: the client's
 * echo test in, and the relay's bubble in and out) and a refresh round or two (§5.2.5: solicitation and answer).
 */
const SERVER_MAX = 12;

// RFC 4380's 30 s refresh, as miredo's.
const config: ForwarderConfig = clientConfig();

const diff = (a: PeerCounts, b: PeerCounts) => ({ server: b.serverIn - a.serverIn + b.serverOut - a.serverOut, relayIn: b.relayIn - a.relayIn, relayOut: b.relayOut - a.relayOut, serverIn: b.serverIn - a.serverIn, serverOut: b.serverOut - a.serverOut });

/**
 * From a qualified client in `role`: 100 pings (the first finds the relay), then N pings at 5 ms, counted apart. The
 * server's packets must not grow with the data: both windows stay within SERVER_MAX, the relay carries the N.
 */
async function measure(t: TestContext, lab: TeredoLab, role: Role, who: string, qualification: ReturnType<typeof diff>): Promise<void> {
  const c0 = await lab.counts();
  const warm = await lab.tryExec(role, 'ping', '-6', '-q', '-c', '100', '-i', '0.005', '-W', '2', SERVER6);
  assert.match(warm.out, /100 received/, warm.out);
  const c1 = await lab.counts();
  const ping = await lab.tryExec(role, 'ping', '-6', '-q', '-c', String(N), '-i', '0.005', '-W', '2', SERVER6);
  const c2 = await lab.counts();
  const received = Number(/(\d+) received/.exec(ping.out)?.[1] ?? 0);
  const first = diff(c0, c1);
  const data = diff(c1, c2);
  t.diagnostic(`${who}: qualification: server ${qualification.serverIn} in / ${qualification.serverOut} out`);
  t.diagnostic(`${who}: first 100 echoes (relay discovery): server ${first.serverIn} in / ${first.serverOut} out, relay ${first.relayIn} in / ${first.relayOut} out`);
  t.diagnostic(`${who}: per ${N} echoes (${received} replies): server ${data.serverIn} in / ${data.serverOut} out, relay ${data.relayIn} in / ${data.relayOut} out`);
  // A loaded machine may lose an echo or two on the way; what came back crossed the relay both ways.
  assert.ok(received >= N * 0.99, ping.out);
  assert.ok(data.relayIn >= N && data.relayOut >= received, JSON.stringify(data));
  assert.ok(first.server <= SERVER_MAX && data.server <= SERVER_MAX, `server packets: ${JSON.stringify({ first, data })}`);
}

describe(`server vs relay packets per ${N} data packets behind the restricted NAT`, () => {
  let lab: TeredoLab | undefined;
  after(() => lab?.cleanup());

  test('our client: the relay carries the data, the server a few packets whatever the amount', async (t) => {
    lab = await TeredoLab.create('L', 'restricted');
    const c0 = await lab.counts();
    const fwd = await lab.child('cli', 'forwarder');
    await fwd.call('start', { config });
    await waitFor('qualification', async () => (await fwd.call<TeredoState>('teredo')).qualified, 20_000, 100);
    const q = diff(c0, await lab.counts());
    await lab.exec('cli', 'ip', '-6', 'route', 'add', '::/0', 'dev', 'teredo');
    await measure(t, lab, 'cli', 'ours', q);
    const s = await fwd.call<TeredoState>('teredo');
    assert.equal(s.totals.echo_tests, 1, JSON.stringify(s.totals));
    assert.ok(s.totals.tx_packets >= N + 100 && s.totals.rx_packets >= N, JSON.stringify(s.totals));
    // Its refreshes and the server's answers must not count in miredo's windows.
    await fwd.end();
  });

  test("miredo's client (reference, behind the second restricted NAT): the same measure", async (t) => {
    assert.ok(lab, 'the lab of the first test');
    const c0 = await lab.counts();
    const client = await lab.miredoClient('cli2');
    const q = diff(c0, await lab.counts());
    try {
      await measure(t, lab, 'cli2', 'miredo', q);
    } finally {
      await client.stop();
    }
  });
});
