/**
 * The in-repository test client: typed, promise-based, and deliberately at the wire level.
 * Requests and responses are the generated types exactly as proto-loader encodes and decodes
 * them (`metadata` as a `google.protobuf.Struct`, timestamps as `{seconds, nanos}`), so the
 * tests can send what the server must refuse (out-of-range timestamps, over-deep Structs)
 * and see what it answers. Services in other repositories use `@herald/client`
 * (packages/client), which takes plain JSON and is built from the same definitions.
 *
 *   const herald = createHeraldClient('localhost:50051', { token });
 *   const { decision } = await herald.notifications.CreateNotification({ agent_id: 'a1', ... });
 */
import * as grpc from '@grpc/grpc-js';
import type { MethodDefinition } from '@grpc/proto-loader';
import type { DeliveryServiceClient, DeliveryServiceDefinition } from './generated/proto/herald/v1/DeliveryService.js';
import type { EndpointServiceClient, EndpointServiceDefinition } from './generated/proto/herald/v1/EndpointService.js';
import type { NotificationServiceClient, NotificationServiceDefinition } from './generated/proto/herald/v1/NotificationService.js';
import type { PortalServiceClient, PortalServiceDefinition } from './generated/proto/herald/v1/PortalService.js';
import type { PreferencesServiceClient, PreferencesServiceDefinition } from './generated/proto/herald/v1/PreferencesService.js';
import { loadHeraldGrpcObject } from './grpc/proto.js';

export type { DecisionOutcome } from './generated/proto/herald/v1/DecisionOutcome.js';

/** The keys of a generated service definition without the index signature it inherits. */
type MethodNames<D> = keyof { [K in keyof D as string extends K ? never : K]: D[K] };

/**
 * One method per RPC of definition D: unary RPCs as promises; streaming ones as grpc-js
 * gives them (told apart by what the generated client returns for them).
 */
type Promisified<C, D> = {
  readonly [K in MethodNames<D> & keyof C & keyof D]: C[K] extends (...args: never[]) => grpc.ClientReadableStream<unknown>
    ? C[K]
    : D[K] extends MethodDefinition<infer Req, object, object, infer Res>
      ? (request: Req) => Promise<Res>
      : never;
};

/** Wraps the RPCs the service definition lists, by what the definition says they are. */
function promisify<C extends grpc.Client, D extends grpc.ServiceDefinition>(client: C, definition: D): Promisified<C, D> {
  const methods: Record<string, unknown> = {};
  for (const [name, method] of Object.entries(definition)) {
    const call = (client as unknown as Record<string, (...args: unknown[]) => unknown>)[name]!.bind(client);
    methods[name] =
      method.requestStream || method.responseStream
        ? call
        : (request: unknown) =>
            new Promise((resolve, reject) => {
              call(request, (err: grpc.ServiceError | null, res: unknown) => (err ? reject(err) : resolve(res)));
            });
  }
  return methods as Promisified<C, D>;
}

export interface HeraldClientOptions {
  /** Bearer token, when the server sets HERALD_API_TOKENS. */
  readonly token?: string;
  /** Sent as `x-herald-tenant`: the tenant the calls act on (an operator token's choice; a scoped token's own). */
  readonly tenant?: string;
  /** Channel credentials; insecure by default (local development, or TLS terminated elsewhere). */
  readonly credentials?: grpc.ChannelCredentials;
  /** A deadline for every call, in ms from its start; none by default. */
  readonly deadlineMs?: number;
}

export interface HeraldClient {
  readonly preferences: Promisified<PreferencesServiceClient, PreferencesServiceDefinition>;
  readonly endpoints: Promisified<EndpointServiceClient, EndpointServiceDefinition>;
  readonly notifications: Promisified<NotificationServiceClient, NotificationServiceDefinition>;
  readonly deliveries: Promisified<DeliveryServiceClient, DeliveryServiceDefinition>;
  readonly portal: Promisified<PortalServiceClient, PortalServiceDefinition>;
  close(): void;
}

export function createHeraldClient(address: string, options: HeraldClientOptions = {}): HeraldClient {
  const api = loadHeraldGrpcObject().herald.v1;
  const credentials = options.credentials ?? grpc.credentials.createInsecure();
  const interceptors: grpc.Interceptor[] = [];
  const headers: Array<[string, string]> = [];
  if (options.token !== undefined) headers.push(['authorization', `Bearer ${options.token}`]);
  if (options.tenant !== undefined) headers.push(['x-herald-tenant', options.tenant]);
  if (headers.length > 0) {
    interceptors.push((opts, next) =>
      new grpc.InterceptingCall(next(opts), {
        start(metadata, listener, nextStart) {
          for (const [key, value] of headers) metadata.set(key, value);
          nextStart(metadata, listener);
        },
      }),
    );
  }
  if (options.deadlineMs !== undefined) {
    const ms = options.deadlineMs;
    interceptors.push((opts, next) => new grpc.InterceptingCall(next({ ...opts, deadline: opts.deadline ?? Date.now() + ms })));
  }
  const clientOptions = { interceptors };
  const preferences = new api.PreferencesService(address, credentials, clientOptions);
  const endpoints = new api.EndpointService(address, credentials, clientOptions);
  const notifications = new api.NotificationService(address, credentials, clientOptions);
  const deliveries = new api.DeliveryService(address, credentials, clientOptions);
  const portal = new api.PortalService(address, credentials, clientOptions);
  return {
    preferences: promisify(preferences, api.PreferencesService.service),
    endpoints: promisify(endpoints, api.EndpointService.service),
    notifications: promisify(notifications, api.NotificationService.service),
    deliveries: promisify(deliveries, api.DeliveryService.service),
    portal: promisify(portal, api.PortalService.service),
    close() {
      preferences.close();
      endpoints.close();
      notifications.close();
      deliveries.close();
      portal.close();
    },
  };
}
