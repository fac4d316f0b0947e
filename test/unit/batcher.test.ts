import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Batcher, type BatchEntry, type BatchOutcome } from '../../src/storage/batcher.js';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

type Entry = BatchEntry<string>;

/** A batcher whose batches are recorded (the work strings of each) and succeed with "ok <work>", unless `fail` says otherwise. */
function recording(options: { maxItems?: number; maxConcurrent?: number; maxPerKey?: number; hold?: Promise<void>; fail?: (entries: readonly Entry[]) => BatchOutcome<string> | null } = {}) {
  const batches: string[][] = [];
  const alone: string[] = [];
  const batcher = new Batcher<string, string>(
    async (entries) => {
      batches.push(entries.map((e) => e.work));
      if (batches.length === 1 && options.hold) await options.hold;
      return options.fail?.(entries) ?? { ok: true, results: entries.map((e) => `ok ${e.work}`) };
    },
    async (entry) => {
      alone.push(entry.work);
      if (entry.work.includes('bad')) throw new Error(`${entry.work} is refused`);
      return `alone ${entry.work}`;
    },
    { maxItems: options.maxItems ?? 100, maxConcurrent: options.maxConcurrent ?? 1, ...(options.maxPerKey === undefined ? {} : { maxPerKey: options.maxPerKey }) },
  );
  return { batcher, batches, alone };
}

test('work submitted together runs as one batch, each caller getting its own result', async () => {
  const { batcher, batches } = recording();
  const results = await Promise.all(['a', 'b', 'c'].map((w) => batcher.submit({ key: null, tenant: 't', work: w })));
  assert.deepEqual(results, ['ok a', 'ok b', 'ok c']);
  assert.deepEqual(batches, [['a', 'b', 'c']]);
});

test('work that arrives while a batch runs forms the next batch, at most maxItems each', async () => {
  const first = deferred();
  const { batcher, batches } = recording({ maxItems: 2, hold: first.promise });
  const early = batcher.submit({ key: null, tenant: 't', work: '1' });
  await turn();
  const late = ['2', '3', '4'].map((w) => batcher.submit({ key: null, tenant: 't', work: w }));
  first.resolve();
  assert.deepEqual(await Promise.all([early, ...late]), ['ok 1', 'ok 2', 'ok 3', 'ok 4']);
  assert.deepEqual(batches, [['1'], ['2', '3'], ['4']]);
});

test('entries of one key waiting together share a batch, in submission order: a flood for one agent is one batch, not one each', async () => {
  const { batcher, batches } = recording();
  await Promise.all(['x1', 'y1', 'x2', 'x3', 'y2'].map((w) => batcher.submit({ key: w[0]!, tenant: 't', work: w })));
  assert.deepEqual(batches, [['x1', 'y1', 'x2', 'x3', 'y2']]);
});

test('a key with maxPerKey entries taken takes no more in that batch: its later ones wait, in order, while other keys still join', async () => {
  const { batcher, batches } = recording({ maxPerKey: 2 });
  await Promise.all(['x1', 'x2', 'x3', 'y1', 'x4', 'y2'].map((w) => batcher.submit({ key: w[0]!, tenant: 't', work: w })));
  assert.deepEqual(batches, [['x1', 'x2', 'y1', 'y2'], ['x3', 'x4']]);
});

test('a full batch leaves a key\'s later entries for the next one, never one of them past an earlier one', async () => {
  const { batcher, batches } = recording({ maxItems: 2 });
  await Promise.all(['x1', 'x2', 'x3', 'y1', 'x4'].map((w) => batcher.submit({ key: w[0]!, tenant: 't', work: w })));
  assert.deepEqual(batches, [['x1', 'x2'], ['x3', 'y1'], ['x4']]);
});

test('a key stays busy while its batch runs: with two batches at once, the second never takes the same key', async () => {
  const first = deferred();
  const { batcher, batches } = recording({ maxConcurrent: 2, hold: first.promise });
  const a = batcher.submit({ key: 'agent', tenant: 't', work: 'agent-1' });
  await turn();
  const b = batcher.submit({ key: 'agent', tenant: 't', work: 'agent-2' });
  const c = batcher.submit({ key: 'other', tenant: 't', work: 'other-1' });
  await turn();
  await turn();
  // The second batch started beside the first, without agent-2: its key is held by the running batch.
  assert.deepEqual(batches, [['agent-1'], ['other-1']]);
  first.resolve();
  await Promise.all([a, b, c]);
  assert.deepEqual(batches, [['agent-1'], ['other-1'], ['agent-2']]);
});

test('tenants take turns in a batch: one tenant flooding does not push another tenant\'s entry to a later batch', async () => {
  const first = deferred();
  const { batcher, batches } = recording({ maxItems: 4, hold: first.promise });
  const warm = batcher.submit({ key: null, tenant: 'flood', work: 'warm' });
  await turn();
  const flood = Array.from({ length: 8 }, (_, i) => batcher.submit({ key: null, tenant: 'flood', work: `f${i}` }));
  const quiet = batcher.submit({ key: null, tenant: 'quiet', work: 'q0' });
  first.resolve();
  await Promise.all([warm, ...flood, quiet]);
  assert.deepEqual(batches[1], ['f0', 'f1', 'f2', 'q0'], 'the quiet tenant gets a place in the first batch after it arrived');
});

test('a failed batch that surely did not commit runs each entry alone, in order, and one entry failing fails only its caller', async () => {
  const { batcher, alone } = recording({ fail: (entries) => (entries.length > 1 ? { ok: false, error: new Error('refused'), split: true } : null) });
  const outcomes = await Promise.allSettled(['a', 'bad', 'c'].map((w) => batcher.submit({ key: w, tenant: 't', work: w })));
  assert.deepEqual(outcomes.map((o) => (o.status === 'fulfilled' ? o.value : (o.reason as Error).message)), ['alone a', 'bad is refused', 'alone c']);
  assert.deepEqual(alone, ['a', 'bad', 'c']);
});

test('a failed batch that may have committed (a lost COMMIT answer) answers every entry with its error, running nothing again', async () => {
  const lost = new Error('connection lost during COMMIT');
  const { batcher, alone } = recording({ fail: () => ({ ok: false, error: lost, split: false }) });
  const outcomes = await Promise.allSettled(['a', 'b'].map((w) => batcher.submit({ key: null, tenant: 't', work: w })));
  assert.deepEqual(outcomes.map((o) => o.status === 'rejected' && o.reason), [lost, lost]);
  assert.deepEqual(alone, []);
});

test('a runner that throws leaves no caller waiting, and the batcher keeps working', async () => {
  let calls = 0;
  const batcher = new Batcher<string, string>(
    async (entries) => {
      calls += 1;
      if (calls === 1) throw new Error('bug in the runner');
      return { ok: true, results: entries.map((e) => e.work) };
    },
    async () => assert.fail('nothing runs alone after a throw: it is not known what committed'),
    { maxItems: 10, maxConcurrent: 1 },
  );
  await assert.rejects(batcher.submit({ key: null, tenant: 't', work: 'first' }), /bug in the runner/);
  assert.equal(await batcher.submit({ key: null, tenant: 't', work: 'second' }), 'second');
});
