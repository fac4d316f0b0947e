/** The parts of the client's surface that do not depend on the generated types. */

/** Per-call options. */
export interface CallOptions {
  /** Time the call may take, in ms; overrides the client's `timeoutMs`. */
  readonly timeoutMs?: number;
  /** An absolute deadline; wins over `timeoutMs`. */
  readonly deadline?: Date;
  /** Extra request metadata (lower-case keys; `-bin` keys take Buffers). */
  readonly metadata?: Readonly<Record<string, string | Buffer | readonly (string | Buffer)[]>>;
  /** Cancels the call when aborted (the promise rejects with a CANCELLED HeraldError). */
  readonly signal?: AbortSignal;
}

/** A server stream: iterate it with `for await`; leaving the loop (break, return, throw) cancels the call. */
export interface HeraldStream<T> extends AsyncIterableIterator<T> {
  /** Cancels the call; a pending or later `next()` then reports the end of the stream. */
  cancel(): void;
}

/** The client as built at run time, before the generated types are laid over it (see index.ts). */
export type UntypedClient = Record<string, Record<string, (request: unknown, options?: CallOptions) => unknown>> & { close(): void };
