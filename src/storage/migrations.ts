/**
 * Applies the committed Prisma migrations at start-up, without Prisma's native
 * schema engine (it cannot be installed on our build machines).
 *
 * Migrations are recorded in Prisma's own `_prisma_migrations` table, with the
 * columns and checksums Prisma Migrate writes, so `prisma migrate status` and
 * `prisma migrate deploy` stay truthful wherever the native engine exists.
 * New migration SQL is produced by `npm run db:diff` (scripts/schema-engine.ts).
 *
 * REMOVE WHEN: Prisma applies migrations without its native schema engine
 * (Prisma 7.10's `prisma migrate deploy` runs that binary, which no npm package
 * ships and which its installer downloads from a host our machines cannot
 * reach): `prisma migrate deploy` before start then replaces this runner, and
 * reads the `_prisma_migrations` rows it wrote. test/unit/prisma-engine-canary.test.ts
 * has a canary that fails once `migrate deploy` no longer runs the native engine.
 */
import { createHash, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type Database from 'better-sqlite3';
import type pg from 'pg';
import { prepareSqliteFile } from './sqlite-file.js';

/** Where migrations are applied: a SQLite file or a PostgreSQL database. */
export type DatabaseTarget = { provider: 'sqlite'; filePath: string } | { provider: 'postgresql'; url: string };

/** The subset of a pino logger that `applyMigrations` uses. */
export interface MigrationLogger {
  info(obj: object, msg: string): void;
}

/** Options of {@link applyMigrations}. */
export interface ApplyMigrationsOptions {
  /**
   * The directory holding one `<name>/migration.sql` per migration. Default:
   * `prisma/migrations` (SQLite) or `prisma/postgresql/migrations`
   * (PostgreSQL), under the package root.
   */
  migrationsDir?: string;
}

/** One committed migration, as read from disk. */
export interface MigrationFile {
  /** The directory name, e.g. `20250101120000_init`; migrations apply in name order. */
  name: string;
  /** The script, decoded as UTF-8. */
  sql: string;
  /** sha256 of the file's bytes, lowercase hex: what Prisma stores in `_prisma_migrations.checksum`. */
  checksum: string;
}

/**
 * The key of the PostgreSQL advisory lock held while migrating. It is the one
 * Prisma Migrate takes, so Herald replicas and a `prisma migrate deploy` run
 * wait for each other instead of racing.
 */
export const POSTGRES_MIGRATION_LOCK_KEY = 72707369;

/**
 * The directory holding package.json, found by walking up from this module,
 * so the same code works from `src/` (tsx) and from the compiled `dist/`.
 */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

/** The committed migrations directory of a provider, under the package root. */
export function defaultMigrationsDir(provider: DatabaseTarget['provider']): string {
  return provider === 'sqlite'
    ? join(packageRoot(), 'prisma', 'migrations')
    : join(packageRoot(), 'prisma', 'postgresql', 'migrations');
}

/** sha256 of a migration script, formatted as Prisma formats it (64 lowercase hex digits). */
export function migrationChecksum(script: Buffer | string): string {
  return createHash('sha256').update(script).digest('hex');
}

/**
 * Whether a recorded checksum belongs to this script. Mirrors Prisma's own
 * comparison: a checkout with other line endings (git on Windows) still
 * matches, and so do checksums written by old Prisma versions that dropped
 * the leading zero of each byte.
 */
function checksumMatches(script: Buffer, recorded: string): boolean {
  const text = script.toString('utf8');
  const variants = [script, text.replaceAll('\r\n', '\n'), text.replace(/\r?\n/g, '\r\n')];
  return variants.some((variant) => {
    const digest = createHash('sha256').update(variant).digest();
    const rendered =
      recorded.length === 64 ? digest.toString('hex') : [...digest].map((byte) => byte.toString(16)).join('');
    return rendered === recorded;
  });
}

/** A migration with the exact bytes its checksum was computed from. */
interface LoadedMigration extends MigrationFile {
  bytes: Buffer;
}

async function loadMigrations(migrationsDir: string): Promise<LoadedMigration[]> {
  if (!existsSync(migrationsDir)) throw new Error(`migrations directory ${migrationsDir} does not exist`);
  const entries = await readdir(migrationsDir, { withFileTypes: true });
  const names = entries
    .filter((entry) => entry.isDirectory() && !entry.name.startsWith('.'))
    .map((entry) => entry.name)
    // Code-unit order, not locale order: it is the order Prisma applies them in.
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return Promise.all(
    names.map(async (name) => {
      const file = join(migrationsDir, name, 'migration.sql');
      let bytes: Buffer;
      try {
        bytes = await readFile(file);
      } catch (error) {
        throw new Error(`migration ${name} has no readable migration.sql (${file})`, { cause: error });
      }
      return { name, sql: bytes.toString('utf8'), checksum: migrationChecksum(bytes), bytes };
    }),
  );
}

/**
 * Reads every `<name>/migration.sql` under `migrationsDir`, sorted by name.
 * Files and dot-directories beside them (migration_lock.toml…) are ignored;
 * a migration directory without its `migration.sql` is an error, as it is
 * for Prisma.
 */
export async function readMigrations(migrationsDir: string): Promise<MigrationFile[]> {
  const loaded = await loadMigrations(migrationsDir);
  return loaded.map(({ name, sql, checksum }) => ({ name, sql, checksum }));
}

/** A row of `_prisma_migrations`, reduced to what the checks need. */
interface AppliedMigration {
  name: string;
  checksum: string;
  finished: boolean;
  rolledBack: boolean;
}

/** What differs between the two databases; the algorithm in `migrate` is shared. */
interface MigrationStore {
  /** Creates `_prisma_migrations` when missing, with Prisma's definition. */
  ensureTable(): Promise<void>;
  applied(): Promise<AppliedMigration[]>;
  /**
   * Runs the script and inserts its record in one transaction. Resolves false,
   * changing nothing, when the migration was recorded in the meantime (another
   * process got there first).
   */
  apply(migration: MigrationFile): Promise<boolean>;
}

/**
 * Refuses to go on when the database and the files disagree about the past:
 * a recorded migration that is no longer on disk, one whose file changed after
 * it was applied, or one that started and never finished.
 */
function checkHistory(applied: AppliedMigration[], files: Map<string, Buffer>, migrationsDir: string): void {
  for (const record of applied) {
    // Rolled-back rows are an audit trail (`prisma migrate resolve --rolled-back`), not history.
    if (record.rolledBack) continue;
    const script = files.get(record.name);
    if (script === undefined) {
      throw new Error(
        `migration ${record.name} is recorded in the database but missing from ${migrationsDir}; ` +
          'this build is older than the database or the directory was renamed',
      );
    }
    if (!record.finished) {
      throw new Error(
        `migration ${record.name} started but never finished; repair the database, then mark it with ` +
          '`prisma migrate resolve --applied` or `--rolled-back`',
      );
    }
    if (!checksumMatches(script, record.checksum)) {
      throw new Error(
        `migration ${record.name} was edited after it was applied (checksum mismatch); ` +
          'restore the committed file and put changes in a new migration',
      );
    }
  }
}

async function migrate(
  store: MigrationStore,
  migrationsDir: string,
  log: MigrationLogger | undefined,
  database: string,
): Promise<string[]> {
  const files = await loadMigrations(migrationsDir);
  if (files.length === 0) throw new Error(`no migrations found in ${migrationsDir}`);

  await store.ensureTable();
  const applied = await store.applied();
  checkHistory(applied, new Map(files.map((file) => [file.name, file.bytes])), migrationsDir);

  const done = new Set(applied.filter((record) => !record.rolledBack).map((record) => record.name));
  const newlyApplied: string[] = [];
  for (const file of files) {
    if (done.has(file.name)) continue;
    const startedAt = performance.now();
    if (await store.apply(file)) {
      newlyApplied.push(file.name);
      log?.info({ migration: file.name, durationMs: Math.round(performance.now() - startedAt) }, 'applied migration');
    }
  }
  log?.info({ database, applied: newlyApplied.length, total: files.length }, 'database schema is up to date');
  return newlyApplied;
}

/** Prisma's definition of the table on SQLite (sql-schema-connector, flavour/sqlite.rs). */
const SQLITE_MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    TEXT PRIMARY KEY NOT NULL,
    "checksum"              TEXT NOT NULL,
    "finished_at"           DATETIME,
    "migration_name"        TEXT NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        DATETIME,
    "started_at"            DATETIME NOT NULL DEFAULT current_timestamp,
    "applied_steps_count"   INTEGER UNSIGNED NOT NULL DEFAULT 0
)`;

/** Prisma's definition of the table on PostgreSQL (sql-schema-connector, flavour/postgres.rs). */
const POSTGRES_MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS _prisma_migrations (
    id                      VARCHAR(36) PRIMARY KEY NOT NULL,
    checksum                VARCHAR(64) NOT NULL,
    finished_at             TIMESTAMPTZ,
    migration_name          VARCHAR(255) NOT NULL,
    logs                    TEXT,
    rolled_back_at          TIMESTAMPTZ,
    started_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    applied_steps_count     INTEGER NOT NULL DEFAULT 0
)`;

