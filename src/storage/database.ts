/**
 * Opens the database and hands out transaction-scoped repositories. This
 * directory is the only place that imports Prisma.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { DatabaseConfig } from '../config.js';
import type { PrismaClient } from '../generated/prisma/sqlite/client.js';
import type { Logger } from '../logger.js';
import { isSqliteBusy } from './errors.js';
import { GroupCommit, type GroupMember } from './group-commit.js';
import { PostgresListener } from './postgres-listener.js';
import { PendingInserts } from './pending-inserts.js';
import { PREFERENCES_CHANNEL } from './preferences-repository.js';
import { Repositories, type Dialect, type GroupRepositories, type PrismaTx, type ReadRepositories } from './repositories.js';
import { SecretBox } from './secret-box.js';
import { prepareSqliteFile } from './sqlite-file.js';

export interface StoreOptions {
  /** SQLite `synchronous`: FULL (default) survives power loss; NORMAL is faster and survives process crashes. */
  readonly sqliteSynchronous?: 'FULL' | 'NORMAL';
  /** PostgreSQL connections in this process's pool (default 10). */
  readonly poolSize?: number;
  /** Encrypts secrets at rest (default: none, they are stored in plain text). */
  readonly secrets?: SecretBox;
}

/** Splits Prisma's `?schema=` parameter off a PostgreSQL URL: the pg driver does not know it. */
export function postgresConnection(url: string): { connectionString: string; schema: string | undefined } {
  const parsed = new URL(url);
  const schema = parsed.searchParams.get('schema') ?? undefined;
  parsed.searchParams.delete('schema');
  return { connectionString: parsed.href, schema };
}

/** Runs async functions one at a time, in call order. */
class Mutex {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

/**
 * Runs a SQLite transaction again while it fails with SQLITE_BUSY, up to
 * about two seconds. The adapter begins transactions DEFERRED: one that has
 * read and then writes fails at once, without waiting for busy_timeout,
 * while another process (npm run secrets:reencrypt, a second Herald by
 * mistake) holds the write lock or has committed since the read. The failed
 * attempt was rolled back whole, so running it again is what the caller's
 * own retry would do.
 */
async function retryWhileBusy<T>(transaction: () => Promise<T>): Promise<T> {
  for (let waitedMs = 0, pauseMs = 5; ; pauseMs = Math.min(pauseMs * 2, 200)) {
    try {
      return await transaction();
    } catch (err) {
      if (!isSqliteBusy(err) || waitedMs >= BUSY_RETRY_MS) throw err;
      await sleep(pauseMs);
      waitedMs += pauseMs;
    }
  }
}
const BUSY_RETRY_MS = 2_000;

/** Creates per group-commit transaction at most (see Store.writeGrouped). */
const GROUP_MAX_MEMBERS = 64;
/** Group-commit transactions at once on PostgreSQL, each on its own pooled connection. */
const GROUP_MAX_CONCURRENT_POSTGRES = 2;

/**
 * The service's handle on the database.
 *
 * On SQLite every operation, reads included, takes the store's mutex: the
 * better-sqlite3 adapter has one connection and serialises only
 * *transactions*; a plain query would run inside whatever transaction is open
 * at that moment (seeing its uncommitted rows, or being rolled back with it).
 * With the mutex a read sees only committed data and a transaction is never
 * joined by a stranger. It costs no parallelism: the driver is synchronous.
 * On PostgreSQL the pool gives each transaction its own connection.
 */
export class Store {
  private listener: PostgresListener | null = null;
  private preferencesListener: PostgresListener | null = null;
  private readonly sqliteLock = new Mutex();
  private readonly groups: GroupCommit<GroupRepositories>;

  private constructor(
    private readonly prisma: PrismaClient,
    readonly dialect: Dialect,
    private readonly connectionString: string | null,
    private readonly secrets: SecretBox,
  ) {
    // SQLite has one writer: a second group would only wait for the mutex.
    this.groups = new GroupCommit((members) => this.runGroup(members), { maxMembers: GROUP_MAX_MEMBERS, maxGroups: dialect === 'sqlite' ? 1 : GROUP_MAX_CONCURRENT_POSTGRES });
  }

