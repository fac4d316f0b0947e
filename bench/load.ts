/**
 * Load generation and statistics: a closed loop with a fixed number of calls
 * in flight, and the few order statistics the report quotes. Nothing here
 * knows about Herald.
 */
import { performance } from 'node:perf_hooks';

/** One measured window of a closed loop. */
export interface RateSample {
  /** Calls completed. */
  readonly calls: number;
  /** From the first call's start to the last call's end, seconds. */
  readonly seconds: number;
  /** calls / seconds. */
  readonly perSecond: number;
}

/**
 * Runs `call` from `concurrency` independent loops, each starting its next
 * call when the previous one returns, until `durationMs` have passed; calls
 * started before the deadline are allowed to finish and are counted, and the
 * window ends with the last of them, so the rate is never inflated by calls
 * cut off mid-way. A failing call fails the measurement: a benchmark that
 * counts errors as throughput would lie.
 *
 * @param call - one unit of work; `loop` is the loop's index (0..concurrency-1).
 */
export async function closedLoop(
  call: (loop: number) => Promise<unknown>,
  concurrency: number,
  durationMs: number,
): Promise<RateSample> {
  const start = performance.now();
  const deadline = start + durationMs;
  let calls = 0;
  let end = start;
  let failure: unknown = null;
  const loops = Array.from({ length: concurrency }, async (_, loop) => {
    while (failure === null && performance.now() < deadline) {
      try {
        await call(loop);
      } catch (err) {
        failure ??= err;
        return;
      }
      calls += 1;
      end = performance.now();
    }
  });
  await Promise.all(loops);
  if (failure !== null) throw failure;
  const seconds = (end - start) / 1000;
  return { calls, seconds, perSecond: seconds > 0 ? calls / seconds : 0 };
}

/** Makes exactly `total` calls with `concurrency` in flight (setup work, not measured). */
export async function forCount(call: (i: number) => Promise<unknown>, concurrency: number, total: number): Promise<void> {
  let next = 0;
  const loops = Array.from({ length: Math.min(concurrency, total) }, async () => {
    while (next < total) {
      const i = next;
      next += 1;
      await call(i);
    }
  });
  await Promise.all(loops);
}

/** Wall-clock milliseconds with sub-millisecond precision, comparable across processes of one machine. */
export function epochMs(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * The start offsets (ms from the first call) of an open loop offering
 * `ratePerSecond` calls for `durationMs`: evenly spaced, so the offered load
 * is the same whatever the server does.
 */
export function openLoopSchedule(ratePerSecond: number, durationMs: number): number[] {
  if (!(ratePerSecond > 0) || !(durationMs > 0)) return [];
  const gap = 1000 / ratePerSecond;
  const count = Math.floor((durationMs * ratePerSecond) / 1000);
  return Array.from({ length: count }, (_, i) => i * gap);
}

/** Runs `call` `count` times, one at a time, returning each call's duration in ms. */
export async function sequentialLatencies(call: (i: number) => Promise<unknown>, count: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < count; i += 1) {
    const started = performance.now();
    await call(i);
    out.push(performance.now() - started);
  }
  return out;
}

/** The median (mean of the middle two for an even count). NaN for an empty list. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Nearest-rank percentile, `p` in (0, 1]. NaN for an empty list. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(p * sorted.length)));
  return sorted[rank - 1]!;
}

export function minMax(values: readonly number[]): { min: number; max: number } {
  return { min: Math.min(...values), max: Math.max(...values) };
}
