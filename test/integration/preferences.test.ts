/*
 * PreferencesService through the real gRPC API (issue #2): validation with
 * the status code and the field named, "nothing is half-written", partial
 * updates by mask, upsert, delete, paging, the webhook secret, bearer-token
 * authentication, health, and data surviving a restart.
 *
 * One Herald per group: tests inside a group use distinct agent ids, so they
 * do not see each other's rows.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import * as grpc from '@grpc/grpc-js';
import { status } from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';

import { createHeraldClient, type HeraldClient } from '../../src/client.js';
import type { Timestamp__Output } from '../../src/generated/proto/google/protobuf/Timestamp.js';
import type { Preferences, Preferences__Output } from '../../src/generated/proto/herald/v1/Preferences.js';
import { codeOf, startHerald, type Herald } from '../helpers/herald.js';

const STRICT_TARGETS = { HERALD_ALLOW_HTTP_TARGETS: 'false', HERALD_ALLOW_PRIVATE_TARGETS: 'false' } as const;
const HOUR_MS = 3_600_000;
const WHSEC = /^whsec_[A-Za-z0-9+/]{43}=$/;

function codeName(code: number): string {
  return status[code] ?? String(code);
}

/** Asserts INVALID_ARGUMENT whose details name `field` (and each of `mentions`). */
async function assertInvalid(call: Promise<unknown>, field: string, mentions: readonly string[] = []): Promise<void> {
  const { code, details } = await codeOf(call);
  assert.equal(code, status.INVALID_ARGUMENT, `expected INVALID_ARGUMENT, got ${codeName(code)}: ${details}`);
  assert.ok(details.includes(field), `the details should name ${field}, got: ${details}`);
  for (const m of mentions) assert.ok(details.includes(m), `the details should mention ${m}, got: ${details}`);
}

async function assertCode(call: Promise<unknown>, expected: status): Promise<string> {
  const { code, details } = await codeOf(call);
  assert.equal(code, expected, `expected ${codeName(expected)}, got ${codeName(code)}: ${details}`);
  return details;
}

async function assertNotFound(client: HeraldClient, agentId: string): Promise<void> {
  await assertCode(client.preferences.GetPreferences({ agent_id: agentId }), status.NOT_FOUND);
}

function ms(ts: Timestamp__Output | null): number {
  assert.ok(ts !== null, 'expected a timestamp, got none');
  return ts.seconds * 1000 + Math.floor(ts.nanos / 1_000_000);
}

function assertWhsec(secret: string): void {
  assert.match(secret, WHSEC);
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  assert.equal(key.length, 32);
  assert.equal(`whsec_${key.toString('base64')}`, secret);
}

/**
 * The stored state of an agent, without the timestamps an update is expected
 * to move and without the `_field` markers proto-loader (`oneofs: true`) adds
 * for the synthetic oneof of each proto3 `optional` field that is present.
 */
function withoutTimestamps(p: Preferences__Output): Record<string, unknown> {
  return Object.fromEntries(Object.entries(p).filter(([key]) => key !== 'created_at' && key !== 'updated_at' && !key.startsWith('_')));
}

/** A fully populated set of preferences (public https target, so it passes the strict policy too). */
function fullPreferences(agentId: string): Preferences {
  return {
    agent_id: agentId,
    enable_webhook: true,
    webhook_url: 'https://hooks.example.com/herald',
    time_zone: 'Europe/Paris',
    quiet_hours: { start: '22:00', end: '06:00', policy: 'QUIET_HOURS_POLICY_DEFER', urgent_bypass: true },
    max_notifications_per_hour: 10,
    notification_types: ['job.*', 'build.failed'],
    min_priority: 'PRIORITY_HIGH',
    webhook_headers: { Authorization: 'Bearer receiver-token', 'X-Team': 'core' },
    webhook_timeout_ms: 5_000,
  };
}

interface Refusal {
  /** What is wrong, as it reads in the test name. */
  readonly what: string;
  readonly prefs: Omit<Preferences, 'agent_id'>;
  readonly agentId?: string;
  readonly mask?: readonly string[];
  readonly field: string;
  readonly mentions?: readonly string[];
}

interface Acceptance {
  readonly what: string;
  readonly prefs: Omit<Preferences, 'agent_id'>;
  readonly agentId?: string;
  /** Checks the returned (and re-read) preferences. */
  readonly check?: (p: Preferences__Output) => void;
}

const URL_BASE = 'https://example.com/';
const url = (length: number): string => URL_BASE + 'a'.repeat(length - URL_BASE.length);
const headers = (n: number): Record<string, string> => Object.fromEntries(Array.from({ length: n }, (_, i) => [`X-H${i}`, 'v']));

