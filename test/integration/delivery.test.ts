import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { existsSync } from 'node:fs';
import { test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { status } from '@grpc/grpc-js';
import type { ClientReadableStream } from '@grpc/grpc-js';
import { Webhook } from 'standardwebhooks';

import { VERSION } from '../../src/app.js';
import type { HeraldClient } from '../../src/client.js';
import type { DeliveryEvent__Output } from '../../src/generated/proto/herald/v1/DeliveryEvent.js';
import type { Preferences } from '../../src/generated/proto/herald/v1/Preferences.js';
import type { CreateNotificationRequest } from '../../src/generated/proto/herald/v1/CreateNotificationRequest.js';
import type { Timestamp__Output } from '../../src/generated/proto/google/protobuf/Timestamp.js';
import { codeOf, makeDueOnDatabaseClock, startHerald, TEST_DATABASE, withDatabase } from '../helpers/herald.js';
import { refusedUrl, startReceiver, type Receiver, type ReceiverStep, type RecordedRequest } from '../helpers/receiver.js';
import { waitForFinal } from '../helpers/deliveries.js';

/*
 * Delivery end to end (issue #4): a real Herald on 127.0.0.1:0 with a fresh
 * SQLite file, a real gRPC client, and a real node:http receiver that records
 * every request byte for byte. Outcomes are awaited by polling GetDelivery
 * until the status is final, never by fixed sleeps; the few waits that prove
 * that something did NOT happen are many times the 50 ms retry base.
 */

/** Long enough for a slow, loaded 2-core machine; a passing run needs a fraction of it. */
const DEADLINE_MS = 20_000;

// Debian's interpreter first: a pyenv shim may come first on PATH and need a set-up shell.
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
/** The seed receivers' recipe, verbatim in spirit: hex HMAC-SHA256 of the raw body, keyed by the secret string. */
const PYTHON_HEX_HMAC = [
  'import hashlib, hmac, os, sys',
  'secret = os.environ["HERALD_TEST_SECRET"]',
  'raw_body = sys.stdin.buffer.read()',
  'print(hmac.new(secret.encode(), raw_body, hashlib.sha256).hexdigest())',
].join('\n');

let agentSeq = 0;
/** A fresh agent id per use, so tests never share rows even on a shared database. */
function agentId(label: string): string {
  agentSeq += 1;
  return `dlv-${label}-${process.pid}-${agentSeq}`;
}

async function receiverFor(t: TestContext, script: readonly ReceiverStep[] = []): Promise<Receiver> {
  const receiver = await startReceiver(script);
  t.after(() => receiver.close());
  return receiver;
}

async function enableWebhook(client: HeraldClient, agent: string, url: string, extra: Preferences = {}): Promise<void> {
  await client.preferences.UpdatePreferences({ preferences: { agent_id: agent, enable_webhook: true, webhook_url: url, ...extra } });
}

/** Creates a notification that must be decided DELIVER and returns its delivery id. */
async function notify(client: HeraldClient, agent: string, extra: CreateNotificationRequest = {}): Promise<string> {
  const res = await client.notifications.CreateNotification({
    agent_id: agent,
    notification_type: 'job.completed',
    title: 'Job finished',
    content: 'The nightly export is ready.',
    ...extra,
  });
  assert.equal(res.decision?.outcome, 'DECISION_OUTCOME_DELIVER', `expected DELIVER, got ${res.decision?.outcome}: ${res.decision?.explanation}`);
  const id = res.decision?.delivery_id ?? '';
  assert.match(id, /^dlv_[0-9A-Z]{26}$/);
  return id;
}

/** Polls GetDelivery until the delivery is SUCCEEDED, FAILED or CANCELLED. */

/** Polls until `check` holds; for conditions that only a side channel reveals. */
async function eventually(what: string, check: () => boolean | Promise<boolean>, timeoutMs = DEADLINE_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(25);
  }
}

/** Node's request headers as the flat string map the verifiers expect. */
function flatHeaders(r: RecordedRequest): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(r.headers)) {
    if (typeof value === 'string') out[name] = value;
    else if (Array.isArray(value)) out[name] = value.join(', ');
  }
  return out;
}

function header(r: RecordedRequest, name: string): string {
  const value = r.headers[name.toLowerCase()];
  assert.equal(typeof value, 'string', `header ${name} missing or repeated`);
  return value as string;
}

/** Whether a python3 can run the recipe; a machine with only Node and npm has none. */
const HAS_PYTHON = spawnSync(PYTHON, ['-c', 'import hashlib, hmac'], { timeout: 15_000 }).status === 0;
if (!HAS_PYTHON) {
  console.log(`${PYTHON} cannot run: the seed receivers' hex HMAC recipe is computed with node:crypto instead of Python`);
}

/** Hex HMAC computed by a separate Python process from the raw body on stdin (node:crypto when there is no Python). */
function pythonHexHmac(secret: string, body: Buffer): string {
  if (!HAS_PYTHON) {
    return createHmac('sha256', secret).update(body).digest('hex');
  }
  const run = spawnSync(PYTHON, ['-c', PYTHON_HEX_HMAC], {
    input: body,
    env: { ...process.env, HERALD_TEST_SECRET: secret },
    encoding: 'utf8',
    timeout: 15_000,
  });
  assert.equal(run.error, undefined, `could not run ${PYTHON}: ${String(run.error)}`);
  assert.equal(run.status, 0, `python failed: ${run.stderr}`);
  return run.stdout.trim();
}

/** Throws unless the request verifies with `secret` under the Standard Webhooks scheme. */
function verifyStandard(secret: string, r: RecordedRequest): void {
  new Webhook(secret).verify(r.body.toString('utf8'), flatHeaders(r));
}

function ms(ts: Timestamp__Output | null): number {
  assert.ok(ts !== null, 'timestamp missing');
  return ts.seconds * 1000 + Math.floor(ts.nanos / 1e6);
}

/** "HH:MM" in UTC for an instant, for quiet-hours windows relative to a clock. */
function utcClock(at: number): string {
  return new Date(at).toISOString().slice(11, 16);
}

/** Preferences fields for quiet hours (UTC, policy DEFER) from 5 minutes ago to 10 minutes ahead: creates now are DEFERred. */
function quietNowDeferred(): Preferences {
  const now = Date.now();
  return {
    time_zone: 'UTC',
    quiet_hours: { start: utcClock(now - 5 * 60_000), end: utcClock(now + 10 * 60_000), policy: 'QUIET_HOURS_POLICY_DEFER' },
  };
}

