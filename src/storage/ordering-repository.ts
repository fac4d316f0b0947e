/**
 * Ordered delivery's bookkeeping (see src/domain/ordering.ts): the per
 * (endpoint, key) sequence, and what holds a delivery back. The condition
 * that holds one back is written once here ({@link heldByOrder}) and used by
 * the claim (delivery-queue.ts), GetDelivery's `blocked_by` and the metric,
 * so that all three agree on what "held" means.
 */
import type { DeliveryOrdering } from '../domain/types.js';
import { Prisma, type PrismaTx } from './sql.js';

/**
 * True for a row (alias `d`) that has a place in an order while an earlier
 * one of the same endpoint and key is unfinished, or while any other one of
 * them is being sent. PENDING covers due, deferred, digested and waiting for
 * a retry; DELIVERING covers a live lease and an expired one not yet taken
 * over. The second condition matters when an earlier delivery becomes
 * PENDING again behind a later one that its failure released (a replay, a
 * manual retry): it waits for that send to end instead of running beside
 * it, so one key never has two webhooks in flight. Seeks on the deliveries
 * index (tenant_id, endpoint_id, ordering_key, status, ordering_seq),
 * whatever the key's history.
 */
export function heldByOrder(d: string): Prisma.Sql {
  const a = Prisma.raw(d);
  return Prisma.sql`(${a}.ordering_seq IS NOT NULL AND EXISTS (
    SELECT 1 FROM deliveries e
     WHERE e.tenant_id = ${a}.tenant_id AND e.endpoint_id = ${a}.endpoint_id AND e.ordering_key = ${a}.ordering_key
       AND e.id <> ${a}.id
       AND ((e.status IN ('PENDING', 'DELIVERING') AND e.ordering_seq < ${a}.ordering_seq) OR e.status = 'DELIVERING')))`;
}

export class OrderingRepository {
  constructor(private readonly tx: PrismaTx) {}

  /**
   * Takes the next number of `key` on the endpoint (1 for its first). The
   * caller MUST hold the endpoint's agent's lock, in the transaction that
   * stores the delivery: creates of one agent then take numbers one by one,
   * in the order they commit, on every replica. (On PostgreSQL the upsert's
   * row lock would also serialise two writers, but only the agent lock makes
   * the number follow the decision order the rest of the create sees.)
   */
  async next(tenantId: string, endpointId: string, key: string): Promise<DeliveryOrdering> {
    const [row] = await this.tx.$queryRaw<Array<{ last_seq: number | bigint }>>`
      INSERT INTO ordering_sequences (tenant_id, endpoint_id, ordering_key, last_seq) VALUES (${tenantId}, ${endpointId}, ${key}, 1)
      ON CONFLICT (tenant_id, endpoint_id, ordering_key) DO UPDATE SET last_seq = ordering_sequences.last_seq + 1
      RETURNING last_seq`;
    return { key, seq: Number(row!.last_seq) };
  }

  /** The last number given to `key` on the endpoint (0: none yet). */
  async last(tenantId: string, endpointId: string, key: string): Promise<number> {
    const row = await this.tx.orderingSequence.findUnique({ where: { tenantId_endpointId_orderingKey: { tenantId, endpointId, orderingKey: key } }, select: { lastSeq: true } });
    return row?.lastSeq ?? 0;
  }

  /**
   * The delivery that `id` waits behind, as {@link heldByOrder} has it: the
   * earliest unfinished delivery of its endpoint and key, or the one of them
   * being sent; null when `id` is not held, or not in `statuses` (GetDelivery
   * asks for PENDING: what waits; a manual retry also for FAILED: what it
   * would overtake). The earliest, not the nearest: it is the one being sent
   * or retried, which the others all wait for.
   */
  async blockedBy(tenantId: string, id: string, statuses: readonly ('PENDING' | 'FAILED')[] = ['PENDING']): Promise<string | null> {
    const [row] = await this.tx.$queryRaw<Array<{ id: string }>>`
      SELECT e.id FROM deliveries d
        JOIN deliveries e ON e.tenant_id = d.tenant_id AND e.endpoint_id = d.endpoint_id AND e.ordering_key = d.ordering_key AND e.id <> d.id
                         AND ((e.status IN ('PENDING', 'DELIVERING') AND e.ordering_seq < d.ordering_seq) OR e.status = 'DELIVERING')
       WHERE d.id = ${id} AND d.tenant_id = ${tenantId} AND d.status IN (${Prisma.join(statuses)}) AND d.ordering_seq IS NOT NULL
       ORDER BY e.ordering_seq LIMIT 1`;
    return row?.id ?? null;
  }

  /** How many deliveries of `key` to the endpoint are unfinished now (EvaluateNotification's note), counted up to `cap`. */
  async unfinished(tenantId: string, endpointId: string, key: string, cap: number): Promise<number> {
    const [row] = await this.tx.$queryRaw<Array<{ n: number | bigint }>>`
      SELECT count(*) AS n FROM (
        SELECT 1 FROM deliveries WHERE tenant_id = ${tenantId} AND endpoint_id = ${endpointId} AND ordering_key = ${key} AND status IN ('PENDING', 'DELIVERING')
         LIMIT ${cap}) AS u`;
    return Number(row?.n ?? 0);
  }
}
