/**
 * OpenTelemetry traces (issue #23, item 1), through the real entry point run
 * as a child process (test/helpers/child-herald.ts), a real OTLP/HTTP
 * receiver (test/helpers/otlp-receiver.ts) and a real webhook receiver: a
 * create that carries a caller's `traceparent` and the delivery attempt it
 * leads to are one trace, the webhook carries that trace on, and SIGTERM
 * exports what is still queued. With the OTEL variables unset nothing is
 * exported and no OpenTelemetry SDK module is loaded, seen by a module probe
 * preloaded into the child (test/helpers/module-probe.mjs) whose positive
 * control is the first test.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import type { HeraldClient } from '../../src/client.js';
import type { CreateNotificationResponse__Output } from '../../src/generated/proto/herald/v1/CreateNotificationResponse.js';
import { loadHeraldGrpcObject } from '../../src/grpc/proto.js';
import { exitWithin, spawnHerald, startHeraldProcess, tempDir, type ChildHerald, type HeraldProcess } from '../helpers/child-herald.js';
import { freshDatabaseUrl, TEST_DATABASE } from '../helpers/herald.js';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../helpers/otlp-receiver.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';

const TEST_TIMEOUT_MS = 90_000;

const PROBE = fileURLToPath(new URL('../helpers/module-probe.mjs', import.meta.url));

/** OTLP's SpanKind values. */
const SERVER = 2;
const CLIENT = 3;

/** What the notification says: none of it may appear in a span. */
const TITLE = 'Quarterly report for ACME-SECRET-TITLE';
const CONTENT = 'body text CONTENT-MARKER-7f3a';
const METADATA_VALUE = 'META-VALUE-91c2';

async function otlpReceiver(t: TestContext): Promise<OtlpReceiver> {
  const r = await startOtlpReceiver();
  t.after(() => r.close());
  return r;
}

async function webhookReceiver(t: TestContext): Promise<Receiver> {
  const r = await startReceiver();
  t.after(() => r.close());
  return r;
}

/** A Herald child with the module probe preloaded, writing to `<dir>/modules.log`. */
async function herald(t: TestContext, env: Record<string, string>): Promise<{ child: ChildHerald; modulesLog: string }> {
  const dir = tempDir(t);
  const modulesLog = join(dir, 'modules.log');
  const nodeOptions = [process.env.NODE_OPTIONS, `--import ${PROBE}`].filter(Boolean).join(' ');
  const child = await spawnHerald(t, { dir, env: { NODE_OPTIONS: nodeOptions, HERALD_TEST_MODULE_LOG: modulesLog, HERALD_POLL_MS: '200', ...env } });
  return { child, modulesLog };
}

/** The @opentelemetry modules the child loaded, as the probe recorded them (read after it exited). */
function loadedOpenTelemetry(modulesLog: string): string[] {
  if (!existsSync(modulesLog)) return [];
  return readFileSync(modulesLog, 'utf8').split('\n').filter((line) => line !== '');
}

/** CreateNotification with `traceparent` in its gRPC metadata (the Herald client sends no per-call metadata). */
async function createWithTraceparent(address: string, traceparent: string, agentId: string): Promise<CreateNotificationResponse__Output> {
  const api = loadHeraldGrpcObject().herald.v1;
  const client = new api.NotificationService(address, grpc.credentials.createInsecure());
  try {
    const metadata = new grpc.Metadata();
    metadata.set('traceparent', traceparent);
    metadata.set('tracestate', 'caller=1');
    return await new Promise((resolve, reject) => {
      client.CreateNotification(
        {
          agent_id: agentId,
          notification_type: 'report.ready',
          title: TITLE,
          content: CONTENT,
          metadata: { fields: { report: { stringValue: METADATA_VALUE } } },
        },
        metadata,
        (err, res) => (err ? reject(err) : resolve(res!)),
      );
    });
  } finally {
    client.close();
  }
}

async function subscribe(client: HeraldClient, agentId: string, url: string): Promise<void> {
  // A path and a query that must never reach a span.
  await client.preferences.UpdatePreferences({ preferences: { agent_id: agentId, enable_webhook: true, webhook_url: `${url}hooks/PATH-SECRET?token=QUERY-SECRET` } });
}

async function stop(child: HeraldProcess & { readonly client?: HeraldClient }): Promise<void> {
  child.client?.close();
  assert.ok(child.kill('SIGTERM'), 'the child was running');
  const exit = await exitWithin(child, 30_000);
  assert.equal(exit.code, 0, `a clean stop\n${child.describe()}`);
}

function one(spans: readonly ReceivedSpan[], what: string, predicate: (s: ReceivedSpan) => boolean): ReceivedSpan {
  const found = spans.filter(predicate);
  assert.equal(found.length, 1, `exactly one ${what}; spans: ${JSON.stringify(spans, null, 1)}`);
  return found[0]!;
}

