import * as grpc from '@grpc/grpc-js';

/** gRPC status codes by name (`Status.NOT_FOUND === 5`), to compare with {@link HeraldError.code}. */
export const Status = grpc.status;

/** A gRPC status code's name, e.g. `"NOT_FOUND"`. */
export type StatusName = keyof typeof grpc.status;

const NAMES = new Map<number, StatusName>(
  (Object.keys(grpc.status) as StatusName[]).filter((name) => Number.isNaN(Number(name))).map((name) => [grpc.status[name], name]),
);

/**
 * A call that Herald (or the channel) answered with a non-OK gRPC status.
 *
 * `code` is the number, `codeName` its name, `details` the server's message (for
 * INVALID_ARGUMENT it names the field and the rule). Retry UNAVAILABLE and ALREADY_EXISTS;
 * DEADLINE_EXCEEDED means the call's deadline passed, and the server may still have done
 * the work (CreateNotification with an `idempotency_key` is safe to repeat).
 */
export class HeraldError extends Error {
  override readonly name = 'HeraldError';

  constructor(
    /** The gRPC status code. */
    readonly code: grpc.status,
    /** The status message, as sent by the server. */
    readonly details: string,
    /** The RPC, e.g. `"herald.v1.NotificationService/CreateNotification"`. */
    readonly method: string,
    /** Trailing metadata of the failed call. */
    readonly metadata: grpc.Metadata = new grpc.Metadata(),
    options?: ErrorOptions,
  ) {
    super(`${method}: ${NAMES.get(code) ?? code}: ${details}`, options);
  }

  /** The status code's name, e.g. `"NOT_FOUND"`, or `"UNKNOWN"` for a code gRPC does not define. */
  get codeName(): StatusName {
    return NAMES.get(this.code) ?? 'UNKNOWN';
  }

  /** @internal Wraps the error grpc-js passes to a callback or stream. */
  static fromServiceError(error: unknown, method: string): HeraldError {
    const e = error as Partial<grpc.ServiceError>;
    if (typeof e.code !== 'number') {
      return new HeraldError(grpc.status.UNKNOWN, error instanceof Error ? error.message : String(error), method, undefined, { cause: error });
    }
    return new HeraldError(e.code, e.details ?? '', method, e.metadata, { cause: error });
  }
}
