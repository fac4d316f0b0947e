import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';

import { ALERTS_FILE, NO_PROMETHEUS, freePort, prometheusBinary, readYaml, type AlertRule } from '../helpers/deploy.js';
import { startHerald } from '../helpers/herald.js';
import { startReceiver } from '../helpers/receiver.js';

/*
 * The alert rules in a real Prometheus (Debian's package) scraping a real
 * Herald whose receiver answers 500 to everything: HeraldDeliveriesFailing
 * must go to firing.
 *
 * The rules file is the shipped one with one change: the alert's `for:` (ten
 * minutes in production, so that a short blip pages nobody) is shortened to
 * one second by rewriting the parsed YAML. Everything the test is about (the
 * expression, the series it reads, the labels and annotations) stays as
 * shipped; Prometheus scrapes and evaluates every second.
 */

const ALERT = 'HeraldDeliveriesFailing';
const DEADLINE_MS = 90_000;

interface PrometheusAlert {
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
  readonly state: 'pending' | 'firing';
}

/** alerts.yaml with `alert`'s `for:` replaced. */
function rulesWithFor(alert: string, duration: string): string {
  const file = readYaml(ALERTS_FILE) as { groups: Array<{ rules: Array<AlertRule & { for?: string }> }> };
  const rule = file.groups.flatMap((g) => g.rules).find((r) => r.alert === alert);
  assert.ok(rule !== undefined, `no rule ${alert} in ${ALERTS_FILE}`);
  rule.for = duration;
  return stringify(file);
}

/** Starts Prometheus on a free loopback port; retries with another when the port was taken in between. */
async function startPrometheus(t: TestContext, dir: string): Promise<string> {
  const bin = prometheusBinary('prometheus')!;
  for (let tries = 1; ; tries++) {
    const port = await freePort();
    const data = join(dir, `data-${tries}`);
    const proc = spawn(bin, [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${data}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    proc.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exited = once(proc, 'exit');
    t.after(async () => {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        await exited;
      }
    });
    const base = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + DEADLINE_MS;
    while (proc.exitCode === null) {
      const ready = await fetch(`${base}/-/ready`).then((r) => r.ok, () => false);
      if (ready) return base;
      if (Date.now() > deadline) assert.fail(`Prometheus did not become ready: ${stderr}`);
      await Promise.race([sleep(100), exited]);
    }
    if (tries < 3 && /address already in use/.test(stderr)) continue;
    assert.fail(`Prometheus exited with ${proc.exitCode}: ${stderr}`);
  }
}

test('a real Prometheus scraping a Herald whose receiver fails fires HeraldDeliveriesFailing with its summary and runbook', async (t) => {
  if (prometheusBinary('prometheus') === null) return t.skip(NO_PROMETHEUS);
  const receiver = await startReceiver([]);
  t.after(() => receiver.close());
  receiver.setScript(Array.from({ length: 10_000 }, () => ({ status: 500, body: 'receiver is broken' })));
  // No retries (each create is one failed attempt) and no switch-off (which would suppress the next creates).
  const { app, client } = await startHerald(t, { env: { HERALD_METRICS_ADDRESS: '127.0.0.1:0', WEBHOOK_MAX_RETRIES: '0', HERALD_DISABLE_AFTER_FAILURES: '0' } });
  await client.preferences.UpdatePreferences({ preferences: { agent_id: 'prom-agent', enable_webhook: true, webhook_url: receiver.url } });

  const dir = mkdtempSync(join(tmpdir(), 'herald-prometheus-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'alerts.yaml'), rulesWithFor(ALERT, '1s'));
  writeFileSync(
    join(dir, 'prometheus.yml'),
    stringify({
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      rule_files: ['alerts.yaml'],
      scrape_configs: [{ job_name: 'herald', static_configs: [{ targets: [`127.0.0.1:${app.metricsPort}`] }] }],
    }),
  );
  const prometheus = await startPrometheus(t, dir);

  // Failing webhooks keep coming while Prometheus watches: the rate needs two scrapes that differ.
  const deadline = Date.now() + DEADLINE_MS;
  let firing: PrometheusAlert | undefined;
  let seen: PrometheusAlert[] = [];
  while (firing === undefined) {
    if (Date.now() > deadline) assert.fail(`${ALERT} did not fire within ${DEADLINE_MS} ms; alerts: ${JSON.stringify(seen)}; receiver got ${receiver.requests.length} requests`);
    await client.notifications.CreateNotification({ agent_id: 'prom-agent', notification_type: 'job.failed', title: 'Job failed' });
    const body = (await (await fetch(`${prometheus}/api/v1/alerts`)).json()) as { data: { alerts: PrometheusAlert[] } };
    seen = body.data.alerts;
    firing = seen.find((a) => a.labels.alertname === ALERT && a.state === 'firing');
    if (firing === undefined) await sleep(250);
  }
  assert.ok(receiver.requests.length > 0, 'the receiver was called');
  assert.equal(firing.labels.severity, 'warning');
  assert.equal(firing.annotations.summary, '100% of webhook attempts failed over the last 5 minutes (threshold 20%).');
  assert.equal(firing.annotations.runbook_url, 'docs/OPERATIONS.md#heralddeliveriesfailing');
});
