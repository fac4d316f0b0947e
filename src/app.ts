/**
 * The composition root: configuration → database → services → gRPC server
 * and delivery worker, and the order in which they stop. main.ts adds the
 * process concerns (signals, exit codes); tests start an App in-process.
 */
import { combineTokenSources, TokenRegistry } from './auth/tokens.js';
import { readApiTokensFile, type Config } from './config.js';
import type { ConsoleServices } from './console/routes.js';
import type { PortalServices } from './portal/routes.js';
import { ConsoleServer } from './console/server.js';
import { Dispatcher } from './delivery/dispatcher.js';
import { WebhookSender } from './delivery/sender.js';
import { TargetGuard, type LookupFunction } from './delivery/target-guard.js';
import { DeliveryWorker } from './delivery/worker.js';
import { ChangeFeed } from './events/change-feed.js';
import { logEvents } from './event-log.js';
import { GrpcServer, type GrpcServices } from './grpc/server.js';
import { HealthMonitor } from './health-monitor.js';
import type { Logger } from './logger.js';
import { Metrics } from './metrics/metrics.js';
import { MetricsServer } from './metrics/server.js';
import { DeliveryService } from './services/delivery-service.js';
import { NotificationService } from './services/notification-service.js';
import { OverviewService } from './services/overview-service.js';
import { EndpointService } from './services/endpoint-service.js';
import { PortalService } from './services/portal-service.js';
import { PreferencesService } from './services/preferences-service.js';
import { PortalServer } from './portal/server.js';
import { RetentionSweeper } from './services/retention.js';
import { Store } from './storage/database.js';
import { databaseProbe, type DatabaseProbe } from './storage/database-probe.js';
import { applyMigrations } from './storage/migrations.js';
import { SecretBox } from './storage/secret-box.js';
import { startTracing, stopTracing } from './telemetry/tracing.js';
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

/** The listeners App.start opens: each null when this process has none. */
interface Listeners {
  readonly server: GrpcServer | null;
  /** The bound gRPC port. */
  readonly port: number | null;
  readonly metricsServer: MetricsServer | null;
  readonly consoleServer: ConsoleServer | null;
}

/** What App.start adds for operators: the metrics endpoint, the console, the retention sweeper, the event subscribers. */
interface Operations extends Pick<Listeners, 'metricsServer' | 'consoleServer'> {
  readonly retention: RetentionSweeper | null;
  readonly unsubscribe: ReadonlyArray<() => void>;
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

  /** The bound port of the operator console, or null when HERALD_CONSOLE_ADDRESS is not set. */
  get consolePort(): number | null {
    return this.ops.consoleServer?.port ?? null;
  }

  /** The retention sweeper, in processes with a worker and HERALD_RETENTION_DAYS > 0. */
  get retention(): RetentionSweeper | null {
    return this.ops.retention;
  }

  static async start(config: Config, log: Logger, options: AppOptions = {}): Promise<App> {
    const clock = options.clock ?? (() => new Date());
    const random = options.random ?? Math.random;
    // Before the first call can arrive; with the OTEL variables unset, nothing is loaded.
    await startTracing(config.tracing, log, VERSION);
    const applied = await applyMigrations(config.database, log);
    if (applied.length > 0) log.info({ applied }, 'database migrations applied');
    const secrets = new SecretBox(config.secretKeys?.current ?? null, config.secretKeys?.previous ?? null);
    const feed = new ChangeFeed((err, kind) => log.error({ err, kind }, 'a change-feed listener failed'));
    const store = await Store.open(config.database, { ...config.store, secrets, feed });
    // Health (issue #19): the database's own check plus the outcome of every
    // write; it gates the worker's claims and, while the database does not
    // answer, the calls. Its listener is set once the server exists.
    const probe = databaseProbe(config.database, config.health);
    let onHealth = (_healthy: boolean): void => undefined;
    const health = new HealthMonitor(probe, (ok) => onHealth(ok), log, config.health);
    store.observeWrites((err) => health.writeOutcome(err));
    const unsubscribe = [logEvents(log, feed)];
    const metrics = config.metrics === null ? null : new Metrics({ readQueue: (now) => store.read((r) => r.queueStats.snapshot(now)), clock, log, health });
    if (metrics !== null) unsubscribe.push(metrics.observe(feed));
    const userAgent = `Herald-Webhook/${VERSION}`;
    // Built from this start's configuration: turning an allowance off and restarting
    // applies to URLs stored while it was on.
    const guard = new TargetGuard({ ...config.targetGuard, ...(options.lookup ? { lookup: options.lookup } : {}) });
    const sender = new WebhookSender({ userAgent, guard, log });
    const dispatcher = new Dispatcher(store, sender, feed, log, { ...config.dispatcher, userAgent, clock, random });
    const worker = config.worker === null ? null : new DeliveryWorker(store, dispatcher, feed, log, { ...config.worker, clock, healthy: () => health.healthy });
    const tokens = new TokenRegistry(config.auth.tokens, config.auth.required);
    // Portal links start with HERALD_PORTAL_BASE_URL, else with the address this process's console listens on.
    let consoleOrigin: string | null = null;
    // One set of services for the gRPC API and the console: one code path for every decision and delivery.
    const services = {
      preferences: new PreferencesService(store, { ...config.preferences, targets: guard, clock }),
      endpoints: new EndpointService(store, { ...config.endpoints, targets: guard, clock }),
      notifications: new NotificationService(store, clock, config.notifications),
      deliveries: new DeliveryService(store, dispatcher, feed, { ...config.deliveries, clock }),
      overview: new OverviewService(store, clock),
      portal: new PortalService(store, { clock, baseUrl: () => config.portalBaseUrl ?? consoleOrigin }),
    };
    let listeners: Listeners;
    try {
      listeners = await App.listen(config, log, clock, services, tokens, metrics, health);
      const c = config.console;
      if (c !== null && listeners.consoleServer !== null) {
        const host = c.address.slice(0, c.address.lastIndexOf(':'));
        consoleOrigin = `${c.tls === null ? 'http' : 'https'}://${host}:${listeners.consoleServer.port}`;
      }
    } catch (err) {
      sender.close();
      await store.close();
      await probe.close();
      await stopTracing();
      throw err;
    }
    if (worker !== null) {
      // Deliveries enqueued and targets changed by other replicas reach the worker and the dispatcher's cache.
      await store.listen(log);
      worker.start();
    }
    App.logStart(config, log, secrets.currentKeyId);
    const { server } = listeners;
    onHealth = (ok) => {
      server?.setServing(ok);
      if (ok) worker?.wake();
    };
    health.start();
    const retention = config.retention === null ? null : new RetentionSweeper(store, log, { ...config.retention, clock });
    retention?.start();
    return new App(config, log, store, sender, server, worker, listeners.port, tokens, health, probe, { ...listeners, retention, unsubscribe });
  }

