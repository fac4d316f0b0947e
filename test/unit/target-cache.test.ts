import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AgentPreferences } from '../../src/domain/types.js';
import { DeliveryTargetCache, TARGET_CACHE_TTL_MS, type DeliveryTarget } from '../../src/delivery/target-cache.js';

function target(url: string, previousExpiresAt: Date | null = null): DeliveryTarget {
  return {
    prefs: { webhookUrl: url } as AgentPreferences,
    masterSwitch: true,
    secrets: { current: 'whsec_current', previous: previousExpiresAt === null ? null : 'whsec_previous', previousExpiresAt },
    consecutiveFailures: 0,
    endpoints: new Map(),
  };
}

test('a cached target is served until its agent is invalidated; other agents keep theirs', () => {
  const cache = new DeliveryTargetCache();
  cache.set('t', 'a', target('https://a.example/'), cache.token(), 0);
  cache.set('t', 'b', target('https://b.example/'), cache.token(), 0);
  assert.equal(cache.get('t', 'a', 1, 0)?.prefs.webhookUrl, 'https://a.example/');
  cache.invalidate('t', 'a');
  assert.equal(cache.get('t', 'a', 1, 0), undefined);
  assert.equal(cache.get('t', 'b', 1, 0)?.prefs.webhookUrl, 'https://b.example/');
  assert.equal(cache.get('other-tenant', 'b', 1, 0), undefined);
});

test('a read that raced with a write is not stored: an invalidation after the token was taken wins', () => {
  const cache = new DeliveryTargetCache();
  const token = cache.token();
  cache.invalidate('t', 'a');
  cache.set('t', 'a', target('https://old.example/'), token, 0);
  assert.equal(cache.get('t', 'a', 1, 0), undefined);
});

test('an entry expires after the TTL, and when the previous secret stops signing if that comes first', () => {
  const cache = new DeliveryTargetCache();
  cache.set('t', 'a', target('https://a.example/'), cache.token(), 0);
  assert.notEqual(cache.get('t', 'a', TARGET_CACHE_TTL_MS - 1, 0), undefined);
  assert.equal(cache.get('t', 'a', TARGET_CACHE_TTL_MS, 0), undefined);
  cache.set('t', 'b', target('https://b.example/', new Date(1_000)), cache.token(), 0);
  assert.notEqual(cache.get('t', 'b', 999, 0), undefined);
  assert.equal(cache.get('t', 'b', 1_000, 0), undefined);
});

test('an agent without preferences is cached as such, and clear() forgets everything', () => {
  const cache = new DeliveryTargetCache();
  cache.set('t', 'gone', null, cache.token(), 0);
  assert.equal(cache.get('t', 'gone', 1, 0), null);
  cache.clear();
  assert.equal(cache.get('t', 'gone', 1, 0), undefined);
});

test('an entry read before a delivery was claimed is not served for it: a write acknowledged before the claim is always seen', () => {
  const cache = new DeliveryTargetCache();
  cache.set('t', 'a', target('https://old.example/'), cache.token(), 1_000);
  // Claimed at 1,000 (the same instant as the read) or before: served.
  assert.equal(cache.get('t', 'a', 1_500, 1_000)?.prefs.webhookUrl, 'https://old.example/');
  // Claimed after the read, e.g. in the next batch: read again, even though no invalidation arrived.
  assert.equal(cache.get('t', 'a', 1_500, 1_001), undefined);
});
