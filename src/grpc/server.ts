/**
 * The gRPC server: Herald's services (those of proto/manifest.json), the standard health service and
 * server reflection, with a shutdown that drains in-flight calls.
 */
import { Server, ServerCredentials, ServerInterceptingCall, status, type ServerInterceptor, type ServiceDefinition, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import type { TlsConfig } from '../config.js';
import type { Logger } from '../logger.js';
import type { RpcLabels, RpcObserver } from '../metrics/metrics.js';
import type { DeliveryService } from '../services/delivery-service.js';
import type { EndpointService } from '../services/endpoint-service.js';
import type { NotificationService } from '../services/notification-service.js';
import type { PortalService } from '../services/portal-service.js';
import type { PreferencesService } from '../services/preferences-service.js';
import { deliveryHandlers, WatchStreams, withPreEncodedWatch } from './delivery-handlers.js';
import { endpointHandlers } from './endpoint-handlers.js';
import { notificationHandlers } from './notification-handlers.js';
import { portalHandlers } from './portal-handlers.js';
import { preferencesHandlers } from './preferences-handlers.js';
import { heraldServiceNames, loadHeraldGrpcObject, loadHeraldPackageDefinition, withGuardedRequests } from './proto.js';
import { createReflectionService } from './reflection-descriptors.js';
import { RequestGuard } from './request-guard.js';
import { TenantAdmission } from './tenant-admission.js';
import type { CallContext } from './unary.js';
import type { TokenRegistry } from '../auth/tokens.js';

export interface GrpcServices {
  readonly preferences: PreferencesService;
  readonly endpoints: EndpointService;
  readonly notifications: NotificationService;
  readonly deliveries: DeliveryService;
  readonly portal: PortalService;
}

/** What the server needs from health and configuration to share it fairly and fail fast (issue #19). */
export interface ServerGuards {
  /** False while the database is not answering: calls get UNAVAILABLE at once (src/health-monitor.ts). */
  databaseAnswering(): boolean;
  /** HERALD_TENANT_MAX_IN_FLIGHT. */
  readonly tenantMaxInFlight: number;
  /** HERALD_WATCH_MAX_STREAMS_PER_TENANT. */
  readonly watchMaxStreamsPerTenant: number;
}

/** Largest request accepted: the biggest valid notification is far below this. */
const MAX_RECEIVE_BYTES = 1024 * 1024;

/**
 * Reports every call to `observer`: its start, and its end with the status
 * code and duration. One interceptor sees every method (unary and streaming,
 * health and reflection included), whichever handler answers. grpc-js runs
 * interceptors only for registered methods, so the labels stay a bounded set
 * whatever paths clients send.
 */
function observingInterceptor(observer: RpcObserver): ServerInterceptor {
  return (method, call) => {
    const slash = method.path.lastIndexOf('/');
    const rpc: RpcLabels = {
      type: method.requestStream ? (method.responseStream ? 'bidi_stream' : 'client_stream') : method.responseStream ? 'server_stream' : 'unary',
      service: method.path.slice(1, slash),
      method: method.path.slice(slash + 1),
    };
    let startedAt = 0;
    let ended = false;
    const end = (code: number): void => {
      if (ended) return;
      ended = true;
      observer.rpcHandled(rpc, code, (performance.now() - startedAt) / 1000);
    };
    return new ServerInterceptingCall(call, {
      start(next) {
        startedAt = performance.now();
        observer.rpcStarted(rpc);
        // A client that goes away gets no status: count it as CANCELLED, as go-grpc-prometheus does.
        next({ onCancel: () => end(status.CANCELLED) });
      },
      sendStatus(s, next) {
        end(s.code);
        next(s);
      },
    });
  };
}

/**
 * The health service name a liveness probe asks for: SERVING from the bind
 * until the stop, whatever the database does. '' and Herald's services go
 * NOT_SERVING while the database is down, which is right for readiness but
 * would make a liveness probe restart every replica in a database outage
 * (where a restart cannot help and start-up gives up after
 * HERALD_DB_STARTUP_TIMEOUT_MS). deploy/kubernetes probes it.
 */
export const LIVENESS_SERVICE = 'liveness';

export class GrpcServer {
  private readonly server: Server;
  private readonly health = new HealthImplementation({ '': 'NOT_SERVING', [LIVENESS_SERVICE]: 'NOT_SERVING' });
  /** Herald's services, from the loaded definitions: each has a health status of its own. */
  private readonly serviceNames: readonly string[];
  private readonly streams: WatchStreams;
  private accepting = false;

  constructor(
    services: GrpcServices,
    private readonly log: Logger,
    tokens: TokenRegistry,
    /** WatchDeliveries streams open at once (HERALD_WATCH_MAX_STREAMS). */
    maxWatchStreams: number,
    observer: RpcObserver | null = null,
    guards: ServerGuards = { databaseAnswering: () => true, tenantMaxInFlight: Number.MAX_SAFE_INTEGER, watchMaxStreamsPerTenant: maxWatchStreams },
  ) {
    this.server = new Server({ 'grpc.max_receive_message_length': MAX_RECEIVE_BYTES, interceptors: observer === null ? [] : [observingInterceptor(observer)] });
    this.streams = new WatchStreams(maxWatchStreams, guards.watchMaxStreamsPerTenant);
    const definition = loadHeraldPackageDefinition();
    const api = loadHeraldGrpcObject(definition).herald.v1;
    const ctx: CallContext = {
      log,
      tokens,
      accepting: () => this.accepting,
      databaseAnswering: () => guards.databaseAnswering(),
      admission: new TenantAdmission(guards.tenantMaxInFlight),
    };
    const guard = new RequestGuard(definition);
    const served = new Set<string>();
    const add = (service: ServiceDefinition, handlers: UntypedServiceImplementation): void => {
      this.server.addService(service, handlers);
      for (const method of Object.values(service)) served.add(method.path.slice(1, method.path.lastIndexOf('/')));
    };
    add(withGuardedRequests(api.PreferencesService.service, guard), preferencesHandlers(ctx, services.preferences));
    add(withGuardedRequests(api.EndpointService.service, guard), endpointHandlers(ctx, services.endpoints));
    add(withGuardedRequests(api.NotificationService.service, guard), notificationHandlers(ctx, services.notifications));
    add(withGuardedRequests(api.PortalService.service, guard), portalHandlers(ctx, services.portal));
    const delivery = withPreEncodedWatch(withGuardedRequests(api.DeliveryService.service, guard));
    add(delivery.definition, deliveryHandlers(ctx, services.deliveries, this.streams, delivery.serialize));
    this.serviceNames = heraldServiceNames(definition);
    // A service in proto/manifest.json without handlers would be listed by reflection and reported SERVING.
    const unserved = this.serviceNames.filter((name) => !served.has(name));
    if (unserved.length > 0) throw new Error(`the loaded definitions have ${unserved.join(', ')}, which src/grpc/server.ts serves no handlers for`);
    for (const name of this.serviceNames) this.health.setStatus(name, 'NOT_SERVING');
    this.health.addToServer(this.server);
    createReflectionService(definition).addToServer(this.server);
  }

  /** Binds `address` (host:port; port 0 picks a free one), with TLS when given, and returns the bound port. */
  async listen(address: string, tls: TlsConfig | null = null): Promise<number> {
    const credentials =
      tls === null
        ? ServerCredentials.createInsecure()
        : ServerCredentials.createSsl(tls.clientCa, [{ cert_chain: tls.certChain, private_key: tls.privateKey }], tls.clientCa !== null);
    const port = await new Promise<number>((resolve, reject) => {
      this.server.bindAsync(address, credentials, (err, boundPort) => (err ? reject(err) : resolve(boundPort)));
    });
    this.accepting = true;
    this.health.setStatus(LIVENESS_SERVICE, 'SERVING');
    this.setServing(true);
    this.log.info({ address, port, tls: tls === null ? 'off' : tls.clientCa === null ? 'on' : 'mutual' }, 'gRPC server listening');
    return port;
  }

  /** What the health service answers; once stopping, it stays NOT_SERVING. */
  setServing(serving: boolean): void {
    const status = serving && this.accepting ? 'SERVING' : 'NOT_SERVING';
    for (const name of ['', ...this.serviceNames]) this.health.setStatus(name, status);
  }

  /**
   * Stops taking calls (health turns NOT_SERVING, new calls get UNAVAILABLE),
   * ends watch streams, and waits up to `graceMs` for in-flight calls before
   * cutting the rest off.
   */
  async stop(graceMs: number): Promise<void> {
    this.accepting = false;
    this.setServing(false);
    this.health.setStatus(LIVENESS_SERVICE, 'NOT_SERVING');
    this.streams.endAll();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.log.warn({ graceMs }, 'in-flight calls did not finish in time; cancelling them');
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    this.log.info('gRPC server stopped');
  }
}
