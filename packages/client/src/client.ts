import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { MethodDefinition, PackageDefinition, ServiceDefinition } from '@grpc/proto-loader';

import { Codec } from './codec.js';
import { HeraldError } from './errors.js';
import { LOADER_OPTIONS, PROTO_FILES } from './proto-options.js';
import type { CallOptions, HeraldStream, UntypedClient } from './call-types.js';

/**
 * Where the .proto files are. Built (dist/client.js): the copies shipped in the package.
 * Run from source (src/client.ts, the repository's tests): the repository's own proto/, never
 * the package's copies, which a concurrent `npm pack` may be rewriting.
 */
function protoDir(): string {
  const fromSource = import.meta.url.endsWith('.ts');
  const dir = fileURLToPath(new URL(fromSource ? '../../../proto/' : '../proto/', import.meta.url));
  const missing = PROTO_FILES.filter((file) => !existsSync(path.join(dir, file)));
  if (missing.length > 0) {
    throw new Error(`@herald/client: ${missing.join(', ')} missing from ${dir}; rebuild the package`);
  }
  return dir;
}

/** Default for {@link HeraldClientOptions.timeoutMs}. */
export const DEFAULT_TIMEOUT_MS = 10_000;

/** TLS material, PEM-encoded. */
export interface TlsOptions {
  /** CA bundle to trust instead of the system's roots (e.g. a private CA). */
  readonly ca?: string | Buffer;
  /** Client certificate chain, for servers that require mutual TLS (with `key`). */
  readonly cert?: string | Buffer;
  /** The client certificate's private key. */
  readonly key?: string | Buffer;
}

/** Options of {@link createHeraldClient}. */
export interface HeraldClientOptions {
  /** Sent as `authorization: Bearer <token>` on every call (for servers with HERALD_API_TOKENS). */
  readonly token?: string;
  /**
   * Sent as `x-herald-tenant` on every call: the tenant the calls act on. An operator token
   * may name any tenant; a scoped token (`TENANT:ROLE:TOKEN` on the server) acts on its own
   * and needs none. Unset: the tenant `default`, or the scoped token's own.
   */
  readonly tenant?: string;
  /**
   * TLS to the server. Default: TLS with the system's trusted roots. Pass `{ca}` for a private
   * CA, `{ca, cert, key}` for mutual TLS.
   */
  readonly tls?: TlsOptions;
  /** Plaintext instead of TLS: local development, or a sidecar that terminates TLS. Default false. */
  readonly insecure?: boolean;
  /** Deadline of every unary call, in ms from its start, unless the call sets its own. Default 10,000. Streams have none unless given per call. */
  readonly timeoutMs?: number;
  /** Metadata sent on every call (per-call metadata is added after it). */
  readonly metadata?: CallOptions['metadata'];
  /** grpc-js channel options, e.g. `{'grpc.keepalive_time_ms': 30_000}`. */
  readonly channelOptions?: grpc.ChannelOptions;
}

/**
 * Builds the client from the loaded service definitions: one object per service, one
 * method per RPC, unary or server-streaming as the definition says. index.ts exports it as
 * `createHeraldClient`, typed with the generated types.
 */
export function createUntypedClient(address: string, options: HeraldClientOptions = {}): UntypedClient {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  requireDuration(timeoutMs, 'timeoutMs');
  const definition = loadDefinition();
  const codec = new Codec(definition);
  const channel = new grpc.Client(address, credentialsOf(options), options.channelOptions ?? {});
  const defaults = metadataOf(options);

  const client: Record<string, unknown> = {
    close: () => channel.close(),
  };
  for (const [fullName, entry] of Object.entries(definition)) {
    // Message and enum entries carry a `format`; service entries are maps of methods.
    if ('format' in entry) continue;
    const shortName = fullName.slice(fullName.lastIndexOf('.') + 1);
    const methods: Record<string, unknown> = {};
    for (const [name, method] of Object.entries(entry as ServiceDefinition)) {
      const call = bind(fullName, name, method as MethodDefinition<object, object>);
      if (call !== null) methods[name] = call;
    }
    client[shortName] = Object.freeze(methods);
  }
  return Object.freeze(client) as unknown as UntypedClient;

  function bind(service: string, name: string, method: MethodDefinition<object, object>): ((request: unknown, callOptions?: CallOptions) => unknown) | null {
    const requestType = method.requestType.type as { name?: string };
    const responseType = method.responseType.type as { name?: string };
    const encode = (request: unknown): object => codec.encode(requestType.name ?? '', service, request);
    const decode = <T>(response: unknown): T => codec.decode<T>(responseType.name ?? '', service, response);
    const rpc = `${service}/${name}`;
    if (method.requestStream) {
      // The API has no client-streaming RPCs; this client does not offer them.
      return null;
    }
    if (method.responseStream) {
      return (request: unknown, callOptions: CallOptions = {}) => {
        const wire = encode(request);
        const call = channel.makeServerStreamRequest(method.path, method.requestSerialize, method.responseDeserialize, wire, callMetadata(callOptions), {
          deadline: deadlineOf(callOptions, null),
        });
        return serverStream(call, decode, rpc, callOptions.signal);
      };
    }
    return (request: unknown, callOptions: CallOptions = {}) =>
      new Promise((resolve, reject) => {
        const wire = encode(request);
        const signal = callOptions.signal;
        if (signal?.aborted === true) {
          reject(new HeraldError(grpc.status.CANCELLED, 'aborted before the call started', rpc, undefined, { cause: signal.reason }));
          return;
        }
        const onAbort = (): void => call.cancel();
        const call = channel.makeUnaryRequest(method.path, method.requestSerialize, method.responseDeserialize, wire, callMetadata(callOptions), {
          deadline: deadlineOf(callOptions, timeoutMs),
        }, (error, response) => {
          signal?.removeEventListener('abort', onAbort);
          if (error !== null) reject(HeraldError.fromServiceError(error, rpc));
          else resolve(decode(response));
        });
        signal?.addEventListener('abort', onAbort, { once: true });
      });
  }

  function callMetadata(callOptions: CallOptions): grpc.Metadata {
    const metadata = defaults.clone();
    if (callOptions.metadata !== undefined) setAll(metadata, callOptions.metadata);
    return metadata;
  }
}

