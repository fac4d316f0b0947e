/**
 * Durability (issue #4): Herald is killed at the worst moments — SIGKILL while
 * a delivery waits for its retry, SIGKILL mid-send with the lease held by the
 * dead process, SIGTERM mid-send with and without enough grace, SIGKILL right
 * after a notification was acknowledged — and a new process on the same
 * database must deliver every acknowledged webhook, with the same delivery id,
 * and keep preferences and notifications. The real entry point runs as a
 * child process (test/helpers/child-herald.ts) against a real HTTP receiver.
 */
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { Webhook } from 'standardwebhooks';
import type { HeraldClient } from '../../src/client.js';
import type { Delivery__Output } from '../../src/generated/proto/herald/v1/Delivery.js';
import { eventually, exitWithin, spawnHerald, startHeraldProcess, tempDir, type ChildHerald } from '../helpers/child-herald.js';
import { startReceiver, type Receiver, type ReceiverStep, type RecordedRequest } from '../helpers/receiver.js';

/** Quick retries and a short lease, so a crash is recovered from within seconds. */
const RETRYING: Record<string, string> = {
  WEBHOOK_RETRY_DELAY: '1',
  WEBHOOK_MAX_RETRIES: '5',
  HERALD_LEASE_MS: '3000',
  WEBHOOK_TIMEOUT: '1',
  HERALD_POLL_MS: '250',
};

/** Long enough for one test on a busy 2-core machine, short enough to fail before the runner's own limit. */
const TEST_TIMEOUT_MS = 60_000;

async function receiver(t: TestContext, script: readonly ReceiverStep[] = []): Promise<Receiver> {
  const r = await startReceiver(script);
  t.after(() => r.close());
  return r;
}

/** Gives `agentId` a webhook to `url` and returns its signing secret. */
async function subscribe(client: HeraldClient, agentId: string, url: string): Promise<string> {
  await client.preferences.UpdatePreferences({ preferences: { agent_id: agentId, enable_webhook: true, webhook_url: url } });
  const { webhook_secret } = await client.preferences.GetWebhookSecret({ agent_id: agentId });
  assert.ok(webhook_secret.length > 0, 'the agent has a signing secret');
  return webhook_secret;
}

/** Creates a notification that must be delivered now; returns its ids. */
async function notify(client: HeraldClient, agentId: string): Promise<{ notificationId: string; deliveryId: string }> {
  const res = await client.notifications.CreateNotification({ agent_id: agentId, notification_type: 'job.done', title: 'the job is done' });
  assert.equal(res.decision?.outcome, 'DECISION_OUTCOME_DELIVER', `decision: ${JSON.stringify(res.decision)}`);
  const deliveryId = res.decision?.delivery_id ?? '';
  assert.match(deliveryId, /^dlv_/);
  return { notificationId: res.notification?.id ?? '', deliveryId };
}

function deliveryIdOf(req: RecordedRequest): string | undefined {
  const value = req.headers['x-herald-delivery'];
  return Array.isArray(value) ? value[0] : value;
}

/** Checks the Standard Webhooks signature of a received request with an independent verifier. */
function assertSigned(req: RecordedRequest, secret: string): void {
  const headers: Record<string, string> = {};
  for (const name of ['webhook-id', 'webhook-timestamp', 'webhook-signature']) {
    const value = req.headers[name];
    assert.equal(typeof value, 'string', `header ${name}`);
    headers[name] = value as string;
  }
  assert.doesNotThrow(() => new Webhook(secret).verify(req.body.toString('utf8'), headers), 'the webhook verifies with the agent secret');
}

