import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_ENDPOINT_RETRY_POLICY } from '../../src/domain/backoff.js';
import { decide, EMPTY_RATE_WINDOW, type RateWindow } from '../../src/domain/decision.js';
import type { Endpoint, EndpointSettings } from '../../src/domain/endpoint.js';
import { decideFanOut, MAX_SUMMARY_EXPLANATION, rateScopesFor, type EndpointDecision, type FanOut } from '../../src/domain/fan-out.js';
import type { FilterableNotification } from '../../src/domain/filter.js';
import { DEFAULT_PREFERENCES, type EditablePreferences, type Priority, type QuietHours, type QuietHoursPolicy, type RateLimitPolicy } from '../../src/domain/types.js';
import { loadQuietHoursVectors } from '../helpers/quiet-hours-vectors.js';

const MINUTE = 60_000;
// 23:30 UTC is 00:30 in Paris (CET).
const NIGHT = new Date('2026-03-10T23:30:00Z');
const NOON = new Date('2026-03-10T11:00:00Z');
const ago = (minutes: number, from = NIGHT): Date => new Date(from.getTime() - minutes * MINUTE);

const AGENT: EditablePreferences = { ...DEFAULT_PREFERENCES, enableWebhook: true, webhookUrl: 'https://example.com/hook', timeZone: 'Europe/Paris' };
const window = (start: string, end: string, policy: QuietHoursPolicy, urgentBypass = false): QuietHours => ({ start, end, policy, urgentBypass });

function endpoint(id: string, over: Partial<EndpointSettings & { disabledReason: string | null }> = {}): Endpoint {
  return {
    id,
    agentId: 'agent-1',
    description: '',
    url: 'https://example.com/hook',
    enabled: true,
    disabledReason: null,
    eventTypes: [],
    filter: [],
    headers: {},
    timeoutMs: null,
    retryPolicy: DEFAULT_ENDPOINT_RETRY_POLICY,
    overrides: {},
    ordering: 'NONE',
    ...over,
  };
}

function notification(over: Partial<FilterableNotification> = {}): FilterableNotification {
  return { notificationType: 'job.completed', priority: 'NORMAL', relatedEntityType: null, relatedEntityId: null, metadata: {}, ...over };
}

interface Counters {
  readonly agentRate?: RateWindow;
  readonly endpointRates?: Record<string, RateWindow>;
  readonly openRateDigestEnds?: Record<string, Date | null>;
}

/** Decides as a caller does: reads what rateScopesFor names (from `counters`, empty when not given), nothing else. */
function fanOut(recipient: EditablePreferences | null, endpoints: Endpoint[], n: FilterableNotification, now: Date, counters: Counters = {}): FanOut {
  const scopes = rateScopesFor(recipient, endpoints, n);
  return decideFanOut({
    recipient,
    endpoints,
    notification: n,
    now,
    agentRate: scopes.agentWindow ? (counters.agentRate ?? EMPTY_RATE_WINDOW) : null,
    endpointRates: new Map(scopes.endpointWindows.map((id) => [id, counters.endpointRates?.[id] ?? EMPTY_RATE_WINDOW])),
    openRateDigestEnds: new Map(scopes.openRateDigests.map((id) => [id, counters.openRateDigestEnds?.[id] ?? null])),
  });
}

const brief = (d: EndpointDecision) => [d.endpointId, d.outcome, d.reason];

