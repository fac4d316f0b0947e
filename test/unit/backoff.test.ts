import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_ENDPOINT_RETRY_POLICY, endpointRetryPolicy, nextRetryDelayMs, parseRetryAfter, retryDelayMs, type RetryPolicy } from '../../src/domain/backoff.js';

const policy: RetryPolicy = { baseDelayMs: 1000, maxDelayMs: 60_000, minDelayMs: 0, maxRetries: 3, jitter: 0.2 };
const fixed = (value: number) => (): number => value;
// The largest double below 1: Math.random() never returns 1 itself.
const ALMOST_ONE = 1 - Number.EPSILON / 2;
const NOW = new Date('2026-02-04T10:30:00.000Z');

describe('retryDelayMs', () => {
  const cases: { name: string; attempt: number; random: number; policy?: RetryPolicy; expected: number }[] = [
    { name: 'attempt 1 without jitter', attempt: 1, random: 0.5, expected: 1000 },
    { name: 'attempt 2 doubles', attempt: 2, random: 0.5, expected: 2000 },
    { name: 'attempt 3 doubles again', attempt: 3, random: 0.5, expected: 4000 },
    { name: 'attempt 4', attempt: 4, random: 0.5, expected: 8000 },
    { name: 'lowest jitter is -20%', attempt: 1, random: 0, expected: 800 },
    { name: 'highest jitter approaches +20%', attempt: 1, random: ALMOST_ONE, expected: 1200 },
    { name: 'jitter scales with the step', attempt: 3, random: 0, expected: 3200 },
    { name: 'capped', attempt: 7, random: 0.5, expected: 60_000 },
    { name: 'cap applies after jitter (64 s × 0.8 = 51.2 s, under the cap)', attempt: 7, random: 0, expected: 51_200 },
    { name: 'cap applies after jitter (high side)', attempt: 6, random: ALMOST_ONE, expected: 38_400 },
    { name: 'huge attempt does not overflow to NaN', attempt: 5000, random: 0, expected: 60_000 },
    { name: 'huge attempt with full jitter', attempt: 5000, random: 0, policy: { ...policy, jitter: 1 }, expected: 60_000 },
    { name: 'jitter above 1 never yields a negative delay', attempt: 1, random: 0, policy: { ...policy, jitter: 1.5 }, expected: 0 },
    { name: 'zero jitter ignores random', attempt: 2, random: 0.99, policy: { ...policy, jitter: 0 }, expected: 2000 },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.equal(retryDelayMs(c.attempt, c.policy ?? policy, fixed(c.random)), c.expected);
    });
  }

  it('stays within ±20% for any random value', () => {
    for (let i = 0; i <= 100; i++) {
      const delay = retryDelayMs(2, policy, fixed(Math.min(i / 100, ALMOST_ONE)));
      assert.ok(delay >= 1600 && delay <= 2400, `delay ${delay}`);
    }
  });

  it('refuses attempt numbers below 1 or fractional', () => {
    assert.throws(() => retryDelayMs(0, policy, fixed(0.5)), RangeError);
    assert.throws(() => retryDelayMs(1.5, policy, fixed(0.5)), RangeError);
  });
});

describe('parseRetryAfter', () => {
  const cases: { name: string; value: string | undefined; expected: number | undefined }[] = [
    { name: 'absent', value: undefined, expected: undefined },
    { name: 'delta-seconds', value: '120', expected: 120_000 },
    { name: 'zero seconds', value: '0', expected: 0 },
    { name: 'surrounding whitespace', value: ' 5 ', expected: 5000 },
    { name: 'IMF-fixdate in the future', value: 'Wed, 04 Feb 2026 10:30:30 GMT', expected: 30_000 },
    { name: 'RFC 850 date', value: 'Wednesday, 04-Feb-26 10:31:00 GMT', expected: 60_000 },
    { name: 'asctime date', value: 'Wed Feb  4 10:30:10 2026', expected: 10_000 },
    { name: 'date in the past', value: 'Tue, 03 Feb 2026 10:30:00 GMT', expected: 0 },
    { name: 'negative seconds', value: '-5', expected: undefined },
    { name: 'fractional seconds', value: '1.5', expected: undefined },
    { name: 'garbage', value: 'soon', expected: undefined },
    { name: 'empty', value: '', expected: undefined },
    { name: 'ISO date is not an HTTP-date', value: '2026-02-04T10:31:00Z', expected: undefined },
    { name: 'weekday that contradicts the date', value: 'Thu, 04 Feb 2026 10:30:30 GMT', expected: undefined },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.equal(parseRetryAfter(c.value, NOW), c.expected);
    });
  }
});

