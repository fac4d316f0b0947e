/**
 * The delivery queue's statements: claim, extend, settle, release, replay.
 * Everything a worker writes about a delivery it holds goes through here,
 * one statement per method, each written once for both databases except
 * the claim and the wait, whose two forms stand side by side; the rest of
 * the deliveries table (inserts, reads, stats) is in delivery-repository.ts.
 *
 * Two rules shape every statement:
 *
 * - **Fairness is a condition of the claim.** A claim never takes a row that
 *   would give its endpoint (an endpoint of an agent of a tenant: the cap,
 *   the counts and the locks below are all per tenant, agent and endpoint,
 *   so that one slow endpoint never holds back its agent's others) more than
 *   `agentMaxInFlight` live leases, counted
 *   across every process. On SQLite the store runs one operation at a time,
 *   so counting and claiming in one statement is enough. On PostgreSQL two
 *   replicas could count the same leases at once and both claim up to the
 *   cap; so a claim first takes a transaction-scoped advisory lock on each
 *   endpoint it will claim for (`pg_try_advisory_xact_lock`, skipping endpoints
 *   another replica is claiming for right now, as SKIP LOCKED skips rows),
 *   and only then, in a later statement whose snapshot sees every committed
 *   claim, counts that endpoint's live leases and claims the rest of its cap.
 *   Alternatives weighed: a lock on the agent's preferences row would make
 *   claims wait behind preferences updates and does not exist for agents
 *   without one; an in-flight counter column must be decremented on every
 *   settle and drifts when a worker dies (its leases expire, its counter
 *   does not). Counting live leases needs no repair after a crash.
 * - **Order is a condition of the claim too.** A delivery of a PER_KEY
 *   endpoint is not claimed while an earlier-numbered delivery of its
 *   endpoint and key is unfinished ({@link heldByOrder}). It is checked
 *   where the cap is, before the scan's bound (a backlog held by its order
 *   does not hide the rows behind it), and on PostgreSQL after the
 *   endpoint's lock, in the statement that claims: a claim for the endpoint
 *   that committed earlier is seen, so two replicas never send two
 *   deliveries of one key at once, and one claim never takes two of a key
 *   (the later one sees the earlier still PENDING). No lock in memory.
 * - **One clock on PostgreSQL.** Leases and "due" are compared with the
 *   database's `now()` (`queueNow` in sql.ts), so replicas whose clocks
 *   disagree neither take over live leases nor send early. SQLite is one
 *   process: its clock is the process clock passed in as `now` (tests inject it).
 */
import type { Delivery, DeliveryStatus, EventType } from '../domain/types.js';
import type { NextState } from '../domain/settlement.js';
import { DELIVERIES, toDelivery, WITHOUT_BODY, type DeliveryRow } from './rows/deliveries.js';
import { at, later, Prisma, queueNow, queueNowPlus, type Dialect, type PrismaTx } from './sql.js';
import { heldByOrder } from './ordering-repository.js';
import type { TxFacts } from './tx-facts.js';

/** A delivery taken by a worker: the body to send and the attempt number this claim counted. */
export interface ClaimedDelivery extends Delivery {
  readonly body: string;
  /** Attempts made before the current schedule began (a replay starts a new one): the retry budget counts from here. */
  readonly attemptBase: number;
  /** Until when this claim holds the delivery, on the claiming process's clock (see below). */
  readonly leaseExpiresAt: Date;
  /** The W3C `traceparent` stored with the delivery (see NewDelivery.traceParent), or null. */
  readonly traceParent: string | null;
}

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
  /** The endpoints whose deliveries are replayed (at least one): one, or every endpoint of the agent that is on. */
  readonly endpointIds: readonly string[];
  /** Also deliveries that have no endpoint (an agent-wide replay). */
  readonly withoutEndpoint?: boolean;
  readonly status: ReplayableStatus;
  readonly which: ReplayWindow | ReplayOne;
}

/** A successful attempt to settle in the batched form of {@link DeliveryQueue.settleSucceeded}. */
export interface Success {
  /** The delivery as its claim returned it: while the lease holds, nothing else writes its row, so it is not read again. */
  readonly delivery: Delivery;
  readonly owner: string;
  readonly statusCode: number | null;
}

