/**
 * Use cases of deliveries: inspect them, retry one by hand, send a test
 * webhook, count them, and follow their changes live.
 */
import { randomUUID } from 'node:crypto';
import type { Dispatcher } from '../delivery/dispatcher.js';
import type { DeliveryChange, DeliveryEvents } from '../delivery/events.js';
import { testPayload } from '../domain/payload.js';
import type { Delivery, DeliveryAttempt, DeliveryStatus } from '../domain/types.js';
import { checkAgentId, checkText, pageSize } from '../domain/validation.js';
import { FailedPreconditionError, NotFoundError } from '../errors.js';
import { newDeliveryId } from '../ids.js';
import type { Store } from '../storage/database.js';
import type { DeliveryFilters, DeliveryStats } from '../storage/delivery-repository.js';
import { pageNewestFirst } from '../storage/page-token.js';

export interface DeliveryDetail extends Delivery {
  readonly attempts: readonly DeliveryAttempt[];
}

export interface TestResult {
  readonly deliveryId: string;
  readonly success: boolean;
  readonly statusCode: number | null;
  readonly durationMs: number;
  readonly error: string | null;
}

export interface DeliveryServiceOptions {
  readonly leaseMs: number;
  readonly clock: () => Date;
}

const DAY_MS = 86_400_000;

export class DeliveryService {
  constructor(
    private readonly store: Store,
    private readonly dispatcher: Dispatcher,
    private readonly events: DeliveryEvents,
    private readonly options: DeliveryServiceOptions,
  ) {}

  async get(id: string): Promise<DeliveryDetail> {
    checkText('id', id, 1, 100);
    const found = await this.store.read(async (r) => {
      const delivery = await r.deliveries.get(id);
      return delivery === null ? null : { ...delivery, attempts: await r.deliveries.attempts(id) };
    });
    if (found === null) throw new NotFoundError(`delivery "${id}"`);
    return found;
  }

  async list(agentId: string, status: DeliveryStatus | null, requestedPageSize: number, pageToken: string): Promise<{ items: Delivery[]; nextPageToken: string }> {
    if (agentId !== '') checkAgentId('agent_id', agentId);
    const size = pageSize('page_size', requestedPageSize);
    const filters: DeliveryFilters = { agentId: agentId === '' ? null : agentId, status };
    return pageNewestFirst(pageToken, filters, size, (limit, after) => this.store.read((r) => r.deliveries.list(filters, limit, after)));
  }

  /**
   * One new attempt now for a PENDING or FAILED delivery. A failed retry of
   * a FAILED delivery leaves it FAILED; a PENDING one keeps its schedule.
   */
  async retry(id: string): Promise<{ delivery: DeliveryDetail; attempt: DeliveryAttempt | null }> {
    checkText('id', id, 1, 100);
    const owner = `manual:${randomUUID()}`;
    const now = this.options.clock();
    const claimed = await this.store.write(async (r) => {
      const before = await r.deliveries.get(id);
      if (before === null) throw new NotFoundError(`delivery "${id}"`);
      const row = await r.deliveries.claimForRetry(id, owner, now, new Date(now.getTime() + this.options.leaseMs));
      if (row === null) {
        throw new FailedPreconditionError(
          `delivery "${id}" is ${before.status}; only PENDING or FAILED deliveries can be retried${before.status === 'DELIVERING' ? ' (it is being sent right now)' : ''}`,
        );
      }
      return { row, wasFailed: before.status === 'FAILED' };
    });
    const outcome = await this.dispatcher.attempt(claimed.row, owner, 'MANUAL', claimed.wasFailed ? 'fail' : 'schedule');
    return { delivery: await this.get(id), attempt: outcome.attempt };
  }

  /** Sends a signed `test` event to the agent's URL now and records it as a delivery (trigger TEST). */
  async sendTest(agentId: string): Promise<TestResult> {
    checkAgentId('agent_id', agentId);
    const owner = `test:${randomUUID()}`;
    const now = this.options.clock();
    const id = newDeliveryId(now.getTime());
    const claimed = await this.store.write(async (r) => {
      const prefs = await r.preferences.get(agentId);
      if (prefs === null) throw new NotFoundError(`preferences for agent "${agentId}"`);
      if (prefs.webhookUrl === null) throw new FailedPreconditionError(`agent "${agentId}" has no webhook_url to test; set one with UpdatePreferences`);
      return r.deliveries.enqueueClaimed(
        { id, agentId, notificationId: null, eventType: 'test', body: testPayload(agentId, id, now), nextAttemptAt: now, now },
        owner,
        new Date(now.getTime() + this.options.leaseMs),
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
  async stats(agentId: string, since: Date | null): Promise<DeliveryStats & { since: Date; total: number; successRate: number }> {
    if (agentId !== '') checkAgentId('agent_id', agentId);
    const from = since ?? new Date(this.options.clock().getTime() - DAY_MS);
    const stats = await this.store.read((r) => r.deliveries.stats(agentId === '' ? null : agentId, from));
    const { SUCCEEDED, FAILED } = stats.byStatus;
    const total = Object.values(stats.byStatus).reduce((a, b) => a + b, 0);
    return { ...stats, since: from, total, successRate: SUCCEEDED + FAILED === 0 ? 0 : SUCCEEDED / (SUCCEEDED + FAILED) };
  }

  /** Calls `listener` for every change of this process's deliveries (one agent's, or all). Returns the unsubscribe. */
  watch(agentId: string, listener: (change: DeliveryChange) => void): () => void {
    if (agentId !== '') checkAgentId('agent_id', agentId);
    return this.events.onChanged((change) => {
      if (agentId === '' || change.delivery.agentId === agentId) listener(change);
    });
  }
}
