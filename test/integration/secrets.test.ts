import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { status } from '@grpc/grpc-js';
import { pino } from 'pino';
import { Webhook } from 'standardwebhooks';

import { App } from '../../src/app.js';
import { DEFAULT_TENANT } from '../../src/auth/tenant.js';
import type { HeraldClient } from '../../src/client.js';
import { loadConfig } from '../../src/config.js';
import { backupSqlite } from '../../src/storage/backup.js';
import { keyIdOf } from '../../src/storage/secret-box.js';
import { REPO_ROOT } from '../helpers/child-herald.js';
import { cleanup, codeOf, freshDatabaseUrl, startHerald, TEST_DATABASE, withDatabase, type Herald } from '../helpers/herald.js';
import { startReceiver, type Receiver, type RecordedRequest } from '../helpers/receiver.js';
import { waitForFinal } from '../helpers/deliveries.js';

/*
 * Secrets at rest and write-only receiver credentials (issue #9, points 4 and
 * 5), through the real API: a real Herald, a real receiver, the database read
 * beside Herald (the SQLite file's bytes, or the columns through pg).
 */

const newKey = (): string => randomBytes(32).toString('base64');
const keyId = (base64: string): string => keyIdOf(Buffer.from(base64, 'base64'));

let seq = 0;
function agentId(label: string): string {
  seq += 1;
  return `sec-${label}-${process.pid}-${seq}`;
}

/** Header values no other test data contains, so finding one in the database means it was stored readable. */
function credentials(): Record<string, string> {
  return { Authorization: `Bearer tok-${randomBytes(12).toString('hex')}`, 'X-Api-Key': `key-${randomBytes(12).toString('hex')}` };
}

async function receiverFor(t: TestContext): Promise<Receiver> {
  const receiver = await startReceiver();
  cleanup(t, () => receiver.close());
  return receiver;
}

async function notify(client: HeraldClient, agent: string): Promise<string> {
  const res = await client.notifications.CreateNotification({ agent_id: agent, notification_type: 'job.completed', title: 'Job finished', content: 'done' });
  assert.equal(res.decision?.outcome, 'DECISION_OUTCOME_DELIVER', res.decision?.explanation);
  return res.decision?.delivery_id ?? '';
}


