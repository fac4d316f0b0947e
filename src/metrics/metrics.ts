/**
 * Herald's Prometheus metrics, in one registry, fed only by events: the
 * gRPC server's interceptor (rpcStarted/rpcHandled) and the change feed
 * (every recorded attempt, decision, claim and switch-off). The queue
 * gauges are read from the database when scraped, at most once per
 * `queueCacheMs`; the health gauges from the health monitor's state when
 * scraped. No label carries an agent or endpoint id: labels are bounded sets.
 *
 * deploy/prometheus/alerts.yaml and deploy/grafana/herald.json use these
 * names; test/integration/deploy-series.test.ts checks them against a scrape.
 */
import { status as GrpcStatus } from '@grpc/grpc-js';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { DELIVERY_STATUSES } from '../domain/types.js';
import { repeatLimited, type Logger } from '../logger.js';
import type { AgentDisabled, ChangeFeed } from '../events/change-feed.js';
import type { QueueSnapshot } from '../storage/queue-stats-repository.js';

/** What identifies an RPC in the grpc_server_* series (go-grpc-prometheus's labels). */
export interface RpcLabels {
  /** `unary`, `server_stream`, `client_stream` or `bidi_stream`. */
  readonly type: string;
  /** The fully qualified service, e.g. `herald.v1.DeliveryService`. */
  readonly service: string;
  readonly method: string;
}

/** What the gRPC layer reports; implemented by {@link Metrics}. */
export interface RpcObserver {
  rpcStarted(rpc: RpcLabels): void;
  rpcHandled(rpc: RpcLabels, code: number, seconds: number): void;
}

/** gRPC codes as go-grpc-prometheus spells them in `grpc_code`, so existing dashboards and alerts work. */
const CODE_NAMES: Readonly<Record<number, string>> = {
  [GrpcStatus.OK]: 'OK',
  [GrpcStatus.CANCELLED]: 'Canceled',
  [GrpcStatus.UNKNOWN]: 'Unknown',
  [GrpcStatus.INVALID_ARGUMENT]: 'InvalidArgument',
  [GrpcStatus.DEADLINE_EXCEEDED]: 'DeadlineExceeded',
  [GrpcStatus.NOT_FOUND]: 'NotFound',
  [GrpcStatus.ALREADY_EXISTS]: 'AlreadyExists',
  [GrpcStatus.PERMISSION_DENIED]: 'PermissionDenied',
  [GrpcStatus.RESOURCE_EXHAUSTED]: 'ResourceExhausted',
  [GrpcStatus.FAILED_PRECONDITION]: 'FailedPrecondition',
  [GrpcStatus.ABORTED]: 'Aborted',
  [GrpcStatus.OUT_OF_RANGE]: 'OutOfRange',
  [GrpcStatus.UNIMPLEMENTED]: 'Unimplemented',
  [GrpcStatus.INTERNAL]: 'Internal',
  [GrpcStatus.UNAVAILABLE]: 'Unavailable',
  [GrpcStatus.DATA_LOSS]: 'DataLoss',
  [GrpcStatus.UNAUTHENTICATED]: 'Unauthenticated',
};


/** The `cause` label's values (change-feed.ts's AgentDisabled.cause). */
const DISABLE_CAUSES: ReadonlyArray<AgentDisabled['cause']> = ['gone', 'failures'];

/** Webhook round trips run from milliseconds to the 60 s timeout cap. */
const ATTEMPT_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export interface MetricsOptions {
  /** Reads the queue figures from the database. */
  readonly readQueue: (now: Date) => Promise<QueueSnapshot>;
  /** The clock "due" is measured against (the application's). */
  readonly clock: () => Date;
  /** How long one database read serves scrapes (default 5,000 ms). */
  readonly queueCacheMs?: number;
  /** The health monitor's state, read at each scrape (src/health-monitor.ts). */
  readonly health: { readonly databaseUp: boolean; readonly healthy: boolean };
  readonly log: Logger;
}

export class Metrics implements RpcObserver {
  readonly registry = new Registry();
  private readonly rpcStartedTotal: Counter<'grpc_type' | 'grpc_service' | 'grpc_method'>;
  private readonly rpcHandledTotal: Counter<'grpc_type' | 'grpc_service' | 'grpc_method' | 'grpc_code'>;
  private readonly rpcSeconds: Histogram<'grpc_type' | 'grpc_service' | 'grpc_method'>;
  private readonly notifications: Counter<'outcome' | 'reason'>;
  private readonly attempts: Counter<'result'>;
  private readonly attemptSeconds: Histogram;
  private readonly claims: Counter;
  private readonly disabled: Counter<'cause'>;
  private queue: { readAt: number; snapshot: Promise<QueueSnapshot | null> } | null = null;