async function deliveryIn(client: HeraldClient, id: string, status: Delivery__Output['status'], timeoutMs = 20_000): Promise<Delivery__Output> {
  let last: Delivery__Output | null = null;
  try {
    return await eventually(
      `delivery ${id} to be ${status}`,
      async () => {
        last = await client.deliveries.GetDelivery({ id });
        return last.status === status ? last : undefined;
      },
      timeoutMs,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}; last seen: ${JSON.stringify(last)}`);
  }
}

function describeChildren(...children: ChildHerald[]): string {
  return children.map((c) => c.describe()).join('\n');
}

describe('crash and restart (child processes)', { timeout: 5 * TEST_TIMEOUT_MS }, () => {
  it('SIGKILL while a delivery waits for its retry: a new process sends it with the same delivery id', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const dir = tempDir(t);
    const rx = await receiver(t, [{ status: 500 }]);
    const first = await spawnHerald(t, { dir, env: RETRYING });
    const secret = await subscribe(first.client, 'agent-retry', rx.url);
    const { deliveryId } = await notify(first.client, 'agent-retry');

    const [failed] = await rx.waitForRequests(1, 15_000);
    assert.equal(deliveryIdOf(failed!), deliveryId);
    // Settled after the 500: PENDING, its retry about a second away.
    const pending = await deliveryIn(first.client, deliveryId, 'DELIVERY_STATUS_PENDING', 5_000);
    assert.equal(pending.attempt_count, 1);
    first.kill('SIGKILL');
    assert.deepEqual(await first.exited, { code: null, signal: 'SIGKILL' });
    assert.equal(rx.requests.length, 1, 'the kill came after the retry was sent: the test raced and proves nothing');

    const second = await spawnHerald(t, { dir, env: RETRYING });
    const requests = await rx.waitForRequests(2, 20_000);
    const retried = requests[1]!;
    assert.equal(deliveryIdOf(retried), deliveryId, 'the retry carries the same X-Herald-Delivery');
    assert.equal(retried.headers['webhook-id'], deliveryId);
    assert.deepEqual(retried.body, failed!.body, 'the stored body is sent byte for byte');
    assertSigned(retried, secret);

    const done = await deliveryIn(second.client, deliveryId, 'DELIVERY_STATUS_SUCCEEDED');
    assert.equal(done.attempt_count, 2);
    assert.deepEqual(
      done.attempts.map((a) => [a.number, a.status_code]),
      [[1, 500], [2, 200]],
    );
    assert.equal(rx.requests.length, 2, 'sent exactly once more');
  });

  it('SIGKILL mid-send: the dead process keeps the lease until it expires, then a new process sends it', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const dir = tempDir(t);
    // The first attempt fails, the retry hangs (the child is killed during it), then 200.
    const rx = await receiver(t, [{ status: 500 }, { hang: true }]);
    const first = await spawnHerald(t, { dir, env: RETRYING });
    const secret = await subscribe(first.client, 'agent-inflight', rx.url);
    const { deliveryId } = await notify(first.client, 'agent-inflight');

    const inFlight = (await rx.waitForRequests(2, 20_000))[1]!;
    // Killed well inside WEBHOOK_TIMEOUT (1 s): the send is in flight, the row DELIVERING, leased to the dead process.
    first.kill('SIGKILL');
    await first.exited;
    assert.equal(deliveryIdOf(inFlight), deliveryId);

    const second = await spawnHerald(t, { dir, env: RETRYING });
    const takeover = (await rx.waitForRequests(3, 25_000))[2]!;
    assert.equal(deliveryIdOf(takeover), deliveryId, 'the takeover sends the same delivery');
    assertSigned(takeover, secret);
    // The claim was made before the in-flight request arrived, so its lease (3 s, or longer
    // when the dispatcher extends it for the timeout) ends at the earliest ~3 s after that.
    const waitedMs = takeover.receivedAt.getTime() - inFlight.receivedAt.getTime();
    assert.ok(waitedMs >= 2_500, `taken over after ${waitedMs} ms, before the dead process's lease ran out`);

    const done = await deliveryIn(second.client, deliveryId, 'DELIVERY_STATUS_SUCCEEDED');
    // The claim counts the attempt: the one the dead process made is counted but has no record.
    assert.equal(done.attempt_count, 3, describeChildren(second));
    assert.deepEqual(
      done.attempts.map((a) => [a.number, a.status_code]),
      [[1, 500], [3, 200]],
    );
    assert.equal(rx.requests.length, 3);
  });

  it('a delivery whose sends keep killing the worker stops once its attempts are used up', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    // claimDue counts the attempt at claim "so a poison delivery cannot crash workers forever"
    // (src/storage/delivery-repository.ts). With WEBHOOK_MAX_RETRIES=1 a delivery has two
    // attempts; two processes die mid-send, so the third process must not send it again.
    const dir = tempDir(t);
    const rx = await receiver(t, [{ hang: true }, { hang: true }, { hang: true }]);
    const env = { ...RETRYING, WEBHOOK_MAX_RETRIES: '1' };
    let child = await spawnHerald(t, { dir, env });
    await subscribe(child.client, 'agent-poison', rx.url);
    const { deliveryId } = await notify(child.client, 'agent-poison');
    for (let crash = 1; crash <= 2; crash++) {
      // Each send "crashes" its worker: SIGKILL as soon as the request arrives.
      const req = (await rx.waitForRequests(crash, 25_000))[crash - 1]!;
      assert.equal(deliveryIdOf(req), deliveryId);
      child.kill('SIGKILL');
      await child.exited;
      child = await spawnHerald(t, { dir, env });
    }
    const final = await deliveryIn(child.client, deliveryId, 'DELIVERY_STATUS_FAILED', 20_000);
    assert.equal(rx.requests.length, 2, `sent ${rx.requests.length} times with an attempt budget of 2 (1 + WEBHOOK_MAX_RETRIES)`);
    assert.ok(final.attempt_count <= 2, `attempt_count ${final.attempt_count} exceeds 1 + WEBHOOK_MAX_RETRIES`);
  });

  it('SIGTERM mid-send waits for the response, exits 0, and the delivery is SUCCEEDED', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const dir = tempDir(t);
    const rx = await receiver(t, [{ status: 200, delayMs: 1_500 }]);
    const env = { HERALD_SHUTDOWN_GRACE_MS: '5000', WEBHOOK_TIMEOUT: '10', HERALD_POLL_MS: '250' };
    const first = await spawnHerald(t, { dir, env });
    await subscribe(first.client, 'agent-term', rx.url);
    const { deliveryId } = await notify(first.client, 'agent-term');

    const [req] = await rx.waitForRequests(1, 15_000);
    first.kill('SIGTERM');
    const signalledAt = Date.now();
    const exit = await exitWithin(first, 15_000);
    assert.deepEqual(exit, { code: 0, signal: null }, first.describe());
    // The response came ~1.5 s after the request arrived; the child waited for it.
    assert.ok(Date.now() - req!.receivedAt.getTime() >= 1_400, `exited ${Date.now() - signalledAt} ms after SIGTERM, before the response`);
    const attempt = first.records().find((r) => r.msg === 'webhook attempt' && r.deliveryId === deliveryId);
    assert.equal(attempt?.status, 'SUCCEEDED', first.describe());

    const second = await spawnHerald(t, { dir, env });
    const done = await second.client.deliveries.GetDelivery({ id: deliveryId });
    assert.equal(done.status, 'DELIVERY_STATUS_SUCCEEDED');
    assert.equal(done.attempt_count, 1);
    assert.deepEqual(
      done.attempts.map((a) => [a.number, a.status_code]),
      [[1, 200]],
    );
    assert.equal(rx.requests.length, 1, 'not sent again after the restart');
  });

  it('SIGTERM with a short grace aborts a hanging send, exits promptly, and the restart delivers it without using a retry', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const dir = tempDir(t);
    const rx = await receiver(t, [{ hang: true }]);
    const env = { HERALD_SHUTDOWN_GRACE_MS: '300', WEBHOOK_TIMEOUT: '10', HERALD_POLL_MS: '250' };
    const first = await spawnHerald(t, { dir, env });
    const secret = await subscribe(first.client, 'agent-abort', rx.url);
    const { deliveryId } = await notify(first.client, 'agent-abort');

    await rx.waitForRequests(1, 15_000);
    const signalledAt = Date.now();
    first.kill('SIGTERM');
    const exit = await exitWithin(first, 5_000);
    assert.deepEqual(exit, { code: 0, signal: null }, first.describe());
    assert.ok(Date.now() - signalledAt < 5_000);
    const released = first.records().find((r) => r.msg === 'send aborted by shutdown; delivery released');
    assert.equal(released?.released, true, first.describe());

    const second = await spawnHerald(t, { dir, env });
    const again = (await rx.waitForRequests(2, 20_000))[1]!;
    assert.equal(deliveryIdOf(again), deliveryId, 'the same delivery id after the restart');
    assertSigned(again, secret);
    const done = await deliveryIn(second.client, deliveryId, 'DELIVERY_STATUS_SUCCEEDED');
    // The aborted send was given back: it is neither counted nor recorded.
    assert.equal(done.attempt_count, 1);
    assert.deepEqual(
      done.attempts.map((a) => [a.number, a.status_code]),
      [[1, 200]],
    );
  });

  it('a notification acknowledged right before SIGKILL is delivered after the restart', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const dir = tempDir(t);
    // The receiver is down (503) while the first process lives, so only the restart can deliver.
    const down: ReceiverStep[] = Array.from({ length: 100 }, () => ({ status: 503 }));
    const rx = await receiver(t, down);
    const first = await spawnHerald(t, { dir, env: RETRYING });
    const secret = await subscribe(first.client, 'agent-ack', rx.url);
    const { notificationId, deliveryId } = await notify(first.client, 'agent-ack');
    first.kill('SIGKILL');
    await first.exited;
    const beforeRestart = rx.requests.length;
    assert.ok(rx.requests.every((r) => deliveryIdOf(r) === deliveryId));
    rx.setScript([]); // up again: 200 from now on

    const second = await spawnHerald(t, { dir, env: RETRYING });
    const done = await deliveryIn(second.client, deliveryId, 'DELIVERY_STATUS_SUCCEEDED', 25_000);
    assert.equal(done.notification_id, notificationId);
    const delivered = rx.requests.slice(beforeRestart);
    assert.ok(delivered.length >= 1);
    for (const req of delivered) assert.equal(deliveryIdOf(req), deliveryId);
    assertSigned(delivered.at(-1)!, secret);
    assert.equal(done.attempts.at(-1)?.status_code, 200);
    const notification = await second.client.notifications.GetNotification({ id: notificationId });
    assert.equal(notification.decision?.delivery_id, deliveryId);
  });

  it('preferences, secrets, notifications and idempotency keys survive a SIGKILL', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const dir = tempDir(t);
    const rx = await receiver(t);
    const first = await spawnHerald(t, { dir });
    const agent = 'agent-keep';
    await first.client.preferences.UpdatePreferences({
      preferences: {
        agent_id: agent,
        enable_webhook: true,
        webhook_url: rx.url,
        time_zone: 'Europe/Berlin',
        max_notifications_per_hour: 100,
        notification_types: ['job.done', 'job.failed'],
        webhook_headers: { 'X-Tenant': 't1' },
        webhook_timeout_ms: 4_000,
      },
    });
    const prefs = await first.client.preferences.GetPreferences({ agent_id: agent });
    const secret = await first.client.preferences.GetWebhookSecret({ agent_id: agent });
    const created = await first.client.notifications.CreateNotification({
      agent_id: agent,
      notification_type: 'job.done',
      title: 'kept',
      content: 'survives a crash',
      priority: 'PRIORITY_HIGH',
      metadata: { fields: { job: { stringValue: 'j-1' } } },
      idempotency_key: 'key-1',
    });
    const read = await first.client.notifications.MarkNotificationRead({ id: created.notification!.id });
    const unrelated = await first.client.notifications.CreateNotification({ agent_id: 'agent-without-prefs', notification_type: 'job.done', title: 'x' });
    first.kill('SIGKILL');
    await first.exited;

    const second = await spawnHerald(t, { dir });
    assert.deepEqual(await second.client.preferences.GetPreferences({ agent_id: agent }), prefs);
    assert.deepEqual(await second.client.preferences.GetWebhookSecret({ agent_id: agent }), secret);
    assert.deepEqual(await second.client.notifications.GetNotification({ id: read.id }), read);
    assert.deepEqual(await second.client.notifications.GetNotification({ id: unrelated.notification!.id }), unrelated.notification);
    const replay = await second.client.notifications.CreateNotification({ agent_id: agent, notification_type: 'job.done', title: 'kept', idempotency_key: 'key-1' });
    assert.equal(replay.replayed, true, 'the idempotency key survives the restart');
    assert.equal(replay.notification?.id, read.id);
  });
});