describe('decideFanOut: three endpoints (server on job.*, data with a metadata filter, chat with its own DIGEST quiet hours)', () => {
  const endpoints = [
    endpoint('ep_server', { description: 'server', eventTypes: ['job.*'] }),
    endpoint('ep_data', { description: 'data', filter: [{ field: 'metadata.env', operator: 'EQUALS', values: ['prod'] }] }),
    endpoint('ep_chat', { description: 'chat', overrides: { quietHours: window('22:00', '07:00', 'DIGEST') } }),
  ];
  const digest = 'inside quiet hours 22:00-07:00 Europe/Paris (policy DIGEST): deferred into the digest sent at 07:00 Europe/Paris (2026-03-11T06:00:00.000Z)';

  test('at night a prod job goes to server and data now, and into chat\'s digest', () => {
    const r = fanOut(AGENT, endpoints, notification({ metadata: { env: 'prod' } }), NIGHT);
    assert.deepEqual(r.endpoints.map(brief), [
      ['ep_server', 'DELIVER', 'ACCEPTED'],
      ['ep_data', 'DELIVER', 'ACCEPTED'],
      ['ep_chat', 'DEFER', 'QUIET_HOURS'],
    ]);
    assert.deepEqual(r.endpoints[2]?.digest, { start: new Date('2026-03-10T21:00:00Z'), end: new Date('2026-03-11T06:00:00Z') });
    assert.deepEqual([r.summary.outcome, r.summary.reason, r.summary.deliverAt], ['DELIVER', 'ACCEPTED', NIGHT]);
    assert.equal(r.summary.explanation, `server: every check passed: sent now; data: every check passed: sent now; chat: ${digest}`);
    assert.equal(r.summary.digest, undefined);
    // Counted once toward the agent's (unlimited) limit, at the earliest instant.
    assert.equal(r.agentCountsAt, NIGHT);
    assert.equal(r.summary.countsAt, NIGHT);
  });

  test('at night a staging billing notification reaches only chat\'s digest; the summary is that DEFER', () => {
    const r = fanOut(AGENT, endpoints, notification({ notificationType: 'billing.paid', metadata: { env: 'staging' } }), NIGHT);
    assert.deepEqual(r.endpoints.map(brief), [
      ['ep_server', 'SUPPRESS', 'TYPE_FILTERED'],
      ['ep_data', 'SUPPRESS', 'FILTERED'],
      ['ep_chat', 'DEFER', 'QUIET_HOURS'],
    ]);
    assert.equal(r.endpoints[0]?.explanation, 'type "billing.paid" is not in the endpoint\'s event_types [job.*]');
    assert.equal(r.endpoints[1]?.explanation, 'the endpoint\'s filter[0] does not hold: metadata.env EQUALS "prod", but metadata.env is "staging"');
    assert.deepEqual([r.summary.outcome, r.summary.reason, r.summary.deliverAt?.toISOString()], ['DEFER', 'QUIET_HOURS', '2026-03-11T06:00:00.000Z']);
    assert.deepEqual(r.summary.digest, r.endpoints[2]?.digest);
    assert.equal(
      r.summary.explanation,
      `server: type "billing.paid" is not in the endpoint's event_types [job.*]; data: the endpoint's filter[0] does not hold: metadata.env EQUALS "prod", but metadata.env is "staging"; chat: ${digest}`,
    );
  });

  test('at noon chat takes it at once', () => {
    const r = fanOut(AGENT, endpoints, notification({ notificationType: 'billing.paid' }), NOON);
    assert.deepEqual(r.endpoints.map(brief), [
      ['ep_server', 'SUPPRESS', 'TYPE_FILTERED'],
      ['ep_data', 'SUPPRESS', 'FILTERED'],
      ['ep_chat', 'DELIVER', 'ACCEPTED'],
    ]);
    assert.deepEqual([r.summary.outcome, r.summary.reason], ['DELIVER', 'ACCEPTED']);
    assert.equal(r.endpoints[1]?.explanation, 'the endpoint\'s filter[0] does not hold: metadata.env EQUALS "prod", but metadata.env is missing');
  });
});

describe('decideFanOut: an URGENT-only pager without quiet hours beside a chat that inherits the agent\'s', () => {
  const agent: EditablePreferences = { ...AGENT, quietHours: window('22:00', '07:00', 'DEFER') };
  const endpoints = [
    endpoint('ep_chat', { description: 'chat' }),
    endpoint('ep_pager', { description: 'pager', overrides: { minPriority: 'URGENT', quietHours: null } }),
  ];

  test('a NORMAL one at night waits for chat and never reaches the pager', () => {
    const r = fanOut(agent, endpoints, notification(), NIGHT);
    assert.deepEqual(r.endpoints.map(brief), [
      ['ep_chat', 'DEFER', 'QUIET_HOURS'],
      ['ep_pager', 'SUPPRESS', 'PRIORITY_FILTERED'],
    ]);
    assert.equal(
      r.summary.explanation,
      'chat: inside quiet hours 22:00-07:00 Europe/Paris (policy DEFER): deferred to 2026-03-11T06:00:00.000Z; pager: priority NORMAL is below the endpoint\'s min_priority URGENT',
    );
    assert.deepEqual([r.summary.outcome, r.summary.reason, r.summary.deliverAt?.toISOString()], ['DEFER', 'QUIET_HOURS', '2026-03-11T06:00:00.000Z']);
  });

  test('an URGENT one at night rings the pager at once (no quiet hours, not a bypass); chat still waits', () => {
    const r = fanOut(agent, endpoints, notification({ priority: 'URGENT' }), NIGHT);
    assert.deepEqual(r.endpoints.map(brief), [
      ['ep_chat', 'DEFER', 'QUIET_HOURS'],
      ['ep_pager', 'DELIVER', 'ACCEPTED'],
    ]);
    assert.deepEqual([r.summary.outcome, r.summary.reason, r.summary.deliverAt], ['DELIVER', 'ACCEPTED', NIGHT]);
  });

  test('null overrides mean none: no minimum and no quiet hours, whatever the agent has', () => {
    const strict: EditablePreferences = { ...AGENT, minPriority: 'HIGH', quietHours: window('22:00', '07:00', 'SKIP') };
    const open = endpoint('ep_open', { overrides: { minPriority: null, quietHours: null } });
    const r = fanOut(strict, [endpoint('ep_inherits'), open], notification({ priority: 'LOW' }), NIGHT);
    assert.deepEqual(r.endpoints.map(brief), [
      ['ep_inherits', 'SUPPRESS', 'PRIORITY_FILTERED'],
      ['ep_open', 'DELIVER', 'ACCEPTED'],
    ]);
    assert.equal(r.endpoints[0]?.explanation, "priority LOW is below the agent's min_priority HIGH");
  });

  test('an endpoint\'s own window with its own urgent bypass', () => {
    const e = endpoint('ep', { overrides: { quietHours: window('22:00', '07:00', 'SKIP', true) } });
    assert.deepEqual(fanOut(AGENT, [e], notification({ priority: 'URGENT' }), NIGHT).endpoints.map(brief), [['ep', 'DELIVER', 'URGENT_BYPASS']]);
    assert.deepEqual(fanOut(AGENT, [e], notification({ priority: 'HIGH' }), NIGHT).endpoints.map(brief), [['ep', 'SUPPRESS', 'QUIET_HOURS']]);
  });
});