/**
 * Seed of the claim's advisory-lock keys (64-bit `hashtextextended`). The
 * agent locks of group commits (Repositories.lockAgents) hash the same text
 * with seed 0, so the two sets of keys are independent: a claim does not
 * skip an agent just because one of its notifications is being created. 64
 * bits, not `hashtext`'s 32, so that a tenant cannot search out an agent id
 * whose key collides with another tenant's agent and hold up its claims.
 */
const CLAIM_LOCK_SPACE = 0x4845_5244; // "HERD"

/** `agentKey` (domain/agent-key.ts) in SQL, over a row's columns; the claim's lock adds the endpoint key. */
const AGENT_KEY_SQL = Prisma.sql`tenant_id || ':' || agent_id`;

/**
 * The endpoint a row's in-flight cap counts under, within its agent: the
 * endpoint id, or '' for a delivery of an agent without endpoints (so that
 * grouping and comparing never meet a NULL).
 */
const ENDPOINT_KEY_SQL = Prisma.sql`COALESCE(endpoint_id, '')`;

/**
 * {@link ENDPOINT_KEY_SQL} = a locked endpoint key `a.ek`, spelt so that
 * PostgreSQL estimates it from the column's statistics (a COALESCE gets a
 * fixed guess of a few rows, and then a plan that checks every row of the
 * endpoint, the ordering condition included, instead of walking them in due
 * order until the claim has enough). No endpoint id is ''.
 */
const SAME_ENDPOINT = Prisma.sql`(endpoint_id = a.ek OR (a.ek = '' AND endpoint_id IS NULL))`;

/**
 * Due rows one claim looks at, per row wanted, to find agents with room: the
 * look is bounded (a backlog of a million rows is not read per claim), and
 * agents at their cap are left out of it before the bound applies.
 */
const SCAN_FACTOR = 8;
const SCAN_MAX = 10_000;

/** A claim counts its attempt (a worker that dies mid-send has used it); a claim settled or released unsent gives it back. */
const TAKE_ATTEMPT = Prisma.sql`attempt_count = attempt_count + 1`;
const GIVE_BACK_ATTEMPT = Prisma.sql`attempt_count = attempt_count - 1`;
/** Only the holder of a live claim may write: the fence of every write after a send. */
function heldBy(owner: string): Prisma.Sql {
  return Prisma.sql`lease_owner = ${owner} AND status = 'DELIVERING'`;
}

/** A claimed delivery as {@link DeliveryQueue.settleSucceeded} leaves its row: just the Delivery fields, without what only the claim carries (the body above all). */
function succeeded(d: Delivery, statusCode: number | null, now: Date): Delivery {
  return {
    id: d.id, tenantId: d.tenantId, agentId: d.agentId, notificationId: d.notificationId, endpointId: d.endpointId, eventType: d.eventType,
    status: 'SUCCEEDED', attemptCount: d.attemptCount, nextAttemptAt: d.nextAttemptAt, lastStatusCode: statusCode, lastError: null,
    createdAt: d.createdAt, updatedAt: now, completedAt: now, ordering: d.ordering,
  };
}

/**
 * A claimed row as the worker sees it. `leaseExpiresAt` is given on the
 * claiming process's clock (claim time + lease), so that the worker can tell
 * how much of its lease is left without comparing its clock with the
 * database's.
 */
function claimed(row: DeliveryRow, now: Date, leaseMs: number): ClaimedDelivery {
  return { ...toDelivery(row), body: row.body, attemptBase: row.attemptBase, leaseExpiresAt: new Date(now.getTime() + leaseMs), traceParent: row.traceParent };
}

function claimedInDueOrder(raw: ReadonlyArray<Record<string, unknown>>, now: Date, leaseMs: number): ClaimedDelivery[] {
  return raw
    .map((r) => DELIVERIES.decode(r))
    .sort((a, b) => a.nextAttemptAt.getTime() - b.nextAttemptAt.getTime())
    .map((row) => claimed(row, now, leaseMs));
}

export class DeliveryQueue {
  constructor(
    private readonly tx: PrismaTx,
    private readonly dialect: Dialect,
    private readonly facts: TxFacts,
  ) {}

