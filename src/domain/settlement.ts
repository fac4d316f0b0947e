/**
 * What one attempt leaves behind, decided once: the attempt record, the
 * delivery's next state and what it does to the agent's webhook health.
 * Pure (the clock and randomness are passed in); the dispatcher computes a
 * settlement and storage records it as it is (src/storage/recorder.ts).
 */
import { nextRetryDelayMs, type RetryPolicy } from './backoff.js';
import { classifyResult, type SendResult } from './delivery-outcome.js';
import type { AttemptTrigger, DeliveryAttempt } from './types.js';

/**
 * What to do when an attempt fails in a way that could succeed later:
 * `schedule` another attempt (if retries remain), or `fail` now (a manual
 * retry of a FAILED delivery, a test webhook: one attempt, no schedule).
 */
export type OnRetryable = 'schedule' | 'fail';

/** Where the delivery goes next. */
export type NextState =
  | { readonly status: 'SUCCEEDED' | 'FAILED' | 'CANCELLED'; readonly lastStatusCode: number | null; readonly lastError: string | null }
  | {
      readonly status: 'PENDING';
      /** Due this long after now (the database's now on PostgreSQL), ms... */
      readonly retryInMs: number;
      /** ...but never before this instant (a manual retry must not pull a deferred delivery forward). */
      readonly notBefore: Date;
      readonly lastStatusCode: number | null;
      readonly lastError: string | null;
    };

/** What the attempt does to the count of the agent's deliveries that ended FAILED in a row. */
export type HealthEffect =
  /** Nothing: no attempt was made, or a retry is scheduled. */
  | { readonly kind: 'none' }
  /** A 2xx: the count starts again from 0. */
  | { readonly kind: 'succeeded' }
  /** The delivery ended FAILED after an attempt that counts (not a test): one more; at `disableAfter` (> 0) the webhook is turned off. */
  | { readonly kind: 'failed'; readonly disableAfter: number }
  /** The receiver said the endpoint is gone (410): turned off at once; `counts` as `failed` does (not for a test). */
  | { readonly kind: 'gone'; readonly reason: string; readonly counts: boolean };

export interface Settlement {
  /** The attempt made, or null when the claim is settled without sending. */
  readonly attempt: DeliveryAttempt | null;
  readonly next: NextState;
  readonly health: HealthEffect;
}

/** The claimed delivery as far as settling it needs. */
export interface ClaimedState {
  /** Attempts started, this one included (counted at claim). */
  readonly attemptCount: number;
  /** Attempts made before the current schedule began (a replay starts a new one). */
  readonly attemptBase: number;
  readonly nextAttemptAt: Date;
  readonly lastStatusCode: number | null;
  readonly lastError: string | null;
}

/** Attempts of the current schedule, this one included: the one place this is computed. */
export function attemptsUsed(claimed: ClaimedState): number {
  return claimed.attemptCount - claimed.attemptBase;
}

/** A result in a few words, for attempt records and logs. */
export function describeResult(result: SendResult): string {
  return result.kind === 'response' ? `HTTP ${result.statusCode}` : `${result.errorClass}: ${result.message}`;
}

/**
 * A receiver that is overloaded rather than broken: retrying it sooner than the
 * floor only adds to its load. `unreachable` is included because the outbound
 * guard reports a timeout towards an internal address under that class (so that
 * attempts cannot be used to probe ports), and such a retry must not come faster
 * than one towards a public address would.
 */
function throttled(result: SendResult): boolean {
  return result.kind === 'response' ? result.statusCode === 429 : result.errorClass === 'timeout' || result.errorClass === 'unreachable';
}

/**
 * A scheduled claim whose budget was used up by claims that never recorded
 * a result (workers stopped mid-send, or the database failed around the
 * send): it fails unsent instead of taking down worker after worker. Null
 * when the attempt may go ahead.
 */
export function budgetExhausted(claimed: ClaimedState, trigger: AttemptTrigger, policy: Pick<RetryPolicy, 'maxRetries'>): Settlement | null {
  const used = attemptsUsed(claimed);
  if (trigger !== 'SCHEDULED' || used <= 1 + policy.maxRetries) return null;
  return unsent({
    status: 'FAILED',
    lastStatusCode: claimed.lastStatusCode,
    lastError: `retries exhausted: ${used - 1} attempts were started but did not all record a result (a worker stopped or the database failed mid-attempt); last error: ${claimed.lastError ?? 'none recorded'}`,
  });
}

