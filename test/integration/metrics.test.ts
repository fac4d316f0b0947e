import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import type { HeraldClient } from '../../src/client.js';
import { codeOf, startHerald } from '../helpers/herald.js';
import { createLogger } from '../../src/logger.js';
import { Metrics } from '../../src/metrics/metrics.js';
import { parseExposition, scrape } from '../helpers/metrics.js';
import { startReceiver, type ReceiverStep } from '../helpers/receiver.js';

/*
 * The Prometheus endpoint (issue #10): a real Herald with
 * HERALD_METRICS_ADDRESS=127.0.0.1:0, real calls through the gRPC API, real
 * webhooks to a node:http receiver, and the exposition fetched over HTTP.
 */

const DEADLINE_MS = 20_000;

async function eventually(what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + DEADLINE_MS;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out after ${DEADLINE_MS} ms waiting for ${what}`);
    await sleep(25);
  }
}

async function receiverFor(t: TestContext, script: readonly ReceiverStep[] = []): Promise<string> {
  const receiver = await startReceiver(script);
  t.after(() => receiver.close());
  return receiver.url;
}

async function create(client: HeraldClient, agent_id: string): Promise<{ outcome: string; deliveryId: string }> {
  const res = await client.notifications.CreateNotification({ agent_id, notification_type: 'job.completed', title: 'Job finished' });
  return { outcome: res.decision?.outcome ?? '', deliveryId: res.decision?.delivery_id ?? '' };
}

async function waitForStatus(client: HeraldClient, id: string, status: string): Promise<void> {
  await eventually(`delivery ${id} to be ${status}`, async () => (await client.deliveries.GetDelivery({ id })).status === status);
}

const unary = (service: string, method: string): Record<string, string> => ({ grpc_type: 'unary', grpc_service: `herald.v1.${service}`, grpc_method: method });

test('GET /metrics shows RPCs, decisions, attempts, queue gauges and process metrics, with no agent id in any label', async (t) => {
  const { app, client } = await startHerald(t, { env: { HERALD_METRICS_ADDRESS: '127.0.0.1:0' } });
  assert.ok(app.metricsPort !== null && app.metricsPort > 0);
  const ok = await receiverFor(t);
  await client.preferences.UpdatePreferences({ preferences: { agent_id: 'metrics-agent-ok', enable_webhook: true, webhook_url: ok } });

  const delivered = await create(client, 'metrics-agent-ok');
  assert.equal(delivered.outcome, 'DECISION_OUTCOME_DELIVER');
  const suppressed = await create(client, 'metrics-agent-none');
  assert.equal(suppressed.outcome, 'DECISION_OUTCOME_SUPPRESS');
  assert.equal((await codeOf(client.deliveries.GetDelivery({ id: 'dlv_does_not_exist' }))).code, 5);
  await waitForStatus(client, delivered.deliveryId, 'DELIVERY_STATUS_SUCCEEDED');

  const m = await scrape(app.metricsPort);
  assert.equal(m.status, 200);
  assert.match(m.contentType, /^text\/plain; version=0\.0\.4/);
  assert.equal(m.get('grpc_server_started_total', unary('NotificationService', 'CreateNotification')), 2);
  assert.equal(m.get('grpc_server_handled_total', { ...unary('NotificationService', 'CreateNotification'), grpc_code: 'OK' }), 2);
  assert.equal(m.get('grpc_server_handled_total', { ...unary('PreferencesService', 'UpdatePreferences'), grpc_code: 'OK' }), 1);
  assert.equal(m.get('grpc_server_handled_total', { ...unary('DeliveryService', 'GetDelivery'), grpc_code: 'NotFound' }), 1);
  assert.equal(m.get('grpc_server_handling_seconds_count', unary('NotificationService', 'CreateNotification')), 2);
  assert.equal(m.get('grpc_server_handling_seconds_bucket', { ...unary('NotificationService', 'CreateNotification'), le: '+Inf' }), 2);
  assert.ok(m.get('grpc_server_handling_seconds_sum', unary('NotificationService', 'CreateNotification')) > 0);

  assert.equal(m.get('herald_notifications_total', { outcome: 'DELIVER', reason: 'ACCEPTED' }), 1);
  assert.equal(m.get('herald_notifications_total', { outcome: 'SUPPRESS', reason: 'WEBHOOK_DISABLED' }), 1);
  assert.equal(m.get('herald_delivery_attempts_total', { result: 'succeeded' }), 1);
  assert.equal(m.get('herald_delivery_attempt_duration_seconds_count'), 1);
  assert.equal(m.get('herald_delivery_attempt_duration_seconds_bucket', { le: '60' }), 1);

  assert.equal(m.get('herald_deliveries', { status: 'SUCCEEDED' }), 1);
  for (const status of ['PENDING', 'DELIVERING', 'FAILED', 'CANCELLED']) assert.equal(m.get('herald_deliveries', { status }), 0, status);
  assert.equal(m.get('herald_deliveries_due'), 0);
  assert.equal(m.get('herald_delivery_oldest_due_age_seconds'), 0);
  assert.equal(m.get('herald_delivery_claims_total'), 1);
  assert.equal(m.get('herald_database_up'), 1);
  assert.equal(m.get('herald_health_serving'), 1);
  for (const cause of ['gone', 'failures']) assert.equal(m.get('herald_endpoints_disabled_total', { cause }), 0, cause);

  // prom-client's default Node process metrics.
  assert.ok(m.get('process_cpu_user_seconds_total') > 0);
  assert.ok(m.get('process_resident_memory_bytes') > 0);
  assert.ok(m.samples.some((s) => s.name === 'nodejs_eventloop_lag_seconds'));
  assert.ok(m.samples.some((s) => s.name === 'nodejs_heap_size_used_bytes'));

  assert.doesNotMatch(m.text, /metrics-agent/, 'agent ids are never labels');
});

test('a failed attempt is counted by its error class, and the FAILED delivery by status', async (t) => {
  const { app, client } = await startHerald(t, { env: { HERALD_METRICS_ADDRESS: '127.0.0.1:0' } });
  const url = await receiverFor(t, [{ status: 400 }]);
  await client.preferences.UpdatePreferences({ preferences: { agent_id: 'metrics-400', enable_webhook: true, webhook_url: url } });
  const { deliveryId } = await create(client, 'metrics-400');
  await waitForStatus(client, deliveryId, 'DELIVERY_STATUS_FAILED');
  const m = await scrape(app.metricsPort!);
  assert.equal(m.get('herald_delivery_attempts_total', { result: 'http_status' }), 1);
  assert.equal(m.value('herald_delivery_attempts_total', { result: 'succeeded' }), undefined);
  assert.equal(m.get('herald_deliveries', { status: 'FAILED' }), 1);
});

test('the queue gauges count due deliveries and the age of the longest-waiting one (a process without a worker)', async (t) => {
  let now = Date.parse('2026-11-22T10:00:00Z');
  const { app, client } = await startHerald(t, { env: { HERALD_METRICS_ADDRESS: '127.0.0.1:0', HERALD_ROLE: 'api' }, clock: () => new Date(now) });
  const url = await receiverFor(t);
  await client.preferences.UpdatePreferences({ preferences: { agent_id: 'metrics-queue', enable_webhook: true, webhook_url: url } });
  await create(client, 'metrics-queue');
  now += 10_000;
  await create(client, 'metrics-queue');
  now += 30_000;
  const m = await scrape(app.metricsPort!);
  assert.equal(m.get('herald_deliveries', { status: 'PENDING' }), 2);
  assert.equal(m.get('herald_deliveries_due'), 2);
  assert.equal(m.get('herald_delivery_oldest_due_age_seconds'), 40);
  assert.equal(m.get('herald_delivery_claims_total'), 0, 'no worker here claims');
  assert.equal(m.get('herald_notifications_total', { outcome: 'DELIVER', reason: 'ACCEPTED' }), 2);
});

test('an endpoint switched off by a 410 is counted by its cause, without its id', async (t) => {
  const { app, client } = await startHerald(t, { env: { HERALD_METRICS_ADDRESS: '127.0.0.1:0' } });
  const url = await receiverFor(t, [{ status: 410, body: 'gone' }]);
  await client.preferences.UpdatePreferences({ preferences: { agent_id: 'metrics-gone', enable_webhook: true, webhook_url: url } });
  const { deliveryId } = await create(client, 'metrics-gone');
  await waitForStatus(client, deliveryId, 'DELIVERY_STATUS_FAILED');
  await eventually('the switch-off to be counted', async () => (await scrape(app.metricsPort!)).value('herald_endpoints_disabled_total', { cause: 'gone' }) === 1);
  const m = await scrape(app.metricsPort!);
  assert.equal(m.get('herald_endpoints_disabled_total', { cause: 'failures' }), 0);
  assert.doesNotMatch(m.text, /metrics-gone|ep_/, 'no agent or endpoint id in a label');
});

test('the health gauges follow the health monitor: database down and NOT_SERVING read 0', async () => {
  const state = { databaseUp: true, healthy: true };
  const metrics = new Metrics({
    readQueue: async () => ({ byStatus: { PENDING: 0, DELIVERING: 0, SUCCEEDED: 0, FAILED: 0, CANCELLED: 0 }, due: 0, oldestDueAt: null, heldByOrder: 0 }),
    clock: () => new Date(),
    log: createLogger('silent'),
    health: state,
  });
  const read = async (): Promise<Record<string, number | undefined>> => {
    const samples = parseExposition((await metrics.render()).body);
    const value = (name: string): number | undefined => samples.find((s) => s.name === name)?.value;
    return { up: value('herald_database_up'), serving: value('herald_health_serving') };
  };
  assert.deepEqual(await read(), { up: 1, serving: 1 });
  state.databaseUp = false;
  state.healthy = false;
  assert.deepEqual(await read(), { up: 0, serving: 0 });
  state.databaseUp = true;
  assert.deepEqual(await read(), { up: 1, serving: 0 }, 'writes still failing: up but not serving');
});

test('a WatchDeliveries stream is counted as a server stream, and CANCELLED when the client leaves', async (t) => {
  const { app, client } = await startHerald(t, { env: { HERALD_METRICS_ADDRESS: '127.0.0.1:0' } });
  const labels = { grpc_type: 'server_stream', grpc_service: 'herald.v1.DeliveryService', grpc_method: 'WatchDeliveries' };
  const stream = client.deliveries.WatchDeliveries({ agent_id: '' });
  stream.on('error', () => undefined);
  await eventually('the stream to start', async () => (await scrape(app.metricsPort!)).value('grpc_server_started_total', labels) === 1);
  stream.cancel();
  await eventually('the stream to be counted as handled', async () => (await scrape(app.metricsPort!)).value('grpc_server_handled_total', { ...labels, grpc_code: 'Canceled' }) === 1);
});

test('the metrics server answers only GET and HEAD on /metrics, and metrics are off unless configured', async (t) => {
  const { app } = await startHerald(t, { env: { HERALD_METRICS_ADDRESS: '127.0.0.1:0' } });
  assert.equal((await scrape(app.metricsPort!, '/')).status, 404);
  assert.equal((await fetch(`http://127.0.0.1:${app.metricsPort}/metrics`, { method: 'POST' })).status, 405);
  const head = await fetch(`http://127.0.0.1:${app.metricsPort}/metrics`, { method: 'HEAD' });
  assert.equal(head.status, 200);
  const off = await startHerald(t);
  assert.equal(off.app.metricsPort, null);
});