function flatHeaders(r: RecordedRequest): Record<string, string> {
  return Object.fromEntries(Object.entries(r.headers).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

/**
 * Checks a received webhook's signatures against `secret` and returns its headers: Standard
 * Webhooks always, the hex scheme only for the current secret (a rotated-out one signs
 * webhook-signature alone).
 */
function assertSignedWith(req: RecordedRequest | undefined, secret: string, current: boolean): Record<string, string> {
  assert.ok(req, 'the receiver got the webhook');
  const headers = flatHeaders(req);
  new Webhook(secret).verify(req.body.toString('utf8'), headers);
  if (current) assert.equal(headers['x-herald-signature'], `sha256=${createHmac('sha256', secret).update(req.body).digest('hex')}`);
  return headers;
}

/** Sends a notification and checks it arrives signed with `secret` (`previous`: the rotated-out one) and carrying `expectedHeaders`. */
async function assertDelivers(h: Herald, receiver: Receiver, agent: string, secret: string, expectedHeaders: Record<string, string>, previous = false): Promise<void> {
  const before = receiver.requests.length;
  const id = await notify(h.client, agent);
  const delivery = await waitForFinal(h.client, id);
  assert.equal(delivery.status, 'DELIVERY_STATUS_SUCCEEDED', delivery.last_error);
  const req = receiver.requests.slice(before).find((r) => r.headers['x-herald-delivery'] === id);
  const headers = assertSignedWith(req, secret, !previous);
  for (const [name, value] of Object.entries(expectedHeaders)) assert.equal(headers[name.toLowerCase()], value, `header ${name}`);
}

interface StoredRow {
  readonly webhook_secret: string | null;
  readonly previous_webhook_secret: string | null;
  readonly webhook_headers: string;
}

/** The agent's secret columns as stored (read beside Herald, not through it): on its first endpoint since endpoints came. */
async function storedRow(h: Herald, agent: string): Promise<StoredRow> {
  const sql = 'SELECT secret AS webhook_secret, previous_secret AS previous_webhook_secret, headers AS webhook_headers FROM endpoints WHERE position = 0 AND agent_id = ';
  if (TEST_DATABASE === 'postgresql') {
    const { rows } = await withDatabase(h, (c) => c.query<StoredRow>(`${sql}$1`, [agent]));
    assert.ok(rows[0]);
    return rows[0];
  }
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(join(h.dir, 'herald.db'), { readonly: true, fileMustExist: true });
  try {
    const row = db.prepare(`${sql}?`).get(agent) as StoredRow | undefined;
    assert.ok(row);
    return row;
  } finally {
    db.close();
  }
}

/** Every stored value of the agent's secrets and headers, as stored. */
async function storedValues(h: Herald, agent: string): Promise<string[]> {
  const row = await storedRow(h, agent);
  const headers = Object.values(JSON.parse(row.webhook_headers) as Record<string, string>);
  return [row.webhook_secret, row.previous_webhook_secret, ...headers].filter((v): v is string => v !== null);
}

/** Fails if any of `plain` can be read in the database: the SQLite file and its WAL byte for byte, or the PostgreSQL columns. */
async function assertNotStoredReadable(h: Herald, agents: readonly string[], plain: readonly string[]): Promise<void> {
  if (TEST_DATABASE === 'sqlite') {
    const file = join(h.dir, 'herald.db');
    const wal = `${file}-wal`;
    assert.ok(existsSync(wal), 'the writes are (at least partly) still in the WAL, which is read too');
    const bytes = Buffer.concat([readFileSync(file), readFileSync(wal)]);
    for (const value of plain) {
      assert.equal(bytes.includes(Buffer.from(value, 'utf8')), false, `a plain secret or header value is in the SQLite file or its WAL`);
    }
  }
  for (const agent of agents) {
    const stored = (await storedValues(h, agent)).join('\n');
    assert.ok(stored.length > 0);
    for (const value of plain) assert.equal(stored.includes(value), false, 'a plain secret or header value is in a column');
    for (const value of await storedValues(h, agent)) assert.match(value, /^enc:v1:[0-9a-f]{12}:/);
  }
}

/** Runs `npm run secrets:reencrypt`'s script against `h`'s database; returns its stdout. */
async function reencrypt(h: Herald, env: Record<string, string>): Promise<string> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/secrets-reencrypt.ts'], {
    cwd: REPO_ROOT,
    env: { ...process.env, DATABASE_URL: h.env.DATABASE_URL, HERALD_SECRET_KEY: '', HERALD_SECRET_KEY_PREVIOUS: '', ...env },
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(code, 0, `secrets:reencrypt exited ${code}: ${err}`);
  return out;
}

test('with HERALD_SECRET_KEY neither the secrets nor the header values can be read in the database, and webhooks still arrive signed with the right headers', async (t) => {
  const key = newKey();
  const h = await startHerald(t, { env: { HERALD_SECRET_KEY: key } });
  const receiver = await receiverFor(t);
  const agent = agentId('at-rest');
  const headers = credentials();
  const written = await h.client.preferences.UpdatePreferences({ preferences: { agent_id: agent, enable_webhook: true, webhook_url: receiver.url, webhook_headers: headers } });
  assert.deepEqual(written.webhook_headers, { Authorization: '***', 'X-Api-Key': '***' });
  const first = (await h.client.preferences.GetWebhookSecret({ agent_id: agent })).webhook_secret;
  assert.match(first, /^whsec_/);
  await assertDelivers(h, receiver, agent, first, headers);

  // A rotation stores the new secret encrypted and keeps the old one (encrypted) signing.
  const rotated = await h.client.preferences.RotateWebhookSecret({ agent_id: agent });
  const secrets = await h.client.preferences.GetWebhookSecret({ agent_id: agent });
  assert.equal(secrets.webhook_secret, rotated.webhook_secret);
  assert.equal(secrets.previous_webhook_secret, first);
  await assertDelivers(h, receiver, agent, rotated.webhook_secret, headers);
  await assertDelivers(h, receiver, agent, first, headers, true);

  const row = await storedRow(h, agent);
  assert.ok(row.webhook_secret?.startsWith(`enc:v1:${keyId(key)}:`));
  assert.ok(row.previous_webhook_secret?.startsWith(`enc:v1:${keyId(key)}:`));
  assert.deepEqual(Object.keys(JSON.parse(row.webhook_headers) as object), ['Authorization', 'X-Api-Key'], 'header names stay readable');
  const plain = [first, first.slice('whsec_'.length), rotated.webhook_secret, rotated.webhook_secret.slice('whsec_'.length), ...Object.values(headers)];
  await assertNotStoredReadable(h, [agent], plain);
});

test('webhook_headers values are write-only: Get, List and Update answer "***"; "***" sent back keeps the value; a header left out is removed', async (t) => {
  for (const encrypted of [false, true]) {
    await t.test(encrypted ? 'with HERALD_SECRET_KEY' : 'without a key', async (t) => {
      const h = await startHerald(t, { env: encrypted ? { HERALD_SECRET_KEY: newKey() } : {} });
      const receiver = await receiverFor(t);
      const agent = agentId('masked');
      const headers: Record<string, string> = { ...credentials(), 'X-Team': 'core' };
      await h.client.preferences.UpdatePreferences({ preferences: { agent_id: agent, enable_webhook: true, webhook_url: receiver.url, webhook_headers: headers } });
      const secret = (await h.client.preferences.GetWebhookSecret({ agent_id: agent })).webhook_secret;
      const masked = { Authorization: '***', 'X-Api-Key': '***', 'X-Team': '***' };

      const got = await h.client.preferences.GetPreferences({ agent_id: agent });
      assert.deepEqual(got.webhook_headers, masked);
      const listed = await h.client.preferences.ListPreferences({});
      assert.deepEqual(listed.preferences.find((p) => p.agent_id === agent)?.webhook_headers, masked);

      // A full update (no mask) of what Get returned changes one field and keeps every credential.
      const { created_at: _c, updated_at: _u, webhook_secret_set: _s, webhook_disabled_reason: _r, ...editable } = got;
      const full = await h.client.preferences.UpdatePreferences({ preferences: { ...editable, max_notifications_per_hour: 7 } });
      assert.deepEqual(full.webhook_headers, masked);
      assert.equal(full.max_notifications_per_hour, 7);
      await assertDelivers(h, receiver, agent, secret, headers);

      // An update of another field (update_mask) keeps them too.
      await h.client.preferences.UpdatePreferences({ preferences: { agent_id: agent, time_zone: 'Europe/Paris' }, update_mask: { paths: ['time_zone'] } });
      await assertDelivers(h, receiver, agent, secret, headers);

      // Keep one by its mask (in another spelling), change one, leave one out (removed), add one.
      const changed = await h.client.preferences.UpdatePreferences({
        preferences: { agent_id: agent, webhook_headers: { authorization: '***', 'X-Team': 'platform', 'X-New': 'n1' } },
        update_mask: { paths: ['webhook_headers'] },
      });
      assert.deepEqual(changed.webhook_headers, { authorization: '***', 'X-Team': '***', 'X-New': '***' });
      await assertDelivers(h, receiver, agent, secret, { Authorization: headers.Authorization!, 'X-Team': 'platform', 'X-New': 'n1' });
      const last = receiver.requests.at(-1);
      assert.equal(last?.headers['x-api-key'], undefined, 'the header left out is no longer sent');

      const refused = await codeOf(
        h.client.preferences.UpdatePreferences({ preferences: { agent_id: agent, webhook_headers: { 'X-Api-Key': '***' } }, update_mask: { paths: ['webhook_headers'] } }),
      );
      assert.equal(refused.code, status.INVALID_ARGUMENT);
      assert.match(refused.details, /preferences\.webhook_headers\["X-Api-Key"\]: "\*\*\*" keeps the stored value of a header, but the agent has no stored value for this one/);
      const fresh = await codeOf(h.client.preferences.UpdatePreferences({ preferences: { agent_id: agentId('new'), webhook_headers: { Authorization: '***' } } }));
      assert.equal(fresh.code, status.INVALID_ARGUMENT);
      assert.deepEqual((await h.client.preferences.GetPreferences({ agent_id: agent })).webhook_headers, changed.webhook_headers, 'the refused update changed nothing');
    });
  }
});

test('key rotation: the previous key still decrypts; secrets:reencrypt rewrites every value (plain text too) under the new key while Herald runs; then the old key can go', async (t) => {
  const [key1, key2] = [newKey(), newKey()];
  const receiver = await receiverFor(t);
  let h = await startHerald(t);
  const plainAgent = agentId('plain');
  const plainHeaders = credentials();
  await h.client.preferences.UpdatePreferences({ preferences: { agent_id: plainAgent, enable_webhook: true, webhook_url: receiver.url, webhook_headers: plainHeaders } });
  const plainSecret = (await h.client.preferences.GetWebhookSecret({ agent_id: plainAgent })).webhook_secret;
  assert.equal((await storedRow(h, plainAgent)).webhook_secret, plainSecret, 'without a key the secret is stored as it is');
  // A second endpoint: the rewrite counts endpoints, not agents.
  await h.client.endpoints.CreateEndpoint({ endpoint: { agent_id: plainAgent, url: `${receiver.url}second`, headers: { authorization: 'Bearer second-endpoint' } } });

  h = await h.restart({ HERALD_SECRET_KEY: key1 });
  const oldAgent = agentId('key1');
  const oldHeaders = credentials();
  await h.client.preferences.UpdatePreferences({ preferences: { agent_id: oldAgent, enable_webhook: true, webhook_url: receiver.url, webhook_headers: oldHeaders } });
  const oldSecret = (await h.client.preferences.GetWebhookSecret({ agent_id: oldAgent })).webhook_secret;
  await h.client.preferences.RotateWebhookSecret({ agent_id: oldAgent, grace_period_seconds: 3_600 });
  const oldSecrets = await h.client.preferences.GetWebhookSecret({ agent_id: oldAgent });
  assert.equal(oldSecrets.previous_webhook_secret, oldSecret);

  h = await h.restart({ HERALD_SECRET_KEY: key2, HERALD_SECRET_KEY_PREVIOUS: key1 });
  assert.deepEqual(await h.client.preferences.GetWebhookSecret({ agent_id: oldAgent }), oldSecrets);
  assert.equal((await h.client.preferences.GetWebhookSecret({ agent_id: plainAgent })).webhook_secret, plainSecret);
  await assertDelivers(h, receiver, oldAgent, oldSecrets.webhook_secret, oldHeaders);
  await assertDelivers(h, receiver, oldAgent, oldSecret, oldHeaders, true);
  await assertDelivers(h, receiver, plainAgent, plainSecret, plainHeaders);
  const newAgent = agentId('key2');
  await h.client.preferences.UpdatePreferences({ preferences: { agent_id: newAgent, enable_webhook: true, webhook_url: receiver.url } });
  assert.ok((await storedRow(h, newAgent)).webhook_secret?.startsWith(`enc:v1:${keyId(key2)}:`), 'new values use the new key');

  // While this Herald runs: the plain agent's two endpoints and the key-1 agent's are rewritten, the key-2 agent is already current.
  const out = await reencrypt(h, { HERALD_SECRET_KEY: key2, HERALD_SECRET_KEY_PREVIOUS: key1 });
  assert.match(out, new RegExp(`re-encrypted the secrets of 3 endpoint\\(s\\) under key id ${keyId(key2)}; 4 endpoint\\(s\\) in the database`));
  for (const agent of [plainAgent, oldAgent, newAgent]) {
    for (const value of await storedValues(h, agent)) assert.ok(value.startsWith(`enc:v1:${keyId(key2)}:`), `${agent}: every value under the new key`);
  }
  assert.match(await reencrypt(h, { HERALD_SECRET_KEY: key2, HERALD_SECRET_KEY_PREVIOUS: key1 }), /re-encrypted the secrets of 0 endpoint\(s\)/);

  h = await h.restart({ HERALD_SECRET_KEY: key2, HERALD_SECRET_KEY_PREVIOUS: '' });
  assert.deepEqual(await h.client.preferences.GetWebhookSecret({ agent_id: oldAgent }), oldSecrets);
  await assertDelivers(h, receiver, oldAgent, oldSecrets.webhook_secret, oldHeaders);
  await assertDelivers(h, receiver, oldAgent, oldSecret, oldHeaders, true);
  await assertDelivers(h, receiver, plainAgent, plainSecret, plainHeaders);
});

test('a claimed batch holding an agent whose secret cannot be opened: that delivery FAILS with the reason, the other agent in the batch is delivered', async (t) => {
  const [key1, key2] = [newKey(), newKey()];
  const receiver = await receiverFor(t);
  let h = await startHerald(t, { env: { HERALD_SECRET_KEY: key1 } });
  const lost = agentId('lost-in-batch');
  await h.client.preferences.UpdatePreferences({ preferences: { agent_id: lost, enable_webhook: true, webhook_url: receiver.url } });
  // Both deliveries wait with the worker off, so that one claim takes them together.
  h = await h.restart({ HERALD_SECRET_KEY: key2, HERALD_WORKER: 'false' });
  const fine = agentId('fine-in-batch');
  await h.client.preferences.UpdatePreferences({ preferences: { agent_id: fine, enable_webhook: true, webhook_url: receiver.url } });
  const lostDelivery = await notify(h.client, lost);
  const fineDelivery = await notify(h.client, fine);
  h = await h.restart({ HERALD_SECRET_KEY: key2, HERALD_WORKER: 'true' });
  const failed = await waitForFinal(h.client, lostDelivery);
  assert.equal(failed.status, 'DELIVERY_STATUS_FAILED');
  assert.match(failed.last_error, new RegExp(`not sent: the stored webhook_secret of agent "${lost}" was encrypted with key id ${keyId(key1)}`));
  assert.equal((await waitForFinal(h.client, fineDelivery)).status, 'DELIVERY_STATUS_SUCCEEDED');
  assert.deepEqual(receiver.requests.map((r) => r.headers['webhook-id']), [fineDelivery]);
});

test('a value encrypted with a key Herald does not have: the delivery FAILS naming the key id, GetWebhookSecret is FAILED_PRECONDITION, and neither leaks the secret', async (t) => {
  const [key1, key2] = [newKey(), newKey()];
  const receiver = await receiverFor(t);
  let h = await startHerald(t, { env: { HERALD_SECRET_KEY: key1 } });
  const agent = agentId('lost-key');
  const headers = credentials();
  await h.client.preferences.UpdatePreferences({ preferences: { agent_id: agent, enable_webhook: true, webhook_url: receiver.url, webhook_headers: headers } });
  const secret = (await h.client.preferences.GetWebhookSecret({ agent_id: agent })).webhook_secret;

  h = await h.restart({ HERALD_SECRET_KEY: key2 });
  const failed = await waitForFinal(h.client, await notify(h.client, agent));
  assert.equal(failed.status, 'DELIVERY_STATUS_FAILED');
  assert.equal(failed.attempt_count, 0, 'nothing was sent');
  assert.match(failed.last_error, new RegExp(`not sent: the stored webhook_(secret|headers\\.[a-z-]+) of agent "${agent}" was encrypted with key id ${keyId(key1)}, which this process does not have`));
  assert.equal(receiver.requests.length, 0);

  const refused = await codeOf(h.client.preferences.GetWebhookSecret({ agent_id: agent }));
  assert.equal(refused.code, status.FAILED_PRECONDITION);
  assert.match(refused.details, new RegExp(`key id ${keyId(key1)}.*HERALD_SECRET_KEY_PREVIOUS`));
  for (const text of [failed.last_error, refused.details]) {
    assert.ok(!text.includes(secret) && !Object.values(headers).some((v) => text.includes(v)));
  }
  // The preferences still read (the values are masked, never opened), and the operator can replace what was lost.
  assert.deepEqual((await h.client.preferences.GetPreferences({ agent_id: agent })).webhook_headers, { Authorization: '***', 'X-Api-Key': '***' });
  const replaced = await h.client.preferences.RotateWebhookSecret({ agent_id: agent, grace_period_seconds: 0 });
  const newHeaders = credentials();
  await h.client.preferences.UpdatePreferences({ preferences: { agent_id: agent, webhook_headers: newHeaders }, update_mask: { paths: ['webhook_headers'] } });
  await assertDelivers(h, receiver, agent, replaced.webhook_secret, newHeaders);
});

test('the SQLite database, its -wal and -shm files and its backups are readable by their owner only (0600), also when the file existed with a wider mode', async (t) => {
  if (TEST_DATABASE !== 'sqlite') {
    t.skip('PostgreSQL keeps its own files');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'herald-mode-'));
  cleanup(t, () => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'herald.db');
  writeFileSync(file, '');
  chmodSync(file, 0o644);
  const h = await startHerald(t, { dir, env: { DATABASE_URL: `file:${file}` } });
  await h.client.preferences.UpdatePreferences({ preferences: { agent_id: agentId('mode'), enable_webhook: true, webhook_url: 'http://127.0.0.1:9/x', webhook_headers: credentials() } });
  await h.client.notifications.CreateNotification({ agent_id: agentId('mode'), notification_type: 'job.completed', title: 't' });
  const backup = join(dir, 'backup.db');
  backupSqlite(file, backup);
  for (const path of [file, `${file}-wal`, `${file}-shm`, backup]) {
    assert.equal(statSync(path).mode & 0o777, 0o600, `${path} mode ${(statSync(path).mode & 0o777).toString(8)}`);
  }
});

