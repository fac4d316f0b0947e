/**
 * The composition root: configuration → database → services → gRPC server
 * and delivery worker, and the order in which they stop. main.ts adds the
 * process concerns (signals, exit codes); tests start an App in-process.
 */
import { combineTokenSources, TokenRegistry } from './auth/tokens.js';
import { readApiTokensFile, type Config } from './config.js';
import { ConsoleServer } from './console/server.js';
import { Dispatcher } from './delivery/dispatcher.js';
import { DeliveryEvents } from './delivery/events.js';
import { WebhookSender } from './delivery/sender.js';
import { TargetGuard, type LookupFunction } from './delivery/target-guard.js';
import { DeliveryWorker } from './delivery/worker.js';
import { logEvents } from './event-log.js';
import { GrpcServer } from './grpc/server.js';
import { HealthMonitor } from './health-monitor.js';
import type { Logger } from './logger.js';
import { Metrics } from './metrics/metrics.js';
import { MetricsServer } from './metrics/server.js';
import { DeliveryService } from './services/delivery-service.js';
import { NotificationEvents } from './services/notification-events.js';
import { NotificationService } from './services/notification-service.js';
import { OverviewService } from './services/overview-service.js';
import { PreferencesService } from './services/preferences-service.js';
import { RetentionSweeper } from './services/retention.js';
import { Store } from './storage/database.js';
import { databaseProbe, type DatabaseProbe } from './storage/database-probe.js';
import { applyMigrations } from './storage/migrations.js';
import { SecretBox } from './storage/secret-box.js';
import { BUILD, versionLabel } from './version.js';

/** The version webhooks announce (`Herald-Webhook/0.2.0+abc1234`): package version + git revision, see src/version.ts. */
export const VERSION: string = versionLabel(BUILD);

export interface AppOptions {
  /** The clock of every decision and schedule; tests may pass their own. */
  readonly clock?: () => Date;
  /** Randomness of backoff jitter. */
  readonly random?: () => number;
  /** Resolver of webhook hosts for the outbound guard (default node:dns); tests point made-up names at loopback. */
  readonly lookup?: LookupFunction;
}

/** What App.start adds for operators: the metrics endpoint, the retention sweeper, the event subscribers. */
interface Operations {
  readonly metricsServer: MetricsServer | null;
  readonly retention: RetentionSweeper | null;
  readonly unsubscribe: ReadonlyArray<() => void>;
  readonly consoleServer: ConsoleServer | null;
}

export class App {
  private stopping: Promise<void> | null = null;

  private constructor(
    readonly config: Config,
    private readonly log: Logger,
    readonly store: Store,
    private readonly sender: WebhookSender,
    readonly server: GrpcServer | null,
    readonly worker: DeliveryWorker | null,
    /** The bound gRPC port, or null when this process serves no API. */
    readonly port: number | null,
    private readonly tokens: TokenRegistry,
    readonly health: HealthMonitor,
    private readonly probe: DatabaseProbe,
    private readonly ops: Operations,
  ) {}

  /** The bound port of the metrics endpoint, or null when HERALD_METRICS_ADDRESS is not set. */
  get metricsPort(): number | null {
    return this.ops.metricsServer?.port ?? null;
  }

  /** The retention sweeper, in processes with a worker and HERALD_RETENTION_DAYS > 0. */
  /** The bound port of the operator console, or null when HERALD_CONSOLE_ADDRESS is not set. */
  get consolePort(): number | null {
    return this.ops.consoleServer?.port ?? null;
  }

  get retention(): RetentionSweeper | null {
    return this.ops.retention;
  }

