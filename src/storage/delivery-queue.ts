/**
 * The delivery queue's statements: claim, extend, settle, release, replay.
 * Everything a worker writes about a delivery it holds goes through here;
 * the rest of the deliveries table (inserts, reads, stats) is in
 * delivery-repository.ts.
 *
 * Two rules shape every statement:
 *
 * - **Fairness is a condition of the claim.** A claim never takes a row that
 *   would give its agent (an agent id within a tenant: the cap, the counts
 *   and the locks below are all per tenant and agent) more than
 *   `agentMaxInFlight` live leases, counted
 *   across every process. On SQLite the store runs one operation at a time,
 *   so counting and claiming in one transaction is enough. On PostgreSQL two
 *   replicas could count the same leases at once and both claim up to the
 *   cap; so a claim first takes a transaction-scoped advisory lock on each
 *   agent it will claim for (`pg_try_advisory_xact_lock`, skipping agents
 *   another replica is claiming for right now, as SKIP LOCKED skips rows),
 *   and only then, in a later statement whose snapshot sees every committed
 *   claim, counts that agent's live leases and claims the rest of its cap.
 *   Alternatives weighed: a lock on the agent's preferences row would make
 *   claims wait behind preferences updates and does not exist for agents
 *   without one; an in-flight counter column must be decremented on every
 *   settle and drifts when a worker dies (its leases expire, its counter
 *   does not). Counting live leases needs no repair after a crash.
 * - **One clock on PostgreSQL.** Leases and "due" are compared with the
 *   database's `now()`, so replicas whose clocks disagree neither take over
 *   live leases nor send early. SQLite is one process: its clock is the
 *   process clock passed in as `now` (tests inject it).
 */
import { Prisma, type Delivery as Row } from '../generated/prisma/sqlite/client.js';
import type { Delivery, DeliveryStatus, EventType } from '../domain/types.js';
import { ENQUEUED_CHANNEL, toDomain, type ClaimedDelivery, type RowWithoutBody } from './delivery-repository.js';
import type { Dialect, PrismaTx } from './repositories.js';

/** Where a finished attempt leaves the delivery. */
export type Settlement =
  | { readonly status: 'SUCCEEDED' | 'FAILED' | 'CANCELLED'; readonly lastStatusCode: number | null; readonly lastError: string | null }
  | {
      readonly status: 'PENDING';
      /** Due this long after now (the database's now on PostgreSQL), ms... */
      readonly retryInMs: number;
      /** ...but never before this instant (a manual retry must not pull a deferred delivery forward). */
      readonly notBefore: Date;
      readonly lastStatusCode: number | null;
      readonly lastError: string | null;
    };

export interface ClaimOptions {
  /** The process clock; used as the database clock on SQLite only. */
  readonly now: Date;
  readonly leaseMs: number;
  /** Rows to claim at most. */
  readonly limit: number;
  /** Live leases one agent may hold at once, across every process. */
  readonly agentMaxInFlight: number;
}

/** Statuses that ReplayDeliveries may schedule again. */
export const REPLAYABLE_STATUSES = ['FAILED', 'CANCELLED'] as const satisfies readonly DeliveryStatus[];
export type ReplayableStatus = (typeof REPLAYABLE_STATUSES)[number];

/** Deliveries created at or after `since` and before `until` (ReplayDeliveries after an outage). */
export interface ReplayWindow {
  readonly since: Date;
  readonly until: Date;
}

/** The one delivery with this id (the console's Replay button): creation times are not unique. */
export interface ReplayOne {
  readonly id: string;
}

export interface ReplayFilter {
  readonly tenantId: string;
  readonly agentId: string;
  readonly status: ReplayableStatus;
  readonly which: ReplayWindow | ReplayOne;
}

/**
 * Seed of the claim's advisory-lock keys (64-bit `hashtextextended`). The
 * agent locks of `Repositories.lockAgent` hash the same text with seed 0, so
 * the two sets of keys are independent: a claim does not skip an agent just
 * because one of its notifications is being created. 64 bits, not
 * `hashtext`'s 32, so that a tenant cannot search out an agent id whose key
 * collides with another tenant's agent and hold up its claims.
 */
const CLAIM_LOCK_SPACE = 0x4845_5244; // "HERD"

