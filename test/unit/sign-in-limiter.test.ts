import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clientKey, SIGN_IN_FAILURES, SIGN_IN_WINDOW_MS, SignInLimiter } from '../../src/web/sign-in-limiter.js';

test('ten failures within a minute are allowed; then the address waits until the oldest leaves the window', () => {
  let now = 1_000_000;
  const limiter = new SignInLimiter(() => now);
  for (let i = 0; i < SIGN_IN_FAILURES; i++) {
    assert.equal(limiter.retryAfterMs('192.0.2.1'), 0, `before failure ${i + 1}`);
    limiter.recordFailure('192.0.2.1');
    now += 1_000;
  }
  // Failures at +0 s … +9 s; now is +10 s: the first leaves the window at +60 s.
  assert.equal(limiter.retryAfterMs('192.0.2.1'), SIGN_IN_WINDOW_MS - 10_000);
  assert.equal(limiter.retryAfterMs('192.0.2.2'), 0, 'another address is not limited');
  now += SIGN_IN_WINDOW_MS - 10_000 - 1;
  assert.equal(limiter.retryAfterMs('192.0.2.1'), 1);
  now += 1;
  assert.equal(limiter.retryAfterMs('192.0.2.1'), 0, 'one failure left the window: one more try');
  limiter.recordFailure('192.0.2.1');
  assert.equal(limiter.retryAfterMs('192.0.2.1'), 1_000, 'and then the next oldest, a second later');
});

test('the window slides: failures spread wider than a minute never limit', () => {
  let now = 0;
  const limiter = new SignInLimiter(() => now);
  for (let i = 0; i < 100; i++) {
    assert.equal(limiter.retryAfterMs('a'), 0, `failure ${i}`);
    limiter.recordFailure('a');
    now += SIGN_IN_WINDOW_MS / (SIGN_IN_FAILURES - 1);
  }
});

test('the table is capped: beyond it the address whose last failure is oldest is forgotten first', () => {
  let now = 0;
  const limiter = new SignInLimiter(() => now, { failures: 2, addresses: 3 });
  for (const key of ['a', 'b', 'c']) {
    limiter.recordFailure(key);
    limiter.recordFailure(key);
    now += 10;
  }
  limiter.recordFailure('a'); // a is now the most recent
  assert.equal(limiter.size, 3);
  limiter.recordFailure('d');
  assert.equal(limiter.size, 3);
  assert.equal(limiter.retryAfterMs('b'), 0, 'b was forgotten');
  assert.ok(limiter.retryAfterMs('a') > 0);
  assert.ok(limiter.retryAfterMs('c') > 0);
  for (let i = 0; i < 1_000; i++) limiter.recordFailure(`x${i}`);
  assert.equal(limiter.size, 3);
});

test('addresses are keyed as IPv4, IPv4-mapped IPv6 as IPv4, and IPv6 by its /64', () => {
  const cases: Array<[string | undefined, string]> = [
    ['192.0.2.7', '192.0.2.7'],
    ['::ffff:192.0.2.7', '192.0.2.7'],
    ['2001:db8:0:1::42', '2001:db8:0:1::/64'],
    ['2001:0db8:0000:0001:ffff:0:0:1', '2001:db8:0:1::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    [undefined, 'unknown'],
  ];
  for (const [address, key] of cases) assert.equal(clientKey(address), key, String(address));
});
