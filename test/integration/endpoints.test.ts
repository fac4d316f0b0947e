import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test, type TestContext } from 'node:test';

import { Webhook } from 'standardwebhooks';
import { DEFAULT_ENDPOINT_RETRY_POLICY } from '../../src/domain/backoff.js';
import type { EndpointSettings } from '../../src/domain/endpoint.js';
import { waitForFinal } from '../helpers/deliveries.js';
import { cleanup, startHerald, TEST_DATABASE, type Herald } from '../helpers/herald.js';
import { startReceiver, type Receiver, type ReceiverStep, type RecordedRequest } from '../helpers/receiver.js';

/*
 * Issue #18, fan-out and delivery per endpoint, through the real gRPC API and
 * a real receiver. Endpoints are added with EndpointService's CreateEndpoint
 * and their secrets read with GetEndpointSecret.
 */

async function receiverFor(t: TestContext, script: readonly ReceiverStep[] = [], fallback?: ReceiverStep): Promise<Receiver> {
  const receiver = await startReceiver(script, fallback === undefined ? {} : { fallback });
  cleanup(t, () => receiver.close());
  return receiver;
}

function settings(url: string, over: Partial<EndpointSettings> = {}): EndpointSettings {
  return { description: '', url, enabled: true, eventTypes: [], filter: [], headers: {}, timeoutMs: null, retryPolicy: DEFAULT_ENDPOINT_RETRY_POLICY, overrides: {}, ordering: 'NONE', ...over };
}

/** Adds an endpoint through the API (the settings written as the domain has them); returns its id and its secret. */
async function addEndpoint(h: Herald, agentId: string, s: EndpointSettings): Promise<{ endpoint: { id: string }; secret: string }> {
  const o = s.overrides;
  const r = s.retryPolicy;
  const created = await h.client.endpoints.CreateEndpoint({
    endpoint: {
      agent_id: agentId,
      description: s.description,
      url: s.url,
      enabled: s.enabled,
      event_types: [...s.eventTypes],
      filter: s.filter.map((c) => ({ field: c.field, operator: `FILTER_OPERATOR_${c.operator}` as const, values: [...c.values] })),
      headers: { ...s.headers },
      ...(s.timeoutMs === null ? {} : { timeout_ms: s.timeoutMs }),
      retry_policy: {
        ...(r.maxAttempts === null ? {} : { max_attempts: r.maxAttempts }),
        ...(r.initialDelayMs === null ? {} : { initial_delay_ms: r.initialDelayMs }),
        ...(r.multiplier === null ? {} : { multiplier: r.multiplier }),
        ...(r.maxDelayMs === null ? {} : { max_delay_ms: r.maxDelayMs }),
      },
      overrides: {
        ...(o.quietHours === undefined
          ? {}
          : o.quietHours === null
            ? { no_quiet_hours: {} }
            : { quiet_hours: { start: o.quietHours.start, end: o.quietHours.end, policy: `QUIET_HOURS_POLICY_${o.quietHours.policy}` as const, urgent_bypass: o.quietHours.urgentBypass } }),
        ...(o.minPriority === undefined ? {} : { min_priority: o.minPriority === null ? ('PRIORITY_UNSPECIFIED' as const) : (`PRIORITY_${o.minPriority}` as const) }),
        ...(o.maxPerHour === undefined ? {} : { max_notifications_per_hour: o.maxPerHour }),
        ...(o.rateLimitPolicy === undefined ? {} : { rate_limit_policy: `RATE_LIMIT_POLICY_${o.rateLimitPolicy}` as const }),
      },
    },
  });
  const secret = (await h.client.endpoints.GetEndpointSecret({ id: created.id })).secret;
  return { endpoint: { id: created.id }, secret };
}

/** An agent with webhooks on and no 0.2 webhook_url: its endpoints are the ones added. */
async function agentWithoutUrl(h: Herald, agentId: string): Promise<void> {
  await h.client.preferences.UpdatePreferences({ preferences: { agent_id: agentId, enable_webhook: true } });
}

function assertSignedBy(secret: string, req: RecordedRequest): void {
  const flat = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
  assert.doesNotThrow(() => new Webhook(secret).verify(req.body.toString('utf8'), flat), 'standardwebhooks verifies with the endpoint secret');
  assert.equal(req.headers['x-herald-signature'], `sha256=${createHmac('sha256', secret).update(req.body).digest('hex')}`, 'the seed receivers\' hex recipe');
}

