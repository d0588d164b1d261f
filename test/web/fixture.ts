// Shared set-up for the web tests: an in-memory data model, the web server with a fake clock, and login.
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { DataModel } from '../../src/datamodel/index.ts';
import { createWebServer, ensurePassword, type WebConfig } from '../../src/web/index.ts';

export const PASSWORD = 'correct horse battery';

/** A pino logger whose JSON lines are kept for assertions. */
export function memoryLogger(): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({ write(chunk, _enc, cb) { for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l)); cb(); } });
  return { log: pino({ level: 'debug' }, sink), lines };
}

export async function setup(config: WebConfig = {}) {
  const dm = new DataModel({ file: ':memory:' });
  const { log, lines } = memoryLogger();
  let clock = Date.parse('2026-01-01T00:00:00Z');
  const cfg = { adminPassword: PASSWORD, ...config };
  await ensurePassword(dm, log, cfg.adminPassword);
  const server = createWebServer({ dm, log, config: cfg, now: () => clock });
  const { app } = server;

  /** Logs in and returns the cookie header and CSRF token for later requests. */
  const login = async (password = PASSWORD, remoteAddress = '127.0.0.1') => {
    const r = await app.inject({ method: 'POST', url: '/api/login', payload: { password }, remoteAddress });
    const cookie = String(r.headers['set-cookie'] ?? '').split(';')[0];
    return { status: r.statusCode, body: r.json(), cookie, csrf: r.statusCode === 200 ? (r.json().csrfToken as string) : '' };
  };
  return {
    dm, app, server, lines, login,
    advance(ms: number) { clock += ms; },
    async close() { await app.close(); dm.close(); },
  };
}