  constructor(private readonly options: MetricsOptions) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.rpcStartedTotal = new Counter({ name: 'grpc_server_started_total', help: 'RPCs started on the server.', labelNames: ['grpc_type', 'grpc_service', 'grpc_method'], registers });
    this.rpcHandledTotal = new Counter({
      name: 'grpc_server_handled_total',
      help: 'RPCs completed on the server, whatever their status.',
      labelNames: ['grpc_type', 'grpc_service', 'grpc_method', 'grpc_code'],
      registers,
    });
    this.rpcSeconds = new Histogram({
      name: 'grpc_server_handling_seconds',
      help: 'Time from the start of an RPC to its status (for streams: the life of the stream).',
      labelNames: ['grpc_type', 'grpc_service', 'grpc_method'],
      registers,
    });
    this.notifications = new Counter({ name: 'herald_notifications_total', help: 'Notifications created, by decision outcome and reason.', labelNames: ['outcome', 'reason'], registers });
    this.attempts = new Counter({
      name: 'herald_delivery_attempts_total',
      help: 'Webhook attempts recorded, by result: succeeded, or the error class of the attempt (http_status, timeout, connection_refused, ...).',
      labelNames: ['result'],
      registers,
    });
    this.attemptSeconds = new Histogram({ name: 'herald_delivery_attempt_duration_seconds', help: 'Duration of webhook attempts.', buckets: ATTEMPT_BUCKETS_SECONDS, registers });
    // Counted where this process's worker claims: with deliveries due and no
    // process counting claims, no worker runs or none can claim (alerts.yaml).
    this.claims = new Counter({ name: 'herald_delivery_claims_total', help: "Deliveries this process's worker claimed (0 in processes without a worker).", registers });
    this.disabled = new Counter({
      name: 'herald_endpoints_disabled_total',
      help: "Endpoints (and 0.2 agents' own webhooks) this process switched off, by cause: gone (410 Gone) or failures (HERALD_DISABLE_AFTER_FAILURES in a row).",
      labelNames: ['cause'],
      registers,
    });
    // Both causes from the start, so that rate() and the dashboard see a 0 rather than no series.
    for (const cause of DISABLE_CAUSES) this.disabled.inc({ cause }, 0);
    const health = options.health;
    const databaseUp = new Gauge({
      name: 'herald_database_up',
      help: "1 while this process's last check of the database passed, 0 while it fails (HERALD_HEALTH_CHECK_MS).",
      registers,
      collect() {
        databaseUp.set(health.databaseUp ? 1 : 0);
      },
    });
    const serving = new Gauge({
      name: 'herald_health_serving',
      help: '1 while grpc.health.v1 answers SERVING (database checked and writes not failing), 0 while NOT_SERVING.',
      registers,
      collect() {
        serving.set(health.healthy ? 1 : 0);
      },
    });
    const read = (): Promise<QueueSnapshot | null> => this.readQueue();
    const byStatus = new Gauge({
      name: 'herald_deliveries',
      help: 'Deliveries in the database, by status (database-wide: every replica reports the same figures).',
      labelNames: ['status'],
      registers,
      async collect() {
        const s = await read();
        if (s !== null) for (const status of DELIVERY_STATUSES) byStatus.set({ status }, s.byStatus[status]);
      },
    });
    const due = new Gauge({
      name: 'herald_deliveries_due',
      help: 'Deliveries a worker could claim now (due PENDING rows and expired leases), database-wide.',
      registers,
      async collect() {
        const s = await read();
        if (s !== null) due.set(s.due);
      },
    });
    const held = new Gauge({
      name: 'herald_deliveries_held_by_order',
      help: 'PENDING deliveries of PER_KEY endpoints waiting behind an unfinished earlier delivery of their ordering key, database-wide (not counted as due).',
      registers,
      async collect() {
        const s = await read();
        if (s !== null) held.set(s.heldByOrder);
      },
    });
    const clock = options.clock;
    const oldest = new Gauge({
      name: 'herald_delivery_oldest_due_age_seconds',
      help: 'How long the longest-waiting due delivery has been due (0 when none is): grows when workers fall behind.',
      registers,
      async collect() {
        const s = await read();
        if (s !== null) oldest.set(s.oldestDueAt === null ? 0 : Math.max(0, (clock().getTime() - s.oldestDueAt.getTime()) / 1000));
      },
    });
  }

  /** Counts decisions and attempts from the change feed; returns the unsubscribe. */
  observe(feed: ChangeFeed): () => void {
    const offChanged = feed.on('deliveryChanged', ({ change: { attempt } }) => {
      if (attempt === null) return;
      this.attempts.inc({ result: attempt.errorClass ?? 'succeeded' });
      this.attemptSeconds.observe(attempt.durationMs / 1000);
    });
    const offDecided = feed.on('decided', ({ notification: n }) => this.notifications.inc({ outcome: n.decision.outcome, reason: n.decision.reason }));
    const offClaimed = feed.on('claimed', ({ count }) => this.claims.inc(count));
    const offDisabled = feed.on('agentDisabled', ({ disabled }) => this.disabled.inc({ cause: disabled.cause }));
    return () => {
      offChanged();
      offDecided();
      offClaimed();
      offDisabled();
    };
  }

  rpcStarted(rpc: RpcLabels): void {
    this.rpcStartedTotal.inc({ grpc_type: rpc.type, grpc_service: rpc.service, grpc_method: rpc.method });
  }

  rpcHandled(rpc: RpcLabels, code: number, seconds: number): void {
    const labels = { grpc_type: rpc.type, grpc_service: rpc.service, grpc_method: rpc.method };
    this.rpcHandledTotal.inc({ ...labels, grpc_code: CODE_NAMES[code] ?? 'Unknown' });
    this.rpcSeconds.observe(labels, seconds);
  }

  /** The exposition text and its content type. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  /**
   * One database read shared by the three gauges and by every scrape within
   * the cache period. A failed read leaves the gauges at their last values
   * (health reports the outage) and is not cached.
   */
  private readQueue(): Promise<QueueSnapshot | null> {
    const now = performance.now();
    if (this.queue !== null && now - this.queue.readAt < (this.options.queueCacheMs ?? 5_000)) return this.queue.snapshot;
    const snapshot = this.options.readQueue(this.options.clock()).catch((err: unknown) => {
      repeatLimited(this.options.log).warn({ err }, 'reading the delivery queue for metrics failed');
      this.queue = null;
      return null;
    });
    this.queue = { readAt: now, snapshot };
    return snapshot;
  }
}
