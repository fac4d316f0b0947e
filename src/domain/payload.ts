/**
 * Webhook bodies. Each is serialised exactly once, when the delivery is
 * enqueued; the stored string is what gets signed and sent on every attempt,
 * so a retry is byte-identical to the first try.
 */
import type { Notification } from './types.js';

/** The body of a `notification` event (the seed's shape, which receivers already parse). */
export function notificationPayload(n: Notification, now: Date): string {
  return JSON.stringify({
    event: 'notification',
    notification: {
      id: n.id,
      agent_id: n.agentId,
      notification_type: n.notificationType,
      title: n.title,
      content: n.content,
      priority: n.priority.toLowerCase(),
      read: n.read,
      created_at: n.createdAt.toISOString(),
      read_at: n.readAt?.toISOString() ?? null,
      related_entity_type: n.relatedEntityType,
      related_entity_id: n.relatedEntityId,
      metadata: n.metadata,
    },
    timestamp: now.toISOString(),
    platform: 'herald',
  });
}

/** The body of a `test` event sent by SendTestWebhook. */
export function testPayload(agentId: string, deliveryId: string, now: Date): string {
  return JSON.stringify({
    event: 'test',
    test: {
      agent_id: agentId,
      delivery_id: deliveryId,
      message: 'This is a test webhook from Herald. If its signature verifies, your endpoint is ready.',
    },
    timestamp: now.toISOString(),
    platform: 'herald',
  });
}
