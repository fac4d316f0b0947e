/**
 * The one place where errors become gRPC statuses. Herald's own errors keep
 * their message (written for callers); storage faults (src/storage/errors.ts)
 * answer UNAVAILABLE or RESOURCE_EXHAUSTED with a message saying whether to
 * retry; anything unexpected answers INTERNAL with a reference, and its
 * detail goes only to the log.
 */
import { randomUUID } from 'node:crypto';
import { status, type ServiceError, Metadata } from '@grpc/grpc-js';
import { HeraldError, type ErrorCode } from '../errors.js';
import { repeatLimited, type Logger } from '../logger.js';
import { isRecordNotFound, isUniqueViolation, storageFault } from '../storage/errors.js';

const CODES: Readonly<Record<ErrorCode, status>> = {
  INVALID_ARGUMENT: status.INVALID_ARGUMENT,
  NOT_FOUND: status.NOT_FOUND,
  ALREADY_EXISTS: status.ALREADY_EXISTS,
  FAILED_PRECONDITION: status.FAILED_PRECONDITION,
  UNAUTHENTICATED: status.UNAUTHENTICATED,
  PERMISSION_DENIED: status.PERMISSION_DENIED,
  RESOURCE_EXHAUSTED: status.RESOURCE_EXHAUSTED,
  UNAVAILABLE: status.UNAVAILABLE,
};

export type StatusObject = Partial<ServiceError> & { code: status; details: string; metadata: Metadata };

function make(code: status, details: string, metadata: Metadata = new Metadata()): StatusObject {
  return { code, details, message: details, metadata };
}

/**
 * A call refused because its deadline had passed before it started: the
 * client has given up, so the work would only take a turn from live calls.
 */
export class DeadlinePassedError extends Error {
  constructor(readonly method: string) {
    super(`${method}: the call's deadline passed before it started; nothing was done`);
    this.name = 'DeadlinePassedError';
  }
}

/**
 * A call refused before it started because its tenant already has its share
 * in flight; `retryAfterMs` goes to the client as `grpc-retry-pushback-ms`
 * (the metadata grpc clients with a retry policy obey).
 */
export class TenantBusyError extends Error {
  constructor(message: string, readonly retryAfterMs: number) {
    super(message);
    this.name = 'TenantBusyError';
  }
}

/** Maps any thrown value to the status the caller sees; logs what the caller must not see. */
export function toStatus(err: unknown, log: Logger, method: string): StatusObject {
  if (err instanceof HeraldError) return make(CODES[err.code], err.message);
  if (err instanceof DeadlinePassedError) return make(status.DEADLINE_EXCEEDED, err.message);
  if (err instanceof TenantBusyError) {
    const metadata = new Metadata();
    metadata.set('grpc-retry-pushback-ms', String(err.retryAfterMs));
    return make(status.RESOURCE_EXHAUSTED, err.message, metadata);
  }
  if (isUniqueViolation(err)) return make(status.ALREADY_EXISTS, 'the resource already exists (a concurrent request created it); retry to read it');
  if (isRecordNotFound(err)) return make(status.NOT_FOUND, 'the resource no longer exists');
  const fault = storageFault(err);
  if (fault !== null) {
    // An outage fails every call: one line per kind when it starts, then one a minute.
    repeatLimited(log).warn({ err, method, fault: fault.kind }, `database fault (${fault.kind}): answered ${fault.code}`);
    return make(CODES[fault.code], fault.message);
  }
  const ref = randomUUID();
  log.error({ err, method, ref }, 'unexpected error in RPC');
  return make(status.INTERNAL, `internal error (reference ${ref}); the details are in the server log`);
}
