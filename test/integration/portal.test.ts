import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { status } from '@grpc/grpc-js';
import { Webhook } from 'standardwebhooks';
import { escapeHtml } from '../../src/web/html.js';
import { selfSignedFor } from '../helpers/certificates.js';
import { cleanup, codeOf } from '../helpers/herald.js';
import { ConsoleSession, quietAroundNow } from '../helpers/console.js';
import { PORTAL_TOKENS, PortalBrowser, startPortalHerald, type PortalHerald } from '../helpers/portal.js';
import { startReceiver, type Receiver, type ReceiverStep } from '../helpers/receiver.js';

/*
 * The agents' portal (issue #20) over plain HTTP: PortalService's links, the
 * exchange of a link for a session, what a session can reach and change, and
 * the audit lines. test/integration/portal-browser.test.ts drives the same
 * pages in Chromium.
 */

async function receiver(t: TestContext, script: readonly ReceiverStep[] = []): Promise<Receiver> {
  const r = await startReceiver(script);
  cleanup(t, () => r.close());
  return r;
}

/** An agent of tenant acme with preferences and nothing else (the platform made it). */
async function agent(p: PortalHerald, id: string): Promise<void> {
  await p.platform.preferences.UpdatePreferences({ preferences: { agent_id: id, enable_webhook: true } });
}

/** A browser holding an open session of `agentId` (tenant acme). */
async function openSession(p: PortalHerald, agentId: string, readOnly = false): Promise<{ browser: PortalBrowser; sessionId: string; url: string }> {
  const created = await p.platform.portal.CreatePortalSession({ agent_id: agentId, read_only: readOnly });
  const browser = new PortalBrowser(p.base);
  await browser.open(created.url);
  return { browser, sessionId: created.session!.id, url: created.url };
}

test('a link opens once: its token becomes an HttpOnly cookie on /portal and a redirect to the clean URL; the same link again is refused', async (t) => {
  const p = await startPortalHerald(t, { env: { HERALD_WORKER: 'false' } });
  await agent(p, 'owner-1');
  const created = await p.platform.portal.CreatePortalSession({ agent_id: 'owner-1' });
  assert.match(created.url, new RegExp(`^${p.base}/portal/open\\?token=[A-Za-z0-9_-]{43}$`));
  const first = new PortalBrowser(p.base);
  const opened = await first.get(created.url);
  assert.equal(opened.status, 303);
  assert.equal(opened.headers.get('location'), '/portal/');
  const cookie = opened.headers.get('set-cookie') ?? '';
  assert.match(cookie, /^herald_portal=[A-Za-z0-9_-]{43}; Path=\/portal; HttpOnly; SameSite=Lax; Max-Age=\d+$/);
  const home = await first.get('/portal/');
  assert.equal(home.status, 200);
  assert.match(home.body, /<strong id="agent">owner-1<\/strong>/);

  const again = new PortalBrowser(p.base);
  const refused = await again.get(created.url);
  assert.equal(refused.status, 410);
  assert.match(refused.body, /used already or has expired/);
  assert.equal(again.cookie, '', 'a refused link sets no cookie');
  assert.equal((await again.get('/portal/')).status, 401);
  // The first browser's session is untouched by the second try.
  assert.equal((await first.get('/portal/')).status, 200);
});

test('a link unused at its end is refused, and an opened session ends at the same instant', async (t) => {
  let now = new Date('2026-05-04T10:00:00Z');
  const p = await startPortalHerald(t, { env: { HERALD_WORKER: 'false' }, clock: () => now });
  await agent(p, 'owner-1');
  const unused = await p.platform.portal.CreatePortalSession({ agent_id: 'owner-1', ttl_seconds: 60 });
  const { browser } = await openSession(p, 'owner-1');
  assert.equal((await browser.get('/portal/')).status, 200);
  now = new Date(now.getTime() + 60_000);
  assert.equal((await new PortalBrowser(p.base).get(unused.url)).status, 410, 'a link is refused at its end');
  now = new Date(now.getTime() + 15 * 60_000 - 60_001);
  assert.equal((await browser.get('/portal/')).status, 200, 'a default session lasts 15 minutes');
  now = new Date(now.getTime() + 1);
  const ended = await browser.get('/portal/');
  assert.equal(ended.status, 401);
  assert.match(ended.body, /has ended/);
});

