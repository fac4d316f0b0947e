/**
 * Turns results into the table printed on stdout and the page written to
 * docs/BENCHMARKS.md. Every Herald figure is shown with the ceiling measured
 * alongside it and their ratio, never alone.
 */
import { CATEGORIES, RULES, type Category } from './budget.js';
import { median, minMax } from './load.js';
import type { BudgetReport, Measured, Result } from './scenarios.js';

/** What the page says about the machine and the run. */
export interface RunInfo {
  readonly command: string;
  readonly date: string;
  readonly node: string;
  readonly nproc: number;
  readonly cpu: string;
  readonly loadAverage: string;
  readonly postgres: string | null;
  readonly settings: string;
  readonly wallSeconds: number;
}

const COLUMNS = ['scenario', 'database', 'Herald median', 'min–max', 'ceiling median', 'ratio', 'target'] as const;

function number(value: number, unit: string): string {
  if (!Number.isFinite(value)) return 'n/a';
  if (unit === 'ms') return value.toFixed(value < 10 ? 2 : 1);
  return Math.round(value).toLocaleString('en-US');
}

function ratioOf(row: Result): number {
  return row.ceiling === null ? Number.NaN : median(row.samples) / median(row.ceiling.samples);
}

function ratio(row: Result): string {
  if (row.ceiling === null) return '';
  const r = ratioOf(row);
  if (!Number.isFinite(r)) return 'n/a';
  return row.lowerIsBetter ? `${r.toFixed(1)}×` : r.toFixed(2);
}

/** Whether the row meets its target: null for a row without one. */
export function targetMet(row: Result): boolean | null {
  const t = row.target;
  if (t === null) return null;
  const value = t.of === 'ratio' ? ratioOf(row) : median(row.samples);
  if (!Number.isFinite(value)) return false;
  return t.op === '>=' ? value >= t.value : value <= t.value;
}

/** The target cell: the goal, the issue that set it and whether it is met, e.g. "≥ 0.40 (#22): MISSED". */
export function targetCell(row: Result): string {
  const t = row.target;
  if (t === null) return '';
  const goal = t.of === 'ratio' ? `${t.op === '>=' ? '≥' : '≤'} ${t.value.toFixed(2)}` : `${t.op === '>=' ? '≥' : '≤'} ${t.value} ${row.unit}`;
  return `${goal} (#${t.issue}): ${targetMet(row) === true ? 'met' : 'MISSED'}`;
}

/** The table's cells, one array per row. */
export function cells(results: readonly Result[]): string[][] {
  return results.map((row) => {
    const { min, max } = minMax(row.samples);
    return [
      row.scenario,
      row.database,
      `${number(median(row.samples), row.unit)} ${row.unit}`,
      `${number(min, row.unit)}–${number(max, row.unit)}`,
      row.ceiling === null ? '' : `${number(median(row.ceiling.samples), row.ceiling.unit)} ${row.ceiling.unit}`,
      ratio(row),
      targetCell(row),
    ];
  });
}

