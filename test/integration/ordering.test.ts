import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { status } from '@grpc/grpc-js';
import type { CreateNotificationResponse__Output } from '../../src/generated/proto/herald/v1/CreateNotificationResponse.js';
import type { Endpoint } from '../../src/generated/proto/herald/v1/Endpoint.js';
import { CONSOLE_TOKENS, ConsoleSession, quietAroundNow, startConsoleHerald } from '../helpers/console.js';
import { waitForFinal } from '../helpers/deliveries.js';
import { cleanup, codeOf, startHerald, TEST_DATABASE, type Herald } from '../helpers/herald.js';
import { startReceiver, type Receiver, type ReceiverOptions } from '../helpers/receiver.js';

/*
 * Ordered delivery per key (issue #21), through the real API with a real
 * receiver: on an ORDERING_PER_KEY endpoint, a webhook with ordering_key K
 * is not sent while an earlier-created one of K to that endpoint is
 * unfinished; other keys and other endpoints flow. PostgreSQL runs the same
 * file (test/postgres/ordering.test.ts), the first test across 3 replicas.
 */

async function receiverFor(t: TestContext, options: ReceiverOptions = {}): Promise<Receiver> {
  const receiver = await startReceiver([], options);
  cleanup(t, () => receiver.close());
  return receiver;
}

/** An agent with webhooks on and no 0.2 webhook_url: its endpoints are the ones added. */
async function agentWithoutUrl(h: Herald, agentId: string): Promise<void> {
  await h.client.preferences.UpdatePreferences({ preferences: { agent_id: agentId, enable_webhook: true } });
}

async function addEndpoint(h: Herald, agentId: string, endpoint: Omit<Endpoint, 'agent_id'>): Promise<string> {
  return (await h.client.endpoints.CreateEndpoint({ endpoint: { agent_id: agentId, ...endpoint } })).id;
}

const keyOf = (headers: Record<string, string | string[] | undefined>): string => String(headers['x-herald-ordering-key'] ?? '');
const seqOf = (headers: Record<string, string | string[] | undefined>): number => Number(headers['x-herald-sequence'] ?? 0);
const deliveryOn = (r: CreateNotificationResponse__Output, endpointId: string): string => r.endpoint_results.find((e) => e.endpoint_id === endpointId)!.delivery_id;

