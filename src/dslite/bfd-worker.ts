// The BFD worker thread (bfd-thread.ts starts it): one session over real sockets, its timers on this
// thread's own event loop, so the main thread's load cannot delay a transmission or the Detection Time.
// Protocol: BfdRequest in, BfdMessage out; the status and counters go to the shared buffer after every
// packet sent or received and every change.
import { readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { openBfdSession, type BfdHandle } from './bfd-link.ts';
import type { BfdConfig } from './bfd-session.ts';
import { statusWriter, type BfdMessage, type BfdRequest, type BfdWorkerData } from './bfd-thread.ts';
import { nodeUdp, type UdpOpen } from './detectors.ts';

/**
 * Other processes' load delays a thread too: with two CPU-bound processes on the two CPUs (stress-ng --cpu 2)
 * a sleeping nice-0 thread waited up to 1 s for a CPU after its timer fired, 7 ms at nice -10 (measured
 * here, Linux 6.18). This thread needs a CPU for a packet per interval and nothing more, so it asks for a
 * higher weight (setpriority on its own thread id: Linux applies PRIO_PROCESS per thread). Needs
 * CAP_SYS_NICE (the agent runs as root on a real WAN); without it the thread keeps nice 0.
 */
const NICE = -10;

function raisePriority(): string {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    try {
      setPriority(tid, NICE);
    } catch {
      // not permitted: the default weight
    }
    return `nice ${getPriority(tid)}`;
  } catch {
    return 'unknown';
  }
}

const port = parentPort!;
const data = workerData as BfdWorkerData;
const post = (m: BfdMessage) => port.postMessage(m);
const write = statusWriter(data.status);
let session: BfdHandle | null = null;
const publish = () => { if (session) write(session.status()); };

// A key crosses the thread boundary as a Uint8Array (structured clone): the codec wants a Buffer.
const withBuffers = (c: BfdConfig): BfdConfig => (c.auth ? { ...c, auth: { ...c.auth, secret: Buffer.from(c.auth.secret) } } : c);

// Real sockets, with the status published after each datagram in or out (a microtask after a send: the
// session counts the packet once send() returns).
const udp: UdpOpen = async (o) => {
  const s = await nodeUdp({ ...o, onMessage: (m, from) => { o.onMessage(m, from); publish(); } });
  return { ...s, send: (b, p, a) => { s.send(b, p, a); queueMicrotask(publish); } };
};

port.on('message', (m: BfdRequest) => {
  if (m.op === 'configure') {
    session?.configure(withBuffers(m.config));
    publish();
  } else if (m.op === 'stop') {
    session?.stop();
    publish();
    session = null;
    post({ kind: 'stopped' });
    port.close(); // nothing else keeps this thread alive: it ends
  }
});

const priority = raisePriority();
try {
  session = await openBfdSession(udp, { ...data, config: withBuffers(data.config) });
  session.onChange(({ from, status }) => {
    write(status);
    post({ kind: 'change', from, status });
  });
  publish();
  post({ kind: 'ready', local: session.local, priority });
} catch (e) {
  const err = e as NodeJS.ErrnoException;
  post({ kind: 'failed', error: err.message, code: err.code });
  port.close();
}
