/**
 * `npm run secrets:reencrypt`: rewrites every endpoint's signing secret and
 * header values (webhook_headers for the first) of the database of DATABASE_URL under
 * HERALD_SECRET_KEY (values of HERALD_SECRET_KEY_PREVIOUS, and plain text from
 * before a key was set). Safe while Herald runs; run it after every process
 * was restarted with the new key, then drop HERALD_SECRET_KEY_PREVIOUS.
 */
import { ConfigError, loadConfig } from '../src/config.js';
import { ChangeFeed } from '../src/events/change-feed.js';
import { Store } from '../src/storage/database.js';
import { SecretBox } from '../src/storage/secret-box.js';
import { reencryptSecrets } from '../src/storage/secret-reencrypt.js';

try {
  const config = loadConfig();
  if (config.secretKeys === null) throw new ConfigError('HERALD_SECRET_KEY', 'is not set: there is no key to encrypt with');
  const box = new SecretBox(config.secretKeys.current, config.secretKeys.previous);
  // A feed nobody listens to: the service's own processes hear of rewritten secrets through their targets' read-since-claim rule.
  const store = await Store.open(config.database, { ...config.store, poolSize: 2, secrets: box, feed: new ChangeFeed() });
  try {
    const result = await reencryptSecrets(store);
    console.log(`re-encrypted the secrets of ${result.rewritten} endpoint(s) under key id ${box.currentKeyId}; ${result.scanned} endpoint(s) in the database`);
    if (result.unsettled > 0) {
      console.error(`${result.unsettled} endpoint(s) changed during every pass (a process still writing with another key?): run it again`);
      process.exitCode = 1;
    }
  } finally {
    await store.close();
  }
} catch (error) {
  console.error(`secrets:reencrypt: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = error instanceof ConfigError ? 2 : 1;
}
