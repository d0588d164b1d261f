// The fastify server of the web browser: security headers on every response, the page's static files
// (served from src/web/public, no CDN), the login routes, and the guard in front of every /api route
// (session cookie, CSRF token on every change, same-origin check). The data routes are in api.ts and the
// live event stream in events.ts.
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { Ajv } from 'ajv';
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import type { DataModel } from '../datamodel/index.ts';
import { cookieValue, generatePassword, hashPassword, Lockout, sameToken, Sessions, verifyPassword, type Session } from './auth.ts';
import { errorBody } from './errors.ts';
import { registerApi } from './api.ts';
import { EventHub } from './events.ts';

declare module 'fastify' {
  interface FastifyRequest {
    session: Session | null;
  }
}

export interface WebConfig {
  enable?: boolean;
  address?: string;
  port?: number;
  adminPassword?: string;
  sessionTimeout?: number;
  lockoutAttempts?: number;
  lockoutTime?: number;
}

export const WEB_DEFAULTS = { enable: true, address: '127.0.0.1', port: 8080, sessionTimeout: 1800, lockoutAttempts: 5, lockoutTime: 300 } as const;

export interface WebServerOptions {
  dm: DataModel;
  log: Logger;
  config: WebConfig;
  /** Clock (ms), replaceable in tests of session expiry and lockout. */
  now?: () => number;
}

export const SESSION_COOKIE = 'twinstack_session';
const HASH_KEY = 'passwordHash';
const PUBLIC_DIR = join(dirname(new URL(import.meta.url).pathname), 'public');
const STATIC_TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.css': 'text/css; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.svg': 'image/svg+xml' };
const STATIC_FILES = ['app.css', 'app.js', 'api.js', 'tree.js', 'detail.js', 'status.js'];
/** The largest request body (README "The web page and its JSON API": 413 BodyTooLarge above it). */
export const BODY_LIMIT = 256 * 1024;

/** Every response: a strict CSP (scripts and styles only from this origin, no inline), no framing, no sniffing. */
const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=()',
};

/**
 * Makes sure a password hash is stored: the configured initial password, else (first start) a random one
 * that is logged once. A stored hash always wins, so changing it in the page survives restarts.
 */
export async function ensurePassword(dm: DataModel, log: Logger, initial?: string): Promise<void> {
  const state = dm.state('web');
  if (state.get(HASH_KEY)) return;
  if (initial) {
    state.set(HASH_KEY, await hashPassword(initial));
    log.info('web admin password set from the configuration');
    return;
  }
  const generated = generatePassword();
  state.set(HASH_KEY, await hashPassword(generated));
  // Shown once, like a router's first-boot label; only its hash is kept.
  log.warn({ generatedPassword: generated }, 'web admin password generated at first start');
}

export interface WebServer {
  app: FastifyInstance;
  sessions: Sessions;
  hub: EventHub;
}

