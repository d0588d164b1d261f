// What an RPC handler may use. Handlers get the data model and a few session services; they never touch
// HTTP or XML.
import type { DataModel } from '../../datamodel/index.ts';
import type { Logger } from 'pino';
import type { PendingEvents } from '../events.ts';
import type { AcsRequest, CpeMessage } from '../messages.ts';

export interface RpcContext {
  dm: DataModel;
  log: Logger;
  events: PendingEvents;
  /** Runs after the session ended (Reboot, FactoryReset and Download act then, TR-069 §A.3.2.9). */
  afterSession(fn: () => void | Promise<void>): void;
  /** Commits a change set written on the ACS's behalf: change events from it are not value-change notified. */
  acsCommit<T>(fn: () => T): T;
  scheduleInform(delaySeconds: number, commandKey: string): void;
  /** Accepts a Download: stores it so it survives a restart; it runs after the session. */
  queueDownload(req: Extract<AcsRequest, { method: 'Download' }>): void;
  hooks: { reboot(): void | Promise<void>; factoryReset(): void | Promise<void> };
  /** File types Download accepts (A.3.2.8 FileType). */
  downloadTypes: readonly string[];
}

export type RpcHandler<M extends AcsRequest['method']> = (req: Extract<AcsRequest, { method: M }>, ctx: RpcContext) => CpeMessage | Promise<CpeMessage>;
