/**
 * Digests: the notifications of one quiet window sent as one delivery. The
 * delivery row (event_type "digest") carries the body; this table keeps what
 * joining needs (the window, the item count, open or full). Every statement
 * here runs in the transaction that decides the notification, under the
 * agent's lock, so a notification is stored and attached at once or not at all.
 */
import type { DigestWindow } from '../domain/types.js';
import type { PendingInserts } from './pending-inserts.js';
import type { PrismaTx } from './sql.js';

/** What a digest collects: a quiet window, or what the hourly limit held back (rate_limit_policy DIGEST). */
export type DigestKind = 'QUIET_HOURS' | 'RATE_LIMITED';

/** A digest notifications may still join, with the body they are appended to. */
export interface OpenDigest {
  readonly id: string;
  readonly window: DigestWindow;
  readonly itemCount: number;
  readonly body: string;
}

export interface NewDigest {
  /** The id of its delivery, which must already be enqueued (the foreign key). */
  readonly id: string;
  readonly tenantId: string;
  readonly agentId: string;
  readonly window: DigestWindow;
  readonly kind: DigestKind;
  /** False when the first notification already fills it (HERALD_DIGEST_MAX_ITEMS=1). */
  readonly open: boolean;
  readonly now: Date;
}

export class DigestRepository {
  /** `pending` is a group commit's held inserts (see pending-inserts.ts), null outside a group. */
  constructor(
    private readonly tx: PrismaTx,
    private readonly pending: PendingInserts | null = null,
  ) {}

  /**
   * The agent's open digest for endpoint `endpointId` (null: a delivery of
   * an agent without endpoints) sent at `windowEnd`, if its delivery is still
   * waiting for its first attempt. Digests are per endpoint: its delivery names it. A delivery once claimed (or retried, or
   * cancelled) is never joined: every attempt sends the same bytes.
   * `orderingKey` (a PER_KEY endpoint's, see src/domain/ordering.ts): only a
   * digest of that key (null: of none), and only while it is the key's latest
   * delivery to the endpoint.
   */
  async findOpen(tenantId: string, agentId: string, endpointId: string | null, kind: DigestKind, windowEnd: Date, orderingKey: string | null = null): Promise<OpenDigest | null> {
    const row = await this.tx.digest.findFirst({
      where: { tenantId, agentId, kind, windowEnd, open: true, delivery: { status: 'PENDING', attemptCount: 0, endpointId, orderingKey } },
      orderBy: { createdAt: 'desc' },
      include: { delivery: { select: { body: true, orderingSeq: true } } },
    });
    if (row === null || !(await this.isLatest(tenantId, endpointId, orderingKey, row.delivery.orderingSeq))) return null;
    return { id: row.id, window: { start: row.windowStart, end: row.windowEnd }, itemCount: row.itemCount, body: row.delivery.body };
  }

  /**
   * When the latest open RATE_LIMITED digest of the agent's endpoint `endpointId` is sent, if one can
   * still take a notification: fewer than `maxItems` in it (a digest filled
   * under a higher HERALD_DIGEST_MAX_ITEMS is still marked open).
   */
  async openRateEnd(tenantId: string, agentId: string, endpointId: string | null, maxItems: number, orderingKey: string | null = null): Promise<Date | null> {
    const row = await this.tx.digest.findFirst({
      where: { tenantId, agentId, kind: 'RATE_LIMITED', open: true, itemCount: { lt: maxItems }, delivery: { status: 'PENDING', attemptCount: 0, endpointId, orderingKey } },
      orderBy: { windowEnd: 'desc' },
      select: { windowEnd: true, delivery: { select: { orderingSeq: true } } },
    });
    if (row === null || !(await this.isLatest(tenantId, endpointId, orderingKey, row.delivery.orderingSeq))) return null;
    return row.windowEnd;
  }

  /**
   * Whether a digest numbered `seq` in `key`'s order is still the key's last
   * delivery: a notification that joined an older one would arrive before a
   * delivery of its key created earlier than it. Always true without a key.
   */
  private async isLatest(tenantId: string, endpointId: string | null, key: string | null, seq: number | null): Promise<boolean> {
    if (key === null || endpointId === null) return true;
    const counter = await this.tx.orderingSequence.findUnique({ where: { tenantId_endpointId_orderingKey: { tenantId, endpointId, orderingKey: key } }, select: { lastSeq: true } });
    return counter !== null && counter.lastSeq === seq;
  }

  async create(d: NewDigest): Promise<void> {
    // In a group commit the digest's delivery may still be held back: write
    // it first, or the foreign key would refuse the digest row.
    await this.pending?.flush(this.tx);
    await this.tx.digest.create({
      data: {
        id: d.id,
        tenantId: d.tenantId,
        agentId: d.agentId,
        windowStart: d.window.start,
        windowEnd: d.window.end,
        itemCount: 1,
        open: d.open,
        kind: d.kind,
        createdAt: d.now,
      },
    });
  }

  /**
   * Writes the digest's new body and count, closing it when `itemCount`
   * reaches `maxItems`. The body changes only while the delivery is PENDING
   * with no attempt:
   * on PostgreSQL a worker's claim and this update lock the same row, so
   * either the claim sends the new body or this finds it claimed. Returns
   * false (and closes the digest) in that second case; the caller opens a
   * new one.
   */
  async join(id: string, body: string, itemCount: number, maxItems: number, now: Date): Promise<boolean> {
    const { count } = await this.tx.delivery.updateMany({ where: { id, status: 'PENDING', attemptCount: 0 }, data: { body, updatedAt: now } });
    await this.tx.digest.update({ where: { id }, data: count === 0 ? { open: false } : { itemCount, open: itemCount < maxItems } });
    return count === 1;
  }

  /** Closes a digest that may no longer grow (full under a lowered HERALD_DIGEST_MAX_ITEMS). */
  async close(id: string): Promise<void> {
    await this.tx.digest.update({ where: { id }, data: { open: false } });
  }
}
