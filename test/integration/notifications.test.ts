/*
 * Notifications through the real gRPC API (issue #3): every decision reason,
 * their order of precedence, the rolling hourly window, the quiet-hours
 * vectors, EvaluateNotification, concurrency, idempotency, the outbox,
 * listing, marking read and input validation.
 *
 * One Herald per group (a top-level test whose subtests share it), each with
 * a clock the test moves by hand and the delivery worker off, so no webhook
 * is ever sent and every PENDING delivery stays as it was enqueued.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { status } from '@grpc/grpc-js';

import type { HeraldClient } from '../../src/client.js';
import type { CreateNotificationRequest } from '../../src/generated/proto/herald/v1/CreateNotificationRequest.js';
import type { CreateNotificationResponse__Output } from '../../src/generated/proto/herald/v1/CreateNotificationResponse.js';
import type { Decision__Output } from '../../src/generated/proto/herald/v1/Decision.js';
import type { DecisionOutcome__Output } from '../../src/generated/proto/herald/v1/DecisionOutcome.js';
import type { DecisionReason__Output } from '../../src/generated/proto/herald/v1/DecisionReason.js';
import type { Delivery__Output } from '../../src/generated/proto/herald/v1/Delivery.js';
import type { ListNotificationsRequest } from '../../src/generated/proto/herald/v1/ListNotificationsRequest.js';
import type { Notification__Output } from '../../src/generated/proto/herald/v1/Notification.js';
import type { Preferences } from '../../src/generated/proto/herald/v1/Preferences.js';
import type { Priority } from '../../src/generated/proto/herald/v1/Priority.js';
import type { Timestamp__Output } from '../../src/generated/proto/google/protobuf/Timestamp.js';
import { codeOf, startHerald, type Herald } from '../helpers/herald.js';
import { loadQuietHoursVectors } from '../helpers/quiet-hours-vectors.js';

const HOOK = 'https://example.com/hook';
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** Keeps the in-process delivery worker from sending anything. */
const NO_WORKER = { HERALD_WORKER: 'false' };

/** The server's clock, moved by hand. Every create decision reads it. */
class ManualClock {
  private ms: number;
  constructor(start: string | number) {
    this.ms = typeof start === 'number' ? start : Date.parse(start);
  }
  readonly now = (): Date => new Date(this.ms);
  set(at: string | number): void {
    this.ms = typeof at === 'number' ? at : Date.parse(at);
  }
}

async function startWithClock(t: Parameters<typeof startHerald>[0], start: string): Promise<{ h: Herald; clock: ManualClock }> {
  const clock = new ManualClock(start);
  const h = await startHerald(t, { env: NO_WORKER, clock: clock.now });
  return { h, clock };
}

/** Distinct agent ids within one file run. */
let agentCounter = 0;
const agent = (name: string): string => `${name}-${++agentCounter}`;

function ts(at: string | number): { seconds: number; nanos: number } {
  const ms = typeof at === 'number' ? at : Date.parse(at);
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: (ms - seconds * 1000) * 1_000_000 };
}

function msOf(t: Timestamp__Output | null | undefined): number | null {
  if (t === null || t === undefined) return null;
  return t.seconds * 1000 + Math.round(t.nanos / 1_000_000);
}

const iso = (t: Timestamp__Output | null | undefined): string | null => {
  const ms = msOf(t);
  return ms === null ? null : new Date(ms).toISOString();
};

function note(agentId: string, overrides: Partial<CreateNotificationRequest> = {}): CreateNotificationRequest {
  return { agent_id: agentId, notification_type: 'job.completed', title: 'Job done', content: 'It finished.', ...overrides };
}

/** Webhooks on, a URL, and whatever else the test needs. */
async function setPrefs(client: HeraldClient, agentId: string, prefs: Partial<Preferences> = {}): Promise<void> {
  await client.preferences.UpdatePreferences({ preferences: { agent_id: agentId, enable_webhook: true, webhook_url: HOOK, ...prefs } });
}

function decisionOf(res: CreateNotificationResponse__Output): Decision__Output {
  assert.ok(res.decision !== null, 'the response carries a decision');
  assert.ok(res.notification !== null, 'the response carries the notification');
  assert.deepEqual(res.notification.decision, res.decision, 'decision equals notification.decision');
  return res.decision;
}

function assertDecision(d: Decision__Output, outcome: DecisionOutcome__Output, reason: DecisionReason__Output, context = ''): void {
  assert.equal(`${d.outcome}/${d.reason}`, `${outcome}/${reason}`, `${context} decision (explanation: ${d.explanation})`);
  assert.ok(d.explanation.length > 0, 'the decision explains itself');
  if (outcome === 'DECISION_OUTCOME_SUPPRESS') {
    assert.equal(d.delivery_id, '', 'SUPPRESS enqueues nothing');
    assert.equal(d.deliver_at, null, 'SUPPRESS has no deliver_at');
  }
}

/**
 * Creates a notification, checks the decision against the expectation, and
 * that the notification was stored with the very same decision.
 */
async function createExpect(
  client: HeraldClient,
  req: CreateNotificationRequest,
  outcome: DecisionOutcome__Output,
  reason: DecisionReason__Output,
): Promise<CreateNotificationResponse__Output> {
  const res = await client.notifications.CreateNotification(req);
  const d = decisionOf(res);
  assertDecision(d, outcome, reason, `${req.agent_id} ${req.notification_type}`);
  assert.equal(res.replayed, false);
  if (outcome !== 'DECISION_OUTCOME_SUPPRESS') assert.match(d.delivery_id, /^dlv_[0-9A-Z]{26}$/);
  const stored = await client.notifications.GetNotification({ id: res.notification!.id });
  assert.deepEqual(stored, res.notification, 'GetNotification returns the stored notification with the same decision');
  return res;
}

async function listAll(client: HeraldClient, req: ListNotificationsRequest, pageSize = 500): Promise<Notification__Output[]> {
  const out: Notification__Output[] = [];
  let token = '';
  for (;;) {
    const page = await client.notifications.ListNotifications({ ...req, page_size: pageSize, page_token: token });
    out.push(...page.notifications);
    if (page.next_page_token === '') return out;
    token = page.next_page_token;
  }
}

async function listDeliveries(client: HeraldClient, agentId: string, pageSize = 500): Promise<Delivery__Output[]> {
  const out: Delivery__Output[] = [];
  let token = '';
  for (;;) {
    const page = await client.deliveries.ListDeliveries({ agent_id: agentId, page_size: pageSize, page_token: token });
    out.push(...page.deliveries);
    if (page.next_page_token === '') return out;
    token = page.next_page_token;
  }
}

/** INVALID_ARGUMENT whose details start with the field's proto path. */
async function assertInvalid(promise: Promise<unknown>, field: string): Promise<void> {
  const { code, details } = await codeOf(promise);
  assert.equal(code, status.INVALID_ARGUMENT, `expected INVALID_ARGUMENT for ${field}, got ${code}: ${details}`);
  assert.ok(details.startsWith(`${field}: `), `details name the field "${field}": ${details}`);
}

