import type { Delivery as Row, DeliveryAttempt as AttemptRow, Prisma } from '../generated/prisma/sqlite/client.js';
import type { AttemptTrigger, Delivery, DeliveryAttempt, DeliveryStatus, EventType } from '../domain/types.js';
import { olderThan, type TimeCursor } from './page-token.js';
import type { Dialect, PrismaTx } from './repositories.js';

function toDomain(row: Row): Delivery {
  return {
    id: row.id,
    agentId: row.agentId,
    notificationId: row.notificationId,
    eventType: row.eventType as EventType,
    status: row.status as DeliveryStatus,
    attemptCount: row.attemptCount,
    nextAttemptAt: row.nextAttemptAt,
    lastStatusCode: row.lastStatusCode,
    lastError: row.lastError,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    completedAt: row.completedAt,
  };
}

function attemptToDomain(row: AttemptRow): DeliveryAttempt {
  return {
    number: row.number,
    startedAt: row.startedAt,
    durationMs: row.durationMs,
    statusCode: row.statusCode,
    errorClass: row.errorClass,
    errorMessage: row.errorMessage,
    responseExcerpt: row.responseExcerpt,
    trigger: row.trigger as AttemptTrigger,
    url: row.url,
  };
}

/** The PostgreSQL LISTEN/NOTIFY channel announcing new deliveries. */
export const ENQUEUED_CHANNEL = 'herald_delivery_enqueued';

/** A delivery taken by a worker: the body to send and the attempt number this claim counted. */
export interface ClaimedDelivery extends Delivery {
  readonly body: string;
  /** Until when this claim holds the delivery. */
  readonly leaseExpiresAt: Date | null;
}

export interface NewDelivery {
  readonly id: string;
  readonly agentId: string;
  readonly notificationId: string | null;
  readonly eventType: EventType;
  readonly body: string;
  readonly nextAttemptAt: Date;
  readonly now: Date;
}

export interface DeliveryFilters {
  readonly agentId: string | null;
  readonly status: DeliveryStatus | null;
}

export interface AttemptRecord extends DeliveryAttempt {
  readonly id: string;
  readonly deliveryId: string;
}

/** Where a finished attempt leaves the delivery. */
export type Settlement =
  | { readonly status: 'SUCCEEDED' | 'FAILED' | 'CANCELLED'; readonly lastStatusCode: number | null; readonly lastError: string | null }
  | { readonly status: 'PENDING'; readonly nextAttemptAt: Date; readonly lastStatusCode: number | null; readonly lastError: string | null };

export interface DeliveryStats {
  readonly byStatus: Readonly<Record<DeliveryStatus, number>>;
  readonly attempts: number;
  readonly p50LatencyMs: number;
  readonly p95LatencyMs: number;
}

/** A row is claimable when due and PENDING, or DELIVERING under a lease that has run out (its worker died). */
function claimable(now: Date): Prisma.DeliveryWhereInput {
  return {
    OR: [
      { status: 'PENDING', nextAttemptAt: { lte: now } },
      { status: 'DELIVERING', leaseExpiresAt: { lt: now } },
    ],
  };
}

export class DeliveryRepository {
  constructor(
    private readonly tx: PrismaTx,
    private readonly dialect: Dialect,
  ) {}

  private insert(d: NewDelivery, claim: { owner: string; leaseUntil: Date } | null) {
    return this.tx.delivery.create({
      data: {
        id: d.id,
        agentId: d.agentId,
        notificationId: d.notificationId,
        eventType: d.eventType,
        body: d.body,
        nextAttemptAt: d.nextAttemptAt,
        createdAt: d.now,
        updatedAt: d.now,
        ...(claim === null
          ? { status: 'PENDING' }
          : { status: 'DELIVERING', attemptCount: 1, leaseOwner: claim.owner, leaseExpiresAt: claim.leaseUntil }),
      },
    });
  }

  async enqueue(d: NewDelivery): Promise<Delivery> {
    const row = await this.insert(d, null);
    // Other replicas' workers wake on this at commit (never before: NOTIFY
    // is transactional), so their latency does not depend on the poll.
    if (this.dialect === 'postgresql') await this.tx.$executeRaw`SELECT pg_notify(${ENQUEUED_CHANNEL}, '')`;
    return toDomain(row);
  }

  /** Inserts a delivery already claimed by `owner` (a test webhook sent at once), its first attempt counted. */
  async enqueueClaimed(d: NewDelivery, owner: string, leaseUntil: Date): Promise<ClaimedDelivery> {
    const row = await this.insert(d, { owner, leaseUntil });
    return { ...toDomain(row), body: row.body, leaseExpiresAt: row.leaseExpiresAt };
  }

  async get(id: string): Promise<Delivery | null> {
    const row = await this.tx.delivery.findUnique({ where: { id } });
    return row === null ? null : toDomain(row);
  }

