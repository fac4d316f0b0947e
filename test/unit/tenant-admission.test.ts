import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TenantBusyError } from '../../src/grpc/status.js';
import { SHARED_WINDOW_MS, TenantAdmission } from '../../src/grpc/tenant-admission.js';

function clock(): { now: () => number; advance(ms: number): void } {
  let t = 1_000;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

test('a tenant alone on the process is never refused, whatever it has in flight', () => {
  const c = clock();
  const admission = new TenantAdmission(2, c.now);
  const leaves = Array.from({ length: 50 }, () => admission.enter('acme'));
  assert.equal(admission.inFlight('acme'), 50);
  for (const leave of leaves) leave();
  assert.equal(admission.inFlight('acme'), 0);
});

test('while another tenant is active, a tenant past its bound is refused with a retry hint, and admitted again once a call ends', () => {
  const c = clock();
  const admission = new TenantAdmission(2, c.now);
  admission.enter('beta')();
  const a1 = admission.enter('acme');
  admission.enter('acme');
  assert.throws(
    () => admission.enter('acme'),
    (err: unknown) => {
      assert.ok(err instanceof TenantBusyError);
      assert.match(err.message, /tenant "acme" already has 2 calls in progress .*HERALD_TENANT_MAX_IN_FLIGHT.*retry in about \d+ ms/);
      assert.ok(err.retryAfterMs >= 10 && err.retryAfterMs <= 1_000, String(err.retryAfterMs));
      return true;
    },
  );
  // The other tenant is never refused for acme's calls.
  admission.enter('beta');
  a1();
  a1();
  admission.enter('acme');
});

test('another tenant counts as active for SHARED_WINDOW_MS after its last call', () => {
  const c = clock();
  const admission = new TenantAdmission(1, c.now);
  admission.enter('beta')();
  admission.enter('acme');
  c.advance(SHARED_WINDOW_MS - 1);
  assert.throws(() => admission.enter('acme'), TenantBusyError);
  c.advance(1);
  admission.enter('acme');
});

test('the retry hint follows the tenant\'s call durations, within 10 ms to 1 s', () => {
  const c = clock();
  const admission = new TenantAdmission(2, c.now);
  const beta = admission.enter('beta');
  // Calls of 2 s each pull the mean up.
  for (let i = 0; i < 50; i++) {
    const leave = admission.enter('acme');
    c.advance(2_000);
    leave();
  }
  for (let i = 0; i < 2; i++) admission.enter('acme');
  assert.throws(() => admission.enter('acme'), (err: unknown) => err instanceof TenantBusyError && err.retryAfterMs === 1_000);
  beta();
});
