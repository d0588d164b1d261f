// The web parameter browser as a plug-in: register() does nothing to the data model (the browser only
// reads and writes through it), start() makes sure an admin password hash exists and listens, stop()
// closes the event streams and the server.
import type { Plugin, PluginContext } from '../datamodel/index.ts';
import { createWebServer, ensurePassword, WEB_DEFAULTS, type WebConfig, type WebServer } from './server.ts';

export type { WebConfig } from './server.ts';
export { createWebServer, ensurePassword } from './server.ts';

export interface WebPlugin extends Plugin {
  /** The URL the server listens on once started ("http://127.0.0.1:8080/"); port 0 gives the real port. */
  readonly url: string | undefined;
}

export function webPlugin(config: WebConfig = {}): WebPlugin {
  const cfg = { ...WEB_DEFAULTS, ...config };
  let server: WebServer | undefined;
  let url: string | undefined;
  return {
    name: 'web',
    get url() {
      return url;
    },
    register() {},
    async start(ctx: PluginContext) {
      if (!cfg.enable) return;
      await ensurePassword(ctx.dm, ctx.log, cfg.adminPassword);
      server = createWebServer({ dm: ctx.dm, log: ctx.log, config: cfg });
      await server.app.listen({ host: cfg.address, port: cfg.port });
      const addr = server.app.server.address();
      const port = typeof addr === 'object' && addr ? addr.port : cfg.port;
      const host = cfg.address.includes(':') ? `[${cfg.address}]` : cfg.address;
      url = `http://${host}:${port}/`;
      ctx.log.info({ url }, 'web browser listening');
    },
    async stop() {
      await server?.app.close();
      server = undefined;
      url = undefined;
    },
  };
}
