/**
 * `npx tsx scripts/portal-screenshots.ts`: rewrites docs/portal/*.png, the
 * portal's pages (issue #20) at 360 and 1280 px, from a Herald started here
 * with a throw-away SQLite file, a local receiver and Debian's Chromium
 * (HERALD_TEST_CHROMIUM, default /usr/bin/chromium). Made on request, not by
 * the tests: every run has new ids and times.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { App } from '../src/app.js';
import { createHeraldClient } from '../src/client.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { CHROMIUM, CHROMIUM_FLAGS } from '../test/helpers/chromium.js';

const OUT = new URL('../docs/portal/', import.meta.url);
const TOKEN = 'screenshots-admin-token-01';

/** A receiver that accepts every webhook, except those to /down (503). */
async function receiver(): Promise<{ url: string; close(): void }> {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(req.url === '/down' ? 503 : 200, { 'content-type': 'text/plain' }).end(req.url === '/down' ? 'maintenance until 18:00' : 'ok'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, close: () => server.close() };
}

const dir = mkdtempSync(join(tmpdir(), 'herald-portal-shots-'));
const hooks = await receiver();
const config = loadConfig({
  DATABASE_URL: `file:${join(dir, 'herald.db')}`,
  GRPC_ADDRESS: '127.0.0.1:0',
  HERALD_CONSOLE_ADDRESS: '127.0.0.1:0',
  HERALD_API_TOKENS: `acme:admin:${TOKEN}`,
  HERALD_ALLOW_HTTP_TARGETS: 'true',
  HERALD_ALLOW_PRIVATE_TARGETS: 'true',
  WEBHOOK_MAX_RETRIES: '0',
  HERALD_LOG_LEVEL: 'warn',
});
const app = await App.start(config, createLogger(config.logLevel));
const herald = createHeraldClient(`127.0.0.1:${app.port}`, { token: TOKEN });
const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS });
try {
  const agent = 'customer-42';
  await herald.preferences.UpdatePreferences({
    preferences: {
      agent_id: agent,
      enable_webhook: true,
      time_zone: 'Europe/Paris',
      quiet_hours: { start: '22:00', end: '07:00', policy: 'QUIET_HOURS_POLICY_DIGEST', urgent_bypass: true },
      max_notifications_per_hour: 20,
      rate_limit_policy: 'RATE_LIMIT_POLICY_DEFER',
    },
  });
  const jobs = await herald.endpoints.CreateEndpoint({ endpoint: { agent_id: agent, url: `${hooks.url}jobs`, description: 'Build server', event_types: ['job.*'] } });
  const pager = await herald.endpoints.CreateEndpoint({
    endpoint: { agent_id: agent, url: `${hooks.url}down`, description: 'Pager', overrides: { min_priority: 'PRIORITY_URGENT', no_quiet_hours: {} } },
  });
  await herald.notifications.CreateNotification({ agent_id: agent, notification_type: 'job.completed', title: 'Nightly build finished', priority: 'PRIORITY_NORMAL' });
  await herald.notifications.CreateNotification({ agent_id: agent, notification_type: 'invoice.paid', title: 'Invoice 2041 paid', priority: 'PRIORITY_LOW' });
  await herald.notifications.CreateNotification({ agent_id: agent, notification_type: 'job.failed', title: 'Deploy to production failed', priority: 'PRIORITY_URGENT' });
  const failed = await herald.deliveries.SendTestWebhook({ agent_id: agent, endpoint_id: pager.id });
  await herald.deliveries.SendTestWebhook({ agent_id: agent, endpoint_id: jobs.id });

  const { url } = await herald.portal.CreatePortalSession({ agent_id: agent, ttl_seconds: 3600 });
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(url);
  const base = new URL(url).origin;
  mkdirSync(OUT, { recursive: true });
  const pages: Array<[string, string]> = [
    ['preferences', '/portal/'],
    ['endpoints', '/portal/endpoints'],
    ['endpoint', `/portal/endpoints/${jobs.id}`],
    ['activity', '/portal/activity'],
    ['delivery', `/portal/deliveries/${failed.delivery_id}`],
    ['why-not', '/portal/why?type=job.failed&priority=HIGH'],
  ];
  for (const width of [360, 1280]) {
    await page.setViewportSize({ width, height: 800 });
    for (const [name, path] of pages) {
      await page.goto(base + path);
      await page.screenshot({ path: new URL(`${name}-${width}.png`, OUT).pathname, fullPage: true });
    }
  }
  console.log(`wrote ${pages.length * 2} screenshots to ${OUT.pathname}`);
} finally {
  await browser.close();
  herald.close();
  await app.stop(1_000);
  hooks.close();
  rmSync(dir, { recursive: true, force: true });
}
