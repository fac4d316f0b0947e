import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decide, EMPTY_RATE_WINDOW, nextRateSlot, typeAllowed, type RateWindow } from '../../src/domain/decision.js';
import { DEFAULT_PREFERENCES, type EditablePreferences, type Priority } from '../../src/domain/types.js';

const NOW = new Date('2026-03-10T23:30:00Z'); // 23:30 UTC: inside 22:00-06:00
const ON: EditablePreferences = { ...DEFAULT_PREFERENCES, enableWebhook: true, webhookUrl: 'https://example.com/hook' };
const QUIET = { start: '22:00', end: '06:00', policy: 'SKIP' as const, urgentBypass: false };

const MINUTE = 60_000;
const ago = (minutes: number): Date => new Date(NOW.getTime() - minutes * MINUTE);
/** The limit-th last counted webhook 10 minutes ago: no room until 50 minutes from now. */
const FULL: RateWindow = { edge: ago(10), last: ago(1) };
/** It counted 61 minutes ago: it has left the window. */
const ROOM: RateWindow = { edge: ago(61), last: ago(1) };

function run(p: EditablePreferences | null, over: { type?: string; priority?: Priority; rate?: RateWindow; now?: Date; openRateDigestEnd?: Date } = {}) {
  return decide({ preferences: p, notificationType: over.type ?? 'job.done', priority: over.priority ?? 'NORMAL', now: over.now ?? NOW, rate: over.rate ?? EMPTY_RATE_WINDOW, openRateDigestEnd: over.openRateDigestEnd ?? null });
}

