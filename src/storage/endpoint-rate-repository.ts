/**
 * An endpoint's own hourly limit (an endpoint whose overrides set
 * `max_notifications_per_hour`): the same one-seek bookkeeping as the
 * agent's (rate-repository.ts), over the endpoint's deliveries instead of the
 * agent's notifications. The endpoint row keeps its last number
 * (`rate_last_seq`); each counted delivery its number and `counted_at`,
 * unique per (tenant, endpoint, rate_seq). Callers that decide MUST hold the
 * endpoint's agent's lock (an endpoint belongs to one agent), in the
 * transaction that stores the result: concurrent creates then take numbers
 * one by one, so the limit stays exact.
 */
import type { RateWindow } from '../domain/decision.js';
import type { PendingInserts } from './pending-inserts.js';
import type { PrismaTx } from './sql.js';

export class EndpointRateRepository {
  /** `pending` is a group commit's held inserts (pending-inserts.ts), null outside a group. */
  constructor(
    private readonly tx: PrismaTx,
    private readonly pending: PendingInserts | null = null,
  ) {}

  /** The two instants the limit check needs for an endpoint limited to `limit` webhooks per rolling hour. */
  async window(tenantId: string, endpointId: string, limit: number): Promise<RateWindow> {
    const row = await this.tx.endpoint.findUnique({ where: { tenantId_id: { tenantId, id: endpointId } }, select: { rateLastSeq: true } });
    const lastSeq = row?.rateLastSeq ?? 0;
    if (lastSeq === 0) return { edge: null, last: null };
    const last = await this.countedAt(tenantId, endpointId, lastSeq);
    const edgeSeq = lastSeq - limit + 1;
    const edge = edgeSeq < 1 ? null : edgeSeq === lastSeq ? last : await this.countedAt(tenantId, endpointId, edgeSeq);
    return { edge, last };
  }

  /** The window as it stood at a past instant (EvaluateNotification); walks back from the newest, creates never call it. */
  async windowAt(tenantId: string, endpointId: string, limit: number, at: Date): Promise<RateWindow> {
    const lastRow = await this.tx.delivery.findFirst({
      where: { tenantId, endpointId, rateSeq: { not: null }, countedAt: { lte: at } },
      orderBy: { rateSeq: 'desc' },
      select: { rateSeq: true, countedAt: true },
    });
    if (lastRow === null || lastRow.rateSeq === null) return { edge: null, last: null };
    const edgeSeq = lastRow.rateSeq - limit + 1;
    return { edge: edgeSeq < 1 ? null : await this.countedAt(tenantId, endpointId, edgeSeq), last: lastRow.countedAt };
  }

  /** Takes the endpoint's next number (1 for its first counted delivery). */
  async next(tenantId: string, endpointId: string): Promise<number> {
    const row = await this.tx.endpoint.update({ where: { tenantId_id: { tenantId, id: endpointId } }, data: { rateLastSeq: { increment: 1 } }, select: { rateLastSeq: true } });
    return row.rateLastSeq;
  }

  // A number whose row is gone was deleted by retention, days after it left the window: it is not in it.
  private async countedAt(tenantId: string, endpointId: string, rateSeq: number): Promise<Date | null> {
    // The number may be an earlier create's of the same group, not written yet (pending-inserts.ts).
    const held = this.pending?.deliveryCountedAt(tenantId, endpointId, rateSeq);
    if (held !== undefined) return held;
    const row = await this.tx.delivery.findUnique({ where: { tenantId_endpointId_rateSeq: { tenantId, endpointId, rateSeq } }, select: { countedAt: true } });
    return row?.countedAt ?? null;
  }
}
