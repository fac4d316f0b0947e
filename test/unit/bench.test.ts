import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, processUsage, staleBuildReason } from '../../bench/herald-process.js';
import { median, openLoopSchedule, percentile } from '../../bench/load.js';
import { GENERATED_END, markdownPage, targetCell, targetMet, targetSummary, textTable, type RunInfo } from '../../bench/report.js';
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
  const goal: Target = { of: 'ratio', op: '>=', value: 0.4, issue: 22 };
  assert.equal(targetMet(row([400, 390, 410], ceiling, goal)), true);
  assert.equal(targetMet(row([399, 380, 390], ceiling, goal)), false);
  assert.equal(targetCell(row([400], ceiling, goal)), '≥ 0.40 (#22): met');
  assert.equal(targetCell(row([100], ceiling, goal)), '≥ 0.40 (#22): MISSED');
  assert.equal(targetMet(row([400])), null);
});

test('a value target compares the median itself, in the row unit', () => {
  const p99: Target = { of: 'value', op: '<=', value: 25, issue: 22 };
  assert.equal(targetCell(row([20, 30, 24], null, p99, 'ms')), '≤ 25 ms (#22): met');
  assert.equal(targetCell(row([26, 30, 24], null, p99, 'ms')), '≤ 25 ms (#22): MISSED');
});

test('the summary counts the targets met in all and per issue that set them, newest issue first', () => {
  const ceiling = row([1_000]);
  const rows = [
    row([500], ceiling, { of: 'ratio', op: '>=', value: 0.4, issue: 22 }),
    row([300], ceiling, { of: 'ratio', op: '>=', value: 0.4, issue: 22 }),
    row([900], ceiling, { of: 'ratio', op: '>=', value: 0.8, issue: 21 }),
    row([3], ceiling, { of: 'ratio', op: '<=', value: 2, issue: 19 }),
    row([100]),
  ];
  assert.equal(targetSummary(rows), 'targets met: 3 of 4 (#22: 1 of 2; #21: 1 of 1; #19: 1 of 1)');
});

const INFO: RunInfo = { command: 'npm run bench', date: '2026-12-07T00:00:00Z', node: 'v20', nproc: 2, cpu: 'cpu', loadAverage: '0', postgres: null, settings: 's', wallSeconds: 1 };

test('a run keeps the hand-written sections that follow the generated part of the page, and writes the rest anew', () => {
  const first = markdownPage([row([1])], INFO, null);
  assert.ok(first.trimEnd().endsWith(GENERATED_END), 'a new page ends with the generated part');
  const handWritten = '## Before and after a change, same machine\n\n| row | before | after |\n|---|---:|---:|\n| create | 0.21 | 0.40 |\n\nNotes.';
  const edited = `${first.replace('| wall time | 1 s |', '| wall time | 999 s |')}\n${handWritten}\n`;
  const next = markdownPage([row([2])], { ...INFO, wallSeconds: 7 }, null, edited);
  assert.ok(next.includes('| wall time | 7 s |') && !next.includes('999 s'), 'the generated part is rewritten');
  assert.equal(next.slice(next.indexOf(GENERATED_END) + GENERATED_END.length).trim(), handWritten);
  // And again: kept once, not doubled.
  const third = markdownPage([row([3])], INFO, null, next);
  assert.equal(third.split('## Before and after a change').length, 2);
});

test('a page written before the end line existed keeps every section from the first heading the generator does not write', () => {
  const generated = markdownPage([row([1])], INFO, null).split(GENERATED_END)[0]!;
  const old = `${generated}\n## Before and after the 0.3 features, same machine\n\nA table.\n`;
  const next = markdownPage([row([2])], INFO, null, old);
  assert.equal(next.slice(next.indexOf(GENERATED_END) + GENERATED_END.length).trim(), '## Before and after the 0.3 features, same machine\n\nA table.');
  assert.equal(next.split('## How to run it').length, 2, 'generated sections are not kept twice');
});

test('the text table shows every row with its ceiling, ratio and target', () => {
  const ceiling: Result = { ...row([2_000]), scenario: 'Ceiling A', database: '-' };
  const table = textTable([ceiling, { ...row([800], ceiling, { of: 'ratio', op: '>=', value: 0.4, issue: 22 }), scenario: 'Create' }]);
  const lines = table.split('\n');
  assert.equal(lines.length, 4);
  assert.match(lines[0]!, /^scenario\s+database\s+Herald median.*ratio\s+target$/);
  assert.match(lines[3]!, /^Create\s+SQLite\s+800 calls\/s\s+800–800\s+2,000 calls\/s\s+0\.40\s+≥ 0\.40 \(#22\): met$/);
});

test('the bench builds when dist/main.js is missing or older than src/, and not when it is newer than every input', (t) => {
  const dist = mkdtempSync(join(tmpdir(), 'herald-dist-'));
  t.after(() => rmSync(dist, { recursive: true, force: true }));
  assert.match(staleBuildReason(dist) ?? '', /main\.js is missing/);
  const main = join(dist, 'main.js');
  writeFileSync(main, '');
  utimesSync(main, new Date(0), new Date(0));
  assert.match(staleBuildReason(dist) ?? '', /changed since the last build/);
  const future = new Date(Date.now() + 3_600_000);
  utimesSync(main, future, future);
  assert.equal(staleBuildReason(dist), null);
});

test('process usage read from /proc matches what the process reports of itself', { skip: process.platform !== 'linux' && 'needs /proc' }, () => {
  const own = process.resourceUsage();
  const usage = processUsage(process.pid);
  assert.ok(usage !== null);
  // maxRSS is in kilobytes; the peak can only have grown since.
  assert.ok(usage.peakRssBytes >= own.maxRSS * 1024, `${usage.peakRssBytes} < ${own.maxRSS * 1024}`);
  const ownCpuMs = (own.userCPUTime + own.systemCPUTime) / 1000;
  // /proc counts in clock ticks (10 ms here).
  assert.ok(usage.cpuMs >= ownCpuMs - 20, `${usage.cpuMs} ms < ${ownCpuMs} ms`);
  assert.equal(processUsage(2 ** 22 + 1), null);
});

test('a free port is a loopback port that can be bound at once', async () => {
  const port = await freePort();
  assert.ok(port > 0 && port < 65_536);
  const { createServer } = await import('node:net');
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', resolve));
  await new Promise<void>((resolve) => server.close(() => resolve()));
});
