/**
 * The OpenTelemetry SDK set up for Herald: imported only by startTracing
 * (./tracing.ts) when the OTEL variables turn traces on.
 *
 * Contexts are passed explicitly (a parent extracted from a `traceparent`,
 * a child started under it), not through a global context manager: Herald's
 * spans are few and their parents known where they start, and nothing else
 * in the process is instrumented.
 *
 * Attributes follow the semantic conventions; what a span may carry is
 * listed here and nowhere else, and none of it is a notification's title,
 * content or metadata, a URL's path or query, a header value or a secret.
 * The gRPC server span has the `rpc.system`, `rpc.service`, `rpc.method`
 * (the method alone) and `rpc.grpc.status_code` that @opentelemetry/instrumentation-grpc
 * and most tracing back ends read, plus the stable `rpc.system.name` and
 * `rpc.status_code`; the database span has both `db.system.name` (stable)
 * and `db.system` (what older back ends read).
 */
import { diag, DiagLogLevel, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Span, type TextMapGetter, type TextMapSetter, type Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ConsoleSpanExporter,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
  type Sampler,
  type SpanExporter,
} from '@opentelemetry/sdk-trace';
import {
  ATTR_DB_OPERATION_NAME,
  ATTR_DB_SYSTEM_NAME,
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_RPC_METHOD,
  ATTR_RPC_SYSTEM_NAME,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_SERVICE_NAME,
  ATTR_SERVICE_VERSION,
  ATTR_URL_SCHEME,
} from '@opentelemetry/semantic-conventions';
import type { TraceSamplerConfig, TracingConfig } from '../config.js';
import type { SendResult } from '../domain/delivery-outcome.js';
import type { Logger } from '../logger.js';
import type { AttemptSpan, DatabaseSystem, DecisionFacts, RpcSpan, TracedCall, Tracing } from './spans.js';

// Attribute names from the incubating entry of @opentelemetry/semantic-conventions,
// copied as its README advises: that entry may change them in a minor release.
const ATTR_RPC_SYSTEM = 'rpc.system';
const ATTR_RPC_SERVICE = 'rpc.service';
const ATTR_RPC_GRPC_STATUS_CODE = 'rpc.grpc.status_code';
const ATTR_RPC_STATUS_CODE = 'rpc.status_code';
const ATTR_DB_SYSTEM = 'db.system';

/** Herald's own attributes: what was decided and sent, never what was said. */
const ATTR = {
  notificationOutcome: 'herald.decision.outcome',
  notificationReason: 'herald.decision.reason',
  endpointCount: 'herald.decision.endpoint_count',
  deliveryCount: 'herald.decision.delivery_count',
  replayed: 'herald.notification.replayed',
  deliveryId: 'herald.delivery.id',
  attempt: 'herald.delivery.attempt',
} as const;

/** gRPC status names by code, for `rpc.status_code`. */
const GRPC_CODES = [
  'OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS', 'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED',
] as const;

/**
 * The codes that mark a gRPC server span as an error (the conventions'
 * list): the server failed. The others (INVALID_ARGUMENT, NOT_FOUND…) are
 * the caller's, and the call went as it should.
 */
const SERVER_ERROR_CODES: ReadonlySet<number> = new Set([2, 4, 12, 13, 14, 15]);

const propagator = new W3CTraceContextPropagator();
const getter: TextMapGetter<Record<string, string>> = { keys: (carrier) => Object.keys(carrier), get: (carrier, key) => carrier[key] };
const setter: TextMapSetter<Record<string, string>> = { set: (carrier, key, value) => { carrier[key] = value; } };

/** The parent context a `traceparent` (and `tracestate`) names; the root context when absent or malformed (a new trace starts). */
function parentFrom(traceParent: string | undefined, traceState?: string): Context {
  if (traceParent === undefined) return ROOT_CONTEXT;
  const carrier: Record<string, string> = { traceparent: traceParent };
  if (traceState !== undefined) carrier.tracestate = traceState;
  return propagator.extract(ROOT_CONTEXT, carrier, getter);
}

