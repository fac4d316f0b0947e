/*
 * A fuzz run through the real gRPC API (issue #9, point 7): thousands of
 * requests generated from the loaded service definitions (so a new RPC or
 * field is fuzzed without a line here) — valid values, boundaries, hostile
 * strings, wrong types the encoder coerces, unknown enum numbers,
 * out-of-range numbers and timestamps, over-deep metadata, and corrupted or
 * random bytes — sent as bytes to every RPC of every Herald service, with
 * WatchDeliveries opened and cancelled. Every answer must be one a caller can
 * act on (never INTERNAL or UNKNOWN, never a hang), the server must stay
 * SERVING, and no row may be half-written.
 *
 * The run is reproducible from its seed, printed in the test name:
 * HERALD_FUZZ_SEED=<n> replays it, HERALD_FUZZ_COUNT=<n> changes its length.
 * Requests run 8 at a time, so the server state a request meets (ids, page
 * tokens harvested from earlier answers) may differ between two runs of a seed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import * as grpc from '@grpc/grpc-js';
import { status } from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import protobuf from 'protobufjs';

import { REQUEST_STRING_LIMITS } from '../../src/domain/validation.js';
import { TIMESTAMP_RANGE } from '../../src/grpc/convert.js';
import { heraldServiceNames, loadHeraldPackageDefinition } from '../../src/grpc/proto.js';
import { mapEntry, reflectDefinition } from '../../src/grpc/request-guard.js';
import { startHerald, type Herald } from '../helpers/herald.js';
import { openRaw, type RawDatabase } from '../helpers/raw-sql.js';
import { startReceiver } from '../helpers/receiver.js';
import { bytesField, nestedStruct, RawClient, type RawResult } from '../helpers/wire.js';

const SEED = Number(process.env.HERALD_FUZZ_SEED ?? 9009);
const COUNT = Number(process.env.HERALD_FUZZ_COUNT ?? 4000);
const IN_FLIGHT = 8;
/** The server's grpc.max_receive_message_length (src/grpc/server.ts): grpc-js answers larger requests RESOURCE_EXHAUSTED. */
const MAX_REQUEST_BYTES = 1024 * 1024;
/** Longest error message accepted: messages quote at most ~100 characters of a value. */
const MAX_DETAILS = 1_000;

/** Answers a caller can act on. RESOURCE_EXHAUSTED and CANCELLED only where noted in `expected`. */
const ACTIONABLE = new Set([status.OK, status.INVALID_ARGUMENT, status.NOT_FOUND, status.FAILED_PRECONDITION, status.ALREADY_EXISTS]);

