/**
 * The shapes of Herald's spans as the rest of the code holds them (see
 * ./tracing.ts), apart from both ./tracing.ts, which the code calls, and
 * ./otel.ts, which implements them with the SDK: neither imports the other
 * at load time.
 */
import type { SendResult } from '../domain/delivery-outcome.js';

/** What a server span reads off a grpc-js call: its path and its metadata (structurally, so that telemetry does not import grpc-js). */
export interface TracedCall {
  /** `/package.Service/Method`. */
  getPath(): string;
  readonly metadata: { get(key: string): ReadonlyArray<string | Buffer> };
}

/** The database a transaction span is about (the `db.system.name` values of the semantic conventions). */
export type DatabaseSystem = 'sqlite' | 'postgresql';

/** What a create decided, as span attributes: outcomes, reasons and counts only, never the notification's text or metadata. */
export interface DecisionFacts {
  /** DELIVER, DEFER or SUPPRESS: the notification's summary decision. */
  readonly outcome: string;
  readonly reason: string;
  /** Endpoints the notification was decided for. */
  readonly endpoints: number;
  /** Endpoints it was not suppressed for (each has a delivery, possibly a digest shared with others). */
  readonly deliveries: number;
  /** The idempotency key matched an earlier create: nothing new was decided. */
  readonly replayed: boolean;
}

/** The server span of one unary call. */
export interface RpcSpan {
  /** This span's W3C `traceparent`: stored with what the call enqueues, so that later attempts join the trace. */
  readonly traceParent: string;
  /** Runs `work` (one database transaction of the call) inside a child span following the database conventions. */
  transaction<T>(system: DatabaseSystem, work: () => Promise<T>): Promise<T>;
  decided(facts: DecisionFacts): void;
  /** Ends the span with the call's gRPC status code. */
  end(grpcCode: number): void;
}

/** The client span of one webhook attempt. */
export interface AttemptSpan {
  /** The `traceparent` header the webhook carries: this span's context, so the receiver continues the trace. */
  readonly traceParent: string;
  /** Ends the span with what the send produced. */
  end(result: SendResult): void;
}

/** What ./otel.ts builds. */
export interface Tracing {
  rpc(call: TracedCall): RpcSpan;
  attempt(storedTraceParent: string | null, url: string, deliveryId: string, attempt: number): AttemptSpan;
  /** Ends the exporter after sending every span still queued. */
  shutdown(): Promise<void>;
}