/** `agentLockKey` (repositories.ts) in SQL, over a row's columns: the claim's lock is per tenant and agent. */
const AGENT_LOCK_KEY_SQL = Prisma.sql`tenant_id || ':' || agent_id`;

/**
 * Due rows one claim looks at, per row wanted, to find agents with room: the
 * look is bounded (a backlog of a million rows is not read per claim), and
 * agents at their cap are left out of it before the bound applies.
 */
const SCAN_FACTOR = 8;
const SCAN_MAX = 10_000;

/** The database's clock as a UTC timestamp, matching the `timestamp(3)` columns Prisma writes in UTC. */
const PG_NOW = Prisma.sql`(now() AT TIME ZONE 'UTC')`;

/** A process-clock instant as a parameter of the dialect's timestamp columns. */
function at(dialect: Dialect, d: Date): Prisma.Sql {
  return dialect === 'postgresql' ? Prisma.sql`${d}::timestamp(3)` : Prisma.sql`${d}`;
}

function ms(value: number): Prisma.Sql {
  return Prisma.sql`(${Math.round(value)}::float8 * interval '1 millisecond')`;
}

/** A row as `RETURNING` gives it: column names, not Prisma's field names. */
interface RawRow {
  id: string;
  tenant_id: string;
  agent_id: string;
  notification_id: string | null;
  event_type: string;
  body: string;
  status: string;
  attempt_count: number;
  attempt_base: number;
  next_attempt_at: Date;
  lease_owner: string | null;
  lease_expires_at: Date | null;
  last_status_code: number | null;
  last_error: string | null;
  created_at: Date;
  updated_at: Date;
  completed_at: Date | null;
}

/** Every column but the body, for the settles' RETURNING: the worker already holds the body, and it is most of the row. */
const COLUMNS_WITHOUT_BODY = Prisma.raw(
  'id, tenant_id, agent_id, notification_id, event_type, status, attempt_count, attempt_base, next_attempt_at, lease_owner, lease_expires_at, last_status_code, last_error, created_at, updated_at, completed_at',
);

/** Every column, for the claims' RETURNING (the worker sends the body). */
const ALL_COLUMNS = Prisma.raw(`body, ${COLUMNS_WITHOUT_BODY.sql}`);

function fromRaw(r: RawRow): Row;
function fromRaw(r: Omit<RawRow, 'body'>): RowWithoutBody;
function fromRaw(r: Omit<RawRow, 'body'> & { body?: string }): RowWithoutBody & { body?: string } {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    agentId: r.agent_id,
    notificationId: r.notification_id,
    eventType: r.event_type,
    ...(r.body === undefined ? {} : { body: r.body }),
    status: r.status,
    attemptCount: r.attempt_count,
    attemptBase: r.attempt_base,
    nextAttemptAt: r.next_attempt_at,
    leaseOwner: r.lease_owner,
    leaseExpiresAt: r.lease_expires_at,
    lastStatusCode: r.last_status_code,
    lastError: r.last_error,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    completedAt: r.completed_at,
  };
}

/**
 * A claimed row as the worker sees it. `leaseExpiresAt` is given on the
 * claiming process's clock (claim time + lease), so that the worker can tell
 * how much of its lease is left without comparing its clock with the
 * database's.
 */
function claimed(row: Row, now: Date, leaseMs: number): ClaimedDelivery {
  return { ...toDomain(row), body: row.body, attemptBase: row.attemptBase, leaseExpiresAt: new Date(now.getTime() + leaseMs) };
}

export class DeliveryQueue {
  constructor(
    private readonly tx: PrismaTx,
    private readonly dialect: Dialect,
  ) {}

  /**
   * Claims up to `limit` due deliveries for `owner`, at most as many per
   * agent as its cap leaves room for, oldest due first, counting the attempt
   * now: a worker that dies mid-send has still used the attempt, so a poison
   * delivery cannot crash workers forever (the dispatcher fails a claim past
   * the attempt budget unsent).
   */
  async claimDue(owner: string, o: ClaimOptions): Promise<ClaimedDelivery[]> {
    if (o.limit <= 0) return [];
    return this.dialect === 'postgresql' ? this.claimDuePostgres(owner, o) : this.claimDueSqlite(owner, o);
  }

