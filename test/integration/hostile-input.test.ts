/*
 * Hostile input through the real gRPC API (issue #9, point 6): every string
 * bounded before anything echoes it, error messages that quote at most a
 * short part of a value, unknown enum numbers and out-of-range timestamps
 * refused naming the field, and bytes protobufjs cannot decode answered
 * INVALID_ARGUMENT instead of INTERNAL — unary and streaming alike.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { status } from '@grpc/grpc-js';

import { createHeraldClient } from '../../src/client.js';
import { LIMITS } from '../../src/domain/validation.js';
import { TIMESTAMP_RANGE } from '../../src/grpc/convert.js';
import type { Struct } from '../../src/generated/proto/google/protobuf/Struct.js';
import type { QuietHoursPolicy } from '../../src/generated/proto/herald/v1/QuietHoursPolicy.js';
import type { DeliveryStatus } from '../../src/generated/proto/herald/v1/DeliveryStatus.js';
import { codeOf, startHerald } from '../helpers/herald.js';
import { bytesField, nestedStruct, RawClient } from '../helpers/wire.js';

const { minSeconds, maxSeconds } = TIMESTAMP_RANGE;

/** INVALID_ARGUMENT whose details start with the field's proto path; returns the details. */
async function assertInvalid(promise: Promise<unknown>, field: string): Promise<string> {
  const { code, details } = await codeOf(promise);
  assert.equal(code, status.INVALID_ARGUMENT, `expected INVALID_ARGUMENT for ${field}, got ${status[code]}: ${details.slice(0, 300)}`);
  assert.ok(details.startsWith(`${field}: `), `details name the field "${field}": ${details.slice(0, 300)}`);
  return details;
}

const note = (agentId: string) => ({ agent_id: agentId, notification_type: 'job.done', title: 'Done' });

test('oversized strings are refused quickly with a short message', async (t) => {
  const h = await startHerald(t, { env: { HERALD_WORKER: 'false' } });
  // Herald's own client with a deadline: a status too large for the trailers would
  // leave the call waiting for it (DEADLINE_EXCEEDED) instead of INVALID_ARGUMENT.
  const client = createHeraldClient(h.address, { deadlineMs: 5_000 });
  t.after(() => client.close());

  await t.test('a 200 KB time_zone gets INVALID_ARGUMENT naming the field, with a message under 200 characters', async () => {
    const details = await assertInvalid(client.preferences.UpdatePreferences({ preferences: { agent_id: 'tz-1', time_zone: 'x'.repeat(200_000) } }), 'preferences.time_zone');
    assert.ok(details.length < 200, details);
    assert.match(details, /at most 64 characters, got 200000/);
    // The connection is still usable afterwards.
    await assertInvalid(client.preferences.GetPreferences({ agent_id: '' }), 'agent_id');
  });

  await t.test('a long but bounded value is quoted with at most 100 of its characters', async () => {
    const path = `p${'q'.repeat(LIMITS.maskPathLength - 1)}`;
    const details = await assertInvalid(
      client.preferences.UpdatePreferences({ preferences: { agent_id: 'mask-1' }, update_mask: { paths: [path] } }),
      'update_mask.paths',
    );
    assert.ok(!details.includes(path), details);
    assert.ok(details.includes(`"${path.slice(0, 100)}…" (128 characters)`), details);
  });

  const oversized: Array<{ what: string; call: () => Promise<unknown>; field: string }> = [
    { what: 'an agent_id of 1 MB', call: () => client.preferences.GetPreferences({ agent_id: 'a'.repeat(900_000) }), field: 'agent_id' },
    { what: 'a delivery id of 129 characters', call: () => client.deliveries.GetDelivery({ id: 'd'.repeat(129) }), field: 'id' },
    { what: 'a page_token of 513 characters', call: () => client.preferences.ListPreferences({ page_token: 't'.repeat(513) }), field: 'page_token' },
    {
      what: 'a 300-character header name',
      call: () => client.preferences.UpdatePreferences({ preferences: { agent_id: 'hdr-1', webhook_headers: { ['X'.repeat(300)]: 'v' } } }),
      field: 'preferences.webhook_headers key',
    },
    {
      what: 'a quiet_hours.start of 17 characters',
      call: () => client.preferences.UpdatePreferences({ preferences: { agent_id: 'qh-1', quiet_hours: { start: '2'.repeat(17), end: '06:00' } } }),
      field: 'preferences.quiet_hours.start',
    },
    { what: 'the output-only webhook_disabled_reason of 2 KB', call: () => client.preferences.UpdatePreferences({ preferences: { agent_id: 'out-1', webhook_disabled_reason: 'r'.repeat(2_048) } }), field: 'preferences.webhook_disabled_reason' },
    {
      what: 'a 2 KB notification_types entry',
      call: () => client.preferences.UpdatePreferences({ preferences: { agent_id: 'nt-1', notification_types: ['job.*', 'a'.repeat(2_048)] } }),
      field: 'preferences.notification_types[1]',
    },
    { what: 'a 100 KB title in EvaluateNotification', call: () => client.notifications.EvaluateNotification({ notification: { ...note('ev-1'), title: 't'.repeat(100_000) } }), field: 'notification.title' },
    { what: 'a 300 KB agent_id in WatchDeliveries', call: () => watchStatus(client.deliveries.WatchDeliveries({ agent_id: 'w'.repeat(300_000) })), field: 'agent_id' },
  ];
  for (const c of oversized) {
    await t.test(`${c.what} is refused naming ${c.field}`, async () => {
      const details = await assertInvalid(c.call(), c.field);
      assert.ok(details.length < 200, details);
    });
  }
});

