/**
 * The repositories of one transaction, and the three views the store hands
 * out of them. Each repository maps rows to domain types (through its
 * table's row map in rows/): nothing above storage/ sees a Prisma row.
 *
 * - {@link ReadRepositories} (`Store.read`): look-ups only, outside a transaction.
 * - {@link AgentRepositories} (`Store.writeForAgent`): everything that
 *   changes what is decided for an agent (its preferences, notifications,
 *   deliveries enqueued, hourly-limit sequence, digests, replays), with the
 *   agent's lock already held.
 * - {@link WriteRepositories} (`Store.write`): the writes that need no
 *   agent lock (claiming for a manual retry, a test webhook, marking read,
 *   retention, re-encryption).
 *
 * So a write that needs an agent's lock cannot be made without it: the
 * types leave no other way (test/unit/store-read.test.ts).
 */
import { AttemptSeriesRepository } from './attempt-series-repository.js';
import { DeliveryQueue } from './delivery-queue.js';
import { DeliveryRepository } from './delivery-repository.js';
import { DigestRepository } from './digest-repository.js';
import { EndpointRateRepository } from './endpoint-rate-repository.js';
import { EndpointStatsRepository } from './endpoint-stats-repository.js';
import { NotificationRepository } from './notification-repository.js';
import { OrderingRepository } from './ordering-repository.js';
import type { PendingInserts } from './pending-inserts.js';
import { PortalSessionRepository } from './portal-session-repository.js';
import { PreferencesRepository } from './preferences-repository.js';
import { QueueStatsRepository } from './queue-stats-repository.js';
import { RateRepository } from './rate-repository.js';
import { RetentionRepository } from './retention-repository.js';
import { SecretBox } from './secret-box.js';
import type { Dialect, PrismaTx } from './sql.js';
import { TxFacts } from './tx-facts.js';

export interface ReadRepositories {
  readonly dialect: Dialect;
  readonly preferences: Pick<PreferencesRepository, 'get' | 'decisionTargets' | 'list' | 'signingSecrets' | 'deliveryTarget' | 'deliveryTargets' | 'storedSecrets' | 'resealed' | 'endpointRecord' | 'listEndpoints' | 'endpointSecrets'>;
  readonly notifications: Pick<NotificationRepository, 'get' | 'findByIdempotencyKey' | 'list'>;
  readonly rate: Pick<RateRepository, 'window' | 'windowAt' | 'countedBetween'>;
  readonly endpointRate: Pick<EndpointRateRepository, 'window' | 'windowAt'>;
  readonly digests: Pick<DigestRepository, 'openRateEnd'>;
  readonly ordering: Pick<OrderingRepository, 'blockedBy' | 'unfinished'>;
  readonly deliveries: Pick<DeliveryRepository, 'get' | 'attempts' | 'list' | 'stats'>;
  readonly queueStats: QueueStatsRepository;
  readonly endpointStats: EndpointStatsRepository;
  readonly attemptSeries: AttemptSeriesRepository;
  readonly portalSessions: Pick<PortalSessionRepository, 'byCookie' | 'listLive'>;
  ping(): Promise<void>;
}

export interface AgentRepositories {
  readonly dialect: Dialect;
  readonly preferences: Pick<PreferencesRepository, 'get' | 'decisionTargets' | 'save' | 'delete' | 'hasSecret' | 'rotateSecret' | 'addEndpoint'
    | 'endpointRecord' | 'countEndpoints' | 'updateEndpoint' | 'deleteEndpoint' | 'rotateEndpointSecret'>;
  readonly notifications: Pick<NotificationRepository, 'get' | 'findByIdempotencyKey' | 'insert'>;
  readonly deliveries: Pick<DeliveryRepository, 'get' | 'enqueue' | 'cancelPending'>;
  readonly rate: Pick<RateRepository, 'window' | 'windowAt' | 'next' | 'releaseAfter'>;
  readonly endpointRate: EndpointRateRepository;
  readonly digests: Pick<DigestRepository, 'findOpen' | 'openRateEnd' | 'create' | 'join' | 'close'>;
  readonly ordering: Pick<OrderingRepository, 'next' | 'unfinished'>;
  readonly queue: Pick<DeliveryQueue, 'replay'>;
}

