/**
 * The deletes of the retention sweep, one small batch per call, so that each
 * transaction is short and creates and claims never wait long behind it.
 */
import { FINISHED_DELIVERY_STATUSES } from '../domain/types.js';
import type { PrismaTx } from './sql.js';

/** Where a notification scan stopped: the last row looked at, in (created_at, id) order. */
export interface NotificationCursor {
  readonly createdAt: Date;
  readonly id: string;
}

export class RetentionRepository {
  constructor(private readonly tx: PrismaTx) {}

  /**
   * Deletes up to `limit` finished deliveries last changed before `cutoff`,
   * attempts first (their foreign key), and returns how many deliveries went.
   * A delivery retried by hand after the cutoff is kept: `updated_at` moved.
   */
  async deleteFinishedDeliveries(cutoff: Date, limit: number): Promise<number> {
    // updated_at >= created_at, so the created_at bound lets the (created_at) index find the old rows.
    // Finished deliveries only: PENDING and DELIVERING ones are never deleted.
    const expired = { status: { in: [...FINISHED_DELIVERY_STATUSES] }, updatedAt: { lt: cutoff }, createdAt: { lt: cutoff } };
    const rows = await this.tx.delivery.findMany({ where: expired, select: { id: true }, take: limit });
    if (rows.length === 0) return 0;
    const ids = rows.map((r) => r.id);
    // The conditions are checked again: a delivery retried since the select is no longer finished.
    await this.tx.deliveryAttempt.deleteMany({ where: { deliveryId: { in: ids }, delivery: expired } });
    const { count } = await this.tx.delivery.deleteMany({ where: { id: { in: ids }, ...expired } });
    return count;
  }

  /**
   * Looks at up to `limit` notifications created before `cutoff`, after
   * `after` in (created_at, id) order, and deletes those whose delivery row
   * is gone (or that never had one). A notification whose delivery is still
   * kept (pending, deferred, or finished but recent) stays, so a delivery
   * never points at a deleted notification. Returns the number deleted and
   * where to go on from, or null once the scan reached the cutoff.
   */
  async deleteNotificationsBefore(cutoff: Date, limit: number, after: NotificationCursor | null): Promise<{ deleted: number; next: NotificationCursor | null }> {
    const rows = await this.tx.notification.findMany({
      where: {
        createdAt: { lt: cutoff },
        ...(after === null ? {} : { OR: [{ createdAt: { gt: after.createdAt } }, { createdAt: after.createdAt, id: { gt: after.id } }] }),
      },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
      select: { id: true, createdAt: true, deliveryId: true },
      take: limit,
    });
    if (rows.length === 0) return { deleted: 0, next: null };
    const deliveryIds = rows.map((r) => r.deliveryId).filter((id): id is string => id !== null);
    const kept = new Set((await this.tx.delivery.findMany({ where: { id: { in: deliveryIds } }, select: { id: true } })).map((d) => d.id));
    const doomed = rows.filter((r) => r.deliveryId === null || !kept.has(r.deliveryId)).map((r) => r.id);
    const { count } = doomed.length === 0 ? { count: 0 } : await this.tx.notification.deleteMany({ where: { id: { in: doomed } } });
    const last = rows[rows.length - 1]!;
    return { deleted: count, next: rows.length < limit ? null : { createdAt: last.createdAt, id: last.id } };
  }
}
