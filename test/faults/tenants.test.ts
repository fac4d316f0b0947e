/**
 * One tenant never takes another's share (issue #19): WatchDeliveries
 * streams are capped per tenant as well as per process, and while another
 * tenant is active a tenant's unary calls in flight are bounded, the excess
 * answered RESOURCE_EXHAUSTED with `grpc-retry-pushback-ms`. A real Herald
 * process with two tenants' tokens; the latency figures are the bench's
 * (bench/scenarios.ts, "two tenants"), not this test's.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { status, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import { createHeraldClient, type HeraldClient } from '../../src/client.js';
import { spawnHerald, tempDir } from '../helpers/child-herald.js';
import { assertOnlyCodes, codeCounts, startCreates } from './helpers/traffic.js';

const ACME = 'acme-write-token-0123456789';
const BETA = 'beta-write-token-0123456789';
const TOKENS = `acme:write:${ACME},beta:write:${BETA}`;

/** Opens a stream and resolves with how it stands after `ms`: open, or the error it ended with. */
async function openStream(client: HeraldClient, t: { after(fn: () => void): void }, ms = 500): Promise<{ open: true } | { open: false; code: number; details: string }> {
  const stream: ClientReadableStream<unknown> = client.deliveries.WatchDeliveries({ agent_id: '' });
  t.after(() => stream.cancel());
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ open: true }), ms);
    stream.on('error', (err: ServiceError) => {
      clearTimeout(timer);
      resolve({ open: false, code: err.code, details: err.details });
    });
    stream.on('data', () => undefined);
  });
}

test('a second tenant can open WatchDeliveries streams while the first holds its cap', { timeout: 120_000 }, async (t) => {
  const herald = await spawnHerald(t, { dir: tempDir(t), env: { HERALD_API_TOKENS: TOKENS, HERALD_WATCH_MAX_STREAMS: '10', HERALD_WATCH_MAX_STREAMS_PER_TENANT: '4' } });
  const acme = createHeraldClient(herald.address, { token: ACME });
  const beta = createHeraldClient(herald.address, { token: BETA });
  t.after(() => {
    acme.close();
    beta.close();
  });
  for (let i = 0; i < 4; i++) assert.deepEqual(await openStream(acme, t), { open: true }, `acme's stream ${i + 1}`);
  const refused = await openStream(acme, t);
  assert.equal(refused.open, false);
  assert.equal(refused.open === false && refused.code, status.RESOURCE_EXHAUSTED);
  assert.match(refused.open === false ? refused.details : '', /tenant "acme" already has 4 WatchDeliveries streams open .*HERALD_WATCH_MAX_STREAMS_PER_TENANT/);
  for (let i = 0; i < 4; i++) assert.deepEqual(await openStream(beta, t), { open: true }, `beta's stream ${i + 1} while acme holds its cap`);
});

test('a tenant flooding creates at 64 in flight gets RESOURCE_EXHAUSTED with a retry hint for its excess while another tenant calls; alone, it is never refused', { timeout: 120_000 }, async (t) => {
  const herald = await spawnHerald(t, { dir: tempDir(t), env: { HERALD_API_TOKENS: TOKENS, HERALD_TENANT_MAX_IN_FLIGHT: '16' } });
  const acme = createHeraldClient(herald.address, { token: ACME, deadlineMs: 5_000 });
  const beta = createHeraldClient(herald.address, { token: BETA, deadlineMs: 5_000 });
  t.after(() => {
    acme.close();
    beta.close();
  });
  const acmeAgents = Array.from({ length: 64 }, (_, i) => `flood-${i}`);

  // Alone, acme's 64 in flight are all served, as before tenants had a share.
  const alone = startCreates(acme, { agents: acmeAgents, concurrency: 64 });
  await sleep(2_000);
  await alone.stop();
  assertOnlyCodes(alone.records, [status.OK]);

  // With beta calling, acme's calls past 16 in flight are refused at once; beta's never are.
  const flood = startCreates(acme, { agents: acmeAgents, concurrency: 64 });
  const measured = startCreates(beta, { agents: ['steady'], concurrency: 1 });
  await sleep(3_000);
  await Promise.all([flood.stop(), measured.stop()]);
  t.diagnostic(`acme: ${JSON.stringify(codeCounts(flood.records))}; beta: ${JSON.stringify(codeCounts(measured.records))}`);
  assertOnlyCodes(measured.records, [status.OK]);
  assertOnlyCodes(flood.records, [status.OK, status.RESOURCE_EXHAUSTED]);
  const refused = flood.records.filter((r) => r.code === status.RESOURCE_EXHAUSTED);
  assert.ok(refused.length > 0, 'acme was never refused while beta called');
  assert.match(refused[0]!.details, /tenant "acme" already has 16 calls in progress .*HERALD_TENANT_MAX_IN_FLIGHT.*retry in about \d+ ms/);
  // The hint is also in the metadata that grpc clients with a retry policy obey.
  for (const r of refused) assert.match(r.pushbackMs ?? '', /^\d+$/, 'grpc-retry-pushback-ms on every refusal');
});
