/**
 * One Herald process per SQLite file. Two processes on one file looked
 * fine and then answered a quarter of creates INTERNAL (SQLITE_BUSY) on
 * 0.2, and their in-process serialisation (see Store) assumes it is alone.
 *
 * The lock is SQLite's own, on a side file `<database>.lock`: the holder
 * keeps a write transaction open on it (`BEGIN IMMEDIATE`, a RESERVED lock,
 * held by the operating system for the open file), so
 *
 * - a second Herald's `BEGIN IMMEDIATE` fails at once, and it can still
 *   read who holds the lock (a RESERVED lock lets readers in): the file's
 *   one row, pid, host and start time, committed just before;
 * - a holder that dies, however it dies, releases the lock with its file
 *   descriptors: no stale lock, no pid file to clean up;
 * - tools that work beside Herald (npm run db:backup, secrets:reencrypt,
 *   db:migrate) open the database itself, not this file, and keep working.
 */
import { hostname } from 'node:os';
import type BetterSqlite3 from 'better-sqlite3';
import { prepareSqliteFile } from './sqlite-file.js';

/** Who holds a SQLite file. */
export interface LockHolder {
  readonly pid: number;
  readonly host: string;
  /** ISO 8601. */
  readonly since: string;
}

/** Another process holds the file; the message says which and what to do instead. */
export class SqliteFileInUseError extends Error {
  constructor(
    readonly filePath: string,
    readonly holder: LockHolder | null,
  ) {
    const who = holder === null ? 'another process (it is still starting)' : `Herald process ${holder.pid} on ${holder.host} (since ${holder.since})`;
    super(
      `the SQLite database ${filePath} is in use by ${who}. SQLite serves one Herald process per file: ` +
        'stop that process first, or use PostgreSQL (DATABASE_URL=postgresql://…) to run several replicas',
    );
    this.name = 'SqliteFileInUseError';
  }
}

/** The lock; release it to let another process take the file (exiting does too). */
export interface SqliteFileLock {
  readonly path: string;
  release(): void;
}

function isBusy(err: unknown): boolean {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' && err.code.startsWith('SQLITE_BUSY');
}

function readHolder(db: BetterSqlite3.Database): LockHolder | null {
  try {
    const row = db.prepare('SELECT pid, host, since FROM holder').get() as { pid: number; host: string; since: string } | undefined;
    return row === undefined ? null : { pid: row.pid, host: row.host, since: row.since };
  } catch {
    // No table yet: the holder is between creating the file and writing its row.
    return null;
  }
}

/**
 * Takes the lock of the SQLite database at `filePath`, or throws
 * SqliteFileInUseError naming its holder. `now` is the time recorded as
 * "since" (a parameter, so that messages can be tested).
 */
export async function lockSqliteFile(filePath: string, now: Date = new Date()): Promise<SqliteFileLock> {
  const path = `${filePath}.lock`;
  // Its directory, owner-only, as for a first start's database.
  prepareSqliteFile(filePath);
  const { default: Database } = await import('better-sqlite3');
  // timeout 0: a lock that is held is reported at once, never waited for.
  const db = new Database(path, { timeout: 0 });
  try {
    // The rollback journal, not WAL: a RESERVED lock keeps writers out and lets readers in.
    db.pragma('journal_mode = DELETE');
    try {
      db.exec('BEGIN IMMEDIATE');
    } catch (err) {
      if (isBusy(err)) throw new SqliteFileInUseError(filePath, readHolder(db));
      throw err;
    }
    db.exec('CREATE TABLE IF NOT EXISTS holder (pid INTEGER NOT NULL, host TEXT NOT NULL, since TEXT NOT NULL)');
    db.exec('DELETE FROM holder');
    db.prepare('INSERT INTO holder (pid, host, since) VALUES (?, ?, ?)').run(process.pid, hostname(), now.toISOString());
    // Committed so that a second process can read it, then held again at once. Between the two a
    // process starting at the same instant may win instead; it then holds the file and this one stops.
    db.exec('COMMIT');
    try {
      db.exec('BEGIN IMMEDIATE');
    } catch (err) {
      if (isBusy(err)) throw new SqliteFileInUseError(filePath, readHolder(db));
      throw err;
    }
  } catch (err) {
    db.close();
    throw err;
  }
  let released = false;
  return {
    path,
    release() {
      if (released) return;
      released = true;
      db.exec('ROLLBACK');
      db.close();
    },
  };
}
