// packages/client's conversions: plain JSON ↔ google.protobuf.Struct and Date → Timestamp,
// checked through the real encoder and decoder (proto-loader with the client's options),
// and the refusals that replace the encoder's silent drops.
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

import * as protoLoader from '@grpc/proto-loader';
import type { MethodDefinition, ServiceDefinition } from '@grpc/proto-loader';

import { Codec } from '../../packages/client/src/codec.js';
import { fromStruct, timestampToDate, toStruct, type JsonObject } from '../../packages/client/src/json.js';
import { LOADER_OPTIONS, PROTO_FILES } from '../../packages/client/src/proto-options.js';

const definition = protoLoader.loadSync([...PROTO_FILES], { ...LOADER_OPTIONS, includeDirs: [fileURLToPath(new URL('../../proto', import.meta.url))] });
const codec = new Codec(definition);
const SERVICE = 'herald.v1.NotificationService';
const method = (name: string): MethodDefinition<object, object> => (definition[SERVICE] as ServiceDefinition)[name]!;

/** Encodes a request as the client does, puts it on the wire, and decodes it as a response would be. */
function throughTheWire(typeName: string, methodName: string, request: unknown): Record<string, unknown> {
  const m = method(methodName);
  const bytes = m.requestSerialize(codec.encode(typeName, SERVICE, request));
  return codec.decode<Record<string, unknown>>(typeName, SERVICE, m.requestDeserialize(bytes));
}

const create = (metadata: unknown): Record<string, unknown> => ({ agent_id: 'a', notification_type: 't', title: 'x', metadata });

describe('metadata as plain JSON', () => {
  it('every JSON kind, nested, survives encoding and decoding unchanged', () => {
    const metadata: JsonObject = {
      duration_s: 42,
      ratio: -1.5,
      zero: 0,
      name: 'Café ☃ 🚀',
      empty: '',
      ok: true,
      no: false,
      nothing: null,
      steps: ['build', 1, null, false, { deep: [[]] }],
      nested: { a: { b: { c: 'd' } }, list: [] },
      '': 'an empty key',
    };
    assert.deepEqual(throughTheWire('CreateNotificationRequest', 'CreateNotification', create(metadata)).metadata, metadata);
  });

  it('an empty object stays an empty object, and null or an absent field means unset', () => {
    assert.deepEqual(throughTheWire('CreateNotificationRequest', 'CreateNotification', create({})).metadata, {});
    assert.equal(throughTheWire('CreateNotificationRequest', 'CreateNotification', create(null)).metadata, null);
    assert.equal(throughTheWire('CreateNotificationRequest', 'CreateNotification', { agent_id: 'a' }).metadata, null);
  });

  it('inside a nested message (EvaluateNotificationRequest.notification.metadata) too', () => {
    const decoded = throughTheWire('EvaluateNotificationRequest', 'EvaluateNotification', { notification: create({ k: ['v'] }) });
    assert.deepEqual((decoded.notification as Record<string, unknown>).metadata, { k: ['v'] });
  });

  it('the wire form is the Struct the server reads: numberValue, stringValue, listValue…', () => {
    assert.deepEqual(toStruct({ n: 1, s: 'x', l: [true], z: null }, 'metadata'), {
      fields: {
        n: { numberValue: 1 },
        s: { stringValue: 'x' },
        l: { listValue: { values: [{ boolValue: true }] } },
        z: { nullValue: 'NULL_VALUE' },
      },
    });
    assert.deepEqual(fromStruct({ fields: { n: { kind: 'numberValue', numberValue: 1, stringValue: '' } } }), { n: 1 });
  });
});

