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
    const fields = { tenantId: e.tenantId, agentId: e.agentId, endpointId: e.endpoint?.id ?? null, deliveryId: e.deliveryId, reason: e.reason, consecutiveFailures: e.consecutiveFailures };
    // Each says the call that turns it on again: enable_webhook turns on only the first endpoint (the 0.2 webhook).
    if (e.endpoint === null || e.endpoint.first) log.warn(fields, "agent's webhook disabled; set enable_webhook again once the receiver is fixed");
    else log.warn(fields, "agent's endpoint disabled; turn it on again with UpdateEndpoint (enabled=true) once the receiver is fixed");
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
