import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { QuietHours, QuietHoursPolicy } from '../../src/domain/types.js';
import { limitPreview, quietPreview } from '../../src/portal/preview.js';

const window = (start: string, end: string, policy: QuietHoursPolicy = 'DIGEST', urgentBypass = false): QuietHours => ({ start, end, policy, urgentBypass });

test('the quiet-hours preview says when, in the agent\'s zone, and what happens to a notification then', () => {
  const cases: Array<[string, QuietHours | null, string, string, string]> = [
    ['no quiet hours', null, 'UTC', '2026-03-10T12:00:00Z', 'No quiet hours: notifications are sent as they come, day and night.'],
    ['start equal to end is none', window('08:00', '08:00'), 'UTC', '2026-03-10T12:00:00Z', 'No quiet hours: notifications are sent as they come, day and night.'],
    ['the issue\'s example, at noon in Paris', window('22:00', '07:00'), 'Europe/Paris', '2026-03-10T11:00:00Z', 'Tonight 22:00–07:00 Europe/Paris, notifications are collected into one digest sent at 07:00; urgent ones wait too.'],
    ['inside the window', window('22:00', '07:00', 'DEFER', true), 'Europe/Paris', '2026-03-10T22:30:00Z', 'Quiet now, until 07:00 Europe/Paris, each notification is held and sent at 07:00; urgent ones are sent at once.'],
    ['a morning window seen in the evening', window('06:00', '08:00', 'SKIP'), 'UTC', '2026-03-10T20:00:00Z', 'Tomorrow 06:00–08:00 UTC, notifications are dropped (no webhook is sent for them); urgent ones wait too.'],
    ['an afternoon window seen in the morning', window('13:00', '14:00', 'SKIP'), 'America/New_York', '2026-03-10T13:00:00Z', 'Today 13:00–14:00 America/New_York, notifications are dropped (no webhook is sent for them); urgent ones wait too.'],
    // 2026-03-29 02:00 does not exist in Paris: the window opens at 03:00 that night, and "until" is read from the zone, not added up.
    ['over the spring DST change', window('01:00', '04:00', 'DEFER'), 'Europe/Paris', '2026-03-29T00:30:00Z', 'Quiet now, until 04:00 Europe/Paris, each notification is held and sent at 04:00; urgent ones wait too.'],
  ];
  for (const [what, q, zone, at, expected] of cases) assert.equal(quietPreview({ quietHours: q, timeZone: zone }, new Date(at)), expected, what);
});

test('the hourly-limit preview says the limit and what happens beyond it', () => {
  assert.equal(limitPreview({ maxPerHour: 0, rateLimitPolicy: 'SUPPRESS' }), 'No hourly limit.');
  assert.equal(limitPreview({ maxPerHour: 1, rateLimitPolicy: 'SUPPRESS' }), 'At most 1 webhook in any hour; beyond that they are dropped.');
  assert.equal(limitPreview({ maxPerHour: 10, rateLimitPolicy: 'DEFER' }), 'At most 10 webhooks in any hour; beyond that they are held and sent one by one as the hour has room.');
  assert.equal(limitPreview({ maxPerHour: 10, rateLimitPolicy: 'DIGEST' }), 'At most 10 webhooks in any hour; beyond that they are collected into one digest sent when the hour has room.');
});
