import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Store } from '../../src/storage/database.js';
import type { ReadRepositories, Repositories } from '../../src/storage/repositories.js';

/**
 * The checks are compile-time: tsc runs as part of the test command, and each
 * `@ts-expect-error` below fails it the day the misuse it marks type-checks.
 */
function misusesOfRead(store: Store): Array<Promise<unknown>> {
  return [
    // @ts-expect-error a read runs outside a transaction: the agent lock would lock nothing
    store.read((r) => r.lockAgent('default', 'a1')),
    // @ts-expect-error nor would a group's sorted locks
    store.read((r) => r.lockAgentsInOrder(['default:a1'])),
    // @ts-expect-error a read cannot write preferences
    store.read((r) => r.preferences.delete('default', 'a1')),
    // @ts-expect-error a read cannot change a notification
    store.read((r) => r.notifications.markRead('default', 'n1', new Date())),
    // @ts-expect-error a read cannot enqueue
    store.read((r) => r.deliveries.cancelPending('default', 'a1', 'why', new Date())),
    // @ts-expect-error a read cannot claim
    store.read((r) => r.queue.claimDue('owner', { now: new Date(), leaseMs: 1, limit: 1, agentMaxInFlight: 1 })),
    // @ts-expect-error a read cannot delete old rows
    store.read((r) => r.retention.deleteFinishedDeliveries(new Date(), 1)),
    // @ts-expect-error a group commit answers preferences.get from one read at its start: its work cannot write them
    store.writeGrouped('default', 'a1', (r) => r.preferences.delete('default', 'a1')),
    // @ts-expect-error a read cannot attach to a digest
    store.read((r) => r.digests.close('dlv_1')),
  ];
}

test('Store.read hands out repositories without the agent lock or write statements (checked by tsc)', () => {
  type Writers = Exclude<keyof Repositories, keyof ReadRepositories>;
  const writeOnly: Record<Writers, true> = { flushPending: true, lockAgent: true, lockAgentsInOrder: true, retention: true };
  assert.deepEqual(Object.keys(writeOnly).sort(), ['flushPending', 'lockAgent', 'lockAgentsInOrder', 'retention']);
  assert.equal(typeof misusesOfRead, 'function');
});
