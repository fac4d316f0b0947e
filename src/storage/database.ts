/**
 * Opens the database and runs every operation on it: reads, transactions,
 * the per-agent group commit and the queue's operations. This directory is
 * the only place that imports Prisma.
 *
 * Every write goes through one path ({@link Store.transact}): the work runs
 * on a transaction's repositories, which record facts of what they changed;
 * the NOTIFY of those facts is the transaction's last statement (PostgreSQL
 * delivers it at COMMIT); after COMMIT the facts are published to the
 * change feed; a failure is retried by the one write policy
 * (write-policy.ts). So no write path can forget a signal or a retry.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { DatabaseConfig, DatabaseTimeouts } from '../config.js';
import { agentKey, distinctAgents, type AgentRef } from '../domain/agent-key.js';
import type { ChangeFeed } from '../events/change-feed.js';
import type { PrismaClient } from '../generated/prisma/sqlite/client.js';
import type { Logger } from '../logger.js';
import { Batcher, type BatchEntry, type BatchOutcome } from './batcher.js';
import type { ClaimedDelivery, ClaimOptions } from './delivery-queue.js';
import { storageFault } from './errors.js';
import { PendingInserts } from './pending-inserts.js';
import { PostgresListener } from './postgres-listener.js';
import { boundedPool, DEFAULT_DATABASE_TIMEOUTS } from './postgres-pool.js';
import { recordAll, type Recorded, type Recording } from './recorder.js';
import { Repositories, type AgentRepositories, type ReadRepositories, type WriteRepositories } from './repositories.js';
import { SecretBox } from './secret-box.js';
import type { Dialect, PrismaTx } from './sql.js';
import { prepareSqliteFile } from './sqlite-file.js';
import { ENQUEUED_CHANNEL, TARGET_CHANNEL, TxFacts } from './tx-facts.js';
import { retryPauseMs } from './write-policy.js';

export interface StoreOptions {
  /** Where committed changes are published (src/events/change-feed.ts). */
  readonly feed: ChangeFeed;
  /** SQLite `synchronous`: FULL (default) survives power loss; NORMAL is faster and survives process crashes. */
  readonly sqliteSynchronous?: 'FULL' | 'NORMAL';
  /** PostgreSQL connections in this process's pool. */
  readonly poolSize: number;
  /** Encrypts secrets at rest (default: none, they are stored in plain text). */
  readonly secrets?: SecretBox;
  /** Bounds on every wait for the database (default DEFAULT_DATABASE_TIMEOUTS). */
  readonly timeouts?: DatabaseTimeouts;
  /** SQLite: the most bytes the file may grow to (`PRAGMA max_page_count`); past it writes fail with SQLITE_FULL. Default: no cap. */
  readonly sqliteMaxBytes?: number | null;
  /** SQLite: the connection on a worker thread (sqlite-thread.ts) rather than the main thread. Default false. */
  readonly sqliteThread?: boolean;
}

/**
 * Told the final outcome of every write transaction (after the write
 * policy's retries): null when it committed, else its error. Health counts
 * storage faults in a row from it (src/health-monitor.ts).
 */
export type WriteObserver = (error: unknown) => void;

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

/** Writes per group-commit transaction at most (see Store.writeForAgent). */
const GROUP_MAX_MEMBERS = 64;
/**
 * Writes of one agent per group on PostgreSQL at most. A group holds the
 * agent's advisory lock until it commits, and another replica's group
 * waiting for that lock spends its own transaction timeout meanwhile
 * (HERALD_DB_TRANSACTION_TIMEOUT_MS): members that each make a round trip
 * (an ordering key's number, a digest) must not add up to it: 16 did,
 * with two replicas creating for one ordered agent on a loaded machine. On SQLite
 * there is no other writer to wait, and a statement is no round trip: a
 * group takes as many of one agent as it takes in all.
 */
