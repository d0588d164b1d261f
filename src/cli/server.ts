// The CLI front-end: a local Unix socket (mode 0600) speaking newline-delimited JSON, like ba-cli/dmcli
// talk to their bus. Requests become data-model calls with origin "cli"; errors go back as the neutral
// DmError kind and message (the client prints them and exits non-zero).
//
// No request can end the agent (issue 18): every line is checked against its schema (request.ts) before it
// reaches the data model, and anything a handler throws becomes an error reply. Each connection is served one
// request at a time and is not read while its replies wait for the client, so a client that sends and never
// reads costs one reply's worth of memory, not one per request.
import { createServer, type Server, type Socket } from 'node:net';
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { DmError, type DataModel, type DmErrorDetail, type Plugin } from '../datamodel/index.ts';
import type { CliRequest, CliResponse } from './protocol.ts';
import { parseRequest } from './request.ts';

/** Longest request line; a longer one is answered and the connection closed. */
export const MAX_LINE = 1 << 20;
/** Output queued for one client beyond which it is disconnected (only a single larger reply can get there:
 * the next request is not read before the previous reply has drained below the socket's high-water mark). */
export const MAX_QUEUED_OUTPUT = 8 << 20;

export function handle(dm: DataModel, req: CliRequest): unknown {
  switch (req.cmd) {
    case 'get':
      return req.paths.flatMap((p) => dm.get(p).map((v) => [v.path, v.value]));
    case 'dump':
      return dm.get('Device.').map((v) => [v.path, v.value]);
    case 'names':
      return req.paths.flatMap((p) => dm.names(p, req.nextLevel ?? false).map((n) => [n.path, n.writable]));
    case 'set':
      dm.set(req.values, 'cli');
      return null;
    case 'add':
      return dm.add(req.table, 'cli', req.values).path;
    case 'delete':
      for (const p of req.paths) dm.delete(p, 'cli');
      return null;
    case 'attrs':
      if (req.set) dm.setAttributes(req.paths.map((path) => ({ path, ...req.set })));
      return req.paths.flatMap((p) => dm.getAttributes(p).map((a) => [a.path, a.notification, a.accessList.join(',')]));
    default:
      throw new DmError('InvalidArgument', `unknown command "${(req as { cmd: string }).cmd}"`);
  }
}

/**
 * Each detail's message without its own path in front (a handler's validate() may name the path and the core
 * puts it in front again: "P: P: not an FQDN"); the message is rebuilt from them so the path appears once.
 * The web front-end does the same for its answers (front-ends share no code).
 */
function onceEach(message: string, details: readonly DmErrorDetail[]): { message: string; details: DmErrorDetail[] } {
  if (!details.length) return { message, details: [] };
  const clean = details.map((d) => {
    let m = d.message;
    while (m.startsWith(`${d.path}: `)) m = m.slice(d.path.length + 2);
    return { ...d, message: m };
  });
  return { message: clean.map((d) => `${d.path}: ${d.message}`).join('; '), details: clean };
}

/**
 * The one place a failure becomes the CLI's error: DmErrors keep their neutral kind (a full disk is the core's
 * ResourcesExceeded, src/datamodel/store.ts); anything else is an agent bug, logged with its stack and answered
 * without JavaScript internals.
 */
export function cliError(e: unknown, log?: Logger): { kind: DmError['kind']; message: string; details: DmError['details'][number][] } {
  if (e instanceof DmError) return { kind: e.kind, ...onceEach(e.message, e.details) };
  log?.error({ err: e }, 'cli request failed');
  return { kind: 'Internal', message: 'internal error in the agent (see its log)', details: [] };
}

async function respond(dm: DataModel, line: string, log: Logger): Promise<CliResponse> {
  const { id, req, error } = parseRequest(line);
  if (error) return { id, ok: false, error: cliError(error) };
  log.debug({ cmd: req.cmd }, 'cli request');
  try {
    const result = req.cmd === 'operate' ? await dm.operate(req.path, req.input ?? {}, 'cli') : handle(dm, req);
    return { id, ok: true, result };
  } catch (e) {
    return { id, ok: false, error: cliError(e, log) };
  }
}

const reply = (res: CliResponse) => `${JSON.stringify(res)}\n`;

/** Serves one connection: lines in, one reply per line, in order, with back-pressure both ways. */
function serve(sock: Socket, dm: DataModel, log: Logger): void {
  let buf = '';
  let busy = false;
  let closing = false;
  sock.setEncoding('utf8');
  sock.on('error', () => sock.destroy());

  const writable = () => new Promise<void>((resolve) => {
    const done = () => { sock.off('drain', done); sock.off('close', done); resolve(); };
    sock.on('drain', done);
    sock.on('close', done);
  });

  const pump = async () => {
    if (busy) return;
    busy = true;
    let nl;
    while (!closing && !sock.destroyed && (nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      let out: string;
      try {
        out = reply(await respond(dm, line, log));
      } catch (e) { // a result JSON cannot carry (never expected: results are strings, numbers, booleans)
        out = reply({ id: 0, ok: false, error: cliError(e, log) });
      }
      if (sock.destroyed) break;
      if (sock.writableLength + Buffer.byteLength(out) > MAX_QUEUED_OUTPUT) {
        log.warn({ queued: sock.writableLength, reply: Buffer.byteLength(out), limit: MAX_QUEUED_OUTPUT }, 'cli client output over limit, closing');
        sock.destroy();
        break;
      }
      // While more than the socket's high-water mark waits for the client, read no further request.
      if (!sock.write(out)) await writable();
    }
    busy = false;
    if (closing || sock.destroyed) return;
    if (buf.length > MAX_LINE) {
      closing = true;
      sock.end(reply({ id: 0, ok: false, error: { kind: 'ResourcesExceeded', message: `request line longer than ${MAX_LINE} bytes`, details: [] } }), () => sock.destroy());
      return;
    }
    sock.resume();
  };

  sock.on('data', (chunk: string) => {
    if (closing) return;
    buf += chunk;
    sock.pause();
    void pump();
  });
}

export function cliPlugin(socketPath: string): Plugin {
  let server: Server | undefined;
  const sockets = new Set<Socket>();
  return {
    name: 'cli',
    register() {},
    async start({ dm, log }) {
      mkdirSync(dirname(socketPath), { recursive: true });
      rmSync(socketPath, { force: true });
      server = createServer((sock) => {
        sockets.add(sock);
        sock.on('close', () => sockets.delete(sock));
        serve(sock, dm, log);
      });
      await new Promise<void>((resolve, reject) => {
        server!.once('error', reject);
        server!.listen(socketPath, () => resolve());
      });
      chmodSync(socketPath, 0o600); // local administrator only
      log.info({ socket: socketPath }, 'cli listening');
    },
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      rmSync(socketPath, { force: true });
    },
  };
}
