/**
 * The one place where the console turns Herald's errors into HTTP statuses,
 * as src/grpc/status.ts does for gRPC. Keyed by the catalogue's ErrorCode
 * (src/errors.ts): a code added there fails to compile here until it has a
 * status, so the two transports cannot drift apart silently.
 */
import type { ErrorCode, HeraldError } from '../errors.js';

const HTTP_STATUS: { readonly [code in ErrorCode]: number } = {
  INVALID_ARGUMENT: 400,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  FAILED_PRECONDITION: 409,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  RESOURCE_EXHAUSTED: 429,
  UNAVAILABLE: 503,
};

/** The HTTP status of a catalogue error. */
export function httpStatus(err: HeraldError): number {
  return HTTP_STATUS[err.code];
}
