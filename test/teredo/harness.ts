// The child process of a Teredo lab namespace (lab.ts), driven over stdin/stdout by JSON lines ({ id, op, ...args }
// in, { id, ok, value | error } out, one { ready: true } first; served by ../lab/jsonl.ts):
//   `harness.ts forwarder`: the bundled forwarder in mode 'teredo' (it must run inside the client's namespace: the
//     tun and the socket are created where the worker runs).
//   `harness.ts host`: a TCP echo server (the IPv6 server's), and TCP exchanges from a client.
import { connect, createServer } from 'node:net';
import type { ForwarderConfig } from '../../src/forwarder/index.ts';
import { childForwarder, serveLabChild } from '../lab/forwarder-child.ts';
import type { Op } from '../lab/jsonl.ts';

async function forwarderOps(): Promise<Record<string, Op>> {
  const fwd = await childForwarder();
  return {
    start: async (a) => (await fwd.start(a.config as ForwarderConfig)).config.teredo,
    teredo: () => fwd.get().teredo(),
    counters: () => fwd.get().counters(),
    stop: () => fwd.stop(),
  };
}

function hostOps(): Record<string, Op> {
  return {
    /** TCP echo server on [::]:port; resolves with the peers seen so far on each call of `seen`. */
    async tcpServe(a) {
      const srv = createServer((c) => {
        c.on('data', (d) => c.write(d));
        c.on('error', () => undefined);
      });
      await new Promise<void>((res, rej) => { srv.once('error', rej); srv.listen({ port: a.port as number, host: '::', ipv6Only: true }, res); });
    },
    /** Connects to to:port, sends `bytes` bytes, waits for all of them back, closes; what came back and from where. */
    async tcpRound(a) {
      const sock = connect({ host: a.to as string, port: a.port as number });
      const n = a.bytes as number;
      const data = Buffer.alloc(n, 'teredo:0123456789abcdef;');
      const got: Buffer[] = [];
      let size = 0;
      const timeout = (a.timeoutMs as number) ?? 10_000;
      try {
        await new Promise<void>((res, rej) => {
          const t = setTimeout(() => rej(new Error(`tcp to ${a.to}: ${size} of ${n} bytes back within ${timeout} ms`)), timeout);
          sock.once('error', (e) => (clearTimeout(t), rej(e)));
          sock.once('connect', () => sock.write(data));
          sock.on('data', (d) => {
            got.push(d);
            size += d.length;
            if (size >= n) clearTimeout(t), res();
          });
        });
        return { localAddress: sock.localAddress, equal: Buffer.concat(got).equals(data) };
      } finally {
        sock.destroy();
      }
    },
  };
}

await serveLabChild('harness.ts', forwarderOps, hostOps);
