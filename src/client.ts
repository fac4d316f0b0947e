/**
 * A typed, promise-based client for Herald, for platform services written
 * in TypeScript. Request and response types are the generated ones, so the
 * compiler checks field names against the .proto.
 *
 *   const herald = createHeraldClient('localhost:50051', { token });
 *   const { decision } = await herald.notifications.CreateNotification({ agent_id: 'a1', ... });
 */
import * as grpc from '@grpc/grpc-js';
import type { DeliveryServiceClient } from './generated/proto/herald/v1/DeliveryService.js';
import type { NotificationServiceClient } from './generated/proto/herald/v1/NotificationService.js';
import type { PreferencesServiceClient } from './generated/proto/herald/v1/PreferencesService.js';
import { loadHeraldGrpcObject } from './grpc/proto.js';

export type { DecisionOutcome } from './generated/proto/herald/v1/DecisionOutcome.js';

type Callback<Res> = (err: grpc.ServiceError | null, value?: Res) => void;
type UnaryMethod<Req, Res> = (request: Req, callback: Callback<Res>) => grpc.ClientUnaryCall;
type Promisified<C> = {
  [K in keyof C as K extends string ? (K extends Capitalize<K> ? K : never) : never]: C[K] extends UnaryMethod<infer Req, infer Res>
    ? (request: Req) => Promise<Res>
    : C[K];
};

function promisify<C extends grpc.Client>(client: C): Promisified<C> {
  return new Proxy(client, {
    get(target, name, receiver) {
      const value: unknown = Reflect.get(target, name, receiver);
      if (typeof name !== 'string' || typeof value !== 'function' || !/^[A-Z]/.test(name) || name === 'WatchDeliveries') {
        return typeof value === 'function' ? value.bind(target) : value;
      }
      const method = value as UnaryMethod<unknown, unknown>;
      return (request: unknown) =>
        new Promise((resolve, reject) => {
          method.call(target, request, (err, res) => (err ? reject(err) : resolve(res)));
        });
    },
  }) as unknown as Promisified<C>;
}

export interface HeraldClientOptions {
  /** Bearer token, when the server sets HERALD_API_TOKENS. */
  readonly token?: string;
  /** Channel credentials; insecure by default (local development, or TLS terminated elsewhere). */
  readonly credentials?: grpc.ChannelCredentials;
}

export interface HeraldClient {
  readonly preferences: Promisified<PreferencesServiceClient>;
  readonly notifications: Promisified<NotificationServiceClient>;
  readonly deliveries: Promisified<DeliveryServiceClient>;
  close(): void;
}

export function createHeraldClient(address: string, options: HeraldClientOptions = {}): HeraldClient {
  const api = loadHeraldGrpcObject().herald.v1;
  const credentials = options.credentials ?? grpc.credentials.createInsecure();
  const interceptors: grpc.Interceptor[] = [];
  if (options.token !== undefined) {
    const token = options.token;
    interceptors.push((opts, next) =>
      new grpc.InterceptingCall(next(opts), {
        start(metadata, listener, nextStart) {
          metadata.set('authorization', `Bearer ${token}`);
          nextStart(metadata, listener);
        },
      }),
    );
  }
  const clientOptions = { interceptors };
  const preferences = new api.PreferencesService(address, credentials, clientOptions);
  const notifications = new api.NotificationService(address, credentials, clientOptions);
  const deliveries = new api.DeliveryService(address, credentials, clientOptions);
  return {
    preferences: promisify(preferences),
    notifications: promisify(notifications),
    deliveries: promisify(deliveries),
    close() {
      preferences.close();
      notifications.close();
      deliveries.close();
    },
  };
}