  /**
   * SQLite, in one statement: the store runs it alone, so counting, picking
   * and claiming need no locks. Agents at their cap are left out before the
   * scan's bound applies; each other agent gets its oldest due rows, as many
   * as its live leases leave room for; of those, the oldest `limit` are
   * claimed and returned with their bodies. Written as raw SQL because
   * Prisma's three statements (count, pick, update and return) cost about
   * three times its CPU per claim.
   */
  private async claimDueSqlite(owner: string, o: ClaimOptions): Promise<ClaimedDelivery[]> {
    const cap = o.agentMaxInFlight;
    const now = o.now;
    const rows = await this.tx.$queryRaw<RawRow[]>`
      WITH live AS (
        SELECT tenant_id, agent_id, count(*) AS n FROM deliveries
         WHERE status = 'DELIVERING' AND lease_expires_at >= ${now}
         GROUP BY tenant_id, agent_id
      ), due AS (
        SELECT d.id, d.tenant_id, d.agent_id, d.next_attempt_at FROM deliveries d
         WHERE ((d.status = 'PENDING' AND d.next_attempt_at <= ${now}) OR (d.status = 'DELIVERING' AND d.lease_expires_at < ${now}))
           AND NOT EXISTS (SELECT 1 FROM live l WHERE l.tenant_id = d.tenant_id AND l.agent_id = d.agent_id AND l.n >= ${cap})
         ORDER BY d.next_attempt_at
         LIMIT ${Math.min(SCAN_MAX, o.limit * SCAN_FACTOR)}
      ), ranked AS (
        SELECT due.id, due.next_attempt_at,
               COALESCE(l.n, 0) + row_number() OVER (PARTITION BY due.tenant_id, due.agent_id ORDER BY due.next_attempt_at, due.id) AS k
          FROM due LEFT JOIN live l ON l.tenant_id = due.tenant_id AND l.agent_id = due.agent_id
      ), picked AS (
        SELECT id FROM ranked WHERE k <= ${cap} ORDER BY next_attempt_at LIMIT ${o.limit}
      )
      UPDATE deliveries
         SET status = 'DELIVERING', lease_owner = ${owner}, lease_expires_at = ${new Date(now.getTime() + o.leaseMs)},
             attempt_count = attempt_count + 1, updated_at = ${now}
       WHERE id IN (SELECT id FROM picked)
      RETURNING ${ALL_COLUMNS}`;
    return rows
      .map((r) => fromRaw(r))
      .sort((a, b) => a.nextAttemptAt.getTime() - b.nextAttemptAt.getTime())
      .map((row) => claimed(row, o.now, o.leaseMs));
  }

