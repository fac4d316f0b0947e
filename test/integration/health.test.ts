/**
 * The standard health service reflects the database: SERVING while it
 * answers, NOT_SERVING once it stops answering; the container probe
 * (src/healthcheck.ts, the image's HEALTHCHECK) passes only on SERVING.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import pg from 'pg';
import { VERSION } from '../../src/app.js';
import { LIVENESS_SERVICE } from '../../src/grpc/server.js';
import { scrape } from '../helpers/metrics.js';
import { eventually } from '../helpers/child-herald.js';
import { startHerald, TEST_DATABASE } from '../helpers/herald.js';
import { runProbe } from '../helpers/probe.js';

type Check = (req: { service: string }, cb: (err: grpc.ServiceError | null, res?: { status: string }) => void) => void;

function healthClient(address: string): { check(service: string): Promise<string>; close(): void } {
  const definition = protoLoader.loadSync(healthProtoPath, { keepCase: true, enums: String });
  const Health = (grpc.loadPackageDefinition(definition) as unknown as { grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } } }).grpc.health.v1.Health;
  const client = new Health(address, grpc.credentials.createInsecure());
  const check = (client as unknown as { Check: Check }).Check.bind(client);
  return {
    check: (service) => new Promise((resolve, reject) => check({ service }, (err, res) => (err ? reject(err) : resolve(res?.status ?? '')))),
    close: () => client.close(),
  };
}

test('health turns NOT_SERVING when the database stops answering; liveness stays SERVING and herald_database_up reads 0', async (t) => {
  const h = await startHerald(t, { env: { HERALD_WORKER: 'false', HERALD_HEALTH_CHECK_MS: '100', HERALD_METRICS_ADDRESS: '127.0.0.1:0' } });
  const health = healthClient(h.address);
  t.after(() => health.close());
  assert.equal(await health.check(''), 'SERVING');
  assert.equal(await health.check('herald.v1.NotificationService'), 'SERVING');
  assert.equal(await health.check(LIVENESS_SERVICE), 'SERVING');
  assert.equal((await scrape(h.app.metricsPort!)).get('herald_database_up'), 1);

  // Pull the database from under the running service: its connections are
  // closed and it can no longer be opened (the SQLite file's directory, or
  // the PostgreSQL database, is gone).
  await h.app.store.close();
  if (TEST_DATABASE === 'sqlite') {
    rmSync(h.dir, { recursive: true, force: true });
  } else {
    const url = new URL(h.env.DATABASE_URL!);
    const admin = new pg.Client({ connectionString: process.env.HERALD_TEST_DATABASE_URL });
    await admin.connect();
    try {
      await admin.query(`DROP DATABASE ${url.pathname.slice(1)} WITH (FORCE)`);
    } finally {
      await admin.end();
    }
  }
  await eventually('NOT_SERVING', async () => ((await health.check('')) === 'NOT_SERVING' ? true : undefined), 10_000);
  assert.equal(await health.check('herald.v1.PreferencesService'), 'NOT_SERVING');
  // A restart cannot bring the database back: the liveness probe must not ask for one.
  assert.equal(await health.check(LIVENESS_SERVICE), 'SERVING');
  const m = await scrape(h.app.metricsPort!);
  assert.equal(m.get('herald_database_up'), 0);
  assert.equal(m.get('herald_health_serving'), 0);
});

test('the container probe exits 0 naming the build while SERVING, and 1 when NOT_SERVING or nothing listens', async (t) => {
  const h = await startHerald(t, { env: { HERALD_WORKER: 'false', HERALD_HEALTH_CHECK_MS: '600000' } });
  const serving = await runProbe({ GRPC_ADDRESS: h.address });
  assert.deepEqual(serving, { code: 0, out: `SERVING herald ${VERSION} at ${h.address}` });

  h.app.server!.setServing(false);
  const notServing = await runProbe({ GRPC_ADDRESS: h.address });
  assert.equal(notServing.code, 1, notServing.out);
  assert.match(notServing.out, /^NOT_SERVING herald /);

  await h.app.stop(0);
  const gone = await runProbe({ GRPC_ADDRESS: h.address });
  assert.equal(gone.code, 1, gone.out);
  assert.match(gone.out, /^UNHEALTHY herald .*UNAVAILABLE/);
});
