/**
 * Database-wide figures of the delivery queue, for the metrics gauges. Kept
 * apart from DeliveryRepository: it reads only, and only counts.
 */
import type { DeliveryStatus } from '../domain/types.js';
import { heldByOrder } from './ordering-repository.js';
import { DELIVERIES } from './rows/deliveries.js';
import { at, Prisma, type Dialect, type PrismaTx } from './sql.js';

export interface QueueSnapshot {
  /** Deliveries in each status, over the whole database. */
  readonly byStatus: Readonly<Record<DeliveryStatus, number>>;
  /** Deliveries a worker could claim now: PENDING and due (and not held by their order), or DELIVERING with an expired lease. */
  readonly due: number;
  /** PENDING deliveries held back by their order: an earlier one of the same endpoint and ordering key is unfinished. */
  readonly heldByOrder: number;
  /** Since when the longest-waiting of those has been due, or null when none is. */
  readonly oldestDueAt: Date | null;
}

export class QueueStatsRepository {
  constructor(
    private readonly tx: PrismaTx,
    private readonly dialect: Dialect,
  ) {}

  /** Over the whole database, or over one tenant's deliveries (the console shows a tenant only its own). */
  async snapshot(now: Date, tenantId: string | null = null): Promise<QueueSnapshot> {
    const tenant = tenantId === null ? {} : { tenantId };
    const groups = await this.tx.delivery.groupBy({ by: ['status'], where: tenant, _count: { _all: true } });
    const byStatus: Record<DeliveryStatus, number> = { PENDING: 0, DELIVERING: 0, SUCCEEDED: 0, FAILED: 0, CANCELLED: 0 };
    for (const g of groups) byStatus[g.status as DeliveryStatus] = g._count._all;
    // The same two conditions as the worker's claim: both are served by the (status, next_attempt_at) index
    // or by the few DELIVERING rows.
    // A delivery held by its order is not due: a key waiting behind a retry's backoff is not a worker falling behind.
    const inTenant = tenantId === null ? Prisma.empty : Prisma.sql`AND d.tenant_id = ${tenantId}`;
    const [due] = await this.tx.$queryRaw<Array<Record<string, unknown>>>`
      SELECT count(*) AS n, min(d.next_attempt_at) AS next_attempt_at FROM deliveries d
       WHERE d.status = 'PENDING' AND d.next_attempt_at <= ${at(this.dialect, now)} ${inTenant} AND NOT ${heldByOrder('d')}`;
    const [held] = await this.tx.$queryRaw<Array<{ n: number | bigint }>>`
      SELECT count(*) AS n FROM deliveries d WHERE d.status = 'PENDING' ${inTenant} AND ${heldByOrder('d')}`;
    const pending = {
      _count: { _all: Number(due?.n ?? 0) },
      _min: { nextAttemptAt: due === undefined || due.next_attempt_at === null ? null : DELIVERIES.field(due, 'nextAttemptAt') },
    };
    const expired = await this.tx.delivery.aggregate({ where: { ...tenant, status: 'DELIVERING', leaseExpiresAt: { lt: now } }, _count: { _all: true }, _min: { leaseExpiresAt: true } });
    const candidates = [pending._min.nextAttemptAt, expired._min.leaseExpiresAt].filter((d): d is Date => d !== null);
    const oldestDueAt = candidates.length === 0 ? null : new Date(Math.min(...candidates.map((d) => d.getTime())));
    return { byStatus, due: pending._count._all + expired._count._all, heldByOrder: Number(held?.n ?? 0), oldestDueAt };
  }
}
