import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { selfSignedFor } from '../helpers/certificates.js';
import { cleanup, makeDueOnDatabaseClock } from '../helpers/herald.js';
import { CONSOLE_TOKENS, ConsoleSession, formFields, quietAroundNow, startConsoleHerald, type ConsoleHerald } from '../helpers/console.js';
import { startReceiver, type Receiver, type ReceiverStep } from '../helpers/receiver.js';
import { waitForFinal } from '../helpers/deliveries.js';

/*
 * The operator console over plain HTTP (no browser): sign-in, sessions,
 * CSRF, the security headers, roles and tenant scoping, and that actions go
 * through the same services as the gRPC API. test/integration/console-browser.test.ts
 * drives the same pages in Chromium.
 */

async function receiver(t: TestContext, script: readonly ReceiverStep[] = []): Promise<Receiver> {
  const r = await startReceiver(script);
  cleanup(t, () => r.close());
  return r;
}

async function signedIn(c: ConsoleHerald, token: string, tenant = ''): Promise<ConsoleSession> {
  const s = new ConsoleSession(c.base);
  const res = await s.signIn(token, tenant);
  assert.equal(res.status, 303, `sign-in answers with a redirect (got ${res.status}: ${res.body.slice(0, 200)})`);
  return s;
}

/** A FAILED delivery of `agent` (the receiver answers 500 and there are no retries). */
async function failedDelivery(c: ConsoleHerald, agent: string, url: string): Promise<string> {
  const grpc = c.grpc('default');
  await grpc.preferences.UpdatePreferences({ preferences: { agent_id: agent, enable_webhook: true, webhook_url: url } });
  const created = await grpc.notifications.CreateNotification({ agent_id: agent, notification_type: 'job.failed', title: 'Export failed' });
  const id = created.decision?.delivery_id ?? '';
  assert.notEqual(id, '');
  const final = await waitForFinal(grpc, id);
  assert.equal(final.status, 'DELIVERY_STATUS_FAILED');
  return id;
}

test('a page without a session redirects to sign-in; a wrong token is refused and gets no cookie', async (t) => {
  const c = await startConsoleHerald(t);
  const s = new ConsoleSession(c.base);
  const page = await s.get('/agents?q=x');
  assert.equal(page.status, 303);
  assert.equal(page.headers.get('location'), '/sign-in?next=%2Fagents%3Fq%3Dx');
  const refused = await s.signIn('not-a-valid-token-at-all');
  assert.equal(refused.status, 401);
  assert.match(refused.body, /That token is not valid/);
  assert.equal(s.cookie, '');
});

test('after ten failed sign-ins in a minute an address gets 429 with Retry-After, even with a valid token, until the minute has passed', async (t) => {
  let now = new Date('2026-05-04T10:00:00Z');
  const c = await startConsoleHerald(t, { env: { HERALD_WORKER: 'false' }, clock: () => now });
  const s = new ConsoleSession(c.base);
  for (let i = 0; i < 10; i++) {
    assert.equal((await s.signIn(`wrong-token-number-${i}`)).status, 401, `failure ${i + 1}`);
    now = new Date(now.getTime() + 2_000);
  }
  // Ten failures from +0 s to +18 s; now is +20 s.
  const limited = await s.signIn(CONSOLE_TOKENS.write);
  assert.equal(limited.status, 429);
  assert.equal(limited.headers.get('retry-after'), '40');
  assert.match(limited.body, /Too many failed sign-ins from your address: try again in 40 s\./);
  assert.equal(s.cookie, '', 'no session while limited');
  now = new Date('2026-05-04T10:00:59.999Z');
  assert.equal((await s.signIn(CONSOLE_TOKENS.write)).headers.get('retry-after'), '1');
  now = new Date('2026-05-04T10:01:00.000Z');
  const allowed = await s.signIn(CONSOLE_TOKENS.write);
  assert.equal(allowed.status, 303, 'the first failure has left the window');
  assert.equal((await s.get('/')).status, 200);
});

test('sign-in sets an HttpOnly, SameSite=Strict session cookie (not Secure over plain HTTP) and sign-out ends the session', async (t) => {
  const c = await startConsoleHerald(t);
  const s = new ConsoleSession(c.base);
  const res = await s.signIn(CONSOLE_TOKENS.read);
  assert.equal(res.status, 303);
  const cookie = res.headers.get('set-cookie') ?? '';
  assert.match(cookie, /^herald_console=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict$/);
  assert.equal((await s.get('/')).status, 200);
  const out = await s.post('/sign-out', { _csrf: await s.csrf() });
  assert.equal(out.status, 303);
  // The browser would drop the cookie; the server must have dropped the session too.
  s.cookie = cookie.split(';')[0] ?? '';
  assert.equal((await s.get('/')).status, 303);
});

test('sign-in follows `next` only to a path of the console: tabs, newlines, backslashes, `//`, encoded forms and absolute URLs land on the overview', async (t) => {
  const c = await startConsoleHerald(t, { env: { HERALD_WORKER: 'false' } });
  const hostile = [
    '/\t/evil.example/x',
    '/\n/evil.example/x',
    '/\r\n/evil.example',
    '/\\evil.example/x',
    '/\\/evil.example',
    '//evil.example/x',
    '/\t\\evil.example',
    '/.//evil.example/x',
    '/agents/..//evil.example',
    '/%09/evil.example/x',
    '/%0a/evil.example',
    'https://evil.example/x',
    'http://127.0.0.1:1/x',
    'evil.example/x',
    '',
  ];
  for (const next of hostile) {
    const res = await new ConsoleSession(c.base).post(`/sign-in?next=${encodeURIComponent(next)}`, { token: CONSOLE_TOKENS.read, tenant: '' });
    assert.equal(res.status, 303, JSON.stringify(next));
    assert.equal(res.headers.get('location'), '/', `next=${JSON.stringify(next)} lands on the overview`);
    const form = await new ConsoleSession(c.base).get(`/sign-in?next=${encodeURIComponent(next)}`);
    assert.match(form.body, /<form method="post" action="\/sign-in" class="card">/, `the sign-in form drops next=${JSON.stringify(next)}`);
  }
  // The raw query as an attacker would write the link, without one more level of encoding.
  const raw = await fetch(`${c.base}/sign-in?next=/%09/evil.example/x`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: c.base },
    body: new URLSearchParams({ token: CONSOLE_TOKENS.read }).toString(),
  });
  assert.equal(raw.headers.get('location'), '/');
  const kept = await new ConsoleSession(c.base).post(`/sign-in?next=${encodeURIComponent('/agents/a%2Fb?q=x')}`, { token: CONSOLE_TOKENS.read, tenant: '' });
  assert.equal(kept.headers.get('location'), '/agents/a%2Fb?q=x', 'a path of the console is kept');
});

test('every answer carries a Content-Security-Policy without inline scripts, nosniff, frame-ancestors none and no referrer to other sites', async (t) => {
  const c = await startConsoleHerald(t);
  const s = await signedIn(c, CONSOLE_TOKENS.read);
  for (const path of ['/sign-in', '/', '/agents', '/why', '/live', '/assets/console.js', '/nowhere']) {
    const res = path === '/sign-in' ? await new ConsoleSession(c.base).get(path) : await s.get(path);
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self'(;|$)/, path);
    assert.match(csp, /frame-ancestors 'none'/, path);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/, path);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff', path);
    assert.equal(res.headers.get('referrer-policy'), 'same-origin', path);
    if (res.headers.get('content-type')?.startsWith('text/html')) assert.doesNotMatch(res.body, /<script(?![^>]*\ssrc=)/, `${path} has no inline script`);
  }
});