  /**
   * Claims up to `limit` due deliveries for `owner`, at most as many per
   * endpoint as its cap leaves room for, oldest due first, counting the attempt
   * now: a worker that dies mid-send has still used the attempt, so a poison
   * delivery cannot crash workers forever (the dispatcher fails a claim past
   * the attempt budget unsent).
   *
   * SQLite, in one statement: the store runs it alone, so counting, picking
   * and claiming need no locks. Agents at their cap are left out before the
   * scan's bound applies; each other agent gets its oldest due rows, as many
   * as its live leases leave room for; of those, the oldest `limit` are
   * claimed. PostgreSQL, in two statements of one transaction (see the
   * module comment): lock the agents with room and due rows, then claim
   * their rows.
   */
  async claimDue(owner: string, o: ClaimOptions): Promise<ClaimedDelivery[]> {
    if (o.limit <= 0) return [];
    const cap = o.agentMaxInFlight;
    const now = queueNow(this.dialect, o.now);
    const scan = Math.min(SCAN_MAX, o.limit * SCAN_FACTOR);
    if (this.dialect === 'sqlite') {
      const rows = await this.tx.$queryRaw<Array<Record<string, unknown>>>`
        WITH live AS (
          SELECT tenant_id, agent_id, ${ENDPOINT_KEY_SQL} AS ek, count(*) AS n FROM deliveries
           WHERE status = 'DELIVERING' AND lease_expires_at >= ${now}
           GROUP BY tenant_id, agent_id, ek
        ), due AS (
          SELECT d.id, d.tenant_id, d.agent_id, COALESCE(d.endpoint_id, '') AS ek, d.next_attempt_at FROM deliveries d
           WHERE ((d.status = 'PENDING' AND d.next_attempt_at <= ${now}) OR (d.status = 'DELIVERING' AND d.lease_expires_at < ${now}))
             AND NOT ${heldByOrder('d')}
             AND NOT EXISTS (SELECT 1 FROM live l WHERE l.tenant_id = d.tenant_id AND l.agent_id = d.agent_id AND l.ek = COALESCE(d.endpoint_id, '') AND l.n >= ${cap})
           ORDER BY d.next_attempt_at
           LIMIT ${scan}
        ), ranked AS (
          SELECT due.id, due.next_attempt_at,
                 COALESCE(l.n, 0) + row_number() OVER (PARTITION BY due.tenant_id, due.agent_id, due.ek ORDER BY due.next_attempt_at, due.id) AS k
            FROM due LEFT JOIN live l ON l.tenant_id = due.tenant_id AND l.agent_id = due.agent_id AND l.ek = due.ek
        ), picked AS (
          SELECT id FROM ranked WHERE k <= ${cap} ORDER BY next_attempt_at LIMIT ${o.limit}
        )
        UPDATE deliveries
           SET status = 'DELIVERING', lease_owner = ${owner}, lease_expires_at = ${queueNowPlus(this.dialect, o.now, o.leaseMs)},
               ${TAKE_ATTEMPT}, updated_at = ${o.now}
         WHERE id IN (SELECT id FROM picked)
        RETURNING ${DELIVERIES.list()}`;
      this.facts.claimed(rows.length);
      return claimedInDueOrder(rows, o.now, o.leaseMs);
    }
    // Materialised CTEs keep the volatile lock function out of the scans:
    // it is called once per candidate agent, in order, until `limit` agents are locked.
    const locked = await this.tx.$queryRaw<Array<{ tenant_id: string; agent_id: string; ek: string }>>`
      WITH busy AS MATERIALIZED (
        SELECT tenant_id, agent_id, ${ENDPOINT_KEY_SQL} AS ek FROM deliveries
         WHERE status = 'DELIVERING' AND lease_expires_at >= ${now}
         GROUP BY tenant_id, agent_id, ek HAVING count(*) >= ${cap}
      ), due AS MATERIALIZED (
        -- Due rows and expired leases apart, each walked in due order on the (status, next_attempt_at)
        -- index and cut at the bound: with one OR, PostgreSQL scans every row of the table and checks
        -- each against the order, which cost a backlog held by its order its size on every claim.
        (SELECT tenant_id, agent_id, ${ENDPOINT_KEY_SQL} AS ek, next_attempt_at FROM deliveries d
          WHERE status = 'PENDING' AND next_attempt_at <= ${now}
            AND (tenant_id, agent_id, ${ENDPOINT_KEY_SQL}) NOT IN (SELECT tenant_id, agent_id, ek FROM busy)
            AND NOT ${heldByOrder('d')}
          ORDER BY next_attempt_at
          LIMIT ${scan})
        UNION ALL
        (SELECT tenant_id, agent_id, ${ENDPOINT_KEY_SQL} AS ek, next_attempt_at FROM deliveries d
          WHERE status = 'DELIVERING' AND lease_expires_at < ${now}
            AND (tenant_id, agent_id, ${ENDPOINT_KEY_SQL}) NOT IN (SELECT tenant_id, agent_id, ek FROM busy)
            AND NOT ${heldByOrder('d')}
          ORDER BY next_attempt_at
          LIMIT ${scan})
      ), targets AS MATERIALIZED (
        SELECT tenant_id, agent_id, ek, min(next_attempt_at) AS first_due FROM due GROUP BY tenant_id, agent_id, ek ORDER BY first_due
      )
      SELECT tenant_id, agent_id, ek FROM targets
       WHERE pg_try_advisory_xact_lock(hashtextextended(${AGENT_KEY_SQL} || ':' || ek, ${CLAIM_LOCK_SPACE}))
       LIMIT ${o.limit}`;
    if (locked.length === 0) return [];
    // A new statement, so a new snapshot: every claim for these endpoints that
    // committed before we got their locks is counted, and no other claim for
    // them can start until this transaction ends.
    const rows = await this.tx.$queryRaw<Array<Record<string, unknown>>>`
      WITH locked AS (
        SELECT * FROM unnest(${locked.map((l) => l.tenant_id)}::text[], ${locked.map((l) => l.agent_id)}::text[], ${locked.map((l) => l.ek)}::text[]) AS a(tenant_id, agent_id, ek)
      ), live AS (
        SELECT tenant_id, agent_id, ${ENDPOINT_KEY_SQL} AS ek, count(*)::int AS n FROM deliveries
         WHERE status = 'DELIVERING' AND lease_expires_at >= ${now} AND (tenant_id, agent_id, ${ENDPOINT_KEY_SQL}) IN (SELECT tenant_id, agent_id, ek FROM locked)
         GROUP BY tenant_id, agent_id, ek
      ), picked AS (
        SELECT c.id, c.next_attempt_at FROM locked a
          LEFT JOIN live l ON l.tenant_id = a.tenant_id AND l.agent_id = a.agent_id AND l.ek = a.ek
          CROSS JOIN LATERAL (
            SELECT u.id, u.next_attempt_at, row_number() OVER (ORDER BY u.next_attempt_at, u.id) AS rn FROM (
              (SELECT id, next_attempt_at FROM deliveries p
                WHERE tenant_id = a.tenant_id AND agent_id = a.agent_id AND ${SAME_ENDPOINT} AND status = 'PENDING' AND next_attempt_at <= ${now}
                  AND NOT ${heldByOrder('p')}
                ORDER BY next_attempt_at LIMIT ${cap})
              UNION ALL
              (SELECT id, next_attempt_at FROM deliveries x
                WHERE tenant_id = a.tenant_id AND agent_id = a.agent_id AND ${SAME_ENDPOINT} AND status = 'DELIVERING' AND lease_expires_at < ${now}
                  AND NOT ${heldByOrder('x')}
                ORDER BY next_attempt_at LIMIT ${cap})
            ) u
          ) c
         WHERE c.rn <= ${cap} - COALESCE(l.n, 0)
         ORDER BY c.next_attempt_at
         LIMIT ${o.limit}
      )
      UPDATE deliveries d
         SET status = 'DELIVERING', lease_owner = ${owner}, lease_expires_at = ${queueNowPlus(this.dialect, o.now, o.leaseMs)},
             ${TAKE_ATTEMPT}, updated_at = ${at(this.dialect, o.now)}
        FROM picked
       WHERE d.id = picked.id
         AND ((d.status = 'PENDING' AND d.next_attempt_at <= ${now}) OR (d.status = 'DELIVERING' AND d.lease_expires_at < ${now}))
      RETURNING ${DELIVERIES.list([], 'd')}`;
    this.facts.claimed(rows.length);
    return claimedInDueOrder(rows, o.now, o.leaseMs);
  }

