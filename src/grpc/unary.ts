/**
 * Adapts async handlers to grpc-js callbacks. grpc-js does not catch a
 * rejected promise (the call would hang), so every handler goes through
 * `unary`, which answers exactly once: the result, or the mapped error.
 */
import type { handleUnaryCall, Metadata, sendUnaryData, ServerUnaryCall } from '@grpc/grpc-js';
import type { RpcName } from '../auth/roles.js';
import { TENANT_HEADER } from '../auth/tenant.js';
import { authorize, type Caller, type TokenRegistry } from '../auth/tokens.js';
import { UnavailableError } from '../errors.js';
import type { Logger } from '../logger.js';
import { throwIfRefused } from './request-guard.js';
import { toStatus } from './status.js';

export interface CallContext {
  readonly log: Logger;
  /** The tokens that may call Herald, with their tenants and roles. */
  readonly tokens: TokenRegistry;
  /** False once shutdown has begun: new calls are refused with UNAVAILABLE. */
  accepting(): boolean;
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

export function unary<Req, Res>(ctx: CallContext, method: RpcName, fn: (req: Req, caller: Caller, call: ServerUnaryCall<Req, Res>) => Promise<Res>): handleUnaryCall<Req, Res> {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
    const started = performance.now();
    const run = async (): Promise<Res> => {
      if (!ctx.accepting()) throw new UnavailableError('Herald is shutting down; retry on another instance');
      const caller = authenticate(ctx, call.metadata, method);
      throwIfRefused(call.request);
      return fn(call.request, caller, call);
    };
    run().then(
      (response) => {
        ctx.log.debug({ method, ms: Math.round(performance.now() - started) }, 'rpc ok');
        callback(null, response);
      },
      (err: unknown) => {
        const s = toStatus(err, ctx.log, method);
        ctx.log.debug({ method, code: s.code, ms: Math.round(performance.now() - started) }, 'rpc failed');
        callback(s);
      },
    );
  };
}