describe('nextRetryDelayMs', () => {
  const cases: { name: string; attempt: number; retryAfter: string | undefined; throttled?: boolean; policy?: Partial<RetryPolicy>; expected: number }[] = [
    { name: 'no Retry-After: backoff', attempt: 3, retryAfter: undefined, expected: 4000 },
    { name: 'garbage Retry-After: backoff', attempt: 3, retryAfter: 'later', expected: 4000 },
    { name: 'Retry-After shorter than backoff is honoured', attempt: 3, retryAfter: '1', expected: 1000 },
    { name: 'Retry-After longer than backoff is honoured', attempt: 1, retryAfter: '30', expected: 30_000 },
    { name: 'Retry-After is capped at maxDelayMs', attempt: 1, retryAfter: '3600', expected: 60_000 },
    { name: 'Retry-After date in the past: now', attempt: 2, retryAfter: 'Tue, 03 Feb 2026 10:30:00 GMT', expected: 0 },
    { name: 'Retry-After date in the future', attempt: 2, retryAfter: 'Wed, 04 Feb 2026 10:30:45 GMT', expected: 45_000 },
    { name: 'absurd Retry-After still capped', attempt: 1, retryAfter: '9'.repeat(400), expected: 60_000 },
    // The floor (minDelayMs).
    { name: 'Retry-After: 0 waits the floor', attempt: 1, retryAfter: '0', policy: { minDelayMs: 1000 }, expected: 1000 },
    { name: 'Retry-After below the floor waits the floor', attempt: 1, retryAfter: '0', policy: { minDelayMs: 2500 }, expected: 2500 },
    { name: 'Retry-After date in the past waits the floor', attempt: 2, retryAfter: 'Tue, 03 Feb 2026 10:30:00 GMT', policy: { minDelayMs: 1000 }, expected: 1000 },
    { name: 'Retry-After above the floor is honoured', attempt: 1, retryAfter: '5', policy: { minDelayMs: 1000 }, expected: 5000 },
    { name: 'Retry-After above the cap is capped', attempt: 1, retryAfter: '120', policy: { minDelayMs: 1000 }, expected: 60_000 },
    { name: 'a floor above the cap yields to the cap', attempt: 1, retryAfter: '0', policy: { minDelayMs: 90_000 }, expected: 60_000 },
    { name: 'throttled (429, timeout) backoff below the floor waits the floor', attempt: 1, retryAfter: undefined, throttled: true, policy: { baseDelayMs: 50, minDelayMs: 1000 }, expected: 1000 },
    { name: 'throttled backoff above the floor keeps the backoff', attempt: 3, retryAfter: undefined, throttled: true, policy: { minDelayMs: 1000 }, expected: 4000 },
    { name: 'throttled with an unusable Retry-After waits the floor', attempt: 1, retryAfter: 'soon', throttled: true, policy: { baseDelayMs: 50, minDelayMs: 1000 }, expected: 1000 },
    { name: 'not throttled (500) keeps a backoff below the floor', attempt: 1, retryAfter: undefined, policy: { baseDelayMs: 50, minDelayMs: 1000 }, expected: 50 },
    { name: 'a zero floor lets Retry-After: 0 through', attempt: 1, retryAfter: '0', throttled: true, policy: { minDelayMs: 0 }, expected: 0 },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.equal(nextRetryDelayMs(c.attempt, { ...policy, ...c.policy }, { retryAfter: c.retryAfter, throttled: c.throttled ?? false }, NOW, fixed(0.5)), c.expected);
    });
  }
});

describe('retryDelayMs with a multiplier', () => {
  const cases: { name: string; attempt: number; multiplier: number | undefined; base?: number; expected: number }[] = [
    { name: 'unset doubles, as before', attempt: 4, multiplier: undefined, expected: 8000 },
    { name: 'multiplier 1 keeps the delay constant', attempt: 5, multiplier: 1, expected: 1000 },
    { name: 'multiplier 1.5', attempt: 3, multiplier: 1.5, expected: 2250 },
    { name: 'multiplier 3', attempt: 3, multiplier: 3, expected: 9000 },
    { name: 'multiplier 10 reaches the cap', attempt: 3, multiplier: 10, expected: 60_000 },
    { name: 'the largest schedule (10^99) stays at the cap', attempt: 100, multiplier: 10, expected: 60_000 },
    { name: 'a zero base stays zero past any overflow', attempt: 5000, multiplier: undefined, base: 0, expected: 0 },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const p: RetryPolicy = { ...policy, baseDelayMs: c.base ?? policy.baseDelayMs, ...(c.multiplier === undefined ? {} : { multiplier: c.multiplier }) };
      assert.equal(retryDelayMs(c.attempt, p, fixed(0.5)), c.expected);
    });
  }
});

describe('endpointRetryPolicy', () => {
  const service: RetryPolicy = { baseDelayMs: 1000, maxDelayMs: 3_600_000, minDelayMs: 1000, maxRetries: 3, jitter: 0.2 };

  it('keeps every service default when the endpoint sets nothing (multiplier 2)', () => {
    assert.deepEqual(endpointRetryPolicy(service, DEFAULT_ENDPOINT_RETRY_POLICY), { ...service, multiplier: 2 });
  });

  it('takes each setting the endpoint gives; max_attempts counts the first attempt', () => {
    assert.deepEqual(endpointRetryPolicy(service, { maxAttempts: 5, initialDelayMs: 200, multiplier: 1.5, maxDelayMs: 30_000 }), {
      baseDelayMs: 200,
      multiplier: 1.5,
      maxDelayMs: 30_000,
      minDelayMs: 1000,
      maxRetries: 4,
      jitter: 0.2,
    });
  });

  it('one attempt means no retry; the service keeps its floor and jitter', () => {
    const merged = endpointRetryPolicy({ ...service, multiplier: 3 }, { ...DEFAULT_ENDPOINT_RETRY_POLICY, maxAttempts: 1 });
    assert.deepEqual([merged.maxRetries, merged.multiplier, merged.minDelayMs, merged.jitter], [0, 3, 1000, 0.2]);
  });

  it('its schedule is what the dispatcher computes from it', () => {
    const merged = endpointRetryPolicy(service, { maxAttempts: 4, initialDelayMs: 100, multiplier: 3, maxDelayMs: 500 });
    assert.deepEqual([1, 2, 3].map((n) => nextRetryDelayMs(n, merged, { throttled: false }, NOW, fixed(0.5))), [100, 300, 500]);
  });
});