function notificationIdOf(req: RecordedRequest): string {
  return (JSON.parse(req.body.toString('utf8')) as { notification: { id: string } }).notification.id;
}

test('three endpoints (job.*, a metadata filter, quiet hours overridden with DIGEST) each receive exactly their webhooks, signed with their own secrets, and every response lists each endpoint\'s decision', async (t) => {
  const h = await startHerald(t);
  const receiver = await receiverFor(t);
  const agent = 'fan-out';
  await agentWithoutUrl(h, agent);
  const hour = new Date().getUTCHours();
  const pad = (n: number): string => String((n + 24) % 24).padStart(2, '0');
  const server = await addEndpoint(h, agent, settings(`${receiver.url}server`, { description: 'server', eventTypes: ['job.*'] }));
  const chat = await addEndpoint(h, agent, settings(`${receiver.url}chat`, { description: 'chat', filter: [{ field: 'metadata.channel', operator: 'EQUALS', values: ['ops'] }] }));
  const digest = await addEndpoint(
    h, agent,
    settings(`${receiver.url}digest`, { description: 'digest', overrides: { quietHours: { start: `${pad(hour - 1)}:00`, end: `${pad(hour + 2)}:00`, policy: 'DIGEST', urgentBypass: false } } }),
  );

  const create = (type: string, channel: string | null) =>
    h.client.notifications.CreateNotification({ agent_id: agent, notification_type: type, title: type, metadata: channel === null ? {} : { fields: { channel: { stringValue: channel } } } });
  const n1 = await create('job.done', 'ops');
  const n2 = await create('billing.paid', 'sales');
  const n3 = await create('job.started', null);

  const results = (r: typeof n1) => r.endpoint_results.map((e) => [e.endpoint_id, e.outcome, e.reason]);
  assert.deepEqual(results(n1), [
    [server.endpoint.id, 'DECISION_OUTCOME_DELIVER', 'DECISION_REASON_ACCEPTED'],
    [chat.endpoint.id, 'DECISION_OUTCOME_DELIVER', 'DECISION_REASON_ACCEPTED'],
    [digest.endpoint.id, 'DECISION_OUTCOME_DEFER', 'DECISION_REASON_QUIET_HOURS'],
  ]);
  assert.deepEqual(results(n2), [
    [server.endpoint.id, 'DECISION_OUTCOME_SUPPRESS', 'DECISION_REASON_TYPE_FILTERED'],
    [chat.endpoint.id, 'DECISION_OUTCOME_SUPPRESS', 'DECISION_REASON_FILTERED'],
    [digest.endpoint.id, 'DECISION_OUTCOME_DEFER', 'DECISION_REASON_QUIET_HOURS'],
  ]);
  assert.deepEqual(results(n3).map((r) => r[2]), ['DECISION_REASON_ACCEPTED', 'DECISION_REASON_FILTERED', 'DECISION_REASON_QUIET_HOURS']);
  // The summary 0.2 clients read: DELIVER when any endpoint delivers, with that endpoint's delivery; else the earliest DEFER.
  assert.deepEqual([n1.decision?.outcome, n1.decision?.delivery_id], ['DECISION_OUTCOME_DELIVER', n1.endpoint_results[0]!.delivery_id]);
  assert.deepEqual([n2.decision?.outcome, n2.decision?.reason, n2.decision?.delivery_id], ['DECISION_OUTCOME_DEFER', 'DECISION_REASON_QUIET_HOURS', n2.endpoint_results[2]!.delivery_id]);
  assert.match(n2.decision?.explanation ?? '', /^server: .*; chat: .*; digest: /);
  // One digest for the three, per endpoint.
  const digestIds = new Set([n1, n2, n3].map((n) => n.endpoint_results[2]!.delivery_id));
  assert.equal(digestIds.size, 1);
  const pendingDigest = await h.client.deliveries.GetDelivery({ id: [...digestIds][0]! });
  assert.deepEqual([pendingDigest.status, pendingDigest.event_type, pendingDigest.endpoint_id], ['DELIVERY_STATUS_PENDING', 'digest', digest.endpoint.id]);
  // GetNotification lists the same results.
  const read = await h.client.notifications.GetNotification({ id: n2.notification!.id });
  assert.deepEqual(read.endpoint_results.map((e) => [e.endpoint_id, e.reason, e.delivery_id]), n2.endpoint_results.map((e) => [e.endpoint_id, e.reason, e.delivery_id]));
  assert.match(read.endpoint_results[1]!.explanation, /metadata\.channel/);
  // EvaluateNotification explains each endpoint, enqueues nothing.
  const evaluated = await h.client.notifications.EvaluateNotification({ notification: { agent_id: agent, notification_type: 'job.x', title: 'x' } });
  assert.deepEqual(evaluated.endpoint_results.map((e) => [e.endpoint_id, e.reason, e.delivery_id]), [
    [server.endpoint.id, 'DECISION_REASON_ACCEPTED', ''],
    [chat.endpoint.id, 'DECISION_REASON_FILTERED', ''],
    [digest.endpoint.id, 'DECISION_REASON_QUIET_HOURS', ''],
  ]);

  for (const n of [n1, n3]) assert.equal((await waitForFinal(h.client, n.endpoint_results[0]!.delivery_id)).status, 'DELIVERY_STATUS_SUCCEEDED');
  assert.equal((await waitForFinal(h.client, n1.endpoint_results[1]!.delivery_id)).status, 'DELIVERY_STATUS_SUCCEEDED');
  const got = await receiver.waitForRequests(3);
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(receiver.requests.length, 3, 'exactly three webhooks: the digest waits for the end of its window');
  const byPath = (path: string) => got.filter((r) => r.path === path);
  assert.deepEqual(byPath('/server').map(notificationIdOf).sort(), [n1.notification!.id, n3.notification!.id].sort());
  assert.deepEqual(byPath('/chat').map(notificationIdOf), [n1.notification!.id]);
  for (const req of byPath('/server')) {
    assertSignedBy(server.secret, req);
    assert.equal(req.headers['x-herald-endpoint'], server.endpoint.id);
    assert.throws(() => assertSignedBy(chat.secret, req), 'another endpoint\'s secret does not verify it');
  }
  for (const req of byPath('/chat')) {
    assertSignedBy(chat.secret, req);
    assert.equal(req.headers['x-herald-endpoint'], chat.endpoint.id);
  }
});

