// Secured parameters at rest (TR-181 `secured`/`hidden`: passwords and keys). The store keeps them encrypted
// with AES-256-GCM (NIST SP 800-38D) under a key held in a separate file, so a copy of the database alone
// reveals none of them; the in-memory cache above the store keeps plaintext, so nothing else changes.
//
// Why a key file beside the database and not the kernel keyring: the keyring does not survive a reboot, and a
// gateway reboots routinely; a 0600 file in a 0700 directory, never inside the database, is how OpenSSH keeps
// its host keys. A copy of twinstack.db alone (a backup, a file sent for support) then holds no secret.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync, constants as fsc } from 'node:fs';
import { dirname } from 'node:path';
import { StartupError } from './datadir.ts';

const KEY_BYTES = 32;
const IV_BYTES = 12; // SP 800-38D §8.2.2: random 96-bit IVs; §8.3 allows 2^32 of them per key, far beyond a gateway's writes
const TAG_BYTES = 16;
/** Stored form: this prefix, then base64(iv | tag | ciphertext). */
const PREFIX = 'aes256gcm:';
/**
 * Plaintext is padded to a multiple of this (ISO/IEC 7816-4: 0x80 then zeros) so the stored length does not
 * give the password's length away.
 */
const PAD = 32;

/**
 * Reads the key file; undefined when there is none (or an empty one, which createKey never leaves but a copy
 * might). A key of the wrong size is a StartupError 'Key'.
 */
export function readKey(file: string): Buffer | undefined {
  let key: Buffer;
  try {
    key = readFileSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw StartupError.fromFs(e, file);
  }
  if (key.length === 0) return undefined;
  if (key.length !== KEY_BYTES)
    throw new StartupError('Key', file, `is ${key.length} bytes, not a ${KEY_BYTES}-byte key`, 'restore the key file this database was written with');
  return key;
}

/**
 * Makes a new random key file, 0600. Written whole to a temporary name, synced, then renamed into place and the
 * directory synced: the key is on disk before the first row encrypted with it (a power cut in between would
 * leave ciphertext nobody can read), and a full disk or a crash never leaves a short key behind. Called only
 * when the database holds nothing encrypted, with the data directory locked.
 */
export function createKey(file: string): Buffer {
  const key = randomBytes(KEY_BYTES);
  const tmp = `${file}.new`;
  try {
    const fd = openSync(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_TRUNC, 0o600);
    try {
      writeSync(fd, key);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
    const dfd = openSync(dirname(file), 'r');
    try { fsyncSync(dfd); } finally { closeSync(dfd); }
  } catch (e) {
    rmSync(tmp, { force: true });
    throw StartupError.fromFs(e, file);
  }
  return key;
}

export class SecretBox {
  constructor(private readonly key: Buffer) {}

  /** The path is authenticated with the value (GCM additional data), so a row cannot be moved to another path. */
  seal(path: string, plain: string): string {
    const iv = randomBytes(IV_BYTES);
    const c = createCipheriv('aes-256-gcm', this.key, iv);
    c.setAAD(Buffer.from(path));
    const body = Buffer.from(plain, 'utf8');
    const padded = Buffer.alloc((Math.floor(body.length / PAD) + 1) * PAD);
    body.copy(padded);
    padded[body.length] = 0x80;
    const ct = Buffer.concat([c.update(padded), c.final()]);
    return PREFIX + Buffer.concat([iv, c.getAuthTag(), ct]).toString('base64');
  }

  /** The plaintext, or undefined when the value is not ours or does not authenticate under this key. */
  open(path: string, stored: string): string | undefined {
    if (!stored.startsWith(PREFIX)) return undefined;
    const raw = Buffer.from(stored.slice(PREFIX.length), 'base64');
    if (raw.length < IV_BYTES + TAG_BYTES + PAD) return undefined;
    try {
      const d = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, IV_BYTES));
      d.setAAD(Buffer.from(path));
      d.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      const padded = Buffer.concat([d.update(raw.subarray(IV_BYTES + TAG_BYTES)), d.final()]);
      const end = padded.lastIndexOf(0x80);
      return end < 0 ? undefined : padded.subarray(0, end).toString('utf8');
    } catch {
      return undefined;
    }
  }
}
