/**
 * The quiet-hours oracle (test/fixtures/quiet-hours.json, a copy of an
 * independent zoneinfo computation), loaded and checked case by case so a
 * malformed case fails loudly instead of testing nothing.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

export interface QuietHoursVector {
  readonly time_zone: string;
  readonly start: string;
  readonly end: string;
  /** The instant, RFC 3339. */
  readonly now: string;
  readonly quiet: boolean;
  /** The first whole-minute instant at or after `now` outside the window. */
  readonly next_allowed: string;
}

function isVector(value: unknown): value is QuietHoursVector {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v['time_zone'] === 'string' &&
    typeof v['start'] === 'string' &&
    typeof v['end'] === 'string' &&
    typeof v['now'] === 'string' &&
    typeof v['quiet'] === 'boolean' &&
    typeof v['next_allowed'] === 'string'
  );
}

export function loadQuietHoursVectors(): QuietHoursVector[] {
  const parsed: unknown = JSON.parse(readFileSync(new URL('../fixtures/quiet-hours.json', import.meta.url), 'utf8'));
  assert.ok(typeof parsed === 'object' && parsed !== null && 'cases' in parsed, 'fixture has no cases');
  const cases: unknown = parsed.cases;
  assert.ok(Array.isArray(cases), 'fixture cases is not an array');
  return cases.map((c: unknown, i: number) => {
    assert.ok(isVector(c), `fixture case #${i} is malformed: ${JSON.stringify(c)}`);
    return c;
  });
}