/** A span's context as a W3C `traceparent` value. */
function traceParentOf(span: Span): string {
  const carrier: Record<string, string> = {};
  propagator.inject(trace.setSpan(ROOT_CONTEXT, span), carrier, setter);
  return carrier.traceparent ?? '';
}

function firstString(call: TracedCall, key: string): string | undefined {
  const value = call.metadata.get(key)[0];
  return typeof value === 'string' ? value : undefined;
}

function sampler(config: TraceSamplerConfig): Sampler {
  const root = config.kind === 'always_on' ? new AlwaysOnSampler() : config.kind === 'always_off' ? new AlwaysOffSampler() : new TraceIdRatioBasedSampler(config.ratio);
  return config.parentBased ? new ParentBasedSampler({ root }) : root;
}

async function exporter(config: TracingConfig['exporter']): Promise<SpanExporter> {
  if (config.kind === 'console') return new ConsoleSpanExporter();
  const options = { url: config.url, headers: { ...config.headers } };
  // Only the chosen exporter is loaded.
  if (config.protocol === 'http/json') {
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
    return new OTLPTraceExporter(options);
  }
  const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-proto');
  return new OTLPTraceExporter(options);
}

/** The default port of a URL's scheme, when the URL names none. */
function portOf(url: URL): number {
  if (url.port !== '') return Number(url.port);
  return url.protocol === 'https:' ? 443 : 80;
}

class HeraldRpcSpan implements RpcSpan {
  readonly traceParent: string;

  constructor(
    private readonly tracer: Tracer,
    private readonly span: Span,
  ) {
    this.traceParent = traceParentOf(span);
  }

  async transaction<T>(system: DatabaseSystem, work: () => Promise<T>): Promise<T> {
    // One span from asking for the transaction to its commit: with group
    // commit it also holds the wait for the group, which is part of what
    // the caller waited for.
    const span = this.tracer.startSpan(
      'TRANSACTION',
      { kind: SpanKind.CLIENT, attributes: { [ATTR_DB_SYSTEM_NAME]: system, [ATTR_DB_SYSTEM]: system, [ATTR_DB_OPERATION_NAME]: 'TRANSACTION' } },
      trace.setSpan(ROOT_CONTEXT, this.span),
    );
    try {
      return await work();
    } catch (err) {
      span.setAttribute(ATTR_ERROR_TYPE, err instanceof Error ? err.name : 'unknown');
      span.setStatus({ code: SpanStatusCode.ERROR });
      throw err;
    } finally {
      span.end();
    }
  }

  decided(facts: DecisionFacts): void {
    this.span.setAttributes({
      [ATTR.notificationOutcome]: facts.outcome,
      [ATTR.notificationReason]: facts.reason,
      [ATTR.endpointCount]: facts.endpoints,
      [ATTR.deliveryCount]: facts.deliveries,
      [ATTR.replayed]: facts.replayed,
    });
  }

  end(grpcCode: number): void {
    this.span.setAttribute(ATTR_RPC_GRPC_STATUS_CODE, grpcCode);
    this.span.setAttribute(ATTR_RPC_STATUS_CODE, GRPC_CODES[grpcCode] ?? String(grpcCode));
    if (SERVER_ERROR_CODES.has(grpcCode)) {
      this.span.setAttribute(ATTR_ERROR_TYPE, GRPC_CODES[grpcCode] ?? String(grpcCode));
      this.span.setStatus({ code: SpanStatusCode.ERROR });
    }
    this.span.end();
  }
}

class HeraldAttemptSpan implements AttemptSpan {
  readonly traceParent: string;

  constructor(private readonly span: Span) {
    this.traceParent = traceParentOf(span);
  }

