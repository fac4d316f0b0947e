/**
 * The one place where errors become gRPC statuses. Herald's own errors keep
 * their message (written for callers); anything unexpected answers INTERNAL
 * with a reference, and its detail goes only to the log.
 */
import { randomUUID } from 'node:crypto';
import { status, type ServiceError, Metadata } from '@grpc/grpc-js';
import { HeraldError, type ErrorCode } from '../errors.js';
import type { Logger } from '../logger.js';
import { isDatabaseUnavailable, isRecordNotFound, isUniqueViolation } from '../storage/errors.js';

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

function make(code: status, details: string): StatusObject {
  return { code, details, message: details, metadata: new Metadata() };
}

/** Maps any thrown value to the status the caller sees; logs what the caller must not see. */
export function toStatus(err: unknown, log: Logger, method: string): StatusObject {
  if (err instanceof HeraldError) return make(CODES[err.code], err.message);
  if (isUniqueViolation(err)) return make(status.ALREADY_EXISTS, 'the resource already exists (a concurrent request created it); retry to read it');
  if (isRecordNotFound(err)) return make(status.NOT_FOUND, 'the resource no longer exists');
  if (isDatabaseUnavailable(err)) {
    log.warn({ err, method }, 'database unavailable');
    return make(status.UNAVAILABLE, 'the database is unavailable right now; retry shortly');
  }
  const ref = randomUUID();
  log.error({ err, method, ref }, 'unexpected error in RPC');
  return make(status.INTERNAL, `internal error (reference ${ref}); the details are in the server log`);
}
