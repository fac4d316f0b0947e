import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { budgetOf, readProcessProfiles, type CpuProfile } from '../../bench/budget.js';

type Node = CpuProfile['nodes'][number];

/** A profile node: `id` calls `children`. */
function node(id: number, functionName: string, url: string, children: number[] = [], lineNumber = 0, columnNumber = 0): Node {
  return { id, callFrame: { functionName, url, lineNumber, columnNumber }, children };
}

/** A profile whose samples are `ids`, one every 100 µs from 1,000,000 µs on. */
function profile(nodes: Node[], ids: number[]): CpuProfile {
  return { nodes, startTime: 1_000_000, endTime: 1_000_000 + 100 * (ids.length + 1), samples: ids, timeDeltas: ids.map(() => 100) };
}

/**
 * A Herald-shaped process: a main thread serving a create (gRPC decoding,
 * validation under the service, Prisma's statements, the COMMIT under
 * Prisma's minified #closeTransaction) and a database thread running
 * statements; Prisma's runtime is "minified" with a source map beside it, as
 * in node_modules.
 */
function herald(dir: string): void {
  const runtime = join(dir, 'node_modules/@prisma/client/runtime');
  mkdirSync(runtime, { recursive: true });
  const client = join(runtime, 'client.js');
  // `#f` starts at column 5; V8 places the function at its "(", column 7.
  writeFileSync(client, 'async#f(t){}async#m(t){}\n');
  writeFileSync(
    `${client}.map`,
    JSON.stringify({ version: 3, sources: ['../../client-engine-runtime/src/transaction-manager/transaction-manager.ts'], names: ['#closeTransaction'], mappings: 'KAAAA' }),
  );
  const adapter = `${dir}/node_modules/@prisma/adapter-better-sqlite3/dist/index.mjs`;
  const grpc = `${dir}/node_modules/@grpc/grpc-js/build/src/server-interceptors.js`;
  const main = profile(
    [
      node(1, '(root)', '', [2, 3, 4, 5, 9, 14, 16, 17, 19, 20]),
      node(2, '(program)', ''),
      node(3, '(idle)', ''),
      node(4, '(garbage collector)', ''),
      node(5, 'handleDataFrame', grpc, [6]),
      node(6, 'create', 'file:///srv/herald/dist/services/notification-service.js', [7]),
      node(7, 'checkLength', 'file:///srv/herald/dist/domain/validation.js', [8]),
      // Node's own code takes the category of what called it.
      node(8, 'byteLength', 'node:buffer'),
      node(9, '#m', client, [10], 0, 19),
      node(10, '#f', client, [11], 0, 7),
      // A statement's native call is the self time of the adapter's function: under #closeTransaction it is the COMMIT.
      node(11, 'executeIO', adapter),
      node(14, 'interpretNode', client, [15], 0, 30),
      node(15, 'executeIO', adapter),
      node(16, 'processTicksAndRejections', 'node:internal/process/task_queues'),
      node(17, 'sign', 'file:///srv/herald/dist/delivery/signer.js', [18]),
      node(18, 'digest', 'node:internal/crypto/hash'),
      node(19, 'request', `${dir}/node_modules/got/dist/source/core/index.js`),
      // protobufjs' generated codecs have no URL.
      node(20, 'Notification$encode', ''),
    ],
    // The first sample falls before the window, the last two after it.
    [5, 5, 20, 6, 7, 8, 8, 11, 11, 11, 15, 15, 15, 15, 4, 2, 3, 18, 19, 16, 9, 5, 5],
  );
  const worker = profile(
    [node(1, '(root)', '', [2, 3]), node(2, 'run', `${dir}/node_modules/better-sqlite3/lib/methods/wrappers.js`), node(3, '(idle)', '')],
    [2, 2, 2, 2, 3, 3, 3, 2],
  );
  writeFileSync(join(dir, 'CPU.20261207.180000.4242.0.001.cpuprofile'), JSON.stringify(main));
  writeFileSync(join(dir, 'CPU.20261207.180000.4242.1.002.cpuprofile'), JSON.stringify(worker));
}

test('a budget attributes each sample of every thread in the window by its stack, leaves idle out and divides by the units of work', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'herald-budget-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  herald(dir);
  const threads = readProcessProfiles(dir);
  assert.deepEqual(threads.map((th) => th.thread), [0, 1]);
  // Samples at 1,000,100 + 100 k µs; the window takes the 2nd to the 21st of the main thread.
  const budget = budgetOf(threads, { startUs: 1_000_150, endUs: 1_002_150 }, 2);
  // Main thread, per unit (100 µs a sample, 2 units): #m is storage, not commit: its map entry is #closeTransaction's, 12 columns before it.
  assert.deepEqual(budget.threads[0]!.perUnitUs, { gRPC: 100, validation: 150, decision: 50, storage: 250, commit: 150, signing: 50, sending: 50, GC: 50, other: 100 });
  // The database thread: three samples of better-sqlite3 in the window (the first is before it), idle, and its last sample (no time after it).
  assert.deepEqual(budget.threads[1]!.perUnitUs, { gRPC: 0, validation: 0, decision: 0, storage: 150, commit: 0, signing: 0, sending: 0, GC: 0, other: 0 });
  assert.equal(budget.perUnitUs.storage, 400);
  assert.equal(budget.totalUs, 1_100);
  assert.equal(budget.units, 2);
  assert.equal(budget.windowMs, 2);
  assert.deepEqual(budget.otherTop.map((o) => o.frame).sort(), ['(program)', 'processTicksAndRejections node:internal/process/task_queues']);
});

test('a budget refuses a window its main thread was not profiled in, and a directory of two processes', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'herald-budget-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  herald(dir);
  assert.throws(() => budgetOf(readProcessProfiles(dir), { startUs: 2_000_000, endUs: 3_000_000 }, 1), /not inside the profile/);
  assert.throws(() => budgetOf(readProcessProfiles(dir), { startUs: 1_000_150, endUs: 1_002_150 }, 0), /no unit of work/);
  writeFileSync(join(dir, 'CPU.20261207.180000.4343.0.001.cpuprofile'), '{}');
  assert.throws(() => readProcessProfiles(dir), /one process, found 2/);
});
