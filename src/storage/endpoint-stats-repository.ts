/**
 * One endpoint's health figures for GetEndpointStats: counts and attempt
 * latencies over a period, and what is true now (last outcomes, queue
 * depth). Reads only; served by the (tenant, endpoint, created_at) index.
 */
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
    // Percentiles by rank: two look-ups instead of loading every duration (as DeliveryRepository.stats).
    const percentile = async (p: number): Promise<number> => {
      if (attempts === 0) return 0;
      const rank = Math.min(attempts - 1, Math.max(0, Math.ceil(p * attempts) - 1));
      const row = await this.tx.deliveryAttempt.findFirst({ where: attemptWhere, orderBy: { durationMs: 'asc' }, skip: rank, select: { durationMs: true } });
      return row?.durationMs ?? 0;
    };
    const last = async (status: 'SUCCEEDED' | 'FAILED'): Promise<Date | null> => {
      const row = await this.tx.delivery.findFirst({ where: { tenantId, endpointId, status }, orderBy: { completedAt: 'desc' }, select: { completedAt: true } });
      return row?.completedAt ?? null;
    };
    const queueDepth = await this.tx.delivery.count({ where: { tenantId, endpointId, status: { in: ['PENDING', 'DELIVERING'] } } });
    return {
      succeeded,
      failed,
      attempts,
      p50LatencyMs: await percentile(0.5),
      p95LatencyMs: await percentile(0.95),
      lastSuccessAt: await last('SUCCEEDED'),
      lastFailureAt: await last('FAILED'),
      queueDepth,
    };
  }
}