export function createWebServer(opts: WebServerOptions): WebServer {
  const { dm, log } = opts;
  const config = { ...WEB_DEFAULTS, ...opts.config };
  const now = opts.now ?? Date.now;
  const sessions = new Sessions(config.sessionTimeout * 1000);
  const lockout = new Lockout(config.lockoutAttempts, config.lockoutTime * 1000);
  const state = dm.state('web');
  const app = Fastify({ bodyLimit: BODY_LIMIT, trustProxy: false, clientErrorHandler: answerClientError });
  // Bodies are checked as sent: a number is not the text the API documents, and unknown fields are errors,
  // not silently dropped. Query strings are text by nature, so only they are coerced (limit=10).
  const bodyAjv = new Ajv({ coerceTypes: false, useDefaults: true, removeAdditional: false, allErrors: false });
  const queryAjv = new Ajv({ coerceTypes: 'array', useDefaults: true, removeAdditional: false, allErrors: false });
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? bodyAjv : queryAjv).compile(schema));
  // Only JSON bodies: an HTML form cannot send application/json cross-site without a CORS preflight.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, parseJson);
  app.decorateRequest('session', null);
  const hub = new EventHub(dm, sessions, now, log);

  app.addHook('onSend', async (req, reply) => {
    reply.headers(SECURITY_HEADERS);
    reply.header('cache-control', req.url.startsWith('/api/') ? 'no-store' : 'no-cache');
  });
  app.setErrorHandler((err: Error & { statusCode?: number; validation?: unknown; code?: string }, _req, reply) => {
    if (err instanceof RequestError) return reply.code(err.statusCode).send(errorBody(err.kind, err.message));
    const known = err.code ? FRAMEWORK_ERRORS[err.code] : undefined;
    if (known) return reply.code(known[0]).send(errorBody(known[1], known[2]));
    const status = err.statusCode && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) log.error({ err }, 'web request failed');
    return reply.code(status).send(errorBody(status === 500 ? 'Internal' : 'InvalidArgument', status === 500 ? 'internal error' : err.message));
  });
  app.setNotFoundHandler((_req, reply) => reply.code(404).send(errorBody('NotFound', 'no such route')));

  // ---- static page ----------------------------------------------------------------------------------
  const files = new Map<string, { body: Buffer; type: string }>();
  for (const f of ['index.html', ...STATIC_FILES]) files.set(f, { body: readFileSync(join(PUBLIC_DIR, f)), type: STATIC_TYPES[f.slice(f.lastIndexOf('.'))] });
  const serve = (name: string) => (_req: FastifyRequest, reply: FastifyReply) => {
    const f = files.get(name)!;
    return reply.type(f.type).send(f.body);
  };
  app.get('/', serve('index.html'));
  for (const f of STATIC_FILES) app.get(`/static/${f}`, serve(f));

  // ---- guard: session, same origin, CSRF ------------------------------------------------------------
  const refuse = (reply: FastifyReply, code: number, kind: string, message: string) => reply.code(code).send(errorBody(kind, message));
  app.addHook('onRequest', async (req, reply) => {
    if (!req.url.startsWith('/api/')) return;
    const unsafe = !['GET', 'HEAD', 'OPTIONS'].includes(req.method);
    if (unsafe && !sameOrigin(req)) return refuse(reply, 403, 'CrossOrigin', 'cross-origin request refused');
    if (req.routeOptions.url === '/api/login') return;
    const session = sessions.get(cookieValue(req.headers.cookie, SESSION_COOKIE), now());
    if (!session) return refuse(reply, 401, 'LoginRequired', 'log in first');
    const token = req.headers['x-csrf-token'];
    if (unsafe && (typeof token !== 'string' || !sameToken(token, session.csrf)))
      return refuse(reply, 403, 'CsrfTokenInvalid', 'missing or wrong X-CSRF-Token header');
    req.session = session;
  });

  // ---- login, logout, session, password change --------------------------------------------------------
  // Attempts run one at a time: scrypt is costly, and a burst of parallel guesses must meet the lockout.
  let queue: Promise<unknown> = Promise.resolve();
  const attempt = <T>(fn: () => Promise<T>): Promise<T> => {
    const p = queue.then(fn);
    queue = p.catch(() => undefined);
    return p;
  };
  const checkPassword = (req: FastifyRequest, reply: FastifyReply, password: string) => attempt(async () => {
    const wait = lockout.retryAfter(req.ip, now());
    if (wait > 0) {
      reply.header('retry-after', String(Math.ceil(wait / 1000)));
      refuse(reply, 429, 'LockedOut', `too many failed logins; try again in ${waitText(wait)}`);
      return false;
    }
    if (await verifyPassword(password, state.get(HASH_KEY) ?? '')) {
      lockout.succeed(req.ip);
      return true;
    }
    lockout.fail(req.ip, now());
    log.warn({ client: req.ip }, 'web login failed');
    refuse(reply, 401, 'BadPassword', 'wrong password');
    return false;
  });

  const passwordBody = { type: 'object', required: ['password'], additionalProperties: false, properties: { password: { type: 'string', maxLength: 256 } } };
  app.post('/api/login', { schema: { body: passwordBody } }, async (req, reply) => {
    if (!(await checkPassword(req, reply, (req.body as { password: string }).password))) return reply;
    const s = sessions.create(now());
    log.info({ client: req.ip }, 'web login');
    reply.header('set-cookie', `${SESSION_COOKIE}=${s.id}; Path=/; HttpOnly; SameSite=Strict`);
    return { csrfToken: s.csrf, sessionTimeout: config.sessionTimeout };
  });
  app.post('/api/logout', async (req, reply) => {
    sessions.delete(req.session!.id);
    hub.closeSession(req.session!.id);
    reply.header('set-cookie', `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`);
    return {};
  });
  app.get('/api/session', async (req) => ({ csrfToken: req.session!.csrf, sessionTimeout: config.sessionTimeout }));
  app.put('/api/password', {
    schema: { body: { type: 'object', required: ['current', 'password'], additionalProperties: false, properties: { current: { type: 'string', maxLength: 256 }, password: { type: 'string', minLength: 8, maxLength: 256 } } } },
  }, async (req, reply) => {
    const body = req.body as { current: string; password: string };
    if (!(await checkPassword(req, reply, body.current))) return reply;
    state.set(HASH_KEY, await hashPassword(body.password));
    sessions.deleteOthers(req.session!.id);
    log.info({ client: req.ip }, 'web admin password changed');
    return {};
  });

  registerApi(app, dm);
  hub.register(app);
  return { app, sessions, hub };
}

