import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import { status } from '@grpc/grpc-js';
import { Webhook } from 'standardwebhooks';
import { createHeraldClient } from '../../src/client.js';
import { parseDatabaseUrl } from '../../src/config.js';
import { applyMigrations, defaultMigrationsDir } from '../../src/storage/migrations.js';
import { SecretBox } from '../../src/storage/secret-box.js';
import { waitForFinal } from '../helpers/deliveries.js';
import { cleanup, codeOf, freshDatabaseUrl, startHerald } from '../helpers/herald.js';
import { PortalBrowser, startPortalHerald } from '../helpers/portal.js';
import { openRaw } from '../helpers/raw-sql.js';
import { startReceiver } from '../helpers/receiver.js';

/*
 * Upgrades (issue #10): a database made by the previous release — only its
 * `*_init` migration applied, rows written with plain SQL in that schema —
 * is opened by this Herald, which applies every later migration at start;
 * the old rows must then read back intact through the API and stay usable.
 * New migrations are covered without touching this test.
 */

const SECRET = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;

test("a database of the previous release, with data, is upgraded by starting Herald on it, and its rows read back intact through the API", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'herald-upgrade-'));
  cleanup(t, () => rmSync(dir, { recursive: true, force: true }));
  const url = await freshDatabaseUrl(t, dir);
  const target = parseDatabaseUrl(url, dir);
  const current = defaultMigrationsDir(target.provider);
  const all = readdirSync(current, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort();
  const init = all.find((name) => name.endsWith('_init'));
  assert.ok(init !== undefined, `no *_init migration in ${current}`);
  const previous = join(dir, 'previous-release');
  mkdirSync(join(previous, init), { recursive: true });
  copyFileSync(join(current, init, 'migration.sql'), join(previous, init, 'migration.sql'));
  assert.deepEqual(await applyMigrations(target, undefined, { migrationsDir: previous }), [init]);

  // Recent rows, so that the retention sweep at start leaves them alone.
  const created = new Date(Date.now() - 3_600_000);
  const completed = new Date(created.getTime() + 1_500);
  const raw = await openRaw(url);
  try {
    await raw.run(
      `INSERT INTO agent_preferences (agent_id, enable_webhook, webhook_url, webhook_secret, time_zone, quiet_start, quiet_end, quiet_policy, urgent_bypass,
         max_per_hour, notification_types, min_priority, webhook_headers, webhook_timeout_ms, created_at, updated_at)
       VALUES ('upgrade-agent', ?, 'https://hooks.example.com/herald', ?, 'Europe/Paris', '22:00', '07:00', 'DEFER', ?, 50, '["job.*"]', 2, '{"X-Team":"ops"}', 5000, ?, ?)`,
      true, SECRET, true, created, created,
    );
    await raw.run(
      `INSERT INTO notifications (id, agent_id, notification_type, title, content, priority, related_entity_type, related_entity_id, metadata, idempotency_key,
         read, created_at, decision_outcome, decision_reason, decision_explanation, deliver_at, delivery_id)
       VALUES ('ntf_01UPGRADE00000000000000001', 'upgrade-agent', 'job.completed', 'Job 17 finished', 'All steps passed.', 3, 'job', '17', '{"duration_s":42}', 'job-17',
         ?, ?, 'DELIVER', 'ACCEPTED', 'every check passed', ?, 'dlv_01UPGRADE00000000000000001')`,
      false, created, created,
    );
    await raw.run(
      `INSERT INTO notifications (id, agent_id, notification_type, title, content, priority, metadata, read, created_at, decision_outcome, decision_reason, decision_explanation)
       VALUES ('ntf_01UPGRADE00000000000000002', 'upgrade-agent', 'billing.paid', 'Paid', '', 2, '{}', ?, ?, 'SUPPRESS', 'TYPE_FILTERED', 'type not allowed')`,
      false, new Date(created.getTime() + 1000),
    );
    await raw.run(
      `INSERT INTO deliveries (id, agent_id, notification_id, event_type, body, status, attempt_count, next_attempt_at, last_status_code, created_at, updated_at, completed_at)
       VALUES ('dlv_01UPGRADE00000000000000001', 'upgrade-agent', 'ntf_01UPGRADE00000000000000001', 'notification', '{"event":"notification"}', 'SUCCEEDED', 1, ?, 200, ?, ?, ?)`,
      created, created, completed, completed,
    );
    await raw.run(
      `INSERT INTO delivery_attempts (id, delivery_id, number, started_at, duration_ms, status_code, response_excerpt, trigger, url)
       VALUES ('att_01UPGRADE00000000000000001', 'dlv_01UPGRADE00000000000000001', 1, ?, 1234, 200, 'ok', 'SCHEDULED', 'https://hooks.example.com/herald')`,
      created,
    );
  } finally {
    await raw.close();
  }

  const { client, app } = await startHerald(t, { dir, env: { DATABASE_URL: url, HERALD_WORKER: 'false' } });
  const check = await openRaw(url);
  cleanup(t, () => check.close());
  const recorded = await check.all('SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL ORDER BY migration_name');
  assert.deepEqual(recorded.map((r) => r['migration_name']), all, 'every migration after the previous release was applied at start');
  assert.ok(app.port !== null);
  // Rows from before tenants belong to the tenant `default`, which callers naming no tenant act on.
  for (const table of ['agent_preferences', 'notifications', 'deliveries']) {
    const tenants = await check.all(`SELECT DISTINCT tenant_id FROM ${table}`);
    assert.deepEqual(tenants.map((r) => r['tenant_id']), ['default'], `${table} rows moved to tenant default`);
  }
  // The hourly limit's sequence is backfilled: counted rows (DELIVER, DEFER) numbered per agent, counted at creation.
  const sequenced = await check.all('SELECT id, rate_seq, CASE WHEN counted_at = created_at THEN 1 ELSE 0 END AS counted_at_created FROM notifications ORDER BY id');
  assert.deepEqual(
    sequenced.map((r) => [r['id'], r['rate_seq'] === null ? null : Number(r['rate_seq']), Number(r['counted_at_created'])]),
    [['ntf_01UPGRADE00000000000000001', 1, 1], ['ntf_01UPGRADE00000000000000002', null, 0]],
  );
  // Deliveries from before tracing carry no trace context: their attempts start traces of their own.
  const traced = await check.all('SELECT id, trace_parent FROM deliveries');
  assert.deepEqual(traced.map((r) => [r['id'], r['trace_parent']]), [['dlv_01UPGRADE00000000000000001', null]]);
  const counters = await check.all('SELECT tenant_id, agent_id, last_seq FROM rate_counters');
  assert.deepEqual(counters.map((r) => [r['tenant_id'], r['agent_id'], Number(r['last_seq'])]), [['default', 'upgrade-agent', 1]]);
  const other = createHeraldClient(`127.0.0.1:${app.port}`, { tenant: 'acme' });
  cleanup(t, () => other.close());
  assert.equal((await codeOf(other.preferences.GetPreferences({ agent_id: 'upgrade-agent' }))).code, status.NOT_FOUND);
  assert.equal((await codeOf(other.deliveries.GetDelivery({ id: 'dlv_01UPGRADE00000000000000001' }))).code, status.NOT_FOUND);
  assert.equal((await codeOf(other.notifications.GetNotification({ id: 'ntf_01UPGRADE00000000000000001' }))).code, status.NOT_FOUND);

  const prefs = await client.preferences.GetPreferences({ agent_id: 'upgrade-agent' });
  assert.equal(prefs.enable_webhook, true);
  assert.equal(prefs.webhook_url, 'https://hooks.example.com/herald');
  assert.equal(prefs.time_zone, 'Europe/Paris');
  assert.deepEqual(
    { start: prefs.quiet_hours?.start, end: prefs.quiet_hours?.end, policy: prefs.quiet_hours?.policy, urgent_bypass: prefs.quiet_hours?.urgent_bypass },
    { start: '22:00', end: '07:00', policy: 'QUIET_HOURS_POLICY_DEFER', urgent_bypass: true },
  );
  assert.equal(prefs.max_notifications_per_hour, 50);
  assert.deepEqual(prefs.notification_types, ['job.*']);
  assert.equal(prefs.min_priority, 'PRIORITY_NORMAL');
  // Header values are write-only since the second release: the name shows, the value is masked.
  assert.deepEqual(prefs.webhook_headers, { 'X-Team': '***' });
  assert.equal(prefs.webhook_timeout_ms, 5000);
  assert.equal((await client.preferences.GetWebhookSecret({ agent_id: 'upgrade-agent' })).webhook_secret, SECRET);

  const listed = await client.notifications.ListNotifications({ agent_id: 'upgrade-agent' });
  assert.deepEqual(listed.notifications.map((n) => n.id), ['ntf_01UPGRADE00000000000000002', 'ntf_01UPGRADE00000000000000001']);
  const first = listed.notifications[1]!;
  assert.deepEqual(
    [first.title, first.content, first.priority, first.related_entity_type, first.related_entity_id, first.read],
    ['Job 17 finished', 'All steps passed.', 'PRIORITY_HIGH', 'job', '17', false],
  );
  assert.equal(first.metadata?.fields?.['duration_s']?.numberValue, 42);
  assert.equal(Number(first.created_at?.seconds) * 1000 + Math.round((first.created_at?.nanos ?? 0) / 1e6), created.getTime());
  assert.deepEqual([first.decision?.outcome, first.decision?.reason, first.decision?.delivery_id], ['DECISION_OUTCOME_DELIVER', 'DECISION_REASON_ACCEPTED', 'dlv_01UPGRADE00000000000000001']);
  assert.deepEqual([listed.notifications[0]!.decision?.outcome, listed.notifications[0]!.decision?.reason], ['DECISION_OUTCOME_SUPPRESS', 'DECISION_REASON_TYPE_FILTERED']);

  const delivery = await client.deliveries.GetDelivery({ id: 'dlv_01UPGRADE00000000000000001' });
  assert.deepEqual([delivery.status, delivery.attempt_count, delivery.last_status_code, delivery.notification_id], ['DELIVERY_STATUS_SUCCEEDED', 1, 200, 'ntf_01UPGRADE00000000000000001']);
  assert.equal(delivery.attempts.length, 1);
  assert.deepEqual([delivery.attempts[0]!.status_code, delivery.attempts[0]!.duration_ms, delivery.attempts[0]!.trigger, delivery.attempts[0]!.response_excerpt], [200, 1234, 'ATTEMPT_TRIGGER_SCHEDULED', 'ok']);

  // Still usable: the old idempotency key replays the old notification, marking read writes, new creates are decided.
  const replay = await client.notifications.CreateNotification({ agent_id: 'upgrade-agent', notification_type: 'job.completed', title: 'again', idempotency_key: 'job-17' });
  assert.deepEqual([replay.replayed, replay.notification?.id], [true, 'ntf_01UPGRADE00000000000000001']);
  assert.equal((await client.notifications.MarkNotificationRead({ id: 'ntf_01UPGRADE00000000000000001' })).read, true);
  const fresh = await client.notifications.CreateNotification({ agent_id: 'upgrade-agent', notification_type: 'other.event', title: 'new' });
  assert.equal(fresh.decision?.reason, 'DECISION_REASON_TYPE_FILTERED');
});