test('every decision reason through CreateNotification, the notification always stored', async (t) => {
  const { h, clock } = await startWithClock(t, '2026-03-10T12:00:00.000Z');
  const { client } = h;

  await t.test('an agent with no preferences: SUPPRESS / WEBHOOK_DISABLED', async () => {
    clock.set('2026-03-10T12:00:00.000Z');
    const res = await createExpect(client, note(agent('none')), 'DECISION_OUTCOME_SUPPRESS', 'DECISION_REASON_WEBHOOK_DISABLED');
    assert.equal(iso(res.decision!.decided_at), '2026-03-10T12:00:00.000Z', 'decided at the server clock');
    assert.equal(iso(res.notification!.created_at), '2026-03-10T12:00:00.000Z');
  });

  await t.test('enable_webhook false (URL set): SUPPRESS / WEBHOOK_DISABLED', async () => {
    const id = agent('off');
    await setPrefs(client, id, { enable_webhook: false });
    await createExpect(client, note(id), 'DECISION_OUTCOME_SUPPRESS', 'DECISION_REASON_WEBHOOK_DISABLED');
  });

  await t.test('webhooks on without a URL: SUPPRESS / NO_WEBHOOK_URL', async () => {
    const id = agent('nourl');
    await client.preferences.UpdatePreferences({ preferences: { agent_id: id, enable_webhook: true } });
    await createExpect(client, note(id), 'DECISION_OUTCOME_SUPPRESS', 'DECISION_REASON_NO_WEBHOOK_URL');
  });

  await t.test('a type outside the allow-list: SUPPRESS / TYPE_FILTERED; a listed type is delivered', async () => {
    const id = agent('types');
    await setPrefs(client, id, { notification_types: ['job.completed', 'invoice.paid'] });
    await createExpect(client, note(id, { notification_type: 'job.failed' }), 'DECISION_OUTCOME_SUPPRESS', 'DECISION_REASON_TYPE_FILTERED');
    await createExpect(client, note(id, { notification_type: 'invoice.paid' }), 'DECISION_OUTCOME_DELIVER', 'DECISION_REASON_ACCEPTED');
  });

  await t.test("a prefix wildcard 'job.*' allows 'job.done' but not 'jobs.x'", async () => {
    const id = agent('prefix');
    await setPrefs(client, id, { notification_types: ['job.*'] });
    await createExpect(client, note(id, { notification_type: 'job.done' }), 'DECISION_OUTCOME_DELIVER', 'DECISION_REASON_ACCEPTED');
    await createExpect(client, note(id, { notification_type: 'job.a.b' }), 'DECISION_OUTCOME_DELIVER', 'DECISION_REASON_ACCEPTED');
    await createExpect(client, note(id, { notification_type: 'jobs.x' }), 'DECISION_OUTCOME_SUPPRESS', 'DECISION_REASON_TYPE_FILTERED');
    await createExpect(client, note(id, { notification_type: 'invoice.job' }), 'DECISION_OUTCOME_SUPPRESS', 'DECISION_REASON_TYPE_FILTERED');
  });

  await t.test("'*' allows every type", async () => {
    const id = agent('star');
    await setPrefs(client, id, { notification_types: ['*'] });
    for (const type of ['a', 'job.done', 'x-y_z.0']) {
      await createExpect(client, note(id, { notification_type: type }), 'DECISION_OUTCOME_DELIVER', 'DECISION_REASON_ACCEPTED');
    }
  });

  await t.test('a priority below min_priority: SUPPRESS / PRIORITY_FILTERED; equal or above is delivered', async () => {
    const id = agent('prio');
    await setPrefs(client, id, { min_priority: 'PRIORITY_HIGH' });
    await createExpect(client, note(id, { priority: 'PRIORITY_LOW' }), 'DECISION_OUTCOME_SUPPRESS', 'DECISION_REASON_PRIORITY_FILTERED');
    await createExpect(client, note(id, { priority: 'PRIORITY_NORMAL' }), 'DECISION_OUTCOME_SUPPRESS', 'DECISION_REASON_PRIORITY_FILTERED');
    // Unspecified means NORMAL, which is below HIGH.
    const unspecified = await createExpect(client, note(id), 'DECISION_OUTCOME_SUPPRESS', 'DECISION_REASON_PRIORITY_FILTERED');
    assert.equal(unspecified.notification!.priority, 'PRIORITY_NORMAL', 'an unspecified priority is stored as NORMAL');
    await createExpect(client, note(id, { priority: 'PRIORITY_HIGH' }), 'DECISION_OUTCOME_DELIVER', 'DECISION_REASON_ACCEPTED');
    await createExpect(client, note(id, { priority: 'PRIORITY_URGENT' }), 'DECISION_OUTCOME_DELIVER', 'DECISION_REASON_ACCEPTED');
  });

  await t.test('inside quiet hours with policy SKIP: SUPPRESS / QUIET_HOURS; the window is [start, end) local time', async () => {
    const id = agent('skip');
    // Europe/Paris is UTC+1 on 2026-03-10: 22:00-06:00 local is 21:00Z-05:00Z.
    await setPrefs(client, id, { time_zone: 'Europe/Paris', quiet_hours: { start: '22:00', end: '06:00', policy: 'QUIET_HOURS_POLICY_SKIP' } });
    clock.set('2026-03-10T23:30:00.000Z');
    await createExpect(client, note(id), 'DECISION_OUTCOME_SUPPRESS', 'DECISION_REASON_QUIET_HOURS');
    clock.set('2026-03-10T21:00:00.000Z'); // 22:00 local: the start is quiet
    await createExpect(client, note(id), 'DECISION_OUTCOME_SUPPRESS', 'DECISION_REASON_QUIET_HOURS');
    clock.set('2026-03-11T04:59:59.999Z'); // 05:59:59.999 local
    await createExpect(client, note(id), 'DECISION_OUTCOME_SUPPRESS', 'DECISION_REASON_QUIET_HOURS');
    clock.set('2026-03-11T05:00:00.000Z'); // 06:00 local: the end is not quiet
    await createExpect(client, note(id), 'DECISION_OUTCOME_DELIVER', 'DECISION_REASON_ACCEPTED');
    clock.set('2026-03-10T20:59:59.999Z'); // 21:59 local
    await createExpect(client, note(id), 'DECISION_OUTCOME_DELIVER', 'DECISION_REASON_ACCEPTED');
    // An unspecified policy means SKIP.
    const id2 = agent('skip-default');
    await setPrefs(client, id2, { time_zone: 'Europe/Paris', quiet_hours: { start: '22:00', end: '06:00' } });
    clock.set('2026-03-10T23:30:00.000Z');
    await createExpect(client, note(id2), 'DECISION_OUTCOME_SUPPRESS', 'DECISION_REASON_QUIET_HOURS');
  });

  await t.test("inside quiet hours with policy DEFER: DEFER with deliver_at at the window's end", async () => {
    const cases = [
      // 00:30 Paris (UTC+1) → 06:00 Paris on the same local day = 05:00Z.
      { zone: 'Europe/Paris', now: '2026-03-10T23:30:00.000Z', end: '2026-03-11T05:00:00.000Z' },
      // 23:30 IST (UTC+5:30) → 06:00 IST next day = 00:30Z.
      { zone: 'Asia/Kolkata', now: '2026-03-10T18:00:00.000Z', end: '2026-03-11T00:30:00.000Z' },
      // Sub-second instant inside the window: still deferred to the whole minute of the end.
      { zone: 'Asia/Kolkata', now: '2026-03-10T18:00:12.345Z', end: '2026-03-11T00:30:00.000Z' },
      // The night Paris springs forward (02:00 CET → 03:00 CEST): 06:00 CEST = 04:00Z.
      { zone: 'Europe/Paris', now: '2026-03-28T22:00:00.000Z', end: '2026-03-29T04:00:00.000Z' },
    ];
    for (const c of cases) {
      const id = agent('defer');
      await setPrefs(client, id, { time_zone: c.zone, quiet_hours: { start: '22:00', end: '06:00', policy: 'QUIET_HOURS_POLICY_DEFER' } });
      clock.set(c.now);
      const res = await createExpect(client, note(id), 'DECISION_OUTCOME_DEFER', 'DECISION_REASON_QUIET_HOURS');
      assert.equal(iso(res.decision!.deliver_at), c.end, `${c.zone} at ${c.now}: deferred to the end of quiet hours`);
      assert.equal(iso(res.decision!.decided_at), c.now);
    }
  });

  await t.test('URGENT with urgent_bypass inside quiet hours: DELIVER / URGENT_BYPASS; without bypass or below URGENT it is held', async () => {
    const bypass = agent('bypass');
    await setPrefs(client, bypass, { quiet_hours: { start: '22:00', end: '06:00', policy: 'QUIET_HOURS_POLICY_SKIP', urgent_bypass: true } });
    clock.set('2026-03-10T23:00:00.000Z');
    const res = await createExpect(client, note(bypass, { priority: 'PRIORITY_URGENT' }), 'DECISION_OUTCOME_DELIVER', 'DECISION_REASON_URGENT_BYPASS');
    assert.equal(iso(res.decision!.deliver_at), '2026-03-10T23:00:00.000Z', 'sent now');
    await createExpect(client, note(bypass, { priority: 'PRIORITY_HIGH' }), 'DECISION_OUTCOME_SUPPRESS', 'DECISION_REASON_QUIET_HOURS');
    // Outside quiet hours, an URGENT notification is simply accepted.
    clock.set('2026-03-10T12:00:00.000Z');
    await createExpect(client, note(bypass, { priority: 'PRIORITY_URGENT' }), 'DECISION_OUTCOME_DELIVER', 'DECISION_REASON_ACCEPTED');

    const deferBypass = agent('bypass-defer');
    await setPrefs(client, deferBypass, { quiet_hours: { start: '22:00', end: '06:00', policy: 'QUIET_HOURS_POLICY_DEFER', urgent_bypass: true } });
    clock.set('2026-03-10T23:00:00.000Z');
    await createExpect(client, note(deferBypass, { priority: 'PRIORITY_URGENT' }), 'DECISION_OUTCOME_DELIVER', 'DECISION_REASON_URGENT_BYPASS');
    await createExpect(client, note(deferBypass, { priority: 'PRIORITY_HIGH' }), 'DECISION_OUTCOME_DEFER', 'DECISION_REASON_QUIET_HOURS');

    const noBypass = agent('nobypass');
    await setPrefs(client, noBypass, { quiet_hours: { start: '22:00', end: '06:00', policy: 'QUIET_HOURS_POLICY_DEFER', urgent_bypass: false } });
    clock.set('2026-03-10T23:00:00.000Z');
    const held = await createExpect(client, note(noBypass, { priority: 'PRIORITY_URGENT' }), 'DECISION_OUTCOME_DEFER', 'DECISION_REASON_QUIET_HOURS');
    assert.equal(iso(held.decision!.deliver_at), '2026-03-11T06:00:00.000Z');
  });

  await t.test('the hourly limit used up: SUPPRESS / RATE_LIMITED', async () => {
    const id = agent('limit');
    await setPrefs(client, id, { max_notifications_per_hour: 3 });
    clock.set('2026-03-10T12:00:00.000Z');
    for (let i = 0; i < 3; i++) await createExpect(client, note(id), 'DECISION_OUTCOME_DELIVER', 'DECISION_REASON_ACCEPTED');
    await createExpect(client, note(id), 'DECISION_OUTCOME_SUPPRESS', 'DECISION_REASON_RATE_LIMITED');
  });

  await t.test('every check passed: DELIVER / ACCEPTED with a delivery_id and deliver_at = decided_at', async () => {
    const id = agent('ok');
    await setPrefs(client, id, {
      time_zone: 'Europe/Paris',
      quiet_hours: { start: '22:00', end: '06:00', policy: 'QUIET_HOURS_POLICY_DEFER' },
      notification_types: ['job.*'],
      min_priority: 'PRIORITY_NORMAL',
      max_notifications_per_hour: 10,
    });
    clock.set('2026-03-10T12:34:56.789Z');
    const res = await createExpect(
      client,
      note(id, {
        priority: 'PRIORITY_HIGH',
        related_entity_type: 'job',
        related_entity_id: 'j-1',
        metadata: { fields: { k: { stringValue: 'v' }, n: { numberValue: 2 } } },
      }),
      'DECISION_OUTCOME_DELIVER',
      'DECISION_REASON_ACCEPTED',
    );
    assert.equal(iso(res.decision!.deliver_at), '2026-03-10T12:34:56.789Z');
    assert.equal(iso(res.decision!.decided_at), '2026-03-10T12:34:56.789Z');
    const n = res.notification!;
    assert.match(n.id, /^ntf_[0-9A-Z]{26}$/);
    assert.equal(n.agent_id, id);
    assert.equal(n.related_entity_type, 'job');
    assert.equal(n.related_entity_id, 'j-1');
    assert.deepEqual(n.metadata?.fields['k']?.stringValue, 'v');
    assert.equal(n.read, false);
    assert.equal(n.read_at, null);
  });
});

