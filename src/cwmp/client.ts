// The CWMP client: decides when sessions happen (boot, periodic inform, connection requests, active
// notifications, scheduled informs, transfers), retries failed sessions with the TR-069 §3.2.1.1 backoff,
// and runs one session at a time.
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { ChangeEvent, DataModel, Disposable } from '../datamodel/index.ts';
import type { CwmpConfig, CwmpHooks } from './config.ts';
import { ConnectionRequestServer, TokenBucket } from './connreq.ts';
import { fetchFile, TransferError } from './download.ts';
import { EV, PendingEvents, type PendingDownload } from './events.ts';
import type { HttpOptions } from './http.ts';
import type { AcsRequest } from './messages.ts';
import { runSession, type SessionResult } from './session.ts';
import type { RpcContext } from './rpc/index.ts';

const MS = 'Device.ManagementServer.';
const DOWNLOAD_TYPES = ['1 Firmware Upgrade Image', '3 Vendor Configuration File'];
const MAX_TIMER = 2 ** 31 - 1;

/**
 * TR-069 §3.2.1.1 Table 3: after the n-th failed attempt the next one waits a random time in
 * [m·(k/1000)^(n-1), m·(k/1000)^n) seconds, n capped at 10.
 */
export function retryWindow(n: number, m: number, k: number): [number, number] {
  const c = Math.min(Math.max(n, 1), 10);
  const f = k / 1000;
  return [m * f ** (c - 1), m * f ** c];
}

export class CwmpClient {
  readonly events: PendingEvents;
  private running?: Promise<void>;
  private wanted = false;
  private retries = 0;
  private stopped = false;
  private acsWriting = false;
  /** A runSession call is under way (a connection request now folds into one follow-up session). */
  private inSession = false;
  /** A connection request came during a session: the next session is the one it asked for. */
  private crFollowUp = false;
  /** What the loop is waiting for between sessions, and how to end the wait early. */
  private pause?: { why: 'backoff' | 'rate limit'; wake: () => void };
  /** Sessions started by connection requests (TR-069 §3.2.2 lets the CPE limit them). */
  private readonly crBudget: TokenBucket;
  private periodicTimer?: NodeJS.Timeout;
  private throttleTimer?: NodeJS.Timeout;
  private lastSessionEnd = 0;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly downloading = new Set<string>();
  private post: (() => void | Promise<void>)[] = [];
  private readonly subs: Disposable[] = [];
  private readonly crServer?: ConnectionRequestServer;
  private readonly http: HttpOptions;
  /** Outcome of the last session (tests and the bench read it). */
  lastSession?: SessionResult | { error: string };
  /** Resolves whenever a session ends (tests wait on it). */
  private sessionWaiters: (() => void)[] = [];

  constructor(private readonly dm: DataModel, private readonly log: Logger, private readonly cfg: CwmpConfig, private readonly hooks: CwmpHooks) {
    this.events = new PendingEvents(dm.state('cwmp'));
    const ca = cfg.tls.caFile ? readFileSync(cfg.tls.caFile) : undefined;
    this.http = { timeoutMs: cfg.sessionTimeoutSeconds * 1000, maxBodyBytes: cfg.maxMessageBytes, ca };
    const { max, windowSeconds } = cfg.connectionRequest.rateLimit;
    this.crBudget = new TokenBucket(max, windowSeconds * 1000);
    if (cfg.connectionRequest.enable) {
      this.crServer = new ConnectionRequestServer({
        ...cfg.connectionRequest, log,
        credentials: () => ({ username: dm.getValue(`${MS}ConnectionRequestUsername`), password: dm.getSecret(`${MS}ConnectionRequestPassword`) }),
        enabled: () => dm.getValue(`${MS}HTTPConnectionRequestEnable`) === 'true',
        onRequest: () => this.connectionRequest(),
      });
    }
  }

