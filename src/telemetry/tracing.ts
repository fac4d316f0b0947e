/**
 * Herald's traces, as the rest of the code sees them: a handful of functions
 * that return null while tracing is off. The OpenTelemetry SDK lives in
 * ./otel.ts and is imported (dynamically) only by {@link startTracing} when
 * the configuration asks for traces, so a process without the OTEL
 * variables loads none of it, and each call site pays one comparison with
 * null: no span, no closure, no header object is made.
 *
 * Nothing here or in ./otel.ts imports grpc-js, Prisma or got: the gRPC call
 * is seen through {@link TracedCall}, the database by its system name, the
 * trace context stored with a delivery as an opaque W3C `traceparent` string.
 *
 * One tracer per process, as OpenTelemetry's own global is: a second App in
 * the same process shares it (tests only).
 */
import type { TracingConfig } from '../config.js';
import type { Logger } from '../logger.js';
import type { AttemptSpan, RpcSpan, TracedCall, Tracing } from './spans.js';

export type { AttemptSpan, DatabaseSystem, DecisionFacts, RpcSpan, TracedCall } from './spans.js';

/** The "tracing off" check of every call site: null unless startTracing set it up. */
let active: Tracing | null = null;

/**
 * Sets tracing up when `config` asks for it (the SDK is imported here, not
 * before); null leaves it off and loads nothing. `version` is the
 * service.version of the spans.
 */
export async function startTracing(config: TracingConfig | null, log: Logger, version: string): Promise<void> {
  if (config === null || active !== null) return;
  const { createTracing } = await import('./otel.js');
  active = await createTracing(config, log, version);
  log.info(
    { exporter: config.exporter.kind, url: config.exporter.kind === 'otlp' ? withoutCredentials(config.exporter.url) : undefined, serviceName: config.serviceName, sampler: config.sampler },
    'OpenTelemetry traces on',
  );
}

/** A collector URL as the log may show it: a user name or password in it is left out (the headers are never logged). */
function withoutCredentials(url: string): string {
  const u = new URL(url);
  u.username = '';
  u.password = '';
  return u.href;
}

/** Flushes the spans still queued and stops the exporter (App.stop, after the last call and send). Safe to call when off. */
export async function stopTracing(): Promise<void> {
  const tracing = active;
  active = null;
  await tracing?.shutdown();
}

/** The server span of a unary call, parented by the caller's `traceparent`; null when tracing is off. */
export function startRpcSpan(call: TracedCall): RpcSpan | null {
  return active === null ? null : active.rpc(call);
}

/**
 * The client span of one webhook attempt, the child of the context stored
 * with the delivery (a root span when none was); null when tracing is off.
 */
export function startAttemptSpan(storedTraceParent: string | null, url: string, deliveryId: string, attempt: number): AttemptSpan | null {
  return active === null ? null : active.attempt(storedTraceParent, url, deliveryId, attempt);
}
