import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SettleBatcher } from '../../src/delivery/settle-batcher.js';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

test('settlements submitted together are written as one batch, each caller getting its own result', async () => {
  const batches: number[][] = [];
  const batcher = new SettleBatcher<number, string>(
    async (items) => {
      batches.push([...items]);
      return items.map((i) => `done ${i}`);
    },
    async () => assert.fail('no item should be settled alone'),
    100,
    () => assert.fail('no batch should fail'),
  );
  const results = await Promise.all([1, 2, 3].map((i) => batcher.submit(i)));
  assert.deepEqual(results, ['done 1', 'done 2', 'done 3']);
  assert.deepEqual(batches, [[1, 2, 3]]);
});

test('settlements that arrive while a batch is being written form the next batch, at most maxBatch each', async () => {
  const batches: number[][] = [];
  const first = deferred();
  const batcher = new SettleBatcher<number, number>(
    async (items) => {
      batches.push([...items]);
      if (batches.length === 1) await first.promise;
      return [...items];
    },
    async (i) => i,
    2,
    () => undefined,
  );
  const early = batcher.submit(1);
  await new Promise((resolve) => setImmediate(resolve));
  const late = [2, 3, 4].map((i) => batcher.submit(i));
  first.resolve();
  assert.deepEqual(await Promise.all([early, ...late]), [1, 2, 3, 4]);
  assert.deepEqual(batches, [[1], [2, 3], [4]]);
});

test('a failed batch loses no result: every item is settled alone, and one item failing fails only its caller', async () => {
  const alone: number[] = [];
  const failures: Array<{ size: number }> = [];
  const batcher = new SettleBatcher<number, number>(
    async () => {
      throw new Error('database is locked');
    },
    async (i) => {
      alone.push(i);
      if (i === 2) throw new Error(`item ${i} cannot be recorded`);
      return i * 10;
    },
    100,
    (_err, size) => failures.push({ size }),
  );
  const outcomes = await Promise.allSettled([1, 2, 3].map((i) => batcher.submit(i)));
  assert.deepEqual(outcomes.map((o) => (o.status === 'fulfilled' ? o.value : (o.reason as Error).message)), [10, 'item 2 cannot be recorded', 30]);
  assert.deepEqual(alone.sort(), [1, 2, 3]);
  assert.deepEqual(failures, [{ size: 3 }]);
});

test('a failure report that throws does not stop the batcher: later results are still recorded', async () => {
  let batches = 0;
  const batcher = new SettleBatcher<number, number>(
    async (items) => {
      batches += 1;
      if (batches === 1) throw new Error('database is locked');
      return items.map((i) => i * 10);
    },
    async (i) => i * 10,
    100,
    () => {
      throw new Error('the logger failed');
    },
  );
  assert.equal(await batcher.submit(1), 10);
  // Before the fix the first drain died in the report and left `draining` set: this never settled.
  assert.equal(await batcher.submit(2), 20);
});
