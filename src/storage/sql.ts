/**
 * What every statement of storage/ shares: the transaction type, the
 * dialect, and the few fragments where SQLite and PostgreSQL spell a thing
 * differently (the clock, instants, intervals). A statement that differs by
 * dialect only in these is written once with them; one that differs more
 * keeps both forms side by side in one function.
 */
import { Prisma } from '../generated/prisma/sqlite/client.js';

/** A transaction (or the client itself, for reads outside one). */
export type PrismaTx = Prisma.TransactionClient;

export type Dialect = 'sqlite' | 'postgresql';

/** The database's clock as a UTC timestamp, matching the `timestamp(3)` columns Prisma writes in UTC. */
const PG_NOW = Prisma.sql`(now() AT TIME ZONE 'UTC')`;

/** A process-clock instant as a parameter of the dialect's timestamp columns (PostgreSQL needs the cast where the type is not inferred). */
export function at(dialect: Dialect, d: Date): Prisma.Sql {
  return dialect === 'postgresql' ? Prisma.sql`${d}::timestamp(3)` : Prisma.sql`${d}`;
}

/**
 * "Now" for the queue's leases and due times: the database's clock on
 * PostgreSQL (replicas whose clocks disagree neither take over live leases
 * nor send early), the process clock `now` on SQLite (one process; tests
 * inject it).
 */
export function queueNow(dialect: Dialect, now: Date): Prisma.Sql {
  return dialect === 'postgresql' ? PG_NOW : Prisma.sql`${now}`;
}

/** {@link queueNow} plus `ms` milliseconds. */
export function queueNowPlus(dialect: Dialect, now: Date, ms: number): Prisma.Sql {
  return dialect === 'postgresql'
    ? Prisma.sql`(${PG_NOW} + (${Math.round(ms)}::float8 * interval '1 millisecond'))`
    : Prisma.sql`${new Date(now.getTime() + Math.round(ms))}`;
}

/** The later of two instants (SQLite's two-argument max is its scalar max). */
export function later(dialect: Dialect, a: Prisma.Sql, b: Prisma.Sql): Prisma.Sql {
  return dialect === 'postgresql' ? Prisma.sql`GREATEST(${a}, ${b})` : Prisma.sql`max(${a}, ${b})`;
}

export { Prisma };
