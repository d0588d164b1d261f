// A scripted ACS (fastify) that drives sessions the way a real ACS does. A test queues one driver per
// session; the driver calls RPCs on the CPE (`await s.call('GetParameterNames', '<ParameterPath>...')`)
// and the fixture answers the CPE's Inform, TransferComplete and empty POST as TR-069 §3.7 describes.
// Every message the CPE sends is kept and validated against the BBF CWMP XSD (validateAll).
import Fastify, { type FastifyInstance } from 'fastify';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import xml2js from 'xml2js';

export const VALIDATOR = join(import.meta.dirname, '../../../shared/specs/cwmp/validate/cwmp-validate');

/**
 * TR-181 forcedInform parameters (the BBF XML's forcedInform="true"): in every Inform whatever the events.
 * The ACS knows them on its own; it does not ask the CPE's code.
 */
export const FORCED_INFORM = new Set([
  'Device.RootDataModelVersion', 'Device.DeviceInfo.HardwareVersion', 'Device.DeviceInfo.SoftwareVersion',
  'Device.DeviceInfo.ProvisioningCode', 'Device.ManagementServer.ParameterKey', 'Device.ManagementServer.ConnectionRequestURL',
  'Device.ManagementServer.AliasBasedAddressing',
]);

/** A message from the CPE, parsed with xml2js (prefixes stripped). */
export interface CpeMsg {
  raw: string;
  method: string; // "Inform", "GetParameterNamesResponse", "Fault", "" for an empty POST
  body: any;
  id?: string;
}

export interface Session {
  inform: CpeMsg;
  messages: CpeMsg[];
  /** Call an RPC: `inner` is the XML inside <cwmp:Method>. Resolves with the CPE's answer. */
  call(method: string, inner?: string): Promise<CpeMsg>;
  /** Send any body (malformed XML, unknown RPCs) and get the CPE's answer. */
  callRaw(body: string): Promise<CpeMsg>;
}

export interface AcsOptions {
  auth?: 'none' | 'basic' | 'digest';
  username?: string;
  password?: string;
  /** Namespace of the ACS's messages (an old ACS uses cwmp-1-0). */
  ns?: string;
  useVersion?: string;
  holdRequests?: boolean;
  https?: { key: string; cert: string };
}

const parser = () => new xml2js.Parser({ explicitArray: false, tagNameProcessors: [xml2js.processors.stripPrefix], attrNameProcessors: [xml2js.processors.stripPrefix] });

export async function parseCpe(raw: string): Promise<CpeMsg> {
  if (!raw) return { raw, method: '', body: undefined };
  const doc = await parser().parseStringPromise(raw);
  const env = doc.Envelope;
  const method = Object.keys(env.Body).find((k) => k !== '$')!;
  const id = env.Header?.ID;
  return { raw, method, body: env.Body[method], id: typeof id === 'object' ? id._ : id };
}

class Deferred<T> {
  resolve!: (v: T) => void;
  reject!: (e: unknown) => void;
  readonly promise = new Promise<T>((res, rej) => { this.resolve = res; this.reject = rej; });
}

export const arr = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
export const text = (v: any): string => (typeof v === 'string' ? v : v?._ ?? '');

export class ScriptedAcs {
  app!: FastifyInstance;
  url = '';
  /** Every non-empty message the CPE sent, in order. */
  readonly sent: string[] = [];
  readonly sessions: (Session & { done: boolean; error?: unknown })[] = [];
  /** Per HTTP request: the client's port, its Cookie and Authorization headers. */
  readonly requests: { port: number; cookie?: string; authorization?: string; bytes: number }[] = [];
  private readonly drivers: ((s: Session) => Promise<void>)[] = [];
  private readonly ended: Deferred<Session>[] = [];
  private current?: { s: Session & { done: boolean; error?: unknown }; outbox: Deferred<string | null>; inbox?: Deferred<CpeMsg>; started: boolean };
  private readonly nonce = randomBytes(8).toString('hex');
  /** Hold the reply to the next Inform forever (the CPE is killed meanwhile). */
  stallInform = false;
  readonly informs: CpeMsg[] = [];
  private informWaiters: ((m: CpeMsg) => void)[] = [];
  /**
   * Parameter patterns ("*" for instance numbers) the ACS put in ManagementServer.InformParameter: they may
   * ride in an Inform without "4 VALUE CHANGE".
   */
  informParameters: string[] = [];
  /** Runs when an Inform arrives, before the InformResponse goes out (a change made meanwhile, a stalled ACS). */
  beforeInformResponse?: (inform: CpeMsg) => void | Promise<void>;
  /** What a strict ACS refused (an Inform it faulted, a response with the wrong cwmp:ID); validateAll asserts none. */
  readonly violations: string[] = [];

  constructor(readonly opts: AcsOptions = {}) {}