/** The status a WatchDeliveries stream ends with (rejects with it, as unary calls do), cancelling it if it stays open. */
function watchStatus(call: ReturnType<ReturnType<typeof createHeraldClient>['deliveries']['WatchDeliveries']>): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => call.cancel(), 2_000);
    call.on('data', () => undefined);
    call.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    call.on('end', () => resolve(undefined));
  });
}

test('unknown enum numbers and out-of-range timestamps are refused naming the field', async (t) => {
  const h = await startHerald(t, { env: { HERALD_WORKER: 'false' } });
  const client = h.client;

  await t.test('quiet_hours.policy 99 is refused and stores nothing', async () => {
    const details = await assertInvalid(
      client.preferences.UpdatePreferences({ preferences: { agent_id: 'enum-1', quiet_hours: { start: '22:00', end: '06:00', policy: 99 as unknown as QuietHoursPolicy } } }),
      'preferences.quiet_hours.policy',
    );
    assert.match(details, /unknown value "99"; expected one of QUIET_HOURS_POLICY_UNSPECIFIED, QUIET_HOURS_POLICY_SKIP, QUIET_HOURS_POLICY_DEFER/);
    assert.equal((await codeOf(client.preferences.GetPreferences({ agent_id: 'enum-1' }))).code, status.NOT_FOUND);
  });

  await t.test('a ListDeliveries status of 99 and a ReplayDeliveries status of -1 are refused', async () => {
    await assertInvalid(client.deliveries.ListDeliveries({ status: 99 as unknown as DeliveryStatus }), 'status');
    await assertInvalid(client.deliveries.ReplayDeliveries({ agent_id: 'a', since: { seconds: 0 }, status: -1 as unknown as DeliveryStatus }), 'status');
  });

  const outside = [
    { what: 'one second before 0001-01-01', ts: { seconds: minSeconds - 1, nanos: 0 } },
    { what: 'one second after 9999-12-31T23:59:59', ts: { seconds: maxSeconds + 1, nanos: 0 } },
    { what: 'negative nanos', ts: { seconds: 0, nanos: -1 } },
    { what: 'nanos of a whole second', ts: { seconds: 0, nanos: 1_000_000_000 } },
  ];
  for (const o of outside) {
    await t.test(`a timestamp ${o.what} is refused in EvaluateNotification, ListNotifications, ReplayDeliveries and GetDeliveryStats`, async () => {
      const details = await assertInvalid(client.notifications.EvaluateNotification({ notification: note('ts-1'), at: o.ts }), 'at');
      assert.match(details, /0001-01-01T00:00:00Z to 9999-12-31T23:59:59\.999999999Z/);
      await assertInvalid(client.notifications.ListNotifications({ agent_id: 'ts-1', created_after: o.ts }), 'created_after');
      await assertInvalid(client.notifications.ListNotifications({ agent_id: 'ts-1', created_before: o.ts }), 'created_before');
      await assertInvalid(client.deliveries.ReplayDeliveries({ agent_id: 'ts-1', since: o.ts }), 'since');
      await assertInvalid(client.deliveries.ReplayDeliveries({ agent_id: 'ts-1', since: { seconds: 0 }, until: o.ts }), 'until');
      await assertInvalid(client.deliveries.GetDeliveryStats({ since: o.ts }), 'since');
    });
  }

  await t.test('the first and last instants of the range are accepted', async () => {
    for (const at of [{ seconds: minSeconds, nanos: 0 }, { seconds: maxSeconds, nanos: 999_999_999 }]) {
      const { decision } = await client.notifications.EvaluateNotification({ notification: note('ts-2'), at });
      assert.equal(decision?.outcome, 'DECISION_OUTCOME_SUPPRESS');
      const list = await client.notifications.ListNotifications({ agent_id: 'ts-2', created_after: at });
      assert.deepEqual(list.notifications, []);
    }
  });
});