test('order of precedence: the first check that applies decides', async (t) => {
  const { h, clock } = await startWithClock(t, '2026-03-10T23:00:00.000Z'); // inside 22:00-06:00 UTC
  const { client } = h;
  const quiet = { start: '22:00', end: '06:00', policy: 'QUIET_HOURS_POLICY_SKIP' } as const;

  await t.test('a filtered type inside quiet hours reports TYPE_FILTERED', async () => {
    const id = agent('p-type');
    await setPrefs(client, id, { quiet_hours: quiet, notification_types: ['invoice.*'] });
    await createExpect(client, note(id), 'DECISION_OUTCOME_SUPPRESS', 'DECISION_REASON_TYPE_FILTERED');
  });

  await t.test('a low priority inside quiet hours reports PRIORITY_FILTERED', async () => {
    const id = agent('p-prio');
    await setPrefs(client, id, { quiet_hours: { ...quiet, policy: 'QUIET_HOURS_POLICY_DEFER' }, min_priority: 'PRIORITY_HIGH' });
    await createExpect(client, note(id, { priority: 'PRIORITY_LOW' }), 'DECISION_OUTCOME_SUPPRESS', 'DECISION_REASON_PRIORITY_FILTERED');
  });

  await t.test('a filtered type with a low priority reports TYPE_FILTERED', async () => {
    const id = agent('p-type-prio');
    await setPrefs(client, id, { notification_types: ['invoice.*'], min_priority: 'PRIORITY_HIGH' });
    await createExpect(client, note(id, { priority: 'PRIORITY_LOW' }), 'DECISION_OUTCOME_SUPPRESS', 'DECISION_REASON_TYPE_FILTERED');
  });

  await t.test('webhook disabled and a filtered type reports WEBHOOK_DISABLED', async () => {
    const id = agent('p-off');
    await setPrefs(client, id, { enable_webhook: false, notification_types: ['invoice.*'], quiet_hours: quiet });
    await createExpect(client, note(id), 'DECISION_OUTCOME_SUPPRESS', 'DECISION_REASON_WEBHOOK_DISABLED');
  });

  await t.test('no URL and a filtered type reports NO_WEBHOOK_URL', async () => {
    const id = agent('p-nourl');
    await client.preferences.UpdatePreferences({ preferences: { agent_id: id, enable_webhook: true, notification_types: ['invoice.*'] } });
    await createExpect(client, note(id), 'DECISION_OUTCOME_SUPPRESS', 'DECISION_REASON_NO_WEBHOOK_URL');
  });

  await t.test('quiet hours SKIP with the limit reached reports QUIET_HOURS, not RATE_LIMITED', async () => {
    const id = agent('p-quiet-limit');
    await setPrefs(client, id, { max_notifications_per_hour: 1 });
    clock.set('2026-03-10T21:50:00.000Z');
    await createExpect(client, note(id), 'DECISION_OUTCOME_DELIVER', 'DECISION_REASON_ACCEPTED');
    await createExpect(client, note(id), 'DECISION_OUTCOME_SUPPRESS', 'DECISION_REASON_RATE_LIMITED');
    await setPrefs(client, id, { quiet_hours: quiet });
    clock.set('2026-03-10T22:10:00.000Z');
    await createExpect(client, note(id), 'DECISION_OUTCOME_SUPPRESS', 'DECISION_REASON_QUIET_HOURS');
  });
});

