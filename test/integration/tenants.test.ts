import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { RPC_ROLES, type RpcName } from '../../src/auth/roles.js';
import { createHeraldClient, type HeraldClient } from '../../src/client.js';
import type { DeliveryEvent__Output } from '../../src/generated/proto/herald/v1/DeliveryEvent.js';
import { loadHeraldGrpcObject } from '../../src/grpc/proto.js';
import { eventually, spawnHerald, tempDir } from '../helpers/child-herald.js';
import { cleanup, codeOf, startHerald, type Herald } from '../helpers/herald.js';
import { startReceiver, type Receiver, type ReceiverStep } from '../helpers/receiver.js';

/*
 * Tenants (issue #9): every row belongs to a tenant, every RPC is scoped to
 * the caller's, and each token's role decides which RPCs it may call. All
 * through the real API, with scoped tokens and an operator token.
 */

const OPERATOR = 'operator-token-0000001';
const TOKENS = {
  acmeRead: 'acme-read-token-00001',
  acmeWrite: 'acme-write-token-0001',
  acmeAdmin: 'acme-admin-token-0001',
  betaAdmin: 'beta-admin-token-0001',
};
const TOKEN_ENV = [OPERATOR, `acme:read:${TOKENS.acmeRead}`, `acme:write:${TOKENS.acmeWrite}`, `acme:admin:${TOKENS.acmeAdmin}`, `beta:admin:${TOKENS.betaAdmin}`].join(',');

async function receiver(t: TestContext, fallback?: ReceiverStep): Promise<Receiver> {
  const r = await startReceiver([], fallback === undefined ? {} : { fallback });
  cleanup(t, () => r.close());
  return r;
}

function clientFor(t: TestContext, h: Pick<Herald, 'address'>, options: { token?: string; tenant?: string }): HeraldClient {
  const c = createHeraldClient(h.address, options);
  cleanup(t, () => c.close());
  return c;
}

const secondsAgo = (s: number) => ({ seconds: Math.floor(Date.now() / 1000) - s });

/**
 * The code a WatchDeliveries call ends up with: OK once an event arrives
 * (`trigger` makes one, again and again until the stream is live), or the
 * stream's error.
 */
async function watchCode(client: HeraldClient, trigger: () => Promise<unknown>): Promise<number> {
  const stream = client.deliveries.WatchDeliveries({ agent_id: '' });
  let result: number | undefined;
  stream.on('data', () => (result ??= status.OK));
  stream.on('error', (err: ServiceError) => (result ??= err.code));
  try {
    return await eventually('WatchDeliveries to answer', async () => {
      if (result === undefined) await trigger();
      return result;
    });
  } finally {
    stream.cancel();
  }
}

/** ListPreferences with `x-herald-tenant` given once per entry of `tenants` (the test client sends it once). */
function listWithTenants(address: string, token: string, tenants: string[]): Promise<unknown> {
  const api = loadHeraldGrpcObject().herald.v1;
  const client = new api.PreferencesService(address, credentials.createInsecure());
  const metadata = new Metadata();
  metadata.set('authorization', `Bearer ${token}`);
  for (const tenant of tenants) metadata.add('x-herald-tenant', tenant);
  return new Promise((resolve, reject) => {
    client.ListPreferences({}, metadata, (err, res) => {
      client.close();
      if (err) reject(err);
      else resolve(res);
    });
  });
}

