/**
 * Use cases of deliveries: inspect them, retry one by hand, send a test
 * webhook, count them, and follow their changes live.
 */
import { randomUUID } from 'node:crypto';
import type { Dispatcher } from '../delivery/dispatcher.js';
import type { AgentDisabled, ChangeFeed, DeliveryChange } from '../events/change-feed.js';
import { testPayload } from '../domain/payload.js';
import type { Delivery, DeliveryAttempt, DeliveryStatus } from '../domain/types.js';
import { checkAgentId, checkEndpointId, checkText, LIMITS, pageSize, quote } from '../domain/validation.js';
import { FailedPreconditionError, InvalidArgumentError, NotFoundError } from '../errors.js';
import { newDeliveryId } from '../ids.js';
import type { Store } from '../storage/database.js';
import { REPLAYABLE_STATUSES, type ReplayableStatus, type ReplayFilter } from '../storage/delivery-queue.js';
import type { DeliveryFilters, DeliveryStats } from '../storage/delivery-repository.js';
import { pageNewestFirst } from '../storage/page-token.js';

export interface DeliveryDetail extends Delivery {
  readonly attempts: readonly DeliveryAttempt[];
  /** The delivery it waits behind (the earliest unfinished one of its endpoint and ordering key), or null when its order does not hold it. */
  readonly blockedBy: string | null;
}

export interface TestResult {
  readonly deliveryId: string;
  readonly success: boolean;
  readonly statusCode: number | null;
  readonly durationMs: number;
  readonly error: string | null;
}

/** What WatchDeliveries streams: one event object per change, shared by every stream. */
export type WatchEvent = { readonly kind: 'changed'; readonly change: DeliveryChange } | { readonly kind: 'agentDisabled'; readonly disabled: AgentDisabled };

export interface DeliveryServiceOptions {
  readonly leaseMs: number;
  readonly clock: () => Date;
}

const DAY_MS = 86_400_000;

export class DeliveryService {
  constructor(
    private readonly store: Store,
    private readonly dispatcher: Dispatcher,
    private readonly feed: ChangeFeed,
    private readonly options: DeliveryServiceOptions,
  ) {}

  async get(tenant: string, id: string): Promise<DeliveryDetail> {
    checkText('id', id, 1, LIMITS.idLength);
    const found = await this.store.read(async (r) => {
      const delivery = await r.deliveries.get(tenant, id);
      return delivery === null ? null : { ...delivery, attempts: await r.deliveries.attempts(id), blockedBy: await r.ordering.blockedBy(tenant, id) };
    });
    if (found === null) throw new NotFoundError(`delivery ${quote(id)}`);
    return found;
  }

  /** One delivery of one agent (a portal session's): another agent's answers exactly as a missing one. */
  async getOfAgent(tenant: string, agentId: string, id: string): Promise<DeliveryDetail> {
    const found = await this.get(tenant, id);
    if (found.agentId !== agentId) throw new NotFoundError(`delivery ${quote(id)}`);
    return found;
  }

  async list(tenant: string, agentId: string, status: DeliveryStatus | null, requestedPageSize: number, pageToken: string, endpointId = ''): Promise<{ items: Delivery[]; nextPageToken: string }> {
    if (agentId !== '') checkAgentId('agent_id', agentId);
    const size = pageSize('page_size', requestedPageSize);
    const endpoint = await this.endpointFilter(tenant, agentId, endpointId);
    const filters: DeliveryFilters = { tenantId: tenant, agentId: agentId === '' ? null : agentId, endpointId: endpoint, status };
    return pageNewestFirst(pageToken, filters, size, (limit, after) => this.store.read((r) => r.deliveries.list(filters, limit, after)));
  }