test('the hourly limit counts DELIVER and DEFER decisions over the rolling window (now-60min, now]', async (t) => {
  const t0 = Date.parse('2026-05-01T10:00:00.000Z');
  const { h, clock } = await startWithClock(t, new Date(t0).toISOString());
  const { client } = h;

  await t.test('limit 2: full at t0+59m and t0+60m-1ms, free again at t0+60m+1ms', async () => {
    const id = agent('roll');
    await setPrefs(client, id, { max_notifications_per_hour: 2 });
    clock.set(t0);
    await createExpect(client, note(id), 'DECISION_OUTCOME_DELIVER', 'DECISION_REASON_ACCEPTED');
    await createExpect(client, note(id), 'DECISION_OUTCOME_DELIVER', 'DECISION_REASON_ACCEPTED');
    clock.set(t0 + 59 * MINUTE);
    await createExpect(client, note(id), 'DECISION_OUTCOME_SUPPRESS', 'DECISION_REASON_RATE_LIMITED');
    clock.set(t0 + HOUR - 1);
    await createExpect(client, note(id), 'DECISION_OUTCOME_SUPPRESS', 'DECISION_REASON_RATE_LIMITED');
    clock.set(t0 + HOUR + 1);
    await createExpect(client, note(id), 'DECISION_OUTCOME_DELIVER', 'DECISION_REASON_ACCEPTED');
    // The RATE_LIMITED ones did not count: one slot is still free.
    await createExpect(client, note(id), 'DECISION_OUTCOME_DELIVER', 'DECISION_REASON_ACCEPTED');
    await createExpect(client, note(id), 'DECISION_OUTCOME_SUPPRESS', 'DECISION_REASON_RATE_LIMITED');
  });

  await t.test('a webhook accepted exactly 60 minutes ago is outside the window', async () => {
    const id = agent('roll-edge');
    await setPrefs(client, id, { max_notifications_per_hour: 1 });
    clock.set(t0);
    await createExpect(client, note(id), 'DECISION_OUTCOME_DELIVER', 'DECISION_REASON_ACCEPTED');
    clock.set(t0 + HOUR);
    await createExpect(client, note(id), 'DECISION_OUTCOME_DELIVER', 'DECISION_REASON_ACCEPTED');
  });

  await t.test('DEFER decisions count toward the limit', async () => {
    const id = agent('roll-defer');
    // Quiet 10:00-10:30 UTC, deferred.
    await setPrefs(client, id, { max_notifications_per_hour: 2, quiet_hours: { start: '10:00', end: '10:30', policy: 'QUIET_HOURS_POLICY_DEFER' } });
    clock.set(t0 + 5 * MINUTE);
    await createExpect(client, note(id), 'DECISION_OUTCOME_DEFER', 'DECISION_REASON_QUIET_HOURS');
    await createExpect(client, note(id), 'DECISION_OUTCOME_DEFER', 'DECISION_REASON_QUIET_HOURS');
    clock.set(t0 + 40 * MINUTE); // out of quiet hours, 35 minutes after the deferrals
    await createExpect(client, note(id), 'DECISION_OUTCOME_SUPPRESS', 'DECISION_REASON_RATE_LIMITED');
    clock.set(t0 + 65 * MINUTE + 1);
    await createExpect(client, note(id), 'DECISION_OUTCOME_DELIVER', 'DECISION_REASON_ACCEPTED');
  });

  await t.test('SUPPRESS decisions (filtered, quiet SKIP, rate-limited) do not count', async () => {
    const id = agent('roll-suppress');
    await setPrefs(client, id, {
      max_notifications_per_hour: 1,
      notification_types: ['a.*'],
      min_priority: 'PRIORITY_NORMAL',
      quiet_hours: { start: '10:00', end: '10:30', policy: 'QUIET_HOURS_POLICY_SKIP' },
    });
    clock.set(t0 + 10 * MINUTE);
    await createExpect(client, note(id, { notification_type: 'b.x' }), 'DECISION_OUTCOME_SUPPRESS', 'DECISION_REASON_TYPE_FILTERED');
    await createExpect(client, note(id, { notification_type: 'a.x', priority: 'PRIORITY_LOW' }), 'DECISION_OUTCOME_SUPPRESS', 'DECISION_REASON_PRIORITY_FILTERED');
    await createExpect(client, note(id, { notification_type: 'a.x' }), 'DECISION_OUTCOME_SUPPRESS', 'DECISION_REASON_QUIET_HOURS');
    await createExpect(client, note(id, { notification_type: 'a.x' }), 'DECISION_OUTCOME_SUPPRESS', 'DECISION_REASON_QUIET_HOURS');
    clock.set(t0 + 30 * MINUTE);
    await createExpect(client, note(id, { notification_type: 'a.x' }), 'DECISION_OUTCOME_DELIVER', 'DECISION_REASON_ACCEPTED');
    await createExpect(client, note(id, { notification_type: 'a.x' }), 'DECISION_OUTCOME_SUPPRESS', 'DECISION_REASON_RATE_LIMITED');
  });

  await t.test("the limit is per agent: another agent's webhooks do not count", async () => {
    const a = agent('roll-a');
    const b = agent('roll-b');
    await setPrefs(client, a, { max_notifications_per_hour: 1 });
    await setPrefs(client, b, { max_notifications_per_hour: 1 });
    clock.set(t0);
    await createExpect(client, note(a), 'DECISION_OUTCOME_DELIVER', 'DECISION_REASON_ACCEPTED');
    await createExpect(client, note(b), 'DECISION_OUTCOME_DELIVER', 'DECISION_REASON_ACCEPTED');
    await createExpect(client, note(a), 'DECISION_OUTCOME_SUPPRESS', 'DECISION_REASON_RATE_LIMITED');
  });
});

