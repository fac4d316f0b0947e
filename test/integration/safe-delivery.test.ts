/**
 * Safe and fair delivery (issue #8) through the real API: one agent's
 * hanging receiver does not hold up another agent, the per-agent cap holds
 * across three replicas on PostgreSQL, an endpoint that keeps failing is
 * turned off, Retry-After cannot make Herald retry faster than the floor,
 * ReplayDeliveries schedules deliveries again under their ids, and on
 * PostgreSQL leases and "due" follow the database's clock.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { status } from '@grpc/grpc-js';
import type { HeraldClient } from '../../src/client.js';
import type { DeliveryEvent__Output } from '../../src/generated/proto/herald/v1/DeliveryEvent.js';
import { eventually, spawnHerald, tempDir } from '../helpers/child-herald.js';
import { DEFAULT_TENANT } from '../../src/auth/tenant.js';
import type { ReplayFilter } from '../../src/storage/delivery-queue.js';
import { codeOf, freshDatabaseUrl, makeDueOnDatabaseClock, startHerald, TEST_DATABASE, withDatabase } from '../helpers/herald.js';
import { startReceiver, type Receiver, type ReceiverOptions, type ReceiverStep } from '../helpers/receiver.js';
import { waitForFinal } from '../helpers/deliveries.js';

/** Long enough for a slow, loaded 2-core machine; a passing run needs a fraction of it. */
const DEADLINE_MS = 20_000;
const needsPostgres = TEST_DATABASE === 'postgresql' ? false : 'needs PostgreSQL (runs in test/postgres/safe-delivery.test.ts)';

let agentSeq = 0;
function agentId(label: string): string {
  agentSeq += 1;
  return `safe-${label}-${process.pid}-${agentSeq}`;
}

async function receiverFor(t: TestContext, script: readonly ReceiverStep[] = [], options: ReceiverOptions = {}): Promise<Receiver> {
  const receiver = await startReceiver(script, options);
  t.after(() => receiver.close());
  return receiver;
}

async function enable(client: HeraldClient, agent: string, url: string): Promise<void> {
  await client.preferences.UpdatePreferences({ preferences: { agent_id: agent, enable_webhook: true, webhook_url: url } });
}

async function notify(client: HeraldClient, agent: string): Promise<string> {
  const res = await client.notifications.CreateNotification({ agent_id: agent, notification_type: 'job.completed', title: 'Job finished' });
  assert.equal(res.decision?.outcome, 'DECISION_OUTCOME_DELIVER', res.decision?.explanation);
  return res.decision?.delivery_id ?? '';
}


function ms(ts: { seconds?: string | number | { toString(): string } | null; nanos?: number | null } | null | undefined): number {
  return Number(String(ts?.seconds ?? 0)) * 1000 + Math.floor((ts?.nanos ?? 0) / 1e6);
}

test("an agent whose receiver hangs holds at most HERALD_AGENT_MAX_IN_FLIGHT slots: another agent's webhook still goes out at once", async (t) => {
  // 30 s timeouts and 40 queued deliveries: before the cap, the hanging agent took every slot.
  const { client } = await startHerald(t, { env: { WEBHOOK_TIMEOUT: '30', HERALD_WORKER_CONCURRENCY: '16' } });
  const hanging = await receiverFor(t, [], { fallback: { hang: true } });
  const healthy = await receiverFor(t);
  const slow = agentId('hanging');
  const other = agentId('healthy');
  await enable(client, slow, hanging.url);
  await enable(client, other, healthy.url);
  for (let i = 0; i < 40; i++) await notify(client, slow);
  await hanging.waitForRequests(4, DEADLINE_MS);

  const id = await notify(client, other);
  // Far below the 30 s a freed slot would take: only a slot kept free by the cap can serve it.
  await healthy.waitForRequests(1, 5_000);
  assert.equal((await waitForFinal(client, id)).status, 'DELIVERY_STATUS_SUCCEEDED');
  assert.equal(hanging.requests.length, 4, 'the hanging agent got exactly its cap of sends, no more');
  assert.equal(hanging.maxConcurrent(), 4);
});

