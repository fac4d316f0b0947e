/**
 * The three phases of the benchmark. Each phase measures its ceiling and its
 * Herald scenarios in rounds, interleaved (the order rotates every round), so
 * that a burst of noise on this small, shared machine lands on both sides of
 * a ratio instead of on one scenario.
 *
 * 1. API: ceiling A (bare grpc-js echo) vs GetPreferences, CreateNotification
 *    deciding SUPPRESS, and CreateNotification deciding DELIVER with the worker off.
 * 2. Delivery: ceiling B (bare got POSTs) vs draining a backlog of DELIVER
 *    outbox rows with the worker on.
 * 3. Latency: one bare POST at a time vs create→receive for creates made one at a time.
 */
import { performance } from 'node:perf_hooks';
import { Webhook } from 'standardwebhooks';
import type { HeraldClient } from '../src/client.js';
import { startGrpcCeiling, startHttpCeiling } from './ceilings.js';
import { agentIds, apiOf, freshDatabase, notificationRequest, seedAgents, startHerald, type BenchDatabase, type DatabaseTarget, type RunningHerald } from './herald.js';
import { closedLoop, forCount, percentile, sequentialLatencies } from './load.js';
import { startReceiver, type BenchReceiver } from './receiver.js';

export interface BenchOptions {
  /** Measured rounds per scenario. */
  readonly rounds: number;
  /** Length of one throughput window, ms. */
  readonly windowMs: number;
  /** Unmeasured load before the first round of each scenario, ms. */
  readonly warmupMs: number;
  /** Calls in flight in every throughput scenario, and the worker's HERALD_WORKER_CONCURRENCY. */
  readonly concurrency: number;
  /** Webhooks in the backlog of each delivery round. */
  readonly drainCount: number;
  /** Sequential creates per latency round. */
  readonly trickleCount: number;
  /** Progress lines go here (stderr), never into the table. */
  readonly progress: (line: string) => void;
}

/** One line of the report: Herald's samples (one per round) and the ceiling measured alongside. */
export interface Result {
  readonly scenario: string;
  /** Database label, or "-" for a ceiling. */
  readonly database: string;
  readonly unit: string;
  readonly samples: number[];
  /** The ceiling row this one is divided by; null for a ceiling itself. */
  readonly ceiling: Result | null;
  /** Latencies: a smaller value is better and the ratio reads "times the floor". */
  readonly lowerIsBetter: boolean;
}

/** Things to close in reverse order of opening, even when a phase fails half-way. */
class Resources {
  private readonly closers: Array<() => Promise<void>> = [];