test('CreatePortalSession: 15 minutes by default, at most 24 hours, an agent of the caller\'s tenant only; List and Revoke see the tenant\'s own sessions', async (t) => {
  const p = await startPortalHerald(t, { env: { HERALD_WORKER: 'false' } });
  await agent(p, 'owner-1');
  await agent(p, 'owner-2');
  await p.grpc('beta').preferences.UpdatePreferences({ preferences: { agent_id: 'owner-1' } });
  const byDefault = await p.platform.portal.CreatePortalSession({ agent_id: 'owner-1' });
  const s = byDefault.session!;
  assert.equal(Number(s.expire_at!.seconds) - Number(s.created_at!.seconds), 900);
  assert.equal(s.read_only, false);
  assert.equal(s.opened_at, null);
  const day = await p.platform.portal.CreatePortalSession({ agent_id: 'owner-2', ttl_seconds: 86_400, read_only: true });
  assert.equal(Number(day.session!.expire_at!.seconds) - Number(day.session!.created_at!.seconds), 86_400);

  const tooLong = await codeOf(p.platform.portal.CreatePortalSession({ agent_id: 'owner-1', ttl_seconds: 86_401 }));
  assert.equal(tooLong.code, status.INVALID_ARGUMENT);
  assert.match(tooLong.details, /^ttl_seconds: must be between 1 and 86400 seconds/);
  const missing = await codeOf(p.platform.portal.CreatePortalSession({ agent_id: 'nobody' }));
  assert.equal(missing.code, status.NOT_FOUND);
  const reader = await codeOf(p.client(PORTAL_TOKENS.acmeRead).portal.CreatePortalSession({ agent_id: 'owner-1' }));
  assert.match(reader.details, /needs the write role/);
  assert.equal(reader.code, status.PERMISSION_DENIED);

  const betaSession = await p.grpc('beta').portal.CreatePortalSession({ agent_id: 'owner-1' });
  const listed = await p.platform.portal.ListPortalSessions({});
  assert.deepEqual(listed.sessions.map((x) => x.id).sort(), [s.id, day.session!.id].sort(), 'only tenant acme\'s sessions');
  assert.deepEqual((await p.platform.portal.ListPortalSessions({ agent_id: 'owner-2' })).sessions.map((x) => x.id), [day.session!.id]);
  const elsewhere = await codeOf(p.platform.portal.RevokePortalSession({ id: betaSession.session!.id }));
  assert.equal(elsewhere.code, status.NOT_FOUND, 'another tenant\'s session is not found');

  const browser = new PortalBrowser(p.base);
  await browser.open(day.url);
  const revoked = await p.platform.portal.RevokePortalSession({ id: day.session!.id });
  assert.ok(revoked.revoked_at !== null);
  assert.ok(revoked.opened_at !== null);
  assert.equal((await browser.get('/portal/')).status, 401, 'a revoked session ends at its next request');
  assert.equal((await new PortalBrowser(p.base).get(byDefault.url)).status, 303, 'an unrevoked link still opens');
  const revokedLink = await p.platform.portal.CreatePortalSession({ agent_id: 'owner-1' });
  await p.platform.portal.RevokePortalSession({ id: revokedLink.session!.id });
  assert.equal((await new PortalBrowser(p.base).get(revokedLink.url)).status, 410, 'a revoked link is refused');
  assert.deepEqual((await p.platform.portal.ListPortalSessions({})).sessions.map((x) => x.id), [byDefault.session!.id]);
});

/** The fields of the form `id` on `page` as a browser would submit them (text and time inputs, checked boxes, selected options). */
function formOf(page: string, id: string): Record<string, string> {
  const form = new RegExp(`<form[^>]*id="${id}"[^>]*>([\\s\\S]*?)</form>`).exec(page)?.[1];
  assert.ok(form !== undefined, `a form with id ${id}`);
  const fields: Record<string, string> = {};
  for (const m of form.matchAll(/<input([^>]*)>/g)) {
    const attrs = m[1] ?? '';
    const name = /\sname="([^"]*)"/.exec(attrs)?.[1];
    if (name === undefined) continue;
    const value = (/\svalue="([^"]*)"/.exec(attrs)?.[1] ?? '').replaceAll('&#39;', "'").replaceAll('&quot;', '"').replaceAll('&lt;', '<').replaceAll('&gt;', '>').replaceAll('&amp;', '&');
    if (/type="checkbox"/.test(attrs)) {
      if (/\schecked/.test(attrs)) fields[name] = value;
    } else fields[name] = value;
  }
  for (const m of form.matchAll(/<select name="([^"]+)">([\s\S]*?)<\/select>/g)) {
    const opts = [...(m[2] ?? '').matchAll(/<option value="([^"]*)"([^>]*)>/g)].map((o) => ({ value: o[1] ?? '', selected: /selected/.test(o[2] ?? '') }));
    fields[m[1] ?? ''] = (opts.find((o) => o.selected) ?? opts[0])?.value ?? '';
  }
  return fields;
}

function assertSignedBy(secret: string, body: Buffer, headers: Record<string, unknown>): void {
  const flat = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, String(v)]));
  assert.doesNotThrow(() => new Webhook(secret).verify(body.toString('utf8'), flat), 'standardwebhooks verifies with the endpoint secret');
}

