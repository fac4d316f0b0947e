import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test, type TestContext } from 'node:test';
import { status } from '@grpc/grpc-js';
import { Webhook } from 'standardwebhooks';
import { createHeraldClient, type HeraldClient } from '../../src/client.js';
import { waitForFinal } from '../helpers/deliveries.js';
import { cleanup, codeOf, startHerald, type Herald } from '../helpers/herald.js';
import { startReceiver, type Receiver, type RecordedRequest } from '../helpers/receiver.js';

/*
 * Issue #18, stage C: herald.v1.EndpointService through the real gRPC API,
 * a real SQLite file (or PostgreSQL, see test/postgres/) and a real receiver.
 */

async function receiverFor(t: TestContext): Promise<Receiver> {
  const receiver = await startReceiver();
  cleanup(t, () => receiver.close());
  return receiver;
}

function clientFor(t: TestContext, h: Pick<Herald, 'address'>, options: { token?: string; tenant?: string }): HeraldClient {
  const c = createHeraldClient(h.address, options);
  cleanup(t, () => c.close());
  return c;
}

function assertSignedBy(secret: string, req: RecordedRequest): void {
  const flat = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
  assert.doesNotThrow(() => new Webhook(secret).verify(req.body.toString('utf8'), flat), 'standardwebhooks verifies with the endpoint secret');
  assert.equal(req.headers['x-herald-signature'], `sha256=${createHmac('sha256', secret).update(req.body).digest('hex')}`);
}