test('a 200 answer gets exactly one request with the documented headers and body, and a SUCCEEDED delivery with one SCHEDULED attempt', async (t) => {
  const { client } = await startHerald(t);
  const receiver = await receiverFor(t, [{ status: 200, headers: { 'content-type': 'text/plain' }, body: 'thanks, got it' }]);
  const agent = agentId('ok');
  await enableWebhook(client, agent, `${receiver.url}hooks/herald`);

  const created = await client.notifications.CreateNotification({
    agent_id: agent,
    notification_type: 'job.completed',
    title: 'Job finished',
    content: 'The nightly export is ready.',
    priority: 'PRIORITY_HIGH',
    related_entity_type: 'job',
    related_entity_id: 'job-42',
    metadata: { fields: { run: { numberValue: 7 }, region: { stringValue: 'eu-west' }, tags: { listValue: { values: [{ stringValue: 'nightly' }] } } } },
  });
  assert.equal(created.decision?.outcome, 'DECISION_OUTCOME_DELIVER');
  const deliveryId = created.decision?.delivery_id ?? '';
  const notificationId = created.notification?.id ?? '';

  const delivery = await waitForFinal(client, deliveryId);
  assert.equal(delivery.status, 'DELIVERY_STATUS_SUCCEEDED');
  // Settled means no further request can come for it; the count is exact.
  assert.equal(receiver.requests.length, 1);
  const [req] = receiver.requests;
  assert.ok(req);

  assert.equal(req.method, 'POST');
  assert.equal(req.path, '/hooks/herald');
  assert.equal(header(req, 'content-type'), 'application/json');
  assert.equal(header(req, 'user-agent'), `Herald-Webhook/${VERSION}`);
  assert.equal(header(req, 'x-herald-event'), 'notification');
  assert.equal(header(req, 'x-herald-delivery'), deliveryId);
  assert.equal(header(req, 'webhook-id'), deliveryId);
  assert.match(header(req, 'webhook-timestamp'), /^\d+$/);
  assert.match(header(req, 'x-herald-signature'), /^sha256=[0-9a-f]{64}$/);
  assert.match(header(req, 'webhook-signature'), /^v1,[A-Za-z0-9+/]+=*$/);

  const body = JSON.parse(req.body.toString('utf8')) as Record<string, unknown>;
  assert.equal(body.event, 'notification');
  assert.equal(body.platform, 'herald');
  assert.equal(typeof body.timestamp, 'string');
  const n = body.notification as Record<string, unknown>;
  assert.equal(n.id, notificationId);
  assert.equal(n.agent_id, agent);
  assert.equal(n.notification_type, 'job.completed');
  assert.equal(n.title, 'Job finished');
  assert.equal(n.content, 'The nightly export is ready.');
  assert.equal(n.priority, 'high');
  assert.equal(n.read, false);
  assert.equal(n.read_at, null);
  assert.equal(n.related_entity_type, 'job');
  assert.equal(n.related_entity_id, 'job-42');
  assert.deepEqual(n.metadata, { run: 7, region: 'eu-west', tags: ['nightly'] });

  assert.equal(delivery.id, deliveryId);
  assert.equal(delivery.agent_id, agent);
  assert.equal(delivery.notification_id, notificationId);
  assert.equal(delivery.event_type, 'notification');
  assert.equal(delivery.attempt_count, 1);
  assert.equal(delivery.last_status_code, 200);
  assert.equal(delivery.last_error, '');
  assert.ok(delivery.completed_at !== null, 'completed_at is set');
  assert.equal(delivery.attempts.length, 1);
  const [attempt] = delivery.attempts;
  assert.ok(attempt);
  assert.equal(attempt.number, 1);
  assert.equal(attempt.status_code, 200);
  assert.equal(attempt.trigger, 'ATTEMPT_TRIGGER_SCHEDULED');
  assert.equal(attempt.error_class, '');
  assert.equal(attempt.error_message, '');
  assert.equal(attempt.response_excerpt, 'thanks, got it');
  assert.equal(attempt.url, `${receiver.url}hooks/herald`);
});

test('signatures verify with standardwebhooks and with the seed receivers\' Python HMAC recipe, using the secret from GetWebhookSecret', async (t) => {
  const { client } = await startHerald(t);
  const receiver = await receiverFor(t);
  const agent = agentId('sig');
  await enableWebhook(client, agent, receiver.url);
  const { webhook_secret: secret } = await client.preferences.GetWebhookSecret({ agent_id: agent });
  assert.match(secret, /^whsec_/);

  // Non-ASCII content, so a verifier that re-encodes the body would fail.
  const id = await notify(client, agent, { title: 'Café ✓', content: 'naïve — «quoted» 日本語' });
  assert.equal((await waitForFinal(client, id)).status, 'DELIVERY_STATUS_SUCCEEDED');
  const [req] = await receiver.waitForRequests(1);
  assert.ok(req);

  assert.doesNotThrow(() => verifyStandard(secret, req), 'standardwebhooks verifies with the agent secret');
  const hex = header(req, 'x-herald-signature').replace(/^sha256=/, '');
  assert.equal(pythonHexHmac(secret, req.body), hex, 'Python hmac recipe matches X-Herald-Signature');

  // Both verifiers must also reject: a wrong secret and a tampered body.
  const other = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
  assert.throws(() => verifyStandard(other, req));
  assert.notEqual(pythonHexHmac(other, req.body), hex);
  const tampered: RecordedRequest = { ...req, body: Buffer.concat([req.body, Buffer.from(' ')]) };
  assert.throws(() => verifyStandard(secret, tampered));
  assert.notEqual(pythonHexHmac(secret, tampered.body), hex);
});

test('after RotateWebhookSecret the next webhook carries two v1 signatures and verifies with both the old and the new secret', async (t) => {
  const { client } = await startHerald(t);
  const receiver = await receiverFor(t);
  const agent = agentId('rotate');
  await enableWebhook(client, agent, receiver.url);
  const { webhook_secret: oldSecret } = await client.preferences.GetWebhookSecret({ agent_id: agent });

  const rotated = await client.preferences.RotateWebhookSecret({ agent_id: agent, grace_period_seconds: 3600 });
  const newSecret = rotated.webhook_secret;
  assert.match(newSecret, /^whsec_/);
  assert.notEqual(newSecret, oldSecret);
  const secrets = await client.preferences.GetWebhookSecret({ agent_id: agent });
  assert.equal(secrets.webhook_secret, newSecret);
  assert.equal(secrets.previous_webhook_secret, oldSecret);

  const id = await notify(client, agent);
  assert.equal((await waitForFinal(client, id)).status, 'DELIVERY_STATUS_SUCCEEDED');
  const [req] = await receiver.waitForRequests(1);
  assert.ok(req);

  const values = header(req, 'webhook-signature').split(' ');
  assert.equal(values.length, 2, `expected two signatures, got ${header(req, 'webhook-signature')}`);
  for (const v of values) assert.match(v, /^v1,[A-Za-z0-9+/]+=*$/);
  assert.doesNotThrow(() => verifyStandard(newSecret, req), 'verifies with the new secret');
  assert.doesNotThrow(() => verifyStandard(oldSecret, req), 'verifies with the old secret during the grace period');
  // Each secret matches exactly its own value, newest first.
  const onlyFirst: RecordedRequest = { ...req, headers: { ...req.headers, 'webhook-signature': values[0] } };
  const onlySecond: RecordedRequest = { ...req, headers: { ...req.headers, 'webhook-signature': values[1] } };
  assert.doesNotThrow(() => verifyStandard(newSecret, onlyFirst));
  assert.doesNotThrow(() => verifyStandard(oldSecret, onlySecond));
  assert.throws(() => verifyStandard(oldSecret, onlyFirst));
  // The hex header is signed by the current secret only.
  assert.equal(pythonHexHmac(newSecret, req.body), header(req, 'x-herald-signature').replace(/^sha256=/, ''));
});

