// The agent's DHCPv4 client (src/wan/dhcp4.ts, RFC 2131) and its codec (src/wan/dhcp4-codec.ts, RFC 2132,
// RFC 3396): the wire format; the client against a scripted server on loopback (what each message carries,
// retransmission, NAK, foreign replies, abandoning on timeout, release); and the client against Kea in a
// pair of network namespaces (DORA with no address on the interface, the previous address asked for again,
// renewal at T1, DHCPRELEASE seen by Kea). Kea is the peer that would refuse what a fixture lets through: it
// answers only well-formed requests of the right shape for the state (RFC 2131 table 4).
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import * as c from '../../src/wan/dhcp4-codec.ts';
import { Dhcp4Client } from '../../src/wan/dhcp4.ts';
import type { Lease4 } from '../../src/wan/platform.ts';

const run = promisify(execFile);
const MAC = '02:00:5e:10:00:01';

describe('dhcp4 codec', () => {
  const base = { xid: 0x1234abcd, secs: 3, flags: c.FLAG_BROADCAST, ciaddr: '0.0.0.0', yiaddr: '0.0.0.0', siaddr: '0.0.0.0', giaddr: '0.0.0.0', chaddr: MAC };

  test('a DISCOVER round-trips, padded to the 300 bytes of BOOTP', () => {
    const b = c.encode({ ...base, type: c.MSG.DISCOVER, options: new Map([[c.OPT.REQUESTED_IP, c.ipBytes('203.0.113.7')], [c.OPT.PARAM_REQUEST_LIST, Buffer.from([1, 3, 6])]]) });
    assert.equal(b.length, 300);
    assert.deepEqual([b[0], b[1], b[2]], [1, 1, 6]);
    assert.equal(b.readUInt32BE(236), 0x63825363);
    const m = c.decode(b);
    assert.equal(m.op, c.OP.BOOTREQUEST);
    assert.equal(m.type, c.MSG.DISCOVER);
    assert.equal(m.xid, 0x1234abcd);
    assert.equal(m.secs, 3);
    assert.equal(m.flags, c.FLAG_BROADCAST);
    assert.equal(m.chaddr, MAC);
    assert.deepEqual(c.addresses(m.options.get(c.OPT.REQUESTED_IP)), ['203.0.113.7']);
    assert.deepEqual([...m.options.get(c.OPT.PARAM_REQUEST_LIST)!], [1, 3, 6]);
    assert.equal(m.options.has(c.OPT.MSG_TYPE), false);
  });

  test('a value over 255 bytes is split and concatenated again (RFC 3396)', () => {
    const long = Buffer.alloc(300, 7);
    const b = c.encode({ ...base, type: c.MSG.REQUEST, options: new Map([[c.OPT.DNS_SERVERS, long]]) });
    const at = b.indexOf(Buffer.from([c.OPT.DNS_SERVERS, 255]), 240);
    assert.ok(at > 0);
    assert.deepEqual([b[at + 257], b[at + 258]], [c.OPT.DNS_SERVERS, 45]);
    assert.deepEqual(c.decode(b).options.get(c.OPT.DNS_SERVERS), long);
  });

  test('options in the file and sname fields are read when option 52 says so (RFC 2132 §9.3)', () => {
    const b = c.encode({ ...base, op: c.OP.BOOTREPLY, type: c.MSG.ACK, options: new Map([[c.OPT.OVERLOAD, Buffer.from([3])]]) });
    Buffer.from([c.OPT.LEASE_TIME, 4, 0, 0, 0x0e, 0x10, c.OPT.END]).copy(b, 108); // file
    Buffer.from([c.OPT.ROUTER, 4, 203, 0, 113, 1, c.OPT.END]).copy(b, 44); // sname
    const m = c.decode(b);
    assert.equal(c.u32(m.options.get(c.OPT.LEASE_TIME)), 3600);
    assert.deepEqual(c.addresses(m.options.get(c.OPT.ROUTER)), ['203.0.113.1']);
    assert.equal(m.options.has(c.OPT.OVERLOAD), false);
  });

  test('malformed messages are refused with the reason', () => {
    const good = c.encode({ ...base, type: c.MSG.OFFER, options: new Map() });
    assert.throws(() => c.decode(good.subarray(0, 200)), /shorter than a BOOTP header/);
    const noCookie = Buffer.from(good);
    noCookie.writeUInt32BE(0, 236);
    assert.throws(() => c.decode(noCookie), /magic cookie/);
    const overrun = Buffer.from(good);
    Buffer.from([c.OPT.ROUTER, 200]).copy(overrun, 240);
    assert.throws(() => c.decode(overrun.subarray(0, 260)), /runs past the end/);
    const tokenRing = Buffer.from(good);
    tokenRing[1] = 6;
    assert.throws(() => c.decode(tokenRing), /not Ethernet/);
    assert.throws(() => c.ipBytes('203.0.113.256'), /not an IPv4 address/);
    assert.deepEqual(c.addresses(Buffer.from([1, 2, 3])), []);
    assert.equal(c.u32(Buffer.from([1, 2])), undefined);
  });
});

