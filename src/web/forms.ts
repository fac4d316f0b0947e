/**
 * Reading the HTML forms the console and the portal post: a field, an
 * instant, a priority, and the preferences and endpoint changes the services
 * take. Shared, so that both pages refuse a bad value with the same message
 * naming the API's field.
 */
import { InvalidArgumentError } from '../errors.js';
import type { EndpointOverrides, EndpointSettings } from '../domain/endpoint.js';
import { PRIORITIES, QUIET_HOURS_POLICIES, RATE_LIMIT_POLICIES, type Priority, type QuietHours } from '../domain/types.js';
import { DEFAULT_ENDPOINT_SETTINGS, type EndpointChange } from '../services/endpoint-service.js';
import type { PreferencesChange } from '../services/preferences-service.js';

/** A form or query field, trimmed ("" when absent). */
export function field(values: URLSearchParams, name: string): string {
  return values.get(name)?.trim() ?? '';
}

/** An instant typed by a person: ISO 8601, a date or a date and time; without a zone it is UTC. */
export function parseInstant(name: string, value: string): Date {
  const shape = /^\d{4}-\d\d-\d\d(?:T\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:?\d\d)?)?$/i;
  let d = new Date(NaN);
  if (shape.test(value)) {
    if (!value.includes('T')) d = new Date(`${value}T00:00Z`);
    else d = new Date(/(?:Z|[+-]\d\d:?\d\d)$/i.test(value) ? value : `${value}Z`);
  }
  if (Number.isNaN(d.getTime())) throw new InvalidArgumentError(name, `expected an instant such as 2026-01-31T03:00Z, got "${value.slice(0, 40)}"`);
  return d;
}

/** A value of one of the domain's lists (case-insensitive); anything else is refused, never mapped to a default. */
function oneOf<T extends string>(name: string, value: string, list: readonly T[]): T {
  const found = list.find((x) => x === value.toUpperCase());
  if (found === undefined) throw new InvalidArgumentError(name, `must be one of ${list.join(', ')}, got "${value.slice(0, 20)}"`);
  return found;
}

export function priority(name: string, value: string): Priority {
  return oneOf(name, value, PRIORITIES);
}

/**
 * The preferences form as a PreferencesChange: only what the form shows;
 * webhook headers are left as they are, and so is the rate-limit policy when
 * the form does not send one.
 */
export function preferencesChange(agentId: string, form: URLSearchParams): PreferencesChange {
  const start = field(form, 'quiet_start');
  const end = field(form, 'quiet_end');
  const quietHours: QuietHours | null =
    start === '' && end === ''
      ? null
      : { start, end, policy: oneOf('preferences.quiet_hours.policy', field(form, 'quiet_policy'), QUIET_HOURS_POLICIES), urgentBypass: field(form, 'quiet_urgent_bypass') === 'true' };
  const maxRaw = field(form, 'max_per_hour') || '0';
  if (!/^\d{1,9}$/.test(maxRaw)) throw new InvalidArgumentError('preferences.max_notifications_per_hour', `expected a whole number, got "${maxRaw.slice(0, 20)}"`);
  const url = field(form, 'webhook_url');
  const minPriority = field(form, 'min_priority');
  const ratePolicy = field(form, 'rate_limit_policy');
  return {
    agentId,
    set: {
      enableWebhook: field(form, 'enable_webhook') === 'true',
      ...(url === '' ? {} : { webhookUrl: url }),
      timeZone: field(form, 'time_zone') || 'UTC',
      quietHours,
      maxPerHour: Number(maxRaw),
      ...(ratePolicy === '' ? {} : { rateLimitPolicy: oneOf('preferences.rate_limit_policy', ratePolicy, RATE_LIMIT_POLICIES) }),
      notificationTypes: field(form, 'notification_types')
        .split(',')
        .map((t) => t.trim())
        .filter((t) => t !== ''),
      minPriority: minPriority === '' ? null : priority('preferences.min_priority', minPriority),
    },
  };
}

/** A comma-separated list typed by a person, without empty entries. */
function list(value: string): string[] {
  return value
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '');
}