  /**
   * PostgreSQL, in two statements of one transaction (see the module
   * comment): lock the agents with room and due rows, then claim their rows.
   */
  private async claimDuePostgres(owner: string, o: ClaimOptions): Promise<ClaimedDelivery[]> {
    const cap = o.agentMaxInFlight;
    // Materialised CTEs keep the volatile lock function out of the scans:
    // it is called once per candidate agent, in order, until `limit` agents
    // are locked.
    const locked = await this.tx.$queryRaw<Array<{ tenant_id: string; agent_id: string }>>`
      WITH busy AS MATERIALIZED (
        SELECT tenant_id, agent_id FROM deliveries
         WHERE status = 'DELIVERING' AND lease_expires_at >= ${PG_NOW}
         GROUP BY tenant_id, agent_id HAVING count(*) >= ${cap}
      ), due AS MATERIALIZED (
        SELECT tenant_id, agent_id, next_attempt_at FROM deliveries
         WHERE ((status = 'PENDING' AND next_attempt_at <= ${PG_NOW}) OR (status = 'DELIVERING' AND lease_expires_at < ${PG_NOW}))
           AND (tenant_id, agent_id) NOT IN (SELECT tenant_id, agent_id FROM busy)
         ORDER BY next_attempt_at
         LIMIT ${Math.min(SCAN_MAX, o.limit * SCAN_FACTOR)}
      ), agents AS MATERIALIZED (
        SELECT tenant_id, agent_id, min(next_attempt_at) AS first_due FROM due GROUP BY tenant_id, agent_id ORDER BY first_due
      )
      SELECT tenant_id, agent_id FROM agents
       WHERE pg_try_advisory_xact_lock(hashtextextended(${AGENT_LOCK_KEY_SQL}, ${CLAIM_LOCK_SPACE}))
       LIMIT ${o.limit}`;
    if (locked.length === 0) return [];
    const tenants = locked.map((l) => l.tenant_id);
    const agents = locked.map((l) => l.agent_id);
    // A new statement, so a new snapshot: every claim for these agents that
    // committed before we got their locks is counted, and no other claim for
    // them can start until this transaction ends.
    const rows = await this.tx.$queryRaw<RawRow[]>`
      WITH locked AS (
        SELECT * FROM unnest(${tenants}::text[], ${agents}::text[]) AS a(tenant_id, agent_id)
      ), live AS (
        SELECT tenant_id, agent_id, count(*)::int AS n FROM deliveries
         WHERE status = 'DELIVERING' AND lease_expires_at >= ${PG_NOW} AND (tenant_id, agent_id) IN (SELECT tenant_id, agent_id FROM locked)
         GROUP BY tenant_id, agent_id
      ), picked AS (
        SELECT c.id, c.next_attempt_at FROM locked a
          LEFT JOIN live l ON l.tenant_id = a.tenant_id AND l.agent_id = a.agent_id
          CROSS JOIN LATERAL (
            SELECT u.id, u.next_attempt_at, row_number() OVER (ORDER BY u.next_attempt_at, u.id) AS rn FROM (
              (SELECT id, next_attempt_at FROM deliveries
                WHERE tenant_id = a.tenant_id AND agent_id = a.agent_id AND status = 'PENDING' AND next_attempt_at <= ${PG_NOW}
                ORDER BY next_attempt_at LIMIT ${cap})
              UNION ALL
              (SELECT id, next_attempt_at FROM deliveries
                WHERE tenant_id = a.tenant_id AND agent_id = a.agent_id AND status = 'DELIVERING' AND lease_expires_at < ${PG_NOW}
                ORDER BY next_attempt_at LIMIT ${cap})
            ) u
          ) c
         WHERE c.rn <= ${cap} - COALESCE(l.n, 0)
         ORDER BY c.next_attempt_at
         LIMIT ${o.limit}
      )
      UPDATE deliveries d
         SET status = 'DELIVERING', lease_owner = ${owner}, lease_expires_at = ${PG_NOW} + ${ms(o.leaseMs)},
             attempt_count = d.attempt_count + 1, updated_at = ${o.now}::timestamp(3)
        FROM picked
       WHERE d.id = picked.id
         AND ((d.status = 'PENDING' AND d.next_attempt_at <= ${PG_NOW}) OR (d.status = 'DELIVERING' AND d.lease_expires_at < ${PG_NOW}))
      RETURNING d.*`;
    return rows
      .map((r) => fromRaw(r))
      .sort((a, b) => a.nextAttemptAt.getTime() - b.nextAttemptAt.getTime())
      .map((row) => claimed(row, o.now, o.leaseMs));
  }

  /**
   * Claims one delivery for a manual retry: PENDING (due or not) or FAILED.
   * Null when it is in another state (or does not exist). Not subject to the
   * agent's cap (an operator asked for it), but its lease counts toward it.
   */
  async claimForRetry(tenantId: string, id: string, owner: string, now: Date, leaseMs: number): Promise<ClaimedDelivery | null> {
    if (this.dialect === 'postgresql') {
      const [raw] = await this.tx.$queryRaw<RawRow[]>`
        UPDATE deliveries
           SET status = 'DELIVERING', lease_owner = ${owner}, lease_expires_at = ${PG_NOW} + ${ms(leaseMs)},
               attempt_count = attempt_count + 1, updated_at = ${now}::timestamp(3)
         WHERE id = ${id} AND tenant_id = ${tenantId} AND status IN ('PENDING', 'FAILED')
        RETURNING *`;
      return raw === undefined ? null : claimed(fromRaw(raw), now, leaseMs);
    }
    const [row] = await this.tx.delivery.updateManyAndReturn({
      where: { id, tenantId, status: { in: ['PENDING', 'FAILED'] } },
      data: { status: 'DELIVERING', leaseOwner: owner, leaseExpiresAt: new Date(now.getTime() + leaseMs), attemptCount: { increment: 1 }, updatedAt: now },
    });
    return row === undefined ? null : claimed(row, now, leaseMs);
  }