const GROUP_MAX_PER_AGENT_POSTGRES = 8;
/** Group-commit transactions at once on PostgreSQL, each on its own pooled connection. */
const GROUP_MAX_CONCURRENT_POSTGRES = 2;
/**
 * Recordings per transaction at most. Large enough for a worker's whole
 * pipeline (HERALD_WORKER_CONCURRENCY is 16 by default), small enough that
 * one statement's IN list stays short.
 */
const RECORD_BATCH_MAX = 128;

/** A transaction's outcome: its value, or its error and whether its COMMIT may have happened. */
type Transacted<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: unknown; readonly committing: boolean };

/** Work that holds an agent's lock (Store.writeForAgent). */
interface AgentWork {
  readonly agent: AgentRef;
  readonly fn: (repos: AgentRepositories) => Promise<unknown>;
  readonly readsHeldRows: boolean;
}

/** How a {@link Store.writeForAgent} call meets the rows an earlier call for its agent holds back in the same group. */
export interface AgentWriteOptions {
  /**
   * True only for work whose every read of what another such call writes
   * answers the group's held rows itself (a create: its idempotency key and
   * hourly-limit numbers, see pending-inserts.ts). Any other work gets the
   * held rows written before it runs. Default false.
   */
  readonly readsHeldRows?: boolean;
}

/** The queue's operations, each its own transaction: what the worker and the dispatcher do to the deliveries they hold. */
export interface QueueOperations {
  /** Claims due deliveries (see DeliveryQueue.claimDue). */
  claim(owner: string, o: ClaimOptions): Promise<ClaimedDelivery[]>;
  /** How long until the next delivery an idle worker could claim is due, ms; null when none is. */
  nextDueInMs(now: Date, agentMaxInFlight: number): Promise<number | null>;
  /** Makes the lease last at least `minMs` more; false when it was lost. */
  extendLease(id: string, owner: string, minMs: number, now: Date): Promise<boolean>;
  /** Gives a claim back unsent (shutdown aborted its send); false when it was lost. */
  release(id: string, owner: string, now: Date): Promise<boolean>;
  /** Records a settlement, batched with the others finishing now (see recorder.ts). */
  record(recording: Recording): Promise<Recorded>;
}

/**
 * The service's handle on the database.
 *
 * On SQLite every operation, reads included, takes the store's mutex: the
 * better-sqlite3 adapter has one connection and serialises only
 * *transactions*; a plain query would run inside whatever transaction is open
 * at that moment (seeing its uncommitted rows, or being rolled back with it).
 * With the mutex a read sees only committed data and a transaction is never
 * joined by a stranger. It costs little parallelism: the one connection
 * (on its own thread, sqlite-thread.ts) runs one statement at a time anyway.
 * On PostgreSQL the pool gives each transaction its own connection.
 */
export class Store {
  private readonly listeners: PostgresListener[] = [];
  private readonly sqliteLock = new Mutex();
  private readonly groups: Batcher<AgentWork, unknown>;
  private readonly recordings: Batcher<Recording, Recorded>;
  private writeObserver: WriteObserver | null = null;
  readonly queue: QueueOperations;

