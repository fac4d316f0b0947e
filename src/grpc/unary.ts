/**
 * Adapts async handlers to grpc-js callbacks. grpc-js does not catch a
 * rejected promise (the call would hang), so every handler goes through
 * `unary`, which answers exactly once: the result, or the mapped error.
 */
import type { Deadline, handleUnaryCall, Metadata, sendUnaryData, ServerUnaryCall } from '@grpc/grpc-js';
import type { RpcName } from '../auth/roles.js';
import { TENANT_HEADER } from '../auth/tenant.js';
import { authorize, type Caller, type TokenRegistry } from '../auth/tokens.js';
import { UnavailableError } from '../errors.js';
import type { Logger } from '../logger.js';
import { startRpcSpan, type RpcSpan } from '../telemetry/tracing.js';
import { throwIfRefused } from './request-guard.js';
import { DeadlinePassedError, toStatus } from './status.js';
import type { TenantAdmission } from './tenant-admission.js';

export interface CallContext {
  readonly log: Logger;
  /** The tokens that may call Herald, with their tenants and roles. */
  readonly tokens: TokenRegistry;
  /** False once shutdown has begun: new calls are refused with UNAVAILABLE. */
  accepting(): boolean;
  /**
   * False while health found the database not answering at all
   * (src/health-monitor.ts): calls are refused with UNAVAILABLE at once
   * instead of each waiting out its own database timeout.
   */
  databaseAnswering(): boolean;
  /** Each tenant's bound on unary calls in progress. */
  readonly admission: TenantAdmission;
}

/**
 * Throws when a call must not start: the server is stopping, the call's
 * deadline has passed (its client gave up: the work would only take a turn
 * from live calls), or the database is not answering.
 */
export function throwIfNotStartable(ctx: CallContext, method: RpcName, deadline: Deadline): void {
  if (!ctx.accepting()) throw new UnavailableError('Herald is shutting down; retry on another instance');
  if ((deadline instanceof Date ? deadline.getTime() : deadline) <= Date.now()) throw new DeadlinePassedError(method);
  if (!ctx.databaseAnswering()) throw new UnavailableError('the database is not answering (health is NOT_SERVING); retry shortly or on another replica');
}

function firstString(metadata: Metadata, key: string): string | undefined {
  const value = metadata.get(key)[0];
  return typeof value === 'string' ? value : undefined;
}

/**
 * The caller of `method`, once per call: authenticated from its metadata and
 * allowed the role the method needs, or the error to answer with.
 */
export function authenticate(ctx: CallContext, metadata: Metadata, method: RpcName): Caller {
  const caller = ctx.tokens.callerFor(firstString(metadata, 'authorization'), firstString(metadata, TENANT_HEADER));
  authorize(caller, method);
  return caller;
}

/**
 * `fn` gets the call's server span (null while tracing is off) to hand to
 * the service that records what the call decided and enqueued.
 */
export function unary<Req, Res>(
  ctx: CallContext,
  method: RpcName,
  fn: (req: Req, caller: Caller, call: ServerUnaryCall<Req, Res>, span: RpcSpan | null) => Promise<Res>,
): handleUnaryCall<Req, Res> {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
    const started = performance.now();
    // Before anything can refuse the call, so that refusals are traced too.
    const span = startRpcSpan(call);
    const run = async (): Promise<Res> => {
      throwIfNotStartable(ctx, method, call.getDeadline());
      const caller = authenticate(ctx, call.metadata, method);
      throwIfRefused(call.request);
      const leave = ctx.admission.enter(caller.tenant);
      try {
        return await fn(call.request, caller, call, span);
      } finally {
        leave();
      }
    };
    run().then(
      (response) => {
        ctx.log.debug({ method, ms: Math.round(performance.now() - started) }, 'rpc ok');
        callback(null, response);
        span?.end(0);
      },
      (err: unknown) => {
        const s = toStatus(err, ctx.log, method);
        ctx.log.debug({ method, code: s.code, ms: Math.round(performance.now() - started) }, 'rpc failed');
        callback(s);
        span?.end(s.code);
      },
    );
  };
}
