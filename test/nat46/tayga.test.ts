// tayga (Debian, PEERS.md §9) as an independent RFC 7915 translator, cross-checking the IPv4 -> IPv6 output of our
// nat46 mode (src/forwarder/native/nat46.cc) packet for packet.
//
// Same addresses on both sides, so every byte can be compared: tayga's `prefix` is our clients' /96 (prefix |
// tenant | gateway ID, the IPv4 in the last 32 bits), so it maps the IPv4 source (a client) exactly as we do, and
// a `map` line gives the server the address our RFC 6052 /96 gives it. What is compared, for each IPv4 packet in:
// the number of IPv6 packets out and, for each, every field (version, traffic class, flow label, payload length,
// next header, hop limit, source, destination, the Fragment header, the ICMPv6 type/code/word and the quoted
// packet of errors) and then the whole packet, checksums included (both translators update them for the new
// pseudo-header, so they must agree bit for bit). Our checksums are also verified from scratch, so agreeing with
// tayga on a wrong one cannot pass. The IPv4 packets are sent into tayga's tun with a raw socket inside a
// namespace of our own, both directions captured with tcpdump on the tun, and exactly the captured IPv4 packets
// (what tayga read) go through our translator (the addon's inject() hook).
//
// Not compared: IPv6 -> IPv4 (tayga's stateless direction has no firewall and its own IPv4 ID rule), and tayga's
// atomic-fragment option (off by default, as RFC 8021 wants: both leave small DF=0 packets unfragmented).
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadAddon, nativeNat46, type NativeConfig } from '../../src/forwarder/native.ts';
import { resolveConfig, type ForwarderConfig } from '../../src/forwarder/types.ts';
import { addr6, checksum, icmp4, ipv4, tcp4, udp4 } from '../forwarder/packets.ts';
import { until } from '../wait.ts';

const C = '192.0.2.10'; // the client
const S = '203.0.113.9'; // the server
const CLIENTS96 = '2001:db8:462a:102::'; // 2001:db8:4600::/40 | tenant 0x2a | gateway 0x102
const SERVER6 = '2001:db8:6464::cb00:7109'; // 2001:db8:6464::/96 | 203.0.113.9

const CFG: ForwarderConfig = {
  tunName: 'n46x', softwire: '2001:db8:b4::1', aftr: '2001:db8:ff::1', mode: 'nat46', b4Ipv4: '192.0.0.8',
  nat46: { prefix: '2001:db8:4600::/40', tenantBits: 8, gatewayBits: 16, tenantId: 0x2a, gatewayId: 0x102, dstPrefix: '2001:db8:6464::/96', localAddress: '2001:db8:ff00::1' },
};
const NATIVE: NativeConfig = {
  softwire: CFG.softwire, aftr: CFG.aftr, drainAftr: '', b4Ipv4: '192.0.0.8', echoTarget: '192.0.0.1', mtu: 1460, hopLimit: 64, mssClamp: 0,
  enabled: true, nat46: nativeNat46(resolveConfig(CFG).nat46!),
};

const data = (n: number, seed = 3) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff));
const mss = Buffer.from([2, 4, 0x05, 0xb4, 1, 3, 3, 7]); // MSS 1460, NOP, window scale 7
/** The IPv4 packets both translators get: what a LAN host sends (nonzero IDs: the raw socket fills in a zero one). */
const INPUTS: Array<[string, Buffer]> = [
  ['UDP, DF, TOS 0x28', ipv4({ src: C, dst: S, proto: 17, df: true, tos: 0x28, id: 0x101, ttl: 64, payload: udp4(C, S, 5000, 53, data(40)) })],
  ['TCP SYN with options, DF', ipv4({ src: C, dst: S, proto: 6, df: true, id: 0x102, ttl: 63, payload: tcp4({ src: C, dst: S, sport: 40000, dport: 80, seq: 0x11223344, flags: 0x02, options: mss }) })],
  ['ICMP echo request, DF=0', ipv4({ src: C, dst: S, proto: 1, id: 0x103, ttl: 64, payload: icmp4(8, 0, 0x4d2_0001, data(56)) })],
  [
    'ICMP port unreachable quoting a UDP packet from the server',
    ipv4({ src: C, dst: S, proto: 1, id: 0x104, ttl: 64, tos: 0xc0, payload: icmp4(3, 3, 0, ipv4({ src: S, dst: C, proto: 17, id: 0x999, ttl: 57, payload: udp4(S, C, 53, 5000, data(30)) })) }),
  ],
  [
    'ICMP time exceeded quoting an ICMP echo from the server',
    ipv4({ src: C, dst: S, proto: 1, id: 0x105, ttl: 64, payload: icmp4(11, 0, 0, ipv4({ src: S, dst: C, proto: 1, id: 0x99a, ttl: 1, payload: icmp4(8, 0, 0x0007_0002, data(16)) })) }),
  ],
  ['UDP DF=0 of 1400 bytes: two IPv6 fragments of at most 1280', ipv4({ src: C, dst: S, proto: 17, id: 0x106, ttl: 64, payload: udp4(C, S, 5001, 53, data(1372)) })],
  ['an IPv4 first fragment (MF): a Fragment header', ipv4({ src: C, dst: S, proto: 17, id: 0x107, ttl: 64, mf: true, payload: udp4(C, S, 5002, 53, data(100)).subarray(0, 48) })],
];