  /** Opens the listeners this process has (gRPC, metrics, console); on a failure closes those already open and throws. */
  private static async listen(
    config: Config,
    log: Logger,
    clock: () => Date,
    services: ConsoleServices & PortalServices & GrpcServices,
    tokens: TokenRegistry,
    metrics: Metrics | null,
    health: HealthMonitor,
  ): Promise<Listeners> {
    let server: GrpcServer | null = null;
    let metricsServer: MetricsServer | null = null;
    try {
      const grpc = config.grpc;
      server =
        grpc === null
          ? null
          : new GrpcServer(services, log, tokens, grpc.maxWatchStreams, metrics, {
              databaseAnswering: () => health.databaseAnswering,
              tenantMaxInFlight: grpc.tenantMaxInFlight,
              watchMaxStreamsPerTenant: grpc.maxWatchStreamsPerTenant,
            });
      if (metrics !== null && config.metrics !== null) metricsServer = await MetricsServer.listen(config.metrics.address, metrics, log);
      const port = server === null || config.grpc === null ? null : await server.listen(config.grpc.address, config.grpc.tls);
      const c = config.console;
      const portal = c === null ? null : new PortalServer(services, log, { secure: c.tls !== null, baseUrl: c.portal.baseUrl, frameAncestors: c.portal.frameAncestors, clock });
      const consoleServer = c === null ? null : await ConsoleServer.listen(c, c.tls, services, tokens, log, clock, portal);
      return { server, port, metricsServer, consoleServer };
    } catch (err) {
      await server?.stop(0);
      await metricsServer?.close();
      throw err;
    }
  }

  /** The start-up lines operators need: what runs, and the settings that leave data or the API exposed. */
  private static logStart(config: Config, log: Logger, secretKeyId: string | null): void {
    if (config.worker === null && config.database.provider === 'sqlite') {
      log.warn('no delivery worker runs in this process and SQLite serves one process: accepted webhooks will wait until a process with a worker starts on this file');
    }
    const grpc = config.grpc;
    if (grpc !== null && !config.auth.required && grpc.tls?.clientCa == null && !/^(127\.|localhost:|\[::1\]:)/.test(grpc.address)) {
      log.warn({ address: grpc.address }, 'the API is reachable beyond this host and neither HERALD_API_TOKENS nor HERALD_API_TOKENS_FILE is set: anyone who can connect can read secrets and change preferences');
    }
    if (secretKeyId === null) {
      log.warn('HERALD_SECRET_KEY is not set: webhook secrets and webhook_headers values are stored in the database in plain text');
    } else {
      log.info({ keyId: secretKeyId, previousKey: config.secretKeys?.previous != null }, 'secrets at rest are encrypted');
    }
    log.info({ version: BUILD.version, revision: BUILD.revision, role: config.role, worker: config.worker !== null, database: config.database.provider }, 'Herald started');
  }

  /**
   * Re-reads HERALD_API_TOKENS_FILE (main.ts calls this on SIGHUP): its
   * entries replace the file's previous ones; HERALD_API_TOKENS stays as it
   * was. A file that cannot be read or parsed changes nothing and is logged.
   * Returns whether the tokens were replaced.
   */
  reloadApiTokens(): boolean {
    const file = this.config.auth.file;
    if (file === null) {
      this.log.info('SIGHUP: HERALD_API_TOKENS_FILE is not set; nothing to reload');
      return false;
    }
    try {
      const fromFile = readApiTokensFile(file.path);
      this.tokens.replace(combineTokenSources(this.config.auth.fromEnv, fromFile));
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
      // Last: the spans of the calls and sends that just finished go out before the process exits.
      await stopTracing();
      this.log.info('Herald stopped');
    })();
    return this.stopping;
  }
}
