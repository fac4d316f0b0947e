/**
 * The storage error taxonomy (src/storage/errors.ts) against errors a real
 * database throws, through the real Store: each class is produced the way
 * it happens in production (a full file, a held write lock, a statement
 * waiting on a lock, a server that goes silent or drops the connection, a
 * role out of connections, a deadlock, a read-only server) and must be
 * classified and answered as docs/guarantees.md says: UNAVAILABLE with a
 * "retry" message, RESOURCE_EXHAUSTED for a full disk, never INTERNAL.
 *
 * The server-side faults that need a cluster of their own (killed,
 * restarting, paused, out of disk) are in test/faults/.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test, type TestContext } from 'node:test';
import { status } from '@grpc/grpc-js';
import Database from 'better-sqlite3';
import pg from 'pg';
import { parseDatabaseUrl, type DatabaseConfig, type DatabaseTimeouts } from '../../src/config.js';
import type { Notification } from '../../src/domain/types.js';
import { ChangeFeed } from '../../src/events/change-feed.js';
import { toStatus } from '../../src/grpc/status.js';
import { createLogger } from '../../src/logger.js';
import { Store } from '../../src/storage/database.js';
import { waitForDatabase, DatabaseUnreachableError } from '../../src/storage/database-probe.js';
import { storageFault, type StorageFaultKind } from '../../src/storage/errors.js';
import { applyMigrations } from '../../src/storage/migrations.js';
import { CLIENT_BOUND_MARGIN_MS, DEFAULT_DATABASE_TIMEOUTS } from '../../src/storage/postgres-pool.js';
import type { Repositories, WriteRepositories } from '../../src/storage/repositories.js';
import { cleanup, freshDatabaseUrl, TEST_DATABASE } from '../helpers/herald.js';
import { storedNotification } from '../helpers/notifications.js';
import { closedPort, startSilentPort, startTcpProxy } from '../helpers/tcp-proxy.js';

const log = createLogger('silent');
const sqliteOnly = { skip: TEST_DATABASE !== 'sqlite' ? 'SQLite only (this file runs on PostgreSQL in test/postgres/)' : false } as const;
const postgresOnly = { skip: TEST_DATABASE !== 'postgresql' ? 'PostgreSQL only (test/postgres/storage-errors.test.ts)' : false } as const;

/** A migrated database of the suite's kind, and its config. */
async function freshDatabase(t: TestContext): Promise<{ dir: string; url: string; config: DatabaseConfig }> {
  const dir = mkdtempSync(join(tmpdir(), 'herald-faults-'));
  cleanup(t, () => rmSync(dir, { recursive: true, force: true }));
  const url = await freshDatabaseUrl(t, dir);
  const config = parseDatabaseUrl(url, dir);
  await applyMigrations(config, log);
  return { dir, url, config };
}

async function open(t: TestContext, config: DatabaseConfig, options: { timeouts?: Partial<DatabaseTimeouts>; poolSize?: number; sqliteMaxBytes?: number } = {}): Promise<Store> {
  const store = await Store.open(config, { feed: new ChangeFeed(), timeouts: { ...DEFAULT_DATABASE_TIMEOUTS, ...options.timeouts }, poolSize: options.poolSize ?? 4, sqliteMaxBytes: options.sqliteMaxBytes ?? null });
  cleanup(t, () => store.close());
  return store;
}

/** `config` with the PostgreSQL URL's host and port replaced, or parameters added. */
function postgresVariant(config: DatabaseConfig, change: (url: URL) => void): DatabaseConfig {
  const url = new URL(config.url);
  change(url);
  return { provider: 'postgresql', url: url.href };
}

/** The error `work` rejects with (fails the test if it resolves), and how long it took. */
async function failure(work: Promise<unknown>): Promise<{ err: unknown; ms: number }> {
  const startedAt = performance.now();
  try {
    await work;
  } catch (err) {
    return { err, ms: performance.now() - startedAt };
  }
  throw new Error('expected a storage error, but the work succeeded');
}