  static async open(config: DatabaseConfig, options: StoreOptions = {}): Promise<Store> {
    // Waiting for a connection (PostgreSQL) or the adapter's transaction
    // mutex (SQLite) counts toward maxWait: allow for bursts.
    const transactionOptions = { maxWait: 30_000, timeout: 30_000 };
    // 'minimal' stops Prisma from capturing a stack for every query (about 7 %
    // of CPU under load); errors keep their codes, and their messages reach
    // only the log (src/grpc/status.ts answers INTERNAL with a reference).
    const errorFormat = 'minimal';
    // Each dialect's adapter and client are imported only here, when chosen:
    // the other dialect's code would sit in memory unused.
    if (config.provider === 'postgresql') {
      const { connectionString, schema } = postgresConnection(config.url);
      const { PrismaPg } = await import('@prisma/adapter-pg');
      const adapter = new PrismaPg({ connectionString, max: options.poolSize }, schema === undefined ? undefined : { schema });
      const { PrismaClient: PostgresPrismaClient } = await import('../generated/prisma/postgresql/client.js');
      // The two generated clients differ only in their provider; their query
      // API is the same, so one type serves the repositories.
      const prisma = new PostgresPrismaClient({ adapter, transactionOptions, errorFormat }) as unknown as PrismaClient;
      try {
        await prisma.$queryRaw`SELECT 1`;
      } catch (err) {
        await prisma.$disconnect();
        throw err;
      }
      return new Store(prisma, 'postgresql', connectionString, options.secrets ?? new SecretBox());
    }
    prepareSqliteFile(config.filePath);
    const { PrismaBetterSqlite3 } = await import('@prisma/adapter-better-sqlite3');
    const adapter = new PrismaBetterSqlite3({ url: `file:${config.filePath}` }, { timestampFormat: 'iso8601' });
    const { PrismaClient: SqlitePrismaClient } = await import('../generated/prisma/sqlite/client.js');
    const prisma = new SqlitePrismaClient({ adapter, transactionOptions, errorFormat });
    // WAL lets readers in other processes (backups, the CLI) work alongside
    // the service; busy_timeout makes them wait instead of failing at once.
    await prisma.$queryRawUnsafe('PRAGMA journal_mode = WAL');
    await prisma.$executeRawUnsafe(`PRAGMA synchronous = ${options.sqliteSynchronous ?? 'FULL'}`);
    await prisma.$queryRawUnsafe('PRAGMA busy_timeout = 5000');
    await prisma.$executeRawUnsafe('PRAGMA foreign_keys = ON');
    return new Store(prisma, 'sqlite', null, options.secrets ?? new SecretBox());
  }

  /** Runs `fn` in one transaction: it commits when `fn` resolves and rolls back when it throws. */
  write<T>(fn: (repos: Repositories) => Promise<T>): Promise<T> {
    const transaction = (): Promise<T> => this.prisma.$transaction((tx: PrismaTx) => fn(new Repositories(tx, this.dialect, this.secrets)));
    return this.dialect === 'sqlite' ? this.sqliteLock.run(() => retryWhileBusy(transaction)) : transaction();
  }

  /**
   * Like `write`, for work that locks one agent (`tenantId`, `agentId`) and
   * nothing else: concurrent calls are committed together (group commit).
   * The answer is the one `write` would give: `fn`'s result once its
   * transaction has committed, or its own error. A group holds one member
   * per agent (a second call for an agent waits for the next group), and its
   * members run one after another in call order; the group
   * takes its agents' locks first, in one sorted pass (PostgreSQL advisory
   * locks: groups of different replicas cannot deadlock), and `fn`'s
   * `lockAgent` for its own agent then finds the lock held. Then it reads
   * their preferences and hourly-limit counters in one statement each (fresh: every acknowledged write of
   * them held the same lock), runs the members' work, and writes their
   * notifications and deliveries with one multi-row insert each (so the
   * work's reads do not see the group's inserts: only other agents' rows
   * are held back). When a member
   * fails, the group is rolled back and every member runs again alone in
   * its own transaction, so one failing call never fails the others. Like
   * `write`'s, `fn` may run more than once and must do nothing but the
   * transaction's work.
   */
  writeGrouped<T>(tenantId: string, agentId: string, fn: (repos: GroupRepositories) => Promise<T>): Promise<T> {
    return this.groups.submit({ tenantId, agentId }, fn);
  }