test('a POST without the session CSRF token, or from another Origin, is refused and changes nothing', async (t) => {
  const c = await startConsoleHerald(t);
  const grpc = c.grpc('default');
  await grpc.preferences.UpdatePreferences({ preferences: { agent_id: 'csrf-agent', max_notifications_per_hour: 5 } });
  const s = await signedIn(c, CONSOLE_TOKENS.write);
  const form = { time_zone: 'UTC', max_per_hour: '99' };
  assert.equal((await s.post('/agents/csrf-agent/preferences', form)).status, 403, 'no CSRF token');
  assert.equal((await s.post('/agents/csrf-agent/preferences', { ...form, _csrf: 'x'.repeat(43) })).status, 403, 'a wrong CSRF token');
  const csrf = await s.csrf('/agents/csrf-agent');
  const foreign = await s.post('/agents/csrf-agent/preferences', { ...form, _csrf: csrf }, 'http://evil.example');
  assert.equal(foreign.status, 403, 'another Origin');
  assert.equal((await grpc.preferences.GetPreferences({ agent_id: 'csrf-agent' })).max_notifications_per_hour, 5);
  const ok = await s.post('/agents/csrf-agent/preferences', { ...form, _csrf: csrf });
  assert.equal(ok.status, 303, ok.body.slice(0, 300));
  assert.equal(ok.headers.get('location'), '/agents/csrf-agent?done=saved&tenant=default');
  assert.equal((await grpc.preferences.GetPreferences({ agent_id: 'csrf-agent' })).max_notifications_per_hour, 99);
});

test('saving the agent form with only the hourly limit changed keeps a DIGEST quiet-hours policy and the rate-limit policy', async (t) => {
  const c = await startConsoleHerald(t, { env: { HERALD_WORKER: 'false' } });
  const grpc = c.grpc('default');
  await grpc.preferences.UpdatePreferences({
    preferences: { agent_id: 'digest-agent', enable_webhook: true, webhook_url: 'https://example.com/h', quiet_hours: { start: '22:00', end: '07:00', policy: 'QUIET_HOURS_POLICY_DIGEST' }, max_notifications_per_hour: 5, rate_limit_policy: 'RATE_LIMIT_POLICY_DIGEST' },
  });
  const s = await signedIn(c, CONSOLE_TOKENS.write);
  const page = await s.get('/agents/digest-agent');
  assert.match(page.body, /id="rate-limit-policy">DIGEST</);
  const fields = formFields(page.body, 'preferences-form');
  assert.equal(fields.quiet_policy, 'DIGEST', 'the form shows the stored quiet-hours policy');
  assert.equal(fields.rate_limit_policy, 'DIGEST', 'the form shows the stored rate-limit policy');
  const saved = await s.post('/agents/digest-agent/preferences', { ...fields, max_per_hour: '6' });
  assert.equal(saved.status, 303, saved.body.slice(0, 300));
  const after = await grpc.preferences.GetPreferences({ agent_id: 'digest-agent' });
  assert.equal(after.max_notifications_per_hour, 6);
  assert.equal(after.quiet_hours?.policy, 'QUIET_HOURS_POLICY_DIGEST');
  assert.equal(after.rate_limit_policy, 'RATE_LIMIT_POLICY_DIGEST');
});

test('the rate-limit policy is edited from the agent form and read back; an unknown policy is refused 400 naming the field and nothing changes', async (t) => {
  const c = await startConsoleHerald(t, { env: { HERALD_WORKER: 'false' } });
  const grpc = c.grpc('default');
  await grpc.preferences.UpdatePreferences({ preferences: { agent_id: 'policy-agent', max_notifications_per_hour: 3, quiet_hours: { start: '22:00', end: '07:00', policy: 'QUIET_HOURS_POLICY_DEFER' } } });
  const s = await signedIn(c, CONSOLE_TOKENS.write);
  const fields = formFields((await s.get('/agents/policy-agent')).body, 'preferences-form');
  assert.equal(fields.rate_limit_policy, 'SUPPRESS');
  assert.equal((await s.post('/agents/policy-agent/preferences', { ...fields, rate_limit_policy: 'DEFER' })).status, 303);
  assert.equal((await grpc.preferences.GetPreferences({ agent_id: 'policy-agent' })).rate_limit_policy, 'RATE_LIMIT_POLICY_DEFER');
  const again = formFields((await s.get('/agents/policy-agent')).body, 'preferences-form');
  assert.equal(again.rate_limit_policy, 'DEFER');
  assert.equal(again.quiet_policy, 'DEFER');

  const badQuiet = await s.post('/agents/policy-agent/preferences', { ...again, quiet_policy: 'LOUD' });
  assert.equal(badQuiet.status, 400);
  assert.match(badQuiet.body, /preferences\.quiet_hours\.policy: must be one of SKIP, DEFER, DIGEST, got &quot;LOUD&quot;/);
  const badRate = await s.post('/agents/policy-agent/preferences', { ...again, rate_limit_policy: 'SKIP', max_per_hour: '9' });
  assert.equal(badRate.status, 400);
  assert.match(badRate.body, /preferences\.rate_limit_policy: must be one of SUPPRESS, DEFER, DIGEST, got &quot;SKIP&quot;/);
  const kept = await grpc.preferences.GetPreferences({ agent_id: 'policy-agent' });
  assert.equal(kept.max_notifications_per_hour, 3);
  assert.equal(kept.rate_limit_policy, 'RATE_LIMIT_POLICY_DEFER');
  assert.equal(kept.quiet_hours?.policy, 'QUIET_HOURS_POLICY_DEFER');
});

test('a form sent as another content type, or larger than 16 KiB, is refused 400 with the INVALID_ARGUMENT message naming the form', async (t) => {
  const c = await startConsoleHerald(t, { env: { HERALD_WORKER: 'false' } });
  const s = await signedIn(c, CONSOLE_TOKENS.write);
  const send = (type: string, body: string): Promise<Response> =>
    fetch(`${c.base}/agents/x/preferences`, { method: 'POST', redirect: 'manual', headers: { cookie: s.cookie, origin: c.base, 'content-type': type }, body });
  const json = await send('application/json', '{}');
  assert.equal(json.status, 400);
  assert.match(await json.text(), /form: must be sent as application\/x-www-form-urlencoded/);
  const big = await send('application/x-www-form-urlencoded', `notification_types=${'a'.repeat(17 * 1024)}`);
  assert.equal(big.status, 400);
  assert.match(await big.text(), /form: is larger than 16384 bytes/);
});

test('a read token sees no action buttons, and a forged POST with its own CSRF token is refused 403', async (t) => {
  const c = await startConsoleHerald(t);
  const r = await receiver(t, [{ status: 500 }]);
  const id = await failedDelivery(c, 'read-agent', r.url);
  const s = await signedIn(c, CONSOLE_TOKENS.read);
  const page = await s.get(`/deliveries/${id}`);
  assert.equal(page.status, 200);
  assert.doesNotMatch(page.body, /id="retry"|id="replay"/);
  const agent = await s.get('/agents/read-agent');
  assert.doesNotMatch(agent.body, /preferences-form|Replay/);
  const csrf = await s.csrf(`/deliveries/${id}`);
  const forged = await s.post(`/deliveries/${id}/retry`, { _csrf: csrf });
  assert.equal(forged.status, 403);
  assert.match(forged.body, /RetryDelivery needs the write role/);
  assert.equal((await s.post('/agents/read-agent/preferences', { _csrf: csrf, max_per_hour: '1' })).status, 403);
  assert.equal(r.requests.length, 1, 'no new attempt was made');
});

