/**
 * Opens the database and hands out transaction-scoped repositories. This
 * directory is the only place that imports Prisma.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3';
import type { DatabaseConfig } from '../config.js';
import { PrismaClient } from '../generated/prisma/sqlite/client.js';
import { Repositories, type Dialect, type PrismaTx } from './repositories.js';

export interface StoreOptions {
  /** SQLite `synchronous`: FULL (default) survives power loss; NORMAL is faster and survives process crashes. */
  readonly sqliteSynchronous?: 'FULL' | 'NORMAL';
}

/**
 * The service's handle on the database.
 *
 * On SQLite every operation, reads included, runs inside a transaction: the
 * better-sqlite3 adapter has one connection and serialises transactions with
 * a mutex, but plain queries skip that mutex and would run *inside* whatever
 * transaction is open at that moment (and be rolled back with it). Routing
 * everything through `$transaction` makes each operation atomic and isolated.
 */
export class Store {
  private constructor(
    private readonly prisma: PrismaClient,
    readonly dialect: Dialect,
  ) {}

  static async open(config: DatabaseConfig, options: StoreOptions = {}): Promise<Store> {
    if (config.provider !== 'sqlite') {
      throw new Error('PostgreSQL support is not built yet; use a file: DATABASE_URL');
    }
    mkdirSync(dirname(config.filePath), { recursive: true });
    const adapter = new PrismaBetterSqlite3({ url: `file:${config.filePath}` }, { timestampFormat: 'iso8601' });
    // Waiting for the adapter's transaction mutex counts toward maxWait, and
    // every call queues on it: allow for a burst of concurrent requests.
    const prisma = new PrismaClient({ adapter, transactionOptions: { maxWait: 30_000, timeout: 30_000 } });
    // WAL lets readers in other processes (backups, the CLI) work alongside
    // the service; busy_timeout makes them wait instead of failing at once.
    await prisma.$queryRawUnsafe('PRAGMA journal_mode = WAL');
    await prisma.$executeRawUnsafe(`PRAGMA synchronous = ${options.sqliteSynchronous ?? 'FULL'}`);
    await prisma.$queryRawUnsafe('PRAGMA busy_timeout = 5000');
    await prisma.$executeRawUnsafe('PRAGMA foreign_keys = ON');
    return new Store(prisma, 'sqlite');
  }

  /** Runs `fn` in one transaction: it commits when `fn` resolves and rolls back when it throws. */
  write<T>(fn: (repos: Repositories) => Promise<T>): Promise<T> {
    return this.prisma.$transaction((tx: PrismaTx) => fn(new Repositories(tx, this.dialect)));
  }

  /** Runs read-only work; on SQLite inside a transaction (see the class comment). */
  read<T>(fn: (repos: Repositories) => Promise<T>): Promise<T> {
    return this.write(fn);
  }

  /** A cheap round trip, for health checks. */
  async ping(): Promise<void> {
    await this.read((r) => r.ping());
  }

  async close(): Promise<void> {
    await this.prisma.$disconnect();
  }
}