test('three replicas on PostgreSQL together never exceed the per-agent cap', { skip: needsPostgres }, async (t) => {
  const dir = tempDir(t);
  const databaseUrl = await freshDatabaseUrl(t, dir);
  const env = { DATABASE_URL: databaseUrl, HERALD_AGENT_MAX_IN_FLIGHT: '2', HERALD_WORKER_CONCURRENCY: '16', HERALD_POLL_MS: '100', HERALD_LOG_LEVEL: 'warn' };
  const first = await spawnHerald(t, { dir, env: { ...env, HERALD_LOG_LEVEL: 'info' } });
  const rest = await Promise.all([0, 1].map(() => spawnHerald(t, { dir, env: { ...env, HERALD_LOG_LEVEL: 'info' } })));
  const replicas = [first, ...rest];
  // Slow answers keep sends overlapping, so that an over-claim would show.
  const receiver = await receiverFor(t, [], { fallback: { status: 200, body: 'ok', delayMs: 150 } });
  const agent = agentId('replicas');
  await enable(first.client, agent, receiver.url);
  const ids: string[] = [];
  for (let i = 0; i < 30; i++) ids.push(await notify(replicas[i % 3]!.client, agent));
  await receiver.waitForRequests(30, 60_000);
  for (const id of ids) assert.equal((await waitForFinal(first.client, id)).status, 'DELIVERY_STATUS_SUCCEEDED');
  assert.ok(receiver.maxConcurrent() <= 2, `at most 2 sends of the agent at once across the replicas, saw ${receiver.maxConcurrent()}`);
  assert.equal(receiver.maxConcurrent(), 2, 'the cap is a limit, not a queue of one');
});

test('HERALD_DISABLE_AFTER_FAILURES=3: three FAILED deliveries in a row turn the webhook off with a reason and an event; a success in between resets the count', async (t) => {
  const { client } = await startHerald(t, { env: { HERALD_DISABLE_AFTER_FAILURES: '3', WEBHOOK_MAX_RETRIES: '0' } });
  const fail: ReceiverStep = { status: 500, body: 'down' };
  const receiver = await receiverFor(t, [fail, fail, { status: 200, body: 'ok' }, fail, fail, fail]);
  const agent = agentId('disable');
  await enable(client, agent, receiver.url);
  const events: DeliveryEvent__Output[] = [];
  const stream = client.deliveries.WatchDeliveries({ agent_id: agent });
  stream.on('data', (e: DeliveryEvent__Output) => events.push(e));
  stream.on('error', () => undefined);
  t.after(() => stream.cancel());
  const expected = ['FAILED', 'FAILED', 'SUCCEEDED', 'FAILED', 'FAILED'];
  for (const [i, want] of expected.entries()) {
    const id = await notify(client, agent);
    assert.equal((await waitForFinal(client, id)).status, `DELIVERY_STATUS_${want}`, `delivery ${i + 1}`);
    const prefs = await client.preferences.GetPreferences({ agent_id: agent });
    assert.equal(prefs.enable_webhook, true, `still on after delivery ${i + 1} (the success reset the count)`);
  }
  const third = await notify(client, agent);
  assert.equal((await waitForFinal(client, third)).status, 'DELIVERY_STATUS_FAILED');
  const prefs = await client.preferences.GetPreferences({ agent_id: agent });
  assert.equal(prefs.enable_webhook, false);
  assert.match(prefs.webhook_disabled_reason, /3 deliveries in a row ended FAILED/);
  const disabled = await eventually('the agent_disabled event', () => events.find((e) => e.agent_disabled != null)?.agent_disabled ?? undefined, DEADLINE_MS);
  assert.equal(disabled.agent_id, agent);
  assert.equal(disabled.consecutive_failures, 3);
  assert.equal(disabled.reason, prefs.webhook_disabled_reason);
  const after = await client.notifications.CreateNotification({ agent_id: agent, notification_type: 'job.completed', title: 'After' });
  assert.equal(after.decision?.reason, 'DECISION_REASON_WEBHOOK_DISABLED');

  // Turned back on, the count starts again: one more failure does not turn it off.
  await client.preferences.UpdatePreferences({ preferences: { agent_id: agent, enable_webhook: true } });
  receiver.setScript([fail]);
  assert.equal((await waitForFinal(client, await notify(client, agent))).status, 'DELIVERY_STATUS_FAILED');
  const back = await client.preferences.GetPreferences({ agent_id: agent });
  assert.equal(back.enable_webhook, true);
  assert.equal(back.webhook_disabled_reason, '');
});

