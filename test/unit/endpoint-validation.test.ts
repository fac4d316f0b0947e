import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_ENDPOINT_RETRY_POLICY, type EndpointRetryPolicy } from '../../src/domain/backoff.js';
import type { EndpointSettings } from '../../src/domain/endpoint.js';
import { checkEndpointSettings, type EndpointRules } from '../../src/domain/endpoint-validation.js';
import { InvalidArgumentError } from '../../src/errors.js';

const RULES: EndpointRules = { allowHttp: false, signatureHeader: 'X-Herald-Signature' };

const VALID: EndpointSettings = {
  description: 'chat',
  url: 'https://example.com/hooks/herald',
  enabled: true,
  eventTypes: ['job.*', 'billing.paid', '*'],
  filter: [{ field: 'priority', operator: 'GREATER_OR_EQUAL', values: ['HIGH'] }],
  headers: { Authorization: 'Bearer abc' },
  timeoutMs: 5_000,
  retryPolicy: { maxAttempts: 5, initialDelayMs: 500, multiplier: 1.5, maxDelayMs: 60_000 },
  overrides: { quietHours: { start: '22:00', end: '07:00', policy: 'DIGEST', urgentBypass: true }, minPriority: null, maxPerHour: 500, rateLimitPolicy: 'DEFER' },
  ordering: 'PER_KEY',
};

const retry = (over: Partial<EndpointRetryPolicy>): Partial<EndpointSettings> => ({ retryPolicy: { ...DEFAULT_ENDPOINT_RETRY_POLICY, ...over } });

