/** The `notifications` table: every notification, with the decision recorded for its webhook. */
import type { Notification as Row } from '../../generated/prisma/sqlite/client.js';
import { priorityFromRank, PRIORITY_RANK } from '../../domain/types.js';
import type { DecisionOutcome, DecisionReason, EndpointResult, JsonObject, Notification } from '../../domain/types.js';
import { bool, int, intOrNull, Table, text, textOrNull, timestamp, timestampOrNull } from './table.js';

export type NotificationRow = Row;

export const NOTIFICATIONS = new Table<Row>('notifications', {
  id: text('id'),
  tenantId: text('tenant_id'),
  agentId: text('agent_id'),
  notificationType: text('notification_type'),
  title: text('title'),
  content: text('content'),
  priority: int('priority'),
  relatedEntityType: textOrNull('related_entity_type'),
  relatedEntityId: textOrNull('related_entity_id'),
  metadata: text('metadata'),
  idempotencyKey: textOrNull('idempotency_key'),
  read: bool('read'),
  readAt: timestampOrNull('read_at'),
  createdAt: timestamp('created_at'),
  decisionOutcome: text('decision_outcome'),
  decisionReason: text('decision_reason'),
  decisionExplanation: text('decision_explanation'),
  deliverAt: timestampOrNull('deliver_at'),
  deliveryId: textOrNull('delivery_id'),
  rateSeq: intOrNull('rate_seq'),
  countedAt: timestampOrNull('counted_at'),
  endpointResults: text('endpoint_results'),
});

export function toNotification(row: Row): Notification {
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
    endpointResults: (JSON.parse(row.endpointResults) as StoredResult[]).map((r) => ({ ...r, deliverAt: r.deliverAt === null ? null : new Date(r.deliverAt) })),
  };
}

/** An endpoint result as the `endpoint_results` column holds it (JSON: instants as ISO text). */
type StoredResult = Omit<EndpointResult, 'deliverAt'> & { readonly deliverAt: string | null };

/** Where a notification stands in its agent's hourly-limit sequence; null when it does not count. */
export interface Counted {
  readonly seq: number;
  readonly at: Date;
}

export function notificationRow(n: Notification, counted: Counted | null): Row {
  return {
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
    endpointResults: JSON.stringify(n.endpointResults.map((r): StoredResult => ({ ...r, deliverAt: r.deliverAt?.toISOString() ?? null }))),
  };
}