  static async start(config: Config, log: Logger, options: AppOptions = {}): Promise<App> {
    const clock = options.clock ?? (() => new Date());
    const random = options.random ?? Math.random;
    const applied = await applyMigrations(config.database, log);
    if (applied.length > 0) log.info({ applied }, 'database migrations applied');
    const secrets = new SecretBox(config.secretKeys?.current ?? null, config.secretKeys?.previous ?? null);
    const faults = config.resilience;
    const store = await Store.open(config.database, { poolSize: config.dbPoolSize, sqliteSynchronous: config.sqliteSynchronous, secrets, timeouts: faults, sqliteMaxBytes: faults.sqliteMaxBytes });
    // Health (issue #19): the database's own check plus the outcome of every write; it gates the worker's claims and, while the database does not answer, the calls.
    const probe = databaseProbe(config.database, { connectTimeoutMs: faults.connectTimeoutMs, sqliteMaxBytes: faults.sqliteMaxBytes });
    let onHealth = (_healthy: boolean): void => undefined;
    const health = new HealthMonitor(probe, (ok) => onHealth(ok), log, { intervalMs: config.healthCheckMs, checkTimeoutMs: faults.healthCheckTimeoutMs, failedWrites: faults.healthFailedWrites });
    store.observeWrites((err) => health.writeOutcome(err));
    const events = new DeliveryEvents();
    const decisions = new NotificationEvents();
    const unsubscribe = [logEvents(log, events, decisions)];
    const metrics = config.metricsAddress === null ? null : new Metrics({ readQueue: (now) => store.read((r) => r.queueStats.snapshot(now)), clock, log });
    if (metrics !== null) unsubscribe.push(metrics.observe(events, decisions));
    const userAgent = `Herald-Webhook/${VERSION}`;
    // Built from this start's configuration: turning an allowance off and restarting
    // applies to URLs stored while it was on.
    const guard = new TargetGuard({
      allowHttp: config.allowHttpTargets,
      allowPrivate: config.allowPrivateTargets,
      allowedCidrs: config.allowedTargetCidrs,
      ...(options.lookup ? { lookup: options.lookup } : {}),
    });
    const sender = new WebhookSender({ userAgent, guard, log });
    const dispatcher = new Dispatcher(store, sender, events, log, {
      retryPolicy: { baseDelayMs: config.webhookRetryDelayMs, maxDelayMs: config.retryMaxDelayMs, minDelayMs: config.delivery.retryMinDelayMs, maxRetries: config.webhookMaxRetries, jitter: 0.2 },
      disableAfterFailures: config.delivery.disableAfterFailures,
      defaultTimeoutMs: config.webhookTimeoutMs,
      signatureHeader: config.signatureHeader,
      userAgent,
      leaseMs: config.leaseMs,
      clock,
      random,
    });
    const worker = config.workerEnabled
      ? new DeliveryWorker(store, dispatcher, events, log, { concurrency: config.workerConcurrency, agentMaxInFlight: config.delivery.agentMaxInFlight, leaseMs: config.leaseMs, pollMs: config.pollMs, clock, healthy: () => health.healthy })
      : null;
    const tokens = new TokenRegistry(
      [...config.apiTokens, ...(config.apiTokensFile?.tokens ?? [])],
      config.apiTokens.length > 0 || config.apiTokensFile !== null,
    );
    let server: GrpcServer | null = null;
    let port: number | null = null;
    let metricsServer: MetricsServer | null = null;
    let consoleServer: ConsoleServer | null = null;
    // One set of services for the gRPC API and the console: one code path for every decision and delivery.
    const services = {
      preferences: new PreferencesService(store, events, {
        targets: guard,
        signatureHeader: config.signatureHeader,
        defaultWebhookSecret: config.defaultWebhookSecret,
        secretGraceSeconds: config.secretGraceSeconds,
        clock,
      }),
      notifications: new NotificationService(store, events, clock, decisions, { digestMaxItems: config.digestMaxItems }),
      deliveries: new DeliveryService(store, dispatcher, events, { leaseMs: config.leaseMs, clock }),
    };
    try {
      if (config.role !== 'worker') {
        server = new GrpcServer(
          services,
          log,
          tokens,
          config.delivery.watchMaxStreams,
          metrics,
          { databaseAnswering: () => health.databaseAnswering, tenantMaxInFlight: faults.tenantMaxInFlight, watchMaxStreamsPerTenant: faults.watchMaxStreamsPerTenant },
        );
      }
      if (metrics !== null && config.metricsAddress !== null) metricsServer = await MetricsServer.listen(config.metricsAddress, metrics, log);
      if (server !== null) port = await server.listen(config.grpcAddress, config.tls);
      if (config.console !== null) {
        consoleServer = await ConsoleServer.listen(config.console, config.tls, { ...services, overview: new OverviewService(store, clock) }, tokens, log, clock);
      }
    } catch (err) {
      await server?.stop(0);
      await metricsServer?.close();
      sender.close();
      await store.close();
      await probe.close();
      throw err;
    }
    if (worker !== null) {
      // Deliveries enqueued by other replicas wake this worker at once.
      await store.listenForEnqueued(log, () => worker.nudge());
      // Webhook targets changed by other replicas leave this dispatcher's cache.
      await store.listenForPreferenceChanges(log, (tenantId, agentId) => dispatcher.targetChanged(tenantId, agentId), () => dispatcher.targetsMissed());
      worker.start();
    }
    if (worker === null && config.database.provider === 'sqlite') {
      log.warn('no delivery worker runs in this process and SQLite serves one process: accepted webhooks will wait until a process with a worker starts on this file');
    }
    if (server !== null && config.apiTokens.length === 0 && config.apiTokensFile === null && config.tls?.clientCa == null && !/^(127\.|localhost:|\[::1\]:)/.test(config.grpcAddress)) {
      log.warn({ address: config.grpcAddress }, 'the API is reachable beyond this host and neither HERALD_API_TOKENS nor HERALD_API_TOKENS_FILE is set: anyone who can connect can read secrets and change preferences');
    }
    if (secrets.currentKeyId === null) {
      log.warn('HERALD_SECRET_KEY is not set: webhook secrets and webhook_headers values are stored in the database in plain text');
    } else {
      log.info({ keyId: secrets.currentKeyId, previousKey: config.secretKeys?.previous != null }, 'secrets at rest are encrypted');
    }
    log.info({ version: BUILD.version, revision: BUILD.revision, role: config.role, worker: worker !== null, database: config.database.provider }, 'Herald started');
    onHealth = (ok) => {
      server?.setServing(ok);
      if (ok) worker?.wake();
    };
    health.start();
    const retention =
      worker !== null && config.retentionDays > 0
        ? new RetentionSweeper(store, log, { retentionDays: config.retentionDays, sweepMs: config.retentionSweepMs, clock })
        : null;
    retention?.start();
    return new App(config, log, store, sender, server, worker, port, tokens, health, probe, { metricsServer, retention, unsubscribe, consoleServer });
  }