test('50 keys × 20 notifications created concurrently, a random fifth of first attempts answered 500: every key arrives in creation order, one at a time (X-Herald-Sequence), on every replica', async (t) => {
  const KEYS = 50;
  const PER_KEY = 20;
  const total = KEYS * PER_KEY;
  // Several sends to the endpoint at once, so that keys really flow side by side.
  const env = { HERALD_AGENT_MAX_IN_FLIGHT: '16' };
  const first = await startHerald(t, { env });
  const replicas = TEST_DATABASE === 'postgresql'
    ? [first, ...(await Promise.all([0, 1].map(() => startHerald(t, { env: { ...env, DATABASE_URL: first.env.DATABASE_URL! } }))))]
    : [first];
  /** Per key, every arrival in order: its sequence and whether it was answered 200. */
  const arrivals = new Map<string, Array<{ seq: number; ok: boolean }>>();
  const seen = new Set<string>();
  let succeeded = 0;
  let failedOnPurpose = 0;
  let allSucceeded: () => void = () => {};
  const done = new Promise<void>((resolve) => (allSucceeded = resolve));
  const receiver = await receiverFor(t, {
    answer: ({ headers }) => {
      const id = String(headers['x-herald-delivery']);
      const firstAttempt = !seen.has(id);
      seen.add(id);
      const ok = !(firstAttempt && Math.random() < 0.2);
      const list = arrivals.get(keyOf(headers)) ?? [];
      list.push({ seq: seqOf(headers), ok });
      arrivals.set(keyOf(headers), list);
      if (!ok) {
        failedOnPurpose++;
        return { status: 500, body: 'try again' };
      }
      if (++succeeded === total) allSucceeded();
      return { status: 200, body: 'ok' };
    },
  });
  const agent = 'ordered';
  await agentWithoutUrl(first, agent);
  const endpoint = await addEndpoint(first, agent, { url: receiver.url, ordering: 'ORDERING_PER_KEY' });

  // Even keys: each key's creates one after another (creation order is known: title i); odd keys: all twenty at once.
  const create = (k: number, i: number) =>
    replicas[(k + i) % replicas.length]!.client.notifications.CreateNotification({ agent_id: agent, notification_type: 'job.step', title: `${i}`, ordering_key: `job:${k}` });
  const created = await Promise.all(
    Array.from({ length: KEYS }, async (_, k) => {
      if (k % 2 === 1) return Promise.all(Array.from({ length: PER_KEY }, (_, i) => create(k, i)));
      const out: CreateNotificationResponse__Output[] = [];
      for (let i = 0; i < PER_KEY; i++) out.push(await create(k, i));
      return out;
    }),
  );
  await Promise.race([done, sleep(180_000).then(() => assert.fail(`only ${succeeded} of ${total} webhooks succeeded within 180 s`))]);

  assert.ok(failedOnPurpose > 0, 'some first attempts were answered 500');
  assert.equal(arrivals.size, KEYS);
  for (const [key, list] of arrivals) {
    // Every arrival is the next number after the last one answered 200: a retry of it, or, once it succeeded, the one after.
    let last = 0;
    for (const a of list) {
      assert.equal(a.seq, last + 1, `${key}: arrivals ${JSON.stringify(list.map((x) => `${x.seq}${x.ok ? '' : '!'}`))}`);
      if (a.ok) last = a.seq;
    }
    assert.equal(last, PER_KEY, `${key} got every number once`);
  }
  // The numbers follow the acknowledged creates: for the sequentially created keys, title i has number i + 1.
  const byKey = created[0]!;
  for (const [i, r] of byKey.entries()) {
    const d = await first.client.deliveries.GetDelivery({ id: deliveryOn(r, endpoint) });
    assert.deepEqual([d.ordering_key, Number(d.sequence), d.status, d.blocked_by], ['job:0', i + 1, 'DELIVERY_STATUS_SUCCEEDED', '']);
  }
  // For the concurrently created keys, the twenty numbers are exactly 1-20 (no gap, no duplicate).
  const numbers = await Promise.all(created[1]!.map(async (r) => Number((await first.client.deliveries.GetDelivery({ id: deliveryOn(r, endpoint) })).sequence)));
  assert.deepEqual(numbers.sort((a, b) => a - b), Array.from({ length: PER_KEY }, (_, i) => i + 1));
});

