/**
 * Opening the process's one SQLite connection and setting it up, the same
 * way whichever thread it lives on: on the main thread ({@link SqliteOnMainThread},
 * the default) or on a worker thread (sqlite-thread.ts, HERALD_SQLITE_THREAD).
 */
import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3';
import type { SqlDriverAdapter, SqlDriverAdapterFactory } from '@prisma/driver-adapter-utils';

/** What the connection is opened with. */
export interface SqliteSettings {
  /** The database file. */
  readonly filePath: string;
  /** `PRAGMA synchronous`: FULL survives power loss; NORMAL survives process crashes. */
  readonly synchronous: 'FULL' | 'NORMAL';
  /** `PRAGMA busy_timeout`, ms: how long a statement waits for another process's write lock. */
  readonly busyTimeoutMs: number;
  /** The most bytes the file may grow to (`PRAGMA max_page_count`); null: no cap. */
  readonly maxBytes: number | null;
}

/** Opens the connection through Prisma's better-sqlite3 adapter and sets it up. */
export async function openSqlite(settings: SqliteSettings): Promise<SqlDriverAdapter> {
  const factory = new PrismaBetterSqlite3({ url: `file:${settings.filePath}` }, { timestampFormat: 'iso8601' });
  const db = await factory.connect();
  const pragma = (sql: string) => db.queryRaw({ sql: `PRAGMA ${sql}`, args: [], argTypes: [] });
  try {
    // WAL lets readers in other processes (backups, the CLI) work alongside
    // the service; busy_timeout makes them wait instead of failing at once.
    await pragma('journal_mode = WAL');
    await pragma(`synchronous = ${settings.synchronous}`);
    await pragma(`busy_timeout = ${Math.round(settings.busyTimeoutMs)}`);
    await pragma('foreign_keys = ON');
    if (settings.maxBytes !== null) {
      const pageSize = Number((await pragma('page_size')).rows[0]?.[0]);
      await pragma(`max_page_count = ${Math.floor(settings.maxBytes / pageSize)}`);
    }
  } catch (err) {
    await db.dispose();
    throw err;
  }
  return db;
}

/** Prisma's driver adapter factory for the connection on the calling (main) thread. */
export class SqliteOnMainThread implements SqlDriverAdapterFactory {
  readonly provider = 'sqlite';
  readonly adapterName = '@prisma/adapter-better-sqlite3';

  constructor(private readonly settings: SqliteSettings) {}

  connect(): Promise<SqlDriverAdapter> {
    return openSqlite(this.settings);
  }
}
