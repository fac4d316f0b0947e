/**
 * SIGTERM in the middle of a burst of creates, on the real entry point: the
 * calls in flight finish, later ones get UNAVAILABLE (never INTERNAL), the
 * process exits 0 within its grace period, and a process started on the
 * same database has every acknowledged create and delivers every DELIVER.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { status } from '@grpc/grpc-js';
import { createHeraldClient } from '../../src/client.js';
import { exitWithin, spawnHerald, tempDir } from '../helpers/child-herald.js';
import { startReceiver } from '../helpers/receiver.js';
import { assertAcknowledgedKept, assertOnlyCodes, codeCounts, startCreates } from './helpers/traffic.js';

const AGENTS = Array.from({ length: 16 }, (_, i) => `burst-agent-${i}`);
const ENV: Record<string, string> = { HERALD_SHUTDOWN_GRACE_MS: '5000', WEBHOOK_RETRY_DELAY: '0.2', HERALD_LEASE_MS: '4000', WEBHOOK_TIMEOUT: '2', HERALD_RETENTION_DAYS: '0' };

test('SIGTERM during a burst of 32 creates in flight: OK or UNAVAILABLE, exit 0, nothing acknowledged lost, every DELIVER delivered', { timeout: 180_000 }, async (t) => {
  const dir = tempDir(t);
  const receiver = await startReceiver();
  t.after(() => receiver.close());
  const first = await spawnHerald(t, { dir, env: ENV });
  const client = createHeraldClient(first.address, { deadlineMs: 5_000 });
  t.after(() => client.close());
  for (const agent of AGENTS) await client.preferences.UpdatePreferences({ preferences: { agent_id: agent, enable_webhook: true, webhook_url: receiver.url } });
  const traffic = startCreates(client, { agents: AGENTS, concurrency: 32 });
  await sleep(1_500);
  first.kill('SIGTERM');
  const exit = await exitWithin(first, 15_000);
  await sleep(500);
  await traffic.stop();
  client.close();
  assert.equal(exit.code, 0, first.describe());
  t.diagnostic(`answers: ${JSON.stringify(codeCounts(traffic.records))}`);
  assertOnlyCodes(traffic.records, [status.OK, status.UNAVAILABLE]);
  assert.ok(traffic.records.some((r) => r.code === status.UNAVAILABLE), 'no call met the stopping server: the SIGTERM came after the burst');

  const second = await spawnHerald(t, { dir, env: ENV });
  const kept = await assertAcknowledgedKept(second.client, receiver, traffic.records);
  t.diagnostic(`${kept.acknowledged} acknowledged creates read back, ${kept.delivered} deliveries received`);
});