  /**
   * One new attempt now for a PENDING or FAILED delivery. A failed retry of
   * a FAILED delivery leaves it FAILED; a PENDING one keeps its schedule.
   */
  async retry(tenant: string, id: string): Promise<{ delivery: DeliveryDetail; attempt: DeliveryAttempt | null }> {
    checkText('id', id, 1, LIMITS.idLength);
    const owner = `manual:${randomUUID()}`;
    const now = this.options.clock();
    const claimed = await this.store.write(async (r) => {
      const before = await r.deliveries.get(tenant, id);
      if (before === null) throw new NotFoundError(`delivery ${quote(id)}`);
      // Sending it now would overtake an earlier delivery of its key, or run beside one of its key being
      // sent: the order is a promise to the receiver. A FAILED one is held as a PENDING one is.
      const blocker = await r.ordering.blockedBy(tenant, id, ['PENDING', 'FAILED']);
      if (blocker !== null) {
        throw new FailedPreconditionError(
          `delivery ${quote(id)} waits behind ${quote(blocker)}, an unfinished delivery of its ordering_key to the same endpoint (earlier, or being sent); retry it once that one has finished`,
        );
      }
      const row = await r.queue.claimForRetry(tenant, id, owner, now, this.options.leaseMs);
      if (row === null) {
        throw new FailedPreconditionError(
          `delivery ${quote(id)} is ${before.status}; only PENDING or FAILED deliveries can be retried${before.status === 'DELIVERING' ? ' (it is being sent right now)' : ''}`,
        );
      }
      return { row, wasFailed: before.status === 'FAILED' };
    });
    const outcome = await this.dispatcher.attempt(claimed.row, owner, 'MANUAL', claimed.wasFailed ? 'fail' : 'schedule');
    return { delivery: await this.get(tenant, id), attempt: outcome.attempt };
  }

  /**
   * Sends a signed `test` event now to one of the agent's endpoints (by
   * default its first, the 0.2 webhook_url) and records it as a delivery
   * (trigger TEST).
   */
  async sendTest(tenant: string, agentId: string, endpointId = ''): Promise<TestResult> {
    checkAgentId('agent_id', agentId);
    const endpoint = await this.endpointFilter(tenant, agentId, endpointId);
    const owner = `test:${randomUUID()}`;
    const now = this.options.clock();
    const id = newDeliveryId(now.getTime());
    const claimed = await this.store.write(async (r) => {
      const prefs = await r.preferences.get(tenant, agentId);
      if (prefs === null) throw new NotFoundError(`preferences for agent ${quote(agentId)}`);
      if (endpoint === null && prefs.webhookUrl === null) throw new FailedPreconditionError(`agent ${quote(agentId)} has no webhook_url to test; set one with UpdatePreferences`);
      return r.deliveries.enqueueClaimed(
        { id, tenantId: tenant, agentId, notificationId: null, endpointId: endpoint ?? prefs.webhookEndpointId, eventType: 'test', body: testPayload(agentId, id, now), nextAttemptAt: now, now },
        owner,
        this.options.leaseMs,
      );
    });
    const outcome = await this.dispatcher.attempt(claimed, owner, 'TEST', 'fail');
    const a = outcome.attempt;
    return {
      deliveryId: id,
      success: outcome.delivery?.status === 'SUCCEEDED',
      statusCode: a?.statusCode ?? null,
      durationMs: a?.durationMs ?? 0,
      error: outcome.delivery?.status === 'SUCCEEDED' ? null : (outcome.delivery?.lastError ?? a?.errorMessage ?? 'not sent'),
    };
  }

  /** Counts by status, success rate (succeeded / (succeeded + failed), 0 when neither) and attempt latency percentiles. */
  async stats(tenant: string, agentId: string, since: Date | null, endpointId = ''): Promise<DeliveryStats & { since: Date; total: number; successRate: number }> {
    if (agentId !== '') checkAgentId('agent_id', agentId);
    const endpoint = await this.endpointFilter(tenant, agentId, endpointId);
    const from = since ?? new Date(this.options.clock().getTime() - DAY_MS);
    const stats = await this.store.read((r) => r.deliveries.stats(tenant, agentId === '' ? null : agentId, from, endpoint));
    const { SUCCEEDED, FAILED } = stats.byStatus;
    const total = Object.values(stats.byStatus).reduce((a, b) => a + b, 0);
    return { ...stats, since: from, total, successRate: SUCCEEDED + FAILED === 0 ? 0 : SUCCEEDED / (SUCCEEDED + FAILED) };
  }

