/**
 * SQLite faults with real Herald processes: the database that cannot grow
 * (its size cap, HERALD_SQLITE_MAX_MB, which sets PRAGMA max_page_count; and,
 * as root, a real full disk on a small tmpfs) and a second process started
 * on the file of a running one. What a client must see (docs/guarantees.md, "What a fault does to a client"):
 * RESOURCE_EXHAUSTED "the database disk is full" and health NOT_SERVING,
 * never INTERNAL; reads go on; nothing acknowledged is lost; every DELIVER
 * is delivered once there is room again. A second process does not serve,
 * and says who holds the file; the tools that run beside Herald still work.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { describe, it, type TestContext } from 'node:test';
import { status } from '@grpc/grpc-js';
import { createHeraldClient, type HeraldClient } from '../../src/client.js';
import { exitWithin, REPO_ROOT, spawnHerald, startHeraldProcess, tempDir, type ChildHerald } from '../helpers/child-herald.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { rootUnavailable } from './helpers/postgres-cluster.js';
import { assertAcknowledgedKept, assertOnlyCodes, codeCounts, startCreates, watchHealth, type CallRecord } from './helpers/traffic.js';

const run = promisify(execFile);
const TARGET_MS = 3_000;
const SLACK_MS = 1_000;
const AGENTS = Array.from({ length: 4 }, (_, i) => `full-agent-${i}`);
/** About 8 KB of rows per create (the notification and its delivery's body): a 1 MB cap fills in about a hundred. */
const CONTENT = 'x'.repeat(4_000);
const ENV: Record<string, string> = {
  WEBHOOK_RETRY_DELAY: '0.2',
  WEBHOOK_MAX_RETRIES: '20',
  WEBHOOK_TIMEOUT: '2',
  HERALD_LEASE_MS: '4000',
  HERALD_POLL_MS: '250',
  HERALD_RETRY_MIN_DELAY_MS: '200',
  // Keep what was acknowledged: the test reads it all back.
  HERALD_RETENTION_DAYS: '0',
};

async function subscribe(client: HeraldClient, receiver: Receiver): Promise<void> {
  for (const agent of AGENTS) await client.preferences.UpdatePreferences({ preferences: { agent_id: agent, enable_webhook: true, webhook_url: receiver.url } });
}

/**
 * Creates until the database is full and for `afterMs` more; returns what
 * the client saw and when the first RESOURCE_EXHAUSTED came.
 */
async function fillUp(t: TestContext, herald: ChildHerald, client: HeraldClient, afterMs: number): Promise<{ records: CallRecord[]; fullAt: number }> {
  const health = watchHealth(herald.address);
  t.after(() => health.stop());
  const traffic = startCreates(client, { agents: AGENTS, concurrency: 4, content: CONTENT });
  const deadline = Date.now() + 60_000;
  let full: CallRecord | undefined;
  while ((full = traffic.records.find((r) => r.code === status.RESOURCE_EXHAUSTED)) === undefined && Date.now() < deadline) await sleep(50);
  await sleep(afterMs);
  await traffic.stop();
  health.stop();
  assert.ok(full !== undefined, `the database never filled up: ${JSON.stringify(codeCounts(traffic.records))}`);
  assert.match(full.details, /the database disk is full/);
  assertOnlyCodes(traffic.records, [status.OK, status.RESOURCE_EXHAUSTED]);
  const notServing = health.firstAfter(full.endedAt - 1_000, 'NOT_SERVING');
  assert.ok(notServing !== null, 'health never turned NOT_SERVING on the full disk');
  t.diagnostic(`full: ${JSON.stringify(codeCounts(traffic.records))}; NOT_SERVING ${notServing.at - full.endedAt} ms after the first RESOURCE_EXHAUSTED`);
  assert.ok(notServing.at - full.endedAt <= TARGET_MS + SLACK_MS, `NOT_SERVING ${notServing.at - full.endedAt} ms after the disk filled`);
  return { records: traffic.records, fullAt: full.endedAt };
}

/** Other writes and reads on the full database: writes RESOURCE_EXHAUSTED or OK (if they fit), never INTERNAL; reads OK. */
async function otherCallsWhileFull(client: HeraldClient, records: readonly CallRecord[]): Promise<void> {
  for (let i = 0; i < 5; i++) {
    try {
      await client.preferences.UpdatePreferences({ preferences: { agent_id: `new-agent-${i}`, enable_webhook: false } });
    } catch (err) {
      assert.equal((err as { code?: number }).code, status.RESOURCE_EXHAUSTED, String(err));
    }
  }
  const acked = records.find((r) => r.code === status.OK);
  assert.ok(acked !== undefined);
  assert.equal((await client.notifications.GetNotification({ id: acked.notificationId })).id, acked.notificationId, 'reads work on a full database');
}

