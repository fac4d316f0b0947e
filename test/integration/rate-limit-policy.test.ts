/**
 * rate_limit_policy through the real API: over the hourly limit, DEFER holds
 * a notification until the rolling window has room instead of dropping it.
 * The injected clock is set in the future, so that on PostgreSQL (where
 * "due" is the database's clock) nothing is due before the test says so.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { status } from '@grpc/grpc-js';
import type { HeraldClient } from '../../src/client.js';
import type { CreateNotificationResponse__Output } from '../../src/generated/proto/herald/v1/CreateNotificationResponse.js';
import type { RateLimitPolicy } from '../../src/generated/proto/herald/v1/RateLimitPolicy.js';
import type { Timestamp__Output } from '../../src/generated/proto/google/protobuf/Timestamp.js';
import { codeOf, makeDueOnDatabaseClock, startHerald, type Herald } from '../helpers/herald.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { DELIVERY_DEADLINE_MS, waitForFinal } from '../helpers/deliveries.js';

const MINUTE = 60_000;
const T0 = Date.parse('2027-02-01T10:00:00Z');

function ms(ts: Timestamp__Output | null | undefined): number {
  assert.ok(ts, 'timestamp missing');
  return ts.seconds * 1000 + Math.floor(ts.nanos / 1e6);
}

async function setUp(t: TestContext, clock: { now: number }, policy: RateLimitPolicy): Promise<{ herald: Herald; receiver: Receiver; agent: string }> {
  const herald = await startHerald(t, { clock: () => new Date(clock.now) });
  const receiver = await startReceiver();
  t.after(() => receiver.close());
  const agent = `rate-${Math.random().toString(36).slice(2, 10)}`;
  await herald.client.preferences.UpdatePreferences({
    preferences: { agent_id: agent, enable_webhook: true, webhook_url: receiver.url, max_notifications_per_hour: 3, rate_limit_policy: policy },
  });
  return { herald, receiver, agent };
}

function create(client: HeraldClient, agent: string, title: string): Promise<CreateNotificationResponse__Output> {
  return client.notifications.CreateNotification({ agent_id: agent, notification_type: 'job.completed', title });
}

function notificationIdOf(body: Buffer): string {
  return (JSON.parse(body.toString('utf8')) as { notification: { id: string } }).notification.id;
}

test('rate_limit_policy DEFER: over the limit a notification is DEFER / RATE_LIMITED until the oldest counted webhook leaves the window, and each is sent once, in order', async (t) => {
  const clock = { now: T0 };
  const { herald, receiver, agent } = await setUp(t, clock, 'RATE_LIMIT_POLICY_DEFER');
  const { client } = herald;

  const sent: CreateNotificationResponse__Output[] = [];
  for (let i = 0; i < 3; i++) {
    const r = await create(client, agent, `now ${i}`);
    assert.equal(r.decision?.outcome, 'DECISION_OUTCOME_DELIVER', r.decision?.explanation);
    sent.push(r);
    await makeDueOnDatabaseClock(herald, r.decision?.delivery_id ?? '');
    await receiver.waitForRequests(i + 1, DELIVERY_DEADLINE_MS);
    clock.now += MINUTE;
  }

  // 10:03 to 10:06: four over the limit. Slots: 11:00, 11:01, 11:02 (the three sent leave), then 12:00 (the first deferred leaves).
  const deferred: CreateNotificationResponse__Output[] = [];
  for (let i = 0; i < 4; i++) {
    const r = await create(client, agent, `later ${i}`);
    assert.equal(r.decision?.outcome, 'DECISION_OUTCOME_DEFER', r.decision?.explanation);
    assert.equal(r.decision?.reason, 'DECISION_REASON_RATE_LIMITED');
    deferred.push(r);
    clock.now += MINUTE;
  }
  const slots = deferred.map((r) => new Date(ms(r.decision?.deliver_at)).toISOString());
  assert.deepEqual(slots, ['2027-02-01T11:00:00.000Z', '2027-02-01T11:01:00.000Z', '2027-02-01T11:02:00.000Z', '2027-02-01T12:00:00.000Z']);
  assert.match(deferred[0]!.decision?.explanation ?? '', /deferred until 11:00 UTC when the hourly window has room/);

  // EvaluateNotification says what a create would get now: behind the deferred ones.
  const evaluated = await client.notifications.EvaluateNotification({ notification: { agent_id: agent, notification_type: 'job.completed', title: 'x' } });
  assert.equal(evaluated.decision?.reason, 'DECISION_REASON_RATE_LIMITED');
  assert.match(evaluated.decision?.explanation ?? '', /deferred until 12:01 UTC when the hourly window has room/);

  // Move the clock to each slot in turn: exactly the one due is sent.
  for (const [i, r] of deferred.entries()) {
    clock.now = ms(r.decision?.deliver_at) + 1_000;
    const id = r.decision?.delivery_id ?? '';
    await makeDueOnDatabaseClock(herald, id);
    const requests = await receiver.waitForRequests(4 + i, DELIVERY_DEADLINE_MS);
    assert.equal(notificationIdOf(requests[3 + i]!.body), r.notification?.id);
    assert.equal((await waitForFinal(client, id)).status, 'DELIVERY_STATUS_SUCCEEDED');
  }
  const ids = receiver.requests.map((q) => notificationIdOf(q.body));
  assert.deepEqual(ids, [...sent, ...deferred].map((r) => r.notification?.id), 'every notification once, in creation order');
});

test('concurrent creates over the limit under DEFER get exact slots: three now, then three when the first leave, then the rest', async (t) => {
  const clock = { now: T0 };
  const { herald, agent } = await setUp(t, clock, 'RATE_LIMIT_POLICY_DEFER');
  const results = await Promise.all(Array.from({ length: 8 }, (_, i) => create(herald.client, agent, `burst ${i}`)));
  const outcome = (r: CreateNotificationResponse__Output): string => `${r.decision?.outcome}@${new Date(ms(r.decision?.deliver_at)).toISOString()}`;
  assert.deepEqual(results.map(outcome).sort(), [
    'DECISION_OUTCOME_DEFER@2027-02-01T11:00:00.000Z',
    'DECISION_OUTCOME_DEFER@2027-02-01T11:00:00.000Z',
    'DECISION_OUTCOME_DEFER@2027-02-01T11:00:00.000Z',
    'DECISION_OUTCOME_DEFER@2027-02-01T12:00:00.000Z',
    'DECISION_OUTCOME_DEFER@2027-02-01T12:00:00.000Z',
    'DECISION_OUTCOME_DELIVER@2027-02-01T10:00:00.000Z',
    'DECISION_OUTCOME_DELIVER@2027-02-01T10:00:00.000Z',
    'DECISION_OUTCOME_DELIVER@2027-02-01T10:00:00.000Z',
  ]);
});

test('a deferred notification counts when it is sent, not when it was created: at its slot the window is full again', async (t) => {
  const clock = { now: T0 };
  const { herald, agent } = await setUp(t, clock, 'RATE_LIMIT_POLICY_DEFER');
  for (let i = 0; i < 4; i++) await create(herald.client, agent, `n ${i}`); // three at 10:00, one deferred to 11:00
  clock.now = T0 + 60 * MINUTE + 30_000; // 11:00:30: the three of 10:00 left, the deferred one counts from 11:00
  const next = await create(herald.client, agent, 'after');
  assert.equal(next.decision?.outcome, 'DECISION_OUTCOME_DELIVER', next.decision?.explanation);
  const two = await create(herald.client, agent, 'after 2');
  assert.equal(two.decision?.outcome, 'DECISION_OUTCOME_DELIVER', two.decision?.explanation);
  const full = await create(herald.client, agent, 'after 3');
  assert.equal(full.decision?.outcome, 'DECISION_OUTCOME_DEFER', 'the deferred one and the two sent fill the window');
  assert.equal(new Date(ms(full.decision?.deliver_at)).toISOString(), '2027-02-01T12:00:00.000Z');
});

test('DeletePreferences gives back the slots of the deferred webhooks it cancels: recreated two hours later, the agent sends at once', async (t) => {
  const clock = { now: T0 };
  const { herald, receiver, agent } = await setUp(t, clock, 'RATE_LIMIT_POLICY_DEFER');
  const { client } = herald;
  const prefs = { agent_id: agent, max_notifications_per_hour: 1 };
  await client.preferences.UpdatePreferences({ preferences: prefs, update_mask: { paths: ['max_notifications_per_hour'] } });
  const first = await create(client, agent, 'sent');
  assert.equal(first.decision?.outcome, 'DECISION_OUTCOME_DELIVER', first.decision?.explanation);
  const slots: string[] = [];
  for (let i = 0; i < 5; i++) slots.push(new Date(ms((await create(client, agent, `held ${i}`)).decision?.deliver_at)).toISOString());
  assert.deepEqual(slots, ['11', '12', '13', '14', '15'].map((h) => `2027-02-01T${h}:00:00.000Z`));
  const { cancelled_deliveries } = await client.preferences.DeletePreferences({ agent_id: agent });
  assert.ok(cancelled_deliveries >= 5, `the five held back are cancelled (${cancelled_deliveries})`);

  // 12:00: only the webhook of 10:00 was ever counted, and it left the window at 11:00.
  clock.now = T0 + 120 * MINUTE;
  await client.preferences.UpdatePreferences({ preferences: { ...prefs, enable_webhook: true, webhook_url: receiver.url, rate_limit_policy: 'RATE_LIMIT_POLICY_DEFER' } });
  const after = await create(client, agent, 'after');
  assert.equal(after.decision?.outcome, 'DECISION_OUTCOME_DELIVER', after.decision?.explanation);
  // The sequence goes on from the numbers that remain: the next one waits for exactly one hour.
  const next = await create(client, agent, 'next');
  assert.equal(new Date(ms(next.decision?.deliver_at)).toISOString(), '2027-02-01T13:00:00.000Z', next.decision?.explanation);
});

test('a webhook switched off by a 410 gives back the slots of the deferred webhooks it cancels', async (t) => {
  const clock = { now: T0 };
  const { herald, receiver, agent } = await setUp(t, clock, 'RATE_LIMIT_POLICY_DEFER');
  const { client } = herald;
  await client.preferences.UpdatePreferences({ preferences: { agent_id: agent, max_notifications_per_hour: 1 }, update_mask: { paths: ['max_notifications_per_hour'] } });
  const first = await create(client, agent, 'sent');
  await makeDueOnDatabaseClock(herald, first.decision?.delivery_id ?? '');
  assert.equal((await waitForFinal(client, first.decision?.delivery_id ?? '')).status, 'DELIVERY_STATUS_SUCCEEDED');
  const held = [await create(client, agent, 'held 1'), await create(client, agent, 'held 2')];
  assert.deepEqual(held.map((r) => new Date(ms(r.decision?.deliver_at)).toISOString()), ['2027-02-01T11:00:00.000Z', '2027-02-01T12:00:00.000Z']);

  // 11:00: the first held one is sent and the receiver says it is gone; the one due at 12:00 is cancelled.
  receiver.setScript([{ status: 410 }]);
  clock.now = T0 + 60 * MINUTE + 1_000;
  await makeDueOnDatabaseClock(herald, held[0]!.decision?.delivery_id ?? '');
  assert.equal((await waitForFinal(client, held[0]!.decision?.delivery_id ?? '')).status, 'DELIVERY_STATUS_FAILED');
  assert.equal((await client.deliveries.GetDelivery({ id: held[1]!.decision?.delivery_id ?? '' })).status, 'DELIVERY_STATUS_CANCELLED');

  // 12:00:30: the send of 11:00 has left the window, and the cancelled one no longer holds 12:00.
  clock.now = T0 + 120 * MINUTE + 30_000;
  await client.preferences.UpdatePreferences({ preferences: { agent_id: agent, enable_webhook: true }, update_mask: { paths: ['enable_webhook'] } });
  const after = await create(client, agent, 'after');
  assert.equal(after.decision?.outcome, 'DECISION_OUTCOME_DELIVER', after.decision?.explanation);
});

test('under DEFER, a notification held by quiet hours and the limit counts at its slot: an URGENT bypass later in the night takes the next free slot, not one after the window', async (t) => {
  const clock = { now: Date.parse('2027-02-01T21:50:00Z') };
  const { herald, agent } = await setUp(t, clock, 'RATE_LIMIT_POLICY_DEFER');
  const { client } = herald;
  await client.preferences.UpdatePreferences({
    preferences: { agent_id: agent, max_notifications_per_hour: 1, quiet_hours: { start: '22:00', end: '07:00', policy: 'QUIET_HOURS_POLICY_DEFER', urgent_bypass: true } },
    update_mask: { paths: ['max_notifications_per_hour', 'quiet_hours'] },
  });
  assert.equal((await create(client, agent, 'before the night')).decision?.outcome, 'DECISION_OUTCOME_DELIVER');
  clock.now = Date.parse('2027-02-01T22:10:00Z');
  const held = await create(client, agent, 'normal');
  assert.deepEqual([held.decision?.outcome, held.decision?.reason], ['DECISION_OUTCOME_DEFER', 'DECISION_REASON_RATE_LIMITED']);
  assert.equal(new Date(ms(held.decision?.deliver_at)).toISOString(), '2027-02-02T07:00:00.000Z');
  assert.match(held.decision?.explanation ?? '', /deferred until the window ends at 2027-02-02T07:00:00.000Z; it counts toward the limit at 2027-02-01T22:50:00.000Z/);

  clock.now = Date.parse('2027-02-01T23:30:00Z');
  const urgent = await client.notifications.CreateNotification({ agent_id: agent, notification_type: 'job.completed', title: 'urgent', priority: 'PRIORITY_URGENT' });
  assert.equal(urgent.decision?.reason, 'DECISION_REASON_RATE_LIMITED', urgent.decision?.explanation);
  assert.equal(new Date(ms(urgent.decision?.deliver_at)).toISOString(), '2027-02-01T23:50:00.000Z', urgent.decision?.explanation);
  assert.match(urgent.decision?.explanation ?? '', /deferred until 23:50 UTC when the hourly window has room/);
});

test('rate_limit_policy DIGEST: what the limit holds back goes as one digest when the window has room, in order, and counts once', async (t) => {
  const clock = { now: T0 };
  const { herald, receiver, agent } = await setUp(t, clock, 'RATE_LIMIT_POLICY_DIGEST');
  const { client } = herald;
  for (let i = 0; i < 3; i++) {
    const r = await create(client, agent, `now ${i}`);
    assert.equal(r.decision?.outcome, 'DECISION_OUTCOME_DELIVER', r.decision?.explanation);
    await makeDueOnDatabaseClock(herald, r.decision?.delivery_id ?? '');
    await receiver.waitForRequests(i + 1, DELIVERY_DEADLINE_MS);
    clock.now += MINUTE;
  }
  const held: CreateNotificationResponse__Output[] = [];
  for (let i = 0; i < 4; i++) {
    const r = await create(client, agent, `held ${i}`);
    assert.deepEqual([r.decision?.outcome, r.decision?.reason], ['DECISION_OUTCOME_DEFER', 'DECISION_REASON_RATE_LIMITED'], r.decision?.explanation);
    held.push(r);
    clock.now += MINUTE;
  }
  const digestId = held[0]!.decision?.delivery_id ?? '';
  assert.deepEqual(new Set(held.map((r) => r.decision?.delivery_id)), new Set([digestId]), 'one digest for all four');
  assert.deepEqual(new Set(held.map((r) => new Date(ms(r.decision?.deliver_at)).toISOString())), new Set(['2027-02-01T11:00:00.000Z']));
  assert.match(held[3]!.decision?.explanation ?? '', /deferred into the digest sent at 11:00 UTC when the hourly window has room/);

  clock.now = Date.parse('2027-02-01T11:00:01Z');
  await makeDueOnDatabaseClock(herald, digestId);
  const requests = await receiver.waitForRequests(4, DELIVERY_DEADLINE_MS);
  const digest = requests[3]!;
  assert.equal(digest.headers['x-herald-event'], 'digest');
  const body = JSON.parse(digest.body.toString('utf8')) as { digest: { id: string; count: number; notifications: Array<{ id: string }> } };
  assert.deepEqual([body.digest.id, body.digest.count], [digestId, 4]);
  assert.deepEqual(body.digest.notifications.map((n) => n.id), held.map((r) => r.notification?.id));
  assert.equal((await waitForFinal(client, digestId)).status, 'DELIVERY_STATUS_SUCCEEDED');

  // At 11:05 the window holds only the digest, counted once at 11:00: two more go now, the next waits for 12:00.
  clock.now = Date.parse('2027-02-01T11:05:00Z');
  for (let i = 0; i < 2; i++) assert.equal((await create(client, agent, `after ${i}`)).decision?.outcome, 'DECISION_OUTCOME_DELIVER');
  const next = await create(client, agent, 'next hour');
  assert.equal(next.decision?.reason, 'DECISION_REASON_RATE_LIMITED');
  assert.equal(new Date(ms(next.decision?.deliver_at)).toISOString(), '2027-02-01T12:00:00.000Z');
  assert.notEqual(next.decision?.delivery_id, digestId, 'a digest once sent is never joined');
});

test('rate_limit_policy DIGEST: a digest filled under a higher HERALD_DIGEST_MAX_ITEMS is not joined, and the one opened instead takes its own slot, so no two digests go out in one hour', async (t) => {
  const clock = { now: T0 };
  const herald = await startHerald(t, { clock: () => new Date(clock.now), env: { HERALD_DIGEST_MAX_ITEMS: '3' } });
  const receiver = await startReceiver();
  t.after(() => receiver.close());
  const agent = `rate-${Math.random().toString(36).slice(2, 10)}`;
  await herald.client.preferences.UpdatePreferences({
    preferences: { agent_id: agent, enable_webhook: true, webhook_url: receiver.url, max_notifications_per_hour: 1, rate_limit_policy: 'RATE_LIMIT_POLICY_DIGEST' },
  });
  const decisions: CreateNotificationResponse__Output[] = [];
  const next = async (h: Herald, title: string): Promise<void> => {
    decisions.push(await create(h.client, agent, title));
    clock.now += MINUTE;
  };
  for (const title of ['sent', 'held 1', 'held 2']) await next(herald, title); // the digest of 11:00 holds two
  const restarted = await herald.restart({ HERALD_DIGEST_MAX_ITEMS: '2' });
  for (const title of ['held 3', 'held 4']) await next(restarted, title);

  const at = decisions.map((r) => new Date(ms(r.decision?.deliver_at)).toISOString().slice(11, 16));
  assert.deepEqual(at, ['10:00', '11:00', '11:00', '12:00', '12:00'], decisions.map((r) => r.decision?.explanation).join('\n'));
  const { deliveries } = await restarted.client.deliveries.ListDeliveries({ agent_id: agent, page_size: 10 });
  const digests = deliveries.filter((d) => d.event_type === 'digest').map((d) => new Date(ms(d.next_attempt_at)).toISOString()).sort();
  assert.deepEqual(digests, ['2027-02-01T11:00:00.000Z', '2027-02-01T12:00:00.000Z']);
  assert.equal(decisions[3]!.decision?.delivery_id, decisions[4]!.decision?.delivery_id, 'the new digest is joined');
});

test('SUPPRESS stays the default; rate_limit_policy reads back; an unknown number is INVALID_ARGUMENT naming the field', async (t) => {
  const clock = { now: T0 };
  const { herald, agent } = await setUp(t, clock, 'RATE_LIMIT_POLICY_UNSPECIFIED');
  assert.equal((await herald.client.preferences.GetPreferences({ agent_id: agent })).rate_limit_policy, 'RATE_LIMIT_POLICY_SUPPRESS');
  for (let i = 0; i < 3; i++) await create(herald.client, agent, `n ${i}`);
  const over = await create(herald.client, agent, 'over');
  assert.deepEqual([over.decision?.outcome, over.decision?.reason, over.decision?.delivery_id], ['DECISION_OUTCOME_SUPPRESS', 'DECISION_REASON_RATE_LIMITED', '']);

  await herald.client.preferences.UpdatePreferences({ preferences: { agent_id: agent, rate_limit_policy: 'RATE_LIMIT_POLICY_DEFER' } });
  assert.equal((await herald.client.preferences.GetPreferences({ agent_id: agent })).rate_limit_policy, 'RATE_LIMIT_POLICY_DEFER');
  const bad = await codeOf(herald.client.preferences.UpdatePreferences({ preferences: { agent_id: agent, rate_limit_policy: 42 as unknown as RateLimitPolicy } }));
  assert.equal(bad.code, status.INVALID_ARGUMENT);
  assert.match(bad.details, /preferences\.rate_limit_policy/);
  const reset = await herald.client.preferences.UpdatePreferences({ preferences: { agent_id: agent }, update_mask: { paths: ['rate_limit_policy'] } });
  assert.equal(reset.rate_limit_policy, 'RATE_LIMIT_POLICY_SUPPRESS', 'a masked, unset field goes back to its default');
});
