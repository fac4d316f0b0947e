/**
 * Group commit (Store.writeForAgent) on a real database: concurrent writes
 * of different agents share one transaction, one member the database
 * refuses fails alone, and writes of one agent run one after another.
 * Calls made in the same turn of the event loop land in one group.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { parseDatabaseUrl } from '../../src/config.js';
import { DEFAULT_PREFERENCES, type Delivery, type Notification } from '../../src/domain/types.js';
import { ChangeFeed } from '../../src/events/change-feed.js';
import { createLogger } from '../../src/logger.js';
import { NotificationService, type CreateRequest } from '../../src/services/notification-service.js';
import { Store } from '../../src/storage/database.js';
import { isUniqueViolation } from '../../src/storage/errors.js';
import { applyMigrations } from '../../src/storage/migrations.js';
import { cleanup, freshDatabaseUrl, TEST_DATABASE } from '../helpers/herald.js';
import { openRaw } from '../helpers/raw-sql.js';
import { storedNotification } from '../helpers/notifications.js';

async function freshStore(t: TestContext): Promise<{ url: string; open: (feed?: ChangeFeed) => Promise<Store> }> {
  const dir = mkdtempSync(join(tmpdir(), 'herald-group-'));
  cleanup(t, () => rmSync(dir, { recursive: true, force: true }));
  const url = await freshDatabaseUrl(t, dir);
  const config = parseDatabaseUrl(url, dir);
  await applyMigrations(config, createLogger('silent'));
  const open = async (feed = new ChangeFeed()): Promise<Store> => {
    const store = await Store.open(config, { poolSize: 10, feed });
    cleanup(t, () => store.close());
    return store;
  };
  return { url, open };
}

function notification(id: string, agentId: string, now: Date): Notification {
  return storedNotification(id, agentId, { now });
}

const agent = (agentId: string) => ({ tenantId: 'default', agentId });

function request(agentId: string, title: string): CreateRequest {
  return { agentId, notificationType: 'job.completed', title, content: '', priority: null, relatedEntityType: '', relatedEntityId: '', metadata: {}, idempotencyKey: '' };
}

test('concurrent grouped writes each get their own result, and every row is committed', async (t) => {
  const { open } = await freshStore(t);
  const store = await open();
  const now = new Date();
  const agents = Array.from({ length: 20 }, (_, i) => `agent-${i}`);
  const results = await Promise.all(
    agents.map((id) =>
      store.writeForAgent(agent(id), async (r) => {
        await r.notifications.insert(notification(`n-${id}`, id, now));
        return id;
      }),
    ),
  );
  assert.deepEqual(results, agents);
  for (const id of agents) {
    const stored = await store.read((r) => r.notifications.get('default', `n-${id}`));
    assert.equal(stored?.agentId, id);
  }
});

test('rows of a group (one multi-row INSERT) are stored exactly as a write run alone stores them, in the form of Prisma\'s own writes', async (t) => {
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
  const delivery = (id: string, agentId: string) => ({ id: `d-${id}`, tenantId: 'default', agentId, notificationId: id, endpointId: null, eventType: 'notification' as const, body: '{"a":1}', nextAttemptAt: deliverAt, now });
  const write = (id: string) =>
    store.writeForAgent(agent(id), async (r) => {
      await r.notifications.insert(accepted(id, id));
      await r.deliveries.enqueue(delivery(id, id));
    });
  // A group that fails (its third member reuses an id) runs its members alone: 'single' is written by a transaction of its own.
  await store.writeForAgent(agent('taken'), (r) => r.notifications.insert(notification('taken-id', 'taken', now)));
  const alone = await Promise.allSettled([write('single'), store.writeForAgent(agent('dup'), (r) => r.notifications.insert(notification('taken-id', 'dup', now)))]);
  assert.equal(alone[0].status, 'fulfilled');
  await Promise.all(['g1', 'g2'].map(write));
  const rows = await raw.all(`SELECT * FROM notifications WHERE id <> 'taken-id' ORDER BY id`);
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
  // An instant Prisma writes itself (read_at, by markRead) has the form of those the raw INSERT wrote.
  await store.write((r) => r.notifications.markRead('default', 'g1', now));
  const [marked] = await raw.all(`SELECT created_at, read_at FROM notifications WHERE id = 'g1'`);
  assert.equal(String(marked?.read_at), String(marked?.created_at));
});

test('one member the database refuses fails alone: the others of its group are committed and answered', async (t) => {
  const { open } = await freshStore(t);
  const store = await open();
  const now = new Date();
  await store.writeForAgent(agent('first'), (r) => r.notifications.insert(notification('taken', 'first', now)));
  const runs = new Map<string, number>();
  const agents = ['a', 'b', 'c', 'd', 'e'];
  const outcomes = await Promise.allSettled(
    agents.map((id) =>
      store.writeForAgent(agent(id), async (r) => {
        runs.set(id, (runs.get(id) ?? 0) + 1);
        // c reuses an id that exists: its row fails the group's multi-row insert.
        await r.notifications.insert(notification(id === 'c' ? 'taken' : `n-${id}`, id, now));
        return id;
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

test('a second write of an agent in the same group runs after the first, and sees what it wrote', async (t) => {
  const { open } = await freshStore(t);
  const store = await open();
  const now = new Date();
  const seen: Array<Notification | null> = [];
  await Promise.all([
    store.writeForAgent(agent('same'), (r) => r.notifications.insert(notification('one', 'same', now))),
    store.writeForAgent(agent('same'), async (r) => {
      seen.push(await r.notifications.get('default', 'one'));
    }),
  ]);
  assert.equal(seen[0]?.id, 'one');
});

test('a write of an agent waits for the agent\'s earlier write to commit, however long that takes, while other agents\' writes go on', async (t) => {
  const { open } = await freshStore(t);
  const store = await open();
  const now = new Date();
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  const order: string[] = [];
  const first = store.writeForAgent(agent('slow'), async (r) => {
    order.push('slow-1 started');
    await r.notifications.insert(notification('slow-1', 'slow', now));
    await held;
    order.push('slow-1 done');
  });
  await new Promise((resolve) => setTimeout(resolve, 20));
  const second = store.writeForAgent(agent('slow'), async (r) => {
    order.push(`slow-2 sees slow-1: ${(await r.notifications.get('default', 'slow-1')) !== null}`);
  });
  // On SQLite one group runs at a time, so another agent's write also waits; on PostgreSQL it runs beside.
  const other = store.writeForAgent(agent('other'), async () => {
    order.push('other');
  });
  if (TEST_DATABASE === 'postgresql') {
    // Waits for the other agent's write while slow-1 is still held: were it held up behind slow-1, this would time out.
    const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error(`another agent's write was held up: ${order.join(', ')}`)), 10_000).unref());
    await Promise.race([other, timeout]);
    assert.ok(!order.includes('slow-1 done'));
  } else {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  release();
  await Promise.all([first, second, other]);
  assert.ok(order.indexOf('slow-1 done') < order.indexOf('slow-2 sees slow-1: true'), order.join(', '));
  assert.ok(order.includes('slow-2 sees slow-1: true'), 'the second write saw the first one committed');
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
  const feed = new ChangeFeed();
  const store = await open(feed);
  const decided: string[] = [];
  const enqueued: Delivery[] = [];
  feed.on('decided', ({ notification: n }) => decided.push(n.agentId));
  feed.on('deliveryChanged', ({ change }) => enqueued.push(change.delivery));
  await store.writeForAgent(agent('hooked'), (r) =>
    r.preferences.save('default', 'hooked', { ...DEFAULT_PREFERENCES, enableWebhook: true, webhookUrl: 'https://example.com/hook' }, { now: new Date(), exists: false, newSecret: null, firstEndpointId: 'ep_hooked' }),
  );
  const service = new NotificationService(store, () => new Date());
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
  const work = (store: Store, id: string, round: number): Promise<void> =>
    store.writeForAgent(agent(id), async (r) => {
      const key = `${store === one ? 1 : 2}-${id}-${round}`;
      runs.set(key, (runs.get(key) ?? 0) + 1);
      await r.notifications.insert(notification(`n-${key}`, id, new Date()));
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
  for (const id of agents) {
    await store.writeForAgent(agent(id), (r) =>
      r.preferences.save('default', id, { ...DEFAULT_PREFERENCES, enableWebhook: true, webhookUrl: 'https://example.com/hook', maxPerHour: 3 }, { now: new Date(), exists: false, newSecret: null, firstEndpointId: `ep_${id}` }),
    );
  }
  const service = new NotificationService(store, () => new Date());
  // Five rounds of one create per agent, all in flight together: each round's creates share groups.
  const created = await Promise.all(agents.flatMap((id) => Array.from({ length: 5 }, (_, i) => service.create('default', request(id, `n${i}`)))));
  const raw = await openRaw(url);
  cleanup(t, () => raw.close());
  for (const id of agents) {
    const outcomes = created.filter((c) => c.notification.agentId === id).map((c) => c.notification.decision.outcome);
    assert.deepEqual(outcomes, ['DELIVER', 'DELIVER', 'DELIVER', 'SUPPRESS', 'SUPPRESS'], id);
    const seqs = await raw.all(`SELECT rate_seq FROM notifications WHERE agent_id = $1 AND rate_seq IS NOT NULL ORDER BY rate_seq`.replace('$1', raw.dialect === 'sqlite' ? '?' : '$1'), id);
    assert.deepEqual(seqs.map((row) => Number(row.rate_seq)), [1, 2, 3], id);
    const counter = await raw.all(`SELECT last_seq FROM rate_counters WHERE agent_id = ${raw.dialect === 'sqlite' ? '?' : '$1'}`, id);
    assert.deepEqual(counter.map((row) => Number(row.last_seq)), [3], id);
  }
});

/** Saves preferences with a webhook for `id` (endpoint `ep_<id>`), `maxPerHour` 0 meaning no limit. */
async function hooked(store: Store, id: string, maxPerHour = 0): Promise<void> {
  await store.writeForAgent(agent(id), (r) =>
    r.preferences.save('default', id, { ...DEFAULT_PREFERENCES, enableWebhook: true, webhookUrl: 'https://example.com/hook', maxPerHour }, { now: new Date(), exists: false, newSecret: null, firstEndpointId: `ep_${id}` }),
  );
}

