// HTTP authentication for CWMP (TR-069 §3.4.4, RFC 7617 Basic, RFC 7616 Digest).
// Client side: answering an ACS's (or file server's) challenge. Server side: the connection request
// server's Digest challenge and check (TR-069 §3.2.2 requires Digest there).
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export interface Credentials {
  username: string;
  password: string;
}

/** Parses `Digest realm="x", nonce="y", qop="auth"` into a map (RFC 7616 §3.3, auth-param list). */
export function parseAuthParams(header: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of header.matchAll(/([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g)) out[m[1].toLowerCase()] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3];
  return out;
}

const hashOf = (algorithm: string) => (algorithm.toUpperCase().startsWith('SHA-256') ? 'sha256' : 'md5');
const h = (alg: string, s: string) => createHash(alg).update(s).digest('hex');

export interface DigestState {
  params: Record<string, string>;
  nc: number;
}

/** The Authorization header answering a WWW-Authenticate challenge; undefined for schemes we do not know. */
export function authorization(challenge: string, cred: Credentials, method: string, uri: string, state?: DigestState): { header: string; state?: DigestState } | undefined {
  const scheme = challenge.trim().split(/\s+/)[0].toLowerCase();
  if (scheme === 'basic') return { header: `Basic ${Buffer.from(`${cred.username}:${cred.password}`).toString('base64')}` };
  if (scheme !== 'digest') return undefined;
  const st = state ?? { params: parseAuthParams(challenge.slice(6)), nc: 0 };
  st.nc++;
  const p = st.params;
  const alg = hashOf(p.algorithm ?? 'MD5');
  const qop = p.qop?.split(',').map((s) => s.trim()).includes('auth') ? 'auth' : undefined;
  const cnonce = randomBytes(8).toString('hex');
  const nc = st.nc.toString(16).padStart(8, '0');
  let ha1 = h(alg, `${cred.username}:${p.realm ?? ''}:${cred.password}`);
  if ((p.algorithm ?? '').toLowerCase().endsWith('-sess')) ha1 = h(alg, `${ha1}:${p.nonce}:${cnonce}`);
  const ha2 = h(alg, `${method}:${uri}`);
  const response = qop ? h(alg, `${ha1}:${p.nonce}:${nc}:${cnonce}:${qop}:${ha2}`) : h(alg, `${ha1}:${p.nonce}:${ha2}`);
  const q = (s: string) => s.replace(/["\\]/g, '\\$&');
  const parts = [`username="${q(cred.username)}"`, `realm="${q(p.realm ?? '')}"`, `nonce="${q(p.nonce ?? '')}"`, `uri="${q(uri)}"`, `response="${response}"`];
  if (p.algorithm) parts.push(`algorithm=${p.algorithm}`);
  if (p.opaque !== undefined) parts.push(`opaque="${q(p.opaque)}"`);
  if (qop) parts.push(`qop=${qop}`, `nc=${nc}`, `cnonce="${cnonce}"`);
  return { header: `Digest ${parts.join(', ')}`, state: st };
}

/**
 * Server-side Digest (RFC 7616, MD5, qop=auth). Nonces are stateless (timestamp + HMAC) and expire; the
 * nonce count must grow per nonce so a captured request cannot be replayed.
 */
export class DigestServer {
  private readonly key = randomBytes(32);
  private readonly lastNc = new Map<string, number>();

  constructor(readonly realm: string, private readonly nonceLifetimeMs = 60_000) {}

  // nonce = "<issued ms, hex>-<8 random bytes, hex>" + HMAC over both: the time gives the lifetime, the random
  // part makes every challenge's nonce its own (two challenges in one millisecond would otherwise share one,
  // and the second client's nc=00000001 would look like a replay of the first's, RFC 7616 §3.4).
  challenge(stale = false): string {
    const body = `${Date.now().toString(16)}-${randomBytes(8).toString('hex')}`;
    const mac = createHmac('sha256', this.key).update(body).digest('hex').slice(0, 32);
    return `Digest realm="${this.realm}", qop="auth", algorithm=MD5, nonce="${body}${mac}"${stale ? ', stale=true' : ''}`;
  }

  /** 'ok', 'stale' (re-challenge with stale=true) or 'denied'. */
  verify(header: string | undefined, method: string, cred: Credentials): 'ok' | 'stale' | 'denied' {
    if (!header || !/^digest\s/i.test(header) || !cred.username) return 'denied';
    const p = parseAuthParams(header.slice(7));
    const nonce = p.nonce ?? '';
    const body = nonce.slice(0, -32);
    const mac = createHmac('sha256', this.key).update(body).digest('hex').slice(0, 32);
    if (!body || !safeEq(nonce.slice(-32), mac)) return 'denied';
    const ts = body.split('-')[0];
    if (p.username !== cred.username || p.realm !== this.realm || p.qop !== 'auth' || !p.uri) return 'denied';
    const ha1 = h('md5', `${cred.username}:${this.realm}:${cred.password}`);
    const ha2 = h('md5', `${method}:${p.uri}`);
    const want = h('md5', `${ha1}:${nonce}:${p.nc}:${p.cnonce}:${p.qop}:${ha2}`);
    if (!safeEq(want, p.response ?? '')) return 'denied';
    if (Date.now() - parseInt(ts, 16) > this.nonceLifetimeMs) return 'stale';
    const nc = parseInt(p.nc ?? '0', 16);
    if (!(nc > (this.lastNc.get(nonce) ?? 0))) return 'denied';
    this.lastNc.set(nonce, nc);
    if (this.lastNc.size > 1000) this.lastNc.delete(this.lastNc.keys().next().value!);
    return 'ok';
  }
}

function safeEq(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