test('HERALD_DISABLE_AFTER_FAILURES=0 never turns the webhook off', async (t) => {
  const { client } = await startHerald(t, { env: { HERALD_DISABLE_AFTER_FAILURES: '0', WEBHOOK_MAX_RETRIES: '0' } });
  const receiver = await receiverFor(t, [], { fallback: { status: 500, body: 'down' } });
  const agent = agentId('never');
  await enable(client, agent, receiver.url);
  for (let i = 0; i < 3; i++) assert.equal((await waitForFinal(client, await notify(client, agent))).status, 'DELIVERY_STATUS_FAILED');
  assert.equal((await client.preferences.GetPreferences({ agent_id: agent })).enable_webhook, true);
});

for (const [label, answer] of [
  ['429', { status: 429, headers: { 'retry-after': '0' }, body: 'slow down' }],
  ['503', { status: 503, headers: { 'retry-after': '0' }, body: 'later' }],
] as const) {
  test(`a ${label} with Retry-After: 0 is retried no sooner than HERALD_RETRY_MIN_DELAY_MS`, async (t) => {
    const { client } = await startHerald(t, { env: { HERALD_RETRY_MIN_DELAY_MS: '1500' } });
    const receiver = await receiverFor(t, [answer]);
    const agent = agentId(`floor-${label}`);
    await enable(client, agent, receiver.url);
    const delivery = await waitForFinal(client, await notify(client, agent));
    assert.equal(delivery.status, 'DELIVERY_STATUS_SUCCEEDED');
    const [first, second] = delivery.attempts;
    assert.equal(first?.status_code, Number(label));
    const gap = ms(second?.started_at) - ms(first?.started_at);
    assert.ok(gap >= 1_500, `the retry came ${gap} ms after the first attempt, before the 1500 ms floor`);
  });
}

test('a timeout is retried no sooner than HERALD_RETRY_MIN_DELAY_MS, although the base backoff is 50 ms', async (t) => {
  const { client } = await startHerald(t, { env: { HERALD_RETRY_MIN_DELAY_MS: '1500' } });
  const receiver = await receiverFor(t, [{ hang: true }]);
  const agent = agentId('floor-timeout');
  await client.preferences.UpdatePreferences({ preferences: { agent_id: agent, enable_webhook: true, webhook_url: receiver.url, webhook_timeout_ms: 200 } });
  const delivery = await waitForFinal(client, await notify(client, agent));
  assert.equal(delivery.status, 'DELIVERY_STATUS_SUCCEEDED');
  const [first, second] = delivery.attempts;
  // The receiver is on loopback: the guard reports its timeout as `unreachable`, never as a port that answered.
  assert.equal(first?.error_class, 'unreachable');
  const gap = ms(second?.started_at) - (ms(first?.started_at) + (first?.duration_ms ?? 0));
  assert.ok(gap >= 1_490, `the retry came ${gap} ms after the timeout, before the 1500 ms floor`);
});

test('ReplayDeliveries schedules an agent\'s FAILED deliveries again with the same ids and bodies, once', async (t) => {
  const { client } = await startHerald(t, { env: { WEBHOOK_MAX_RETRIES: '0', HERALD_DISABLE_AFTER_FAILURES: '0' } });
  const fail: ReceiverStep = { status: 500, body: 'outage' };
  const receiver = await receiverFor(t, [fail, fail, fail]);
  const agent = agentId('replay');
  const bystander = agentId('replay-other');
  await enable(client, agent, receiver.url);
  await enable(client, bystander, receiver.url);
  const since = new Date(Date.now() - 1_000);
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) {
    const id = await notify(client, agent);
    assert.equal((await waitForFinal(client, id)).status, 'DELIVERY_STATUS_FAILED');
    ids.push(id);
  }
  const firstBodies = new Map(receiver.requests.map((r) => [String(r.headers['x-herald-delivery']), r.body.toString('utf8')]));
  const okId = await notify(client, agent);
  assert.equal((await waitForFinal(client, okId)).status, 'DELIVERY_STATUS_SUCCEEDED');

  const replayed = await client.deliveries.ReplayDeliveries({ agent_id: agent, since: { seconds: Math.floor(since.getTime() / 1000) } });
  assert.equal(replayed.scheduled, 3);
  const again = await client.deliveries.ReplayDeliveries({ agent_id: agent, since: { seconds: Math.floor(since.getTime() / 1000) } });
  assert.equal(again.scheduled, 0, 'nothing is scheduled twice');

  for (const id of ids) {
    const d = await waitForFinal(client, id);
    assert.equal(d.status, 'DELIVERY_STATUS_SUCCEEDED');
    assert.deepEqual(d.attempts.map((a) => a.number), [1, 2], 'the attempts continue the same delivery');
  }
  const resent = receiver.requests.slice(4);
  assert.deepEqual(resent.map((r) => String(r.headers['x-herald-delivery'])).sort(), [...ids].sort());
  for (const r of resent) {
    const id = String(r.headers['x-herald-delivery']);
    assert.equal(r.body.toString('utf8'), firstBodies.get(id), 'the same body bytes');
    assert.equal(r.headers['webhook-id'], id);
  }
});