  add(close: () => Promise<void>): void {
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

/** Runs `fn` with a fresh set of resources, closing them all whatever happens. */
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
  /** Measures once and records the round's sample(s). */
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

function result(scenario: string, database: string, unit: string, ceiling: Result | null, lowerIsBetter = false): Result {
  return { scenario, database, unit, samples: [], ceiling, lowerIsBetter };
}

/** A Herald on a fresh database; both are closed with `res`. */
async function startInstance(res: Resources, target: DatabaseTarget, env: Readonly<Record<string, string>>): Promise<{ herald: RunningHerald; db: BenchDatabase }> {
  const db = await freshDatabase(target);
  res.add(() => db.drop());
  const herald = await startHerald(db, env);
  res.add(() => herald.stop());
  return { herald, db };
}

function expectOutcome(outcome: string | undefined, expected: string): void {
  if (outcome !== expected) throw new Error(`expected decision ${expected}, got ${outcome ?? 'none'}`);
}

/** Phase 1: the gRPC API with the worker off. */
export async function apiPhase(targets: readonly DatabaseTarget[], opts: BenchOptions): Promise<Result[]> {
  return withResources(async (res) => {
    const echo = await startGrpcCeiling();
    res.add(() => echo.close());
    // DELIVER needs a webhook URL; with the worker off nothing is ever sent to it.
    const receiver = await startReceiver();
    res.add(() => receiver.close());

    const ceiling = result('Ceiling A: bare grpc-js unary echo', '-', 'calls/s', null);
    const loads: Array<{ row: Result; call: (loop: number) => Promise<unknown> }> = [{ row: ceiling, call: () => echo.call() }];
    const n = opts.concurrency;
    let seq = 0;
    for (const target of targets) {
      opts.progress(`api: starting Herald instances on ${target.label}`);
      const scenarios: Array<'get' | 'suppress' | 'deliver'> = target.readPath ? ['get', 'suppress', 'deliver'] : ['suppress', 'deliver'];
      for (const scenario of scenarios) {
        // A fresh database per scenario: one scenario's rows never slow another.
        const { herald } = await startInstance(res, target, { HERALD_WORKER: 'false' });
        const client = apiOf(herald);
        if (scenario === 'get') {
          const agents = agentIds('reader', n);
          await seedAgents(client, agents, null);
          loads.push({
            row: result('GetPreferences (read path)', target.label, 'calls/s', ceiling),
            call: async (loop) => {
              const prefs = await client.preferences.GetPreferences({ agent_id: agents[loop]! });
              if (prefs.agent_id !== agents[loop]) throw new Error('GetPreferences answered for another agent');
            },
          });
        } else if (scenario === 'suppress') {
          const agents = agentIds('quiet', n);
          await seedAgents(client, agents, null);
          loads.push({
            row: result('CreateNotification → SUPPRESS (webhook off)', target.label, 'calls/s', ceiling),
            call: async (loop) => {
              const r = await client.notifications.CreateNotification(notificationRequest(agents[loop]!, seq++));
              expectOutcome(r.decision?.outcome, 'DECISION_OUTCOME_SUPPRESS');
            },
          });
        } else {
          const agents = agentIds('hooked', n);
          await seedAgents(client, agents, receiver.url);
          loads.push({
            row: result('CreateNotification → DELIVER (+ outbox row, worker off)', target.label, 'calls/s', ceiling),
            call: async (loop) => {
              const r = await client.notifications.CreateNotification(notificationRequest(agents[loop]!, seq++));
              expectOutcome(r.decision?.outcome, 'DECISION_OUTCOME_DELIVER');
            },
          });
        }
      }
    }
    opts.progress('api: warming up');
    for (const load of loads) await closedLoop(load.call, n, opts.warmupMs);
    opts.progress(`api: ${opts.rounds} rounds of ${loads.length} × ${opts.windowMs} ms`);
    await interleave(
      loads.map((load) => ({
        name: `${load.row.scenario} on ${load.row.database}`,
        run: async () => {
          load.row.samples.push((await closedLoop(load.call, n, opts.windowMs)).perSecond);
        },
      })),
      opts.rounds,
      opts.progress,
    );
    if (receiver.arrivals.length !== 0) throw new Error('a webhook was sent while the worker was off');
    return loads.map((load) => load.row);
  });
}

interface DrainTarget {
  readonly db: BenchDatabase;
  readonly client: HeraldClient;
  readonly agents: readonly string[];
  readonly row: Result;
}

/**
 * Pre-creates `count` DELIVER notifications through an API-only Herald (the
 * worker off), then starts a worker-only Herald (HERALD_ROLE=worker, the
 * given concurrency) on the same database and waits until the receiver has
 * every webhook. Returns deliveries/s between the first and the last arrival,
 * so Herald's start-up is not counted; checks that each webhook came exactly
 * once and that a signature verifies.
 */
async function drainOnce(d: DrainTarget, receiver: BenchReceiver, count: number, concurrency: number, seqStart: number): Promise<{ perSecond: number; body: Buffer }> {
  await forCount(
    async (i) => {
      const r = await d.client.notifications.CreateNotification(notificationRequest(d.agents[i % d.agents.length]!, seqStart + i));
      expectOutcome(r.decision?.outcome, 'DECISION_OUTCOME_DELIVER');
    },
    concurrency,
    count,
  );
  receiver.reset();
  const worker = await startHerald(d.db, { HERALD_ROLE: 'worker', HERALD_WORKER_CONCURRENCY: String(concurrency) });
  try {
    await receiver.waitFor(count, Math.max(60_000, count * 100));
  } finally {
    await worker.stop();
  }
  const arrivals = receiver.arrivals;
  const ids = new Set(arrivals.map((a) => a.id));
  if (arrivals.length !== count || ids.size !== count) {
    throw new Error(`${d.db.target.label}: expected ${count} distinct webhooks, got ${arrivals.length} (${ids.size} distinct)`);
  }
  const sample = arrivals[arrivals.length >> 1]!;
  const agent = (JSON.parse(sample.body.toString('utf8')) as { notification: { agent_id: string } }).notification.agent_id;
  const { webhook_secret } = await d.client.preferences.GetWebhookSecret({ agent_id: agent });
  const headers: Record<string, string> = {};
  for (const name of ['webhook-id', 'webhook-timestamp', 'webhook-signature']) headers[name] = String(sample.headers[name] ?? '');
  new Webhook(webhook_secret).verify(sample.body, headers);
  const spanMs = arrivals[arrivals.length - 1]!.at - arrivals[0]!.at;
  return { perSecond: (count - 1) / (spanMs / 1000), body: sample.body };
}

/** Phase 2: end-to-end webhook delivery throughput. */
export async function deliveryPhase(targets: readonly DatabaseTarget[], opts: BenchOptions): Promise<Result[]> {
  return withResources(async (res) => {
    const receiver = await startReceiver();
    res.add(() => receiver.close());
    const n = opts.concurrency;
    const ceiling = result(`Ceiling B: bare got POST, keep-alive`, '-', 'requests/s', null);
    const drains: DrainTarget[] = [];
    for (const target of targets) {
      opts.progress(`delivery: preparing ${target.label}`);
      const { herald, db } = await startInstance(res, target, { HERALD_WORKER: 'false' });
      const client = apiOf(herald);
      const agents = agentIds('hooked', n);
      await seedAgents(client, agents, receiver.url);
      drains.push({ db, client, agents, row: result(`Webhook delivery, worker on (concurrency ${n})`, target.label, 'deliveries/s', ceiling) });
    }
    let seq = 0;
    // Warm-up: a small backlog per target; its webhook body becomes ceiling B's body,
    // so the ceiling posts exactly the bytes Herald posts.
    opts.progress('delivery: warming up');
    const warmCount = n;
    let body: Buffer = Buffer.alloc(0);
    for (const d of drains) {
      body = (await drainOnce(d, receiver, warmCount, n, seq)).body;
      seq += warmCount;
    }
    const post = startHttpCeiling(receiver, body);
    res.add(() => post.close());
    await closedLoop(() => post.call(), n, opts.warmupMs);
    receiver.reset();
    opts.progress(`delivery: ${opts.rounds} rounds (ceiling ${opts.windowMs} ms, ${opts.drainCount} webhooks per target)`);
    const steps: Step[] = [
      {
        name: ceiling.scenario,
        run: async () => {
          ceiling.samples.push((await closedLoop(() => post.call(), n, opts.windowMs)).perSecond);
          receiver.reset();
        },
      },
      ...drains.map((d) => ({
        name: `${d.row.scenario} on ${d.row.database}`,
        run: async () => {
          d.row.samples.push((await drainOnce(d, receiver, opts.drainCount, n, seq)).perSecond);
          seq += opts.drainCount;
        },
      })),
    ];
    await interleave(steps, opts.rounds, opts.progress);
    return [ceiling, ...drains.map((d) => d.row)];
  });
}

/**
 * Phase 3: latency of creates made one at a time, the worker on. Each create
 * is timed from the call's start to the receiver having its webhook; the
 * floor is one bare gRPC echo plus one bare POST, one at a time. The time from
 * the call returning to the webhook's arrival is reported too: in one process
 * the worker, woken in-process at commit, often has the webhook out before
 * the client has read the response, so it can be negative.
 */
export async function latencyPhase(targets: readonly DatabaseTarget[], opts: BenchOptions): Promise<Result[]> {
  return withResources(async (res) => {
    const receiver = await startReceiver();
    res.add(() => receiver.close());
    const echo = await startGrpcCeiling();
    res.add(() => echo.close());
    const post = startHttpCeiling(receiver, Buffer.from(JSON.stringify({ event: 'notification', padding: 'x'.repeat(600) })));
    res.add(() => post.close());

    const floor50 = result('Floor: one bare echo + one bare POST, p50', '-', 'ms', null, true);
    const floor95 = result('Floor: one bare echo + one bare POST, p95', '-', 'ms', null, true);
    interface Trickle {
      readonly client: HeraldClient;
      readonly agent: string;
      readonly rows: { p50: Result; p95: Result; afterReturn50: Result; afterReturn95: Result };
    }
    const trickles: Trickle[] = [];
    for (const target of targets) {
      opts.progress(`latency: preparing ${target.label}`);
      const { herald } = await startInstance(res, target, { HERALD_WORKER_CONCURRENCY: String(opts.concurrency) });
      const client = apiOf(herald);
      const [agent] = agentIds('trickle', 1) as [string];
      await seedAgents(client, [agent], receiver.url);
      trickles.push({
        client,
        agent,
        rows: {
          p50: result('Create call → webhook received, p50', target.label, 'ms', floor50, true),
          p95: result('Create call → webhook received, p95', target.label, 'ms', floor95, true),
          afterReturn50: result('Create returned → webhook received, p50', target.label, 'ms', null, true),
          afterReturn95: result('Create returned → webhook received, p95', target.label, 'ms', null, true),
        },
      });
    }
    let seq = 0;
    const trickle = async (t: Trickle, count: number): Promise<{ fromCall: number[]; fromReturn: number[] }> => {
      receiver.reset();
      const fromCall: number[] = [];
      const fromReturn: number[] = [];
      for (let i = 0; i < count; i += 1) {
        const called = performance.now();
        const r = await t.client.notifications.CreateNotification(notificationRequest(t.agent, seq++));
        const returned = performance.now();
        expectOutcome(r.decision?.outcome, 'DECISION_OUTCOME_DELIVER');
        const arrived = await receiver.waitForId(r.decision?.delivery_id ?? '', 30_000);
        fromCall.push(arrived - called);
        fromReturn.push(arrived - returned);
      }
      return { fromCall, fromReturn };
    };
    const floor = async (count: number): Promise<{ p50: number; p95: number }> => {
      const calls = await sequentialLatencies(() => echo.call(), count);
      const posts = await sequentialLatencies(() => post.call(), count);
      receiver.reset();
      return { p50: percentile(calls, 0.5) + percentile(posts, 0.5), p95: percentile(calls, 0.95) + percentile(posts, 0.95) };
    };

    opts.progress('latency: warming up');
    const warm = Math.max(10, Math.round(opts.trickleCount / 5));
    await floor(warm);
    for (const t of trickles) await trickle(t, warm);
    opts.progress(`latency: ${opts.rounds} rounds of ${opts.trickleCount} sequential creates per target`);
    const steps: Step[] = [
      {
        name: 'floor',
        run: async () => {
          const f = await floor(opts.trickleCount);
          floor50.samples.push(f.p50);
          floor95.samples.push(f.p95);
        },
      },
      ...trickles.map((t) => ({
        name: t.rows.p50.database,
        run: async () => {
          const { fromCall, fromReturn } = await trickle(t, opts.trickleCount);
          t.rows.p50.samples.push(percentile(fromCall, 0.5));
          t.rows.p95.samples.push(percentile(fromCall, 0.95));
          t.rows.afterReturn50.samples.push(percentile(fromReturn, 0.5));
          t.rows.afterReturn95.samples.push(percentile(fromReturn, 0.95));
        },
      })),
    ];
    await interleave(steps, opts.rounds, opts.progress);
    return [floor50, floor95, ...trickles.flatMap((t) => [t.rows.p50, t.rows.p95, t.rows.afterReturn50, t.rows.afterReturn95])];
  });
}
