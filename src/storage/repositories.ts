/**
 * Queries over one transaction. Each repository maps rows to domain types:
 * nothing above storage/ sees a Prisma row.
 */
import type { Prisma } from '../generated/prisma/sqlite/client.js';
import { DeliveryQueue } from './delivery-queue.js';
import { DeliveryRepository } from './delivery-repository.js';
import { NotificationRepository } from './notification-repository.js';
import { PreferencesRepository } from './preferences-repository.js';
import { QueueStatsRepository } from './queue-stats-repository.js';
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
  readonly notifications: Pick<NotificationRepository, 'get' | 'findByIdempotencyKey' | 'countAccepted' | 'list'>;
  readonly deliveries: Pick<DeliveryRepository, 'get' | 'attempts' | 'list' | 'stats'>;
  readonly queueStats: QueueStatsRepository;
  readonly queue: Pick<DeliveryQueue, 'nextDueInMs'>;
  ping(): Promise<void>;
}

export class Repositories implements ReadRepositories {
  readonly preferences: PreferencesRepository;
  readonly notifications: NotificationRepository;
  readonly deliveries: DeliveryRepository;
  readonly queueStats: QueueStatsRepository;
  readonly retention: RetentionRepository;
  /** The queue's claim/extend/settle/release statements. */
  readonly queue: DeliveryQueue;

  /** `secrets` encrypts and decrypts secrets at rest (default: none, plain text). */
  constructor(private readonly tx: PrismaTx, readonly dialect: Dialect, secrets: SecretBox = new SecretBox()) {
    this.preferences = new PreferencesRepository(tx, secrets, dialect);
    this.notifications = new NotificationRepository(tx);
    this.deliveries = new DeliveryRepository(tx, dialect);
    this.queueStats = new QueueStatsRepository(tx);
    this.retention = new RetentionRepository(tx);
    this.queue = new DeliveryQueue(tx, dialect);
  }

  /**
   * Serialises transactions that decide for the same agent (hourly limit,
   * idempotency) until this transaction ends. SQLite needs nothing: its
   * transactions already run one at a time.
   */
  async lockAgent(tenantId: string, agentId: string): Promise<void> {
    if (this.dialect === 'postgresql') {
      await this.tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${agentLockKey(tenantId, agentId)}, 0))`;
    }
  }

  async ping(): Promise<void> {
    await this.tx.$queryRaw`SELECT 1`;
  }
}
