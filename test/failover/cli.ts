// A minimal client of the agent's CLI socket (src/cli/protocol.ts) for the end-to-end tests.
import { connect } from 'node:net';

let nextId = 1;
export async function cli(socket: string, req: Record<string, unknown>): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const s = connect(socket);
    let buf = '';
    s.on('data', (d) => {
      buf += d.toString();
      const i = buf.indexOf('\n');
      if (i < 0) return;
      const res = JSON.parse(buf.slice(0, i));
      s.end();
      if (res.ok) resolve(res.result);
      else reject(new Error(`${res.error.kind}: ${res.error.message}`));
    });
    s.on('error', reject);
    s.write(`${JSON.stringify({ id: nextId++, ...req })}\n`);
  });
}

export async function getValue(socket: string, path: string): Promise<string> {
  const r = (await cli(socket, { cmd: 'get', paths: [path] })) as [string, string][];
  return r[0]?.[1] ?? '';
}

export async function getAll(socket: string, path: string): Promise<Record<string, string>> {
  const r = (await cli(socket, { cmd: 'get', paths: [path] })) as [string, string][];
  return Object.fromEntries(r);
}
