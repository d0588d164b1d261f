// One request to the agent's CLI socket (newline-delimited JSON, src/cli/protocol.ts) over a fresh
// connection: the one client the tests and benches share.
import { connect } from 'node:net';

export interface CliReply { id?: number; ok: boolean; result?: unknown; error?: { kind: string; message: string } }

/** Sends `req` (an `id` of 1 is added) and resolves with the parsed reply; rejects on no answer within `timeoutMs`. */
export function cliRequest(socket: string, req: object, timeoutMs = 10_000): Promise<CliReply> {
  return new Promise((resolve, reject) => {
    const s = connect(socket);
    let buf = '';
    const timer = setTimeout(() => { s.destroy(); reject(new Error(`no CLI answer within ${timeoutMs} ms`)); }, timeoutMs);
    s.setEncoding('utf8');
    s.on('connect', () => s.write(`${JSON.stringify({ id: 1, ...req })}\n`));
    s.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      s.destroy();
      resolve(JSON.parse(buf.slice(0, nl)));
    });
    s.on('error', (e) => { clearTimeout(timer); reject(e); });
  });
}