  /**
   * Schedules an agent's FAILED (or CANCELLED) notification deliveries
   * created in [since, until) again, with their ids and bodies and a fresh
   * retry budget; the worker sends them at the pace of the agent's in-flight
   * cap. Deliveries already pending again are not in that status any more,
   * so a repeated call schedules nothing twice. Returns how many.
   */
  async replay(tenant: string, agentId: string, since: Date | null, until: Date | null, status: DeliveryStatus | null, endpointId = ''): Promise<number> {
    if (agentId === '') throw new InvalidArgumentError('agent_id', 'is required: replay works on one agent at a time');
    checkAgentId('agent_id', agentId);
    const endpoint = await this.endpointFilter(tenant, agentId, endpointId);
    if (since === null) throw new InvalidArgumentError('since', 'is required: the creation time of the first delivery to replay (e.g. when the outage began)');
    const now = this.options.clock();
    const end = until ?? now;
    if (since.getTime() >= end.getTime()) {
      throw new InvalidArgumentError(until === null ? 'since' : 'until', until === null ? 'must be in the past' : 'must be after since');
    }
    const wanted = status ?? 'FAILED';
    const replayable: readonly DeliveryStatus[] = REPLAYABLE_STATUSES;
    if (!replayable.includes(wanted)) {
      throw new InvalidArgumentError('status', `${wanted} deliveries cannot be replayed; use one of ${REPLAYABLE_STATUSES.join(', ')}`);
    }
    return this.schedule(tenant, agentId, endpoint, wanted as ReplayableStatus, { since, until: end }, now);
  }

  /**
   * ReplayDeliveries for exactly one delivery (the console's Replay button):
   * a FAILED or CANCELLED notification or digest delivery is scheduled again
   * as `replay` would, selected by its id, so no other delivery is ever
   * replayed beside it (creation times are not unique).
   */
  async replayDelivery(tenant: string, id: string): Promise<void> {
    checkText('id', id, 1, LIMITS.idLength);
    const d = await this.store.read((r) => r.deliveries.get(tenant, id));
    if (d === null) throw new NotFoundError(`delivery ${quote(id)}`);
    const replayable: readonly DeliveryStatus[] = REPLAYABLE_STATUSES;
    if (!replayable.includes(d.status)) {
      throw new FailedPreconditionError(`delivery ${quote(id)} is ${d.status}; only ${REPLAYABLE_STATUSES.join(' or ')} deliveries can be replayed`);
    }
    if (d.eventType !== 'notification' && d.eventType !== 'digest') throw new FailedPreconditionError(`delivery ${quote(id)} is a ${d.eventType} event; only notification and digest deliveries are replayed`);
    // Its own endpoint must be on (a delivery from before endpoints has none: the agent's).
    const scheduled = await this.schedule(tenant, d.agentId, d.endpointId ?? null, d.status as ReplayableStatus, { id }, this.options.clock());
    // The status was read before the transaction: a retry or another replay may have changed it since.
    if (scheduled === 0) throw new FailedPreconditionError(`delivery ${quote(id)} is no longer ${d.status} (it was replayed or changed meanwhile); nothing was scheduled`);
  }

  /**
   * The endpoint a delivery call is narrowed to: null for none; else an
   * endpoint of the caller's tenant (NOT_FOUND otherwise) that belongs to
   * `agentId` when one is named.
   */
  private async endpointFilter(tenant: string, agentId: string, endpointId: string): Promise<string | null> {
    if (endpointId === '') return null;
    checkEndpointId('endpoint_id', endpointId);
    const endpoint = await this.store.read((r) => r.preferences.endpointRecord(tenant, endpointId));
    if (endpoint === null) throw new NotFoundError(`endpoint ${quote(endpointId)}`);
    if (agentId !== '' && endpoint.agentId !== agentId) throw new InvalidArgumentError('endpoint_id', `${quote(endpointId)} is an endpoint of agent ${quote(endpoint.agentId)}, not of agent ${quote(agentId)}`);
    return endpoint.id;
  }

