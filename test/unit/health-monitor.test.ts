/**
 * HealthMonitor's rules, with a probe the test scripts and real errors from
 * a real SQLite (a full in-memory database, a held write lock): what turns
 * health NOT_SERVING, what turns it back, and when calls fail fast. The
 * timing against a real stalled database is in test/faults/.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test, type TestContext } from 'node:test';
import Database from 'better-sqlite3';
import { HealthMonitor } from '../../src/health-monitor.js';
import { createLogger } from '../../src/logger.js';
import { StorageTimeoutError } from '../../src/storage/errors.js';

/** SQLITE_FULL, from a database that may not grow. */
function realDiskFull(): unknown {
  const db = new Database(':memory:');
  try {
    db.pragma('max_page_count = 2');
    db.exec('CREATE TABLE t (b BLOB)');
    db.prepare('INSERT INTO t VALUES (zeroblob(100000))').run();
  } catch (err) {
    return err;
  } finally {
    db.close();
  }
  throw new Error('expected SQLITE_FULL');
}

/** SQLITE_BUSY, from a write lock another connection holds. */
function realBusy(t: TestContext): unknown {
  const dir = mkdtempSync(join(tmpdir(), 'herald-health-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const a = new Database(join(dir, 'x.db'));
  const b = new Database(join(dir, 'x.db'), { timeout: 0 });
  try {
    a.exec('CREATE TABLE t (x); BEGIN IMMEDIATE');
    b.exec('BEGIN IMMEDIATE');
  } catch (err) {
    return err;
  } finally {
    a.close();
    b.close();
  }
  throw new Error('expected SQLITE_BUSY');
}

interface ScriptedProbe {
  check: (timeoutMs: number) => Promise<void>;
  checkWrites: (timeoutMs: number) => Promise<void>;
  checkFails: unknown;
  writesFail: unknown;
}

function monitor(t: TestContext, failedWrites = 3): { health: HealthMonitor; probe: ScriptedProbe; changes: boolean[] } {
  const probe: ScriptedProbe = {
    checkFails: null,
    writesFail: null,
    async check() {
      if (probe.checkFails !== null) throw probe.checkFails;
    },
    async checkWrites() {
      if (probe.writesFail !== null) throw probe.writesFail;
    },
  };
  const changes: boolean[] = [];
  const health = new HealthMonitor(probe, (ok) => changes.push(ok), createLogger('silent'), { intervalMs: 20, checkTimeoutMs: 10, failedWrites });
  health.start();
  t.after(() => health.stop());
  return { health, probe, changes };
}

test('a failing check turns health NOT_SERVING at the next check, and a passing one back', async (t) => {
  const { health, probe, changes } = monitor(t);
  probe.checkFails = new StorageTimeoutError('the database check', 10);
  await sleep(60);
  assert.equal(health.healthy, false);
  assert.equal(health.databaseAnswering, false, 'a timed-out check means the database is not answering: calls fail fast');
  probe.checkFails = null;
  await sleep(60);
  assert.equal(health.healthy, true);
  assert.equal(health.databaseAnswering, true);
  assert.deepEqual(changes, [false, true]);
});

test('a check failing for another reason than silence leaves calls going through', async (t) => {
  const { health, probe } = monitor(t);
  probe.checkFails = realDiskFull();
  await sleep(60);
  assert.equal(health.healthy, false);
  assert.equal(health.databaseAnswering, true);
});

test('writes failing in a row with storage faults turn health NOT_SERVING at the Nth, at once', (t) => {
  const { health } = monitor(t, 3);
  const busy = realBusy(t);
  health.writeOutcome(busy);
  health.writeOutcome(busy);
  assert.equal(health.healthy, true);
  health.writeOutcome(null);
  health.writeOutcome(busy);
  health.writeOutcome(busy);
  assert.equal(health.healthy, true, 'a committed write restarts the count');
  health.writeOutcome(busy);
  assert.equal(health.healthy, false);
});

test('errors that are not storage faults (a bug, a domain rule) do not count', (t) => {
  const { health } = monitor(t, 1);
  health.writeOutcome(new Error('a bug'));
  health.writeOutcome(new TypeError('x is undefined'));
  assert.equal(health.healthy, true);
});

test('one full disk turns health NOT_SERVING at once; a committed write turns it back', (t) => {
  const { health, changes } = monitor(t, 3);
  health.writeOutcome(realDiskFull());
  assert.equal(health.healthy, false);
  assert.equal(health.databaseAnswering, true, 'reads still work on a full disk');
  health.writeOutcome(null);
  assert.equal(health.healthy, true);
  assert.deepEqual(changes, [false, true]);
});

test('without any write, the write check brings health back once writes could start again', async (t) => {
  const { health, probe } = monitor(t, 3);
  const full = realDiskFull();
  probe.writesFail = full;
  health.writeOutcome(full);
  await sleep(80);
  assert.equal(health.healthy, false, 'the write check still fails');
  probe.writesFail = null;
  await sleep(80);
  assert.equal(health.healthy, true);
});
