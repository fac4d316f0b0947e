/**
 * Herald as the benchmarks run it: `node dist/main.js` in a process of its
 * own (bench/herald-process.ts), on a brand-new database per scenario.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { createHeraldClient, type HeraldClient } from '../src/client.js';
import type { CreateNotificationRequest } from '../src/generated/proto/herald/v1/CreateNotificationRequest.js';
import { spawnHerald } from './herald-process.js';
import { forCount } from './load.js';

/** A database configuration the bench runs every scenario on. */
export interface DatabaseTarget {
  /** As printed in the table. */
  readonly label: string;
  readonly provider: 'sqlite' | 'postgresql';
  /** Extra Herald environment for this target (e.g. HERALD_SQLITE_SYNCHRONOUS). */
  readonly env: Readonly<Record<string, string>>;
  /** PostgreSQL only: a URL of a user allowed to CREATE DATABASE. */
  readonly adminUrl?: string;
}

/** A brand-new, empty database, and how to get rid of it. */
export interface BenchDatabase {
  readonly target: DatabaseTarget;
  readonly url: string;
  drop(): Promise<void>;
}

/**
 * A fresh database for one scenario: a SQLite file in a new temporary
 * directory, or `CREATE DATABASE` on the PostgreSQL server of `adminUrl`.
 */
export async function freshDatabase(target: DatabaseTarget): Promise<BenchDatabase> {
  if (target.provider === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'herald-bench-'));
    return { target, url: `file:${join(dir, 'herald.db')}`, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const adminUrl = target.adminUrl;
  if (adminUrl === undefined) throw new Error(`${target.label}: no admin URL`);
  const name = `herald_bench_${randomBytes(6).toString('hex')}`;
  await adminQuery(adminUrl, `CREATE DATABASE ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return { target, url: url.href, drop: () => adminQuery(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

async function adminQuery(adminUrl: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** A Herald process and a client of the bench's own for setup (null for a worker-only instance). */
export interface RunningHerald {
  readonly address: string | null;
  readonly client: HeraldClient | null;
  /** CPU the process has used so far, ms. */
  cpuMs(): number;
  /** Its resident set now, bytes. */
  rssBytes(): number;
  /** Closes the client, then stops Herald (SIGTERM: graceful, in-flight work finishes); resolves with its peak RSS (bytes) and CPU time (ms). */
  stop(): Promise<{ peakRssBytes: number; cpuMs: number }>;
}

/** How the bench runs Herald: which build, and Node flags for it (e.g. --cpu-prof). */
export interface HeraldRun {
  readonly dist: string;
  readonly nodeFlags: readonly string[];
}

/**
 * Starts Herald on `db` (loopback, http:// and private webhook targets
 * allowed, only errors logged), plus the target's and the scenario's own
 * settings, and waits until it serves.
 */
export async function startHerald(db: BenchDatabase, env: Readonly<Record<string, string>>, run: HeraldRun): Promise<RunningHerald> {
  const herald = await spawnHerald(
    {
      DATABASE_URL: db.url,
      HERALD_ALLOW_HTTP_TARGETS: 'true',
      HERALD_ALLOW_PRIVATE_TARGETS: 'true',
      HERALD_LOG_LEVEL: 'error',
      ...db.target.env,
      ...env,
    },
    run,
  );
  const address = herald.port === null ? null : `127.0.0.1:${herald.port}`;
  const client = address === null ? null : createHeraldClient(address);
  return {
    address,
    client,
    cpuMs: () => herald.cpuMs(),
    rssBytes: () => herald.rssBytes(),
    async stop() {
      client?.close();
      return herald.stop();
    },
  };
}

/** How close two readings of a settled resident set are, bytes, and how far apart, ms. */
const SETTLED_WITHIN_BYTES = 1024 * 1024;
const SETTLE_SPAN_MS = 1_000;
const SETTLE_MAX_MS = 10_000;

/**
 * The resident set of an idle Herald once start-up has settled: read every
 * 250 ms until it moved by less than 1 MB over a second (lazy start-up work
 * and its garbage are done), or after 10 s at most. Bytes.
 */
export async function settledRssBytes(herald: RunningHerald): Promise<number> {
  const readings: Array<{ at: number; bytes: number }> = [];
  const started = performance.now();
  for (;;) {
    const now = { at: performance.now(), bytes: herald.rssBytes() };
    readings.push(now);
    const before = readings.filter((r) => now.at - r.at >= SETTLE_SPAN_MS).at(-1);
    if (before !== undefined && Math.abs(now.bytes - before.bytes) < SETTLED_WITHIN_BYTES) return now.bytes;
    if (now.at - started >= SETTLE_MAX_MS) return now.bytes;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** The client of an instance that serves the API (fails loudly otherwise). */
export function apiOf(herald: RunningHerald): { client: HeraldClient; address: string } {
  if (herald.client === null || herald.address === null) throw new Error('this Herald instance serves no gRPC API');
  return { client: herald.client, address: herald.address };
}

/** The `i`-th agent id with `prefix`: the load generator derives the same ids from a prefix and a count. */
export function agentId(prefix: string, i: number): string {
  return `${prefix}-${String(i).padStart(4, '0')}`;
}

/** The ids the load generator uses for `count` agents with `prefix`. */
export function agentIds(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => agentId(prefix, i));
}

/**
 * Gives each agent preferences; with `webhookUrl` their webhooks are on
 * (creates decide DELIVER), without one they are off. `maxPerHour` sets an
 * hourly limit (0: none).
 */
export async function seedAgents(client: HeraldClient, agents: readonly string[], webhookUrl: string | null, maxPerHour = 0): Promise<void> {
  await forCount(
    (i) => {
      const agent_id = agents[i]!;
      return client.preferences.UpdatePreferences({
        preferences:
          webhookUrl === null ? { agent_id, enable_webhook: false, time_zone: 'Europe/Paris' }
          : { agent_id, enable_webhook: true, webhook_url: webhookUrl, ...(maxPerHour > 0 ? { max_notifications_per_hour: maxPerHour } : {}) },
      });
    },
    64,
    agents.length,
  );
}

/**
 * Gives each agent `extra` more endpoints through EndpointService (beside the
 * first one its webhook_url made), all to `url`: the fan-out row's agents.
 */
export async function seedEndpoints(client: HeraldClient, agents: readonly string[], url: string, extra: number): Promise<void> {
  await forCount(
    (i) => {
      const agent_id = agents[Math.floor(i / extra)]!;
      return client.endpoints.CreateEndpoint({ endpoint: { agent_id, url, description: `bench ${(i % extra) + 2}` } });
    },
    64,
    agents.length * extra,
  );
}

const CONTENT = 'Job 4711 finished after 3 steps; 12 artifacts were uploaded and the report is ready to download. '.repeat(2);

/** A typical notification: a few hundred bytes of text and a small metadata object. */
export function notificationRequest(agentId: string, seq: number): CreateNotificationRequest {
  return {
    agent_id: agentId,
    notification_type: 'job.completed',
    title: 'Job 4711 completed',
    content: CONTENT,
    priority: 'PRIORITY_NORMAL',
    related_entity_type: 'job',
    related_entity_id: `job-${seq}`,
    metadata: { fields: { seq: { numberValue: seq }, source: { stringValue: 'bench' } } },
  };
}