test('an endpoint with a limit of its own is exact under 100 concurrent creates, and the agent\'s other endpoint takes every one', async (t) => {
  const h = await startHerald(t, { env: { HERALD_WORKER: 'false' } });
  const agent = 'own-limit';
  await agentWithoutUrl(h, agent);
  const limited = await addEndpoint(h, agent, settings('https://limited.example.com/hook', { overrides: { maxPerHour: 7 } }));
  const open = await addEndpoint(h, agent, settings('https://open.example.com/hook'));
  const created = await Promise.all(
    Array.from({ length: 100 }, (_, i) => h.client.notifications.CreateNotification({ agent_id: agent, notification_type: 'job.done', title: `n${i}` })),
  );
  const outcome = (id: string) => created.map((c) => c.endpoint_results.find((e) => e.endpoint_id === id)?.reason);
  assert.equal(outcome(limited.endpoint.id).filter((r) => r === 'DECISION_REASON_ACCEPTED').length, 7);
  assert.equal(outcome(limited.endpoint.id).filter((r) => r === 'DECISION_REASON_RATE_LIMITED').length, 93);
  assert.equal(outcome(open.endpoint.id).filter((r) => r === 'DECISION_REASON_ACCEPTED').length, 100);
  // Every summary delivers (the open endpoint), and each notification counts once toward the agent's (unlimited) sequence.
  assert.ok(created.every((c) => c.decision?.outcome === 'DECISION_OUTCOME_DELIVER'));
});

