/**
 * Herald's error catalogue. Services throw these; src/grpc/status.ts maps
 * them to gRPC status codes in one place. Messages are written for the
 * caller: they name the field and the rule, and never carry secrets or
 * internal detail.
 */

export type ErrorCode =
  | 'INVALID_ARGUMENT'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'FAILED_PRECONDITION'
  | 'UNAUTHENTICATED'
  | 'PERMISSION_DENIED'
  | 'RESOURCE_EXHAUSTED'
  | 'UNAVAILABLE';

export class HeraldError extends Error {
  constructor(readonly code: ErrorCode, message: string) {
    super(message);
    this.name = 'HeraldError';
  }
}

/** A request field breaks a rule. `field` is the proto path, e.g. `preferences.webhook_url`. */
export class InvalidArgumentError extends HeraldError {
  constructor(readonly field: string, rule: string) {
    super('INVALID_ARGUMENT', `${field}: ${rule}`);
  }
}

export class NotFoundError extends HeraldError {
  constructor(what: string) {
    super('NOT_FOUND', `${what} not found`);
  }
}

/** The request is valid but the resource is in the wrong state for it. */
export class FailedPreconditionError extends HeraldError {
  constructor(message: string) {
    super('FAILED_PRECONDITION', message);
  }
}

export class UnauthenticatedError extends HeraldError {
  constructor(message: string) {
    super('UNAUTHENTICATED', message);
  }
}

/** The service is shutting down or the database is unreachable; the caller may retry elsewhere. */
export class UnavailableError extends HeraldError {
  constructor(message: string) {
    super('UNAVAILABLE', message);
  }
}