const SELECT_APPLIED = `SELECT migration_name, checksum, finished_at, rolled_back_at
  FROM _prisma_migrations ORDER BY started_at, migration_name`;

function toAppliedMigration(row: unknown): AppliedMigration {
  if (typeof row !== 'object' || row === null) throw new Error('unexpected row in _prisma_migrations');
  const record = row as Record<string, unknown>;
  const name = record['migration_name'];
  const checksum = record['checksum'];
  if (typeof name !== 'string' || typeof checksum !== 'string') {
    throw new Error('unexpected row in _prisma_migrations: migration_name and checksum must be text');
  }
  return {
    name,
    checksum,
    finished: record['finished_at'] !== null && record['finished_at'] !== undefined,
    rolledBack: record['rolled_back_at'] !== null && record['rolled_back_at'] !== undefined,
  };
}

function sqliteStore(db: Database.Database): MigrationStore {
  return {
    async ensureTable() {
      db.exec(SQLITE_MIGRATIONS_TABLE);
    },
    async applied() {
      return db.prepare(SELECT_APPLIED).all().map(toAppliedMigration);
    },
    async apply(migration) {
      const startedAt = Date.now();
      // IMMEDIATE takes the write lock up front, so a second process starting
      // at the same time waits here and then sees this migration recorded.
      db.exec('BEGIN IMMEDIATE');
      try {
        const recorded = db
          .prepare('SELECT 1 FROM _prisma_migrations WHERE migration_name = ? AND rolled_back_at IS NULL')
          .get(migration.name);
        if (recorded !== undefined) {
          db.exec('ROLLBACK');
          return false;
        }
        db.exec(migration.sql);
        // Foreign keys are off while migrating (see applySqlite), so check what
        // a table rebuild may have broken before committing.
        const violations = db.pragma('foreign_key_check');
        if (Array.isArray(violations) && violations.length > 0) {
          throw new Error(`leaves ${violations.length} foreign key violation(s): ${JSON.stringify(violations[0])}`);
        }
        // Prisma's native engine binds DateTime values as Unix milliseconds on
        // SQLite; writing the same keeps the rows readable by `prisma migrate status`.
        db.prepare(
          `INSERT INTO _prisma_migrations (id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count)
           VALUES (?, ?, ?, ?, NULL, NULL, ?, 1)`,
        ).run(randomUUID(), migration.checksum, Date.now(), migration.name, startedAt);
        db.exec('COMMIT');
        return true;
      } catch (error) {
        if (db.inTransaction) db.exec('ROLLBACK');
        const reason = error instanceof Error ? error.message : String(error);
        throw new Error(`migration ${migration.name} failed and was rolled back: ${reason}`, { cause: error });
      }
    },
  };
}