  /**
   * Claims one delivery for a manual retry: PENDING (due or not) or FAILED.
   * Null when it is in another state (or does not exist). Not subject to the
   * agent's cap (an operator asked for it), but its lease counts toward it.
   */
  async claimForRetry(tenantId: string, id: string, owner: string, now: Date, leaseMs: number): Promise<ClaimedDelivery | null> {
    const [raw] = await this.tx.$queryRaw<Array<Record<string, unknown>>>`
      UPDATE deliveries
         SET status = 'DELIVERING', lease_owner = ${owner}, lease_expires_at = ${queueNowPlus(this.dialect, now, leaseMs)},
             ${TAKE_ATTEMPT}, updated_at = ${at(this.dialect, now)}
       WHERE id = ${id} AND tenant_id = ${tenantId} AND status IN ('PENDING', 'FAILED')
      RETURNING ${DELIVERIES.list()}`;
    return raw === undefined ? null : claimed(DELIVERIES.decode(raw), now, leaseMs);
  }

  /**
   * Makes sure the lease `owner` holds lasts at least `minMs` from now (it is
   * never shortened); false when the lease was lost.
   */
  async extendLease(id: string, owner: string, minMs: number, now: Date): Promise<boolean> {
    const count = await this.tx.$executeRaw`
      UPDATE deliveries SET lease_expires_at = ${later(this.dialect, Prisma.sql`lease_expires_at`, queueNowPlus(this.dialect, now, minMs))}
       WHERE id = ${id} AND ${heldBy(owner)}`;
    return count === 1;
  }

