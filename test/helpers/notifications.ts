/** A notification as storage stores it, for tests that write through the repositories rather than the service. */
import type { Notification } from '../../src/domain/types.js';

/** A SUPPRESS notification of tenant "default" (no webhook), made at `now`. */
export function storedNotification(id: string, agentId: string, options: { readonly now?: Date; readonly content?: string } = {}): Notification {
  const now = options.now ?? new Date();
  return {
    id,
    tenantId: 'default',
    agentId,
    notificationType: 'job.completed',
    title: 'Job done',
    content: options.content ?? '',
    priority: 'NORMAL',
    relatedEntityType: null,
    relatedEntityId: null,
    metadata: {},
    idempotencyKey: null,
    read: false,
    readAt: null,
    createdAt: now,
    deliveryId: null,
    decision: { outcome: 'SUPPRESS', reason: 'WEBHOOK_DISABLED', deliverAt: null, explanation: '', decidedAt: now },
    endpointResults: [],
  };
}
