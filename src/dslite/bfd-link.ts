// One BFD session with its two UDP sockets (RFC 5883 §5, RFC 5881 §4): a connected transmit socket from a
// port in 49152-65535 with hop limit 255, and the receive socket on port 4784 of the same local address.
// The same code runs in the main thread over the simulated WAN's UDP and in the BFD worker thread over real
// sockets (bfd-thread.ts), so both paths share one state machine (bfd-session.ts).
import type { Disposable } from '../datamodel/index.ts';
import { BFD_MULTIHOP_PORT, type BfdState } from './bfd-codec.ts';
import { BfdSession, type BfdConfig, type BfdStatus } from './bfd-session.ts';
import type { UdpOpen, UdpSocket } from './detectors.ts';

const SOURCE_PORTS = [49152, 65535] as const; // RFC 5881 §4

export interface BfdOpenOptions {
  /** the peer (the AFTR), an IPv6 address */
  aftr: string;
  /** local IPv6 address ('' = the one the kernel picks towards the AFTR) */
  localAddress: string;
  config: BfdConfig;
}

export interface BfdChange {
  from: BfdState;
  status: BfdStatus;
}

/** A running session, wherever it runs: what the detector needs of it. */
export interface BfdHandle {
  /** the local address the session sends from */
  readonly local: string;
  /** the session's state and counters now */
  status(): BfdStatus;
  configure(c: BfdConfig): void;
  onChange(fn: (e: BfdChange) => void): Disposable;
  /** The session ended on its own (its thread died): it is gone and a new one must be opened. */
  onFailure?(fn: (err: Error) => void): Disposable;
  /** Sends AdminDown (diagnostic 7) once and closes the sockets; fires a last change to AdminDown. */
  stop(): void;
}

/** Opens the sockets through `udp` and starts the session on them. */
export async function openBfdSession(udp: UdpOpen, o: BfdOpenOptions): Promise<BfdHandle> {
  const { aftr } = o;
  let session: BfdSession | null = null;
  const onMessage = (m: Buffer, from: { address: string }) => {
    if (from.address === aftr || from.address === `::ffff:${aftr}`) session?.receive(m);
  };
  const sockets: UdpSocket[] = [];
  try {
    // Transmit socket: connected (the kernel picks the source towards the AFTR), a port of 49152-65535.
    let tx: UdpSocket | null = null;
    for (let i = 0; i < 16 && !tx; i++) {
      const port = SOURCE_PORTS[0] + Math.floor(Math.random() * (SOURCE_PORTS[1] - SOURCE_PORTS[0] + 1));
      tx = await udp({ type: 'udp6', address: o.localAddress || undefined, port, ttl: 255, peer: { address: aftr, port: BFD_MULTIHOP_PORT }, onMessage })
        .catch((e: NodeJS.ErrnoException) => { if (e.code === 'EADDRINUSE') return null; throw e; });
    }
    if (!tx) throw new Error('no free source port');
    sockets.push(tx);
    const local = tx.address().address;
    sockets.push(await udp({ type: 'udp6', address: local, port: BFD_MULTIHOP_PORT, onMessage }));
    const s = new BfdSession(o.config, (b) => tx.send(b, BFD_MULTIHOP_PORT, aftr));
    session = s;
    s.start();
    return {
      local,
      status: () => s.status(),
      configure: (c) => s.configure(c),
      onChange: (fn) => s.onChange(fn),
      stop: () => {
        s.stop();
        for (const k of sockets.splice(0)) k.close();
      },
    };
  } catch (e) {
    for (const k of sockets) k.close();
    throw e;
  }
}