async function applySqlite(filePath: string, migrationsDir: string, log?: MigrationLogger): Promise<string[]> {
  prepareSqliteFile(filePath);
  // Each driver is loaded only for its own dialect: the other one's code would sit in memory unused.
  const { default: SqliteDatabase } = await import('better-sqlite3');
  const db = new SqliteDatabase(filePath, { timeout: 10_000 });
  try {
    // WAL is a property of the file: set once here, every later connection gets it.
    db.pragma('journal_mode = WAL');
    // Prisma's SQLite migrations rebuild tables (create, copy, drop, rename).
    // With foreign keys enforced, dropping a parent table deletes its children
    // through ON DELETE CASCADE; the PRAGMA inside the script cannot prevent it
    // because it is a no-op inside our transaction. SQLite's documented
    // procedure: disable, migrate in a transaction, foreign_key_check, commit.
    db.pragma('foreign_keys = OFF');
    return await migrate(sqliteStore(db), migrationsDir, log, filePath);
  } finally {
    db.close();
  }
}

function postgresStore(client: pg.Client): MigrationStore {
  return {
    async ensureTable() {
      await client.query(POSTGRES_MIGRATIONS_TABLE);
    },
    async applied() {
      const result = await client.query(SELECT_APPLIED);
      return result.rows.map(toAppliedMigration);
    },
    async apply(migration) {
      const startedAt = new Date();
      await client.query('BEGIN');
      try {
        // No parameters: pg then uses the simple query protocol, which accepts a multi-statement script.
        await client.query(migration.sql);
        await client.query(
          `INSERT INTO _prisma_migrations (id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count)
           VALUES ($1, $2, $3, $4, NULL, NULL, $5, 1)`,
          [randomUUID(), migration.checksum, new Date(), migration.name, startedAt],
        );
        await client.query('COMMIT');
        return true;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        const reason = error instanceof Error ? error.message : String(error);
        throw new Error(`migration ${migration.name} failed and was rolled back: ${reason}`, { cause: error });
      }
    },
  };
}

