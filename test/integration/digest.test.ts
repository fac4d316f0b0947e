/**
 * Quiet-hours policy DIGEST through the real API: a night's notifications go
 * out as one signed `digest` webhook at the window's end. The clock is
 * injected and set to nights in the future, so that on PostgreSQL (where
 * "due" is the database's clock) nothing is due before the test says so.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { status } from '@grpc/grpc-js';
import { Webhook } from 'standardwebhooks';
import type { HeraldClient } from '../../src/client.js';
import type { Preferences } from '../../src/generated/proto/herald/v1/Preferences.js';
import type { QuietHoursPolicy } from '../../src/generated/proto/herald/v1/QuietHoursPolicy.js';
import { codeOf, makeDueOnDatabaseClock, startHerald, type Herald } from '../helpers/herald.js';
import { startReceiver, type Receiver, type ReceiverStep, type RecordedRequest } from '../helpers/receiver.js';
import { DELIVERY_DEADLINE_MS, waitForFinal } from '../helpers/deliveries.js';

/** A clock the test moves by hand. */
class TestClock {
  constructor(private ms: number) {}
  readonly now = (): Date => new Date(this.ms);
  set(iso: string): void {
    this.ms = Date.parse(iso);
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}

const MINUTE = 60_000;
const PARIS_NIGHT: Preferences = {
  time_zone: 'Europe/Paris',
  quiet_hours: { start: '22:00', end: '07:00', policy: 'QUIET_HOURS_POLICY_DIGEST', urgent_bypass: true },
};

interface DigestBody {
  event: string;
  digest: { id: string; agent_id: string; window_start: string; window_end: string; count: number; notifications: Array<Record<string, unknown>> };
  timestamp: string;
  platform: string;
}

async function setUp(t: TestContext, clock: TestClock, env: Record<string, string> = {}, script: readonly ReceiverStep[] = []): Promise<{ herald: Herald; receiver: Receiver; agent: string }> {
  const herald = await startHerald(t, { clock: clock.now, env });
  const receiver = await startReceiver(script);
  t.after(() => receiver.close());
  const agent = `digest-${Math.random().toString(36).slice(2, 10)}`;
  await herald.client.preferences.UpdatePreferences({ preferences: { agent_id: agent, enable_webhook: true, webhook_url: receiver.url, ...PARIS_NIGHT } });
  return { herald, receiver, agent };
}

/** Creates a notification that must join a digest; returns its id and the digest's delivery id. */
async function createDeferred(client: HeraldClient, agent: string, title: string): Promise<{ id: string; deliveryId: string; explanation: string }> {
  const res = await client.notifications.CreateNotification({ agent_id: agent, notification_type: 'job.completed', title, content: `${title} is done`, metadata: { fields: { title: { stringValue: title } } } });
  assert.equal(res.decision?.outcome, 'DECISION_OUTCOME_DEFER', res.decision?.explanation);
  assert.equal(res.decision?.reason, 'DECISION_REASON_QUIET_HOURS');
  return { id: res.notification?.id ?? '', deliveryId: res.decision?.delivery_id ?? '', explanation: res.decision?.explanation ?? '' };
}

function header(r: RecordedRequest, name: string): string {
  const value = r.headers[name];
  assert.equal(typeof value, 'string', `header ${name} missing or repeated`);
  return value as string;
}

/** Checks both signatures over the exact bytes received, with node:crypto and standardwebhooks' own signer. */
function assertSigned(r: RecordedRequest, secret: string): void {
  assert.equal(header(r, 'x-herald-signature'), `sha256=${createHmac('sha256', secret).update(r.body).digest('hex')}`);
  const expected = new Webhook(secret).sign(header(r, 'webhook-id'), new Date(Number(header(r, 'webhook-timestamp')) * 1000), r.body.toString('utf8'));
  assert.ok(header(r, 'webhook-signature').split(' ').includes(expected), 'the Standard Webhooks signature verifies');
}

/**
 * Waits until a delivery's retry is scheduled (PENDING after an attempt) or
 * already made (on PostgreSQL the retry is due by the database's clock).
 */
async function waitForRetry(client: HeraldClient, id: string): Promise<void> {
  const deadline = Date.now() + DELIVERY_DEADLINE_MS;
  for (;;) {
    const d = await client.deliveries.GetDelivery({ id });
    if (d.attempt_count >= 2 || (d.status === 'DELIVERY_STATUS_PENDING' && d.attempt_count === 1)) return;
    assert.ok(Date.now() < deadline, `delivery ${id} still ${d.status}`);
    await sleep(25);
  }
}

/** Moves the clock past `iso` (a window's end) and waits for `n` webhooks. */
async function endNight(herald: Herald, clock: TestClock, iso: string, deliveryIds: readonly string[], receiver: Receiver, n: number): Promise<RecordedRequest[]> {
  clock.set(iso);
  clock.advance(1_000);
  for (const id of new Set(deliveryIds)) await makeDueOnDatabaseClock(herald, id);
  return receiver.waitForRequests(n, DELIVERY_DEADLINE_MS);
}

test('a night under DIGEST sends one signed digest webhook at the window end with every notification in creation order; URGENT goes at once', async (t) => {
  const clock = new TestClock(Date.parse('2027-01-14T21:30:00Z')); // 22:30 in Paris
  const { herald, receiver, agent } = await setUp(t, clock);
  const { client } = herald;

  const created: Array<{ id: string; deliveryId: string; explanation: string }> = [];
  for (let i = 1; i <= 5; i++) {
    created.push(await createDeferred(client, agent, `export ${i}`));
    clock.advance(47 * MINUTE);
  }
  const deliveryId = created[0]!.deliveryId;
  assert.match(deliveryId, /^dlv_/);
  assert.deepEqual(new Set(created.map((c) => c.deliveryId)), new Set([deliveryId]), 'all five join one digest');
  assert.match(created[0]!.explanation, /deferred into the digest sent at 07:00 Europe\/Paris \(2027-01-15T06:00:00.000Z\)/);

  // URGENT with urgent_bypass: its own webhook, now.
  const urgent = await client.notifications.CreateNotification({ agent_id: agent, notification_type: 'pager', title: 'disk full', priority: 'PRIORITY_URGENT' });
  assert.equal(urgent.decision?.reason, 'DECISION_REASON_URGENT_BYPASS');
  await makeDueOnDatabaseClock(herald, urgent.decision?.delivery_id ?? '');
  const [first] = await receiver.waitForRequests(1, DELIVERY_DEADLINE_MS);
  assert.equal(header(first!, 'x-herald-event'), 'notification');
  assert.equal((JSON.parse(first!.body.toString('utf8')) as { notification: { id: string } }).notification.id, urgent.notification?.id);

  // The claim that took the URGENT takes due rows oldest first, and the
  // digest was enqueued before it: had the digest been due, it would have
  // been claimed (and its attempt counted) by now.
  const held = await client.deliveries.GetDelivery({ id: deliveryId });
  assert.deepEqual([held.status, held.attempt_count, held.event_type], ['DELIVERY_STATUS_PENDING', 0, 'digest']);
  assert.equal(new Date(held.next_attempt_at!.seconds * 1000).toISOString(), '2027-01-15T06:00:00.000Z');

  const requests = await endNight(herald, clock, '2027-01-15T06:00:00Z', [deliveryId], receiver, 2);
  const r = requests[1]!;
  assert.equal(header(r, 'x-herald-event'), 'digest');
  assert.equal(header(r, 'x-herald-delivery'), deliveryId);
  const { webhook_secret: secret } = await client.preferences.GetWebhookSecret({ agent_id: agent });
  assertSigned(r, secret);
  const body = JSON.parse(r.body.toString('utf8')) as DigestBody;
  assert.equal(body.event, 'digest');
  assert.equal(body.platform, 'herald');
  assert.deepEqual(
    { id: body.digest.id, agent_id: body.digest.agent_id, window_start: body.digest.window_start, window_end: body.digest.window_end, count: body.digest.count },
    { id: deliveryId, agent_id: agent, window_start: '2027-01-14T21:00:00.000Z', window_end: '2027-01-15T06:00:00.000Z', count: 5 },
  );
  assert.deepEqual(body.digest.notifications.map((n) => n.id), created.map((c) => c.id));
  // Each item has the shape of a single notification webhook's `notification`.
  const stored = await client.notifications.GetNotification({ id: created[2]!.id });
  assert.deepEqual(body.digest.notifications[2], {
    id: stored.id,
    agent_id: agent,
    notification_type: 'job.completed',
    title: 'export 3',
    content: 'export 3 is done',
    priority: 'normal',
    read: false,
    created_at: new Date(stored.created_at!.seconds * 1000 + stored.created_at!.nanos / 1e6).toISOString(),
    read_at: null,
    related_entity_type: null,
    related_entity_id: null,
    metadata: { title: 'export 3' },
  });
  const done = await waitForFinal(client, deliveryId);
  assert.equal(done.status, 'DELIVERY_STATUS_SUCCEEDED');
  assert.equal(done.attempt_count, 1);
  // One webhook for the whole night: the agent has no delivery but the digest and the URGENT.
  const { deliveries } = await client.deliveries.ListDeliveries({ agent_id: agent, page_size: 10 });
  assert.deepEqual(deliveries.map((d) => d.id).sort(), [deliveryId, urgent.decision?.delivery_id ?? ''].sort());
  assert.equal(receiver.requests.length, 2);
});

test('a digest across the spring-forward night is sent at 07:00 CEST, and EvaluateNotification says so', async (t) => {
  // 2027-03-28 in Paris: 02:00 CET becomes 03:00 CEST; 07:00 CEST is 05:00 UTC.
  const clock = new TestClock(Date.parse('2027-03-27T22:30:00Z')); // 23:30 CET
  const { herald, receiver, agent } = await setUp(t, clock);
  const { client } = herald;

  const evaluated = await client.notifications.EvaluateNotification({ notification: { agent_id: agent, notification_type: 'job.completed', title: 'x' } });
  assert.equal(evaluated.decision?.outcome, 'DECISION_OUTCOME_DEFER');
  assert.match(evaluated.decision?.explanation ?? '', /policy DIGEST\): deferred into the digest sent at 07:00 Europe\/Paris \(2027-03-28T05:00:00.000Z\)/);

  const before = await createDeferred(client, agent, 'before the change'); // 23:30 CET
  clock.set('2027-03-28T01:10:00Z'); // 03:10 CEST, after the jump
  const after = await createDeferred(client, agent, 'after the change');
  assert.equal(after.deliveryId, before.deliveryId, 'one window, one digest');

  const [r] = await endNight(herald, clock, '2027-03-28T05:00:00Z', [before.deliveryId], receiver, 1);
  const body = JSON.parse(r!.body.toString('utf8')) as DigestBody;
  assert.equal(body.digest.window_start, '2027-03-27T21:00:00.000Z');
  assert.equal(body.digest.window_end, '2027-03-28T05:00:00.000Z');
  assert.deepEqual(body.digest.notifications.map((n) => n.id), [before.id, after.id]);
});

