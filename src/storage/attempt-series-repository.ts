/**
 * A tenant's webhook attempts per UTC hour, for the console's overview
 * charts: count, 2xx count and the p50/p95 duration of each hour.
 *
 * The percentiles are computed by the database, on SQLite and PostgreSQL
 * alike, with window functions (ROW_NUMBER and COUNT over each hour): the
 * nearest-rank definition DeliveryRepository.stats uses, exact, and at most
 * one row per hour (24) comes back to the process whatever the traffic, so
 * nothing here holds a day of durations in memory. percentile_cont would
 * interpolate (a different figure from GetDeliveryStats) and SQLite has no
 * equivalent. The cost is the database's: it reads and sorts the window's
 * attempts (delivery_attempts has no index on started_at; retention keeps
 * the table bounded).
 */
import { Prisma } from '../generated/prisma/sqlite/client.js';
import type { HourFigures } from '../domain/attempt-series.js';
import type { Dialect, PrismaTx } from './sql.js';

/** An aggregate as a driver returns it: a number, a BigInt (COUNT, SUM) or null. */
type Figure = number | bigint | string | null;

interface HourRow {
  hour: string;
  attempts: Figure;
  succeeded: Figure;
  p50: Figure;
  p95: Figure;
}

const toNumber = (v: Figure): number => (v === null ? 0 : Number(v));

/**
 * Nearest rank of percentile `percent` among `n` values, 1-based: ceil(percent * n / 100),
 * in integer arithmetic both databases evaluate alike (SQLite's ceil() needs an optional build flag).
 */
function rankOf(percent: number): Prisma.Sql {
  return Prisma.sql`((${Prisma.raw(String(percent))} * n + 99) / 100)`;
}

export class AttemptSeriesRepository {
  constructor(
    private readonly tx: PrismaTx,
    private readonly dialect: Dialect,
  ) {}

  /** The hours in [from, until) with at least one attempt of the tenant's deliveries, oldest first. */
  async hourly(tenantId: string, from: Date, until: Date): Promise<HourFigures[]> {
    // Both give "YYYY-MM-DDTHH" of a UTC timestamp: SQLite stores ISO 8601 text, PostgreSQL timestamp(3) in UTC.
    const hour = this.dialect === 'postgresql' ? Prisma.sql`to_char(a.started_at, 'YYYY-MM-DD"T"HH24')` : Prisma.sql`substr(a.started_at, 1, 13)`;
    const bound = (d: Date): Prisma.Sql => (this.dialect === 'postgresql' ? Prisma.sql`${d}::timestamp(3)` : Prisma.sql`${d}`);
    const rows = await this.tx.$queryRaw<HourRow[]>`
      WITH recent AS (
        SELECT ${hour} AS hour, a.duration_ms AS ms, CASE WHEN a.status_code BETWEEN 200 AND 299 THEN 1 ELSE 0 END AS ok
        FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id
        WHERE d.tenant_id = ${tenantId} AND a.started_at >= ${bound(from)} AND a.started_at < ${bound(until)}
      ), ranked AS (
        SELECT hour, ms, ok, ROW_NUMBER() OVER (PARTITION BY hour ORDER BY ms) AS rn, COUNT(*) OVER (PARTITION BY hour) AS n FROM recent
      )
      SELECT hour, COUNT(*) AS attempts, SUM(ok) AS succeeded,
        MAX(CASE WHEN rn = ${rankOf(50)} THEN ms END) AS p50,
        MAX(CASE WHEN rn = ${rankOf(95)} THEN ms END) AS p95
      FROM ranked GROUP BY hour ORDER BY hour`;
    return rows.map((r) => ({
      hourStart: new Date(`${r.hour}:00:00.000Z`),
      attempts: toNumber(r.attempts),
      succeeded: toNumber(r.succeeded),
      p50Ms: toNumber(r.p50),
      p95Ms: toNumber(r.p95),
    }));
  }
}
