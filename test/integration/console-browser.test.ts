import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { test, type TestContext } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { Webhook } from 'standardwebhooks';
import { CHROMIUM, CHROMIUM_FLAGS } from '../helpers/chromium.js';
import { cleanup } from '../helpers/herald.js';
import { CONSOLE_TOKENS, quietAroundNow, startConsoleHerald, type ConsoleHerald } from '../helpers/console.js';
import { waitForFinal } from '../helpers/deliveries.js';
import { startReceiver, type ReceiverStep } from '../helpers/receiver.js';

/*
 * The operator console in a real Chromium (Debian's `chromium`, driven by
 * playwright-core) against a real Herald: what an operator clicks through to
 * answer "why did agent X not get notification Y" and "what is failing".
 *
 * HERALD_TEST_CHROMIUM names the browser (default /usr/bin/chromium); without
 * one the test skips and says why. HERALD_CONSOLE_SCREENSHOTS=1 saves a PNG
 * of each page into docs/console/ (docs/monitoring.md shows them).
 */

const SCREENSHOTS = process.env.HERALD_CONSOLE_SCREENSHOTS === '1' ? new URL('../../docs/console/', import.meta.url) : null;

async function shot(page: Page, name: string): Promise<void> {
  if (SCREENSHOTS === null) return;
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: new URL(`${name}.png`, SCREENSHOTS).pathname, fullPage: true });
}