  /**
   * Re-reads HERALD_API_TOKENS_FILE (main.ts calls this on SIGHUP): its
   * entries replace the file's previous ones; HERALD_API_TOKENS stays as it
   * was. A file that cannot be read or parsed changes nothing and is logged.
   * Returns whether the tokens were replaced.
   */
  reloadApiTokens(): boolean {
    const file = this.config.apiTokensFile;
    if (file === null) {
      this.log.info('SIGHUP: HERALD_API_TOKENS_FILE is not set; nothing to reload');
      return false;
    }
    try {
      const fromFile = readApiTokensFile(file.path);
      this.tokens.replace(combineTokenSources(this.config.apiTokens, fromFile));
      this.log.info({ file: file.path, tokens: this.tokens.size }, 'API tokens reloaded');
      return true;
    } catch (err) {
      this.log.error({ file: file.path, reason: (err as Error).message }, 'could not reload API tokens; the previous tokens stay in force');
      return false;
    }
  }

  /**
   * Graceful stop: the server stops taking calls and the worker stops
   * claiming at once; in-flight calls and sends get the grace period; then
   * the database is closed. Safe to call more than once.
   */
  stop(graceMs: number = this.config.shutdownGraceMs): Promise<void> {
    this.stopping ??= (async () => {
      this.log.info({ graceMs }, 'Herald stopping');
      await this.health.stop();
      await this.ops.retention?.stop();
      await this.ops.consoleServer?.close();
      await Promise.all([this.server?.stop(graceMs), this.worker?.stop(graceMs)]);
      await this.ops.metricsServer?.close();
      for (const off of this.ops.unsubscribe) off();
      this.sender.close();
      this.store.observeWrites(null);
      await this.store.close();
      await this.probe.close();
      this.log.info('Herald stopped');
    })();
    return this.stopping;
  }
}