test('500, 500, 200: three attempts with one delivery id and non-decreasing webhook-timestamp, recorded as attempts 1..3, then SUCCEEDED', async (t) => {
  const { client } = await startHerald(t);
  const receiver = await receiverFor(t, [
    { status: 500, body: 'boom 1' },
    { status: 500, body: 'boom 2' },
    { status: 200, body: 'fine' },
  ]);
  const agent = agentId('retry');
  await enableWebhook(client, agent, receiver.url);
  const { webhook_secret: secret } = await client.preferences.GetWebhookSecret({ agent_id: agent });

  const id = await notify(client, agent);
  const delivery = await waitForFinal(client, id);
  assert.equal(delivery.status, 'DELIVERY_STATUS_SUCCEEDED');
  assert.equal(receiver.requests.length, 3);

  const timestamps = receiver.requests.map((r) => Number(header(r, 'webhook-timestamp')));
  for (const r of receiver.requests) {
    assert.equal(header(r, 'x-herald-delivery'), id);
    assert.equal(header(r, 'webhook-id'), id);
    assert.doesNotThrow(() => verifyStandard(secret, r), 'every attempt is signed afresh and verifies');
  }
  assert.ok(timestamps[0]! <= timestamps[1]! && timestamps[1]! <= timestamps[2]!, `timestamps ${timestamps.join(', ')}`);
  // A retry re-sends the stored bytes: the body is identical on every attempt.
  assert.ok(receiver.requests.every((r) => r.body.equals(receiver.requests[0]!.body)), 'byte-identical bodies');

  assert.equal(delivery.attempt_count, 3);
  assert.deepEqual(delivery.attempts.map((a) => a.number), [1, 2, 3]);
  assert.deepEqual(delivery.attempts.map((a) => a.status_code), [500, 500, 200]);
  assert.deepEqual(delivery.attempts.map((a) => a.error_class), ['http_status', 'http_status', '']);
  assert.deepEqual(delivery.attempts.map((a) => a.response_excerpt), ['boom 1', 'boom 2', 'fine']);
  assert.ok(delivery.attempts.every((a) => a.trigger === 'ATTEMPT_TRIGGER_SCHEDULED'));
  assert.equal(delivery.last_status_code, 200);
});

test('a 429 with Retry-After: 1 holds the next attempt back about a second, although the base backoff is 50 ms', async (t) => {
  const { client } = await startHerald(t);
  const receiver = await receiverFor(t, [{ status: 429, headers: { 'retry-after': '1' }, body: 'slow down' }]);
  const agent = agentId('429');
  await enableWebhook(client, agent, receiver.url);

  const id = await notify(client, agent);
  const delivery = await waitForFinal(client, id);
  assert.equal(delivery.status, 'DELIVERY_STATUS_SUCCEEDED');
  assert.equal(receiver.requests.length, 2);
  const gap = receiver.requests[1]!.receivedAt.getTime() - receiver.requests[0]!.receivedAt.getTime();
  assert.ok(gap >= 900, `second attempt came ${gap} ms after the first; Retry-After asked for 1000 ms`);
  assert.deepEqual(delivery.attempts.map((a) => a.status_code), [429, 200]);
});

test('a Retry-After beyond HERALD_RETRY_MAX_DELAY_MS is capped: a 503 asking for an hour is retried after the cap', async (t) => {
  const { client } = await startHerald(t, { env: { HERALD_RETRY_MAX_DELAY_MS: '300' } });
  const receiver = await receiverFor(t, [{ status: 503, headers: { 'retry-after': '3600' } }]);
  const agent = agentId('cap');
  await enableWebhook(client, agent, receiver.url);

  const id = await notify(client, agent);
  // Uncapped, the delivery would sit PENDING for an hour and this wait would time out.
  const delivery = await waitForFinal(client, id);
  assert.equal(delivery.status, 'DELIVERY_STATUS_SUCCEEDED');
  assert.deepEqual(delivery.attempts.map((a) => a.status_code), [503, 200]);
  const gap = receiver.requests[1]!.receivedAt.getTime() - receiver.requests[0]!.receivedAt.getTime();
  assert.ok(gap >= 250, `retried ${gap} ms after the 503; the cap is 300 ms`);
});

test('a 400 fails the delivery after exactly one attempt and is never retried', async (t) => {
  const { client } = await startHerald(t);
  const receiver = await receiverFor(t, [{ status: 400, body: 'bad payload' }]);
  const agent = agentId('400');
  await enableWebhook(client, agent, receiver.url);

  const id = await notify(client, agent);
  const delivery = await waitForFinal(client, id);
  assert.equal(delivery.status, 'DELIVERY_STATUS_FAILED');
  assert.match(delivery.last_error, /400/);
  assert.equal(delivery.last_status_code, 400);
  assert.equal(delivery.attempt_count, 1);
  assert.equal(delivery.attempts.length, 1);
  assert.equal(delivery.attempts[0]?.status_code, 400);
  assert.equal(delivery.attempts[0]?.response_excerpt, 'bad payload');

  // Twenty times the retry base, several poll intervals: a retry would have come by now.
  await sleep(1_000);
  assert.equal(receiver.requests.length, 1);
  const again = await client.deliveries.GetDelivery({ id });
  assert.equal(again.status, 'DELIVERY_STATUS_FAILED');
  assert.equal(again.attempt_count, 1);
});

