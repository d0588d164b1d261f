// Secured parameters at rest (issue 18 item 6): AES-256-GCM under twinstack.key. Plaintext rows of an older
// database are encrypted at the first start, with no copy left in free pages or the WAL; the agent still uses
// them (connection-request Digest against the real agent); a missing or wrong key file is a one-line error
// with its own status, never a new key over old ciphertext.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { DataDir, DataModel } from '../../src/datamodel/index.ts';
import { SecretBox } from '../../src/datamodel/secrets.ts';
import { EXIT } from '../../src/startup.ts';
import { cli, runToExit, startAgent } from './agent-run.ts';

const run = promisify(execFile);
const MS = 'Device.ManagementServer.';

test('SecretBox: round trip, bound to the path, length hidden, foreign values refused', () => {
  const box = new SecretBox(randomBytes(32));
  const other = new SecretBox(randomBytes(32));
  // [plaintext] -> opens back to itself
  for (const p of ['', 'a', 'pässwörd\u0080', 'x'.repeat(31), 'x'.repeat(32), 'x'.repeat(256)]) assert.equal(box.open('P', box.seal('P', p)), p);
  assert.equal(box.seal('P', 'a').length, box.seal('P', 'x'.repeat(31)).length, 'same stored length below 32 bytes');
  const sealed = box.seal(`${MS}Password`, 'secret');
  assert.equal(box.open(`${MS}ConnectionRequestPassword`, sealed), undefined, 'moved to another path');
  assert.equal(other.open(`${MS}Password`, sealed), undefined, 'another key');
  assert.equal(box.open(`${MS}Password`, 'secret'), undefined, 'plaintext');
  assert.notEqual(box.seal('P', 'same'), box.seal('P', 'same'), 'a fresh IV each time');
});

const PLAIN = {
  [`${MS}ConnectionRequestPassword`]: 'cr-legacy-PLAINTEXT',
  [`${MS}Password`]: 'acs-legacy-PLAINTEXT',
  [`${MS}STUNPassword`]: 'stun-PLAINTEXT-2, longer than the stale one below',
};
const OLD_STUN = 'stun-old-PLAINTEXT-in-free-space';
const DELETED = 'mqtt-deleted-PLAINTEXT';

/** A database as an older agent left it: secured values in plaintext, user_version 0, 0644. */
function legacyDb(dir: string): string {
  const d = DataDir.open(dir);
  const dm = new DataModel({ file: d.db, keyFile: d.key });
  dm.set({ [`${MS}ConnectionRequestUsername`]: 'cr-user', [`${MS}HTTPConnectionRequestEnable`]: 'true' }, 'system');
  dm.close();
  d.release();
  rmSync(d.key);
  const raw = new Database(d.db);
  raw.exec("UPDATE param SET value = '' WHERE value LIKE 'aes256gcm:%'");
  // Rows deleted by the older agent (MQTT clients with their passwords): whole pages on the free list.
  const add = raw.prepare('INSERT INTO param (path, value, changed_at) VALUES (?, ?, 0)');
  raw.transaction(() => { for (let i = 1; i <= 300; i++) add.run(`Device.MQTT.Client.${i}.Password`, `${DELETED}-${i}`); })();
  raw.exec("DELETE FROM param WHERE path LIKE 'Device.MQTT.Client.%'");
  const put = raw.prepare('UPDATE param SET value = ? WHERE path = ?');
  put.run(OLD_STUN, `${MS}STUNPassword`); // then overwritten by a longer value: the old cell stays in free space
  // ... provided it is not the page's last allocated cell: a freed cell at the edge of the unallocated gap joins
  // it, and the longer value is written right over it (which row happened to be last depended on how many rows
  // the schema stores). A row allocated after it (its key beside it, so on its page) makes it an inner freeblock.
  add.run(`${MS}STUNPassword~pin`, 'pin');
  for (const [p, v] of Object.entries(PLAIN)) put.run(v, p);
  raw.prepare('DELETE FROM param WHERE path = ?').run(`${MS}STUNPassword~pin`);
  raw.pragma('user_version = 0');
  raw.close();
  chmodSync(d.db, 0o644);
  const bytes = readFileSync(d.db);
  assert.ok(bytes.includes(OLD_STUN) && bytes.includes(DELETED), 'the test really leaves stale plaintext behind');
  return d.db;
}

