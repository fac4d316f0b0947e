/**
 * The rules every input must meet. Pure: each check returns nothing or
 * throws InvalidArgumentError naming the field (its proto path) and the rule,
 * so a caller can fix the request from the message alone.
 */
import { IANAZone } from 'luxon';
import { InvalidArgumentError } from '../errors.js';
import { parseClockTime } from './quiet-hours.js';
import type { JsonObject } from './types.js';

export const LIMITS = Object.freeze({
  agentIdLength: 128,
  urlLength: 2048,
  maxPerHour: 1_000_000,
  notificationTypes: 100,
  notificationTypeLength: 100,
  headers: 20,
  headerNameLength: 256,
  headerValueBytes: 4096,
  timeoutMsMin: 1,
  timeoutMsMax: 60_000,
  titleLength: 500,
  contentLength: 20_000,
  metadataBytes: 16 * 1024,
  relatedLength: 200,
  idempotencyKeyLength: 200,
  orderingKeyLength: 200,
  pageSizeMax: 500,
  pageSizeDefault: 50,
  idLength: 128,
  timeZoneLength: 64,
  clockTimeLength: 16,
  pageTokenLength: 512,
  maskPathLength: 128,
  disabledReasonLength: 1024,
  metadataDepth: 32,
  quoteLength: 100,
  /** An endpoint's description, characters. */
  endpointDescriptionLength: 200,
  /** Conditions of an endpoint's filter. */
  filterConditions: 10,
  /** Values of one filter condition (IN, PREFIX). */
  filterValues: 50,
  /** One value of a filter condition, characters. */
  filterValueLength: 256,
  /** Segments of a `metadata.<path>` filter field after "metadata.". */
  filterPathDepth: 8,
  /** An endpoint retry policy's `max_attempts` (the first attempt included). */
  retryMaxAttempts: 100,
  /** An endpoint retry policy's `initial_delay_ms` (1 day). */
  retryInitialDelayMsMax: 86_400_000,
  /** An endpoint retry policy's `multiplier`. */
  retryMultiplierMax: 10,
  /** An endpoint retry policy's `max_delay_ms` (7 days, as HERALD_RETRY_MAX_DELAY_MS). */
  retryMaxDelayMsMax: 7 * 86_400_000,
});

/**
 * The instants a request may name, in ms: google.protobuf.Timestamp's range,
 * 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z. PostgreSQL refuses year 0
 * and earlier, so nothing computed from a request may leave it either.
 */
export const INSTANT_RANGE_MS = Object.freeze({ min: -62_135_596_800_000, max: 253_402_300_799_999 });

/**
 * The length limit of every string field of every request, by proto field name (a name
 * means the same in every message of the API), in characters as {@link charLength} counts
 * them. The gRPC layer applies it to each decoded request before any handler runs, so no
 * check, log line or error message ever sees a longer value; the rules above (charset,
 * bytes, formats) still apply after it. A string field missing here stops the server from
 * starting (src/grpc/request-guard.ts), and the "Limits" table of docs/api.md is checked against it.
 * Map fields have one entry for their keys and one for their values.
 */
