/**
 * `npm run bench`: Herald's throughput and latency as ratios to ceilings
 * measured in the same run (see docs/BENCHMARKS.md for how to read them).
 *
 *   npm run bench                       # a few minutes: SQLite, and PostgreSQL when configured
 *   npm run bench -- --quick            # about a minute, fewer, shorter rounds and a smaller backlog
 *   npm run bench -- --rounds 7         # more rounds (the default is 5)
 *   npm run bench -- --no-write         # print only; leave docs/BENCHMARKS.md alone
 *   npm run bench -- --cpu-prof DIR     # every Herald process writes a V8 CPU profile into DIR (the budget phase's in DIR/budget-*)
 *   npm run bench -- --only delivery    # one phase only: api, delivery, ordering, latency, tenants or budget (for working on one path)
 *   npm run bench -- --dist DIR         # run that build instead of dist/: a copy of an earlier dist/ beside it (so proto/, package.json, node_modules resolve)
 *   HERALD_BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres npm run bench
 *
 * HERALD_BENCH_DATABASE_URL is a PostgreSQL URL of a user allowed to CREATE
 * DATABASE: each scenario gets a database of its own, dropped afterwards.
 * Herald runs as `node dist/main.js`; dist/ is built first when missing or
 * older than src/ (bench/herald-process.ts). Progress goes to stderr, the
 * table to stdout.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import type { DatabaseTarget } from './herald.js';
import { DEFAULT_DIST, ensureBuilt } from './herald-process.js';
import { budgetSection, markdownPage, targetSummary, textTable, type RunInfo } from './report.js';
import { apiPhase, budgetPhase, deliveryPhase, latencyPhase, orderingPhase, RssTracker, tenantPhase, type BenchOptions, type BudgetReport, type Result } from './scenarios.js';

const DOC_PATH = fileURLToPath(new URL('../docs/BENCHMARKS.md', import.meta.url));

const USAGE = 'usage: npm run bench [-- [--quick] [--rounds N] [--no-write] [--cpu-prof DIR] [--only api|delivery|ordering|latency|tenants|budget] [--dist DIR]]';

/** A bad command line: reported with the usage, without a stack. */
class UsageError extends Error {}

function positiveInteger(name: string, raw: string): number {
  if (!/^\d+$/.test(raw) || Number(raw) < 1) throw new UsageError(`--${name}: expected a whole number of at least 1, got "${raw}"`);
  return Number(raw);
}

const PHASES = ['api', 'delivery', 'ordering', 'latency', 'tenants', 'budget'] as const;
type Phase = (typeof PHASES)[number];