/** Asserts the classification of `err` and the status a caller gets for it. */
function assertFault(err: unknown, kind: StorageFaultKind): void {
  const fault = storageFault(err);
  assert.equal(fault?.kind, kind, `classified as ${fault?.kind ?? 'nothing'}: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
  const answer = toStatus(err, log, 'Test');
  if (kind === 'disk-full') {
    assert.equal(answer.code, status.RESOURCE_EXHAUSTED);
    assert.match(answer.details, /the database disk is full/);
  } else {
    assert.equal(answer.code, status.UNAVAILABLE);
    assert.match(answer.details, /retry/);
  }
  assert.doesNotMatch(answer.details, /prisma|invocation|SQLITE_|\b[0-9A-Z]{5}\b.*Message/i, 'no internal detail reaches the caller');
}

function notification(id: string, agentId: string, content = ''): Notification {
  return storedNotification(id, agentId, { content });
}

/** One create's writes, as the create path makes them (group commit, the agent's lock held). */
function insertOne(store: Store, id: string, content = ''): Promise<unknown> {
  return store.writeForAgent({ tenantId: 'default', agentId: `agent-${id}` }, async (r) => {
    await r.notifications.insert(notification(id, `agent-${id}`, content));
  });
}

/** A write that waits for `agent`'s lock (held elsewhere) and does nothing else. */
function lockOnly(store: Store, agent: string): Promise<unknown> {
  return store.writeForAgent({ tenantId: 'default', agentId: agent }, async () => undefined);
}

/**
 * Takes `agent`'s lock in the middle of a write, where a test wants a lock
 * wait (a deadlock, a server that stops answering mid-transaction). The
 * store hands every write the whole Repositories; the narrower view only
 * keeps services from taking locks by hand.
 */
function lockInside(r: WriteRepositories, agent: string): Promise<void> {
  return (r as Repositories).lockAgents([`default:${agent}`]);
}

test('SQLite at its size cap: writes fail disk-full (RESOURCE_EXHAUSTED), reads go on', sqliteOnly, async (t) => {
  const { config } = await freshDatabase(t);
  const cap = statSync((config as { filePath: string }).filePath).size + 256 * 1024;
  const store = await open(t, config, { sqliteMaxBytes: cap });
  let err: unknown = null;
  for (let i = 0; i < 1_000 && err === null; i++) {
    await insertOne(store, `n${i}`, 'x'.repeat(4_000)).catch((e: unknown) => (err = e));
  }
  assert.notEqual(err, null, 'the cap was never reached');
  assertFault(err, 'disk-full');
  assert.equal((await store.read((r) => r.notifications.get('default', 'n0')))?.id, 'n0', 'reads still work');
});

test('SQLite write lock held by another process past the busy bound: busy (UNAVAILABLE), after about the bound', sqliteOnly, async (t) => {
  const { config } = await freshDatabase(t);
  const store = await open(t, config, { timeouts: { statementTimeoutMs: 300 } });
  const other = new Database((config as { filePath: string }).filePath);
  other.exec('BEGIN IMMEDIATE');
  t.after(() => {
    if (other.inTransaction) other.exec('ROLLBACK');
    other.close();
  });
  const { err, ms } = await failure(insertOne(store, 'busy'));
  assertFault(err, 'busy');
  assert.ok(ms >= 250 && ms < 2_000, `gave up after ${Math.round(ms)} ms (bound 300 ms, each try waiting up to 300 ms)`);
  other.exec('ROLLBACK');
  await insertOne(store, 'after');
});

test('a transaction that outlives its timeout: timeout (UNAVAILABLE)', async (t) => {
  const { config } = await freshDatabase(t);
  const store = await open(t, config, { timeouts: { transactionTimeoutMs: 200 } });
  const { err } = await failure(
    store.write(async (r) => {
      await sleep(400);
      await r.notifications.get('default', 'slow');
    }),
  );
  assertFault(err, 'timeout');
});

/** Holds the advisory lock `writeForAgent({ tenantId: 'default', agentId: agent })` takes, on a connection of its own, until released. */
async function holdAgentLock(t: TestContext, url: string, agent: string): Promise<{ release(): Promise<void>; client: pg.Client }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query('BEGIN');
  await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`default:${agent}`]);
  let released = false;
  const release = async (): Promise<void> => {
    if (released) return;
    released = true;
    await client.query('ROLLBACK').catch(() => undefined);
    await client.end().catch(() => undefined);
  };
  cleanup(t, release);
  return { release, client };
}

test('PostgreSQL statement_timeout while a statement waits on a lock: timeout (UNAVAILABLE)', postgresOnly, async (t) => {
  const { url, config } = await freshDatabase(t);
  const store = await open(t, config, { timeouts: { statementTimeoutMs: 300 } });
  const held = await holdAgentLock(t, url, 'locked');
  const { err, ms } = await failure(lockOnly(store, 'locked'));
  assertFault(err, 'timeout');
  assert.equal((err as { meta?: { driverAdapterError?: { cause?: { originalCode?: string } } } }).meta?.driverAdapterError?.cause?.originalCode, '57014');
  assert.ok(ms < 300 + CLIENT_BOUND_MARGIN_MS, `the server's timeout answered first (${Math.round(ms)} ms)`);
  await held.release();
});