// ---- against a scripted server on loopback ----------------------------------------------------------------

const CLIENT_PORT = 10068;
const SERVER_PORT = 10067;
const SERVER = '127.0.0.1';

/** A server that records what it receives and answers as `answer` says (null: silence). */
class ScriptedServer {
  readonly got: c.Message[] = [];
  readonly from: RemoteInfo[] = [];
  answer: (m: c.Message, n: number) => c.Message | null = () => null;
  private s!: Socket;
  private waiters: { n: number; res: () => void }[] = [];

  async start() {
    this.s = createSocket('udp4');
    this.s.on('message', (buf, rinfo) => {
      const m = c.decode(buf);
      this.got.push(m);
      this.from.push(rinfo);
      const r = this.answer(m, this.got.length);
      if (r) this.send(r);
      for (const w of this.waiters.filter((x) => this.got.length >= x.n)) w.res();
    });
    // On 0.0.0.0: the client's broadcasts (IPv4 to 255.255.255.255 on lo, from its packet socket) arrive here.
    await new Promise<void>((res) => this.s.bind(SERVER_PORT, '0.0.0.0', () => res()));
  }

  send(m: c.Message) {
    this.s.send(c.encode(m), CLIENT_PORT, '127.0.0.1');
  }

  until(n: number, ms = 5000): Promise<void> {
    if (this.got.length >= n) return Promise.resolve();
    return new Promise((res, rej) => {
      const t = setTimeout(() => rej(new Error(`server got ${this.got.length} of ${n} messages`)), ms);
      this.waiters.push({ n, res: () => { clearTimeout(t); res(); } });
    });
  }

  stop() {
    this.s.close();
  }
}

/** The server's reply to `m`: an OFFER/ACK for `address` (or a NAK), as RFC 2131 table 3 has it. */
function reply(m: c.Message, type: number, address = '198.51.100.9', over: Partial<c.Message> = {}): c.Message {
  const options = new Map<number, Buffer>([[c.OPT.SERVER_ID, c.ipBytes(SERVER)]]);
  if (type !== c.MSG.NAK) {
    options.set(c.OPT.LEASE_TIME, c.u32Bytes(600));
    options.set(c.OPT.SUBNET_MASK, c.ipBytes('255.255.255.0'));
    options.set(c.OPT.ROUTER, c.ipBytes('198.51.100.1'));
    options.set(c.OPT.DNS_SERVERS, Buffer.concat([c.ipBytes('198.51.100.53'), c.ipBytes('198.51.100.54')]));
  }
  return { op: c.OP.BOOTREPLY, xid: m.xid, secs: 0, flags: m.flags, ciaddr: m.ciaddr, yiaddr: type === c.MSG.NAK ? '0.0.0.0' : address, siaddr: '0.0.0.0', giaddr: '0.0.0.0', chaddr: m.chaddr, type, options, ...over };
}

/** A server that does its job: OFFER each DISCOVER, ACK each REQUEST. */
const dora = (m: c.Message) => (m.type === c.MSG.DISCOVER ? reply(m, c.MSG.OFFER)
  : m.type === c.MSG.REQUEST ? reply(m, c.MSG.ACK, m.ciaddr !== '0.0.0.0' ? m.ciaddr : c.addresses(m.options.get(c.OPT.REQUESTED_IP))[0]) : null);

