/**
 * The inserts of a group commit, held until the group's work is done and
 * then written with one multi-row INSERT per table. Prisma's cost is per
 * statement and, for `createMany`, per row (it was about half of a grouped
 * create's CPU): a raw INSERT with bound values pays neither. Dates are
 * bound as Date values, so the driver adapters store them exactly as
 * Prisma's own writes do (ISO 8601 text on SQLite, TIMESTAMP on PostgreSQL).
 *
 * Reads in the group do not see these rows. That is safe because a group
 * holds at most one member per agent (see GroupCommit) and a create reads
 * only its own agent's rows, before its inserts.
 */
import { Prisma } from '../generated/prisma/sqlite/client.js';
import { ENQUEUED_CHANNEL } from './delivery-repository.js';
import type { Dialect, PrismaTx } from './repositories.js';

/** A notifications row, column by column (the names are the table's). */
export interface NotificationColumns {
  readonly id: string;
  readonly tenantId: string;
  readonly agentId: string;
  readonly notificationType: string;
  readonly title: string;
  readonly content: string;
  readonly priority: number;
  readonly relatedEntityType: string | null;
  readonly relatedEntityId: string | null;
  readonly metadata: string;
  readonly idempotencyKey: string | null;
  readonly read: boolean;
  readonly readAt: Date | null;
  readonly createdAt: Date;
  readonly decisionOutcome: string;
  readonly decisionReason: string;
  readonly decisionExplanation: string;
  readonly deliverAt: Date | null;
  readonly deliveryId: string | null;
}

/** A new PENDING deliveries row; the counters keep their column defaults. */
export interface DeliveryColumns {
  readonly id: string;
  readonly tenantId: string;
  readonly agentId: string;
  readonly notificationId: string | null;
  readonly eventType: string;
  readonly body: string;
  readonly status: string;
  readonly nextAttemptAt: Date;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export class PendingInserts {
  readonly notifications: NotificationColumns[] = [];
  readonly deliveries: DeliveryColumns[] = [];

  /** Writes the held rows; deliveries after notifications, as a create writes them. */
  async flush(tx: PrismaTx, dialect: Dialect): Promise<void> {
    if (this.notifications.length > 0) {
      const rows = this.notifications.map(
        (n) =>
          Prisma.sql`(${n.id}, ${n.tenantId}, ${n.agentId}, ${n.notificationType}, ${n.title}, ${n.content}, ${n.priority}, ${n.relatedEntityType}, ${n.relatedEntityId}, ${n.metadata}, ${n.idempotencyKey}, ${n.read}, ${n.readAt}, ${n.createdAt}, ${n.decisionOutcome}, ${n.decisionReason}, ${n.decisionExplanation}, ${n.deliverAt}, ${n.deliveryId})`,
      );
      await tx.$executeRaw`INSERT INTO "notifications" ("id", "tenant_id", "agent_id", "notification_type", "title", "content", "priority", "related_entity_type", "related_entity_id", "metadata", "idempotency_key", "read", "read_at", "created_at", "decision_outcome", "decision_reason", "decision_explanation", "deliver_at", "delivery_id") VALUES ${Prisma.join(rows)}`;
    }
    if (this.deliveries.length > 0) {
      const rows = this.deliveries.map(
        (d) => Prisma.sql`(${d.id}, ${d.tenantId}, ${d.agentId}, ${d.notificationId}, ${d.eventType}, ${d.body}, ${d.status}, ${d.nextAttemptAt}, ${d.createdAt}, ${d.updatedAt})`,
      );
      await tx.$executeRaw`INSERT INTO "deliveries" ("id", "tenant_id", "agent_id", "notification_id", "event_type", "body", "status", "next_attempt_at", "created_at", "updated_at") VALUES ${Prisma.join(rows)}`;
      // One wake-up for the group; NOTIFY is delivered at commit.
      if (dialect === 'postgresql') await tx.$executeRaw`SELECT pg_notify(${ENQUEUED_CHANNEL}, '')`;
    }
  }
}