const REFUSALS: readonly Refusal[] = [
  // agent_id
  { what: 'an empty agent_id', agentId: '', prefs: { time_zone: 'UTC' }, field: 'preferences.agent_id' },
  { what: 'a 129-character agent_id', agentId: 'a'.repeat(129), prefs: { time_zone: 'UTC' }, field: 'preferences.agent_id' },
  { what: 'an agent_id with a space', agentId: 'agent one', prefs: { time_zone: 'UTC' }, field: 'preferences.agent_id' },
  { what: 'an agent_id with a slash', agentId: 'team/agent', prefs: { time_zone: 'UTC' }, field: 'preferences.agent_id' },
  // webhook_url
  { what: 'a relative webhook_url', prefs: { webhook_url: 'hooks/herald' }, field: 'preferences.webhook_url' },
  { what: 'an ftp:// webhook_url', prefs: { webhook_url: 'ftp://example.com/hook' }, field: 'preferences.webhook_url' },
  { what: 'an http:// webhook_url when HERALD_ALLOW_HTTP_TARGETS=false', prefs: { webhook_url: 'http://example.com/hook' }, field: 'preferences.webhook_url' },
  { what: 'a loopback webhook host 127.0.0.1 when HERALD_ALLOW_PRIVATE_TARGETS=false', prefs: { webhook_url: 'https://127.0.0.1/hook' }, field: 'preferences.webhook_url' },
  { what: 'a private webhook host 10.1.2.3 when HERALD_ALLOW_PRIVATE_TARGETS=false', prefs: { webhook_url: 'https://10.1.2.3/hook' }, field: 'preferences.webhook_url' },
  { what: 'a loopback webhook host [::1] when HERALD_ALLOW_PRIVATE_TARGETS=false', prefs: { webhook_url: 'https://[::1]/hook' }, field: 'preferences.webhook_url' },
  { what: 'the webhook host localhost when HERALD_ALLOW_PRIVATE_TARGETS=false', prefs: { webhook_url: 'https://localhost/hook' }, field: 'preferences.webhook_url' },
  { what: 'the webhook host "localhost." (fully qualified, same loopback) when HERALD_ALLOW_PRIVATE_TARGETS=false', prefs: { webhook_url: 'https://localhost./hook' }, field: 'preferences.webhook_url' },
  { what: 'the IPv4-mapped loopback host [::ffff:127.0.0.1] when HERALD_ALLOW_PRIVATE_TARGETS=false', prefs: { webhook_url: 'https://[::ffff:127.0.0.1]/hook' }, field: 'preferences.webhook_url' },
  ...['[64:ff9b::a00:1]', '[2002:c0a8:101::1]', '[::a00:1]', '[fec0::1]'].map(
    (host): Refusal => ({
      what: `the IPv6 host ${host}, which embeds or is a private address, when HERALD_ALLOW_PRIVATE_TARGETS=false`,
      prefs: { webhook_url: `https://${host}/hook` },
      field: 'preferences.webhook_url',
    }),
  ),
  { what: 'a webhook_url with credentials', prefs: { webhook_url: 'https://user:pass@example.com/hook' }, field: 'preferences.webhook_url' },
  { what: 'a 2,049-character webhook_url', prefs: { webhook_url: url(2_049) }, field: 'preferences.webhook_url' },
  // time_zone
  { what: 'the unknown time zone "Mars/Olympus"', prefs: { time_zone: 'Mars/Olympus' }, field: 'preferences.time_zone' },
  // quiet hours
  { what: 'quiet hours starting at "24:00"', prefs: { quiet_hours: { start: '24:00', end: '06:00' } }, field: 'preferences.quiet_hours.start' },
  { what: 'quiet hours ending at "7:00"', prefs: { quiet_hours: { start: '22:00', end: '7:00' } }, field: 'preferences.quiet_hours.end' },
  { what: 'quiet hours starting at "12:60"', prefs: { quiet_hours: { start: '12:60', end: '13:00' } }, field: 'preferences.quiet_hours.start' },
  {
    what: 'only quiet_hours.start (by mask) for an agent without quiet hours',
    prefs: { quiet_hours: { start: '22:00' } },
    mask: ['quiet_hours.start'],
    field: 'preferences.quiet_hours.end',
  },
  // rate limit
  { what: 'max_notifications_per_hour 1,000,001', prefs: { max_notifications_per_hour: 1_000_001 }, field: 'preferences.max_notifications_per_hour' },
  // notification types
  {
    what: '101 notification types',
    prefs: { notification_types: Array.from({ length: 101 }, (_, i) => `type.${i}`) },
    field: 'preferences.notification_types',
  },
  { what: 'a 101-character notification type', prefs: { notification_types: ['a'.repeat(101)] }, field: 'preferences.notification_types' },
  { what: 'the notification type "Bad Type"', prefs: { notification_types: ['job.done', 'Bad Type'] }, field: 'preferences.notification_types' },
  // headers
  { what: '21 webhook headers', prefs: { webhook_headers: headers(21) }, field: 'preferences.webhook_headers' },
  { what: 'the header name "bad header"', prefs: { webhook_headers: { 'bad header': 'v' } }, field: 'preferences.webhook_headers', mentions: ['bad header'] },
  {
    what: 'a header value of 4,097 bytes',
    prefs: { webhook_headers: { 'X-Big': 'é'.repeat(2_048) + 'a' } },
    field: 'preferences.webhook_headers',
    mentions: ['X-Big'],
  },
  {
    what: 'a header value with CR/LF',
    prefs: { webhook_headers: { 'X-Split': 'a\r\nX-Injected: 1' } },
    field: 'preferences.webhook_headers',
    mentions: ['X-Split'],
  },
  {
    // Node's HTTP client sends Latin-1 only: "€" would make every webhook of the agent fail.
    what: 'a header value beyond Latin-1 ("Zürich €")',
    prefs: { webhook_headers: { 'X-Team': 'Zürich €' } },
    field: 'preferences.webhook_headers',
    mentions: ['X-Team'],
  },
  ...['content-type', 'Content-Length', 'host', 'user-agent', 'webhook-id', 'X-Herald-Anything', 'connection', 'transfer-encoding'].map(
    (name): Refusal => ({
      what: `the reserved header "${name}"`,
      prefs: { webhook_headers: { [name]: 'v' } },
      field: 'preferences.webhook_headers',
      mentions: [name],
    }),
  ),
  // timeout
  { what: 'webhook_timeout_ms 0 given explicitly', prefs: { webhook_timeout_ms: 0 }, field: 'preferences.webhook_timeout_ms' },
  { what: 'webhook_timeout_ms 60,001', prefs: { webhook_timeout_ms: 60_001 }, field: 'preferences.webhook_timeout_ms' },
  // mask
  { what: 'an unknown update_mask path', prefs: { time_zone: 'UTC' }, mask: ['no_such_field'], field: 'update_mask.paths', mentions: ['no_such_field'] },
  {
    what: 'the output-only update_mask path webhook_secret_set',
    prefs: { webhook_secret_set: true },
    mask: ['webhook_secret_set'],
    field: 'update_mask.paths',
    mentions: ['webhook_secret_set'],
  },
];

