import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';

import { App } from '../../src/app.js';
import { createHeraldClient, type HeraldClient } from '../../src/client.js';
import { loadConfig } from '../../src/config.js';
import { cleanup, freshDatabaseUrl } from '../helpers/herald.js';
import { startReceiver, type ReceiverStep } from '../helpers/receiver.js';

/*
 * Logs an operator can act on (issue #10): a real Herald whose JSON log
 * lines are captured, driven through the gRPC API.
 */

type Line = Record<string, unknown>;
const DEADLINE_MS = 20_000;

async function heraldWithLog(t: TestContext, level: 'info' | 'debug'): Promise<{ client: HeraldClient; lines: Line[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'herald-logs-'));
  cleanup(t, () => rmSync(dir, { recursive: true, force: true }));
  const config = loadConfig({
    DATABASE_URL: await freshDatabaseUrl(t, dir),
    GRPC_ADDRESS: '127.0.0.1:0',
    HERALD_ALLOW_HTTP_TARGETS: 'true',
    HERALD_ALLOW_PRIVATE_TARGETS: 'true',
    WEBHOOK_RETRY_DELAY: '0.05',
    HERALD_POLL_MS: '200',
  });
  const lines: Line[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') lines.push(JSON.parse(line) as Line);
      done();
    },
  });
  const app = await App.start(config, pino({ level }, stream));
  const client = createHeraldClient(`127.0.0.1:${app.port}`);
  cleanup(t, async () => {
    client.close();
    await app.stop(2_000);
  });
  return { client, lines };
}

async function receiverFor(t: TestContext, script: readonly ReceiverStep[]): Promise<string> {
  const receiver = await startReceiver(script);
  t.after(() => receiver.close());
  return receiver.url;
}

async function waitForLine(lines: Line[], what: string, match: (l: Line) => boolean): Promise<Line> {
  const deadline = Date.now() + DEADLINE_MS;
  for (;;) {
    const found = lines.find(match);
    if (found !== undefined) return found;
    if (Date.now() > deadline) assert.fail(`no log line ${what} after ${DEADLINE_MS} ms; got: ${lines.map((l) => l['msg']).join(' | ')}`);
    await sleep(25);
  }
}

async function deliver(client: HeraldClient, agent_id: string): Promise<string> {
  const res = await client.notifications.CreateNotification({ agent_id, notification_type: 'job.completed', title: 'Job finished' });
  assert.equal(res.decision?.outcome, 'DECISION_OUTCOME_DELIVER');
  return res.decision?.delivery_id ?? '';
}

test('a delivery that ends FAILED is logged at warn with its last error; one that succeeds is not', async (t) => {
  const { client, lines } = await heraldWithLog(t, 'info');
  const failing = await receiverFor(t, [{ status: 400 }]);
  const fine = await receiverFor(t, []);
  await client.preferences.UpdatePreferences({ preferences: { agent_id: 'logs-400', enable_webhook: true, webhook_url: failing } });
  await client.preferences.UpdatePreferences({ preferences: { agent_id: 'logs-ok', enable_webhook: true, webhook_url: fine } });
  const okId = await deliver(client, 'logs-ok');
  const failedId = await deliver(client, 'logs-400');
  const warn = await waitForLine(lines, 'for the FAILED delivery', (l) => l['deliveryId'] === failedId && l['level'] === 40);
  assert.match(String(warn['msg']), /delivery FAILED/);
  assert.equal(warn['agentId'], 'logs-400');
  assert.equal(warn['lastStatusCode'], 400);
  assert.match(String(warn['lastError']), /HTTP 400/);
  await waitForLine(lines, 'for the successful attempt', (l) => l['deliveryId'] === okId && l['msg'] === 'webhook attempt');
  assert.equal(lines.filter((l) => l['deliveryId'] === okId && Number(l['level']) >= 40).length, 0, 'a success logs nothing at warn');
});

test("an agent's webhook turned off by a 410 is logged at warn", async (t) => {
  const { client, lines } = await heraldWithLog(t, 'info');
  const gone = await receiverFor(t, [{ status: 410 }]);
  await client.preferences.UpdatePreferences({ preferences: { agent_id: 'logs-410', enable_webhook: true, webhook_url: gone } });
  const id = await deliver(client, 'logs-410');
  const warn = await waitForLine(lines, 'for the disabled webhook', (l) => l['level'] === 40 && /webhook disabled/.test(String(l['msg'])));
  assert.equal(warn['agentId'], 'logs-410');
  assert.equal(warn['deliveryId'], id);
  assert.match(String(warn['msg']), /set enable_webhook again/, 'the first endpoint is the 0.2 webhook: enable_webhook turns it on again');
  const prefs = await client.preferences.GetPreferences({ agent_id: 'logs-410' });
  assert.equal(prefs.enable_webhook, false);
});

test('an endpoint other than the first turned off by a 410 is logged at warn with its id and says to turn it on with UpdateEndpoint', async (t) => {
  const { client, lines } = await heraldWithLog(t, 'info');
  const fine = await receiverFor(t, []);
  const gone = await receiverFor(t, [{ status: 410 }]);
  await client.preferences.UpdatePreferences({ preferences: { agent_id: 'logs-ep-410', enable_webhook: true, webhook_url: fine } });
  const endpoint = await client.endpoints.CreateEndpoint({ endpoint: { agent_id: 'logs-ep-410', url: `${gone}gone` } });
  await deliver(client, 'logs-ep-410');
  const warn = await waitForLine(lines, 'for the disabled endpoint', (l) => l['level'] === 40 && /disabled/.test(String(l['msg'])));
  assert.equal(warn['agentId'], 'logs-ep-410');
  assert.equal(warn['endpointId'], endpoint.id);
  assert.match(String(warn['msg']), /turn it on again with UpdateEndpoint \(enabled=true\)/);
  assert.doesNotMatch(String(warn['msg']), /enable_webhook/, 'the master switch is on and would not turn this endpoint on');
  assert.equal((await client.endpoints.GetEndpoint({ id: endpoint.id })).enabled, false);
  assert.equal((await client.preferences.GetPreferences({ agent_id: 'logs-ep-410' })).enable_webhook, true);
});

test('at debug, every decision is one line with the agent, type, outcome and reason; at info there is none', async (t) => {
  const debug = await heraldWithLog(t, 'debug');
  await debug.client.notifications.CreateNotification({ agent_id: 'logs-nobody', notification_type: 'billing.invoice_paid', title: 'Paid' });
  const line = await waitForLine(debug.lines, 'for the decision', (l) => l['msg'] === 'notification decided');
  assert.equal(line['level'], 20);
  assert.deepEqual(
    [line['agentId'], line['notificationType'], line['outcome'], line['reason']],
    ['logs-nobody', 'billing.invoice_paid', 'SUPPRESS', 'WEBHOOK_DISABLED'],
  );
  const info = await heraldWithLog(t, 'info');
  await info.client.notifications.CreateNotification({ agent_id: 'logs-nobody', notification_type: 'billing.invoice_paid', title: 'Paid' });
  assert.equal(info.lines.filter((l) => l['msg'] === 'notification decided').length, 0);
});
