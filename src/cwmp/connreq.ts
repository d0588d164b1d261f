// The connection request server (TR-069 §3.2.2): an HTTP GET authenticated with Digest, answered at once,
// after which the CPE opens a session with "6 CONNECTION REQUEST". Requests are rate limited (§3.2.2
// lets the CPE restrict how many it accepts per period) so a flood cannot keep the CPE in sessions or
// guess passwords quickly.
import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { DigestServer, type Credentials } from './auth.ts';

export interface ConnReqOptions {
  address: string;
  port: number;
  path: string;
  /** Host name or address put in ConnectionRequestURL; defaults to the listen address. */
  host?: string;
  rateLimit: { max: number; windowSeconds: number };
  credentials(): Credentials;
  enabled(): boolean;
  onRequest(): void;
  log: Logger;
}

/** Sliding-window counter of accepted events. */
class Window {
  private times: number[] = [];
  constructor(private readonly max: number, private readonly ms: number) {}
  take(now = Date.now()): boolean {
    this.times = this.times.filter((t) => now - t < this.ms);
    if (this.times.length >= this.max) return false;
    this.times.push(now);
    return true;
  }
}

export class ConnectionRequestServer {
  private app?: FastifyInstance;
  private readonly digest = new DigestServer('twinstack-cwmp');
  url = '';

  constructor(private readonly opts: ConnReqOptions) {}

  async start(): Promise<string> {
    const o = this.opts;
    const accepted = new Window(o.rateLimit.max, o.rateLimit.windowSeconds * 1000);
    // Unauthenticated tries (challenges, wrong passwords) get a larger budget of their own.
    const tries = new Window(o.rateLimit.max * 5, o.rateLimit.windowSeconds * 1000);
    const app = Fastify({ logger: false, bodyLimit: 1024, connectionTimeout: 10_000, requestTimeout: 10_000 });
    app.get(o.path, async (req, reply) => {
      if (!o.enabled()) return reply.code(403).send();
      const verdict = this.digest.verify(req.headers.authorization, 'GET', o.credentials());
      if (verdict !== 'ok') {
        if (!tries.take()) return reply.code(503).header('Retry-After', String(o.rateLimit.windowSeconds)).send();
        if (req.headers.authorization) o.log.warn({ remote: req.ip, verdict }, 'connection request not authenticated');
        return reply.code(401).header('WWW-Authenticate', this.digest.challenge(verdict === 'stale')).send();
      }
      if (!accepted.take()) {
        o.log.warn({ remote: req.ip }, 'connection request rate limited');
        return reply.code(503).header('Retry-After', String(o.rateLimit.windowSeconds)).send();
      }
      o.log.info({ remote: req.ip }, 'connection request');
      setImmediate(() => o.onRequest());
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