describe('dhcp4 client against a scripted server', () => {
  let server: ScriptedServer;
  let client: Dhcp4Client;
  let applied: [string | null, string | null][];

  const fresh = async (answer: ScriptedServer['answer']) => {
    await client?.stop();
    server?.stop();
    server = new ScriptedServer();
    server.answer = answer;
    await server.start();
    applied = [];
    client = new Dhcp4Client({
      iface: 'lo', mac: MAC, log: pino({ level: 'silent' }), clientPort: CLIENT_PORT, serverPort: SERVER_PORT, retransmitMs: 200,
      apply: async (l, old) => void applied.push([l?.address ?? null, old?.address ?? null]),
    });
    await client.start();
  };
  after(async () => { await client?.stop(); server?.stop(); });

  test('DISCOVER, OFFER, REQUEST, ACK: each message as RFC 2131 table 5 has it, the lease applied then announced', async () => {
    await fresh(dora);
    const seen: (Lease4 | null)[] = [];
    client.onLease((l) => seen.push(l));
    const lease = await client.acquire(3000);
    assert.deepEqual({ ...lease, obtained: 0 }, { address: '198.51.100.9', subnetMask: '255.255.255.0', routers: ['198.51.100.1'], dnsServers: ['198.51.100.53', '198.51.100.54'], server: SERVER, leaseTime: 600, obtained: 0 });
    assert.equal(client.state(), 'Bound');
    assert.deepEqual(applied, [['198.51.100.9', null]]);
    assert.deepEqual(seen.map((l) => l?.address), ['198.51.100.9']);
    const [d, r] = server.got;
    assert.equal(d.type, c.MSG.DISCOVER);
    assert.equal(d.flags, c.FLAG_BROADCAST, 'replies must be broadcast: the WAN holds no address yet');
    assert.equal(d.ciaddr, '0.0.0.0');
    assert.equal(d.options.has(c.OPT.REQUESTED_IP), false, 'no previous address yet');
    assert.deepEqual(d.options.get(c.OPT.CLIENT_ID), Buffer.from('01' + MAC.replace(/:/g, ''), 'hex'));
    assert.deepEqual([...d.options.get(c.OPT.PARAM_REQUEST_LIST)!], [1, 3, 6, 51, 58, 59]);
    assert.equal(r.type, c.MSG.REQUEST);
    assert.equal(r.xid, d.xid);
    assert.equal(r.ciaddr, '0.0.0.0');
    assert.equal(r.flags, c.FLAG_BROADCAST);
    assert.deepEqual(c.addresses(r.options.get(c.OPT.REQUESTED_IP)), ['198.51.100.9']);
    assert.deepEqual(c.addresses(r.options.get(c.OPT.SERVER_ID)), [SERVER]);
    assert.deepEqual([server.from[0].address, server.from[0].port], ['0.0.0.0', CLIENT_PORT], 'RFC 2131 §4.1: from 0.0.0.0 until an address is held');
  });

  test('renew is a REQUEST unicast to the server with ciaddr and neither option 50 nor 54 (§4.3.2 RENEWING)', async () => {
    const before = client.lease()!.obtained;
    await new Promise((r) => setTimeout(r, 5));
    await client.renew();
    const m = server.got.at(-1)!;
    assert.equal(m.type, c.MSG.REQUEST);
    assert.equal(m.ciaddr, '198.51.100.9');
    assert.equal(m.flags, 0);
    assert.equal(m.options.has(c.OPT.REQUESTED_IP), false);
    assert.equal(m.options.has(c.OPT.SERVER_ID), false);
    assert.ok(client.lease()!.obtained > before, 'the ACK restarted the lease');
    assert.equal(client.state(), 'Bound');
  });

  test('release: DHCPRELEASE with ciaddr and option 54, the address removed; the next DISCOVER asks for it again', async () => {
    const n = server.got.length;
    await client.release();
    await server.until(n + 1);
    const m = server.got[n];
    assert.equal(m.type, c.MSG.RELEASE);
    assert.equal(m.ciaddr, '198.51.100.9');
    assert.deepEqual(c.addresses(m.options.get(c.OPT.SERVER_ID)), [SERVER]);
    assert.equal(client.lease(), null);
    assert.equal(client.state(), 'Init');
    assert.deepEqual(applied.at(-1), [null, '198.51.100.9']);
    client.prepare();
    await server.until(n + 2);
    const d = server.got[n + 1];
    assert.equal(d.type, c.MSG.DISCOVER);
    assert.deepEqual(c.addresses(d.options.get(c.OPT.REQUESTED_IP)), ['198.51.100.9'], 'RFC 2131 §4.3.1: the address it had');
    await client.acquire(3000);
  });

  test('a lost DISCOVER is retransmitted with the same xid after the retransmission time', async () => {
    await fresh((m, n) => (n === 1 ? null : dora(m)));
    const t0 = Date.now();
    await client.acquire(3000);
    const waited = Date.now() - t0;
    const [a, b] = server.got;
    assert.equal(a.type, c.MSG.DISCOVER);
    assert.equal(b.type, c.MSG.DISCOVER);
    assert.equal(a.xid, b.xid);
    assert.ok(waited >= 170 && waited < 1500, `retransmitted after ${waited} ms (200 ms +-10 %)`);
  });

  test('replies for another transaction or another client are ignored', async () => {
    await fresh((m) => {
      if (m.type !== c.MSG.DISCOVER) return dora(m);
      server.send(reply({ ...m, xid: m.xid ^ 1 }, c.MSG.OFFER, '198.51.100.77'));
      server.send(reply(m, c.MSG.OFFER, '198.51.100.66', { chaddr: '02:00:5e:10:00:99' }));
      setTimeout(() => server.send(reply(m, c.MSG.OFFER, '198.51.100.10')), 20);
      return null;
    });
    const lease = await client.acquire(3000);
    assert.equal(lease.address, '198.51.100.10');
    const req = server.got.find((m) => m.type === c.MSG.REQUEST)!;
    assert.deepEqual(c.addresses(req.options.get(c.OPT.REQUESTED_IP)), ['198.51.100.10']);
  });

  test('a NAK to the REQUEST starts over with a DISCOVER that no longer asks for the refused address', async () => {
    let naks = 0;
    await fresh((m) => {
      if (m.type === c.MSG.REQUEST && naks++ === 0) return reply(m, c.MSG.NAK);
      return m.type === c.MSG.DISCOVER ? reply(m, c.MSG.OFFER, naks ? '198.51.100.11' : '198.51.100.9') : dora(m);
    });
    const lease = await client.acquire(3000);
    assert.equal(lease.address, '198.51.100.11');
    assert.deepEqual(server.got.map((m) => m.type), [c.MSG.DISCOVER, c.MSG.REQUEST, c.MSG.DISCOVER, c.MSG.REQUEST]);
    assert.equal(server.got[2].options.has(c.OPT.REQUESTED_IP), false);
    assert.notEqual(server.got[2].xid, server.got[0].xid, 'a new transaction');
  });

  test('no server: acquire rejects at its timeout and the client falls silent', async () => {
    await fresh(() => null);
    await assert.rejects(client.acquire(500), /no lease within 500 ms/);
    assert.equal(client.state(), 'Init');
    const n = server.got.length;
    assert.ok(n >= 2, `${n} DISCOVERs in 500 ms`);
    await new Promise((r) => setTimeout(r, 800));
    assert.equal(server.got.length, n, 'nothing sent after the timeout');
    assert.equal(client.lease(), null);
  });

  test('an OFFER without a lease time or server identifier is not taken (RFC 2131 table 3: both MUST)', async () => {
    await fresh((m) => {
      if (m.type !== c.MSG.DISCOVER) return dora(m);
      const bad = reply(m, c.MSG.OFFER, '198.51.100.50');
      bad.options.delete(c.OPT.SERVER_ID);
      server.send(bad);
      return null;
    });
    await assert.rejects(client.acquire(500), /no lease/);
    assert.ok(server.got.every((m) => m.type === c.MSG.DISCOVER));
  });
});

