/**
 * The `deliveries` table: the outbox, one row per webhook to send. Its one
 * description (columns, raw decoder, INSERT, domain mapping); every
 * statement on the table uses these.
 */
import type { Delivery as Row } from '../../generated/prisma/sqlite/client.js';
import type { Delivery, DeliveryOrdering, DeliveryStatus, EventType } from '../../domain/types.js';
import { int, intOrNull, Table, text, textOrNull, timestamp, timestampOrNull } from './table.js';

export type DeliveryRow = Row;
/** A row as the settles return it: the body is most of a row, and the worker already holds it. */
export type DeliveryRowWithoutBody = Omit<Row, 'body'>;

export const DELIVERIES = new Table<Row>('deliveries', {
  id: text('id'),
  tenantId: text('tenant_id'),
  agentId: text('agent_id'),
  notificationId: textOrNull('notification_id'),
  eventType: text('event_type'),
  body: text('body'),
  status: text('status'),
  attemptCount: int('attempt_count'),
  nextAttemptAt: timestamp('next_attempt_at'),
  leaseOwner: textOrNull('lease_owner'),
  leaseExpiresAt: timestampOrNull('lease_expires_at'),
  lastStatusCode: intOrNull('last_status_code'),
  lastError: textOrNull('last_error'),
  createdAt: timestamp('created_at'),
  updatedAt: timestamp('updated_at'),
  completedAt: timestampOrNull('completed_at'),
  attemptBase: int('attempt_base'),
  endpointId: textOrNull('endpoint_id'),
  rateSeq: intOrNull('rate_seq'),
  countedAt: timestampOrNull('counted_at'),
  traceParent: textOrNull('trace_parent'),
  orderingKey: textOrNull('ordering_key'),
  orderingSeq: intOrNull('ordering_seq'),
});

/** Every column but the body, for RETURNING clauses of the settles. */
export const WITHOUT_BODY = ['body'] as const;

export function toDelivery(row: DeliveryRowWithoutBody): Delivery {
  return {
    id: row.id,
    tenantId: row.tenantId,
    agentId: row.agentId,
    notificationId: row.notificationId,
    endpointId: row.endpointId,
    eventType: row.eventType as EventType,
    status: row.status as DeliveryStatus,
    attemptCount: row.attemptCount,
    nextAttemptAt: row.nextAttemptAt,
    lastStatusCode: row.lastStatusCode,
    lastError: row.lastError,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    completedAt: row.completedAt,
    ordering: row.orderingKey === null || row.orderingSeq === null ? null : { key: row.orderingKey, seq: row.orderingSeq },
  };
}

/** What a new delivery is made of; the rest of its row starts empty. */
export interface NewDelivery {
  readonly id: string;
  readonly tenantId: string;
  readonly agentId: string;
  readonly notificationId: string | null;
  /** The endpoint it goes to, whose secret signs it; null only for an agent without one. */
  readonly endpointId: string | null;
  /** Where it stands in its endpoint's own hourly-limit sequence; absent when it does not count there. */
  readonly counted?: { readonly seq: number; readonly at: Date };
  /** Its place in the endpoint's order of one key (a PER_KEY endpoint and a keyed notification); absent otherwise. */
  readonly ordering?: DeliveryOrdering;
  readonly eventType: EventType;
  readonly body: string;
  readonly nextAttemptAt: Date;
  readonly now: Date;
  /**
   * The W3C `traceparent` of the span that enqueued it, kept opaque here
   * (src/telemetry/ makes and reads it); absent or null without tracing.
   */
  readonly traceParent?: string | null;
}

/** A new delivery's whole row: PENDING, or already claimed by `claim` (a test webhook sent at once, its first attempt counted). */
export function newDeliveryRow(d: NewDelivery, claim: { readonly owner: string; readonly leaseUntil: Date } | null = null): Row {
  return {
    id: d.id,
    tenantId: d.tenantId,
    agentId: d.agentId,
    notificationId: d.notificationId,
    eventType: d.eventType,
    body: d.body,
    status: claim === null ? 'PENDING' : 'DELIVERING',
    attemptCount: claim === null ? 0 : 1,
    nextAttemptAt: d.nextAttemptAt,
    leaseOwner: claim?.owner ?? null,
    leaseExpiresAt: claim?.leaseUntil ?? null,
    lastStatusCode: null,
    lastError: null,
    createdAt: d.now,
    updatedAt: d.now,
    completedAt: null,
    attemptBase: 0,
    endpointId: d.endpointId,
    rateSeq: d.counted?.seq ?? null,
    countedAt: d.counted?.at ?? null,
    traceParent: d.traceParent ?? null,
    orderingKey: d.ordering?.key ?? null,
    orderingSeq: d.ordering?.seq ?? null,
  };
}