test('an endpoint is created, read, updated (with a field mask), listed and deleted through the API; headers read back masked and no secret is shown', async (t) => {
  const h = await startHerald(t);
  const receiver = await receiverFor(t);
  const c = h.client;
  await c.preferences.UpdatePreferences({ preferences: { agent_id: 'owner', enable_webhook: true, webhook_url: `${receiver.url}first` } });

  const created = await c.endpoints.CreateEndpoint({
    endpoint: {
      agent_id: 'owner',
      description: 'chat',
      url: `${receiver.url}chat`,
      event_types: ['job.*'],
      filter: [{ field: 'metadata.env', operator: 'FILTER_OPERATOR_IN', values: ['prod', 'staging'] }],
      headers: { Authorization: 'Bearer s3cret' },
      timeout_ms: 5000,
      retry_policy: { max_attempts: 5 },
      overrides: { quiet_hours: { start: '22:00', end: '07:00', policy: 'QUIET_HOURS_POLICY_DIGEST' }, min_priority: 'PRIORITY_HIGH' },
    },
  });
  assert.match(created.id, /^ep_[0-9A-Z]{26}$/);
  assert.equal(created.agent_id, 'owner');
  assert.equal(created.enabled, true);
  assert.equal(created.secret_set, true);
  assert.deepEqual(created.headers, { Authorization: '***' });
  assert.equal(JSON.stringify(created).includes('s3cret'), false);
  assert.equal(JSON.stringify(created).includes('whsec_'), false);

  const got = await c.endpoints.GetEndpoint({ id: created.id });
  assert.deepEqual(got, created);
  assert.deepEqual(got.event_types, ['job.*']);
  assert.deepEqual(got.filter, [{ field: 'metadata.env', operator: 'FILTER_OPERATOR_IN', values: ['prod', 'staging'] }]);
  assert.equal(got.timeout_ms, 5000);
  assert.equal(got.retry_policy?.max_attempts, 5);
  assert.equal(got.retry_policy?.initial_delay_ms, undefined);
  assert.equal(got.overrides?.quiet_hours_choice, 'quiet_hours');
  assert.deepEqual([got.overrides?.quiet_hours?.start, got.overrides?.quiet_hours?.end, got.overrides?.quiet_hours?.policy], ['22:00', '07:00', 'QUIET_HOURS_POLICY_DIGEST']);
  assert.equal(got.overrides?.min_priority, 'PRIORITY_HIGH');

  // A mask changes exactly the named fields: the description, and the quiet hours to "none"; min_priority stays.
  const updated = await c.endpoints.UpdateEndpoint({
    endpoint: { id: created.id, description: 'chat (night-free)', url: 'https://ignored.example/', overrides: { no_quiet_hours: {} } },
    update_mask: { paths: ['description', 'overrides.quiet_hours'] },
  });
  assert.equal(updated.description, 'chat (night-free)');
  assert.equal(updated.url, `${receiver.url}chat`);
  assert.equal(updated.overrides?.quiet_hours_choice, 'no_quiet_hours');
  assert.equal(updated.overrides?.min_priority, 'PRIORITY_HIGH');
  assert.deepEqual(updated.headers, { Authorization: '***' }, 'headers left out of the mask are kept');
  // A named override left unset goes back to inheriting the agent's.
  const inherited = await c.endpoints.UpdateEndpoint({ endpoint: { id: created.id }, update_mask: { paths: ['overrides.min_priority'] } });
  assert.equal(inherited.overrides?.min_priority, undefined);
  assert.equal(inherited.overrides?.quiet_hours_choice, 'no_quiet_hours');

  const listed = await c.endpoints.ListEndpoints({ agent_id: 'owner' });
  assert.deepEqual(listed.endpoints.map((e) => e.url), [`${receiver.url}first`, `${receiver.url}chat`], 'the 0.2 webhook first, in creation order');
  assert.equal(listed.next_page_token, '');
  const paged = await c.endpoints.ListEndpoints({ agent_id: 'owner', page_size: 1 });
  assert.equal(paged.endpoints.length, 1);
  const rest = await c.endpoints.ListEndpoints({ agent_id: 'owner', page_size: 1, page_token: paged.next_page_token });
  assert.deepEqual(rest.endpoints.map((e) => e.id), [created.id]);
  assert.equal((await codeOf(c.endpoints.ListEndpoints({ agent_id: 'someone-else', page_token: paged.next_page_token }))).code, status.INVALID_ARGUMENT);

  // The first endpoint is the agent's 0.2 webhook: its URL is webhook_url's to change, and it is not deleted here.
  const first = listed.endpoints[0]!;
  const moved = await codeOf(c.endpoints.UpdateEndpoint({ endpoint: { id: first.id, url: `${receiver.url}elsewhere` } }));
  assert.equal(moved.code, status.FAILED_PRECONDITION);
  assert.match(moved.details, /UpdatePreferences \(webhook_url\)/);
  assert.equal((await c.endpoints.UpdateEndpoint({ endpoint: { id: first.id, description: 'the 0.2 one' } })).description, 'the 0.2 one');
  assert.equal((await c.preferences.GetPreferences({ agent_id: 'owner' })).webhook_url, `${receiver.url}first`);
  const refused = await codeOf(c.endpoints.DeleteEndpoint({ id: first.id }));
  assert.equal(refused.code, status.FAILED_PRECONDITION);
  assert.match(refused.details, /UpdatePreferences/);
  assert.match(refused.details, /DeletePreferences/);

  assert.deepEqual(await c.endpoints.DeleteEndpoint({ id: created.id }), { cancelled_deliveries: 0 });
  assert.equal((await codeOf(c.endpoints.GetEndpoint({ id: created.id }))).code, status.NOT_FOUND);
  assert.deepEqual((await c.endpoints.ListEndpoints({ agent_id: 'owner' })).endpoints.map((e) => e.id), [first.id]);
  assert.equal((await codeOf(c.endpoints.DeleteEndpoint({ id: created.id }))).code, status.NOT_FOUND);
});

