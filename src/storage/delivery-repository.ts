import { Prisma, type Delivery as Row, type DeliveryAttempt as AttemptRow } from '../generated/prisma/sqlite/client.js';
import type { AttemptTrigger, Delivery, DeliveryAttempt, DeliveryStatus, EventType } from '../domain/types.js';
import { olderThan, type TimeCursor } from './page-token.js';
import type { DeliveryColumns, PendingInserts } from './pending-inserts.js';
import type { Dialect, PrismaTx } from './repositories.js';

/** A delivery row without its body: what the worker's settles return (the body is already in the worker's hands). */
export type RowWithoutBody = Omit<Row, 'body'>;

export function toDomain(row: RowWithoutBody): Delivery {
  return {
    id: row.id,
    tenantId: row.tenantId,
    agentId: row.agentId,
    notificationId: row.notificationId,
    eventType: row.eventType as EventType,
    status: row.status as DeliveryStatus,
    attemptCount: row.attemptCount,
    nextAttemptAt: row.nextAttemptAt,
    lastStatusCode: row.lastStatusCode,
    lastError: row.lastError,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    completedAt: row.completedAt,
  };
}

function attemptToDomain(row: AttemptRow): DeliveryAttempt {
  return {
    number: row.number,
    startedAt: row.startedAt,
    durationMs: row.durationMs,
    statusCode: row.statusCode,
    errorClass: row.errorClass,
    errorMessage: row.errorMessage,
    responseExcerpt: row.responseExcerpt,
    trigger: row.trigger as AttemptTrigger,
    url: row.url,
  };
}

/** The PostgreSQL LISTEN/NOTIFY channel announcing new deliveries. */
export const ENQUEUED_CHANNEL = 'herald_delivery_enqueued';

/** A delivery taken by a worker: the body to send and the attempt number this claim counted. */
export interface ClaimedDelivery extends Delivery {
  readonly body: string;
  /** Attempts made before the current schedule began (a replay starts a new one): the retry budget counts from here. */
  readonly attemptBase: number;
  /** Until when this claim holds the delivery, on the claiming process's clock (see delivery-queue.ts). */
  readonly leaseExpiresAt: Date;
}

export interface NewDelivery {
  readonly id: string;
  readonly tenantId: string;
  readonly agentId: string;
  readonly notificationId: string | null;
  readonly eventType: EventType;
  readonly body: string;
  readonly nextAttemptAt: Date;
  readonly now: Date;
}

export interface DeliveryFilters {
  readonly tenantId: string;
  readonly agentId: string | null;
  readonly status: DeliveryStatus | null;
}

export interface AttemptRecord extends DeliveryAttempt {
  readonly id: string;
  readonly deliveryId: string;
}

export interface DeliveryStats {
  readonly byStatus: Readonly<Record<DeliveryStatus, number>>;
  readonly attempts: number;
  readonly p50LatencyMs: number;
  readonly p95LatencyMs: number;
}

export class DeliveryRepository {
  /** `pending`: in a group commit, where `enqueue` holds its row for the group's multi-row insert. */
  constructor(
    private readonly tx: PrismaTx,
    private readonly dialect: Dialect,
    private readonly pending: PendingInserts | null = null,
  ) {}

  private insert(d: NewDelivery, claim: { owner: string; leaseUntil: Date } | null) {
    return this.tx.delivery.create({
      data: {
        id: d.id,
        tenantId: d.tenantId,
        agentId: d.agentId,
        notificationId: d.notificationId,
        eventType: d.eventType,
        body: d.body,
        nextAttemptAt: d.nextAttemptAt,
        createdAt: d.now,
        updatedAt: d.now,
        ...(claim === null
          ? { status: 'PENDING' }
          : { status: 'DELIVERING', attemptCount: 1, leaseOwner: claim.owner, leaseExpiresAt: claim.leaseUntil }),
      },
    });
  }

  async enqueue(d: NewDelivery): Promise<Delivery> {
    if (this.pending !== null) {
      const row: DeliveryColumns = { id: d.id, tenantId: d.tenantId, agentId: d.agentId, notificationId: d.notificationId, eventType: d.eventType, body: d.body, status: 'PENDING', nextAttemptAt: d.nextAttemptAt, createdAt: d.now, updatedAt: d.now };
      this.pending.deliveries.push(row);
      return { ...row, eventType: d.eventType, status: 'PENDING', attemptCount: 0, lastStatusCode: null, lastError: null, completedAt: null };
    }
    const row = await this.insert(d, null);
    // Other replicas' workers wake on this at commit (never before: NOTIFY
    // is transactional), so their latency does not depend on the poll.
    if (this.dialect === 'postgresql') await this.tx.$executeRaw`SELECT pg_notify(${ENQUEUED_CHANNEL}, '')`;
    return toDomain(row);
  }