export const REQUEST_STRING_LIMITS: Readonly<Record<string, number>> = Object.freeze({
  agent_id: LIMITS.agentIdLength,
  id: LIMITS.idLength,
  endpoint_id: LIMITS.idLength,
  notification_type: LIMITS.notificationTypeLength,
  notification_types: LIMITS.notificationTypeLength,
  title: LIMITS.titleLength,
  content: LIMITS.contentLength,
  related_entity_type: LIMITS.relatedLength,
  related_entity_id: LIMITS.relatedLength,
  idempotency_key: LIMITS.idempotencyKeyLength,
  ordering_key: LIMITS.orderingKeyLength,
  webhook_url: LIMITS.urlLength,
  time_zone: LIMITS.timeZoneLength,
  start: LIMITS.clockTimeLength,
  end: LIMITS.clockTimeLength,
  'webhook_headers.key': LIMITS.headerNameLength,
  'webhook_headers.value': LIMITS.headerValueBytes,
  webhook_disabled_reason: LIMITS.disabledReasonLength,
  page_token: LIMITS.pageTokenLength,
  paths: LIMITS.maskPathLength,
  // EndpointService (proto/herald/v1/endpoint.proto).
  description: LIMITS.endpointDescriptionLength,
  url: LIMITS.urlLength,
  event_types: LIMITS.notificationTypeLength,
  // "metadata." and filterPathDepth segments of 64 characters joined by dots.
  field: 'metadata.'.length + LIMITS.filterPathDepth * 64 + (LIMITS.filterPathDepth - 1),
  values: LIMITS.filterValueLength,
  'headers.key': LIMITS.headerNameLength,
  'headers.value': LIMITS.headerValueBytes,
  disabled_reason: LIMITS.disabledReasonLength,
});

/**
 * `value` quoted for an error message: JSON string syntax (control characters and lone
 * surrogates escaped), cut after `max` characters with its full length said, so that a
 * hostile value never makes a message long. grpc-js clients never receive a status whose
 * message runs to ~100 KB (they wait for their deadline), and logs stay readable.
 */
export function quote(value: string, max: number = LIMITS.quoteLength): string {
  if (value.length <= max) return JSON.stringify(value);
  let head = '';
  let n = 0;
  for (const ch of value) {
    if (n === max) return `${JSON.stringify(`${head}…`)} (${charLength(value)} characters)`;
    head += ch;
    n++;
  }
  return JSON.stringify(value);
}

/** Refuses a string longer than `max` characters (code points). */
export function checkLength(field: string, value: string, max: number): void {
  // Code points never outnumber UTF-16 units, so the common case needs no count.
  if (value.length <= max) return;
  const n = charLength(value);
  if (n > max) throw new InvalidArgumentError(field, `must be at most ${max} characters, got ${n}`);
}

/** Counts Unicode code points, so "🚀" is one character as a person would count it. */
export function charLength(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

const AGENT_ID = /^[A-Za-z0-9._:@-]+$/;

export function checkAgentId(field: string, value: string): void {
  if (value === '') throw new InvalidArgumentError(field, 'is required');
  if (value.length > LIMITS.agentIdLength) throw new InvalidArgumentError(field, `must be at most ${LIMITS.agentIdLength} characters`);
  if (!AGENT_ID.test(value)) throw new InvalidArgumentError(field, 'may contain only letters, digits and . _ : @ -');
}

/** Endpoint ids are Herald's ("ep_" and a ULID); anything else is a mistake worth naming rather than a NOT_FOUND. */
export function checkEndpointId(field: string, id: string): void {
  if (id === '') throw new InvalidArgumentError(field, 'is required');
  if (!id.startsWith('ep_')) throw new InvalidArgumentError(field, `must be an endpoint id ("ep_…"), got ${quote(id)}`);
}

export function checkTimeZone(field: string, value: string): void {
  // luxon answers an unknown zone with an invalid DateTime instead of throwing,
  // so a typo would silently become UTC later: refuse it on write.
  if (!IANAZone.isValidZone(value)) throw new InvalidArgumentError(field, `${quote(value)} is not an IANA time zone such as Europe/Paris`);
}

export function checkClockTime(field: string, value: string): void {
  if (parseClockTime(value) === undefined) throw new InvalidArgumentError(field, `must be "HH:MM" between 00:00 and 23:59, got ${quote(value)}`);
}

export function checkRange(field: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(field, `must be between ${min} and ${max}, got ${value}`);
  }
}

/** The scheme rule of webhook URLs: `https://` always, `http://` when the operator allows it. */
export interface SchemePolicy {
  readonly allowHttp: boolean;
}

