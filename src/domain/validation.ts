/**
 * The rules every input must meet. Pure: each check returns nothing or
 * throws InvalidArgumentError naming the field (its proto path) and the rule,
 * so a caller can fix the request from the message alone.
 */
import { BlockList, isIP } from 'node:net';
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
  pageSizeMax: 500,
  pageSizeDefault: 50,
});

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

export function checkTimeZone(field: string, value: string): void {
  // luxon answers an unknown zone with an invalid DateTime instead of throwing,
  // so a typo would silently become UTC later: refuse it on write.
  if (!IANAZone.isValidZone(value)) throw new InvalidArgumentError(field, `"${value}" is not an IANA time zone such as Europe/Paris`);
}

export function checkClockTime(field: string, value: string): void {
  if (parseClockTime(value) === undefined) throw new InvalidArgumentError(field, `must be "HH:MM" between 00:00 and 23:59, got "${value}"`);
}

export function checkRange(field: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(field, `must be between ${min} and ${max}, got ${value}`);
  }
}

/** Addresses a webhook must not reach unless the operator allows private targets. */
const PRIVATE = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16],
  ['172.16.0.0', 12], ['192.0.0.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) PRIVATE.addSubnet(net, bits, 'ipv4');
// IPv6: unspecified, loopback, IPv4-compatible (::/96), NAT64 (64:ff9b::/96)
// and 6to4 (2002::/16), which can carry a private IPv4 address inside, unique
// local, link-local, site-local and multicast.
for (const [net, bits] of [
  ['::', 96], ['::1', 128], ['64:ff9b::', 96], ['2002::', 16], ['fc00::', 7], ['fe80::', 10], ['fec0::', 10], ['ff00::', 8],
] as const) PRIVATE.addSubnet(net, bits, 'ipv6');

/** True for loopback, private, link-local and other non-public IP literals and localhost names. */
export function isPrivateHost(hostname: string): boolean {
  // A trailing dot is the fully qualified form of the same name ("localhost.").
  const host = hostname.replace(/^\[|\]$/g, '').replace(/\.$/, '').toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  const family = isIP(host);
  if (family === 4) return PRIVATE.check(host, 'ipv4');
  if (family === 6) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(host);
    if (mapped?.[1] !== undefined) return PRIVATE.check(mapped[1], 'ipv4');
    return PRIVATE.check(host, 'ipv6');
  }
  return false;
}

export interface TargetPolicy {
  readonly allowHttp: boolean;
  readonly allowPrivate: boolean;
}

/**
 * Checks a webhook URL at write time. Host names that resolve to private
 * addresses are not caught here (that needs DNS at connect time); literal
 * addresses and localhost names are.
 */
export function checkWebhookUrl(field: string, value: string, policy: TargetPolicy): void {
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
  if (!policy.allowPrivate && isPrivateHost(url.hostname)) {
    throw new InvalidArgumentError(field, `host "${url.hostname}" is loopback or private (refused unless HERALD_ALLOW_PRIVATE_TARGETS=true)`);
  }
}

const TYPE_ENTRY = /^(\*|[a-z0-9_.-]{1,99}\*|[a-z0-9_.-]{1,100})$/;

export function checkNotificationTypes(field: string, values: readonly string[]): void {
  if (values.length > LIMITS.notificationTypes) throw new InvalidArgumentError(field, `must have at most ${LIMITS.notificationTypes} entries`);
  values.forEach((v, i) => {
    if (!TYPE_ENTRY.test(v)) {
      throw new InvalidArgumentError(
        `${field}[${i}]`,
        `must be a type of [a-z0-9_.-] (at most ${LIMITS.notificationTypeLength} characters), a prefix ending in * such as "job.*", or "*"; got "${v}"`,
      );
    }
  });
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// Visible ASCII, space, tab and obs-text (Latin-1, all Node's HTTP client
// sends); never CR, LF or NUL (header injection).
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade'];
const FRAMING = ['content-type', 'content-length', 'content-encoding', 'host', 'user-agent', ...HOP_BY_HOP];

/**
 * Header names that Herald sets on every webhook, or that would break the
 * request's framing: nothing else may use them, not even the configured
 * signature header.
 */
export function clashesWithHeraldHeaders(name: string): boolean {
  const lower = name.toLowerCase();
  return FRAMING.includes(lower) || lower.startsWith('webhook-') || lower === 'x-herald-event' || lower === 'x-herald-delivery';
}

/** Header names an agent's custom headers may not use; `signatureHeader` is the configured hex-signature header. */
export function isReservedHeader(name: string, signatureHeader: string): boolean {
  const lower = name.toLowerCase();
  return clashesWithHeraldHeaders(lower) || lower.startsWith('x-herald-') || lower === signatureHeader.toLowerCase();
}

export function checkHeaders(field: string, headers: Readonly<Record<string, string>>, signatureHeader: string): void {
  const names = Object.keys(headers);
  if (names.length > LIMITS.headers) throw new InvalidArgumentError(field, `must have at most ${LIMITS.headers} headers`);
  const seen = new Set<string>();
  for (const name of names) {
    if (!TOKEN.test(name) || name.length > LIMITS.headerNameLength) {
      throw new InvalidArgumentError(`${field}["${name.slice(0, 60)}"]`, 'is not a valid HTTP header name (letters, digits and !#$%&\'*+.^_`|~-)');
    }
    const lower = name.toLowerCase();
    if (isReservedHeader(lower, signatureHeader)) {
      throw new InvalidArgumentError(`${field}["${name}"]`, 'is set by Herald and cannot be overridden (reserved: content-type, content-length, host, user-agent, webhook-*, x-herald-*, hop-by-hop headers)');
    }
    if (seen.has(lower)) throw new InvalidArgumentError(`${field}["${name}"]`, 'appears twice (header names are case-insensitive)');
    seen.add(lower);
    const value = headers[name] ?? '';
    if (Buffer.byteLength(value, 'utf8') > LIMITS.headerValueBytes) {
      throw new InvalidArgumentError(`${field}["${name}"]`, `value must be at most ${LIMITS.headerValueBytes} bytes`);
    }
    if (!FIELD_VALUE.test(value)) {
      throw new InvalidArgumentError(`${field}["${name}"]`, 'value must be printable Latin-1 text: no control characters such as CR or LF, and nothing beyond U+00FF (percent-encode it)');
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
