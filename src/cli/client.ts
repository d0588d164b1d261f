// `twinstack get|set|add|delete|attrs|names|dump|operate ...`: talks to the running agent over its socket.
// Exit status 0 on success; 1 with the agent's error text on stderr; 2 for usage errors.
import { connect } from 'node:net';
import { resolve } from 'node:path';
import type { CliRequest, CliResponse } from './protocol.ts';

const USAGE = `usage: twinstack [--socket PATH] COMMAND ...
  get PATH...                 values at or below each path (partial paths end with ".")
  set PATH=VALUE...           one atomic set of all pairs
  add TABLE. [PARAM=VALUE...] add an instance; prints its path
  delete PATH...              delete instances
  attrs PATH... [notification=0|1|2] [accessList=Subscriber]
  names PATH [--next]         parameter names (CWMP GetParameterNames)
  dump                        every parameter
  operate PATH() [ARG=VALUE...]
  start [--config FILE] ...   run the agent (same as npm start)`;

function pairs(args: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const a of args) {
    const i = a.indexOf('=');
    if (i <= 0) throw new Error(`expected NAME=VALUE, got "${a}"`);
    out[a.slice(0, i)] = a.slice(i + 1);
  }
  return out;
}

export function buildRequest(argv: string[]): CliRequest {
  const [cmd, ...rest] = argv;
  const id = 1;
  switch (cmd) {
    case 'get': if (!rest.length) throw new Error('get needs a path'); return { id, cmd, paths: rest };
    case 'dump': return { id, cmd };
    case 'names': return { id, cmd, paths: rest.filter((a) => a !== '--next'), nextLevel: rest.includes('--next') };
    case 'set': if (!rest.length) throw new Error('set needs PATH=VALUE'); return { id, cmd, values: pairs(rest) };
    case 'add': if (!rest.length) throw new Error('add needs a table path'); return { id, cmd, table: rest[0], values: pairs(rest.slice(1)) };
    case 'delete': if (!rest.length) throw new Error('delete needs a path'); return { id, cmd, paths: rest };
    case 'attrs': {
      const paths = rest.filter((a) => !a.includes('='));
      const kv = pairs(rest.filter((a) => a.includes('=')));
      const set = Object.keys(kv).length
        ? { notification: kv.notification === undefined ? undefined : Number(kv.notification), accessList: kv.accessList === undefined ? undefined : kv.accessList.split(',').filter(Boolean) }
        : undefined;
      return { id, cmd, paths, set };
    }
    case 'operate': if (!rest.length) throw new Error('operate needs a command path'); return { id, cmd, path: rest[0], input: pairs(rest.slice(1)) };
    default: throw new Error(`unknown command "${cmd ?? ''}"`);
  }
}

export function format(req: CliRequest, result: unknown): string {
  if (result === null) return 'OK';
  if (typeof result === 'string') return result;
  if (req.cmd === 'get' || req.cmd === 'dump') return (result as [string, string][]).map(([p, v]) => `${p}=${v}`).join('\n');
  if (req.cmd === 'names') return (result as [string, boolean][]).map(([p, w]) => `${p} ${w ? 'rw' : 'ro'}`).join('\n');
  if (req.cmd === 'attrs') return (result as [string, number, string][]).map(([p, n, a]) => `${p} notification=${n} accessList=${a}`).join('\n');
  return JSON.stringify(result, null, 2);
}

export function request(socket: string, req: CliRequest, timeoutMs = 30000): Promise<CliResponse> {
  return new Promise((res, rej) => {
    const sock = connect(socket);
    let buf = '';
    const timer = setTimeout(() => { sock.destroy(); rej(new Error(`no answer from the agent at ${socket}`)); }, timeoutMs);
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(`${JSON.stringify(req)}\n`));
    sock.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl >= 0) { clearTimeout(timer); sock.end(); res(JSON.parse(buf.slice(0, nl))); }
    });
    sock.on('error', (e) => { clearTimeout(timer); rej(new Error(`cannot reach the agent at ${socket} (${(e as NodeJS.ErrnoException).code}); is it running (npm start)?`)); });
  });
}

export async function main(argv: string[]): Promise<number> {
  let socket = process.env.TWINSTACK_SOCKET ?? resolve('data/twinstack.sock');
  if (argv[0] === '--socket') { socket = argv[1]; argv = argv.slice(2); }
  if (!argv.length || argv[0] === '--help' || argv[0] === 'help') { console.log(USAGE); return argv.length ? 0 : 2; }
  let req: CliRequest;
  try {
    req = buildRequest(argv);
  } catch (e) {
    console.error(`twinstack: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  try {
    const res = await request(socket, req);
    if (!res.ok) { console.error(`error: ${res.error.kind}: ${res.error.message}`); return 1; }
    const out = format(req, res.result);
    if (out) console.log(out);
    return 0;
  } catch (e) {
    console.error(`twinstack: ${(e as Error).message}`);
    return 1;
  }
}