describe('bad configuration stops start-up naming the variable', { timeout: 4 * TEST_TIMEOUT_MS }, () => {
  const cases: { env: Record<string, string>; variable: string; secret?: string }[] = [
    { env: { WEBHOOK_MAX_RETRIES: 'abc' }, variable: 'WEBHOOK_MAX_RETRIES' },
    { env: { GRPC_ADDRESS: 'nonsense' }, variable: 'GRPC_ADDRESS' },
    { env: { WEBHOOK_TIMEOUT: '5', HERALD_LEASE_MS: '5500' }, variable: 'HERALD_LEASE_MS' },
    { env: { DATABASE_URL: 'mysql://herald:s3cr3t-pw@db.example/herald' }, variable: 'DATABASE_URL', secret: 's3cr3t-pw' },
  ];
  for (const { env, variable, secret } of cases) {
    it(`${Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ')} → exit 2 naming ${variable}`, { timeout: TEST_TIMEOUT_MS }, async (t) => {
      const dir = tempDir(t);
      const child = startHeraldProcess(t, { dir, env });
      const exit = await exitWithin(child, 20_000);
      assert.deepEqual(exit, { code: 2, signal: null }, child.describe());
      const stderr = child.stderr.join('\n');
      assert.match(stderr, new RegExp(`configuration error: ${variable}\\b`), child.describe());
      if (secret !== undefined) assert.ok(!stderr.includes(secret), 'the message must not echo a password');
      assert.ok(!child.records().some((r) => r.msg === 'Herald started'));
    });
  }
});
