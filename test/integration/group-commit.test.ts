/**
 * Group commit (Store.writeGrouped) on a real database: concurrent creates
 * share one transaction, and one member the database refuses fails alone.
 * Calls made in the same turn of the event loop land in one group.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { parseDatabaseUrl } from '../../src/config.js';
import { DeliveryEvents } from '../../src/delivery/events.js';
import { DEFAULT_PREFERENCES, type Delivery, type Notification } from '../../src/domain/types.js';
import { createLogger } from '../../src/logger.js';
import { NotificationEvents } from '../../src/services/notification-events.js';
import { NotificationService, type CreateRequest } from '../../src/services/notification-service.js';
import { Store } from '../../src/storage/database.js';
import { isUniqueViolation } from '../../src/storage/errors.js';
import { applyMigrations } from '../../src/storage/migrations.js';
import { cleanup, freshDatabaseUrl, TEST_DATABASE } from '../helpers/herald.js';
import { openRaw } from '../helpers/raw-sql.js';

async function freshStore(t: TestContext): Promise<{ url: string; open: () => Promise<Store> }> {
  const dir = mkdtempSync(join(tmpdir(), 'herald-group-'));
  cleanup(t, () => rmSync(dir, { recursive: true, force: true }));
  const url = await freshDatabaseUrl(t, dir);
  const config = parseDatabaseUrl(url, dir);
  await applyMigrations(config, createLogger('silent'));
  const open = async (): Promise<Store> => {
    const store = await Store.open(config);
    cleanup(t, () => store.close());
    return store;
  };
  return { url, open };
}

function notification(id: string, agentId: string, now: Date): Notification {
  return {
    id,
    tenantId: 'default',
    agentId,
    notificationType: 'job.completed',
    title: 'Job done',
    content: '',
    priority: 'NORMAL',
    relatedEntityType: null,
    relatedEntityId: null,
    metadata: {},
    idempotencyKey: null,
    read: false,
    readAt: null,
    createdAt: now,
    deliveryId: null,
    decision: { outcome: 'SUPPRESS', reason: 'WEBHOOK_DISABLED', deliverAt: null, explanation: '', decidedAt: now },
  };
}

function request(agentId: string, title: string): CreateRequest {
  return { agentId, notificationType: 'job.completed', title, content: '', priority: null, relatedEntityType: '', relatedEntityId: '', metadata: {}, idempotencyKey: '' };
}

test('concurrent grouped writes each get their own result, and every row is committed', async (t) => {
  const { open } = await freshStore(t);
  const store = await open();
  const now = new Date();
  const agents = Array.from({ length: 20 }, (_, i) => `agent-${i}`);
  const results = await Promise.all(
    agents.map((agent) =>
      store.writeGrouped('default', agent, async (r) => {
        await r.lockAgent('default', agent);
        await r.notifications.insert(notification(`n-${agent}`, agent, now));
        return agent;
      }),
    ),
  );
  assert.deepEqual(results, agents);
  for (const agent of agents) {
    const stored = await store.read((r) => r.notifications.get('default', `n-${agent}`));
    assert.equal(stored?.agentId, agent);
  }
});

test('rows of a group (one multi-row INSERT) are stored exactly as a single write stores them', async (t) => {
  const { url, open } = await freshStore(t);
  const store = await open();
  const raw = await openRaw(url);
  cleanup(t, () => raw.close());
  const now = new Date('2026-03-29T01:30:00.123Z');
  const deliverAt = new Date('2026-03-29T09:00:00.000Z');
  const accepted = (id: string, agentId: string): Notification => ({
    ...notification(id, agentId, now),
    relatedEntityType: 'job',
    metadata: { seq: 1, nested: { ok: true } },
    idempotencyKey: `key-${id}`,
    deliveryId: `d-${id}`,
    decision: { outcome: 'DEFER', reason: 'QUIET_HOURS', deliverAt, explanation: 'quiet until 09:00', decidedAt: now },
  });
  const delivery = (id: string, agentId: string) => ({ id: `d-${id}`, tenantId: 'default', agentId, notificationId: id, eventType: 'notification' as const, body: '{"a":1}', nextAttemptAt: deliverAt, now });
  await store.write(async (r) => {
    await r.notifications.insert(accepted('single', 'x'));
    await r.deliveries.enqueue(delivery('single', 'x'));
  });
  await Promise.all(
    ['g1', 'g2'].map((id) =>
      store.writeGrouped('default', id, async (r) => {
        await r.notifications.insert(accepted(id, id));
        await r.deliveries.enqueue(delivery(id, id));
      }),
    ),
  );
  const rows = await raw.all(`SELECT * FROM notifications ORDER BY id`);
  const deliveries = await raw.all(`SELECT * FROM deliveries ORDER BY id`);
  const comparable = (row: Record<string, unknown>): Record<string, unknown> => ({ ...row, id: null, agent_id: null, idempotency_key: null, delivery_id: null, notification_id: null });
  const [g1, g2, single] = rows.map(comparable);
  assert.deepEqual(g1, single);
  assert.deepEqual(g2, single);
  const [dg1, dg2, dsingle] = deliveries.map(comparable);
  assert.deepEqual(dg1, dsingle);
  assert.deepEqual(dg2, dsingle);
  const read = await store.read((r) => r.notifications.findByIdempotencyKey('default', 'g1', 'key-g1'));
  assert.deepEqual(read, accepted('g1', 'g1'));
});

test('one member the database refuses fails alone: the others of its group are committed and answered', async (t) => {
  const { open } = await freshStore(t);
  const store = await open();
  const now = new Date();
  await store.write((r) => r.notifications.insert(notification('taken', 'first', now)));
  const runs = new Map<string, number>();
  const agents = ['a', 'b', 'c', 'd', 'e'];
  const outcomes = await Promise.allSettled(
    agents.map((agent) =>
      store.writeGrouped('default', agent, async (r) => {
        runs.set(agent, (runs.get(agent) ?? 0) + 1);
        // c reuses an id that exists: its row fails the group's multi-row insert.
        await r.notifications.insert(notification(agent === 'c' ? 'taken' : `n-${agent}`, agent, now));
        return agent;
      }),
    ),
  );
  const [a, b, c, d, e] = outcomes;
  assert.equal(c?.status, 'rejected');
  assert.ok(c?.status === 'rejected' && isUniqueViolation(c.reason), 'c gets its own unique violation');
  for (const [agent, outcome] of [['a', a], ['b', b], ['d', d], ['e', e]] as const) {
    assert.deepEqual(outcome, { status: 'fulfilled', value: agent });
    const stored = await store.read((r) => r.notifications.get('default', `n-${agent}`));
    assert.equal(stored?.agentId, agent, `${agent} is committed`);
  }
  // The group ran once together, was rolled back, and each member ran again alone.
  assert.deepEqual(Object.fromEntries(runs), { a: 2, b: 2, c: 2, d: 2, e: 2 });
  const taken = await store.read((r) => r.notifications.get('default', 'taken'));
  assert.equal(taken?.agentId, 'first', 'the existing row is untouched');
});

test('a group holds one member per agent: a second write of the same agent runs after the first, and sees it', async (t) => {
  const { open } = await freshStore(t);
  const store = await open();
  const now = new Date();
  const seen: Array<Notification | null> = [];
  await Promise.all([
    store.writeGrouped('default', 'same', (r) => r.notifications.insert(notification('one', 'same', now))),
    store.writeGrouped('default', 'same', async (r) => {
      seen.push(await r.notifications.get('default', 'one'));
    }),
  ]);
  assert.equal(seen[0]?.id, 'one');
});

test('a grouped write may lock only its own agent', async (t) => {
  const { open } = await freshStore(t);
  const store = await open();
  await assert.rejects(
    store.writeGrouped('default', 'mine', (r) => r.lockAgent('default', 'someone-else')),
    /did not declare the agent/,
  );
});

test('creates in one group whose row the database refuses: only committed notifications are answered and announced', async (t) => {
  const { url, open } = await freshStore(t);
  const raw = await openRaw(url);
  cleanup(t, () => raw.close());
  // A stand-in for any refusal by the database (a constraint, a full disk) hitting one row of a group.
  if (raw.dialect === 'sqlite') {
    await raw.run(`CREATE TRIGGER refuse_title BEFORE INSERT ON notifications WHEN NEW.title = 'refused' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`);
  } else {
    await raw.run(`CREATE FUNCTION refuse_title() RETURNS trigger AS $$ BEGIN IF NEW.title = 'refused' THEN RAISE EXCEPTION 'refused by the test'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql`);
    await raw.run(`CREATE TRIGGER refuse_title BEFORE INSERT ON notifications FOR EACH ROW EXECUTE FUNCTION refuse_title()`);
  }
  const store = await open();
  const events = new DeliveryEvents();
  const decisions = new NotificationEvents();
  const decided: string[] = [];
  const enqueued: Delivery[] = [];
  decisions.onDecided((n) => decided.push(n.agentId));
  events.onChanged((change) => enqueued.push(change.delivery));
  await store.write((r) =>
    r.preferences.save('default', 'hooked', { ...DEFAULT_PREFERENCES, enableWebhook: true, webhookUrl: 'https://example.com/hook' }, { now: new Date(), exists: false, newSecret: null }),
  );
  const service = new NotificationService(store, events, () => new Date(), decisions);
  const outcomes = await Promise.allSettled([
    service.create('default', request('quiet', 'fine')),
    service.create('default', request('refused-agent', 'refused')),
    service.create('default', request('hooked', 'fine')),
  ]);
  assert.equal(outcomes[0].status, 'fulfilled');
  assert.equal(outcomes[1].status, 'rejected');
  assert.equal(outcomes[2].status, 'fulfilled');
  assert.deepEqual(decided.sort(), ['hooked', 'quiet']);
  assert.deepEqual(enqueued.map((d) => d.agentId), ['hooked']);
  const counts = await raw.all(`SELECT agent_id, COUNT(*) AS n FROM notifications GROUP BY agent_id ORDER BY agent_id`);
  assert.deepEqual(counts.map((row) => [row.agent_id, Number(row.n)]), [['hooked', 1], ['quiet', 1]]);
  const hooked = outcomes[2].status === 'fulfilled' ? outcomes[2].value.notification : null;
  const delivery = await store.read((r) => r.deliveries.get('default', hooked?.deliveryId ?? ''));
  assert.equal(delivery?.status, 'PENDING', 'the outbox row is committed with its notification');
});

test('groups of two replicas locking the same agents in opposite orders never deadlock (sorted advisory locks)', { skip: TEST_DATABASE !== 'postgresql' && 'advisory locks are PostgreSQL only' }, async (t) => {
  const { open } = await freshStore(t);
  const [one, two] = [await open(), await open()];
  const agents = Array.from({ length: 12 }, (_, i) => `agent-${i}`);
  const runs = new Map<string, number>();
  const work = (store: Store, agent: string, round: number): Promise<void> =>
    store.writeGrouped('default', agent, async (r) => {
      const key = `${store === one ? 1 : 2}-${agent}-${round}`;
      runs.set(key, (runs.get(key) ?? 0) + 1);
      await r.lockAgent('default', agent);
      await r.notifications.insert(notification(`n-${key}`, agent, new Date()));
    });
  for (let round = 0; round < 5; round++) {
    await Promise.all([...agents.map((a) => work(one, a, round)), ...[...agents].reverse().map((a) => work(two, a, round))]);
  }
  // A deadlock would have failed a group and made its members run again alone.
  assert.equal(runs.size, 2 * agents.length * 5);
  assert.ok([...runs.values()].every((n) => n === 1), 'every member ran once, in its group');
});

test('grouped creates of many limited agents keep each agent\'s hourly limit exact and number its counted notifications 1, 2, 3', async (t) => {
  const { url, open } = await freshStore(t);
  const store = await open();
  const agents = Array.from({ length: 12 }, (_, i) => `limited-${i}`);
  for (const agent of agents) {
    await store.write((r) =>
      r.preferences.save('default', agent, { ...DEFAULT_PREFERENCES, enableWebhook: true, webhookUrl: 'https://example.com/hook', maxPerHour: 3 }, { now: new Date(), exists: false, newSecret: null }),
    );
  }
  const service = new NotificationService(store, new DeliveryEvents(), () => new Date());
  // Five rounds of one create per agent, all in flight together: each round's creates share groups.
  const created = await Promise.all(agents.flatMap((agent) => Array.from({ length: 5 }, (_, i) => service.create('default', request(agent, `n${i}`)))));
  const raw = await openRaw(url);
  cleanup(t, () => raw.close());
  for (const agent of agents) {
    const outcomes = created.filter((c) => c.notification.agentId === agent).map((c) => c.notification.decision.outcome);
    assert.deepEqual(outcomes, ['DELIVER', 'DELIVER', 'DELIVER', 'SUPPRESS', 'SUPPRESS'], agent);
    const seqs = await raw.all(`SELECT rate_seq FROM notifications WHERE agent_id = $1 AND rate_seq IS NOT NULL ORDER BY rate_seq`.replace('$1', raw.dialect === 'sqlite' ? '?' : '$1'), agent);
    assert.deepEqual(seqs.map((row) => Number(row.rate_seq)), [1, 2, 3], agent);
    const counter = await raw.all(`SELECT last_seq FROM rate_counters WHERE agent_id = ${raw.dialect === 'sqlite' ? '?' : '$1'}`, agent);
    assert.deepEqual(counter.map((row) => Number(row.last_seq)), [3], agent);
  }
});