/** The database named in a PostgreSQL URL, for logs (never the URL: it may hold a password). */
function postgresDatabaseName(url: string): string {
  const parsed = new URL(url);
  return `${parsed.hostname}${parsed.port ? `:${parsed.port}` : ''}${parsed.pathname}`;
}

/** How long opening the migrations' connection may take, ms. */
const MIGRATION_CONNECT_TIMEOUT_MS = 10_000;

async function applyPostgres(url: string, migrationsDir: string, log?: MigrationLogger): Promise<string[]> {
  const { default: pgDriver } = await import('pg');
  // A server that accepts TCP and never answers must not hold start-up forever (main.ts has checked it answers, moments ago).
  const client = new pgDriver.Client({ connectionString: url, connectionTimeoutMillis: MIGRATION_CONNECT_TIMEOUT_MS });
  await client.connect();
  try {
    // Prisma URLs name the schema as `?schema=`; pg ignores the parameter.
    const schema = new URL(url).searchParams.get('schema');
    if (schema) {
      const quoted = `"${schema.replaceAll('"', '""')}"`;
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoted}`);
      await client.query(`SET search_path TO ${quoted}`);
    }
    // A session lock, held across the per-migration transactions and released
    // with the connection even if this process dies.
    await client.query('SELECT pg_advisory_lock($1)', [POSTGRES_MIGRATION_LOCK_KEY]);
    try {
      return await migrate(postgresStore(client), migrationsDir, log, postgresDatabaseName(url));
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [POSTGRES_MIGRATION_LOCK_KEY]).catch(() => undefined);
    }
  } finally {
    await client.end();
  }
}

/**
 * Applies the committed migrations the database has not seen yet, in name
 * order, each in its own transaction together with its `_prisma_migrations`
 * record, and returns their names (empty when the database is up to date).
 *
 * Throws, before applying anything, when the history does not match the
 * files: a recorded migration missing on disk, a recorded checksum that
 * differs from the file (a committed migration was edited), or a migration
 * recorded as started but not finished. Throws when the directory holds no
 * migration at all, rather than start a service on an empty database.
 *
 * SQLite: the file (and its directory) is created when missing and switched
 * to `journal_mode=WAL`. PostgreSQL: Prisma Migrate's advisory lock is held
 * throughout, so replicas starting together apply each migration once.
 */
export async function applyMigrations(
  target: DatabaseTarget,
  log?: MigrationLogger,
  options: ApplyMigrationsOptions = {},
): Promise<string[]> {
  const migrationsDir = resolve(options.migrationsDir ?? defaultMigrationsDir(target.provider));
  return target.provider === 'sqlite'
    ? applySqlite(target.filePath, migrationsDir, log)
    : applyPostgres(target.url, migrationsDir, log);
}
