/**
 * Queries over one transaction. Each repository maps rows to domain types:
 * nothing above storage/ sees a Prisma row.
 */
import type { Prisma } from '../generated/prisma/sqlite/client.js';
import { AttemptSeriesRepository } from './attempt-series-repository.js';
import { DeliveryQueue } from './delivery-queue.js';
import { DeliveryRepository } from './delivery-repository.js';
import { DigestRepository } from './digest-repository.js';
import { NotificationRepository } from './notification-repository.js';
import { PendingInserts } from './pending-inserts.js';
import { PreferencesRepository } from './preferences-repository.js';
import { QueueStatsRepository } from './queue-stats-repository.js';
import { RateRepository } from './rate-repository.js';
import { RetentionRepository } from './retention-repository.js';
import { SecretBox } from './secret-box.js';

export type PrismaTx = Prisma.TransactionClient;

/**
 * The text an agent's advisory locks hash: tenant ids never contain ':'
 * (see src/auth/tenant.ts), so the first ':' ends the tenant and two
 * tenants' agents of the same id get different locks.
 */
export function agentLockKey(tenantId: string, agentId: string): string {
  return `${tenantId}:${agentId}`;
}
export type Dialect = 'sqlite' | 'postgresql';

/**
 * What a read may use: the repositories' look-ups, without the agent lock or
 * any statement that writes. `Store.read` runs outside a transaction (on
 * PostgreSQL on any pooled connection, on SQLite under the store's mutex),
 * where an advisory lock would be released at once and a write would not be
 * atomic with anything; the type makes asking for either a compile error.
 */
export interface ReadRepositories {
  readonly dialect: Dialect;
  readonly preferences: Pick<PreferencesRepository, 'get' | 'list' | 'signingSecrets' | 'deliveryTarget' | 'deliveryTargets' | 'storedSecrets' | 'resealed'>;
  readonly notifications: Pick<NotificationRepository, 'get' | 'findByIdempotencyKey' | 'list'>;
  readonly rate: Pick<RateRepository, 'window' | 'windowAt' | 'countedBetween'>;
  readonly digests: Pick<DigestRepository, 'openRateEnd'>;
  readonly deliveries: Pick<DeliveryRepository, 'get' | 'attempts' | 'list' | 'stats'>;
  readonly queueStats: QueueStatsRepository;
  readonly attemptSeries: AttemptSeriesRepository;
  readonly queue: Pick<DeliveryQueue, 'nextDueInMs'>;
  ping(): Promise<void>;
}

/**
 * What work in a group commit may use (`Store.writeGrouped`): its agent's
 * lock, a create's reads, and the two inserts the group holds for its
 * multi-row statements. No preferences write: the group reads its agents'
 * preferences once, under their locks, and `preferences.get` answers from that.
 */
export interface GroupRepositories {
  readonly dialect: Dialect;
  lockAgent(tenantId: string, agentId: string): Promise<void>;
  readonly preferences: Pick<PreferencesRepository, 'get'>;
  readonly notifications: Pick<NotificationRepository, 'get' | 'findByIdempotencyKey' | 'insert'>;
  readonly deliveries: Pick<DeliveryRepository, 'enqueue'>;
  readonly rate: Pick<RateRepository, 'window' | 'next'>;
  readonly digests: Pick<DigestRepository, 'findOpen' | 'openRateEnd' | 'create' | 'join' | 'close'>;
}

/** A group commit's state: the agent locks it holds and the inserts it holds back. */
export interface GroupContext {
  readonly heldAgentLocks: ReadonlySet<string>;
  readonly pending: PendingInserts;
}

export class Repositories implements ReadRepositories, GroupRepositories {
  readonly preferences: PreferencesRepository;
  readonly notifications: NotificationRepository;
  readonly deliveries: DeliveryRepository;
  readonly digests: DigestRepository;
  readonly rate: RateRepository;
  readonly queueStats: QueueStatsRepository;
  readonly attemptSeries: AttemptSeriesRepository;
  readonly retention: RetentionRepository;
  /** The queue's claim/extend/settle/release statements. */
  readonly queue: DeliveryQueue;

  /**
   * `secrets` encrypts and decrypts secrets at rest (default: none, plain
   * text). `group` is given in a group commit, which has taken its agents'
   * locks already (`lockAgent` then refuses any other agent, whose lock
   * taken out of order could deadlock) and holds inserts back.
   */
  constructor(
    private readonly tx: PrismaTx,
    readonly dialect: Dialect,
    secrets: SecretBox = new SecretBox(),
    private readonly group: GroupContext | null = null,
  ) {
    this.preferences = new PreferencesRepository(tx, secrets, dialect);
    this.notifications = new NotificationRepository(tx, group?.pending ?? null);
    this.deliveries = new DeliveryRepository(tx, dialect, group?.pending ?? null);
    this.digests = new DigestRepository(tx, dialect, group?.pending ?? null);
    this.rate = new RateRepository(tx, group?.pending ?? null);
    this.queueStats = new QueueStatsRepository(tx);
    this.attemptSeries = new AttemptSeriesRepository(tx, dialect);
    this.retention = new RetentionRepository(tx);
    this.queue = new DeliveryQueue(tx, dialect);
  }

  /**
   * Serialises transactions that decide for the same agent (hourly limit,
   * idempotency) until this transaction ends. SQLite needs nothing: its
   * transactions already run one at a time.
   */
  async lockAgent(tenantId: string, agentId: string): Promise<void> {
    const key = agentLockKey(tenantId, agentId);
    if (this.group !== null) {
      if (!this.group.heldAgentLocks.has(key)) throw new Error('lockAgent: this group commit did not declare the agent, whose lock it cannot take in order');
      return;
    }
    if (this.dialect === 'postgresql') {
      await this.tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${key}, 0))`;
    }
  }

  /**
   * Takes the locks of several agents (`agentLockKey`s) in one statement,
   * in the order of the locks' own ids: two transactions that both take
   * their agents this way (groups of this or another replica) cannot each
   * hold a lock the other waits for. Before any work of the transaction,
   * and never inside a savepoint, whose rollback would release them.
   */
  async lockAgentsInOrder(keys: readonly string[]): Promise<void> {
    if (this.dialect !== 'postgresql' || keys.length === 0) return;
    // The subquery sorts before the outer SELECT evaluates the lock calls row by row.
    await this.tx.$executeRaw`SELECT pg_advisory_xact_lock(h) FROM (SELECT DISTINCT hashtextextended(k, 0) AS h FROM unnest(${[...keys]}::text[]) AS k ORDER BY h) AS ordered`;
  }

  /** A group commit's rows held back by `notifications.insert` and `deliveries.enqueue`, written now. */
  async flushPending(): Promise<void> {
    await this.group?.pending.flush(this.tx, this.dialect);
  }

  async ping(): Promise<void> {
    await this.tx.$queryRaw`SELECT 1`;
  }
}
