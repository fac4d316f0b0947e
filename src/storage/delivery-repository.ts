/** The deliveries table apart from the queue's statements: inserts, reads, cancellations, stats. */
import type { Delivery, DeliveryAttempt, DeliveryStatus } from '../domain/types.js';
import type { ClaimedDelivery } from './delivery-queue.js';
import { olderThan, type TimeCursor } from './page-token.js';
import type { PendingInserts } from './pending-inserts.js';
import { toAttempt } from './rows/delivery-attempts.js';
import { DELIVERIES, newDeliveryRow, toDelivery, type NewDelivery } from './rows/deliveries.js';
import type { Prisma, PrismaTx } from './sql.js';
import type { TxFacts } from './tx-facts.js';

export type { NewDelivery } from './rows/deliveries.js';

export interface DeliveryFilters {
  readonly tenantId: string;
  readonly agentId: string | null;
  /** One endpoint's deliveries only, or every endpoint's (null). */
  readonly endpointId: string | null;
  readonly status: DeliveryStatus | null;
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
    private readonly facts: TxFacts,
    private readonly pending: PendingInserts | null = null,
  ) {}

  /** Adds a PENDING delivery; workers here and in other replicas hear of it at commit. */
  async enqueue(d: NewDelivery): Promise<Delivery> {
    const row = newDeliveryRow(d);
    if (this.pending !== null) this.pending.addDelivery(row);
    else await this.tx.$executeRaw(DELIVERIES.insert([row]));
    const delivery = toDelivery(row);
    this.facts.enqueued(delivery);
    return delivery;
  }

  /** Inserts a delivery already claimed by `owner` (a test webhook sent at once), its first attempt counted. */
  async enqueueClaimed(d: NewDelivery, owner: string, leaseMs: number): Promise<ClaimedDelivery> {
    const leaseExpiresAt = new Date(d.now.getTime() + leaseMs);
    const row = newDeliveryRow(d, { owner, leaseUntil: leaseExpiresAt });
    await this.tx.$executeRaw(DELIVERIES.insert([row]));
    return { ...toDelivery(row), body: row.body, attemptBase: row.attemptBase, leaseExpiresAt, traceParent: row.traceParent };
  }

  /** The delivery, if it belongs to `tenantId`. */
  async get(tenantId: string, id: string): Promise<Delivery | null> {
    const row = await this.tx.delivery.findUnique({ where: { id, tenantId }, omit: { body: true } });
    return row === null ? null : toDelivery(row);
  }

  async attempts(deliveryId: string): Promise<DeliveryAttempt[]> {
    const rows = await this.tx.deliveryAttempt.findMany({ where: { deliveryId }, orderBy: { number: 'asc' } });
    return rows.map(toAttempt);
  }

  /** Newest first; `after` is the (created_at, id) of the last row of the previous page. */
  async list(filters: DeliveryFilters, limit: number, after: TimeCursor | null): Promise<Delivery[]> {
    const where: Prisma.DeliveryWhereInput = { tenantId: filters.tenantId };
    if (filters.agentId !== null) where.agentId = filters.agentId;
    if (filters.endpointId !== null) where.endpointId = filters.endpointId;
    if (filters.status !== null) where.status = filters.status;
    const rows = await this.tx.delivery.findMany({
      where: after === null ? where : { AND: [where, olderThan(after)] },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      omit: { body: true },
      take: limit,
    });
    return rows.map(toDelivery);
  }

  /** Cancels an agent's deliveries that are waiting (not the ones in flight) and returns them. */
  /** Cancels the agent's PENDING deliveries, or only those to `endpointId` when given. */
  async cancelPending(tenantId: string, agentId: string, reason: string, now: Date, endpointId?: string): Promise<Delivery[]> {
    const rows = await this.tx.delivery.updateManyAndReturn({
      where: { tenantId, agentId, status: 'PENDING', ...(endpointId === undefined ? {} : { endpointId }) },
      data: { status: 'CANCELLED', lastError: reason, completedAt: now, updatedAt: now },
      omit: { body: true },
    });
    const cancelled = rows.map(toDelivery);
    for (const delivery of cancelled) this.facts.deliveryChanged(delivery, null, now);
    return cancelled;
  }

  async stats(tenantId: string, agentId: string | null, since: Date, endpointId: string | null = null): Promise<DeliveryStats> {
    const where: Prisma.DeliveryWhereInput = { tenantId, createdAt: { gte: since }, ...(agentId === null ? {} : { agentId }), ...(endpointId === null ? {} : { endpointId }) };
    const groups = await this.tx.delivery.groupBy({ by: ['status'], where, _count: { _all: true } });
    const byStatus: Record<DeliveryStatus, number> = { PENDING: 0, DELIVERING: 0, SUCCEEDED: 0, FAILED: 0, CANCELLED: 0 };
    for (const g of groups) byStatus[g.status as DeliveryStatus] = g._count._all;
    const attemptWhere: Prisma.DeliveryAttemptWhereInput = { delivery: where };
    const attempts = await this.tx.deliveryAttempt.count({ where: attemptWhere });
    return { byStatus, attempts, ...(await attemptLatencies(this.tx, attemptWhere, attempts)) };
  }
}

/**
 * The p50 and p95 durations of the `count` attempts `where` selects, by
 * nearest rank: two indexed look-ups instead of loading every duration.
 * 0 without attempts. Delivery stats and endpoint stats share it.
 */
export async function attemptLatencies(
  tx: PrismaTx,
  where: Prisma.DeliveryAttemptWhereInput,
  count: number,
): Promise<{ p50LatencyMs: number; p95LatencyMs: number }> {
  const percentile = async (p: number): Promise<number> => {
    if (count === 0) return 0;
    const rank = Math.min(count - 1, Math.max(0, Math.ceil(p * count) - 1));
    const row = await tx.deliveryAttempt.findFirst({ where, orderBy: { durationMs: 'asc' }, skip: rank, select: { durationMs: true } });
    return row?.durationMs ?? 0;
  };
  return { p50LatencyMs: await percentile(0.5), p95LatencyMs: await percentile(0.95) };
}