const NEW_SECRET = `whsec_${Buffer.alloc(32, 9).toString('base64')}`;

test("a 0.2 database (every migration before endpoints), with encrypted webhooks, a rotation in its grace and a pending delivery, upgraded: each agent's webhook is its first endpoint, every 0.2 call answers as before, and the pending delivery goes out signed with the same secret", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'herald-upgrade-'));
  cleanup(t, () => rmSync(dir, { recursive: true, force: true }));
  const url = await freshDatabaseUrl(t, dir);
  const target = parseDatabaseUrl(url, dir);
  const current = defaultMigrationsDir(target.provider);
  const all = readdirSync(current, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort();
  const endpoints = all.find((name) => name.endsWith('_endpoints'));
  assert.ok(endpoints !== undefined, `no *_endpoints migration in ${current}`);
  const before = all.slice(0, all.indexOf(endpoints));
  const previous = join(dir, 'release-0.2');
  for (const name of before) {
    mkdirSync(join(previous, name), { recursive: true });
    copyFileSync(join(current, name, 'migration.sql'), join(previous, name, 'migration.sql'));
  }
  assert.deepEqual(await applyMigrations(target, undefined, { migrationsDir: previous }), before);

  const receiver = await startReceiver();
  cleanup(t, () => receiver.close());
  const key = randomBytes(32);
  const box = new SecretBox(key);
  const seal = (agent: string, field: string, value: string): string => box.seal(value, { tenantId: 'default', agentId: agent, field });
  const now = new Date();
  const graceEnd = new Date(now.getTime() + 3_600_000);
  const body = '{"event":"notification","notification":{"id":"ntf_01PENDING0000000000000001","title":"Café ✓"}}';
  const raw = await openRaw(url);
  try {
    await raw.run(
      `INSERT INTO agent_preferences (tenant_id, agent_id, enable_webhook, webhook_url, webhook_secret, previous_webhook_secret, previous_secret_expires_at, time_zone, quiet_policy,
         max_per_hour, rate_limit_policy, notification_types, min_priority, webhook_headers, webhook_timeout_ms, consecutive_failures, created_at, updated_at)
       VALUES ('default', 'hooked', ?, ?, ?, ?, ?, 'UTC', 'SKIP', 0, 'SUPPRESS', '[]', 0, ?, 4000, 2, ?, ?)`,
      true, receiver.url, seal('hooked', 'webhook_secret', NEW_SECRET), seal('hooked', 'webhook_secret', SECRET), graceEnd,
      JSON.stringify({ 'X-Team': seal('hooked', 'webhook_headers.x-team', 'ops') }), now, now,
    );
    await raw.run(
      `INSERT INTO agent_preferences (tenant_id, agent_id, enable_webhook, time_zone, quiet_policy, max_per_hour, rate_limit_policy, notification_types, min_priority,
         webhook_headers, consecutive_failures, created_at, updated_at)
       VALUES ('default', 'no-url', ?, 'UTC', 'SKIP', 0, 'SUPPRESS', '[]', 0, '{}', 0, ?, ?)`,
      false, now, now,
    );
    await raw.run(
      `INSERT INTO notifications (id, tenant_id, agent_id, notification_type, title, content, priority, metadata, read, created_at, decision_outcome, decision_reason,
         decision_explanation, deliver_at, delivery_id, rate_seq, counted_at)
       VALUES ('ntf_01PENDING0000000000000001', 'default', 'hooked', 'job.done', 'Café ✓', '', 2, '{}', ?, ?, 'DELIVER', 'ACCEPTED', 'every check passed', ?,
         'dlv_01PENDING0000000000000001', 1, ?)`,
      false, now, now, now,
    );
    // 0.2 kept the agent's last rate_seq beside its counted notifications.
    await raw.run(`INSERT INTO rate_counters (tenant_id, agent_id, last_seq) VALUES ('default', 'hooked', 1)`);
    await raw.run(
      `INSERT INTO deliveries (id, tenant_id, agent_id, notification_id, event_type, body, status, attempt_count, next_attempt_at, created_at, updated_at, attempt_base)
       VALUES ('dlv_01PENDING0000000000000001', 'default', 'hooked', 'ntf_01PENDING0000000000000001', 'notification', ?, 'PENDING', 0, ?, ?, ?, 0)`,
      body, now, now, now,
    );
  } finally {
    await raw.close();
  }

  const { client } = await startHerald(t, { dir, env: { DATABASE_URL: url, HERALD_SECRET_KEY: key.toString('base64') } });
  const check = await openRaw(url);
  cleanup(t, () => check.close());

  // Each agent has exactly one endpoint, its first, holding the 0.2 columns as they were stored.
  const rows = await check.all('SELECT agent_id, id, position, url, secret, previous_secret, timeout_ms, consecutive_failures FROM endpoints ORDER BY agent_id');
  assert.deepEqual(rows.map((r) => [r['agent_id'], Number(r['position']), r['url'], r['timeout_ms'] === null ? null : Number(r['timeout_ms'])]), [
    ['hooked', 0, receiver.url, 4000],
    ['no-url', 0, null, null],
  ]);
  for (const r of rows) assert.match(String(r['id']), /^ep_[0-9A-Z]{26}$/);
  assert.ok(String(rows[0]!['secret']).startsWith('enc:v1:'), 'the sealed secret was copied, not opened');
  const pointed = await check.all('SELECT endpoint_id FROM deliveries');
  assert.deepEqual(pointed.map((r) => r['endpoint_id']), [rows[0]!['id']], 'the pending delivery goes to its agent\'s first endpoint');

  // The 0.2 calls answer as before.
  const prefs = await client.preferences.GetPreferences({ agent_id: 'hooked' });
  assert.deepEqual(
    [prefs.enable_webhook, prefs.webhook_url, prefs.webhook_headers, prefs.webhook_timeout_ms, prefs.webhook_secret_set],
    [true, receiver.url, { 'X-Team': '***' }, 4000, true],
  );
  const secrets = await client.preferences.GetWebhookSecret({ agent_id: 'hooked' });
  assert.deepEqual([secrets.webhook_secret, secrets.previous_webhook_secret], [NEW_SECRET, SECRET]);
  const bare = await client.preferences.GetPreferences({ agent_id: 'no-url' });
  assert.deepEqual([bare.enable_webhook, bare.webhook_url, bare.webhook_secret_set], [false, '', false]);

  // The pending delivery goes out with its body, its headers and both signatures of the rotation.
  const [req] = await receiver.waitForRequests(1);
  assert.ok(req);
  assert.equal(req.body.toString('utf8'), body);
  assert.equal(req.headers['x-team'], 'ops');
  assert.equal(req.headers['x-herald-endpoint'], rows[0]!['id'], 'X-Herald-Endpoint names the endpoint');
  const flat = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
  assert.doesNotThrow(() => new Webhook(NEW_SECRET).verify(body, flat), 'standardwebhooks verifies with the current secret');
  assert.doesNotThrow(() => new Webhook(SECRET).verify(body, flat), 'and with the previous one, still in its grace');
  assert.equal(req.headers['x-herald-signature'], `sha256=${createHmac('sha256', NEW_SECRET).update(req.body).digest('hex')}`);
  assert.equal((await waitForFinal(client, 'dlv_01PENDING0000000000000001')).status, 'DELIVERY_STATUS_SUCCEEDED');
  // Ordered delivery (#21): 0.2's endpoints and deliveries have no order; an endpoint switched to PER_KEY numbers its keys from 1.
  assert.deepEqual([req.headers['x-herald-ordering-key'], req.headers['x-herald-sequence']], [undefined, undefined]);
  const old = await client.deliveries.GetDelivery({ id: 'dlv_01PENDING0000000000000001' });
  assert.deepEqual([old.ordering_key, Number(old.sequence), old.blocked_by], ['', 0, '']);
  assert.deepEqual((await check.all('SELECT ordering FROM endpoints ORDER BY agent_id')).map((r) => r['ordering']), ['NONE', 'NONE']);
  const firstEndpoint = String(rows[0]!['id']);
  assert.equal((await client.endpoints.GetEndpoint({ id: firstEndpoint })).ordering, 'ORDERING_NONE');
  await client.endpoints.UpdateEndpoint({ endpoint: { id: firstEndpoint, ordering: 'ORDERING_PER_KEY' }, update_mask: { paths: ['ordering'] } });
  for (const n of [1, 2]) {
    const created = await client.notifications.CreateNotification({ agent_id: 'hooked', notification_type: 'job.done', title: `ordered ${n}`, ordering_key: 'job:17' });
    const d = await waitForFinal(client, created.endpoint_results[0]!.delivery_id);
    assert.deepEqual([d.status, d.ordering_key, Number(d.sequence)], ['DELIVERY_STATUS_SUCCEEDED', 'job:17', n]);
  }
  assert.deepEqual(receiver.requests.slice(-2).map((r) => [r.headers['x-herald-ordering-key'], r.headers['x-herald-sequence']]), [['job:17', '1'], ['job:17', '2']]);

  // Writes through the 0.2 calls land on the first endpoint: a masked header kept, a rotation moves the secret.
  await client.preferences.UpdatePreferences({ preferences: { agent_id: 'hooked', webhook_timeout_ms: 6000 }, update_mask: { paths: ['webhook_timeout_ms'] } });
  assert.deepEqual((await client.preferences.GetPreferences({ agent_id: 'hooked' })).webhook_headers, { 'X-Team': '***' });
  const rotated = await client.preferences.RotateWebhookSecret({ agent_id: 'hooked' });
  assert.deepEqual(
    (await check.all("SELECT timeout_ms FROM endpoints WHERE agent_id = 'hooked'")).map((r) => Number(r['timeout_ms'])),
    [6000],
  );
  const after = await client.preferences.GetWebhookSecret({ agent_id: 'hooked' });
  assert.deepEqual([after.webhook_secret, after.previous_webhook_secret], [rotated.webhook_secret, NEW_SECRET]);
  // A new agent gets its first endpoint with its preferences.
  await client.preferences.UpdatePreferences({ preferences: { agent_id: 'new-agent', enable_webhook: true, webhook_url: receiver.url } });
  assert.equal((await check.all("SELECT id FROM endpoints WHERE agent_id = 'new-agent' AND position = 0")).length, 1);
  await client.preferences.DeletePreferences({ agent_id: 'new-agent' });
  assert.equal((await check.all("SELECT id FROM endpoints WHERE agent_id = 'new-agent'")).length, 0, 'its endpoints go with its preferences');
});

