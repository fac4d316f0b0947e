import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hourlySeries, hourStart, seriesWindow, SERIES_HOURS, type HourFigures } from '../../src/domain/attempt-series.js';

const at = (iso: string): Date => new Date(iso);

test('the window runs from the start of the hour 23 hours back to the end of the current hour', () => {
  const w = seriesWindow(at('2026-03-10T12:30:15.500Z'));
  assert.equal(w.from.toISOString(), '2026-03-09T13:00:00.000Z');
  assert.equal(w.until.toISOString(), '2026-03-10T13:00:00.000Z');
  const exact = seriesWindow(at('2026-03-10T00:00:00.000Z'));
  assert.equal(exact.from.toISOString(), '2026-03-09T01:00:00.000Z', 'on a whole hour, that hour is the current one');
  assert.equal(hourStart(at('2026-03-10T23:59:59.999Z')).toISOString(), '2026-03-10T23:00:00.000Z');
});

test('every hour of the window is present, oldest first; an hour without attempts has zero counts and null rates (a gap)', () => {
  const now = at('2026-03-10T12:30:00Z');
  const figures: HourFigures[] = [
    { hourStart: at('2026-03-10T09:00:00Z'), attempts: 4, succeeded: 3, p50Ms: 20, p95Ms: 90 },
    { hourStart: at('2026-03-09T13:00:00Z'), attempts: 1, succeeded: 0, p50Ms: 7, p95Ms: 7 },
    { hourStart: at('2026-03-10T12:00:00Z'), attempts: 2, succeeded: 2, p50Ms: 5, p95Ms: 6 },
  ];
  const series = hourlySeries(figures, now);
  assert.equal(series.length, SERIES_HOURS);
  assert.equal(series[0]?.hourStart.toISOString(), '2026-03-09T13:00:00.000Z');
  assert.equal(series.at(-1)?.hourStart.toISOString(), '2026-03-10T12:00:00.000Z');
  for (let i = 1; i < series.length; i++) assert.equal((series[i]?.hourStart.getTime() ?? 0) - (series[i - 1]?.hourStart.getTime() ?? 0), 3_600_000);
  assert.deepEqual(series[0], { hourStart: at('2026-03-09T13:00:00Z'), attempts: 1, succeeded: 0, failed: 1, successRate: 0, p50Ms: 7, p95Ms: 7 });
  assert.deepEqual(series[20], { hourStart: at('2026-03-10T09:00:00Z'), attempts: 4, succeeded: 3, failed: 1, successRate: 0.75, p50Ms: 20, p95Ms: 90 });
  assert.deepEqual(series[21], { hourStart: at('2026-03-10T10:00:00Z'), attempts: 0, succeeded: 0, failed: 0, successRate: null, p50Ms: null, p95Ms: null });
  assert.equal(series.filter((p) => p.successRate === null).length, SERIES_HOURS - 3);
});

test('figures outside the window are left out', () => {
  const now = at('2026-03-10T12:30:00Z');
  const series = hourlySeries([{ hourStart: at('2026-03-09T12:00:00Z'), attempts: 9, succeeded: 9, p50Ms: 1, p95Ms: 1 }], now);
  assert.equal(series.reduce((a, p) => a + p.attempts, 0), 0);
});