test('deleting an endpoint cancels its pending deliveries and says how many; the agent\'s other endpoints keep theirs', async (t) => {
  const h = await startHerald(t);
  const receiver = await receiverFor(t);
  const c = h.client;
  await c.preferences.UpdatePreferences({ preferences: { agent_id: 'owner', enable_webhook: true, webhook_url: `${receiver.url}first` } });
  const hour = new Date().getUTCHours();
  const pad = (n: number): string => String((n + 24) % 24).padStart(2, '0');
  // Inside its own quiet hours with DEFER: its deliveries wait.
  const waiting = await c.endpoints.CreateEndpoint({
    endpoint: { agent_id: 'owner', url: `${receiver.url}night`, overrides: { quiet_hours: { start: `${pad(hour - 1)}:00`, end: `${pad(hour + 2)}:00`, policy: 'QUIET_HOURS_POLICY_DEFER' } } },
  });
  const n1 = await c.notifications.CreateNotification({ agent_id: 'owner', notification_type: 'job.done', title: 'one' });
  await c.notifications.CreateNotification({ agent_id: 'owner', notification_type: 'job.done', title: 'two' });
  assert.equal(n1.endpoint_results[1]?.outcome, 'DECISION_OUTCOME_DEFER');

  const before = await c.endpoints.GetEndpointStats({ id: waiting.id });
  assert.deepEqual([before.queue_depth, before.succeeded, before.failed, before.success_rate, before.attempts, before.last_success_at], [2, 0, 0, 0, 0, null]);
  assert.deepEqual(await c.endpoints.DeleteEndpoint({ id: waiting.id }), { cancelled_deliveries: 2 });
  assert.equal((await c.deliveries.GetDelivery({ id: n1.endpoint_results[1]!.delivery_id })).status, 'DELIVERY_STATUS_CANCELLED');
  assert.equal((await waitForFinal(c, n1.endpoint_results[0]!.delivery_id)).status, 'DELIVERY_STATUS_SUCCEEDED');
});

test('a second endpoint created through the API receives webhooks signed with its own secret (GetEndpointSecret), alongside the first', async (t) => {
  const h = await startHerald(t);
  const receiver = await receiverFor(t);
  const c = h.client;
  await c.preferences.UpdatePreferences({ preferences: { agent_id: 'owner', enable_webhook: true, webhook_url: `${receiver.url}first` } });
  const second = await c.endpoints.CreateEndpoint({ endpoint: { agent_id: 'owner', url: `${receiver.url}second`, description: 'second' } });
  const firstSecret = (await c.preferences.GetWebhookSecret({ agent_id: 'owner' })).webhook_secret;
  const secondSecret = (await c.endpoints.GetEndpointSecret({ id: second.id })).secret;
  assert.match(secondSecret, /^whsec_/);
  assert.notEqual(secondSecret, firstSecret);

  const created = await c.notifications.CreateNotification({ agent_id: 'owner', notification_type: 'job.done', title: 'hello' });
  assert.deepEqual(created.endpoint_results.map((r) => r.endpoint_id).slice(1), [second.id]);
  for (const r of created.endpoint_results) assert.equal((await waitForFinal(c, r.delivery_id)).status, 'DELIVERY_STATUS_SUCCEEDED');
  const requests = await receiver.waitForRequests(2);
  const byPath = new Map(requests.map((r) => [r.path, r]));
  assertSignedBy(firstSecret, byPath.get('/first')!);
  assertSignedBy(secondSecret, byPath.get('/second')!);
  assert.equal(byPath.get('/second')!.headers['x-herald-endpoint'], second.id);

  // Rotating with no grace period: the next webhook is signed with the new secret only.
  const rotated = await c.endpoints.RotateEndpointSecret({ id: second.id, grace_period_seconds: 0 });
  assert.notEqual(rotated.secret, secondSecret);
  assert.equal(rotated.previous_secret_expires_at, null);
  assert.deepEqual(await c.endpoints.GetEndpointSecret({ id: second.id }), { secret: rotated.secret, previous_secret: '', previous_secret_expires_at: null });
  assert.equal((await c.preferences.GetWebhookSecret({ agent_id: 'owner' })).webhook_secret, firstSecret, 'the first endpoint keeps its own');
  const again = await c.notifications.CreateNotification({ agent_id: 'owner', notification_type: 'job.done', title: 'again' });
  assert.equal((await waitForFinal(c, again.endpoint_results[1]!.delivery_id)).status, 'DELIVERY_STATUS_SUCCEEDED');
  const latest = (await receiver.waitForRequests(4)).filter((r) => r.path === '/second').at(-1)!;
  assertSignedBy(rotated.secret, latest);

  const stats = await c.endpoints.GetEndpointStats({ id: second.id });
  assert.deepEqual(
    [stats.endpoint_id, stats.succeeded, stats.failed, stats.success_rate, stats.attempts, stats.queue_depth, stats.consecutive_failures, stats.last_failure_at],
    [second.id, 2, 0, 1, 2, 0, 0, null],
  );
  assert.ok(stats.last_success_at !== null && stats.p95_latency_ms >= stats.p50_latency_ms);
  // A period that starts after both: nothing counted, but the last success is of any time.
  const later = await c.endpoints.GetEndpointStats({ id: second.id, since: { seconds: Math.floor(Date.now() / 1000) + 60 } });
  assert.deepEqual([later.succeeded, later.attempts, later.last_success_at], [0, 0, stats.last_success_at]);
});