export interface WriteRepositories {
  readonly dialect: Dialect;
  readonly preferences: Pick<PreferencesRepository, 'get' | 'replaceSecrets'>;
  readonly notifications: Pick<NotificationRepository, 'get' | 'markRead'>;
  readonly deliveries: Pick<DeliveryRepository, 'get' | 'enqueueClaimed'>;
  readonly queue: Pick<DeliveryQueue, 'claimForRetry'>;
  readonly ordering: Pick<OrderingRepository, 'blockedBy'>;
  readonly retention: RetentionRepository;
  readonly portalSessions: PortalSessionRepository;
}

export class Repositories implements ReadRepositories, AgentRepositories, WriteRepositories {
  readonly preferences: PreferencesRepository;
  readonly notifications: NotificationRepository;
  readonly deliveries: DeliveryRepository;
  readonly digests: DigestRepository;
  readonly rate: RateRepository;
  readonly endpointRate: EndpointRateRepository;
  readonly ordering: OrderingRepository;
  readonly queueStats: QueueStatsRepository;
  readonly endpointStats: EndpointStatsRepository;
  readonly attemptSeries: AttemptSeriesRepository;
  readonly retention: RetentionRepository;
  readonly portalSessions: PortalSessionRepository;
  /** The queue's claim/extend/settle/release/replay statements. */
  readonly queue: DeliveryQueue;

  /**
   * `secrets` encrypts and decrypts secrets at rest (default: none, plain
   * text); `facts` collects what the transaction changed, for the change
   * feed; `pending` holds a group commit's inserts for its multi-row statements.
   */
  constructor(
    readonly tx: PrismaTx,
    readonly dialect: Dialect,
    secrets: SecretBox = new SecretBox(),
    readonly facts: TxFacts = new TxFacts(),
    readonly pending: PendingInserts | null = null,
  ) {
    this.preferences = new PreferencesRepository(tx, secrets, facts);
    this.notifications = new NotificationRepository(tx, facts, pending);
    this.deliveries = new DeliveryRepository(tx, facts, pending);
    this.digests = new DigestRepository(tx, pending);
    this.rate = new RateRepository(tx, pending);
    this.endpointRate = new EndpointRateRepository(tx, pending);
    this.ordering = new OrderingRepository(tx);
    this.queueStats = new QueueStatsRepository(tx, dialect);
    this.endpointStats = new EndpointStatsRepository(tx);
    this.attemptSeries = new AttemptSeriesRepository(tx, dialect);
    this.retention = new RetentionRepository(tx);
    this.portalSessions = new PortalSessionRepository(tx);
    this.queue = new DeliveryQueue(tx, dialect, facts);
  }

  /**
   * Takes the locks of several agents (agent keys) for the rest of the
   * transaction, in one statement and in the order of the locks' own ids:
   * two transactions that both take their agents this way (groups of this
   * or another replica, a batch of recordings) cannot each hold a lock the
   * other waits for. Before any work of the transaction, and never inside a
   * savepoint, whose rollback would release them. SQLite needs nothing: its
   * transactions already run one at a time.
   */
  async lockAgents(keys: readonly string[]): Promise<void> {
    if (this.dialect !== 'postgresql' || keys.length === 0) return;
    // The subquery sorts before the outer SELECT evaluates the lock calls row by row.
    await this.tx.$executeRaw`SELECT pg_advisory_xact_lock(h) FROM (SELECT DISTINCT hashtextextended(k, 0) AS h FROM unnest(${[...keys]}::text[]) AS k ORDER BY h) AS ordered`;
  }

  async ping(): Promise<void> {
    await this.tx.$queryRaw`SELECT 1`;
  }
}
