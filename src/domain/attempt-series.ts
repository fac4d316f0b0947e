/**
 * Webhook attempts per hour over the last day, as the console's overview
 * charts draw them. Pure: the instant is passed in, the per-hour figures
 * come from storage (AttemptSeriesRepository); this module only lays them
 * on a fixed grid of hours.
 */

export const HOUR_MS = 3_600_000;
/** Hours in a series: the current (partial) hour and the 23 before it. */
export const SERIES_HOURS = 24;

/** What storage counts for one hour (UTC) that had at least one attempt. */
export interface HourFigures {
  /** The start of the hour, on a whole UTC hour. */
  readonly hourStart: Date;
  readonly attempts: number;
  /** Attempts answered with a 2xx status. */
  readonly succeeded: number;
  /** Nearest-rank percentiles of the hour's attempt durations, in milliseconds. */
  readonly p50Ms: number;
  readonly p95Ms: number;
}

/** One hour of the series. Rates and latencies are null for an hour without attempts: a gap, not a zero. */
export interface HourPoint {
  readonly hourStart: Date;
  readonly attempts: number;
  readonly succeeded: number;
  readonly failed: number;
  /** Succeeded / attempts, 0 to 1. */
  readonly successRate: number | null;
  readonly p50Ms: number | null;
  readonly p95Ms: number | null;
}

/** The start of the UTC hour holding `at`. */
export function hourStart(at: Date): Date {
  return new Date(Math.floor(at.getTime() / HOUR_MS) * HOUR_MS);
}

/**
 * The attempts a series counts: started in [from, until), from the start of
 * the hour 23 hours before `now`'s to the end of `now`'s hour (an attempt a
 * little after `now`, on another process's clock, still lands in this hour).
 */
export function seriesWindow(now: Date): { from: Date; until: Date } {
  const current = hourStart(now).getTime();
  return { from: new Date(current - (SERIES_HOURS - 1) * HOUR_MS), until: new Date(current + HOUR_MS) };
}

/** Every hour of the window ending at `now`, oldest first, with the figures of the hours that had attempts. */
export function hourlySeries(figures: readonly HourFigures[], now: Date): HourPoint[] {
  const { from } = seriesWindow(now);
  const byHour = new Map(figures.map((f) => [f.hourStart.getTime(), f]));
  const points: HourPoint[] = [];
  for (let i = 0; i < SERIES_HOURS; i++) {
    const start = from.getTime() + i * HOUR_MS;
    const f = byHour.get(start);
    if (f === undefined || f.attempts === 0) {
      points.push({ hourStart: new Date(start), attempts: 0, succeeded: 0, failed: 0, successRate: null, p50Ms: null, p95Ms: null });
    } else {
      points.push({ hourStart: new Date(start), attempts: f.attempts, succeeded: f.succeeded, failed: f.attempts - f.succeeded, successRate: f.succeeded / f.attempts, p50Ms: f.p50Ms, p95Ms: f.p95Ms });
    }
  }
  return points;
}