test('quiet-hours vectors: every case through EvaluateNotification agrees with the oracle', async (t) => {
  const cases = loadQuietHoursVectors();
  assert.ok(cases.length > 1000, `expected the full vector file, got ${cases.length} cases`);
  const { h } = await startWithClock(t, '2026-01-01T00:00:00.000Z');
  const { client } = h;

  const agentOf = new Map<string, string>();
  for (const c of cases) {
    const key = `${c.time_zone} ${c.start}-${c.end}`;
    if (agentOf.has(key)) continue;
    const id = agent('qv');
    agentOf.set(key, id);
    await setPrefs(client, id, { time_zone: c.time_zone, quiet_hours: { start: c.start, end: c.end, policy: 'QUIET_HOURS_POLICY_DEFER' } });
  }

  const disagreements: string[] = [];
  const BATCH = 50;
  for (let i = 0; i < cases.length; i += BATCH) {
    await Promise.all(
      cases.slice(i, i + BATCH).map(async (c, j) => {
        const key = `${c.time_zone} ${c.start}-${c.end}`;
        const name = `#${i + j} ${key} at ${c.now}`;
        const { decision } = await client.notifications.EvaluateNotification({ notification: note(agentOf.get(key)!), at: ts(c.now) });
        if (decision === null) {
          disagreements.push(`${name}: no decision`);
          return;
        }
        const want = c.quiet ? 'DECISION_OUTCOME_DEFER/DECISION_REASON_QUIET_HOURS' : 'DECISION_OUTCOME_DELIVER/DECISION_REASON_ACCEPTED';
        const got = `${decision.outcome}/${decision.reason}`;
        // DEFER: deliver_at is the end of quiet hours; DELIVER: the decision instant, which the oracle gives as next_allowed too.
        const wantAt = new Date(Date.parse(c.next_allowed)).toISOString();
        const gotAt = iso(decision.deliver_at);
        if (got !== want || gotAt !== wantAt || decision.delivery_id !== '' || iso(decision.decided_at) !== wantIso(c.now)) {
          disagreements.push(`${name}: want ${want} at ${wantAt}, got ${got} at ${gotAt} (${decision.explanation})`);
        }
      }),
    );
  }
  t.diagnostic(`${cases.length} quiet-hours vectors evaluated through the API in ${agentOf.size} windows; ${disagreements.length} disagreements`);
  assert.deepEqual(disagreements, [], `${disagreements.length} of ${cases.length} vectors disagree:\n${disagreements.join('\n')}`);
  // Nothing was stored by all those evaluations.
  const some = agentOf.values().next().value!;
  assert.equal((await listAll(client, { agent_id: some })).length, 0);
});

function wantIso(s: string): string {
  return new Date(Date.parse(s)).toISOString();
}

test('EvaluateNotification stores nothing and counts toward no limit', async (t) => {
  const t0 = Date.parse('2026-06-01T08:00:00.000Z');
  const { h, clock } = await startWithClock(t, new Date(t0).toISOString());
  const { client } = h;

  await t.test('limit 1: five Evaluates, then a Create is still delivered; only the created one is listed', async () => {
    const id = agent('ev');
    await setPrefs(client, id, { max_notifications_per_hour: 1 });
    clock.set(t0);
    for (let i = 0; i < 5; i++) {
      const { decision } = await client.notifications.EvaluateNotification({ notification: note(id, { idempotency_key: `k${i}` }) });
      assert.ok(decision !== null);
      assertDecision(decision, 'DECISION_OUTCOME_DELIVER', 'DECISION_REASON_ACCEPTED');
      assert.equal(decision.delivery_id, '', "Evaluate's decision has no delivery_id");
      assert.equal(iso(decision.decided_at), new Date(t0).toISOString(), 'without `at`, decided at the server clock');
      assert.equal(iso(decision.deliver_at), new Date(t0).toISOString());
    }
    assert.equal((await listAll(client, { agent_id: id })).length, 0, 'Evaluate stored nothing');
    assert.equal((await listDeliveries(client, id)).length, 0, 'Evaluate enqueued nothing');
    const created = await createExpect(client, note(id), 'DECISION_OUTCOME_DELIVER', 'DECISION_REASON_ACCEPTED');
    const listed = await listAll(client, { agent_id: id });
    assert.deepEqual(listed.map((n) => n.id), [created.notification!.id]);
    assert.equal((await listDeliveries(client, id)).length, 1);
    // The create does count for later evaluations.
    const { decision } = await client.notifications.EvaluateNotification({ notification: note(id) });
    assertDecision(decision!, 'DECISION_OUTCOME_SUPPRESS', 'DECISION_REASON_RATE_LIMITED');
  });

  await t.test('an idempotency key given to Evaluate is ignored and reserves nothing', async () => {
    const id = agent('ev-key');
    await setPrefs(client, id);
    await client.notifications.EvaluateNotification({ notification: note(id, { idempotency_key: 'same' }) });
    await createExpect(client, note(id, { idempotency_key: 'same' }), 'DECISION_OUTCOME_DELIVER', 'DECISION_REASON_ACCEPTED');
  });

  await t.test('`at` in the past counts the creates in the 60 minutes before `at`', async () => {
    const id = agent('ev-past');
    await setPrefs(client, id, { max_notifications_per_hour: 1 });
    clock.set(t0);
    await createExpect(client, note(id), 'DECISION_OUTCOME_DELIVER', 'DECISION_REASON_ACCEPTED');
    clock.set(t0 + 3 * HOUR);
    const at = async (ms: number): Promise<Decision__Output> => {
      const { decision } = await client.notifications.EvaluateNotification({ notification: note(id), at: ts(ms) });
      assert.ok(decision !== null);
      assert.equal(iso(decision.decided_at), new Date(ms).toISOString(), 'decided for `at`');
      return decision;
    };
    assertDecision(await at(t0 - 1), 'DECISION_OUTCOME_DELIVER', 'DECISION_REASON_ACCEPTED', 'before the create');
    assertDecision(await at(t0), 'DECISION_OUTCOME_SUPPRESS', 'DECISION_REASON_RATE_LIMITED', 'at the create');
    assertDecision(await at(t0 + 30 * MINUTE), 'DECISION_OUTCOME_SUPPRESS', 'DECISION_REASON_RATE_LIMITED', '30 min after');
    assertDecision(await at(t0 + HOUR - 1), 'DECISION_OUTCOME_SUPPRESS', 'DECISION_REASON_RATE_LIMITED', '60 min - 1 ms after');
    assertDecision(await at(t0 + HOUR + 1), 'DECISION_OUTCOME_DELIVER', 'DECISION_REASON_ACCEPTED', '60 min + 1 ms after');
    assertDecision(await at(t0 + 3 * HOUR), 'DECISION_OUTCOME_DELIVER', 'DECISION_REASON_ACCEPTED', 'now');
    const { decision } = await client.notifications.EvaluateNotification({ notification: note(id) });
    assertDecision(decision!, 'DECISION_OUTCOME_DELIVER', 'DECISION_REASON_ACCEPTED', 'without `at`');
  });

  await t.test('Evaluate reports every reason a create would, e.g. QUIET_HOURS with deliver_at, with an empty delivery_id', async () => {
    const id = agent('ev-defer');
    await setPrefs(client, id, { time_zone: 'Asia/Kolkata', quiet_hours: { start: '22:00', end: '06:00', policy: 'QUIET_HOURS_POLICY_DEFER' } });
    const { decision } = await client.notifications.EvaluateNotification({ notification: note(id), at: ts('2026-06-01T17:00:00Z') });
    assertDecision(decision!, 'DECISION_OUTCOME_DEFER', 'DECISION_REASON_QUIET_HOURS');
    assert.equal(decision!.delivery_id, '');
    assert.equal(iso(decision!.deliver_at), '2026-06-02T00:30:00.000Z');
    const none = agent('ev-none');
    const r = await client.notifications.EvaluateNotification({ notification: note(none) });
    assertDecision(r.decision!, 'DECISION_OUTCOME_SUPPRESS', 'DECISION_REASON_WEBHOOK_DISABLED');
    assert.equal((await listAll(client, { agent_id: none })).length, 0);
  });

  await t.test('a missing notification is INVALID_ARGUMENT naming it', async () => {
    await assertInvalid(client.notifications.EvaluateNotification({}), 'notification');
    await assertInvalid(client.notifications.EvaluateNotification({ at: ts(t0) }), 'notification');
    await assertInvalid(client.notifications.EvaluateNotification({ notification: note('ev-at'), at: { seconds: 1e15 } }), 'at');
  });
});