const ACCEPTANCES: readonly Acceptance[] = [
  { what: 'a 128-character agent_id', agentId: 'x'.repeat(128), prefs: { time_zone: 'UTC' } },
  { what: 'an agent_id using every allowed punctuation mark', agentId: 'Agent.1_b:c@d-E', prefs: { time_zone: 'UTC' } },
  {
    what: 'a 2,048-character https:// webhook_url',
    prefs: { webhook_url: url(2_048) },
    check: (p) => {
      assert.equal(p.webhook_url, url(2_048));
      assert.equal(p.webhook_secret_set, true);
    },
  },
  { what: 'the time zone "Europe/Paris"', prefs: { time_zone: 'Europe/Paris' }, check: (p) => assert.equal(p.time_zone, 'Europe/Paris') },
  {
    what: 'quiet hours 00:00-23:59',
    prefs: { quiet_hours: { start: '00:00', end: '23:59' } },
    check: (p) => assert.deepEqual(p.quiet_hours, { start: '00:00', end: '23:59', policy: 'QUIET_HOURS_POLICY_SKIP', urgent_bypass: false }),
  },
  { what: 'max_notifications_per_hour 1,000,000', prefs: { max_notifications_per_hour: 1_000_000 }, check: (p) => assert.equal(p.max_notifications_per_hour, 1_000_000) },
  { what: 'max_notifications_per_hour 0 (unlimited)', prefs: { max_notifications_per_hour: 0 }, check: (p) => assert.equal(p.max_notifications_per_hour, 0) },
  {
    what: 'the notification types "job.*" and "*"',
    prefs: { notification_types: ['job.*', '*'] },
    check: (p) => assert.deepEqual(p.notification_types, ['job.*', '*']),
  },
  {
    what: '100 notification types of 100 characters',
    prefs: { notification_types: Array.from({ length: 100 }, (_, i) => String(i).padStart(3, '0') + 'a'.repeat(97)) },
    check: (p) => assert.equal(p.notification_types.length, 100),
  },
  {
    what: '20 headers, one with a 4,096-byte value',
    prefs: { webhook_headers: { ...headers(19), 'X-Big': 'é'.repeat(2_048) } },
    check: (p) => {
      assert.equal(Object.keys(p.webhook_headers).length, 20);
      // Values are write-only (test/integration/secrets.test.ts shows they are sent).
      assert.equal(p.webhook_headers['X-Big'], '***');
    },
  },
  { what: 'webhook_timeout_ms 1', prefs: { webhook_timeout_ms: 1 }, check: (p) => assert.equal(p.webhook_timeout_ms, 1) },
  { what: 'webhook_timeout_ms 60,000', prefs: { webhook_timeout_ms: 60_000 }, check: (p) => assert.equal(p.webhook_timeout_ms, 60_000) },
];

test('validation of UpdatePreferences (HERALD_ALLOW_HTTP_TARGETS=false, HERALD_ALLOW_PRIVATE_TARGETS=false)', async (t) => {
  const h = await startHerald(t, { env: STRICT_TARGETS });
  const prefs = h.client.preferences;

  for (const [i, r] of REFUSALS.entries()) {
    await t.test(`${r.what} is refused with INVALID_ARGUMENT naming ${r.field}`, async () => {
      const agentId = r.agentId ?? `refused-${i}`;
      await assertInvalid(
        prefs.UpdatePreferences({ preferences: { ...r.prefs, agent_id: agentId }, ...(r.mask ? { update_mask: { paths: [...r.mask] } } : {}) }),
        r.field,
        r.mentions,
      );
      // A refused first write creates no row.
      if (r.agentId === undefined) await assertNotFound(h.client, agentId);
    });
  }

  for (const [i, a] of ACCEPTANCES.entries()) {
    await t.test(`${a.what} is accepted and stored`, async () => {
      const agentId = a.agentId ?? `accepted-${i}`;
      const written = await prefs.UpdatePreferences({ preferences: { ...a.prefs, agent_id: agentId } });
      assert.equal(written.agent_id, agentId);
      const read = await prefs.GetPreferences({ agent_id: agentId });
      assert.deepEqual(read, written);
      a.check?.(read);
    });
  }

  await t.test('an UpdatePreferences without preferences is refused with INVALID_ARGUMENT naming preferences', async () => {
    await assertInvalid(prefs.UpdatePreferences({}), 'preferences');
  });

  await t.test('GetPreferences with an agent_id containing a slash is refused with INVALID_ARGUMENT naming agent_id', async () => {
    await assertInvalid(prefs.GetPreferences({ agent_id: 'team/agent' }), 'agent_id');
  });
});