test('retrying a failed delivery makes a new attempt through DeliveryService and the page lists it', async (t) => {
  const c = await startConsoleHerald(t);
  const r = await receiver(t, [{ status: 500, body: 'down for maintenance' }, { status: 200, body: 'ok' }]);
  const id = await failedDelivery(c, 'retry-agent', r.url);
  const s = await signedIn(c, CONSOLE_TOKENS.write);
  const before = await s.get(`/deliveries/${id}`);
  assert.match(before.body, /down for maintenance/);
  assert.match(before.body, /id="retry"/);
  const res = await s.post(`/deliveries/${id}/retry`, { _csrf: await s.csrf(`/deliveries/${id}`) });
  assert.equal(res.status, 303);
  const after = await s.get(res.headers.get('location') ?? '');
  assert.match(after.body, /Retried: the new attempt is listed below/);
  assert.match(after.body, /status-succeeded/);
  assert.match(after.body, /<td>2<\/td><td>[^<]+<\/td><td>\d+ ms<\/td><td>200<\/td>/);
  assert.match(after.body, /<td>MANUAL<\/td>/);
  assert.equal(r.requests.length, 2);
});

test('Replay on a failed delivery schedules exactly that delivery again through ReplayDeliveries; a bad instant is refused', async (t) => {
  const c = await startConsoleHerald(t);
  const r = await receiver(t, [{ status: 500 }]);
  const id = await failedDelivery(c, 'replay-agent', r.url);
  const s = await signedIn(c, CONSOLE_TOKENS.write);
  const csrf = await s.csrf(`/deliveries/${id}`);
  const res = await s.post(`/deliveries/${id}/replay`, { _csrf: csrf });
  assert.equal(res.status, 303, res.body.slice(0, 300));
  assert.match(res.headers.get('location') ?? '', /done=replayed&count=1/);
  assert.equal((await waitForFinal(c.grpc('default'), id)).status, 'DELIVERY_STATUS_SUCCEEDED');
  assert.match((await s.get(res.headers.get('location') ?? '')).body, /1 delivery was scheduled again/);
  const bad = await s.post('/agents/replay-agent/replay', { _csrf: csrf, since: 'yesterday', status: 'FAILED' });
  assert.equal(bad.status, 400);
  assert.match(bad.body, /since: expected an instant such as/);
  const none = await s.post('/agents/replay-agent/replay', { _csrf: csrf, since: '2020-01-01', status: 'FAILED' });
  assert.match(none.headers.get('location') ?? '', /done=replayed&count=0/, 'nothing is FAILED any more');
});

test('Replay on a delivery page replays exactly that delivery, also beside another created in the same millisecond; a delivery that is not FAILED or CANCELLED is refused with 409 and another tenant\'s is 404', async (t) => {
  let ms = Date.parse('2027-03-01T12:00:00Z');
  const c = await startConsoleHerald(t, { clock: () => new Date(ms) });
  const r = await receiver(t, [{ status: 500 }, { status: 500 }, { status: 500 }]);
  const grpc = c.grpc('default');
  await grpc.preferences.UpdatePreferences({ preferences: { agent_id: 'twin-agent', enable_webhook: true, webhook_url: r.url } });
  const create = async (title: string): Promise<string> => {
    const id = (await grpc.notifications.CreateNotification({ agent_id: 'twin-agent', notification_type: 'job.failed', title })).decision?.delivery_id ?? '';
    await makeDueOnDatabaseClock(c.herald, id);
    return id;
  };
  const first = await create('one');
  const twin = await create('two');
  ms += 5;
  const later = await create('three');
  for (const id of [first, twin, later]) assert.equal((await waitForFinal(grpc, id)).status, 'DELIVERY_STATUS_FAILED');
  const createdAt = async (id: string): Promise<string> => JSON.stringify((await grpc.deliveries.GetDelivery({ id })).created_at);
  assert.equal(await createdAt(first), await createdAt(twin), 'the two were created in the same millisecond');
  const s = await signedIn(c, CONSOLE_TOKENS.write);
  const csrf = await s.csrf(`/deliveries/${first}`);
  const exact = await s.post(`/deliveries/${first}/replay`, { _csrf: csrf });
  assert.equal(exact.status, 303, exact.body.slice(0, 300));
  assert.match(exact.headers.get('location') ?? '', /done=replayed&count=1/);
  const replayed = await waitForFinal(grpc, first);
  assert.equal(replayed.status, 'DELIVERY_STATUS_SUCCEEDED');
  assert.deepEqual(replayed.attempts.map((a) => a.number), [1, 2], 'the attempts continue the same delivery');
  for (const id of [twin, later]) assert.equal((await grpc.deliveries.GetDelivery({ id })).status, 'DELIVERY_STATUS_FAILED', `${id} was not scheduled`);
  assert.equal(r.requests.length, 4);
  assert.equal(r.requests[3]?.headers['x-herald-delivery'], first);
  assert.deepEqual(r.requests[3]?.body, r.requests[0]?.body, 'the same body');

  const again = await s.post(`/deliveries/${first}/replay`, { _csrf: csrf });
  assert.equal(again.status, 409, again.body.slice(0, 300));
  assert.match(again.body, /is SUCCEEDED; only FAILED or CANCELLED deliveries can be replayed/);
  const stranger = await signedIn(c, CONSOLE_TOKENS.otherWrite);
  const foreign = await stranger.post(`/deliveries/${twin}/replay`, { _csrf: await stranger.csrf('/agents') });
  assert.equal(foreign.status, 404, foreign.body.slice(0, 300));
  assert.equal((await grpc.deliveries.GetDelivery({ id: twin })).status, 'DELIVERY_STATUS_FAILED', "another tenant's replay scheduled nothing");
  assert.equal(r.requests.length, 4);
});

test('a FAILED digest delivery has a Replay button that sends the same digest again', async (t) => {
  let ms = Date.parse('2027-01-27T22:00:00Z');
  const c = await startConsoleHerald(t, { clock: () => new Date(ms) });
  const r = await receiver(t, [{ status: 400 }]);
  const grpc = c.grpc('default');
  await grpc.preferences.UpdatePreferences({
    preferences: { agent_id: 'digest-replay', enable_webhook: true, webhook_url: r.url, time_zone: 'Europe/Paris', quiet_hours: { start: '22:00', end: '07:00', policy: 'QUIET_HOURS_POLICY_DIGEST' } },
  });
  const created = await grpc.notifications.CreateNotification({ agent_id: 'digest-replay', notification_type: 'job.completed', title: 'night work' });
  assert.equal(created.decision?.outcome, 'DECISION_OUTCOME_DEFER', created.decision?.explanation);
  const id = created.decision?.delivery_id ?? '';
  ms = Date.parse('2027-01-28T06:00:01Z');
  await makeDueOnDatabaseClock(c.herald, id);
  const failed = await waitForFinal(grpc, id);
  assert.equal(failed.status, 'DELIVERY_STATUS_FAILED');
  const s = await signedIn(c, CONSOLE_TOKENS.write);
  const page = await s.get(`/deliveries/${id}`);
  assert.match(page.body, /\(digest event\)/);
  assert.match(page.body, /id="replay"/);
  const res = await s.post(`/deliveries/${id}/replay`, { _csrf: await s.csrf(`/deliveries/${id}`) });
  assert.equal(res.status, 303, res.body.slice(0, 300));
  assert.equal((await waitForFinal(grpc, id)).status, 'DELIVERY_STATUS_SUCCEEDED');
  assert.equal(r.requests.length, 2);
  assert.deepEqual(r.requests[1]?.body, r.requests[0]?.body);
  assert.equal(r.requests[1]?.headers['x-herald-event'], 'digest');
});

