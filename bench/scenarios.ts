/**
 * The three phases of the benchmark. Herald (`node dist/main.js`,
 * bench/herald-process.ts), the ceilings' servers and the load generators
 * (bench/child.ts) each run in a process of their own; each
 * phase measures its ceiling and its Herald rows in rounds, interleaved (the
 * order rotates every round), so that a burst of noise on this small, shared
 * machine lands on both sides of a ratio instead of on one row.
 *
 * 1. API: ceiling A (bare grpc-js echo) vs GetPreferences, CreateNotification
 *    deciding SUPPRESS and DELIVER (worker off) over 1,000 agents, and
 *    DELIVER for one agent (the per-agent serial path), without a limit and
 *    with an hourly limit whose window already holds 9,000 notifications.
 * 2. Delivery: ceiling B (bare got POSTs) vs a worker-only Herald draining a
 *    10,000-delivery backlog.
 * 3. Latency: create → webhook received at a fixed offered load (open loop).
 * 4. Tenants: one tenant's p99 create latency, alone and while another floods.
 * 5. Budget: where the time of one create and one delivery goes, from CPU
 *    profiles taken in this phase (bench/budget.ts).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { createHeraldClient } from '../src/client.js';
import { SHARED_WINDOW_MS } from '../src/grpc/tenant-admission.js';
import { budgetOf, monotonicUs, readProcessProfiles, type Budget } from './budget.js';
import { agentIds, apiOf, freshDatabase, notificationRequest, seedAgents, seedEndpoints, settledRssBytes, startHerald, type BenchDatabase, type DatabaseTarget, type HeraldRun, type RunningHerald } from './herald.js';
import { processUsage } from './herald-process.js';
import type { LoadSpec } from './load-generator.js';
import { forCount, percentile } from './load.js';
import { forkChild, type Child, type ChildReply } from './processes.js';
import { startOtlpSink } from './otlp-sink.js';
import { startReceiver, type BenchReceiver } from './receiver.js';
import { cloneRows, resetBacklog, sampleBody } from './seed.js';
import { TARGETS, type Target } from './targets.js';

export type { Target } from './targets.js';

export interface BenchOptions {
  /** Measured rounds of the throughput rows. */
  readonly rounds: number;
  /** Length of one throughput window, ms. */
  readonly windowMs: number;
  /** Unmeasured load before the first round of each row, ms. */
  readonly warmupMs: number;
  /** Calls in flight in every throughput row, and the worker's HERALD_WORKER_CONCURRENCY. */
  readonly concurrency: number;
  /** Agents the spread rows use. */
  readonly agents: number;
  /** Notifications already in the limited agent's hourly window. */
  readonly windowFill: number;
  /** Deliveries in the backlog of each delivery round, and rounds of it. */
  readonly backlog: number;
  readonly drainRounds: number;
  /** Offered load of the latency rows, calls/s, for `latencyMs` per round, `latencyRounds` rounds. */
  readonly offeredPerSecond: number;
  readonly latencyMs: number;
  readonly latencyRounds: number;
  /** The build every Herald process runs, and its Node flags (e.g. --cpu-prof). */
  readonly herald: HeraldRun;
  /** Length of each profiled window of the budget phase, ms. */
  readonly budgetMs: number;
  /** Where the budget phase keeps its profiles (--cpu-prof DIR); null: a temporary directory, removed after. */
  readonly profileDir: string | null;
  /** Progress lines go here (stderr), never into the table. */
  readonly progress: (line: string) => void;
}

/** One line of the report: Herald's samples (one per round) and the row it is divided by. */
export interface Result {
  readonly scenario: string;
  /** Database label, or "-" for a ceiling. */
  readonly database: string;
  readonly unit: string;
  readonly samples: number[];
  /** The row this one is divided by; null for a ceiling itself, or a row without a ratio. */
  readonly ceiling: Result | null;
  /** Latencies and memory: a smaller value is better and the ratio reads "times the floor". */
  readonly lowerIsBetter: boolean;
  readonly target: Target | null;
}

/** Things to close in reverse order of opening, even when a phase fails half-way. */
class Resources {
  private readonly closers: Array<() => Promise<unknown>> = [];

  add(close: () => Promise<unknown>): void {
    this.closers.push(close);
  }

  async closeAll(): Promise<void> {
    let first: unknown = null;
    while (this.closers.length > 0) {
      try {
        await this.closers.pop()!();
      } catch (err) {
        first ??= err;
      }
    }
    if (first !== null) throw first;
  }
}