/**
 * Creates notifications one minute apart and keeps the counters as storage
 * would: the agent's counted instants (one per notification that counts) and
 * each endpoint's own.
 */
function sequence(recipient: EditablePreferences, endpoints: Endpoint[], count: number, start = NOON): FanOut[] {
  const agentCounted: Date[] = [];
  const own = new Map<string, Date[]>();
  const windowOf = (counted: readonly Date[], limit: number): RateWindow => ({ edge: counted.at(-Math.max(limit, 1)) ?? null, last: counted.at(-1) ?? null });
  const results: FanOut[] = [];
  for (let i = 0; i < count; i++) {
    const now = new Date(start.getTime() + i * MINUTE);
    const endpointRates = Object.fromEntries(endpoints.map((e) => [e.id, windowOf(own.get(e.id) ?? [], e.overrides.maxPerHour ?? 0)]));
    const r = fanOut(recipient, endpoints, notification(), now, { agentRate: windowOf(agentCounted, recipient.maxPerHour), endpointRates });
    if (r.agentCountsAt !== null) agentCounted.push(r.agentCountsAt);
    for (const d of r.endpoints) if (d.scope === 'endpoint' && d.countsAt !== undefined) own.set(d.endpointId, [...(own.get(d.endpointId) ?? []), d.countsAt]);
    results.push(r);
  }
  return results;
}

