/**
 * The one retry policy of every write transaction the store runs (single
 * writes, group commits, recordings). Two cases are tried again, nothing else:
 *
 * - **SQLite busy**, for HERALD_DB_STATEMENT_TIMEOUT_MS (2 s by default)
 *   of short pauses. The adapter
 *   begins transactions DEFERRED: one that has read and then writes fails at
 *   once, without waiting for busy_timeout, while another process
 *   (npm run secrets:reencrypt, a second Herald by mistake) holds the write
 *   lock or has committed since the read. The failed try was rolled back
 *   whole, so running it again is what the caller's own retry would do.
 *   REMOVE WHEN the better-sqlite3 adapter can begin IMMEDIATE transactions
 *   (then busy_timeout alone waits); the canary is the test "on SQLite a
 *   write waits while another process holds the write lock" in
 *   test/integration/secrets.test.ts, which fails without this retry.
 * - **Idempotent work** (recording an attempt: its row id is fixed, and a
 *   recording finds its own earlier commit), on any storage error, a few
 *   times: a send that reached the receiver must not wait out its lease,
 *   and be sent again, because one transaction failed.
 *
 * Herald's own errors (a failed precondition found by the work) are answers,
 * never retried. Nothing else is retried here either: a stalled or full
 * database answers the caller at once (UNAVAILABLE or RESOURCE_EXHAUSTED,
 * grpc/status.ts), inside its deadline, rather than after retries that
 * would outlast it (issue #19).
 */
import { HeraldError } from '../errors.js';
import { isSqliteBusy } from './errors.js';

/** Tries of idempotent work, and the pause before the next (times the try number), ms. */
const IDEMPOTENT_TRIES = 3;
const IDEMPOTENT_PAUSE_MS = 200;

export interface TryState {
  /** Tries made, the failed one included (1 after the first). */
  readonly tries: number;
  /**
   * Time already spent pausing, ms. Pauses, not wall time: better-sqlite3's
   * busy wait holds the one connection (and the store's mutex), so another
   * transaction's wait (a worker's claim) would count against this one
   * while this one could not run; each try's own wait is bounded by busy_timeout.
   */
  readonly pausedMs: number;
}

export interface WritePolicy {
  /** Whether the work may run again after any storage error (see above). */
  readonly idempotent: boolean;
  /** How long SQLITE_BUSY is retried, in pauses, ms (HERALD_DB_STATEMENT_TIMEOUT_MS). */
  readonly busyBoundMs: number;
}

/** The pause before trying `err`'s transaction again, or null to give up and answer the error. */
export function retryPauseMs(err: unknown, state: TryState, policy: WritePolicy): number | null {
  if (err instanceof HeraldError) return null;
  if (isSqliteBusy(err)) {
    const left = policy.busyBoundMs - state.pausedMs;
    // The last pause is cut to the bound, so that the last try comes at the bound, not a pause before it.
    return left <= 0 ? null : Math.min(5 * 2 ** (state.tries - 1), 200, left);
  }
  if (policy.idempotent && state.tries < IDEMPOTENT_TRIES) return IDEMPOTENT_PAUSE_MS * state.tries;
  return null;
}
