// The reference run that proves the Teredo lab (lab.ts, issue 22): miredo's own client (RelayType client) qualifies
// with miredo-server behind each NAT kind, gets a Teredo address of 2001:0::/32 with the server's IPv4, the NAT's
// outside address and, behind the cone NAT, its static outside port (RFC 4380 §4), and pings the IPv6-only server
// through the miredo relay. Behind the symmetric NAT it must not qualify (RFC 4380 §5.2.1).
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { CONE_PORT, NAT_OUTSIDE, SERVER1, SERVER6, TeredoLab, teredoFields, type NatKind } from './lab.ts';

for (const nat of ['restricted', 'cone'] as const satisfies readonly NatKind[]) {
  describe(`miredo client behind the ${nat} NAT`, () => {
    let lab: TeredoLab | undefined;
    after(() => lab?.cleanup());

    test('qualifies: 2001:0::/32 | server IPv4 | flags | mapped port | NAT address, then pings the IPv6 server via the relay', async () => {
      lab = await TeredoLab.create(nat === 'cone' ? 'c' : 'r', nat);
      const client = await lab.miredoClient();
      const f = teredoFields(client.address);
      assert.equal(f.server, SERVER1, client.address);
      assert.equal(f.ipv4, NAT_OUTSIDE, client.address);
      if (nat === 'cone') assert.equal(f.port, CONE_PORT, client.address);
      // RFC 5991 (followed by miredo 1.2): the cone bit is never set, U/G are zero.
      assert.equal(f.flags & 0x8000, 0, client.address);
      assert.equal(f.flags & 0x0300, 0, client.address);
      const before = await lab.counts();
      const ping = await lab.tryExec('cli', 'ping', '-6', '-c', '3', '-i', '0.3', '-W', '3', SERVER6);
      assert.equal(ping.code, 0, `${ping.out}\n${client.log()}`);
      assert.match(ping.out, /3 received/);
      const now = await lab.counts();
      assert.ok(now.relayIn > before.relayIn && now.relayOut > before.relayOut, JSON.stringify({ before, now }));
      await client.stop();
    });
  });
}