  /** Inserts a delivery already claimed by `owner` (a test webhook sent at once), its first attempt counted. */
  async enqueueClaimed(d: NewDelivery, owner: string, leaseMs: number): Promise<ClaimedDelivery> {
    const leaseExpiresAt = new Date(d.now.getTime() + leaseMs);
    const row = await this.insert(d, { owner, leaseUntil: leaseExpiresAt });
    return { ...toDomain(row), body: row.body, attemptBase: row.attemptBase, leaseExpiresAt };
  }

  /** The delivery, if it belongs to `tenantId`. */
  async get(tenantId: string, id: string): Promise<Delivery | null> {
    const row = await this.tx.delivery.findUnique({ where: { id, tenantId } });
    return row === null ? null : toDomain(row);
  }

  async attempts(deliveryId: string): Promise<DeliveryAttempt[]> {
    const rows = await this.tx.deliveryAttempt.findMany({ where: { deliveryId }, orderBy: { number: 'asc' } });
    return rows.map(attemptToDomain);
  }

  /** Newest first; `after` is the (created_at, id) of the last row of the previous page. */
  async list(filters: DeliveryFilters, limit: number, after: TimeCursor | null): Promise<Delivery[]> {
    const where: Prisma.DeliveryWhereInput = { tenantId: filters.tenantId };
    if (filters.agentId !== null) where.agentId = filters.agentId;
    if (filters.status !== null) where.status = filters.status;
    const rows = await this.tx.delivery.findMany({
      where: after === null ? where : { AND: [where, olderThan(after)] },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: limit,
    });
    return rows.map(toDomain);
  }

  async recordAttempt(a: AttemptRecord): Promise<void> {
    await this.tx.deliveryAttempt.create({
      data: {
        id: a.id,
        deliveryId: a.deliveryId,
        number: a.number,
        startedAt: a.startedAt,
        durationMs: a.durationMs,
        statusCode: a.statusCode,
        errorClass: a.errorClass,
        errorMessage: a.errorMessage,
        responseExcerpt: a.responseExcerpt,
        trigger: a.trigger,
        url: a.url,
      },
    });
  }

  /**
   * {@link recordAttempt} for many attempts, in one multi-row insert. Raw SQL:
   * Prisma's `createMany` costs several times the statement's own work per
   * row (every value crosses its query compiler), and the worker's batched
   * settle writes dozens of rows at a time.
   */
  async recordAttempts(attempts: readonly AttemptRecord[]): Promise<void> {
    if (attempts.length === 0) return;
    const at = (d: Date) => (this.dialect === 'postgresql' ? Prisma.sql`${d}::timestamp(3)` : Prisma.sql`${d}`);
    const rows = attempts.map(
      (a) =>
        Prisma.sql`(${a.id}, ${a.deliveryId}, ${a.number}, ${at(a.startedAt)}, ${a.durationMs}, ${a.statusCode}, ${a.errorClass}, ${a.errorMessage}, ${a.responseExcerpt}, ${a.trigger}, ${a.url})`,
    );
    await this.tx.$executeRaw`
      INSERT INTO delivery_attempts (id, delivery_id, number, started_at, duration_ms, status_code, error_class, error_message, response_excerpt, "trigger", url)
      VALUES ${Prisma.join(rows)}`;
  }

  /** Cancels an agent's deliveries that are waiting (not the ones in flight) and returns them. */
  async cancelPending(tenantId: string, agentId: string, reason: string, now: Date): Promise<Delivery[]> {
    const rows = await this.tx.delivery.updateManyAndReturn({
      where: { tenantId, agentId, status: 'PENDING' },
      data: { status: 'CANCELLED', lastError: reason, completedAt: now, updatedAt: now },
    });
    return rows.map(toDomain);
  }

  async stats(tenantId: string, agentId: string | null, since: Date): Promise<DeliveryStats> {
    const where: Prisma.DeliveryWhereInput = { tenantId, createdAt: { gte: since }, ...(agentId === null ? {} : { agentId }) };
    const groups = await this.tx.delivery.groupBy({ by: ['status'], where, _count: { _all: true } });
    const byStatus: Record<DeliveryStatus, number> = { PENDING: 0, DELIVERING: 0, SUCCEEDED: 0, FAILED: 0, CANCELLED: 0 };
    for (const g of groups) byStatus[g.status as DeliveryStatus] = g._count._all;
    const attemptWhere: Prisma.DeliveryAttemptWhereInput = { delivery: where };
    const attempts = await this.tx.deliveryAttempt.count({ where: attemptWhere });
    // Percentiles by rank: two indexed look-ups instead of loading every duration.
    const percentile = async (p: number): Promise<number> => {
      if (attempts === 0) return 0;
      const rank = Math.min(attempts - 1, Math.max(0, Math.ceil(p * attempts) - 1));
      const row = await this.tx.deliveryAttempt.findFirst({ where: attemptWhere, orderBy: { durationMs: 'asc' }, skip: rank, select: { durationMs: true } });
      return row?.durationMs ?? 0;
    };
    return { byStatus, attempts, p50LatencyMs: await percentile(0.5), p95LatencyMs: await percentile(0.95) };
  }
}