/** mulberry32: small, fast, and the same sequence on every platform. */
function prng(seed: number): () => number {
  let a = seed | 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** What earlier answers revealed, so later requests reach existing rows. */
interface Pools {
  readonly agents: readonly string[];
  readonly ids: string[];
  /** Page tokens by the method that returned them, so a crafted token keeps its filters' fingerprint. */
  readonly tokens: Map<string, string[]>;
  readonly hookUrl: string;
}

/** Fields a sane request always carries: without them nearly every call is refused. */
const REQUIRED = new Set(['agent_id', 'id', 'notification_type', 'title', 'start', 'end', 'preferences', 'notification', 'since']);

const MASK_PATHS = [
  'enable_webhook', 'webhook_url', 'time_zone', 'quiet_hours', 'max_notifications_per_hour', 'notification_types', 'min_priority',
  'webhook_headers', 'webhook_timeout_ms', 'quiet_hours.start', 'quiet_hours.end', 'quiet_hours.policy', 'quiet_hours.urgent_bypass',
  'agent_id', 'created_at', 'nope', '',
];

class Generator {
  /** A sane request (about 40 %) keeps to plausible values, so that calls get past validation and write rows. */
  private readonly sane: boolean;

  constructor(
    private readonly rng: () => number,
    private readonly pools: Pools,
    /** The method the request is for. */
    private readonly path: string,
  ) {
    this.sane = this.chance(0.4);
  }

  int(n: number): number {
    return Math.floor(this.rng() * n);
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }

  chance(p: number): boolean {
    return this.rng() < p;
  }

  message(type: protobuf.Type, depth: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const field of type.fieldsArray) {
      if (this.sane ? !REQUIRED.has(field.name) && this.chance(0.4) : this.chance(0.2)) continue;
      field.resolve();
      const resolved = field.resolvedType;
      const entry = resolved instanceof protobuf.Type && field.repeated ? mapEntry(field, resolved) : null;
      if (entry !== null) {
        const map: Record<string, unknown> = {};
        const n = this.sane ? this.pick([0, 0, 1]) : this.pick([0, 1, 2, 3, 21]);
        for (let i = 0; i < n; i++) map[String(this.value(entry.key, `${field.name}.key`, depth))] = this.value(entry.value, `${field.name}.value`, depth);
        out[field.name] = map;
      } else if (field.repeated) {
        const n = this.sane ? this.pick([0, 0, 1, 2]) : this.pick([0, 1, 2, 3, 101]);
        out[field.name] = Array.from({ length: n }, () => this.value(field, field.name, depth));
      } else {
        out[field.name] = this.value(field, field.name, depth);
      }
    }
    return out;
  }

  private value(field: protobuf.Field, name: string, depth: number): unknown {
    const resolved = field.resolvedType;
    if (resolved instanceof protobuf.Enum) {
      return this.sane || this.chance(0.75) ? this.pick(Object.keys(resolved.values)) : this.pick([-1, 5, 99, 2 ** 31 - 1, 'NOT_A_VALUE']);
    }
    if (resolved instanceof protobuf.Type) {
      const full = resolved.fullName.replace(/^\./, '');
      if (depth > 5 || (this.sane ? full === 'google.protobuf.FieldMask' && this.chance(0.6) : this.chance(0.3))) return null;
      if (full === 'google.protobuf.Timestamp') return this.timestamp();
      if (full === 'google.protobuf.Struct') return this.struct(this.sane ? this.pick([0, 1, 2]) : this.pick([0, 1, 2, 3, 5, 32, 33, 40]));
      if (full === 'google.protobuf.FieldMask') return { paths: Array.from({ length: this.pick(this.sane ? [1, 2] : [0, 1, 2, 3]) }, () => this.valid('paths')) };
      return this.message(resolved, depth + 1);
    }
    switch (field.type) {
      case 'string':
        return this.string(name);
      case 'bool':
        return this.chance(0.9) ? this.chance(0.5) : this.pick(['yes', 1, 0]);
      case 'int32':
      case 'sint32':
      case 'sfixed32':
        if (this.sane) return this.pick([0, 1, 10, 50]);
        return this.chance(0.9) ? this.pick([0, 0, 1, 10, 50, 500, 501, -1, 2 ** 31 - 1, -(2 ** 31)]) : this.pick(['12', 'abc', 1.5]);
      case 'uint32':
      case 'fixed32':
        if (this.sane) return this.pick([1, 5, 100, 60_000]);
        return this.chance(0.9) ? this.pick([0, 0, 1, 5, 60_000, 60_001, 604_800, 604_801, 1_000_000, 1_000_001, 2 ** 32 - 1]) : this.pick(['12', 'abc', 1.5, -1]);
      case 'int64':
      case 'uint64':
      case 'sint64':
        return this.pick([0, 1, -1, 2 ** 53 - 1, -(2 ** 53 - 1), 1e15]);
      case 'double':
      case 'float':
        return this.pick([0, -1.5, 1e308, Number.MAX_SAFE_INTEGER]);
      default:
        return undefined;
    }
  }

  private timestamp(): { seconds: number; nanos: number } {
    const { minSeconds, maxSeconds } = TIMESTAMP_RANGE;
    const now = Math.floor(Date.now() / 1000);
    if (this.sane) return { seconds: now - this.int(86_400 * 3), nanos: this.pick([0, 999_999_999, 123_456]) };
    return {
      seconds: this.pick([now, now - this.int(86_400 * 3), now + this.int(86_400), 0, minSeconds, maxSeconds, minSeconds - 1, maxSeconds + 1, 1e15, -1e15]),
      nanos: this.pick([0, 0, 0, 999_999_999, 1_000_000_000, -1, 123_456]),
    };
  }

  /** A Struct whose first key nests `depth` objects or lists deep, the other keys random scalars. */
  private struct(depth: number): Record<string, unknown> {
    const fields: Record<string, unknown> = {};
    for (let i = this.int(4); i > 0; i--) fields[this.pick(['a', 'duration_s', '', '🚀', 'k'.repeat(300)])] = this.scalarValue();
    if (depth > 1) fields['nested'] = this.chance(0.5) ? { structValue: this.struct(depth - 1) } : { listValue: { values: [{ structValue: this.struct(depth - 1) }] } };
    return { fields };
  }

  private scalarValue(): Record<string, unknown> {
    return this.pick([
      { numberValue: this.pick([0, -1.5, 1e308, 42]) },
      { stringValue: this.hostile('content') },
      { boolValue: true },
      { nullValue: 'NULL_VALUE' },
      { listValue: { values: [{ numberValue: 1 }, { stringValue: 'two' }] } },
    ]);
  }

  /** A string for field `name` (map keys/values as `field.key`/`field.value`): valid, hostile, or another type the encoder coerces. */
  private string(name: string): unknown {
    const r = this.rng();
    if (r < (this.sane ? 0.97 : 0.55)) return this.valid(name);
    if (r < 0.92) return this.hostile(name);
    return this.pick([12_345, true, -1.5]);
  }

  private valid(name: string): string {
    const p = this.pools;
    switch (name) {
      case 'agent_id':
        return this.pick(p.agents);
      case 'id':
        return p.ids.length > 0 && this.chance(0.8) ? this.pick(p.ids) : this.pick(['ntf_00000000000000000000000000', 'dlv_00000000000000000000000000']);
      case 'notification_type':
        return this.pick(['job.done', 'job.failed', 'billing.paid']);
      case 'notification_types':
        return this.pick(['job.*', '*', 'billing.paid']);
      case 'title':
        return this.pick(['Job done', '🚀 shipped', 'x']);
      case 'content':
        return this.pick(['', 'All steps passed.']);
      case 'related_entity_type':
        return this.pick(['', 'job']);
      case 'related_entity_id':
        return this.pick(['', '17']);
      case 'idempotency_key':
        return this.pick(['', '', `k-${this.int(30)}`]);
      case 'webhook_url':
        return this.either([p.hookUrl, p.hookUrl, 'http://127.0.0.1:9/closed', 'https://hooks.example.com/x', ''], ['ftp://x.example/', 'https://user:pw@x.example/', 'hooks']);
      case 'time_zone':
        return this.either(['UTC', 'Europe/Paris', 'Asia/Kolkata', 'America/Argentina/ComodRivadavia'], ['Mars/Olympus', 'utc', '+01:00']);
      case 'start':
      case 'end':
        return this.either(['22:00', '06:00', '00:00', '23:59'], ['24:00', '7:00', '12:60']);
      case 'webhook_headers.key':
        return this.either(['X-Token', 'Authorization'], ['Host', 'content-type', 'X-Herald-Foo', 'bad name']);
      case 'webhook_headers.value':
        return this.either(['v', 'Bearer abc', 'é'], ['a\r\nb', '€']);
      case 'page_token':
      {
        const tokens = p.tokens.get(this.path) ?? [];
        // Even in a sane request: the rest must be valid for a crafted key to reach the database.
        if (tokens.length > 0 && this.chance(0.4)) return this.craftedToken(this.pick(tokens));
        return this.pick(['', ...tokens.slice(-5), 'not-a-token']);
      }
      case 'paths':
        return this.either(MASK_PATHS.slice(0, 13), MASK_PATHS.slice(13));
      default:
        return '';
    }
  }

  /**
   * A token as a client can craft one, since tokens are not signed: the fingerprint of a real
   * token (so its filters match) with a key of hostile values.
   */
  private craftedToken(token: string): string {
    const { k, f } = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { k: string[]; f: string };
    const key = k.map((part) => (this.chance(0.5) ? part : this.pick(['0000-01-01T00:00:00.000Z', '-271821-04-20T00:00:00.000Z', '+275760-09-13T00:00:00.000Z', 'x\u0000', this.hostile('id')])));
    return Buffer.from(JSON.stringify({ k: key, f }), 'utf8').toString('base64url');
  }

  /** One of `valid`; in a request that is not sane, sometimes one of `tricky` (plausible, but refused). */
  private either(valid: readonly string[], tricky: readonly string[]): string {
    return this.sane || this.chance(0.6) ? this.pick(valid) : this.pick(tricky);
  }

  private hostile(name: string): string {
    const limit = REQUEST_STRING_LIMITS[name] ?? 128;
    if (this.chance(0.02)) return 'x'.repeat(this.pick([100_000, 400_000, 1_100_000]));
    return this.pick([
      '',
      'a'.repeat(limit),
      'a'.repeat(limit + 1),
      '🚀'.repeat(limit),
      '🚀'.repeat(limit + 1),
      '\u0000',
      '\r\nX-Injected: 1',
      '\ud800x\udfff',
      '\u202egnp.exe',
      'e\u0301\u200b',
      ' padded ',
      '../../etc/passwd',
      "'; DROP TABLE notifications; --",
      '%00%0d%0a',
      this.unicode(this.int(40)),
    ]);
  }

  /** Random code points: ASCII and control characters, Latin-1, the BMP (lone surrogates included) and astral planes. */
  private unicode(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) {
      const range = this.pick([0x80, 0x100, 0x10000, 0x110000]);
      const cp = this.int(range);
      s += cp >= 0xd800 && cp <= 0xdfff ? String.fromCharCode(cp) : String.fromCodePoint(cp);
    }
    return s;
  }

  /** `bytes` damaged: bits flipped, cut short, garbage appended, or replaced by random bytes. */
  mutate(bytes: Buffer): Buffer {
    const out = Buffer.from(bytes);
    switch (this.int(4)) {
      case 0:
        for (let i = 1 + this.int(4); i > 0 && out.length > 0; i--) out[this.int(out.length)] = this.int(256);
        return out;
      case 1:
        return out.subarray(0, this.int(out.length + 1));
      case 2:
        return Buffer.concat([out, this.random(1 + this.int(16))]);
      default:
        return this.random(this.int(64));
    }
  }

  random(n: number): Buffer {
    return Buffer.from(Array.from({ length: n }, () => this.int(256)));
  }
}

