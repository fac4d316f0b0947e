import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import pg from 'pg';

import type { HeraldClient } from '../../src/client.js';
import { REPO_ROOT } from '../helpers/child-herald.js';
import { freshDatabaseUrl, startHerald, TEST_DATABASE } from '../helpers/herald.js';
import { startReceiver } from '../helpers/receiver.js';

/*
 * Backups of a running Herald (issue #10). SQLite: `npm run db:backup` in
 * another process while creates keep arriving; the copy must be whole and
 * hold every notification acknowledged before the backup began. PostgreSQL:
 * the pg_dump / pg_restore recipe of docs/data.md, under the same load.
 */

const run = promisify(execFile);

/** The script as `npm run db:backup -- FILE` runs it, without npm's own output. */
function dbBackup(databaseUrl: string, file: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/db-backup.ts', file], { cwd: REPO_ROOT, env: { ...process.env, DATABASE_URL: databaseUrl } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * Creates notifications from `lanes` concurrent loops until stopped; half go
 * to an agent with a webhook, so deliveries (and attempts) are written too.
 * `acked` holds the id of every create whose answer has arrived.
 */
function keepCreating(client: HeraldClient, lanes: number): { acked: string[]; stop: () => Promise<void> } {
  const acked: string[] = [];
  let running = true;
  const loops = Array.from({ length: lanes }, async (_, lane) => {
    for (let i = 0; running; i++) {
      const res = await client.notifications.CreateNotification({ agent_id: i % 2 === 0 ? 'backup-hooked' : `backup-quiet-${lane}`, notification_type: 'job.completed', title: `n ${lane}/${i}` });
      acked.push(res.notification!.id);
    }
  });
  return {
    acked,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

async function untilMoreThan(acked: readonly string[], n: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (acked.length <= n) {
    if (Date.now() > deadline) assert.fail(`creates stalled at ${acked.length}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function withWebhook(t: TestContext, client: HeraldClient): Promise<void> {
  const receiver = await startReceiver();
  t.after(() => receiver.close());
  await client.preferences.UpdatePreferences({ preferences: { agent_id: 'backup-hooked', enable_webhook: true, webhook_url: receiver.url } });
}

test('npm run db:backup copies a SQLite database while Herald writes to it: whole, consistent, and with every acknowledged notification', { skip: TEST_DATABASE !== 'sqlite' && 'SQLite only' }, async (t) => {
  const herald = await startHerald(t);
  await withWebhook(t, herald.client);
  const load = keepCreating(herald.client, 4);
  t.after(() => load.stop());
  await untilMoreThan(load.acked, 200);

  const ackedBefore = [...load.acked];
  const copyPath = join(herald.dir, 'backup.db');
  const backup = await dbBackup(herald.env.DATABASE_URL!, copyPath);
  const ackedDuring = load.acked.length - ackedBefore.length;
  await untilMoreThan(load.acked, load.acked.length);
  await load.stop();
  assert.equal(backup.code, 0, backup.stderr);
  assert.match(backup.stdout, /integrity_check ok/);
  assert.ok(ackedDuring > 0, 'creates went on while the backup ran');

  const copy = new Database(copyPath, { readonly: true });
  t.after(() => copy.close());
  assert.equal(copy.pragma('integrity_check', { simple: true }), 'ok');
  const inCopy = new Set((copy.prepare('SELECT id FROM notifications').all() as Array<{ id: string }>).map((r) => r.id));
  const missing = ackedBefore.filter((id) => !inCopy.has(id));
  assert.deepEqual(missing, [], `${missing.length} of ${ackedBefore.length} acknowledged notifications are missing from the copy`);
  // One transaction's snapshot: every notification decided DELIVER has its delivery row in the copy too.
  const orphans = copy.prepare('SELECT COUNT(*) AS n FROM notifications n WHERE n.delivery_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.id = n.delivery_id)').get() as { n: number };
  assert.equal(orphans.n, 0);
  assert.ok((copy.prepare('SELECT COUNT(*) AS n FROM deliveries').get() as { n: number }).n > 0);

  // The copy is a working database: Herald starts on it and serves what it holds.
  const restored = await startHerald(t, { env: { DATABASE_URL: `file:${copyPath}`, HERALD_WORKER: 'false' } });
  const page = await restored.client.notifications.ListNotifications({ agent_id: 'backup-hooked', page_size: 5 });
  assert.equal(page.notifications.length, 5);
});

test('npm run db:backup never overwrites a file, and refuses PostgreSQL', { skip: TEST_DATABASE !== 'sqlite' && 'SQLite only' }, async (t) => {
  const herald = await startHerald(t);
  const existing = join(herald.dir, 'taken.db');
  writeFileSync(existing, 'precious');
  const refused = await dbBackup(herald.env.DATABASE_URL!, existing);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /already exists/);
  const postgres = await dbBackup('postgresql://db.internal/herald', join(herald.dir, 'pg.db'));
  assert.equal(postgres.code, 1);
  assert.match(postgres.stderr, /pg_dump/);
  assert.equal(existsSync(join(herald.dir, 'pg.db')), false);
});

test("the pg_dump / pg_restore recipe of docs/data.md backs up a PostgreSQL Herald while it writes, and Herald serves the restored copy", { skip: TEST_DATABASE !== 'postgresql' && 'PostgreSQL only' }, async (t) => {
  const herald = await startHerald(t);
  await withWebhook(t, herald.client);
  const load = keepCreating(herald.client, 4);
  t.after(() => load.stop());
  await untilMoreThan(load.acked, 200);
  const ackedBefore = [...load.acked];
  const dump = join(herald.dir, 'herald.dump');
  const source = herald.env.DATABASE_URL!;
  await run('pg_dump', ['--format=custom', `--file=${dump}`, `--dbname=${source}`]);
  await load.stop();

  const restoredUrl = await freshDatabaseUrl(t, herald.dir);
  await run('pg_restore', ['--no-owner', `--dbname=${restoredUrl}`, dump]);
  const check = new pg.Client({ connectionString: restoredUrl });
  await check.connect();
  t.after(() => check.end());
  const ids = new Set((await check.query<{ id: string }>('SELECT id FROM notifications')).rows.map((r) => r.id));
  const missing = ackedBefore.filter((id) => !ids.has(id));
  assert.deepEqual(missing, [], `${missing.length} of ${ackedBefore.length} acknowledged notifications are missing from the dump`);
  const orphans = await check.query<{ n: string }>('SELECT COUNT(*) AS n FROM notifications n WHERE n.delivery_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.id = n.delivery_id)');
  assert.equal(Number(orphans.rows[0]!.n), 0);
  await check.end();

  const restored = await startHerald(t, { env: { DATABASE_URL: restoredUrl, HERALD_WORKER: 'false' } });
  const page = await restored.client.notifications.ListNotifications({ agent_id: 'backup-hooked', page_size: 5 });
  assert.equal(page.notifications.length, 5);
});