test('a 410 also cancels the agent\'s other waiting deliveries, in the same transaction', async (t) => {
  const { client } = await startHerald(t);
  const receiver = await receiverFor(t, [{ status: 410, body: 'gone' }]);
  const agent = agentId('410-others');
  // A deferred delivery first: quiet hours around now, policy DEFER.
  await enableWebhook(client, agent, receiver.url, quietNowDeferred());
  const deferred = await client.notifications.CreateNotification({ agent_id: agent, notification_type: 'job.completed', title: 'Held' });
  assert.equal(deferred.decision?.outcome, 'DECISION_OUTCOME_DEFER');
  // Then quiet hours off, and a notification sent now meets the 410.
  await client.preferences.UpdatePreferences({ preferences: { agent_id: agent }, update_mask: { paths: ['quiet_hours'] } });
  const id = await notify(client, agent);
  assert.equal((await waitForFinal(client, id)).status, 'DELIVERY_STATUS_FAILED');

  const held = await client.deliveries.GetDelivery({ id: deferred.decision?.delivery_id ?? '' });
  assert.equal(held.status, 'DELIVERY_STATUS_CANCELLED');
  assert.match(held.last_error, /410/);
  assert.equal(held.attempt_count, 0);
  // Turning the webhook back on does not revive it.
  await client.preferences.UpdatePreferences({ preferences: { agent_id: agent, enable_webhook: true } });
  assert.equal((await client.deliveries.GetDelivery({ id: held.id })).status, 'DELIVERY_STATUS_CANCELLED');
  assert.equal(receiver.requests.length, 1);
});

test('a 410 fails the delivery and turns the agent\'s webhook off with a reason, so later notifications are SUPPRESS / WEBHOOK_DISABLED', async (t) => {
  const { client } = await startHerald(t);
  const receiver = await receiverFor(t, [{ status: 410, body: 'gone' }]);
  const agent = agentId('410');
  await enableWebhook(client, agent, receiver.url);

  const id = await notify(client, agent);
  const delivery = await waitForFinal(client, id);
  assert.equal(delivery.status, 'DELIVERY_STATUS_FAILED');
  assert.equal(delivery.attempt_count, 1);
  assert.match(delivery.last_error, /410/);

  const prefs = await client.preferences.GetPreferences({ agent_id: agent });
  assert.equal(prefs.enable_webhook, false);
  assert.notEqual(prefs.webhook_disabled_reason, '');
  assert.match(prefs.webhook_disabled_reason, /410/);
  assert.equal(prefs.webhook_url, receiver.url, 'the URL is kept, only switched off');

  const later = await client.notifications.CreateNotification({ agent_id: agent, notification_type: 'job.completed', title: 'After the 410' });
  assert.equal(later.decision?.outcome, 'DECISION_OUTCOME_SUPPRESS');
  assert.equal(later.decision?.reason, 'DECISION_REASON_WEBHOOK_DISABLED');
  assert.equal(later.decision?.delivery_id, '');
  await sleep(500);
  assert.equal(receiver.requests.length, 1);

  // Enabling it again clears the reason.
  const back = await client.preferences.UpdatePreferences({ preferences: { agent_id: agent, enable_webhook: true } });
  assert.equal(back.enable_webhook, true);
  assert.equal(back.webhook_disabled_reason, '');
});

test('a receiver that hangs past WEBHOOK_TIMEOUT gets a failed attempt (unreachable: its address is loopback), then a retry', async (t) => {
  const { client } = await startHerald(t, { env: { WEBHOOK_TIMEOUT: '0.5' } });
  const receiver = await receiverFor(t, [{ hang: true }]);
  const agent = agentId('hang');
  await enableWebhook(client, agent, receiver.url);

  const id = await notify(client, agent);
  const delivery = await waitForFinal(client, id);
  assert.equal(delivery.status, 'DELIVERY_STATUS_SUCCEEDED');
  assert.equal(receiver.requests.length, 2);
  assert.equal(header(receiver.requests[1]!, 'x-herald-delivery'), id);

  const [first, second] = delivery.attempts;
  assert.ok(first && second);
  // A timeout to a private address is not told apart from a closed port or a missing name.
  assert.equal(first.error_class, 'unreachable');
  assert.equal(first.status_code, 0);
  assert.notEqual(first.error_message, '');
  assert.ok(first.duration_ms >= 400, `the timed-out attempt lasted ${first.duration_ms} ms, below the 500 ms timeout`);
  assert.equal(second.status_code, 200);
  assert.equal(second.error_class, '');
});

test('connection refused is retried until WEBHOOK_MAX_RETRIES is used up, then FAILED with 1 + retries attempts', async (t) => {
  const { client } = await startHerald(t, { env: { WEBHOOK_MAX_RETRIES: '2' } });
  const agent = agentId('refused');
  const url = await refusedUrl();
  await enableWebhook(client, agent, url);

  const id = await notify(client, agent);
  const delivery = await waitForFinal(client, id);
  assert.equal(delivery.status, 'DELIVERY_STATUS_FAILED');
  assert.match(delivery.last_error, /retries exhausted/i);
  assert.equal(delivery.attempt_count, 3);
  assert.equal(delivery.last_status_code, 0);
  assert.deepEqual(delivery.attempts.map((a) => a.number), [1, 2, 3]);
  for (const a of delivery.attempts) {
    // A private address: the record says neither "refused" nor where the name pointed.
    assert.equal(a.error_class, 'unreachable');
    assert.equal(a.status_code, 0);
    assert.equal(a.error_message, 'could not reach host "127.0.0.1": the name did not resolve or the connection failed');
    assert.equal(a.url, url);
  }
  const starts = delivery.attempts.map((a) => ms(a.started_at));
  assert.ok(starts[0]! <= starts[1]! && starts[1]! <= starts[2]!, 'attempts in time order');

  await sleep(500);
  assert.equal((await client.deliveries.GetDelivery({ id })).attempt_count, 3, 'no attempt after FAILED');
});

test('a delivery waiting for its next attempt survives a restart and is sent by the new process with the same id', async (t) => {
  const herald = await startHerald(t);
  const receiver = await receiverFor(t, [{ status: 503, headers: { 'retry-after': '2' } }]);
  const agent = agentId('restart');
  await enableWebhook(herald.client, agent, receiver.url);

  const id = await notify(herald.client, agent);
  await eventually('the first attempt to be recorded', async () => {
    const d = await herald.client.deliveries.GetDelivery({ id });
    return d.attempt_count === 1 && d.status === 'DELIVERY_STATUS_PENDING';
  });
  const next = await herald.restart();

  const delivery = await waitForFinal(next.client, id);
  assert.equal(delivery.status, 'DELIVERY_STATUS_SUCCEEDED');
  assert.deepEqual(delivery.attempts.map((a) => a.status_code), [503, 200]);
  assert.equal(receiver.requests.length, 2);
  assert.ok(receiver.requests.every((r) => header(r, 'x-herald-delivery') === id));
  const gap = receiver.requests[1]!.receivedAt.getTime() - receiver.requests[0]!.receivedAt.getTime();
  assert.ok(gap >= 1_900, `the new process sent it ${gap} ms after the 503; Retry-After asked for 2000 ms`);
});