test('without HERALD_SECRET_KEY Herald warns at start that secrets are stored in plain text; with one it does not', async (t) => {
  for (const env of [{}, { HERALD_SECRET_KEY: newKey() }]) {
    const dir = mkdtempSync(join(tmpdir(), 'herald-warn-'));
    cleanup(t, () => rmSync(dir, { recursive: true, force: true }));
    const lines: Array<{ level: number; msg: string }> = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as { level: number; msg: string });
        done();
      },
    });
    const config = loadConfig({ DATABASE_URL: await freshDatabaseUrl(t, dir), GRPC_ADDRESS: '127.0.0.1:0', ...env });
    const app = await App.start(config, pino({ level: 'info' }, sink));
    await app.stop(1_000);
    const warning = lines.find((l) => /HERALD_SECRET_KEY is not set/.test(l.msg));
    if ('HERALD_SECRET_KEY' in env) {
      assert.equal(warning, undefined);
    } else {
      assert.equal(warning?.level, 40, 'a warn line');
      assert.match(warning.msg, /stored in the database in plain text/);
    }
  }
});

test('re-encryption never undoes a concurrent update: a row changed between its read and its rewrite is left as the update wrote it', async (t) => {
  const receiver = await receiverFor(t);
  let h = await startHerald(t);
  const agent = agentId('cas');
  await h.client.preferences.UpdatePreferences({ preferences: { agent_id: agent, enable_webhook: true, webhook_url: receiver.url, webhook_headers: credentials() } });
  const secret = (await h.client.preferences.GetWebhookSecret({ agent_id: agent })).webhook_secret;
  h = await h.restart({ HERALD_SECRET_KEY: newKey() });
  const store = h.app.store;

  const [row] = (await store.read((r) => r.preferences.storedSecrets(null, 100))).filter((r) => r.agentId === agent);
  assert.ok(row);
  const next = await store.read(async (r) => r.preferences.resealed(row));
  assert.ok(next !== null, 'plain text from before the key needs rewriting');
  const updated = credentials();
  await h.client.preferences.UpdatePreferences({ preferences: { agent_id: agent, webhook_headers: updated }, update_mask: { paths: ['webhook_headers'] } });
  assert.equal(await store.write((r) => r.preferences.replaceSecrets(row, next)), false, 'the compare-and-swap sees the update');
  await assertDelivers(h, receiver, agent, secret, updated);
  // What the update left in plain text (the secret) is rewritten by the next run, the update's headers kept.
  assert.match(await reencrypt(h, { HERALD_SECRET_KEY: h.env.HERALD_SECRET_KEY! }), /re-encrypted the secrets of 1 endpoint\(s\)/);
  await assertDelivers(h, receiver, agent, secret, updated);
});