test('a key whose receiver hangs holds only itself: the other keys all complete, and an unordered endpoint of the same agent gets every webhook, while the hung delivery is still in flight and the next of its key waits behind it', async (t) => {
  const h = await startHerald(t, { env: { HERALD_METRICS_ADDRESS: '127.0.0.1:0' } });
  const receiver = await receiverFor(t, {
    // Only the ordered endpoint's first webhook of key "stuck" hangs.
    answer: ({ path, headers }) => (path === '/ordered' && keyOf(headers) === 'stuck' && seqOf(headers) === 1 ? { hang: true } : undefined),
  });
  const agent = 'hung';
  await agentWithoutUrl(h, agent);
  const ordered = await addEndpoint(h, agent, { url: `${receiver.url}ordered`, ordering: 'ORDERING_PER_KEY', timeout_ms: 60_000 });
  const free = await addEndpoint(h, agent, { url: `${receiver.url}free` });
  const create = (key: string, title: string) => h.client.notifications.CreateNotification({ agent_id: agent, notification_type: 'job.step', title, ordering_key: key });

  const stuck1 = await create('stuck', 'started');
  const stuck2 = await create('stuck', 'completed');
  const hung = deliveryOn(stuck1, ordered);
  const held = deliveryOn(stuck2, ordered);
  // The hung send has started before the other keys are created.
  await receiver.waitForRequests(1, 20_000);
  const others = [];
  for (let k = 0; k < 10; k++) for (let i = 0; i < 3; i++) others.push(await create(`other:${k}`, `${i}`));

  for (const r of others) assert.equal((await waitForFinal(h.client, deliveryOn(r, ordered))).status, 'DELIVERY_STATUS_SUCCEEDED');
  for (const r of [stuck1, stuck2, ...others]) assert.equal((await waitForFinal(h.client, deliveryOn(r, free))).status, 'DELIVERY_STATUS_SUCCEEDED');
  // All of that happened while the stuck key's first webhook was still being sent.
  const hungNow = await h.client.deliveries.GetDelivery({ id: hung });
  assert.deepEqual([hungNow.status, hungNow.blocked_by, Number(hungNow.sequence)], ['DELIVERY_STATUS_DELIVERING', '', 1]);
  const heldNow = await h.client.deliveries.GetDelivery({ id: held });
  assert.deepEqual([heldNow.status, heldNow.blocked_by, heldNow.ordering_key, Number(heldNow.sequence), heldNow.attempt_count], ['DELIVERY_STATUS_PENDING', hung, 'stuck', 2, 0]);
  assert.equal(receiver.requests.filter((r) => r.path === '/ordered' && keyOf(r.headers) === 'stuck').length, 1, 'the held webhook was never sent');
  // The unordered endpoint's webhooks carry no place in an order.
  for (const r of receiver.requests.filter((x) => x.path === '/free')) assert.deepEqual([r.headers['x-herald-ordering-key'], r.headers['x-herald-sequence']], [undefined, undefined]);
  const freeDelivery = await h.client.deliveries.GetDelivery({ id: deliveryOn(stuck2, free) });
  assert.deepEqual([freeDelivery.ordering_key, Number(freeDelivery.sequence)], ['', 0]);

  // Sending the held one by hand would overtake the hung one: refused, naming it.
  const retried = await codeOf(h.client.deliveries.RetryDelivery({ id: held }));
  assert.equal(retried.code, status.FAILED_PRECONDITION);
  assert.match(retried.details, new RegExp(`waits behind "${hung}"`));
  // The metric counts it; EvaluateNotification says what a new one of the key would wait behind.
  const metrics = await fetch(`http://127.0.0.1:${h.app.metricsPort}/metrics`).then((r) => r.text());
  assert.match(metrics, /^herald_deliveries_held_by_order 1$/m);
  const evaluated = await h.client.notifications.EvaluateNotification({ notification: { agent_id: agent, notification_type: 'job.step', title: 'x', ordering_key: 'stuck' } });
  const explained = evaluated.endpoint_results.find((e) => e.endpoint_id === ordered)!.explanation;
  assert.match(explained, /sent in order of ordering_key "stuck" \(waits behind 2 unfinished earlier webhooks of that key\)/);
  assert.doesNotMatch(evaluated.endpoint_results.find((e) => e.endpoint_id === free)!.explanation, /ordering_key/);
});

test('a delivery that ends FAILED releases the next of its key, which is sent with its own number', async (t) => {
  const h = await startHerald(t);
  const receiver = await receiverFor(t, { answer: ({ headers }) => (seqOf(headers) === 1 ? { status: 500, body: 'no' } : undefined) });
  const agent = 'failing';
  await agentWithoutUrl(h, agent);
  const ordered = await addEndpoint(h, agent, { url: receiver.url, ordering: 'ORDERING_PER_KEY', retry_policy: { max_attempts: 2 } });
  const one = await h.client.notifications.CreateNotification({ agent_id: agent, notification_type: 'job.step', title: 'one', ordering_key: 'job:9' });
  const two = await h.client.notifications.CreateNotification({ agent_id: agent, notification_type: 'job.step', title: 'two', ordering_key: 'job:9' });
  assert.equal((await waitForFinal(h.client, deliveryOn(one, ordered))).status, 'DELIVERY_STATUS_FAILED');
  const second = await waitForFinal(h.client, deliveryOn(two, ordered));
  assert.deepEqual([second.status, Number(second.sequence)], ['DELIVERY_STATUS_SUCCEEDED', 2]);
  assert.deepEqual(receiver.requests.map((r) => [keyOf(r.headers), seqOf(r.headers)]), [['job:9', 1], ['job:9', 1], ['job:9', 2]], 'both attempts of 1, then 2');
});