  private constructor(
    private readonly prisma: PrismaClient,
    readonly dialect: Dialect,
    private readonly connectionString: string | null,
    private readonly secrets: SecretBox,
    private readonly feed: ChangeFeed,
    /** How long a transaction is run again while SQLite is busy, ms (HERALD_DB_STATEMENT_TIMEOUT_MS). */
    private readonly busyBoundMs: number,
  ) {
    this.groups = new Batcher((entries) => this.runGroup(entries), (entry) => this.runAlone(entry.work), {
      maxItems: GROUP_MAX_MEMBERS,
      // SQLite has one writer: a second group would only wait for the mutex.
      maxConcurrent: dialect === 'sqlite' ? 1 : GROUP_MAX_CONCURRENT_POSTGRES,
      maxPerKey: dialect === 'sqlite' ? GROUP_MAX_MEMBERS : GROUP_MAX_PER_AGENT_POSTGRES,
    });
    this.recordings = new Batcher(
      async (entries) => {
        const t = await this.transact((r) => recordAll(r, entries.map((e) => e.work)), { idempotent: true });
        return t.ok ? { ok: true, results: t.value } : { ok: false, error: t.error, split: true };
      },
      async (entry) => (await this.writeAll((r) => recordAll(r, [entry.work]), true))[0]!,
      { maxItems: RECORD_BATCH_MAX, maxConcurrent: 1 },
    );
    this.queue = {
      claim: (owner, o) => this.writeAll((r) => r.queue.claimDue(owner, o)),
      nextDueInMs: (now, cap) => {
        const r = new Repositories(this.prisma, this.dialect, this.secrets);
        return this.dialect === 'sqlite' ? this.sqliteLock.run(() => r.queue.nextDueInMs(now, cap)) : r.queue.nextDueInMs(now, cap);
      },
      extendLease: (id, owner, minMs, now) => this.writeAll((r) => r.queue.extendLease(id, owner, minMs, now)),
      release: (id, owner, now) => this.writeAll((r) => r.queue.release(id, owner, now)),
      record: (recording) => this.recordings.submit({ key: null, tenant: recording.delivery.tenantId, work: recording }),
    };
  }

  static async open(config: DatabaseConfig, options: StoreOptions): Promise<Store> {
    // Waiting for a connection (PostgreSQL) or the adapter's transaction
    // mutex (SQLite) counts toward maxWait; both are bounded well inside a
    // client's usual 5 s deadline, so a stalled database answers UNAVAILABLE
    // rather than letting the client's deadline run out (issue #19).
    const timeouts = options.timeouts ?? DEFAULT_DATABASE_TIMEOUTS;
    const transactionOptions = { maxWait: timeouts.acquireTimeoutMs, timeout: timeouts.transactionTimeoutMs };
    // 'minimal' stops Prisma from capturing a stack for every query (about 7 %
    // of CPU under load); errors keep their codes, and their messages reach
    // only the log (src/grpc/status.ts answers INTERNAL with a reference).
    const errorFormat = 'minimal';
    const secrets = options.secrets ?? new SecretBox();
    // Each dialect's adapter and client are imported only here, when chosen:
    // the other dialect's code would sit in memory unused.
    if (config.provider === 'postgresql') {
      const { connectionString, schema } = postgresConnection(config.url);
      const { PrismaPg } = await import('@prisma/adapter-pg');
      const adapter = new PrismaPg(boundedPool(connectionString, options.poolSize, timeouts), { disposeExternalPool: true, ...(schema === undefined ? {} : { schema }) });
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
      return new Store(prisma, 'postgresql', connectionString, secrets, options.feed, timeouts.statementTimeoutMs);
    }
    prepareSqliteFile(config.filePath);
    const settings = {
      filePath: config.filePath,
      synchronous: options.sqliteSynchronous ?? 'FULL',
      busyTimeoutMs: timeouts.statementTimeoutMs,
      maxBytes: options.sqliteMaxBytes ?? null,
    } as const;
    // On the main thread by default: measured faster on a fast disk, and
    // without a second V8 heap (docs/BENCHMARKS.md). On a thread of its own
    // (sqlite-thread.ts), statements, busy waits and fsyncs stop no gRPC
    // call; that thread also sets the connection up, again whenever one that
    // died is replaced.
    const adapter = options.sqliteThread === true ? new (await import('./sqlite-thread.js')).SqliteThread(settings) : new (await import('./sqlite-connection.js')).SqliteOnMainThread(settings);
    const { PrismaClient: SqlitePrismaClient } = await import('../generated/prisma/sqlite/client.js');
    const prisma = new SqlitePrismaClient({ adapter, transactionOptions, errorFormat });
    try {
      await prisma.$queryRaw`SELECT 1`;
    } catch (err) {
      await prisma.$disconnect();
      throw err;
    }
    return new Store(prisma, 'sqlite', null, secrets, options.feed, timeouts.statementTimeoutMs);
  }

