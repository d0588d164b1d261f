// The CPE's HTTP side of a session (TR-069 §3.4): one keep-alive connection per session, cookies kept for
// the session (§3.4.1), authentication answered on the same connection (§3.4.4), redirects followed
// (§3.4.5), TLS server certificates checked against the system CAs or a configured CA file (§3.4.2).
import http from 'node:http';
import https from 'node:https';
import { authorization, type Credentials, type DigestState } from './auth.ts';

export class HttpError extends Error {
  constructor(message: string, readonly status?: number) {
    super(message);
  }
}

export interface HttpOptions {
  timeoutMs: number;
  maxBodyBytes: number;
  /** PEM CA bundle trusted for https ACS URLs (instead of the system CAs). */
  ca?: string | Buffer;
  userAgent?: string;
}

export interface HttpReply {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

const MAX_REDIRECTS = 5;

export class HttpSession {
  private url: URL;
  private readonly agent: http.Agent;
  private readonly cookies = new Map<string, string>();
  private digest?: { challenge: string; state?: DigestState };
  private basic?: string;
  /** Local ports used (tests check the Digest retry stays on one connection). */
  readonly localPorts = new Set<number>();

  constructor(url: string, private readonly cred: Credentials, private readonly opts: HttpOptions) {
    this.url = new URL(url);
    if (this.url.protocol !== 'http:' && this.url.protocol !== 'https:') throw new HttpError(`unsupported URL scheme ${this.url.protocol}`);
    // One socket: every request of the session goes over the same connection while the server keeps it.
    const agentOpts = { keepAlive: true, maxSockets: 1, maxFreeSockets: 1 };
    this.agent = this.url.protocol === 'https:' ? new https.Agent({ ...agentOpts, ca: opts.ca, rejectUnauthorized: true }) : new http.Agent(agentOpts);
  }

  /** POSTs a SOAP body ('' is the empty POST, §3.7.2.4) and returns the ACS's reply. */
  async post(body: string, redirects = 0): Promise<HttpReply> {
    let reply = await this.send(body, this.authHeader());
    if (reply.status === 401) {
      const challenge = pickChallenge(reply.headers['www-authenticate']);
      if (!challenge) throw new HttpError('ACS demands an unknown authentication scheme', 401);
      const auth = authorization(challenge, this.cred, 'POST', this.path());
      if (!auth) throw new HttpError('ACS demands an unknown authentication scheme', 401);
      if (auth.state) this.digest = { challenge, state: auth.state };
      else this.basic = auth.header;
      reply = await this.send(body, auth.header);
      if (reply.status === 401) throw new HttpError('ACS rejected the credentials', 401);
    }
    if ([301, 302, 303, 307, 308].includes(reply.status) && reply.headers.location) {
      if (redirects >= MAX_REDIRECTS) throw new HttpError('too many redirects', reply.status);
      const next = new URL(reply.headers.location, this.url);
      if (next.protocol !== this.url.protocol) throw new HttpError('redirect changes the scheme', reply.status);
      this.url = next;
      this.digest = undefined;
      this.basic = undefined;
      return this.post(body, redirects + 1);
    }
    return reply;
  }

  private path(): string {
    return `${this.url.pathname}${this.url.search}`;
  }

  private authHeader(): string | undefined {
    if (this.basic) return this.basic;
    if (this.digest) return authorization(this.digest.challenge, this.cred, 'POST', this.path(), this.digest.state)?.header;
    return undefined;
  }

  private send(body: string, auth: string | undefined): Promise<HttpReply> {
    const mod = this.url.protocol === 'https:' ? https : http;
    const payload = Buffer.from(body, 'utf8');
    const headers: http.OutgoingHttpHeaders = { 'Content-Length': payload.length, 'User-Agent': this.opts.userAgent ?? 'twinstack-cwmp' };
    if (payload.length) {
      headers['Content-Type'] = 'text/xml; charset="utf-8"';
      headers.SOAPAction = '';
    }
    if (auth) headers.Authorization = auth;
    if (this.cookies.size) headers.Cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    return new Promise((resolve, reject) => {
      const req = mod.request(this.url, { method: 'POST', agent: this.agent, headers, timeout: this.opts.timeoutMs }, (res) => {
        if (res.socket.localPort) this.localPorts.add(res.socket.localPort);
        for (const c of ([] as string[]).concat(res.headers['set-cookie'] ?? [])) {
          const [pair] = c.split(';');
          const eq = pair.indexOf('=');
          if (eq > 0) this.cookies.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (d: Buffer) => {
          size += d.length;
          if (size > this.opts.maxBodyBytes) {
            req.destroy(new HttpError(`ACS reply exceeds ${this.opts.maxBodyBytes} bytes`));
            return;
          }
          chunks.push(d);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new HttpError(`no reply from the ACS within ${this.opts.timeoutMs} ms`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  close(): void {
    this.agent.destroy();
    this.cookies.clear();
  }
}

/** Prefers Digest over Basic when the server offers both (RFC 7235 §4.1 allows several challenges). */
function pickChallenge(h: string | string[] | undefined): string | undefined {
  const list = ([] as string[]).concat(h ?? []).flatMap((s) => s.split(/,(?=\s*(?:Basic|Digest)\b)/i)).map((s) => s.trim());
  return list.find((s) => /^digest\b/i.test(s)) ?? list.find((s) => /^basic\b/i.test(s));
}
