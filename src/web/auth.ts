// Login for the web browser: one admin password stored as an scrypt hash (RFC 7914) in dm.state('web'),
// in-memory sessions with a per-session CSRF token, and a lockout after repeated failures per client.
// The password and its hash are never returned by any route; the hash lives outside the data model.
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { isIPv6 } from 'node:net';

const scrypt = (pw: string, salt: Buffer, len: number, opts: ScryptOptions) =>
  new Promise<Buffer>((resolve, reject) => scryptCb(pw, salt, len, opts, (err, key) => (err ? reject(err) : resolve(key))));

/** scrypt cost: N = 2^15, r = 8, p = 1 (RFC 7914 §2 guidance for interactive logins, ~32 MiB). */
const COST = { ln: 15, r: 8, p: 1 };
const KEY_LEN = 32;

/** Hashes a password into a PHC-style string: $scrypt$ln=15,r=8,p=1$<salt>$<key> (base64, no padding). */
export async function hashPassword(password: string, cost = COST): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, KEY_LEN, { N: 2 ** cost.ln, r: cost.r, p: cost.p, maxmem: 256 * 2 ** cost.ln * cost.r });
  return `$scrypt$ln=${cost.ln},r=${cost.r},p=${cost.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

/** Checks a password against a stored hash in constant time; a malformed hash never matches. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const m = /^\$scrypt\$ln=(\d+),r=(\d+),p=(\d+)\$([\w-]+)\$([\w-]+)$/.exec(stored);
  if (!m) return false;
  const [ln, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (ln < 10 || ln > 20 || r < 1 || r > 32 || p < 1 || p > 16) return false;
  const expected = Buffer.from(m[5], 'base64url');
  const key = await scrypt(password, Buffer.from(m[4], 'base64url'), expected.length, { N: 2 ** ln, r, p, maxmem: 256 * 2 ** ln * r });
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/** A random password for the first start: 16 characters from an alphabet without look-alikes (~90 bits). */
export function generatePassword(): string {
  const alphabet = 'abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789';
  const bytes = randomBytes(16);
  return [...bytes].map((b) => alphabet[b % alphabet.length]).join('');
}

export function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export interface Session {
  readonly id: string;
  readonly csrf: string;
  lastSeen: number;
}

/** Sessions kept in memory (a restart logs everyone out); idle ones expire, the oldest go beyond `max`. */
export class Sessions {
  private readonly byId = new Map<string, Session>();

  constructor(private readonly idleMs: number, private readonly max = 32) {}

  create(now: number): Session {
    const s: Session = { id: randomBytes(32).toString('base64url'), csrf: randomBytes(32).toString('base64url'), lastSeen: now };
    this.byId.set(s.id, s);
    while (this.byId.size > this.max) this.byId.delete(this.byId.keys().next().value!);
    return s;
  }

  /** The live session for a cookie value; `touch` extends it (requests do, the event stream does not). */
  get(id: string | undefined, now: number, touch = true): Session | undefined {
    const s = id ? this.byId.get(id) : undefined;
    if (!s) return undefined;
    if (now - s.lastSeen > this.idleMs) {
      this.byId.delete(s.id);
      return undefined;
    }
    if (touch) s.lastSeen = now;
    return s;
  }

  delete(id: string): void {
    this.byId.delete(id);
  }

  /** Ends every session but one (after a password change, other logins must not survive it). */
  deleteOthers(id: string): void {
    for (const k of [...this.byId.keys()]) if (k !== id) this.byId.delete(k);
  }

  clear(): void {
    this.byId.clear();
  }
}

/**
 * Lockout after `attempts` consecutive failures from one client for `lockMs`. IPv6 clients are keyed by
 * their /64 (RFC 4291 §2.5.4: a host can pick any interface ID, so per-address counting is easy to dodge).
 */
export class Lockout {
  private readonly clients = new Map<string, { failures: number; until: number }>();

  constructor(private readonly attempts: number, private readonly lockMs: number) {}

  static key(address: string): string {
    const a = address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
    if (!isIPv6(a)) return a;
    const full = expandIPv6(a);
    return `${full.slice(0, 4).join(':')}::/64`;
  }

  /** Milliseconds the client must still wait; 0 when it may try. */
  retryAfter(address: string, now: number): number {
    const c = this.clients.get(Lockout.key(address));
    return c && c.until > now ? c.until - now : 0;
  }

  fail(address: string, now: number): void {
    const key = Lockout.key(address);
    const c = this.clients.get(key) ?? { failures: 0, until: 0 };
    c.failures++;
    if (c.failures >= this.attempts) {
      c.until = now + this.lockMs;
      c.failures = 0;
    }
    this.clients.set(key, c);
    if (this.clients.size > 4096) this.prune(now);
  }

  succeed(address: string): void {
    this.clients.delete(Lockout.key(address));
  }

  private prune(now: number) {
    for (const [k, c] of this.clients) if (c.until <= now && c.failures === 0) this.clients.delete(k);
  }
}

function expandIPv6(a: string): string[] {
  const [head, tail] = a.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return groups.map((g) => parseInt(g, 16).toString(16));
}

/** Minimal Cookie header parsing (RFC 6265 §4.2.1): name=value pairs separated by "; ". */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}
