import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cleanup } from '../helpers/herald.js';
import { CONSOLE_TOKENS, ConsoleSession, startConsoleHerald } from '../helpers/console.js';
import { startReceiver, type ReceiverStep } from '../helpers/receiver.js';

/*
 * The overview's hourly series through the console page: test webhooks sent
 * at chosen instants (an injected clock) land in the right UTC hour, with
 * the right counts and p50/p95 of their recorded durations.
 */

/** Nearest-rank percentile, written apart from the SQL it checks. */
function nearestRank(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(1, Math.ceil(p * sorted.length)) - 1] ?? NaN;
}

test('attempts at known instants land in their UTC hour of the last 24, with their counts and p50/p95; other tenants and instants outside the window are left out', async (t) => {
  let now = new Date('2026-03-10T12:30:00Z');
  const c = await startConsoleHerald(t, { env: { HERALD_WORKER: 'false' }, clock: () => now });
  const receiver = await startReceiver();
  cleanup(t, () => receiver.close());
  for (const tenant of ['default', 'other']) {
    await c.grpc(tenant).preferences.UpdatePreferences({ preferences: { agent_id: 'series-agent', enable_webhook: true, webhook_url: receiver.url } });
  }
  const plan: Array<{ at: string; tenant?: string; outside?: true; answer: ReceiverStep }> = [
    { at: '2026-03-09T12:59:59.999Z', outside: true, answer: { status: 200 } }, // just before the window
    { at: '2026-03-09T13:00:00.000Z', answer: { status: 500 } }, // its first instant
    { at: '2026-03-10T09:00:00.000Z', answer: { status: 200 } },
    { at: '2026-03-10T09:20:00.000Z', answer: { status: 200, delayMs: 30 } },
    { at: '2026-03-10T09:30:00.000Z', tenant: 'other', answer: { status: 200 } },
    { at: '2026-03-10T09:40:00.000Z', answer: { status: 503 } },
    { at: '2026-03-10T09:59:59.999Z', answer: { status: 204, delayMs: 60 } },
    { at: '2026-03-10T10:00:00.000Z', answer: { status: 200 } },
    { at: '2026-03-10T13:00:00.000Z', outside: true, answer: { status: 200 } }, // the end of the window: excluded
  ];
  const durations = new Map<string, number[]>();
  for (const step of plan) {
    now = new Date(step.at);
    receiver.setScript([step.answer]);
    const sent = await c.grpc(step.tenant ?? 'default').deliveries.SendTestWebhook({ agent_id: 'series-agent' });
    assert.equal(sent.success, 'status' in step.answer && step.answer.status < 300, step.at);
    if (step.tenant === undefined && step.outside === undefined) durations.set(step.at.slice(0, 13), [...(durations.get(step.at.slice(0, 13)) ?? []), sent.duration_ms]);
  }
  now = new Date('2026-03-10T12:30:00Z');
  const s = new ConsoleSession(c.base);
  assert.equal((await s.signIn(CONSOLE_TOKENS.read)).status, 303);
  const page = await s.get('/');
  assert.equal(page.status, 200);
  const bars = [...page.body.matchAll(/<title>([\d-]+ \d\d:00)–\d\d:00 UTC: (\d+) succeeded, (\d+) failed<\/title>/g)].map((m) => `${m[1]} ${m[2]}/${m[3]}`);
  assert.deepEqual(bars, ['2026-03-09 13:00 0/1', '2026-03-10 09:00 3/1', '2026-03-10 10:00 1/0']);
  assert.match(page.body, /Attempts per hour \(UTC\): 6 in 24 h/);
  const rates = [...page.body.matchAll(/<title>([\d-]+ \d\d:00)–\d\d:00 UTC: succeeded \/ attempts ([\d.]+ %)<\/title>/g)].map((m) => `${m[1]} ${m[2]}`);
  assert.deepEqual(rates, ['2026-03-09 13:00 0 %', '2026-03-10 09:00 75 %', '2026-03-10 10:00 100 %'], 'hours without attempts have no rate at all');
  for (const [hour, ms] of durations) {
    const label = `${hour.slice(0, 10)} ${hour.slice(11)}:00`;
    for (const [name, p] of [['p50', 0.5], ['p95', 0.95]] as const) {
      const shown = new RegExp(`<title>${label}–\\d\\d:00 UTC: ${name} (\\d+) ms</title>`).exec(page.body);
      assert.equal(Number(shown?.[1]), nearestRank(ms, p), `${name} of ${label} (${ms.join(', ')} ms)`);
    }
  }
  const other = new ConsoleSession(c.base);
  assert.equal((await other.signIn(CONSOLE_TOKENS.otherWrite)).status, 303);
  const theirs = [...(await other.get('/')).body.matchAll(/<title>([\d-]+ \d\d:00)–\d\d:00 UTC: (\d+) succeeded, (\d+) failed<\/title>/g)].map((m) => `${m[1]} ${m[2]}/${m[3]}`);
  assert.deepEqual(theirs, ['2026-03-10 09:00 1/0'], 'the other tenant sees only its own attempt');
});
