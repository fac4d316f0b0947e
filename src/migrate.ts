/**
 * The migration step of a deployment (`node dist/migrate.js` in the image;
 * deploy/kubernetes' migration Job and deploy/compose.yaml's `migrate`
 * service run it): waits for the database named by DATABASE_URL as start-up
 * does, applies the committed migrations, and exits 0, or 1 with the reason.
 *
 * Herald applies them at start too; running them first, once, means a
 * rollout's new replicas find the schema ready and old replicas meet the
 * migration at a moment the operator chose (docs/OPERATIONS.md, "Upgrade").
 */
import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './logger.js';
import { waitForDatabase } from './storage/database-probe.js';
import { applyMigrations } from './storage/migrations.js';

async function migrate(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`herald migrate: configuration error: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger(config.logLevel);
  try {
    await waitForDatabase(config.database, config.startup);
    await applyMigrations(config.database, log);
  } catch (err) {
    process.stderr.write(`herald migrate: ${err instanceof Error ? err.message : String(err)}\n`);
    log.fatal({ err }, 'migrations failed');
    process.exit(1);
  }
}

await migrate();
