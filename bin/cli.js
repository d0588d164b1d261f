// `twinstack get|set|add|delete|attrs|names|dump|operate ...`: talks to the running agent over its socket.
// Plain JavaScript on node:net alone, so a call costs one Node start-up and never loads the agent's code,
// tsx or a compiler (issue 18: <= 150 ms per call). The wire format is src/cli/protocol.ts.
// Exit status 0 on success; 1 with the agent's error text on stderr; 2 for usage errors.
import { connect } from 'node:net';
import { resolve } from 'node:path';

export const USAGE = `usage: twinstack COMMAND ... [--socket PATH]
  get PATH...                 values at or below each path (partial paths end with ".")
  set PATH=VALUE...           one atomic set of all pairs
  add TABLE. [PARAM=VALUE...] add an instance; prints its path
  delete PATH...              delete instances
  attrs PATH... [notification=0|1|2] [accessList=Subscriber]
  names PATH [--next]         parameter names (CWMP GetParameterNames)
  dump                        every parameter
  operate PATH() [ARG=VALUE...]
  start [--config FILE] ...   run the agent (same as npm start)
options, anywhere on the line:
  --socket PATH, --socket=PATH  the agent's CLI socket (default $TWINSTACK_SOCKET or ./data/twinstack.sock)
  --help                        this text
  --                            what follows is not an option`;

export class UsageError extends Error {}

/**
 * Splits the command line into the socket, help and the command's own words. Options may come anywhere
 * (`twinstack get PATH --socket S`); `--next` belongs to `names` and stays with the words.
 * @param {string[]} argv
 * @param {Record<string, string | undefined>} env
 * @returns {{ socket: string, help: boolean, words: string[] }}
 */
export function parseArgs(argv, env = process.env) {
  let socket = env.TWINSTACK_SOCKET || resolve('data/twinstack.sock');
  let help = false;
  const words = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') { words.push(...argv.slice(i + 1)); break; }
    if (a === '--socket') {
      if (i + 1 >= argv.length) throw new UsageError('--socket needs a path');
      socket = argv[++i];
    } else if (a.startsWith('--socket=')) socket = a.slice('--socket='.length);
    else if (a === '--help' || a === '-h') help = true;
    else if (a.startsWith('--') && a !== '--next') throw new UsageError(`unknown option "${a}"`);
    else words.push(a);
  }
  if (!socket) throw new UsageError('--socket needs a path');
  return { socket, help, words };
}

/** @param {string[]} args */
function pairs(args) {
  /** @type {Record<string, string>} */
  const out = {};
  for (const a of args) {
    const i = a.indexOf('=');
    if (i <= 0) throw new UsageError(`expected NAME=VALUE, got "${a}"`);
    out[a.slice(0, i)] = a.slice(i + 1);
  }
  return out;
}

/**
 * The request for one command line (without options).
 * @param {string[]} words
 */
export function buildRequest(words) {
  const [cmd, ...rest] = words;
  const id = 1;
  switch (cmd) {
    case 'get': if (!rest.length) throw new UsageError('get needs a path'); return { id, cmd, paths: rest };
    case 'dump': return { id, cmd };
    case 'names': return { id, cmd, paths: rest.filter((a) => a !== '--next'), nextLevel: rest.includes('--next') };
    case 'set': if (!rest.length) throw new UsageError('set needs PATH=VALUE'); return { id, cmd, values: pairs(rest) };
    case 'add': if (!rest.length) throw new UsageError('add needs a table path'); return { id, cmd, table: rest[0], values: pairs(rest.slice(1)) };
    case 'delete': if (!rest.length) throw new UsageError('delete needs a path'); return { id, cmd, paths: rest };
    case 'attrs': {
      const paths = rest.filter((a) => !a.includes('='));
      const kv = pairs(rest.filter((a) => a.includes('=')));
      /** @type {{ notification?: number, accessList?: string[] }} */
      const set = {};
      for (const [k, v] of Object.entries(kv)) {
        if (k === 'notification') set.notification = Number(v);
        else if (k === 'accessList') set.accessList = v.split(',').filter(Boolean);
        else throw new UsageError(`attrs takes notification= and accessList=, not "${k}="`);
      }
      return Object.keys(set).length ? { id, cmd, paths, set } : { id, cmd, paths };
    }
    case 'operate': if (!rest.length) throw new UsageError('operate needs a command path'); return { id, cmd, path: rest[0], input: pairs(rest.slice(1)) };
    default: throw new UsageError(`unknown command "${cmd ?? ''}"`);
  }
}

/**
 * The text printed for a successful reply.
 * @param {{ cmd: string }} req
 * @param {unknown} result
 */
export function format(req, result) {
  if (result === null) return 'OK';
  if (typeof result === 'string') return result;
  const rows = /** @type {unknown[][]} */ (result);
  if (req.cmd === 'get' || req.cmd === 'dump') return rows.map(([p, v]) => `${p}=${v}`).join('\n');
  if (req.cmd === 'names') return rows.map(([p, w]) => `${p} ${w ? 'rw' : 'ro'}`).join('\n');
  if (req.cmd === 'attrs') return rows.map(([p, n, a]) => `${p} notification=${n} accessList=${a}`).join('\n');
  return JSON.stringify(result, null, 2);
}

/**
 * Sends one request and resolves with the agent's reply.
 * @param {string} socket
 * @param {object} req
 * @returns {Promise<{ ok: true, result: unknown } | { ok: false, error: { kind: string, message: string } }>}
 */
export function request(socket, req, timeoutMs = 30000) {
  return new Promise((res, rej) => {
    const sock = connect(socket);
    let buf = '';
    const fail = (/** @type {Error} */ e) => { clearTimeout(timer); sock.destroy(); rej(e); };
    const timer = setTimeout(() => fail(new Error(`no answer from the agent at ${socket}`)), timeoutMs);
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(`${JSON.stringify(req)}\n`));
    sock.on('data', (/** @type {string} */ d) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      sock.end();
      try { res(JSON.parse(buf.slice(0, nl))); } catch { rej(new Error(`unreadable answer from the agent at ${socket}`)); }
    });
    sock.on('end', () => { if (!buf.includes('\n')) fail(new Error(`the agent at ${socket} closed the connection without answering`)); });
    sock.on('error', (e) => fail(new Error(`cannot reach the agent at ${socket} (${/** @type {NodeJS.ErrnoException} */ (e).code}); is it running (npm start)?`)));
  });
}

/**
 * Runs one command line; resolves with the exit status.
 * @param {string[]} argv
 */
export async function main(argv) {
  let opts;
  let req;
  try {
    opts = parseArgs(argv);
    if (opts.help || !opts.words.length || opts.words[0] === 'help') {
      console.log(USAGE);
      return opts.help || opts.words[0] === 'help' ? 0 : 2;
    }
    req = buildRequest(opts.words);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`twinstack: ${e.message}\n${USAGE}`);
    return 2;
  }
  try {
    const res = await request(opts.socket, req);
    if (!res.ok) { console.error(`error: ${res.error.kind}: ${res.error.message}`); return 1; }
    const out = format(req, res.result);
    if (out) console.log(out);
    return 0;
  } catch (e) {
    console.error(`twinstack: ${/** @type {Error} */ (e).message}`);
    return 1;
  }
}
