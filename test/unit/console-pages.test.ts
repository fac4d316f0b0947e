import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { html, href, urlHost } from '../../src/web/html.js';
import { quietStatus } from '../../src/web/quiet-status.js';
import { parseInstant, preferencesChange } from '../../src/web/forms.js';
import { InvalidArgumentError } from '../../src/errors.js';

describe('console html', () => {
  test('every interpolated value is escaped, fragments and lists are kept, null and false vanish', () => {
    const evil = `"><script>alert('x')</script>&`;
    assert.equal(html`<p title="${evil}">${evil}</p>`.value, '<p title="&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;">&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;</p>');
    assert.equal(html`<ul>${['a<', html`<b>b</b>`]}${null}${false}${undefined}${0}</ul>`.value, '<ul>a&lt;<b>b</b>0</ul>');
    assert.equal(href('/agents', { q: 'a b&c', page: '', tenant: 'default' }), '/agents?q=a+b%26c&tenant=default');
  });

  test('a webhook URL shows only its host, never its path, query or user info', () => {
    assert.equal(urlHost('https://user:pw@hooks.example.com:8443/p/secret?token=t'), 'hooks.example.com:8443');
    assert.equal(urlHost(null), '—');
  });
});

describe('console quiet-hours status (in the agent zone, from domain/quiet-hours.ts)', () => {
  const window = { start: '22:00', end: '07:00', policy: 'DEFER' as const, urgentBypass: false };
  const cases: Array<[string, string, string, boolean, string]> = [
    ['inside, before midnight', 'Europe/Paris', '2026-06-01T21:30:00Z', true, '2026-06-02T05:00:00.000Z'],
    ['outside, in the afternoon', 'Europe/Paris', '2026-06-01T12:00:00Z', false, '2026-06-01T20:00:00.000Z'],
    ['outside, just after the end', 'UTC', '2026-06-01T07:00:00Z', false, '2026-06-01T22:00:00.000Z'],
    ['inside, late evening: until the end next morning', 'UTC', '2026-06-01T23:59:00Z', true, '2026-06-02T07:00:00.000Z'],
    ['outside, in the evening before a DST change', 'America/New_York', '2026-03-08T00:30:00Z', false, '2026-03-08T03:00:00.000Z'],
    ['inside, over the spring-forward night: the end is 07:00 EDT', 'America/New_York', '2026-03-08T05:00:00Z', true, '2026-03-08T11:00:00.000Z'],
    ['outside, the evening after the end: the start is tomorrow', 'UTC', '2026-06-01T21:59:00Z', false, '2026-06-01T22:00:00.000Z'],
  ];
  for (const [name, zone, at, quiet, next] of cases) {
    test(`${name} (${zone} at ${at})`, () => {
      const status = quietStatus(window, zone, new Date(at));
      assert.ok(status !== null);
      assert.equal(status.quiet, quiet);
      assert.equal(status.nextChange.toISOString(), next);
    });
  }

  test("outside, after today's window: the next start is tomorrow", () => {
    const early = { ...window, start: '01:00', end: '03:00' };
    assert.deepEqual(quietStatus(early, 'UTC', new Date('2026-06-01T05:00:00Z')), { quiet: false, nextChange: new Date('2026-06-02T01:00:00Z') });
  });

  test('no window, or start equal to end, has no status', () => {
    assert.equal(quietStatus(null, 'UTC', new Date()), null);
    assert.equal(quietStatus({ ...window, end: '22:00' }, 'UTC', new Date()), null);
  });
});

describe('console forms', () => {
  test('instants: ISO 8601 with or without a zone (then UTC), or a date', () => {
    assert.equal(parseInstant('at', '2026-01-31T03:00Z').toISOString(), '2026-01-31T03:00:00.000Z');
    assert.equal(parseInstant('at', '2026-01-31T03:00').toISOString(), '2026-01-31T03:00:00.000Z');
    assert.equal(parseInstant('at', '2026-01-31T03:00:00+01:00').toISOString(), '2026-01-31T02:00:00.000Z');
    assert.equal(parseInstant('at', '2026-01-31').toISOString(), '2026-01-31T00:00:00.000Z');
    for (const bad of ['yesterday', '2026-13-01T00:00Z', '31/01/2026', '']) {
      assert.throws(() => parseInstant('since', bad), (e: unknown) => e instanceof InvalidArgumentError && e.message.startsWith('since: expected an instant'), bad);
    }
  });

  test('the preferences form becomes a change of what it shows; an empty URL keeps the stored one', () => {
    const form = new URLSearchParams({ time_zone: 'Europe/Paris', quiet_start: '22:00', quiet_end: '07:00', quiet_policy: 'DEFER', max_per_hour: '12', notification_types: 'a, b,,', min_priority: 'HIGH', webhook_url: '' });
    assert.deepEqual(preferencesChange('agent-1', form), {
      agentId: 'agent-1',
      set: {
        enableWebhook: false,
        timeZone: 'Europe/Paris',
        quietHours: { start: '22:00', end: '07:00', policy: 'DEFER', urgentBypass: false },
        maxPerHour: 12,
        notificationTypes: ['a', 'b'],
        minPriority: 'HIGH',
      },
    });
    assert.throws(() => preferencesChange('a', new URLSearchParams({ max_per_hour: '-1' })), /max_notifications_per_hour: expected a whole number/);
    assert.throws(() => preferencesChange('a', new URLSearchParams({ min_priority: 'HUGE' })), /min_priority: must be one of/);
  });

  test('quiet-hours and rate-limit policies come from the domain lists: each value is kept, an unknown one is refused, no rate policy sent leaves it alone', () => {
    for (const policy of ['SKIP', 'DEFER', 'DIGEST']) {
      const change = preferencesChange('a', new URLSearchParams({ quiet_start: '22:00', quiet_end: '07:00', quiet_policy: policy }));
      assert.equal(change.set.quietHours?.policy, policy);
    }
    for (const policy of ['SUPPRESS', 'DEFER', 'DIGEST']) assert.equal(preferencesChange('a', new URLSearchParams({ rate_limit_policy: policy })).set.rateLimitPolicy, policy);
    assert.equal('rateLimitPolicy' in preferencesChange('a', new URLSearchParams({})).set, false);
    const refused = (e: unknown): boolean => e instanceof InvalidArgumentError && e.code === 'INVALID_ARGUMENT';
    assert.throws(() => preferencesChange('a', new URLSearchParams({ quiet_start: '22:00', quiet_end: '07:00', quiet_policy: 'NAP' })), (e: unknown) => refused(e) && /quiet_hours\.policy: must be one of SKIP, DEFER, DIGEST/.test(String(e)));
    assert.throws(() => preferencesChange('a', new URLSearchParams({ quiet_start: '22:00', quiet_end: '07:00' })), refused, 'quiet hours without a policy');
    assert.throws(() => preferencesChange('a', new URLSearchParams({ rate_limit_policy: 'SKIP' })), (e: unknown) => refused(e) && /rate_limit_policy: must be one of SUPPRESS, DEFER, DIGEST/.test(String(e)));
  });
});