  /**
   * The replay transaction: what is replayed must have somewhere to go, or
   * its deliveries would be cancelled again. With `endpointId`, that endpoint
   * must be on; without, the agent's master switch must be on, and the
   * deliveries of its endpoints that are on are replayed (those of an
   * endpoint that is off stay as they are).
   */
  private async schedule(tenant: string, agentId: string, endpointId: string | null, status: ReplayableStatus, which: ReplayFilter['which'], now: Date): Promise<number> {
    return this.store.writeForAgent({ tenantId: tenant, agentId }, async (r) => {
      const targets = await r.preferences.decisionTargets(tenant, agentId);
      const prefs = targets.preferences;
      if (prefs === null || targets.recipient === null) throw new NotFoundError(`preferences for agent ${quote(agentId)}`);
      if (endpointId !== null) {
        const endpoint = await r.preferences.endpointRecord(tenant, endpointId);
        if (endpoint === null) throw new NotFoundError(`endpoint ${quote(endpointId)}`);
        if (!targets.recipient.enableWebhook) {
          throw new FailedPreconditionError(`agent ${quote(agentId)} has its webhooks turned off (enable_webhook); turn them on with UpdatePreferences before replaying, or the deliveries would be cancelled again`);
        }
        if (!endpoint.enabled) {
          throw new FailedPreconditionError(
            `endpoint ${quote(endpointId)} is turned off${endpoint.disabledReason ? ` (${endpoint.disabledReason})` : ''}; turn it on with UpdateEndpoint before replaying, or the deliveries would be cancelled again`,
          );
        }
        return r.queue.replay({ tenantId: tenant, agentId, endpointIds: [endpointId], status, which }, now);
      }
      const on = targets.recipient.enableWebhook ? targets.endpoints.filter((e) => e.enabled).map((e) => e.id) : [];
      if (on.length === 0) {
        const why = !targets.recipient.enableWebhook
          ? 'has its webhooks turned off (enable_webhook)'
          : prefs.webhookUrl === null && targets.endpoints.length === 0
            ? 'has no webhook_url and no endpoint'
            : `has no endpoint turned on${prefs.webhookDisabledReason ? ` (its webhook: ${prefs.webhookDisabledReason})` : ''}`;
        throw new FailedPreconditionError(`agent ${quote(agentId)} ${why}; fix that with UpdatePreferences or UpdateEndpoint before replaying, or the deliveries would be cancelled again`);
      }
      return r.queue.replay({ tenantId: tenant, agentId, endpointIds: on, withoutEndpoint: true, status, which }, now);
    });
  }

  /**
   * Calls `listener` for every change of this process's deliveries of the
   * tenant (one agent's, or all) and every agent of the tenant whose webhook
   * Herald turned off. Returns the unsubscribe.
   */
  watch(tenant: string, agentId: string, listener: (event: WatchEvent) => void, endpointId = ''): () => void {
    if (agentId !== '') checkAgentId('agent_id', agentId);
    // Checked by its form only: a stream may be opened before the endpoint exists here, and an unknown id streams nothing.
    if (endpointId !== '') checkEndpointId('endpoint_id', endpointId);
    const offChanged = this.feed.on('deliveryChanged', ({ change }) => {
      const d = change.delivery;
      if (d.tenantId === tenant && (agentId === '' || d.agentId === agentId) && (endpointId === '' || d.endpointId === endpointId)) listener({ kind: 'changed', change });
    });
    const offDisabled = this.feed.on('agentDisabled', ({ disabled }) => {
      if (disabled.tenantId === tenant && (agentId === '' || disabled.agentId === agentId)) listener({ kind: 'agentDisabled', disabled });
    });
    return () => {
      offChanged();
      offDisabled();
    };
  }
}