test('an agent has at most HERALD_MAX_ENDPOINTS_PER_AGENT endpoints, its first included; creating one for an agent without preferences names UpdatePreferences', async (t) => {
  const h = await startHerald(t, { env: { HERALD_MAX_ENDPOINTS_PER_AGENT: '3' } });
  const c = h.client;
  const none = await codeOf(c.endpoints.CreateEndpoint({ endpoint: { agent_id: 'nobody', url: 'https://example.com/hook' } }));
  assert.equal(none.code, status.FAILED_PRECONDITION);
  assert.match(none.details, /UpdatePreferences/);

  await c.preferences.UpdatePreferences({ preferences: { agent_id: 'owner', webhook_url: 'https://example.com/first' } });
  await c.endpoints.CreateEndpoint({ endpoint: { agent_id: 'owner', url: 'https://example.com/2' } });
  await c.endpoints.CreateEndpoint({ endpoint: { agent_id: 'owner', url: 'https://example.com/3' } });
  const over = await codeOf(c.endpoints.CreateEndpoint({ endpoint: { agent_id: 'owner', url: 'https://example.com/4' } }));
  assert.equal(over.code, status.FAILED_PRECONDITION);
  assert.match(over.details, /HERALD_MAX_ENDPOINTS_PER_AGENT=3/);
  assert.equal((await c.endpoints.ListEndpoints({ agent_id: 'owner' })).endpoints.length, 3, 'nothing half-written');
  // Another agent has its own allowance.
  await c.preferences.UpdatePreferences({ preferences: { agent_id: 'other' } });
  await c.endpoints.CreateEndpoint({ endpoint: { agent_id: 'other', url: 'https://example.com/other' } });
});

