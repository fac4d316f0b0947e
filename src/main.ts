/**
 * Process entry point: read the configuration, make sure the database is
 * this process's to use (PostgreSQL answers within HERALD_DB_STARTUP_TIMEOUT_MS;
 * no other Herald holds the SQLite file), start Herald, and stop it
 * gracefully on SIGTERM or SIGINT (a second signal exits at once); SIGHUP
 * re-reads HERALD_API_TOKENS_FILE.
 */
import { App } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './logger.js';
import { waitForDatabase } from './storage/database-probe.js';
import { lockSqliteFile, type SqliteFileLock } from './storage/sqlite-process-lock.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`herald: configuration error: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger(config.logLevel);
  let app: App;
  let lock: SqliteFileLock | null = null;
  try {
    // Held until the process stops or exits, however it exits: the operating system releases it.
    if (config.database.provider === 'sqlite') lock = await lockSqliteFile(config.database.filePath);
    await waitForDatabase(config.database, config.startup);
    app = await App.start(config, log);
  } catch (err) {
    // The reason on stderr too, where an operator starting Herald by hand looks first.
    process.stderr.write(`herald: cannot start: ${err instanceof Error ? err.message : String(err)}\n`);
    log.fatal({ err }, 'Herald failed to start');
    process.exit(1);
  }
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (signalled) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(130);
    }
    signalled = true;
    log.info({ signal }, 'shutdown requested');
    app.stop().then(
      () => {
        lock?.release();
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  // The token file is re-read in place: no restart, no dropped calls.
  process.on('SIGHUP', () => app.reloadApiTokens());
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

await main();