test('deliveries of several agents claimed in one batch each go to their own agent\'s URL with its own headers, signed with its own secret', async (t) => {
  // The worker is off while the deliveries are created, so its first claim takes them all at once
  // and their webhook targets are read together for the batch (Dispatcher.prefetchTargets).
  const herald = await startHerald(t, { env: { HERALD_WORKER: 'false' } });
  const receiver = await receiverFor(t);
  const agents = [agentId('batch'), agentId('batch'), agentId('batch')];
  const secrets = new Map<string, string>();
  const ids = new Map<string, string>();
  for (const [i, agent] of agents.entries()) {
    await enableWebhook(herald.client, agent, `${receiver.url}agent-${i}`, { webhook_headers: { 'X-Which-Agent': agent } });
    secrets.set(agent, (await herald.client.preferences.GetWebhookSecret({ agent_id: agent })).webhook_secret);
    ids.set(agent, await notify(herald.client, agent));
  }
  const worker = await herald.restart({ HERALD_WORKER: 'true' });
  for (const id of ids.values()) assert.equal((await waitForFinal(worker.client, id)).status, 'DELIVERY_STATUS_SUCCEEDED');

  const requests = await receiver.waitForRequests(agents.length);
  assert.equal(requests.length, agents.length);
  for (const [i, agent] of agents.entries()) {
    const req = requests.find((r) => header(r, 'x-herald-delivery') === ids.get(agent));
    assert.ok(req, `no request for ${agent}`);
    assert.equal(req.path, `/agent-${i}`);
    assert.equal(header(req, 'x-which-agent'), agent);
    assert.doesNotThrow(() => verifyStandard(secrets.get(agent)!, req), `the webhook of ${agent} verifies with its own secret`);
  }
});

test('a worker sends its next claim while the result of its last send is still being recorded, and both are recorded', async (t) => {
  if (TEST_DATABASE !== 'postgresql') {
    t.skip('holds the recording back with a PostgreSQL table lock; SQLite has one writer, so a held recording would hold the claim too');
    return;
  }
  // One send at a time: the second delivery can only go out while the first's result waits to be recorded.
  const herald = await startHerald(t, { env: { HERALD_WORKER_CONCURRENCY: '1' } });
  const receiver = await receiverFor(t);
  const agents = [agentId('overlap'), agentId('overlap')];
  for (const agent of agents) await enableWebhook(herald.client, agent, receiver.url);
  const ids = await withDatabase(herald, async (db) => {
    // Every INSERT of an attempt waits for this lock; claims and sends do not touch the table.
    await db.query('BEGIN');
    await db.query('LOCK TABLE delivery_attempts IN EXCLUSIVE MODE');
    try {
      const created = [await notify(herald.client, agents[0]!), await notify(herald.client, agents[1]!)];
      const requests = await receiver.waitForRequests(2, DEADLINE_MS);
      assert.deepEqual(new Set(requests.map((r) => header(r, 'x-herald-delivery'))), new Set(created));
      return created;
    } finally {
      await db.query('COMMIT');
    }
  });
  for (const id of ids) {
    const delivery = await waitForFinal(herald.client, id);
    assert.equal(delivery.status, 'DELIVERY_STATUS_SUCCEEDED');
    assert.equal(delivery.attempts.length, 1);
  }
  assert.equal(receiver.requests.length, 2);
});

test('a 302 redirect is not followed: the receiver sees one request and the delivery FAILED', async (t) => {
  const { client } = await startHerald(t);
  const receiver = await receiverFor(t);
  receiver.setScript([{ status: 302, headers: { location: `${receiver.url}elsewhere` } }]);
  const agent = agentId('302');
  await enableWebhook(client, agent, `${receiver.url}hook`);

  const id = await notify(client, agent);
  const delivery = await waitForFinal(client, id);
  assert.equal(delivery.status, 'DELIVERY_STATUS_FAILED');
  assert.equal(delivery.attempt_count, 1);
  assert.equal(delivery.last_status_code, 302);
  assert.match(delivery.last_error, /redirect/i);
  await sleep(500);
  assert.equal(receiver.requests.length, 1);
  assert.equal(receiver.requests[0]?.path, '/hook');
});

test('the agent\'s custom webhook_headers are sent with its webhooks, and cannot replace Herald\'s own', async (t) => {
  const { client } = await startHerald(t);
  const receiver = await receiverFor(t);
  const agent = agentId('headers');
  await enableWebhook(client, agent, receiver.url, { webhook_headers: { Authorization: 'Bearer x', 'X-Tenant': 'acme' } });

  const id = await notify(client, agent);
  assert.equal((await waitForFinal(client, id)).status, 'DELIVERY_STATUS_SUCCEEDED');
  const [req] = receiver.requests;
  assert.ok(req);
  assert.equal(header(req, 'authorization'), 'Bearer x');
  assert.equal(header(req, 'x-tenant'), 'acme');

  const refused = await codeOf(
    client.preferences.UpdatePreferences({ preferences: { agent_id: agent, webhook_headers: { 'X-Herald-Delivery': 'forged' } } }),
  );
  assert.equal(refused.code, status.INVALID_ARGUMENT);
});

test('RetryDelivery sends a FAILED delivery again with a MANUAL attempt; a SUCCEEDED one is FAILED_PRECONDITION; an unknown id is NOT_FOUND', async (t) => {
  const { client } = await startHerald(t);
  const receiver = await receiverFor(t, [{ status: 400, body: 'not yet' }]);
  const agent = agentId('manual');
  await enableWebhook(client, agent, receiver.url);

  const id = await notify(client, agent);
  assert.equal((await waitForFinal(client, id)).status, 'DELIVERY_STATUS_FAILED');
  // The receiver now answers 200 (the script is used up).

  const retried = await client.deliveries.RetryDelivery({ id });
  assert.ok(retried.attempt !== null, 'the response carries the attempt made');
  assert.equal(retried.attempt.trigger, 'ATTEMPT_TRIGGER_MANUAL');
  assert.equal(retried.attempt.status_code, 200);
  assert.equal(retried.attempt.number, 2);
  assert.ok(retried.delivery !== null);
  assert.equal(retried.delivery.status, 'DELIVERY_STATUS_SUCCEEDED');
  assert.equal(retried.delivery.attempt_count, 2);
  assert.equal(retried.delivery.last_error, '');
  assert.deepEqual(retried.delivery.attempts.map((a) => a.trigger), ['ATTEMPT_TRIGGER_SCHEDULED', 'ATTEMPT_TRIGGER_MANUAL']);

  assert.equal(receiver.requests.length, 2);
  assert.equal(header(receiver.requests[1]!, 'x-herald-delivery'), id, 'a manual retry keeps the delivery id');
  assert.ok(receiver.requests[1]!.body.equals(receiver.requests[0]!.body), 'and the exact body');

  const stored = await client.deliveries.GetDelivery({ id });
  assert.equal(stored.status, 'DELIVERY_STATUS_SUCCEEDED');

  const again = await codeOf(client.deliveries.RetryDelivery({ id }));
  assert.equal(again.code, status.FAILED_PRECONDITION);
  assert.match(again.details, /SUCCEEDED/);
  assert.equal(receiver.requests.length, 2);

  const missing = await codeOf(client.deliveries.RetryDelivery({ id: 'dlv_00000000000000000000000000' }));
  assert.equal(missing.code, status.NOT_FOUND);
});

