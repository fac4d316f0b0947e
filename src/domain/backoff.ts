import { DateTime } from 'luxon';

/**
 * How failed webhook deliveries are spaced out.
 *
 * All durations are milliseconds. The policy is expected to be validated once by the
 * configuration layer; the functions here only guard against the values that would
 * otherwise produce NaN or negative delays.
 */
export interface RetryPolicy {
  /** Delay after the first failed attempt, before jitter (ms). The seed's default is 1000. */
  baseDelayMs: number;
  /** Growth of the delay from one failed attempt to the next; unset means 2 (doubling), the service's schedule. */
  multiplier?: number;
  /** Upper bound on any delay, including one asked for by `Retry-After` (ms). */
  maxDelayMs: number;
  /**
   * Lower bound on a delay the receiver asked for (`Retry-After`) or earned (429, a timeout), ms.
   * `Retry-After: 0` from a struggling receiver must not become a tight loop; the default is 1000.
   */
  minDelayMs: number;
  /** Retries allowed after the first attempt. The seed's default is 3. */
  maxRetries: number;
  /**
   * Relative jitter in [0, 1]: 0.2 spreads each delay uniformly over ±20%, so that
   * deliveries that failed together (a receiver outage) do not retry in lockstep.
   */
  jitter: number;
}

/** The growth of the delay when a policy sets none: each delay doubles. */
export const DEFAULT_RETRY_MULTIPLIER = 2;

/**
 * Exponential backoff with jitter: `baseDelayMs × multiplier^(attempt-1)` (multiplier 2
 * unless the policy says otherwise), scaled by a factor in
 * `[1 - jitter, 1 + jitter)`, then capped at `maxDelayMs`.
 *
 * The cap is applied after the jitter, so once the schedule reaches the cap every delay is
 * exactly `maxDelayMs`; that keeps the longest wait a promise the operator can rely on.
 *
 * @param attempt - number of the attempt that just failed, 1-based (1 → `baseDelayMs`).
 * @param policy - the retry policy.
 * @param random - a source of uniform numbers in [0, 1), e.g. `Math.random`; 0.5 gives no jitter.
 * @returns the delay in whole milliseconds, never negative and never above `maxDelayMs`.
 * @throws RangeError when `attempt` is not a positive integer (a caller bug, not an input error).
 */
export function retryDelayMs(attempt: number, policy: RetryPolicy, random: () => number): number {
  if (!Number.isSafeInteger(attempt) || attempt < 1) {
    throw new RangeError(`attempt must be a positive integer, got ${attempt}`);
  }
  const cap = Math.max(0, policy.maxDelayMs);
  // A zero base stays zero however far the growth goes (0 × Infinity would be NaN).
  if (policy.baseDelayMs === 0) {
    return 0;
  }
  const exponential = policy.baseDelayMs * (policy.multiplier ?? DEFAULT_RETRY_MULTIPLIER) ** (attempt - 1);
  // The growth overflows to Infinity for large attempt numbers; Infinity × a zero jitter
  // factor would be NaN, so an overflowed schedule is simply at the cap.
  if (!Number.isFinite(exponential)) {
    return cap;
  }
  const factor = 1 + policy.jitter * (2 * random() - 1);
  const jittered = exponential * factor;
  if (Number.isNaN(jittered)) {
    return cap;
  }
  return Math.round(Math.min(cap, Math.max(0, jittered)));
}

/**
 * An endpoint's retry settings, each null when the endpoint keeps the service default
 * (WEBHOOK_MAX_RETRIES, WEBHOOK_RETRY_DELAY, a multiplier of 2, HERALD_RETRY_MAX_DELAY_MS).
 * Ranges are checked on write (src/domain/endpoint-validation.ts).
 */
export interface EndpointRetryPolicy {
  /** Attempts in all, the first included: 1 (never retry) to 100. */
  readonly maxAttempts: number | null;
  /** Delay after the first failed attempt, ms, 0 to 86,400,000. */
  readonly initialDelayMs: number | null;
  /** Growth of the delay per failed attempt, 1 (constant) to 10. */
  readonly multiplier: number | null;
  /** Cap of any delay, `Retry-After` included, ms, up to 7 days. */
  readonly maxDelayMs: number | null;
}

/** An endpoint that keeps every service default. */
export const DEFAULT_ENDPOINT_RETRY_POLICY: EndpointRetryPolicy = Object.freeze({ maxAttempts: null, initialDelayMs: null, multiplier: null, maxDelayMs: null });