test('a restart in the middle of the night keeps the open digest: the new process appends to it and sends it once', async (t) => {
  const clock = new TestClock(Date.parse('2027-01-20T22:00:00Z'));
  const { herald, receiver, agent } = await setUp(t, clock);
  const a = await createDeferred(herald.client, agent, 'before restart 1');
  clock.advance(MINUTE);
  const b = await createDeferred(herald.client, agent, 'before restart 2');
  const restarted = await herald.restart();
  clock.advance(MINUTE);
  const c = await createDeferred(restarted.client, agent, 'after restart');
  assert.equal(c.deliveryId, a.deliveryId);
  assert.equal(b.deliveryId, a.deliveryId);

  const [r] = await endNight(restarted, clock, '2027-01-21T06:00:00Z', [a.deliveryId], receiver, 1);
  const body = JSON.parse(r!.body.toString('utf8')) as DigestBody;
  assert.deepEqual(body.digest.notifications.map((n) => n.id), [a.id, b.id, c.id]);
  assert.equal(body.digest.count, 3);
  assert.equal((await waitForFinal(restarted.client, a.deliveryId)).status, 'DELIVERY_STATUS_SUCCEEDED');
});

test('HERALD_DIGEST_MAX_ITEMS splits a large night into several digests, each full but the last, all sent at the window end in order', async (t) => {
  const clock = new TestClock(Date.parse('2027-01-22T22:00:00Z'));
  const { herald, receiver, agent } = await setUp(t, clock, { HERALD_DIGEST_MAX_ITEMS: '3' });
  const created: Array<{ id: string; deliveryId: string }> = [];
  for (let i = 1; i <= 7; i++) {
    created.push(await createDeferred(herald.client, agent, `item ${i}`));
    clock.advance(MINUTE);
  }
  const groups = [...new Set(created.map((c) => c.deliveryId))];
  assert.equal(groups.length, 3);
  assert.deepEqual(
    groups.map((g) => created.filter((c) => c.deliveryId === g).length),
    [3, 3, 1],
  );

  const requests = await endNight(herald, clock, '2027-01-23T06:00:00Z', groups, receiver, 3);
  const bodies = requests.map((r) => JSON.parse(r.body.toString('utf8')) as DigestBody);
  assert.deepEqual(new Set(bodies.map((b) => b.digest.id)), new Set(groups));
  for (const b of bodies) assert.equal(b.digest.count, b.digest.notifications.length);
  const sent = bodies.sort((x, y) => groups.indexOf(x.digest.id) - groups.indexOf(y.digest.id)).flatMap((b) => b.digest.notifications.map((n) => n.id));
  assert.deepEqual(sent, created.map((c) => c.id), 'every notification once, in creation order');
});

