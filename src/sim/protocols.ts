// The simulated AFTRs' BFD peers and PCP servers (the embedded default can show the BFD and PCP
// detectors): each AFTR runs a BFD session of its own (RFC 5880, 300 ms x 3, answering ours) and a PCP
// server that grants every MAP (RFC 6887) from 203.0.113.100. Both are heard only while the AFTR is Up;
// Down and Blackhole silence them, as a dead or unreachable AFTR node would.
import { BfdSession } from '../dslite/bfd-session.ts';
import type { UdpOpen, UdpOptions, UdpSocket } from '../dslite/detectors.ts';

type Rx = (m: Buffer, from: { address: string; port: number }) => void;

export class SimProtocols {
  private readonly peers = new Map<string, BfdSession>();
  /** our BFD receive socket (port 4784), by local address */
  private bfdRx: Rx | null = null;
  private readonly started = Date.now();
  private nextPort = 49152;

  constructor(private readonly up: (aftr: string) => boolean, private readonly delayMs: number, private readonly tunnelAftr: () => string | null) {}

  readonly udp: UdpOpen = async (o: UdpOptions): Promise<UdpSocket> => {
    const local = { address: o.address ?? (o.type === 'udp6' ? '2001:db8:1::2' : '192.0.0.2'), port: o.port || this.nextPort++ };
    if (o.type === 'udp6' && o.port === 4784) this.bfdRx = o.onMessage;
    const later = (fn: () => void) => setTimeout(fn, this.delayMs).unref?.();
    return {
      address: () => local,
      close: () => { if (o.type === 'udp6' && o.port === 4784) this.bfdRx = null; },
      send: (b, port, address) => {
        const to = o.peer ?? { address, port };
        if (to.port === 4784) {
          if (this.up(to.address)) later(() => this.peer(to.address).receive(Buffer.from(b)));
        } else if (to.port === 5351) {
          const aftr = this.tunnelAftr();
          if (aftr && this.up(aftr)) later(() => o.onMessage(this.pcpAnswer(b), to));
        }
      },
    };
  };

  stop() {
    for (const s of this.peers.values()) s.stop();
    this.peers.clear();
  }

  private peer(aftr: string): BfdSession {
    let s = this.peers.get(aftr);
    if (!s) {
      s = new BfdSession({ desiredMinTx: 300_000, requiredMinRx: 300_000, detectMult: 3, auth: null }, (b) => {
        if (this.up(aftr)) setTimeout(() => this.bfdRx?.(b, { address: aftr, port: 49152 }), this.delayMs).unref?.();
      });
      this.peers.set(aftr, s);
      s.start();
    }
    return s;
  }

  /** SUCCESS for every MAP: the suggested port, the requested lifetime, Epoch from the simulation's start. */
  private pcpAnswer(req: Buffer): Buffer {
    const b = Buffer.from(req.subarray(0, 60));
    b[1] |= 0x80;
    b[3] = 0;
    b.writeUInt32BE(Math.floor((Date.now() - this.started) / 1000), 8);
    b.fill(0, 12, 24);
    if (b.readUInt16BE(42) === 0) b.writeUInt16BE(b.readUInt16BE(40), 42);
    Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 203, 0, 113, 100]).copy(b, 44);
    return b;
  }
}