test('the owner changes quiet hours to DIGEST, adds an endpoint for job.*, sends a signed test webhook, sees why a notification was not sent and retries a failed delivery; each change is an audit line', async (t) => {
  const hook = await receiver(t, [{ status: 200 }, { status: 500, body: 'receiver down' }, { status: 200 }]);
  const p = await startPortalHerald(t);
  await agent(p, 'owner-1');
  const { browser, sessionId } = await openSession(p, 'owner-1');

  const prefs = await browser.get('/portal/');
  assert.match(prefs.body, /id="quiet-preview">No quiet hours/);
  assert.match(prefs.body, /<datalist id="zones"><option value="UTC"><\/option>[\s\S]*<option value="Europe\/Paris"><\/option>/, 'a searchable list of zones');
  const quiet = quietAroundNow();
  const saved = await browser.post('/portal/preferences', { ...formOf(prefs.body, 'preferences-form'), quiet_start: quiet.start, quiet_end: quiet.end, quiet_policy: 'DIGEST' });
  assert.equal(saved.status, 303, saved.body.slice(0, 300));
  assert.equal(saved.headers.get('location'), '/portal/?done=saved');
  const stored = await p.platform.preferences.GetPreferences({ agent_id: 'owner-1' });
  assert.equal(stored.quiet_hours?.policy, 'QUIET_HOURS_POLICY_DIGEST');
  assert.equal(stored.quiet_hours?.start, quiet.start);
  const after = await browser.get('/portal/?done=saved');
  assert.match(after.body, new RegExp(`id="quiet-preview">Quiet now, until ${quiet.end} UTC, notifications are collected into one digest sent at ${quiet.end}; urgent ones wait too\\.`));

  const add = await browser.post('/portal/endpoints', { _csrf: await browser.csrf('/portal/endpoints'), url: hook.url, description: 'Jobs', event_types: 'job.*', min_priority: 'inherit' });
  assert.equal(add.status, 303, add.body.slice(0, 300));
  const endpointId = /^\/portal\/endpoints\/(ep_[0-9A-Z]{26})\?done=added$/.exec(add.headers.get('location') ?? '')?.[1];
  assert.ok(endpointId !== undefined, `redirected to the new endpoint (${add.headers.get('location')})`);
  const listed = await p.platform.endpoints.ListEndpoints({ agent_id: 'owner-1' });
  assert.deepEqual(listed.endpoints.filter((e) => e.url !== '').map((e) => [e.id, e.description, e.event_types]), [[endpointId, 'Jobs', ['job.*']]]);
  const page = await browser.get(`/portal/endpoints/${endpointId}`);
  const secret = (await p.platform.endpoints.GetEndpointSecret({ id: endpointId })).secret;
  assert.ok(!page.body.includes(secret), 'no secret in the page before the explicit reveal');

  const csrf = await browser.csrf(`/portal/endpoints/${endpointId}`);
  const tested = await browser.post(`/portal/endpoints/${endpointId}/test`, { _csrf: csrf });
  assert.equal(tested.status, 200);
  assert.match(tested.body, /id="test-result">Test webhook delivered \(HTTP 200\)/);
  const [first] = await hook.waitForRequests(1);
  assertSignedBy(secret, first!.body, first!.headers);
  const revealed = await browser.post(`/portal/endpoints/${endpointId}/secret`, { _csrf: csrf, confirm: 'yes' });
  assert.match(revealed.body, new RegExp(`<code id="secret">${secret.replaceAll('+', '\\+')}</code>`));
  const unconfirmed = await browser.post(`/portal/endpoints/${endpointId}/secret`, { _csrf: csrf });
  assert.equal(unconfirmed.status, 400);
  assert.ok(!unconfirmed.body.includes(secret));

  // A type the endpoint is not subscribed to: not sent, and the page says why.
  const held = await p.platform.notifications.CreateNotification({ agent_id: 'owner-1', notification_type: 'invoice.paid', title: 'Invoice 9 paid' });
  const result = held.notification!.endpoint_results.find((r) => r.endpoint_id === endpointId);
  assert.equal(result?.outcome, 'DECISION_OUTCOME_SUPPRESS');
  const activity = await browser.get('/portal/activity');
  assert.equal(activity.status, 200);
  assert.ok(activity.body.includes(`<strong>Jobs</strong>: <span class="outcome-suppress">not sent</span> (${escapeHtml(result!.explanation)})`), 'the reason in words, per endpoint');
  const why = await browser.get('/portal/why?type=invoice.paid&priority=NORMAL');
  assert.ok(why.body.includes('would not be sent</span><br>'), why.body.slice(-800));

  const failedTest = await browser.post(`/portal/endpoints/${endpointId}/test`, { _csrf: csrf });
  assert.match(failedTest.body, /Test webhook not delivered \(HTTP 500\)/);
  const deliveryId = /href="\/portal\/deliveries\/(dlv_[0-9A-Z]{26})">See the attempt/.exec(failedTest.body)?.[1];
  assert.ok(deliveryId !== undefined);
  const failedPage = await browser.get(`/portal/deliveries/${deliveryId}`);
  assert.match(failedPage.body, /HTTP 500 in \d+ ms[\s\S]*receiver down/);
  const retried = await browser.post(`/portal/deliveries/${deliveryId}/retry`, { _csrf: csrf });
  assert.equal(retried.status, 303);
  assert.equal((await p.platform.deliveries.GetDelivery({ id: deliveryId })).status, 'DELIVERY_STATUS_SUCCEEDED');
  assert.equal(hook.requests.length, 3);

  const audit = p.lines.filter((l) => l.audit === 'portal');
  assert.deepEqual(
    audit.map((l) => [l.action, l.portalSession, l.agentId, l.tenant]),
    ['link opened', 'preferences updated', 'endpoint created', 'test webhook sent', 'endpoint secret shown', 'test webhook sent', 'delivery retried'].map((a) => [a, sessionId, 'owner-1', 'acme']),
  );
  assert.ok(!JSON.stringify(p.lines).includes(secret), 'no secret in the log');
});