/** Counts the transactions the store runs from now on, and the failed ones. */
function countWrites(store: Store): { committed: number; failed: unknown[] } {
  const count = { committed: 0, failed: [] as unknown[] };
  store.observeWrites((error) => (error === null ? count.committed++ : count.failed.push(error)));
  return count;
}

const placeholder = (raw: { dialect: string }, n: number): string => (raw.dialect === 'sqlite' ? '?' : `$${n}`);

test('creates of one agent in flight together share one transaction, each decided after the ones before it: the hourly limit stays exact, numbered 1, 2, 3 in call order', async (t) => {
  const { url, open } = await freshStore(t);
  const store = await open();
  await hooked(store, 'hot', 3);
  const service = new NotificationService(store, () => new Date());
  const writes = countWrites(store);
  // All submitted in one turn of the event loop (8: a group's most of one agent on PostgreSQL): on the old one-member-per-agent rule this took eight transactions.
  const created = await Promise.all(Array.from({ length: 8 }, (_, i) => service.create('default', request('hot', `n${i}`))));
  assert.deepEqual(writes, { committed: 1, failed: [] });
  assert.deepEqual(created.map((c) => c.notification.decision.outcome), ['DELIVER', 'DELIVER', 'DELIVER', ...Array(5).fill('SUPPRESS')]);
  const raw = await openRaw(url);
  cleanup(t, () => raw.close());
  const rows = await raw.all(`SELECT title, rate_seq FROM notifications WHERE agent_id = ${placeholder(raw, 1)} AND rate_seq IS NOT NULL ORDER BY rate_seq`, 'hot');
  assert.deepEqual(rows.map((row) => [row.title, Number(row.rate_seq)]), [['n0', 1], ['n1', 2], ['n2', 3]]);
  const counter = await raw.all(`SELECT last_seq FROM rate_counters WHERE agent_id = ${placeholder(raw, 1)}`, 'hot');
  assert.deepEqual(counter.map((row) => Number(row.last_seq)), [3]);
});

