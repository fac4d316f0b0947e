// packages/client's calls over a real gRPC channel: a real grpc-js server on 127.0.0.1:0
// serving the Herald protos with handlers scripted per test, so what the server receives
// (metadata, deadlines, cancellation) can be observed. Herald itself is exercised through
// the packed client in test/integration/client-package.test.ts.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describe, it, type TestContext } from 'node:test';

import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ServiceDefinition } from '@grpc/proto-loader';

import type { HeraldStream } from '../../packages/client/src/call-types.js';
import { createUntypedClient, type HeraldClientOptions } from '../../packages/client/src/client.js';
import { HeraldError } from '../../packages/client/src/errors.js';
import { LOADER_OPTIONS, PROTO_FILES } from '../../packages/client/src/proto-options.js';

const definition = protoLoader.loadSync([...PROTO_FILES], { ...LOADER_OPTIONS, includeDirs: [fileURLToPath(new URL('../../proto', import.meta.url))] });
const service = (name: string): ServiceDefinition => definition[`herald.v1.${name}`] as ServiceDefinition;

type Handlers = Record<string, grpc.UntypedHandleCall>;

/** Every method of the three services answers UNIMPLEMENTED unless the test scripts it. */
async function serve(t: TestContext, handlers: Handlers): Promise<string> {
  const server = new grpc.Server();
  for (const name of ['PreferencesService', 'NotificationService', 'DeliveryService']) {
    const def = service(name);
    const implementation: Handlers = {};
    for (const method of Object.keys(def)) {
      implementation[method] = handlers[method] ?? ((_call: unknown, callback: grpc.sendUnaryData<unknown>) => callback({ code: grpc.status.UNIMPLEMENTED, details: 'not scripted' }));
    }
    server.addService(def as grpc.ServiceDefinition, implementation);
  }
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, p) => (error ? reject(error) : resolve(p))),
  );
  t.after(() => server.forceShutdown());
  return `127.0.0.1:${port}`;
}

interface Untyped {
  unary(service: string, method: string, request: unknown, options?: object): Promise<Record<string, unknown>>;
  stream(service: string, method: string, request: unknown, options?: object): HeraldStream<Record<string, unknown>>;
}

function connect(t: TestContext, address: string, options: HeraldClientOptions = {}): Untyped {
  const client = createUntypedClient(address, { insecure: true, ...options });
  t.after(() => client.close());
  const method = (s: string, m: string): ((request: unknown, options?: object) => unknown) => {
    const fn = client[s]?.[m];
    assert.ok(fn !== undefined, `${s}.${m} exists`);
    return fn;
  };
  return {
    unary: (s, m, request, o) => method(s, m)(request, o) as Promise<Record<string, unknown>>,
    stream: (s, m, request, o) => method(s, m)(request, o) as HeraldStream<Record<string, unknown>>,
  };
}

const event = (id: string): object => ({ delivery: { id, status: 'DELIVERY_STATUS_PENDING' }, at: { seconds: 1, nanos: 0 } });

describe('the client built from the service definitions', () => {
  it('has every RPC of every service, unary ones as promises and WatchDeliveries as a stream', (t) => {
    const client = createUntypedClient('127.0.0.1:1', { insecure: true });
    t.after(() => client.close());
    for (const name of ['PreferencesService', 'EndpointService', 'NotificationService', 'DeliveryService', 'PortalService']) {
      assert.deepEqual(Object.keys(client[name] ?? {}).sort(), Object.keys(service(name)).sort(), name);
    }
    assert.deepEqual(Object.keys(client).sort(), ['DeliveryService', 'EndpointService', 'NotificationService', 'PortalService', 'PreferencesService', 'close']);
  });
});