/**
 * The syntax of a webhook URL: length, absolute, scheme, no credentials. Returns the
 * parsed URL. Whether its host may be connected to is the outbound guard's question
 * (src/delivery/target-guard.ts), which calls this first.
 */
export function checkWebhookUrlSyntax(field: string, value: string, policy: SchemePolicy): URL {
  if (value.length > LIMITS.urlLength) throw new InvalidArgumentError(field, `must be at most ${LIMITS.urlLength} characters`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError(field, 'must be an absolute URL such as https://example.com/hooks/herald');
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && policy.allowHttp)) {
    throw new InvalidArgumentError(
      field,
      policy.allowHttp ? 'must use https:// or http://' : 'must use https:// (http:// is refused unless HERALD_ALLOW_HTTP_TARGETS=true)',
    );
  }
  if (url.username !== '' || url.password !== '') {
    throw new InvalidArgumentError(field, 'must not contain credentials; send them with webhook_headers (e.g. Authorization) instead');
  }
  return url;
}

const TYPE_ENTRY = /^(\*|[a-z0-9_.-]{1,99}\*|[a-z0-9_.-]{1,100})$/;

export function checkNotificationTypes(field: string, values: readonly string[]): void {
  if (values.length > LIMITS.notificationTypes) throw new InvalidArgumentError(field, `must have at most ${LIMITS.notificationTypes} entries`);
  values.forEach((v, i) => {
    if (!TYPE_ENTRY.test(v)) {
      throw new InvalidArgumentError(
        `${field}[${i}]`,
        `must be a type of [a-z0-9_.-] (at most ${LIMITS.notificationTypeLength} characters), a prefix ending in * such as "job.*", or "*"; got ${quote(v)}`,
      );
    }
  });
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// Visible ASCII, space, tab and obs-text (Latin-1, all Node's HTTP client
// sends); never CR, LF or NUL (header injection).
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade'];

/**
 * The headers Herald writes on every webhook, besides the configured hex-signature header.
 * The signer sets exactly these (a test holds it to that), and no custom header may use them.
 */
export const HERALD_HEADERS = [
  'content-type', 'user-agent', 'x-herald-event', 'x-herald-delivery', 'x-herald-endpoint', 'x-herald-ordering-key', 'x-herald-sequence',
  'webhook-id', 'webhook-timestamp', 'webhook-signature',
] as const;

/**
 * Headers that frame the request or steer its connection: the HTTP client computes them,
 * and a custom value would corrupt the request (`expect` would make it wait for a 100).
 */
const FRAMING = ['content-length', 'content-encoding', 'host', 'expect', ...HOP_BY_HOP];

/** Prefixes kept for Herald's present and future headers and for Standard Webhooks. */
const RESERVED_PREFIXES = ['webhook-', 'x-herald-'];

/**
 * Header names that Herald sets on every webhook, or that would break the
 * request's framing: nothing else may use them, not even the configured
 * signature header.
 */
export function clashesWithHeraldHeaders(name: string): boolean {
  const lower = name.toLowerCase();
  return (HERALD_HEADERS as readonly string[]).includes(lower) || FRAMING.includes(lower) || lower.startsWith('webhook-');
}

/**
 * Header names an agent's custom headers may not use; `signatureHeader` is the configured
 * hex-signature header. The one rule both write-time validation and the signer apply.
 */
export function isReservedHeader(name: string, signatureHeader: string): boolean {
  const lower = name.toLowerCase();
  return clashesWithHeraldHeaders(lower) || RESERVED_PREFIXES.some((p) => lower.startsWith(p)) || lower === signatureHeader.toLowerCase();
}

const RESERVED_SUMMARY = [
  ...HERALD_HEADERS.filter((h) => !RESERVED_PREFIXES.some((p) => h.startsWith(p))),
  ...FRAMING.filter((h) => !HOP_BY_HOP.includes(h)),
  ...RESERVED_PREFIXES.map((p) => `${p}*`),
  'the signature header',
  'hop-by-hop headers',
].join(', ');

export function checkHeaders(field: string, headers: Readonly<Record<string, string>>, signatureHeader: string): void {
  const names = Object.keys(headers);
  if (names.length > LIMITS.headers) throw new InvalidArgumentError(field, `must have at most ${LIMITS.headers} headers`);
  const seen = new Set<string>();
  for (const name of names) {
    if (!TOKEN.test(name) || name.length > LIMITS.headerNameLength) {
      throw new InvalidArgumentError(`${field}[${quote(name, 60)}]`, 'is not a valid HTTP header name (letters, digits and !#$%&\'*+.^_`|~-)');
    }
    const lower = name.toLowerCase();
    if (isReservedHeader(lower, signatureHeader)) {
      throw new InvalidArgumentError(`${field}[${quote(name, 60)}]`, `is set by Herald and cannot be overridden (reserved: ${RESERVED_SUMMARY})`);
    }
    if (seen.has(lower)) throw new InvalidArgumentError(`${field}[${quote(name, 60)}]`, 'appears twice (header names are case-insensitive)');
    seen.add(lower);
    const value = headers[name] ?? '';
    if (Buffer.byteLength(value, 'utf8') > LIMITS.headerValueBytes) {
      throw new InvalidArgumentError(`${field}[${quote(name, 60)}]`, `value must be at most ${LIMITS.headerValueBytes} bytes`);
    }
    if (!FIELD_VALUE.test(value)) {
      throw new InvalidArgumentError(`${field}[${quote(name, 60)}]`, 'value must be printable Latin-1 text: no control characters such as CR or LF, and nothing beyond U+00FF (percent-encode it)');
    }
  }
}

const NOTIFICATION_TYPE = /^[a-z0-9_.-]{1,100}$/;

export function checkNotificationType(field: string, value: string): void {
  if (value === '') throw new InvalidArgumentError(field, 'is required');
  if (!NOTIFICATION_TYPE.test(value)) throw new InvalidArgumentError(field, 'must be 1-100 characters of a-z, 0-9, _ . -');
}

export function checkText(field: string, value: string, min: number, max: number): void {
  const n = charLength(value);
  if (n < min) throw new InvalidArgumentError(field, min === 1 ? 'is required' : `must be at least ${min} characters`);
  if (n > max) throw new InvalidArgumentError(field, `must be at most ${max} characters, got ${n}`);
  if (value.includes('\u0000')) throw new InvalidArgumentError(field, 'must not contain NUL characters');
}

/** Visible ASCII and inner spaces: the key is sent as a header value (X-Herald-Ordering-Key), which must not be trimmed or re-encoded. */
const ORDERING_KEY = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/;

/** An ordering key: "" means none (null); otherwise 1-200 printable ASCII characters without leading or trailing spaces. */
export function checkOrderingKey(field: string, value: string): string | null {
  if (value === '') return null;
  checkText(field, value, 1, LIMITS.orderingKeyLength);
  if (!ORDERING_KEY.test(value)) {
    throw new InvalidArgumentError(field, `must be printable ASCII without leading or trailing spaces (it is sent as the X-Herald-Ordering-Key header), got ${quote(value)}`);
  }
  return value;
}

export function checkMetadata(field: string, value: JsonObject): void {
  const bytes = Buffer.byteLength(JSON.stringify(value), 'utf8');
  if (bytes > LIMITS.metadataBytes) throw new InvalidArgumentError(field, `must be at most ${LIMITS.metadataBytes} bytes as JSON, got ${bytes}`);
}

/** Page size: 0 means the default; negative or above the maximum is refused. */
export function pageSize(field: string, value: number): number {
  if (value === 0) return LIMITS.pageSizeDefault;
  checkRange(field, value, 1, LIMITS.pageSizeMax);
  return value;
}