describe('decideFanOut: hourly limits', () => {
  test('the agent\'s limit counts each notification once, however many endpoints share it', () => {
    const endpoints = [endpoint('ep_a'), endpoint('ep_b'), endpoint('ep_c')];
    const runs = sequence({ ...AGENT, maxPerHour: 3 }, endpoints, 5);
    assert.deepEqual(
      runs.map((r) => r.endpoints.map((d) => d.outcome)),
      [
        ['DELIVER', 'DELIVER', 'DELIVER'],
        ['DELIVER', 'DELIVER', 'DELIVER'],
        ['DELIVER', 'DELIVER', 'DELIVER'],
        ['SUPPRESS', 'SUPPRESS', 'SUPPRESS'],
        ['SUPPRESS', 'SUPPRESS', 'SUPPRESS'],
      ],
    );
    assert.ok(runs.every((r) => r.endpoints.every((d) => d.scope === 'agent')));
    assert.deepEqual(runs.map((r) => r.agentCountsAt?.toISOString() ?? null), ['2026-03-10T11:00:00.000Z', '2026-03-10T11:01:00.000Z', '2026-03-10T11:02:00.000Z', null, null]);
    // Every endpoint says the same, so the summary says it once.
    assert.equal(runs[3]?.summary.explanation, "the agent's limit of 3 webhooks per rolling 60 minutes is used up until 2026-03-10T12:00:00.000Z (rate_limit_policy SUPPRESS)");
  });

  test('an endpoint\'s own limit counts that endpoint\'s webhooks only, and none toward the agent\'s', () => {
    const endpoints = [endpoint('ep_server', { description: 'server', overrides: { maxPerHour: 2 } }), endpoint('ep_chat', { description: 'chat' })];
    const runs = sequence({ ...AGENT, maxPerHour: 3 }, endpoints, 4);
    assert.deepEqual(
      runs.map((r) => r.endpoints.map((d) => [d.scope, d.outcome])),
      [
        [['endpoint', 'DELIVER'], ['agent', 'DELIVER']],
        [['endpoint', 'DELIVER'], ['agent', 'DELIVER']],
        [['endpoint', 'SUPPRESS'], ['agent', 'DELIVER']],
        [['endpoint', 'SUPPRESS'], ['agent', 'SUPPRESS']],
      ],
    );
    assert.equal(runs[2]?.endpoints[0]?.explanation, "the endpoint's limit of 2 webhooks per rolling 60 minutes is used up until 2026-03-10T12:00:00.000Z (rate_limit_policy SUPPRESS)");
    assert.deepEqual(runs[2]?.endpoints[0]?.countsAt, undefined);
    assert.equal(runs[2]?.agentCountsAt?.toISOString(), '2026-03-10T11:02:00.000Z');
  });

  test('an own limit of 0 is unlimited, and counts nothing toward the agent\'s', () => {
    const full: RateWindow = { edge: ago(5, NOON), last: ago(1, NOON) };
    const r = fanOut({ ...AGENT, maxPerHour: 1 }, [endpoint('ep_free', { overrides: { maxPerHour: 0 } })], notification(), NOON, { agentRate: full });
    assert.deepEqual(r.endpoints.map((d) => [d.outcome, d.scope, d.countsAt]), [['DELIVER', 'endpoint', NOON]]);
    assert.equal(r.agentCountsAt, null);
    // Its one endpoint's decision is the summary, but the summary's countsAt is the agent's.
    assert.equal(r.summary.countsAt, undefined);
  });

  test('an overridden policy is named as the endpoint\'s', () => {
    const full: RateWindow = { edge: ago(10), last: ago(1) };
    const agent: EditablePreferences = { ...AGENT, maxPerHour: 3, rateLimitPolicy: 'DEFER' };
    const r = fanOut(agent, [endpoint('ep_drop', { overrides: { rateLimitPolicy: 'SUPPRESS' } }), endpoint('ep_wait')], notification(), NIGHT, { agentRate: full });
    assert.deepEqual(r.endpoints.map(brief), [
      ['ep_drop', 'SUPPRESS', 'RATE_LIMITED'],
      ['ep_wait', 'DEFER', 'RATE_LIMITED'],
    ]);
    assert.equal(r.endpoints[0]?.explanation, "the agent's limit of 3 webhooks per rolling 60 minutes is used up until 2026-03-11T00:20:00.000Z (the endpoint's rate_limit_policy SUPPRESS)");
    assert.equal(r.agentCountsAt?.toISOString(), '2026-03-11T00:20:00.000Z');
  });

  test('the agent counts the notification at the earliest instant among the endpoints that share its limit', () => {
    // Limit used up until 00:20 UTC. ep_slot defers to that slot; ep_digest (DIGEST, and quiet
    // hours until 07:00 Paris) opens a digest sent and counted at 06:00 UTC.
    const full: RateWindow = { edge: ago(10), last: ago(1) };
    const agent: EditablePreferences = { ...AGENT, maxPerHour: 3, rateLimitPolicy: 'DEFER' };
    const endpoints = [
      endpoint('ep_digest', { overrides: { rateLimitPolicy: 'DIGEST', quietHours: window('22:00', '07:00', 'DEFER') } }),
      endpoint('ep_slot'),
    ];
    const r = fanOut(agent, endpoints, notification(), NIGHT, { agentRate: full });
    assert.deepEqual(r.endpoints.map((d) => d.countsAt?.toISOString()), ['2026-03-11T06:00:00.000Z', '2026-03-11T00:20:00.000Z']);
    assert.equal(r.agentCountsAt?.toISOString(), '2026-03-11T00:20:00.000Z');
    // The summary is the earliest DEFER.
    assert.deepEqual([r.summary.outcome, r.summary.deliverAt?.toISOString()], ['DEFER', '2026-03-11T00:20:00.000Z']);
  });

  test('rate digests are per endpoint: joining one counts nothing, opening one counts', () => {
    const full: RateWindow = { edge: ago(10), last: ago(1) };
    const agent: EditablePreferences = { ...AGENT, maxPerHour: 3, rateLimitPolicy: 'DIGEST' };
    const endpoints = [endpoint('ep_a'), endpoint('ep_b')];
    const open = new Date('2026-03-11T00:05:00Z');
    const one = fanOut(agent, endpoints, notification(), NIGHT, { agentRate: full, openRateDigestEnds: { ep_a: open } });
    assert.deepEqual(one.endpoints.map((d) => [d.deliverAt?.toISOString(), d.countsAt?.toISOString()]), [
      ['2026-03-11T00:05:00.000Z', undefined],
      ['2026-03-11T00:20:00.000Z', '2026-03-11T00:20:00.000Z'],
    ]);
    assert.equal(one.agentCountsAt?.toISOString(), '2026-03-11T00:20:00.000Z');
    const both = fanOut(agent, endpoints, notification(), NIGHT, { agentRate: full, openRateDigestEnds: { ep_a: open, ep_b: open } });
    assert.equal(both.agentCountsAt, null);
  });
});