  async start(): Promise<this> {
    this.app = Fastify({ logger: false, bodyLimit: 64 * 1024 * 1024, ...(this.opts.https ? { https: this.opts.https } : {}) } as never) as unknown as FastifyInstance;
    this.app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));
    this.app.post('/acs', (req, reply) => this.handle(req as never, reply as never));
    await this.app.listen({ host: '127.0.0.1', port: 0 });
    const port = (this.app.server.address() as { port: number }).port;
    this.url = `${this.opts.https ? 'https' : 'http'}://127.0.0.1:${port}/acs`;
    return this;
  }

  async stop(): Promise<void> {
    await this.app.close();
  }

  /** Queues the driver of the next session (after Inform and the empty POST). */
  onSession(driver: (s: Session) => Promise<void>): void {
    this.drivers.push(driver);
  }

  /** Resolves when the next session ends with 204. */
  nextSession(): Promise<Session> {
    const d = new Deferred<Session>();
    this.ended.push(d);
    return d.promise;
  }

  nextInform(): Promise<CpeMsg> {
    return new Promise((r) => this.informWaiters.push(r));
  }

  envelope(body: string, id = randomBytes(4).toString('hex'), extraHeader = ''): string {
    const ns = this.opts.ns ?? 'urn:dslforum-org:cwmp-1-2';
    return `<?xml version="1.0" encoding="UTF-8"?><soap-env:Envelope xmlns:soap-env="http://schemas.xmlsoap.org/soap/envelope/" xmlns:soap-enc="http://schemas.xmlsoap.org/soap/encoding/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:cwmp="${ns}"><soap-env:Header><cwmp:ID soap-env:mustUnderstand="1">${id}</cwmp:ID>${extraHeader}</soap-env:Header><soap-env:Body>${body}</soap-env:Body></soap-env:Envelope>`;
  }

  private authorized(h: string | undefined): boolean {
    const { auth = 'none', username = 'acs', password = 'secret' } = this.opts;
    if (auth === 'none') return true;
    if (!h) return false;
    if (auth === 'basic') return h === `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
    const p = Object.fromEntries([...h.matchAll(/(\w+)="?([^",]*)"?/g)].map((m) => [m[1], m[2]]));
    const md5 = (s: string) => createHash('md5').update(s).digest('hex');
    const ha1 = md5(`${username}:acs:${password}`);
    const ha2 = md5(`POST:${p.uri}`);
    return p.nonce === this.nonce && p.response === md5(`${ha1}:${p.nonce}:${p.nc}:${p.cnonce}:${p.qop}:${ha2}`);
  }

  private async handle(req: { headers: Record<string, string | undefined>; body?: string; socket: { remotePort: number } }, reply: any) {
    const raw = typeof req.body === 'string' ? req.body : '';
    this.requests.push({ port: req.socket.remotePort, cookie: req.headers.cookie, authorization: req.headers.authorization, bytes: raw.length });
    if (!this.authorized(req.headers.authorization)) {
      const challenge = this.opts.auth === 'basic' ? 'Basic realm="acs"' : `Digest realm="acs", qop="auth", nonce="${this.nonce}", algorithm=MD5`;
      return reply.code(401).header('WWW-Authenticate', challenge).send();
    }
    const msg = await parseCpe(raw);
    if (raw) this.sent.push(raw);
    if (msg.method === 'Inform') {
      this.informs.push(msg);
      for (const w of this.informWaiters.splice(0)) w(msg);
      if (this.stallInform) return new Promise(() => {});
      const refused = this.checkInform(msg);
      if (refused) {
        this.violations.push(refused);
        this.ended.shift()?.reject(new Error(`ACS refused the Inform: ${refused}`));
        return reply.code(200).type('text/xml').send(this.envelope(`<soap-env:Fault><faultcode>Client</faultcode><faultstring>CWMP fault</faultstring><detail><cwmp:Fault><FaultCode>8003</FaultCode><FaultString>${refused}</FaultString></cwmp:Fault></detail></soap-env:Fault>`, msg.id));
      }
      await this.beforeInformResponse?.(msg);
      const s = this.newSession(msg);
      this.current = { s, outbox: new Deferred(), started: false };
      const hdr = (this.opts.useVersion ? `<cwmp:UseCWMPVersion soap-env:mustUnderstand="1">${this.opts.useVersion}</cwmp:UseCWMPVersion>` : '')
        + (this.opts.holdRequests ? '<cwmp:HoldRequests soap-env:mustUnderstand="1">true</cwmp:HoldRequests>' : '');
      return reply.code(200).header('Set-Cookie', `acs-session=${randomBytes(6).toString('hex')}; Path=/`).type('text/xml')
        .send(this.envelope('<cwmp:InformResponse><MaxEnvelopes>1</MaxEnvelopes></cwmp:InformResponse>', msg.id, hdr));
    }
    const cur = this.current;
    if (!cur) return reply.code(400).send();
    cur.s.messages.push(msg);
    if (msg.method === 'TransferComplete') {
      return reply.code(200).type('text/xml').send(this.envelope('<cwmp:TransferCompleteResponse/>', msg.id));
    }
    const outbox = new Deferred<string | null>();
    cur.outbox = outbox;
    if (cur.inbox) {
      const inbox = cur.inbox;
      cur.inbox = undefined;
      inbox.resolve(msg);
    } else if (!cur.started && msg.method === '') {
      cur.started = true;
      const driver = this.drivers.shift();
      (driver ? driver(cur.s) : Promise.resolve()).then(
        () => cur.outbox.resolve(null),
        (e) => { cur.s.error = e; cur.outbox.resolve(null); },
      );
    } else {
      outbox.resolve(null);
    }
    const out = await outbox.promise;
    if (out === null) {
      cur.s.done = true;
      this.current = undefined;
      const d = this.ended.shift();
      if (d) (cur.s.error ? d.reject(cur.s.error) : d.resolve(cur.s));
      return reply.code(204).send();
    }
    return reply.code(200).type('text/xml').send(out);
  }

  /**
   * ACS presets key on Inform events (GenieACS: a preset on "4 VALUE CHANGE"): a changed parameter reported
   * without that event is lost to them. TR-069 A.3.3.1: besides the forced parameters (and, TR-181, the
   * InformParameter table) the ParameterList carries the parameters whose change the "4 VALUE CHANGE" event
   * reports. Returns why the Inform is refused, or undefined.
   */
  private checkInform(msg: CpeMsg): string | undefined {
    const events = arr(msg.body.Event?.EventStruct).map((e: any) => text(e.EventCode));
    if (events.includes('4 VALUE CHANGE')) return undefined;
    const extra = arr(msg.body.ParameterList?.ParameterValueStruct).map((p: any) => text(p.Name))
      .filter((n) => !FORCED_INFORM.has(n) && !this.informParameters.some((pat) => matches(pat, n)));
    return extra.length ? `ParameterList carries ${extra.join(', ')} without "4 VALUE CHANGE" (events: ${events.join(', ') || 'none'})` : undefined;
  }

  private newSession(inform: CpeMsg) {
    const self = this;
    const s: Session & { done: boolean; error?: unknown } = {
      inform, messages: [], done: false,
      async call(method, inner = '') {
        const id = randomBytes(4).toString('hex');
        const r = await this.callRaw(self.envelope(`<cwmp:${method}>${inner}</cwmp:${method}>`, id));
        // GenieACS matches a response to its request by cwmp:ID ("Request ID not recognized" otherwise).
        if (r.method !== '' && r.id !== id) self.violations.push(`${r.method} to ${method} carries cwmp:ID ${JSON.stringify(r.id)}, not ${id}`);
        return r;
      },
      callRaw(body) {
        const cur = self.current!;
        const inbox = new Deferred<CpeMsg>();
        cur.inbox = inbox;
        cur.outbox.resolve(body);
        return inbox.promise;
      },
    };
    this.sessions.push(s);
    return s;
  }

  /** Validates every message the CPE sent in the cwmp-1-2 namespace against the CWMP 1.4 XSD; no violations. */
  validateAll(): number {
    assert.deepEqual(this.violations, [], 'the strict ACS refused CPE messages');
    const dir = mkdtempSync(join(tmpdir(), 'cwmp-xsd-'));
    try {
      const files = this.sent.filter((x) => x.includes('urn:dslforum-org:cwmp-1-2')).map((x, i) => {
        const f = join(dir, `m${i}.xml`);
        writeFileSync(f, x);
        return f;
      });
      if (!files.length) return 0;
      const r = spawnSync(VALIDATOR, files, { encoding: 'utf8' });
      assert.equal(r.status, 0, `CPE messages fail the CWMP XSD:\n${r.stderr.split('\n').filter((l) => !l.endsWith(' validates')).slice(0, 20).join('\n')}`);
      return files.length;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

/** A parameter name against a pattern with "*" in place of instance numbers (TR-181 InformParameter). */
function matches(pattern: string, name: string): boolean {
  const a = pattern.split('.');
  const b = name.split('.');
  return a.length === b.length && a.every((seg, i) => seg === b[i] || (seg === '*' && /^\d+$/.test(b[i])));
}

/** GetParameterNames/GetParameterValues argument helpers. */
export const names = (list: string[]) => `<ParameterNames soap-enc:arrayType="xsd:string[${list.length}]">${list.map((n) => `<string>${n}</string>`).join('')}</ParameterNames>`;
export const pvs = (list: [string, string, string][]) =>
  `<ParameterList soap-enc:arrayType="cwmp:ParameterValueStruct[${list.length}]">${list.map(([n, v, t]) => `<ParameterValueStruct><Name>${n}</Name><Value xsi:type="xsd:${t}">${v}</Value></ParameterValueStruct>`).join('')}</ParameterList>`;

/** Values of a GetParameterValuesResponse / Inform ParameterList as a map. */
export const valueMap = (list: any): Map<string, string> => new Map(arr(list?.ParameterValueStruct).map((p: any) => [text(p.Name), text(p.Value)]));
export const faultOf = (m: CpeMsg) => m.body?.detail?.Fault;