describe('metadata JSON cannot carry is refused with a TypeError naming the field', () => {
  class Job {
    id = 1;
  }
  const circular: Record<string, unknown> = { a: 1 };
  circular.self = circular;
  const circularList: unknown[] = [];
  circularList.push(circularList);
  const cases: Array<{ name: string; metadata: unknown; path: string }> = [
    { name: 'undefined', metadata: { run: undefined }, path: 'metadata.run' },
    { name: 'a function', metadata: { f: () => 1 }, path: 'metadata.f' },
    { name: 'a symbol', metadata: { s: Symbol('x') }, path: 'metadata.s' },
    { name: 'a bigint', metadata: { big: 10n }, path: 'metadata.big' },
    { name: 'NaN', metadata: { n: Number.NaN }, path: 'metadata.n' },
    { name: 'Infinity', metadata: { deep: { n: Number.POSITIVE_INFINITY } }, path: 'metadata.deep.n' },
    { name: '-Infinity in a list', metadata: { l: [1, Number.NEGATIVE_INFINITY] }, path: 'metadata.l[1]' },
    { name: 'a Date', metadata: { at: new Date(0) }, path: 'metadata.at' },
    { name: 'a Map', metadata: { m: new Map() }, path: 'metadata.m' },
    { name: 'a class instance', metadata: { job: new Job() }, path: 'metadata.job' },
    { name: 'a hole in a sparse array', metadata: { l: [1, , 3] }, path: 'metadata.l[1]' },
    { name: 'a circular object', metadata: circular, path: 'metadata.self' },
    { name: 'a circular list', metadata: { l: circularList }, path: 'metadata.l[0]' },
    { name: 'an array instead of an object', metadata: [1], path: 'metadata' },
    { name: 'a string instead of an object', metadata: '{"a":1}', path: 'metadata' },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.throws(
        () => codec.encode('CreateNotificationRequest', SERVICE, create(c.metadata)),
        (e: unknown) => e instanceof TypeError && [`${c.path}:`, `${c.path} `].some((prefix) => e.message.startsWith(prefix)),
      );
    });
  }

  it('the same value used twice (not a cycle) is accepted', () => {
    const shared = { x: 1 };
    assert.deepEqual(throughTheWire('CreateNotificationRequest', 'CreateNotification', create({ a: shared, b: [shared] })).metadata, { a: { x: 1 }, b: [{ x: 1 }] });
  });
});

