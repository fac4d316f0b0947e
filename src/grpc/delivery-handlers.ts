/**
 * DeliveryService: translates between proto messages and the delivery use
 * cases, and keeps WatchDeliveries streams open until the client leaves or
 * the server shuts down.
 */
import type { ServerWritableStream } from '@grpc/grpc-js';
import type { Delivery, DeliveryAttempt, DeliveryStatus } from '../domain/types.js';
import { HeraldError, InvalidArgumentError, UnavailableError } from '../errors.js';
import type { Delivery as DeliveryProto } from '../generated/proto/herald/v1/Delivery.js';
import type { DeliveryAttempt as AttemptProto } from '../generated/proto/herald/v1/DeliveryAttempt.js';
import type { DeliveryEvent } from '../generated/proto/herald/v1/DeliveryEvent.js';
import type { DeliveryServiceHandlers } from '../generated/proto/herald/v1/DeliveryService.js';
import type { DeliveryStatus__Output } from '../generated/proto/herald/v1/DeliveryStatus.js';
import type { WatchDeliveriesRequest__Output } from '../generated/proto/herald/v1/WatchDeliveriesRequest.js';
import type { DeliveryService } from '../services/delivery-service.js';
import { fromTimestamp, toTimestamp, toTimestampOrNull } from './convert.js';
import { toStatus } from './status.js';
import { authenticate, unary, type CallContext } from './unary.js';

function statusFrom(s: DeliveryStatus__Output): DeliveryStatus | null {
  switch (s) {
    case 'DELIVERY_STATUS_UNSPECIFIED':
      return null;
    case 'DELIVERY_STATUS_PENDING':
      return 'PENDING';
    case 'DELIVERY_STATUS_DELIVERING':
      return 'DELIVERING';
    case 'DELIVERY_STATUS_SUCCEEDED':
      return 'SUCCEEDED';
    case 'DELIVERY_STATUS_FAILED':
      return 'FAILED';
    case 'DELIVERY_STATUS_CANCELLED':
      return 'CANCELLED';
    default:
      throw new InvalidArgumentError('status', `unknown delivery status ${String(s)}`);
  }
}

export function attemptToProto(a: DeliveryAttempt): AttemptProto {
  return {
    number: a.number,
    started_at: toTimestamp(a.startedAt),
    duration_ms: a.durationMs,
    status_code: a.statusCode ?? 0,
    error_class: a.errorClass ?? '',
    error_message: a.errorMessage ?? '',
    response_excerpt: a.responseExcerpt ?? '',
    trigger: `ATTEMPT_TRIGGER_${a.trigger}`,
    url: a.url,
  };
}

export function deliveryToProto(d: Delivery, attempts: readonly DeliveryAttempt[] = []): DeliveryProto {
  return {
    id: d.id,
    agent_id: d.agentId,
    notification_id: d.notificationId ?? '',
    event_type: d.eventType,
    status: `DELIVERY_STATUS_${d.status}`,
    attempt_count: d.attemptCount,
    next_attempt_at: d.status === 'PENDING' ? toTimestamp(d.nextAttemptAt) : null,
    last_status_code: d.lastStatusCode ?? 0,
    last_error: d.lastError ?? '',
    created_at: toTimestamp(d.createdAt),
    updated_at: toTimestamp(d.updatedAt),
    completed_at: toTimestampOrNull(d.completedAt),
    attempts: attempts.map(attemptToProto),
  };
}

/** Events a WatchDeliveries client may fall behind before its stream is ended. */
const MAX_BUFFERED_EVENTS = 10_000;

/** Open WatchDeliveries streams, ended together when the server shuts down. */
export class WatchStreams {
  private readonly open = new Set<() => void>();

  add(end: () => void): () => void {
    this.open.add(end);
    return () => this.open.delete(end);
  }

  endAll(): void {
    for (const end of [...this.open]) end();
  }
}

export function deliveryHandlers(ctx: CallContext, service: DeliveryService, streams: WatchStreams): DeliveryServiceHandlers {
  return {
    GetDelivery: unary(ctx, 'GetDelivery', async (req) => {
      const d = await service.get(req.id);
      return deliveryToProto(d, d.attempts);
    }),
    ListDeliveries: unary(ctx, 'ListDeliveries', async (req) => {
      const page = await service.list(req.agent_id, statusFrom(req.status), req.page_size, req.page_token);
      return { deliveries: page.items.map((d) => deliveryToProto(d)), next_page_token: page.nextPageToken };
    }),
    RetryDelivery: unary(ctx, 'RetryDelivery', async (req) => {
      const { delivery, attempt } = await service.retry(req.id);
      return { delivery: deliveryToProto(delivery, delivery.attempts), attempt: attempt === null ? null : attemptToProto(attempt) };
    }),
    SendTestWebhook: unary(ctx, 'SendTestWebhook', async (req) => {
      const r = await service.sendTest(req.agent_id);
      return { delivery_id: r.deliveryId, success: r.success, status_code: r.statusCode ?? 0, duration_ms: r.durationMs, error: r.error ?? '' };
    }),
    GetDeliveryStats: unary(ctx, 'GetDeliveryStats', async (req) => {
      const s = await service.stats(req.agent_id, fromTimestamp('since', req.since, 'up'));
      return {
        pending: s.byStatus.PENDING,
        delivering: s.byStatus.DELIVERING,
        succeeded: s.byStatus.SUCCEEDED,
        failed: s.byStatus.FAILED,
        cancelled: s.byStatus.CANCELLED,
        total: s.total,
        success_rate: s.successRate,
        attempts: s.attempts,
        p50_latency_ms: s.p50LatencyMs,
        p95_latency_ms: s.p95LatencyMs,
        since: toTimestamp(s.since),
      };
    }),
    WatchDeliveries: (call: ServerWritableStream<WatchDeliveriesRequest__Output, DeliveryEvent>) => {
      let unsubscribe: (() => void) | null = null;
      let forget: (() => void) | null = null;
      const finish = (): void => {
        unsubscribe?.();
        forget?.();
        unsubscribe = forget = null;
      };
      try {
        if (!ctx.accepting()) throw new UnavailableError('Herald is shutting down; retry on another instance');
        authenticate(ctx, call.metadata);
        unsubscribe = service.watch(call.request.agent_id, (change) => {
          call.write({ delivery: deliveryToProto(change.delivery), attempt: change.attempt === null ? null : attemptToProto(change.attempt), at: toTimestamp(change.at) });
          // A client that stops reading must not make the server buffer without bound.
          if (call.writableLength > MAX_BUFFERED_EVENTS) {
            finish();
            call.emit('error', toStatus(new HeraldError('RESOURCE_EXHAUSTED', `the client fell more than ${MAX_BUFFERED_EVENTS} events behind; reconnect and read faster`), ctx.log, 'WatchDeliveries'));
          }
        });
      } catch (err) {
        call.emit('error', toStatus(err, ctx.log, 'WatchDeliveries'));
        return;
      }
      forget = streams.add(() => {
        finish();
        call.end();
      });
      call.on('cancelled', finish);
      call.on('close', finish);
    },
  };
}