  /**
   * Settles a claimed delivery (`attemptMade` false: settled without
   * sending, and the attempt counted at claim is given back) and returns it
   * without its body. Fenced on the lease owner: when another worker has
   * taken the row over (this one was too slow), nothing changes and null is
   * returned.
   */
  async settle(id: string, owner: string, next: NextState, now: Date, attemptMade: boolean): Promise<Delivery | null> {
    const d = this.dialect;
    const schedule =
      next.status === 'PENDING'
        ? Prisma.sql`next_attempt_at = ${later(d, queueNowPlus(d, now, next.retryInMs), at(d, next.notBefore))}`
        : Prisma.sql`completed_at = ${at(d, now)}`;
    const [raw] = await this.tx.$queryRaw<Array<Record<string, unknown>>>`
      UPDATE deliveries
         SET status = ${next.status}, last_status_code = ${next.lastStatusCode}, last_error = ${next.lastError},
             lease_owner = NULL, lease_expires_at = NULL, updated_at = ${at(d, now)}, ${schedule}
             ${attemptMade ? Prisma.empty : Prisma.sql`, ${GIVE_BACK_ATTEMPT}`}
       WHERE id = ${id} AND ${heldBy(owner)}
      RETURNING ${DELIVERIES.list(WITHOUT_BODY)}`;
    return raw === undefined ? null : toDelivery(DELIVERIES.decode(raw, WITHOUT_BODY));
  }

  /**
   * {@link settle} as SUCCEEDED for many deliveries, in one statement per
   * (owner, status code): the worker's common case. Fenced like `settle`:
   * a delivery another worker has taken over is left alone and missing from
   * the result. Only the ids come back: the rest of each settled row is the
   * claimed delivery in hand with the columns this statement set (the fence
   * means no one else wrote the row since the claim), so no row is decoded
   * twice. Raw SQL for the same reason as every statement here: Prisma's
   * cost per returned row is several times the statement's own.
   */
  async settleSucceeded(items: readonly Success[], now: Date): Promise<Map<string, Delivery>> {
    const groups = new Map<string, { owner: string; statusCode: number | null; ids: string[] }>();
    const byId = new Map<string, Success>();
    for (const item of items) {
      byId.set(item.delivery.id, item);
      const key = `${item.statusCode ?? ''}:${item.owner}`;
      let group = groups.get(key);
      if (group === undefined) groups.set(key, (group = { owner: item.owner, statusCode: item.statusCode, ids: [] }));
      group.ids.push(item.delivery.id);
    }
    const settled = new Map<string, Delivery>();
    for (const g of groups.values()) {
      const rows = await this.tx.$queryRaw<Array<{ id: string }>>`
        UPDATE deliveries
           SET status = 'SUCCEEDED', last_status_code = ${g.statusCode}, last_error = NULL, lease_owner = NULL, lease_expires_at = NULL,
               updated_at = ${at(this.dialect, now)}, completed_at = ${at(this.dialect, now)}
         WHERE id IN (${Prisma.join(g.ids)}) AND ${heldBy(g.owner)}
        RETURNING id`;
      for (const { id } of rows) {
        const item = byId.get(id);
        if (item !== undefined) settled.set(id, succeeded(item.delivery, item.statusCode, now));
      }
    }
    return settled;
  }

