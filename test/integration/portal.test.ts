import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { status } from '@grpc/grpc-js';
import { Webhook } from 'standardwebhooks';
import { escapeHtml } from '../../src/console/html.js';
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