test('each endpoint follows its own retry policy, and one that keeps failing leaves the agent\'s others delivering', async (t) => {
  const h = await startHerald(t, { env: { WEBHOOK_MAX_RETRIES: '5' } });
  const broken = await receiverFor(t, [], { status: 500, body: 'down' });
  const healthy = await receiverFor(t);
  const agent = 'retries';
  await agentWithoutUrl(h, agent);
  const twice = await addEndpoint(h, agent, settings(broken.url, { description: 'twice', retryPolicy: { maxAttempts: 2, initialDelayMs: 10, multiplier: 1, maxDelayMs: 50 } }));
  const good = await addEndpoint(h, agent, settings(healthy.url, { description: 'good' }));
  const created = await h.client.notifications.CreateNotification({ agent_id: agent, notification_type: 'job.done', title: 'x' });
  const failed = await waitForFinal(h.client, created.endpoint_results[0]!.delivery_id);
  assert.deepEqual([failed.status, failed.attempt_count, failed.endpoint_id], ['DELIVERY_STATUS_FAILED', 2, twice.endpoint.id]);
  const ok = await waitForFinal(h.client, created.endpoint_results[1]!.delivery_id);
  assert.deepEqual([ok.status, ok.endpoint_id], ['DELIVERY_STATUS_SUCCEEDED', good.endpoint.id]);
  assert.equal(broken.requests.length, 2, 'the endpoint\'s max_attempts, not the service\'s 6');
});

test('a 410 from one endpoint turns off that endpoint only: its next notifications are suppressed for it, the agent\'s other endpoint and its master switch stay on', async (t) => {
  const h = await startHerald(t);
  const gone = await receiverFor(t, [], { status: 410, body: 'gone' });
  const healthy = await receiverFor(t);
  const agent = 'gone-one';
  await agentWithoutUrl(h, agent);
  const dead = await addEndpoint(h, agent, settings(gone.url, { description: 'dead' }));
  const alive = await addEndpoint(h, agent, settings(healthy.url, { description: 'alive' }));
  const first = await h.client.notifications.CreateNotification({ agent_id: agent, notification_type: 'job.done', title: 'one' });
  const failed = await waitForFinal(h.client, first.endpoint_results[0]!.delivery_id);
  assert.deepEqual([failed.status, failed.endpoint_id], ['DELIVERY_STATUS_FAILED', dead.endpoint.id]);
  assert.equal((await waitForFinal(h.client, first.endpoint_results[1]!.delivery_id)).status, 'DELIVERY_STATUS_SUCCEEDED');

  const second = await h.client.notifications.CreateNotification({ agent_id: agent, notification_type: 'job.done', title: 'two' });
  assert.deepEqual(second.endpoint_results.map((e) => [e.endpoint_id, e.outcome, e.reason]), [
    [dead.endpoint.id, 'DECISION_OUTCOME_SUPPRESS', 'DECISION_REASON_WEBHOOK_DISABLED'],
    [alive.endpoint.id, 'DECISION_OUTCOME_DELIVER', 'DECISION_REASON_ACCEPTED'],
  ]);
  assert.match(second.endpoint_results[0]!.explanation, /disabled by Herald: .*410/);
  assert.equal((await waitForFinal(h.client, second.endpoint_results[1]!.delivery_id)).status, 'DELIVERY_STATUS_SUCCEEDED');
  assert.equal(gone.requests.length, 1);
  assert.equal(healthy.requests.length, 2);
  assert.equal((await h.client.preferences.GetPreferences({ agent_id: agent })).enable_webhook, true, 'the master switch stays on');
});

test('the in-flight cap is per endpoint: an endpoint whose receiver hangs holds its own leases, and the agent\'s other endpoint keeps delivering', async (t) => {
  const h = await startHerald(t, { env: { HERALD_AGENT_MAX_IN_FLIGHT: '2', HERALD_WORKER_CONCURRENCY: '8' } });
  const stuck = await receiverFor(t, [], { hang: true });
  const healthy = await receiverFor(t);
  const agent = 'in-flight';
  await agentWithoutUrl(h, agent);
  await addEndpoint(h, agent, settings(stuck.url, { description: 'stuck', timeoutMs: 30_000 }));
  const good = await addEndpoint(h, agent, settings(healthy.url, { description: 'good' }));
  const created = [];
  for (let i = 0; i < 4; i++) created.push(await h.client.notifications.CreateNotification({ agent_id: agent, notification_type: 'job.done', title: `n${i}` }));
  for (const c of created) {
    // Well before the stuck endpoint's sends time out and free their leases.
    const d = await waitForFinal(h.client, c.endpoint_results[1]!.delivery_id, 8_000);
    assert.deepEqual([d.status, d.endpoint_id], ['DELIVERY_STATUS_SUCCEEDED', good.endpoint.id]);
  }
  assert.equal(stuck.maxConcurrent(), 2, 'the stuck endpoint holds at most its own cap');
});

