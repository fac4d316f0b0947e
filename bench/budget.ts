/**
 * Where the time of one create and one delivery goes: the V8 CPU profiles a
 * Herald process writes under `--cpu-prof` (one file per thread: Node names
 * them CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile), cut to a window
 * of the run and attributed to the categories of issue #22 by one table of
 * rules (RULES), then divided by the creates or deliveries done in the
 * window.
 *
 * What a profile can tell apart, and what it cannot:
 *
 * - V8 samples the thread's stack every interval (1 ms here) whether it is
 *   on the CPU or blocked, so a sample is **thread time**: CPU, plus any
 *   wait inside a synchronous call. better-sqlite3's native calls show no
 *   frame of their own; their time, the COMMIT's fsync included, is the
 *   self time of the JavaScript function that called them (the adapter's
 *   executeIO/performIO). `(idle)` (the event loop waiting) is not counted.
 * - **commit** is every sample with Prisma's transaction manager ending a
 *   transaction on its stack (`#closeTransaction`, named through Prisma's
 *   source map since its runtime is minified; `commitTransaction`): the
 *   COMMIT statement, its fsync on SQLite and what Prisma does around it.
 *   BEGIN and the statements stay in **storage**. On PostgreSQL the
 *   COMMIT's wait happens in the server while the event loop is idle: only
 *   the CPU of sending it is here.
 * - An async function resumed after an `await` starts a new stack, so a
 *   frame is attributed by itself and what it calls, never by who awaited
 *   it: Prisma's work is storage whichever service asked for it.
 * - Other threads of the process (GC helpers, libuv's pool, the compiler)
 *   are not sampled: /proc's CPU time of the process is shown beside the
 *   profile's total. Worker threads are (Node writes a profile for each):
 *   their samples are summed with the main thread's and shown apart.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { SourceMap, type SourceMapPayload } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CATEGORIES = ['gRPC', 'validation', 'decision', 'storage', 'commit', 'signing', 'sending', 'GC', 'other'] as const;
export type Category = (typeof CATEGORIES)[number];

/** A stack frame as the rules see it: V8's URL and function name, and the original source file where a source map names one ('' otherwise). */
export interface Frame {
  readonly url: string;
  readonly name: string;
  readonly source: string;
}

interface Rule {
  readonly category: Exclude<Category, 'other'>;
  /** What the rule takes, as the report lists it. */
  readonly holds: string;
  /** true: the sample is this category when any frame of its stack matches; false: when its innermost matching frame does. */
  readonly anywhere: boolean;
  test(frame: Frame): boolean;
}

/** A file of Herald's own build (dist/ or src/, or another build's copy), e.g. herald('grpc/request-guard'). */
function herald(...paths: string[]): (f: Frame) => boolean {
  const re = new RegExp(`/(?:${paths.join('|')})\\.[cm]?[jt]s$`);
  return (f) => !f.url.includes('/node_modules/') && re.test(f.url);
}

function packages(...names: string[]): (f: Frame) => boolean {
  return (f) => names.some((n) => f.url.includes(`/node_modules/${n}/`));
}

function core(...modules: string[]): (f: Frame) => boolean {
  return (f) => modules.some((m) => f.url === `node:${m}` || f.url.startsWith(`node:${m}/`));
}

const any = (...tests: Array<(f: Frame) => boolean>) => (f: Frame): boolean => tests.some((t) => t(f));

/**
 * The categories, first rule first: a frame takes the first rule it
 * matches; a sample takes an `anywhere` rule matched by any frame of its
 * stack, else the rule of its innermost matched frame, else "other"
 * (Node's event loop, promise and stream plumbing with nothing of Herald
 * above it, logging, metrics, `(program)`: native code with no JavaScript
 * on the stack).
 */