test('"Send test webhook" is refused 403 for a read token and sends nothing; for a write token it sends a test event through SendTestWebhook and the agent page links to the delivery', async (t) => {
  const c = await startConsoleHerald(t);
  const r = await receiver(t, [{ status: 200, body: 'test ok' }, { status: 500, body: 'broken' }]);
  await c.grpc('default').preferences.UpdatePreferences({ preferences: { agent_id: 'test-agent', enable_webhook: true, webhook_url: r.url } });
  const reader = await signedIn(c, CONSOLE_TOKENS.read);
  assert.doesNotMatch((await reader.get('/agents/test-agent')).body, /id="send-test"/);
  const refused = await reader.post('/agents/test-agent/test', { _csrf: await reader.csrf('/agents/test-agent') });
  assert.equal(refused.status, 403);
  assert.match(refused.body, /SendTestWebhook needs the write role/);
  assert.equal(r.requests.length, 0);

  const writer = await signedIn(c, CONSOLE_TOKENS.write);
  const csrf = await writer.csrf('/agents/test-agent');
  assert.match((await writer.get('/agents/test-agent')).body, /id="send-test"/);
  assert.equal((await writer.post('/agents/test-agent/test', {})).status, 403, 'without the CSRF token');
  assert.equal(r.requests.length, 0);
  const sent = await writer.post('/agents/test-agent/test', { _csrf: csrf });
  assert.equal(sent.status, 303, sent.body.slice(0, 300));
  const location = sent.headers.get('location') ?? '';
  const id = /[?&]delivery=([^&]+)/.exec(location)?.[1] ?? '';
  assert.match(location, /^\/agents\/test-agent\?done=tested&delivery=[^&]+&tenant=default$/);
  assert.equal(r.requests.length, 1);
  assert.equal(r.requests[0]?.headers['x-herald-event'], 'test');
  const page = await writer.get(location);
  assert.match(page.body, new RegExp(`id="test-result">Test webhook sent: delivery <a href="/deliveries/${id}\\?tenant=default">${id}</a> <span class="badge status-succeeded">SUCCEEDED</span> \\(HTTP 200\\)`));
  const delivery = await c.grpc('default').deliveries.GetDelivery({ id });
  assert.equal(delivery.attempts[0]?.trigger, 'ATTEMPT_TRIGGER_TEST');
  assert.match((await writer.get(`/deliveries/${id}`)).body, /test ok/);

  const failed = await writer.post('/agents/test-agent/test', { _csrf: csrf });
  const failedPage = await writer.get(failed.headers.get('location') ?? '');
  assert.match(failedPage.body, /class="error" role="status" id="test-result">Test webhook sent: delivery .*status-failed.*\(HTTP 500\)/);
  assert.equal(r.requests.length, 2);
  const stranger = await signedIn(c, CONSOLE_TOKENS.otherWrite);
  await c.grpc('other').preferences.UpdatePreferences({ preferences: { agent_id: 'test-agent' } });
  assert.doesNotMatch((await stranger.get(`/agents/test-agent?done=tested&delivery=${id}`)).body, /test-result/, "another tenant's delivery is not reported");
});

test('a console address already in use stops start-up with the error', async (t) => {
  const first = await startConsoleHerald(t);
  await assert.rejects(startConsoleHerald(t, { env: { HERALD_CONSOLE_ADDRESS: `127.0.0.1:${new URL(first.base).port}` } }), /EADDRINUSE/);
});

test("another tenant's agent is not found, and a scoped token cannot name another tenant", async (t) => {
  const c = await startConsoleHerald(t);
  await c.grpc('default').preferences.UpdatePreferences({ preferences: { agent_id: 'default-agent' } });
  const other = await signedIn(c, CONSOLE_TOKENS.otherWrite);
  assert.equal((await other.get('/agents/default-agent')).status, 404);
  assert.doesNotMatch((await other.get('/agents?q=default')).body, /default-agent/);
  assert.equal((await other.get('/agents/default-agent?tenant=default')).status, 403);
  const operator = await signedIn(c, CONSOLE_TOKENS.operator, 'other');
  assert.equal((await operator.get('/agents/default-agent')).status, 404, 'the operator signed in to tenant other');
  const switched = await operator.get('/agents/default-agent?tenant=default');
  assert.equal(switched.status, 200, 'an operator switches tenant');
});

test('no page shows the signing secret, header values, the URL beyond its host, or the token', async (t) => {
  const c = await startConsoleHerald(t);
  const grpc = c.grpc('default');
  await grpc.preferences.UpdatePreferences({
    preferences: { agent_id: 'secret-agent', enable_webhook: true, webhook_url: 'http://hooks.example.test:8443/path-credential?key=query-credential', webhook_headers: { authorization: 'Bearer header-credential' } },
  });
  const secret = (await grpc.preferences.GetWebhookSecret({ agent_id: 'secret-agent' })).webhook_secret;
  assert.ok(secret.length > 10);
  const s = await signedIn(c, CONSOLE_TOKENS.write);
  for (const path of ['/agents', '/agents/secret-agent', '/agents?q=secret', '/', '/why?agent=secret-agent&type=x']) {
    const page = await s.get(path);
    assert.equal(page.status, 200, path);
    for (const hidden of [secret, 'header-credential', 'path-credential', 'query-credential', CONSOLE_TOKENS.write]) assert.ok(!page.body.includes(hidden), `${path} does not show ${hidden.slice(0, 12)}`);
  }
  assert.match((await s.get('/agents/secret-agent')).body, /hooks\.example\.test:8443/);
});

test('a DEFER notification shows its reason and explanation, and the why page gives the same decision', async (t) => {
  const c = await startConsoleHerald(t);
  const grpc = c.grpc('default');
  const r = await receiver(t);
  await grpc.preferences.UpdatePreferences({ preferences: { agent_id: 'night-agent', enable_webhook: true, webhook_url: r.url, quiet_hours: { ...quietAroundNow(), policy: 'QUIET_HOURS_POLICY_DEFER' } } });
  const created = await grpc.notifications.CreateNotification({ agent_id: 'night-agent', notification_type: 'digest', title: 'Nightly digest' });
  const s = await signedIn(c, CONSOLE_TOKENS.read);
  const agent = await s.get('/agents/night-agent');
  assert.match(agent.body, /quiet now/);
  assert.match(agent.body, /outcome-defer/);
  const page = await s.get(`/notifications/${created.notification?.id ?? ''}`);
  assert.match(page.body, /QUIET_HOURS/);
  assert.ok(page.body.includes(created.decision?.explanation.replaceAll("'", '&#39;') ?? 'missing'), 'the stored explanation');
  const why = await s.get('/why?agent=night-agent&type=digest&priority=NORMAL');
  assert.match(why.body, /outcome-defer/);
  assert.match(why.body, /QUIET_HOURS/);
  const urgent = await s.get(`/why?agent=night-agent&type=digest&priority=LOW&at=${encodeURIComponent('not a time')}`);
  assert.equal(urgent.status, 400);
  assert.match(urgent.body, /at: expected an instant/);
});

