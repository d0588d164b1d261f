// The fastify server of the web browser: security headers on every response, the page's static files
// (served from src/web/public, no CDN), the login routes, and the guard in front of every /api route
// (session cookie, CSRF token on every change, same-origin check). The data routes are in api.ts and the
// live event stream in events.ts.
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { readFileSync } from 'node:fs';
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
  const app = Fastify({ bodyLimit: 256 * 1024, trustProxy: false,
    // Unknown fields are errors, not silently dropped.
    ajv: { customOptions: { removeAdditional: false } } });
  // Only JSON bodies: an HTML form cannot send application/json cross-site without a CORS preflight.
  app.removeContentTypeParser('text/plain');
  app.decorateRequest('session', null);
  const hub = new EventHub(dm, sessions, now, log);

  app.addHook('onSend', async (req, reply) => {
    reply.headers(SECURITY_HEADERS);
    reply.header('cache-control', req.url.startsWith('/api/') ? 'no-store' : 'no-cache');
  });
  app.setErrorHandler((err: Error & { statusCode?: number; validation?: unknown }, _req, reply) => {
    const status = err.statusCode && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) log.error({ err }, 'web request failed');
    return reply.code(status).send(errorBody(err.validation ? 'InvalidArgument' : status === 500 ? 'Internal' : 'BadRequest', status === 500 ? 'internal error' : err.message));
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
      refuse(reply, 429, 'LockedOut', 'too many failed logins; try again later');
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