  async start(): Promise<void> {
    this.seed();
    this.subs.push(this.dm.onChange((ev) => this.onChange(ev)));
    // Value changes are recorded in the same SQLite transaction as the change itself (TR-069 §3.7.1.5: a
    // notification must survive a crash or reboot), so no kill can keep the change and lose the event.
    this.subs.push(this.dm.onCommitting((ev, state) => {
      const passive = this.notifiable(ev);
      if (passive.length) new PendingEvents(state('cwmp')).addValueChanges(passive.map((p) => p.path));
    }));
    // What this CPE offers for connection requests: HTTP only (no STUN, no XMPP), at the server's URL.
    const offered: Record<string, string> = { [`${MS}SupportedConnReqMethods`]: this.crServer ? 'HTTP' : '' };
    if (this.crServer) offered[`${MS}ConnectionRequestURL`] = await this.crServer.start();
    const changed = Object.entries(offered).filter(([path, value]) => this.dm.getValue(path) !== value);
    if (changed.length) this.dm.set(Object.fromEntries(changed), 'system');
    this.checkBootstrap();
    this.events.add(EV.BOOT);
    this.schedulePeriodic();
    for (const s of this.events.scheduledInforms()) this.armScheduledInform(s);
    this.scheduleDownloads();
    this.requestSession();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const s of this.subs) s.dispose();
    clearTimeout(this.periodicTimer);
    clearTimeout(this.throttleTimer);
    for (const t of this.timers) clearTimeout(t);
    this.pause?.wake();
    await this.crServer?.stop();
    await this.running;
  }

  /** Sets the ManagementServer factory defaults once (first start, or after a factory reset wiped the store). */
  private seed() {
    if (this.events.get('seeded')) return;
    const fd = this.cfg.factoryDefaults;
    const v: Record<string, string> = {
      [`${MS}CWMPRetryMinimumWaitInterval`]: '5', // TR-069 §3.2.1.1 defaults: m = 5 s, k = 2000
      [`${MS}CWMPRetryIntervalMultiplier`]: '2000',
      [`${MS}PeriodicInformEnable`]: String(fd.periodicInformEnable),
      [`${MS}PeriodicInformInterval`]: String(fd.periodicInformInterval),
    };
    if (fd.url !== undefined) v[`${MS}URL`] = fd.url;
    if (fd.username !== undefined) v[`${MS}Username`] = fd.username;
    if (fd.password !== undefined) v[`${MS}Password`] = fd.password;
    if (fd.connectionRequestUsername !== undefined) v[`${MS}ConnectionRequestUsername`] = fd.connectionRequestUsername;
    if (fd.connectionRequestPassword !== undefined) v[`${MS}ConnectionRequestPassword`] = fd.connectionRequestPassword;
    this.dm.set(v, 'system');
    this.events.set('seeded', new Date().toISOString());
  }

  /**
   * 0 BOOTSTRAP: first contact with this ACS URL (new device, factory reset, or a changed URL), or a database
   * found damaged and recreated at this start (dm.startup.recovered): TR-069 Table 7 has BOOTSTRAP follow a
   * factory reset too, and the ACS must provision again what the lost rows held.
   */
  private checkBootstrap() {
    const url = this.dm.getValue(`${MS}URL`);
    if (url && (this.events.get('bootstrapUrl') !== url || this.dm.startup.recovered)) this.events.add(EV.BOOTSTRAP);
  }

  /** Changes with notification on, except the ACS's own (A.3.2.4: not notified back to it). */
  private notifiable(ev: ChangeEvent): { path: string; notification: number }[] {
    if (this.acsWriting || ev.origin === 'cwmp' || ev.changes.length === 0) return [];
    const attrs = this.dm.attributes.get(ev.changes.map((c) => c.path));
    return attrs.filter((a) => a.notification > 0);
  }

  private onChange(ev: ChangeEvent) {
    let periodic = false;
    let bootstrap = false;
    let diagnostics = false;
    for (const c of ev.changes) {
      if (c.path.startsWith(MS) && /PeriodicInform(Enable|Interval|Time)$/.test(c.path)) periodic = true;
      if (c.path === `${MS}URL`) bootstrap = true;
      // TR-069 Table 7 "8 DIAGNOSTICS COMPLETE": the agent reports a finished diagnostic test.
      if (ev.origin === 'system' && c.path.endsWith('.DiagnosticsState') && /^(Complete|Error)/.test(c.value)) diagnostics = true;
    }
    if (periodic) this.schedulePeriodic();
    if (bootstrap) { this.checkBootstrap(); this.requestSession(); }
    if (diagnostics) { this.events.add(EV.DIAGNOSTICS_COMPLETE); this.requestSession(); }
    // The pending VALUE CHANGE was recorded inside the commit (onCommitting); an active one starts a session.
    if (this.notifiable(ev).some((a) => a.notification === 2)) this.activeNotification();
  }

  /** DefaultActiveNotificationThrottle (TR-181): at least this long after the last session before a new one. */
  private activeNotification() {
    const wait = this.lastSessionEnd + Number(this.dm.getValue(`${MS}DefaultActiveNotificationThrottle`)) * 1000 - Date.now();
    if (wait <= 0 || this.running) return this.requestSession();
    if (this.throttleTimer) return;
    this.throttleTimer = setTimeout(() => { this.throttleTimer = undefined; this.requestSession(); }, wait);
    this.throttleTimer.unref();
  }

  /**
   * An authenticated connection request (TR-069 §3.2.2); false refuses it with 503. During a session it is
   * always accepted: the session is not cut short, and all requests during it make one session after it (that
   * session takes a token when it starts, waiting for one if the bucket is empty). Before a wanted session
   * starts it rides along with it. Otherwise, idle or backing off after a failure, it needs a token now, and
   * while a follow-up session waits for its token there is nothing more to accept.
   */
  private connectionRequest(): boolean {
    if (this.inSession) this.crFollowUp = true;
    else if (!this.sessionStarting && !this.crBudget.take()) return false;
    this.requestSession(EV.CONNECTION_REQUEST, true);
    return true;
  }

  /** A session is wanted and about to start (the loop is not waiting out a backoff or the rate limit). */
  private get sessionStarting(): boolean {
    return this.running !== undefined && !this.pause;
  }

  /** Asks for a session; one runs at a time, a request during a session gets a new one after it. */
  requestSession(event?: string, urgent = false): void {
    if (this.stopped) return;
    if (event) this.events.add(event);
    this.wanted = true;
    if (urgent && this.pause?.why === 'backoff') this.pause.wake();
    // Started on the next turn so that triggers arriving together (boot, URL, notifications) share one Inform.
    this.running ??= new Promise<void>((r) => setImmediate(r)).then(() => this.loop()).finally(() => { this.running = undefined; });
  }

  /** Resolves when the next session (or failed attempt) ends. */
  nextSessionEnd(): Promise<void> {
    return new Promise((resolve) => this.sessionWaiters.push(resolve));
  }

  /** Resolves when no session is running or wanted. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private rpcContext(): Omit<RpcContext, 'log'> {
    return {
      dm: this.dm, events: this.events, hooks: this.hooks, downloadTypes: DOWNLOAD_TYPES,
      afterSession: (fn) => { this.post.push(fn); },
      acsCommit: (fn) => {
        this.acsWriting = true;
        try { return fn(); } finally { this.acsWriting = false; }
      },
      scheduleInform: (delay, key) => {
        const s = { at: Date.now() + delay * 1000, CommandKey: key };
        this.events.setScheduledInforms([...this.events.scheduledInforms(), s]);
        this.armScheduledInform(s);
      },
      queueDownload: (req) => this.queueDownload(req),
    };
  }

  private async loop(): Promise<void> {
    while (this.wanted && !this.stopped) {
      if (this.crFollowUp) {
        this.crFollowUp = false;
        const ms = this.crBudget.reserve();
        if (ms > 0) {
          this.log.info({ waitMs: ms }, 'connection request session waits for the rate limit');
          await this.wait(ms, 'rate limit');
          if (this.stopped) break;
        }
      }
      this.wanted = false;
      if (this.dm.getValue(`${MS}EnableCWMP`) !== 'true' || !this.dm.getValue(`${MS}URL`) || !this.cfg.enable) break;
      this.inSession = true;
      try {
        this.lastSession = await runSession({
          dm: this.dm, log: this.log, events: this.events, http: this.http, rpc: this.rpcContext(), onSend: this.hooks.onSend,
        }, this.retries);
        this.retries = 0;
      } catch (err) {
        this.retries++;
        this.lastSession = { error: err instanceof Error ? err.message : String(err) };
        this.log.warn({ err: this.lastSession.error, retries: this.retries }, 'session failed');
        this.wanted = true;
      } finally {
        this.inSession = false;
      }
      this.lastSessionEnd = Date.now();
      const post = this.post;
      this.post = [];
      for (const w of this.sessionWaiters.splice(0)) w();
      // Not awaited: a reboot hook that stops the agent (and so this plug-in) must not wait on this loop.
      for (const fn of post) Promise.resolve().then(fn).catch((err) => this.log.error({ err }, 'post-session action failed'));
      if (this.retries > 0 && this.wanted && !this.stopped) await this.backoff();
    }
  }

  private backoff(): Promise<void> {
    const m = Number(this.dm.getValue(`${MS}CWMPRetryMinimumWaitInterval`)) || 5;
    const k = Number(this.dm.getValue(`${MS}CWMPRetryIntervalMultiplier`)) || 2000;
    const [lo, hi] = retryWindow(this.retries, m, k);
    const ms = (lo + Math.random() * (hi - lo)) * 1000;
    this.log.info({ retries: this.retries, waitMs: Math.round(ms) }, 'session retry scheduled');
    return this.wait(ms, 'backoff');
  }

  /** Waits between sessions; `pause.wake` ends the wait early (stop, or a connection request in a backoff). */
  private wait(ms: number, why: 'backoff' | 'rate limit'): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => wake(), Math.min(ms, MAX_TIMER));
      const wake = () => { clearTimeout(t); this.pause = undefined; resolve(); };
      this.pause = { why, wake };
    });
  }

  /** PeriodicInformTime sets the phase; the unknown time (0001-01-01) means "from now" (TR-181). */
  private schedulePeriodic() {
    clearTimeout(this.periodicTimer);
    if (this.stopped || this.dm.getValue(`${MS}PeriodicInformEnable`) !== 'true') return;
    const interval = Number(this.dm.getValue(`${MS}PeriodicInformInterval`)) * 1000;
    if (!interval) return;
    const now = Date.now();
    const phase = Date.parse(this.dm.getValue(`${MS}PeriodicInformTime`));
    let next = now + interval;
    if (phase > 0) {
      next = phase + Math.ceil((now - phase) / interval) * interval;
      if (next <= now) next += interval;
    }
    this.periodicTimer = setTimeout(() => {
      this.requestSession(EV.PERIODIC);
      this.schedulePeriodic();
    }, Math.min(next - now, MAX_TIMER));
    this.periodicTimer.unref();
  }

  private armScheduledInform(s: { at: number; CommandKey: string }) {
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.events.setScheduledInforms(this.events.scheduledInforms().filter((x) => !(x.at === s.at && x.CommandKey === s.CommandKey)));
      this.events.add(EV.SCHEDULED);
      this.events.add(EV.M_SCHEDULE_INFORM, s.CommandKey);
      this.requestSession();
    }, Math.min(Math.max(0, s.at - Date.now()), MAX_TIMER));
    t.unref();
    this.timers.add(t);
  }

  private queueDownload(req: Extract<AcsRequest, { method: 'Download' }>) {
    const job: PendingDownload = {
      CommandKey: req.CommandKey, FileType: req.FileType, URL: req.URL, Username: req.Username, Password: req.Password,
      FileSize: req.FileSize, TargetFileName: req.TargetFileName, notBefore: Date.now() + req.DelaySeconds * 1000,
    };
    this.events.setDownloads([...this.events.downloads(), job]);
    this.post.push(() => this.scheduleDownloads());
  }

  private scheduleDownloads() {
    for (const job of this.events.downloads()) {
      const id = `${job.CommandKey}\0${job.notBefore}`;
      if (this.downloading.has(id)) continue;
      this.downloading.add(id);
      const t = setTimeout(() => { this.timers.delete(t); void this.runDownload(job, id); }, Math.min(Math.max(0, job.notBefore - Date.now()), MAX_TIMER));
      this.timers.add(t);
    }
  }

  private async runDownload(job: PendingDownload, id: string) {
    const start = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    let FaultCode = 0;
    let FaultString = '';
    let reboot = false;
    try {
      const path = await fetchFile(job, { dir: this.hooks.downloadsDir, timeoutMs: this.http.timeoutMs, maxBytes: this.cfg.maxDownloadBytes, ca: this.http.ca });
      try {
        reboot = !!(await this.hooks.install?.({ fileType: job.FileType, path, targetFileName: job.TargetFileName }))?.reboot;
      } catch (err) {
        throw new TransferError(9010, err instanceof Error ? err.message : String(err));
      }
    } catch (err) {
      FaultCode = err instanceof TransferError ? err.code : 9010;
      FaultString = (err instanceof Error ? err.message : String(err)).slice(0, 256); // A.3.3.2: at most 256 characters
    }
    this.log.info({ commandKey: job.CommandKey, fault: FaultCode }, 'download finished');
    this.events.setDownloads(this.events.downloads().filter((j) => `${j.CommandKey}\0${j.notBefore}` !== id));
    this.downloading.delete(id);
    this.events.addTransfer({ CommandKey: job.CommandKey, FaultCode, FaultString, StartTime: start, CompleteTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z') });
    if (this.stopped) return;
    if (reboot) await this.hooks.reboot();
    else this.requestSession();
  }

  /** The connection request URL in use ('' without a server). */
  get connectionRequestUrl(): string {
    return this.crServer?.url ?? '';
  }
}