test('the live view streams the tenant’s delivery changes as server-sent events and nothing of other tenants', async (t) => {
  const c = await startConsoleHerald(t);
  const r = await receiver(t);
  for (const tenant of ['default', 'other']) {
    await c.grpc(tenant).preferences.UpdatePreferences({ preferences: { agent_id: `${tenant}-live`, enable_webhook: true, webhook_url: r.url } });
  }
  const s = await signedIn(c, CONSOLE_TOKENS.read);
  const abort = new AbortController();
  cleanup(t, () => abort.abort());
  const res = await fetch(`${c.base}/live/events`, { headers: { cookie: s.cookie }, signal: abort.signal });
  assert.equal(res.headers.get('content-type'), 'text/event-stream; charset=utf-8');
  const reader = res.body!.getReader();
  let text = '';
  const first = await reader.read();
  text += new TextDecoder().decode(first.value);
  await c.grpc('other').notifications.CreateNotification({ agent_id: 'other-live', notification_type: 'x', title: 'other' });
  await c.grpc('default').notifications.CreateNotification({ agent_id: 'default-live', notification_type: 'x', title: 'mine' });
  while (!/"status":"SUCCEEDED"/.test(text)) {
    const chunk = await reader.read();
    if (chunk.done) break;
    text += new TextDecoder().decode(chunk.value);
  }
  assert.match(text, /event: delivery\ndata: \{[^\n]*"agentId":"default-live"[^\n]*"status":"SUCCEEDED"/);
  assert.doesNotMatch(text, /other-live/);
});

interface LiveStream {
  readonly status: number;
  readonly text: string;
  /** Reads until the server ends the stream (or the test aborts it); everything it sent. */
  untilEnd(): Promise<string>;
}

/** A stream that was to end but did not fails the test after this long instead of hanging the suite; not a measure of speed. */
const LIVE_END_BOUND_MS = 60_000;

async function openLive(t: TestContext, c: ConsoleHerald, s: ConsoleSession): Promise<LiveStream> {
  const abort = new AbortController();
  cleanup(t, () => abort.abort());
  const res = await fetch(`${c.base}/live/events`, { headers: { cookie: s.cookie }, signal: abort.signal, redirect: 'manual' });
  if (res.status !== 200) return { status: res.status, text: await res.text(), untilEnd: async () => '' };
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = decoder.decode((await reader.read()).value);
  return {
    status: res.status,
    text,
    async untilEnd() {
      for (;;) {
        let chunk: Awaited<ReturnType<typeof reader.read>>;
        try {
          chunk = await reader.read();
        } catch (err) {
          // The test's own cleanup aborted a stream the server kept open.
          if (abort.signal.aborted) return text;
          throw err;
        }
        if (chunk.done) return text;
        text += decoder.decode(chunk.value);
      }
    },
  };
}

test('signing out ends the live views of that session at once, and only those', { timeout: LIVE_END_BOUND_MS }, async (t) => {
  const c = await startConsoleHerald(t, { env: { HERALD_WORKER: 'false' } });
  const s = await signedIn(c, CONSOLE_TOKENS.read);
  const other = await signedIn(c, CONSOLE_TOKENS.read);
  const mine = await openLive(t, c, s);
  const theirs = await openLive(t, c, other);
  assert.equal(mine.status, 200);
  assert.equal((await s.post('/sign-out', { _csrf: await s.csrf() })).status, 303);
  assert.equal(await mine.untilEnd(), ': connected\n\n', 'the stream ended with nothing more sent');
  let ended = false;
  void theirs.untilEnd().then(() => (ended = true));
  assert.equal((await other.get('/')).status, 200, 'the other session lives on');
  assert.equal(ended, false, 'and so does its stream');
});

test('a live view ends instead of sending an event once its session has expired, or its token was removed from HERALD_API_TOKENS_FILE', { timeout: LIVE_END_BOUND_MS }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'herald-console-live-'));
  cleanup(t, () => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'tokens');
  const removable = 'console-file-read-token-1';
  writeFileSync(file, `default:read:${removable}\n`);
  let ms = Date.now() - 86_400_000;
  const c = await startConsoleHerald(t, { clock: () => new Date(ms), env: { HERALD_API_TOKENS_FILE: file, HERALD_CONSOLE_SESSION_SECONDS: '600' } });
  const r = await receiver(t);
  const grpc = c.grpc('default');
  await grpc.preferences.UpdatePreferences({ preferences: { agent_id: 'live-agent', enable_webhook: true, webhook_url: r.url } });
  const send = async (): Promise<void> => {
    const id = (await grpc.notifications.CreateNotification({ agent_id: 'live-agent', notification_type: 'x', title: 'x' })).decision?.delivery_id ?? '';
    await waitForFinal(grpc, id);
  };

  const expiring = await openLive(t, c, await signedIn(c, CONSOLE_TOKENS.read));
  ms += 601_000;
  await send();
  assert.doesNotMatch(await expiring.untilEnd(), /event: delivery/, 'an expired session gets no event and its stream ends');

  const fromFile = await signedIn(c, removable);
  const revoked = await openLive(t, c, fromFile);
  const kept = await openLive(t, c, await signedIn(c, CONSOLE_TOKENS.read));
  writeFileSync(file, '# emptied\n');
  assert.equal(c.herald.app.reloadApiTokens(), true);
  await send();
  assert.doesNotMatch(await revoked.untilEnd(), /event: delivery/, 'a removed token gets no event and its stream ends');
  assert.equal((await fromFile.get('/')).status, 401, 'its pages are refused too');
  let ended = false;
  void kept.untilEnd().then(() => (ended = true));
  await send();
  assert.equal((await new ConsoleSession(c.base).get('/sign-in')).status, 200);
  assert.equal(ended, false, 'a live session with a valid token keeps its stream');
});

test('one tenant may hold 10 live views; the 11th is refused 429 with a message while another tenant still gets one', async (t) => {
  const c = await startConsoleHerald(t, { env: { HERALD_WORKER: 'false' } });
  const s = await signedIn(c, CONSOLE_TOKENS.read);
  for (let i = 0; i < 10; i++) assert.equal((await openLive(t, c, s)).status, 200, `live view ${i + 1}`);
  const refused = await openLive(t, c, s);
  assert.equal(refused.status, 429);
  assert.match(refused.text, /Tenant default has 10 live views open already, the most one tenant may; close one and try again\./);
  const operatorOnDefault = await openLive(t, c, await signedIn(c, CONSOLE_TOKENS.operator, 'default'));
  assert.equal(operatorOnDefault.status, 429, 'the cap is per tenant, whichever token asks');
  assert.equal((await openLive(t, c, await signedIn(c, CONSOLE_TOKENS.otherWrite))).status, 200, 'another tenant is not crowded out');
});

test('with HERALD_TLS_CERT_FILE the console speaks HTTPS and its session cookie is Secure', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'herald-console-tls-'));
  cleanup(t, () => rmSync(dir, { recursive: true, force: true }));
  const { certPem, keyPem } = selfSignedFor('localhost');
  writeFileSync(join(dir, 'cert.pem'), certPem);
  writeFileSync(join(dir, 'key.pem'), keyPem, { mode: 0o600 });
  const c = await startConsoleHerald(t, { env: { HERALD_WORKER: 'false', HERALD_TLS_CERT_FILE: join(dir, 'cert.pem'), HERALD_TLS_KEY_FILE: join(dir, 'key.pem') } });
  const port = new URL(c.base).port;
  const body = new URLSearchParams({ token: CONSOLE_TOKENS.read }).toString();
  const answer = await new Promise<{ status: number; cookie: string }>((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port, servername: 'localhost', ca: certPem, method: 'POST', path: '/sign-in', headers: { origin: `https://127.0.0.1:${port}`, 'content-type': 'application/x-www-form-urlencoded' } },
      (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0, cookie: res.headers['set-cookie']?.[0] ?? '' });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
  assert.equal(answer.status, 303);
  assert.match(answer.cookie, /; HttpOnly; SameSite=Strict; Secure$/);
});

/*
 * Endpoints (#18): the agent page's table of endpoints with their health,
 * and an endpoint's own page (settings, health, deliveries, edit, test,
 * delete), all through EndpointService and DeliveryService.
 */

