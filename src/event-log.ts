/**
 * Log lines an operator acts on, written from the in-process events rather
 * than from inside the code that makes the changes: a delivery that ends
 * FAILED and an agent's webhook that Herald turned off (warn), and at debug
 * one line per notification decision.
 */
import type { DeliveryChange, DeliveryEvents } from './delivery/events.js';
import { classifyResult } from './domain/delivery-outcome.js';
import type { Logger } from './logger.js';
import type { NotificationEvents } from './services/notification-events.js';

/** Whether this change is the attempt after which Herald turns the agent's webhook off (410 Gone). */
function disablesWebhook(change: DeliveryChange): boolean {
  const code = change.attempt?.statusCode ?? null;
  return code !== null && classifyResult({ kind: 'response', statusCode: code, headers: {}, bodyExcerpt: '', durationMs: 0 }).verdict === 'gone';
}

/** Subscribes the log to both buses; returns the unsubscribe. */
export function logEvents(log: Logger, deliveries: DeliveryEvents, notifications: NotificationEvents): () => void {
  const offChanged = deliveries.onChanged((change) => {
    const d = change.delivery;
    if (d.status !== 'FAILED') return;
    const fields = { deliveryId: d.id, agentId: d.agentId, notificationId: d.notificationId, eventType: d.eventType, attempts: d.attemptCount, lastStatusCode: d.lastStatusCode, lastError: d.lastError };
    // A failed test webhook answers the caller who asked for it; a notification's is lost to its receiver.
    if (d.eventType === 'notification') log.warn(fields, 'delivery FAILED: the webhook will not be sent again unless retried with RetryDelivery');
    else log.info(fields, 'test webhook failed');
    if (disablesWebhook(change)) {
      log.warn({ agentId: d.agentId, deliveryId: d.id }, "agent's webhook disabled: the receiver answered 410 Gone; set enable_webhook again once it is fixed");
    }
  });
  const offDecided = notifications.onDecided((n) => {
    log.debug(
      { notificationId: n.id, agentId: n.agentId, notificationType: n.notificationType, outcome: n.decision.outcome, reason: n.decision.reason, deliveryId: n.deliveryId },
      'notification decided',
    );
  });
  return () => {
    offChanged();
    offDecided();
  };
}