export const RULES: readonly Rule[] = [
  {
    category: 'commit',
    holds: "Prisma's transaction manager ending a transaction: the COMMIT statement (with its fsync on SQLite)",
    anywhere: true,
    test: (f) => (f.name === '#closeTransaction' && f.source.endsWith('transaction-manager.ts')) || f.name === 'commitTransaction',
  },
  { category: 'GC', holds: "V8's `(garbage collector)` on the sampled thread", anywhere: false, test: (f) => f.name === '(garbage collector)' && f.url === '' },
  { category: 'signing', holds: 'delivery/signer', anywhere: false, test: herald('delivery/signer') },
  {
    category: 'sending',
    holds: "delivery/sender and target-guard, got and its helpers, Node's HTTP client",
    anywhere: false,
    test: any(
      herald('delivery/sender', 'delivery/target-guard'),
      packages('got', '@szmarczak', '@sindresorhus', 'cacheable-lookup', 'cacheable-request', 'decompress-response', 'form-data-encoder', 'http2-wrapper', 'lowercase-keys', 'p-cancelable', 'responselike', 'keyv', 'mimic-response', 'normalize-url', 'get-stream', 'defer-to-connect', 'quick-lru', 'resolve-alpn'),
      core('_http_client', '_http_outgoing', '_http_common', '_http_agent', 'http'),
    ),
  },
  { category: 'validation', holds: 'domain/validation, domain/endpoint-validation, grpc/request-guard', anywhere: false, test: herald('domain/validation', 'domain/endpoint-validation', 'grpc/request-guard') },
  {
    category: 'gRPC',
    holds: "grpc-js, proto-loader, protobufjs (and its generated codecs), Node's HTTP/2, Herald's grpc/ and auth/",
    anywhere: false,
    test: any(
      packages('@grpc', 'protobufjs', '@protobufjs', 'long', 'grpc-health-check'),
      core('internal/http2', 'http2'),
      herald('grpc/[^/]+', 'auth/[^/]+'),
      // protobufjs compiles a codec per message type: no URL, named Type$method.
      (f) => f.url === '' && /^\w+\$(?:encode|decode|fromObject|toObject|verify)$/.test(f.name),
    ),
  },
  {
    category: 'storage',
    holds: "Herald's storage/ and events/, the Prisma client and its adapters, better-sqlite3 (with its native calls), pg",
    anywhere: false,
    test: any(
      herald('storage/.+', 'events/[^/]+', 'generated/prisma/.+'),
      packages('@prisma', '.prisma', 'better-sqlite3', 'pg', 'pg-pool', 'pg-protocol', 'pg-types', 'pg-connection-string', 'pgpass', 'postgres-array', 'postgres-bytea', 'postgres-date', 'postgres-interval', 'split2', 'bindings'),
    ),
  },
  {
    category: 'decision',
    holds: "Herald's services/ and domain/ (decide, fan out, build the payload, settle an attempt), the worker and dispatcher, luxon",
    anywhere: false,
    test: any(herald('services/[^/]+', 'domain/[^/]+', 'delivery/[^/]+'), packages('luxon')),
  },
];

/** V8's JSON profile (.cpuprofile), as far as it is read here. */
export interface CpuProfile {
  readonly nodes: ReadonlyArray<{
    readonly id: number;
    readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number; readonly columnNumber: number };
    readonly children?: readonly number[];
  }>;
  /** µs on the clock V8 stamps samples with (CLOCK_MONOTONIC on Linux, see monotonicUs). */
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  /** µs since the previous sample (the first: since startTime). */
  readonly timeDeltas: readonly number[];
}

/** One thread's profile: thread 0 is the main thread. */
export interface ThreadProfile {
  readonly thread: number;
  readonly profile: CpuProfile;
}

const PROFILE_NAME = /^CPU\.\d+\.\d+\.(\d+)\.(\d+)\.\d+\.cpuprofile$/;

/** The profiles of one process's threads in `dir` (one --cpu-prof-dir per process); fails when the directory holds none or another process's. */
export function readProcessProfiles(dir: string): ThreadProfile[] {
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  const pids = new Set<string>();
  const threads = files.map((file) => {
    const m = PROFILE_NAME.exec(file);
    if (m === null) throw new Error(`${join(dir, file)}: not a name Node's --cpu-prof writes`);
    pids.add(m[1]!);
    return { thread: Number(m[2]), profile: JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile };
  });
  if (pids.size !== 1) throw new Error(`${dir}: expected the profiles of one process, found ${pids.size}`);
  return threads.sort((a, b) => a.thread - b.thread);
}

/** Now on the clock V8 stamps profile samples with (CLOCK_MONOTONIC, as process.hrtime), µs. */
export function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/** Original function names and sources from the source maps beside minified files (Prisma's runtime), or nothing. */
export type Namer = (url: string, line: number, column: number, minifiedName: string) => { name?: string; source?: string } | null;

/** Reads `<file>.map` beside a file of node_modules when there is one; each map read once. */
export function sourceMapNamer(): Namer {
  const maps = new Map<string, SourceMap | null>();
  return (url, line, column, minifiedName) => {
    if (!url.includes('/node_modules/')) return null;
    let map = maps.get(url);
    if (map === undefined) {
      map = null;
      try {
        const path = url.startsWith('file://') ? fileURLToPath(url) : url;
        if (existsSync(`${path}.map`)) map = new SourceMap(JSON.parse(readFileSync(`${path}.map`, 'utf8')) as SourceMapPayload);
      } catch {
        map = null;
      }
      maps.set(url, map);
    }
    if (map === null) return null;
    const entry = map.findEntry(line, column) as { generatedLine?: number; generatedColumn?: number; originalSource?: string; name?: string };
    // V8 places a function after its name, the map at its name: a name only from the mapping of exactly that name (the nearest one before may name something else).
    const exact = entry.generatedLine === line && entry.generatedColumn !== undefined && column - entry.generatedColumn === minifiedName.length;
    return { ...(exact && entry.name !== undefined ? { name: entry.name } : {}), ...(entry.originalSource === undefined ? {} : { source: entry.originalSource }) };
  };
}