describe('checkEndpointSettings', () => {
  const valid: Array<[string, Partial<EndpointSettings>]> = [
    ['a whole endpoint', VALID],
    ['nothing (an update that changes nothing checked here)', {}],
    ['an empty description', { description: '' }],
    ['a description of 200 characters', { description: '🚀'.repeat(200) }],
    ['no timeout (the service default)', { timeoutMs: null }],
    ['every retry setting at the service default', { retryPolicy: DEFAULT_ENDPOINT_RETRY_POLICY }],
    ['the retry policy\'s bounds', retry({ maxAttempts: 100, initialDelayMs: 86_400_000, multiplier: 10, maxDelayMs: 604_800_000 })],
    ['the retry policy\'s lower bounds', retry({ maxAttempts: 1, initialDelayMs: 0, multiplier: 1, maxDelayMs: 0 })],
    ['a cap below the service base (only the cap given)', retry({ maxDelayMs: 10 })],
    ['no quiet hours for this endpoint', { overrides: { quietHours: null } }],
    ['inherit everything', { overrides: {} }],
    ['an own limit of 0 (unlimited)', { overrides: { maxPerHour: 0 } }],
  ];
  for (const [name, settings] of valid) {
    test(`accepts ${name}`, () => checkEndpointSettings('endpoint', settings, RULES));
  }

  const invalid: Array<[string, Partial<EndpointSettings>, string]> = [
    ['a description of 201 characters', { description: 'd'.repeat(201) }, 'endpoint.description: must be at most 200 characters, got 201'],
    ['a description with a newline', { description: 'chat\nrm -rf' }, 'endpoint.description: must be one line of text, without control characters'],
    ['a description with NUL', { description: 'a\u0000b' }, 'endpoint.description: must not contain NUL characters'],
    ['no URL', { url: '' }, 'endpoint.url: is required'],
    ['a relative URL', { url: '/hooks' }, 'endpoint.url: must be an absolute URL such as https://example.com/hooks/herald'],
    ['an http URL', { url: 'http://example.com/hooks' }, 'endpoint.url: must use https:// (http:// is refused unless HERALD_ALLOW_HTTP_TARGETS=true)'],
    ['a URL with credentials', { url: 'https://user:pw@example.com/' }, 'endpoint.url: must not contain credentials; send them with webhook_headers (e.g. Authorization) instead'],
    ['a bad event type', { eventTypes: ['job.*', 'Job Done'] }, 'endpoint.event_types[1]: must be a type of [a-z0-9_.-] (at most 100 characters), a prefix ending in * such as "job.*", or "*"; got "Job Done"'],
    ['too many event types', { eventTypes: Array.from({ length: 101 }, (_, i) => `t${i}`) }, 'endpoint.event_types: must have at most 100 entries'],
    ['a bad filter', { filter: [{ field: 'priority', operator: 'EQUALS', values: ['HUGE'] }] }, 'endpoint.filter[0].values[0]: "HUGE" is not a priority; use LOW, NORMAL, HIGH or URGENT'],
    ['a reserved header', { headers: { 'X-Herald-Delivery': 'x' } }, 'endpoint.headers["X-Herald-Delivery"]: is set by Herald and cannot be overridden'],
    ['the signature header', { headers: { 'x-herald-signature': 'x' } }, 'endpoint.headers["x-herald-signature"]: is set by Herald and cannot be overridden'],
    ['a header value with CR LF', { headers: { 'X-Team': 'a\r\nb' } }, 'endpoint.headers["X-Team"]: value must be printable Latin-1 text'],
    ['a timeout of 0', { timeoutMs: 0 }, 'endpoint.timeout_ms: must be between 1 and 60000, got 0'],
    ['a timeout above a minute', { timeoutMs: 60_001 }, 'endpoint.timeout_ms: must be between 1 and 60000, got 60001'],
    ['0 attempts', retry({ maxAttempts: 0 }), 'endpoint.retry_policy.max_attempts: must be between 1 and 100, got 0'],
    ['101 attempts', retry({ maxAttempts: 101 }), 'endpoint.retry_policy.max_attempts: must be between 1 and 100, got 101'],
    ['a fractional attempt count', retry({ maxAttempts: 2.5 }), 'endpoint.retry_policy.max_attempts: must be between 1 and 100, got 2.5'],
    ['a negative initial delay', retry({ initialDelayMs: -1 }), 'endpoint.retry_policy.initial_delay_ms: must be between 0 and 86400000, got -1'],
    ['an initial delay above a day', retry({ initialDelayMs: 86_400_001 }), 'endpoint.retry_policy.initial_delay_ms: must be between 0 and 86400000, got 86400001'],
    ['a multiplier below 1', retry({ multiplier: 0.5 }), 'endpoint.retry_policy.multiplier: must be between 1 and 10, got 0.5'],
    ['a multiplier above 10', retry({ multiplier: 10.5 }), 'endpoint.retry_policy.multiplier: must be between 1 and 10, got 10.5'],
    ['a multiplier that is not a number', retry({ multiplier: Number.NaN }), 'endpoint.retry_policy.multiplier: must be between 1 and 10, got NaN'],
    ['a cap above 7 days', retry({ maxDelayMs: 604_800_001 }), 'endpoint.retry_policy.max_delay_ms: must be between 0 and 604800000, got 604800001'],
    ['a cap below the initial delay', retry({ initialDelayMs: 5_000, maxDelayMs: 4_999 }), 'endpoint.retry_policy.max_delay_ms: must be at least initial_delay_ms (5000), got 4999'],
    [
      'a quiet-hours policy without a window',
      { overrides: { quietHours: { start: '', end: '', policy: 'DIGEST', urgentBypass: false } } },
      'endpoint.overrides.quiet_hours: a quiet-hours policy without a window: give start and end ("HH:MM"), or set no quiet hours for this endpoint, or leave quiet_hours unset to inherit the agent\'s',
    ],
    [
      'an urgent bypass without a window',
      { overrides: { quietHours: { start: '', end: '', policy: 'SKIP', urgentBypass: true } } },
      'endpoint.overrides.quiet_hours: a quiet-hours policy without a window',
    ],
    ['a window without its end', { overrides: { quietHours: { start: '22:00', end: '', policy: 'SKIP', urgentBypass: false } } }, 'endpoint.overrides.quiet_hours.end: must be "HH:MM" between 00:00 and 23:59, got ""'],
    ['a bad start', { overrides: { quietHours: { start: '24:00', end: '07:00', policy: 'SKIP', urgentBypass: false } } }, 'endpoint.overrides.quiet_hours.start: must be "HH:MM" between 00:00 and 23:59, got "24:00"'],
    [
      'a window that is no window (start equals end)',
      { overrides: { quietHours: { start: '08:00', end: '08:00', policy: 'DEFER', urgentBypass: false } } },
      'endpoint.overrides.quiet_hours.end: equals start ("08:00"), which is no window at all; for no quiet hours on this endpoint, set none',
    ],
    ['a negative own limit', { overrides: { maxPerHour: -1 } }, 'endpoint.overrides.max_notifications_per_hour: must be between 0 and 1000000, got -1'],
    ['an own limit above the maximum', { overrides: { maxPerHour: 1_000_001 } }, 'endpoint.overrides.max_notifications_per_hour: must be between 0 and 1000000, got 1000001'],
  ];
  for (const [name, settings, message] of invalid) {
    test(`refuses ${name}, naming the field`, () => {
      assert.throws(
        () => checkEndpointSettings('endpoint', settings, RULES),
        (err: unknown) => err instanceof InvalidArgumentError && err.message.startsWith(message),
      );
    });
  }

  test('the prefix is the caller\'s', () => {
    assert.throws(() => checkEndpointSettings('endpoints[3]', { timeoutMs: 0 }, RULES), { message: 'endpoints[3].timeout_ms: must be between 1 and 60000, got 0' });
  });

  test('http:// is allowed when the operator allows it', () => {
    checkEndpointSettings('endpoint', { url: 'http://127.0.0.1:8080/hook' }, { ...RULES, allowHttp: true });
  });
});
