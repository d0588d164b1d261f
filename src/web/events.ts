// Live updates for the page: a Server-Sent Events stream (HTML Living Standard §9.2) of the data model's
// change events, so the status panel and open objects change without a reload. Secured values are
// blanked before they leave; a stream ends when its session ends.
import type { FastifyInstance } from 'fastify';
import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { schemaOf, type ChangeEvent, type DataModel, type Disposable } from '../datamodel/index.ts';
import type { Sessions } from './auth.ts';

interface Client {
  sessionId: string;
  res: ServerResponse;
}

/** Heartbeat: keeps proxies and phones from dropping an idle stream, and notices expired sessions. */
const HEARTBEAT_MS = 15_000;

/** The change event as the page sees it: secured parameters' values replaced by "". */
export function publicChange(dm: DataModel, ev: ChangeEvent) {
  return {
    origin: ev.origin,
    changes: ev.changes.map((c) => (dm.schema.param(schemaOf(c.path))?.def.secured ? { path: c.path, old: '', value: '' } : c)),
    added: ev.added,
    deleted: ev.deleted,
  };
}

export class EventHub {
  private readonly clients = new Set<Client>();
  private subscription?: Disposable;
  private timer?: NodeJS.Timeout;

  constructor(private readonly dm: DataModel, private readonly sessions: Sessions, private readonly now: () => number, private readonly log: Logger) {}

  register(app: FastifyInstance): void {
    app.get('/api/events', (req, reply) => {
      reply.hijack();
      const res = reply.raw;
      // Hijacked replies skip the onSend hook: send the same protective headers here.
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
        'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
        connection: 'keep-alive',
      });
      res.write('retry: 3000\n\nevent: hello\ndata: {}\n\n');
      const client: Client = { sessionId: req.session!.id, res };
      this.clients.add(client);
      this.start();
      res.on('close', () => this.clients.delete(client));
    });
    app.addHook('preClose', async () => this.close());
  }

  private start() {
    if (this.subscription) return;
    this.subscription = this.dm.onChange((ev) => this.broadcast('change', publicChange(this.dm, ev)));
    this.timer = setInterval(() => this.broadcast(null, null), HEARTBEAT_MS);
    this.timer.unref();
  }

  private broadcast(event: string | null, data: unknown) {
    const frame = event ? `event: ${event}\ndata: ${JSON.stringify(data)}\n\n` : ': ping\n\n';
    for (const c of this.clients) {
      if (!this.sessions.get(c.sessionId, this.now(), false)) {
        this.end(c, 'expired');
        continue;
      }
      c.res.write(frame);
    }
  }

  private end(c: Client, why: string) {
    this.clients.delete(c);
    c.res.end(`event: ${why}\ndata: {}\n\n`);
  }

  /** Ends the streams of one session (logout). */
  closeSession(sessionId: string): void {
    for (const c of this.clients) if (c.sessionId === sessionId) this.end(c, 'expired');
  }

  get size(): number {
    return this.clients.size;
  }

  close(): void {
    for (const c of this.clients) this.end(c, 'shutdown');
    this.subscription?.dispose();
    this.subscription = undefined;
    clearInterval(this.timer);
    this.log.debug('web event streams closed');
  }
}
