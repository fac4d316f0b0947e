/** The notifications table: inserts (held in a group commit), reads, marking read. */
import type { Notification } from '../domain/types.js';
import { olderThan, type TimeCursor } from './page-token.js';
import type { PendingInserts } from './pending-inserts.js';
import { NOTIFICATIONS, notificationRow, toNotification, type Counted } from './rows/notifications.js';
import type { Prisma, PrismaTx } from './sql.js';
import type { TxFacts } from './tx-facts.js';

export interface NotificationFilters {
  readonly tenantId: string;
  readonly agentId: string;
  readonly unreadOnly: boolean;
  readonly notificationType: string | null;
  readonly createdAfter: Date | null;
  readonly createdBefore: Date | null;
}

export class NotificationRepository {
  /** `pending`: in a group commit, where inserts are held and written together at its end. */
  constructor(
    private readonly tx: PrismaTx,
    private readonly facts: TxFacts,
    private readonly pending: PendingInserts | null = null,
  ) {}

  /** The notification, if it belongs to `tenantId`. */
  async get(tenantId: string, id: string): Promise<Notification | null> {
    const row = await this.tx.notification.findUnique({ where: { id, tenantId } });
    return row === null ? null : toNotification(row);
  }

  async findByIdempotencyKey(tenantId: string, agentId: string, idempotencyKey: string): Promise<Notification | null> {
    // An earlier create of the agent in the same group may hold it (pending-inserts.ts).
    const held = this.pending?.notificationByIdempotencyKey(tenantId, agentId, idempotencyKey);
    if (held !== undefined) return toNotification(held);
    const row = await this.tx.notification.findUnique({ where: { tenantId_agentId_idempotencyKey: { tenantId, agentId, idempotencyKey } } });
    return row === null ? null : toNotification(row);
  }

  /** Stores `n` with its fresh decision; `counted` is its place among the webhooks the hourly limit counts, null when it does not count. */
  async insert(n: Notification, counted: Counted | null = null): Promise<void> {
    const row = notificationRow(n, counted);
    if (this.pending !== null) this.pending.addNotification(row);
    else await this.tx.$executeRaw(NOTIFICATIONS.insert([row]));
    this.facts.decided(n);
  }

  /** Newest first; `after` is the (created_at, id) of the last row of the previous page. */
  async list(filters: NotificationFilters, limit: number, after: TimeCursor | null): Promise<Notification[]> {
    const where: Prisma.NotificationWhereInput = { tenantId: filters.tenantId, agentId: filters.agentId };
    if (filters.unreadOnly) where.read = false;
    if (filters.notificationType !== null) where.notificationType = filters.notificationType;
    const createdAt: Prisma.DateTimeFilter = {};
    if (filters.createdAfter !== null) createdAt.gte = filters.createdAfter;
    if (filters.createdBefore !== null) createdAt.lt = filters.createdBefore;
    where.createdAt = createdAt;
    const rows = await this.tx.notification.findMany({
      where: after === null ? where : { AND: [where, olderThan(after)] },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: limit,
    });
    return rows.map(toNotification);
  }

  /** Sets read and read_at unless already read; returns the notification either way. */
  async markRead(tenantId: string, id: string, now: Date): Promise<Notification | null> {
    await this.tx.notification.updateMany({ where: { id, tenantId, read: false }, data: { read: true, readAt: now } });
    return this.get(tenantId, id);
  }
}
