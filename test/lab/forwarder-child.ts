// What the child scripts of the namespace labs share: test/nat46/gateway.ts and test/teredo/harness.ts are each
// `<script> forwarder` (the bundled forwarder, which must run inside its namespace: ./jsonl.ts says why) or
// `<script> host` (a host's sockets), served over JSON lines. Both start the forwarder the same way and dispatch on
// the role the same way, kept here once: childForwarder() and serveLabChild().
// The forwarder's modules are loaded by childForwarder() only: a host child starts without them (the labs start
// several at once).
import type { Logger } from 'pino';
import type { Forwarder, ForwarderConfig } from '../../src/forwarder/index.ts';
import { serveJsonl, type Op } from './jsonl.ts';

/** The forwarder of one child process: none until start(). */
export interface ChildForwarder {
  /** Warnings and errors only, on stderr (stdout carries the JSON lines); the lab quotes it when the child dies. */
  readonly logger: Logger;
  /** Starts the forwarder with `config`. A dead one (a worker gone) ends the process, so that the lab sees it at once. */
  start(config: ForwarderConfig): Promise<Forwarder>;
  /** The running forwarder; throws before start() and after stop(). */
  get(): Forwarder;
  /** Stops the forwarder (its tun and sockets closed), if it runs. */
  stop(): Promise<void>;
}

export async function childForwarder(): Promise<ChildForwarder> {
  const [{ Forwarder }, { default: pino }] = await Promise.all([import('../../src/forwarder/index.ts'), import('pino')]);
  const logger = pino({ level: 'warn' }, pino.destination(2));
  let fwd: Forwarder | null = null;
  return {
    logger,
    async start(config) {
      fwd = await Forwarder.start(config, { logger });
      fwd.on('error', (err: Error) => {
        process.stderr.write(`forwarder died: ${err.message}\n`);
        process.exit(1);
      });
      return fwd;
    },
    get: () => fwd ?? (() => { throw new Error('forwarder not started'); })(),
    async stop() {
      await fwd?.stop();
      fwd = null;
    },
  };
}

/**
 * The main of a child script, on its argument `forwarder` or `host`: serves the ops of that role (serveJsonl) until
 * the lab closes stdin, when a host ends at once and a forwarder's `stop` op runs first (its tun and sockets closed).
 */
export async function serveLabChild(script: string, forwarderOps: () => Promise<Record<string, Op>>, hostOps: () => Record<string, Op>): Promise<void> {
  const role = process.argv[2];
  if (role !== 'forwarder' && role !== 'host') {
    process.stderr.write(`usage: ${script} forwarder|host\n`);
    process.exit(2);
  }
  const ops = role === 'forwarder' ? await forwarderOps() : hostOps();
  serveJsonl(ops, role === 'forwarder' ? () => ops.stop({}) : undefined);
}