test('each RPC answers each caller as its role and tenant allow', async (t) => {
  const ok = await receiver(t);
  const bad = await receiver(t, { status: 400, body: 'no' });
  const h = await startHerald(t, { env: { HERALD_API_TOKENS: TOKEN_ENV, HERALD_PORTAL_BASE_URL: 'https://portal.example' } });
  const operator = clientFor(t, h, { token: OPERATOR, tenant: 'acme' });
  await operator.preferences.UpdatePreferences({ preferences: { agent_id: 'agent-1', enable_webhook: true, webhook_url: ok.url } });
  await operator.preferences.UpdatePreferences({ preferences: { agent_id: 'failing', enable_webhook: true, webhook_url: bad.url } });
  const created = await operator.notifications.CreateNotification({ agent_id: 'agent-1', notification_type: 'job.done', title: 'fixture' });
  const notificationId = created.notification!.id;
  const deliveryId = created.decision!.delivery_id;
  // A FAILED delivery, which RetryDelivery can retry again and again (each retry fails it once more).
  const failed = await operator.deliveries.SendTestWebhook({ agent_id: 'failing' });
  assert.equal(failed.success, false);
  // An agent whose endpoints the EndpointService calls act on (its own, so that agent-1's webhooks stay one).
  await operator.preferences.UpdatePreferences({ preferences: { agent_id: 'ep-owner' } });
  const endpoint = await operator.endpoints.CreateEndpoint({ endpoint: { agent_id: 'ep-owner', url: ok.url } });
  const trigger = () => operator.notifications.CreateNotification({ agent_id: 'agent-1', notification_type: 'job.done', title: 'probe' });

  let doomed = 0;
  type Call = (c: HeraldClient) => Promise<unknown>;
  const calls: Record<RpcName, Call> = {
    GetPreferences: (c) => c.preferences.GetPreferences({ agent_id: 'agent-1' }),
    ListPreferences: (c) => c.preferences.ListPreferences({}),
    UpdatePreferences: (c) => c.preferences.UpdatePreferences({ preferences: { agent_id: 'agent-2', time_zone: 'Europe/Paris' } }),
    DeletePreferences: async (c) => {
      const agent = `doomed-${++doomed}`;
      await operator.preferences.UpdatePreferences({ preferences: { agent_id: agent } });
      return c.preferences.DeletePreferences({ agent_id: agent });
    },
    RotateWebhookSecret: (c) => c.preferences.RotateWebhookSecret({ agent_id: 'agent-1' }),
    GetWebhookSecret: (c) => c.preferences.GetWebhookSecret({ agent_id: 'agent-1' }),
    GetEndpoint: (c) => c.endpoints.GetEndpoint({ id: endpoint.id }),
    ListEndpoints: (c) => c.endpoints.ListEndpoints({ agent_id: 'ep-owner' }),
    GetEndpointStats: (c) => c.endpoints.GetEndpointStats({ id: endpoint.id }),
    CreateEndpoint: (c) => c.endpoints.CreateEndpoint({ endpoint: { agent_id: 'ep-owner', url: ok.url } }),
    UpdateEndpoint: (c) => c.endpoints.UpdateEndpoint({ endpoint: { id: endpoint.id, description: 'changed' } }),
    DeleteEndpoint: async (c) => {
      const doomedEndpoint = await operator.endpoints.CreateEndpoint({ endpoint: { agent_id: 'ep-owner', url: ok.url } });
      return c.endpoints.DeleteEndpoint({ id: doomedEndpoint.id });
    },
    RotateEndpointSecret: (c) => c.endpoints.RotateEndpointSecret({ id: endpoint.id }),
    GetEndpointSecret: (c) => c.endpoints.GetEndpointSecret({ id: endpoint.id }),
    CreateNotification: (c) => c.notifications.CreateNotification({ agent_id: 'agent-1', notification_type: 'job.done', title: 'hello' }),
    EvaluateNotification: (c) => c.notifications.EvaluateNotification({ notification: { agent_id: 'agent-1', notification_type: 'job.done', title: 'hello' } }),
    GetNotification: (c) => c.notifications.GetNotification({ id: notificationId }),
    ListNotifications: (c) => c.notifications.ListNotifications({ agent_id: 'agent-1' }),
    MarkNotificationRead: (c) => c.notifications.MarkNotificationRead({ id: notificationId }),
    GetDelivery: (c) => c.deliveries.GetDelivery({ id: deliveryId }),
    ListDeliveries: (c) => c.deliveries.ListDeliveries({}),
    RetryDelivery: (c) => c.deliveries.RetryDelivery({ id: failed.delivery_id }),
    SendTestWebhook: (c) => c.deliveries.SendTestWebhook({ agent_id: 'agent-1' }),
    GetDeliveryStats: (c) => c.deliveries.GetDeliveryStats({}),
    ReplayDeliveries: (c) => c.deliveries.ReplayDeliveries({ agent_id: 'failing', since: secondsAgo(3600) }),
    CreatePortalSession: (c) => c.portal.CreatePortalSession({ agent_id: 'agent-1' }),
    ListPortalSessions: (c) => c.portal.ListPortalSessions({}),
    RevokePortalSession: async (c) => {
      const created = await operator.portal.CreatePortalSession({ agent_id: 'agent-1' });
      return c.portal.RevokePortalSession({ id: created.session!.id });
    },
    WatchDeliveries: async (c) => {
      const code = await watchCode(c, trigger);
      if (code !== status.OK) throw Object.assign(new Error('watch failed'), { code });
    },
  };

  const allowed = (role: 'read' | 'write' | 'admin', method: RpcName): boolean => ({ read: 0, write: 1, admin: 2 })[role] >= { read: 0, write: 1, admin: 2 }[RPC_ROLES[method]];
  const callers: Array<{ name: string; client: HeraldClient; expect: (m: RpcName) => number }> = [
    { name: 'operator naming acme', client: operator, expect: () => status.OK },
    { name: 'acme admin', client: clientFor(t, h, { token: TOKENS.acmeAdmin }), expect: () => status.OK },
    { name: 'acme write', client: clientFor(t, h, { token: TOKENS.acmeWrite }), expect: (m) => (allowed('write', m) ? status.OK : status.PERMISSION_DENIED) },
    { name: 'acme read', client: clientFor(t, h, { token: TOKENS.acmeRead, tenant: 'acme' }), expect: (m) => (allowed('read', m) ? status.OK : status.PERMISSION_DENIED) },
    { name: 'acme admin naming beta', client: clientFor(t, h, { token: TOKENS.acmeAdmin, tenant: 'beta' }), expect: () => status.PERMISSION_DENIED },
    { name: 'beta admin naming acme', client: clientFor(t, h, { token: TOKENS.betaAdmin, tenant: 'acme' }), expect: () => status.PERMISSION_DENIED },
    { name: 'no token', client: clientFor(t, h, { tenant: 'acme' }), expect: () => status.UNAUTHENTICATED },
    { name: 'an unknown token', client: clientFor(t, h, { token: 'not-a-configured-token' }), expect: () => status.UNAUTHENTICATED },
    { name: 'operator naming a malformed tenant', client: clientFor(t, h, { token: OPERATOR, tenant: 'Acme Corp' }), expect: () => status.INVALID_ARGUMENT },
  ];
  const got: string[] = [];
  const want: string[] = [];
  for (const caller of callers) {
    for (const method of Object.keys(calls) as RpcName[]) {
      let code: number = status.OK;
      try {
        await calls[method](caller.client);
      } catch (err) {
        code = (err as { code?: number }).code ?? -1;
      }
      got.push(`${caller.name} → ${method}: ${status[code]}`);
      want.push(`${caller.name} → ${method}: ${status[caller.expect(method)]}`);
    }
  }
  assert.deepEqual(got, want);

  const denied = await codeOf(clientFor(t, h, { token: TOKENS.acmeWrite }).preferences.GetWebhookSecret({ agent_id: 'agent-1' }));
  assert.equal(denied.details, 'GetWebhookSecret needs the admin role; this token has write');
  const twice = await codeOf(listWithTenants(h.address, OPERATOR, ['acme', 'beta']));
  // grpc-js hands the server repeated values joined with ", ", which is no tenant id: never one of the two by chance.
  assert.equal(twice.code, status.INVALID_ARGUMENT);
  assert.match(twice.details, /^x-herald-tenant: "acme, beta" is not a tenant id/);
  const elsewhere = await codeOf(clientFor(t, h, { token: TOKENS.acmeRead, tenant: 'beta' }).preferences.GetPreferences({ agent_id: 'agent-1' }));
  assert.match(elsewhere.details, /belongs to tenant "acme" and cannot act on tenant "beta"/);
});

