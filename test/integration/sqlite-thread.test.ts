/**
 * SQLite's connection on its own thread (src/storage/sqlite-thread.ts):
 * errors cross the thread in the shape storage classifies, through the real
 * Store and the real gRPC service; transactions keep their isolation under
 * the Store's mutex; a thread that dies answers a storage fault and is
 * replaced; closing the store closes the connection and ends the thread.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Worker } from 'node:worker_threads';
import { status } from '@grpc/grpc-js';
import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3';
import { DriverAdapterError, type SqlDriverAdapter } from '@prisma/driver-adapter-utils';
import Database from 'better-sqlite3';
import { loadConfig, parseDatabaseUrl, type DatabaseConfig } from '../../src/config.js';
import type { Notification } from '../../src/domain/types.js';
import { ChangeFeed } from '../../src/events/change-feed.js';
import { toStatus } from '../../src/grpc/status.js';
import { createLogger } from '../../src/logger.js';
import { Store } from '../../src/storage/database.js';
import { isUniqueViolation, storageFault } from '../../src/storage/errors.js';
import { applyMigrations } from '../../src/storage/migrations.js';
import { SqliteThread } from '../../src/storage/sqlite-thread.js';
import { cleanup, codeOf, startHerald, TEST_DATABASE } from '../helpers/herald.js';
import { storedNotification } from '../helpers/notifications.js';

const log = createLogger('silent');
const sqliteOnly = { skip: TEST_DATABASE !== 'sqlite' ? 'SQLite only: the thread holds the SQLite connection' : false } as const;
const run = promisify(execFile);

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'herald-sqlite-thread-'));
  cleanup(t, () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function migrated(t: TestContext): Promise<DatabaseConfig & { filePath: string }> {
  const dir = tempDir(t);
  const config = parseDatabaseUrl(`file:${join(dir, 'herald.db')}`, dir) as DatabaseConfig & { filePath: string };
  await applyMigrations(config, log);
  return config;
}

async function openStore(t: TestContext, config: DatabaseConfig): Promise<Store> {
  const store = await Store.open(config, { feed: new ChangeFeed(), poolSize: 1, sqliteThread: true });
  cleanup(t, () => store.close());
  return store;
}

function notification(id: string, agentId: string): Notification {
  return storedNotification(id, agentId);
}

function insert(store: Store, id: string, agentId = `agent-${id}`): Promise<unknown> {
  return store.writeForAgent({ tenantId: 'default', agentId }, (r) => r.notifications.insert(notification(id, agentId)));
}

const statement = (sql: string) => ({ sql, args: [], argTypes: [] });

/** What `work` rejects with (fails the test if it resolves). */
async function rejection(work: Promise<unknown>): Promise<unknown> {
  try {
    await work;
  } catch (err) {
    return err;
  }
  assert.fail('expected an error, but the work succeeded');
}

/** Runs a duplicate-key INSERT on `db`, returning its error. */
async function duplicateKey(db: SqlDriverAdapter): Promise<unknown> {
  await db.executeScript('CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE)');
  await db.executeRaw(statement(`INSERT INTO t (id, name) VALUES (1, 'a')`));
  return rejection(db.executeRaw(statement(`INSERT INTO t (id, name) VALUES (2, 'a')`)));
}

test('a driver error crosses the thread as the DriverAdapterError the in-thread adapter throws, with the same cause', sqliteOnly, async (t) => {
  const dir = tempDir(t);
  const onThread = await new SqliteThread({ filePath: join(dir, 'thread.db'), synchronous: 'FULL', busyTimeoutMs: 100, maxBytes: null }).connect();
  cleanup(t, () => onThread.dispose());
  const inThread = await new PrismaBetterSqlite3({ url: `file:${join(dir, 'local.db')}` }, { timestampFormat: 'iso8601' }).connect();
  cleanup(t, () => inThread.dispose());
  const crossed = await duplicateKey(onThread);
  const local = await duplicateKey(inThread);
  assert.ok(crossed instanceof DriverAdapterError, `a DriverAdapterError (got ${String(crossed)})`);
  assert.equal(crossed.name, 'DriverAdapterError');
  assert.equal(crossed.message, (local as Error).message);
  assert.deepEqual(crossed.cause, (local as DriverAdapterError).cause);
  assert.equal(crossed.cause.kind, 'UniqueConstraintViolation');
});