/** A whole number from a form field, or null when the field is empty (the field's default). */
function wholeOrNull(form: URLSearchParams, name: string, apiField: string): number | null {
  const v = field(form, name);
  if (v === '') return null;
  if (!/^\d{1,10}$/.test(v)) throw new InvalidArgumentError(apiField, `expected a whole number, got "${v.slice(0, 20)}"`);
  return Number(v);
}

const E = 'endpoint';

/** The "add endpoint" form as the settings of a new endpoint: what it does not show takes CreateEndpoint's defaults. */
export function newEndpointSettings(form: URLSearchParams): EndpointSettings {
  return { ...DEFAULT_ENDPOINT_SETTINGS, description: field(form, 'description'), url: field(form, 'url'), eventTypes: list(field(form, 'event_types')) };
}

/** The overrides the edit form sets, whole: a choice left at "the agent's" is absent (inherits). */
function overridesFrom(form: URLSearchParams): EndpointOverrides {
  const f = `${E}.overrides`;
  const out: { -readonly [K in keyof EndpointOverrides]: EndpointOverrides[K] } = {};
  const quiet = field(form, 'quiet');
  if (quiet === 'none') out.quietHours = null;
  else if (quiet === 'window') {
    out.quietHours = {
      start: field(form, 'quiet_start'),
      end: field(form, 'quiet_end'),
      policy: oneOf(`${f}.quiet_hours.policy`, field(form, 'quiet_policy'), QUIET_HOURS_POLICIES),
      urgentBypass: field(form, 'quiet_urgent_bypass') === 'true',
    };
  } else if (quiet !== 'inherit' && quiet !== '') throw new InvalidArgumentError(`${f}.quiet_hours`, `must be inherit, none or window, got "${quiet.slice(0, 20)}"`);
  const min = field(form, 'min_priority');
  if (min === 'none') out.minPriority = null;
  else if (min !== 'inherit' && min !== '') out.minPriority = priority(`${f}.min_priority`, min);
  const max = wholeOrNull(form, 'max_per_hour', `${f}.max_notifications_per_hour`);
  if (max !== null) out.maxPerHour = max;
  const rate = field(form, 'rate_limit_policy');
  if (rate !== '') out.rateLimitPolicy = oneOf(`${f}.rate_limit_policy`, rate, RATE_LIMIT_POLICIES);
  return out;
}

/**
 * The edit form as an UpdateEndpoint change. What the form shows is written
 * whole (the retry policy and the overrides included); the URL only when a
 * new one is typed (the page never holds the current one); the filter and
 * headers are left as they are. `enabled` is written only when the box
 * changed from what the page showed (`enabled_was`): writing enabled=true is
 * the owner turning the endpoint on, which clears Herald's run of failures,
 * and saving a description must not do that.
 */
export function endpointChange(id: string, form: URLSearchParams): EndpointChange {
  const url = field(form, 'url');
  const enabled = field(form, 'enabled') === 'true';
  const multiplierRaw = field(form, 'retry_multiplier');
  if (multiplierRaw !== '' && !/^\d{1,6}(?:\.\d{1,6})?$/.test(multiplierRaw)) {
    throw new InvalidArgumentError(`${E}.retry_policy.multiplier`, `expected a number such as 1.5, got "${multiplierRaw.slice(0, 20)}"`);
  }
  const set: Partial<EndpointSettings> = {
    description: field(form, 'description'),
    ...(url === '' ? {} : { url }),
    ...(field(form, 'enabled_was') === String(enabled) ? {} : { enabled }),
    eventTypes: list(field(form, 'event_types')),
    timeoutMs: wholeOrNull(form, 'timeout_ms', `${E}.timeout_ms`),
    retryPolicy: {
      maxAttempts: wholeOrNull(form, 'retry_max_attempts', `${E}.retry_policy.max_attempts`),
      initialDelayMs: wholeOrNull(form, 'retry_initial_delay_ms', `${E}.retry_policy.initial_delay_ms`),
      multiplier: multiplierRaw === '' ? null : Number(multiplierRaw),
      maxDelayMs: wholeOrNull(form, 'retry_max_delay_ms', `${E}.retry_policy.max_delay_ms`),
    },
    overrides: overridesFrom(form),
  };
  return { id, set };
}