describe('decideFanOut: switches', () => {
  const endpoints = [endpoint('ep_a', { description: 'a' }), endpoint('ep_b', { description: 'b' })];

  test('the agent\'s master switch off turns every endpoint off, said once', () => {
    const r = fanOut({ ...AGENT, enableWebhook: false }, endpoints, notification(), NOON);
    assert.deepEqual(r.endpoints.map(brief), [
      ['ep_a', 'SUPPRESS', 'WEBHOOK_DISABLED'],
      ['ep_b', 'SUPPRESS', 'WEBHOOK_DISABLED'],
    ]);
    assert.deepEqual(r.summary, { outcome: 'SUPPRESS', reason: 'WEBHOOK_DISABLED', deliverAt: null, explanation: 'the agent has webhooks turned off (enable_webhook is false)', decidedAt: NOON });
    assert.equal(r.agentCountsAt, null);
  });

  test('an agent without preferences has every endpoint off', () => {
    const r = fanOut(null, endpoints, notification(), NOON);
    assert.equal(r.summary.explanation, 'the agent has no preferences, so webhooks are off');
    assert.deepEqual(r.endpoints.map((d) => d.reason), ['WEBHOOK_DISABLED', 'WEBHOOK_DISABLED']);
  });

  const none: Array<[string, EditablePreferences | null, string, string]> = [
    ['on', AGENT, 'NO_WEBHOOK_URL', 'the agent has webhooks on but no webhook_url'],
    ['off', { ...AGENT, enableWebhook: false }, 'WEBHOOK_DISABLED', 'the agent has webhooks turned off (enable_webhook is false)'],
    ['without preferences', null, 'WEBHOOK_DISABLED', 'the agent has no preferences, so webhooks are off'],
  ];
  for (const [name, recipient, reason, explanation] of none) {
    test(`an agent ${name} with no endpoints: ${reason} and no endpoint decisions`, () => {
      const r = fanOut(recipient, [], notification(), NOON);
      assert.deepEqual(r, { endpoints: [], summary: { outcome: 'SUPPRESS', reason, deliverAt: null, explanation, decidedAt: NOON }, agentCountsAt: null });
    });
  }

  test('a disabled endpoint is off, and says whether Herald turned it off and why', () => {
    const r = fanOut(AGENT, [endpoint('ep_off', { enabled: false }), endpoint('ep_gone', { enabled: false, disabledReason: 'the receiver answered 410 Gone' }), endpoint('ep_on')], notification(), NOON);
    assert.deepEqual(r.endpoints.map((d) => [d.reason, d.explanation]), [
      ['WEBHOOK_DISABLED', 'the endpoint is disabled (enabled is false)'],
      ['WEBHOOK_DISABLED', 'the endpoint was disabled by Herald: the receiver answered 410 Gone'],
      ['ACCEPTED', 'every check passed: sent now'],
    ]);
    assert.equal(r.summary.reason, 'ACCEPTED');
  });

  test("the agent's first endpoint (its 0.2 webhook) turned off by Herald is explained in 0.2's words; the others say why", () => {
    const off = [endpoint('ep_first', { enabled: false, disabledReason: 'the receiver answered 410 Gone' }), endpoint('ep_gone', { enabled: false, disabledReason: 'the receiver answered 410 Gone' })];
    const r = decideFanOut({ recipient: AGENT, endpoints: off, notification: notification(), now: NOON, agentRate: null, endpointRates: new Map(), openRateDigestEnds: new Map(), firstEndpointId: 'ep_first' });
    assert.deepEqual(r.endpoints.map((d) => [d.reason, d.explanation]), [
      ['WEBHOOK_DISABLED', 'the agent has webhooks turned off (enable_webhook is false)'],
      ['WEBHOOK_DISABLED', 'the endpoint was disabled by Herald: the receiver answered 410 Gone'],
    ]);
    const alone = decideFanOut({ recipient: AGENT, endpoints: off.slice(0, 1), notification: notification(), now: NOON, agentRate: null, endpointRates: new Map(), openRateDigestEnds: new Map(), firstEndpointId: 'ep_first' });
    assert.equal(alone.summary.explanation, 'the agent has webhooks turned off (enable_webhook is false)', "one endpoint: the summary is 0.2's decision");
  });
});