test('three replicas on PostgreSQL: an endpoint\'s own limit and the agent\'s stay exact under 100 concurrent creates spread over them', { skip: TEST_DATABASE === 'postgresql' ? false : 'needs PostgreSQL (runs in test/postgres/endpoints.test.ts)' }, async (t) => {
  const first = await startHerald(t, { env: { HERALD_WORKER: 'false' } });
  const others = await Promise.all([0, 1].map(() => startHerald(t, { env: { HERALD_WORKER: 'false', DATABASE_URL: first.env.DATABASE_URL! } })));
  const replicas = [first, ...others];
  const agent = 'replicas';
  await first.client.preferences.UpdatePreferences({ preferences: { agent_id: agent, enable_webhook: true, max_notifications_per_hour: 40 } });
  const limited = await addEndpoint(first, agent, settings('https://limited.example.com/hook', { overrides: { maxPerHour: 9 } }));
  const shared = await addEndpoint(first, agent, settings('https://shared.example.com/hook'));
  const created = await Promise.all(
    Array.from({ length: 100 }, (_, i) => replicas[i % 3]!.client.notifications.CreateNotification({ agent_id: agent, notification_type: 'job.done', title: `n${i}` })),
  );
  const accepted = (id: string) => created.filter((c) => c.endpoint_results.find((e) => e.endpoint_id === id)?.reason === 'DECISION_REASON_ACCEPTED').length;
  assert.equal(accepted(limited.endpoint.id), 9, 'the endpoint\'s own limit');
  assert.equal(accepted(shared.endpoint.id), 40, 'the agent\'s limit, which the other endpoint shares');
});

test('a 410 on the agent\'s first endpoint (its 0.2 webhook) reads back as 0.2 did, and its other endpoint keeps delivering', async (t) => {
  const h = await startHerald(t);
  const gone = await receiverFor(t, [], { status: 410, body: 'gone' });
  const healthy = await receiverFor(t);
  const agent = 'first-gone';
  await h.client.preferences.UpdatePreferences({ preferences: { agent_id: agent, enable_webhook: true, webhook_url: gone.url } });
  const other = await addEndpoint(h, agent, settings(healthy.url, { description: 'other' }));
  const first = await h.client.notifications.CreateNotification({ agent_id: agent, notification_type: 'job.done', title: 'one' });
  assert.equal((await waitForFinal(h.client, first.endpoint_results[0]!.delivery_id)).status, 'DELIVERY_STATUS_FAILED');
  const prefs = await h.client.preferences.GetPreferences({ agent_id: agent });
  assert.equal(prefs.enable_webhook, false, '0.2 clients see the webhook off');
  assert.match(prefs.webhook_disabled_reason, /410/);
  const second = await h.client.notifications.CreateNotification({ agent_id: agent, notification_type: 'job.done', title: 'two' });
  assert.deepEqual(second.endpoint_results.map((e) => e.reason), ['DECISION_REASON_WEBHOOK_DISABLED', 'DECISION_REASON_ACCEPTED']);
  assert.equal(second.endpoint_results[0]!.explanation, 'the agent has webhooks turned off (enable_webhook is false)', "0.2's words for its webhook");
  assert.equal(second.endpoint_results[1]!.endpoint_id, other.endpoint.id);
  assert.equal((await waitForFinal(h.client, second.endpoint_results[1]!.delivery_id)).status, 'DELIVERY_STATUS_SUCCEEDED');
  // enable_webhook: true turns the first endpoint back on.
  await h.client.preferences.UpdatePreferences({ preferences: { agent_id: agent, enable_webhook: true }, update_mask: { paths: ['enable_webhook'] } });
  const third = await h.client.notifications.CreateNotification({ agent_id: agent, notification_type: 'job.done', title: 'three' });
  assert.deepEqual(third.endpoint_results.map((e) => e.reason), ['DECISION_REASON_ACCEPTED', 'DECISION_REASON_ACCEPTED']);
});