test("a database of the endpoints release (every migration before portal sessions) is upgraded: its agents get portal links that open once, and a deleted agent's links go with it", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'herald-upgrade-'));
  cleanup(t, () => rmSync(dir, { recursive: true, force: true }));
  const url = await freshDatabaseUrl(t, dir);
  const target = parseDatabaseUrl(url, dir);
  const current = defaultMigrationsDir(target.provider);
  const all = readdirSync(current, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort();
  const portal = all.find((name) => name.endsWith('_portal_sessions'));
  assert.ok(portal !== undefined, `no *_portal_sessions migration in ${current}`);
  const before = all.slice(0, all.indexOf(portal));
  const previous = join(dir, 'release-endpoints');
  for (const name of before) {
    mkdirSync(join(previous, name), { recursive: true });
    copyFileSync(join(current, name, 'migration.sql'), join(previous, name, 'migration.sql'));
  }
  assert.deepEqual(await applyMigrations(target, undefined, { migrationsDir: previous }), before);
  const now = new Date();
  const raw = await openRaw(url);
  try {
    for (const agent of ['kept', 'dropped']) {
      await raw.run(
        `INSERT INTO agent_preferences (tenant_id, agent_id, enable_webhook, time_zone, quiet_policy, max_per_hour, rate_limit_policy, notification_types, min_priority,
           webhook_disabled_reason, consecutive_failures, created_at, updated_at)
         VALUES ('acme', ?, ?, 'Europe/Paris', 'DIGEST', 0, 'SUPPRESS', '[]', 0, NULL, 0, ?, ?)`,
        agent, true, now, now,
      );
    }
  } finally {
    await raw.close();
  }

  const p = await startPortalHerald(t, { dir, env: { DATABASE_URL: url, HERALD_WORKER: 'false' } });
  const kept = await p.platform.portal.CreatePortalSession({ agent_id: 'kept' });
  const browser = new PortalBrowser(p.base);
  await browser.open(kept.url);
  const home = await browser.get('/portal/');
  assert.equal(home.status, 200);
  assert.match(home.body, /value="Europe\/Paris"/, 'the stored preferences read back in the portal');
  assert.equal((await new PortalBrowser(p.base).get(kept.url)).status, 410);
  const dropped = await p.platform.portal.CreatePortalSession({ agent_id: 'dropped' });
  await p.grpc('acme').preferences.DeletePreferences({ agent_id: 'dropped' });
  assert.deepEqual((await p.platform.portal.ListPortalSessions({})).sessions.map((s) => s.agent_id), ['kept']);
  assert.equal((await new PortalBrowser(p.base).get(dropped.url)).status, 410, 'a deleted agent\'s link no longer opens');
});