test('an endpoint\'s own hourly limit stays exact when creates of its agent share a group', async (t) => {
  const { url, open } = await freshStore(t);
  const store = await open();
  await hooked(store, 'limited');
  await store.writeForAgent(agent('limited'), (r) => r.preferences.updateEndpoint('default', 'limited', 'ep_limited', { overrides: { maxPerHour: 2 } }, { now: new Date(), reenable: false }));
  const service = new NotificationService(store, () => new Date());
  const writes = countWrites(store);
  const created = await Promise.all(Array.from({ length: 5 }, (_, i) => service.create('default', request('limited', `n${i}`))));
  assert.deepEqual(writes, { committed: 1, failed: [] });
  assert.deepEqual(
    created.map((c) => c.notification.endpointResults[0]?.outcome),
    ['DELIVER', 'DELIVER', 'SUPPRESS', 'SUPPRESS', 'SUPPRESS'],
    created.map((c) => c.notification.endpointResults[0]?.explanation).join(' | '),
  );
  const raw = await openRaw(url);
  cleanup(t, () => raw.close());
  const seqs = await raw.all(`SELECT rate_seq FROM deliveries WHERE endpoint_id = ${placeholder(raw, 1)} ORDER BY rate_seq`, 'ep_limited');
  assert.deepEqual(seqs.map((row) => Number(row.rate_seq)), [1, 2]);
});