  async attempts(deliveryId: string): Promise<DeliveryAttempt[]> {
    const rows = await this.tx.deliveryAttempt.findMany({ where: { deliveryId }, orderBy: { number: 'asc' } });
    return rows.map(attemptToDomain);
  }

  /** Newest first; `after` is the (created_at, id) of the last row of the previous page. */
  async list(filters: DeliveryFilters, limit: number, after: TimeCursor | null): Promise<Delivery[]> {
    const where: Prisma.DeliveryWhereInput = {};
    if (filters.agentId !== null) where.agentId = filters.agentId;
    if (filters.status !== null) where.status = filters.status;
    const rows = await this.tx.delivery.findMany({
      where: after === null ? where : { AND: [where, olderThan(after)] },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: limit,
    });
    return rows.map(toDomain);
  }

  /**
   * Claims up to `limit` due deliveries for `owner` until `leaseUntil`,
   * counting the attempt now: a worker that dies mid-send has still used
   * the attempt, so a poison delivery cannot crash workers forever (the
   * dispatcher fails a claim past the attempt budget unsent).
   *
   * The update re-checks claimability, so two claimers can never both win
   * the same row (on SQLite claims are also serialised by the store).
   */
  async claimDue(owner: string, now: Date, leaseUntil: Date, limit: number): Promise<ClaimedDelivery[]> {
    if (this.dialect === 'postgresql') return this.claimDueSkipLocked(owner, now, leaseUntil, limit);
    const candidates = await this.tx.delivery.findMany({
      where: claimable(now),
      orderBy: { nextAttemptAt: 'asc' },
      take: limit,
      select: { id: true },
    });
    if (candidates.length === 0) return [];
    // The update re-checks claimability, so a row claimed by someone else
    // since the select is left alone.
    const rows = await this.tx.delivery.updateManyAndReturn({
      where: { AND: [{ id: { in: candidates.map((c) => c.id) } }, claimable(now)] },
      data: { status: 'DELIVERING', leaseOwner: owner, leaseExpiresAt: leaseUntil, attemptCount: { increment: 1 }, updatedAt: now },
    });
    return rows.sort((a, b) => a.nextAttemptAt.getTime() - b.nextAttemptAt.getTime()).map((row) => ({ ...toDomain(row), body: row.body, leaseExpiresAt: row.leaseExpiresAt }));
  }

  /**
   * PostgreSQL: one statement that locks due rows, skipping rows another
   * replica is claiming at this moment, so replicas never wait on each other
   * or take the same row.
   */
  private async claimDueSkipLocked(owner: string, now: Date, leaseUntil: Date, limit: number): Promise<ClaimedDelivery[]> {
    const ids = await this.tx.$queryRaw<Array<{ id: string }>>`
      UPDATE deliveries
         SET status = 'DELIVERING', lease_owner = ${owner}, lease_expires_at = ${leaseUntil}::timestamp(3),
             attempt_count = attempt_count + 1, updated_at = ${now}::timestamp(3)
       WHERE id IN (
         SELECT id FROM deliveries
          WHERE (status = 'PENDING' AND next_attempt_at <= ${now}::timestamp(3))
             OR (status = 'DELIVERING' AND lease_expires_at < ${now}::timestamp(3))
          ORDER BY next_attempt_at
          LIMIT ${limit}
          FOR UPDATE SKIP LOCKED)
      RETURNING id`;
    if (ids.length === 0) return [];
    const rows = await this.tx.delivery.findMany({ where: { id: { in: ids.map((r) => r.id) } }, orderBy: { nextAttemptAt: 'asc' } });
    return rows.map((row) => ({ ...toDomain(row), body: row.body, leaseExpiresAt: row.leaseExpiresAt }));
  }

  /**
   * Claims one delivery for a manual retry: PENDING (due or not) or FAILED.
   * Null when it is in another state (or does not exist).
   */
  claimForRetry(id: string, owner: string, now: Date, leaseUntil: Date): Promise<ClaimedDelivery | null> {
    return this.claimRow(id, { status: { in: ['PENDING', 'FAILED'] } }, owner, now, leaseUntil);
  }

  private async claimRow(id: string, condition: Prisma.DeliveryWhereInput, owner: string, now: Date, leaseUntil: Date): Promise<ClaimedDelivery | null> {
    const [row] = await this.tx.delivery.updateManyAndReturn({
      where: { AND: [{ id }, condition] },
      data: { status: 'DELIVERING', leaseOwner: owner, leaseExpiresAt: leaseUntil, attemptCount: { increment: 1 }, updatedAt: now },
    });
    return row === undefined ? null : { ...toDomain(row), body: row.body, leaseExpiresAt: row.leaseExpiresAt };
  }