test('a digest answered 500 is retried with the same delivery id and byte-identical body', async (t) => {
  const clock = new TestClock(Date.parse('2027-01-25T22:00:00Z'));
  const { herald, receiver, agent } = await setUp(t, clock, {}, [{ status: 500 }, { status: 200 }]);
  const a = await createDeferred(herald.client, agent, 'one');
  await createDeferred(herald.client, agent, 'two');
  await endNight(herald, clock, '2027-01-26T06:00:00Z', [a.deliveryId], receiver, 1);
  await waitForRetry(herald.client, a.deliveryId);
  // The retry is due 50 ms later by Herald's clock, which only the test moves.
  clock.advance(MINUTE);
  await makeDueOnDatabaseClock(herald, a.deliveryId);
  const requests = await receiver.waitForRequests(2, DELIVERY_DEADLINE_MS);
  assert.deepEqual(requests[1]!.body, requests[0]!.body);
  assert.equal(header(requests[1]!, 'x-herald-delivery'), a.deliveryId);
  const done = await waitForFinal(herald.client, a.deliveryId);
  assert.equal(done.status, 'DELIVERY_STATUS_SUCCEEDED');
  assert.equal(done.attempt_count, 2);
});

test('a FAILED digest is sent again by ReplayDeliveries with the same id and bytes', async (t) => {
  const clock = new TestClock(Date.parse('2027-01-27T22:00:00Z'));
  const { herald, receiver, agent } = await setUp(t, clock, {}, [{ status: 400 }]);
  const a = await createDeferred(herald.client, agent, 'one');
  await createDeferred(herald.client, agent, 'two');
  const [first] = await endNight(herald, clock, '2027-01-28T06:00:00Z', [a.deliveryId], receiver, 1);
  assert.equal((await waitForFinal(herald.client, a.deliveryId)).status, 'DELIVERY_STATUS_FAILED');
  const replay = await herald.client.deliveries.ReplayDeliveries({ agent_id: agent, since: { seconds: Date.parse('2027-01-27T00:00:00Z') / 1000 } });
  assert.equal(replay.scheduled, 1);
  const requests = await receiver.waitForRequests(2, DELIVERY_DEADLINE_MS);
  assert.equal(header(requests[1]!, 'x-herald-delivery'), a.deliveryId);
  assert.deepEqual(requests[1]!.body, first!.body);
  assert.equal((await waitForFinal(herald.client, a.deliveryId)).status, 'DELIVERY_STATUS_SUCCEEDED');
});

