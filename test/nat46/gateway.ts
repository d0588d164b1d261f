// The child process of each namespace of the nat46 lab (lab.ts), driven over stdin/stdout by JSON lines
// ({ id, op, ...args } in, { id, ok, value | error } out, one { ready: true } first; served by ../lab/jsonl.ts):
//   `gateway.ts forwarder`: a gateway's bundled forwarder in mode nat46. It must run inside the gateway's
//     namespace (the tun is created where the worker threads are), so it cannot run in the test process.
//   `gateway.ts host`: the sockets of a LAN client or of the IPv6 server: UDP and TCP echo servers that record
//     the source address of everything they receive (what "the server sees"), and the clients' exchanges.
// Killing a forwarder child by its pid (SIGKILL) is the lab's "gateway dies": the kernel closes its tun.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, createServer, isIPv6, type Socket as TcpSocket } from 'node:net';
import type { Nat46Settings } from '../../src/dslite/nat46-model.ts';
import type { ForwarderConfig } from '../../src/forwarder/index.ts';
import { childForwarder, serveLabChild } from '../lab/forwarder-child.ts';
import type { Op } from '../lab/jsonl.ts';

/** What a server recorded: one row per datagram or connection, with the source as its socket saw it. */
export interface Seen {
  proto: 'udp' | 'tcp';
  port: number;
  from: string;
  fromPort: number;
  /** UDP: the datagram's text; TCP: the bytes received so far on the connection. */
  data: string;
  bytes: number;
  at: number;
}

/** A client's UDP exchange: the sequence numbers sent and those whose echo came back. */
export interface Exchange {
  localPort: number;
  sent: number[];
  received: number[];
}

/** A UDP stream's state: what was sent, what came back (seq, epoch ms), send errors (a path down). */
export interface Stream {
  sent: number;
  received: Array<[number, number]>;
  errors: number;
}

const withTimeout = <T>(p: Promise<T>, ms: number, what: string): Promise<T> =>
  Promise.race([p, new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`${what}: no answer within ${ms} ms`)), ms).unref())]);

async function forwarderOps(): Promise<Record<string, Op>> {
  // Loaded only here: a host child starts without the forwarder's modules (the lab starts several at once).
  const [fwd, { Nat46Controller }] = await Promise.all([childForwarder(), import('../../src/dslite/nat46.ts')]);
  let controller: InstanceType<typeof Nat46Controller> | null = null;
  return {
    start: async (a) => (await fwd.start(a.config as ForwarderConfig)).config.nat46,
    // The resolved nat46 config in force afterwards: the test can see what the forwarder kept of what it sent.
    async reconfigure(a) {
      await fwd.get().reconfigure(a.config as ForwarderConfig);
      return fwd.get().config.nat46;
    },
    counters: () => fwd.get().counters(),
    config: () => fwd.get().config.nat46,
    /** One probe of a peer's hand-off address (what Nat46Port.probe does on Linux). */
    echo: (a) => fwd.get().echo({ aftr: a.to as string, timeoutMs: a.timeoutMs as number }),
    /**
     * The agent's NAT46 controller (src/dslite/nat46.ts) over this forwarder, given data-model settings: it applies
     * the configuration in force (reconfigure), probes the peers and brings PeerDown adoptions into force itself.
     */
    watch(a) {
      const base = fwd.get().config;
      controller = new Nat46Controller({
        log: fwd.logger,
        platform: {
          nat46: {
            apply: async (c) => { if (c) await fwd.get().reconfigure({ ...base, nat46: c }); },
            config: () => fwd.get().config.nat46 ?? null,
            counters: async () => ({ translated4to6: 0, translated6to4: 0, handedOff: 0, handOffsReceived: 0, dropped: 0 }),
            probe: (address, timeoutMs) => fwd.get().echo({ aftr: address, timeoutMs }),
          },
        },
      });
      controller.configure(a.settings as Nat46Settings, false);
      controller.start();
      return controller.idle().then(() => controller!.status());
    },
    /** The controller's report: Status, each Peer's liveness, each adoption Standby or Active. */
    watchStatus: () => controller?.status() ?? null,
    async stop() {
      await controller?.stop();
      await fwd.stop();
    },
  };
}

