/**
 * An agent's endpoints: the destinations of its webhooks. The agent's
 * preferences stay the recipient's defaults (time zone, quiet hours, hourly
 * limit, notification types, minimum priority, and `enable_webhook` as the
 * master switch); an endpoint is where a webhook goes and how (URL, headers,
 * timeout, retries), which notifications it takes (event types, filter), and
 * which of the recipient's settings it replaces with its own (overrides).
 *
 * Example, one agent with three endpoints:
 *   chat:   quiet hours 22:00-07:00 DIGEST (overridden);
 *   pager:  min_priority URGENT, no quiet hours (both overridden);
 *   server: event_types ["job.*"], at most 500 per hour (its own limit).
 */
import type { EndpointRetryPolicy } from './backoff.js';
import type { FilterCondition } from './filter.js';
import type { Ordering } from './ordering.js';
import type { Priority, QuietHours, RateLimitPolicy } from './types.js';

/**
 * Which of the agent's settings an endpoint replaces. A key left undefined
 * inherits the agent's setting, whatever it is now or becomes later.
 */
export interface EndpointOverrides {
  /**
   * undefined: the agent's quiet hours; null: none for this endpoint (an
   * URGENT-only pager that must ring at night); a window: this one, with its
   * own policy and urgent bypass, read in the agent's time zone.
   */
  readonly quietHours?: QuietHours | null;
  /** undefined: the agent's minimum; null: no minimum for this endpoint; else this one. */
  readonly minPriority?: Priority | null;
  /**
   * undefined: the agent's limit, which counts each notification once however
   * many endpoints share it. A number: this endpoint's own limit, counting this
   * endpoint's webhooks only (and none of them toward the agent's); 0 makes it
   * unlimited.
   */
  readonly maxPerHour?: number;
  /** undefined: the agent's policy; else what this endpoint's limit (its own or the agent's) does to a webhook over it. */
  readonly rateLimitPolicy?: RateLimitPolicy;
}

/** What a caller may set on an endpoint. */
export interface EndpointSettings {
  /** For people, at most 200 characters; labels the endpoint in explanations ("chat: …"); may be empty. */
  readonly description: string;
  readonly url: string;
  /** The caller's switch. The agent's `enable_webhook` is above it: off there, every endpoint is off. */
  readonly enabled: boolean;
  /** Exact types, prefixes such as `job.*`, or `*`, as the agent's `notification_types`; empty means every type. */
  readonly eventTypes: readonly string[];
  /** Conditions that must all hold (src/domain/filter.ts); empty means none. */
  readonly filter: readonly FilterCondition[];
  /** Extra request headers; write-only like the agent's `webhook_headers` (read back masked). */
  readonly headers: Readonly<Record<string, string>>;
  /** Per-request timeout, ms; null means the service default (WEBHOOK_TIMEOUT). */
  readonly timeoutMs: number | null;
  readonly retryPolicy: EndpointRetryPolicy;
  readonly overrides: EndpointOverrides;
  /** NONE (default): sent as they fall due; PER_KEY: one ordering key's webhooks one at a time, in create order. */
  readonly ordering: Ordering;
}

/** An endpoint as stored. */
export interface Endpoint extends EndpointSettings {
  /** "ep_" and a ULID; stable for the endpoint's life. */
  readonly id: string;
  readonly agentId: string;
  /** Why Herald turned the endpoint off itself (410 Gone, a run of failures), or null. */
  readonly disabledReason: string | null;
}