/**
 * The retry policy the dispatcher applies to an endpoint's deliveries: the endpoint's
 * settings over the service's. The floor (`minDelayMs`) and the jitter stay the
 * service's: they protect receivers, whatever an endpoint asks for. An endpoint cap
 * below the service floor lowers the floor with it, as {@link nextRetryDelayMs} does.
 */
export function endpointRetryPolicy(service: RetryPolicy, endpoint: EndpointRetryPolicy): RetryPolicy {
  return {
    baseDelayMs: endpoint.initialDelayMs ?? service.baseDelayMs,
    multiplier: endpoint.multiplier ?? service.multiplier ?? DEFAULT_RETRY_MULTIPLIER,
    maxDelayMs: endpoint.maxDelayMs ?? service.maxDelayMs,
    minDelayMs: service.minDelayMs,
    maxRetries: endpoint.maxAttempts === null ? service.maxRetries : endpoint.maxAttempts - 1,
    jitter: service.jitter,
  };
}

const DELTA_SECONDS = /^\d+$/;

/**
 * Reads a `Retry-After` header value (RFC 9110 §10.2.3).
 *
 * Accepts delta-seconds (a non-negative integer) or an HTTP-date in any of the three forms
 * RFC 9110 requires recipients to accept (IMF-fixdate, RFC 850, asctime). A date in the past
 * means "now" and yields 0.
 *
 * @param value - the header value, or undefined when the header is absent.
 * @param now - the current instant, passed in so that the function stays pure.
 * @returns the delay in milliseconds, or undefined when the header is absent or unparsable
 *   (a garbage value is ignored rather than trusted, and the normal backoff applies).
 */
export function parseRetryAfter(value: string | undefined, now: Date): number | undefined {
  if (value === undefined) {
    return undefined;
  }
  const trimmed = value.trim();
  if (trimmed === '') {
    return undefined;
  }
  if (DELTA_SECONDS.test(trimmed)) {
    // A huge value is still a valid request to wait a long time; the caller caps it.
    return Math.min(Number(trimmed) * 1000, Number.MAX_SAFE_INTEGER);
  }
  // Date.parse would accept almost anything ("1", "2024"); luxon's HTTP parser accepts only
  // the three HTTP-date forms.
  const date = DateTime.fromHTTP(trimmed, { zone: 'utc' });
  if (!date.isValid) {
    return undefined;
  }
  return Math.max(0, date.toMillis() - now.getTime());
}

/** What the failed attempt says about the receiver's state, beyond its attempt number. */
export interface RetryHint {
  /** The raw `Retry-After` header value, if the response carried one. */
  readonly retryAfter?: string | undefined;
  /**
   * The receiver is overloaded rather than broken: a 429, or no answer within the timeout.
   * Retrying it faster than `minDelayMs` only adds to its load.
   */
  readonly throttled: boolean;
}

/**
 * The delay before the next attempt of a delivery whose attempt number `attempt` just failed.
 *
 * A usable `Retry-After` is honoured between `minDelayMs` and `maxDelayMs`: a receiver may ask
 * to be retried sooner than our backoff would (it knows when it will be back) or later, but it
 * can neither make us hammer it (`Retry-After: 0`) nor park a delivery indefinitely. Without
 * one, the jittered exponential backoff applies, raised to `minDelayMs` for a throttled
 * receiver (429, timeout); other failures keep the plain backoff, whose base may be shorter.
 *
 * This does not decide whether a retry is still allowed; compare the attempt count with
 * `policy.maxRetries` for that.
 *
 * @param attempt - number of the attempt that just failed, 1-based.
 * @param policy - the retry policy.
 * @param hint - the `Retry-After` value and whether the receiver was throttling.
 * @param now - the current instant, for HTTP-date values.
 * @param random - a source of uniform numbers in [0, 1).
 * @returns the delay in whole milliseconds, in [0, maxDelayMs]; at least `minDelayMs` (when
 *   that is below the cap) for a `Retry-After` or a throttled receiver.
 */
export function nextRetryDelayMs(attempt: number, policy: RetryPolicy, hint: RetryHint, now: Date, random: () => number): number {
  const cap = Math.max(0, policy.maxDelayMs);
  const floor = Math.min(cap, Math.max(0, policy.minDelayMs));
  const requested = parseRetryAfter(hint.retryAfter, now);
  if (requested !== undefined) {
    return Math.round(Math.max(floor, Math.min(requested, cap)));
  }
  const backoff = retryDelayMs(attempt, policy, random);
  return hint.throttled ? Math.max(floor, backoff) : backoff;
}