test('metadata nesting and undecodable bytes get INVALID_ARGUMENT, not INTERNAL', async (t) => {
  const h = await startHerald(t, { env: { HERALD_WORKER: 'false' } });
  const raw = new RawClient(h.address);
  t.after(() => raw.close());
  const create = '/herald.v1.NotificationService/CreateNotification';
  /** A CreateNotificationRequest with `metadata` (field 8) as the given Struct encoding. */
  const createWith = (agentId: string, metadata: Buffer): Buffer =>
    Buffer.concat([bytesField(1, agentId), bytesField(2, 'job.done'), bytesField(3, 'Done'), bytesField(8, metadata)]);
  const struct = (depth: number): Struct => ({ fields: { k: depth === 1 ? { boolValue: true } : { structValue: struct(depth - 1) } } });

  await t.test(`metadata nested ${LIMITS.metadataDepth} deep is accepted, one deeper is refused naming metadata`, async () => {
    const ok = await h.client.notifications.CreateNotification({ ...note('deep-1'), metadata: struct(LIMITS.metadataDepth) });
    assert.equal(ok.notification?.agent_id, 'deep-1');
    const details = await assertInvalid(h.client.notifications.CreateNotification({ ...note('deep-2'), metadata: struct(LIMITS.metadataDepth + 1) }), 'metadata');
    assert.match(details, /more than 32 levels deep/);
    assert.equal((await h.client.notifications.ListNotifications({ agent_id: 'deep-2' })).notifications.length, 0);
  });

  await t.test('a Struct nested 200 deep (beyond protobuf decoding) is refused with a message about nesting', async () => {
    const r = await raw.unary(create, createWith('deep-3', nestedStruct(200)));
    assert.equal(r.code, status.INVALID_ARGUMENT, r.details);
    assert.match(r.details, /nests messages deeper than protobuf's limit of 100 levels; metadata may nest objects and lists at most 32 levels deep/);
  });

  const corrupt: Array<{ what: string; bytes: Buffer }> = [
    { what: 'a length running past the end', bytes: Buffer.from('0affffffffff', 'hex') },
    { what: 'wire type 7', bytes: Buffer.from('7f', 'hex') },
    { what: 'a truncated varint', bytes: Buffer.from('28ffff', 'hex') },
  ];
  for (const c of corrupt) {
    await t.test(`corrupted bytes (${c.what}) get INVALID_ARGUMENT naming the request type, on a unary call and on WatchDeliveries`, async () => {
      const r = await raw.unary(create, c.bytes);
      assert.equal(r.code, status.INVALID_ARGUMENT, r.details);
      assert.match(r.details, /^the request is not a valid herald\.v1\.CreateNotificationRequest message \(/);
      const w = await raw.stream('/herald.v1.DeliveryService/WatchDeliveries', c.bytes);
      assert.equal(w.code, status.INVALID_ARGUMENT, w.details);
      assert.match(w.details, /herald\.v1\.WatchDeliveriesRequest/);
    });
  }

  await t.test('an undecodable request from a caller without a token is UNAUTHENTICATED first', async (st) => {
    const secured = await startHerald(st, { env: { HERALD_WORKER: 'false', HERALD_API_TOKENS: 'tok-0123456789abcdef' } });
    const anonymous = new RawClient(secured.address);
    st.after(() => anonymous.close());
    assert.equal((await anonymous.unary(create, Buffer.from('7f', 'hex'))).code, status.UNAUTHENTICATED);
  });
});

/** `token` with its key replaced, its filter fingerprint kept: what a client can craft, since tokens are not signed. */
function withKey(token: string, key: string[]): string {
  const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { f: string };
  return Buffer.from(JSON.stringify({ k: key, f: parsed.f }), 'utf8').toString('base64url');
}

test('crafted page tokens and instants at the edge of the range never reach the database as values it refuses', async (t) => {
  const h = await startHerald(t, { env: { HERALD_WORKER: 'false' } });
  const client = h.client;
  for (const agent of ['edge-1', 'edge-2']) {
    await client.preferences.UpdatePreferences({ preferences: { agent_id: agent, enable_webhook: true, webhook_url: 'https://hooks.example.com/x', max_notifications_per_hour: 5 } });
    await client.notifications.CreateNotification(note('edge-1'));
  }

  await t.test('a ListPreferences token whose agent id holds NUL or 300 characters is refused naming page_token', async () => {
    const token = (await client.preferences.ListPreferences({ page_size: 1 })).next_page_token;
    assert.notEqual(token, '');
    await assertInvalid(client.preferences.ListPreferences({ page_size: 1, page_token: withKey(token, ['edge\u0000']) }), 'page_token');
    await assertInvalid(client.preferences.ListPreferences({ page_size: 1, page_token: withKey(token, ['e'.repeat(300)]) }), 'page_token');
  });

  for (const when of ['0000-01-01T00:00:00.000Z', '-271821-04-20T00:00:00.000Z', '+275760-09-13T00:00:00.000Z']) {
    await t.test(`ListNotifications and ListDeliveries tokens whose time is ${when} are refused naming page_token`, async () => {
      const notifications = (await client.notifications.ListNotifications({ agent_id: 'edge-1', page_size: 1 })).next_page_token;
      const deliveries = (await client.deliveries.ListDeliveries({ page_size: 1 })).next_page_token;
      assert.ok(notifications !== '' && deliveries !== '');
      await assertInvalid(client.notifications.ListNotifications({ agent_id: 'edge-1', page_size: 1, page_token: withKey(notifications, [when, 'ntf_x']) }), 'page_token');
      await assertInvalid(client.deliveries.ListDeliveries({ page_size: 1, page_token: withKey(deliveries, [when, 'dlv_x']) }), 'page_token');
    });
  }

  await t.test('EvaluateNotification at 0001-01-01T00:00:00Z for an agent with an hourly limit counts the window from there', async () => {
    const { decision } = await client.notifications.EvaluateNotification({ notification: note('edge-1'), at: { seconds: minSeconds, nanos: 0 } });
    assert.equal(decision?.reason, 'DECISION_REASON_ACCEPTED');
  });
});