const sh = (cmd: string, ...args: string[]) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr || r.error}`);
  return r.stdout;
};

/** The records of a pcap file (raw IP link type: a tun). */
function pcapPackets(file: string): Buffer[] {
  const b = readFileSync(file);
  if (b.length < 24) return [];
  const le = b.readUInt32LE(0) === 0xa1b2c3d4;
  const u32 = (o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const link = u32(20);
  assert.ok(link === 101 || link === 12, `pcap link type ${link}: expected raw IP`);
  const out: Buffer[] = [];
  for (let o = 24; o + 16 <= b.length; ) {
    const n = u32(o + 8);
    if (o + 16 + n > b.length) break;
    out.push(b.subarray(o + 16, o + 16 + n));
    o += 16 + n;
  }
  return out;
}

/** RFC 8200 §8.1 checksum check of an unfragmented IPv6 packet's upper layer (TCP, UDP, ICMPv6): 0 when right. */
function upperChecksum(p: Buffer): number {
  const pseudo = Buffer.alloc(40);
  p.copy(pseudo, 0, 8, 40);
  pseudo.writeUInt32BE(p.length - 40, 32);
  pseudo[39] = p[6];
  return checksum(pseudo, p.subarray(40));
}

/** The fields RFC 7915 §4.1-§4.3 sets, by name, for a readable difference before the byte comparison. */
function fields(p: Buffer): Record<string, unknown> {
  const f: Record<string, unknown> = {
    version: p[0] >> 4, trafficClass: (p.readUInt32BE(0) >> 20) & 0xff, flowLabel: p.readUInt32BE(0) & 0xfffff,
    payloadLength: p.readUInt16BE(4), nextHeader: p[6], hopLimit: p[7],
    src: p.subarray(8, 24).toString('hex'), dst: p.subarray(24, 40).toString('hex'),
  };
  let l4 = 40;
  let next = p[6];
  if (next === 44) {
    Object.assign(f, { fragNext: p[40], fragOffset: p.readUInt16BE(42) & 0xfff8, fragM: p.readUInt16BE(42) & 1, fragId: p.readUInt32BE(44) });
    next = p[40];
    l4 = 48;
  }
  if (next === 58) {
    Object.assign(f, { icmpType: p[l4], icmpCode: p[l4 + 1], icmpWord: p.readUInt32BE(l4 + 4) });
    if (p[l4] < 128) f.quoted = fields(p.subarray(l4 + 8));
  } else if (next === 6 || next === 17) {
    Object.assign(f, { sport: p.readUInt16BE(l4), dport: p.readUInt16BE(l4 + 2) });
  }
  f.checksum = next === 6 ? p.readUInt16BE(l4 + 16) : next === 17 ? p.readUInt16BE(l4 + 6) : next === 58 ? p.readUInt16BE(l4 + 2) : null;
  return f;
}

const SENDER = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
for line in sys.stdin:
    pkt = bytes.fromhex(line.strip())
    s.sendto(pkt, (socket.inet_ntoa(pkt[16:20]), 0))
`;