/** An agent whose first endpoint is `firstUrl`, with a second endpoint to `url`; the second's id. */
async function agentWithEndpoint(c: ConsoleHerald, agent: string, firstUrl: string, url: string, extra: Record<string, unknown> = {}): Promise<string> {
  const grpc = c.grpc('default');
  await grpc.preferences.UpdatePreferences({ preferences: { agent_id: agent, enable_webhook: true, webhook_url: firstUrl } });
  const created = await grpc.endpoints.CreateEndpoint({ endpoint: { agent_id: agent, description: 'pager', url, event_types: ['job.*'], ...extra } });
  return created.id;
}

test('the agent page lists its endpoints with their health (failures in a row, last failure, queue depth) and links each to its page', async (t) => {
  const c = await startConsoleHerald(t);
  const ok = await receiver(t);
  const broken = await receiver(t, [{ status: 500 }]);
  const grpc = c.grpc('default');
  const id = await agentWithEndpoint(c, 'health-agent', ok.url, `${broken.url}hook`);
  const created = await grpc.notifications.CreateNotification({ agent_id: 'health-agent', notification_type: 'job.failed', title: 'to both' });
  const toBroken = created.endpoint_results.find((r) => r.endpoint_id === id)?.delivery_id ?? '';
  assert.equal((await waitForFinal(grpc, toBroken)).status, 'DELIVERY_STATUS_FAILED');
  const s = await signedIn(c, CONSOLE_TOKENS.read);
  const page = await s.get('/agents/health-agent');
  assert.equal(page.status, 200);
  const rows = /<table id="endpoints">[\s\S]*?<\/table>/.exec(page.body)?.[0] ?? '';
  const row = new RegExp(`<tr data-endpoint="${id}">[\\s\\S]*?</tr>`).exec(rows)?.[0] ?? '';
  assert.match(row, new RegExp(`<a href="/endpoints/${id}\\?tenant=default">${id}</a></td><td>pager</td><td>127\\.0\\.0\\.1:\\d+</td><td><span class="on">on</span></td><td>job\\.\\*</td>`));
  assert.match(row, /<td class="limit-full">1<\/td><td>—<\/td><td>\d{4}-\d\d-\d\dT[\d:.]+Z<\/td><td>0<\/td><\/tr>/, 'one failure in a row, never a success, a last failure, nothing waiting');
  assert.equal((rows.match(/<tr data-endpoint=/g) ?? []).length, 2, 'the first endpoint (webhook_url) is listed too');
  assert.doesNotMatch(page.body, /id="create-endpoint-form"/, 'a read token gets no form');
  const endpointPage = await s.get(`/endpoints/${id}`);
  assert.equal(endpointPage.status, 200);
  assert.doesNotMatch(endpointPage.body, /id="endpoint-form"|id="send-test"|id="delete-endpoint"/, 'nor forms or buttons on the endpoint page');
  assert.match(endpointPage.body, /id="consecutive-failures">1</);
  assert.match(endpointPage.body, /id="success-rate">0 %/);
});

test('"Add endpoint" creates one through CreateEndpoint; a URL the service refuses is shown on the form with its message and the typed values, and nothing is created', async (t) => {
  const c = await startConsoleHerald(t, { env: { HERALD_WORKER: 'false' } });
  const r = await receiver(t);
  const grpc = c.grpc('default');
  await grpc.preferences.UpdatePreferences({ preferences: { agent_id: 'adder', enable_webhook: true, webhook_url: r.url } });
  const reader = await signedIn(c, CONSOLE_TOKENS.read);
  const forged = await reader.post('/agents/adder/endpoints', { _csrf: await reader.csrf('/agents/adder'), url: `${r.url}x` });
  assert.equal(forged.status, 403);
  assert.match(forged.body, /CreateEndpoint needs the write role/);
  const s = await signedIn(c, CONSOLE_TOKENS.write);
  const csrf = await s.csrf('/agents/adder');
  assert.equal((await s.post('/agents/adder/endpoints', { url: `${r.url}x` })).status, 403, 'without the CSRF token');
  const refused = await s.post('/agents/adder/endpoints', { _csrf: csrf, description: 'chat <b>', url: 'ftp://hooks.example.test/x', event_types: 'job.*' });
  assert.equal(refused.status, 400, refused.body.slice(0, 300));
  assert.match(refused.body, /<p class="error" role="alert" id="form-error">endpoint\.url: [^<]+<\/p>/);
  const form = formFields(refused.body, 'create-endpoint-form');
  assert.deepEqual({ description: form.description, url: form.url, event_types: form.event_types }, { description: 'chat <b>', url: 'ftp://hooks.example.test/x', event_types: 'job.*' });
  assert.equal((await grpc.endpoints.ListEndpoints({ agent_id: 'adder' })).endpoints.length, 1, 'only the first endpoint');

  const created = await s.post('/agents/adder/endpoints', { _csrf: csrf, description: 'chat', url: `${r.url}chat`, event_types: 'job.*, deploy.done' });
  assert.equal(created.status, 303, created.body.slice(0, 300));
  const location = created.headers.get('location') ?? '';
  const id = /^\/endpoints\/(ep_[0-9A-Z]+)\?done=endpoint-created&tenant=default$/.exec(location)?.[1] ?? '';
  assert.notEqual(id, '', location);
  const stored = await grpc.endpoints.GetEndpoint({ id });
  assert.deepEqual([stored.agent_id, stored.description, stored.url, stored.event_types, stored.secret_set], ['adder', 'chat', `${r.url}chat`, ['job.*', 'deploy.done'], true]);
  assert.match((await s.get(location)).body, /Endpoint created, with its own signing secret/);
});