test('an earlier delivery made pending again behind a later one being sent waits for that send: a manual retry of it is refused and a replay of it is held, naming the one in flight', async (t) => {
  const h = await startHerald(t);
  // The first webhook of key job:7 is refused for good (400); the second hangs while the test looks.
  const receiver = await receiverFor(t, { answer: ({ headers }) => (seqOf(headers) === 1 ? { status: 400 } : { hang: true }) });
  const agent = 'reopened';
  await agentWithoutUrl(h, agent);
  const ordered = await addEndpoint(h, agent, { url: receiver.url, ordering: 'ORDERING_PER_KEY', timeout_ms: 60_000 });
  const one = deliveryOn(await h.client.notifications.CreateNotification({ agent_id: agent, notification_type: 'job.step', title: 'one', ordering_key: 'job:7' }), ordered);
  const two = deliveryOn(await h.client.notifications.CreateNotification({ agent_id: agent, notification_type: 'job.step', title: 'two', ordering_key: 'job:7' }), ordered);
  assert.equal((await waitForFinal(h.client, one)).status, 'DELIVERY_STATUS_FAILED');
  // The failure released the second, which is now being sent (and hangs).
  await receiver.waitForRequests(2, 20_000);
  assert.equal((await h.client.deliveries.GetDelivery({ id: two })).status, 'DELIVERY_STATUS_DELIVERING');

  const retried = await codeOf(h.client.deliveries.RetryDelivery({ id: one }));
  assert.equal(retried.code, status.FAILED_PRECONDITION);
  assert.match(retried.details, new RegExp(`waits behind "${two}"`));

  const since = { seconds: Math.floor(Date.now() / 1000) - 3600, nanos: 0 };
  assert.equal((await h.client.deliveries.ReplayDeliveries({ agent_id: agent, endpoint_id: ordered, since })).scheduled, 1);
  const held = await h.client.deliveries.GetDelivery({ id: one });
  assert.deepEqual([held.status, held.blocked_by, held.attempt_count], ['DELIVERY_STATUS_PENDING', two, 1]);
  assert.equal(receiver.requests.filter((r) => seqOf(r.headers) === 1).length, 1, 'not sent again beside the one in flight');
});

test('digests keep their place in a key\'s order: an URGENT notification that bypasses quiet hours waits behind its key\'s digest, a later one opens a new digest behind it, and another key has a digest of its own', async (t) => {
  const h = await startHerald(t);
  const receiver = await receiverFor(t);
  const agent = 'digested';
  await agentWithoutUrl(h, agent);
  const hour = new Date().getUTCHours();
  const pad = (n: number): string => String((n + 24) % 24).padStart(2, '0');
  const ordered = await addEndpoint(h, agent, {
    url: receiver.url,
    ordering: 'ORDERING_PER_KEY',
    overrides: { quiet_hours: { start: `${pad(hour - 1)}:00`, end: `${pad(hour + 2)}:00`, policy: 'QUIET_HOURS_POLICY_DIGEST', urgent_bypass: true } },
  });
  const create = (key: string, title: string, priority: 'PRIORITY_NORMAL' | 'PRIORITY_URGENT' = 'PRIORITY_NORMAL') =>
    h.client.notifications.CreateNotification({ agent_id: agent, notification_type: 'job.step', title, priority, ordering_key: key });
  const started = await create('job:1', 'started');
  const progress = await create('job:1', 'progress');
  const failed = await create('job:1', 'failed', 'PRIORITY_URGENT');
  const retried = await create('job:1', 'retried');
  const other = await create('job:2', 'started');
  const digest = deliveryOn(started, ordered);
  assert.equal(deliveryOn(progress, ordered), digest, 'the key\'s open digest gathers its next notification');
  const urgent = await h.client.deliveries.GetDelivery({ id: deliveryOn(failed, ordered) });
  assert.deepEqual([urgent.event_type, Number(urgent.sequence), urgent.blocked_by], ['notification', 2, digest], 'the URGENT one is due now but waits behind the digest');
  const later = await h.client.deliveries.GetDelivery({ id: deliveryOn(retried, ordered) });
  assert.notEqual(later.id, digest, 'it did not jump into the older digest, ahead of the URGENT one');
  assert.deepEqual([later.event_type, Number(later.sequence), later.blocked_by], ['digest', 3, digest]);
  const otherDigest = await h.client.deliveries.GetDelivery({ id: deliveryOn(other, ordered) });
  assert.deepEqual([otherDigest.event_type, otherDigest.ordering_key, Number(otherDigest.sequence)], ['digest', 'job:2', 1]);
  assert.equal((await h.client.deliveries.GetDelivery({ id: digest })).ordering_key, 'job:1');
  assert.equal(receiver.requests.length, 0, 'nothing of job:1 was sent ahead of its digest');
});

