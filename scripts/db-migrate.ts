/**
 * `npm run db:migrate`: applies the committed migrations to the database named
 * by DATABASE_URL (unset: the SQLite file ./data/herald.db), the same way the
 * service does at start-up. Exits 1 with the reason when the database history
 * does not match the migrations on disk.
 */
import { parseDatabaseUrl } from '../src/config.js';
import { applyMigrations } from '../src/storage/migrations.js';

const log = {
  info(obj: object, msg: string): void {
    console.log(`${msg} ${JSON.stringify(obj)}`);
  },
};

try {
  const target = parseDatabaseUrl(process.env['DATABASE_URL'], process.cwd());
  const applied = await applyMigrations(target, log);
  console.log(applied.length === 0 ? 'nothing to apply' : `applied ${applied.length}: ${applied.join(', ')}`);
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
}
