// Issue 22 with the whole agent on the Linux WAN, in the Teredo lab (lab.ts: miredo-server, a miredo relay, an
// IPv6-only server, a restricted NAT) where client.test.ts runs a bare forwarder. The agent runs in the client's
// namespace as the home gateway, with a LAN namespace of its own behind it and Kea on the NAT box as the access
// network's DHCP: IPv4 only at first.
//   - No DHCPv6 answer and no AFTR: the failover goes to dual-stack (Kea's DHCPv4 lease), and Teredo, enabled
//     through the data model, qualifies with miredo-server on that address: Failover.Mode Teredo, the History row.
//   - The LAN host (a ULA, NAT66 to the Teredo address) pings the IPv6-only server and keeps a TCP connection to it
//     through the miredo relay; the server sees the Teredo address.
//   - Native IPv6 appears (Kea's DHCPv6 starts answering): Teredo is torn down (the client stopped, its default
//     route gone), Failover.Mode back to DualStack.
import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { cli, getValue } from '../failover/cli.ts';
import { STATS_MS } from '../../src/dslite/teredo.ts';
import { waitFor } from '../wait.ts';
import { Child, CLIENT4, SERVER1, SERVER6, TCP_PORT, TeredoLab } from './lab.ts';

const FO = 'Device.X_TWINSTACK-ORG_Failover.';
const T = 'Device.X_TWINSTACK-ORG_Teredo.';
const LAN_ULA = 'fd00:db8:1::/64';
const RUNNER = fileURLToPath(new URL('../failover/agent-runner.ts', import.meta.url));

let lab: TeredoLab;
let dir: string;
let lanNs: string;
let socket: string;
let agentLog = '';
/** When the agent started: its DHCPv6 client's Solicits follow from then (RFC 8415 §15). */
let agentStartedAt = 0;
const kids = new Set<ChildProcess>();
let lanHost: Child;
let server: Child;