test('the edit form round-trips: what it shows is what UpdateEndpoint stored, the filter and header values are kept, and saving leaves the run of failures alone', async (t) => {
  const c = await startConsoleHerald(t);
  const ok = await receiver(t);
  const broken = await receiver(t, [{ status: 500 }]);
  const grpc = c.grpc('default');
  const id = await agentWithEndpoint(c, 'editor', ok.url, `${broken.url}hook`, {
    filter: [{ field: 'priority', operator: 'FILTER_OPERATOR_GREATER_OR_EQUAL', values: ['NORMAL'] }],
    headers: { authorization: 'Bearer header-credential' },
  });
  const created = await grpc.notifications.CreateNotification({ agent_id: 'editor', notification_type: 'job.failed', title: 'x' });
  await waitForFinal(grpc, created.endpoint_results.find((r) => r.endpoint_id === id)?.delivery_id ?? '');
  const s = await signedIn(c, CONSOLE_TOKENS.write);
  const page = await s.get(`/endpoints/${id}`);
  assert.match(page.body, /<code>priority GREATER_OR_EQUAL &quot;NORMAL&quot;<\/code>/, 'the filter is shown, read-only');
  const shown = formFields(page.body, 'endpoint-form');
  assert.deepEqual(
    { ...shown, _csrf: '' },
    {
      _csrf: '',
      enabled_was: 'true',
      enabled: 'true',
      description: 'pager',
      url: '',
      event_types: 'job.*',
      timeout_ms: '',
      retry_max_attempts: '',
      retry_initial_delay_ms: '',
      retry_multiplier: '',
      retry_max_delay_ms: '',
      quiet: 'inherit',
      quiet_start: '',
      quiet_end: '',
      quiet_policy: 'SKIP',
      min_priority: 'inherit',
      max_per_hour: '',
      rate_limit_policy: '',
    },
  );
  const edited = {
    ...shown,
    description: 'night pager',
    event_types: 'job.*, deploy.*',
    timeout_ms: '4000',
    retry_max_attempts: '4',
    retry_initial_delay_ms: '2000',
    retry_multiplier: '1.5',
    retry_max_delay_ms: '60000',
    quiet: 'window',
    quiet_start: '22:00',
    quiet_end: '07:00',
    quiet_policy: 'DIGEST',
    quiet_urgent_bypass: 'true',
    min_priority: 'HIGH',
    max_per_hour: '500',
    rate_limit_policy: 'DEFER',
  };
  const saved = await s.post(`/endpoints/${id}/settings`, edited);
  assert.equal(saved.status, 303, saved.body.slice(0, 400));
  assert.equal(saved.headers.get('location'), `/endpoints/${id}?done=endpoint-saved&tenant=default`);
  const stored = await grpc.endpoints.GetEndpoint({ id });
  assert.equal(stored.description, 'night pager');
  assert.deepEqual(stored.event_types, ['job.*', 'deploy.*']);
  assert.equal(stored.timeout_ms, 4000);
  assert.deepEqual(stored.retry_policy, { max_attempts: 4, initial_delay_ms: 2000, multiplier: 1.5, max_delay_ms: 60000, _max_attempts: 'max_attempts', _initial_delay_ms: 'initial_delay_ms', _multiplier: 'multiplier', _max_delay_ms: 'max_delay_ms' });
  assert.deepEqual(stored.overrides?.quiet_hours, { start: '22:00', end: '07:00', policy: 'QUIET_HOURS_POLICY_DIGEST', urgent_bypass: true });
  assert.equal(stored.overrides?.min_priority, 'PRIORITY_HIGH');
  assert.equal(stored.overrides?.max_notifications_per_hour, 500);
  assert.equal(stored.overrides?.rate_limit_policy, 'RATE_LIMIT_POLICY_DEFER');
  assert.equal(stored.filter.length, 1, 'the filter is kept');
  assert.deepEqual(stored.headers, { authorization: '***' }, 'the header is kept');
  assert.equal(stored.url, `${broken.url}hook`, 'an empty "new URL" keeps the URL');
  assert.equal(stored.consecutive_failures, 1, 'saving without touching "on" keeps the run of failures');
  const again = await s.get(`/endpoints/${id}?done=endpoint-saved`);
  assert.match(again.body, /Endpoint saved\./);
  assert.deepEqual({ ...formFields(again.body, 'endpoint-form'), _csrf: '' }, { ...edited, _csrf: '' }, 'the form shows what was saved');
  for (const hidden of ['header-credential', '/hook']) assert.ok(!again.body.includes(hidden), `the page does not show ${hidden}`);

  const inherit = await s.post(`/endpoints/${id}/settings`, { ...edited, quiet: 'none', min_priority: 'inherit', max_per_hour: '', rate_limit_policy: '', retry_multiplier: '' });
  assert.equal(inherit.status, 303, inherit.body.slice(0, 400));
  const back = await grpc.endpoints.GetEndpoint({ id });
  assert.equal(back.overrides?.quiet_hours_choice, 'no_quiet_hours');
  assert.equal(back.overrides?.min_priority, undefined, 'back to the agent\'s minimum');
  assert.equal(back.overrides?.max_notifications_per_hour, undefined);
  assert.equal(back.retry_policy?.multiplier, undefined);

  const off = await s.post(`/endpoints/${id}/settings`, { ...edited, enabled: '' });
  assert.equal(off.status, 303);
  assert.equal((await grpc.endpoints.GetEndpoint({ id })).enabled, false);
  const on = await s.post(`/endpoints/${id}/settings`, { ...edited, enabled_was: 'false', enabled: 'true' });
  assert.equal(on.status, 303);
  const reenabled = await grpc.endpoints.GetEndpoint({ id });
  assert.equal(reenabled.enabled, true);
  assert.equal(reenabled.consecutive_failures, 0, 'turning it on is the owner re-enabling it');
});

test('a value the service refuses is shown on the edit form with its message and the typed values, with 400 or 409, and nothing is written', async (t) => {
  const c = await startConsoleHerald(t, { env: { HERALD_WORKER: 'false' } });
  const r = await receiver(t);
  const id = await agentWithEndpoint(c, 'strict', r.url, `${r.url}two`);
  const s = await signedIn(c, CONSOLE_TOKENS.write);
  const form = formFields((await s.get(`/endpoints/${id}`)).body, 'endpoint-form');
  const cases: ReadonlyArray<readonly [Record<string, string>, number, RegExp]> = [
    [{ retry_max_attempts: '0' }, 400, /endpoint\.retry_policy\.max_attempts: /],
    [{ retry_initial_delay_ms: '5000', retry_max_delay_ms: '10' }, 400, /endpoint\.retry_policy\.max_delay_ms: must be at least initial_delay_ms \(5000\), got 10/],
    [{ timeout_ms: 'soon' }, 400, /endpoint\.timeout_ms: expected a whole number, got &quot;soon&quot;/],
    [{ quiet: 'window', quiet_start: '', quiet_end: '' }, 400, /endpoint\.overrides\.quiet_hours: a quiet-hours policy without a window/],
    [{ event_types: 'bad type!' }, 400, /endpoint\.event_types/],
  ];
  for (const [change, status, message] of cases) {
    const res = await s.post(`/endpoints/${id}/settings`, { ...form, description: 'typed', ...change });
    assert.equal(res.status, status, `${JSON.stringify(change)}: ${res.body.slice(0, 300)}`);
    assert.match(/<p class="error" role="alert" id="form-error">([^<]*)<\/p>/.exec(res.body)?.[1] ?? '', message, JSON.stringify(change));
    const shown = formFields(res.body, 'endpoint-form');
    assert.equal(shown.description, 'typed', 'the typed values are shown again');
    for (const [name, value] of Object.entries(change)) assert.equal(shown[name], value, `${name} as typed`);
  }
  const first = (await c.grpc('default').endpoints.ListEndpoints({ agent_id: 'strict' })).endpoints[0]?.id ?? '';
  const moved = await s.post(`/endpoints/${first}/settings`, { ...formFields((await s.get(`/endpoints/${first}`)).body, 'endpoint-form'), url: `${r.url}elsewhere` });
  assert.equal(moved.status, 409, "the first endpoint's URL is webhook_url's");
  assert.match(moved.body, /id="form-error">[^<]*change its url with UpdatePreferences \(webhook_url\)/);
  assert.equal((await c.grpc('default').endpoints.GetEndpoint({ id })).description, 'pager', 'nothing was written');
});

test('"Send test webhook" on an endpoint page sends to that endpoint, signed with its own secret, and reports the delivery; a read token is refused', async (t) => {
  const c = await startConsoleHerald(t);
  const first = await receiver(t);
  const second = await receiver(t);
  const id = await agentWithEndpoint(c, 'tester', first.url, `${second.url}hook`);
  const reader = await signedIn(c, CONSOLE_TOKENS.read);
  const refused = await reader.post(`/endpoints/${id}/test`, { _csrf: await reader.csrf(`/endpoints/${id}`) });
  assert.equal(refused.status, 403);
  assert.match(refused.body, /SendTestWebhook needs the write role/);
  const s = await signedIn(c, CONSOLE_TOKENS.write);
  const sent = await s.post(`/endpoints/${id}/test`, { _csrf: await s.csrf(`/endpoints/${id}`) });
  assert.equal(sent.status, 303, sent.body.slice(0, 300));
  const location = sent.headers.get('location') ?? '';
  assert.match(location, new RegExp(`^/endpoints/${id}\\?done=tested&delivery=dlv_\\w+&tenant=default$`));
  assert.equal(first.requests.length, 0, 'not to the first endpoint');
  assert.equal(second.requests.length, 1);
  const req = second.requests[0]!;
  assert.equal(req.path, '/hook');
  assert.equal(req.headers['x-herald-event'], 'test');
  assert.equal(req.headers['x-herald-endpoint'], id);
  const secret = (await c.grpc('default').endpoints.GetEndpointSecret({ id })).secret;
  assert.equal(req.headers['x-herald-signature'], `sha256=${createHmac('sha256', secret).update(req.body).digest('hex')}`, "signed with the endpoint's own secret");
  const page = await s.get(location);
  assert.match(page.body, /id="test-result">Test webhook sent: delivery <a href="\/deliveries\/dlv_\w+\?tenant=default">dlv_\w+<\/a> <span class="badge status-succeeded">SUCCEEDED<\/span> \(HTTP 200\)/);
  assert.match(/<table class="deliveries">[\s\S]*?<\/table>/.exec(page.body)?.[0] ?? '', /status-succeeded/, 'the test delivery is listed under the endpoint');
  const firstId = (await c.grpc('default').endpoints.ListEndpoints({ agent_id: 'tester' })).endpoints[0]?.id ?? '';
  assert.doesNotMatch((await s.get(`/endpoints/${firstId}?${location.split('?')[1] ?? ''}`)).body, /test-result/, "another endpoint's page does not report it");
});