interface Method {
  readonly path: string;
  readonly type: protobuf.Type;
  readonly stream: boolean;
  serialize(value: unknown): Buffer;
  deserialize(bytes: Buffer): unknown;
}

/** Every RPC of every Herald service, from the loaded definitions. */
function heraldMethods(): Method[] {
  const definition = loadHeraldPackageDefinition();
  const root = reflectDefinition(definition);
  return heraldServiceNames(definition).flatMap((name) => {
    const service = definition[name] as grpc.ServiceDefinition;
    const reflected = root.lookupService(name);
    return Object.entries(service).map(([methodName, m]) => {
      const method = reflected.methods[methodName]!;
      method.resolve();
      return { path: m.path, type: method.resolvedRequestType!, stream: m.responseStream, serialize: m.requestSerialize, deserialize: m.responseDeserialize };
    });
  });
}

/** Ids and page tokens in an answer to `path`, for later requests. */
function harvest(value: unknown, pools: Pools, path: string): void {
  if (Array.isArray(value)) {
    for (const v of value) harvest(v, pools, path);
    return;
  }
  if (typeof value !== 'object' || value === null) return;
  for (const [key, v] of Object.entries(value)) {
    if (typeof v === 'string' && v !== '' && (key === 'id' || key === 'delivery_id' || key === 'notification_id') && !pools.ids.includes(v)) {
      pools.ids.push(v);
      if (pools.ids.length > 200) pools.ids.shift();
    } else if (typeof v === 'string' && v !== '' && key === 'next_page_token') {
      const tokens = pools.tokens.get(path) ?? [];
      tokens.push(v);
      if (tokens.length > 20) tokens.shift();
      pools.tokens.set(path, tokens);
    } else {
      harvest(v, pools, path);
    }
  }
}