async function withResources<T>(fn: (res: Resources) => Promise<T>): Promise<T> {
  const res = new Resources();
  try {
    return await fn(res);
  } finally {
    await res.closeAll();
  }
}

interface Step {
  readonly name: string;
  run(): Promise<void>;
}

/** Runs every step once per round, starting one step later each round. */
async function interleave(steps: readonly Step[], rounds: number, progress: (line: string) => void): Promise<void> {
  for (let round = 0; round < rounds; round += 1) {
    for (let k = 0; k < steps.length; k += 1) {
      const step = steps[(round + k) % steps.length]!;
      try {
        await step.run();
      } catch (err) {
        throw new Error(`${step.name}, round ${round + 1}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
    }
    progress(`  round ${round + 1}/${rounds} done`);
  }
}

function result(scenario: string, database: string, unit: string, ceiling: Result | null, target: Target | null = null, lowerIsBetter = false): Result {
  return { scenario, database, unit, samples: [], ceiling, lowerIsBetter, target };
}

/** Peak RSS of every Herald process of one database, and the idle RSS of one, MB (the report's memory rows). */
export class RssTracker {
  private readonly byDatabase = new Map<string, number>();
  private readonly idleByDatabase = new Map<string, number>();

  note(database: string, bytes: number): void {
    this.byDatabase.set(database, Math.max(this.byDatabase.get(database) ?? 0, bytes / 1024 / 1024));
  }

  /** A Herald's resident set after start-up, settled, before any load (see settledRssBytes). */
  noteIdle(database: string, bytes: number): void {
    this.idleByDatabase.set(database, bytes / 1024 / 1024);
  }

  rows(): Result[] {
    const databases = [...new Set([...this.idleByDatabase.keys(), ...this.byDatabase.keys()])];
    return databases.flatMap((database) => {
      const idle = this.idleByDatabase.get(database);
      const peak = this.byDatabase.get(database);
      return [
        ...(idle === undefined ? [] : [{ ...result('Idle RSS of a Herald process (started, settled, before any load)', database, 'MB', null, null, true), samples: [idle] }]),
        ...(peak === undefined ? [] : [{ ...result('Peak RSS of a Herald process', database, 'MB', null, TARGETS.peakRss, true), samples: [peak] }]),
      ];
    });
  }
}

async function startLoad(res: Resources, spec: LoadSpec): Promise<Child> {
  const child = await forkChild('load', { args: [JSON.stringify(spec)] });
  res.add(() => child.stop());
  return child;
}

function closedRate(reply: ChildReply): number {
  if (reply.type !== 'closed') throw new Error(`expected a closed-loop result, got ${reply.type}`);
  return reply.seconds > 0 ? reply.calls / reply.seconds : 0;
}

/** Phase 1: the gRPC API with the worker off. */
export async function apiPhase(targets: readonly DatabaseTarget[], opts: BenchOptions, rss: RssTracker): Promise<Result[]> {
  return withResources(async (res) => {
    const echo = await forkChild('echo');
    res.add(() => echo.stop());
    // DELIVER needs a webhook URL; with the worker off nothing is ever sent to it.
    const receiver = await startReceiver();
    res.add(() => receiver.close());
    // Where the traced Herald of each target exports its spans.
    const otlp = await startOtlpSink();
    res.add(() => otlp.close());
    const n = opts.concurrency;
    const ceiling = result('Ceiling A: bare grpc-js unary echo', '-', 'calls/s', null);
    const loads: Array<{ row: Result; load: Child }> = [{ row: ceiling, load: await startLoad(res, { kind: 'echo', concurrency: n, address: `127.0.0.1:${echo.port}` }) }];
    for (const target of targets) {
      opts.progress(`api: seeding ${target.label}`);
      const db = await freshDatabase(target);
      res.add(() => db.drop());
      const herald = await startHerald(db, { HERALD_WORKER: 'false' }, opts.herald);
      res.add(async () => rss.note(target.label, (await herald.stop()).peakRssBytes));
      const { client, address } = apiOf(herald);
      const spread = opts.agents;
      await seedAgents(client, agentIds('quiet', spread), null);
      await seedAgents(client, agentIds('hooked', spread), receiver.url);
      await seedAgents(client, agentIds('solo', 1), receiver.url);
      await seedAgents(client, agentIds('limited', 1), receiver.url, 1_000_000);
      await seedAgents(client, agentIds('fanned', spread), receiver.url);
      await seedEndpoints(client, agentIds('fanned', spread), receiver.url, 2);
      // The limited agent's window: one notification made by Herald, copied.
      const [limited] = agentIds('limited', 1) as [string];
      await client.notifications.CreateNotification(notificationRequest(limited, 0));
      await cloneRows(db, 'notifications', 'limited', opts.windowFill - 1);
      // The same creates on a Herald with tracing on (issue #23): its own database, since a SQLite file takes one process.
      const tracedDb = await freshDatabase(target);
      res.add(() => tracedDb.drop());
      const traced = await startHerald(tracedDb, { HERALD_WORKER: 'false', OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url }, opts.herald);
      // Left out of the peak RSS row, which is about a Herald as configured by default.
      res.add(() => traced.stop());
      const tracedApi = apiOf(traced);
      await seedAgents(tracedApi.client, agentIds('hooked', spread), receiver.url);

      const deliver = 'DECISION_OUTCOME_DELIVER';
      const create = (prefix: string, agents: number, outcome: string, at = address): LoadSpec => ({ kind: 'create', concurrency: n, address: at, prefix, agents, outcome, seqStart: 1 });
      const spreadRow = result(`CreateNotification → DELIVER, ${spread} agents (worker off)`, target.label, 'calls/s', ceiling, TARGETS.createSpread[target.provider]);
      const soloRow = result('CreateNotification → DELIVER, one agent', target.label, 'calls/s', ceiling, TARGETS.createOneAgent[target.provider]);
      const rows: Array<{ row: Result; spec: LoadSpec }> = [
        { row: result(`GetPreferences, ${spread} agents`, target.label, 'calls/s', ceiling), spec: { kind: 'get', concurrency: n, address, prefix: 'quiet', agents: spread } },
        { row: result(`CreateNotification → SUPPRESS, ${spread} agents`, target.label, 'calls/s', ceiling), spec: create('quiet', spread, 'DECISION_OUTCOME_SUPPRESS') },
        { row: spreadRow, spec: create('hooked', spread, deliver) },
        {
          row: result(`  same, 3 endpoints per agent (ratio to the row above)`, target.label, 'calls/s', spreadRow, TARGETS.fanOut),
          spec: create('fanned', spread, deliver),
        },
        {
          // Every call a root span, sampled: the most tracing can cost.
          row: result(`  create with tracing on (local OTLP receiver), ${spread} agents (ratio to the DELIVER row)`, target.label, 'calls/s', spreadRow),
          spec: create('hooked', spread, deliver, tracedApi.address),
        },
        { row: soloRow, spec: create('solo', 1, deliver) },
        {
          row: result(`  same, hourly limit with ${opts.windowFill.toLocaleString('en-US')} in the window (ratio to the row above)`, target.label, 'calls/s', soloRow, TARGETS.hourlyLimit),
          spec: create('limited', 1, deliver),
        },
      ];
      for (const r of rows) loads.push({ row: r.row, load: await startLoad(res, r.spec) });
    }
    opts.progress('api: warming up');
    for (const { load } of loads) await load.request({ type: 'closed', durationMs: opts.warmupMs });
    opts.progress(`api: ${opts.rounds} rounds of ${loads.length} × ${opts.windowMs} ms`);
    await interleave(
      loads.map(({ row, load }) => ({
        name: `${row.scenario} on ${row.database}`,
        run: async () => void row.samples.push(closedRate(await load.request({ type: 'closed', durationMs: opts.windowMs }))),
      })),
      opts.rounds,
      opts.progress,
    );
    if (receiver.arrivals.length !== 0) throw new Error('a webhook was sent while the worker was off');
    // Batches go out every 5 s or 512 spans: the rounds above are longer than that.
    if (otlp.requests() === 0) throw new Error('the traced Herald exported no span');
    return loads.map((l) => l.row);
  });
}

interface DrainTarget {
  readonly db: BenchDatabase;
  readonly row: Result;
  /** CPU time of the worker process per webhook, start-up excluded. */
  readonly cpuRow: Result;
  /** One agent's current signing secret, to verify a webhook of each round. */
  readonly check: { readonly agent: string; readonly secret: string };
  /** More settings of the worker that drains it. */
  readonly env?: Readonly<Record<string, string>>;
  /** Checks the arrivals of a round beyond "each exactly once" (the ordered row: every key in order). */
  readonly checkArrivals?: (arrivals: BenchReceiver['arrivals']) => void;
}

/**
 * Makes every delivery of `d` due again, starts a worker-only Herald
 * (HERALD_ROLE=worker) on it and waits until the receiver has every webhook.
 * Returns deliveries/s from the first arrival to the last, so start-up is
 * not counted; checks that each webhook came exactly once and that a
 * signature verifies.
 */
async function drainOnce(d: DrainTarget, receiver: BenchReceiver, count: number, opts: BenchOptions, rss: RssTracker): Promise<{ perSecond: number; cpuUs: number }> {
  await resetBacklog(d.db);
  receiver.reset();
  const worker = await startHerald(d.db, { HERALD_ROLE: 'worker', HERALD_WORKER_CONCURRENCY: String(opts.concurrency), ...d.env }, opts.herald);
  let cpuMs = 0;
  try {
    // CPU over the same span as the rate (first webhook to last): start-up is left out.
    await receiver.waitFor(1, 60_000);
    const first = worker.cpuMs();
    await receiver.waitFor(count, Math.max(60_000, count * 100));
    cpuMs = worker.cpuMs() - first;
  } finally {
    rss.note(d.db.target.label, (await worker.stop()).peakRssBytes);
  }
  const arrivals = receiver.arrivals;
  const ids = new Set(arrivals.map((a) => a.id));
  if (arrivals.length !== count || ids.size !== count) {
    throw new Error(`${d.db.target.label}: expected ${count} distinct webhooks, got ${arrivals.length} (${ids.size} distinct)`);
  }
  const sample = arrivals.find((a) => a.body.includes(`"agent_id":"${d.check.agent}"`));
  if (sample === undefined) throw new Error(`no webhook for ${d.check.agent}`);
  const headers: Record<string, string> = {};
  for (const name of ['webhook-id', 'webhook-timestamp', 'webhook-signature']) headers[name] = String(sample.headers[name] ?? '');
  new Webhook(d.check.secret).verify(sample.body, headers);
  d.checkArrivals?.(arrivals);
  const spanMs = arrivals[arrivals.length - 1]!.at - arrivals[0]!.at;
  return { perSecond: (count - 1) / (spanMs / 1000), cpuUs: (cpuMs * 1000) / (count - 1) };
}

/** Phase 2: webhook delivery throughput from a backlog. */
export async function deliveryPhase(targets: readonly DatabaseTarget[], opts: BenchOptions, rss: RssTracker): Promise<Result[]> {
  return withResources(async (res) => {
    const receiver = await startReceiver();
    res.add(() => receiver.close());
    const n = opts.concurrency;
    const ceiling = result('Ceiling B: bare got POST, keep-alive', '-', 'requests/s', null);
    // CPU per unit of work: much steadier than a rate on a machine shared with other load.
    const cpuCeiling = result('  CPU per POST, got load generator process', '-', 'µs', null, null, true);
    const drains: DrainTarget[] = [];
    let body = '';
    for (const target of targets) {
      opts.progress(`delivery: seeding ${target.label} with ${opts.backlog.toLocaleString('en-US')} deliveries`);
      const db = await freshDatabase(target);
      res.add(() => db.drop());
      const herald = await startHerald(db, { HERALD_WORKER: 'false' }, { ...opts.herald, nodeFlags: [] });
      try {
        const { client } = apiOf(herald);
        const agents = agentIds('hooked', Math.min(opts.agents, opts.backlog));
        await seedAgents(client, agents, receiver.url);
        await forCount((i) => client.notifications.CreateNotification(notificationRequest(agents[i]!, i)), 16, agents.length);
        const { webhook_secret } = await client.preferences.GetWebhookSecret({ agent_id: agents[0]! });
        drains.push({
          db,
          check: { agent: agents[0]!, secret: webhook_secret },
          row: result(`Webhook delivery from a ${opts.backlog.toLocaleString('en-US')} backlog (concurrency ${n})`, target.label, 'deliveries/s', ceiling, TARGETS.delivery[target.provider]),
          cpuRow: result('  CPU per webhook, Herald worker process (first to last webhook)', target.label, 'µs', cpuCeiling, null, true),
        });
        const copies = Math.ceil(opts.backlog / agents.length) - 1;
        if (copies > 0) await cloneRows(db, 'deliveries', 'hooked', copies);
        body = await sampleBody(db);
      } finally {
        await herald.stop();
      }
    }
    // The ceiling posts exactly the bytes Herald posts.
    const post = await startLoad(res, { kind: 'post', concurrency: n, url: receiver.url, body });
    await post.request({ type: 'closed', durationMs: opts.warmupMs });
    receiver.reset();
    opts.progress(`delivery: ${opts.drainRounds} rounds of ${opts.backlog} webhooks per row`);
    const steps: Step[] = [
      {
        name: ceiling.scenario,
        run: async () => {
          receiver.reset();
          const reply = await post.request({ type: 'count', total: opts.backlog });
          if (reply.type !== 'count') throw new Error(`expected a count result, got ${reply.type}`);
          ceiling.samples.push(opts.backlog / reply.seconds);
          cpuCeiling.samples.push((reply.cpuMs * 1000) / opts.backlog);
          receiver.reset();
        },
      },
      ...drains.map((d) => ({
        name: `${d.row.scenario} on ${d.row.database}`,
        run: async () => {
          const { perSecond, cpuUs } = await drainOnce(d, receiver, opts.backlog, opts, rss);
          d.row.samples.push(perSecond);
          d.cpuRow.samples.push(cpuUs);
        },
      })),
    ];
    await interleave(steps, opts.drainRounds, opts.progress);
    return [ceiling, cpuCeiling, ...drains.flatMap((d) => [d.row, d.cpuRow])];
  });
}

/** Ordering keys of the ordered-delivery pair's backlog (issue #21). */
const ORDERING_KEYS = 1_000;

/** Every key's webhooks arrived with X-Herald-Sequence 1, 2, 3… in that order. */
function inKeyOrder(arrivals: BenchReceiver['arrivals']): void {
  const last = new Map<string, number>();
  for (const a of arrivals) {
    const key = String(a.headers['x-herald-ordering-key'] ?? '');
    const seq = Number(a.headers['x-herald-sequence'] ?? 0);
    if (key === '' || seq !== (last.get(key) ?? 0) + 1) throw new Error(`key ${JSON.stringify(key)}: sequence ${seq} arrived after ${last.get(key) ?? 0}`);
    last.set(key, seq);
  }
}

/**
 * Phase 2b: ordered delivery (issue #21). The same backlog on one endpoint,
 * spread over 1,000 ordering keys: unordered, and with the endpoint
 * ORDERING_PER_KEY (one webhook of a key in flight at a time, in order). The
 * endpoint's in-flight cap is raised to the worker's concurrency for both, so
 * that the order, not the cap, is what the ratio measures.
 */
export async function orderingPhase(targets: readonly DatabaseTarget[], opts: BenchOptions, rss: RssTracker): Promise<Result[]> {
  return withResources(async (res) => {
    const receiver = await startReceiver();
    res.add(() => receiver.close());
    const n = opts.concurrency;
    const env = { HERALD_AGENT_MAX_IN_FLIGHT: String(n) };
    const drains: DrainTarget[] = [];
    for (const target of targets) {
      let unordered: Result | null = null;
      for (const ordered of [false, true]) {
        opts.progress(`ordering: seeding ${target.label} with ${opts.backlog.toLocaleString('en-US')} deliveries over ${ORDERING_KEYS} keys${ordered ? ', ORDERING_PER_KEY' : ''}`);
        const db = await freshDatabase(target);
        res.add(() => db.drop());
        const herald = await startHerald(db, { HERALD_WORKER: 'false' }, { ...opts.herald, nodeFlags: [] });
        try {
          const { client } = apiOf(herald);
          const [agent] = agentIds('keyed', 1) as [string];
          await seedAgents(client, [agent], receiver.url);
          if (ordered) {
            const [first] = (await client.endpoints.ListEndpoints({ agent_id: agent })).endpoints;
            await client.endpoints.UpdateEndpoint({ endpoint: { id: first!.id, ordering: 'ORDERING_PER_KEY' }, update_mask: { paths: ['ordering'] } });
          }
          await forCount((i) => client.notifications.CreateNotification({ ...notificationRequest(agent, i), ordering_key: `job-${i}` }), 16, ORDERING_KEYS);
          const { webhook_secret } = await client.preferences.GetWebhookSecret({ agent_id: agent });
          const row: Result = ordered
            ? result(`  same, ${ORDERING_KEYS.toLocaleString('en-US')} keys on an ORDERING_PER_KEY endpoint (ratio to the row above)`, target.label, 'deliveries/s', unordered, TARGETS.ordering)
            : result(`Webhook delivery from a ${opts.backlog.toLocaleString('en-US')} backlog on one endpoint, ${ORDERING_KEYS.toLocaleString('en-US')} ordering keys, unordered (concurrency ${n})`, target.label, 'deliveries/s', null);
          unordered ??= row;
          drains.push({
            db,
            check: { agent, secret: webhook_secret },
            row,
            cpuRow: result('  CPU per webhook, Herald worker process (first to last webhook)', target.label, 'µs', null, null, true),
            env,
            ...(ordered ? { checkArrivals: inKeyOrder } : {}),
          });
          const copies = Math.ceil(opts.backlog / ORDERING_KEYS) - 1;
          if (copies > 0) await cloneRows(db, 'deliveries', 'keyed', copies);
        } finally {
          await herald.stop();
        }
      }
    }
    opts.progress(`ordering: ${opts.drainRounds} rounds of ${opts.backlog} webhooks per row`);
    await interleave(
      drains.map((d) => ({
        name: `${d.row.scenario} on ${d.row.database}`,
        run: async () => {
          const { perSecond, cpuUs } = await drainOnce(d, receiver, opts.backlog, opts, rss);
          d.row.samples.push(perSecond);
          d.cpuRow.samples.push(cpuUs);
        },
      })),
      opts.drainRounds,
      opts.progress,
    );
    return drains.flatMap((d) => [d.row, d.cpuRow]);
  });
}

/**
 * Phase 3: create → webhook received, the worker on, at a fixed offered load
 * (an open loop over 1,000 agents): from each create's intended start to its
 * webhook's arrival, on the machine's wall clock (shared by the processes).
 */
export async function latencyPhase(targets: readonly DatabaseTarget[], opts: BenchOptions, rss: RssTracker): Promise<Result[]> {
  return withResources(async (res) => {
    const receiver = await startReceiver();
    res.add(() => receiver.close());
    const rows: Result[] = [];
    for (const target of targets) {
      opts.progress(`latency: ${target.label}, ${opts.offeredPerSecond}/s offered for ${opts.latencyMs} ms × ${opts.latencyRounds}`);
      const db = await freshDatabase(target);
      res.add(() => db.drop());
      const herald = await startHerald(db, { HERALD_WORKER_CONCURRENCY: String(opts.concurrency) }, opts.herald);
      res.add(async () => rss.note(target.label, (await herald.stop()).peakRssBytes));
      // The one Herald of the run configured as by default, worker on: its idle memory, before seeding.
      rss.noteIdle(target.label, await settledRssBytes(herald));
      const { client, address } = apiOf(herald);
      await seedAgents(client, agentIds('hooked', opts.agents), receiver.url);
      const load = await startLoad(res, { kind: 'create', concurrency: opts.concurrency, address, prefix: 'hooked', agents: opts.agents, outcome: 'DECISION_OUTCOME_DELIVER', seqStart: 1 });
      const p50 = result(`Create → webhook received at ${opts.offeredPerSecond}/s offered, p50`, target.label, 'ms', null, null, true);
      const p99 = result(
        `Create → webhook received at ${opts.offeredPerSecond}/s offered, p99`,
        target.label,
        'ms',
        null,
        TARGETS.latencyP99[target.provider],
        true,
      );
      // Warm-up: a short burst at the same rate.
      const round = async (durationMs: number): Promise<number[]> => {
        receiver.reset();
        const reply = await load.request({ type: 'open', ratePerSecond: opts.offeredPerSecond, durationMs });
        if (reply.type !== 'open') throw new Error(`expected an open-loop result, got ${reply.type}`);
        const out: number[] = [];
        for (const [id, startedAt] of reply.started) out.push((await receiver.waitForId(id, 30_000)) - startedAt);
        return out;
      };
      await round(Math.min(1_000, opts.latencyMs));
      for (let i = 0; i < opts.latencyRounds; i += 1) {
        const latencies = await round(opts.latencyMs);
        p50.samples.push(percentile(latencies, 0.5));
        p99.samples.push(percentile(latencies, 0.99));
      }
      rows.push(p50, p99);
    }
    return rows;
  });
}

/** Calls in flight of the flooding tenant in the two-tenant rows (the measurement). */
const FLOOD_IN_FLIGHT = 64;

/**
 * Phase 4: one tenant's share (issue #19). Tenant `steady` makes creates one
 * at a time, alone and then while tenant `flood` makes creates with 64 in
 * flight; its p99 latency in both, and their ratio (target: at most 2×).
 * The flooding tenant takes RESOURCE_EXHAUSTED for its calls beyond
 * HERALD_TENANT_MAX_IN_FLIGHT (default) and waits the server's
 * grpc-retry-pushback-ms before its next call, as a grpc client with a
 * retry policy does. Worker off, as in phase 1: the rows measure the API.
 */
export async function tenantPhase(targets: readonly DatabaseTarget[], opts: BenchOptions, rss: RssTracker): Promise<Result[]> {
  return withResources(async (res) => {
    const receiver = await startReceiver();
    res.add(() => receiver.close());
    // Long enough for a p99 of one-at-a-time calls to rest on a few hundred of them.
    const windowMs = 3 * opts.windowMs;
    const rows: Result[] = [];
    for (const target of targets) {
      opts.progress(`tenants: ${target.label}`);
      const db = await freshDatabase(target);
      res.add(() => db.drop());
      const herald = await startHerald(db, { HERALD_WORKER: 'false' }, opts.herald);
      res.add(async () => rss.note(target.label, (await herald.stop()).peakRssBytes));
      const { address } = apiOf(herald);
      for (const tenant of ['flood', 'steady']) {
        const client = createHeraldClient(address, { tenant });
        try {
          await seedAgents(client, agentIds(tenant, tenant === 'flood' ? opts.agents : 100), receiver.url);
        } finally {
          client.close();
        }
        // Seeding is 64 in flight: the next tenant's would count as sharing the process with this one's.
        await new Promise((resolve) => setTimeout(resolve, SHARED_WINDOW_MS + 100));
      }
      const deliver = 'DECISION_OUTCOME_DELIVER';
      const flood = await startLoad(res, { kind: 'create', concurrency: FLOOD_IN_FLIGHT, address, prefix: 'flood', agents: opts.agents, outcome: deliver, seqStart: 1, tenant: 'flood', refused: 'wait-hint' });
      const steady = await startLoad(res, { kind: 'create', concurrency: 1, address, prefix: 'steady', agents: 100, outcome: deliver, seqStart: 1, tenant: 'steady' });
      const alone = result('CreateNotification p99, one tenant one call at a time, alone', target.label, 'ms', null, null, true);
      const flooded = result(`  same, while another tenant floods creates at ${FLOOD_IN_FLIGHT} in flight (ratio to alone)`, target.label, 'ms', alone, TARGETS.tenantIsolation, true);
      const p99 = (reply: ChildReply): number => {
        if (reply.type !== 'latencies') throw new Error(`expected latencies, got ${reply.type}`);
        return percentile(reply.ms, 0.99);
      };
      await steady.request({ type: 'closed', durationMs: opts.warmupMs });
      await flood.request({ type: 'closed', durationMs: opts.warmupMs });
      await interleave(
        [
          { name: alone.scenario, run: async () => void alone.samples.push(p99(await steady.request({ type: 'latencies', durationMs: windowMs }))) },
          {
            name: flooded.scenario,
            run: async () => {
              // The flood runs from before the measured window to after it.
              const flooding = flood.request({ type: 'closed', durationMs: windowMs + 2 * opts.warmupMs });
              await new Promise((resolve) => setTimeout(resolve, opts.warmupMs));
              flooded.samples.push(p99(await steady.request({ type: 'latencies', durationMs: windowMs })));
              await flooding;
            },
          },
        ],
        opts.rounds,
        opts.progress,
      );
      rows.push(alone, flooded);
    }
    return rows;
  });
}

/** One unit of work of the budget: where its thread time goes, the process's CPU per unit (/proc, all threads) and the rate in the window. */
export interface Measured {
  readonly budget: Budget;
  readonly processCpuUs: number;
  readonly perSecond: number;
}

/** The budget phase's figures: the bare echo's call, and one create and one delivery per database. */
export interface BudgetReport {
  readonly echo: Measured;
  readonly databases: ReadonlyArray<{ readonly database: string; readonly create: Measured; readonly delivery: Measured }>;
}

/** Node flags that make a process write a profile of each of its threads into `dir`. */
function profiling(dir: string): string[] {
  mkdirSync(dir, { recursive: true });
  return ['--cpu-prof', '--cpu-prof-dir', dir];
}

/** A closed-loop window of `load`, stamped on the profiles' clock, with the server's CPU over it (ms, from /proc). */
async function profiledWindow(load: Child, durationMs: number, cpuMs: () => number): Promise<{ startUs: number; endUs: number; calls: number; perSecond: number; cpuMs: number }> {
  const cpu = cpuMs();
  const startUs = monotonicUs();
  const reply = await load.request({ type: 'closed', durationMs });
  const endUs = monotonicUs();
  const used = cpuMs() - cpu;
  if (reply.type !== 'closed') throw new Error(`expected a closed-loop result, got ${reply.type}`);
  return { startUs, endUs, calls: reply.calls, perSecond: reply.seconds > 0 ? reply.calls / reply.seconds : 0, cpuMs: used };
}

/**
 * Phase 5: where the time of one create and one delivery goes (issue #22).
 * Each process here writes V8 CPU profiles (--cpu-prof, every thread):
 * the bare echo under its load, then per database a Herald with the worker
 * off under CreateNotification → DELIVER over 1,000 agents, and a
 * worker-only Herald draining the deliveries those creates made. Each
 * profile is cut to its measured window (the first webhook to the last for
 * the drain) and divided by the calls or webhooks in it (bench/budget.ts).
 * Profiling slows a process a little; these processes are left out of every
 * other row.
 */
export async function budgetPhase(targets: readonly DatabaseTarget[], opts: BenchOptions): Promise<BudgetReport> {
  // A directory of its own each run: a profile left by an earlier run would count as another process.
  if (opts.profileDir !== null) mkdirSync(opts.profileDir, { recursive: true });
  const base = mkdtempSync(join(opts.profileDir ?? tmpdir(), opts.profileDir === null ? 'herald-budget-' : 'budget-'));
  try {
    return await withResources(async (res) => {
      const receiver = await startReceiver();
      res.add(() => receiver.close());
      const n = opts.concurrency;

      opts.progress(`budget: the echo, ${opts.budgetMs} ms profiled`);
      const echoDir = join(base, 'echo');
      const echo = await forkChild('echo', { nodeFlags: profiling(echoDir) });
      res.add(() => echo.stop());
      const echoLoad = await startLoad(res, { kind: 'echo', concurrency: n, address: `127.0.0.1:${echo.port}` });
      await echoLoad.request({ type: 'closed', durationMs: opts.warmupMs });
      const echoWindow = await profiledWindow(echoLoad, opts.budgetMs, () => processUsage(echo.pid)?.cpuMs ?? 0);
      // The profile is written as the process exits.
      await echo.stop();
      const measured = (dir: string, w: { startUs: number; endUs: number; cpuMs: number; perSecond: number }, units: number): Measured => ({
        budget: budgetOf(readProcessProfiles(dir), w, units),
        processCpuUs: (w.cpuMs * 1000) / units,
        perSecond: w.perSecond,
      });
      const echoMeasured = measured(echoDir, echoWindow, echoWindow.calls);

      const databases: Array<BudgetReport['databases'][number]> = [];
      for (const target of targets) {
        opts.progress(`budget: ${target.label}, ${opts.budgetMs} ms of creates profiled, then their deliveries`);
        const db = await freshDatabase(target);
        res.add(() => db.drop());
        const createDir = join(base, `${target.provider}-create`);
        const api = await startHerald(db, { HERALD_WORKER: 'false' }, { dist: opts.herald.dist, nodeFlags: profiling(createDir) });
        res.add(() => api.stop());
        const { client, address } = apiOf(api);
        await seedAgents(client, agentIds('hooked', opts.agents), receiver.url);
        const load = await startLoad(res, { kind: 'create', concurrency: n, address, prefix: 'hooked', agents: opts.agents, outcome: 'DECISION_OUTCOME_DELIVER', seqStart: 1 });
        const warm = await load.request({ type: 'closed', durationMs: opts.warmupMs });
        if (warm.type !== 'closed') throw new Error(`expected a closed-loop result, got ${warm.type}`);
        const createWindow = await profiledWindow(load, opts.budgetMs, () => api.cpuMs());
        // The load's channel first: a graceful stop waits for open connections.
        await load.stop();
        await api.stop();
        const create = measured(createDir, createWindow, createWindow.calls);

        // Every create above made one delivery (one endpoint per agent): the drain's backlog.
        const backlog = warm.calls + createWindow.calls;
        const deliveryDir = join(base, `${target.provider}-delivery`);
        receiver.reset();
        const worker = await startHerald(db, { HERALD_ROLE: 'worker', HERALD_WORKER_CONCURRENCY: String(n) }, { dist: opts.herald.dist, nodeFlags: profiling(deliveryDir) });
        res.add(() => worker.stop());
        await receiver.waitFor(1, 60_000);
        const cpu = worker.cpuMs();
        const startUs = monotonicUs();
        await receiver.waitFor(backlog, Math.max(60_000, backlog * 100));
        const endUs = monotonicUs();
        const cpuMs = worker.cpuMs() - cpu;
        await worker.stop();
        const ids = new Set(receiver.arrivals.map((a) => a.id));
        if (receiver.arrivals.length !== backlog || ids.size !== backlog) throw new Error(`budget: expected ${backlog} distinct webhooks, got ${receiver.arrivals.length} (${ids.size} distinct)`);
        const arrivals = receiver.arrivals;
        const spanSeconds = (arrivals[arrivals.length - 1]!.at - arrivals[0]!.at) / 1000;
        // The first webhook starts the window: the ones after it are its work.
        const delivery = measured(deliveryDir, { startUs, endUs, cpuMs, perSecond: (backlog - 1) / spanSeconds }, backlog - 1);
        databases.push({ database: target.label, create, delivery });
      }
      return { echo: echoMeasured, databases };
    });
  } finally {
    if (opts.profileDir === null) rmSync(base, { recursive: true, force: true });
  }
}
