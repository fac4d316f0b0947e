/**
 * DeliveryService: translates between proto messages and the delivery use
 * cases, and keeps WatchDeliveries streams open until the client leaves or
 * the server shuts down.
 */
import type { ServerWritableStream } from '@grpc/grpc-js';
import type { Delivery, DeliveryAttempt, DeliveryStatus } from '../domain/types.js';
import { HeraldError, InvalidArgumentError } from '../errors.js';
import type { Delivery as DeliveryProto } from '../generated/proto/herald/v1/Delivery.js';
import type { DeliveryAttempt as AttemptProto } from '../generated/proto/herald/v1/DeliveryAttempt.js';
import type { DeliveryEvent } from '../generated/proto/herald/v1/DeliveryEvent.js';
import type { DeliveryServiceHandlers } from '../generated/proto/herald/v1/DeliveryService.js';
import type { DeliveryStatus__Output } from '../generated/proto/herald/v1/DeliveryStatus.js';
import type { WatchDeliveriesRequest__Output } from '../generated/proto/herald/v1/WatchDeliveriesRequest.js';
import type { DeliveryService, WatchEvent } from '../services/delivery-service.js';
import { fromTimestamp, toTimestamp, toTimestampOrNull } from './convert.js';
import { throwIfRefused } from './request-guard.js';
import { toStatus } from './status.js';
import { authenticate, throwIfNotStartable, unary, type CallContext } from './unary.js';

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

export function deliveryToProto(d: Delivery, attempts: readonly DeliveryAttempt[] = [], blockedBy: string | null = null): DeliveryProto {
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
    endpoint_id: d.endpointId ?? '',
    ordering_key: d.ordering?.key ?? '',
    sequence: d.ordering?.seq ?? 0,
    blocked_by: blockedBy ?? '',
    attempts: attempts.map(attemptToProto),
  };
}

/**
 * How far a WatchDeliveries client may fall behind before its stream is
 * ended: in events and in bytes, whichever comes first, so that neither many
 * small events nor a few large ones make the server buffer without bound.
 */
const MAX_BUFFERED_EVENTS = 1_000;
const MAX_BUFFERED_BYTES = 512 * 1024;

/**
 * Open WatchDeliveries streams, at most `max` at once and `maxPerTenant` of
 * one tenant (so that one tenant's token cannot take every stream), ended
 * together when the server shuts down.
 */
export class WatchStreams {
  private readonly open = new Set<() => void>();
  private readonly perTenant = new Map<string, number>();

  constructor(
    readonly max: number,
    readonly maxPerTenant: number = max,
  ) {}

  /** Registers a stream of `tenant`, or throws RESOURCE_EXHAUSTED naming the limit it would break. */
  add(tenant: string, end: () => void): () => void {
    const ofTenant = this.perTenant.get(tenant) ?? 0;
    if (this.open.size >= this.max) {
      throw new HeraldError('RESOURCE_EXHAUSTED', `this server already has ${this.max} WatchDeliveries streams open (HERALD_WATCH_MAX_STREAMS); close one or connect to another replica`);
    }
    if (ofTenant >= this.maxPerTenant) {
      throw new HeraldError('RESOURCE_EXHAUSTED', `tenant "${tenant}" already has ${this.maxPerTenant} WatchDeliveries streams open on this server (HERALD_WATCH_MAX_STREAMS_PER_TENANT); close one or connect to another replica`);
    }
    this.open.add(end);
    this.perTenant.set(tenant, ofTenant + 1);
    let removed = false;
    return () => {
      if (removed) return;
      removed = true;
      this.open.delete(end);
      const left = (this.perTenant.get(tenant) ?? 1) - 1;
      if (left === 0) this.perTenant.delete(tenant);
      else this.perTenant.set(tenant, left);
    };
  }

  endAll(): void {
    for (const end of [...this.open]) end();
  }
}

/** The DeliveryEvent message, built from one domain event. */
function eventToProto(event: WatchEvent): DeliveryEvent {
  if (event.kind === 'agentDisabled') {
    const d = event.disabled;
    return { agent_disabled: { agent_id: d.agentId, reason: d.reason, consecutive_failures: d.consecutiveFailures }, at: toTimestamp(d.at), tenant_id: d.tenantId };
  }
  const c = event.change;
  return { delivery: deliveryToProto(c.delivery), attempt: c.attempt === null ? null : attemptToProto(c.attempt), at: toTimestamp(c.at), tenant_id: c.delivery.tenantId };
}

type Serialize = (value: DeliveryEvent) => Buffer;

/**
 * Encodes each event once, whatever the number of streams: every stream's
 * listener receives the same domain object, so the bytes are cached on it.
 */
class EventEncoder {
  private readonly cache = new WeakMap<object, Buffer>();

  constructor(private readonly serialize: Serialize) {}