interface HealthClient extends grpc.Client {
  Check(req: { service: string }, cb: (err: grpc.ServiceError | null, res?: { status: string }) => void): void;
}

function healthStatus(address: string, service: string): Promise<string> {
  const definition = protoLoader.loadSync(healthProtoPath, { keepCase: true, enums: String, defaults: true });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as { grpc: { health: { v1: { Health: new (a: string, c: grpc.ChannelCredentials) => HealthClient } } } };
  const client = new loaded.grpc.health.v1.Health(address, grpc.credentials.createInsecure());
  return new Promise((resolve, reject) => {
    client.Check({ service }, (err, res) => {
      client.close();
      if (err) reject(err);
      else resolve(res?.status ?? '');
    });
  });
}

test(`fuzz: ${COUNT} generated requests across every RPC of every Herald service (seed ${SEED}; set HERALD_FUZZ_SEED / HERALD_FUZZ_COUNT to change)`, async (t) => {
  const receiver = await startReceiver();
  t.after(() => receiver.close());
  // Every made-up host name resolves to the loopback at once: no DNS waits, no real network.
  const h = await startHerald(t, {
    env: { WEBHOOK_TIMEOUT: '2', WEBHOOK_MAX_RETRIES: '1' },
    lookup: async () => [{ address: '127.0.0.1', family: 4 }],
  });
  const raw = new RawClient(h.address);
  t.after(() => raw.close());

  const pools: Pools = { agents: ['fz-a', 'fz-b', 'fz-c', 'fz-none'], ids: [], tokens: new Map(), hookUrl: `${receiver.url}hook` };
  for (const agent of pools.agents.slice(0, 3)) {
    await h.client.preferences.UpdatePreferences({ preferences: { agent_id: agent, enable_webhook: true, webhook_url: pools.hookUrl } });
  }
  // Enough rows that lists have further pages: their tokens are harvested and crafted.
  for (let i = 0; i < 5; i++) await h.client.preferences.UpdatePreferences({ preferences: { agent_id: `fz-extra-${i}`, time_zone: 'UTC' } });
  for (let i = 0; i < 60; i++) await h.client.notifications.CreateNotification({ agent_id: pools.agents[i % 3]!, notification_type: 'job.done', title: `seed ${i}` });

  const methods = heraldMethods();
  assert.ok(methods.length >= 18, `every RPC is fuzzed: ${methods.map((m) => m.path).join(', ')}`);
  const failures: string[] = [];
  const tally = new Map<string, number>();
  let next = 0;

  const runCase = async (i: number): Promise<void> => {
    const method = methods[i % methods.length]!;
    const gen = new Generator(prng(SEED ^ Math.imul(i + 1, 0x9e3779b9)), pools, method.path);
    let bytes: Buffer;
    let kind = 'generated';
    try {
      bytes = method.serialize(gen.message(method.type, 0));
    } catch {
      // The encoder refused what was generated (e.g. a Struct beyond its depth): send random bytes instead.
      bytes = gen.random(gen.int(64));
      kind = 'unencodable→random';
    }
    if (gen.chance(0.08)) {
      bytes = gen.mutate(bytes);
      kind = 'mutated';
    } else if (method.path.endsWith('/CreateNotification') && gen.chance(0.03)) {
      // A metadata Struct nested beyond protobuf's decoding limit, appended as field 8.
      bytes = Buffer.concat([bytes, bytesField(8, nestedStruct(gen.pick([60, 200])))]);
      kind = 'deep-struct';
    }
    const result: RawResult = method.stream ? await raw.stream(method.path, bytes, 5 + gen.int(40)) : await raw.unary(method.path, bytes, 15_000);
    const expected =
      ACTIONABLE.has(result.code) ||
      (result.code === status.RESOURCE_EXHAUSTED && bytes.length > MAX_REQUEST_BYTES) ||
      (method.stream && (result.code === status.CANCELLED || result.code === status.RESOURCE_EXHAUSTED));
    const name = method.path.slice(method.path.lastIndexOf('/') + 1);
    const key = `${name} ${status[result.code]}`;
    tally.set(key, (tally.get(key) ?? 0) + 1);
    if (!expected || result.details.length > MAX_DETAILS) {
      failures.push(`case ${i} (${kind}, ${bytes.length} bytes) ${name}: ${status[result.code]} ${JSON.stringify(result.details.slice(0, 200))}${result.details.length > MAX_DETAILS ? ` (details of ${result.details.length} characters)` : ''}`);
    }
    if (result.code === status.OK && result.response !== undefined) harvest(method.deserialize(result.response), pools, method.path);
  };

  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      for (let i = next++; i < COUNT; i = next++) await runCase(i);
    }),
  );
  t.diagnostic(`seed ${SEED}, ${COUNT} requests, ${[...pools.tokens.values()].reduce((n, list) => n + list.length, 0)} page tokens kept; answers: ${[...tally].sort().map(([k, n]) => `${k} ×${n}`).join(', ')}`);
  assert.deepEqual(failures, [], `unexpected answers (replay with HERALD_FUZZ_SEED=${SEED} HERALD_FUZZ_COUNT=${COUNT}):\n${failures.slice(0, 30).join('\n')}`);

  // Still healthy.
  for (const service of ['', ...heraldServiceNames(loadHeraldPackageDefinition())]) assert.equal(await healthStatus(h.address, service), 'SERVING', `health of "${service}"`);

  // Nothing half-written, checked beside the running server in read-only mode.
  // Closed here rather than in t.after: the PostgreSQL database is dropped by an earlier-registered cleanup.
  const db = await openRaw(h.env.DATABASE_URL!, { readOnly: true });
  try {
    await checkRows(db, h);
  } finally {
    await db.close();
  }
});