async function signIn(context: BrowserContext, c: ConsoleHerald, token: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${c.base}/agents`);
  assert.match(page.url(), /\/sign-in\?next=%2Fagents$/);
  await page.fill('input[name=token]', token);
  await page.click('button:has-text("Sign in")');
  await page.waitForURL(`${c.base}/agents`);
  return page;
}

/** Hours ago (1-22) and the answers of the test webhooks sent then: the overview's charts get a day with gaps. */
const HISTORY: ReadonlyArray<readonly [number, readonly ReceiverStep[]]> = [
  [22, [{ status: 200, delayMs: 8 }, { status: 200, delayMs: 12 }]],
  [19, [{ status: 200, delayMs: 5 }, { status: 200, delayMs: 9 }, { status: 200, delayMs: 30 }]],
  [16, [{ status: 200, delayMs: 6 }, { status: 500, delayMs: 3 }]],
  [13, [{ status: 200, delayMs: 10 }, { status: 200, delayMs: 14 }, { status: 200, delayMs: 45 }, { status: 200, delayMs: 11 }]],
  [12, [{ status: 200, delayMs: 9 }, { status: 200, delayMs: 20 }]],
  [8, [{ status: 503, delayMs: 2 }, { status: 503, delayMs: 2 }, { status: 200, delayMs: 60 }]],
  [7, [{ status: 200, delayMs: 15 }, { status: 500, delayMs: 4 }, { status: 200, delayMs: 25 }, { status: 200, delayMs: 18 }]],
  [4, [{ status: 200, delayMs: 7 }, { status: 200, delayMs: 9 }]],
  [2, [{ status: 200, delayMs: 12 }, { status: 200, delayMs: 16 }, { status: 200, delayMs: 35 }]],
  [1, [{ status: 200, delayMs: 10 }]],
];

/**
 * A console Herald whose database already holds test webhooks sent at
 * whole hours in the past (a first instance with a clock set back and no
 * worker makes them; the one returned, on the same database, has the real
 * clock and a worker).
 */
async function withAttemptHistory(t: TestContext): Promise<ConsoleHerald> {
  let offsetMs = 0;
  const seeding = await startConsoleHerald(t, { env: { HERALD_WORKER: 'false' }, clock: () => new Date(Date.now() + offsetMs) });
  const history = await startReceiver();
  cleanup(t, () => history.close());
  const grpc = seeding.grpc('default');
  await grpc.preferences.UpdatePreferences({ preferences: { agent_id: 'hourly-report', enable_webhook: true, webhook_url: history.url } });
  for (const [hoursAgo, answers] of HISTORY) {
    offsetMs = -hoursAgo * 3_600_000;
    history.setScript(answers);
    for (let i = 0; i < answers.length; i++) await grpc.deliveries.SendTestWebhook({ agent_id: 'hourly-report' });
  }
  offsetMs = 0;
  return seeding.restart({ HERALD_WORKER: 'true' });
}

test('in Chromium: an operator finds an agent, sees why a notification was deferred, retries a failed delivery, and a read token can change nothing', async (t) => {
  if (!existsSync(CHROMIUM)) {
    t.skip(`no Chromium at ${CHROMIUM}: install Debian's chromium (apt-get install chromium) or set HERALD_TEST_CHROMIUM; the HTTP-level console tests still ran`);
    return;
  }
  const c = await withAttemptHistory(t);
  const grpc = c.grpc('default');
  const flaky = await startReceiver([{ status: 500, body: 'upstream unavailable' }, { status: 200, body: 'ok' }]);
  cleanup(t, () => flaky.close());
  await grpc.preferences.UpdatePreferences({
    preferences: { agent_id: 'night-owl', enable_webhook: true, webhook_url: flaky.url, time_zone: 'UTC', quiet_hours: { ...quietAroundNow(), policy: 'QUIET_HOURS_POLICY_DEFER' }, max_notifications_per_hour: 10 },
  });
  const deferred = await grpc.notifications.CreateNotification({ agent_id: 'night-owl', notification_type: 'digest', title: 'Nightly digest' });
  await grpc.preferences.UpdatePreferences({ preferences: { agent_id: 'flaky-hook', enable_webhook: true, webhook_url: `${flaky.url}hooks?token=url-credential` } });
  const failing = await grpc.notifications.CreateNotification({ agent_id: 'flaky-hook', notification_type: 'job.failed', title: 'Export failed' });
  const deliveryId = failing.decision?.delivery_id ?? '';
  assert.equal((await waitForFinal(grpc, deliveryId)).status, 'DELIVERY_STATUS_FAILED');
  await c.grpc('other').preferences.UpdatePreferences({ preferences: { agent_id: 'other-tenant-agent' } });
  const secret = (await grpc.preferences.GetWebhookSecret({ agent_id: 'flaky-hook' })).webhook_secret;

  const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS });
  cleanup(t, () => browser.close());
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const cspErrors: string[] = [];
  context.on('console', (m) => {
    // 404s (the other tenant's agent, the favicon) are answers, not faults of the page.
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) cspErrors.push(m.text());
  });
  context.on('weberror', (e) => cspErrors.push(e.error().message));
  const page = await signIn(context, c, CONSOLE_TOKENS.write);

  await t.test('agents: search by id, with quiet hours and the hourly limit in use', async () => {
    await page.fill('input[name=q]', 'night');
    // The search is a GET form: wait for its page before counting rows, or a
    // slow machine counts the rows of the page being left (0).
    await Promise.all([page.waitForURL((url) => url.searchParams.get('q') === 'night'), page.click('button:has-text("Search")')]);
    const row = page.locator('#agents tbody tr');
    assert.equal(await row.count(), 1);
    const text = (await row.textContent()) ?? '';
    assert.match(text, /night-owl/);
    assert.match(text, /quiet now/);
    assert.match(text, /1 \/ 10 in the last hour/);
    await page.goto(`${c.base}/agents`);
    await shot(page, 'agents');
  });

  await t.test('an agent and its DEFER notification show the reason and the explanation', async () => {
    await page.click('a:has-text("night-owl")');
    await page.waitForURL(/\/agents\/night-owl/);
    assert.match((await page.locator('#notifications').textContent()) ?? '', /DEFER.*QUIET_HOURS/s);
    await shot(page, 'agent');
    await page.click('#notifications tbody tr a >> nth=0');
    await page.waitForURL(/\/notifications\//);
    assert.equal(await page.locator('.reason-code').textContent(), 'QUIET_HOURS');
    assert.equal(await page.locator('.explanation').textContent(), deferred.decision?.explanation);
    await shot(page, 'notification');
  });

  await t.test('"why would this be sent?" evaluates the same decision', async () => {
    await page.click('a:has-text("Evaluate again")');
    await page.waitForURL(/\/why\?/);
    assert.equal(await page.locator('#evaluation .reason-code').textContent(), 'QUIET_HOURS');
    await page.selectOption('select[name=priority]', 'URGENT');
    await page.fill('input[name=at]', '');
    await page.click('button:has-text("Evaluate")');
    assert.equal(await page.locator('#evaluation .reason-code').textContent(), 'QUIET_HOURS', 'no urgent bypass is set');
    await shot(page, 'why');
  });

  await t.test('the overview shows the charts, the queue and the latest failures (before the retry)', async () => {
    await page.goto(c.base);
    assert.equal(await page.locator('figure.chart svg').count(), 4);
    assert.ok((await page.locator('svg g.hour').count()) >= HISTORY.length, 'a stacked bar for every hour with attempts');
    assert.ok((await page.locator('path.line-p95').getAttribute('d'))?.includes(' M'), 'the latency line has gaps for hours without attempts');
    assert.match((await page.locator('#queue-due').textContent()) ?? '', /^\d+$/);
    assert.match((await page.locator('table.deliveries').textContent()) ?? '', new RegExp(`${deliveryId}.*flaky-hook.*FAILED`, 's'), 'the failed delivery is under "failing now"');
    await shot(page, 'overview');
  });

  await t.test('retrying a failed delivery shows the new attempt', async () => {
    await page.goto(`${c.base}/deliveries/${deliveryId}`);
    assert.equal(await page.locator('#attempts tbody tr').count(), 1);
    assert.match((await page.locator('#attempts').textContent()) ?? '', /upstream unavailable/);
    await page.click('#retry');
    await page.waitForURL(/done=retried/);
    assert.equal(await page.locator('#attempts tbody tr').count(), 2);
    assert.match((await page.locator('#attempts tbody tr >> nth=1').textContent()) ?? '', /200.*MANUAL/s);
    assert.equal(await page.locator('#delivery-status').textContent(), 'SUCCEEDED');
    await shot(page, 'delivery');
  });

  await t.test('the live view adds a row for a delivery made while it is open', async () => {
    await page.goto(`${c.base}/live`);
    await page.locator('#live-state:has-text("connected")').waitFor();
    await grpc.notifications.CreateNotification({ agent_id: 'flaky-hook', notification_type: 'job.done', title: 'Export done' });
    await page.locator('#live-rows tr:has-text("SUCCEEDED")').first().waitFor();
    assert.match((await page.locator('#live-rows').textContent()) ?? '', /flaky-hook/);
    await shot(page, 'live');
  });

  await t.test('"Send test webhook" on an agent page reports the resulting delivery, whose page has the TEST attempt', async () => {
    await page.goto(`${c.base}/agents/hourly-report`);
    await page.click('#send-test');
    await page.waitForURL(/done=tested/);
    assert.match((await page.locator('#test-result').textContent()) ?? '', /Test webhook sent: delivery dlv_\w+ SUCCEEDED \(HTTP 200\)/);
    await page.click('#test-result a');
    await page.waitForURL(/\/deliveries\/dlv_/);
    assert.match((await page.locator('#attempts tbody tr').textContent()) ?? '', /200.*TEST/s);
  });

  await t.test("another tenant's agent is not found, and no page shows a secret", async () => {
    const res = await page.goto(`${c.base}/agents/other-tenant-agent`);
    assert.equal(res?.status(), 404);
    assert.match(res?.headers()['content-security-policy'] ?? '', /script-src 'self'/);
    for (const path of ['/agents', '/agents/flaky-hook', `/deliveries/${deliveryId}`]) {
      await page.goto(c.base + path);
      const htmlText = await page.content();
      for (const hidden of [secret, 'url-credential', CONSOLE_TOKENS.write]) assert.ok(!htmlText.includes(hidden), `${path} shows no secret`);
    }
    assert.deepEqual(cspErrors, [], 'no Content-Security-Policy violation or script error');
  });

  await t.test('a read token sees no buttons, and its forged POSTs (with or without CSRF token) are refused', async () => {
    const readContext = await browser.newContext();
    const readPage = await signIn(readContext, c, CONSOLE_TOKENS.read);
    await readPage.goto(`${c.base}/deliveries/${deliveryId}`);
    assert.equal(await readPage.locator('#retry, #replay').count(), 0);
    await readPage.goto(`${c.base}/agents/night-owl`);
    assert.equal(await readPage.locator('#preferences-form').count(), 0);
    const csrf = (await readPage.locator('input[name=_csrf]').first().getAttribute('value')) ?? '';
    const origin = { origin: c.base };
    const forged = await readContext.request.post(`${c.base}/deliveries/${deliveryId}/retry`, { form: { _csrf: csrf }, headers: origin, maxRedirects: 0 });
    assert.equal(forged.status(), 403);
    const noCsrf = await context.request.post(`${c.base}/deliveries/${deliveryId}/retry`, { form: {}, headers: origin, maxRedirects: 0 });
    assert.equal(noCsrf.status(), 403, 'a write session without the CSRF token is refused too');
    assert.equal(flaky.requests.length, 3, 'only the first attempt, the retry and the live-view delivery reached the receiver');
    await readContext.close();
  });
});