describe('unary calls', () => {
  it('send the bearer token, the tenant, the client metadata and the per-call metadata, and a deadline by default', async (t) => {
    let seen: { metadata: grpc.Metadata; deadline: grpc.Deadline } | null = null;
    const address = await serve(t, {
      GetNotification: (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
        seen = { metadata: call.metadata, deadline: call.getDeadline() };
        callback(null, { id: 'ntf_1', metadata: { fields: { n: { numberValue: 1 } } } });
      },
    });
    const client = connect(t, address, { token: 'tok-1', tenant: 'acme', metadata: { 'x-service': 'billing' }, timeoutMs: 60_000 });
    const before = Date.now();
    const res = await client.unary('NotificationService', 'GetNotification', { id: 'ntf_1' }, { metadata: { 'x-request-id': 'r-1' } });
    assert.deepEqual(res.metadata, { n: 1 }, 'the Struct comes back as plain JSON');
    assert.ok(seen !== null);
    const { metadata, deadline } = seen as { metadata: grpc.Metadata; deadline: grpc.Deadline };
    assert.deepEqual(metadata.get('authorization'), ['Bearer tok-1']);
    assert.deepEqual(metadata.get('x-herald-tenant'), ['acme']);
    assert.deepEqual(metadata.get('x-service'), ['billing']);
    assert.deepEqual(metadata.get('x-request-id'), ['r-1']);
    const ms = (deadline instanceof Date ? deadline.getTime() : deadline) - before;
    assert.ok(ms > 50_000 && ms <= 61_000, `deadline about 60 s ahead, got ${ms} ms`);
  });

  it('a per-call timeoutMs overrides the default: a call the server never answers fails DEADLINE_EXCEEDED', async (t) => {
    const address = await serve(t, { GetNotification: () => undefined });
    const client = connect(t, address, { timeoutMs: 600_000 });
    await assert.rejects(client.unary('NotificationService', 'GetNotification', { id: 'x' }, { timeoutMs: 200 }), (e: unknown) => {
      assert.ok(e instanceof HeraldError);
      assert.equal(e.code, grpc.status.DEADLINE_EXCEEDED);
      assert.equal(e.codeName, 'DEADLINE_EXCEEDED');
      assert.equal(e.method, 'herald.v1.NotificationService/GetNotification');
      return true;
    });
  });

  it('an error status becomes a HeraldError with code, name, details and trailing metadata', async (t) => {
    const address = await serve(t, {
      GetPreferences: (_call: unknown, callback: grpc.sendUnaryData<unknown>) => {
        const trailers = new grpc.Metadata();
        trailers.set('x-reference', 'ref-9');
        callback({ code: grpc.status.NOT_FOUND, details: 'agent "a" has no preferences', metadata: trailers });
      },
    });
    const client = connect(t, address);
    await assert.rejects(client.unary('PreferencesService', 'GetPreferences', { agent_id: 'a' }), (e: unknown) => {
      assert.ok(e instanceof HeraldError && e instanceof Error);
      assert.deepEqual([e.code, e.codeName, e.details], [grpc.status.NOT_FOUND, 'NOT_FOUND', 'agent "a" has no preferences']);
      assert.deepEqual(e.metadata.get('x-reference'), ['ref-9']);
      assert.match(e.message, /GetPreferences: NOT_FOUND: agent "a" has no preferences/);
      return true;
    });
  });

  it('an AbortSignal cancels the call, which the server sees', async (t) => {
    let cancelled: Promise<unknown> | null = null;
    let arrived: () => void = () => undefined;
    const started = new Promise<void>((resolve) => (arrived = resolve));
    const address = await serve(t, {
      GetNotification: (call: grpc.ServerUnaryCall<unknown, unknown>) => {
        cancelled = once(call, 'cancelled');
        arrived();
      },
    });
    const client = connect(t, address);
    const abort = new AbortController();
    const pending = client.unary('NotificationService', 'GetNotification', { id: 'x' }, { signal: abort.signal });
    await started;
    abort.abort();
    await assert.rejects(pending, (e: unknown) => e instanceof HeraldError && e.code === grpc.status.CANCELLED);
    await cancelled;
  });

  it('a request the encoder would silently shorten is refused with a TypeError before anything is sent', async (t) => {
    let calls = 0;
    const address = await serve(t, {
      CreateNotification: (_call: unknown, callback: grpc.sendUnaryData<unknown>) => {
        calls += 1;
        callback(null, {});
      },
    });
    const client = connect(t, address);
    await assert.rejects(client.unary('NotificationService', 'CreateNotification', { agent_id: 'a', metadata: { duration_s: 10n } }), /^TypeError: metadata\.duration_s: a bigint cannot be represented in JSON/);
    await assert.rejects(client.unary('NotificationService', 'CreateNotification', { agentId: 'a' }), /^TypeError: agentId: herald\.v1\.CreateNotificationRequest has no field/);
    assert.equal(calls, 0);
  });

  it('contradictory or unusable options are refused at creation', () => {
    assert.throws(() => createUntypedClient('127.0.0.1:1', { insecure: true, tls: {} }), /either insecure: true or tls/);
    assert.throws(() => createUntypedClient('127.0.0.1:1', { tls: { cert: 'x' } }), /tls.cert and tls.key go together/);
    assert.throws(() => createUntypedClient('127.0.0.1:1', { insecure: true, timeoutMs: 0 }), /timeoutMs must be a positive number/);
    assert.throws(() => createUntypedClient('127.0.0.1:1', { insecure: true, token: 'a\nb' }), /token must be a non-empty string on one line/);
    assert.throws(() => createUntypedClient('127.0.0.1:1', { insecure: true, tenant: '' }), /tenant must be a non-empty string on one line/);
  });
});