before(async () => {
  lab = await TeredoLab.create('ag', 'restricted');
  dir = mkdtempSync(join(tmpdir(), 'teredo-agent-'));
  // The gateway's LAN: a namespace of ours behind the client's (the gateway's) namespace.
  lanNs = `${lab.ns('cli')}-lan`;
  const ip = (...a: string[]) => { const r = spawnSync('ip', a, { encoding: 'utf8' }); if (r.status !== 0) throw new Error(`ip ${a.join(' ')}: ${r.stderr}`); };
  ip('netns', 'add', lanNs);
  process.once('exit', () => spawnSync('ip', ['netns', 'del', lanNs]));
  ip('link', 'add', 'gw-lan', 'netns', lab.ns('cli'), 'type', 'veth', 'peer', 'name', 'lan0', 'netns', lanNs);
  for (const [ns, dev, ...addrs] of [[lab.ns('cli'), 'gw-lan', '192.168.1.1/24', 'fd00:db8:1::1/64'], [lanNs, 'lan0', '192.168.1.2/24', 'fd00:db8:1::2/64']]) {
    for (const a of addrs) ip('-n', ns, 'addr', 'add', a, 'dev', dev, ...(a.includes(':') ? ['nodad'] : []));
    ip('-n', ns, 'link', 'set', dev, 'up');
    ip('-n', ns, 'link', 'set', 'lo', 'up');
  }
  ip('-n', lanNs, 'route', 'add', 'default', 'via', '192.168.1.1');
  ip('-n', lanNs, '-6', 'route', 'add', '::/0', 'via', 'fd00:db8:1::1');
  await lab.exec('cli', 'sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1', 'net.ipv4.ip_forward=1');
  // The access network's DHCPv4 on the NAT box: the client's address (the NAT's ruleset names it). No DHCPv6 yet.
  await lab.exec('nat', 'ip', '-6', 'addr', 'add', '2001:db8:5::1/64', 'dev', 'lan0', 'nodad');
  writeFileSync(join(dir, 'kea4.json'), JSON.stringify({ Dhcp4: {
    'interfaces-config': { interfaces: ['lan0'] }, 'lease-database': { type: 'memfile', persist: false }, 'valid-lifetime': 600,
    subnet4: [{ id: 1, subnet: '198.51.100.0/24', interface: 'lan0', pools: [{ pool: `${CLIENT4} - ${CLIENT4}` }], 'option-data': [{ name: 'routers', data: '198.51.100.1' }] }],
  } }));
  writeFileSync(join(dir, 'kea6.json'), JSON.stringify({ Dhcp6: {
    'interfaces-config': { interfaces: ['lan0'] }, 'lease-database': { type: 'memfile', persist: false },
    // Not persisted (Kea would write /var/lib/kea).
    'server-id': { type: 'EN', 'enterprise-id': 2495, identifier: '0102', persist: false },
    subnet6: [{ id: 1, subnet: '2001:db8:5::/64', interface: 'lan0', pools: [{ pool: '2001:db8:5::100-2001:db8:5::1ff' }],
      'pd-pools': [{ prefix: '2001:db8:100::', 'prefix-len': 48, 'delegated-len': 56 }] }],
    loggers: [{ name: 'kea-dhcp6', severity: 'INFO', output_options: [{ output: join(dir, 'kea6.log') }] }],
  } }));
  kea('kea-dhcp4', 'kea4.json');
  // The agent in the client's namespace: eth0 its WAN, gw-lan its LAN.
  socket = join(dir, 'agent.sock');
  const cfg = join(dir, 'agent.json');
  writeFileSync(cfg, JSON.stringify({
    db: join(dir, 'agent.db'), socket, teredo: true,
    wan: { mode: 'linux', lanInterface: 'gw-lan', wanInterface: 'eth0', tunName: 'b4tun', teredoTun: 'teredo0', lanAddress: '192.168.1.1/24', leaseWaitMs: 1000, dhcp4TimeoutMs: 8000 },
  }));
  agentStartedAt = Date.now();
  const agent = lab.spawn('cli', process.execPath, '--import', 'tsx', RUNNER, cfg);
  kids.add(agent);
  agent.stdout!.on('data', (d: Buffer) => (agentLog += d.toString()));
  await waitFor('the agent', async () => agentLog.includes('"agent ready"'), 20_000);
  const track = (p: ChildProcess) => kids.add(p);
  lanHost = await Child.start(lanNs, 'host', 'lan', track);
  server = await Child.start(lab.ns('v6'), 'host', 'v6', track);
  await server.call('tcpServe', { port: TCP_PORT });
});
after(async () => {
  for (const p of kids) if (p.exitCode === null && p.signalCode === null) p.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 500));
  for (const p of kids) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  await lab?.cleanup();
  spawnSync('ip', ['netns', 'del', lanNs]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

let keaOut = '';
function kea(bin: string, conf: string): void {
  const p = lab.spawn('nat', 'env', `KEA_PIDFILE_DIR=${dir}`, `KEA_LOCKFILE_DIR=${dir}`, bin, '-c', join(dir, conf));
  p.stdout!.on('data', (d: Buffer) => (keaOut += d.toString()));
  p.stderr!.on('data', (d: Buffer) => (keaOut += d.toString()));
  p.once('exit', (c) => (keaOut += `${bin} exited ${c}\n`));
  kids.add(p);
}
const get = (p: string) => getValue(socket, p);
async function until(path: string, want: string | RegExp, ms: number): Promise<string> {
  return waitFor(`${path} ${want}`, async () => {
    const v = await get(path).catch(() => '');
    return (typeof want === 'string' ? v === want : want.test(v)) && v;
  }, ms).catch((e: Error) => { throw new Error(`${e.message}\n${agentLog.split('\n').slice(-25).join('\n')}`); });
}

test('the whole agent on an IPv4-only WAN: dual-stack, Teredo qualified (Mode Teredo), the LAN reaches the IPv6 server through the relay; native IPv6 appears: Teredo torn down', { timeout: 420_000 }, async (t) => {
  await until(`${FO}Mode`, 'DualStack', 30_000);
  await cli(socket, { cmd: 'set', values: { [`${T}ServerAddress`]: SERVER1, [`${T}LANPrefix`]: LAN_ULA, [`${T}Enable`]: 'true' } });
  await until(`${T}Status`, 'Qualified', 30_000);
  await until(`${FO}Mode`, 'Teredo', 10_000);
  const address = await get(`${T}TeredoAddress`);
  assert.match(address, /^2001:0:cb00:7101:/, 'RFC 4380 §4: 2001:0::/32 | the server 203.0.113.1');
  assert.equal(await get(`${T}NATType`), 'Restricted');
  assert.equal(await get(`${T}MappedAddress`), '203.0.113.10', "the NAT's outside address");
  assert.match(await lab.exec('cli', 'ip', '-6', 'route', 'show', 'default'), /dev teredo0/, 'the IPv6 default route into Teredo');

  // The LAN host: ping and TCP to the IPv6-only server, NATed to the Teredo address, through the miredo relay.
  await lab.exec('v6', 'nft', `add table ip6 seen; add counter ip6 seen teredo; add chain ip6 seen in { type filter hook input priority 0; }; add rule ip6 seen in ip6 saddr ${address} counter name teredo`);
  const ping = spawnSync('ip', ['netns', 'exec', lanNs, 'ping', '-6', '-n', '-c', '3', '-i', '0.3', '-W', '3', SERVER6], { encoding: 'utf8' });
  assert.match(ping.stdout, /3 packets transmitted, 3 received/, ping.stdout + ping.stderr);
  const round = await lanHost.call<{ localAddress: string; equal: boolean }>('tcpRound', { to: SERVER6, port: TCP_PORT, bytes: 20_000 }, 20_000);
  assert.equal(round.equal, true, 'every byte of the TCP connection back');
  const seen = Number(/packets (\d+)/.exec(await lab.exec('v6', 'nft', 'list', 'counter', 'ip6', 'seen', 'teredo'))![1]);
  assert.ok(seen >= 3 + 10, `the server saw the LAN's packets from the Teredo address (${seen})`);
  // The data model follows the client's counters within STATS_MS (teredo.ts), its state within a poll.
  // (The server also saw the relay test, an echo the client sends through the Teredo server, RFC 4380 §5.2.9: not data.)
  await waitFor('the packets counted by the client', async () => Number(await get(`${T}Stats.PacketsReceived`)) >= 3 + 10, STATS_MS + 5000)
    .catch(async (e: Error) => assert.fail(`${e.message}: ${JSON.stringify(await cli(socket, { cmd: 'get', paths: [T] }))}`));
  assert.ok(Number(await get(`${T}Stats.PacketsSent`)) >= 3 + 10);
  await until(`${T}RelayInUse`, /^203\.0\.113\.20:\d+$/, 5000); // the miredo relay
  assert.equal(await get(`${T}Peer.1.Address`), SERVER6);
  assert.equal(await get(`${T}Peer.1.Type`), 'Native');
  assert.equal(await get(`${T}Peer.1.Trusted`), 'true');
  assert.equal(await get(`${T}Peer.1.PacketsSent`), await get(`${T}Stats.PacketsSent`), 'one peer: all of it');

  // Native IPv6: Kea's DHCPv6 starts answering. The client retransmits its Solicit (RFC 8415 §15: the interval
  // doubling from 1 s, each with up to 10 % jitter, up to SOL_MAX_RT 3600 s), so Solicits leave about 1, 3, 7, 15,
  // 31, 63, 127 and 255 s after the agent started: the lease comes at the next one, then Teredo is torn down at
  // once. The wait covers that schedule: up to 300 s after the start, at least 60 s from now.
  const solicitFrom = Date.now();
  kea('kea-dhcp6', 'kea6.json');
  await until(`${T}Status`, 'Standby', Math.max(60_000, agentStartedAt + 300_000 - solicitFrom)).catch((e: Error) => {
    throw new Error(`${e.message}\nkea6: ${spawnSync('tail', ['-n', '20', join(dir, 'kea6.log')], { encoding: 'utf8' }).stdout}\nKea's output: ${keaOut.slice(-3000)}`);
  });
  await until(`${FO}Mode`, 'DualStack', 10_000);
  t.diagnostic(`native IPv6 ${Math.round((Date.now() - solicitFrom) / 1000)} s after Kea's DHCPv6 started; Teredo torn down`);
  assert.equal(await get(`${T}TeredoAddress`), '');
  assert.doesNotMatch(await lab.exec('cli', 'ip', '-6', 'route', 'show', 'default'), /teredo0/, 'the default route into Teredo gone');
  assert.equal((await lab.tryExec('cli', 'ip', 'link', 'show', 'teredo0')).code === 0, false, 'the Teredo tun closed');
  const h = await cli(socket, { cmd: 'get', paths: [`${FO}History.`] }) as [string, string][];
  const rows = Object.fromEntries(h);
  const transitions = Object.keys(rows).filter((p) => p.endsWith('.From')).map((p) => `${rows[p]}->${rows[p.replace(/From$/, 'To')]}`);
  assert.deepEqual(transitions.slice(-2), ['DualStack->Teredo', 'Teredo->DualStack']);
});