test('bad input is refused with INVALID_ARGUMENT naming the field, and nothing is written', async (t) => {
  const h = await startHerald(t);
  const c = h.client;
  await c.preferences.UpdatePreferences({ preferences: { agent_id: 'owner' } });
  const before = (await c.endpoints.ListEndpoints({ agent_id: 'owner' })).endpoints;
  const refusals: Array<[string, Parameters<typeof c.endpoints.CreateEndpoint>[0], RegExp]> = [
    ['unknown filter field', { endpoint: { agent_id: 'owner', url: 'https://example.com/h', filter: [{ field: 'colour', operator: 'FILTER_OPERATOR_EQUALS', values: ['red'] }] } }, /^endpoint\.filter\[0\]\.field: /],
    ['filter without operator', { endpoint: { agent_id: 'owner', url: 'https://example.com/h', filter: [{ field: 'priority', values: ['HIGH'] }] } }, /^endpoint\.filter\[0\]\.operator: /],
    ['quiet-hours policy without a window', { endpoint: { agent_id: 'owner', url: 'https://example.com/h', overrides: { quiet_hours: { policy: 'QUIET_HOURS_POLICY_DIGEST' } } } }, /^endpoint\.overrides\.quiet_hours: a quiet-hours policy without a window/],
    ['a URL the outbound guard refuses', { endpoint: { agent_id: 'owner', url: 'http://169.254.169.254/latest/meta-data' } }, /^endpoint\.url: /],
    ['no URL', { endpoint: { agent_id: 'owner' } }, /^endpoint\.url: is required/],
    ['a description over 200 characters', { endpoint: { agent_id: 'owner', url: 'https://example.com/h', description: 'x'.repeat(201) } }, /^endpoint\.description: /],
    ['a masked header with nothing stored', { endpoint: { agent_id: 'owner', url: 'https://example.com/h', headers: { 'X-Key': '***' } } }, /^endpoint\.headers\["X-Key"\]: /],
    ['max_delay_ms below initial_delay_ms', { endpoint: { agent_id: 'owner', url: 'https://example.com/h', retry_policy: { initial_delay_ms: 5000, max_delay_ms: 1000 } } }, /^endpoint\.retry_policy\.max_delay_ms: /],
  ];
  for (const [what, request, message] of refusals) {
    const got = await codeOf(c.endpoints.CreateEndpoint(request));
    assert.equal(got.code, status.INVALID_ARGUMENT, what);
    assert.match(got.details, message, what);
  }
  assert.deepEqual((await c.endpoints.ListEndpoints({ agent_id: 'owner' })).endpoints, before, 'nothing half-written');

  const ep = await c.endpoints.CreateEndpoint({ endpoint: { agent_id: 'owner', url: 'https://example.com/h', headers: { 'X-Key': 'k' } } });
  const badMask = await codeOf(c.endpoints.UpdateEndpoint({ endpoint: { id: ep.id }, update_mask: { paths: ['colour'] } }));
  assert.equal(badMask.code, status.INVALID_ARGUMENT);
  assert.match(badMask.details, /^update_mask\.paths: unknown field "colour"/);
  const badUpdate = await codeOf(c.endpoints.UpdateEndpoint({ endpoint: { id: ep.id, filter: [{ field: 'metadata.', operator: 'FILTER_OPERATOR_EXISTS' }] } }));
  assert.equal(badUpdate.code, status.INVALID_ARGUMENT);
  assert.match(badUpdate.details, /^endpoint\.filter\[0\]\.field: /);
  // Moving the URL to another origin while keeping the stored header values would send them elsewhere.
  const moved = await codeOf(c.endpoints.UpdateEndpoint({ endpoint: { id: ep.id, url: 'https://elsewhere.example.com/h' } }));
  assert.equal(moved.code, status.INVALID_ARGUMENT);
  assert.match(moved.details, /^endpoint\.headers: /);
  assert.deepEqual(await c.endpoints.GetEndpoint({ id: ep.id }), ep, 'a refused update writes nothing');
  assert.equal((await codeOf(c.endpoints.GetEndpoint({ id: 'not-an-endpoint' }))).code, status.INVALID_ARGUMENT);
});

