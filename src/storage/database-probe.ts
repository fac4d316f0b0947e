/**
 * Asks the database whether it answers, on a connection of its own: for the
 * health service (src/health-monitor.ts) and for start-up, which waits a
 * bounded time for the database before giving up (see `waitForDatabase`).
 *
 * Its own connection, not the store's pool: a pool busy with load is not a
 * database fault, and a check queued behind that load would report one.
 * Every step is bounded, so a paused or silent server fails the check
 * within its timeout instead of holding it.
 */
import { statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import type pg from 'pg';
import type { DatabaseConfig } from '../config.js';
import { postgresConnection } from './database.js';
import { storageFault, StorageTimeoutError } from './errors.js';

/**
 * Space a SQLite database must have to grow before writes count as possible
 * again after a full disk: 1 MiB on the file system, and as much below the
 * page cap (or a tenth of the cap, if smaller). Less would let health turn
 * SERVING only to fail the next few writes.
 */
export const SQLITE_SPACE_MARGIN_BYTES = 1024 * 1024;

/** Where a database lives, for messages and logs: host, port and database, or the SQLite path; never credentials. */
export function databaseLabel(config: DatabaseConfig): string {
  if (config.provider === 'sqlite') return config.filePath;
  const url = new URL(config.url);
  return `${url.hostname}${url.port ? `:${url.port}` : ''}${url.pathname}`;
}

/** Rejects with `onTimeout()` if `work` has not settled within `ms`; `work` itself goes on. */
export function within<T>(work: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

export interface DatabaseProbe {
  /** Resolves when the database answers a trivial query within `timeoutMs`; rejects with the reason otherwise. */
  check(timeoutMs: number): Promise<void>;
  /**
   * Resolves when a write could start now: PostgreSQL gives a transaction
   * id (a standby or a server shutting down cannot), SQLite's write lock is
   * free and the file has room to grow (see SQLITE_SPACE_MARGIN_BYTES).
   * Health asks this after writes failed, to see them recover without
   * waiting for client traffic it has turned away.
   */
  checkWrites(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

export interface ProbeOptions {
  /** Opening the connection, ms. */
  readonly connectTimeoutMs: number;
  /** SQLite: the size cap of the store (HERALD_SQLITE_MAX_MB), bytes, when one is set. */
  readonly sqliteMaxBytes?: number | null;
}

/** A probe for `config`'s database; connects lazily, on the first check. */
export function databaseProbe(config: DatabaseConfig, options: ProbeOptions): DatabaseProbe {
  return config.provider === 'postgresql' ? new PostgresProbe(config.url, options) : new SqliteProbe(config.filePath, options);
}

class PostgresProbe implements DatabaseProbe {
  private client: pg.Client | null = null;
  private connecting: Promise<pg.Client> | null = null;

  constructor(
    private readonly url: string,
    private readonly options: ProbeOptions,
  ) {}

  check(timeoutMs: number): Promise<void> {
    return this.run(timeoutMs, (c) => c.query('SELECT 1'));
  }

  checkWrites(timeoutMs: number): Promise<void> {
    return this.run(timeoutMs, async (c) => {
      await c.query('BEGIN');
      try {
        await c.query('SELECT txid_current()');
      } finally {
        await c.query('ROLLBACK');
      }
    });
  }

  private async run(timeoutMs: number, work: (client: pg.Client) => Promise<unknown>): Promise<void> {
    const startedAt = performance.now();
    try {
      const client = await within(this.connect(), timeoutMs, () => new StorageTimeoutError('connecting to the database', timeoutMs));
      const left = Math.max(1, timeoutMs - (performance.now() - startedAt));
      await within(work(client), left, () => new StorageTimeoutError('the database check', timeoutMs));
    } catch (err) {
      // A connection that failed or hung once is not trusted again: the next check opens a new one.
      this.drop();
      throw err;
    }
  }

  private connect(): Promise<pg.Client> {
    if (this.client !== null) return Promise.resolve(this.client);
    this.connecting ??= (async () => {
      const { default: pgDriver } = await import('pg');
      const { connectionString } = postgresConnection(this.url);
      const client = new pgDriver.Client({ connectionString, connectionTimeoutMillis: this.options.connectTimeoutMs, keepAlive: true });
      // A connection lost between checks fails the next check, which reconnects.
      client.on('error', () => this.drop(client));
      try {
        await client.connect();
      } catch (err) {
        client.connection.stream.destroy();
        throw err;
      }
      this.client = client;
      return client;
    })().finally(() => {
      this.connecting = null;
    });
    return this.connecting;
  }

  private drop(client: pg.Client | null = this.client): void {
    if (client === null) return;
    if (this.client === client) this.client = null;
    // Destroyed, not ended: ending waits for a server that may not answer.
    client.connection.stream.destroy();
  }

  async close(): Promise<void> {
    const pending = this.connecting;
    this.drop();
    if (pending !== null) this.drop(await pending.catch(() => null));
  }
}

class SqliteProbe implements DatabaseProbe {
  constructor(
    private readonly filePath: string,
    private readonly options: ProbeOptions,
  ) {}

  /**
   * Opens the file anew each time (about 0.1 ms): a file that was deleted,
   * or whose directory went away, must fail the check, and a connection
   * kept open would go on reading the deleted file.
   */
  private async open(timeoutMs: number): Promise<BetterSqlite3.Database> {
    const { default: Database } = await import('better-sqlite3');
    return new Database(this.filePath, { fileMustExist: true, timeout: timeoutMs });
  }

  async check(timeoutMs: number): Promise<void> {
    const db = await this.open(timeoutMs);
    try {
      db.prepare('SELECT count(*) FROM sqlite_master').get();
    } finally {
      db.close();
    }
  }

  async checkWrites(timeoutMs: number): Promise<void> {
    const db = await this.open(timeoutMs);
    try {
      // The write lock, taken and given back at once: SQLITE_BUSY while another process holds it past the timeout.
      db.exec('BEGIN IMMEDIATE; ROLLBACK');
      const pageSize = Number(db.pragma('page_size', { simple: true }));
      const cap = this.options.sqliteMaxBytes;
      if (cap != null) {
        const used = Number(db.pragma('page_count', { simple: true })) - Number(db.pragma('freelist_count', { simple: true }));
        const free = cap - used * pageSize;
        const margin = Math.min(SQLITE_SPACE_MARGIN_BYTES, cap / 10);
        if (free < margin) throw new SqliteFullError(`the database is at its size cap (${free} bytes left, ${margin} needed)`);
      }
      const fs = statfsSync(dirname(this.filePath));
      const available = fs.bavail * fs.bsize;
      if (available < SQLITE_SPACE_MARGIN_BYTES) throw new SqliteFullError(`the disk holding the database has ${available} bytes free (${SQLITE_SPACE_MARGIN_BYTES} needed)`);
    } finally {
      db.close();
    }
  }

  async close(): Promise<void> {
    // Nothing stays open between checks.
  }
}

/** No room to grow, found by looking rather than by a failed write; classified `disk-full` like SQLite's own. */
export class SqliteFullError extends Error {
  readonly code = 'SQLITE_FULL';
  constructor(message: string) {
    super(message);
    this.name = 'SqliteFullError';
  }
}

/** Start-up gave up on the database; `message` names its host (never the password) and the reason. */
export class DatabaseUnreachableError extends Error {
  constructor(message: string, options?: { cause: unknown }) {
    super(message, options);
    this.name = 'DatabaseUnreachableError';
  }
}

/** Pause between start-up attempts, ms. */
const STARTUP_RETRY_MS = 250;

/** A reason for a message: the fault's kind and the driver's first line, cut short (it never holds the URL). */
function reason(err: unknown): string {
  const fault = storageFault(err);
  const detail = err instanceof Error ? err.message.split('\n').find((l) => l.trim() !== '')?.trim().slice(0, 200) ?? err.name : String(err).slice(0, 200);
  return fault === null ? detail : `${fault.kind}: ${detail}`;
}

/**
 * Waits until the database of `config` answers, trying again while it is
 * unreachable, starting up or not answering, for at most `startupTimeoutMs`;
 * an error that will not pass by itself (a wrong password, a database that
 * does not exist) ends the wait at once. Throws DatabaseUnreachableError
 * naming the host, the time waited and the last reason.
 */
export async function waitForDatabase(config: DatabaseConfig, options: { connectTimeoutMs: number; startupTimeoutMs: number }): Promise<void> {
  // A SQLite file is opened (and created, on a first start) by the migrations, which say what is wrong with it.
  if (config.provider === 'sqlite') return;
  const startedAt = performance.now();
  const label = databaseLabel(config);
  const probe = databaseProbe(config, { connectTimeoutMs: options.connectTimeoutMs });
  try {
    for (let attempt = 1; ; attempt++) {
      const left = options.startupTimeoutMs - (performance.now() - startedAt);
      try {
        await probe.check(Math.max(1, Math.min(left, options.connectTimeoutMs)));
        return;
      } catch (err) {
        const waited = Math.round(performance.now() - startedAt);
        if (storageFault(err) === null) {
          throw new DatabaseUnreachableError(`the database at ${label} refused Herald: ${reason(err)}`, { cause: err });
        }
        if (waited + STARTUP_RETRY_MS >= options.startupTimeoutMs) {
          throw new DatabaseUnreachableError(
            `the database at ${label} did not answer within ${options.startupTimeoutMs} ms (HERALD_DB_STARTUP_TIMEOUT_MS; ${attempt} attempts): ${reason(err)}`,
            { cause: err },
          );
        }
        await new Promise((resolve) => setTimeout(resolve, STARTUP_RETRY_MS));
      }
    }
  } finally {
    await probe.close();
  }
}