test('ordering_key and Endpoint.ordering: bad values are INVALID_ARGUMENT naming the field; ordering reads back and is changed with UpdateEndpoint', async (t) => {
  const h = await startHerald(t);
  const agent = 'validating';
  await agentWithoutUrl(h, agent);
  const base = { agent_id: agent, notification_type: 'job.step', title: 'x' };
  for (const [key, why] of [['k'.repeat(201), /ordering_key.*at most 200/], ['job\n17', /ordering_key.*printable ASCII/], [' job:17', /ordering_key.*leading or trailing/]] as const) {
    const refused = await codeOf(h.client.notifications.CreateNotification({ ...base, ordering_key: key }));
    assert.equal(refused.code, status.INVALID_ARGUMENT, JSON.stringify(key));
    assert.match(refused.details, why);
  }
  const evaluated = await codeOf(h.client.notifications.EvaluateNotification({ notification: { ...base, ordering_key: 'a\u0001b' } }));
  assert.equal(evaluated.code, status.INVALID_ARGUMENT);
  assert.match(evaluated.details, /notification\.ordering_key/);
  const badOrdering = await codeOf(h.client.endpoints.CreateEndpoint({ endpoint: { agent_id: agent, url: 'https://example.com/hook', ordering: 7 as unknown as 'ORDERING_NONE' } }));
  assert.equal(badOrdering.code, status.INVALID_ARGUMENT);
  assert.match(badOrdering.details, /endpoint\.ordering.*ORDERING_NONE, ORDERING_PER_KEY/);

  const id = await addEndpoint(h, agent, { url: 'https://example.com/hook' });
  assert.equal((await h.client.endpoints.GetEndpoint({ id })).ordering, 'ORDERING_NONE', 'unset means NONE');
  await h.client.endpoints.UpdateEndpoint({ endpoint: { id, ordering: 'ORDERING_PER_KEY' }, update_mask: { paths: ['ordering'] } });
  assert.equal((await h.client.endpoints.GetEndpoint({ id })).ordering, 'ORDERING_PER_KEY');
  // An update that does not name it leaves it.
  await h.client.endpoints.UpdateEndpoint({ endpoint: { id, description: 'server' } });
  assert.equal((await h.client.endpoints.GetEndpoint({ id })).ordering, 'ORDERING_PER_KEY');
  const n = await h.client.notifications.CreateNotification({ ...base, ordering_key: 'job:17' });
  const d = await h.client.deliveries.GetDelivery({ id: deliveryOn(n, id) });
  assert.deepEqual([d.ordering_key, Number(d.sequence)], ['job:17', 1]);
  assert.match(n.endpoint_results[0]!.explanation, /sent in order of ordering_key "job:17"/);
  // Without a key, nothing is ordered.
  const plain = await h.client.notifications.CreateNotification(base);
  const p = await h.client.deliveries.GetDelivery({ id: deliveryOn(plain, id) });
  assert.deepEqual([p.ordering_key, Number(p.sequence)], ['', 0]);
});

test('the console\'s delivery page shows a held delivery\'s place in its key\'s order and what it waits behind', async (t) => {
  const c = await startConsoleHerald(t);
  const client = c.grpc('default');
  const agent = 'console-ordered';
  await client.preferences.UpdatePreferences({ preferences: { agent_id: agent, enable_webhook: true } });
  const quiet = quietAroundNow();
  const endpoint = (await client.endpoints.CreateEndpoint({
    endpoint: { agent_id: agent, url: 'https://example.com/hook', ordering: 'ORDERING_PER_KEY', overrides: { quiet_hours: { ...quiet, policy: 'QUIET_HOURS_POLICY_DEFER', urgent_bypass: true } } },
  })).id;
  // The first is deferred by quiet hours; the URGENT one is due now but keeps behind it.
  const deferred = deliveryOn(await client.notifications.CreateNotification({ agent_id: agent, notification_type: 'job.step', title: 'started', ordering_key: 'job:5' }), endpoint);
  const urgent = deliveryOn(await client.notifications.CreateNotification({ agent_id: agent, notification_type: 'job.step', title: 'failed', priority: 'PRIORITY_URGENT', ordering_key: 'job:5' }), endpoint);
  const s = new ConsoleSession(c.base);
  assert.equal((await s.signIn(CONSOLE_TOKENS.operator, '')).status, 303);
  const page = await s.get(`/deliveries/${urgent}`);
  assert.equal(page.status, 200);
  assert.match(page.body, new RegExp(`<dd id="delivery-order">key job:5, #2; waiting behind <a href="[^"]*/deliveries/${deferred}[^"]*">${deferred}</a></dd>`));
  const first = await s.get(`/deliveries/${deferred}`);
  assert.match(first.body, /<dd id="delivery-order">key job:5, #1<\/dd>/);
});