describe('WatchDeliveries as an async iterator', () => {
  it('yields the events in order, and breaking out of for await cancels the call on the server', async (t) => {
    let cancelled: Promise<unknown> | null = null;
    const address = await serve(t, {
      WatchDeliveries: (call: grpc.ServerWritableStream<unknown, unknown>) => {
        cancelled = once(call, 'cancelled');
        for (const id of ['dlv_1', 'dlv_2', 'dlv_3']) call.write(event(id));
      },
    });
    const client = connect(t, address);
    const ids: unknown[] = [];
    for await (const e of client.stream('DeliveryService', 'WatchDeliveries', { agent_id: 'a' })) {
      ids.push((e.delivery as { id: string }).id);
      if (ids.length === 2) break;
    }
    assert.deepEqual(ids, ['dlv_1', 'dlv_2']);
    assert.ok(cancelled !== null);
    await cancelled;
  });

  it('ends when the server ends the stream, after every event it sent', async (t) => {
    const address = await serve(t, {
      WatchDeliveries: (call: grpc.ServerWritableStream<unknown, unknown>) => {
        call.write(event('dlv_1'));
        call.write(event('dlv_2'));
        call.end();
      },
    });
    const client = connect(t, address);
    const ids: unknown[] = [];
    for await (const e of client.stream('DeliveryService', 'WatchDeliveries', {})) ids.push((e.delivery as { id: string }).id);
    assert.deepEqual(ids, ['dlv_1', 'dlv_2']);
  });

  it('throws a HeraldError when the server ends it with an error, after the events sent before', async (t) => {
    const address = await serve(t, {
      WatchDeliveries: (call: grpc.ServerWritableStream<unknown, unknown>) => {
        call.write(event('dlv_1'));
        call.emit('error', { code: grpc.status.RESOURCE_EXHAUSTED, details: 'the client fell behind' });
      },
    });
    const client = connect(t, address);
    const ids: unknown[] = [];
    await assert.rejects(
      (async () => {
        for await (const e of client.stream('DeliveryService', 'WatchDeliveries', {})) ids.push((e.delivery as { id: string }).id);
      })(),
      (e: unknown) => e instanceof HeraldError && e.code === grpc.status.RESOURCE_EXHAUSTED && e.details === 'the client fell behind',
    );
    assert.deepEqual(ids, ['dlv_1']);
  });

  it('cancel() ends a stream that is waiting for its next event, without an error', async (t) => {
    let arrived: () => void = () => undefined;
    const started = new Promise<void>((resolve) => (arrived = resolve));
    const address = await serve(t, { WatchDeliveries: () => arrived() });
    const client = connect(t, address);
    const stream = client.stream('DeliveryService', 'WatchDeliveries', {});
    const next = stream.next();
    await started;
    stream.cancel();
    assert.deepEqual(await next, { done: true, value: undefined });
  });

  it('an error before the first read (here UNAUTHENTICATED) is reported by the first next(), not thrown at the process', async (t) => {
    let failed: () => void = () => undefined;
    const statusSent = new Promise<void>((resolve) => (failed = resolve));
    const address = await serve(t, {
      WatchDeliveries: (call: grpc.ServerWritableStream<unknown, unknown>) => {
        call.emit('error', { code: grpc.status.UNAUTHENTICATED, details: 'missing token' });
        failed();
      },
      GetNotification: (_call: unknown, callback: grpc.sendUnaryData<unknown>) => callback(null, {}),
    });
    const client = connect(t, address);
    const stream = client.stream('DeliveryService', 'WatchDeliveries', {});
    // The stream's status went out before this call's answer on the same connection, so it has
    // reached the client, unread, by the time the answer has.
    await statusSent;
    await client.unary('NotificationService', 'GetNotification', { id: 'x' });
    await assert.rejects(stream.next(), (e: unknown) => e instanceof HeraldError && e.codeName === 'UNAUTHENTICATED');
    assert.deepEqual(await stream.next(), { done: true, value: undefined }, 'and the stream is over');
  });
});