describe('SQLite faults (child processes)', { timeout: 10 * 60_000 }, () => {
  it('at its size cap: RESOURCE_EXHAUSTED and NOT_SERVING, never INTERNAL; after a restart with room, everything acknowledged is kept and delivered', { timeout: 180_000 }, async (t) => {
    const dir = tempDir(t);
    const receiver = await startReceiver();
    t.after(() => receiver.close());
    const first = await spawnHerald(t, { dir, env: { ...ENV, HERALD_SQLITE_MAX_MB: '1' } });
    const client = createHeraldClient(first.address, { deadlineMs: 5_000 });
    t.after(() => client.close());
    await subscribe(client, receiver);
    const { records } = await fillUp(t, first, client, 2_000);
    await otherCallsWhileFull(client, records);
    client.close();

    first.kill('SIGTERM');
    assert.equal((await exitWithin(first, 20_000)).code, 0, first.describe());
    const second = await spawnHerald(t, { dir, env: { ...ENV, HERALD_SQLITE_MAX_MB: '64' } });
    await second.client.notifications.CreateNotification({ agent_id: AGENTS[0]!, notification_type: 'fault.test', title: 'room again' });
    const kept = await assertAcknowledgedKept(second.client, receiver, records);
    t.diagnostic(`${kept.acknowledged} acknowledged creates read back, ${kept.delivered} deliveries received`);
  });

  it('on a full disk (a 12 MB tmpfs): RESOURCE_EXHAUSTED and NOT_SERVING; SERVING again within 3 s of space being freed, without a restart; nothing lost', { skip: rootUnavailable(), timeout: 180_000 }, async (t) => {
    const dir = tempDir(t);
    const mount = mkdtempSync(join(tmpdir(), 'herald-full-disk-'));
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=12m', 'tmpfs', mount], { stdio: 'ignore' });
    } catch {
      rmSync(mount, { recursive: true, force: true });
      t.skip('mount -t tmpfs is not permitted here');
      return;
    }
    // Registered after tempDir's hook, which kills the children first (they run on `dir`).
    t.after(() => {
      execFileSync('umount', ['-l', mount], { stdio: 'ignore' });
      rmSync(mount, { recursive: true, force: true });
    });
    const receiver = await startReceiver();
    t.after(() => receiver.close());
    const herald = await spawnHerald(t, { dir, env: { ...ENV, DATABASE_URL: `file:${join(mount, 'herald.db')}` } });
    const client = createHeraldClient(herald.address, { deadlineMs: 5_000 });
    t.after(() => client.close());
    await subscribe(client, receiver);
    // Leave about 1.5 MB: the rest of the disk is another program's file.
    const filler = join(mount, 'filler');
    const free = (): number => {
      const fs = execFileSync('df', ['-B1', '--output=avail', mount]).toString().trim().split('\n')[1] ?? '0';
      return Number(fs);
    };
    writeFileSync(filler, Buffer.alloc(Math.max(0, free() - 1_500_000)));
    const { records } = await fillUp(t, herald, client, 2_000);
    await otherCallsWhileFull(client, records);

    const health = watchHealth(herald.address);
    t.after(() => health.stop());
    const freedAt = Date.now();
    rmSync(filler);
    const serving = await (async () => {
      for (let i = 0; i < 100; i++) {
        const s = health.firstAfter(freedAt, 'SERVING');
        if (s !== null) return s;
        await sleep(100);
      }
      return null;
    })();
    assert.ok(serving !== null, 'health never turned SERVING after space was freed');
    t.diagnostic(`disk freed: SERVING after ${serving.at - freedAt} ms`);
    assert.ok(serving.at - freedAt <= TARGET_MS + SLACK_MS, `SERVING ${serving.at - freedAt} ms after space was freed`);
    const after = await client.notifications.CreateNotification({ agent_id: AGENTS[0]!, notification_type: 'fault.test', title: 'room again' });
    assert.ok(after.notification?.id);
    const kept = await assertAcknowledgedKept(client, receiver, records);
    t.diagnostic(`${kept.acknowledged} acknowledged creates read back, ${kept.delivered} deliveries received`);
    assert.ok(statSync(join(mount, 'herald.db')).size > 0);
  });

  it('a second process on the file of a running one refuses to start, naming the holder; backup and re-encryption still run beside it; once the first is killed the file is free', { timeout: 180_000 }, async (t) => {
    const dir = tempDir(t);
    const key = Buffer.alloc(32, 7).toString('base64');
    const env = { ...ENV, HERALD_SECRET_KEY: key };
    const first = await spawnHerald(t, { dir, env });
    await first.client.preferences.UpdatePreferences({ preferences: { agent_id: 'kept', enable_webhook: false } });

    const second = startHeraldProcess(t, { dir, env: { ...env, DATABASE_URL: `file:${join(dir, 'herald.db')}` } });
    const exit = await exitWithin(second, 20_000);
    assert.equal(exit.code, 1, second.describe());
    const said = second.stderr.join('\n');
    assert.match(said, new RegExp(`in use by Herald process ${first.proc.pid} on ${hostname().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(since \\d{4}-\\d\\d-\\d\\dT`));
    assert.match(said, /use PostgreSQL/);
    assert.equal(second.records().some((r) => r.msg === 'gRPC server listening'), false, 'the second process never served');

    // The tools that run beside Herald.
    const databaseUrl = `file:${join(dir, 'herald.db')}`;
    const backup = join(dir, 'backup.db');
    await run(process.execPath, ['--import', 'tsx', 'scripts/db-backup.ts', backup], { cwd: REPO_ROOT, env: { PATH: process.env.PATH ?? '', DATABASE_URL: databaseUrl } });
    assert.ok(existsSync(backup));
    const reencrypt = await run(process.execPath, ['--import', 'tsx', 'scripts/secrets-reencrypt.ts'], { cwd: REPO_ROOT, env: { PATH: process.env.PATH ?? '', DATABASE_URL: databaseUrl, HERALD_SECRET_KEY: key } });
    assert.match(reencrypt.stdout, /re-encrypted the secrets of \d+ endpoint\(s\)/);
    assert.equal((await first.client.preferences.GetPreferences({ agent_id: 'kept' })).agent_id, 'kept', 'the first process still serves');

    // However the holder dies, the operating system releases the lock.
    first.kill('SIGKILL');
    await first.exited;
    const third = await spawnHerald(t, { dir, env });
    assert.equal((await third.client.preferences.GetPreferences({ agent_id: 'kept' })).agent_id, 'kept');
  });
});
