/**
 * NotificationService: translates between proto messages and the
 * notification use cases.
 */
import { InvalidArgumentError } from '../errors.js';
import type { Decision, DecisionReason, EndpointResult, Notification } from '../domain/types.js';
import type { CreateNotificationRequest__Output } from '../generated/proto/herald/v1/CreateNotificationRequest.js';
import type { Decision as DecisionProto } from '../generated/proto/herald/v1/Decision.js';
import type { EndpointResult as EndpointResultProto } from '../generated/proto/herald/v1/EndpointResult.js';
import type { Notification as NotificationProto } from '../generated/proto/herald/v1/Notification.js';
import type { NotificationServiceHandlers } from '../generated/proto/herald/v1/NotificationService.js';
import type { CreateRequest, NotificationService } from '../services/notification-service.js';
import { fromPriority, fromStruct, fromTimestamp, toPriority, toStruct, toTimestamp, toTimestampOrNull } from './convert.js';
import { unary, type CallContext } from './unary.js';

export function createRequestFrom(req: CreateNotificationRequest__Output, prefix = ''): CreateRequest {
  return {
    agentId: req.agent_id,
    notificationType: req.notification_type,
    title: req.title,
    content: req.content,
    priority: fromPriority(`${prefix}priority`, req.priority),
    relatedEntityType: req.related_entity_type,
    relatedEntityId: req.related_entity_id,
    metadata: fromStruct(req.metadata),
    idempotencyKey: req.idempotency_key,
    orderingKey: req.ordering_key,
  };
}

export function decisionToProto(d: Decision, deliveryId: string | null): DecisionProto {
  return {
    outcome: `DECISION_OUTCOME_${d.outcome}`,
    reason: `DECISION_REASON_${d.reason satisfies DecisionReason}`,
    deliver_at: toTimestampOrNull(d.deliverAt),
    delivery_id: deliveryId ?? '',
    explanation: d.explanation,
    decided_at: toTimestamp(d.decidedAt),
  };
}

/** One endpoint's decision as the API shows it. */
export function endpointResultToProto(r: EndpointResult): EndpointResultProto {
  return {
    endpoint_id: r.endpointId,
    outcome: `DECISION_OUTCOME_${r.outcome}`,
    reason: `DECISION_REASON_${r.reason satisfies DecisionReason}`,
    explanation: r.explanation,
    deliver_at: toTimestampOrNull(r.deliverAt),
    delivery_id: r.deliveryId ?? '',
  };
}

export function notificationToProto(n: Notification): NotificationProto {
  return {
    id: n.id,
    agent_id: n.agentId,
    notification_type: n.notificationType,
    title: n.title,
    content: n.content,
    priority: toPriority(n.priority),
    related_entity_type: n.relatedEntityType ?? '',
    related_entity_id: n.relatedEntityId ?? '',
    metadata: toStruct(n.metadata),
    idempotency_key: n.idempotencyKey ?? '',
    read: n.read,
    created_at: toTimestamp(n.createdAt),
    read_at: toTimestampOrNull(n.readAt),
    decision: decisionToProto(n.decision, n.deliveryId),
    endpoint_results: n.endpointResults.map(endpointResultToProto),
  };
}

export function notificationHandlers(ctx: CallContext, service: NotificationService): NotificationServiceHandlers {
  return {
    CreateNotification: unary(ctx, 'CreateNotification', async (req, caller, _call, span) => {
      const { notification, replayed } = await service.create(caller.tenant, createRequestFrom(req), span);
      const proto = notificationToProto(notification);
      return { notification: proto, decision: proto.decision ?? null, replayed, endpoint_results: proto.endpoint_results ?? [] };
    }),
    EvaluateNotification: unary(ctx, 'EvaluateNotification', async (req, caller) => {
      if (req.notification === null) throw new InvalidArgumentError('notification', 'is required');
      const { decision, endpointResults } = await service.evaluate(caller.tenant, createRequestFrom(req.notification, 'notification.'), fromTimestamp('at', req.at));
      return { decision: decisionToProto(decision, null), endpoint_results: endpointResults.map(endpointResultToProto) };
    }),
    GetNotification: unary(ctx, 'GetNotification', async (req, caller) => notificationToProto(await service.get(caller.tenant, req.id))),
    ListNotifications: unary(ctx, 'ListNotifications', async (req, caller) => {
      const page = await service.list(caller.tenant, {
        agentId: req.agent_id,
        unreadOnly: req.unread_only,
        notificationType: req.notification_type,
        createdAfter: fromTimestamp('created_after', req.created_after, 'up'),
        createdBefore: fromTimestamp('created_before', req.created_before, 'up'),
        pageSize: req.page_size,
        pageToken: req.page_token,
      });
      return { notifications: page.items.map(notificationToProto), next_page_token: page.nextPageToken };
    }),
    MarkNotificationRead: unary(ctx, 'MarkNotificationRead', async (req, caller) => notificationToProto(await service.markRead(caller.tenant, req.id))),
  };
}
