/**
 * The rules of an endpoint's settings, on create and on update. Pure: each
 * check throws InvalidArgumentError naming the field under the prefix the
 * caller gives (`endpoint.overrides.quiet_hours.start: …`) and the rule.
 * Whether the URL's host may be connected to is the outbound guard's
 * question (src/delivery/target-guard.ts), asked by the service after these.
 */
import { InvalidArgumentError } from '../errors.js';
import type { EndpointRetryPolicy } from './backoff.js';
import type { EndpointOverrides, EndpointSettings } from './endpoint.js';
import { checkFilter } from './filter.js';
import type { QuietHours } from './types.js';
import {
  checkClockTime,
  checkHeaders,
  checkNotificationTypes,
  checkRange,
  checkText,
  checkWebhookUrlSyntax,
  LIMITS,
  quote,
  type SchemePolicy,
} from './validation.js';

/** What the endpoint rules depend on in the service's configuration. */
export interface EndpointRules extends SchemePolicy {
  /** The configured hex-signature header, which custom headers may not use. */
  readonly signatureHeader: string;
}

// Descriptions label the endpoint in one-line explanations and lists.
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * Checks the settings present in `s`: a create passes them all, an update
 * the ones it changes (with `overrides` and `retryPolicy` merged whole, so
 * that their rules across fields hold). `field` is the message's proto path
 * prefix, e.g. `endpoint`.
 */
export function checkEndpointSettings(field: string, s: Partial<EndpointSettings>, rules: EndpointRules): void {
  if (s.description !== undefined) {
    checkText(`${field}.description`, s.description, 0, LIMITS.endpointDescriptionLength);
    if (CONTROL.test(s.description)) throw new InvalidArgumentError(`${field}.description`, 'must be one line of text, without control characters');
  }
  if (s.url !== undefined) {
    if (s.url === '') throw new InvalidArgumentError(`${field}.url`, 'is required');
    checkWebhookUrlSyntax(`${field}.url`, s.url, rules);
  }
  // The same syntax and matching as the agent's notification_types.
  if (s.eventTypes !== undefined) checkNotificationTypes(`${field}.event_types`, s.eventTypes);
  if (s.filter !== undefined) checkFilter(`${field}.filter`, s.filter);
  if (s.headers !== undefined) checkHeaders(`${field}.headers`, s.headers, rules.signatureHeader);
  if (s.timeoutMs != null) checkRange(`${field}.timeout_ms`, s.timeoutMs, LIMITS.timeoutMsMin, LIMITS.timeoutMsMax);
  if (s.retryPolicy !== undefined) checkRetryPolicy(`${field}.retry_policy`, s.retryPolicy);
  if (s.overrides !== undefined) checkOverrides(`${field}.overrides`, s.overrides);
}

function checkRetryPolicy(field: string, p: EndpointRetryPolicy): void {
  if (p.maxAttempts !== null) checkRange(`${field}.max_attempts`, p.maxAttempts, 1, LIMITS.retryMaxAttempts);
  if (p.initialDelayMs !== null) checkRange(`${field}.initial_delay_ms`, p.initialDelayMs, 0, LIMITS.retryInitialDelayMsMax);
  if (p.multiplier !== null && !(p.multiplier >= 1 && p.multiplier <= LIMITS.retryMultiplierMax)) {
    throw new InvalidArgumentError(`${field}.multiplier`, `must be between 1 and ${LIMITS.retryMultiplierMax}, got ${p.multiplier}`);
  }
  if (p.maxDelayMs !== null) {
    checkRange(`${field}.max_delay_ms`, p.maxDelayMs, 0, LIMITS.retryMaxDelayMsMax);
    // With only one of the two set, the other is the service's: the cap then simply wins.
    if (p.initialDelayMs !== null && p.maxDelayMs < p.initialDelayMs) {
      throw new InvalidArgumentError(`${field}.max_delay_ms`, `must be at least initial_delay_ms (${p.initialDelayMs}), got ${p.maxDelayMs}`);
    }
  }
}

function checkOverrides(field: string, o: EndpointOverrides): void {
  if (o.quietHours != null) checkQuietHours(`${field}.quiet_hours`, o.quietHours);
  if (o.maxPerHour !== undefined) checkRange(`${field}.max_notifications_per_hour`, o.maxPerHour, 0, LIMITS.maxPerHour);
}

function checkQuietHours(field: string, q: QuietHours): void {
  if (q.start === '' && q.end === '') {
    throw new InvalidArgumentError(
      field,
      "a quiet-hours policy without a window: give start and end (\"HH:MM\"), or set no quiet hours for this endpoint, or leave quiet_hours unset to inherit the agent's",
    );
  }
  checkClockTime(`${field}.start`, q.start);
  checkClockTime(`${field}.end`, q.end);
  // The agent's preferences read start == end as "no quiet hours" (0.2); an
  // endpoint has an explicit "none" for that, so here it is a mistake.
  if (q.start === q.end) {
    throw new InvalidArgumentError(`${field}.end`, `equals start (${quote(q.start)}), which is no window at all; for no quiet hours on this endpoint, set none`);
  }
}
