/**
 * The client's types, derived from the types proto-loader-gen-types generated for the
 * Herald API: one property per service, one method per RPC, a Promise for unary calls and
 * an async iterable for server-streaming ones (told apart by what the generated client
 * returns), with requests and responses in the client's plain form (see codec.ts).
 */
import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition, MethodDefinition } from '@grpc/proto-loader';

import type { HeraldGrpcType } from './generated/api.js';
import type { Struct, Struct__Output } from './generated/proto/google/protobuf/Struct.js';
import type { Timestamp as TimestampInput } from './generated/proto/google/protobuf/Timestamp.js';
import type { CallOptions, HeraldStream } from './call-types.js';
import type { JsonObject } from './json.js';

export type { CallOptions, HeraldStream } from './call-types.js';

/** The `herald.v1` namespace of the generated types: services, messages, enums. */
export type HeraldV1 = HeraldGrpcType['herald']['v1'];

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

/** A generated request (input) type in the client's form: Struct → JSON object, Timestamp → also a Date. */
export type RequestOf<T> = T extends unknown
  ? Same<T, Struct> extends true
    ? JsonObject
    : Same<T, TimestampInput> extends true
      ? TimestampInput | Date
      : T extends (...args: never[]) => unknown
        ? T
        : T extends Uint8Array
          ? T
          : T extends readonly (infer E)[]
            ? RequestOf<E>[]
            : T extends object
              ? { [K in keyof T]: RequestOf<T[K]> }
              : T
  : never;

/** A generated output type in the client's form: Struct → JSON object. Timestamps stay `{seconds, nanos}`. */
export type ResponseOf<T> = T extends unknown
  ? Same<T, Struct__Output> extends true
    ? JsonObject
    : T extends (...args: never[]) => unknown
      ? T
      : T extends Uint8Array
        ? T
        : T extends readonly (infer E)[]
          ? ResponseOf<E>[]
          : T extends object
            ? { [K in keyof T]: ResponseOf<T[K]> }
            : T
  : never;

/** Names of the API's services, e.g. `"NotificationService"`. */
export type ServiceName = { [K in keyof HeraldV1]: HeraldV1[K] extends { service: grpc.ServiceDefinition } ? K : never }[keyof HeraldV1];

/** Names of the API's messages, e.g. `"Notification"`. */
export type MessageName = { [K in keyof HeraldV1]: HeraldV1[K] extends MessageTypeDefinition<object, object> ? K : never }[keyof HeraldV1];

/** A message as responses carry it, e.g. `Message<'Notification'>`. */
export type Message<N extends MessageName> = HeraldV1[N] extends MessageTypeDefinition<object, infer O> ? ResponseOf<O> : never;

/** A message as requests take it, e.g. `MessageInput<'Preferences'>`. */
export type MessageInput<N extends MessageName> = HeraldV1[N] extends MessageTypeDefinition<infer I, object> ? RequestOf<I> : never;

type ClientOf<S extends ServiceName> = HeraldV1[S] extends new (...args: never[]) => infer C ? C : never;
type DefinitionOf<S extends ServiceName> = HeraldV1[S] extends { service: infer D } ? D : never;
/** The keys of a type without its index signature (generated definitions extend an indexed type). */
type KnownKeys<T> = keyof { [K in keyof T as string extends K ? never : number extends K ? never : K]: T[K] };

type MethodOf<Def, Client, K extends keyof Def> = Def[K] extends MethodDefinition<infer Req, object, object, infer Res>
  ? K extends keyof Client
    ? Client[K] extends (...args: never[]) => infer Call
      ? Call extends grpc.ClientReadableStream<unknown>
        ? (request: RequestOf<Req>, options?: CallOptions) => HeraldStream<ResponseOf<Res>>
        : Call extends grpc.ClientUnaryCall
          ? (request: RequestOf<Req>, options?: CallOptions) => Promise<ResponseOf<Res>>
          : never
      : never
    : never
  : never;

/** One service's RPCs, under their .proto names. */
export type ServiceMethods<S extends ServiceName> = {
  readonly [K in KnownKeys<DefinitionOf<S>> & keyof DefinitionOf<S>]: MethodOf<DefinitionOf<S>, ClientOf<S>, K>;
};

/** The request type of an RPC, e.g. `RequestType<'NotificationService', 'CreateNotification'>`. */
export type RequestType<S extends ServiceName, M extends keyof ServiceMethods<S>> = ServiceMethods<S>[M] extends (request: infer R, options?: CallOptions) => unknown ? R : never;

/** The response type of an RPC (the element type for a stream). */
export type ResponseType<S extends ServiceName, M extends keyof ServiceMethods<S>> = ServiceMethods<S>[M] extends (...args: never[]) => infer R
  ? R extends Promise<infer V>
    ? V
    : R extends HeraldStream<infer V>
      ? V
      : never
  : never;

/** A connection to Herald: one property per service, e.g. `herald.NotificationService.CreateNotification(…)`. */
export type HeraldClient = { readonly [S in ServiceName]: ServiceMethods<S> } & {
  /** Closes the channel; calls in flight fail with CANCELLED or UNAVAILABLE. */
  close(): void;
};