test('nothing is half-written', async (t) => {
  const h = await startHerald(t, { env: STRICT_TARGETS });
  const prefs = h.client.preferences;

  await t.test('an update with one valid and one invalid field leaves an existing agent exactly as it was', async () => {
    const before = await prefs.UpdatePreferences({ preferences: { agent_id: 'half-1', time_zone: 'Europe/Paris', max_notifications_per_hour: 10 } });
    await assertInvalid(
      prefs.UpdatePreferences({ preferences: { agent_id: 'half-1', time_zone: 'Asia/Tokyo', max_notifications_per_hour: 1_000_001 } }),
      'preferences.max_notifications_per_hour',
    );
    assert.deepEqual(await prefs.GetPreferences({ agent_id: 'half-1' }), before);
  });

  await t.test('a valid webhook_url with a reserved header neither stores the URL nor creates a secret', async () => {
    const before = await prefs.UpdatePreferences({ preferences: { agent_id: 'half-2', time_zone: 'UTC' } });
    await assertInvalid(
      prefs.UpdatePreferences({ preferences: { agent_id: 'half-2', webhook_url: 'https://hooks.example.com/x', webhook_headers: { Host: 'evil' } } }),
      'preferences.webhook_headers',
    );
    const after = await prefs.GetPreferences({ agent_id: 'half-2' });
    assert.deepEqual(after, before);
    assert.equal(after.webhook_secret_set, false);
    assert.equal((await prefs.GetWebhookSecret({ agent_id: 'half-2' })).webhook_secret, '');
  });

  await t.test('a refused masked update of several fields changes none of them', async () => {
    const before = await prefs.UpdatePreferences({ preferences: fullPreferences('half-3') });
    await assertInvalid(
      prefs.UpdatePreferences({
        preferences: { agent_id: 'half-3', time_zone: 'Asia/Tokyo', max_notifications_per_hour: 3, quiet_hours: { start: '21:00', end: '25:00' } },
        update_mask: { paths: ['time_zone', 'max_notifications_per_hour', 'quiet_hours.start', 'quiet_hours.end'] },
      }),
      'preferences.quiet_hours.end',
    );
    assert.deepEqual(await prefs.GetPreferences({ agent_id: 'half-3' }), before);
  });

  await t.test('a refused first write for a new agent leaves it NOT_FOUND (and without a secret)', async () => {
    await assertInvalid(
      prefs.UpdatePreferences({
        preferences: { agent_id: 'half-new-1', webhook_url: 'https://hooks.example.com/x', time_zone: 'Europe/Paris', quiet_hours: { start: '22:00', end: '24:00' } },
      }),
      'preferences.quiet_hours.end',
    );
    await assertNotFound(h.client, 'half-new-1');
    await assertCode(prefs.GetWebhookSecret({ agent_id: 'half-new-1' }), status.NOT_FOUND);
  });

  await t.test('a first write refused while merging quiet-hours parts leaves the new agent NOT_FOUND', async () => {
    await assertInvalid(
      prefs.UpdatePreferences({
        preferences: { agent_id: 'half-new-2', time_zone: 'Europe/Paris', quiet_hours: { end: '06:00' } },
        update_mask: { paths: ['time_zone', 'quiet_hours.end'] },
      }),
      'preferences.quiet_hours.start',
    );
    await assertNotFound(h.client, 'half-new-2');
  });

  await t.test('only quiet_hours.start by mask on an existing agent without quiet hours is refused and changes nothing', async () => {
    const before = await prefs.UpdatePreferences({ preferences: { agent_id: 'half-4', time_zone: 'Europe/Paris' } });
    await assertInvalid(
      prefs.UpdatePreferences({ preferences: { agent_id: 'half-4', quiet_hours: { start: '22:00' } }, update_mask: { paths: ['quiet_hours.start'] } }),
      'preferences.quiet_hours.end',
    );
    const after = await prefs.GetPreferences({ agent_id: 'half-4' });
    assert.deepEqual(after, before);
    assert.equal(after.quiet_hours, null);
  });
});