function loadDefinition(): PackageDefinition {
  return protoLoader.loadSync([...PROTO_FILES], { ...LOADER_OPTIONS, includeDirs: [protoDir()] });
}

function credentialsOf(options: HeraldClientOptions): grpc.ChannelCredentials {
  if (options.insecure === true) {
    if (options.tls !== undefined) throw new TypeError('give either insecure: true or tls, not both');
    return grpc.credentials.createInsecure();
  }
  const tls = options.tls ?? {};
  if ((tls.cert === undefined) !== (tls.key === undefined)) {
    throw new TypeError('tls.cert and tls.key go together (mutual TLS), or neither');
  }
  const pem = (value: string | Buffer | undefined): Buffer | null => (value === undefined ? null : Buffer.from(value));
  return grpc.credentials.createSsl(pem(tls.ca), pem(tls.key), pem(tls.cert));
}

function metadataOf(options: HeraldClientOptions): grpc.Metadata {
  const metadata = new grpc.Metadata();
  if (options.metadata !== undefined) setAll(metadata, options.metadata);
  if (options.token !== undefined) {
    if (options.token === '' || /[\r\n]/.test(options.token)) throw new TypeError('token must be a non-empty string on one line');
    metadata.set('authorization', `Bearer ${options.token}`);
  }
  if (options.tenant !== undefined) {
    if (options.tenant === '' || /[\r\n]/.test(options.tenant)) throw new TypeError('tenant must be a non-empty string on one line');
    metadata.set('x-herald-tenant', options.tenant);
  }
  return metadata;
}

function setAll(metadata: grpc.Metadata, values: NonNullable<CallOptions['metadata']>): void {
  for (const [key, value] of Object.entries(values)) {
    metadata.remove(key);
    for (const v of Array.isArray(value) ? (value as readonly (string | Buffer)[]) : [value as string | Buffer]) {
      // grpc-js throws for illegal keys, and for a Buffer on a non-`-bin` key or the reverse.
      metadata.add(key, v);
    }
  }
}

function deadlineOf(callOptions: CallOptions, defaultMs: number | null): Date | number {
  if (callOptions.deadline !== undefined) {
    if (!Number.isFinite(callOptions.deadline.getTime())) throw new TypeError('deadline is an invalid Date');
    return callOptions.deadline;
  }
  const ms = callOptions.timeoutMs ?? defaultMs;
  if (ms === null) return Infinity;
  requireDuration(ms, 'timeoutMs');
  return new Date(Date.now() + ms);
}

function requireDuration(ms: number, name: string): void {
  if (!Number.isFinite(ms) || ms <= 0) throw new TypeError(`${name} must be a positive number of milliseconds, got ${ms}`);
}

/**
 * Adapts a grpc-js server stream to an async iterator. The stream is read in paused mode,
 * one message per `next()`, so a slow consumer applies HTTP/2 flow control instead of
 * buffering without bound here.
 */
function serverStream<T>(call: grpc.ClientReadableStream<unknown>, decode: (message: unknown) => T, rpc: string, signal: AbortSignal | undefined): HeraldStream<T> {
  let failure: HeraldError | null = null;
  let ended = false;
  let cancelled = false;
  const waiting = new Set<() => void>();
  const wake = (): void => {
    for (const resolve of waiting) resolve();
    waiting.clear();
  };
  call.on('readable', wake);
  call.on('end', () => {
    ended = true;
    wake();
  });
  // grpc-js ends the stream and then emits the error; messages read before it are still delivered.
  call.on('error', (error: unknown) => {
    if (!cancelled) failure = HeraldError.fromServiceError(error, rpc);
    ended = true;
    wake();
  });

  const done: IteratorReturnResult<undefined> = { done: true, value: undefined };
  const cancel = (): void => {
    if (cancelled) return;
    cancelled = true;
    signal?.removeEventListener('abort', cancel);
    call.cancel();
    wake();
  };
  signal?.addEventListener('abort', cancel, { once: true });
  if (signal?.aborted === true) cancel();

  const stream: HeraldStream<T> = {
    async next(): Promise<IteratorResult<T>> {
      for (;;) {
        if (cancelled) return done;
        const message: unknown = call.read();
        if (message !== null) return { done: false, value: decode(message) };
        if (failure !== null) {
          const error = failure;
          failure = null;
          cancelled = true;
          throw error;
        }
        if (ended) return done;
        await new Promise<void>((resolve) => waiting.add(resolve));
      }
    },
    async return(): Promise<IteratorResult<T>> {
      cancel();
      return done;
    },
    async throw(error?: unknown): Promise<IteratorResult<T>> {
      cancel();
      throw error;
    },
    cancel,
    [Symbol.asyncIterator]() {
      return stream;
    },
  };
  return stream;
}