  /**
   * Makes sure the lease `owner` holds lasts at least `minMs` from now (it is
   * never shortened); false when the lease was lost.
   */
  async extendLease(id: string, owner: string, minMs: number, now: Date): Promise<boolean> {
    if (this.dialect === 'postgresql') {
      const count = await this.tx.$executeRaw`
        UPDATE deliveries SET lease_expires_at = GREATEST(lease_expires_at, ${PG_NOW} + ${ms(minMs)})
         WHERE id = ${id} AND lease_owner = ${owner} AND status = 'DELIVERING'`;
      return count === 1;
    }
    const { count } = await this.tx.delivery.updateMany({
      where: { id, leaseOwner: owner, status: 'DELIVERING' },
      data: { leaseExpiresAt: new Date(now.getTime() + minMs) },
    });
    return count === 1;
  }

  /**
   * Settles a claimed delivery (`attemptMade` false: settled without sending)
   * and returns it. Fenced on the lease owner: when another worker has taken
   * the row over (this one was too slow), nothing changes and null is returned.
   */
  async settle(id: string, owner: string, s: Settlement, now: Date, attemptMade = true): Promise<Delivery | null> {
    if (s.status === 'PENDING' && this.dialect === 'postgresql') {
      const [raw] = await this.tx.$queryRaw<Array<Omit<RawRow, 'body'>>>`
        UPDATE deliveries
           SET status = 'PENDING', last_status_code = ${s.lastStatusCode}, last_error = ${s.lastError},
               lease_owner = NULL, lease_expires_at = NULL, updated_at = ${now}::timestamp(3),
               next_attempt_at = GREATEST(${PG_NOW} + ${ms(s.retryInMs)}, ${s.notBefore}::timestamp(3)),
               attempt_count = attempt_count - ${attemptMade ? 0 : 1}
         WHERE id = ${id} AND lease_owner = ${owner} AND status = 'DELIVERING'
        RETURNING ${COLUMNS_WITHOUT_BODY}`;
      return raw === undefined ? null : toDomain(fromRaw(raw));
    }
    const rows = await this.tx.delivery.updateManyAndReturn({
      where: { id, leaseOwner: owner, status: 'DELIVERING' },
      omit: { body: true },
      data: {
        status: s.status,
        lastStatusCode: s.lastStatusCode,
        lastError: s.lastError,
        leaseOwner: null,
        leaseExpiresAt: null,
        updatedAt: now,
        // Settled without sending: the attempt counted at claim is given back.
        ...(attemptMade ? {} : { attemptCount: { decrement: 1 } }),
        ...(s.status === 'PENDING'
          ? { nextAttemptAt: new Date(Math.max(now.getTime() + s.retryInMs, s.notBefore.getTime())) }
          : { completedAt: now }),
      },
    });
    const row = rows[0];
    return row === undefined ? null : toDomain(row);
  }

  /**
   * Settles many claimed deliveries as SUCCEEDED in one statement per
   * (owner, status code): the batched form of {@link settle} for the worker's
   * common case. Fenced on the lease owner like `settle`: a delivery another
   * worker has taken over is left alone and missing from the result.
   */
  async settleSucceeded(items: ReadonlyArray<{ readonly id: string; readonly owner: string; readonly statusCode: number | null }>, now: Date): Promise<Map<string, Delivery>> {
    const groups = new Map<string, { owner: string; statusCode: number | null; ids: string[] }>();
    for (const item of items) {
      const key = `${item.owner}\u0000${String(item.statusCode)}`;
      const group = groups.get(key) ?? { owner: item.owner, statusCode: item.statusCode, ids: [] };
      group.ids.push(item.id);
      groups.set(key, group);
    }
    const settled = new Map<string, Delivery>();
    for (const g of groups.values()) {
      // Raw SQL: Prisma's cost per returned row is several times the statement's own.
      const rows = await this.tx.$queryRaw<Array<Omit<RawRow, 'body'>>>`
        UPDATE deliveries
           SET status = 'SUCCEEDED', last_status_code = ${g.statusCode}, last_error = NULL, lease_owner = NULL, lease_expires_at = NULL,
               updated_at = ${at(this.dialect, now)}, completed_at = ${at(this.dialect, now)}
         WHERE id IN (${Prisma.join(g.ids)}) AND lease_owner = ${g.owner} AND status = 'DELIVERING'
        RETURNING ${COLUMNS_WITHOUT_BODY}`;
      for (const row of rows) settled.set(row.id, toDomain(fromRaw(row)));
    }
    return settled;
  }