test('a unique violation through the Store is still recognised and answers ALREADY_EXISTS', sqliteOnly, async (t) => {
  const store = await openStore(t, await migrated(t));
  await insert(store, 'n1', 'a1');
  const err = await rejection(insert(store, 'n1', 'a1'));
  assert.ok(isUniqueViolation(err), `a unique violation (got ${String(err)})`);
  assert.equal(toStatus(err, log, 'Test').code, status.ALREADY_EXISTS);
});

test('through the real service, a full SQLite file answers RESOURCE_EXHAUSTED and a write lock held elsewhere UNAVAILABLE', sqliteOnly, async (t) => {
  const h = await startHerald(t, { env: { HERALD_SQLITE_THREAD: 'true', HERALD_SQLITE_MAX_MB: '1', HERALD_DB_STATEMENT_TIMEOUT_MS: '300' } });
  const file = h.env.DATABASE_URL!.slice('file:'.length);
  // Busy: another connection holds the write lock past the busy bound.
  const other = new Database(file);
  cleanup(t, () => {
    if (other.inTransaction) other.exec('ROLLBACK');
    other.close();
  });
  other.exec('BEGIN IMMEDIATE');
  const busy = await codeOf(h.client.notifications.CreateNotification({ agent_id: 'busy', notification_type: 'job.completed', title: 'Held' }));
  assert.equal(busy.code, status.UNAVAILABLE, busy.details);
  assert.match(busy.details, /locked by another process/);
  other.exec('ROLLBACK');
  // Full: creates until the file reaches its 1 MiB cap.
  assert.ok(statSync(file).size < 1024 * 1024, 'room left below the cap');
  let full: { code: number; details: string } | null = null;
  for (let i = 0; i < 1_000 && full === null; i++) {
    await h.client.notifications.CreateNotification({ agent_id: `full-${i % 4}`, notification_type: 'job.completed', title: `n${i}`, content: 'x'.repeat(4_000) }).catch(async (err: unknown) => {
      full = await codeOf(Promise.reject(err));
    });
  }
  assert.notEqual(full, null, 'the cap was never reached');
  assert.equal(full!.code, status.RESOURCE_EXHAUSTED, full!.details);
  assert.match(full!.details, /the database disk is full/);
});

test('a transaction that throws leaves nothing behind', sqliteOnly, async (t) => {
  const store = await openStore(t, await migrated(t));
  await insert(store, 'n1');
  await assert.rejects(
    store.write(async (r) => {
      assert.equal((await r.notifications.markRead('default', 'n1', new Date()))?.read, true, 'changed inside the transaction');
      throw new Error('the work failed');
    }),
    /the work failed/,
  );
  assert.equal((await store.read((r) => r.notifications.get('default', 'n1')))?.read, false);
});

test("a read issued while a transaction is open never sees that transaction's rows", sqliteOnly, async (t) => {
  const store = await openStore(t, await migrated(t));
  await insert(store, 'n1');
  let read: Promise<Notification | null> | null = null;
  await assert.rejects(
    store.write(async (r) => {
      await r.notifications.markRead('default', 'n1', new Date());
      read = store.read((rr) => rr.notifications.get('default', 'n1'));
      // Statements of the open transaction, one round trip each: time
      // enough for a read that did not wait to reach the connection.
      for (let i = 0; i < 20; i++) await r.notifications.get('default', 'n1');
      throw new Error('rolled back');
    }),
    /rolled back/,
  );
  assert.equal((await read!)?.read, false, 'the read ran after the rollback, outside the transaction');
});

/** The next worker thread this process starts (`process`'s 'worker' event). */
function nextWorker(): Promise<Worker> {
  return new Promise((resolve) => process.once('worker', resolve));
}

