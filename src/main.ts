/**
 * Process entry point: read the configuration, start Herald, and stop it
 * gracefully on SIGTERM or SIGINT (a second signal exits at once); SIGHUP
 * re-reads HERALD_API_TOKENS_FILE.
 */
import { App } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './logger.js';

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
  try {
    app = await App.start(config, log);
  } catch (err) {
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
      () => process.exit(0),
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