test('on SQLite a write waits while another process holds the write lock (as secrets:reencrypt does), instead of failing', async (t) => {
  if (TEST_DATABASE !== 'sqlite') {
    t.skip('PostgreSQL has row locks');
    return;
  }
  const h = await startHerald(t);
  const agent = agentId('busy');
  await h.client.preferences.UpdatePreferences({ preferences: { agent_id: agent, time_zone: 'UTC' } });
  const { default: Database } = await import('better-sqlite3');
  const other = new Database(join(h.dir, 'herald.db'), { timeout: 10_000 });
  cleanup(t, () => other.close());
  other.prepare('BEGIN IMMEDIATE').run();
  const update = h.client.preferences.UpdatePreferences({ preferences: { agent_id: agent, max_notifications_per_hour: 3 }, update_mask: { paths: ['max_notifications_per_hour'] } });
  let settled = false;
  void update.then(() => (settled = true), () => (settled = true));
  await sleep(300);
  assert.equal(settled, false, 'the update waits for the lock');
  other.prepare('COMMIT').run();
  assert.equal((await update).max_notifications_per_hour, 3);
});

test('canary: the SQLite adapter still begins transactions DEFERRED (a transaction reads while another process holds the write lock), so the busy retry of src/storage/write-policy.ts is still needed', async (t) => {
  if (TEST_DATABASE !== 'sqlite') {
    t.skip('SQLite only');
    return;
  }
  const h = await startHerald(t);
  const { default: Database } = await import('better-sqlite3');
  const other = new Database(join(h.dir, 'herald.db'), { timeout: 10_000 });
  cleanup(t, () => other.close());
  other.prepare('BEGIN IMMEDIATE').run();
  let signalRead = (): void => undefined;
  const read = new Promise<'read'>((resolve) => (signalRead = () => resolve('read')));
  const work = h.app.store.writeForAgent({ tenantId: DEFAULT_TENANT, agentId: 'canary' }, async (r) => {
    await r.preferences.get(DEFAULT_TENANT, 'canary');
    signalRead();
  });
  // No timing: DEFERRED reads inside the transaction while the lock is held,
  // however slow the machine; IMMEDIATE would block at BEGIN until the store
  // gives up on the lock and the write fails. Then write-policy.ts's SQLITE_BUSY retry can go (REMOVE WHEN).
  const first = await Promise.race([read, work.then(() => 'read' as const, (err: unknown) => err)]);
  other.prepare('COMMIT').run();
  await work.catch(() => undefined);
  assert.equal(first, 'read', 'the adapter now begins transactions IMMEDIATE: remove the SQLITE_BUSY retry in src/storage/write-policy.ts');
});