describe('decideFanOut: the order of the checks', () => {
  const cases: Array<[string, EditablePreferences, Endpoint, FilterableNotification, string, string]> = [
    ['the master switch before a disabled endpoint', { ...AGENT, enableWebhook: false }, endpoint('ep', { enabled: false }), notification(), 'WEBHOOK_DISABLED', 'the agent has webhooks turned off (enable_webhook is false)'],
    ['a disabled endpoint before the agent\'s types', { ...AGENT, notificationTypes: ['billing.*'] }, endpoint('ep', { enabled: false }), notification(), 'WEBHOOK_DISABLED', 'the endpoint is disabled (enabled is false)'],
    [
      'the agent\'s types before the endpoint\'s event types',
      { ...AGENT, notificationTypes: ['billing.*'] },
      endpoint('ep', { eventTypes: ['build.*'] }),
      notification(),
      'TYPE_FILTERED',
      'type "job.completed" is not in the agent\'s notification_types [billing.*]',
    ],
    [
      'the event types before the filter',
      AGENT,
      endpoint('ep', { eventTypes: ['build.*'], filter: [{ field: 'metadata.x', operator: 'EXISTS', values: [] }] }),
      notification(),
      'TYPE_FILTERED',
      'type "job.completed" is not in the endpoint\'s event_types [build.*]',
    ],
    [
      'the filter before the minimum priority',
      { ...AGENT, minPriority: 'URGENT' },
      endpoint('ep', { filter: [{ field: 'metadata.x', operator: 'EXISTS', values: [] }] }),
      notification(),
      'FILTERED',
      'the endpoint\'s filter[0] does not hold: metadata.x EXISTS, but metadata.x is missing',
    ],
    ['the minimum priority before quiet hours', { ...AGENT, quietHours: window('22:00', '07:00', 'SKIP') }, endpoint('ep', { overrides: { minPriority: 'HIGH' } }), notification(), 'PRIORITY_FILTERED', "priority NORMAL is below the endpoint's min_priority HIGH"],
    ['an endpoint\'s minimum above the agent\'s', { ...AGENT, minPriority: 'LOW' }, endpoint('ep', { overrides: { minPriority: 'HIGH' } }), notification(), 'PRIORITY_FILTERED', "priority NORMAL is below the endpoint's min_priority HIGH"],
    ['an endpoint\'s minimum below the agent\'s lets more through', { ...AGENT, minPriority: 'URGENT' }, endpoint('ep', { overrides: { minPriority: 'LOW' } }), notification(), 'ACCEPTED', 'every check passed: sent now'],
  ];
  for (const [name, recipient, e, n, reason, explanation] of cases) {
    test(name, () => {
      const [d] = fanOut(recipient, [e], n, NOON).endpoints;
      assert.deepEqual([d?.reason, d?.explanation], [reason, explanation]);
    });
  }
});

