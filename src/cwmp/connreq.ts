// The connection request server (TR-069 Amendment 6 §3.2.2): an HTTP GET authenticated with Digest, answered
// at once, after which the CPE opens a session with "6 CONNECTION REQUEST". What to do with an authenticated
// request (start a session, fold it into the one running, or refuse it with 503 for the rate limit) is the
// client's decision (`onRequest`). Unauthenticated tries (challenges, wrong answers) have a budget of their
// own; once it is spent every request gets 503 before anything is checked, so a password cannot be guessed
// quickly, not even through a 200 for the right one.
import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { DigestServer, type Credentials } from './auth.ts';

export interface ConnReqOptions {
  address: string;
  port: number;
  path: string;
  /** Host name or address put in ConnectionRequestURL; defaults to the listen address. */
  host?: string;
  /** The session budget (see CwmpConfig); unauthenticated tries get 5x it. */
  rateLimit: { max: number; windowSeconds: number };
  credentials(): Credentials;
  enabled(): boolean;
  /** An authenticated request: true when accepted (200), false when refused for the rate limit (503). */
  onRequest(): boolean;
  log: Logger;
}

/**
 * A token bucket: `capacity` tokens at most, refilled continuously at `capacity` per `periodMs`. A burst up
 * to the capacity passes at once; a sustained flood gets the refill rate.
 */
export class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(readonly capacity: number, private readonly periodMs: number, now = Date.now()) {
    this.tokens = capacity;
    this.at = now;
  }

  private refill(now: number) {
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.at) * this.capacity) / this.periodMs);
    this.at = now;
  }

  /** Whether a token is there now (nothing taken). */
  has(now = Date.now()): boolean {
    this.refill(now);
    return this.tokens >= 1;
  }

  /** Takes a token if one is there. */
  take(now = Date.now()): boolean {
    if (!this.has(now)) return false;
    this.tokens -= 1;
    return true;
  }

  /** Takes a token now or, in debt, in the future: the ms until it is there (0: now). */
  reserve(now = Date.now()): number {
    this.refill(now);
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * this.periodMs) / this.capacity);
  }
}

export class ConnectionRequestServer {
  private app?: FastifyInstance;
  private readonly digest = new DigestServer('twinstack-cwmp');
  url = '';

  constructor(private readonly opts: ConnReqOptions) {}

  async start(): Promise<string> {
    const o = this.opts;
    const tries = new TokenBucket(o.rateLimit.max * 5, o.rateLimit.windowSeconds * 1000);
    const app = Fastify({ logger: false, bodyLimit: 1024, connectionTimeout: 10_000, requestTimeout: 10_000 });
    // §3.2.2: a request refused for the rate limit gets 503, which SHOULD NOT carry Retry-After.
    app.get(o.path, async (req, reply) => {
      if (!o.enabled()) return reply.code(403).send();
      if (!tries.has()) return reply.code(503).send();
      const verdict = this.digest.verify(req.headers.authorization, 'GET', o.credentials());
      if (verdict !== 'ok') {
        tries.take();
        if (req.headers.authorization) o.log.warn({ remote: req.ip, verdict }, 'connection request not authenticated');
        return reply.code(401).header('WWW-Authenticate', this.digest.challenge(verdict === 'stale')).send();
      }
      if (!o.onRequest()) {
        o.log.warn({ remote: req.ip }, 'connection request rate limited');
        return reply.code(503).send();
      }
      o.log.info({ remote: req.ip }, 'connection request');
      return reply.code(200).send();
    });
    await app.listen({ host: o.address, port: o.port });
    this.app = app;
    const addr = app.server.address();
    const port = typeof addr === 'object' && addr ? addr.port : o.port;
    const host = o.host ?? o.address;
    this.url = `http://${host.includes(':') ? `[${host}]` : host}:${port}${o.path}`;
    return this.url;
  }

  async stop(): Promise<void> {
    await this.app?.close();
    this.app = undefined;
  }
}