const curlDigest = async (url: string, user: string, pass: string) =>
  Number((await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--digest', '-u', `${user}:${pass}`, url])).stdout);

test('plaintext secrets are encrypted at first start; the agent still uses them; the file alone reveals none', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ts-secrets-'));
  try {
    const db = legacyDb(dir);
    const agent = startAgent(dir);
    try {
      await agent.running();
      const socket = join(dir, 'twinstack.sock');
      const url = (await cli(socket, 'get', `${MS}ConnectionRequestURL`)).out.split('=')[1];
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\//);
      assert.equal(await curlDigest(url, 'cr-user', PLAIN[`${MS}ConnectionRequestPassword`]), 200, 'Digest with the decrypted password');
      assert.equal(await curlDigest(url, 'cr-user', 'wrong'), 401);
      assert.equal((await cli(socket, 'set', `${MS}Password=acs-new-PLAINTEXT`)).code, 0);
      assert.equal((await cli(socket, 'get', `${MS}Password`)).out, `${MS}Password=`, 'write-only through the CLI');
    } finally {
      assert.equal(await agent.stop(), 0);
    }
    assert.equal(statSync(db).mode & 0o777, 0o600, 'the database made 0600');
    assert.equal(statSync(join(dir, 'twinstack.key')).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, 'twinstack.key')).size, 32);
    for (const f of [db, `${db}-wal`]) {
      if (!existsSync(f)) continue;
      const bytes = readFileSync(f);
      for (const s of [...Object.values(PLAIN), OLD_STUN, DELETED, 'acs-new-PLAINTEXT']) assert.ok(!bytes.includes(s), `${s} in ${f}`);
    }
    const raw = new Database(db, { readonly: true });
    assert.equal(raw.pragma('user_version', { simple: true }), 1);
    for (const p of Object.keys(PLAIN)) assert.match((raw.prepare('SELECT value FROM param WHERE path = ?').get(p) as { value: string }).value, /^aes256gcm:[A-Za-z0-9+/]+=*$/);
    raw.close();

    // The agent-internal read sees the plaintext again.
    const dm = new DataModel({ file: db });
    assert.equal(dm.getSecret(`${MS}ConnectionRequestPassword`), PLAIN[`${MS}ConnectionRequestPassword`]);
    assert.equal(dm.getSecret(`${MS}STUNPassword`), PLAIN[`${MS}STUNPassword`]);
    assert.equal(dm.getSecret(`${MS}Password`), 'acs-new-PLAINTEXT');
    assert.equal(dm.getValue(`${MS}Password`), '');
    dm.close();

    // Without its key the database is refused, and no new key is made over it; another key is refused too.
    renameSync(join(dir, 'twinstack.key'), join(dir, 'key.saved'));
    let r = await runToExit(dir);
    assert.equal(r.code, EXIT.Key, r.err);
    assert.equal(r.err, `twinstack: ${dir}/twinstack.key: missing, and ${db} holds secrets encrypted with it; restore the key file, or move the database aside to start on factory defaults\n`);
    assert.ok(!existsSync(join(dir, 'twinstack.key')));
    writeFileSync(join(dir, 'twinstack.key'), randomBytes(32), { mode: 0o600 });
    r = await runToExit(dir);
    assert.equal(r.code, EXIT.Key, r.err);
    assert.match(r.err, /^twinstack: \S+\/twinstack\.key: does not decrypt Device\.ManagementServer\.\w*Password in \S+\/twinstack\.db; restore the key file this database was written with, or move the database aside to start on factory defaults\n$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
