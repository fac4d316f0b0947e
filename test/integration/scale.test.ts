/**
 * Several replicas on one PostgreSQL: three Herald processes, notifications
 * created round-robin across them, a receiver that counts. Needs PostgreSQL
 * (SQLite serves one process), so it runs in the PostgreSQL suite only
 * (test/postgres/scale.test.ts).
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test, type TestContext } from 'node:test';
import { status } from '@grpc/grpc-js';
import type { HeraldClient } from '../../src/client.js';
import { eventually, spawnHerald, startHeraldProcess, tempDir, type ChildHerald } from '../helpers/child-herald.js';
import { freshDatabaseUrl, TEST_DATABASE } from '../helpers/herald.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';

const AGENTS = 30;
const PER_AGENT = 100;
const LIMIT = 80;
const IN_FLIGHT = 48;
/** Tries per create when Herald answers "retry" (UNAVAILABLE, RESOURCE_EXHAUSTED). */
const RETRIES = 5;

const skip = TEST_DATABASE === 'postgresql' ? false : 'needs PostgreSQL: several processes share one database (runs in test/postgres/scale.test.ts)';

async function replicas(t: TestContext, n: number, extraEnv: Record<string, string> = {}): Promise<ChildHerald[]> {
  const dir = tempDir(t);
  const databaseUrl = await freshDatabaseUrl(t, dir);
  const env = {
    DATABASE_URL: databaseUrl,
    HERALD_WORKER_CONCURRENCY: '32',
    // Long polls: a replica must be woken by LISTEN/NOTIFY, not by its poll.
    HERALD_POLL_MS: '5000',
    WEBHOOK_RETRY_DELAY: '0.2',
    WEBHOOK_MAX_RETRIES: '10',
    HERALD_LOG_LEVEL: 'warn',
    ...extraEnv,
  };
  // The first one applies the migrations; the others start on a migrated database.
  const first = await spawnHerald(t, { dir, env: { ...env, HERALD_LOG_LEVEL: 'info' } });
  const rest = await Promise.all(Array.from({ length: n - 1 }, () => spawnHerald(t, { dir, env: { ...env, HERALD_LOG_LEVEL: 'info' } })));
  return [first, ...rest];
}

async function setUpAgents(client: HeraldClient, receiver: Receiver): Promise<string[]> {
  const agents = Array.from({ length: AGENTS }, (_, i) => `scale-agent-${String(i).padStart(2, '0')}`);
  await Promise.all(
    agents.map((agent_id) =>
      client.preferences.UpdatePreferences({
        preferences: { agent_id, enable_webhook: true, webhook_url: `${receiver.url}/hooks/${agent_id}`, max_notifications_per_hour: LIMIT },
      }),
    ),
  );
  return agents;
}

interface Created {
  readonly agent: string;
  readonly outcome: string;
  readonly deliveryId: string;
}

/**
 * Creates PER_AGENT notifications for every agent, round-robin over the
 * clients, IN_FLIGHT at a time. `onProgress` may return clients to stop
 * using (a replica that was killed); calls that fail are not acknowledged
 * and are not counted.
 */
async function createAll(clients: HeraldClient[], agents: string[], onProgress?: (done: number) => void): Promise<{ created: Created[]; failed: number }> {
  // Interleaved over the agents, as independent callers would send them.
  const jobs = Array.from({ length: PER_AGENT }, (_, i) => agents.map((agent) => ({ agent, i }))).flat();
  const created: Created[] = [];
  let failed = 0;
  let next = 0;
  let done = 0;
  const live = new Set(clients);
  async function lane(): Promise<void> {
    while (next < jobs.length) {
      const n = next++;
      const job = jobs[n]!;
      // As a well-behaved caller does (docs/guarantees.md, "What a fault does to a
      // client"): an answer that says "retry" is retried, with the same
      // idempotency key, so a create that did commit is not made twice. A
      // loaded machine can push a call past Herald's bounded database waits.
      let acknowledged = false;
      for (let attempt = 0; attempt < RETRIES && !acknowledged; attempt++) {
        const pool = clients.filter((c) => live.has(c));
        if (pool.length === 0) break;
        const client = pool[(n + attempt) % pool.length]!;
        try {
          const r = await client.notifications.CreateNotification({ agent_id: job.agent, notification_type: 'scale.test', title: `n${job.i}`, idempotency_key: `${job.agent}-${job.i}` });
          created.push({ agent: job.agent, outcome: r.decision?.outcome ?? '', deliveryId: r.decision?.delivery_id ?? '' });
          acknowledged = true;
        } catch (err) {
          const e = err as { code?: number; details?: string };
          const retryable = (e.code === status.UNAVAILABLE || e.code === status.RESOURCE_EXHAUSTED) && /retry/i.test(e.details ?? '');
          // Anything else (a replica that is gone) takes that client out of the rotation.
          if (!retryable) live.delete(client);
          await sleep(100);
        }
      }
      if (!acknowledged) failed++;
      onProgress?.(++done);
    }
  }
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
  return { created, failed };
}