test('stored header values never follow the webhook to another origin: moving the URL needs them sent again, a new path on the same origin keeps them', async (t) => {
  const receiver = await receiverFor(t);
  const other = await receiverFor(t);
  const h = await startHerald(t);
  const agent = agentId('origin');
  const stored = credentials();
  await h.client.preferences.UpdatePreferences({ preferences: { agent_id: agent, enable_webhook: true, webhook_url: receiver.url, webhook_headers: stored } });

  // Only the URL, to another port: the stored Authorization would go with it.
  const moved = await codeOf(
    h.client.preferences.UpdatePreferences({ preferences: { agent_id: agent, webhook_url: other.url }, update_mask: { paths: ['webhook_url'] } }),
  );
  assert.equal(moved.code, status.INVALID_ARGUMENT);
  assert.match(moved.details, /webhook_headers: webhook_url moves to another origin .*"Authorization".*send webhook_headers in the same update/);
  // The same with the masked values sent back.
  const masked = Object.fromEntries(Object.keys(stored).map((name) => [name, '***']));
  const maskedMove = await codeOf(h.client.preferences.UpdatePreferences({ preferences: { agent_id: agent, webhook_url: other.url, webhook_headers: masked } }));
  assert.equal(maskedMove.code, status.INVALID_ARGUMENT);
  assert.equal((await h.client.preferences.GetPreferences({ agent_id: agent })).webhook_url, receiver.url, 'a refused update changes nothing');
  // In two steps, through no URL at all: once cleared, a URL set again cannot take the stored values either.
  await h.client.preferences.UpdatePreferences({ preferences: { agent_id: agent, webhook_url: '' }, update_mask: { paths: ['webhook_url'] } });
  const twoSteps = await codeOf(h.client.preferences.UpdatePreferences({ preferences: { agent_id: agent, webhook_url: other.url }, update_mask: { paths: ['webhook_url'] } }));
  assert.equal(twoSteps.code, status.INVALID_ARGUMENT);
  assert.match(twoSteps.details, /webhook_url is set .*"Authorization"/);
  await h.client.preferences.UpdatePreferences({ preferences: { agent_id: agent, webhook_url: receiver.url, webhook_headers: stored }, update_mask: { paths: ['webhook_url', 'webhook_headers'] } });

  // Another path on the same origin keeps them; moving with fresh values is allowed.
  const samePath = `${receiver.url.replace(/\/[^/]*$/, '')}/elsewhere`;
  await h.client.preferences.UpdatePreferences({ preferences: { agent_id: agent, webhook_url: samePath }, update_mask: { paths: ['webhook_url'] } });
  const fresh = credentials();
  const saved = await h.client.preferences.UpdatePreferences({
    preferences: { agent_id: agent, webhook_url: other.url, webhook_headers: fresh },
    update_mask: { paths: ['webhook_url', 'webhook_headers'] },
  });
  assert.equal(saved.webhook_url, other.url);
  await waitForFinal(h.client, await notify(h.client, agent));
  const got = other.requests.at(-1);
  assert.ok(got, 'the webhook reached the new origin');
  assert.equal(got.headers['authorization'], fresh.Authorization);
  assert.equal(receiver.requests.length, 0, 'nothing went to the old origin');
});
