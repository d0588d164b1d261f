// NAT mapping expiry and refresh (issue 22; RFC 4380 §5.2.5 maintenance): the restricted NAT of the lab (lab.ts)
// forgets a UDP mapping 8 s after its last packet (conntrack timeouts lowered in its namespace).
//  - refreshIntervalS below that: the refreshes keep the mapping to the server; after several timeouts without
//    data the client has the same mapping and address, the NAT made no new mapping for the server, and data still
//    flows through the relay;
//  - refreshIntervalS well above it: the mappings expire, and the NAT gives the client's socket another port for its
//    next ones (natRemap: the port went to somebody else). The next refresh's answer carries the new mapping in its
//    origin indication: the client takes the new address (address_changes), finds the relay again and data flows.
//    If data comes first, it leaves through the new mapping, which the relay refuses (it is not the one our address
//    names): the relay stops answering, and the client refreshes at once (early_refreshes) instead of at the next
//    interval.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { ForwarderConfig, TeredoState } from '../../src/forwarder/types.ts';
import { sleep, waitFor } from '../wait.ts';
import { clientConfig, NAT_OUTSIDE, RELAY4, SERVER6, TeredoLab, teredoFields, type Child } from './lab.ts';

const TIMEOUT_S = 8;
const NEW_PORT = 40001;

const config = (refreshIntervalS: number): ForwarderConfig => clientConfig({ refreshIntervalS });

/** A lab whose NAT forgets mappings after TIMEOUT_S, and our client qualified in it with a default route. */
async function qualifiedClient(tag: string, refreshIntervalS: number): Promise<{ lab: TeredoLab; fwd: Child; state: TeredoState }> {
  const lab = await TeredoLab.create(tag, 'restricted');
  try {
    await lab.natUdpTimeout(TIMEOUT_S);
    const fwd = await lab.child('cli', 'forwarder');
    await fwd.call('start', { config: config(refreshIntervalS) });
    const state = await waitFor('qualification', async () => {
      const s = await fwd.call<TeredoState>('teredo');
      return s.qualified && s;
    }, 20_000, 100);
    await lab.exec('cli', 'ip', '-6', 'route', 'add', '::/0', 'dev', 'teredo');
    return { lab, fwd, state };
  } catch (e) {
    await lab.cleanup();
    throw e;
  }
}

/** Qualified with a 30 s refresh, 3 pings, then every mapping expired and the NAT's next one for us on NEW_PORT. */
async function remapped(tag: string): Promise<{ lab: TeredoLab; fwd: Child; state: TeredoState; t0: number }> {
  const { lab, fwd, state } = await qualifiedClient(tag, 30);
  const t0 = Date.now();
  await ping(lab, 3);
  // Every mapping of the client's socket expires TIMEOUT_S after its last packet (the pings'; the refresh is 22.5 s
  // at the earliest, RFC 4380 §5.2's randomized interval), then the NAT's next mapping for it gets NEW_PORT.
  await sleep(TIMEOUT_S * 1000 + 2000);
  await lab.natRemap(NEW_PORT);
  return { lab, fwd, state, t0 };
}

/** The client moved to NEW_PORT: its address, the tun's, and the relay found again for new data. */
async function moved(lab: TeredoLab, fwd: Child, old: TeredoState, s: TeredoState): Promise<void> {
  assert.deepEqual([s.qualified, s.mappedAddress, s.mappedPort, s.natKind], [true, NAT_OUTSIDE, NEW_PORT, 'restricted']);
  assert.notEqual(s.address, old.address);
  assert.deepEqual(teredoFields(s.address!), { ...teredoFields(old.address!), port: NEW_PORT });
  assert.equal(s.totals.address_changes, 1);
  assert.equal(s.totals.qualifications, 1);
  const addr = await lab.exec('cli', 'ip', '-6', 'addr', 'show', 'dev', 'teredo');
  assert.match(addr, new RegExp(`inet6 ${s.address}/32`));
  assert.doesNotMatch(addr, new RegExp(`inet6 ${old.address}/`));
  // The relay knew the old address: the client finds it again with a new test (§5.2.9), and data flows.
  await ping(lab, 3);
  const after = await fwd.call<TeredoState>('teredo');
  assert.equal(after.totals.relays_found, 2, JSON.stringify(after.totals));
  const peer = after.peers.find((p) => p.address === SERVER6);
  assert.deepEqual([peer?.trusted, peer?.viaAddress, peer?.viaPort !== null], [true, RELAY4, true]);
}