test("in Chromium: an operator adds an endpoint to an agent, opens it, edits it, sends a test webhook its receiver gets signed with the endpoint's secret, and deletes it", async (t) => {
  if (!existsSync(CHROMIUM)) {
    t.skip(`no Chromium at ${CHROMIUM}: install Debian's chromium (apt-get install chromium) or set HERALD_TEST_CHROMIUM; the HTTP-level console tests still ran`);
    return;
  }
  const c = await startConsoleHerald(t);
  const grpc = c.grpc('default');
  const first = await startReceiver();
  const pager = await startReceiver();
  cleanup(t, () => first.close());
  cleanup(t, () => pager.close());
  await grpc.preferences.UpdatePreferences({ preferences: { agent_id: 'multi-hook', enable_webhook: true, webhook_url: first.url, time_zone: 'Europe/Paris' } });

  const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS });
  cleanup(t, () => browser.close());
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const pageErrors: string[] = [];
  context.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) pageErrors.push(m.text());
  });
  context.on('weberror', (e) => pageErrors.push(e.error().message));
  const page = await signIn(context, c, CONSOLE_TOKENS.write);
  let id = '';

  await t.test('the agent page lists the first endpoint, and "Add endpoint" opens the new one\'s page', async () => {
    await page.goto(`${c.base}/agents/multi-hook`);
    assert.equal(await page.locator('#endpoints tbody tr').count(), 1, 'the first endpoint, from webhook_url');
    await page.fill('#create-endpoint-form input[name=description]', 'pager');
    await page.fill('#create-endpoint-form input[name=url]', `${pager.url}pager?key=url-credential`);
    await page.fill('#create-endpoint-form input[name=event_types]', 'job.*');
    await Promise.all([page.waitForURL(/\/endpoints\/ep_\w+\?done=endpoint-created/), page.click('#create-endpoint')]);
    id = /\/endpoints\/(ep_\w+)/.exec(page.url())?.[1] ?? '';
    assert.notEqual(id, '');
    assert.match((await page.locator('#endpoint-event-types').textContent()) ?? '', /^job\.\*$/);
    await page.click('#endpoint-agent');
    await page.waitForURL(/\/agents\/multi-hook/);
    assert.match((await page.locator(`#endpoints tr[data-endpoint="${id}"]`).textContent()) ?? '', /pager.*127\.0\.0\.1:\d+.*on.*job\.\*/s);
  });

  await t.test('the endpoint page is opened from the table and its edit form saves through UpdateEndpoint', async () => {
    await page.click(`#endpoints a:has-text("${id}")`);
    await page.waitForURL(new RegExp(`/endpoints/${id}`));
    await page.fill('#endpoint-form input[name=description]', 'night pager');
    await page.selectOption('#endpoint-form select[name=quiet]', 'window');
    await page.fill('#endpoint-form input[name=quiet_start]', '22:00');
    await page.fill('#endpoint-form input[name=quiet_end]', '07:00');
    await page.selectOption('#endpoint-form select[name=quiet_policy]', 'DIGEST');
    await page.fill('#endpoint-form input[name=retry_max_attempts]', '3');
    await Promise.all([page.waitForURL(/done=endpoint-saved/), page.click('#save-endpoint')]);
    const details = (await page.locator('#endpoint-details').textContent()) ?? '';
    assert.match(details, /night pager/);
    assert.match(details, /22:00–07:00 \(agent's time zone\), DIGEST/);
    assert.match(details, /3 attempts in all/);
    const stored = await grpc.endpoints.GetEndpoint({ id });
    assert.deepEqual([stored.description, stored.overrides?.quiet_hours?.policy, stored.retry_policy?.max_attempts], ['night pager', 'QUIET_HOURS_POLICY_DIGEST', 3]);
    await page.fill('#endpoint-form input[name=quiet_end]', '22:00');
    await page.click('#save-endpoint');
    assert.match((await page.locator('#form-error').textContent()) ?? '', /endpoint\.overrides\.quiet_hours\.end: equals start/, "the service's message on the form");
    assert.equal(await page.locator('#endpoint-form input[name=quiet_end]').inputValue(), '22:00', 'with the value as typed');
  });

  await t.test("\"Send test webhook\" reaches the endpoint's receiver, signed with the endpoint's own secret", async () => {
    await page.goto(`${c.base}/endpoints/${id}`);
    await Promise.all([page.waitForURL(/done=tested/), page.click('#send-test')]);
    assert.match((await page.locator('#test-result').textContent()) ?? '', /Test webhook sent: delivery dlv_\w+ SUCCEEDED \(HTTP 200\)/);
    const [req] = await pager.waitForRequests(1);
    assert.equal(first.requests.length, 0, 'nothing went to the first endpoint');
    assert.equal(req?.path, '/pager?key=url-credential');
    assert.equal(req?.headers['x-herald-endpoint'], id);
    const secret = (await grpc.endpoints.GetEndpointSecret({ id })).secret;
    const flat = Object.fromEntries(Object.entries(req?.headers ?? {}).map(([k, v]) => [k, String(v)]));
    assert.doesNotThrow(() => new Webhook(secret).verify(req?.body.toString('utf8') ?? '', flat), 'standardwebhooks verifies it with the endpoint secret');
    assert.match((await page.locator('#endpoint-health').textContent()) ?? '', /100 %/);
    const htmlText = await page.content();
    for (const hidden of [secret, 'url-credential', CONSOLE_TOKENS.write]) assert.ok(!htmlText.includes(hidden), 'the endpoint page shows no secret');
    await shot(page, 'endpoint');
  });

  await t.test('a read token sees the endpoint and no form or button', async () => {
    const readContext = await browser.newContext();
    const readPage = await signIn(readContext, c, CONSOLE_TOKENS.read);
    await readPage.goto(`${c.base}/endpoints/${id}`);
    assert.match((await readPage.locator('#endpoint-details').textContent()) ?? '', /night pager/);
    assert.equal(await readPage.locator('#endpoint-form, #send-test, #delete-endpoint').count(), 0);
    await readContext.close();
  });

  await t.test('"Delete…" asks first, then deletes the endpoint and returns to the agent', async () => {
    await page.click('#delete-endpoint');
    await page.waitForURL(new RegExp(`/endpoints/${id}/delete`));
    assert.match((await page.locator('#delete-consequence').textContent()) ?? '', /the 0 deliveries waiting for it are cancelled/);
    await Promise.all([page.waitForURL(/\/agents\/multi-hook\?done=endpoint-deleted&count=0/), page.click('#confirm-delete')]);
    assert.equal(await page.locator('#endpoints tbody tr').count(), 1);
    await assert.rejects(grpc.endpoints.GetEndpoint({ id }), /NOT_FOUND|not found/i);
    assert.deepEqual(pageErrors, [], 'no Content-Security-Policy violation or script error');
  });
});