// ---- against Kea ------------------------------------------------------------------------------------------

const CHILD = fileURLToPath(new URL('./dhcp4-child.ts', import.meta.url));
const SNS = `d4s${process.pid}`;
const CNS = `d4c${process.pid}`;
const S = `d4s${process.pid}`;
const C = `d4c${process.pid}`;

describe('dhcp4 client against Kea', () => {
  const dir = mkdtempSync(join(tmpdir(), 'twinstack-dhcp4-'));
  let kea: ChildProcess | null = null;
  const cleanup = () => {
    if (kea?.pid) try { process.kill(kea.pid, 'SIGKILL'); } catch { /* gone */ }
    spawnSync('ip', ['netns', 'del', SNS], { stdio: 'ignore' });
    spawnSync('ip', ['netns', 'del', CNS], { stdio: 'ignore' });
  };
  process.once('exit', cleanup);

  before(async () => {
    cleanup();
    for (const ns of [SNS, CNS]) {
      await run('ip', ['netns', 'add', ns]);
      await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    await run('ip', ['link', 'add', S, 'netns', SNS, 'type', 'veth', 'peer', 'name', C, 'netns', CNS]);
    await run('ip', ['-n', SNS, 'addr', 'add', '198.51.100.1/24', 'dev', S]);
    await run('ip', ['-n', SNS, 'link', 'set', S, 'up']);
    await run('ip', ['-n', CNS, 'link', 'set', C, 'up']);
    // The gateway has IPv4 elsewhere (its LAN): a UDP socket's broadcast would take that source.
    await run('ip', ['-n', CNS, 'addr', 'add', '192.168.1.1/32', 'dev', 'lo']);
    // Short times so that the renewal at T1 happens within the test.
    writeFileSync(join(dir, 'kea4.json'), JSON.stringify({ Dhcp4: {
      'interfaces-config': { interfaces: [S] },
      'lease-database': { type: 'memfile', persist: false }, 'valid-lifetime': 8, 'renew-timer': 2, 'rebind-timer': 5,
      subnet4: [{ id: 1, subnet: '198.51.100.0/24', interface: S, pools: [{ pool: '198.51.100.10 - 198.51.100.20' }],
        'option-data': [{ name: 'routers', data: '198.51.100.1' }, { name: 'domain-name-servers', data: '198.51.100.53' }] }],
      loggers: [{ name: 'kea-dhcp4', severity: 'DEBUG', debuglevel: 40, output_options: [{ output: join(dir, 'kea4.log') }] }],
    } }));
    kea = spawn('ip', ['netns', 'exec', SNS, 'kea-dhcp4', '-c', join(dir, 'kea4.json')], { stdio: 'ignore', env: { ...process.env, KEA_PIDFILE_DIR: dir, KEA_LOCKFILE_DIR: dir } });
    for (let i = 0; i < 100 && !/DHCP4_STARTED/.test(readLog()); i++) await new Promise((r) => setTimeout(r, 50));
    assert.match(readLog(), /DHCP4_STARTED/, 'kea-dhcp4 started');
  });
  after(() => { cleanup(); rmSync(dir, { recursive: true, force: true }); });

  function readLog() {
    try { return readFileSync(join(dir, 'kea4.log'), 'utf8'); } catch { return ''; }
  }

  async function steps(...s: [string, number?][]): Promise<Record<string, unknown>[]> {
    const { stdout } = await run('ip', ['netns', 'exec', CNS, process.execPath, '--import', 'tsx', CHILD, C, JSON.stringify(s)], { timeout: 30_000 });
    return stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  test('DORA from an interface with no address, renewal at T1, release, and the same address asked for and given again', async () => {
    const out = await steps(['acquire', 5000], ['waitLease', 4000], ['release'], ['acquire', 5000], ['release']);
    const results = out.filter((o) => 'step' in o);
    const [first, renewed, released, second] = results as { step: string; lease: Lease4 | null; error?: string; ms: number }[];
    assert.equal(first.error, undefined, JSON.stringify(first));
    assert.match(first.lease!.address, /^198\.51\.100\.(1\d|20)$/);
    assert.deepEqual({ mask: first.lease!.subnetMask, routers: first.lease!.routers, dns: first.lease!.dnsServers, server: first.lease!.server, lease: first.lease!.leaseTime },
      { mask: '255.255.255.0', routers: ['198.51.100.1'], dns: ['198.51.100.53'], server: '198.51.100.1', lease: 8 });
    assert.ok(first.ms < 2000, `bound in ${first.ms} ms`);
    // Renewal at T1 (2 s): unicast from the leased address (applied by rtnetlink), ACKed by Kea.
    assert.equal(renewed.error, undefined, JSON.stringify(renewed));
    assert.equal(renewed.lease!.address, first.lease!.address);
    assert.ok(renewed.lease!.obtained - first.lease!.obtained >= 1500, 'renewed at T1, not at once');
    assert.equal(released.lease, null);
    assert.equal(second.error, undefined, JSON.stringify(second));
    assert.equal(second.lease!.address, first.lease!.address, 'Kea gives back the address asked for (option 50)');
    const log = readLog();
    const received = log.split('\n').filter((l) => /DHCP4_BUFFER_RECEIVED/.test(l));
    assert.ok(received.length >= 6, received.join('\n'));
    assert.deepEqual(received.filter((l) => !/from (0\.0\.0\.0|198\.51\.100\.1\d|198\.51\.100\.20):68 /.test(l)), [], 'broadcasts from 0.0.0.0, unicasts from the lease');
    assert.equal((log.match(/DHCP4_RELEASE /g) ?? []).length, 2, 'Kea saw both DHCPRELEASEs');
    assert.match(log, new RegExp(`DHCP4_LEASE_ALLOC .*lease ${first.lease!.address.replace(/\./g, '\\.')} has been allocated`));
    assert.ok(out.at(-1)!.done);
  });
});