/** No half-written rows, and every stored row reads back through the API. */
async function checkRows(db: RawDatabase, h: Herald): Promise<void> {
  assert.deepEqual(
    await db.all(
      `SELECT n.id FROM notifications n WHERE n.decision_outcome IN ('DELIVER', 'DEFER')
         AND (n.delivery_id IS NULL OR NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.id = n.delivery_id AND d.notification_id = n.id))`,
    ),
    [],
    'every DELIVER/DEFER notification has its delivery row',
  );
  assert.deepEqual(
    await db.all(
      `SELECT n.id FROM notifications n WHERE n.decision_outcome = 'SUPPRESS'
         AND (n.delivery_id IS NOT NULL OR EXISTS (SELECT 1 FROM deliveries d WHERE d.notification_id = n.id))`,
    ),
    [],
    'no SUPPRESS notification has a delivery',
  );
  assert.deepEqual(
    await db.all(
      `SELECT d.id FROM deliveries d WHERE (d.notification_id IS NULL AND d.event_type <> 'test')
         OR (d.notification_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.id = d.notification_id))`,
    ),
    [],
    'every delivery points at an existing notification or is a test delivery',
  );
  assert.deepEqual(await db.all('SELECT a.id FROM delivery_attempts a WHERE NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.id = a.delivery_id)'), [], 'every attempt belongs to a delivery');

  // Every stored row reads back through the API without error.
  const agents = (await db.all('SELECT agent_id FROM agent_preferences')).map((r) => String(r['agent_id']));
  for (const agentId of agents) assert.equal((await h.client.preferences.GetPreferences({ agent_id: agentId })).agent_id, agentId);
  const withNotifications = (await db.all('SELECT DISTINCT agent_id FROM notifications')).map((r) => String(r['agent_id']));
  let notifications = 0;
  for (const agentId of withNotifications) {
    let page_token = '';
    do {
      const page = await h.client.notifications.ListNotifications({ agent_id: agentId, page_size: 500, page_token });
      notifications += page.notifications.length;
      page_token = page.next_page_token;
    } while (page_token !== '');
  }
  const [count] = await db.all('SELECT COUNT(*) AS n FROM notifications');
  assert.equal(notifications, Number(count?.['n']), 'every notification is listed');
  assert.ok(notifications > 0, 'the run stored notifications');
}