test('RetryDelivery of a DEFERred delivery that fails keeps it PENDING until the end of quiet hours', async (t) => {
  // "A failed retry ... a PENDING one keeps its schedule" (DeliveryService.retry): a manual
  // attempt must not turn a quiet-hours deferral into an immediate scheduled resend.
  const { client } = await startHerald(t);
  const receiver = await receiverFor(t, [{ status: 500, body: 'down' }]);
  const agent = agentId('manual-defer');
  await enableWebhook(client, agent, receiver.url, quietNowDeferred());
  const created = await client.notifications.CreateNotification({ agent_id: agent, notification_type: 'job.completed', title: 'Deferred' });
  assert.equal(created.decision?.outcome, 'DECISION_OUTCOME_DEFER', created.decision?.explanation);
  const id = created.decision?.delivery_id ?? '';
  const deliverAt = ms(created.decision?.deliver_at ?? null);

  const retried = await client.deliveries.RetryDelivery({ id });
  assert.equal(retried.attempt?.trigger, 'ATTEMPT_TRIGGER_MANUAL');
  assert.equal(retried.attempt?.status_code, 500);
  assert.equal(retried.delivery?.status, 'DELIVERY_STATUS_PENDING');
  const nextAt = ms(retried.delivery?.next_attempt_at ?? null);
  assert.ok(
    nextAt >= deliverAt,
    `after the failed manual attempt the next scheduled one is due ${new Date(nextAt).toISOString()}, inside quiet hours (deferred to ${new Date(deliverAt).toISOString()})`,
  );

  // Five poll intervals and twenty retry bases: a rescheduled resend would be out by now.
  await sleep(1_000);
  assert.equal(receiver.requests.length, 1, 'the worker sent the deferred webhook again inside quiet hours');
});

test('SendTestWebhook sends a signed test event recorded as a delivery with trigger TEST; no URL is FAILED_PRECONDITION, an unknown agent NOT_FOUND', async (t) => {
  const { client } = await startHerald(t);
  const receiver = await receiverFor(t);
  const agent = agentId('test');
  await enableWebhook(client, agent, receiver.url);
  const { webhook_secret: secret } = await client.preferences.GetWebhookSecret({ agent_id: agent });

  const res = await client.deliveries.SendTestWebhook({ agent_id: agent });
  assert.equal(res.success, true);
  assert.equal(res.status_code, 200);
  assert.equal(res.error, '');
  assert.match(res.delivery_id, /^dlv_[0-9A-Z]{26}$/);

  // The call reports after the answer, so the request has already arrived.
  assert.equal(receiver.requests.length, 1);
  const [req] = receiver.requests;
  assert.ok(req);
  assert.equal(header(req, 'x-herald-event'), 'test');
  assert.equal(header(req, 'x-herald-delivery'), res.delivery_id);
  assert.doesNotThrow(() => verifyStandard(secret, req));
  assert.equal(pythonHexHmac(secret, req.body), header(req, 'x-herald-signature').replace(/^sha256=/, ''));
  const body = JSON.parse(req.body.toString('utf8')) as { event: string; test: { agent_id: string; delivery_id: string } };
  assert.equal(body.event, 'test');
  assert.equal(body.test.agent_id, agent);
  assert.equal(body.test.delivery_id, res.delivery_id);

  const d = await client.deliveries.GetDelivery({ id: res.delivery_id });
  assert.equal(d.status, 'DELIVERY_STATUS_SUCCEEDED');
  assert.equal(d.event_type, 'test');
  assert.equal(d.notification_id, '');
  assert.equal(d.attempts.length, 1);
  assert.equal(d.attempts[0]?.trigger, 'ATTEMPT_TRIGGER_TEST');
  assert.equal(d.attempts[0]?.status_code, 200);

  const noUrl = agentId('test-nourl');
  await client.preferences.UpdatePreferences({ preferences: { agent_id: noUrl, enable_webhook: true } });
  assert.equal((await codeOf(client.deliveries.SendTestWebhook({ agent_id: noUrl }))).code, status.FAILED_PRECONDITION);
  assert.equal((await codeOf(client.deliveries.SendTestWebhook({ agent_id: agentId('nobody') }))).code, status.NOT_FOUND);
  assert.equal(receiver.requests.length, 1);
});

test('GetDeliveryStats counts an agent\'s deliveries by status, with success rate, attempts and latency percentiles', async (t) => {
  const { client } = await startHerald(t);
  // Answers take at least 20 ms, so every recorded duration is clearly above 0.
  const receiver = await startReceiver([], { fallback: { status: 200, body: 'ok', delayMs: 20 } });
  t.after(() => receiver.close());
  const agent = agentId('stats');
  await enableWebhook(client, agent, receiver.url);
  const bystander = agentId('stats-other');
  await enableWebhook(client, bystander, receiver.url);

  const ok1 = await notify(client, agent);
  assert.equal((await waitForFinal(client, ok1)).status, 'DELIVERY_STATUS_SUCCEEDED');
  const ok2 = await notify(client, agent);
  assert.equal((await waitForFinal(client, ok2)).status, 'DELIVERY_STATUS_SUCCEEDED');
  receiver.setScript([{ status: 500, delayMs: 20 }, { status: 200, delayMs: 20 }]);
  const ok3 = await notify(client, agent);
  assert.equal((await waitForFinal(client, ok3)).status, 'DELIVERY_STATUS_SUCCEEDED');
  receiver.setScript([{ status: 404, delayMs: 20 }]);
  const bad = await notify(client, agent);
  assert.equal((await waitForFinal(client, bad)).status, 'DELIVERY_STATUS_FAILED');
  const other = await notify(client, bystander);
  assert.equal((await waitForFinal(client, other)).status, 'DELIVERY_STATUS_SUCCEEDED');

  const stats = await client.deliveries.GetDeliveryStats({ agent_id: agent });
  assert.equal(stats.succeeded, 3);
  assert.equal(stats.failed, 1);
  assert.equal(stats.pending, 0);
  assert.equal(stats.delivering, 0);
  assert.equal(stats.cancelled, 0);
  assert.equal(stats.total, 4);
  assert.equal(stats.success_rate, 0.75);
  assert.equal(stats.attempts, 5);
  assert.ok(stats.p50_latency_ms > 0, `p50 ${stats.p50_latency_ms}`);
  assert.ok(stats.p95_latency_ms >= stats.p50_latency_ms, `p95 ${stats.p95_latency_ms} < p50 ${stats.p50_latency_ms}`);
  assert.ok(stats.since !== null);
  const sinceAgo = Date.now() - ms(stats.since);
  assert.ok(sinceAgo > 23 * 3_600_000 && sinceAgo < 25 * 3_600_000, 'the default period is the last 24 hours');

  // Without agent_id every agent counts (at least these five; more on a shared database).
  const all = await client.deliveries.GetDeliveryStats({});
  assert.ok(all.total >= 5 && all.succeeded >= 4, `all agents: ${all.total} total, ${all.succeeded} succeeded`);

  const future = await client.deliveries.GetDeliveryStats({ agent_id: agent, since: { seconds: Math.floor(Date.now() / 1000) + 3600, nanos: 0 } });
  assert.equal(future.total, 0);
  assert.equal(future.success_rate, 0);
  assert.equal(future.attempts, 0);
});