test('policy DIGEST reads back as QUIET_HOURS_POLICY_DIGEST; an unknown policy number is INVALID_ARGUMENT naming the field', async (t) => {
  const clock = new TestClock(Date.parse('2027-01-14T12:00:00Z'));
  const { herald, agent } = await setUp(t, clock);
  const read = await herald.client.preferences.GetPreferences({ agent_id: agent });
  assert.equal(read.quiet_hours?.policy, 'QUIET_HOURS_POLICY_DIGEST');

  const bad = await codeOf(
    herald.client.preferences.UpdatePreferences({ preferences: { agent_id: agent, quiet_hours: { start: '22:00', end: '07:00', policy: 99 as unknown as QuietHoursPolicy } } }),
  );
  assert.equal(bad.code, status.INVALID_ARGUMENT);
  assert.match(bad.details, /preferences\.quiet_hours\.policy/);
  assert.match(bad.details, /QUIET_HOURS_POLICY_DIGEST/);
  const masked = await codeOf(
    herald.client.preferences.UpdatePreferences({
      preferences: { agent_id: agent, quiet_hours: { policy: 7 as unknown as QuietHoursPolicy } },
      update_mask: { paths: ['quiet_hours.policy'] },
    }),
  );
  assert.equal(masked.code, status.INVALID_ARGUMENT);
  assert.equal((await herald.client.preferences.GetPreferences({ agent_id: agent })).quiet_hours?.policy, 'QUIET_HOURS_POLICY_DIGEST', 'unchanged');
});
