import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import type { HeraldClient } from '../../src/client.js';
import { createLogger } from '../../src/logger.js';
import { RetentionSweeper } from '../../src/services/retention.js';
import { cleanup, codeOf, startHerald } from '../helpers/herald.js';
import { openRaw, type RawDatabase } from '../helpers/raw-sql.js';
import { startReceiver, type ReceiverStep } from '../helpers/receiver.js';

/*
 * Retention (issue #10): a real Herald on an injected clock; rows are made
 * through the API (and, for deliveries still waiting long after the cutoff,
 * with plain SQL), the clock is moved past HERALD_RETENTION_DAYS, and a
 * sweep is run; what is left is read back through the API.
 */

const DAY_MS = 86_400_000;
const T0 = Date.parse('2026-10-01T12:00:00Z');
const NOT_FOUND = 5;

async function receiverFor(t: TestContext, script: readonly ReceiverStep[] = []): Promise<string> {
  const receiver = await startReceiver(script);
  t.after(() => receiver.close());
  return receiver.url;
}

async function waitForStatus(client: HeraldClient, id: string, status: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while ((await client.deliveries.GetDelivery({ id })).status !== status) {
    if (Date.now() > deadline) assert.fail(`delivery ${id} never became ${status}`);
    await sleep(25);
  }
}

async function create(client: HeraldClient, agent_id: string): Promise<{ id: string; deliveryId: string }> {
  const res = await client.notifications.CreateNotification({ agent_id, notification_type: 'job.completed', title: 'Job finished' });
  return { id: res.notification?.id ?? '', deliveryId: res.decision?.delivery_id ?? '' };
}

let seq = 0;
/**
 * A notification whose delivery waits in `status` until long after any
 * cutoff of these tests (a deferral or a lease the API cannot make that long).
 */
async function insertWaiting(raw: RawDatabase, status: 'PENDING' | 'DELIVERING', createdAt: Date): Promise<{ id: string; deliveryId: string }> {
  seq += 1;
  const id = `ntf_RETENTION${String(seq).padStart(15, '0')}`;
  const deliveryId = `dlv_RETENTION${String(seq).padStart(15, '0')}`;
  const later = new Date(createdAt.getTime() + 365 * DAY_MS);
  await raw.run(
    `INSERT INTO notifications (id, agent_id, notification_type, title, content, priority, metadata, read, created_at, decision_outcome, decision_reason, decision_explanation, deliver_at, delivery_id)
     VALUES (?, 'retention-raw', 'job.completed', 'Waiting', '', 2, '{}', ?, ?, 'DEFER', 'QUIET_HOURS', 'inside quiet hours', ?, ?)`,
    id, false, createdAt, later, deliveryId,
  );
  await raw.run(
    `INSERT INTO deliveries (id, agent_id, notification_id, event_type, body, status, attempt_count, next_attempt_at, lease_owner, lease_expires_at, created_at, updated_at)
     VALUES (?, 'retention-raw', ?, 'notification', '{}', ?, ?, ?, ?, ?, ?, ?)`,
    deliveryId, id, status, status === 'DELIVERING' ? 1 : 0, later, status === 'DELIVERING' ? 'another-replica' : null, status === 'DELIVERING' ? later : null, createdAt, createdAt,
  );
  return { id, deliveryId };
}

