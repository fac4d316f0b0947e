/**
 * Plain SQL on a test database, beside Herald: rows written the way an
 * earlier release (or another process) would, and checks Herald's API
 * cannot make. Placeholders are `?` on both databases.
 */
import Database from 'better-sqlite3';
import pg from 'pg';
import { parseDatabaseUrl } from '../../src/config.js';

export type RawValue = string | number | boolean | null | Date;
export type RawRow = Record<string, unknown>;

export interface RawDatabase {
  readonly dialect: 'sqlite' | 'postgresql';
  run(sql: string, ...params: RawValue[]): Promise<void>;
  all(sql: string, ...params: RawValue[]): Promise<RawRow[]>;
  close(): Promise<void>;
}

/** Dates as Prisma stores them: ISO 8601 text with an explicit offset on SQLite, UTC TIMESTAMP(3) on PostgreSQL. */
function sqliteValue(v: RawValue): string | number | null {
  if (v instanceof Date) return v.toISOString().replace('Z', '+00:00');
  if (typeof v === 'boolean') return v ? 1 : 0;
  return v;
}

function postgresValue(v: RawValue): string | number | boolean | null {
  return v instanceof Date ? v.toISOString().replace('T', ' ').replace('Z', '') : v;
}

/** `readOnly` opens the database so that nothing the caller runs can write to it (for checks beside a running Herald). */
export async function openRaw(databaseUrl: string, options: { readOnly?: boolean } = {}): Promise<RawDatabase> {
  const target = parseDatabaseUrl(databaseUrl, process.cwd());
  const readOnly = options.readOnly ?? false;
  if (target.provider === 'sqlite') {
    const db = new Database(target.filePath, { timeout: 10_000, readonly: readOnly });
    if (!readOnly) db.pragma('foreign_keys = ON');
    return {
      dialect: 'sqlite',
      async run(sql, ...params) {
        db.prepare(sql).run(...params.map(sqliteValue));
      },
      async all(sql, ...params) {
        return db.prepare(sql).all(...params.map(sqliteValue)) as RawRow[];
      },
      async close() {
        db.close();
      },
    };
  }
  const client = new pg.Client({ connectionString: target.url, ...(readOnly ? { options: '-c default_transaction_read_only=on' } : {}) });
  await client.connect();
  let n = 0;
  const numbered = (sql: string): string => sql.replace(/\?/g, () => `$${++n}`);
  return {
    dialect: 'postgresql',
    async run(sql, ...params) {
      n = 0;
      await client.query(numbered(sql), params.map(postgresValue));
    },
    async all(sql, ...params) {
      n = 0;
      return (await client.query(numbered(sql), params.map(postgresValue))).rows as RawRow[];
    },
    async close() {
      await client.end();
    },
  };
}
