// Download transfers (TR-069 A.3.2.8): an HTTP(S) GET of the file into the downloads directory, with the
// file server's Basic/Digest challenge answered, the announced size checked, and the outcome expressed as
// the TransferComplete fault codes 9010-9019 (A.3.3.2).
import http from 'node:http';
import https from 'node:https';
import { createWriteStream, mkdirSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { authorization } from './auth.ts';
import type { FaultCode } from './faults.ts';
import type { PendingDownload } from './events.ts';

export class TransferError extends Error {
  constructor(readonly code: FaultCode, message: string) {
    super(message);
  }
}

export interface DownloadOptions {
  dir: string;
  timeoutMs: number;
  maxBytes: number;
  ca?: string | Buffer;
}

/** Fetches a pending download to a file; returns its path. Throws TransferError. */
export async function fetchFile(job: PendingDownload, opts: DownloadOptions): Promise<string> {
  mkdirSync(opts.dir, { recursive: true });
  const name = basename(job.TargetFileName || new URL(job.URL).pathname || 'download').replace(/[^A-Za-z0-9._-]/g, '_') || 'download';
  const file = join(opts.dir, name);
  let res = await get(job.URL, undefined, opts);
  if (res.statusCode === 401) {
    const challenge = ([] as string[]).concat(res.headers['www-authenticate'] ?? [])[0];
    res.resume();
    const url = new URL(job.URL);
    const auth = challenge && job.Username ? authorization(challenge, { username: job.Username, password: job.Password }, 'GET', `${url.pathname}${url.search}`) : undefined;
    if (!auth) throw new TransferError(9012, 'file server demands authentication');
    res = await get(job.URL, auth.header, opts);
    if (res.statusCode === 401 || res.statusCode === 403) { res.resume(); throw new TransferError(9012, 'file server rejected the credentials'); }
  }
  if (res.statusCode !== 200) {
    res.resume();
    throw new TransferError(9016, `file server answered HTTP ${res.statusCode}`);
  }
  let size = 0;
  await new Promise<void>((resolve, reject) => {
    const out = createWriteStream(file);
    res.on('data', (d: Buffer) => {
      size += d.length;
      if (size > opts.maxBytes) res.destroy(new TransferError(9017, `file larger than ${opts.maxBytes} bytes`));
    });
    res.on('error', (e) => { out.destroy(); reject(e instanceof TransferError ? e : new TransferError(9017, e.message)); });
    res.on('aborted', () => reject(new TransferError(9017, 'transfer interrupted')));
    out.on('error', (e) => reject(new TransferError(9010, e.message)));
    out.on('finish', () => resolve());
    res.pipe(out);
  }).catch((e) => {
    rmSync(file, { force: true });
    throw e;
  });
  // FileSize 0 means "not announced" (A.3.2.8).
  if (job.FileSize && size !== job.FileSize) {
    rmSync(file, { force: true });
    throw new TransferError(9018, `file has ${size} bytes, ${job.FileSize} announced`);
  }
  return file;
}

function get(url: string, auth: string | undefined, opts: DownloadOptions): Promise<http.IncomingMessage> {
  const u = new URL(url);
  const mod = u.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.get(u, { headers: auth ? { Authorization: auth } : {}, timeout: opts.timeoutMs, ...(u.protocol === 'https:' ? { ca: opts.ca } : {}) }, resolve);
    req.on('timeout', () => req.destroy(new TransferError(9015, 'file server did not answer')));
    req.on('error', (e) => reject(e instanceof TransferError ? e : new TransferError(9015, e.message)));
  });
}