function options(argv: readonly string[], started: number): BenchOptions & { write: boolean; phases: readonly Phase[]; build: boolean } {
  let values: { quick?: boolean; rounds?: string; 'no-write'?: boolean; 'cpu-prof'?: string; only?: string; dist?: string };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        quick: { type: 'boolean', default: false },
        rounds: { type: 'string' },
        'no-write': { type: 'boolean', default: false },
        'cpu-prof': { type: 'string' },
        only: { type: 'string' },
        dist: { type: 'string' },
      },
      strict: true,
    }));
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  const quick = values.quick === true;
  const only = values.only;
  if (only !== undefined && !(PHASES as readonly string[]).includes(only)) throw new UsageError(`--only: expected one of ${PHASES.join(', ')}, got "${only}"`);
  return {
    rounds: values.rounds === undefined ? (quick ? 3 : 5) : positiveInteger('rounds', values.rounds),
    windowMs: quick ? 300 : 1_000,
    warmupMs: quick ? 200 : 500,
    concurrency: 64,
    agents: 1_000,
    windowFill: 9_000,
    backlog: quick ? 2_000 : 10_000,
    drainRounds: 2,
    offeredPerSecond: 500,
    latencyMs: quick ? 2_000 : 4_000,
    latencyRounds: quick ? 1 : 3,
    budgetMs: quick ? 1_000 : 3_000,
    profileDir: values['cpu-prof'] === undefined ? null : resolve(values['cpu-prof']),
    herald: {
      dist: values.dist === undefined ? DEFAULT_DIST : resolve(values.dist),
      nodeFlags: values['cpu-prof'] === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', resolve(values['cpu-prof'])],
    },
    build: values.dist === undefined,
    // A page of one phase, or of another build, would pass for a whole run of this one.
    write: values['no-write'] !== true && only === undefined && values.dist === undefined,
    phases: only === undefined ? PHASES : [only as Phase],
    progress: (line) => process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}\n`),
  };
}

/** The URL without its password, for the page and the logs. */
function redact(url: string): string {
  const u = new URL(url);
  if (u.password !== '') u.password = '***';
  return u.href;
}

async function postgresInfo(adminUrl: string): Promise<string> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const show = async (name: string): Promise<string> => ((await client.query<Record<string, string>>(`SHOW ${name}`)).rows[0]?.[name] ?? '?');
    return `${(await show('server_version')).split(' ')[0]}, fsync=${await show('fsync')}, synchronous_commit=${await show('synchronous_commit')}`;
  } finally {
    await client.end();
  }
}

function nproc(): number {
  try {
    return Number(execFileSync('nproc', { encoding: 'utf8' }).trim());
  } catch {
    return os.availableParallelism();
  }
}

async function main(): Promise<void> {
  const started = performance.now();
  const argv = process.argv.slice(2);
  const opts = options(argv, started);
  const adminUrl = process.env.HERALD_BENCH_DATABASE_URL?.trim() || undefined;
  if (opts.build) ensureBuilt(opts.progress);

  const targets: DatabaseTarget[] = [{ label: 'SQLite', provider: 'sqlite', env: {} }];
  if (adminUrl !== undefined) targets.push({ label: 'PostgreSQL', provider: 'postgresql', env: {}, adminUrl });

  const info = {
    command: `${adminUrl === undefined ? '' : `HERALD_BENCH_DATABASE_URL=${redact(adminUrl)} `}npm run bench${argv.length > 0 ? ` -- ${argv.join(' ')}` : ''}`,
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    node: process.version,
    nproc: nproc(),
    cpu: os.cpus()[0]?.model.trim() ?? 'unknown CPU',
    loadAverage: os.loadavg().map((l) => l.toFixed(2)).join(', '),
    postgres: adminUrl === undefined ? null : await postgresInfo(adminUrl),
    settings: `${opts.rounds} rounds; ${opts.concurrency} in flight over ${opts.agents} agents; throughput windows ${opts.windowMs} ms after ${opts.warmupMs} ms warm-up; ${opts.drainRounds} delivery rounds of ${opts.backlog} webhooks; latency at ${opts.offeredPerSecond}/s offered, ${opts.latencyRounds} × ${opts.latencyMs} ms; budget windows ${opts.budgetMs} ms`,
  };
  opts.progress(`targets: ${targets.map((t) => t.label).join(', ')}; ${info.settings}`);

  const rss = new RssTracker();
  const results: Result[] = [];
  if (opts.phases.includes('api')) results.push(...(await apiPhase(targets, opts, rss)));
  if (opts.phases.includes('delivery')) results.push(...(await deliveryPhase(targets, opts, rss)));
  if (opts.phases.includes('ordering')) results.push(...(await orderingPhase(targets, opts, rss)));
  if (opts.phases.includes('latency')) results.push(...(await latencyPhase(targets, opts, rss)));
  if (opts.phases.includes('tenants')) results.push(...(await tenantPhase(targets, opts, rss)));
  results.push(...rss.rows());
  const budget: BudgetReport | null = opts.phases.includes('budget') ? await budgetPhase(targets, opts) : null;

  const runInfo: RunInfo = { ...info, wallSeconds: (performance.now() - started) / 1000 };
  process.stdout.write(`${textTable(results)}\n\n${targetSummary(results)}\n${budget === null ? '' : `\n${budgetSection(budget)}\n`}${runInfo.command}: ${runInfo.wallSeconds.toFixed(0)} s on ${runInfo.nproc} cores, node ${runInfo.node}\n`);
  if (opts.write) {
    // The hand-written sections at the end of the page are carried over.
    const previous = existsSync(DOC_PATH) ? readFileSync(DOC_PATH, 'utf8') : null;
    writeFileSync(DOC_PATH, markdownPage(results, runInfo, budget, previous));
    opts.progress(`wrote ${DOC_PATH}`);
  }
}

main().catch((err: unknown) => {
  if (err instanceof UsageError) {
    process.stderr.write(`${err.message}\n${USAGE}\n`);
    process.exitCode = 2;
    return;
  }
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