test('concurrent creates respect the hourly limit exactly', async (t) => {
  const { h } = await startWithClock(t, '2026-07-01T12:00:00.000Z');
  const { client } = h;
  const id = agent('burst');
  await setPrefs(client, id, { max_notifications_per_hour: 10 });

  const results = await Promise.all(Array.from({ length: 100 }, (_, i) => client.notifications.CreateNotification(note(id, { title: `n${i}` }))));
  const counts = new Map<string, number>();
  for (const r of results) {
    const d = decisionOf(r);
    const key = `${d.outcome}/${d.reason}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  assert.deepEqual(Object.fromEntries(counts), {
    'DECISION_OUTCOME_DELIVER/DECISION_REASON_ACCEPTED': 10,
    'DECISION_OUTCOME_SUPPRESS/DECISION_REASON_RATE_LIMITED': 90,
  });
  const deliveryIds = results.map((r) => r.decision!.delivery_id).filter((x) => x !== '');
  const listed = await listDeliveries(client, id, 3);
  assert.equal(listed.length, 10, 'exactly 10 deliveries');
  assert.deepEqual(listed.map((d) => d.id).sort(), [...deliveryIds].sort(), 'the deliveries are those of the DELIVER decisions');
  assert.equal((await listAll(client, { agent_id: id }, 30)).length, 100, 'every notification stored');
});

test('idempotency keys', async (t) => {
  const { h, clock } = await startWithClock(t, '2026-08-01T09:00:00.000Z');
  const { client } = h;

  await t.test('a repeated key for the same agent returns the first notification and decision, replayed, and creates nothing', async () => {
    const id = agent('idem');
    await setPrefs(client, id);
    const first = await createExpect(client, note(id, { idempotency_key: 'order-42', title: 'first' }), 'DECISION_OUTCOME_DELIVER', 'DECISION_REASON_ACCEPTED');
    assert.equal(first.notification!.idempotency_key, 'order-42');
    // Later, with different content and preferences that would now suppress it.
    clock.set('2026-08-01T09:05:00.000Z');
    await setPrefs(client, id, { enable_webhook: false });
    const again = await client.notifications.CreateNotification(note(id, { idempotency_key: 'order-42', title: 'second', priority: 'PRIORITY_URGENT' }));
    assert.equal(again.replayed, true);
    assert.deepEqual(again.notification, first.notification, 'the first notification, unchanged');
    assert.deepEqual(again.decision, first.decision, 'the first decision');
    assert.equal((await listAll(client, { agent_id: id })).length, 1);
    assert.equal((await listDeliveries(client, id)).length, 1);
  });

  await t.test('20 concurrent creates with one key: one notification, one delivery, exactly one not replayed', async () => {
    const id = agent('idem-burst');
    await setPrefs(client, id);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => client.notifications.CreateNotification(note(id, { idempotency_key: 'burst', title: `try ${i}` }))),
    );
    assert.equal(new Set(results.map((r) => r.notification!.id)).size, 1, 'one notification id');
    assert.equal(new Set(results.map((r) => r.decision!.delivery_id)).size, 1, 'one delivery id');
    assert.equal(results.filter((r) => !r.replayed).length, 1, 'exactly one response is not a replay');
    for (const r of results) assertDecision(decisionOf(r), 'DECISION_OUTCOME_DELIVER', 'DECISION_REASON_ACCEPTED');
    assert.equal((await listAll(client, { agent_id: id })).length, 1);
    assert.equal((await listDeliveries(client, id)).length, 1);
  });

  await t.test('the same key for another agent creates a new notification', async () => {
    const a = agent('idem-a');
    const b = agent('idem-b');
    const ra = await client.notifications.CreateNotification(note(a, { idempotency_key: 'shared' }));
    const rb = await client.notifications.CreateNotification(note(b, { idempotency_key: 'shared' }));
    assert.equal(ra.replayed, false);
    assert.equal(rb.replayed, false);
    assert.notEqual(ra.notification!.id, rb.notification!.id);
    assert.equal(rb.notification!.agent_id, b);
  });

  await t.test('without a key, identical creates are separate notifications', async () => {
    const id = agent('idem-none');
    const r1 = await client.notifications.CreateNotification(note(id));
    const r2 = await client.notifications.CreateNotification(note(id));
    assert.notEqual(r1.notification!.id, r2.notification!.id);
    assert.equal(r1.notification!.idempotency_key, '');
    assert.equal((await listAll(client, { agent_id: id })).length, 2);
  });
});

test('outbox: DELIVER and DEFER enqueue a PENDING delivery in the same create; SUPPRESS enqueues none', async (t) => {
  const { h, clock } = await startWithClock(t, '2026-09-15T10:20:30.456Z');
  const { client } = h;

  await t.test('a DELIVER decision has a PENDING delivery due at the decided instant', async () => {
    const id = agent('ob-deliver');
    await setPrefs(client, id);
    const res = await createExpect(client, note(id), 'DECISION_OUTCOME_DELIVER', 'DECISION_REASON_ACCEPTED');
    const d = await client.deliveries.GetDelivery({ id: res.decision!.delivery_id });
    assert.equal(d.status, 'DELIVERY_STATUS_PENDING');
    assert.equal(d.agent_id, id);
    assert.equal(d.notification_id, res.notification!.id);
    assert.equal(d.event_type, 'notification');
    assert.equal(d.attempt_count, 0);
    assert.deepEqual(d.attempts, []);
    assert.equal(iso(d.next_attempt_at), '2026-09-15T10:20:30.456Z');
    assert.equal(msOf(d.next_attempt_at), msOf(res.decision!.decided_at));
    assert.equal(iso(d.created_at), '2026-09-15T10:20:30.456Z');
  });

  await t.test("a DEFER decision's delivery is due at deliver_at", async () => {
    const id = agent('ob-defer');
    await setPrefs(client, id, { time_zone: 'Europe/Paris', quiet_hours: { start: '09:00', end: '17:00', policy: 'QUIET_HOURS_POLICY_DEFER' } });
    clock.set('2026-09-15T10:20:30.456Z'); // 12:20 CEST
    const res = await createExpect(client, note(id), 'DECISION_OUTCOME_DEFER', 'DECISION_REASON_QUIET_HOURS');
    assert.equal(iso(res.decision!.deliver_at), '2026-09-15T15:00:00.000Z');
    const d = await client.deliveries.GetDelivery({ id: res.decision!.delivery_id });
    assert.equal(d.status, 'DELIVERY_STATUS_PENDING');
    assert.equal(d.notification_id, res.notification!.id);
    assert.equal(iso(d.next_attempt_at), '2026-09-15T15:00:00.000Z');
  });

  await t.test('a SUPPRESS decision has no delivery_id and the agent has no delivery', async () => {
    const id = agent('ob-suppress');
    await setPrefs(client, id, { enable_webhook: false });
    const res = await createExpect(client, note(id), 'DECISION_OUTCOME_SUPPRESS', 'DECISION_REASON_WEBHOOK_DISABLED');
    assert.equal(res.decision!.delivery_id, '');
    assert.equal((await listDeliveries(client, id)).length, 0);
  });
});

test('ListNotifications: newest first, filters, paging', async (t) => {
  const t0 = Date.parse('2026-10-01T00:00:00.000Z');
  const { h, clock } = await startWithClock(t, new Date(t0).toISOString());
  const { client } = h;
  const id = agent('list');
  const other = agent('list-other');
  // 30 notifications, three per instant (so the order must break ties), types alternating.
  const created: Notification__Output[] = [];
  for (let i = 0; i < 30; i++) {
    clock.set(t0 + Math.floor(i / 3) * MINUTE);
    const res = await client.notifications.CreateNotification(note(id, { notification_type: i % 2 === 0 ? 'even.x' : 'odd.x', title: `n${i}` }));
    created.push(res.notification!);
    await client.notifications.CreateNotification(note(other, { title: `other ${i}` }));
  }
  // Read every fifth.
  for (let i = 0; i < 30; i += 5) await client.notifications.MarkNotificationRead({ id: created[i]!.id });

  const all = await listAll(client, { agent_id: id });

  await t.test('newest first, only the agent’s own', async () => {
    assert.equal(all.length, 30);
    assert.deepEqual(new Set(all.map((n) => n.id)), new Set(created.map((n) => n.id)));
    assert.ok(all.every((n) => n.agent_id === id));
    for (let i = 1; i < all.length; i++) {
      assert.ok(msOf(all[i - 1]!.created_at)! >= msOf(all[i]!.created_at)!, `position ${i} is not older than ${i - 1}`);
    }
    assert.equal(all[0]!.created_at?.seconds, Math.floor((t0 + 9 * MINUTE) / 1000));
    assert.equal(all.at(-1)!.created_at?.seconds, Math.floor(t0 / 1000));
  });

  await t.test('page_size 7 over 30: 5 pages, no loss, no repeat, the same order as one page', async () => {
    const pages: string[][] = [];
    let token = '';
    do {
      const page = await client.notifications.ListNotifications({ agent_id: id, page_size: 7, page_token: token });
      pages.push(page.notifications.map((n) => n.id));
      token = page.next_page_token;
    } while (token !== '' && pages.length < 10);
    assert.deepEqual(pages.map((p) => p.length), [7, 7, 7, 7, 2]);
    assert.deepEqual(pages.flat(), all.map((n) => n.id));
  });

  await t.test('unread_only', async () => {
    const unread = await listAll(client, { agent_id: id, unread_only: true }, 4);
    assert.equal(unread.length, 24);
    assert.ok(unread.every((n) => !n.read));
    assert.deepEqual(unread.map((n) => n.id), all.filter((n) => !n.read).map((n) => n.id));
  });

  await t.test('notification_type', async () => {
    const odd = await listAll(client, { agent_id: id, notification_type: 'odd.x' }, 4);
    assert.equal(odd.length, 15);
    assert.ok(odd.every((n) => n.notification_type === 'odd.x'));
    assert.equal((await listAll(client, { agent_id: id, notification_type: 'none.x' })).length, 0);
  });

  await t.test('created_after is inclusive, created_before exclusive', async () => {
    const window = await listAll(client, { agent_id: id, created_after: ts(t0 + 2 * MINUTE), created_before: ts(t0 + 5 * MINUTE) }, 2);
    // Minutes 2, 3 and 4: three notifications each.
    assert.equal(window.length, 9);
    assert.deepEqual(window.map((n) => n.id), all.filter((n) => msOf(n.created_at)! >= t0 + 2 * MINUTE && msOf(n.created_at)! < t0 + 5 * MINUTE).map((n) => n.id));
    const after = await listAll(client, { agent_id: id, created_after: ts(t0 + 9 * MINUTE) });
    assert.equal(after.length, 3);
    const before = await listAll(client, { agent_id: id, created_before: ts(t0 + MINUTE) });
    assert.equal(before.length, 3);
    const combined = await listAll(client, { agent_id: id, created_after: ts(t0 + 8 * MINUTE), unread_only: true, notification_type: 'even.x' });
    assert.deepEqual(combined.map((n) => n.id), all.filter((n) => msOf(n.created_at)! >= t0 + 8 * MINUTE && !n.read && n.notification_type === 'even.x').map((n) => n.id));
  });

  await t.test('created_after and created_before compare exactly at sub-millisecond precision', async () => {
    // Three notifications were created at exactly t0 (a whole millisecond). An
    // instant 0.5 ms later is after them: "at or after" it excludes them,
    // "before" it includes them.
    const halfMsAfterT0 = { seconds: Math.floor(t0 / 1000), nanos: 500_000 };
    const atOrAfter = await listAll(client, { agent_id: id, created_after: halfMsAfterT0 });
    assert.equal(atOrAfter.filter((n) => msOf(n.created_at) === t0).length, 0, 'created_after t0+0.5ms must not return notifications created at t0');
    const before = await listAll(client, { agent_id: id, created_before: halfMsAfterT0 });
    assert.equal(before.length, 3, 'created_before t0+0.5ms must return the three notifications created at t0');
  });

  await t.test('a page_token reused with different filters is INVALID_ARGUMENT', async () => {
    const first = await client.notifications.ListNotifications({ agent_id: id, page_size: 7 });
    assert.notEqual(first.next_page_token, '');
    const token = first.next_page_token;
    await assertInvalid(client.notifications.ListNotifications({ agent_id: id, page_size: 7, page_token: token, unread_only: true }), 'page_token');
    await assertInvalid(client.notifications.ListNotifications({ agent_id: id, page_size: 7, page_token: token, notification_type: 'odd.x' }), 'page_token');
    await assertInvalid(client.notifications.ListNotifications({ agent_id: id, page_size: 7, page_token: token, created_after: ts(t0) }), 'page_token');
    await assertInvalid(client.notifications.ListNotifications({ agent_id: other, page_size: 7, page_token: token }), 'page_token');
    await assertInvalid(client.notifications.ListNotifications({ agent_id: id, page_token: 'not-a-token' }), 'page_token');
  });

  await t.test('agent_id is required; page_size above 500 is refused', async () => {
    await assertInvalid(client.notifications.ListNotifications({}), 'agent_id');
    await assertInvalid(client.notifications.ListNotifications({ agent_id: 'bad agent' }), 'agent_id');
    await assertInvalid(client.notifications.ListNotifications({ agent_id: id, page_size: 501 }), 'page_size');
    await assertInvalid(client.notifications.ListNotifications({ agent_id: id, page_size: -1 }), 'page_size');
    await assertInvalid(client.notifications.ListNotifications({ agent_id: id, notification_type: 'Bad' }), 'notification_type');
    await assertInvalid(client.notifications.ListNotifications({ agent_id: id, created_after: { seconds: 1e15 } }), 'created_after');
    await assertInvalid(client.notifications.ListNotifications({ agent_id: id, created_before: { seconds: 1e15 } }), 'created_before');
  });
});

test('MarkNotificationRead and GetNotification', async (t) => {
  const { h, clock } = await startWithClock(t, '2026-11-01T10:00:00.000Z');
  const { client } = h;

  await t.test('sets read and read_at; repeating returns the same read_at', async () => {
    const { notification } = await client.notifications.CreateNotification(note(agent('read')));
    assert.equal(notification!.read, false);
    clock.set('2026-11-01T10:05:00.123Z');
    const first = await client.notifications.MarkNotificationRead({ id: notification!.id });
    assert.equal(first.read, true);
    assert.equal(iso(first.read_at), '2026-11-01T10:05:00.123Z');
    assert.deepEqual(first.decision, notification!.decision, 'the decision is unchanged');
    clock.set('2026-11-01T11:00:00.000Z');
    const again = await client.notifications.MarkNotificationRead({ id: notification!.id });
    assert.deepEqual(again, first, 'repeating changes nothing');
    assert.deepEqual(await client.notifications.GetNotification({ id: notification!.id }), first);
  });

  await t.test('unknown ids are NOT_FOUND; an empty id is INVALID_ARGUMENT', async () => {
    const missing = 'ntf_00000000000000000000000000';
    const mark = await codeOf(client.notifications.MarkNotificationRead({ id: missing }));
    assert.equal(mark.code, status.NOT_FOUND);
    assert.match(mark.details, /ntf_0{26}/);
    const get = await codeOf(client.notifications.GetNotification({ id: missing }));
    assert.equal(get.code, status.NOT_FOUND);
    assert.match(get.details, /ntf_0{26}/);
    await assertInvalid(client.notifications.GetNotification({ id: '' }), 'id');
    await assertInvalid(client.notifications.MarkNotificationRead({ id: '' }), 'id');
  });
});

test('bad input to CreateNotification and EvaluateNotification is INVALID_ARGUMENT naming the field', async (t) => {
  const { h } = await startWithClock(t, '2026-12-01T10:00:00.000Z');
  const { client } = h;
  const id = agent('input');
  await setPrefs(client, id);
  const x = (n: number): string => 'x'.repeat(n);
  /** A metadata Struct whose JSON is exactly `bytes` long: {"k":"xx…"} is 8 + n bytes. */
  const metadataOf = (bytes: number): CreateNotificationRequest['metadata'] => ({ fields: { k: { stringValue: x(bytes - 8) } } });

  const bad: Array<{ name: string; req: Partial<CreateNotificationRequest>; field: string }> = [
    { name: 'empty agent_id', req: { agent_id: '' }, field: 'agent_id' },
    { name: 'agent_id with a space', req: { agent_id: 'bad agent' }, field: 'agent_id' },
    { name: 'agent_id with a slash', req: { agent_id: 'a/b' }, field: 'agent_id' },
    { name: 'agent_id of 129 characters', req: { agent_id: x(129) }, field: 'agent_id' },
    { name: 'empty notification_type', req: { notification_type: '' }, field: 'notification_type' },
    { name: "notification_type 'Bad'", req: { notification_type: 'Bad' }, field: 'notification_type' },
    { name: 'notification_type of 101 characters', req: { notification_type: 'a'.repeat(101) }, field: 'notification_type' },
    { name: 'notification_type with a wildcard', req: { notification_type: 'job.*' }, field: 'notification_type' },
    { name: 'empty title', req: { title: '' }, field: 'title' },
    { name: 'title of 501 characters', req: { title: x(501) }, field: 'title' },
    { name: 'title of 501 emoji', req: { title: '🚀'.repeat(501) }, field: 'title' },
    { name: 'title with NUL', req: { title: 'a\u0000b' }, field: 'title' },
    { name: 'content of 20,001 characters', req: { content: x(20_001) }, field: 'content' },
    { name: 'unknown priority number', req: { priority: 99 as unknown as Priority }, field: 'priority' },
    { name: 'related_entity_type of 201 characters', req: { related_entity_type: x(201) }, field: 'related_entity_type' },
    { name: 'related_entity_id of 201 characters', req: { related_entity_id: x(201) }, field: 'related_entity_id' },
    { name: 'metadata over 16 KB', req: { metadata: metadataOf(16 * 1024 + 1) }, field: 'metadata' },
    { name: 'idempotency_key of 201 characters', req: { idempotency_key: x(201) }, field: 'idempotency_key' },
  ];

  await t.test('CreateNotification refuses each bad field', async (st) => {
    for (const c of bad) {
      await st.test(c.name, async () => {
        await assertInvalid(client.notifications.CreateNotification(note(id, c.req)), c.field);
      });
    }
    assert.equal((await listAll(client, { agent_id: id })).length, 0, 'no refused request stored anything');
  });

  await t.test("EvaluateNotification names the same fields with the 'notification.' prefix", async () => {
    for (const c of bad) {
      await assertInvalid(client.notifications.EvaluateNotification({ notification: note(id, c.req), at: ts('2026-12-01T10:00:00Z') }), `notification.${c.field}`);
    }
  });

  await t.test('metadata of every JSON kind round-trips', async () => {
    const metadata = {
      fields: {
        s: { stringValue: 'héllo 🚀' },
        n: { numberValue: -1.5 },
        b: { boolValue: true },
        z: { nullValue: 'NULL_VALUE' as const },
        l: { listValue: { values: [{ numberValue: 1 }, { stringValue: 'two' }] } },
        o: { structValue: { fields: { inner: { boolValue: false } } } },
      },
    };
    const res = await client.notifications.CreateNotification(note(id, { metadata }));
    const stored = await client.notifications.GetNotification({ id: res.notification!.id });
    const plain = (v: unknown): unknown => JSON.parse(JSON.stringify(v, (k, x: unknown) => (k === 'kind' ? undefined : x)));
    assert.deepEqual(plain(stored.metadata), plain(res.notification!.metadata));
    const f = stored.metadata!.fields;
    assert.equal(f['s']?.stringValue, 'héllo 🚀');
    assert.equal(f['n']?.numberValue, -1.5);
    assert.equal(f['b']?.boolValue, true);
    assert.equal(f['z']?.kind, 'nullValue');
    assert.deepEqual(f['l']?.listValue?.values.map((v) => v.numberValue ?? v.stringValue), [1, 'two']);
    assert.equal(f['o']?.structValue?.fields['inner']?.boolValue, false);
  });

  await t.test('values at the limits are accepted', async () => {
    const ok: Array<{ name: string; req: Partial<CreateNotificationRequest> }> = [
      { name: 'agent_id of 128 characters of every allowed kind', req: { agent_id: `Aa0._:@-${x(120)}` } },
      { name: 'notification_type of 100 characters', req: { notification_type: `a_b.c-${'z'.repeat(94)}` } },
      { name: 'title of 500 characters', req: { title: x(500) } },
      { name: 'title of 500 multi-byte emoji', req: { title: '🚀'.repeat(500) } },
      { name: 'content of 20,000 characters', req: { content: x(20_000) } },
      { name: 'empty content', req: { content: '' } },
      { name: 'related fields of 200 characters', req: { related_entity_type: x(200), related_entity_id: x(200) } },
      { name: 'metadata of exactly 16 KB', req: { metadata: metadataOf(16 * 1024) } },
      { name: 'idempotency_key of 200 characters', req: { idempotency_key: x(200) } },
    ];
    for (const c of ok) {
      const req = note(id, c.req);
      const res = await client.notifications.CreateNotification(req);
      assert.ok(res.notification !== null, c.name);
      const stored = await client.notifications.GetNotification({ id: res.notification.id });
      assert.equal(stored.title, req.title, `${c.name}: title round-trips`);
      assert.equal(stored.content, req.content ?? '', `${c.name}: content round-trips`);
      const { decision } = await client.notifications.EvaluateNotification({ notification: req });
      assert.ok(decision !== null, `${c.name}: Evaluate accepts it`);
    }
  });
});