test('ListDeliveries filters by agent and status and pages through them newest first', async (t) => {
  const { client } = await startHerald(t);
  const receiver = await receiverFor(t);
  const agent = agentId('list');
  const other = agentId('list-other');
  await enableWebhook(client, agent, receiver.url);
  await enableWebhook(client, other, receiver.url);

  const ids: string[] = [];
  for (let i = 0; i < 5; i++) {
    // One at a time, so creation order is unambiguous; the third one fails.
    if (i === 2) receiver.setScript([{ status: 422 }]);
    const id = await notify(client, agent, { title: `n${i}` });
    await waitForFinal(client, id);
    ids.push(id);
  }
  const otherId = await notify(client, other);
  await waitForFinal(client, otherId);
  const newestFirst = [...ids].reverse();

  const seen: string[] = [];
  let token = '';
  let pages = 0;
  do {
    const page = await client.deliveries.ListDeliveries({ agent_id: agent, page_size: 2, page_token: token });
    assert.ok(page.deliveries.length <= 2);
    for (const d of page.deliveries) {
      assert.equal(d.agent_id, agent);
      assert.deepEqual(d.attempts, [], 'lists carry no attempts');
      seen.push(d.id);
    }
    token = page.next_page_token;
    pages += 1;
    assert.ok(pages <= 5, 'paging terminates');
  } while (token !== '');
  assert.deepEqual(seen, newestFirst);
  assert.equal(pages, 3);

  const failed = await client.deliveries.ListDeliveries({ agent_id: agent, status: 'DELIVERY_STATUS_FAILED' });
  assert.deepEqual(failed.deliveries.map((d) => d.id), [ids[2]]);
  assert.equal(failed.next_page_token, '');

  const succeeded = await client.deliveries.ListDeliveries({ agent_id: agent, status: 'DELIVERY_STATUS_SUCCEEDED', page_size: 3 });
  assert.deepEqual(succeeded.deliveries.map((d) => d.id), newestFirst.filter((id) => id !== ids[2]).slice(0, 3));
  assert.notEqual(succeeded.next_page_token, '');
  const rest = await client.deliveries.ListDeliveries({ agent_id: agent, status: 'DELIVERY_STATUS_SUCCEEDED', page_size: 3, page_token: succeeded.next_page_token });
  assert.deepEqual(rest.deliveries.map((d) => d.id), newestFirst.filter((id) => id !== ids[2]).slice(3));
  assert.equal(rest.next_page_token, '');

  // Without agent_id every agent's deliveries are listed, still newest first.
  const everyone = await client.deliveries.ListDeliveries({ page_size: 500 });
  const mine = new Set([otherId, ...ids]);
  assert.deepEqual(everyone.deliveries.map((d) => d.id).filter((id) => mine.has(id)), [otherId, ...newestFirst]);

  // A token only works with the filters it was issued for.
  const mixed = await codeOf(client.deliveries.ListDeliveries({ agent_id: other, status: 'DELIVERY_STATUS_SUCCEEDED', page_size: 3, page_token: succeeded.next_page_token }));
  assert.equal(mixed.code, status.INVALID_ARGUMENT);
  assert.equal((await codeOf(client.deliveries.ListDeliveries({ page_size: 501 }))).code, status.INVALID_ARGUMENT);
});

test('WatchDeliveries filtered by agent streams PENDING then SUCCEEDED for that agent\'s delivery and nothing of another agent', async (t) => {
  const { client } = await startHerald(t);
  const receiver = await receiverFor(t);
  const agent = agentId('watch');
  const other = agentId('watch-other');
  await enableWebhook(client, agent, receiver.url);
  await enableWebhook(client, other, receiver.url);

  const watched: DeliveryEvent__Output[] = [];
  const everything: DeliveryEvent__Output[] = [];
  const open = (agent_id: string, into: DeliveryEvent__Output[]): ClientReadableStream<DeliveryEvent__Output> => {
    const stream = client.deliveries.WatchDeliveries({ agent_id });
    stream.on('data', (e: DeliveryEvent__Output) => into.push(e));
    // Cancelling in t.after ends the stream with CANCELLED; anything else is reported by the assertions.
    stream.on('error', () => undefined);
    t.after(() => stream.cancel());
    return stream;
  };
  open(agent, watched);
  open('', everything);

  // The server subscribes when the call arrives; a test webhook proves both streams are live
  // before the deliveries under test exist (its events are then ignored by id).
  const probes = new Set<string>();
  await eventually('both streams to be subscribed', async () => {
    const probe = await client.deliveries.SendTestWebhook({ agent_id: agent });
    probes.add(probe.delivery_id);
    await sleep(100);
    return watched.some((e) => probes.has(e.delivery?.id ?? '')) && everything.some((e) => probes.has(e.delivery?.id ?? ''));
  });

  const otherId = await notify(client, other);
  const id = await notify(client, agent);
  assert.equal((await waitForFinal(client, otherId)).status, 'DELIVERY_STATUS_SUCCEEDED');
  assert.equal((await waitForFinal(client, id)).status, 'DELIVERY_STATUS_SUCCEEDED');
  const statusesOf = (events: DeliveryEvent__Output[], deliveryId: string): string[] =>
    events.filter((e) => e.delivery?.id === deliveryId).map((e) => e.delivery?.status ?? '');
  await eventually('the SUCCEEDED events on both streams', () =>
    statusesOf(watched, id).includes('DELIVERY_STATUS_SUCCEEDED') && statusesOf(everything, otherId).includes('DELIVERY_STATUS_SUCCEEDED'),
  );

  assert.deepEqual(statusesOf(watched, id), ['DELIVERY_STATUS_PENDING', 'DELIVERY_STATUS_SUCCEEDED']);
  const succeeded = watched.find((e) => e.delivery?.id === id && e.delivery.status === 'DELIVERY_STATUS_SUCCEEDED');
  assert.equal(succeeded?.attempt?.status_code, 200, 'the SUCCEEDED event carries the attempt that caused it');
  assert.ok(succeeded?.at !== null);
  assert.ok(watched.every((e) => e.delivery?.agent_id === agent), 'only the watched agent\'s events');
  assert.deepEqual(statusesOf(watched, otherId), []);
  // The unfiltered stream did see the other agent, so the filter, not silence, kept it out.
  assert.deepEqual(statusesOf(everything, otherId), ['DELIVERY_STATUS_PENDING', 'DELIVERY_STATUS_SUCCEEDED']);
});