test('an idempotency key repeated within one group answers the first create, without a failed transaction', async (t) => {
  const { url, open } = await freshStore(t);
  const store = await open();
  await hooked(store, 'retrying');
  const service = new NotificationService(store, () => new Date());
  const writes = countWrites(store);
  const created = await Promise.all(Array.from({ length: 3 }, () => service.create('default', { ...request('retrying', 'once'), idempotencyKey: 'order-42' })));
  // Without the held row answering the key, the group's insert would hit the unique index, fail, and run each create again alone.
  assert.deepEqual(writes, { committed: 1, failed: [] });
  assert.deepEqual(created.map((c) => c.replayed), [false, true, true]);
  assert.equal(new Set(created.map((c) => c.notification.id)).size, 1);
  const raw = await openRaw(url);
  cleanup(t, () => raw.close());
  const [n] = await raw.all(`SELECT COUNT(*) AS n FROM notifications WHERE agent_id = ${placeholder(raw, 1)}`, 'retrying');
  assert.equal(Number(n?.n), 1);
  const [d] = await raw.all(`SELECT COUNT(*) AS n FROM deliveries WHERE agent_id = ${placeholder(raw, 1)}`, 'retrying');
  assert.equal(Number(d?.n), 1);
});

test('a write of an agent that follows its creates in one group meets their rows in the tables: a cancel takes every delivery they enqueued', async (t) => {
  const { url, open } = await freshStore(t);
  const store = await open();
  await hooked(store, 'cancelled');
  const service = new NotificationService(store, () => new Date());
  const writes = countWrites(store);
  const creates = Array.from({ length: 3 }, (_, i) => service.create('default', request('cancelled', `n${i}`)));
  const cancel = store.writeForAgent(agent('cancelled'), (r) => r.deliveries.cancelPending('default', 'cancelled', 'turned off by the test', new Date()));
  const [created, cancelledDeliveries] = await Promise.all([Promise.all(creates), cancel]);
  assert.deepEqual(writes, { committed: 1, failed: [] });
  assert.deepEqual(cancelledDeliveries.map((d) => d.id).sort(), created.map((c) => c.notification.deliveryId).sort());
  const raw = await openRaw(url);
  cleanup(t, () => raw.close());
  const statuses = await raw.all(`SELECT status, COUNT(*) AS n FROM deliveries WHERE agent_id = ${placeholder(raw, 1)} GROUP BY status`, 'cancelled');
  assert.deepEqual(statuses.map((row) => [row.status, Number(row.n)]), [['CANCELLED', 3]]);
});

test('a write of an agent that follows another of its writes in one group reads what that one changed, not what the group read ahead (a rotated secret)', async (t) => {
  const { open } = await freshStore(t);
  const store = await open();
  // An agent whose first endpoint has no URL yet, and so no secret.
  await store.writeForAgent(agent('rotating'), (r) =>
    r.preferences.save('default', 'rotating', { ...DEFAULT_PREFERENCES }, { now: new Date(), exists: false, newSecret: null, firstEndpointId: 'ep_rotating' }),
  );
  assert.equal((await store.read((r) => r.preferences.get('default', 'rotating')))?.webhookSecretSet, false);
  const writes = countWrites(store);
  const [, seen] = await Promise.all([
    store.writeForAgent(agent('rotating'), (r) => r.preferences.rotateSecret('default', 'rotating', 'whsec_rotated', null, new Date())),
    // What UpdatePreferences reads to decide whether to make a new secret: it must see the rotation's.
    store.writeForAgent(agent('rotating'), async (r) => (await r.preferences.get('default', 'rotating'))?.webhookSecretSet),
  ]);
  assert.deepEqual(writes, { committed: 1, failed: [] });
  assert.equal(seen, true);
});
