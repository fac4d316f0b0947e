/**
 * The SQLite file holds every agent's secrets (encrypted or not) and
 * receiver credentials: only Herald's user may read it.
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';

const OWNER_ONLY = 0o600;

/**
 * Creates the database file (and its directory) readable and writable by its
 * owner only, or narrows an existing one, before SQLite opens it: SQLite
 * gives the `-wal` and `-shm` files it creates the main file's mode. Existing
 * `-wal`/`-shm` files from an older release are narrowed too.
 */
export function prepareSqliteFile(filePath: string): void {
  mkdirSync(dirname(filePath), { recursive: true, mode: 0o700 });
  closeSync(openSync(filePath, 'a', OWNER_ONLY));
  for (const path of [filePath, `${filePath}-wal`, `${filePath}-shm`]) {
    if (existsSync(path)) chmodSync(path, OWNER_ONLY);
  }
}