  /**
   * Runs read-only work: consistent on SQLite (see the class comment), on the
   * pool on PostgreSQL. Outside a transaction: the repositories it hands out
   * cannot lock an agent or write.
   */
  read<T>(fn: (repos: ReadRepositories) => Promise<T>): Promise<T> {
    const repos = new Repositories(this.prisma, this.dialect, this.secrets);
    return this.dialect === 'sqlite' ? this.sqliteLock.run(() => fn(repos)) : fn(repos);
  }

  /**
   * Runs `fn` in one transaction that holds no agent's lock: it commits when
   * `fn` resolves and rolls back when it throws; what it changed is
   * published after the COMMIT. `fn` may run more than once (write-policy.ts)
   * and must do nothing but the transaction's work.
   */
  write<T>(fn: (repos: WriteRepositories) => Promise<T>): Promise<T> {
    return this.writeAll(fn, false);
  }

  /** {@link write} for storage's own operations: the whole repositories. */
  private async writeAll<T>(fn: (repos: Repositories) => Promise<T>, idempotent = false): Promise<T> {
    const t = await this.transact(fn, { idempotent });
    if (!t.ok) throw t.error;
    return t.value;
  }

  /**
   * Runs `fn` in a transaction that holds the lock of one agent (`agent`),
   * which every write that changes what is decided for the agent needs: its
   * creates, preferences, digests, hourly-limit sequence and replays. The
   * one serialiser per agent: calls for one agent run one after another in
   * call order, in this process (batcher.ts) and across replicas (the
   * PostgreSQL advisory lock, taken before any read). Calls for different
   * agents are committed together (group commit): one transaction takes the
   * group's locks in one sorted statement (groups of different replicas
   * cannot deadlock), reads their preferences and hourly-limit counters in
   * one statement each, runs each call's work in call order, and writes
   * their notifications and deliveries with one multi-row insert each. A
   * flood for one agent is grouped the same way: its calls share a group,
   * one after another, each seeing what the earlier ones wrote
   * ({@link AgentWriteOptions}).
   *
   * The answer is the one a transaction of its own would give: `fn`'s result
   * once committed, or its own error (a failed group runs every member again
   * alone, so one failing call never fails the others). Like `write`'s, `fn`
   * may run more than once.
   */
  writeForAgent<T>(agent: AgentRef, fn: (repos: AgentRepositories) => Promise<T>, options: AgentWriteOptions = {}): Promise<T> {
    const work: AgentWork = { agent, fn, readsHeldRows: options.readsHeldRows === true };
    return this.groups.submit({ key: agentKey(agent.tenantId, agent.agentId), tenant: agent.tenantId, work }) as Promise<T>;
  }

  private async runGroup(entries: ReadonlyArray<BatchEntry<AgentWork>>): Promise<BatchOutcome<unknown>> {
    const agents = distinctAgents(entries.map((e) => e.work.agent));
    const t = await this.transact(
      async (r) => {
        await r.lockAgents(agents.map((a) => agentKey(a.tenantId, a.agentId)));
        await r.preferences.prefetch(agents);
        await r.rate.prefetch(agents);
        const results: unknown[] = [];
        const pending = r.pending!;
        for (const { work } of entries) {
          const { tenantId, agentId } = work.agent;
          // Work that reads the tables meets an earlier member's rows there (pending-inserts.ts).
          if (!work.readsHeldRows && pending.holdsAgent(tenantId, agentId)) await pending.flush(r.tx);
          results.push(await work.fn(r));
          // Work other than a create may have changed what was read ahead of the agent (a secret rotated, an endpoint
          // turned off), and not every such write says so: a later member of the agent reads it again.
          if (!work.readsHeldRows) r.preferences.forget(tenantId, agentId);
        }
        await pending.flush(r.tx);
        return results;
      },
      { idempotent: false, grouped: true },
    );
    if (t.ok) return { ok: true, results: t.value };
    // A COMMIT that failed may have committed on PostgreSQL (its answer was
    // lost), and a storage fault (a database busy after the retries, not
    // answering, full) would fail each member too, one transaction timeout
    // after another: every member gets the error, as its own write would.
    return { ok: false, error: t.error, split: !t.committing && storageFault(t.error) === null };
  }

