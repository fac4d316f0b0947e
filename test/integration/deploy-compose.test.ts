import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import pg from 'pg';

import { createHeraldClient } from '../../src/client.js';
import { describe, interpolate, replayCompose, startOrder } from '../helpers/compose-replay.js';
import { DEPLOY_DIR, readYaml } from '../helpers/deploy.js';
import { cleanup } from '../helpers/herald.js';
import { startReceiver } from '../helpers/receiver.js';

/*
 * deploy/compose.yaml started the way Compose would, without a Docker engine
 * (test/helpers/compose-replay.ts says how), on the PostgreSQL server of
 * HERALD_TEST_DATABASE_URL standing in for the `postgres` service: the
 * migration step runs to completion first, then two API replicas and a
 * worker; a create sent to one API replica reaches a receiver, sent by the
 * worker (the API replicas run none).
 */

const COMPOSE_FILE = join(DEPLOY_DIR, 'compose.yaml');

/** A new, empty database on the server of `admin`, dropped after the test (whatever database the rest of the suite runs on). */
async function freshPostgresDatabase(t: TestContext, admin: string): Promise<string> {
  const name = `herald_compose_${randomBytes(6).toString('hex')}`;
  const run = async (sql: string): Promise<void> => {
    const c = new pg.Client({ connectionString: admin });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  await run(`CREATE DATABASE ${name}`);
  cleanup(t, () => run(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return url.href;
}

test("compose.yaml's start order puts the database, then the migration, before the API and the worker", () => {
  const order = startOrder((readYaml(COMPOSE_FILE) as { services: Record<string, object> }).services);
  const at = (name: string): number => order.indexOf(name);
  assert.ok(at('postgres') < at('migrate'));
  assert.ok(at('migrate') < at('api') && at('migrate') < at('worker'));
  assert.ok(at('api') < at('prometheus') && at('worker') < at('prometheus'));
});

test('interpolation follows Compose: defaults, required variables and $$', () => {
  assert.equal(interpolate('${A:-x} ${B-y} ${C:-z}', { A: '', B: '', C: 'c' }), 'x  c');
  assert.equal(interpolate('$${A}', { A: 'a' }), '${A}');
  assert.throws(() => interpolate('${K:?set K}', {}), /needs K: set K/);
});

test('the compose stack replayed without Docker: migrate completes, two API replicas and a worker start, and a create reaches a receiver', async (t) => {
  if (!process.env.HERALD_TEST_DATABASE_URL) {
    return t.skip('HERALD_TEST_DATABASE_URL is not set: the stack runs on PostgreSQL, which the replay needs a server for (.ci/run sets it)');
  }
  const database = await freshPostgresDatabase(t, process.env.HERALD_TEST_DATABASE_URL);
  const token = 'compose-replay-operator-token-0123';
  const replay = await replayCompose(COMPOSE_FILE, { variables: { HERALD_API_TOKENS: token }, standIns: { postgres: database }, timeoutMs: 120_000 });
  cleanup(t, () => replay.stop());

  await replay.waitUntilHealthy('api');
  await replay.waitUntilHealthy('worker');
  const api = replay.replicas.filter((r) => r.service === 'api');
  const worker = replay.replicas.filter((r) => r.service === 'worker');
  const migrate = replay.replicas.filter((r) => r.service === 'migrate');
  assert.equal(api.length, 2, 'two API replicas');
  assert.equal(worker.length, 1);
  assert.equal(migrate[0]!.proc.exitCode, 0, describe(migrate[0]!));
  assert.deepEqual(replay.notReplayed, ['postgres (image postgres:16-bookworm): stood in for by the test', 'prometheus (image prom/prometheus:v2.53.0): not run']);
  for (const r of api) assert.equal(r.env.HERALD_ROLE, 'api');

  const receiver = await startReceiver([]);
  t.after(() => receiver.close());
  const [first, second] = api.map((r) => createHeraldClient(`127.0.0.1:${r.grpcPort}`, { token }));
  t.after(() => {
    first!.close();
    second!.close();
  });
  await first!.preferences.UpdatePreferences({ preferences: { agent_id: 'compose-agent', enable_webhook: true, webhook_url: receiver.url } });
  const created = await second!.notifications.CreateNotification({ agent_id: 'compose-agent', notification_type: 'job.completed', title: 'Through compose' });
  assert.equal(created.decision?.outcome, 'DECISION_OUTCOME_DELIVER');
  const [request] = await receiver.waitForRequests(1, 60_000);
  assert.equal(request!.headers['x-herald-delivery'], created.decision?.delivery_id);
  assert.match(request!.body.toString('utf8'), /Through compose/);
  assert.ok(worker[0]!.proc.exitCode === null, 'the worker is still running');
});