test('partial updates, upsert and delete', async (t) => {
  let now = Date.parse('2031-03-01T12:00:00.000Z');
  const h = await startHerald(t, { clock: () => new Date(now) });
  const prefs = h.client.preferences;
  const tick = (): void => {
    now += 60_000;
  };

  /** Writes the full preferences and returns them as stored. */
  async function seed(agentId: string): Promise<Preferences__Output> {
    const stored = await prefs.UpdatePreferences({ preferences: fullPreferences(agentId) });
    tick();
    return stored;
  }

  await t.test('with update_mask max_notifications_per_hour only that field changes, whatever else the request carries', async () => {
    const before = await seed('mask-1');
    const after = await prefs.UpdatePreferences({
      preferences: {
        agent_id: 'mask-1',
        max_notifications_per_hour: 99,
        time_zone: 'Asia/Tokyo',
        enable_webhook: false,
        webhook_url: 'https://other.example.com/',
        quiet_hours: { start: '01:00', end: '02:00' },
        notification_types: ['other'],
        min_priority: 'PRIORITY_LOW',
        webhook_headers: { 'X-Other': '1' },
        webhook_timeout_ms: 9_000,
      },
      update_mask: { paths: ['max_notifications_per_hour'] },
    });
    assert.equal(after.max_notifications_per_hour, 99);
    assert.deepEqual(withoutTimestamps(after), { ...withoutTimestamps(before), max_notifications_per_hour: 99 });
    assert.deepEqual(await prefs.GetPreferences({ agent_id: 'mask-1' }), after);
  });

  await t.test('a masked field the request leaves unset goes back to its default (webhook_timeout_ms becomes unset)', async () => {
    const before = await seed('mask-2');
    assert.equal(before.webhook_timeout_ms, 5_000);
    const after = await prefs.UpdatePreferences({ preferences: { agent_id: 'mask-2' }, update_mask: { paths: ['webhook_timeout_ms', 'time_zone'] } });
    const read = await prefs.GetPreferences({ agent_id: 'mask-2' });
    assert.deepEqual(read, after);
    assert.equal(read.webhook_timeout_ms, undefined);
    assert.equal(read.time_zone, 'UTC');
    const { webhook_timeout_ms: _t, ...rest } = withoutTimestamps(before);
    assert.deepEqual(withoutTimestamps(read), { ...rest, time_zone: 'UTC' });
  });

  await t.test('update_mask quiet_hours.end changes only the end of the window', async () => {
    const before = await seed('mask-3');
    const after = await prefs.UpdatePreferences({
      preferences: { agent_id: 'mask-3', quiet_hours: { start: '23:00', end: '07:30', policy: 'QUIET_HOURS_POLICY_SKIP', urgent_bypass: false } },
      update_mask: { paths: ['quiet_hours.end'] },
    });
    assert.deepEqual(after.quiet_hours, { start: '22:00', end: '07:30', policy: 'QUIET_HOURS_POLICY_DEFER', urgent_bypass: true });
    assert.deepEqual(withoutTimestamps(after), { ...withoutTimestamps(before), quiet_hours: after.quiet_hours });
    assert.deepEqual(await prefs.GetPreferences({ agent_id: 'mask-3' }), after);
  });

  await t.test('update_mask notification_types with an empty list clears the allow-list', async () => {
    const before = await seed('mask-4');
    assert.deepEqual(before.notification_types, ['job.*', 'build.failed']);
    await prefs.UpdatePreferences({ preferences: { agent_id: 'mask-4', notification_types: [] }, update_mask: { paths: ['notification_types'] } });
    const read = await prefs.GetPreferences({ agent_id: 'mask-4' });
    assert.deepEqual(read.notification_types, []);
    assert.deepEqual(withoutTimestamps(read), { ...withoutTimestamps(before), notification_types: [] });
  });

  await t.test('the first update creates the row with defaults and created_at == updated_at == now', async () => {
    const created = await prefs.UpdatePreferences({ preferences: { agent_id: 'upsert-1', time_zone: 'Europe/Paris', max_notifications_per_hour: 5 } });
    assert.equal(ms(created.created_at), now);
    assert.equal(ms(created.updated_at), now);
    assert.deepEqual(withoutTimestamps(created), {
      agent_id: 'upsert-1',
      enable_webhook: false,
      webhook_url: '',
      time_zone: 'Europe/Paris',
      quiet_hours: null,
      max_notifications_per_hour: 5,
      rate_limit_policy: 'RATE_LIMIT_POLICY_SUPPRESS',
      notification_types: [],
      min_priority: 'PRIORITY_UNSPECIFIED',
      webhook_headers: {},
      webhook_secret_set: false,
      webhook_disabled_reason: '',
    });
    assert.deepEqual(await prefs.GetPreferences({ agent_id: 'upsert-1' }), created);
  });

  await t.test('an update without a mask writes the fields given, keeps the others and advances updated_at', async () => {
    const first = await prefs.UpdatePreferences({ preferences: { agent_id: 'upsert-2', time_zone: 'Europe/Paris', max_notifications_per_hour: 5 } });
    const createdAt = now;
    tick();
    const second = await prefs.UpdatePreferences({ preferences: { agent_id: 'upsert-2', enable_webhook: true, notification_types: ['job.*'] } });
    assert.equal(ms(second.created_at), createdAt);
    assert.equal(ms(second.updated_at), now);
    assert.ok(ms(second.updated_at) > ms(first.updated_at));
    assert.deepEqual(withoutTimestamps(second), { ...withoutTimestamps(first), enable_webhook: true, notification_types: ['job.*'] });
    assert.deepEqual(await prefs.GetPreferences({ agent_id: 'upsert-2' }), second);
  });

  await t.test('concurrent first writes for one agent all succeed and leave one row with one secret', async () => {
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        prefs.UpdatePreferences({ preferences: { agent_id: 'upsert-race', webhook_url: 'https://hooks.example.com/race', max_notifications_per_hour: i + 1 } }),
      ),
    );
    for (const r of results) assert.equal(r.webhook_secret_set, true);
    const page = await prefs.ListPreferences({ page_size: 500 });
    assert.equal(page.preferences.filter((p) => p.agent_id === 'upsert-race').length, 1);
    const read = await prefs.GetPreferences({ agent_id: 'upsert-race' });
    assert.ok(results.some((r) => r.max_notifications_per_hour === read.max_notifications_per_hour));
    assertWhsec((await prefs.GetWebhookSecret({ agent_id: 'upsert-race' })).webhook_secret);
  });

  await t.test('concurrent partial updates of different fields all take effect (no lost update)', async () => {
    await prefs.UpdatePreferences({ preferences: { agent_id: 'no-lost-update', time_zone: 'UTC', max_notifications_per_hour: 1 } });
    for (let round = 0; round < 10; round++) {
      const zone = round % 2 === 0 ? 'Europe/Paris' : 'Asia/Kolkata';
      await Promise.all([
        prefs.UpdatePreferences({ preferences: { agent_id: 'no-lost-update', max_notifications_per_hour: 100 + round }, update_mask: { paths: ['max_notifications_per_hour'] } }),
        prefs.UpdatePreferences({ preferences: { agent_id: 'no-lost-update', time_zone: zone }, update_mask: { paths: ['time_zone'] } }),
        prefs.UpdatePreferences({ preferences: { agent_id: 'no-lost-update', notification_types: [`t${round}.*`] }, update_mask: { paths: ['notification_types'] } }),
      ]);
      const read = await prefs.GetPreferences({ agent_id: 'no-lost-update' });
      assert.equal(read.max_notifications_per_hour, 100 + round, `round ${round}`);
      assert.equal(read.time_zone, zone, `round ${round}`);
      assert.deepEqual(read.notification_types, [`t${round}.*`], `round ${round}`);
    }
  });

  await t.test('concurrent rotations are serialised: exactly one of the secrets returned is current', async () => {
    await prefs.UpdatePreferences({ preferences: { agent_id: 'rotate-race', webhook_url: 'https://hooks.example.com/r' } });
    const rotated = await Promise.all(Array.from({ length: 5 }, () => prefs.RotateWebhookSecret({ agent_id: 'rotate-race' })));
    const current = (await prefs.GetWebhookSecret({ agent_id: 'rotate-race' })).webhook_secret;
    assert.equal(rotated.filter((r) => r.webhook_secret === current).length, 1);
  });

  await t.test('http:// and loopback webhook URLs are accepted when HERALD_ALLOW_HTTP_TARGETS and HERALD_ALLOW_PRIVATE_TARGETS are true', async () => {
    for (const [i, target] of ['http://127.0.0.1:8080/hook', 'https://[::1]/hook', 'http://localhost/hook', 'https://10.1.2.3/hook'].entries()) {
      const p = await prefs.UpdatePreferences({ preferences: { agent_id: `permissive-${i}`, webhook_url: target } });
      assert.equal(p.webhook_url, target);
    }
  });

  await t.test('DeletePreferences removes the agent: Get is NOT_FOUND and a second Delete is NOT_FOUND', async () => {
    await seed('delete-1');
    const deleted = await prefs.DeletePreferences({ agent_id: 'delete-1' });
    assert.equal(deleted.cancelled_deliveries, 0);
    await assertNotFound(h.client, 'delete-1');
    await assertCode(prefs.GetWebhookSecret({ agent_id: 'delete-1' }), status.NOT_FOUND);
    await assertCode(prefs.DeletePreferences({ agent_id: 'delete-1' }), status.NOT_FOUND);
  });

  await t.test('Get and Delete of an unknown agent answer NOT_FOUND', async () => {
    await assertNotFound(h.client, 'never-seen');
    await assertCode(prefs.DeletePreferences({ agent_id: 'never-seen' }), status.NOT_FOUND);
  });
});