test('a DEFERred delivery is held during quiet hours and sent, with the same delivery id, once the clock passes the window end', async (t) => {
  // Real timers drive the worker; only the instant it reads is shifted, on demand.
  let offsetMs = 0;
  const clock = (): Date => new Date(Date.now() + offsetMs);
  const herald = await startHerald(t, { clock });
  const { client } = herald;
  const receiver = await receiverFor(t);
  const agent = agentId('defer');
  await enableWebhook(client, agent, receiver.url, quietNowDeferred());

  const created = await client.notifications.CreateNotification({ agent_id: agent, notification_type: 'job.completed', title: 'Deferred' });
  assert.equal(created.decision?.outcome, 'DECISION_OUTCOME_DEFER', created.decision?.explanation);
  assert.equal(created.decision?.reason, 'DECISION_REASON_QUIET_HOURS');
  const id = created.decision?.delivery_id ?? '';
  assert.match(id, /^dlv_/);
  const deliverAt = ms(created.decision?.deliver_at ?? null);
  assert.ok(deliverAt > Date.now() + 8 * 60_000, 'due at the end of the window, minutes away');

  // Five poll intervals: nothing goes out while the window lasts.
  await sleep(1_000);
  assert.equal(receiver.requests.length, 0);
  const held = await client.deliveries.GetDelivery({ id });
  assert.equal(held.status, 'DELIVERY_STATUS_PENDING');
  assert.equal(held.attempt_count, 0);
  assert.equal(ms(held.next_attempt_at), deliverAt);

  // Move Herald's clock past the window's end and do nothing else: the polling worker must send it.
  offsetMs = deliverAt - Date.now() + 1_000;
  await makeDueOnDatabaseClock(herald, id);
  const [req] = await receiver.waitForRequests(1, DEADLINE_MS);
  assert.ok(req);
  assert.equal(header(req, 'x-herald-delivery'), id);
  assert.equal(header(req, 'webhook-id'), id);
  assert.ok(Number(header(req, 'webhook-timestamp')) * 1000 >= deliverAt - 1_000, 'stamped at the (shifted) send time');
  const delivery = await waitForFinal(client, id);
  assert.equal(delivery.status, 'DELIVERY_STATUS_SUCCEEDED');
  assert.equal(delivery.attempt_count, 1);
  assert.equal(delivery.attempts[0]?.trigger, 'ATTEMPT_TRIGGER_SCHEDULED');
  assert.ok(ms(delivery.attempts[0]?.started_at ?? null) >= deliverAt, 'not sent before it was due');
});

test('DeletePreferences cancels the agent\'s deferred deliveries', async (t) => {
  const { client } = await startHerald(t);
  const receiver = await receiverFor(t);
  const agent = agentId('delete');
  await enableWebhook(client, agent, receiver.url, quietNowDeferred());
  const deferred: string[] = [];
  for (let i = 0; i < 2; i++) {
    const created = await client.notifications.CreateNotification({ agent_id: agent, notification_type: 'job.completed', title: `Deferred ${i}` });
    assert.equal(created.decision?.outcome, 'DECISION_OUTCOME_DEFER', created.decision?.explanation);
    deferred.push(created.decision?.delivery_id ?? '');
  }
  for (const id of deferred) assert.equal((await client.deliveries.GetDelivery({ id })).status, 'DELIVERY_STATUS_PENDING');

  const res = await client.preferences.DeletePreferences({ agent_id: agent });
  assert.equal(res.cancelled_deliveries, 2);
  for (const id of deferred) {
    const d = await client.deliveries.GetDelivery({ id });
    assert.equal(d.status, 'DELIVERY_STATUS_CANCELLED');
    assert.match(d.last_error, /deleted/);
    assert.ok(d.completed_at !== null);
    assert.equal(d.next_attempt_at, null);
    assert.equal(d.attempt_count, 0);
  }
  assert.equal(receiver.requests.length, 0);
  assert.equal((await codeOf(client.preferences.GetPreferences({ agent_id: agent }))).code, status.NOT_FOUND);
});

test('a delivery the worker cancels without sending (webhook turned off meanwhile) counts no attempt', async (t) => {
  // attempt_count is "Attempts made so far"; the claim counts one in advance, and the
  // not-sent branch of Dispatcher.attempt must give it back as the shutdown release does.
  let offsetMs = 0;
  const clock = (): Date => new Date(Date.now() + offsetMs);
  const herald = await startHerald(t, { clock });
  const { client } = herald;
  const receiver = await receiverFor(t);
  const agent = agentId('off');
  await enableWebhook(client, agent, receiver.url, quietNowDeferred());
  const created = await client.notifications.CreateNotification({ agent_id: agent, notification_type: 'job.completed', title: 'Deferred' });
  assert.equal(created.decision?.outcome, 'DECISION_OUTCOME_DEFER', created.decision?.explanation);
  const id = created.decision?.delivery_id ?? '';
  const deliverAt = ms(created.decision?.deliver_at ?? null);

  await client.preferences.UpdatePreferences({ preferences: { agent_id: agent, enable_webhook: false } });
  offsetMs = deliverAt - Date.now() + 1_000;
  await makeDueOnDatabaseClock(herald, id);

  const delivery = await waitForFinal(client, id);
  assert.equal(delivery.status, 'DELIVERY_STATUS_CANCELLED');
  assert.match(delivery.last_error, /turned off/);
  assert.equal(receiver.requests.length, 0);
  assert.deepEqual(delivery.attempts, []);
  assert.equal(delivery.attempt_count, 0, `attempt_count is ${delivery.attempt_count} although no attempt was made`);
});