  end(result: SendResult): void {
    if (result.kind === 'response') {
      this.span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, result.statusCode);
      // The HTTP client conventions: any status from 400 up is an error of the request.
      if (result.statusCode >= 400) {
        this.span.setAttribute(ATTR_ERROR_TYPE, String(result.statusCode));
        this.span.setStatus({ code: SpanStatusCode.ERROR });
      }
    } else {
      // The error class, not the message: a message may name resolved addresses.
      this.span.setAttribute(ATTR_ERROR_TYPE, result.errorClass);
      this.span.setStatus({ code: SpanStatusCode.ERROR });
    }
    this.span.end();
  }
}

/** How long a stop waits for the last spans to be exported, ms. */
const SHUTDOWN_WAIT_MS = 5_000;

class HeraldTracing implements Tracing {
  constructor(
    private readonly provider: TracerProvider,
    private readonly tracer: Tracer,
    private readonly log: Logger,
  ) {}

  rpc(call: TracedCall): RpcSpan {
    // `/herald.v1.NotificationService/CreateNotification`
    const path = call.getPath();
    const slash = path.lastIndexOf('/');
    const service = path.slice(1, slash);
    const method = path.slice(slash + 1);
    const attributes: Attributes = {
      [ATTR_RPC_SYSTEM]: 'grpc',
      [ATTR_RPC_SYSTEM_NAME]: 'grpc',
      [ATTR_RPC_SERVICE]: service,
      [ATTR_RPC_METHOD]: method,
    };
    const parent = parentFrom(firstString(call, 'traceparent'), firstString(call, 'tracestate'));
    const span = this.tracer.startSpan(`${service}/${method}`, { kind: SpanKind.SERVER, attributes }, parent);
    return new HeraldRpcSpan(this.tracer, span);
  }

  attempt(storedTraceParent: string | null, url: string, deliveryId: string, attempt: number): AttemptSpan {
    const attributes: Attributes = { [ATTR_HTTP_REQUEST_METHOD]: 'POST', [ATTR.deliveryId]: deliveryId, [ATTR.attempt]: attempt };
    try {
      const target = new URL(url);
      // Host, port and scheme only: a webhook URL's path and query may carry a receiver's token.
      attributes[ATTR_SERVER_ADDRESS] = target.hostname;
      attributes[ATTR_SERVER_PORT] = portOf(target);
      attributes[ATTR_URL_SCHEME] = target.protocol.replace(/:$/, '');
    } catch {
      // The sender reports the bad URL as the attempt's result.
    }
    const span = this.tracer.startSpan('POST', { kind: SpanKind.CLIENT, attributes }, parentFrom(storedTraceParent ?? undefined));
    return new HeraldAttemptSpan(span);
  }

  async shutdown(): Promise<void> {
    // An unreachable collector must not hold the process past its grace period: the
    // exporter's own timeout is 10 s per request, and a stop waits this long at most.
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.log.warn({ waitedMs: SHUTDOWN_WAIT_MS }, 'OpenTelemetry: spans still queued at shutdown were not all exported');
        resolve();
      }, SHUTDOWN_WAIT_MS);
    });
    try {
      await Promise.race([this.provider.shutdown(), gaveUp]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Routes the SDK's own complaints (an unreachable collector, dropped spans) to Herald's log, at warn and above. */
function routeDiagnostics(log: Logger): void {
  const write = (level: 'warn' | 'error') => (message: string, ...args: unknown[]) => log[level]({ otel: args.map((a) => (a instanceof Error ? a.message : String(a))) }, `OpenTelemetry: ${message}`);
  diag.setLogger(
    { error: write('error'), warn: write('warn'), info: () => undefined, debug: () => undefined, verbose: () => undefined },
    { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
  );
}

/** Builds the tracer provider, its batching processor and exporter. */
export async function createTracing(config: TracingConfig, log: Logger, version: string): Promise<Tracing> {
  routeDiagnostics(log);
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ ...config.resourceAttributes, [ATTR_SERVICE_NAME]: config.serviceName, [ATTR_SERVICE_VERSION]: version }),
    sampler: sampler(config.sampler),
    spanProcessors: [new BatchSpanProcessor({ exporter: await exporter(config.exporter) })],
  });
  return new HeraldTracing(provider, provider.getTracer('herald', version), log);
}