test('ListPreferences paging', async (t) => {
  const h = await startHerald(t);
  const prefs = h.client.preferences;
  // Varied first characters so that agent_id order differs from creation order.
  const leads = ['b', 'A', 'z', '0', 'Z', '9', '_', 'm', '.', '@'];
  const ids = Array.from({ length: 250 }, (_, i) => `${leads[i % leads.length]}agent-${(i * 37) % 250}`);
  assert.equal(new Set(ids).size, 250);
  for (let i = 0; i < ids.length; i += 25) {
    await Promise.all(ids.slice(i, i + 25).map((agent_id, j) => prefs.UpdatePreferences({ preferences: { agent_id, max_notifications_per_hour: i + j } })));
  }
  const sorted = [...ids].sort();

  await t.test('page_size 40 returns every agent exactly once, in agent_id order, ending with an empty next_page_token', async () => {
    const seen: string[] = [];
    const sizes: number[] = [];
    let token = '';
    for (let pages = 0; pages < 20; pages++) {
      const page = await prefs.ListPreferences({ page_size: 40, page_token: token });
      sizes.push(page.preferences.length);
      seen.push(...page.preferences.map((p) => p.agent_id));
      token = page.next_page_token;
      if (token === '') break;
    }
    assert.equal(token, '', 'paging did not end within 20 pages');
    assert.deepEqual(sizes, [40, 40, 40, 40, 40, 40, 10]);
    assert.deepEqual(seen, sorted);
  });

  await t.test('when the agents fill the last page exactly, that page has an empty next_page_token (no empty extra page)', async () => {
    const seen: string[] = [];
    let token = '';
    let pages = 0;
    do {
      const page = await prefs.ListPreferences({ page_size: 50, page_token: token });
      assert.equal(page.preferences.length, 50, `page ${pages + 1} should be full`);
      seen.push(...page.preferences.map((p) => p.agent_id));
      token = page.next_page_token;
      pages++;
    } while (token !== '' && pages < 10);
    assert.equal(pages, 5);
    assert.deepEqual(seen, sorted);
    const whole = await prefs.ListPreferences({ page_size: 250 });
    assert.equal(whole.preferences.length, 250);
    assert.equal(whole.next_page_token, '');
  });

  await t.test('page_size 0 means the default of 50', async () => {
    const page = await prefs.ListPreferences({ page_size: 0 });
    assert.deepEqual(page.preferences.map((p) => p.agent_id), sorted.slice(0, 50));
    assert.notEqual(page.next_page_token, '');
  });

  await t.test('page_size 500 returns all 250 agents on one last page', async () => {
    const page = await prefs.ListPreferences({ page_size: 500 });
    assert.equal(page.preferences.length, 250);
    assert.equal(page.next_page_token, '');
  });

  await t.test('listed preferences carry their stored values', async () => {
    const page = await prefs.ListPreferences({ page_size: 500 });
    for (const p of page.preferences) {
      assert.equal(p.max_notifications_per_hour, ids.indexOf(p.agent_id));
    }
  });

  for (const size of [501, -1]) {
    await t.test(`page_size ${size} is refused with INVALID_ARGUMENT naming page_size`, async () => {
      await assertInvalid(prefs.ListPreferences({ page_size: size }), 'page_size');
    });
  }

  for (const [what, token] of [
    ['a garbage page_token', 'not-a-token'],
    ['a forged page_token', Buffer.from(JSON.stringify({ k: ['b'], f: 'forged' })).toString('base64url')],
  ] as const) {
    await t.test(`${what} is refused with INVALID_ARGUMENT naming page_token`, async () => {
      await assertInvalid(prefs.ListPreferences({ page_size: 10, page_token: token }), 'page_token');
    });
  }
});