/** A plain-text table for stdout. */
export function textTable(results: readonly Result[]): string {
  const rows = [[...COLUMNS], ...cells(results)];
  const widths = COLUMNS.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const line = (r: string[]): string => r.map((cell, c) => (c >= 2 && c <= 5 ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join('  ').trimEnd();
  return [line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

/** One line: how many targets are met, in all and per issue that set them (newest issue first). */
export function targetSummary(results: readonly Result[]): string {
  const checked = results.filter((r) => r.target !== null);
  const metOf = (rows: readonly Result[]): string => `${rows.filter((r) => targetMet(r) === true).length} of ${rows.length}`;
  const issues = [...new Set(checked.map((r) => r.target!.issue))].sort((a, b) => b - a);
  const perIssue = issues.map((issue) => `#${issue}: ${metOf(checked.filter((r) => r.target!.issue === issue))}`);
  return `targets met: ${metOf(checked)}${perIssue.length > 0 ? ` (${perIssue.join('; ')})` : ''}`;
}

/** The same table in Markdown. */
export function markdownTable(results: readonly Result[]): string {
  const escape = (cell: string): string => cell.replaceAll('|', '\\|');
  const rows = cells(results);
  return [
    `| ${COLUMNS.join(' | ')} |`,
    `|${COLUMNS.map((_, c) => (c >= 2 && c <= 5 ? '---:' : '---')).join('|')}|`,
    ...rows.map((r) => `| ${r.map(escape).join(' | ')} |`),
  ].join('\n');
}

/**
 * The line that ends the part of docs/BENCHMARKS.md a run writes. What
 * follows it is written by hand (notes comparing builds, kept as history)
 * and carried over unchanged by every run.
 */
export const GENERATED_END = '<!-- Everything above is rewritten by npm run bench (bench/report.ts); sections below this line are written by hand and kept. -->';

/**
 * The hand-written sections of the page as it was before this run: what
 * follows GENERATED_END; on a page written before that line existed, every
 * section from the first \`## \` heading that `generatedHeadings` does not
 * hold. "" when there are none.
 */
export function handWrittenSections(previous: string, generatedHeadings: readonly string[]): string {
  const end = previous.indexOf(GENERATED_END);
  if (end >= 0) return previous.slice(end + GENERATED_END.length).trim();
  const lines = previous.split('\n');
  const first = lines.findIndex((line) => line.startsWith('## ') && !generatedHeadings.includes(line));
  return first < 0 ? '' : lines.slice(first).join('\n').trim();
}

/**
 * docs/BENCHMARKS.md: the table, how it was made, and how to read it,
 * followed by the hand-written sections of `previous` (the page before this
 * run, null when there was none).
 */
export function markdownPage(results: readonly Result[], info: RunInfo, budget: BudgetReport | null = null, previous: string | null = null): string {
  const generated = generatedPart(results, info, budget);
  const kept = previous === null ? '' : handWrittenSections(previous, generated.split('\n').filter((line) => line.startsWith('## ')));
  return `${generated}\n${GENERATED_END}\n${kept === '' ? '' : `\n${kept}\n`}`;
}

function generatedPart(results: readonly Result[], info: RunInfo, budget: BudgetReport | null): string {
  return `# Herald benchmarks

Generated by \`npm run bench\` (bench/run.ts), which rewrites this page on
every run. The figures below come from one run on the machine described
here; read the **ratios**, not the absolute numbers.

| | |
|---|---|
| command | \`${info.command}\` |
| date | ${info.date} |
| \`node --version\` | ${info.node} |
| \`nproc\` | ${info.nproc} (${info.cpu}) |
| load average at start | ${info.loadAverage} |
| PostgreSQL | ${info.postgres ?? 'not run (HERALD_BENCH_DATABASE_URL unset)'} |
| settings | ${info.settings} |
| wall time | ${info.wallSeconds.toFixed(0)} s |

${markdownTable(results)}

${targetSummary(results)}; each target names the issue that set it.
${budget === null ? '' : `\n${budgetSection(budget)}\n`}
## How to run it

\`\`\`sh
npm run bench                                   # SQLite; under 10 minutes with PostgreSQL too
HERALD_BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres npm run bench
npm run bench -- --quick --no-write             # about a minute; prints only
npm run bench -- --only delivery --no-write     # one phase (api, delivery, ordering, latency, tenants or budget); never writes this page
npm run bench -- --cpu-prof /tmp/prof           # every Herald process writes a V8 CPU profile there (the budget's in /tmp/prof/budget-*)
npm run bench -- --dist dist-before --no-write  # another build: a copy of an earlier dist/ beside it (proto/, package.json resolve)
\`\`\`

HERALD_BENCH_DATABASE_URL names a PostgreSQL user allowed to CREATE DATABASE;
each phase gets a database of its own, dropped afterwards. Only Node and npm
are needed: the load generator is the project's own (bench/load-generator.ts).
The bench runs \`npm run build\` first when dist/ is missing or older than
src/ (about 20 s here), and then Herald as \`npm start\` does.

## How to read the table

**Processes.** Herald runs as users run it, \`node dist/main.js\`
configured through its documented environment variables
(bench/herald-process.ts), ready when its gRPC health service answers
SERVING; the load comes from separate load-generator processes, one per
row, each with 64 calls in flight; the ceilings' servers run in their own
processes too (bench/child.ts). They share only the machine (2 cores here),
as a client and a server on one host do. Herald's CPU time and peak RSS are
read from /proc, outside the process.

**Ratios.** Each row is the **median of several rounds** (min–max beside
it) and its ratio to a row measured in the same run, its rounds interleaved
with Herald's (the order rotates every round), so that noise from other
processes lands on both sides of the ratio. On these small, shared machines
absolute figures swing by a factor of two or more from one run to the next
(note the load average above); ratios move much less, and CPU time per unit
of work least of all. Treat a change smaller than the min–max spread as noise.

- **Ceiling A** is a bare grpc-js unary echo (bench/echo.proto, Herald's
  loader options), loaded exactly like Herald. The API rows (worker off)
  spread their calls over 1,000 agents, taken in turn; the **one-agent** rows
  show a flood for one agent (its creates run in call order, several to a
  group commit, at most 8 a group on PostgreSQL). The
  **hourly-limit** row is one agent with \`max_notifications_per_hour\` set
  and 9,000 accepted notifications already in its window (copied in SQL from
  one Herald made, before the load starts): its ratio is to the one-agent row
  without a limit, and the target says the check must not grow with the window.
- **Ceiling B** is got 14, configured as Herald's sender, posting the same
  webhook body with 64 requests in flight over a keep-alive agent to the same
  trivial node:http receiver Herald delivers to. For Herald, 1,000 agents'
  deliveries are created through the API and copied in SQL into a backlog;
  every round makes the backlog due again, starts a worker-only Herald
  (HERALD_ROLE=worker, HERALD_WORKER_CONCURRENCY=64) and times the first
  arrival to the last, so start-up is not counted. Every round checks that
  each webhook arrived exactly once and verifies a signature with
  \`standardwebhooks\`. The **CPU per webhook** row is the worker process's
  CPU time from the first arrival to the last, divided by the webhooks in
  between (all its threads: GC and libuv included), beside the got load
  generator's CPU per POST: it is the steadiest figure on a busy machine.
- **Latency** is create → webhook received with the worker on, at a fixed
  offered load (an **open loop**: calls start on a schedule, whatever the
  server does, over 1,000 agents), from each call's *intended* start to the
  receiver having read the body, on the wall clock the processes share. A
  server slower than the offered load shows as a growing queue, not as a
  politely slower client.
- **Peak RSS** is the largest \`VmHWM\` of any Herald process of that
  database during the run, read just before the process is stopped.
  **Idle RSS** is the \`VmRSS\` of the latency rows' Herald (default
  settings, worker on) after start-up, once it moved by less than 1 MB over
  a second, before any agent is seeded.

## What limits each path

- **SQLite has one connection, on the main thread** (by default).
  better-sqlite3 is synchronous: every statement and every commit's fsync
  (\`synchronous=FULL\` by default) stops the event loop. On a thread of its
  own (\`HERALD_SQLITE_THREAD=true\`) they do not, but each statement is a
  message round trip to it and Prisma's per-statement JavaScript still runs
  on the main thread, one transaction at a time: on a fast disk that
  measured slower.
- **Prisma's per-statement cost** (about 0.5 ms of CPU) dominates a create
  (a transaction of four to six statements) and, before batching, a
  delivery. The worker now claims in batches and settles successful
  attempts in batches (three multi-row statements per batch), and reads an
  agent's target once per cache lifetime instead of once per send; what is
  left per webhook is mostly the HTTP client and server work, Prisma's
  per-row work on the batched statements, and garbage collection.
- **PostgreSQL** waits without blocking the event loop, but every statement
  is a round trip on a pool of HERALD_DB_POOL_SIZE (default 10) connections.
  A server with \`fsync=off\` (see the table at the top) makes its write
  figures an upper bound for a durable one.
`;
}

/** µs as the budget shows them: whole above 10, one decimal below. */
function us(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  return value >= 10 ? Math.round(value).toLocaleString('en-US') : value.toFixed(1);
}

/** The main thread's part of a budget (thread 0). */
function mainThread(m: Measured): { totalUs: number; perUnitUs: Readonly<Record<Category, number>> } {
  return m.budget.threads.find((t) => t.thread === 0) ?? m.budget;
}

/** What one database's create would need to reach 0.5 of the echo, computed from the budget. */
function halfOfEchoParagraph(database: string, create: Measured, echo: Measured): string {
  const e = mainThread(echo).totalUs;
  const { totalUs: h, perUnitUs: c } = mainThread(create);
  const limit = 2 * e;
  const dbPart = c.storage + c.commit;
  const left = h - dbPart;
  const rest = CATEGORIES.filter((k) => k !== 'storage' && k !== 'commit' && c[k] > 0)
    .sort((a, b) => c[b] - c[a])
    .slice(0, 4)
    .map((k) => `${k} ${us(c[k])} µs`)
    .join(', ');
  const cpuLimit = 2 * echo.processCpuUs;
  return [
    `**${database}.** A create held Herald's main thread ${us(h)} µs, a call the echo's ${us(e)} µs:`,
    `if each server is limited by its main thread, Herald runs at ${(e / h).toFixed(2)} of the echo (measured in the same windows: ${(create.perSecond / echo.perSecond).toFixed(2)};`,
    `the echo's main thread was busy ${((echo.perSecond * e) / 1e4).toFixed(0)} % of its window and Herald's ${((create.perSecond * h) / 1e4).toFixed(0)} %: a thread near 100 % is the limit, below it the cores it shares with the load generator are).`,
    `At 0.5 a create may hold it ${us(limit)} µs: ${h > limit ? `${us(h - limit)} µs (${(((h - limit) / h) * 100).toFixed(0)} %) less than now` : 'it already does'}.`,
    `Storage and commit are ${us(dbPart)} µs of it; a database thread that took all of them off the main thread would leave ${us(left)} µs,`,
    left <= limit ? `within the ${us(limit)} µs.` : `still ${us(left - limit)} µs over: the rest (${rest}) would have to shrink by ${(((left - limit) / left) * 100).toFixed(0)} % too.`,
    `Herald's gRPC part alone is ${us(c.gRPC)} µs, ${(c.gRPC / e).toFixed(1)}× the echo's whole call (larger messages, metadata, the handler adapter).`,
    `In CPU of the whole process (/proc, all threads) a create costs ${us(create.processCpuUs)} µs and an echo call ${us(echo.processCpuUs)} µs (${(create.processCpuUs / echo.processCpuUs).toFixed(1)}×):`,
    `where the two cores rather than one thread are the limit (the load generator shares them), 0.5 needs at most ${us(cpuLimit)} µs,`,
    create.processCpuUs > cpuLimit ? `${us(create.processCpuUs - cpuLimit)} µs less, which moving work to another thread does not give.` : 'which it already meets.',
  ].join(' ');
}

/**
 * The "Budget" section: thread time of one create and one delivery by
 * category (bench/budget.ts), beside a bare echo call, and what a create
 * would need to reach 0.5 of the echo.
 */
export function budgetSection(report: BudgetReport): string {
  const columns: Array<{ title: string; m: Measured }> = [
    ...report.databases.flatMap((d) => [
      { title: `create, ${d.database}`, m: d.create },
      { title: `delivery, ${d.database}`, m: d.delivery },
    ]),
    { title: 'bare echo call', m: report.echo },
  ];
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
  const rows = [
    line(['µs per unit of work', ...columns.map((c) => c.title)]),
    `|---|${columns.map(() => '---:').join('|')}|`,
    ...CATEGORIES.map((k) => line([k, ...columns.map((c) => us(c.m.budget.perUnitUs[k]))])),
    line(['**total, profiled threads**', ...columns.map((c) => `**${us(c.m.budget.totalUs)}**`)]),
    line(['of which the main thread', ...columns.map((c) => us(mainThread(c.m).totalUs))]),
    line(['process CPU, /proc (all threads)', ...columns.map((c) => us(c.m.processCpuUs))]),
    line(['rate in the window, per second', ...columns.map((c) => Math.round(c.m.perSecond).toLocaleString('en-US'))]),
    line(['units in the window', ...columns.map((c) => c.m.budget.units.toLocaleString('en-US'))]),
  ];
  const other = columns
    .filter((c) => c.m.budget.otherTop.length > 0)
    .map((c) => `${c.title}: ${c.m.budget.otherTop.map((o) => `\`${o.frame}\` ${us(o.us)}`).join(', ')}`)
    .join('; ');
  const threads = columns
    // A thread idle all through the window (tsx's loader in the echo's process) says nothing.
    .map((c) => ({ c, busy: c.m.budget.threads.filter((t) => t.totalUs > 0) }))
    .filter(({ busy }) => busy.length > 1)
    .map(({ c, busy }) => `${c.title}: ${busy.map((t) => `${t.thread === 0 ? 'main' : `thread ${t.thread}`} ${us(t.totalUs)}`).join(', ')}`)
    .join('; ');
  return `## Budget of one create and one delivery

Where the time of one unit of work goes, from V8 CPU profiles taken in this
run (\`--cpu-prof\`, every thread of the process, 1 ms sampling; bench/budget.ts):
a Herald with the worker off under CreateNotification → DELIVER over 1,000
agents (64 in flight), then a worker-only Herald draining the deliveries
those creates made (first webhook to last), and the bare echo under the same
load. Each profile is cut to its window and divided by the calls or webhooks
in it. A sample is **thread time**: CPU, and any wait inside a synchronous
call (the COMMIT's fsync on SQLite holds the thread, and shows as commit),
and on a busy machine the time the thread waited for a core (the /proc row
is CPU only: where thread time is well above it, the machine was short of
cores). \`(idle)\` is left out. Profiling slows the processes a little:
these rates are not the table's.

${rows.join('\n')}

${RULES.map((r) => `- **${r.category}**: ${r.holds}${r.anywhere ? ' (anywhere on the stack)' : ''}.`).join('\n')}
- **other**: everything with no rule above it on the stack (Node's event loop, promise and stream plumbing, logging, metrics, \`(program)\`).

A frame counts for what it is and what it calls, never for who awaited it
(an \`await\` starts a new stack). Not separable: better-sqlite3's native
work from its fsync (one JavaScript frame holds both), and V8's helper
threads (GC, compiler) and libuv's pool, which the profile does not sample:
the /proc row holds them.${threads === '' ? '' : ` Threads: ${threads}.`}${other === '' ? '' : ` Heaviest in other: ${other}.`}

### What would have to change to reach 0.5 of the echo

${report.databases.map((d) => halfOfEchoParagraph(d.database, d.create, report.echo)).join('\n\n')}
`;
}
