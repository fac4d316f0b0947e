/**
 * Adapts async handlers to grpc-js callbacks. grpc-js does not catch a
 * rejected promise (the call would hang), so every handler goes through
 * `unary`, which answers exactly once: the result, or the mapped error.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { handleUnaryCall, Metadata, sendUnaryData, ServerUnaryCall } from '@grpc/grpc-js';
import { UnauthenticatedError, UnavailableError } from '../errors.js';
import type { Logger } from '../logger.js';
import { throwIfRefused } from './request-guard.js';
import { toStatus } from './status.js';

export interface CallContext {
  readonly log: Logger;
  /** Bearer tokens that may call Herald; empty means no authentication. */
  readonly apiTokens: readonly string[];
  /** False once shutdown has begun: new calls are refused with UNAVAILABLE. */
  accepting(): boolean;
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/** Throws UNAUTHENTICATED unless the call carries one of the configured tokens. */
export function authenticate(ctx: CallContext, metadata: Metadata): void {
  if (ctx.apiTokens.length === 0) return;
  const header = metadata.get('authorization')[0];
  // The scheme name is case-insensitive (RFC 9110).
  const match = typeof header === 'string' ? /^bearer +(\S+)\s*$/i.exec(header) : null;
  if (match?.[1] === undefined) {
    throw new UnauthenticatedError('missing credentials: send metadata "authorization: Bearer <token>"');
  }
  // Compare digests in constant time so the comparison leaks neither length nor prefix.
  const given = digest(match[1]);
  if (!ctx.apiTokens.some((t) => timingSafeEqual(digest(t), given))) throw new UnauthenticatedError('the bearer token is not valid');
}

export function unary<Req, Res>(ctx: CallContext, method: string, fn: (req: Req, call: ServerUnaryCall<Req, Res>) => Promise<Res>): handleUnaryCall<Req, Res> {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
    const started = performance.now();
    const run = async (): Promise<Res> => {
      if (!ctx.accepting()) throw new UnavailableError('Herald is shutting down; retry on another instance');
      authenticate(ctx, call.metadata);
      throwIfRefused(call.request);
      return fn(call.request, call);
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