test('webhook secrets', async (t) => {
  const h = await startHerald(t);
  const prefs = h.client.preferences;
  const secretsSeen = new Set<string>();
  const remember = (...secrets: string[]): void => {
    for (const s of secrets) if (s !== '') secretsSeen.add(s);
  };

  await t.test('an agent without a webhook_url has no secret', async () => {
    const p = await prefs.UpdatePreferences({ preferences: { agent_id: 'secret-none', time_zone: 'UTC' } });
    assert.equal(p.webhook_secret_set, false);
    const s = await prefs.GetWebhookSecret({ agent_id: 'secret-none' });
    assert.equal(s.webhook_secret, '');
    assert.equal(s.previous_webhook_secret, '');
    assert.equal(s.previous_secret_expires_at, null);
  });

  await t.test('an agent that gets a webhook_url gets a secret: "whsec_" + base64 of 32 bytes', async () => {
    await prefs.UpdatePreferences({ preferences: { agent_id: 'secret-1', time_zone: 'UTC' } });
    const p = await prefs.UpdatePreferences({ preferences: { agent_id: 'secret-1', webhook_url: 'https://hooks.example.com/1' } });
    assert.equal(p.webhook_secret_set, true);
    assert.equal((await prefs.GetPreferences({ agent_id: 'secret-1' })).webhook_secret_set, true);
    const s = await prefs.GetWebhookSecret({ agent_id: 'secret-1' });
    assertWhsec(s.webhook_secret);
    assert.equal(s.previous_webhook_secret, '');
    assert.equal(s.previous_secret_expires_at, null);
    remember(s.webhook_secret);
    // Later updates keep the secret.
    await prefs.UpdatePreferences({ preferences: { agent_id: 'secret-1', webhook_url: 'https://hooks.example.com/2', max_notifications_per_hour: 3 } });
    assert.equal((await prefs.GetWebhookSecret({ agent_id: 'secret-1' })).webhook_secret, s.webhook_secret);
  });

  await t.test('two agents get different random secrets', async () => {
    await prefs.UpdatePreferences({ preferences: { agent_id: 'secret-2', webhook_url: 'https://hooks.example.com/2' } });
    await prefs.UpdatePreferences({ preferences: { agent_id: 'secret-3', webhook_url: 'https://hooks.example.com/3' } });
    const a = (await prefs.GetWebhookSecret({ agent_id: 'secret-2' })).webhook_secret;
    const b = (await prefs.GetWebhookSecret({ agent_id: 'secret-3' })).webhook_secret;
    assertWhsec(a);
    assertWhsec(b);
    assert.notEqual(a, b);
    remember(a, b);
  });

  await t.test('RotateWebhookSecret returns a new secret and keeps the old one as previous for 24 h', async () => {
    await prefs.UpdatePreferences({ preferences: { agent_id: 'rotate-1', webhook_url: 'https://hooks.example.com/r1' } });
    const old = (await prefs.GetWebhookSecret({ agent_id: 'rotate-1' })).webhook_secret;
    const started = Date.now();
    const rotated = await prefs.RotateWebhookSecret({ agent_id: 'rotate-1' });
    const ended = Date.now();
    assertWhsec(rotated.webhook_secret);
    assert.notEqual(rotated.webhook_secret, old);
    const expiresAt = ms(rotated.previous_secret_expires_at);
    assert.ok(expiresAt >= started + 24 * HOUR_MS - 1_000 && expiresAt <= ended + 24 * HOUR_MS + 1_000, `expires at ${new Date(expiresAt).toISOString()}`);
    const s = await prefs.GetWebhookSecret({ agent_id: 'rotate-1' });
    assert.equal(s.webhook_secret, rotated.webhook_secret);
    assert.equal(s.previous_webhook_secret, old);
    assert.equal(ms(s.previous_secret_expires_at), expiresAt);
    assert.equal((await prefs.GetPreferences({ agent_id: 'rotate-1' })).webhook_secret_set, true);
    remember(old, rotated.webhook_secret);
  });

  await t.test('RotateWebhookSecret with grace_period_seconds 0 leaves no previous secret', async () => {
    await prefs.UpdatePreferences({ preferences: { agent_id: 'rotate-2', webhook_url: 'https://hooks.example.com/r2' } });
    const old = (await prefs.GetWebhookSecret({ agent_id: 'rotate-2' })).webhook_secret;
    // A first rotation with the default grace, so that there is a previous secret to revoke.
    const first = await prefs.RotateWebhookSecret({ agent_id: 'rotate-2' });
    const rotated = await prefs.RotateWebhookSecret({ agent_id: 'rotate-2', grace_period_seconds: 0 });
    assertWhsec(rotated.webhook_secret);
    assert.notEqual(rotated.webhook_secret, first.webhook_secret);
    assert.notEqual(rotated.webhook_secret, old);
    assert.equal(rotated.previous_secret_expires_at, null);
    const s = await prefs.GetWebhookSecret({ agent_id: 'rotate-2' });
    assert.equal(s.webhook_secret, rotated.webhook_secret);
    assert.equal(s.previous_webhook_secret, '');
    assert.equal(s.previous_secret_expires_at, null);
    remember(old, first.webhook_secret, rotated.webhook_secret);
  });

  await t.test('RotateWebhookSecret of an agent without a secret yet gives it one, with no previous secret', async () => {
    await prefs.UpdatePreferences({ preferences: { agent_id: 'rotate-fresh', time_zone: 'UTC' } });
    const rotated = await prefs.RotateWebhookSecret({ agent_id: 'rotate-fresh' });
    assertWhsec(rotated.webhook_secret);
    assert.equal(rotated.previous_secret_expires_at, null);
    assert.deepEqual(await prefs.GetWebhookSecret({ agent_id: 'rotate-fresh' }), {
      webhook_secret: rotated.webhook_secret,
      previous_webhook_secret: '',
      previous_secret_expires_at: null,
    });
    assert.equal((await prefs.GetPreferences({ agent_id: 'rotate-fresh' })).webhook_secret_set, true);
    remember(rotated.webhook_secret);
  });

  await t.test('grace_period_seconds 604,800 keeps the previous secret for 7 days', async () => {
    await prefs.UpdatePreferences({ preferences: { agent_id: 'rotate-3', webhook_url: 'https://hooks.example.com/r3' } });
    const old = (await prefs.GetWebhookSecret({ agent_id: 'rotate-3' })).webhook_secret;
    const started = Date.now();
    const rotated = await prefs.RotateWebhookSecret({ agent_id: 'rotate-3', grace_period_seconds: 604_800 });
    const expiresAt = ms(rotated.previous_secret_expires_at);
    assert.ok(Math.abs(expiresAt - (started + 7 * 24 * HOUR_MS)) < 5_000, `expires at ${new Date(expiresAt).toISOString()}`);
    assert.equal((await prefs.GetWebhookSecret({ agent_id: 'rotate-3' })).previous_webhook_secret, old);
    remember(old, rotated.webhook_secret);
  });

  await t.test('grace_period_seconds 604,801 is refused with INVALID_ARGUMENT naming grace_period_seconds, and the secret stays', async () => {
    await prefs.UpdatePreferences({ preferences: { agent_id: 'rotate-4', webhook_url: 'https://hooks.example.com/r4' } });
    const before = await prefs.GetWebhookSecret({ agent_id: 'rotate-4' });
    await assertInvalid(prefs.RotateWebhookSecret({ agent_id: 'rotate-4', grace_period_seconds: 604_801 }), 'grace_period_seconds');
    assert.deepEqual(await prefs.GetWebhookSecret({ agent_id: 'rotate-4' }), before);
    remember(before.webhook_secret);
  });

  await t.test('RotateWebhookSecret and GetWebhookSecret of an unknown agent answer NOT_FOUND', async () => {
    await assertCode(prefs.RotateWebhookSecret({ agent_id: 'secret-unknown' }), status.NOT_FOUND);
    await assertCode(prefs.GetWebhookSecret({ agent_id: 'secret-unknown' }), status.NOT_FOUND);
    await assertNotFound(h.client, 'secret-unknown');
  });

  await t.test('no secret ever appears in UpdatePreferences, GetPreferences or ListPreferences responses', async () => {
    assert.ok(secretsSeen.size >= 8, `expected the earlier tests to have collected secrets, got ${secretsSeen.size}`);
    const agents = ['secret-1', 'secret-2', 'secret-3', 'rotate-1', 'rotate-2', 'rotate-3', 'rotate-4'];
    const responses: unknown[] = [await prefs.ListPreferences({ page_size: 500 })];
    for (const agent_id of agents) {
      responses.push(await prefs.GetPreferences({ agent_id }));
      responses.push(await prefs.UpdatePreferences({ preferences: { agent_id, time_zone: 'Europe/Paris' } }));
    }
    for (const response of responses) {
      const json = JSON.stringify(response);
      assert.ok(!json.includes('whsec_'), `a response contains a secret: ${json.slice(0, 200)}`);
      for (const secret of secretsSeen) {
        assert.ok(!json.includes(secret) && !json.includes(secret.slice('whsec_'.length)), 'a response contains a secret');
      }
    }
  });
});