/** A request the API refuses before any route runs, with its documented kind (README "The web page and its JSON API"). */
class RequestError extends Error {
  constructor(readonly statusCode: number, readonly kind: string, message: string) {
    super(message);
  }
}

/** fastify's own request errors as [status, kind, message]. */
const FRAMEWORK_ERRORS: Record<string, [number, string, string]> = {
  FST_ERR_CTP_BODY_TOO_LARGE: [413, 'BodyTooLarge', `the body is larger than ${BODY_LIMIT / 1024} KiB`],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [415, 'UnsupportedMediaType', 'send the body as application/json'],
};

/**
 * JSON bodies: JSON.parse, which keeps "__proto__" as an ordinary own member (it never sets a prototype);
 * such a member is then refused as an argument, not as invalid JSON, since the text is valid JSON.
 */
function parseJson(_req: FastifyRequest, body: string | Buffer, done: (err: Error | null, value?: unknown) => void) {
  const text = String(body);
  if (text.trim() === '') return done(new RequestError(400, 'InvalidJson', 'the body is empty; send a JSON object'));
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return done(new RequestError(400, 'InvalidJson', 'the body is not valid JSON'));
  }
  const bad = forbiddenMember(value);
  if (bad) return done(new RequestError(400, 'InvalidArgument', `the member name "${bad}" is not allowed`));
  done(null, value);
}

/** "__proto__" and "constructor" anywhere in a body: names that reach Object.prototype when copied carelessly. */
function forbiddenMember(root: unknown): string | undefined {
  // An explicit stack, not recursion: a body nested 100,000 deep parses, and must not overflow the call stack here.
  const stack = [root];
  while (stack.length) {
    const v = stack.pop();
    if (v === null || typeof v !== 'object') continue;
    for (const [k, c] of Object.entries(v)) {
      if (k === '__proto__' || k === 'constructor' || k === 'prototype') return k;
      stack.push(c);
    }
  }
  return undefined;
}

/**
 * Errors Node's HTTP parser raises before a request exists (oversized headers, a malformed request line,
 * a timeout): the same JSON error shape and security headers as every other answer, then the connection
 * closes (as Node's own answer does).
 */
function answerClientError(err: Error & { code?: string }, socket: Socket) {
  if (err.code === 'ECONNRESET' || socket.destroyed || !socket.writable) return socket.destroy();
  const [status, kind, message] = err.code === 'HPE_HEADER_OVERFLOW' ? [431, 'HeadersTooLarge', 'the request headers are larger than 16 KiB']
    : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [408, 'Timeout', 'the request took too long'] : [400, 'InvalidArgument', 'malformed HTTP request'];
  const body = JSON.stringify(errorBody(kind, message));
  const reason = { 400: 'Bad Request', 408: 'Request Timeout', 431: 'Request Header Fields Too Large' }[status];
  const headers = { ...SECURITY_HEADERS, 'cache-control': 'no-store', 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(body)), connection: 'close' };
  socket.end(`HTTP/1.1 ${status} ${reason}\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n${body}`);
}

/** A lockout's remaining time for people: "42 seconds", "5 minutes". */
export function waitText(ms: number): string {
  const s = Math.max(1, Math.ceil(ms / 1000));
  if (s < 120) return `${s} second${s === 1 ? '' : 's'}`;
  return `${Math.ceil(s / 60)} minutes`;
}

/**
 * A state-changing request must come from this origin: browsers send Origin on cross-site POST/PUT/DELETE
 * (Fetch standard) and Sec-Fetch-Site; scripts (curl) send neither and are let through to the CSRF check.
 */
function sameOrigin(req: FastifyRequest): boolean {
  const site = req.headers['sec-fetch-site'];
  if (site === 'cross-site' || site === 'same-site') return false;
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}
