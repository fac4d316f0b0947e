/** Waiting on deliveries through the real API, shared by the integration tests. */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { HeraldClient } from '../../src/client.js';
import type { Delivery__Output } from '../../src/generated/proto/herald/v1/Delivery.js';

/** How long a test waits for a delivery to settle: generous, as the machines are small and shared. */
export const DELIVERY_DEADLINE_MS = 20_000;

/** The statuses a delivery does not leave by itself. */
export const FINAL_STATUSES: ReadonlySet<string> = new Set(['DELIVERY_STATUS_SUCCEEDED', 'DELIVERY_STATUS_FAILED', 'DELIVERY_STATUS_CANCELLED']);

/** The delivery once it is SUCCEEDED, FAILED or CANCELLED; fails the test, saying where it stands, after `timeoutMs`. */
export async function waitForFinal(client: HeraldClient, id: string, timeoutMs = DELIVERY_DEADLINE_MS): Promise<Delivery__Output> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const d = await client.deliveries.GetDelivery({ id });
    if (FINAL_STATUSES.has(d.status)) return d;
    if (Date.now() > deadline) {
      assert.fail(`delivery ${id} still ${d.status} after ${timeoutMs} ms (attempts: ${d.attempt_count}, last error: ${d.last_error})`);
    }
    await sleep(50);
  }
}
