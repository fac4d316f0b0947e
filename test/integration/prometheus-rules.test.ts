import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname } from 'node:path';
import { test } from 'node:test';

import { ALERTS_FILE, ALERTS_TEST_FILE, NO_PROMETHEUS, OPERATIONS_FILE, alertRules, prometheusBinary, readDocumentText, readYaml } from '../helpers/deploy.js';

/*
 * deploy/prometheus/alerts.yaml (issue #23): Prometheus' own tool checks the
 * rules and runs their unit tests (alerts.test.yaml); each alert must come
 * with a summary and a runbook section that exists in docs/OPERATIONS.md,
 * and must be tested both firing and not firing.
 */

function promtool(args: string[]): { status: number | null; output: string } {
  const bin = prometheusBinary('promtool')!;
  const r = spawnSync(bin, args, { cwd: dirname(ALERTS_FILE), encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

test('promtool check rules accepts alerts.yaml', (t) => {
  if (prometheusBinary('promtool') === null) return t.skip(NO_PROMETHEUS);
  const r = promtool(['check', 'rules', ALERTS_FILE]);
  assert.equal(r.status, 0, r.output);
  assert.match(r.output, new RegExp(`SUCCESS: ${alertRules().length} rules found`));
});

test("promtool test rules passes alerts.test.yaml (every alert's firing and quiet cases)", (t) => {
  if (prometheusBinary('promtool') === null) return t.skip(NO_PROMETHEUS);
  const r = promtool(['test', 'rules', ALERTS_TEST_FILE]);
  assert.equal(r.status, 0, r.output);
  assert.match(r.output, /SUCCESS/);
});

test('every alert has a severity, a summary and a runbook section of docs/OPERATIONS.md, and is tested firing and not firing', () => {
  const operations = readDocumentText(OPERATIONS_FILE);
  // GitHub's anchors: the heading in lower case, punctuation dropped, spaces as hyphens.
  const anchors = new Set([...operations.matchAll(/^#{1,6} (.+)$/gm)].map((m) => m[1]!.trim().toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-')));
  const cases = (readYaml(ALERTS_TEST_FILE) as { tests: Array<{ alert_rule_test?: Array<{ alertname: string; exp_alerts?: unknown[] }> }> }).tests.flatMap((c) => c.alert_rule_test ?? []);
  const rules = alertRules();
  assert.ok(rules.length >= 6, 'the issue names six things to alert on');
  for (const rule of rules) {
    assert.match(rule.labels?.severity ?? '', /^(critical|warning|info)$/, `${rule.alert}: severity`);
    assert.ok((rule.annotations?.summary ?? '').length > 10, `${rule.alert}: a summary`);
    const runbook = rule.annotations?.runbook_url ?? '';
    const m = /^docs\/OPERATIONS\.md#(.+)$/.exec(runbook);
    assert.ok(m !== null, `${rule.alert}: runbook_url ${runbook} is not a section of docs/OPERATIONS.md`);
    assert.ok(anchors.has(m[1]!), `${rule.alert}: docs/OPERATIONS.md has no heading for #${m[1]}`);
    const mine = cases.filter((c) => c.alertname === rule.alert);
    assert.ok(mine.some((c) => (c.exp_alerts ?? []).length > 0), `${rule.alert}: no case in alerts.test.yaml where it fires`);
    assert.ok(mine.some((c) => (c.exp_alerts ?? []).length === 0), `${rule.alert}: no case in alerts.test.yaml where it stays quiet`);
  }
});