  /**
   * Gives a claimed delivery back untouched (shutdown aborted its send):
   * PENDING, due now, and the attempt counted at claim is returned.
   */
  async release(id: string, owner: string, now: Date): Promise<boolean> {
    const count = await this.tx.$executeRaw`
      UPDATE deliveries
         SET status = 'PENDING', lease_owner = NULL, lease_expires_at = NULL, next_attempt_at = ${queueNow(this.dialect, now)},
             ${GIVE_BACK_ATTEMPT}, updated_at = ${at(this.dialect, now)}
       WHERE id = ${id} AND ${heldBy(owner)}`;
    return count === 1;
  }

  /**
   * How long until the next PENDING delivery of an agent with room under its
   * cap is due, ms (0 or less: due now); null when there is none. An idle
   * worker sleeps that long; the deliveries of agents at their cap wake it
   * when a send finishes instead. PostgreSQL measures on its own clock.
   */
  async nextDueInMs(now: Date, agentMaxInFlight: number): Promise<number | null> {
    const dueFirst = Prisma.sql`
      FROM deliveries d
       WHERE status = 'PENDING' AND NOT ${heldByOrder('d')}
         AND (tenant_id, agent_id, ${ENDPOINT_KEY_SQL}) NOT IN (
           SELECT tenant_id, agent_id, ${ENDPOINT_KEY_SQL} AS ek FROM deliveries WHERE status = 'DELIVERING' AND lease_expires_at >= ${queueNow(this.dialect, now)}
            GROUP BY tenant_id, agent_id, ek HAVING count(*) >= ${agentMaxInFlight})
       ORDER BY next_attempt_at LIMIT 1`;
    if (this.dialect === 'postgresql') {
      const [row] = await this.tx.$queryRaw<Array<{ ms: number }>>`SELECT (EXTRACT(EPOCH FROM (next_attempt_at - ${queueNow(this.dialect, now)})) * 1000)::float8 AS ms ${dueFirst}`;
      return row === undefined ? null : row.ms;
    }
    const [row] = await this.tx.$queryRaw<Array<Record<string, unknown>>>`SELECT next_attempt_at ${dueFirst}`;
    return row === undefined ? null : DELIVERIES.field(row, 'nextAttemptAt').getTime() - now.getTime();
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
    // A delivery without an endpoint is the agent's: an agent-wide replay takes it, as in 0.2.
    const endpoint = f.withoutEndpoint ? Prisma.sql`(endpoint_id IN (${Prisma.join(f.endpointIds)}) OR endpoint_id IS NULL)` : Prisma.sql`endpoint_id IN (${Prisma.join(f.endpointIds)})`;
    const count = await this.tx.$executeRaw`
      UPDATE deliveries
         SET status = 'PENDING', next_attempt_at = ${queueNow(d, now)}, attempt_base = attempt_count,
             lease_owner = NULL, lease_expires_at = NULL, completed_at = NULL, updated_at = ${at(d, now)}
       WHERE tenant_id = ${f.tenantId} AND agent_id = ${f.agentId} AND status = ${f.status} AND event_type IN (${'notification' satisfies EventType}, ${'digest' satisfies EventType})
         AND ${which} AND ${endpoint}`;
    if (count > 0) this.facts.rescheduled(now);
    return count;
  }
}