  private async runAlone(work: AgentWork): Promise<unknown> {
    const t = await this.transact(async (r) => {
      await r.lockAgents([agentKey(work.agent.tenantId, work.agent.agentId)]);
      return work.fn(r);
    }, { idempotent: false });
    if (!t.ok) throw t.error;
    return t.value;
  }

  /**
   * The one way a transaction runs: its work, then its NOTIFYs; after the
   * COMMIT, its facts are published. Retried as write-policy.ts says. Never
   * throws: the outcome says whether the COMMIT may have happened.
   */
  private async transact<T>(work: (r: Repositories) => Promise<T>, options: { readonly idempotent: boolean; readonly grouped?: boolean }): Promise<Transacted<T>> {
    let pausedMs = 0;
    for (let tries = 1; ; tries++) {
      const facts = new TxFacts();
      let committing = false;
      const run = (): Promise<T> =>
        this.prisma.$transaction(async (tx: PrismaTx) => {
          committing = false;
          const r = new Repositories(tx, this.dialect, this.secrets, facts, options.grouped === true ? new PendingInserts() : null);
          const value = await work(r);
          await TxFacts.notify(tx, this.dialect, [facts]);
          committing = true;
          return value;
        });
      try {
        const value = await (this.dialect === 'sqlite' ? this.sqliteLock.run(run) : run());
        this.feed.publish(facts.all);
        this.writeObserver?.(null);
        return { ok: true, value };
      } catch (error) {
        const pause = retryPauseMs(error, { tries, pausedMs }, { idempotent: options.idempotent, busyBoundMs: this.busyBoundMs });
        if (pause === null) {
          // Even a failed write may have committed before its answer was lost: drop what caches hold.
          if (committing) this.feed.publish(facts.unsure);
          this.writeObserver?.(error);
          return { ok: false, error, committing };
        }
        await sleep(pause);
        pausedMs += pause;
      }
    }
  }

  /** Sets the one {@link WriteObserver} (health); null removes it. */
  observeWrites(observer: WriteObserver | null): void {
    this.writeObserver = observer;
  }

  /** A cheap round trip, for health checks. */
  async ping(): Promise<void> {
    await this.read((r) => r.ping());
  }

  /**
   * Publishes to the change feed what other replicas commit (PostgreSQL
   * LISTEN/NOTIFY): deliveries they enqueue and webhook targets they change,
   * and, after a lost LISTEN connection came back, that changes may have
   * been missed. Nothing on SQLite: this process is the only writer.
   */
  async listen(log: Logger): Promise<void> {
    if (this.connectionString === null || this.listeners.length > 0) return;
    const feed = this.feed;
    const enqueued = new PostgresListener(this.connectionString, log, ENQUEUED_CHANNEL, () => feed.publish([{ kind: 'enqueued', dueAt: null }]));
    const targets = new PostgresListener(
      this.connectionString,
      log,
      TARGET_CHANNEL,
      (payload) => {
        let key: unknown = null;
        try {
          key = JSON.parse(payload);
        } catch {
          // Not ours to read: drop everything rather than guess.
        }
        if (Array.isArray(key) && typeof key[0] === 'string' && typeof key[1] === 'string') feed.publish([{ kind: 'targetChanged', tenantId: key[0], agentId: key[1] }]);
        else feed.publish([{ kind: 'targetsMissed' }]);
      },
      () => feed.publish([{ kind: 'targetsMissed' }]),
    );
    this.listeners.push(enqueued, targets);
    await Promise.all(this.listeners.map((l) => l.start()));
  }

  async close(): Promise<void> {
    await Promise.all(this.listeners.map((l) => l.stop()));
    await this.prisma.$disconnect();
  }
}
