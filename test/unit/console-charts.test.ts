import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FRAME, hourLineChart, linePath, niceCeiling, slotX, stackedHourChart, valueY } from '../../src/console/charts.js';

const hours = Array.from({ length: 24 }, (_, i) => new Date(Date.UTC(2026, 2, 9, 13 + i)));
const bottom = FRAME.height - FRAME.bottom;

describe('hourly chart scaling', () => {
  test('the y axis tops at a round 1, 2 or 5 × 10ⁿ at or above the largest value, never below 1', () => {
    const cases: Array<[number, number]> = [[0, 1], [0.4, 1], [1, 1], [1.5, 2], [3, 5], [7, 10], [10, 10], [11, 20], [180, 200], [201, 500], [501, 1000]];
    for (const [value, top] of cases) assert.equal(niceCeiling(value), top, `${value}`);
  });

  test('values map onto the plot: 0 at the bottom, the top at the top, beyond it clamped', () => {
    assert.equal(valueY(0, 10), bottom);
    assert.equal(valueY(10, 10), FRAME.top);
    assert.equal(valueY(5, 10), (FRAME.top + bottom) / 2);
    assert.equal(valueY(20, 10), FRAME.top);
    assert.equal(slotX(0, 24), FRAME.left);
    assert.equal(slotX(24, 24), FRAME.width - FRAME.right);
  });

  test('a line breaks at every null and starts again after it: a gap, not a drop to zero', () => {
    const d = linePath([1, 0.5, null, null, 1, null, 0], 1);
    const moves = d.split(' ').filter((p) => p.startsWith('M'));
    assert.equal(moves.length, 3, d);
    assert.match(d, /^M[\d.]+ 12 L[\d.]+ 86 M[\d.]+ 12 M[\d.]+ 160$/);
    assert.equal(linePath([null, null], 1), '');
  });
});

describe('hourly charts as SVG', () => {
  test('stacked bars: the failed layer sits on the succeeded one, heights in proportion, a title with the UTC hour and counts', () => {
    const svg = stackedHourChart(
      'Attempts',
      hours.map((h, i) => ({ hourStart: h, layers: [{ label: 'succeeded', value: i === 20 ? 3 : 0, tone: 'bar-succeeded' }, { label: 'failed', value: i === 20 ? 1 : 0, tone: 'bar-failed' }] })),
    ).value;
    const rects = [...svg.matchAll(/<rect x="([\d.]+)" y="([\d.]+)" width="[\d.]+" height="([\d.]+)" class="bar (bar-\w+)"/g)].map((m) => ({ y: Number(m[2]), h: Number(m[3]), tone: m[4] }));
    assert.equal(rects.length, 2, 'empty hours draw nothing');
    const [ok, failed] = rects;
    assert.equal(ok?.tone, 'bar-succeeded');
    assert.equal(failed?.tone, 'bar-failed');
    // Top of the axis is 5 (niceCeiling(4)): 3 and 1 of 5.
    const plot = bottom - FRAME.top;
    assert.ok(Math.abs((ok?.h ?? 0) - (plot * 3) / 5) < 0.11);
    assert.ok(Math.abs((failed?.h ?? 0) - plot / 5) < 0.11);
    assert.ok(Math.abs((failed?.y ?? 0) + (failed?.h ?? 0) - (ok?.y ?? 0)) < 0.11, 'stacked without a seam');
    assert.match(svg, /<title>2026-03-10 09:00–10:00 UTC: 3 succeeded, 1 failed<\/title>/);
    assert.doesNotMatch(svg, /style=/, 'colours come from classes (the CSP allows no inline style)');
  });

  test('hour labels every three hours, in UTC', () => {
    const svg = hourLineChart('Rate', hours, [{ label: 'rate', tone: 'line-rate', values: hours.map(() => null) }], String, 1).value;
    const labels = [...svg.matchAll(/class="tick tick-x">([^<]+)</g)].map((m) => m[1]);
    assert.deepEqual(labels, ['15:00', '18:00', '21:00', '00:00', '03:00', '06:00', '09:00', '12:00']);
    assert.match(svg, /no attempts in these hours/);
  });

  test('lines: a dot for every value with its hour and value, none for the gaps', () => {
    const values = hours.map((_, i) => (i === 3 ? 40 : i === 4 ? 90 : null));
    const svg = hourLineChart('Latency', hours, [{ label: 'p95', tone: 'line-p95', values }], (v) => `${v} ms`).value;
    assert.equal([...svg.matchAll(/<circle /g)].length, 2);
    assert.match(svg, /<title>2026-03-09 17:00–18:00 UTC: p95 90 ms<\/title>/);
    assert.match(svg, /class="tick tick-y">100 ms</, 'the axis tops at a round 100 ms');
    assert.doesNotMatch(svg, /no attempts/);
  });
});