test('roles: a read token reads endpoints but cannot create one or read a secret; a write token cannot read or rotate a secret; other tenants see nothing', async (t) => {
  const h = await startHerald(t, { env: { HERALD_API_TOKENS: 'acme:read:acme-read-token-0001,acme:write:acme-write-token-001,acme:admin:acme-admin-token-001,beta:admin:beta-admin-token-001' } });
  const admin = clientFor(t, h, { token: 'acme-admin-token-001' });
  const write = clientFor(t, h, { token: 'acme-write-token-001' });
  const read = clientFor(t, h, { token: 'acme-read-token-0001' });
  const beta = clientFor(t, h, { token: 'beta-admin-token-001' });
  await admin.preferences.UpdatePreferences({ preferences: { agent_id: 'owner' } });
  const ep = await write.endpoints.CreateEndpoint({ endpoint: { agent_id: 'owner', url: 'https://example.com/h' } });

  assert.deepEqual(await read.endpoints.GetEndpoint({ id: ep.id }), ep);
  assert.equal((await codeOf(read.endpoints.CreateEndpoint({ endpoint: { agent_id: 'owner', url: 'https://example.com/2' } }))).code, status.PERMISSION_DENIED);
  assert.equal((await codeOf(read.endpoints.GetEndpointSecret({ id: ep.id }))).code, status.PERMISSION_DENIED);
  assert.equal((await codeOf(write.endpoints.GetEndpointSecret({ id: ep.id }))).code, status.PERMISSION_DENIED);
  assert.equal((await codeOf(write.endpoints.RotateEndpointSecret({ id: ep.id }))).code, status.PERMISSION_DENIED);
  assert.match((await admin.endpoints.GetEndpointSecret({ id: ep.id })).secret, /^whsec_/);

  // Another tenant: the id names nothing there, and its agent of the same name has no endpoints.
  for (const call of [
    () => beta.endpoints.GetEndpoint({ id: ep.id }),
    () => beta.endpoints.GetEndpointSecret({ id: ep.id }),
    () => beta.endpoints.RotateEndpointSecret({ id: ep.id }),
    () => beta.endpoints.UpdateEndpoint({ endpoint: { id: ep.id, description: 'mine' } }),
    () => beta.endpoints.DeleteEndpoint({ id: ep.id }),
  ]) {
    assert.equal((await codeOf(call())).code, status.NOT_FOUND);
  }
  assert.deepEqual((await beta.endpoints.ListEndpoints({ agent_id: 'owner' })).endpoints, []);
  assert.deepEqual(await admin.endpoints.GetEndpoint({ id: ep.id }), ep, 'unchanged by the other tenant');
});

