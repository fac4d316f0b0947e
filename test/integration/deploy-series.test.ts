import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';

import { DASHBOARD_FILE, NO_PROMETHEUS, alertRules, prometheusBinary, readDocumentText, seriesNames, withoutGrafanaVariables } from '../helpers/deploy.js';
import { startHerald } from '../helpers/herald.js';
import { scrape } from '../helpers/metrics.js';
import { startReceiver } from '../helpers/receiver.js';

/*
 * The dashboard and the alert rules (issue #23) may name only series Herald
 * exports: every series name in their queries must appear in the /metrics of
 * a real Herald that has served calls and delivered a webhook.
 */

interface Panel {
  readonly title: string;
  readonly targets?: ReadonlyArray<{ readonly expr: string }>;
}

function dashboardQueries(): Array<{ where: string; expr: string }> {
  const dashboard = JSON.parse(readDocumentText(DASHBOARD_FILE)) as { panels: Panel[] };
  return dashboard.panels.flatMap((p) => (p.targets ?? []).map((target) => ({ where: `dashboard panel "${p.title}"`, expr: withoutGrafanaVariables(target.expr) })));
}

function alertQueries(): Array<{ where: string; expr: string }> {
  return alertRules().map((r) => ({ where: `alert ${r.alert}`, expr: r.expr }));
}

test("every series the dashboard's queries and the alert rules read is in a real Herald's /metrics", async (t) => {
  const receiver = await startReceiver([]);
  t.after(() => receiver.close());
  const { app, client } = await startHerald(t, { env: { HERALD_METRICS_ADDRESS: '127.0.0.1:0' } });
  await client.preferences.UpdatePreferences({ preferences: { agent_id: 'series-agent', enable_webhook: true, webhook_url: receiver.url } });
  const created = await client.notifications.CreateNotification({ agent_id: 'series-agent', notification_type: 'job.completed', title: 'Job finished' });
  const deliveryId = created.decision?.delivery_id ?? '';
  const deadline = Date.now() + 20_000;
  while ((await client.deliveries.GetDelivery({ id: deliveryId })).status !== 'DELIVERY_STATUS_SUCCEEDED') {
    if (Date.now() > deadline) assert.fail(`delivery ${deliveryId} did not succeed`);
    await sleep(25);
  }
  const exported = new Set((await scrape(app.metricsPort!)).samples.map((s) => s.name));

  const queries = [...dashboardQueries(), ...alertQueries()];
  const used = new Set<string>();
  for (const { where, expr } of queries) {
    const names = seriesNames(expr);
    assert.ok(names.length > 0, `${where}: no series found in ${expr}`);
    for (const name of names) {
      used.add(name);
      assert.ok(exported.has(name), `${where} reads ${name}, which Herald does not export (query: ${expr})`);
    }
  }
  // The dashboard covers what the issue lists: throughput, decisions, delivery success and latency, the queue, switched-off endpoints.
  for (const name of ['herald_notifications_total', 'herald_delivery_attempts_total', 'herald_delivery_attempt_duration_seconds_bucket', 'herald_deliveries_due', 'herald_endpoints_disabled_total']) {
    assert.ok(dashboardQueries().some((q) => seriesNames(q.expr).includes(name)), `the dashboard has no panel over ${name}`);
  }
  assert.ok(used.size >= 10, `only ${used.size} series used`);
});

test('every dashboard query is valid PromQL (promtool check rules over them as recording rules)', (t) => {
  const promtool = prometheusBinary('promtool');
  if (promtool === null) return t.skip(NO_PROMETHEUS);
  const dir = mkdtempSync(join(tmpdir(), 'herald-dashboard-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'dashboard-rules.yaml');
  const queries = dashboardQueries();
  writeFileSync(file, stringify({ groups: [{ name: 'dashboard', rules: queries.map((q, i) => ({ record: `dashboard:query_${i}`, expr: q.expr })) }] }));
  const r = spawnSync(promtool, ['check', 'rules', file], { encoding: 'utf8', timeout: 60_000 });
  const output = `${r.stdout}${r.stderr}`;
  assert.equal(r.status, 0, `${output}\n${queries.map((q, i) => `query_${i}: ${q.where}: ${q.expr}`).join('\n')}`);
});