describe('OpenTelemetry traces', { timeout: TEST_TIMEOUT_MS }, () => {
  for (const protocol of ['http/protobuf', 'http/json'] as const) {
    it(`a create with a caller's traceparent and its webhook attempt are one trace, the webhook carries it on, and SIGTERM exports it (${protocol})`, async (t) => {
      const otlp = await otlpReceiver(t);
      const receiver = await webhookReceiver(t);
      // A collector's credentials, in the URL and in a header: sent to the collector, never logged.
      const endpoint = otlp.url.replace('http://', 'http://collector:URL-PASSWORD-SECRET@');
      const { child, modulesLog } = await herald(t, {
        OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
        OTEL_EXPORTER_OTLP_HEADERS: 'x-collector-token=HEADER-TOKEN-SECRET',
        OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
        OTEL_SERVICE_NAME: 'herald-under-test',
      });
      const traceId = randomBytes(16).toString('hex');
      const callerSpanId = randomBytes(8).toString('hex');
      await subscribe(child.client, 'ada', receiver.url);

      const created = await createWithTraceparent(child.address, `00-${traceId}-${callerSpanId}-01`, 'ada');
      assert.equal(created.decision?.outcome, 'DECISION_OUTCOME_DELIVER');
      const [webhook] = await receiver.waitForRequests(1);

      // The receiver continues the caller's trace, under a span of Herald's.
      const header = webhook!.headers.traceparent;
      assert.equal(typeof header, 'string', `the webhook carries a traceparent; headers: ${JSON.stringify(webhook!.headers)}`);
      const [version, headerTraceId, attemptSpanId, flags] = (header as string).split('-');
      assert.equal(version, '00');
      assert.equal(headerTraceId, traceId, 'the webhook\'s traceparent is in the caller\'s trace');
      assert.notEqual(attemptSpanId, callerSpanId);
      assert.equal(flags, '01', 'sampled, as the caller asked');

      // Stopped at once: the spans still queued (the batch waits 5 s) go out on SIGTERM.
      await stop(child);
      const spans = otlp.spans;
      assert.ok(otlp.requests.every((r) => r.headers['x-collector-token'] === 'HEADER-TOKEN-SECRET'), 'OTEL_EXPORTER_OTLP_HEADERS reach the collector');
      assert.ok(child.records().some((r) => r.msg === 'OpenTelemetry traces on'));
      assert.ok(!/URL-PASSWORD-SECRET|HEADER-TOKEN-SECRET/.test(child.describe()), `a collector credential was logged\n${child.describe()}`);
      assert.ok(otlp.requests.every((r) => r.path === '/v1/traces'), JSON.stringify(otlp.requests));
      assert.ok(otlp.requests.every((r) => r.contentType.startsWith(protocol === 'http/json' ? 'application/json' : 'application/x-protobuf')), JSON.stringify(otlp.requests));

      const create = one(spans, 'CreateNotification server span', (s) => s.name === 'herald.v1.NotificationService/CreateNotification');
      assert.equal(create.traceId, traceId);
      assert.equal(create.parentSpanId, callerSpanId, 'the caller\'s span is the parent');
      assert.equal(create.kind, SERVER);
      assert.equal(create.resource['service.name'], 'herald-under-test');
      assert.deepEqual(
        { system: create.attributes['rpc.system'], service: create.attributes['rpc.service'], method: create.attributes['rpc.method'], code: create.attributes['rpc.grpc.status_code'] },
        { system: 'grpc', service: 'herald.v1.NotificationService', method: 'CreateNotification', code: 0 },
      );
      assert.deepEqual(
        [create.attributes['herald.decision.outcome'], create.attributes['herald.decision.reason'], create.attributes['herald.decision.endpoint_count'], create.attributes['herald.decision.delivery_count']],
        ['DELIVER', created.decision?.reason.replace('DECISION_REASON_', ''), 1, 1],
      );

      const transaction = one(spans, 'database transaction span', (s) => s.attributes['db.system.name'] !== undefined);
      assert.equal(transaction.traceId, traceId);
      assert.equal(transaction.parentSpanId, create.spanId, 'the transaction is part of the create');
      assert.equal(transaction.attributes['db.system.name'], TEST_DATABASE);
      assert.equal(transaction.attributes['db.system'], TEST_DATABASE);

      const attempt = one(spans, 'webhook attempt span', (s) => s.kind === CLIENT && s.attributes['http.request.method'] === 'POST');
      assert.equal(attempt.traceId, traceId, 'the attempt is in the create\'s trace');
      assert.equal(attempt.parentSpanId, create.spanId, 'the attempt is a child of the create, through the context stored with the delivery');
      assert.equal(attempt.spanId, attemptSpanId, 'the webhook\'s traceparent names the attempt span');
      const port = Number(new URL(receiver.url).port);
      assert.deepEqual(
        [attempt.attributes['server.address'], attempt.attributes['server.port'], attempt.attributes['http.response.status_code'], attempt.attributes['herald.delivery.id']],
        ['127.0.0.1', port, 200, created.decision?.delivery_id],
      );

      // What a span may never carry: the notification's words, its metadata, the URL's path and query.
      const everything = JSON.stringify(spans);
      for (const secret of [TITLE, CONTENT, METADATA_VALUE, 'PATH-SECRET', 'QUERY-SECRET', 'hooks/']) {
        assert.ok(!everything.includes(secret), `"${secret}" appears in an exported span`);
      }
      assert.ok(!spans.some((s) => 'url.full' in s.attributes || 'url.path' in s.attributes), 'no URL path attribute');

      // The module probe's positive control: it does see the SDK when it is loaded.
      const loaded = loadedOpenTelemetry(modulesLog);
      assert.ok(loaded.some((line) => line.includes('/@opentelemetry/sdk-trace/')), `the probe saw the SDK load: ${loaded.join('\n')}`);
    });
  }

  it('every attempt of a retried delivery is a span of the create\'s trace, the failed one an error with its status', async (t) => {
    const otlp = await otlpReceiver(t);
    const receiver = await startReceiver([{ status: 503 }]);
    t.after(() => receiver.close());
    const { child } = await herald(t, { OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url, WEBHOOK_RETRY_DELAY: '0.05', HERALD_RETRY_MIN_DELAY_MS: '0' });
    const traceId = randomBytes(16).toString('hex');
    await subscribe(child.client, 'ada', receiver.url);
    await createWithTraceparent(child.address, `00-${traceId}-${randomBytes(8).toString('hex')}-01`, 'ada');
    const [first, second] = await receiver.waitForRequests(2);
    await stop(child);

    const create = one(otlp.spans, 'CreateNotification server span', (s) => s.name === 'herald.v1.NotificationService/CreateNotification');
    const attempts = otlp.spans.filter((s) => s.kind === CLIENT && s.attributes['http.request.method'] === 'POST');
    assert.deepEqual(
      attempts.map((a) => [a.traceId, a.parentSpanId, a.attributes['herald.delivery.attempt'], a.attributes['http.response.status_code'], a.attributes['error.type'] ?? null, a.statusCode]),
      [[traceId, create.spanId, 1, 503, '503', 2], [traceId, create.spanId, 2, 200, null, 0]],
    );
    // Each request names its own attempt.
    assert.deepEqual([first!.headers.traceparent, second!.headers.traceparent], attempts.map((a) => `00-${traceId}-${a.spanId}-01`));
  });

  it('an attempt made by a worker in another process is in the trace of the create an API process answered (PostgreSQL)', async (t) => {
    if (TEST_DATABASE !== 'postgresql') {
      t.skip('one SQLite file serves one process; test/postgres/tracing.test.ts runs this with an API and a worker process');
      return;
    }
    const otlp = await otlpReceiver(t);
    const receiver = await webhookReceiver(t);
    const dir = tempDir(t);
    const url = await freshDatabaseUrl(t, dir);
    const env = { DATABASE_URL: url, OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url, HERALD_POLL_MS: '200' };
    const api = await spawnHerald(t, { dir, env: { ...env, HERALD_ROLE: 'api' } });
    const worker = startHeraldProcess(t, { dir, env: { ...env, HERALD_ROLE: 'worker' } });
    await worker.waitForLog('Herald started', 60_000);
    const traceId = randomBytes(16).toString('hex');
    await subscribe(api.client, 'ada', receiver.url);
    await createWithTraceparent(api.address, `00-${traceId}-${randomBytes(8).toString('hex')}-01`, 'ada');
    const [webhook] = await receiver.waitForRequests(1);
    await stop(api);
    await stop(worker);

    const create = one(otlp.spans, 'CreateNotification server span', (s) => s.name === 'herald.v1.NotificationService/CreateNotification');
    const attempt = one(otlp.spans, 'webhook attempt span', (s) => s.kind === CLIENT && s.attributes['http.request.method'] === 'POST');
    assert.deepEqual([attempt.traceId, attempt.parentSpanId], [traceId, create.spanId]);
    assert.equal(webhook!.headers.traceparent, `00-${traceId}-${attempt.spanId}-01`);
    // Two exporters: the API's requests and the worker's.
    assert.ok(otlp.requests.length >= 2, JSON.stringify(otlp.requests));
  });

  it('with the OTEL variables unset, nothing is exported, the webhook carries no traceparent and no OpenTelemetry SDK module is loaded', async (t) => {
    const otlp = await otlpReceiver(t);
    const receiver = await webhookReceiver(t);
    const { child, modulesLog } = await herald(t, {});
    await subscribe(child.client, 'ada', receiver.url);
    const created = await createWithTraceparent(child.address, `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`, 'ada');
    assert.equal(created.decision?.outcome, 'DECISION_OUTCOME_DELIVER');
    const [webhook] = await receiver.waitForRequests(1);
    assert.equal(webhook!.headers.traceparent, undefined);
    await stop(child);

    assert.deepEqual(otlp.requests, [], 'nothing was exported');
    assert.ok(!child.records().some((r) => r.msg === 'OpenTelemetry traces on'), 'tracing did not start');
    // @opentelemetry/api alone may be loaded by a dependency (prom-client requires it); nothing of the SDK may be.
    const sdk = loadedOpenTelemetry(modulesLog).filter((line) => !line.includes('/@opentelemetry/api/'));
    assert.deepEqual(sdk, [], 'no OpenTelemetry SDK module was loaded');
  });
});