test('the delivery calls narrow to one endpoint: ListDeliveries, GetDeliveryStats, WatchDeliveries, ReplayDeliveries and SendTestWebhook with endpoint_id', async (t) => {
  const h = await startHerald(t);
  const c = h.client;
  const first = await receiverFor(t);
  // The second endpoint's receiver refuses the first two webhooks (400: FAILED at once), then accepts.
  const second = await startReceiver([{ status: 400 }, { status: 400 }]);
  cleanup(t, () => second.close());
  await c.preferences.UpdatePreferences({ preferences: { agent_id: 'split', enable_webhook: true, webhook_url: `${first.url}first` } });
  await c.preferences.UpdatePreferences({ preferences: { agent_id: 'other', enable_webhook: true, webhook_url: `${first.url}other` } });
  const [firstEndpoint] = (await c.endpoints.ListEndpoints({ agent_id: 'split' })).endpoints;
  assert.ok(firstEndpoint !== undefined);
  const ep = await c.endpoints.CreateEndpoint({ endpoint: { agent_id: 'split', description: 'second', url: `${second.url}second` } });

  const watched: string[] = [];
  const stream = c.deliveries.WatchDeliveries({ agent_id: 'split', endpoint_id: ep.id });
  stream.on('data', (e: { delivery?: { endpoint_id?: string } }) => watched.push(e.delivery?.endpoint_id ?? '(none)'));
  stream.on('error', () => undefined);
  cleanup(t, () => stream.cancel());
  // The stream is registered once its call has reached the server; a first create after that is seen.
  await new Promise((resolve) => setTimeout(resolve, 200));

  const ids: string[] = [];
  for (let i = 0; i < 2; i++) {
    const r = await c.notifications.CreateNotification({ agent_id: 'split', notification_type: 'job.done', title: `n${i}` });
    for (const e of r.endpoint_results) ids.push(e.delivery_id);
  }
  assert.equal(ids.length, 4, 'two notifications, two endpoints each');
  for (const id of ids) await waitForFinal(c, id);

  const listed = await c.deliveries.ListDeliveries({ agent_id: 'split', endpoint_id: ep.id });
  assert.equal(listed.deliveries.length, 2);
  assert.ok(listed.deliveries.every((d) => d.endpoint_id === ep.id && d.status === 'DELIVERY_STATUS_FAILED'));
  assert.equal((await c.deliveries.ListDeliveries({ endpoint_id: firstEndpoint.id })).deliveries.length, 2, 'endpoint_id alone narrows too');
  assert.equal((await c.deliveries.ListDeliveries({ agent_id: 'split' })).deliveries.length, 4, 'without endpoint_id: every endpoint');

  const stats = await c.deliveries.GetDeliveryStats({ agent_id: 'split', endpoint_id: ep.id });
  assert.equal(Number(stats.failed), 2);
  assert.equal(Number(stats.succeeded), 0);
  assert.equal(Number((await c.deliveries.GetDeliveryStats({ endpoint_id: firstEndpoint.id })).succeeded), 2);

  // Only the second endpoint's failures are replayed; the receiver now accepts.
  const since = { seconds: Math.floor(Date.now() / 1000) - 3600, nanos: 0 };
  assert.equal((await c.deliveries.ReplayDeliveries({ agent_id: 'split', endpoint_id: firstEndpoint.id, since })).scheduled, 0, 'nothing FAILED on the first endpoint');
  assert.equal((await c.deliveries.ReplayDeliveries({ agent_id: 'split', endpoint_id: ep.id, since })).scheduled, 2);
  for (const d of listed.deliveries) assert.equal((await waitForFinal(c, d.id)).status, 'DELIVERY_STATUS_SUCCEEDED');
  assert.equal(second.requests.length, 4);
  assert.equal(first.requests.filter((r) => r.path === '/first').length, 2, 'the first endpoint got nothing again');

  // A test webhook to the chosen endpoint, signed with its own secret.
  const { secret } = await c.endpoints.GetEndpointSecret({ id: ep.id });
  const test = await c.deliveries.SendTestWebhook({ agent_id: 'split', endpoint_id: ep.id });
  assert.equal(test.success, true);
  const sent = second.requests.at(-1)!;
  assert.equal(sent.path, '/second');
  assert.equal(sent.headers['x-herald-endpoint'], ep.id);
  assertSignedBy(secret, sent);
  assert.equal((await c.deliveries.GetDelivery({ id: test.delivery_id })).endpoint_id, ep.id);
  const plain = await c.deliveries.SendTestWebhook({ agent_id: 'split' });
  assert.equal((await c.deliveries.GetDelivery({ id: plain.delivery_id })).endpoint_id, firstEndpoint.id, 'without endpoint_id: the first endpoint, as in 0.2');

  // The stream saw the second endpoint's changes only.
  assert.ok(watched.length > 0, 'the endpoint stream saw events');
  assert.ok(watched.every((id) => id === ep.id), `only ${ep.id}: ${JSON.stringify([...new Set(watched)])}`);

  // Wrong endpoints are named.
  const otherFirst = (await c.endpoints.ListEndpoints({ agent_id: 'other' })).endpoints[0]!;
  const mismatch = await codeOf(c.deliveries.ListDeliveries({ agent_id: 'split', endpoint_id: otherFirst.id }));
  assert.equal(mismatch.code, status.INVALID_ARGUMENT);
  assert.match(mismatch.details, /^endpoint_id: .*is an endpoint of agent "other", not of agent "split"/);
  assert.equal((await codeOf(c.deliveries.GetDeliveryStats({ endpoint_id: 'ep_01ZZZZZZZZZZZZZZZZZZZZZZZZ' }))).code, status.NOT_FOUND);
  const malformed = await codeOf(c.deliveries.SendTestWebhook({ agent_id: 'split', endpoint_id: 'nope' }));
  assert.equal(malformed.code, status.INVALID_ARGUMENT);
  assert.match(malformed.details, /^endpoint_id: must be an endpoint id/);
});