test('two tenants can both have agent-1 and never see, change or receive each other\'s', async (t) => {
  const acmeHooks = await receiver(t);
  const betaHooks = await receiver(t);
  const h = await startHerald(t, { env: { HERALD_API_TOKENS: TOKEN_ENV } });
  const acme = clientFor(t, h, { token: TOKENS.acmeAdmin });
  const beta = clientFor(t, h, { token: TOKENS.betaAdmin });
  const defaultTenant = clientFor(t, h, { token: OPERATOR });

  await acme.preferences.UpdatePreferences({ preferences: { agent_id: 'agent-1', enable_webhook: true, webhook_url: `${acmeHooks.url}acme`, max_notifications_per_hour: 1 } });
  await beta.preferences.UpdatePreferences({ preferences: { agent_id: 'agent-1', enable_webhook: true, webhook_url: `${betaHooks.url}beta`, max_notifications_per_hour: 1 } });
  assert.equal((await acme.preferences.GetPreferences({ agent_id: 'agent-1' })).webhook_url, `${acmeHooks.url}acme`);
  assert.equal((await beta.preferences.GetPreferences({ agent_id: 'agent-1' })).webhook_url, `${betaHooks.url}beta`);
  assert.deepEqual((await beta.preferences.ListPreferences({})).preferences.map((p) => [p.agent_id, p.webhook_url]), [['agent-1', `${betaHooks.url}beta`]]);
  assert.equal((await codeOf(defaultTenant.preferences.GetPreferences({ agent_id: 'agent-1' }))).code, status.NOT_FOUND);
  assert.deepEqual((await defaultTenant.preferences.ListPreferences({})).preferences, []);

  // Secrets are per tenant: rotating beta's leaves acme's alone.
  const acmeSecret = (await acme.preferences.GetWebhookSecret({ agent_id: 'agent-1' })).webhook_secret;
  const betaSecret = (await beta.preferences.GetWebhookSecret({ agent_id: 'agent-1' })).webhook_secret;
  assert.notEqual(acmeSecret, betaSecret);
  await beta.preferences.RotateWebhookSecret({ agent_id: 'agent-1', grace_period_seconds: 0 });
  assert.equal((await acme.preferences.GetWebhookSecret({ agent_id: 'agent-1' })).webhook_secret, acmeSecret);

  // Watch streams of both tenants, open before anything is created.
  const events: Record<'acme' | 'beta', DeliveryEvent__Output[]> = { acme: [], beta: [] };
  for (const [name, client] of [['acme', acme], ['beta', beta]] as const) {
    const stream = client.deliveries.WatchDeliveries({ agent_id: '' });
    stream.on('data', (e: DeliveryEvent__Output) => events[name].push(e));
    stream.on('error', () => undefined);
    t.after(() => stream.cancel());
  }

  // The rate limit and the idempotency key are per tenant and agent.
  const first = await eventually('acme\'s watch stream to be live', async () => {
    const n = await acme.notifications.CreateNotification({ agent_id: 'agent-1', notification_type: 'job.done', title: 'for acme', idempotency_key: 'k1' });
    return events.acme.some((e) => e.delivery?.id === n.decision?.delivery_id) ? n : undefined;
  });
  assert.equal(first.decision?.outcome, 'DECISION_OUTCOME_DELIVER');
  const second = await acme.notifications.CreateNotification({ agent_id: 'agent-1', notification_type: 'job.done', title: 'over the limit' });
  assert.equal(second.decision?.reason, 'DECISION_REASON_RATE_LIMITED');
  const betaFirst = await beta.notifications.CreateNotification({ agent_id: 'agent-1', notification_type: 'job.done', title: 'for beta', idempotency_key: 'k1' });
  assert.deepEqual([betaFirst.replayed, betaFirst.decision?.outcome], [false, 'DECISION_OUTCOME_DELIVER']);
  assert.notEqual(betaFirst.notification?.id, first.notification?.id);

  // Each tenant's webhook goes to its own URL, signed with its own secret's key.
  const [toAcme] = await acmeHooks.waitForRequests(1);
  const [toBeta] = await betaHooks.waitForRequests(1);
  assert.equal(toAcme!.path, '/acme');
  assert.equal(toBeta!.path, '/beta');
  assert.match(toAcme!.body.toString(), /"title":"for acme"/);
  assert.match(toBeta!.body.toString(), /"title":"for beta"/);

  // Beta's stream saw beta's events only (acme's were emitted first, so they would have arrived first), each carrying its tenant.
  await eventually('beta\'s event on beta\'s stream', () => (events.beta.some((e) => e.delivery?.id === betaFirst.decision?.delivery_id) ? true : undefined));
  assert.deepEqual([...new Set(events.beta.map((e) => e.tenant_id))], ['beta']);
  assert.ok(events.acme.every((e) => e.tenant_id === 'acme'));

  // By-id calls on the other tenant's ids are NOT_FOUND; lists and stats show nothing of it.
  const acmeNotification = first.notification!.id;
  const acmeDelivery = first.decision!.delivery_id;
  for (const [name, call] of [
    // Thunks, called one at a time: promises made up front would reject unhandled while the first is awaited.
    ['GetNotification', () => beta.notifications.GetNotification({ id: acmeNotification })],
    ['MarkNotificationRead', () => beta.notifications.MarkNotificationRead({ id: acmeNotification })],
    ['GetDelivery', () => beta.deliveries.GetDelivery({ id: acmeDelivery })],
    ['RetryDelivery', () => beta.deliveries.RetryDelivery({ id: acmeDelivery })],
  ] as const) {
    assert.equal((await codeOf(call())).code, status.NOT_FOUND, name);
  }
  assert.equal((await acme.notifications.GetNotification({ id: acmeNotification })).read, false, 'beta did not mark it read');
  // Calls naming an agent only acme has are NOT_FOUND for beta, and change nothing of acme's.
  await acme.preferences.UpdatePreferences({ preferences: { agent_id: 'acme-private', enable_webhook: true, webhook_url: `${acmeHooks.url}private` } });
  const privateSecret = (await acme.preferences.GetWebhookSecret({ agent_id: 'acme-private' })).webhook_secret;
  for (const [name, call] of [
    ['GetPreferences', () => beta.preferences.GetPreferences({ agent_id: 'acme-private' })],
    ['GetWebhookSecret', () => beta.preferences.GetWebhookSecret({ agent_id: 'acme-private' })],
    ['RotateWebhookSecret', () => beta.preferences.RotateWebhookSecret({ agent_id: 'acme-private' })],
    ['DeletePreferences', () => beta.preferences.DeletePreferences({ agent_id: 'acme-private' })],
    ['SendTestWebhook', () => beta.deliveries.SendTestWebhook({ agent_id: 'acme-private' })],
    ['ReplayDeliveries', () => beta.deliveries.ReplayDeliveries({ agent_id: 'acme-private', since: secondsAgo(3600) })],
  ] as const) {
    assert.equal((await codeOf(call())).code, status.NOT_FOUND, name);
  }
  assert.equal((await acme.preferences.GetWebhookSecret({ agent_id: 'acme-private' })).webhook_secret, privateSecret);
  assert.ok(!acmeHooks.requests.some((r) => r.path === '/private'), 'no test webhook went to acme\'s agent');
  assert.deepEqual((await beta.notifications.ListNotifications({ agent_id: 'agent-1' })).notifications.map((n) => n.id), [betaFirst.notification!.id]);
  assert.deepEqual((await beta.deliveries.ListDeliveries({})).deliveries.map((d) => d.id), [betaFirst.decision!.delivery_id]);
  assert.deepEqual((await beta.deliveries.ListDeliveries({ agent_id: 'agent-1' })).deliveries.map((d) => d.id), [betaFirst.decision!.delivery_id]);
  assert.equal((await beta.deliveries.GetDeliveryStats({})).total, 1);
  assert.equal((await acme.deliveries.GetDeliveryStats({ agent_id: 'agent-1' })).total, 1);

  // A write naming an agent of another tenant creates the caller's own.
  await beta.preferences.UpdatePreferences({ preferences: { agent_id: 'acme-only', time_zone: 'Asia/Tokyo' } });
  await acme.preferences.UpdatePreferences({ preferences: { agent_id: 'acme-only', time_zone: 'Europe/Paris' } });
  assert.equal((await beta.preferences.GetPreferences({ agent_id: 'acme-only' })).time_zone, 'Asia/Tokyo');
  assert.equal((await acme.preferences.GetPreferences({ agent_id: 'acme-only' })).time_zone, 'Europe/Paris');

  // Deleting beta's agent-1 leaves acme's.
  await beta.preferences.DeletePreferences({ agent_id: 'agent-1' });
  assert.equal((await acme.preferences.GetPreferences({ agent_id: 'agent-1' })).enable_webhook, true);
});

