/**
 * Log lines an operator acts on, written from the change feed rather than
 * from inside the code that makes the changes: a delivery that ends
 * FAILED and an agent's webhook that Herald turned off (warn), and at debug
 * one line per notification decision.
 */
import type { ChangeFeed } from './events/change-feed.js';
import type { Logger } from './logger.js';

/** Subscribes the log to the change feed; returns the unsubscribe. */
export function logEvents(log: Logger, feed: ChangeFeed): () => void {
  const offChanged = feed.on('deliveryChanged', ({ change }) => {
    const d = change.delivery;
    if (d.status !== 'FAILED') return;
    const fields = { deliveryId: d.id, tenantId: d.tenantId, agentId: d.agentId, notificationId: d.notificationId, eventType: d.eventType, attempts: d.attemptCount, lastStatusCode: d.lastStatusCode, lastError: d.lastError };
    // A failed test webhook answers the caller who asked for it; a notification's (or a digest's) is lost to its receiver.
    if (d.eventType !== 'test') log.warn(fields, 'delivery FAILED: the webhook will not be sent again unless retried with RetryDelivery');
    else log.info(fields, 'test webhook failed');
  });
  const offDisabled = feed.on('agentDisabled', ({ disabled: e }) => {
    log.warn({ tenantId: e.tenantId, agentId: e.agentId, deliveryId: e.deliveryId, reason: e.reason, consecutiveFailures: e.consecutiveFailures }, "agent's webhook disabled; set enable_webhook again once the receiver is fixed");
  });
  const offDecided = feed.on('decided', ({ notification: n }) => {
    log.debug(
      { notificationId: n.id, tenantId: n.tenantId, agentId: n.agentId, notificationType: n.notificationType, outcome: n.decision.outcome, reason: n.decision.reason, deliveryId: n.deliveryId },
      'notification decided',
    );
  });
  return () => {
    offChanged();
    offDisabled();
    offDecided();
  };
}
