import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import { test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { status } from '@grpc/grpc-js';

import type { HeraldClient } from '../../src/client.js';
import type { Delivery__Output } from '../../src/generated/proto/herald/v1/Delivery.js';
import { codeOf, startHerald } from '../helpers/herald.js';
import { refusedUrl, startReceiver, type Receiver } from '../helpers/receiver.js';
import { waitForFinal } from '../helpers/deliveries.js';

/*
 * The outbound guard through the real API (issue #8): a real Herald, a real
 * receiver on 127.0.0.1, and an injected resolver that points made-up names
 * such as internal-svc.test wherever a test needs, with no /etc/hosts edits.
 * "Never connected to" is the receiver recording no request and holding no
 * connection.
 */

const STRICT = { HERALD_ALLOW_PRIVATE_TARGETS: 'false' };

let seq = 0;
function agentId(label: string): string {
  seq += 1;
  return `guard-${label}-${process.pid}-${seq}`;
}

/** A resolver whose answers a test can change between write time and send time. */
function resolver(table: Record<string, string[]>): { lookup: (hostname: string) => Promise<LookupAddress[]>; table: Record<string, string[]>; calls: string[] } {
  const calls: string[] = [];
  return {
    table,
    calls,
    lookup: async (hostname) => {
      calls.push(hostname);
      const addresses = table[hostname];
      if (addresses === undefined) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
      return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
    },
  };
}

async function receiverFor(t: TestContext): Promise<Receiver> {
  const receiver = await startReceiver();
  t.after(() => receiver.close());
  return receiver;
}

function named(receiver: Receiver, host: string, path = 'admin'): string {
  return `http://${host}:${new URL(receiver.url).port}/${path}`;
}

async function notify(client: HeraldClient, agent: string): Promise<string> {
  const res = await client.notifications.CreateNotification({ agent_id: agent, notification_type: 'job.completed', title: 'Job finished' });
  assert.equal(res.decision?.outcome, 'DECISION_OUTCOME_DELIVER', res.decision?.explanation);
  return res.decision?.delivery_id ?? '';
}


/** The attempt and the delivery refused by the guard: FAILED at once, the host named, the address and port not. */
function assertRefused(delivery: Delivery__Output, host: string, port: string): void {
  assert.equal(delivery.status, 'DELIVERY_STATUS_FAILED');
  const last = delivery.attempts.at(-1);
  assert.ok(last !== undefined);
  assert.equal(last.error_class, 'target_refused');
  assert.equal(last.status_code, 0);
  for (const text of [last.error_message, delivery.last_error]) {
    assert.ok(text.includes(`"${host}"`), `"${text}" does not name ${host}`);
    if (host !== '127.0.0.1') assert.doesNotMatch(text, /127\.0\.0\.1/);
    assert.ok(!text.includes(port), `"${text}" shows the port`);
  }
}

test('a name that resolves to loopback is refused at write time with INVALID_ARGUMENT, and so are literal loopback forms', async (t) => {
  const dns = resolver({ 'internal-svc.test': ['127.0.0.1'], 'meta.test': ['::ffff:169.254.169.254'] });
  const { client } = await startHerald(t, { env: STRICT, lookup: dns.lookup });
  const receiver = await receiverFor(t);
  const port = new URL(receiver.url).port;
  for (const host of ['internal-svc.test', 'meta.test', 'localhost', '127.0.0.1', '0x7f.1', '2130706433', '127.1', '[::ffff:7f00:1]', '[::1]', '169.254.169.254', '[fd00:ec2::254]']) {
    const url = `http://${host}:${port}/admin`;
    const refused = await codeOf(client.preferences.UpdatePreferences({ preferences: { agent_id: agentId('write'), enable_webhook: true, webhook_url: url } }));
    assert.equal(refused.code, status.INVALID_ARGUMENT, url);
    assert.match(refused.details, /preferences\.webhook_url/);
    if (host.endsWith('.test')) {
      assert.ok(refused.details.includes(`"${host}"`), refused.details);
      assert.doesNotMatch(refused.details, /127\.0\.0\.1|169\.254/);
    }
  }
  assert.equal(receiver.requests.length, 0);
});

test('a name that pointed at a public address when written and at 127.0.0.1 when sent is never connected to: target_refused, FAILED at once, on every trigger', async (t) => {
  const dns = resolver({ 'internal-svc.test': ['93.184.215.14'] });
  const { client } = await startHerald(t, { env: STRICT, lookup: dns.lookup });
  const receiver = await receiverFor(t);
  const agent = agentId('rebind');
  const url = named(receiver, 'internal-svc.test');
  await client.preferences.UpdatePreferences({ preferences: { agent_id: agent, enable_webhook: true, webhook_url: url } });
  // DNS rebinding: the same name now answers the loopback.
  dns.table['internal-svc.test'] = ['127.0.0.1'];

  const id = await notify(client, agent);
  const delivery = await waitForFinal(client, id);
  const port = new URL(receiver.url).port;
  assertRefused(delivery, 'internal-svc.test', port);
  assert.equal(delivery.attempt_count, 1, 'no retry after target_refused');

  const retried = await client.deliveries.RetryDelivery({ id });
  assert.equal(retried.attempt?.trigger, 'ATTEMPT_TRIGGER_MANUAL');
  assert.equal(retried.attempt?.error_class, 'target_refused');
  assert.ok(retried.delivery !== null);
  assertRefused(retried.delivery, 'internal-svc.test', port);

  const tested = await client.deliveries.SendTestWebhook({ agent_id: agent });
  assert.equal(tested.success, false);
  assertRefused(await client.deliveries.GetDelivery({ id: tested.delivery_id }), 'internal-svc.test', port);

  await sleep(300);
  assert.equal(receiver.requests.length, 0);
  assert.equal(receiver.openConnections(), 0);
  assert.ok(dns.calls.filter((name) => name === 'internal-svc.test').length >= 4, 'the write and each of the three attempts resolved the name');
});

test('a private URL stored while HERALD_ALLOW_PRIVATE_TARGETS=true is refused after a restart with it off', async (t) => {
  const first = await startHerald(t);
  const receiver = await receiverFor(t);
  const agent = agentId('restart');
  await first.client.preferences.UpdatePreferences({ preferences: { agent_id: agent, enable_webhook: true, webhook_url: receiver.url } });
  assert.equal((await waitForFinal(first.client, await notify(first.client, agent))).status, 'DELIVERY_STATUS_SUCCEEDED');
  assert.equal(receiver.requests.length, 1);

  const second = await first.restart(STRICT);
  const delivery = await waitForFinal(second.client, await notify(second.client, agent));
  assertRefused(delivery, '127.0.0.1', new URL(receiver.url).port);
  await sleep(300);
  assert.equal(receiver.requests.length, 1, 'nothing reached the receiver after the restart');
});

test('an http:// URL stored while HERALD_ALLOW_HTTP_TARGETS=true is refused after a restart with it off', async (t) => {
  const first = await startHerald(t);
  const receiver = await receiverFor(t);
  const agent = agentId('http');
  await first.client.preferences.UpdatePreferences({ preferences: { agent_id: agent, enable_webhook: true, webhook_url: receiver.url } });
  const second = await first.restart({ HERALD_ALLOW_HTTP_TARGETS: 'false' });
  const delivery = await waitForFinal(second.client, await notify(second.client, agent));
  assert.equal(delivery.status, 'DELIVERY_STATUS_FAILED');
  assert.equal(delivery.attempts.at(-1)?.error_class, 'target_refused');
  assert.match(delivery.last_error, /HERALD_ALLOW_HTTP_TARGETS/);
  assert.equal(receiver.requests.length, 0);
});

test('HERALD_ALLOWED_TARGET_CIDRS=127.0.0.0/8 lets a loopback receiver through without HERALD_ALLOW_PRIVATE_TARGETS, and nothing else', async (t) => {
  const dns = resolver({ 'internal-svc.test': ['127.0.0.1'], 'office.test': ['10.20.0.5'] });
  const { client } = await startHerald(t, { env: { ...STRICT, HERALD_ALLOWED_TARGET_CIDRS: '127.0.0.0/8' }, lookup: dns.lookup });
  const receiver = await receiverFor(t);
  const agent = agentId('cidr');
  await client.preferences.UpdatePreferences({ preferences: { agent_id: agent, enable_webhook: true, webhook_url: named(receiver, 'internal-svc.test', 'hook') } });
  const delivery = await waitForFinal(client, await notify(client, agent));
  assert.equal(delivery.status, 'DELIVERY_STATUS_SUCCEEDED');
  assert.equal(receiver.requests.length, 1);
  assert.equal(receiver.requests[0]?.path, '/hook');

  for (const url of ['https://10.20.0.5/hook', 'https://office.test/hook', 'https://[::1]/hook']) {
    const refused = await codeOf(client.preferences.UpdatePreferences({ preferences: { agent_id: agentId('cidr-no'), webhook_url: url } }));
    assert.equal(refused.code, status.INVALID_ARGUMENT, url);
  }
});

test('to the caller, a closed port on an allowed private address looks like a name that does not resolve', async (t) => {
  const dns = resolver({ 'closed.test': ['127.0.0.1'] });
  const { client } = await startHerald(t, { env: { WEBHOOK_MAX_RETRIES: '0' }, lookup: dns.lookup });
  const closed = (await refusedUrl()).replace('127.0.0.1', 'closed.test');
  const missing = closed.replace('closed.test', 'missing.test');
  const outcomes: Delivery__Output[] = [];
  for (const url of [closed, missing]) {
    const agent = agentId('probe');
    // A name that does not resolve (yet) is accepted on write; every send checks again.
    await client.preferences.UpdatePreferences({ preferences: { agent_id: agent, enable_webhook: true, webhook_url: url } });
    outcomes.push(await waitForFinal(client, await notify(client, agent)));
  }
  const [a, b] = outcomes.map((d) => {
    const attempt = d.attempts[0];
    assert.ok(attempt !== undefined);
    assert.equal(d.status, 'DELIVERY_STATUS_FAILED');
    return { errorClass: attempt.error_class, message: attempt.error_message.replace(/closed\.test|missing\.test/, 'HOST'), lastError: d.last_error.replace(/closed\.test|missing\.test/, 'HOST') };
  });
  assert.deepEqual(a, b);
  assert.equal(a?.errorClass, 'unreachable');
  assert.doesNotMatch(`${a?.message} ${a?.lastError}`, /ECONNREFUSED|127\.0\.0\.1|refused/i);
});
