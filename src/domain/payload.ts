/**
 * Webhook bodies. Each is serialised when the delivery is enqueued (a
 * digest's again each time a notification joins it, before it is due); the
 * stored string is what gets signed and sent on every attempt, so a retry is
 * byte-identical to the first try.
 */
import type { DigestWindow, JsonObject, Notification } from './types.js';

/** The body of a `notification` event (the seed's shape, which receivers already parse). */
export function notificationPayload(n: Notification, now: Date): string {
  return JSON.stringify({
    event: 'notification',
    notification: notificationObject(n),
    timestamp: now.toISOString(),
    platform: 'herald',
  });
}

/** A notification as every webhook carries it: alone in a `notification` event, or as an item of a digest. */
function notificationObject(n: Notification): JsonObject {
  return {
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
  };
}

/** How many notifications a digest holds before a new one opens, unless HERALD_DIGEST_MAX_ITEMS says otherwise. */
export const DEFAULT_DIGEST_MAX_ITEMS = 100;

/** What names a digest besides its notifications. */
export interface DigestHead {
  /** The id of the delivery that sends it. */
  readonly id: string;
  readonly agentId: string;
  readonly window: DigestWindow;
}

/**
 * The body of a `digest` event holding `items` (notification objects, oldest
 * first). `timestamp` is when the body was last written: the last join.
 */
function digestBody(head: DigestHead, items: readonly JsonObject[], now: Date): string {
  return JSON.stringify({
    event: 'digest',
    digest: {
      id: head.id,
      agent_id: head.agentId,
      window_start: head.window.start.toISOString(),
      window_end: head.window.end.toISOString(),
      count: items.length,
      notifications: items,
    },
    timestamp: now.toISOString(),
    platform: 'herald',
  });
}

/** The body of a new digest whose first notification is `n`. */
export function digestPayload(head: DigestHead, n: Notification, now: Date): string {
  return digestBody(head, [notificationObject(n)], now);
}

/**
 * `body` (a digest body this module wrote) with `n` appended as its last
 * notification, the count and timestamp updated. Parsing and writing again
 * gives the same bytes for what was there: the values came from
 * JSON.stringify, whose output reads back to equal values.
 */
export function appendToDigest(body: string, head: DigestHead, n: Notification, now: Date): string {
  const parsed = JSON.parse(body) as { digest: { notifications: JsonObject[] } };
  return digestBody(head, [...parsed.digest.notifications, notificationObject(n)], now);
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
