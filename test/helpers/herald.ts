/**
 * Starts a real Herald in-process on 127.0.0.1:0 with a fresh SQLite file
 * (or the PostgreSQL database of HERALD_TEST_DATABASE_URL), and a real
 * client. Everything is closed by `t.after`.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import pg from 'pg';
import { App, type AppOptions } from '../../src/app.js';
import { createHeraldClient, type HeraldClient } from '../../src/client.js';
import { loadConfig } from '../../src/config.js';
import { createLogger, type Logger } from '../../src/logger.js';

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
  /** The logger the app writes to (default: HERALD_TEST_LOG_LEVEL, else silent). */
  readonly log?: Logger;
}

/** Which database the integration tests run on: set by the PostgreSQL wrappers in test/postgres/. */
export const TEST_DATABASE: 'sqlite' | 'postgresql' = process.env.HERALD_TEST_DB === 'postgresql' ? 'postgresql' : 'sqlite';

/**
 * A DATABASE_URL for a brand-new, empty database, dropped after the test:
 * a SQLite file in `dir`, or a fresh database on the PostgreSQL server of
 * HERALD_TEST_DATABASE_URL.
 */
export async function freshDatabaseUrl(t: TestContext, dir: string): Promise<string> {
  if (TEST_DATABASE === 'sqlite') return `file:${join(dir, 'herald.db')}`;
  const admin = process.env.HERALD_TEST_DATABASE_URL;
  if (!admin) throw new Error('HERALD_TEST_DB=postgresql needs HERALD_TEST_DATABASE_URL (a server where the user may CREATE DATABASE)');
  const name = `herald_t_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  cleanup(t, async () => {
    const c = new pg.Client({ connectionString: admin });
    await c.connect();
    try {
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    } finally {
      await c.end();
    }
  });
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return url.href;
}

/**
 * Registers `fn` to run after the test, before everything registered earlier
 * with this function (node:test runs `after` hooks in registration order; a
 * server must stop before its database and directory go away).
 */
export function cleanup(t: TestContext, fn: () => unknown): void {
  const stacks = cleanupStacks.get(t);
  if (stacks !== undefined) {
    stacks.push(fn);
    return;
  }
  const stack = [fn];
  cleanupStacks.set(t, stack);
  t.after(async () => {
    while (stack.length > 0) await stack.pop()!();
  });
}
const cleanupStacks = new WeakMap<TestContext, Array<() => unknown>>();

export async function startHerald(t: TestContext, options: StartOptions = {}): Promise<Herald> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'herald-test-'));
  if (options.dir === undefined) cleanup(t, () => rmSync(dir, { recursive: true, force: true }));
  const databaseUrl = options.env?.DATABASE_URL ?? (await freshDatabaseUrl(t, dir));
  const env: Record<string, string> = {
    DATABASE_URL: databaseUrl,
    GRPC_ADDRESS: '127.0.0.1:0',
    HERALD_ALLOW_HTTP_TARGETS: 'true',
    HERALD_ALLOW_PRIVATE_TARGETS: 'true',
    HERALD_LOG_LEVEL: process.env.HERALD_TEST_LOG_LEVEL ?? 'silent',
    WEBHOOK_RETRY_DELAY: '0.05',
    HERALD_POLL_MS: '200',
    ...options.env,
  };
  const config = loadConfig(env);
  const app = await App.start(config, options.log ?? createLogger(config.logLevel), options);
  const address = `127.0.0.1:${app.port ?? 0}`;
  // The first entry's token (a scoped entry is TENANT:ROLE:TOKEN).
  const first = env.HERALD_API_TOKENS?.split(',')[0]?.trim();
  const client = createHeraldClient(address, first ? { token: first.includes(':') ? first.split(':').slice(2).join(':') : first } : {});
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    client.close();
    await app.stop(2_000);
  };
  cleanup(t, stop);
  return {
    app,
    client,
    address,
    dir,
    env,
    async restart(extraEnv = {}) {
      await stop();
      return startHerald(t, { ...options, dir, env: { ...options.env, DATABASE_URL: databaseUrl, ...extraEnv } });
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

/**
 * On PostgreSQL "due" is the database's clock, which a test's injected clock
 * does not move: makes a delivery due now by that clock, as the injected
 * clock passing its `next_attempt_at` does on SQLite. No-op on SQLite.
 */
export async function makeDueOnDatabaseClock(h: Pick<Herald, 'env'>, deliveryId: string): Promise<void> {
  if (TEST_DATABASE === 'sqlite') return;
  await withDatabase(h, (c) => c.query(`UPDATE deliveries SET next_attempt_at = now() AT TIME ZONE 'UTC' WHERE id = $1 AND status = 'PENDING'`, [deliveryId]));
}

/** Runs `fn` with a pg client on the PostgreSQL database of `h` (PostgreSQL suite only). */
export async function withDatabase<T>(h: Pick<Herald, 'env'>, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const url = h.env.DATABASE_URL;
  if (url === undefined || !url.startsWith('postgres')) throw new Error('withDatabase needs a PostgreSQL DATABASE_URL');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
