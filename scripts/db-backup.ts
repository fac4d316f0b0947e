/**
 * `npm run db:backup -- FILE`: writes a consistent, checked copy of the SQLite
 * database named by DATABASE_URL (unset: ./data/herald.db) to FILE, safe to
 * run while Herald is serving. PostgreSQL is backed up with its own tools.
 */
import { parseDatabaseUrl } from '../src/config.js';
import { backupSqlite } from '../src/storage/backup.js';

const file = process.argv[2];
try {
  if (file === undefined || process.argv.length > 3) throw new Error('usage: npm run db:backup -- FILE (a new file to write the copy to)');
  const target = parseDatabaseUrl(process.env['DATABASE_URL'], process.cwd());
  if (target.provider === 'postgresql') {
    throw new Error('DATABASE_URL names PostgreSQL: back it up with pg_dump (see docs/data.md, "Backup"), not with this script');
  }
  const result = backupSqlite(target.filePath, file);
  console.log(`backed up ${target.filePath} to ${result.path} (${result.bytes} bytes, ${result.durationMs} ms, integrity_check ok)`);
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
}
