// Plug-ins have a name, dependencies and a lifecycle, checked at boot (like fastify's plugin-utils):
// register() attaches callbacks, start() begins work, stop() ends it; the host disposes what register
// and start returned, last first.
import type { Logger } from 'pino';
import type { DataModel } from './model.ts';
import { DisposableStore, type Disposable } from './events.ts';

export interface PluginContext {
  dm: DataModel;
  log: Logger;
  /** Disposed when the plug-in stops. */
  disposables: DisposableStore;
}

export interface Plugin {
  readonly name: string;
  readonly dependsOn?: readonly string[];
  register(ctx: PluginContext): void | Disposable[];
  start?(ctx: PluginContext): void | Promise<void>;
  stop?(ctx: PluginContext): void | Promise<void>;
}

/** Orders plug-ins so each comes after its dependencies; throws on a missing dependency or a cycle. */
export function orderPlugins(plugins: readonly Plugin[]): Plugin[] {
  const byName = new Map(plugins.map((p) => [p.name, p]));
  if (byName.size !== plugins.length) throw new Error('plugins: duplicate plug-in name');
  const out: Plugin[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (p: Plugin, chain: string[]) => {
    if (state.get(p.name) === 'done') return;
    if (state.get(p.name) === 'visiting') throw new Error(`plugins: dependency cycle ${[...chain, p.name].join(' -> ')}`);
    state.set(p.name, 'visiting');
    for (const d of p.dependsOn ?? []) {
      const dep = byName.get(d);
      if (!dep) throw new Error(`plugins: ${p.name} depends on missing plug-in ${d}`);
      visit(dep, [...chain, p.name]);
    }
    state.set(p.name, 'done');
    out.push(p);
  };
  for (const p of plugins) visit(p, []);
  return out;
}

export class PluginHost {
  private readonly ordered: Plugin[];
  private readonly contexts = new Map<string, PluginContext>();
  private started: Plugin[] = [];

  constructor(private readonly dm: DataModel, plugins: readonly Plugin[], private readonly log: Logger) {
    this.ordered = orderPlugins(plugins);
  }

  async start(): Promise<void> {
    for (const p of this.ordered) {
      const ctx: PluginContext = { dm: this.dm, log: this.log.child({ plugin: p.name }), disposables: new DisposableStore() };
      this.contexts.set(p.name, ctx);
      for (const d of p.register(ctx) ?? []) ctx.disposables.add(d);
    }
    for (const p of this.ordered) {
      await p.start?.(this.contexts.get(p.name)!);
      this.started.push(p);
      this.log.info({ plugin: p.name }, 'plugin started');
    }
  }

  async stop(): Promise<void> {
    for (const p of this.started.reverse()) {
      const ctx = this.contexts.get(p.name)!;
      try {
        await p.stop?.(ctx);
      } catch (err) {
        this.log.error({ err, plugin: p.name }, 'plugin stop failed');
      }
      ctx.disposables.dispose();
    }
    this.started = [];
  }
}
