/**
 * A consistent copy of a live SQLite database. Copying the file while Herald
 * runs is not a backup: recent commits sit in the `-wal` file, and a copy
 * taken mid-write mixes pages of different moments. `VACUUM INTO` instead
 * writes, from one read transaction, a compacted database of exactly the
 * committed state at its start; in WAL mode it takes no lock that Herald's
 * writes wait for.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';

export interface BackupResult {
  /** The absolute path of the copy. */
  readonly path: string;
  readonly bytes: number;
  readonly durationMs: number;
}

function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes a consistent copy of the SQLite database at `sourcePath` to
 * `destinationPath` while other processes keep reading and writing it.
 * The copy is checked (`PRAGMA integrity_check`) and made durable before it
 * takes its final name, so a file at `destinationPath` is always a whole,
 * checked backup. Refuses to overwrite an existing file.
 */
export function backupSqlite(sourcePath: string, destinationPath: string): BackupResult {
  const startedAt = performance.now();
  const destination = resolve(destinationPath);
  if (!existsSync(sourcePath)) throw new Error(`no SQLite database at ${sourcePath}`);
  if (existsSync(destination)) throw new Error(`${destination} already exists; choose a new file name (a backup never overwrites)`);
  // A backup folder that does not exist yet is the usual first run, not a mistake.
  mkdirSync(dirname(destination), { recursive: true, mode: 0o700 });
  const partial = `${destination}.partial-${process.pid}`;
  rmSync(partial, { force: true });
  // The copy holds the same secrets as the database: owner-only, as Herald
  // creates the database (VACUUM INTO writes into an existing empty file).
  closeSync(openSync(partial, 'wx', 0o600));
  try {
    const source = new Database(sourcePath, { fileMustExist: true, timeout: 10_000 });
    try {
      source.prepare('VACUUM INTO ?').run(partial);
    } finally {
      source.close();
    }
    const copy = new Database(partial, { fileMustExist: true });
    try {
      const result = copy.pragma('integrity_check', { simple: true });
      if (result !== 'ok') throw new Error(`the copy failed its integrity check: ${String(result).slice(0, 200)}`);
    } finally {
      copy.close();
    }
    fsyncPath(partial);
    renameSync(partial, destination);
    fsyncPath(dirname(destination));
  } catch (err) {
    rmSync(partial, { force: true });
    throw err;
  }
  return { path: destination, bytes: statSync(destination).size, durationMs: Math.round(performance.now() - startedAt) };
}