describe('decide', () => {
  const cases: Array<[string, EditablePreferences | null, Parameters<typeof run>[1], string, string]> = [
    ['no preferences', null, {}, 'SUPPRESS', 'WEBHOOK_DISABLED'],
    ['webhook off', { ...ON, enableWebhook: false }, {}, 'SUPPRESS', 'WEBHOOK_DISABLED'],
    ['no URL', { ...ON, webhookUrl: null }, {}, 'SUPPRESS', 'NO_WEBHOOK_URL'],
    ['type not allowed', { ...ON, notificationTypes: ['billing.*'] }, {}, 'SUPPRESS', 'TYPE_FILTERED'],
    ['priority too low', { ...ON, minPriority: 'HIGH' }, {}, 'SUPPRESS', 'PRIORITY_FILTERED'],
    ['quiet hours, SKIP', { ...ON, quietHours: QUIET }, {}, 'SUPPRESS', 'QUIET_HOURS'],
    ['quiet hours, DEFER', { ...ON, quietHours: { ...QUIET, policy: 'DEFER' } }, {}, 'DEFER', 'QUIET_HOURS'],
    ['quiet hours, DIGEST', { ...ON, quietHours: { ...QUIET, policy: 'DIGEST' } }, {}, 'DEFER', 'QUIET_HOURS'],
    ['URGENT bypasses a DIGEST window', { ...ON, quietHours: { ...QUIET, policy: 'DIGEST', urgentBypass: true } }, { priority: 'URGENT' }, 'DELIVER', 'URGENT_BYPASS'],
    ['a DIGEST over the limit is RATE_LIMITED', { ...ON, maxPerHour: 1, quietHours: { ...QUIET, policy: 'DIGEST' } }, { rate: FULL }, 'SUPPRESS', 'RATE_LIMITED'],
    ['quiet hours bypassed by URGENT', { ...ON, quietHours: { ...QUIET, urgentBypass: true } }, { priority: 'URGENT' }, 'DELIVER', 'URGENT_BYPASS'],
    ['bypass needs URGENT', { ...ON, quietHours: { ...QUIET, urgentBypass: true } }, { priority: 'HIGH' }, 'SUPPRESS', 'QUIET_HOURS'],
    ['limit reached', { ...ON, maxPerHour: 3 }, { rate: FULL }, 'SUPPRESS', 'RATE_LIMITED'],
    ['limit not reached', { ...ON, maxPerHour: 3 }, { rate: ROOM }, 'DELIVER', 'ACCEPTED'],
    ['fewer counted than the limit', { ...ON, maxPerHour: 3 }, { rate: { edge: null, last: ago(1) } }, 'DELIVER', 'ACCEPTED'],
    ['limit 0 is unlimited', { ...ON, maxPerHour: 0 }, { rate: FULL }, 'DELIVER', 'ACCEPTED'],
    ['limit reached, policy DEFER', { ...ON, maxPerHour: 3, rateLimitPolicy: 'DEFER' }, { rate: FULL }, 'DEFER', 'RATE_LIMITED'],
    ['room, but a deferred webhook still waits for its slot: behind it', { ...ON, maxPerHour: 3, rateLimitPolicy: 'DEFER' }, { rate: { edge: ago(61), last: new Date(NOW.getTime() + MINUTE) } }, 'DEFER', 'RATE_LIMITED'],
    ['the edge leaving exactly now is room', { ...ON, maxPerHour: 3 }, { rate: { edge: ago(60), last: ago(1) } }, 'DELIVER', 'ACCEPTED'],
    ['everything passes', ON, {}, 'DELIVER', 'ACCEPTED'],
    // Precedence: the earlier check wins.
    ['webhook off beats a filtered type', { ...ON, enableWebhook: false, notificationTypes: ['x'] }, {}, 'SUPPRESS', 'WEBHOOK_DISABLED'],
    ['a filtered type inside quiet hours is TYPE_FILTERED', { ...ON, notificationTypes: ['x'], quietHours: QUIET }, {}, 'SUPPRESS', 'TYPE_FILTERED'],
    ['a low priority inside quiet hours is PRIORITY_FILTERED', { ...ON, minPriority: 'URGENT', quietHours: QUIET }, {}, 'SUPPRESS', 'PRIORITY_FILTERED'],
    ['quiet hours (SKIP) beat the limit', { ...ON, maxPerHour: 1, quietHours: QUIET }, { rate: FULL }, 'SUPPRESS', 'QUIET_HOURS'],
    ['a DEFER over the limit is RATE_LIMITED', { ...ON, maxPerHour: 1, quietHours: { ...QUIET, policy: 'DEFER' } }, { rate: FULL }, 'SUPPRESS', 'RATE_LIMITED'],
    ['outside quiet hours nothing is held', { ...ON, quietHours: QUIET }, { now: new Date('2026-03-10T12:00:00Z') }, 'DELIVER', 'ACCEPTED'],
  ];
  for (const [name, prefs, over, outcome, reason] of cases) {
    test(`${name} → ${outcome}/${reason}`, () => {
      const d = run(prefs, over);
      assert.equal(d.outcome, outcome);
      assert.equal(d.reason, reason);
      assert.ok(d.explanation.length > 0);
      assert.equal(d.decidedAt.getTime(), (over?.now ?? NOW).getTime());
    });
  }

  test('DEFER is due at the end of the window; DELIVER now; SUPPRESS never', () => {
    assert.equal(run({ ...ON, quietHours: { ...QUIET, policy: 'DEFER' } }).deliverAt?.toISOString(), '2026-03-11T06:00:00.000Z');
    assert.equal(run(ON).deliverAt?.getTime(), NOW.getTime());
    assert.equal(run(null).deliverAt, null);
  });

  test('DIGEST joins the digest of the window: from its first quiet minute to its end, said in the agent zone', () => {
    const d = run({ ...ON, timeZone: 'Europe/Paris', quietHours: { start: '22:00', end: '07:00', policy: 'DIGEST', urgentBypass: false } });
    // 23:30 UTC is 00:30 in Paris (CET): the window began at 21:00 UTC and ends at 06:00 UTC.
    assert.equal(d.deliverAt?.toISOString(), '2026-03-11T06:00:00.000Z');
    assert.deepEqual(d.digest, { start: new Date('2026-03-10T21:00:00Z'), end: new Date('2026-03-11T06:00:00Z') });
    assert.match(d.explanation, /deferred into the digest sent at 07:00 Europe\/Paris \(2026-03-11T06:00:00.000Z\)/);
    assert.equal(run({ ...ON, quietHours: { ...QUIET, policy: 'DEFER' } }).digest, undefined);
  });

  test('rate DEFER is due, and counts, when the edge leaves the window, and says so in UTC', () => {
    const d = run({ ...ON, maxPerHour: 3, rateLimitPolicy: 'DEFER' }, { rate: FULL });
    assert.equal(d.deliverAt?.toISOString(), '2026-03-11T00:20:00.000Z');
    assert.equal(d.countsAt?.toISOString(), '2026-03-11T00:20:00.000Z');
    assert.match(d.explanation, /deferred until 00:20 UTC when the hourly window has room \(2026-03-11T00:20:00.000Z\)/);
    // Inside quiet hours (DEFER until 06:00) as well: sent at the later of the two, counted at its slot.
    const quiet = run({ ...ON, maxPerHour: 3, rateLimitPolicy: 'DEFER', quietHours: { ...QUIET, policy: 'DEFER' } }, { rate: FULL });
    assert.equal(quiet.deliverAt?.toISOString(), '2026-03-11T06:00:00.000Z');
    assert.equal(quiet.countsAt?.toISOString(), '2026-03-11T00:20:00.000Z');
    assert.match(quiet.explanation, /until 00:20 UTC and inside quiet hours 22:00-06:00 UTC: deferred until the window ends at 2026-03-11T06:00:00.000Z; it counts toward the limit at 2026-03-11T00:20:00.000Z/);
    // Sent or quiet-deferred now: counted now; suppressed: not counted.
    assert.equal(run(ON).countsAt?.getTime(), NOW.getTime());
    assert.equal(run({ ...ON, quietHours: { ...QUIET, policy: 'DEFER' } }).countsAt?.getTime(), NOW.getTime());
    assert.equal(run({ ...ON, maxPerHour: 3 }, { rate: FULL }).countsAt, undefined);
  });

  describe('an URGENT bypass behind a webhook held by quiet hours and the limit (limit 1, 22:00-06:00 with bypass, policies DEFER)', () => {
    const p: EditablePreferences = { ...ON, maxPerHour: 1, rateLimitPolicy: 'DEFER', quietHours: { ...QUIET, policy: 'DEFER', urgentBypass: true } };
    const sent = new Date('2026-03-10T21:50:00Z');
    const held = run(p, { now: new Date('2026-03-10T22:10:00Z'), rate: { edge: sent, last: sent } });
    const cases: Array<[string, Date, string, string]> = [
      ['before the held one\'s slot leaves: at that instant', new Date('2026-03-10T23:30:00Z'), 'DEFER', '2026-03-10T23:50:00.000Z'],
      ['after it: sent now', new Date('2026-03-10T23:55:00Z'), 'DELIVER', '2026-03-10T23:55:00.000Z'],
      ['near the quiet window\'s end: sent now, since the held one counted at 22:50', new Date('2026-03-11T05:30:00Z'), 'DELIVER', '2026-03-11T05:30:00.000Z'],
    ];
    test('the held one is sent when quiet hours end and counted at its slot', () => {
      assert.deepEqual([held.outcome, held.reason, held.deliverAt?.toISOString(), held.countsAt?.toISOString()], ['DEFER', 'RATE_LIMITED', '2026-03-11T06:00:00.000Z', '2026-03-10T22:50:00.000Z']);
    });
    for (const [name, now, outcome, at] of cases) {
      test(`an URGENT ${name}`, () => {
        const urgent = run(p, { priority: 'URGENT', now, rate: { edge: held.countsAt!, last: held.countsAt! } });
        assert.deepEqual([urgent.outcome, urgent.deliverAt?.toISOString(), urgent.countsAt?.toISOString()], [outcome, at, at], urgent.explanation);
        // counted_at never decreases along the sequence, and the limit of 1 holds between the counted instants.
        assert.ok(urgent.countsAt!.getTime() - held.countsAt!.getTime() >= 60 * MINUTE);
      });
    }
  });

  test('rate DIGEST opens a digest at the slot, counted once there; later ones join it without counting', () => {
    const opened = run({ ...ON, maxPerHour: 3, rateLimitPolicy: 'DIGEST' }, { rate: FULL });
    assert.deepEqual([opened.outcome, opened.reason, opened.deliverAt?.toISOString(), opened.countsAt?.toISOString()], ['DEFER', 'RATE_LIMITED', '2026-03-11T00:20:00.000Z', '2026-03-11T00:20:00.000Z']);
    assert.deepEqual(opened.digest, { start: NOW, end: new Date('2026-03-11T00:20:00Z') });
    assert.match(opened.explanation, /deferred into the digest sent at 00:20 UTC when the hourly window has room/);
    const open = new Date('2026-03-11T00:05:00Z');
    const joined = run({ ...ON, maxPerHour: 3, rateLimitPolicy: 'DIGEST' }, { rate: FULL, openRateDigestEnd: open });
    assert.deepEqual([joined.deliverAt?.toISOString(), joined.countsAt], ['2026-03-11T00:05:00.000Z', undefined]);
    // An open digest sent before quiet hours end is not joined: that would send it inside them.
    const quiet = run({ ...ON, maxPerHour: 3, rateLimitPolicy: 'DIGEST', quietHours: { ...QUIET, policy: 'DEFER' } }, { rate: FULL, openRateDigestEnd: open });
    assert.deepEqual([quiet.deliverAt?.toISOString(), quiet.countsAt?.toISOString()], ['2026-03-11T06:00:00.000Z', '2026-03-11T06:00:00.000Z']);
  });

  test('nextRateSlot: now when there is room, else the later of the edge leaving and the last slot', () => {
    assert.equal(nextRateSlot(EMPTY_RATE_WINDOW, NOW), NOW);
    assert.equal(nextRateSlot(ROOM, NOW), NOW);
    assert.equal(nextRateSlot(FULL, NOW).toISOString(), '2026-03-11T00:20:00.000Z');
    assert.equal(nextRateSlot({ edge: ago(30), last: new Date(NOW.getTime() + 45 * MINUTE) }, NOW).toISOString(), '2026-03-11T00:15:00.000Z');
  });

  test('quiet hours are read in the agent zone', () => {
    // 23:30 UTC is 00:30 in Paris (inside 22:00-06:00) and 19:30 in New York (outside).
    assert.equal(run({ ...ON, timeZone: 'Europe/Paris', quietHours: QUIET }).reason, 'QUIET_HOURS');
    assert.equal(run({ ...ON, timeZone: 'America/New_York', quietHours: QUIET }).reason, 'ACCEPTED');
  });
});

describe('typeAllowed', () => {
  const cases: Array<[string[], string, boolean]> = [
    [[], 'anything', true],
    [['*'], 'anything', true],
    [['job.done'], 'job.done', true],
    [['job.done'], 'job.failed', false],
    [['job.*'], 'job.failed', true],
    [['job.*'], 'jobs.failed', false],
    [['job*'], 'jobs.failed', true],
    [['a', 'b.*'], 'b.x', true],
  ];
  for (const [list, type, allowed] of cases) {
    test(`[${list.join(', ')}] ${allowed ? 'allows' : 'refuses'} ${type}`, () => assert.equal(typeAllowed(list, type), allowed));
  }
});