test('ReplayDeliveries refuses what it cannot do, with messages naming the field', async (t) => {
  const { client } = await startHerald(t);
  const receiver = await receiverFor(t);
  const agent = agentId('replay-bad');
  await enable(client, agent, receiver.url);
  const since = { seconds: Math.floor(Date.now() / 1000) - 60 };
  const cases: Array<[string, Parameters<HeraldClient['deliveries']['ReplayDeliveries']>[0], number, RegExp]> = [
    ['no agent', { since }, status.INVALID_ARGUMENT, /agent_id: is required/],
    ['no since', { agent_id: agent }, status.INVALID_ARGUMENT, /since: is required/],
    ['since after until', { agent_id: agent, since, until: { seconds: since.seconds - 10 } }, status.INVALID_ARGUMENT, /until: must be after since/],
    ['since in the future', { agent_id: agent, since: { seconds: since.seconds + 3_600 } }, status.INVALID_ARGUMENT, /since: must be in the past/],
    ['a status that is not replayable', { agent_id: agent, since, status: 'DELIVERY_STATUS_SUCCEEDED' }, status.INVALID_ARGUMENT, /status: SUCCEEDED deliveries cannot be replayed; use one of FAILED, CANCELLED/],
    ['an unknown agent', { agent_id: agentId('nobody'), since }, status.NOT_FOUND, /preferences for agent/],
  ];
  for (const [what, request, code, message] of cases) {
    const err = await codeOf(client.deliveries.ReplayDeliveries(request));
    assert.equal(err.code, code, `${what}: ${err.details}`);
    assert.match(err.details, message, what);
  }
  await client.preferences.UpdatePreferences({ preferences: { agent_id: agent, enable_webhook: false } });
  const off = await codeOf(client.deliveries.ReplayDeliveries({ agent_id: agent, since }));
  assert.equal(off.code, status.FAILED_PRECONDITION);
  assert.match(off.details, /webhooks turned off \(enable_webhook\)/);
});

test("the queue's replay by id schedules only that delivery, beside another FAILED one created in the same millisecond, and nothing of another tenant or status", async (t) => {
  const frozen = new Date(Date.now() - 60_000);
  const herald = await startHerald(t, { clock: () => frozen, env: { WEBHOOK_MAX_RETRIES: '0', HERALD_DISABLE_AFTER_FAILURES: '0' } });
  const { client, app } = herald;
  const receiver = await receiverFor(t, [{ status: 500 }, { status: 500 }]);
  const agent = agentId('replay-one');
  await enable(client, agent, receiver.url);
  const ids: string[] = [];
  for (let i = 0; i < 2; i++) {
    const id = await notify(client, agent);
    await makeDueOnDatabaseClock(herald, id);
    ids.push(id);
  }
  const [chosen, twin] = ids as [string, string];
  for (const id of ids) assert.equal((await waitForFinal(client, id)).status, 'DELIVERY_STATUS_FAILED');
  const endpointIds = [(await client.deliveries.GetDelivery({ id: chosen })).endpoint_id];
  const replay = (filter: Omit<ReplayFilter, 'agentId'>): Promise<number> => app.store.writeForAgent({ tenantId: filter.tenantId, agentId: agent }, (r) => r.queue.replay({ agentId: agent, ...filter }, frozen));

  assert.equal(await replay({ tenantId: 'other', status: 'FAILED', which: { id: chosen }, endpointIds }), 0, "another tenant's id");
  assert.equal(await replay({ tenantId: DEFAULT_TENANT, status: 'CANCELLED', which: { id: chosen }, endpointIds }), 0, 'not in that status');
  assert.equal(await replay({ tenantId: DEFAULT_TENANT, status: 'FAILED', which: { id: chosen }, endpointIds }), 1);
  assert.equal(await replay({ tenantId: DEFAULT_TENANT, status: 'FAILED', which: { id: chosen }, endpointIds }), 0, 'nothing is scheduled twice');
  await makeDueOnDatabaseClock(herald, chosen);
  const replayed = await waitForFinal(client, chosen);
  assert.equal(replayed.status, 'DELIVERY_STATUS_SUCCEEDED');
  assert.deepEqual(replayed.attempts.map((a) => a.number), [1, 2]);
  assert.equal((await client.deliveries.GetDelivery({ id: twin })).status, 'DELIVERY_STATUS_FAILED');
  // The twin is in the chosen one's millisecond: the window form, ReplayDeliveries', takes it.
  const until = new Date(frozen.getTime() + 1);
  assert.equal(await replay({ tenantId: DEFAULT_TENANT, status: 'FAILED', which: { since: frozen, until }, endpointIds }), 1);
  assert.deepEqual(receiver.requests.slice(2, 3).map((r) => r.headers['x-herald-delivery']), [chosen]);
});