test('a thread that dies answers a storage fault (UNAVAILABLE) to the calls waiting on it, then a new thread serves the next call', sqliteOnly, async (t) => {
  const dir = tempDir(t);
  const started = nextWorker();
  const adapter = await new SqliteThread({ filePath: join(dir, 'crash.db'), synchronous: 'FULL', busyTimeoutMs: 100, maxBytes: null }).connect();
  cleanup(t, () => adapter.dispose());
  const worker = await started;
  await adapter.executeScript('CREATE TABLE t (id INTEGER PRIMARY KEY)');
  const tx = await adapter.startTransaction();
  await tx.executeRaw(statement('INSERT INTO t (id) VALUES (1)'));
  // A statement that keeps the thread busy for a while, and one queued behind it.
  const slow = rejection(tx.queryRaw(statement('WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000) SELECT count(*) FROM c')));
  const queued = rejection(tx.queryRaw(statement('SELECT 1')));
  const replaced = nextWorker();
  // Ended from outside, without the thread's cooperation, as a crash ends it.
  await worker.terminate();
  for (const err of [await slow, await queued]) {
    assert.equal(storageFault(err)?.kind, 'connection-lost', `classified: ${String(err)}`);
    assert.equal(toStatus(err, log, 'Test').code, status.UNAVAILABLE);
  }
  // The open transaction died with its connection: its statements fail, its rollback is a no-op.
  assert.equal(storageFault(await rejection(tx.executeRaw(statement('INSERT INTO t (id) VALUES (2)'))))?.kind, 'connection-lost');
  await tx.rollback();
  const after = await adapter.queryRaw(statement('SELECT count(*) AS n FROM t'));
  assert.deepEqual(after.rows, [[0]], 'a new thread answers; the dead transaction left nothing');
  assert.notEqual(await replaced, worker);
});

/** The threads of this process (Linux). */
function threads(): number {
  return readdirSync('/proc/self/task').length;
}

test('the connection is on the main thread by default and on a thread of its own with sqliteThread (HERALD_SQLITE_THREAD)', sqliteOnly, async (t) => {
  const config = await migrated(t);
  const started: Worker[] = [];
  const seen = (w: Worker): void => void started.push(w);
  process.on('worker', seen);
  cleanup(t, () => process.off('worker', seen));
  const inMain = await Store.open(config, { feed: new ChangeFeed(), poolSize: 1 });
  await inMain.writeForAgent({ tenantId: 'default', agentId: 'agent' }, (r) => r.notifications.insert(notification('on-main', 'agent')));
  await inMain.close();
  assert.equal(started.length, 0, 'no thread by default');
  const onThread = await openStore(t, config);
  assert.equal((await onThread.read((r) => r.notifications.get('default', 'on-main')))?.id, 'on-main');
  assert.equal(started.length, 1, 'one thread with sqliteThread');
  assert.equal(loadConfig({ HERALD_SQLITE_THREAD: 'true' }).store.sqliteThread, true);
  assert.equal(loadConfig({}).store.sqliteThread, false);
});

test('closing the store closes the connection and ends its thread', { skip: TEST_DATABASE !== 'sqlite' ? sqliteOnly.skip : process.platform !== 'linux' ? 'counts threads in /proc' : false }, async (t) => {
  const config = await migrated(t);
  // Starts libuv's thread pool before counting.
  await readFile(config.filePath);
  const before = threads();
  const store = await Store.open(config, { feed: new ChangeFeed(), poolSize: 1, sqliteThread: true });
  await store.ping();
  assert.ok(threads() > before, 'the open store runs a thread');
  await store.close();
  assert.equal(threads(), before, 'no thread left after close');
  // No other connection holds the file: changing the journal mode needs it alone.
  const db = new Database(config.filePath);
  try {
    assert.equal(db.pragma('journal_mode = DELETE', { simple: true }), 'delete');
  } finally {
    db.close();
  }
});

test('a process that opens the store, writes and closes it exits by itself', sqliteOnly, async (t) => {
  const config = await migrated(t);
  const script = [
    `import { Store } from './src/storage/database.ts';`,
    `import { ChangeFeed } from './src/events/change-feed.ts';`,
    `const store = await Store.open({ provider: 'sqlite', url: 'file:${config.filePath}', filePath: ${JSON.stringify(config.filePath)} }, { feed: new ChangeFeed(), poolSize: 1, sqliteThread: true });`,
    `await store.write((r) => r.notifications.markRead('default', 'none', new Date()));`,
    `await store.close();`,
    `console.log('closed');`,
  ].join('\n');
  const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: fileURLToPath(new URL('../..', import.meta.url)), timeout: 30_000 });
  assert.equal(stdout.trim(), 'closed');
});