test('WEBHOOK_SECRET is the secret of every new agent', async (t) => {
  const h = await startHerald(t, { env: { WEBHOOK_SECRET: 'your-secret-key-123' } });
  const prefs = h.client.preferences;
  for (const agent_id of ['configured-1', 'configured-2']) {
    const p = await prefs.UpdatePreferences({ preferences: { agent_id, webhook_url: `https://hooks.example.com/${agent_id}` } });
    assert.equal(p.webhook_secret_set, true);
    assert.equal((await prefs.GetWebhookSecret({ agent_id })).webhook_secret, 'your-secret-key-123');
    assert.ok(!JSON.stringify(await prefs.GetPreferences({ agent_id })).includes('your-secret-key-123'));
  }
  assert.ok(!JSON.stringify(await prefs.ListPreferences({})).includes('your-secret-key-123'));
});

interface HealthCheckResponse {
  status: string;
}
interface HealthClient extends grpc.Client {
  Check(request: { service: string }, callback: (err: grpc.ServiceError | null, res?: HealthCheckResponse) => void): grpc.ClientUnaryCall;
}
type HealthClientConstructor = new (address: string, credentials: grpc.ChannelCredentials) => HealthClient;

/** A real grpc.health.v1 client, loaded from grpc-health-check's own proto. */
function healthClient(address: string): HealthClient {
  const definition = protoLoader.loadSync(healthProtoPath, { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as { grpc: { health: { v1: { Health: HealthClientConstructor } } } };
  return new loaded.grpc.health.v1.Health(address, grpc.credentials.createInsecure());
}

function check(client: HealthClient, service: string): Promise<HealthCheckResponse> {
  return new Promise((resolve, reject) => {
    client.Check({ service }, (err, res) => (err ? reject(err) : res ? resolve(res) : reject(new Error('no response'))));
  });
}

test('authentication with HERALD_API_TOKENS, and health', async (t) => {
  const h = await startHerald(t, { env: { HERALD_API_TOKENS: 'token-aaaaaaaaaaaaaaaa' } });
  const anonymous = createHeraldClient(h.address);
  const wrong = createHeraldClient(h.address, { token: 'token-bbbbbbbbbbbbbbbb' });
  const health = healthClient(h.address);
  t.after(() => {
    anonymous.close();
    wrong.close();
    health.close();
  });

  await t.test('calls with the configured bearer token succeed', async () => {
    await h.client.preferences.UpdatePreferences({ preferences: { agent_id: 'auth-1', time_zone: 'Europe/Paris' } });
    assert.equal((await h.client.preferences.GetPreferences({ agent_id: 'auth-1' })).time_zone, 'Europe/Paris');
  });

  await t.test('calls without a token are refused with UNAUTHENTICATED and write nothing', async () => {
    await assertCode(anonymous.preferences.GetPreferences({ agent_id: 'auth-1' }), status.UNAUTHENTICATED);
    await assertCode(anonymous.preferences.ListPreferences({}), status.UNAUTHENTICATED);
    await assertCode(anonymous.preferences.UpdatePreferences({ preferences: { agent_id: 'auth-2', time_zone: 'UTC' } }), status.UNAUTHENTICATED);
    await assertCode(anonymous.preferences.GetWebhookSecret({ agent_id: 'auth-1' }), status.UNAUTHENTICATED);
    await assertNotFound(h.client, 'auth-2');
  });

  await t.test('calls with a wrong token are refused with UNAUTHENTICATED', async () => {
    await assertCode(wrong.preferences.GetPreferences({ agent_id: 'auth-1' }), status.UNAUTHENTICATED);
    await assertCode(wrong.preferences.RotateWebhookSecret({ agent_id: 'auth-1' }), status.UNAUTHENTICATED);
  });

  for (const service of ['', 'herald.v1.PreferencesService']) {
    await t.test(`the health service answers SERVING for "${service}" without a token`, async () => {
      assert.deepEqual(await check(health, service), { status: 'SERVING' });
    });
  }
});

test('a restart keeps preferences and the webhook secret', async (t) => {
  const h = await startHerald(t);
  const written = await h.client.preferences.UpdatePreferences({ preferences: fullPreferences('restart-1') });
  await h.client.preferences.RotateWebhookSecret({ agent_id: 'restart-1' });
  const secrets = await h.client.preferences.GetWebhookSecret({ agent_id: 'restart-1' });
  assertWhsec(secrets.webhook_secret);
  assertWhsec(secrets.previous_webhook_secret);
  const read = await h.client.preferences.GetPreferences({ agent_id: 'restart-1' });

  const restarted: Herald = await h.restart();
  assert.equal(restarted.dir, h.dir);
  const after = await restarted.client.preferences.GetPreferences({ agent_id: 'restart-1' });
  assert.deepEqual(after, read);
  assert.deepEqual(withoutTimestamps(after), withoutTimestamps(written));
  assert.deepEqual(await restarted.client.preferences.GetWebhookSecret({ agent_id: 'restart-1' }), secrets);
});