function countIds(receiver: Receiver): Map<string, number> {
  const ids = new Map<string, number>();
  for (const r of receiver.requests) {
    const id = String(r.headers['x-herald-delivery'] ?? '');
    ids.set(id, (ids.get(id) ?? 0) + 1);
  }
  return ids;
}

describe('three replicas on one PostgreSQL', { skip }, () => {
  test('3,000 notifications round-robin over 3 replicas: every delivery id arrives exactly once, none left pending, per-agent limits hold', { timeout: 240_000 }, async (t) => {
    const receiver = await startReceiver();
    t.after(() => receiver.close());
    const nodes = await replicas(t, 3);
    const clients = nodes.map((n) => n.client);
    const agents = await setUpAgents(clients[0]!, receiver);

    const started = performance.now();
    const { created, failed } = await createAll(clients, agents);
    const createdMs = performance.now() - started;
    assert.equal(failed, 0);
    assert.equal(created.length, AGENTS * PER_AGENT);

    for (const agent of agents) {
      const mine = created.filter((c) => c.agent === agent);
      const delivered = mine.filter((c) => c.outcome === 'DECISION_OUTCOME_DELIVER').length;
      assert.equal(delivered, LIMIT, `${agent}: exactly ${LIMIT} of ${PER_AGENT} accepted across replicas`);
    }
    const expected = new Set(created.filter((c) => c.deliveryId !== '').map((c) => c.deliveryId));
    assert.equal(expected.size, AGENTS * LIMIT);

    await eventually('every delivery at the receiver', () => (countIds(receiver).size >= expected.size ? true : undefined), 180_000, 100);
    const deliveredMs = performance.now() - started;
    const ids = countIds(receiver);
    const duplicates = [...ids.values()].filter((n) => n > 1).length;
    assert.deepEqual([...ids.keys()].sort(), [...expected].sort(), 'the receiver got exactly the enqueued delivery ids');
    assert.equal(duplicates, 0, 'no crash, so no delivery may arrive twice');

    const stats = await eventually('settled statistics', async () => {
      const s = await clients[0]!.deliveries.GetDeliveryStats({ since: { seconds: 0, nanos: 0 } });
      return s.pending === 0 && s.delivering === 0 ? s : undefined;
    });
    assert.equal(stats.succeeded, expected.size);
    const perReplica = nodes.map((n) => n.logs.filter((l) => l.includes('"webhook attempt"')).length);
    t.diagnostic(
      `created ${created.length} in ${Math.round(createdMs)} ms (${Math.round((created.length / createdMs) * 1000)}/s); ` +
        `${expected.size} deliveries received in ${Math.round(deliveredMs)} ms; duplicates ${duplicates}; sent per replica ${perReplica.join('/')}`,
    );
  });

  test('one replica SIGKILLed mid-run: every acknowledged delivery arrives; duplicates only for its in-flight rows, with the same delivery id', { timeout: 240_000 }, async (t) => {
    // Slow answers keep sends in flight at the moment of the kill.
    const receiver = await startReceiver([], { fallback: { status: 200, delayMs: 30 } });
    t.after(() => receiver.close());
    const nodes = await replicas(t, 3, { HERALD_LEASE_MS: '5000', WEBHOOK_TIMEOUT: '1' });
    const clients = nodes.map((n) => n.client);
    const agents = await setUpAgents(clients[0]!, receiver);
    const victim = nodes[2]!;

    const started = performance.now();
    let killed = false;
    const { created, failed } = await createAll(clients, agents, (done) => {
      if (!killed && done >= 1_000) {
        killed = true;
        victim.kill('SIGKILL');
      }
    });
    assert.ok(killed);
    await victim.exited;
    const expected = new Set(created.filter((c) => c.deliveryId !== '').map((c) => c.deliveryId));
    for (const agent of agents) {
      const delivered = created.filter((c) => c.agent === agent && c.outcome === 'DECISION_OUTCOME_DELIVER').length;
      assert.ok(delivered <= LIMIT, `${agent}: at most ${LIMIT} accepted`);
    }

    await eventually('every acknowledged delivery at the receiver', () => {
      const ids = countIds(receiver);
      return [...expected].every((id) => ids.has(id)) ? true : undefined;
    }, 180_000, 100);
    const survivors = clients.slice(0, 2);
    const stats = await eventually('no delivery left pending', async () => {
      const s = await survivors[0]!.deliveries.GetDeliveryStats({ since: { seconds: 0, nanos: 0 } });
      return s.pending === 0 && s.delivering === 0 ? s : undefined;
    }, 60_000);
    const ids = countIds(receiver);
    const duplicates = [...ids.entries()].filter(([, n]) => n > 1);
    const unknown = [...ids.keys()].filter((id) => !expected.has(id));
    // A row the victim had claimed may have reached the receiver before the
    // kill, and is then sent again after its lease runs out: at most one per
    // send slot of the victim.
    assert.ok(duplicates.length <= 32, `${duplicates.length} duplicates; at most the victim's 32 in-flight sends`);
    assert.ok(duplicates.every(([, n]) => n === 2), 'a duplicate arrives twice, not more');
    // Creates in flight on the victim at the kill may have committed without
    // their answer reaching us: their deliveries are sent, just not counted as acknowledged.
    assert.ok(unknown.length <= IN_FLIGHT, `${unknown.length} unacknowledged deliveries`);
    assert.equal(stats.succeeded, ids.size);
    t.diagnostic(
      `acknowledged ${created.length} (failed calls ${failed}), deliveries ${expected.size} acknowledged + ${unknown.length} unacknowledged, ` +
        `received ${receiver.requests.length} requests for ${ids.size} ids, duplicates ${duplicates.length}, in ${Math.round(performance.now() - started)} ms`,
    );
  });

  test('100 concurrent creates spread over 3 replicas with limit 10 give exactly 10 deliveries; 20 concurrent repeats of one idempotency key give one notification', { timeout: 120_000 }, async (t) => {
    const receiver = await startReceiver();
    t.after(() => receiver.close());
    const nodes = await replicas(t, 3);
    const clients = nodes.map((n) => n.client);
    await clients[0]!.preferences.UpdatePreferences({
      preferences: { agent_id: 'limit-10', enable_webhook: true, webhook_url: `${receiver.url}/hook`, max_notifications_per_hour: 10 },
    });
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) => clients[i % 3]!.notifications.CreateNotification({ agent_id: 'limit-10', notification_type: 'burst', title: `b${i}` })),
    );
    const outcomes = results.map((r) => r.decision?.reason);
    assert.equal(outcomes.filter((o) => o === 'DECISION_REASON_ACCEPTED').length, 10);
    assert.equal(outcomes.filter((o) => o === 'DECISION_REASON_RATE_LIMITED').length, 90);

    const repeats = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        clients[i % 3]!.notifications.CreateNotification({ agent_id: 'idem', notification_type: 'once', title: 'only once', idempotency_key: 'k-1' }),
      ),
    );
    assert.equal(new Set(repeats.map((r) => r.notification?.id)).size, 1);
    assert.equal(repeats.filter((r) => !r.replayed).length, 1);
    const listed = await clients[1]!.notifications.ListNotifications({ agent_id: 'idem' });
    assert.equal(listed.notifications.length, 1);
  });

  test('HERALD_ROLE splits the work: an api replica enqueues and never sends, a worker replica sends and serves no API', { timeout: 120_000 }, async (t) => {
    const receiver = await startReceiver();
    t.after(() => receiver.close());
    const dir = tempDir(t);
    const env = { DATABASE_URL: await freshDatabaseUrl(t, dir), HERALD_POLL_MS: '200', HERALD_LOG_LEVEL: 'info' };
    const api = await spawnHerald(t, { dir, env: { ...env, HERALD_ROLE: 'api' } });
    await api.client.preferences.UpdatePreferences({ preferences: { agent_id: 'roles', enable_webhook: true, webhook_url: `${receiver.url}/hook` } });
    const created = await api.client.notifications.CreateNotification({ agent_id: 'roles', notification_type: 'split', title: 'by the worker' });
    const id = created.decision?.delivery_id ?? '';
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    assert.equal(receiver.requests.length, 0, 'the api replica does not deliver');
    assert.equal((await api.client.deliveries.GetDelivery({ id })).status, 'DELIVERY_STATUS_PENDING');

    const worker = startHeraldProcess(t, { dir, env: { ...env, HERALD_ROLE: 'worker' } });
    await worker.waitForLog('Herald started');
    assert.ok(!worker.records().some((r) => r.msg === 'gRPC server listening'), 'the worker replica serves no API');
    await receiver.waitForRequests(1, 20_000);
    assert.equal(receiver.requests[0]!.headers['x-herald-delivery'], id);
    const done = await eventually('SUCCEEDED', async () => {
      const d = await api.client.deliveries.GetDelivery({ id });
      return d.status === 'DELIVERY_STATUS_SUCCEEDED' ? d : undefined;
    });
    assert.equal(done.attempts.length, 1);
  });
});