function hostOps(): Record<string, Op> {
  const seen: Seen[] = [];
  const udpServers = new Map<number, UdpSocket>();
  const tcp = new Map<string, { sock: TcpSocket; received: Buffer[] }>();
  const streams = new Map<string, { sock: UdpSocket; timer: NodeJS.Timeout; state: Stream }>();
  const udp = (to: string) => createSocket(isIPv6(to) ? 'udp6' : 'udp4');
  const bound = (s: UdpSocket, port = 0, address?: string) =>
    new Promise<void>((res, rej) => { s.once('error', rej); s.bind(port, address, () => { s.off('error', rej); res(); }); });
  return {
    /** UDP server on [::]:port: records each datagram; echoes it unless `echo` is false. */
    async udpServe(a) {
      const s = createSocket({ type: 'udp6', ipv6Only: true });
      s.on('message', (m, r) => {
        seen.push({ proto: 'udp', port: a.port as number, from: r.address, fromPort: r.port, data: m.toString(), bytes: m.length, at: Date.now() });
        if (a.echo !== false) s.send(m, r.port, r.address);
      });
      s.on('error', () => undefined); // an ICMPv6 error about an echo we sent: recorded by the lab's captures
      await bound(s, a.port as number, '::');
      udpServers.set(a.port as number, s);
    },
    /** Sends `count` datagrams from the UDP server on `port` to `to`:`toPort` (the server speaking first). */
    udpServerSend(a) {
      const s = udpServers.get(a.port as number);
      if (!s) throw new Error(`no UDP server on port ${a.port}`);
      for (let i = 0; i < ((a.count as number) ?? 1); i++) s.send(String(a.data ?? `server ${i}`), a.toPort as number, a.to as string);
    },
    /** TCP echo server on [::]:port: one row per connection, its bytes updated as they arrive. */
    async tcpServe(a) {
      const srv = createServer((c) => {
        const row: Seen = { proto: 'tcp', port: a.port as number, from: c.remoteAddress ?? '', fromPort: c.remotePort ?? 0, data: '', bytes: 0, at: Date.now() };
        seen.push(row);
        c.on('data', (d) => {
          row.bytes += d.length;
          if (row.data.length < 256) row.data += d.toString().slice(0, 256 - row.data.length);
          c.write(d);
        });
        c.on('error', () => undefined);
      });
      await new Promise<void>((res, rej) => { srv.once('error', rej); srv.listen({ port: a.port as number, host: '::', ipv6Only: true }, res); });
    },
    seen: () => seen,
    /** `count` datagrams "seq" to to:port on a connected socket (TTL `ttl` if given); waits for the echoes. */
    async udpExchange(a) {
      const s = udp(a.to as string);
      const res: Exchange = { localPort: 0, sent: [], received: [] };
      const count = a.count as number;
      const all = new Promise<void>((done) => s.on('message', (m) => {
        res.received.push(Number(m.toString().split(' ')[1]));
        if (res.received.length === count) done();
      }));
      s.on('error', () => undefined);
      await bound(s, (a.localPort as number) ?? 0);
      res.localPort = s.address().port;
      if (a.ttl) s.setTTL(a.ttl as number);
      for (let i = 0; i < count; i++) {
        s.send(`${a.tag ?? 'x'} ${i}`, a.port as number, a.to as string);
        res.sent.push(i);
      }
      await Promise.race([all, new Promise((r) => setTimeout(r, (a.timeoutMs as number) ?? 3000).unref())]);
      s.close();
      return res;
    },
    /** `count` datagrams to to:port, nothing awaited (packets that should be dropped on the way). */
    async udpOneWay(a) {
      const s = udp(a.to as string);
      s.on('error', () => undefined);
      await bound(s, (a.localPort as number) ?? 0);
      const localPort = s.address().port;
      await Promise.all(Array.from({ length: a.count as number }, (_, i) => new Promise((r) => s.send(`one-way ${i}`, a.port as number, a.to as string, r))));
      s.close();
      return { localPort };
    },
    /** Opens a named TCP connection and keeps it. */
    async tcpOpen(a) {
      const sock = connect({ host: a.to as string, port: a.port as number });
      const entry = { sock, received: [] as Buffer[] };
      sock.on('data', (d) => entry.received.push(d));
      sock.on('error', () => undefined);
      await withTimeout(new Promise<void>((res, rej) => { sock.once('connect', res); sock.once('error', rej); }), 5000, 'tcp connect');
      tcp.set(a.name as string, entry);
      return { localAddress: sock.localAddress, localPort: sock.localPort };
    },
    /** Writes `bytes` bytes (a pattern tagged with `tag`) on the named connection and waits for all of them back. */
    async tcpRound(a) {
      const e = tcp.get(a.name as string);
      if (!e) throw new Error(`no TCP connection ${a.name}`);
      const n = a.bytes as number;
      const data = Buffer.alloc(n, `${a.tag ?? 'x'}:0123456789abcdef;`);
      e.received = [];
      const back = new Promise<void>((res) => {
        const check = () => {
          if (Buffer.concat(e.received).length >= n) e.sock.off('data', check), res();
        };
        e.sock.on('data', check);
        check();
      });
      e.sock.write(data);
      await withTimeout(back, (a.timeoutMs as number) ?? 5000, `tcp echo of ${n} bytes`);
      return { equal: Buffer.concat(e.received).equals(data) };
    },
    /** Closes the named connection (FIN) and waits for the server's FIN. */
    async tcpClose(a) {
      const e = tcp.get(a.name as string);
      tcp.delete(a.name as string);
      if (!e) return;
      const closed = new Promise((r) => e.sock.once('close', r));
      e.sock.end();
      await withTimeout(closed, 5000, 'tcp close');
    },
    /** Starts a UDP stream: datagram "stream seq" every intervalMs from one socket (one source port throughout). */
    async udpStream(a) {
      const s = udp(a.to as string);
      const state: Stream = { sent: 0, received: [], errors: 0 };
      s.on('message', (m) => state.received.push([Number(m.toString().split(' ')[1]), Date.now()]));
      // ECONNREFUSED and the like while the gateway is gone: the stream goes on, as an application's would.
      s.on('error', () => state.errors++);
      await bound(s);
      const timer = setInterval(() => s.send(`stream ${state.sent++}`, a.port as number, a.to as string, (err) => err && state.errors++), a.intervalMs as number);
      streams.set(a.name as string, { sock: s, timer, state });
      return { localPort: s.address().port };
    },
    streamState: (a) => streams.get(a.name as string)?.state,
    streamStop(a) {
      const st = streams.get(a.name as string);
      if (!st) return undefined;
      clearInterval(st.timer);
      st.sock.close();
      streams.delete(a.name as string);
      return st.state;
    },
  };
}

await serveLabChild('gateway.ts', forwarderOps, hostOps);