test('410 Gone turns off only that tenant\'s agent, and an agent at its in-flight cap holds back only its own tenant', async (t) => {
  const gone = await receiver(t, { status: 410, body: 'gone' });
  const hanging = await receiver(t, { hang: true });
  const fine = await receiver(t);
  const h = await startHerald(t, { env: { HERALD_AGENT_MAX_IN_FLIGHT: '1' } });
  const acme = clientFor(t, h, { tenant: 'acme' });
  const beta = clientFor(t, h, { tenant: 'beta' });

  await acme.preferences.UpdatePreferences({ preferences: { agent_id: 'agent-1', enable_webhook: true, webhook_url: gone.url } });
  await beta.preferences.UpdatePreferences({ preferences: { agent_id: 'agent-1', enable_webhook: true, webhook_url: fine.url } });
  await acme.notifications.CreateNotification({ agent_id: 'agent-1', notification_type: 'job.done', title: 'to a gone endpoint' });
  await eventually('acme\'s agent-1 to be turned off', async () => ((await acme.preferences.GetPreferences({ agent_id: 'agent-1' })).enable_webhook ? undefined : true));
  const betaPrefs = await beta.preferences.GetPreferences({ agent_id: 'agent-1' });
  assert.deepEqual([betaPrefs.enable_webhook, betaPrefs.webhook_disabled_reason], [true, '']);

  // acme's `slow` holds its one lease on a receiver that never answers; beta's `slow` is another agent.
  await acme.preferences.UpdatePreferences({ preferences: { agent_id: 'slow', enable_webhook: true, webhook_url: hanging.url, webhook_timeout_ms: 60_000 } });
  await beta.preferences.UpdatePreferences({ preferences: { agent_id: 'slow', enable_webhook: true, webhook_url: `${fine.url}slow` } });
  await acme.notifications.CreateNotification({ agent_id: 'slow', notification_type: 'job.done', title: 'hangs' });
  await hanging.waitForRequests(1);
  await beta.notifications.CreateNotification({ agent_id: 'slow', notification_type: 'job.done', title: 'goes through' });
  const received = await fine.waitForRequests(1, 10_000);
  assert.equal(received[0]!.path, '/slow');
});