async function ping(lab: TeredoLab, count: number): Promise<void> {
  const r = await lab.tryExec('cli', 'ping', '-6', '-c', String(count), '-i', '0.2', '-W', '3', SERVER6);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, new RegExp(`${count} received`));
}

describe(`NAT mappings that expire after ${TIMEOUT_S} s without packets`, () => {
  const labs: TeredoLab[] = [];
  after(() => Promise.all(labs.map((l) => l.cleanup())));

  test('refresh every 5 s: the mapping stays through several timeouts without data, and data still flows', async (t) => {
    const { lab, fwd, state } = await qualifiedClient('E', 5);
    labs.push(lab);
    await ping(lab, 3);
    const flows = await lab.natFlows();
    const before = await fwd.call<TeredoState>('teredo');
    await sleep(3.5 * TIMEOUT_S * 1000);
    const s = await fwd.call<TeredoState>('teredo');
    t.diagnostic(`after ${3.5 * TIMEOUT_S} s idle: ${s.totals.ra_accepted - before.totals.ra_accepted} refreshes answered, NAT mappings made ${(await lab.natFlows()) - flows}`);
    assert.deepEqual([s.qualified, s.address, s.mappedAddress, s.mappedPort], [true, state.address, NAT_OUTSIDE, state.mappedPort]);
    assert.equal(s.totals.qualifications, 1);
    assert.equal(s.totals.address_changes, 0);
    assert.ok(s.totals.ra_accepted - before.totals.ra_accepted >= 4, JSON.stringify(s.totals));
    // No new mapping for the server: the one made at qualification lived on (a new one would count here).
    assert.equal(await lab.natFlows(), flows);
    // The relay's mapping did expire (no data); the next packet makes it again, on the same port (the NAT keeps the
    // port of a socket that still has a mapping), and the relay still knows us.
    await ping(lab, 3);
    const peer = (await fwd.call<TeredoState>('teredo')).peers.find((p) => p.address === SERVER6);
    assert.deepEqual([peer?.trusted, peer?.viaAddress], [true, RELAY4]);
    assert.equal((await fwd.call<TeredoState>('teredo')).totals.echo_tests, 1);
  });

  test('refresh every 30 s, no data: the mapping expires, the NAT moves the port, the next refresh finds it, data flows again', async (t) => {
    const { lab, fwd, state, t0 } = await remapped('F');
    labs.push(lab);
    const s = await waitFor('the refresh that finds the new mapping', async () => {
      const st = await fwd.call<TeredoState>('teredo');
      return st.totals.address_changes > 0 && st;
    }, 40_000, 200);
    t.diagnostic(`new mapping found ${((Date.now() - t0) / 1000).toFixed(1)} s after qualification (the first refresh): ${state.mappedAddress}:${state.mappedPort} -> ${s.mappedAddress}:${s.mappedPort}`);
    assert.equal(s.totals.early_refreshes, 0);
    await moved(lab, fwd, state, s);
  });

  test('refresh every 30 s, data first: the relay stops answering the new mapping, the client refreshes at once', async (t) => {
    const { lab, fwd, state, t0 } = await remapped('G');
    labs.push(lab);
    const from = Date.now();
    // From the old address, through a mapping the relay refuses: lost, until the client has moved.
    const lost = lab.tryExec('cli', 'ping', '-6', '-c', '8', '-i', '0.5', '-W', '1', SERVER6);
    const s = await waitFor('the early refresh that finds the new mapping', async () => {
      const st = await fwd.call<TeredoState>('teredo');
      return st.totals.address_changes > 0 && st;
    }, 20_000, 100);
    const found = Date.now();
    t.diagnostic(`new mapping found ${((found - from) / 1000).toFixed(1)} s after data resumed, ${((found - t0) / 1000).toFixed(1)} s after qualification: ${state.mappedPort} -> ${s.mappedPort}`);
    assert.equal(s.totals.early_refreshes, 1, JSON.stringify(s.totals));
    // Before the first scheduled refresh (22.5 s after qualification at the earliest).
    assert.ok(found - t0 < 22_000, `${found - t0} ms`);
    await lost;
    await moved(lab, fwd, state, s);
  });
});