test('a sweep deletes notifications, finished deliveries and their attempts older than HERALD_RETENTION_DAYS, and keeps what still waits', async (t) => {
  let now = T0;
  const herald = await startHerald(t, { clock: () => new Date(now), env: { HERALD_RETENTION_DAYS: '30' } });
  const { app, client } = herald;
  assert.ok(app.retention !== null);
  const raw = await openRaw(herald.env.DATABASE_URL!);
  cleanup(t, () => raw.close());
  await client.preferences.UpdatePreferences({ preferences: { agent_id: 'retention-ok', enable_webhook: true, webhook_url: await receiverFor(t) } });
  await client.preferences.UpdatePreferences({ preferences: { agent_id: 'retention-400', enable_webhook: true, webhook_url: await receiverFor(t, [{ status: 400 }, { status: 400 }, { status: 400 }]) } });

  const delivered = await create(client, 'retention-ok');
  const suppressed = await create(client, 'retention-nobody');
  const failed = await create(client, 'retention-400');
  const retried = await create(client, 'retention-400');
  const probe = await client.deliveries.SendTestWebhook({ agent_id: 'retention-ok' });
  await waitForStatus(client, delivered.deliveryId, 'DELIVERY_STATUS_SUCCEEDED');
  await waitForStatus(client, failed.deliveryId, 'DELIVERY_STATUS_FAILED');
  await waitForStatus(client, retried.deliveryId, 'DELIVERY_STATUS_FAILED');
  const pending = await insertWaiting(raw, 'PENDING', new Date(T0));
  const sending = await insertWaiting(raw, 'DELIVERING', new Date(T0));

  // Within the period nothing goes.
  now = T0 + 20 * DAY_MS;
  assert.deepEqual({ ...(await app.retention.sweep()), cutoff: null }, { deliveries: 0, notifications: 0, portalSessions: 0, cutoff: null });
  // A FAILED delivery retried by hand is recent again, and so is its notification.
  await client.deliveries.RetryDelivery({ id: retried.deliveryId });
  const recent = await create(client, 'retention-nobody');

  now = T0 + 31 * DAY_MS;
  const swept = await app.retention.sweep();
  assert.equal(swept.cutoff.getTime(), now - 30 * DAY_MS);
  assert.deepEqual({ deliveries: swept.deliveries, notifications: swept.notifications }, { deliveries: 3, notifications: 3 });

  for (const id of [delivered.deliveryId, failed.deliveryId, probe.delivery_id]) assert.equal((await codeOf(client.deliveries.GetDelivery({ id }))).code, NOT_FOUND, id);
  for (const n of [delivered, suppressed, failed]) assert.equal((await codeOf(client.notifications.GetNotification({ id: n.id }))).code, NOT_FOUND, n.id);
  const attempts = await raw.all('SELECT COUNT(*) AS n FROM delivery_attempts WHERE delivery_id IN (?, ?, ?)', delivered.deliveryId, failed.deliveryId, probe.delivery_id);
  assert.equal(Number(attempts[0]!['n']), 0, 'the attempts went with their deliveries');

  assert.equal((await client.deliveries.GetDelivery({ id: pending.deliveryId })).status, 'DELIVERY_STATUS_PENDING');
  assert.equal((await client.deliveries.GetDelivery({ id: sending.deliveryId })).status, 'DELIVERY_STATUS_DELIVERING');
  const kept = await client.deliveries.GetDelivery({ id: retried.deliveryId });
  assert.equal(kept.status, 'DELIVERY_STATUS_FAILED');
  assert.equal(kept.attempts.length, 2, 'a kept delivery keeps its attempts');
  for (const n of [pending, sending, retried, recent]) assert.equal((await client.notifications.GetNotification({ id: n.id })).id, n.id);
  const listed = await client.notifications.ListNotifications({ agent_id: 'retention-nobody' });
  assert.deepEqual(listed.notifications.map((n) => n.id), [recent.id]);
});

test('small batches walk past old notifications that must stay, so every deletable one goes', async (t) => {
  let now = T0;
  const herald = await startHerald(t, { clock: () => new Date(now) });
  const { app, client } = herald;
  const raw = await openRaw(herald.env.DATABASE_URL!);
  cleanup(t, () => raw.close());
  // The oldest rows are ones that must stay: a scan that restarted from the beginning would never get past them.
  const waiting = [await insertWaiting(raw, 'PENDING', new Date(T0 - 2000)), await insertWaiting(raw, 'PENDING', new Date(T0 - 1000))];
  const gone: string[] = [];
  for (let i = 0; i < 5; i++) gone.push((await create(client, 'retention-batch')).id);
  now = T0 + 2 * DAY_MS;
  const sweeper = new RetentionSweeper(app.store, createLogger('silent'), { retentionDays: 1, sweepMs: DAY_MS, batchSize: 2, pauseMs: 0, clock: () => new Date(now) });
  const swept = await sweeper.sweep();
  assert.equal(swept.notifications, 5);
  for (const id of gone) assert.equal((await codeOf(client.notifications.GetNotification({ id }))).code, NOT_FOUND);
  for (const n of waiting) assert.equal((await client.notifications.GetNotification({ id: n.id })).id, n.id);
});

test('HERALD_RETENTION_DAYS=0 keeps everything, and a process without a worker runs no sweeper', async (t) => {
  const keepAll = await startHerald(t, { env: { HERALD_RETENTION_DAYS: '0' } });
  assert.equal(keepAll.app.retention, null);
  const api = await startHerald(t, { env: { HERALD_ROLE: 'api' } });
  assert.equal(api.app.retention, null);
});
