/**
 * A real OTLP/HTTP trace receiver on 127.0.0.1:0 (what an OpenTelemetry
 * collector listens for on 4318): it takes `POST /v1/traces` in both
 * encodings an exporter may use, `application/x-protobuf` and
 * `application/json`, and keeps every span, flattened. The protobuf side is
 * decoded with a schema written here from the OTLP proto (only the fields
 * the tests read), independently of the exporter's own encoder.
 */
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import protobuf from 'protobufjs';

/** One exported span, its ids as lower-case hex. */
export interface ReceivedSpan {
  readonly traceId: string;
  readonly spanId: string;
  /** '' for a root span. */
  readonly parentSpanId: string;
  readonly name: string;
  /** OTLP's SpanKind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  readonly kind: number;
  readonly attributes: Readonly<Record<string, string | number | boolean>>;
  /** OTLP's status code: 0 unset, 1 ok, 2 error. */
  readonly statusCode: number;
  /** The attributes of the resource that exported it (service.name…). */
  readonly resource: Readonly<Record<string, string | number | boolean>>;
}

export interface OtlpReceiver {
  /** Base URL for OTEL_EXPORTER_OTLP_ENDPOINT, `http://127.0.0.1:<port>`. */
  readonly url: string;
  readonly spans: ReceivedSpan[];
  /** Export requests received, with their content types and headers. */
  readonly requests: Array<{ readonly path: string; readonly contentType: string; readonly headers: http.IncomingHttpHeaders }>;
  /** Resolves with the spans once `predicate` holds for them; rejects after `timeoutMs`. */
  waitFor(what: string, predicate: (spans: readonly ReceivedSpan[]) => boolean, timeoutMs?: number): Promise<ReceivedSpan[]>;
  close(): Promise<void>;
}

const OTLP_TRACES = protobuf.parse(`
  syntax = "proto3";
  package otlp;
  message ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
  message ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; }
  message Resource { repeated KeyValue attributes = 1; }
  message ScopeSpans { repeated Span spans = 2; }
  message Span {
    bytes trace_id = 1; bytes span_id = 2; string trace_state = 3; bytes parent_span_id = 4; string name = 5; int32 kind = 6;
    repeated KeyValue attributes = 9; Status status = 15;
  }
  message Status { string message = 2; int32 code = 3; }
  message KeyValue { string key = 1; AnyValue value = 2; }
  message AnyValue { oneof value { string string_value = 1; bool bool_value = 2; int64 int_value = 3; double double_value = 4; } }
`).root.lookupType('otlp.ExportTraceServiceRequest');

type Value = string | number | boolean;

/** The request as plain objects, whichever encoding it came in (JSON field names as OTLP/JSON spells them). */
interface KeyValueJson {
  key: string;
  value?: { stringValue?: string; boolValue?: boolean; intValue?: number | string; doubleValue?: number };
}
interface SpanJson {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind?: number;
  attributes?: KeyValueJson[];
  status?: { code?: number };
}
interface RequestJson {
  resourceSpans?: Array<{ resource?: { attributes?: KeyValueJson[] }; scopeSpans?: Array<{ spans?: SpanJson[] }> }>;
}

function attributes(list: readonly KeyValueJson[] | undefined): Record<string, Value> {
  const out: Record<string, Value> = {};
  for (const { key, value } of list ?? []) {
    if (value === undefined) continue;
    const v = value.stringValue ?? value.boolValue ?? (value.intValue !== undefined ? Number(value.intValue) : value.doubleValue);
    if (v !== undefined) out[key] = v;
  }
  return out;
}

function decode(body: Buffer, contentType: string): RequestJson {
  if (contentType.startsWith('application/json')) return JSON.parse(body.toString('utf8')) as RequestJson;
  const message = OTLP_TRACES.decode(body);
  // Ids as hex, as OTLP/JSON has them; 64-bit integers as numbers.
  const object = OTLP_TRACES.toObject(message, { longs: Number, bytes: String, defaults: false, oneofs: false });
  const hex = (b64: unknown): string => (typeof b64 === 'string' ? Buffer.from(b64, 'base64').toString('hex') : '');
  return {
    resourceSpans: ((object.resourceSpans ?? []) as Array<{ resource?: { attributes?: KeyValueJson[] }; scopeSpans?: Array<{ spans?: Array<Record<string, unknown>> }> }>).map((rs) => ({
      ...(rs.resource === undefined ? {} : { resource: rs.resource }),
      scopeSpans: (rs.scopeSpans ?? []).map((ss) => ({
        spans: (ss.spans ?? []).map((s) => ({
          ...(s as unknown as SpanJson),
          traceId: hex(s.traceId),
          spanId: hex(s.spanId),
          parentSpanId: hex(s.parentSpanId),
        })),
      })),
    })),
  };
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const requests: Array<{ path: string; contentType: string; headers: http.IncomingHttpHeaders }> = [];
  const listeners = new Set<() => void>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const contentType = req.headers['content-type'] ?? '';
      requests.push({ path: req.url ?? '', contentType, headers: req.headers });
      try {
        const decoded = decode(Buffer.concat(chunks), contentType);
        for (const rs of decoded.resourceSpans ?? []) {
          const resource = attributes(rs.resource?.attributes);
          for (const ss of rs.scopeSpans ?? []) {
            for (const s of ss.spans ?? []) {
              spans.push({
                traceId: s.traceId.toLowerCase(),
                spanId: s.spanId.toLowerCase(),
                parentSpanId: (s.parentSpanId ?? '').toLowerCase(),
                name: s.name,
                kind: s.kind ?? 0,
                attributes: attributes(s.attributes),
                statusCode: s.status?.code ?? 0,
                resource,
              });
            }
          }
        }
      } catch (err) {
        res.writeHead(400, { 'content-type': 'text/plain' }).end(`cannot decode: ${(err as Error).message}`);
        return;
      }
      // An empty ExportTraceServiceResponse: everything accepted.
      if (contentType.startsWith('application/json')) res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      else res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      for (const listener of [...listeners]) listener();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    requests,
    waitFor(what, predicate, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if (!predicate(spans)) return;
          finish();
          resolve([...spans]);
        };
        const timer = setTimeout(() => {
          finish();
          reject(new Error(`no ${what} within ${timeoutMs} ms; spans received: ${JSON.stringify(spans.map((s) => [s.name, s.traceId, s.spanId, s.parentSpanId]))}`));
        }, timeoutMs);
        function finish(): void {
          clearTimeout(timer);
          listeners.delete(check);
        }
        listeners.add(check);
        check();
      });
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