describe('requests', () => {
  it('a field the message does not have is refused instead of dropped', () => {
    assert.throws(() => codec.encode('CreateNotificationRequest', SERVICE, { agent_idd: 'a' }), /^TypeError: agent_idd: herald.v1.CreateNotificationRequest has no field "agent_idd"/);
    assert.throws(() => codec.encode('EvaluateNotificationRequest', SERVICE, { notification: { titel: 'x' } }), /^TypeError: notification.titel:/);
  });

  it('a message field that is not an object is refused', () => {
    assert.throws(() => codec.encode('EvaluateNotificationRequest', SERVICE, { notification: 'x' }), /notification: expected an object/);
    assert.throws(() => codec.encode('CreateNotificationRequest', SERVICE, 'agent-1'), /the request must be a plain object/);
  });

  it('values the encoder would coerce or drop are refused, naming the field: enums, strings, booleans, integers', () => {
    const refused: Array<{ type: string; request: Record<string, unknown>; message: RegExp }> = [
      { type: 'CreateNotificationRequest', request: { priority: 'HIGH' }, message: /^TypeError: priority: "HIGH" is not a value of herald.v1.Priority \(PRIORITY_UNSPECIFIED, PRIORITY_LOW/ },
      { type: 'CreateNotificationRequest', request: { priority: true }, message: /^TypeError: priority: expected a herald.v1.Priority value name/ },
      { type: 'CreateNotificationRequest', request: { title: 42 }, message: /^TypeError: title: expected a string, got 42/ },
      { type: 'ListNotificationsRequest', request: { unread_only: 'yes' }, message: /^TypeError: unread_only: expected a boolean/ },
      { type: 'ListNotificationsRequest', request: { page_size: '10' }, message: /^TypeError: page_size: expected an integer \(int32\)/ },
      { type: 'ListNotificationsRequest', request: { page_size: 1.5 }, message: /^TypeError: page_size: 1.5 is not an integer/ },
      { type: 'ListNotificationsRequest', request: { page_size: 2 ** 31 }, message: /^TypeError: page_size: 2147483648 is not an integer between/ },
      { type: 'ListNotificationsRequest', request: { created_after: '2026-01-01T00:00:00Z' }, message: /^TypeError: created_after: expected a Date or \{seconds, nanos\}/ },
      { type: 'ListNotificationsRequest', request: { created_after: { secs: 1 } }, message: /^TypeError: created_after.secs: google.protobuf.Timestamp has no field/ },
    ];
    for (const { type, request, message } of refused) {
      assert.throws(() => codec.encode(type, SERVICE, request), message, JSON.stringify(request));
    }
    const prefs = 'herald.v1.PreferencesService';
    assert.throws(() => codec.encode('UpdatePreferencesRequest', prefs, { preferences: { max_notifications_per_hour: -1 } }), /^TypeError: preferences.max_notifications_per_hour: -1 is not an integer between 0 and 4294967295/);
    assert.throws(() => codec.encode('UpdatePreferencesRequest', prefs, { preferences: { webhook_headers: { 'x-a': 1 } } }), /^TypeError: preferences.webhook_headers.x-a: expected a string/);
    assert.throws(() => codec.encode('UpdatePreferencesRequest', prefs, { preferences: { notification_types: ['job.*', 7] } }), /^TypeError: preferences.notification_types\[1\]: expected a string/);
    assert.throws(() => codec.encode('UpdatePreferencesRequest', prefs, { preferences: { quiet_hours: { policy: 'DEFER' } } }), /^TypeError: preferences.quiet_hours.policy: "DEFER" is not a value of herald.v1.QuietHoursPolicy/);
  });

  it('enum names, enum numbers, null (unset) and in-range integers pass', () => {
    const decoded = throughTheWire('ListNotificationsRequest', 'ListNotifications', { agent_id: 'a', page_size: 500, unread_only: true, notification_type: null });
    assert.deepEqual([decoded.page_size, decoded.unread_only, decoded.notification_type], [500, true, '']);
    assert.equal(throughTheWire('CreateNotificationRequest', 'CreateNotification', { priority: 'PRIORITY_URGENT' }).priority, 'PRIORITY_URGENT');
    assert.equal(throughTheWire('CreateNotificationRequest', 'CreateNotification', { priority: 3 }).priority, 'PRIORITY_HIGH');
  });

  it('a Date is accepted for a Timestamp, to the millisecond, and {seconds, nanos} still is', () => {
    const at = new Date('2026-11-22T23:30:00.123Z');
    const decoded = throughTheWire('EvaluateNotificationRequest', 'EvaluateNotification', { at });
    assert.deepEqual(decoded.at, { seconds: Math.floor(at.getTime() / 1000), nanos: 123_000_000 });
    assert.equal(timestampToDate(decoded.at as { seconds: number; nanos: number })?.toISOString(), at.toISOString());
    assert.deepEqual(throughTheWire('EvaluateNotificationRequest', 'EvaluateNotification', { at: { seconds: 5, nanos: 6 } }).at, { seconds: 5, nanos: 6 });
    assert.throws(() => codec.encode('EvaluateNotificationRequest', SERVICE, { at: new Date('nope') }), /^TypeError: at: invalid Date/);
  });

  it('a decoded message spread back into a request is accepted (its synthetic oneof names are ignored)', () => {
    const prefs = (definition['herald.v1.PreferencesService'] as ServiceDefinition)['UpdatePreferences']!;
    const bytes = prefs.requestSerialize(codec.encode('UpdatePreferencesRequest', 'herald.v1.PreferencesService', { preferences: { agent_id: 'a', enable_webhook: true, webhook_headers: { 'x-a': 'b' } } }));
    const decoded = codec.decode<{ preferences: Record<string, unknown> }>('UpdatePreferencesRequest', 'herald.v1.PreferencesService', prefs.requestDeserialize(bytes));
    assert.equal(decoded.preferences._enable_webhook, 'enable_webhook', 'the decoder adds the synthetic oneof');
    assert.deepEqual(decoded.preferences.webhook_headers, { 'x-a': 'b' });
    assert.doesNotThrow(() => codec.encode('UpdatePreferencesRequest', 'herald.v1.PreferencesService', { preferences: decoded.preferences }));
  });
});