test('tayga cross-check: the same IPv4 packets in give the same IPv6 packets out (RFC 7915 §4)', { skip: process.getuid?.() !== 0 && 'needs root (network namespaces)', timeout: 60_000 }, async () => {
  // A missing peer fails (tools/ensure-peers.sh installs it), never skips.
  assert.equal(spawnSync('sh', ['-c', 'command -v tayga && command -v tcpdump && command -v python3']).status, 0, 'tayga, tcpdump and python3 are needed: run tools/ensure-peers.sh');
  const ns = `n46tayga-${process.pid}`;
  const dir = mkdtempSync(join(tmpdir(), 'n46tayga-'));
  const procs: ChildProcess[] = [];
  try {
    sh('ip', 'netns', 'add', ns);
    sh('ip', '-n', ns, 'link', 'set', 'lo', 'up');
    writeFileSync(join(dir, 'tayga.conf'), [
      'tun-device nat64', 'ipv4-addr 192.0.2.1', 'ipv6-addr 2001:db8:ff00::64', `prefix ${CLIENTS96}/96`, `map ${S} ${SERVER6}`, `data-dir ${dir}`, '',
    ].join('\n'));
    sh('ip', 'netns', 'exec', ns, 'tayga', '-c', join(dir, 'tayga.conf'), '--mktun');
    sh('ip', '-n', ns, 'link', 'set', 'nat64', 'up');
    sh('ip', '-n', ns, 'route', 'add', `${S}/32`, 'dev', 'nat64');
    let taygaLog = '';
    const tayga = spawn('ip', ['netns', 'exec', ns, 'tayga', '-c', join(dir, 'tayga.conf'), '-d'], { stdio: ['ignore', 'pipe', 'pipe'] });
    procs.push(tayga);
    tayga.stdout!.on('data', (d) => (taygaLog += d));
    tayga.stderr!.on('data', (d) => (taygaLog += d));
    // -Z root: tcpdump would otherwise drop to its own user and fail to write into our 0700 directory.
    let dumpLog = '';
    const cap = join(dir, 'cap.pcap');
    const dump = spawn('ip', ['netns', 'exec', ns, 'tcpdump', '-U', '-n', '-Z', 'root', '-i', 'nat64', '-w', cap], { stdio: ['ignore', 'ignore', 'pipe'] });
    procs.push(dump);
    dump.stderr!.on('data', (d) => (dumpLog += d));
    await until(() => /listening on/.test(dumpLog), 10_000, 'tcpdump listening');
    // Started: it holds the tun open (it prints nothing until a packet needs a word).
    const holdsTun = () => { try { return readdirSync(`/proc/${tayga.pid}/fd`).some((fd) => readlinkSync(`/proc/${tayga.pid}/fd/${fd}`) === '/dev/net/tun'); } catch { return false; } };
    await until(() => tayga.exitCode !== null || holdsTun(), 10_000, 'tayga started');
    assert.equal(tayga.exitCode, null, `tayga exited: ${taygaLog}`);
    const send = spawnSync('ip', ['netns', 'exec', ns, 'python3', '-c', SENDER], { input: INPUTS.map(([, p]) => p.toString('hex')).join('\n') + '\n', encoding: 'utf8' });
    assert.equal(send.status, 0, send.stderr);
    // tayga's IPv6 (source in the clients' /96): 1 per input, 2 for the packet it must cut.
    const isOut = (p: Buffer) => p[0] >> 4 === 6 && p.subarray(8, 20).equals(addr6(CLIENTS96).subarray(0, 12));
    await until(() => pcapPackets(cap).filter(isOut).length >= INPUTS.length + 1, 10_000, "tayga's output").catch((e) => assert.fail(`${e.message}; tayga: ${taygaLog}`));
    const captured = pcapPackets(cap);
    const sent = captured.filter((p) => p[0] >> 4 === 4);
    const theirs = captured.filter(isOut);
    assert.equal(sent.length, INPUTS.length, 'IPv4 packets into the tun');

    const addon = loadAddon();
    const h = addon.create();
    addon.configure(h, NATIVE);
    for (let i = 0; i < sent.length; i++) {
      const name = INPUTS[i][0];
      const ours = addon.inject(h, sent[i], 1000).out;
      const want = theirs.splice(0, ours.length);
      assert.ok(ours.length > 0, `${name}: we translated it`);
      for (let k = 0; k < ours.length; k++) {
        assert.deepEqual(fields(ours[k]), fields(want[k] ?? Buffer.alloc(40)), `${name} [${k}]: fields`);
        assert.equal(ours[k].toString('hex'), want[k].toString('hex'), `${name} [${k}]: bytes`);
        if (ours[k][6] !== 44) assert.equal(upperChecksum(ours[k]), 0, `${name}: our checksum verifies from scratch`);
      }
    }
    assert.deepEqual(theirs.map((p) => p.toString('hex')), [], 'tayga sent nothing more');
  } finally {
    for (const p of procs) if (p.pid && p.exitCode === null) process.kill(p.pid, 'SIGTERM');
    await Promise.all(procs.map((p) => (p.exitCode !== null ? undefined : new Promise((r) => p.once('exit', r)))));
    spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  }
});