  /** Pushes the lease of a row `owner` still holds to `leaseUntil`; false when the lease was lost. */
  async extendLease(id: string, owner: string, leaseUntil: Date): Promise<boolean> {
    const { count } = await this.tx.delivery.updateMany({
      where: { id, leaseOwner: owner, status: 'DELIVERING' },
      data: { leaseExpiresAt: leaseUntil },
    });
    return count === 1;
  }

  async recordAttempt(a: AttemptRecord): Promise<void> {
    await this.tx.deliveryAttempt.create({
      data: {
        id: a.id,
        deliveryId: a.deliveryId,
        number: a.number,
        startedAt: a.startedAt,
        durationMs: a.durationMs,
        statusCode: a.statusCode,
        errorClass: a.errorClass,
        errorMessage: a.errorMessage,
        responseExcerpt: a.responseExcerpt,
        trigger: a.trigger,
        url: a.url,
      },
    });
  }

  /**
   * Settles a claimed delivery (`attemptMade` false: settled without sending)
   * and returns it. Fenced on the lease owner: when another worker has taken
   * the row over (this one was too slow), nothing changes and null is returned.
   */
  async settle(id: string, owner: string, s: Settlement, now: Date, attemptMade = true): Promise<Delivery | null> {
    const final = s.status !== 'PENDING';
    const rows = await this.tx.delivery.updateManyAndReturn({
      where: { id, leaseOwner: owner, status: 'DELIVERING' },
      data: {
        status: s.status,
        lastStatusCode: s.lastStatusCode,
        lastError: s.lastError,
        leaseOwner: null,
        leaseExpiresAt: null,
        updatedAt: now,
        // Settled without sending: the attempt counted at claim is given back.
        ...(attemptMade ? {} : { attemptCount: { decrement: 1 } }),
        ...(final ? { completedAt: now } : { nextAttemptAt: s.nextAttemptAt }),
      },
    });
    const row = rows[0];
    return row === undefined ? null : toDomain(row);
  }

  /**
   * Gives a claimed delivery back untouched (shutdown aborted its send):
   * PENDING, due now, and the attempt counted at claim is returned.
   */
  async release(id: string, owner: string, now: Date): Promise<boolean> {
    const { count } = await this.tx.delivery.updateMany({
      where: { id, leaseOwner: owner, status: 'DELIVERING' },
      data: { status: 'PENDING', leaseOwner: null, leaseExpiresAt: null, nextAttemptAt: now, attemptCount: { decrement: 1 }, updatedAt: now },
    });
    return count === 1;
  }

  /** Cancels an agent's deliveries that are waiting (not the ones in flight) and returns them. */
  async cancelPending(agentId: string, reason: string, now: Date): Promise<Delivery[]> {
    const rows = await this.tx.delivery.updateManyAndReturn({
      where: { agentId, status: 'PENDING' },
      data: { status: 'CANCELLED', lastError: reason, completedAt: now, updatedAt: now },
    });
    return rows.map(toDomain);
  }

  /** The earliest next_attempt_at of a PENDING delivery, so an idle worker knows when to wake. */
  async nextDueAt(): Promise<Date | null> {
    const row = await this.tx.delivery.findFirst({ where: { status: 'PENDING' }, orderBy: { nextAttemptAt: 'asc' }, select: { nextAttemptAt: true } });
    return row?.nextAttemptAt ?? null;
  }

  async stats(agentId: string | null, since: Date): Promise<DeliveryStats> {
    const where: Prisma.DeliveryWhereInput = { createdAt: { gte: since }, ...(agentId === null ? {} : { agentId }) };
    const groups = await this.tx.delivery.groupBy({ by: ['status'], where, _count: { _all: true } });
    const byStatus: Record<DeliveryStatus, number> = { PENDING: 0, DELIVERING: 0, SUCCEEDED: 0, FAILED: 0, CANCELLED: 0 };
    for (const g of groups) byStatus[g.status as DeliveryStatus] = g._count._all;
    const attemptWhere: Prisma.DeliveryAttemptWhereInput = { delivery: where };
    const attempts = await this.tx.deliveryAttempt.count({ where: attemptWhere });
    // Percentiles by rank: two indexed look-ups instead of loading every duration.
    const percentile = async (p: number): Promise<number> => {
      if (attempts === 0) return 0;
      const rank = Math.min(attempts - 1, Math.max(0, Math.ceil(p * attempts) - 1));
      const row = await this.tx.deliveryAttempt.findFirst({ where: attemptWhere, orderBy: { durationMs: 'asc' }, skip: rank, select: { durationMs: true } });
      return row?.durationMs ?? 0;
    };
    return { byStatus, attempts, p50LatencyMs: await percentile(0.5), p95LatencyMs: await percentile(0.95) };
  }
}