  encode(event: WatchEvent): Buffer {
    const key = event.kind === 'changed' ? event.change : event.disabled;
    let bytes = this.cache.get(key);
    if (bytes === undefined) {
      bytes = this.serialize(eventToProto(event));
      this.cache.set(key, bytes);
    }
    return bytes;
  }
}

/**
 * The DeliveryService definition with WatchDeliveries' response serializer
 * letting pre-encoded messages (Buffers from EventEncoder) through as they
 * are: grpc-js calls the method's `responseSerialize` on every write, and
 * this is the hook it offers for bytes encoded once for many streams.
 */
export function withPreEncodedWatch<T extends { WatchDeliveries: { responseSerialize: Serialize } }>(definition: T): { definition: T; serialize: Serialize } {
  const serialize = definition.WatchDeliveries.responseSerialize;
  const passThrough = (value: DeliveryEvent | Buffer): Buffer => (Buffer.isBuffer(value) ? value : serialize(value));
  return { definition: { ...definition, WatchDeliveries: { ...definition.WatchDeliveries, responseSerialize: passThrough } }, serialize };
}

export function deliveryHandlers(ctx: CallContext, service: DeliveryService, streams: WatchStreams, serialize: Serialize): DeliveryServiceHandlers {
  const encoder = new EventEncoder(serialize);
  return {
    GetDelivery: unary(ctx, 'GetDelivery', async (req, caller) => {
      const d = await service.get(caller.tenant, req.id);
      return deliveryToProto(d, d.attempts, d.blockedBy);
    }),
    ListDeliveries: unary(ctx, 'ListDeliveries', async (req, caller) => {
      const page = await service.list(caller.tenant, req.agent_id, statusFrom(req.status), req.page_size, req.page_token, req.endpoint_id);
      return { deliveries: page.items.map((d) => deliveryToProto(d)), next_page_token: page.nextPageToken };
    }),
    RetryDelivery: unary(ctx, 'RetryDelivery', async (req, caller) => {
      const { delivery, attempt } = await service.retry(caller.tenant, req.id);
      return { delivery: deliveryToProto(delivery, delivery.attempts), attempt: attempt === null ? null : attemptToProto(attempt) };
    }),
    SendTestWebhook: unary(ctx, 'SendTestWebhook', async (req, caller) => {
      const r = await service.sendTest(caller.tenant, req.agent_id, req.endpoint_id);
      return { delivery_id: r.deliveryId, success: r.success, status_code: r.statusCode ?? 0, duration_ms: r.durationMs, error: r.error ?? '' };
    }),
    GetDeliveryStats: unary(ctx, 'GetDeliveryStats', async (req, caller) => {
      const s = await service.stats(caller.tenant, req.agent_id, fromTimestamp('since', req.since, 'up'), req.endpoint_id);
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
    ReplayDeliveries: unary(ctx, 'ReplayDeliveries', async (req, caller) => {
      const scheduled = await service.replay(caller.tenant, req.agent_id, fromTimestamp('since', req.since, 'up'), fromTimestamp('until', req.until, 'up'), statusFrom(req.status), req.endpoint_id);
      return { scheduled };
    }),
    WatchDeliveries: (call: ServerWritableStream<WatchDeliveriesRequest__Output, DeliveryEvent | Buffer>) => {
      let unsubscribe: (() => void) | null = null;
      let forget: (() => void) | null = null;
      let bufferedBytes = 0;
      const finish = (): void => {
        unsubscribe?.();
        forget?.();
        unsubscribe = forget = null;
      };
      try {
        throwIfNotStartable(ctx, 'WatchDeliveries', call.getDeadline());
        const caller = authenticate(ctx, call.metadata, 'WatchDeliveries');
        throwIfRefused(call.request);
        forget = streams.add(caller.tenant, () => {
          finish();
          call.end();
        });
        unsubscribe = service.watch(caller.tenant, call.request.agent_id, (event) => {
          const bytes = encoder.encode(event);
          bufferedBytes += bytes.length;
          call.write(bytes, () => {
            bufferedBytes -= bytes.length;
          });
          // A client that stops reading must not make the server buffer without bound.
          if (call.writableLength > MAX_BUFFERED_EVENTS || bufferedBytes > MAX_BUFFERED_BYTES) {
            finish();
            const behind = `${call.writableLength} events, ${Math.ceil(bufferedBytes / 1024)} KiB`;
            call.emit('error', toStatus(new HeraldError('RESOURCE_EXHAUSTED', `the client fell too far behind (${behind} unread; limits ${MAX_BUFFERED_EVENTS} events, ${MAX_BUFFERED_BYTES / 1024} KiB); reconnect and read faster`), ctx.log, 'WatchDeliveries'));
          }
        }, call.request.endpoint_id);
      } catch (err) {
        finish();
        call.emit('error', toStatus(err, ctx.log, 'WatchDeliveries'));
        return;
      }
      call.on('cancelled', finish);
      call.on('close', finish);
    },
  };
}