test("an endpoint page lists only that endpoint's deliveries, newest first, 25 to a page with a link to the older ones", async (t) => {
  const c = await startConsoleHerald(t, { env: { HERALD_WORKER: 'false' } });
  const r = await receiver(t);
  const grpc = c.grpc('default');
  const id = await agentWithEndpoint(c, 'pager-agent', r.url, `${r.url}two`);
  const mine: string[] = [];
  for (let i = 0; i < 27; i++) {
    const created = await grpc.notifications.CreateNotification({ agent_id: 'pager-agent', notification_type: 'job.done', title: `n${i}` });
    mine.push(created.endpoint_results.find((x) => x.endpoint_id === id)?.delivery_id ?? '');
  }
  const s = await signedIn(c, CONSOLE_TOKENS.read);
  const ids = (body: string): string[] => [...(/<table class="deliveries">[\s\S]*?<\/table>/.exec(body)?.[0] ?? '').matchAll(/<a href="\/deliveries\/(dlv_\w+)\?/g)].map((m) => m[1] ?? '');
  const one = await s.get(`/endpoints/${id}`);
  const next = /<a href="([^"]+)" id="deliveries-next">/.exec(one.body)?.[1]?.replaceAll('&amp;', '&') ?? '';
  assert.match(next, new RegExp(`^/endpoints/${id}\\?page=[^&]+&tenant=default$`));
  const two = await s.get(next);
  assert.doesNotMatch(two.body, /id="deliveries-next"/, 'the last page');
  assert.deepEqual([...ids(one.body), ...ids(two.body)], [...mine].reverse(), "every delivery of the endpoint once, newest first, and none of the first endpoint's");
  assert.equal(ids(one.body).length, 25);
});

test('deleting an endpoint goes through its confirmation page, cancels its waiting deliveries and says how many; the first endpoint offers no delete', async (t) => {
  const c = await startConsoleHerald(t, { env: { HERALD_WORKER: 'false' } });
  const r = await receiver(t);
  const grpc = c.grpc('default');
  const id = await agentWithEndpoint(c, 'deleter', r.url, `${r.url}two`);
  const created = await grpc.notifications.CreateNotification({ agent_id: 'deleter', notification_type: 'job.done', title: 'waiting' });
  const waiting = created.endpoint_results.find((x) => x.endpoint_id === id)?.delivery_id ?? '';
  const reader = await signedIn(c, CONSOLE_TOKENS.read);
  assert.equal((await reader.get(`/endpoints/${id}/delete`)).status, 403);
  assert.equal((await reader.post(`/endpoints/${id}/delete`, { _csrf: await reader.csrf(`/endpoints/${id}`), confirm: id })).status, 403);
  const s = await signedIn(c, CONSOLE_TOKENS.write);
  const page = await s.get(`/endpoints/${id}`);
  assert.match(page.body, new RegExp(`<a href="/endpoints/${id}/delete\\?tenant=default" id="delete-endpoint"`));
  const confirm = await s.get(`/endpoints/${id}/delete`);
  assert.equal(confirm.status, 200);
  assert.match(confirm.body, /id="delete-consequence">Its signing secret is deleted with it, and the 1 delivery waiting for it is cancelled/);
  const csrf = await s.csrf(`/endpoints/${id}/delete`);
  assert.equal((await s.post(`/endpoints/${id}/delete`, { confirm: id })).status, 403, 'without the CSRF token');
  const unconfirmed = await s.post(`/endpoints/${id}/delete`, { _csrf: csrf });
  assert.equal(unconfirmed.status, 400);
  assert.match(unconfirmed.body, /confirm: must name the endpoint/);
  assert.equal((await grpc.endpoints.GetEndpoint({ id })).id, id, 'still there');
  const deleted = await s.post(`/endpoints/${id}/delete`, { _csrf: csrf, confirm: id });
  assert.equal(deleted.status, 303, deleted.body.slice(0, 300));
  assert.equal(deleted.headers.get('location'), '/agents/deleter?done=endpoint-deleted&count=1&tenant=default');
  assert.match((await s.get(deleted.headers.get('location') ?? '')).body, /Endpoint deleted; 1 waiting delivery was cancelled\./);
  assert.equal((await grpc.deliveries.GetDelivery({ id: waiting })).status, 'DELIVERY_STATUS_CANCELLED');
  assert.equal((await s.get(`/endpoints/${id}`)).status, 404);
  const firstId = (await grpc.endpoints.ListEndpoints({ agent_id: 'deleter' })).endpoints[0]?.id ?? '';
  assert.doesNotMatch((await s.get(`/endpoints/${firstId}`)).body, /id="delete-endpoint"/);
  const refused = await s.post(`/endpoints/${firstId}/delete`, { _csrf: csrf, confirm: firstId });
  assert.equal(refused.status, 409, 'the service refuses it even when forged');
});

test("another tenant's endpoint is 404 on every endpoint URL, and its forged POSTs change and send nothing", async (t) => {
  const c = await startConsoleHerald(t);
  const r = await receiver(t);
  const id = await agentWithEndpoint(c, 'owned', r.url, `${r.url}two`);
  const stranger = await signedIn(c, CONSOLE_TOKENS.otherWrite);
  const csrf = await stranger.csrf('/agents');
  assert.equal((await stranger.get(`/endpoints/${id}`)).status, 404);
  assert.equal((await stranger.get(`/endpoints/${id}/delete`)).status, 404);
  const form = { _csrf: csrf, description: 'taken', enabled_was: 'true', enabled: 'true', quiet: 'inherit', min_priority: 'inherit' };
  assert.equal((await stranger.post(`/endpoints/${id}/settings`, form)).status, 404);
  assert.equal((await stranger.post(`/endpoints/${id}/test`, { _csrf: csrf })).status, 404);
  assert.equal((await stranger.post(`/endpoints/${id}/delete`, { _csrf: csrf, confirm: id })).status, 404);
  await c.grpc('other').preferences.UpdatePreferences({ preferences: { agent_id: 'owned' } });
  assert.equal((await stranger.post('/agents/owned/endpoints', { _csrf: csrf, url: `${r.url}mine` })).status, 303, 'its own agent of the same name');
  const stored = await c.grpc('default').endpoints.GetEndpoint({ id });
  assert.equal(stored.description, 'pager');
  assert.equal((await c.grpc('default').endpoints.ListEndpoints({ agent_id: 'owned' })).endpoints.length, 2);
  assert.equal(r.requests.length, 0, 'no test webhook was sent');
});
