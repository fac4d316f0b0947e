/**
 * Why a request produced no HTTP response: the one list of attempt error classes (an
 * attempt that got a response but not a 2xx is `http_status`, set by the dispatcher).
 *
 * - `target_refused`: the outbound guard refused the host before connecting (it is, or
 *   resolves to, an address in a refused range, or the scheme is no longer allowed). Not
 *   retried: the same URL meets the same rules.
 * - `unreachable`: the host name did not resolve, or a connection to a loopback, private or
 *   other non-public address the operator allowed failed in any way (refused, reset, timed
 *   out, TLS). Deliberately one class with one message for all of these, so attempt records
 *   cannot be used to scan internal ports; the server log has the detail.
 * - `timeout`: no complete answer from a public address within the request timeout.
 * - `connection_refused`: nothing listens at the public address.
 * - `connection_reset`: the public peer closed or reset the connection before answering.
 * - `tls`: the TLS handshake or the certificate check failed.
 * - `network`: every other transport failure; the message carries the error code.
 * - `invalid_request`: the request could not be built (a header value or URL Node refuses);
 *   sending the same request again would fail the same way.
 * - `aborted`: Herald itself cancelled the request (shutdown), not a receiver failure.
 */
export const SEND_ERROR_CLASSES = [
  'target_refused',
  'unreachable',
  'timeout',
  'connection_refused',
  'connection_reset',
  'tls',
  'network',
  'invalid_request',
  'aborted',
] as const;

export type SendErrorClass = (typeof SEND_ERROR_CLASSES)[number];

/**
 * What one webhook POST produced: either an HTTP response or a transport error.
 * A sender returns this instead of throwing, so that every attempt can be recorded.
 */
export type SendResult =
  | {
      kind: 'response';
      /** The final HTTP status code (redirects are not followed). */
      statusCode: number;
      /** Response headers as Node reports them: lower-case names. */
      headers: Record<string, string | string[] | undefined>;
      /** The start of the response body as UTF-8 text, truncated to the sender's limit. */
      bodyExcerpt: string;
      /** Wall-clock time from the start of the request to the end of reading (ms, fractional). */
      durationMs: number;
    }
  | {
      kind: 'error';
      errorClass: SendErrorClass;
      /** A human-readable description; never contains the signing secret. */
      message: string;
      /** Wall-clock time from the start of the request to the failure (ms, fractional). */
      durationMs: number;
    };

/**
 * The verdict on one attempt.
 *
 * - `success`: the receiver accepted the webhook; the delivery is finished.
 * - `retry`: a transient failure; schedule another attempt if retries remain.
 *   `retryAfter` is the raw `Retry-After` header value for the backoff to consider.
 * - `fail`: a permanent failure; retrying the same bytes would get the same answer.
 * - `gone`: the receiver says the endpoint no longer exists (410); the delivery fails and
 *   the agent's webhook should be disabled.
 */
export type DeliveryVerdict =
  | { verdict: 'success' }
  | { verdict: 'retry'; retryAfter?: string }
  | { verdict: 'fail'; reason: string }
  | { verdict: 'gone'; reason: string };

const REDIRECT_STATUSES: ReadonlySet<number> = new Set([300, 301, 302, 303, 307, 308]);

function headerValue(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Classifies the result of one webhook POST.
 *
 * - 2xx → success.
 * - 5xx, 408 and 429 → retry; 429 and 503 pass their `Retry-After` value along, the only
 *   statuses for which the header asks the client to wait.
 * - 410 → gone.
 * - any other 1xx, 3xx or 4xx (and anything outside 100–599) → fail at once, with a reason
 *   for the attempt record. Redirects fail because following them would send a signed body
 *   to an address the agent did not register.
 * - `target_refused` → fail at once: the guard refused the host, and it would again.
 * - every other transport error → retry. That includes `aborted`: the request was cancelled by
 *   our own shutdown, not refused by the receiver, so the attempt is given back and the
 *   delivery is simply tried again later (the receiver may have seen it already; the stable
 *   delivery id lets it de-duplicate).
 */
export function classifyResult(r: SendResult): DeliveryVerdict {
  if (r.kind === 'error') {
    switch (r.errorClass) {
      case 'invalid_request':
        return { verdict: 'fail', reason: `the request could not be sent (${r.message}); fix the agent's webhook_url or webhook_headers` };
      case 'target_refused':
        return { verdict: 'fail', reason: `not sent: ${r.message}` };
      default:
        return { verdict: 'retry' };
    }
  }
  const status = r.statusCode;
  if (status >= 200 && status < 300) {
    return { verdict: 'success' };
  }
  if (status === 429 || status === 503) {
    const retryAfter = headerValue(r.headers, 'retry-after');
    return retryAfter === undefined ? { verdict: 'retry' } : { verdict: 'retry', retryAfter };
  }
  if ((status >= 500 && status < 600) || status === 408) {
    return { verdict: 'retry' };
  }
  if (status === 410) {
    return { verdict: 'gone', reason: 'HTTP 410 Gone (the receiver removed this endpoint)' };
  }
  if (REDIRECT_STATUSES.has(status)) {
    return { verdict: 'fail', reason: `HTTP ${status} redirect (redirects are not followed)` };
  }
  if (status >= 100 && status < 500) {
    return { verdict: 'fail', reason: `HTTP ${status} (not retried)` };
  }
  return { verdict: 'fail', reason: `HTTP ${status} (unexpected status code, not retried)` };
}