describe('decideFanOut: the summary over several endpoints', () => {
  test('DEFER: the earliest deliverAt gives the summary; the first among equals', () => {
    const agent: EditablePreferences = { ...AGENT, quietHours: window('22:00', '07:00', 'DEFER') };
    const endpoints = [
      endpoint('ep_late', { overrides: { quietHours: window('22:00', '09:00', 'DEFER') } }),
      endpoint('ep_early_1', { overrides: { rateLimitPolicy: 'SUPPRESS' } }),
      endpoint('ep_early_2', { overrides: { quietHours: window('23:00', '07:00', 'DIGEST') } }),
    ];
    const r = fanOut(agent, endpoints, notification(), NIGHT);
    assert.deepEqual(r.endpoints.map((d) => d.deliverAt?.toISOString()), ['2026-03-11T08:00:00.000Z', '2026-03-11T06:00:00.000Z', '2026-03-11T06:00:00.000Z']);
    assert.deepEqual([r.summary.outcome, r.summary.reason, r.summary.deliverAt?.toISOString(), r.summary.digest], ['DEFER', 'QUIET_HOURS', '2026-03-11T06:00:00.000Z', undefined]);
  });

  test('SUPPRESS everywhere: the first endpoint\'s reason', () => {
    const endpoints = [endpoint('ep_a', { eventTypes: ['x'] }), endpoint('ep_b', { overrides: { minPriority: 'URGENT' } })];
    const r = fanOut(AGENT, endpoints, notification(), NOON);
    assert.deepEqual([r.summary.outcome, r.summary.reason, r.summary.deliverAt], ['SUPPRESS', 'TYPE_FILTERED', null]);
    assert.equal(r.summary.explanation, 'ep_a: type "job.completed" is not in the endpoint\'s event_types [x]; ep_b: priority NORMAL is below the endpoint\'s min_priority URGENT');
  });

  test('DELIVER from any endpoint wins over an earlier DEFER', () => {
    const endpoints = [endpoint('ep_quiet', { overrides: { quietHours: window('22:00', '07:00', 'DEFER') } }), endpoint('ep_now')];
    assert.deepEqual(brief(fanOut(AGENT, endpoints, notification(), NIGHT).endpoints[0]!), ['ep_quiet', 'DEFER', 'QUIET_HOURS']);
    assert.deepEqual([fanOut(AGENT, endpoints, notification(), NIGHT).summary.outcome], ['DELIVER']);
  });

  test('labels: the description, its first 60 characters, or the id when empty or shared', () => {
    const endpoints = [
      endpoint('ep_1', { description: 'chat', eventTypes: ['x'] }),
      endpoint('ep_2', { description: 'chat' }),
      endpoint('ep_3', { description: 'd'.repeat(70) }),
      endpoint('ep_4'),
    ];
    const r = fanOut(AGENT, endpoints, notification(), NOON);
    const labels = r.summary.explanation.split('; ').map((part) => part.slice(0, part.indexOf(': ')));
    assert.deepEqual(labels, ['chat (ep_1)', 'chat (ep_2)', `${'d'.repeat(60)}…`, 'ep_4']);
  });

  test(`the explanation stays within ${MAX_SUMMARY_EXPLANATION} characters and counts what it leaves out`, () => {
    const endpoints = Array.from({ length: 20 }, (_, i) =>
      endpoint(`ep_${i}`, { description: `endpoint number ${i} ${'x'.repeat(40)}`, eventTypes: i % 2 === 0 ? ['billing.*'] : Array.from({ length: 10 }, (_, j) => `type.${j}.${'y'.repeat(30)}`) }),
    );
    const text = fanOut(AGENT, endpoints, notification(), NOON).summary.explanation;
    assert.ok(text.length <= MAX_SUMMARY_EXPLANATION, `${text.length} characters`);
    const listed = text.split('; ').filter((p) => p.startsWith('endpoint number')).length;
    assert.ok(listed >= 2 && listed < 20, `${listed} listed`);
    assert.ok(text.endsWith(`; and ${20 - listed} more endpoints (see each endpoint's explanation)`), text.slice(-120));
  });
});

