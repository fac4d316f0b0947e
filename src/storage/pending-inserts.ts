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
  readonly rateSeq: number | null;
  readonly countedAt: Date | null;
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

/**
 * Column names by field: the INSERTs are built from these, and `satisfies`
 * makes a field added to the row types without its column a compile error.
 */
const NOTIFICATION_COLUMNS = {
  id: 'id',
  tenantId: 'tenant_id',
  agentId: 'agent_id',
  notificationType: 'notification_type',
  title: 'title',
  content: 'content',
  priority: 'priority',
  relatedEntityType: 'related_entity_type',
  relatedEntityId: 'related_entity_id',
  metadata: 'metadata',
  idempotencyKey: 'idempotency_key',
  read: 'read',
  readAt: 'read_at',
  createdAt: 'created_at',
  decisionOutcome: 'decision_outcome',
  decisionReason: 'decision_reason',
  decisionExplanation: 'decision_explanation',
  deliverAt: 'deliver_at',
  deliveryId: 'delivery_id',
  rateSeq: 'rate_seq',
  countedAt: 'counted_at',
} as const satisfies Record<keyof NotificationColumns, string>;

const DELIVERY_COLUMNS = {
  id: 'id',
  tenantId: 'tenant_id',
  agentId: 'agent_id',
  notificationId: 'notification_id',
  eventType: 'event_type',
  body: 'body',
  status: 'status',
  nextAttemptAt: 'next_attempt_at',
  createdAt: 'created_at',
  updatedAt: 'updated_at',
} as const satisfies Record<keyof DeliveryColumns, string>;

/** One INSERT of `rows` into `table`; names come from the constants above, values are bound. */
function multiRowInsert<Row extends object>(table: string, columns: Readonly<Record<keyof Row, string>>, rows: readonly Row[]): Prisma.Sql {
  const fields = Object.keys(columns) as Array<keyof Row>;
  const names = fields.map((f) => `"${columns[f]}"`).join(', ');
  const values = rows.map((row) => Prisma.sql`(${Prisma.join(fields.map((f) => row[f]))})`);
  return Prisma.sql`INSERT INTO ${Prisma.raw(`"${table}" (${names})`)} VALUES ${Prisma.join(values)}`;
}

/** An agent's hourly-limit counter as a group leaves it (see rate-repository.ts). */
export interface RateCounterColumns {
  readonly tenantId: string;
  readonly agentId: string;
  readonly lastSeq: number;
}

export class PendingInserts {
  readonly notifications: NotificationColumns[] = [];
  readonly deliveries: DeliveryColumns[] = [];
  /** The group's counters by agentLockKey: one agent's last value wins, as one row per agent must. */
  readonly rateCounters = new Map<string, RateCounterColumns>();

  /**
   * Writes the held rows and forgets them; deliveries after notifications,
   * as a create writes them. Also called in the middle of a group by a
   * statement that must see a held row (a digest names its delivery).
   */
  async flush(tx: PrismaTx, dialect: Dialect): Promise<void> {
    if (this.notifications.length > 0) await tx.$executeRaw(multiRowInsert('notifications', NOTIFICATION_COLUMNS, this.notifications.splice(0)));
    if (this.deliveries.length > 0) {
      await tx.$executeRaw(multiRowInsert('deliveries', DELIVERY_COLUMNS, this.deliveries.splice(0)));
      // One wake-up for the group; NOTIFY is delivered at commit.
      if (dialect === 'postgresql') await tx.$executeRaw`SELECT pg_notify(${ENQUEUED_CHANNEL}, '')`;
    }
    if (this.rateCounters.size > 0) {
      const rows = [...this.rateCounters.values()].map((c) => Prisma.sql`(${c.tenantId}, ${c.agentId}, ${c.lastSeq})`);
      this.rateCounters.clear();
      // Both dialects take ON CONFLICT ... excluded; the group holds each agent's lock, so no other writer moved the value it read.
      await tx.$executeRaw`INSERT INTO "rate_counters" ("tenant_id", "agent_id", "last_seq") VALUES ${Prisma.join(rows)} ON CONFLICT ("tenant_id", "agent_id") DO UPDATE SET "last_seq" = excluded."last_seq"`;
    }
  }
}