/** The category of one stack, innermost frame first. */
export function categoryOf(stack: readonly Frame[]): Category {
  for (const rule of RULES) if (rule.anywhere && stack.some((f) => rule.test(f))) return rule.category;
  for (const frame of stack) {
    const rule = RULES.find((r) => !r.anywhere && r.test(frame));
    if (rule !== undefined) return rule.category;
  }
  return 'other';
}

/** A window of a run on the profiles' clock (monotonicUs). */
export interface Window {
  readonly startUs: number;
  readonly endUs: number;
}

type PerCategory = Readonly<Record<Category, number>>;

/** Thread time of one unit of work (a create, a delivery), µs. */
export interface Budget {
  /** Units done in the window. */
  readonly units: number;
  readonly windowMs: number;
  /** Per unit, every profiled thread summed. */
  readonly perUnitUs: PerCategory;
  readonly totalUs: number;
  /** Per unit, each thread apart (thread 0: the main thread). */
  readonly threads: ReadonlyArray<{ readonly thread: number; readonly totalUs: number; readonly perUnitUs: PerCategory }>;
  /** The frames "other" spends most on, per unit: where a rule may be missing. */
  readonly otherTop: ReadonlyArray<{ readonly frame: string; readonly us: number }>;
}

function zero(): Record<Category, number> {
  return Object.fromEntries(CATEGORIES.map((c) => [c, 0])) as Record<Category, number>;
}

function frameLabel(f: Frame): string {
  const file = f.url === '' ? '' : ` ${f.url.replace(/^.*\/node_modules\//, '').replace(/^file:\/\/.*\/(?:dist|src)\//, '')}`;
  return `${f.name === '' ? '(anonymous)' : f.name}${file}`;
}

/**
 * The budget of one unit of work: the samples of every thread in `window`
 * (idle excluded), attributed by RULES, divided by `units`. A sample lasts
 * until the next one (as Chrome's profiler counts self time).
 */
export function budgetOf(threads: readonly ThreadProfile[], window: Window, units: number, namer: Namer = sourceMapNamer()): Budget {
  if (!(units > 0)) throw new Error(`budget: no unit of work in the window (${units})`);
  const main = threads.find((t) => t.thread === 0) ?? threads[0];
  if (main === undefined) throw new Error('budget: no profile');
  if (window.startUs < main.profile.startTime || window.endUs > main.profile.endTime) {
    throw new Error(`budget: the window ${window.startUs}–${window.endUs} µs is not inside the profile ${main.profile.startTime}–${main.profile.endTime} µs (not the same clock?)`);
  }
  const total = zero();
  const other = new Map<string, number>();
  const perThread = threads.map(({ thread, profile }) => {
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const parent = new Map<number, number>();
    for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    const frames = new Map<number, Frame>();
    const frameOf = (id: number): Frame => {
      let f = frames.get(id);
      if (f === undefined) {
        const { functionName, url, lineNumber, columnNumber } = byId.get(id)!.callFrame;
        const named = namer(url, lineNumber, columnNumber, functionName);
        f = { url, name: named?.name ?? functionName, source: named?.source ?? '' };
        frames.set(id, f);
      }
      return f;
    };
    const categories = new Map<number, Category | null>();
    const categoryOfNode = (id: number): Category | null => {
      let c = categories.get(id);
      if (c === undefined) {
        const stack: Frame[] = [];
        for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) stack.push(frameOf(at));
        c = stack[0]!.name === '(idle)' && stack[0]!.url === '' ? null : categoryOf(stack);
        categories.set(id, c);
      }
      return c;
    };
    const sums = zero();
    let at = profile.startTime;
    for (let i = 0; i < profile.samples.length; i += 1) {
      at += profile.timeDeltas[i]!;
      if (at < window.startUs || at >= window.endUs) continue;
      const duration = i + 1 < profile.samples.length ? profile.timeDeltas[i + 1]! : 0;
      const id = profile.samples[i]!;
      const c = categoryOfNode(id);
      if (c === null) continue;
      sums[c] += duration;
      total[c] += duration;
      if (c === 'other') {
        const label = frameLabel(frameOf(id));
        other.set(label, (other.get(label) ?? 0) + duration);
      }
    }
    const perUnitUs = Object.fromEntries(CATEGORIES.map((c) => [c, sums[c] / units])) as PerCategory;
    return { thread, totalUs: CATEGORIES.reduce((s, c) => s + perUnitUs[c], 0), perUnitUs };
  });
  const perUnitUs = Object.fromEntries(CATEGORIES.map((c) => [c, total[c] / units])) as PerCategory;
  return {
    units,
    windowMs: (window.endUs - window.startUs) / 1000,
    perUnitUs,
    totalUs: CATEGORIES.reduce((s, c) => s + perUnitUs[c], 0),
    threads: perThread,
    otherTop: [...other]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 3)
      .map(([frame, us]) => ({ frame, us: us / units })),
  };
}