/** A claim settled without sending (nothing to send to, a secret that cannot be opened, the budget used up). */
export function unsent(next: NextState): Settlement {
  return { attempt: null, next, health: { kind: 'none' } };
}

export interface AttemptInput {
  readonly claimed: ClaimedState;
  readonly trigger: AttemptTrigger;
  readonly onRetryable: OnRetryable;
  /** Where it was sent. */
  readonly url: string;
  readonly result: SendResult;
  readonly startedAt: Date;
  readonly retryPolicy: RetryPolicy;
  /** Deliveries ending FAILED in a row that turn the webhook off; 0: never. */
  readonly disableAfter: number;
  readonly now: Date;
  readonly random: () => number;
}

/** The settlement of an attempt that reached a verdict (an aborted send is released instead, never settled). */
export function settleAttempt(i: AttemptInput): Settlement {
  const { result, claimed, trigger } = i;
  const ok = result.kind === 'response' && result.statusCode >= 200 && result.statusCode < 300;
  const attempt: DeliveryAttempt = {
    number: claimed.attemptCount,
    startedAt: i.startedAt,
    durationMs: Math.max(0, Math.round(result.durationMs)),
    statusCode: result.kind === 'response' ? result.statusCode : null,
    errorClass: result.kind === 'error' ? result.errorClass : ok ? null : 'http_status',
    errorMessage: result.kind === 'error' ? result.message : ok ? null : `HTTP ${result.statusCode}`,
    responseExcerpt: result.kind === 'response' ? result.bodyExcerpt : null,
    trigger,
    url: i.url,
  };
  const lastStatusCode = result.kind === 'response' ? result.statusCode : null;
  const verdict = classifyResult(result);
  const failed = (lastError: string): Settlement => ({
    attempt,
    next: { status: 'FAILED', lastStatusCode, lastError },
    // A test webhook checks the endpoint; its failure is the caller's answer, not the agent's record.
    health: trigger === 'TEST' ? { kind: 'none' } : { kind: 'failed', disableAfter: i.disableAfter },
  });
  switch (verdict.verdict) {
    case 'success':
      return { attempt, next: { status: 'SUCCEEDED', lastStatusCode, lastError: null }, health: { kind: 'succeeded' } };
    case 'gone':
      return { attempt, next: { status: 'FAILED', lastStatusCode, lastError: verdict.reason }, health: { kind: 'gone', reason: `receiver answered ${verdict.reason}`, counts: trigger !== 'TEST' } };
    case 'fail':
      return failed(verdict.reason);
    case 'retry': {
      if (i.onRetryable === 'fail') return failed(describeResult(result));
      const used = attemptsUsed(claimed);
      if (used >= 1 + i.retryPolicy.maxRetries) return failed(`retries exhausted after ${used} attempts; last: ${describeResult(result)}`);
      const retryInMs = nextRetryDelayMs(used, i.retryPolicy, { retryAfter: verdict.retryAfter, throttled: throttled(result) }, i.now, i.random);
      // A manual retry of a delivery due later (deferred by quiet hours) must not pull its next attempt forward.
      return { attempt, next: { status: 'PENDING', retryInMs, notBefore: claimed.nextAttemptAt, lastStatusCode, lastError: describeResult(result) }, health: { kind: 'none' } };
    }
  }
}

/** Whether the settlement adds one to the agent's deliveries ended FAILED in a row. */
export function countsFailure(health: HealthEffect): boolean {
  return health.kind === 'failed' || (health.kind === 'gone' && health.counts);
}

/** Whether recording it may turn the webhook off, so that its transaction must hold the agent's lock first. */
export function maySwitchOff(health: HealthEffect): boolean {
  return health.kind === 'gone' || (health.kind === 'failed' && health.disableAfter > 0);
}

/**
 * Why the webhook is to be turned off after a settlement with `health`, the
 * agent's deliveries now having ended FAILED `failuresInARow` times in a
 * row (counted under its lock); null when it stays on.
 */
export function switchOffReason(health: HealthEffect, failuresInARow: number, lastError: string | null): string | null {
  if (health.kind === 'gone') return health.reason;
  if (health.kind === 'failed' && health.disableAfter > 0 && failuresInARow >= health.disableAfter) {
    return `${failuresInARow} deliveries in a row ended FAILED (HERALD_DISABLE_AFTER_FAILURES=${health.disableAfter}); last: ${lastError ?? 'unknown'}`;
  }
  return null;
}