test('PostgreSQL lock_timeout: timeout (UNAVAILABLE)', postgresOnly, async (t) => {
  const { url, config } = await freshDatabase(t);
  const store = await open(t, postgresVariant(config, (u) => u.searchParams.set('options', '-c lock_timeout=100')), { timeouts: { statementTimeoutMs: 5_000 } });
  const held = await holdAgentLock(t, url, 'locked');
  const { err } = await failure(lockOnly(store, 'locked'));
  assertFault(err, 'timeout');
  await held.release();
});

test('PostgreSQL pool exhausted past the acquire timeout: timeout (UNAVAILABLE), for transactions and for reads', postgresOnly, async (t) => {
  const { url, config } = await freshDatabase(t);
  const store = await open(t, config, { poolSize: 1, timeouts: { acquireTimeoutMs: 200, statementTimeoutMs: 5_000, transactionTimeoutMs: 5_000 } });
  const held = await holdAgentLock(t, url, 'locked');
  // The pool's one connection waits on the lock.
  const waiting = lockOnly(store, 'locked').catch(() => undefined);
  await sleep(100);
  const tx = await failure(lockOnly(store, 'free'));
  assertFault(tx.err, 'timeout');
  assert.ok(tx.ms < 1_500, `a transaction gave up waiting after ${Math.round(tx.ms)} ms (acquire bound 200 ms)`);
  const read = await failure(store.read((r) => r.notifications.get('default', 'none')));
  assertFault(read.err, 'timeout');
  await held.release();
  await waiting;
});

