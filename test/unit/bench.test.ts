import assert from 'node:assert/strict';
import { test } from 'node:test';
import { median, openLoopSchedule, percentile } from '../../bench/load.js';
import { targetCell, targetMet, textTable } from '../../bench/report.js';
import type { Result, Target } from '../../bench/scenarios.js';

function row(samples: number[], ceiling: Result | null = null, target: Target | null = null, unit = 'calls/s'): Result {
  return { scenario: 'row', database: 'SQLite', unit, samples, ceiling, lowerIsBetter: unit === 'ms', target };
}

test('percentile is nearest-rank: p50 and p99 of 1..100 are 50 and 99, p100 the maximum', () => {
  const values = Array.from({ length: 100 }, (_, i) => 100 - i);
  assert.equal(percentile(values, 0.5), 50);
  assert.equal(percentile(values, 0.99), 99);
  assert.equal(percentile(values, 1), 100);
  assert.equal(percentile([7], 0.99), 7);
  assert.ok(Number.isNaN(percentile([], 0.5)));
});

test('median of an even count is the mean of the middle two', () => {
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([5, 1, 3]), 3);
});

test('an open-loop schedule spaces calls evenly at the offered rate, whatever the server does', () => {
  const schedule = openLoopSchedule(500, 1_000);
  assert.equal(schedule.length, 500);
  assert.equal(schedule[0], 0);
  assert.equal(schedule[1], 2);
  assert.equal(schedule[499], 998);
  assert.deepEqual(openLoopSchedule(0, 1_000), []);
  assert.deepEqual(openLoopSchedule(500, 0), []);
});

test('a ratio target is met at or above its share of the ceiling, and reported as met or MISSED', () => {
  const ceiling = row([1_000, 1_000, 1_000]);
  const goal: Target = { of: 'ratio', op: '>=', value: 0.4 };
  assert.equal(targetMet(row([400, 390, 410], ceiling, goal)), true);
  assert.equal(targetMet(row([399, 380, 390], ceiling, goal)), false);
  assert.equal(targetCell(row([400], ceiling, goal)), '≥ 0.40: met');
  assert.equal(targetCell(row([100], ceiling, goal)), '≥ 0.40: MISSED');
  assert.equal(targetMet(row([400])), null);
});

test('a value target compares the median itself, in the row unit', () => {
  const p99: Target = { of: 'value', op: '<=', value: 25 };
  assert.equal(targetCell(row([20, 30, 24], null, p99, 'ms')), '≤ 25 ms: met');
  assert.equal(targetCell(row([26, 30, 24], null, p99, 'ms')), '≤ 25 ms: MISSED');
});

test('the text table shows every row with its ceiling, ratio and target', () => {
  const ceiling: Result = { ...row([2_000]), scenario: 'Ceiling A', database: '-' };
  const table = textTable([ceiling, { ...row([800], ceiling, { of: 'ratio', op: '>=', value: 0.4 }), scenario: 'Create' }]);
  const lines = table.split('\n');
  assert.equal(lines.length, 4);
  assert.match(lines[0]!, /^scenario\s+database\s+Herald median.*ratio\s+target$/);
  assert.match(lines[3]!, /^Create\s+SQLite\s+800 calls\/s\s+800–800\s+2,000 calls\/s\s+0\.40\s+≥ 0\.40: met$/);
});