test('ReplayDeliveries without endpoint_id replays the failures of every endpoint that is on, also for an agent without a webhook_url, and leaves an endpoint that is off alone', async (t) => {
  const h = await startHerald(t);
  const c = h.client;
  // Both receivers refuse the first webhook (400: FAILED at once), then accept.
  const on = await startReceiver([{ status: 400 }]);
  const off = await startReceiver([{ status: 400 }]);
  cleanup(t, () => on.close());
  cleanup(t, () => off.close());
  // Preferences without a webhook_url: the agent's webhooks go to its endpoints only.
  await c.preferences.UpdatePreferences({ preferences: { agent_id: 'no-url', enable_webhook: true, time_zone: 'UTC' } });
  const a = await c.endpoints.CreateEndpoint({ endpoint: { agent_id: 'no-url', description: 'on', url: `${on.url}on` } });
  const b = await c.endpoints.CreateEndpoint({ endpoint: { agent_id: 'no-url', description: 'off', url: `${off.url}off` } });
  const created = await c.notifications.CreateNotification({ agent_id: 'no-url', notification_type: 'job.done', title: 'n' });
  const ids = created.endpoint_results.map((e) => e.delivery_id).filter((id) => id !== '');
  assert.equal(ids.length, 2, 'one delivery per endpoint');
  for (const id of ids) assert.equal((await waitForFinal(c, id)).status, 'DELIVERY_STATUS_FAILED');
  await c.endpoints.UpdateEndpoint({ endpoint: { id: b.id, enabled: false }, update_mask: { paths: ['enabled'] } });

  const since = { seconds: Math.floor(Date.now() / 1000) - 3600, nanos: 0 };
  assert.equal((await c.deliveries.ReplayDeliveries({ agent_id: 'no-url', since })).scheduled, 1, 'the endpoint that is on');
  const byEndpoint = new Map((await c.deliveries.ListDeliveries({ agent_id: 'no-url' })).deliveries.map((d) => [d.endpoint_id, d.id]));
  assert.equal((await waitForFinal(c, byEndpoint.get(a.id)!)).status, 'DELIVERY_STATUS_SUCCEEDED');
  assert.equal((await c.deliveries.GetDelivery({ id: byEndpoint.get(b.id)! })).status, 'DELIVERY_STATUS_FAILED', 'the endpoint that is off keeps its failure');
  assert.equal(off.requests.length, 1);

  // With every endpoint off there is nowhere to send: refused, naming why.
  await c.endpoints.UpdateEndpoint({ endpoint: { id: a.id, enabled: false }, update_mask: { paths: ['enabled'] } });
  const noneOn = await codeOf(c.deliveries.ReplayDeliveries({ agent_id: 'no-url', since }));
  assert.equal(noneOn.code, status.FAILED_PRECONDITION);
  assert.match(noneOn.details, /has no endpoint turned on/);
  // And with the master switch off, whatever the endpoints say.
  await c.endpoints.UpdateEndpoint({ endpoint: { id: a.id, enabled: true }, update_mask: { paths: ['enabled'] } });
  await c.preferences.UpdatePreferences({ preferences: { agent_id: 'no-url', enable_webhook: false }, update_mask: { paths: ['enable_webhook'] } });
  const masterOff = await codeOf(c.deliveries.ReplayDeliveries({ agent_id: 'no-url', since }));
  assert.equal(masterOff.code, status.FAILED_PRECONDITION);
  assert.match(masterOff.details, /has its webhooks turned off \(enable_webhook\)/);
});