test('a link made with a write token does everything but show or rotate secrets: no such forms, and forged ones are refused', async (t) => {
  const hook = await receiver(t);
  const p = await startPortalHerald(t, { env: { HERALD_WORKER: 'false' } });
  await agent(p, 'owner-1');
  const endpoint = await p.platform.endpoints.CreateEndpoint({ endpoint: { agent_id: 'owner-1', url: hook.url } });
  const created = await p.client(PORTAL_TOKENS.acmeWrite).portal.CreatePortalSession({ agent_id: 'owner-1' });
  const browser = new PortalBrowser(p.base);
  await browser.open(created.url);
  const page = await browser.get(`/portal/endpoints/${endpoint.id}`);
  assert.match(page.body, /id="edit-endpoint"/);
  assert.ok(!page.body.includes('id="reveal-secret"') && !page.body.includes('id="rotate-secret"'));
  const csrf = await browser.csrf();
  const secret = (await p.platform.endpoints.GetEndpointSecret({ id: endpoint.id })).secret;
  for (const action of ['secret', 'rotate']) {
    const res = await browser.post(`/portal/endpoints/${endpoint.id}/${action}`, { _csrf: csrf, confirm: 'yes' });
    assert.equal(res.status, 403, action);
    assert.match(res.body, /This link was not given the right to do that; nothing was changed/);
    assert.ok(!res.body.includes(secret));
  }
  assert.equal((await p.platform.endpoints.GetEndpointSecret({ id: endpoint.id })).secret, secret, 'not rotated');
  assert.equal((await browser.post(`/portal/endpoints/${endpoint.id}/disable`, { _csrf: csrf })).status, 303, 'a write link changes endpoints');
});

test('a session reaches nothing outside its agent: another agent\'s or another tenant\'s endpoint and delivery answer as missing ones', async (t) => {
  const hook = await receiver(t);
  const p = await startPortalHerald(t, { env: { HERALD_WORKER: 'false' } });
  await agent(p, 'owner-1');
  await agent(p, 'other');
  const theirs = await p.platform.endpoints.CreateEndpoint({ endpoint: { agent_id: 'other', url: hook.url } });
  const theirTest = await p.platform.deliveries.SendTestWebhook({ agent_id: 'other', endpoint_id: theirs.id });
  const beta = p.grpc('beta');
  await beta.preferences.UpdatePreferences({ preferences: { agent_id: 'owner-1' } });
  const betaEndpoint = await beta.endpoints.CreateEndpoint({ endpoint: { agent_id: 'owner-1', url: hook.url } });
  const { browser } = await openSession(p, 'owner-1');
  const csrf = await browser.csrf();
  const missingEndpoint = await browser.get('/portal/endpoints/ep_00000000000000000000000000');

  for (const id of [theirs.id, betaEndpoint.id]) {
    const read = await browser.get(`/portal/endpoints/${id}`);
    assert.equal(read.status, 404);
    assert.equal(read.body.replace(id, 'X'), missingEndpoint.body.replace('ep_00000000000000000000000000', 'X'), 'the same answer as for an id that does not exist');
    for (const action of ['', '/disable', '/delete', '/test', '/secret', '/rotate']) {
      const res = await browser.post(`/portal/endpoints/${id}${action}`, { _csrf: csrf, confirm: 'yes', url: hook.url });
      assert.equal(res.status, 404, `POST ${action || '(edit)'} on another agent's endpoint`);
    }
  }
  assert.equal((await browser.get(`/portal/deliveries/${theirTest.delivery_id}`)).status, 404);
  assert.equal((await browser.post(`/portal/deliveries/${theirTest.delivery_id}/retry`, { _csrf: csrf })).status, 404);
  assert.equal((await p.platform.endpoints.GetEndpoint({ id: theirs.id })).enabled, true, 'nothing changed');
  assert.equal((await beta.endpoints.GetEndpoint({ id: betaEndpoint.id })).enabled, true);
  // Pages that list show only the session's agent, whatever the query says.
  const activity = await browser.get('/portal/activity?agent_id=other&tenant=beta');
  assert.ok(!activity.body.includes(theirTest.delivery_id));
  const endpoints = await browser.get('/portal/endpoints?agent=other');
  assert.ok(!endpoints.body.includes(theirs.id) && !endpoints.body.includes(betaEndpoint.id));
});

