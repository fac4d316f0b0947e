/**
 * One endpoint's health figures for GetEndpointStats: counts and attempt
 * latencies over a period, and what is true now (last outcomes, queue
 * depth). Reads only; served by the (tenant, endpoint, created_at) index.
 */
import { attemptLatencies } from './delivery-repository.js';
import type { PrismaTx } from './sql.js';

export interface EndpointStats {
  /** Deliveries created in the period that ended SUCCEEDED and FAILED. */
  readonly succeeded: number;
  readonly failed: number;
  /** Attempts of those deliveries. */
  readonly attempts: number;
  /** Attempt duration percentiles over the period, ms; 0 without attempts. */
  readonly p50LatencyMs: number;
  readonly p95LatencyMs: number;
  /** When a delivery to the endpoint last ended SUCCEEDED and FAILED, at any time; null when never. */
  readonly lastSuccessAt: Date | null;
  readonly lastFailureAt: Date | null;
  /** Deliveries waiting now: PENDING (deferred and digests included) and DELIVERING. */
  readonly queueDepth: number;
}

export class EndpointStatsRepository {
  constructor(private readonly tx: PrismaTx) {}

  async stats(tenantId: string, endpointId: string, since: Date): Promise<EndpointStats> {
    const period = { tenantId, endpointId, createdAt: { gte: since } };
    const succeeded = await this.tx.delivery.count({ where: { ...period, status: 'SUCCEEDED' } });
    const failed = await this.tx.delivery.count({ where: { ...period, status: 'FAILED' } });
    const attemptWhere = { delivery: period };
    const attempts = await this.tx.deliveryAttempt.count({ where: attemptWhere });
    const latencies = await attemptLatencies(this.tx, attemptWhere, attempts);
    const last = async (status: 'SUCCEEDED' | 'FAILED'): Promise<Date | null> => {
      const row = await this.tx.delivery.findFirst({ where: { tenantId, endpointId, status }, orderBy: { completedAt: 'desc' }, select: { completedAt: true } });
      return row?.completedAt ?? null;
    };
    const queueDepth = await this.tx.delivery.count({ where: { tenantId, endpointId, status: { in: ['PENDING', 'DELIVERING'] } } });
    return {
      succeeded,
      failed,
      attempts,
      ...latencies,
      lastSuccessAt: await last('SUCCEEDED'),
      lastFailureAt: await last('FAILED'),
      queueDepth,
    };
  }
}
