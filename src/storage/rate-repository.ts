/**
 * The hourly limit's bookkeeping (see src/domain/decision.ts): the agent's
 * last sequence number, and `counted_at` of a counted notification found by
 * its number. Each call is one primary-key or unique-index seek, whatever the
 * agent's volume; callers that decide MUST hold the agent's lock.
 */
import { agentKey, type AgentRef } from '../domain/agent-key.js';
import type { RateWindow } from '../domain/decision.js';
import type { PendingInserts } from './pending-inserts.js';
import type { PrismaTx } from './sql.js';

/** Rows read per statement while looking for the tail `releaseAfter` gives back. */
const RELEASE_BATCH = 200;

export class RateRepository {
  /** The group's agents' last numbers, read by `prefetch` (0: none yet); null outside a group. */
  private known: Map<string, number> | null = null;

  /** `pending` is a group commit's held writes (pending-inserts.ts), null outside a group. */
  constructor(
    private readonly tx: PrismaTx,
    private readonly pending: PendingInserts | null = null,
  ) {}

  /**
   * Reads the counters of a group's agents in one statement, after the group
   * took their locks; `window` and `next` then answer from memory and the
   * new values are written with the group's inserts. Several members of one
   * agent see each other's numbers: `next` moves the value in memory, and
   * `releaseAfter`, which writes the counter itself, drops it.
   */
  async prefetch(agents: readonly AgentRef[]): Promise<void> {
    if (this.pending === null) return;
    const rows = await this.tx.rateCounter.findMany({ where: { OR: agents.map(({ tenantId, agentId }) => ({ tenantId, agentId })) } });
    const known = new Map<string, number>(agents.map((a) => [agentKey(a.tenantId, a.agentId), 0]));
    for (const row of rows) known.set(agentKey(row.tenantId, row.agentId), row.lastSeq);
    this.known = known;
  }

  private async lastSeq(tenantId: string, agentId: string): Promise<number> {
    const known = this.known?.get(agentKey(tenantId, agentId));
    if (known !== undefined) return known;
    const counter = await this.tx.rateCounter.findUnique({ where: { tenantId_agentId: { tenantId, agentId } }, select: { lastSeq: true } });
    return counter?.lastSeq ?? 0;
  }

  /** The two instants `decide` needs for an agent limited to `limit` webhooks per rolling hour. */
  async window(tenantId: string, agentId: string, limit: number): Promise<RateWindow> {
    const lastSeq = await this.lastSeq(tenantId, agentId);
    if (lastSeq === 0) return { edge: null, last: null };
    const last = await this.countedAt(tenantId, agentId, lastSeq);
    const edgeSeq = lastSeq - limit + 1;
    const edge = edgeSeq < 1 ? null : edgeSeq === lastSeq ? last : await this.countedAt(tenantId, agentId, edgeSeq);
    return { edge, last };
  }

  /**
   * The window as it stood at a past instant `at`, for EvaluateNotification:
   * the counted notifications up to the last one counted at or before `at`.
   * It walks the sequence back from the newest, so it costs as many rows as
   * counted after `at`; creates never call it.
   */
  async windowAt(tenantId: string, agentId: string, limit: number, at: Date): Promise<RateWindow> {
    const lastRow = await this.tx.notification.findFirst({
      where: { tenantId, agentId, rateSeq: { not: null }, countedAt: { lte: at } },
      orderBy: { rateSeq: 'desc' },
      select: { rateSeq: true, countedAt: true },
    });
    if (lastRow === null || lastRow.rateSeq === null) return { edge: null, last: null };
    const edgeSeq = lastRow.rateSeq - limit + 1;
    return { edge: edgeSeq < 1 ? null : await this.countedAt(tenantId, agentId, edgeSeq), last: lastRow.countedAt };
  }

  /**
   * How many of the agent's notifications count toward its limit at an
   * instant in (from, to], for showing the use of the limit (the console):
   * a count over the window, so deciding never calls it.
   */
  countedBetween(tenantId: string, agentId: string, from: Date, to: Date): Promise<number> {
    return this.tx.notification.count({ where: { tenantId, agentId, rateSeq: { not: null }, countedAt: { gt: from, lte: to } } });
  }

  /** Takes the agent's next sequence number (1 for its first counted notification). */
  async next(tenantId: string, agentId: string): Promise<number> {
    const key = agentKey(tenantId, agentId);
    const known = this.known?.get(key);
    if (known !== undefined && this.pending !== null) {
      this.known!.set(key, known + 1);
      this.pending.setRateCounter({ tenantId, agentId, lastSeq: known + 1 });
      return known + 1;
    }
    const row = await this.tx.rateCounter.upsert({
      where: { tenantId_agentId: { tenantId, agentId } },
      create: { tenantId, agentId, lastSeq: 1 },
      update: { lastSeq: { increment: 1 } },
      select: { lastSeq: true },
    });
    return row.lastSeq;
  }

  /**
   * Gives back the slots of the agent's notifications counted after `now`
   * (held back by DEFER or a digest, not sent yet), for a caller that has
   * just cancelled every pending delivery of the agent under its lock, in
   * the same transaction: those webhooks will never be sent, so they must
   * not keep the window full. `counted_at` never decreases along the
   * sequence, so they are its tail, and the counter moves back to the number
   * before them: the sequence stays gap-free and `window` stays two seeks.
   * Costs as many rows as it releases. Returns how many it released.
   */
  async releaseAfter(tenantId: string, agentId: string, now: Date): Promise<number> {
    // Walked down from the newest number, so the released tail is all it reads.
    let first: number | null = null;
    let below: number | undefined;
    for (;;) {
      const rows = await this.tx.notification.findMany({
        where: { tenantId, agentId, rateSeq: below === undefined ? { not: null } : { lt: below } },
        orderBy: { rateSeq: 'desc' },
        take: RELEASE_BATCH,
        select: { rateSeq: true, countedAt: true },
      });
      const future = rows.filter((row) => row.countedAt !== null && row.countedAt.getTime() > now.getTime());
      if (future.length > 0) first = future.at(-1)!.rateSeq;
      if (future.length < RELEASE_BATCH) break;
      below = first!;
    }
    if (first === null) return 0;
    const { count } = await this.tx.notification.updateMany({ where: { tenantId, agentId, rateSeq: { gte: first } }, data: { rateSeq: null, countedAt: null } });
    await this.tx.rateCounter.update({ where: { tenantId_agentId: { tenantId, agentId } }, data: { lastSeq: first - 1 } });
    // A group's read-ahead of this agent's counter is stale now (a member that cancels does not also create).
    this.known?.delete(agentKey(tenantId, agentId));
    return count;
  }

  // A number whose row is gone was deleted by retention, days after it left the window: it is not in it.
  private async countedAt(tenantId: string, agentId: string, rateSeq: number): Promise<Date | null> {
    // The number may be an earlier create's of the same group, not written yet (pending-inserts.ts).
    const held = this.pending?.notificationCountedAt(tenantId, agentId, rateSeq);
    if (held !== undefined) return held;
    const row = await this.tx.notification.findUnique({ where: { tenantId_agentId_rateSeq: { tenantId, agentId, rateSeq } }, select: { countedAt: true } });
    return row?.countedAt ?? null;
  }
}