test('a read-only session sees every page and every forged POST is refused, changing nothing', async (t) => {
  const hook = await receiver(t);
  const p = await startPortalHerald(t, { env: { HERALD_WORKER: 'false' } });
  await agent(p, 'owner-1');
  const endpoint = await p.platform.endpoints.CreateEndpoint({ endpoint: { agent_id: 'owner-1', url: `${hook.url}hooks?key=receiver-credential`, description: 'Jobs' } });
  const sent = await p.platform.deliveries.SendTestWebhook({ agent_id: 'owner-1', endpoint_id: endpoint.id });
  const { browser } = await openSession(p, 'owner-1', true);
  for (const path of ['/portal/', '/portal/endpoints', `/portal/endpoints/${endpoint.id}`, '/portal/activity', `/portal/deliveries/${sent.delivery_id}`, '/portal/why?type=job.done']) {
    const page = await browser.get(path);
    assert.equal(page.status, 200, path);
    assert.match(page.body, /id="read-only"/);
    assert.ok(!page.body.includes('receiver-credential'), `only the host of an endpoint's URL on ${path}`);
    assert.ok(!/<button(?! class="quiet")/.test(page.body.replace(/<form method="get"[\s\S]*?<\/form>/g, '')), `no button that changes anything on ${path}`);
  }
  const csrf = await browser.csrf();
  const before = await p.platform.preferences.GetPreferences({ agent_id: 'owner-1' });
  const forged: Array<[string, Record<string, string>]> = [
    ['/portal/preferences', { time_zone: 'Europe/Paris', max_per_hour: '1' }],
    ['/portal/endpoints', { url: hook.url }],
    [`/portal/endpoints/${endpoint.id}`, { url: `${hook.url}elsewhere`, description: 'changed' }],
    [`/portal/endpoints/${endpoint.id}/disable`, {}],
    [`/portal/endpoints/${endpoint.id}/delete`, { confirm: 'yes' }],
    [`/portal/endpoints/${endpoint.id}/test`, {}],
    [`/portal/endpoints/${endpoint.id}/secret`, { confirm: 'yes' }],
    [`/portal/endpoints/${endpoint.id}/rotate`, { confirm: 'yes' }],
    [`/portal/deliveries/${sent.delivery_id}/retry`, {}],
    ['/portal/replay', { since: '2020-01-01' }],
  ];
  for (const [path, form] of forged) {
    const res = await browser.post(path, { _csrf: csrf, ...form });
    assert.equal(res.status, 403, path);
    assert.match(res.body, /This link is read only; nothing was changed/);
  }
  assert.deepEqual(await p.platform.preferences.GetPreferences({ agent_id: 'owner-1' }), before);
  const after = await p.platform.endpoints.GetEndpoint({ id: endpoint.id });
  assert.equal(after.description, 'Jobs');
  assert.equal(after.enabled, true);
  assert.equal((await p.platform.endpoints.ListEndpoints({ agent_id: 'owner-1' })).endpoints.length, 2, 'the first endpoint and this one, no other');
  assert.equal(hook.requests.length, 1, 'only the platform\'s test webhook');
  assert.deepEqual(p.lines.filter((l) => l.audit === 'portal').map((l) => l.action), ['link opened']);
});

