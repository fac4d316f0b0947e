/**
 * Starts a real Herald in-process on 127.0.0.1:0 with a fresh SQLite file
 * (or the PostgreSQL database of HERALD_TEST_DATABASE_URL), and a real
 * client. Everything is closed by `t.after`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { App, type AppOptions } from '../../src/app.js';
import { createHeraldClient, type HeraldClient } from '../../src/client.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';

export interface Herald {
  readonly app: App;
  readonly client: HeraldClient;
  readonly address: string;
  readonly dir: string;
  readonly env: Record<string, string>;
  /** Stops this instance and starts a new one on the same database. */
  restart(extraEnv?: Record<string, string>): Promise<Herald>;
}

export interface StartOptions extends AppOptions {
  readonly env?: Record<string, string>;
  /** Reuse this directory (and its database) instead of a new one. */
  readonly dir?: string;
}

export async function startHerald(t: TestContext, options: StartOptions = {}): Promise<Herald> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'herald-test-'));
  if (options.dir === undefined) t.after(() => rmSync(dir, { recursive: true, force: true }));
  const env: Record<string, string> = {
    DATABASE_URL: `file:${join(dir, 'herald.db')}`,
    GRPC_ADDRESS: '127.0.0.1:0',
    HERALD_ALLOW_HTTP_TARGETS: 'true',
    HERALD_ALLOW_PRIVATE_TARGETS: 'true',
    HERALD_LOG_LEVEL: process.env.HERALD_TEST_LOG_LEVEL ?? 'silent',
    WEBHOOK_RETRY_DELAY: '0.05',
    HERALD_POLL_MS: '200',
    ...options.env,
  };
  const config = loadConfig(env);
  const app = await App.start(config, createLogger(config.logLevel), options);
  const address = `127.0.0.1:${app.port ?? 0}`;
  const client = createHeraldClient(address, env.HERALD_API_TOKENS ? { token: env.HERALD_API_TOKENS.split(',')[0]! } : {});
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    client.close();
    await app.stop(2_000);
  };
  t.after(stop);
  return {
    app,
    client,
    address,
    dir,
    env,
    async restart(extraEnv = {}) {
      await stop();
      return startHerald(t, { ...options, dir, env: { ...options.env, ...extraEnv } });
    },
  };
}

/** The gRPC status code of a rejected call (or fails the test). */
export async function codeOf(promise: Promise<unknown>): Promise<{ code: number; details: string }> {
  try {
    await promise;
  } catch (err) {
    const e = err as { code?: number; details?: string };
    if (typeof e.code === 'number') return { code: e.code, details: e.details ?? '' };
    throw err;
  }
  throw new Error('expected the call to fail, but it succeeded');
}
