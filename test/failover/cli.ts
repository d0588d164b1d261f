// A minimal client of the agent's CLI socket (src/cli/protocol.ts) for the end-to-end tests.
import { cliRequest } from '../cli-client.ts';

/** One request; its result, or an Error with the agent's kind and message. */
export async function cli(socket: string, req: Record<string, unknown>): Promise<unknown> {
  const res = await cliRequest(socket, req);
  if (!res.ok) throw new Error(`${res.error!.kind}: ${res.error!.message}`);
  return res.result;
}

export async function getValue(socket: string, path: string): Promise<string> {
  const r = (await cli(socket, { cmd: 'get', paths: [path] })) as [string, string][];
  return r[0]?.[1] ?? '';
}

export async function getAll(socket: string, path: string): Promise<Record<string, string>> {
  const r = (await cli(socket, { cmd: 'get', paths: [path] })) as [string, string][];
  return Object.fromEntries(r);
}
