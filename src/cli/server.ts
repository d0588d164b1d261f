// The CLI front-end: a local Unix socket (mode 0600) speaking newline-delimited JSON, like ba-cli/dmcli
// talk to their bus. Requests become data-model calls with origin "cli"; errors go back as the neutral
// DmError kind and message (the client prints them and exits non-zero).
import { createServer, type Server, type Socket } from 'node:net';
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { DmError, type DataModel, type Plugin } from '../datamodel/index.ts';
import type { CliRequest, CliResponse } from './protocol.ts';

const MAX_LINE = 1 << 20;

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

async function respond(dm: DataModel, req: CliRequest): Promise<CliResponse> {
  try {
    if (req.cmd === 'operate') {
      const res = await dm.operate(req.path, req.input, 'cli');
      return { id: req.id, ok: true, result: res };
    }
    return { id: req.id, ok: true, result: handle(dm, req) };
  } catch (e) {
    if (e instanceof DmError) return { id: req.id, ok: false, error: { kind: e.kind, message: e.message, details: [...e.details] } };
    return { id: req.id, ok: false, error: { kind: 'Internal', message: (e as Error).message, details: [] } };
  }
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
        let buf = '';
        sock.setEncoding('utf8');
        sock.on('data', (chunk: string) => {
          buf += chunk;
          if (buf.length > MAX_LINE) {
            sock.end(`${JSON.stringify({ id: 0, ok: false, error: { kind: 'ResourcesExceeded', message: 'request too large', details: [] } })}\n`);
            return;
          }
          let nl;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl);
            buf = buf.slice(nl + 1);
            let req: CliRequest;
            try {
              req = JSON.parse(line);
            } catch {
              sock.write(`${JSON.stringify({ id: 0, ok: false, error: { kind: 'InvalidArgument', message: 'malformed request', details: [] } })}\n`);
              continue;
            }
            log.debug({ cmd: req.cmd }, 'cli request');
            void respond(dm, req).then((res) => sock.write(`${JSON.stringify(res)}\n`));
          }
        });
        sock.on('error', () => sock.destroy());
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