  /**
   * Gives a claimed delivery back untouched (shutdown aborted its send):
   * PENDING, due now, and the attempt counted at claim is returned.
   */
  async release(id: string, owner: string, now: Date): Promise<boolean> {
    if (this.dialect === 'postgresql') {
      const count = await this.tx.$executeRaw`
        UPDATE deliveries
           SET status = 'PENDING', lease_owner = NULL, lease_expires_at = NULL, next_attempt_at = ${PG_NOW},
               attempt_count = attempt_count - 1, updated_at = ${now}::timestamp(3)
         WHERE id = ${id} AND lease_owner = ${owner} AND status = 'DELIVERING'`;
      return count === 1;
    }
    const { count } = await this.tx.delivery.updateMany({
      where: { id, leaseOwner: owner, status: 'DELIVERING' },
      data: { status: 'PENDING', leaseOwner: null, leaseExpiresAt: null, nextAttemptAt: now, attemptCount: { decrement: 1 }, updatedAt: now },
    });
    return count === 1;
  }

  /**
   * How long until the next PENDING delivery of an agent with room under its
   * cap is due, ms (0 or less: due now); null when there is none. An idle
   * worker sleeps that long; the deliveries of agents at their cap wake it
   * when a send finishes instead.
   */
  async nextDueInMs(now: Date, agentMaxInFlight: number): Promise<number | null> {
    if (this.dialect === 'postgresql') {
      const [row] = await this.tx.$queryRaw<Array<{ ms: number }>>`
        SELECT (EXTRACT(EPOCH FROM (next_attempt_at - ${PG_NOW})) * 1000)::float8 AS ms FROM deliveries
         WHERE status = 'PENDING'
           AND (tenant_id, agent_id) NOT IN (
             SELECT tenant_id, agent_id FROM deliveries WHERE status = 'DELIVERING' AND lease_expires_at >= ${PG_NOW}
              GROUP BY tenant_id, agent_id HAVING count(*) >= ${agentMaxInFlight})
         ORDER BY next_attempt_at LIMIT 1`;
      return row === undefined ? null : row.ms;
    }
    const [row] = await this.tx.$queryRaw<Array<{ next_attempt_at: Date }>>`
      SELECT next_attempt_at FROM deliveries
       WHERE status = 'PENDING'
         AND (tenant_id, agent_id) NOT IN (
           SELECT tenant_id, agent_id FROM deliveries WHERE status = 'DELIVERING' AND lease_expires_at >= ${now}
            GROUP BY tenant_id, agent_id HAVING count(*) >= ${agentMaxInFlight})
       ORDER BY next_attempt_at LIMIT 1`;
    return row === undefined ? null : new Date(row.next_attempt_at).getTime() - now.getTime();
  }

  /**
   * Schedules an agent's finished notification and digest deliveries again (see
   * ReplayDeliveries): PENDING, due now, with a fresh retry budget (the
   * attempts so far stay recorded and numbered). Returns how many: with
   * `which.id`, 1 or 0 (not in `status` any more, or not this agent's).
   */
  async replay(f: ReplayFilter, now: Date): Promise<number> {
    const d = this.dialect;
    const w = f.which;
    const which = 'id' in w ? Prisma.sql`id = ${w.id}` : Prisma.sql`created_at >= ${at(d, w.since)} AND created_at < ${at(d, w.until)}`;
    const count = await this.tx.$executeRaw`
      UPDATE deliveries
         SET status = 'PENDING', next_attempt_at = ${d === 'postgresql' ? PG_NOW : at(d, now)}, attempt_base = attempt_count,
             lease_owner = NULL, lease_expires_at = NULL, completed_at = NULL, updated_at = ${at(d, now)}
       WHERE tenant_id = ${f.tenantId} AND agent_id = ${f.agentId} AND status = ${f.status} AND event_type IN (${'notification' satisfies EventType}, ${'digest' satisfies EventType})
         AND ${which}`;
    if (count > 0 && this.dialect === 'postgresql') await this.tx.$executeRaw`SELECT pg_notify(${ENQUEUED_CHANNEL}, '')`;
    return count;
  }
}