test('on PostgreSQL a replica whose clock runs 10 minutes ahead neither takes over a live lease nor sends a delivery early', { skip: needsPostgres }, async (t) => {
  const api = await startHerald(t, { env: { HERALD_ROLE: 'api' } });
  const { client } = api;
  const held = await receiverFor(t);
  const marker = await receiverFor(t);
  const agent = agentId('clock');
  const markerAgent = agentId('clock-marker');
  await enable(client, agent, held.url);
  await enable(client, markerAgent, marker.url);
  const leased = await notify(client, agent);
  const early = await notify(client, agent);
  // By the database's clock: one lease live for 2 more minutes, one delivery due in 2 minutes.
  await withDatabase(api, async (db) => {
    await db.query(
      `UPDATE deliveries SET status = 'DELIVERING', lease_owner = 'another-replica', attempt_count = 1,
              lease_expires_at = (now() AT TIME ZONE 'UTC') + interval '2 minutes' WHERE id = $1`,
      [leased],
    );
    await db.query(`UPDATE deliveries SET next_attempt_at = (now() AT TIME ZONE 'UTC') + interval '2 minutes' WHERE id = $1`, [early]);
  });
  const skewed = (): Date => new Date(Date.now() + 10 * 60_000);
  await startHerald(t, { clock: skewed, env: { DATABASE_URL: api.env.DATABASE_URL!, HERALD_ROLE: 'worker', HERALD_POLL_MS: '100' } });

  // The skewed worker's claims run: it sends a delivery that is due...
  const markerId = await notify(client, markerAgent);
  assert.equal((await waitForFinal(client, markerId)).status, 'DELIVERY_STATUS_SUCCEEDED');
  // ...and, in the same claims, left the other two alone.
  assert.equal(held.requests.length, 0);
  const a = await client.deliveries.GetDelivery({ id: leased });
  assert.equal(a.status, 'DELIVERY_STATUS_DELIVERING');
  assert.equal(a.attempt_count, 1);
  const b = await client.deliveries.GetDelivery({ id: early });
  assert.equal(b.status, 'DELIVERY_STATUS_PENDING');
  assert.equal(b.attempt_count, 0);
});

test('a worker sends to the URL written by another process before the claim, even while it holds that agent\'s target in its cache', async (t) => {
  // Two processes' worth of Herald on one database: the API process's
  // writes reach the worker's cache by no event (no NOTIFY on SQLite), so
  // only the rule "read since the claim" keeps the worker from the old URL.
  const api = await startHerald(t, { env: { HERALD_ROLE: 'api' } });
  const { client } = api;
  await startHerald(t, { env: { DATABASE_URL: api.env.DATABASE_URL!, HERALD_ROLE: 'worker', HERALD_POLL_MS: '50' } });
  const before = await receiverFor(t);
  const after = await receiverFor(t);
  const moved = agentId('moved');
  const other = agentId('beside');
  await enable(client, moved, before.url);
  await enable(client, other, before.url);
  // One claimed batch of two agents: the worker reads both targets and caches them.
  const first = await Promise.all([notify(client, moved), notify(client, other)]);
  for (const id of first) assert.equal((await waitForFinal(client, id)).status, 'DELIVERY_STATUS_SUCCEEDED');

  await enable(client, moved, after.url);
  const second = await notify(client, moved);
  assert.equal((await waitForFinal(client, second)).status, 'DELIVERY_STATUS_SUCCEEDED');
  assert.equal(after.requests.length, 1, 'the webhook after the move went to the new URL');
  assert.equal(before.requests.filter((r) => r.headers['x-herald-delivery'] === second).length, 0);
});
