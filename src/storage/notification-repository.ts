import type { Notification as Row, Prisma } from '../generated/prisma/sqlite/client.js';
import { priorityFromRank, PRIORITY_RANK } from '../domain/types.js';
import type { DecisionOutcome, DecisionReason, JsonObject, Notification } from '../domain/types.js';
import { olderThan, type TimeCursor } from './page-token.js';
import type { NotificationColumns, PendingInserts } from './pending-inserts.js';
import type { PrismaTx } from './repositories.js';

function toDomain(row: Row): Notification {
  return {
    id: row.id,
    tenantId: row.tenantId,
    agentId: row.agentId,
    notificationType: row.notificationType,
    title: row.title,
    content: row.content,
    priority: priorityFromRank(row.priority) ?? 'NORMAL',
    relatedEntityType: row.relatedEntityType,
    relatedEntityId: row.relatedEntityId,
    metadata: JSON.parse(row.metadata) as JsonObject,
    idempotencyKey: row.idempotencyKey,
    read: row.read,
    readAt: row.readAt,
    createdAt: row.createdAt,
    deliveryId: row.deliveryId,
    decision: {
      outcome: row.decisionOutcome as DecisionOutcome,
      reason: row.decisionReason as DecisionReason,
      deliverAt: row.deliverAt,
      explanation: row.decisionExplanation,
      decidedAt: row.createdAt,
    },
  };
}

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
    private readonly pending: PendingInserts | null = null,
  ) {}

  /** The notification, if it belongs to `tenantId`. */
  async get(tenantId: string, id: string): Promise<Notification | null> {
    const row = await this.tx.notification.findUnique({ where: { id, tenantId } });
    return row === null ? null : toDomain(row);
  }

  async findByIdempotencyKey(tenantId: string, agentId: string, idempotencyKey: string): Promise<Notification | null> {
    const row = await this.tx.notification.findUnique({ where: { tenantId_agentId_idempotencyKey: { tenantId, agentId, idempotencyKey } } });
    return row === null ? null : toDomain(row);
  }

  /** Stores `n`; `counted` is its place among the webhooks the hourly limit counts, null when it does not count. */
  async insert(n: Notification, counted: { readonly seq: number; readonly at: Date } | null = null): Promise<void> {
    const data: NotificationColumns = {
      id: n.id,
      tenantId: n.tenantId,
      agentId: n.agentId,
      notificationType: n.notificationType,
      title: n.title,
      content: n.content,
      priority: PRIORITY_RANK[n.priority],
      relatedEntityType: n.relatedEntityType,
      relatedEntityId: n.relatedEntityId,
      metadata: JSON.stringify(n.metadata),
      idempotencyKey: n.idempotencyKey,
      read: n.read,
      readAt: n.readAt,
      createdAt: n.createdAt,
      decisionOutcome: n.decision.outcome,
      decisionReason: n.decision.reason,
      decisionExplanation: n.decision.explanation,
      deliverAt: n.decision.deliverAt,
      deliveryId: n.deliveryId,
      rateSeq: counted?.seq ?? null,
      countedAt: counted?.at ?? null,
    };
    if (this.pending !== null) this.pending.notifications.push(data);
    else await this.tx.notification.create({ data });
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
    return rows.map(toDomain);
  }

  /** Sets read and read_at unless already read; returns the notification either way. */
  async markRead(tenantId: string, id: string, now: Date): Promise<Notification | null> {
    await this.tx.notification.updateMany({ where: { id, tenantId, read: false }, data: { read: true, readAt: now } });
    return this.get(tenantId, id);
  }
}