test('every POST needs the session\'s CSRF token and our Origin; responses carry the CSP without scripts and refuse framing by default', async (t) => {
  const p = await startPortalHerald(t, { env: { HERALD_WORKER: 'false' } });
  await agent(p, 'owner-1');
  const { browser } = await openSession(p, 'owner-1');
  const page = await browser.get('/portal/');
  assert.equal(page.headers.get('content-security-policy'), "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
  assert.equal(page.headers.get('x-frame-options'), 'DENY');
  assert.ok(!/<script/i.test(page.body));
  const form = formOf(page.body, 'preferences-form');
  const changed: Record<string, string> = { ...form, time_zone: 'Europe/Paris' };
  assert.equal((await browser.post('/portal/preferences', { ...changed, _csrf: 'forged' })).status, 403);
  const { _csrf: _, ...withoutToken } = changed;
  assert.equal((await browser.post('/portal/preferences', withoutToken)).status, 403);
  const crossSite = await browser.post('/portal/preferences', changed, 'https://evil.example');
  assert.equal(crossSite.status, 403);
  assert.match(crossSite.body, /Origin does not match/);
  // Another session's CSRF token is not this one's.
  const other = await openSession(p, 'owner-1');
  assert.equal((await browser.post('/portal/preferences', { ...changed, _csrf: await other.browser.csrf() })).status, 403);
  assert.equal((await p.platform.preferences.GetPreferences({ agent_id: 'owner-1' })).time_zone, 'UTC');
  assert.equal((await browser.post('/portal/preferences', changed)).status, 303);
  assert.equal((await p.platform.preferences.GetPreferences({ agent_id: 'owner-1' })).time_zone, 'Europe/Paris');

  // Signing out is a change too: it needs the token, and it ends the session for good.
  assert.equal((await browser.post('/portal/sign-out', {})).status, 403);
  const held = browser.cookie;
  const out = await browser.post('/portal/sign-out', { _csrf: await browser.csrf() });
  assert.equal(out.status, 200);
  assert.match(out.headers.get('set-cookie') ?? '', /^herald_portal=; .*Max-Age=0$/);
  browser.cookie = held;
  assert.equal((await browser.get('/portal/')).status, 401, 'the old cookie no longer works');
  assert.deepEqual((await p.platform.portal.ListPortalSessions({})).sessions.map((x) => x.id), [other.sessionId]);
});

test('with HERALD_PORTAL_FRAME_ANCESTORS the listed origins may frame the portal and its cookie is SameSite=None; Secure; Partitioned; HERALD_PORTAL_BASE_URL starts the links and counts as our Origin', async (t) => {
  const p = await startPortalHerald(t, { env: { HERALD_WORKER: 'false', HERALD_PORTAL_FRAME_ANCESTORS: 'https://app.example.com https://admin.example.com', HERALD_PORTAL_BASE_URL: 'https://herald.example.com' } });
  await agent(p, 'owner-1');
  const created = await p.platform.portal.CreatePortalSession({ agent_id: 'owner-1' });
  assert.match(created.url, /^https:\/\/herald\.example\.com\/portal\/open\?token=/);
  const browser = new PortalBrowser(p.base);
  const opened = await browser.get(created.url.replace('https://herald.example.com', p.base));
  assert.match(opened.headers.get('set-cookie') ?? '', /; HttpOnly; SameSite=None; Secure; Partitioned; Max-Age=/);
  const page = await browser.get('/portal/');
  assert.match(page.headers.get('content-security-policy') ?? '', /frame-ancestors https:\/\/app\.example\.com https:\/\/admin\.example\.com;/);
  assert.equal(page.headers.get('x-frame-options'), null);
  const form = formOf(page.body, 'preferences-form');
  assert.equal((await browser.post('/portal/preferences', { ...form, time_zone: 'Asia/Tokyo' }, 'https://herald.example.com')).status, 303);
  assert.equal((await browser.post('/portal/preferences', form, 'https://app.example.com')).status, 403, 'the framing site is not our origin');
});

test('behind a proxy that serves the portal over HTTPS (an https HERALD_PORTAL_BASE_URL, the console on plain HTTP), the portal cookie is Secure', async (t) => {
  const p = await startPortalHerald(t, { env: { HERALD_WORKER: 'false', HERALD_PORTAL_BASE_URL: 'https://herald.example.com' } });
  await agent(p, 'owner-proxy');
  const created = await p.platform.portal.CreatePortalSession({ agent_id: 'owner-proxy' });
  const opened = await new PortalBrowser(p.base).get(created.url.replace('https://herald.example.com', p.base));
  assert.match(opened.headers.get('set-cookie') ?? '', /; HttpOnly; SameSite=Lax; Secure; Max-Age=/);
});

test('the console\'s token and cookie do not open the portal, and the portal\'s cookie does not open the console', async (t) => {
  const p = await startPortalHerald(t, { env: { HERALD_WORKER: 'false' } });
  await agent(p, 'owner-1');
  const consoleSession = new ConsoleSession(p.base);
  assert.equal((await consoleSession.signIn(PORTAL_TOKENS.acmeWrite)).status, 303);
  const consoleCookie = consoleSession.cookie.split('=')[1] ?? '';
  assert.equal((await consoleSession.get('/agents')).status, 200);

  const withConsoleCookie = new PortalBrowser(p.base);
  withConsoleCookie.cookie = consoleSession.cookie;
  assert.equal((await withConsoleCookie.get('/portal/')).status, 401, 'the console cookie is not a portal session');
  withConsoleCookie.cookie = `herald_portal=${consoleCookie}`;
  assert.equal((await withConsoleCookie.get('/portal/')).status, 401, 'nor is its value under the portal\'s name');
  assert.equal((await new PortalBrowser(p.base).get(`/portal/open?token=${PORTAL_TOKENS.acmeWrite}`)).status, 410, 'an API token is not a link');

  const { browser } = await openSession(p, 'owner-1');
  const portalCookie = browser.cookie.split('=')[1] ?? '';
  const consoleWithPortal = new ConsoleSession(p.base);
  consoleWithPortal.cookie = `herald_console=${portalCookie}`;
  const refused = await consoleWithPortal.get('/agents');
  assert.equal(refused.status, 303);
  assert.match(refused.headers.get('location') ?? '', /^\/sign-in/);
  consoleWithPortal.cookie = browser.cookie;
  assert.equal((await consoleWithPortal.get('/')).status, 303, 'the portal cookie is no console session');
  assert.equal((await consoleWithPortal.post('/sign-in', { token: portalCookie })).status, 401, 'nor a token');
});

test('after ten links that do not work from one address in a minute, links from it are refused with 429 until the minute has passed', async (t) => {
  let now = new Date('2026-05-04T10:00:00Z');
  const p = await startPortalHerald(t, { env: { HERALD_WORKER: 'false' }, clock: () => now });
  await agent(p, 'owner-1');
  const good = await p.platform.portal.CreatePortalSession({ agent_id: 'owner-1', ttl_seconds: 3600 });
  const browser = new PortalBrowser(p.base);
  for (let i = 0; i < 10; i++) assert.equal((await browser.get(`/portal/open?token=${'A'.repeat(42)}${i}`)).status, 410);
  const limited = await browser.get(good.url);
  assert.equal(limited.status, 429);
  assert.equal(limited.headers.get('retry-after'), '60');
  now = new Date(now.getTime() + 60_001);
  await browser.open(good.url);
});

test('every URL entered in the portal goes through the outbound guard: a loopback endpoint is refused with the field named, and nothing is stored', async (t) => {
  const p = await startPortalHerald(t, { env: { HERALD_WORKER: 'false', HERALD_ALLOW_PRIVATE_TARGETS: 'false' } });
  await agent(p, 'owner-1');
  const { browser } = await openSession(p, 'owner-1');
  const csrf = await browser.csrf('/portal/endpoints');
  const refused = await browser.post('/portal/endpoints', { _csrf: csrf, url: 'http://127.0.0.1:9/hook', description: 'local', min_priority: 'inherit' });
  assert.equal(refused.status, 400);
  assert.match(refused.body, /endpoint\.url: [^<]*(loopback|private)/);
  assert.equal((await p.platform.endpoints.ListEndpoints({ agent_id: 'owner-1' })).endpoints.filter((e) => e.url !== '').length, 0);
  assert.deepEqual(p.lines.filter((l) => l.audit === 'portal').map((l) => l.action), ['link opened'], 'a refused change is no audit line');
});

test('an endpoint\'s filter and overrides (lowest priority, its own quiet hours, its own hourly limit) are set from the form, read back into it, and decide', async (t) => {
  const hook = await receiver(t);
  const p = await startPortalHerald(t, { env: { HERALD_WORKER: 'false' } });
  await agent(p, 'owner-1');
  const endpoint = await p.platform.endpoints.CreateEndpoint({ endpoint: { agent_id: 'owner-1', url: hook.url, description: 'Ops' } });
  const { browser } = await openSession(p, 'owner-1');
  const path = `/portal/endpoints/${endpoint.id}`;
  const form = formOf((await browser.get(path)).body, 'edit-endpoint');
  const saved = await browser.post(path, {
    ...form,
    filter: 'metadata.env IN prod, staging\npriority GREATER_OR_EQUAL HIGH',
    min_priority: 'NORMAL',
    quiet_override: 'own',
    quiet_start: '01:00',
    quiet_end: '02:00',
    quiet_policy: 'SKIP',
    max_per_hour: '5',
    rate_limit_policy: 'DIGEST',
  });
  assert.equal(saved.status, 303, saved.body.slice(0, 400));
  const stored = await p.platform.endpoints.GetEndpoint({ id: endpoint.id });
  assert.deepEqual(stored.filter.map((c) => [c.field, c.operator, c.values]), [
    ['metadata.env', 'FILTER_OPERATOR_IN', ['prod', 'staging']],
    ['priority', 'FILTER_OPERATOR_GREATER_OR_EQUAL', ['HIGH']],
  ]);
  assert.equal(stored.overrides?.min_priority, 'PRIORITY_NORMAL');
  assert.deepEqual([stored.overrides?.quiet_hours?.start, stored.overrides?.quiet_hours?.end, stored.overrides?.quiet_hours?.policy], ['01:00', '02:00', 'QUIET_HOURS_POLICY_SKIP']);
  assert.equal(stored.overrides?.max_notifications_per_hour, 5);
  assert.equal(stored.overrides?.rate_limit_policy, 'RATE_LIMIT_POLICY_DIGEST');

  const page = (await browser.get(path)).body;
  assert.match(page, /<textarea name="filter" rows="3">metadata\.env IN prod, staging\npriority GREATER_OR_EQUAL HIGH<\/textarea>/);
  const again = formOf(page, 'edit-endpoint');
  assert.deepEqual([again.min_priority, again.quiet_override, again.quiet_start, again.max_per_hour, again.rate_limit_policy], ['NORMAL', 'own', '01:00', '5', 'DIGEST']);
  const why = await browser.get('/portal/why?type=job.done&priority=NORMAL');
  assert.match(why.body, /<strong>Ops<\/strong>: <span class="outcome-suppress">would not be sent<\/span><br>[^<]*filter/);

  // Back to the preferences' settings: every override "as in preferences", no filter.
  const reset = await browser.post(path, { ...again, filter: '', min_priority: 'inherit', quiet_override: 'inherit', max_per_hour: '', rate_limit_policy: '' });
  assert.equal(reset.status, 303);
  const plain = await p.platform.endpoints.GetEndpoint({ id: endpoint.id });
  assert.deepEqual(plain.filter, []);
  assert.deepEqual([plain.overrides?.min_priority, plain.overrides?.quiet_hours, plain.overrides?.max_notifications_per_hour, plain.overrides?.rate_limit_policy], [undefined, undefined, undefined, undefined]);

  const bad = await browser.post(path, { ...again, filter: 'metadata.env SOMETIMES prod' });
  assert.equal(bad.status, 400);
  assert.match(bad.body, /endpoint\.filter\[0\]\.operator: must be one of EQUALS/);
});

test('retention deletes the portal sessions that ended before its cutoff, and keeps the others', async (t) => {
  const T0 = Date.parse('2026-05-04T10:00:00Z');
  let now = T0;
  const p = await startPortalHerald(t, { env: { HERALD_RETENTION_DAYS: '1', HERALD_RETENTION_SWEEP_MS: '86400000' }, clock: () => new Date(now) });
  await agent(p, 'owner-1');
  const short = await p.platform.portal.CreatePortalSession({ agent_id: 'owner-1', ttl_seconds: 60 });
  const revoked = await p.platform.portal.CreatePortalSession({ agent_id: 'owner-1', ttl_seconds: 86_400 });
  await p.platform.portal.RevokePortalSession({ id: revoked.session!.id });
  now = T0 + 3_600_000;
  const live = await p.platform.portal.CreatePortalSession({ agent_id: 'owner-1', ttl_seconds: 86_400 });
  const retention = p.herald.app.retention;
  assert.ok(retention !== null);
  now = T0 + 86_400_000 + 120_000;
  assert.equal((await retention.sweep()).portalSessions, 2, 'the expired one and the revoked one, each ended more than a day ago');
  assert.equal((await retention.sweep()).portalSessions, 0);
  assert.deepEqual((await p.platform.portal.ListPortalSessions({})).sessions.map((s) => s.id), [live.session!.id]);
  assert.equal((await new PortalBrowser(p.base).get(short.url)).status, 410);
});

test('a HEAD of a link does not spend it; the owner sends again the failed deliveries of a period, and nothing of another period', async (t) => {
  const hook = await receiver(t, [{ status: 500 }, { status: 500 }]);
  let now = new Date('2026-05-04T10:00:00Z');
  const p = await startPortalHerald(t, { clock: () => now });
  await agent(p, 'owner-1');
  const endpoint = await p.platform.endpoints.CreateEndpoint({ endpoint: { agent_id: 'owner-1', url: hook.url, description: 'Jobs' } });
  const early = await p.platform.notifications.CreateNotification({ agent_id: 'owner-1', notification_type: 'job.done', title: 'early' });
  now = new Date('2026-05-04T12:00:00Z');
  const late = await p.platform.notifications.CreateNotification({ agent_id: 'owner-1', notification_type: 'job.done', title: 'late' });
  const idOf = (n: typeof early): string => n.notification!.endpoint_results.find((r) => r.endpoint_id === endpoint.id)!.delivery_id;
  const { waitForFinal } = await import('../helpers/deliveries.js');
  for (const n of [early, late]) assert.equal((await waitForFinal(p.platform, idOf(n))).status, 'DELIVERY_STATUS_FAILED');
  hook.setScript([]);
  now = new Date('2026-05-04T12:01:00Z');

  const created = await p.platform.portal.CreatePortalSession({ agent_id: 'owner-1' });
  const head = await fetch(created.url, { method: 'HEAD', redirect: 'manual' });
  assert.equal(head.status, 405);
  const { browser } = await openSession(p, 'owner-1');
  const csrf = await browser.csrf('/portal/activity');
  const replayed = await browser.post('/portal/replay', { _csrf: csrf, since: '2026-05-04T11:30', until: '', status: 'FAILED' });
  assert.equal(replayed.status, 303, replayed.body.slice(0, 300));
  assert.equal((await waitForFinal(p.platform, idOf(late))).status, 'DELIVERY_STATUS_SUCCEEDED');
  assert.equal((await p.platform.deliveries.GetDelivery({ id: idOf(early) })).status, 'DELIVERY_STATUS_FAILED', 'created before the period: not sent again');
  assert.ok(p.lines.some((l) => l.audit === 'portal' && typeof l.action === 'string' && l.action.startsWith('replayed 1 failed deliveries from 2026-05-04T11:30:00.000Z')));
  await new PortalBrowser(p.base).open(created.url);
});

test('over TLS (HERALD_TLS_CERT_FILE) links start with https and the portal cookie is Secure', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'herald-portal-tls-'));
  cleanup(t, () => rmSync(dir, { recursive: true, force: true }));
  const { certPem, keyPem } = selfSignedFor('localhost');
  writeFileSync(join(dir, 'cert.pem'), certPem);
  writeFileSync(join(dir, 'key.pem'), keyPem, { mode: 0o600 });
  const p = await startPortalHerald(t, { env: { HERALD_WORKER: 'false', HERALD_TLS_CERT_FILE: join(dir, 'cert.pem'), HERALD_TLS_KEY_FILE: join(dir, 'key.pem') } });
  const { createHeraldClient } = await import('../../src/client.js');
  const { credentials } = await import('@grpc/grpc-js');
  // The certificate names localhost.
  const platform = createHeraldClient(p.herald.address.replace('127.0.0.1', 'localhost'), { token: PORTAL_TOKENS.acmeAdmin, credentials: credentials.createSsl(Buffer.from(certPem)), deadlineMs: 10_000 });
  cleanup(t, () => platform.close());
  await platform.preferences.UpdatePreferences({ preferences: { agent_id: 'owner-1' } });
  const created = await platform.portal.CreatePortalSession({ agent_id: 'owner-1' });
  const url = new URL(created.url);
  assert.equal(url.protocol, 'https:');
  const answer = await new Promise<{ status: number; cookie: string }>((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port: url.port, servername: 'localhost', ca: certPem, method: 'GET', path: url.pathname + url.search }, (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, cookie: res.headers['set-cookie']?.[0] ?? '' });
    });
    req.on('error', reject);
    req.end();
  });
  assert.equal(answer.status, 303);
  const maxAge = Number(/; HttpOnly; SameSite=Lax; Secure; Max-Age=(\d+)$/.exec(answer.cookie)?.[1]);
  assert.ok(maxAge > 600 && maxAge <= 900, `the cookie lasts as long as the session has left (${answer.cookie})`);
});