test('SIGHUP re-reads HERALD_API_TOKENS_FILE; a bad file then keeps the old tokens and logs an error', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'tokens');
  const before = 'first-operator-token-1';
  const after = 'acme-reader-after-reload';
  writeFileSync(file, `# operators\n${before}\n`);
  const child = await spawnHerald(t, { dir, env: { HERALD_API_TOKENS_FILE: file } });
  const as = (token: string) => clientFor(t, child, { token });
  assert.deepEqual((await as(before).preferences.ListPreferences({})).preferences, []);

  writeFileSync(file, `\n# acme's dashboard, read only\nacme:read:${after}\n`);
  child.kill('SIGHUP');
  await child.waitForLog('API tokens reloaded');
  assert.equal((await codeOf(as(before).preferences.ListPreferences({}))).code, status.UNAUTHENTICATED);
  assert.deepEqual((await as(after).preferences.ListPreferences({})).preferences, []);
  assert.equal((await codeOf(as(after).preferences.UpdatePreferences({ preferences: { agent_id: 'a1' } }))).code, status.PERMISSION_DENIED);

  writeFileSync(file, `acme:reader:${after}\n`);
  child.kill('SIGHUP');
  const refused = await child.waitForLog('could not reload API tokens; the previous tokens stay in force');
  assert.match(String(refused['reason']), /line 1: an entry with ':' is TENANT:ROLE:TOKEN/);
  assert.ok(!child.logs.some((line) => line.includes(after) || line.includes(before)), 'no token reaches the log');
  assert.deepEqual((await as(after).preferences.ListPreferences({})).preferences, []);
});

test('WEBHOOK_SECRET is given to new agents of the default tenant only; another tenant\'s agents get their own secret', async (t) => {
  const shared = 'shared-single-tenant-secret';
  const h = await startHerald(t, { env: { HERALD_API_TOKENS: OPERATOR, WEBHOOK_SECRET: shared } });
  const url = 'https://receiver.example/hooks';
  const secretOf = async (tenant: string): Promise<string> => {
    const c = clientFor(t, h, { token: OPERATOR, tenant });
    await c.preferences.UpdatePreferences({ preferences: { agent_id: 'agent-1', webhook_url: url } });
    return (await c.preferences.GetWebhookSecret({ agent_id: 'agent-1' })).webhook_secret;
  };
  assert.equal(await secretOf('default'), shared);
  const acme = await secretOf('acme');
  assert.notEqual(acme, shared);
  assert.match(acme, /^whsec_/);
});