describe('rateScopesFor and the counters decideFanOut reads', () => {
  const agent: EditablePreferences = { ...AGENT, maxPerHour: 10, rateLimitPolicy: 'DIGEST' };

  test('names only the counters an endpoint that passes the filters can read', () => {
    const endpoints = [
      endpoint('ep_inherits'),
      endpoint('ep_own', { overrides: { maxPerHour: 5 } }),
      endpoint('ep_own_defer', { overrides: { maxPerHour: 5, rateLimitPolicy: 'DEFER' } }),
      endpoint('ep_unlimited', { overrides: { maxPerHour: 0 } }),
      endpoint('ep_filtered', { overrides: { maxPerHour: 5 }, eventTypes: ['billing.*'] }),
      endpoint('ep_off', { enabled: false, overrides: { maxPerHour: 5 } }),
    ];
    assert.deepEqual(rateScopesFor(agent, endpoints, notification()), {
      agentWindow: true,
      endpointWindows: ['ep_own', 'ep_own_defer'],
      openRateDigests: ['ep_inherits', 'ep_own'],
    });
  });

  const none: Array<[string, EditablePreferences | null, Endpoint[]]> = [
    ['no preferences', null, [endpoint('ep')]],
    ['master switch off', { ...agent, enableWebhook: false }, [endpoint('ep')]],
    ['no limit', { ...agent, maxPerHour: 0 }, [endpoint('ep')]],
    ['every endpoint with an unlimited own limit', agent, [endpoint('ep', { overrides: { maxPerHour: 0 } })]],
    ['every endpoint filtered out', agent, [endpoint('ep', { filter: [{ field: 'priority', operator: 'EQUALS', values: ['URGENT'] }] })]],
    ['no endpoints', agent, []],
  ];
  for (const [name, recipient, endpoints] of none) {
    test(`nothing to read: ${name}`, () => {
      assert.deepEqual(rateScopesFor(recipient, endpoints, notification()), { agentWindow: false, endpointWindows: [], openRateDigests: [] });
    });
  }

  const missing: Array<[string, Endpoint, Partial<Parameters<typeof decideFanOut>[0]>, RegExp]> = [
    ['the agent\'s window', endpoint('ep'), { agentRate: null }, /the agent's rate window was not read/],
    ['an endpoint\'s window', endpoint('ep', { overrides: { maxPerHour: 5 } }), { endpointRates: new Map() }, /endpoint ep's rate window was not read/],
    ['an endpoint\'s open rate digest', endpoint('ep'), { openRateDigestEnds: new Map() }, /endpoint ep's open rate digest was not read/],
  ];
  for (const [name, e, over, message] of missing) {
    test(`deciding without ${name} is a caller's bug, not an empty window`, () => {
      const input = {
        recipient: agent,
        endpoints: [e],
        notification: notification(),
        now: NOON,
        agentRate: EMPTY_RATE_WINDOW,
        endpointRates: new Map([['ep', EMPTY_RATE_WINDOW]]),
        openRateDigestEnds: new Map([['ep', null]]),
        ...over,
      };
      assert.throws(() => decideFanOut(input), message);
    });
  }
});

describe('one endpoint without overrides is decided exactly as decide decides the agent', () => {
  const full = (now: Date): RateWindow => ({ edge: ago(10, now), last: ago(1, now) });
  const room = (now: Date): RateWindow => ({ edge: ago(61, now), last: ago(1, now) });
  const rates: Array<[string, number, RateLimitPolicy, (now: Date) => RateWindow, (now: Date) => Date | null]> = [
    ['unlimited', 0, 'SUPPRESS', () => EMPTY_RATE_WINDOW, () => null],
    ['room', 3, 'SUPPRESS', room, () => null],
    ['full, SUPPRESS', 3, 'SUPPRESS', full, () => null],
    ['full, DEFER', 3, 'DEFER', full, () => null],
    ['full, DIGEST, none open', 3, 'DIGEST', full, () => null],
    ['full, DIGEST, one open', 3, 'DIGEST', full, (now) => new Date(now.getTime() + 20 * MINUTE)],
  ];
  const e = endpoint('ep_only');

  function same(p: EditablePreferences, n: FilterableNotification, now: Date, rate: RateWindow, open: Date | null, label: string): void {
    const expected = decide({ preferences: p, notificationType: n.notificationType, priority: n.priority, now, rate, openRateDigestEnd: open });
    const r = decideFanOut({
      recipient: { ...p, webhookUrl: null },
      endpoints: [e],
      notification: n,
      now,
      agentRate: rate,
      endpointRates: new Map(),
      openRateDigestEnds: new Map([[e.id, open]]),
    });
    const { endpointId, scope, ...decision } = r.endpoints[0]!;
    assert.deepEqual([endpointId, scope], [e.id, 'agent'], label);
    assert.deepEqual(decision, expected, label);
    assert.deepEqual(r.summary, expected, label);
    assert.deepEqual(r.agentCountsAt, expected.countsAt ?? null, label);
  }

  test('the filters: switch, types and minimum priority', () => {
    const variants: Array<[string, EditablePreferences]> = [
      ['off', { ...AGENT, enableWebhook: false }],
      ['types', { ...AGENT, notificationTypes: ['billing.*', 'build.done'] }],
      ['types that allow', { ...AGENT, notificationTypes: ['job.*'] }],
      ['minimum', { ...AGENT, minPriority: 'HIGH' }],
    ];
    for (const [name, p] of variants) {
      for (const priority of ['LOW', 'HIGH', 'URGENT'] as Priority[]) same(p, notification({ priority }), NOON, EMPTY_RATE_WINDOW, null, `${name} ${priority}`);
    }
  });

  test('quiet hours from the zoneinfo vectors, with every policy and bypass, the states of the limit in turn', () => {
    let compared = 0;
    for (const [i, v] of loadQuietHoursVectors().entries()) {
      const now = new Date(v.now);
      // Each vector meets one state of the limit (six in turn), so every state meets every zone.
      const [rateName, maxPerHour, rateLimitPolicy, rate, open] = rates[i % rates.length]!;
      for (const policy of ['SKIP', 'DEFER', 'DIGEST'] as QuietHoursPolicy[]) {
        for (const urgentBypass of [false, true]) {
          const p: EditablePreferences = { ...AGENT, timeZone: v.time_zone, quietHours: window(v.start, v.end, policy, urgentBypass), maxPerHour, rateLimitPolicy };
          for (const priority of ['NORMAL', 'URGENT'] as Priority[]) {
            same(p, notification({ priority }), now, rate(now), open(now), `${v.time_zone} ${v.start}-${v.end} at ${v.now}, ${policy}${urgentBypass ? '+bypass' : ''}, ${rateName}, ${priority}`);
            compared++;
          }
        }
      }
    }
    assert.ok(compared > 10_000, `${compared} cases compared`);
  });
});
