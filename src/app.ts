/**
 * The composition root: configuration → database → services → gRPC server
 * and delivery worker, and the order in which they stop. main.ts adds the
 * process concerns (signals, exit codes); tests start an App in-process.
 */
import type { Config } from './config.js';
import { Dispatcher } from './delivery/dispatcher.js';
import { DeliveryEvents } from './delivery/events.js';
import { WebhookSender } from './delivery/sender.js';
import { DeliveryWorker } from './delivery/worker.js';
import { GrpcServer } from './grpc/server.js';
import { HealthMonitor } from './health-monitor.js';
import type { Logger } from './logger.js';
import { DeliveryService } from './services/delivery-service.js';
import { NotificationService } from './services/notification-service.js';
import { PreferencesService } from './services/preferences-service.js';
import { Store } from './storage/database.js';
import { applyMigrations } from './storage/migrations.js';
import { BUILD, versionLabel } from './version.js';

/** The version webhooks announce (`Herald-Webhook/0.2.0+abc1234`): package version + git revision, see src/version.ts. */
export const VERSION: string = versionLabel(BUILD);

export interface AppOptions {
  /** The clock of every decision and schedule; tests may pass their own. */
  readonly clock?: () => Date;
  /** Randomness of backoff jitter. */
  readonly random?: () => number;
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
    private readonly health: HealthMonitor | null,
  ) {}

  static async start(config: Config, log: Logger, options: AppOptions = {}): Promise<App> {
    const clock = options.clock ?? (() => new Date());
    const random = options.random ?? Math.random;
    const applied = await applyMigrations(config.database, log);
    if (applied.length > 0) log.info({ applied }, 'database migrations applied');
    const store = await Store.open(config.database, { poolSize: config.dbPoolSize, sqliteSynchronous: config.sqliteSynchronous });
    const events = new DeliveryEvents();
    const userAgent = `Herald-Webhook/${VERSION}`;
    const sender = new WebhookSender({ userAgent });
    const dispatcher = new Dispatcher(store, sender, events, log, {
      retryPolicy: { baseDelayMs: config.webhookRetryDelayMs, maxDelayMs: config.retryMaxDelayMs, maxRetries: config.webhookMaxRetries, jitter: 0.2 },
      defaultTimeoutMs: config.webhookTimeoutMs,
      signatureHeader: config.signatureHeader,
      userAgent,
      leaseMs: config.leaseMs,
      clock,
      random,
    });
    const worker = config.workerEnabled
      ? new DeliveryWorker(store, dispatcher, events, log, { concurrency: config.workerConcurrency, leaseMs: config.leaseMs, pollMs: config.pollMs, clock })
      : null;
    let server: GrpcServer | null = null;
    let port: number | null = null;
    try {
      if (config.role !== 'worker') {
        server = new GrpcServer(
          {
            preferences: new PreferencesService(store, events, {
              targets: { allowHttp: config.allowHttpTargets, allowPrivate: config.allowPrivateTargets },
              signatureHeader: config.signatureHeader,
              defaultWebhookSecret: config.defaultWebhookSecret,
              secretGraceSeconds: config.secretGraceSeconds,
              clock,
            }),
            notifications: new NotificationService(store, events, clock),
            deliveries: new DeliveryService(store, dispatcher, events, { leaseMs: config.leaseMs, clock }),
          },
          log,
          config.apiTokens,
        );
        port = await server.listen(config.grpcAddress, config.tls);
      }
    } catch (err) {
      sender.close();
      await store.close();
      throw err;
    }
    if (worker !== null) {
      // Deliveries enqueued by other replicas wake this worker at once.
      await store.listenForEnqueued(log, () => worker.nudge());
      worker.start();
    }
    if (worker === null && config.database.provider === 'sqlite') {
      log.warn('no delivery worker runs in this process and SQLite serves one process: accepted webhooks will wait until a process with a worker starts on this file');
    }
    if (server !== null && config.apiTokens.length === 0 && config.tls?.clientCa == null && !/^(127\.|localhost:|\[::1\]:)/.test(config.grpcAddress)) {
      log.warn({ address: config.grpcAddress }, 'the API is reachable beyond this host and HERALD_API_TOKENS is not set: anyone who can connect can read secrets and change preferences');
    }
    log.info({ version: BUILD.version, revision: BUILD.revision, role: config.role, worker: worker !== null, database: config.database.provider }, 'Herald started');
    const health = server === null ? null : new HealthMonitor(() => store.ping(), (ok) => server?.setServing(ok), log, config.healthCheckMs);
    health?.start();
    return new App(config, log, store, sender, server, worker, port, health);
  }

  /**
   * Graceful stop: the server stops taking calls and the worker stops
   * claiming at once; in-flight calls and sends get the grace period; then
   * the database is closed. Safe to call more than once.
   */
  stop(graceMs: number = this.config.shutdownGraceMs): Promise<void> {
    this.stopping ??= (async () => {
      this.log.info({ graceMs }, 'Herald stopping');
      await this.health?.stop();
      await Promise.all([this.server?.stop(graceMs), this.worker?.stop(graceMs)]);
      this.sender.close();
      await this.store.close();
      this.log.info('Herald stopped');
    })();
    return this.stopping;
  }
}