  private async runGroup(members: ReadonlyArray<GroupMember<GroupRepositories>>): Promise<void> {
    const keys = [...new Set(members.map((m) => m.lockKey))];
    let committing = false;
    const transaction = (): Promise<unknown[]> =>
      this.prisma.$transaction(async (tx: PrismaTx) => {
        committing = false;
        const repos = new Repositories(tx, this.dialect, this.secrets, { heldAgentLocks: new Set(keys), pending: new PendingInserts() });
        await repos.lockAgentsInOrder(keys);
        await repos.preferences.prefetch(members.map((m) => m.agent));
        await repos.rate.prefetch(members.map((m) => m.agent));
        const results: unknown[] = [];
        for (const m of members) results.push(await m.work(repos));
        await repos.flushPending();
        committing = true;
        return results;
      });
    let results: unknown[];
    try {
      results = await (this.dialect === 'sqlite' ? this.sqliteLock.run(() => retryWhileBusy(transaction)) : transaction());
    } catch (err) {
      // A failed COMMIT may have committed on PostgreSQL (the answer was
      // lost), and a database still busy after the retries would be busy for
      // each member too: those answer every member as `write` would answer
      // one. Otherwise a member's work failed and nothing was committed.
      if (members.length === 1 || committing || isSqliteBusy(err)) {
        for (const m of members) m.reject(err);
        return;
      }
      for (const m of members) {
        await this.write(m.work).then(m.resolve, m.reject);
      }
      return;
    }
    members.forEach((m, i) => m.resolve(results[i]));
  }

  /**
   * Runs read-only work: consistent on SQLite (see the class comment), on the
   * pool on PostgreSQL. Outside a transaction: the repositories it hands out
   * cannot lock an agent or write (use `write` for that).
   */
  read<T>(fn: (repos: ReadRepositories) => Promise<T>): Promise<T> {
    const repos: ReadRepositories = new Repositories(this.prisma, this.dialect, this.secrets);
    return this.dialect === 'sqlite' ? this.sqliteLock.run(() => fn(repos)) : fn(repos);
  }

  /** A cheap round trip, for health checks. */
  async ping(): Promise<void> {
    await this.read((r) => r.ping());
  }

  /**
   * Calls `listener` when any process enqueues a delivery (PostgreSQL
   * LISTEN/NOTIFY). On SQLite there is only this process, whose creates
   * announce themselves in-process, so nothing is done.
   */
  async listenForEnqueued(log: Logger, listener: () => void): Promise<void> {
    if (this.connectionString === null || this.listener !== null) return;
    this.listener = new PostgresListener(this.connectionString, log, listener);
    await this.listener.start();
  }

  /**
   * Calls `listener` with the (tenant, agent) of every webhook target any
   * process changes (PostgreSQL LISTEN/NOTIFY on PREFERENCES_CHANNEL), and
   * `missed` after a lost connection came back. Nothing on SQLite, where this
   * process is the only writer and announces its changes in-process.
   */
  async listenForPreferenceChanges(log: Logger, listener: (tenantId: string, agentId: string) => void, missed: () => void): Promise<void> {
    if (this.connectionString === null || this.preferencesListener !== null) return;
    const parse = (payload: string): void => {
      let key: unknown = null;
      try {
        key = JSON.parse(payload);
      } catch {
        // Not ours to read: drop everything rather than guess.
      }
      if (Array.isArray(key) && typeof key[0] === 'string' && typeof key[1] === 'string') listener(key[0], key[1]);
      else missed();
    };
    this.preferencesListener = new PostgresListener(this.connectionString, log, parse, PREFERENCES_CHANNEL, missed);
    await this.preferencesListener.start();
  }

  async close(): Promise<void> {
    await this.preferencesListener?.stop();
    await this.listener?.stop();
    await this.prisma.$disconnect();
  }
}