test('PostgreSQL role out of connections: too-many-connections (UNAVAILABLE)', postgresOnly, async (t) => {
  const { config } = await freshDatabase(t);
  const admin = new pg.Client({ connectionString: process.env.HERALD_TEST_DATABASE_URL });
  await admin.connect();
  const role = `herald_limited_${process.pid}_${Date.now()}`;
  await admin.query(`CREATE ROLE ${role} LOGIN CONNECTION LIMIT 0`);
  cleanup(t, async () => {
    await admin.query(`DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
    await admin.end();
  });
  const { err } = await failure(Store.open(postgresVariant(config, (u) => (u.username = role)), { feed: new ChangeFeed(), poolSize: 2, timeouts: DEFAULT_DATABASE_TIMEOUTS }));
  assertFault(err, 'too-many-connections');
});

test('PostgreSQL deadlock between two writes: conflict (UNAVAILABLE), the other write commits', postgresOnly, async (t) => {
  const { config } = await freshDatabase(t);
  const store = await open(t, config, { timeouts: { statementTimeoutMs: 10_000, transactionTimeoutMs: 10_000 } });
  let arrived = 0;
  const bothHoldOne = new Promise<void>((resolve) => {
    const check = setInterval(() => {
      if (arrived === 2) {
        clearInterval(check);
        resolve();
      }
    }, 5);
  });
  const crossing = (first: string, second: string): Promise<unknown> =>
    store.write(async (r) => {
      await lockInside(r, first);
      arrived += 1;
      await bothHoldOne;
      await lockInside(r, second);
    });
  const results = await Promise.allSettled([crossing('a', 'b'), crossing('b', 'a')]);
  const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  assert.equal(rejected.length, 1, `exactly one write is chosen as the deadlock's victim: ${JSON.stringify(results.map((r) => r.status))}`);
  assertFault(rejected[0]!.reason, 'conflict');
});

test('PostgreSQL in read-only mode (a standby, a failover): read-only (UNAVAILABLE)', postgresOnly, async (t) => {
  const { config } = await freshDatabase(t);
  const store = await open(t, postgresVariant(config, (u) => u.searchParams.set('options', '-c default_transaction_read_only=on')));
  const { err } = await failure(insertOne(store, 'ro'));
  assertFault(err, 'read-only');
});

test('PostgreSQL connection refused: unreachable (UNAVAILABLE)', postgresOnly, async (t) => {
  const { config } = await freshDatabase(t);
  const port = await closedPort();
  const { err } = await failure(Store.open(postgresVariant(config, (u) => (u.host = `127.0.0.1:${port}`)), { feed: new ChangeFeed(), poolSize: 2, timeouts: DEFAULT_DATABASE_TIMEOUTS }));
  assertFault(err, 'unreachable');
});

test('PostgreSQL port that accepts TCP and never answers: start-up gives up within its bound, naming the host and not the password', postgresOnly, async (t) => {
  const port = await startSilentPort(t);
  const config: DatabaseConfig = { provider: 'postgresql', url: `postgresql://herald:s3cret-pw@127.0.0.1:${port}/herald` };
  const { err, ms } = await failure(waitForDatabase(config, { connectTimeoutMs: 300, startupTimeoutMs: 1_000 }));
  assert.ok(err instanceof DatabaseUnreachableError, String(err));
  assert.match(err.message, new RegExp(`the database at 127\\.0\\.0\\.1:${port}/herald did not answer within 1000 ms \\(HERALD_DB_STARTUP_TIMEOUT_MS`));
  assert.doesNotMatch(err.message, /s3cret-pw/);
  assert.ok(ms >= 500 && ms <= 1_500, `gave up after ${Math.round(ms)} ms (bound 1000 ms, no attempt started that could not end in time)`);
  // pg's connect timeout and the probe's own bound run out together: either names a fault that passes by itself.
  assert.ok(['unreachable', 'timeout'].includes(storageFault(err.cause)?.kind ?? ''), `the last attempt's error: ${String(err.cause)}`);
});

test('PostgreSQL backend terminated by an administrator mid-statement (57P01): connection-lost (UNAVAILABLE)', postgresOnly, async (t) => {
  const { url, config } = await freshDatabase(t);
  const store = await open(t, config, { timeouts: { statementTimeoutMs: 10_000 } });
  const held = await holdAgentLock(t, url, 'locked');
  const waiting = failure(lockOnly(store, 'locked'));
  const database = new URL(url).pathname.slice(1);
  for (let i = 0; i < 100; i++) {
    const { rowCount } = await held.client.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()`, [database]);
    if ((rowCount ?? 0) > 0) break;
    await sleep(20);
  }
  const { err } = await waiting;
  assertFault(err, 'connection-lost');
  await held.release();
  await insertOne(store, 'after', '');
});

test('PostgreSQL connection reset mid-transaction: connection-lost (UNAVAILABLE), and the pool recovers', postgresOnly, async (t) => {
  const { url, config } = await freshDatabase(t);
  const target = new URL(url);
  const proxy = await startTcpProxy(t, { host: target.hostname, port: Number(target.port || 5432) });
  const store = await open(t, postgresVariant(config, (u) => (u.host = `127.0.0.1:${proxy.port}`)), { timeouts: { statementTimeoutMs: 10_000 } });
  const held = await holdAgentLock(t, url, 'locked');
  const waiting = failure(lockOnly(store, 'locked'));
  await sleep(200);
  proxy.dropAll();
  const { err } = await waiting;
  assertFault(err, 'connection-lost');
  await held.release();
  await insertOne(store, 'after', '');
});

test('PostgreSQL that stops answering mid-transaction: the client-side bound gives timeout (UNAVAILABLE) once, not once per queued statement', postgresOnly, async (t) => {
  const { url, config } = await freshDatabase(t);
  const target = new URL(url);
  const proxy = await startTcpProxy(t, { host: target.hostname, port: Number(target.port || 5432) });
  const statementTimeoutMs = 300;
  const store = await open(t, postgresVariant(config, (u) => (u.host = `127.0.0.1:${proxy.port}`)), { timeouts: { statementTimeoutMs, transactionTimeoutMs: 10_000 } });
  const { err, ms } = await failure(
    store.write(async (r) => {
      await lockInside(r, 'first');
      proxy.pause();
      await lockInside(r, 'second');
    }),
  );
  proxy.resume();
  assertFault(err, 'timeout');
  // Without closing the connection, Prisma's ROLLBACK would queue behind the lost statement for another full bound.
  const bound = statementTimeoutMs + CLIENT_BOUND_MARGIN_MS;
  assert.ok(ms >= bound - 50 && ms < 2 * bound, `the write failed after ${Math.round(ms)} ms (one bound is ${bound} ms)`);
  await insertOne(store, 'after', '');
});
