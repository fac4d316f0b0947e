/**
 * Verifying Herald's webhooks in a Node receiver, for both schemes Herald signs with:
 *
 * - Standard Webhooks: `webhook-id`, `webhook-timestamp` (Unix seconds) and
 *   `webhook-signature: v1,<base64 HMAC-SHA256("<id>.<timestamp>.<body>")>`, one value per
 *   valid secret, space-separated (several during a rotation). A `whsec_` secret keys the
 *   HMAC with the base64-decoded part after the prefix; any other secret with its UTF-8 bytes.
 * - Hex: `X-Herald-Signature: sha256=<hex HMAC-SHA256(body)>`, keyed by the secret string's
 *   UTF-8 bytes exactly as written (`whsec_` included). It carries no timestamp, so it gives no
 *   replay protection; the header's name follows the server's HERALD_SIGNATURE_HEADER.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

const WHSEC_PREFIX = 'whsec_';
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** Headers as Node's `IncomingMessage.headers` gives them (lower-case keys), or a Fetch `Headers`. */
export type WebhookHeaders = Readonly<Record<string, string | readonly string[] | undefined>> | { get(name: string): string | null };

/** Options of {@link verifyWebhook}. */
export interface VerifyWebhookOptions {
  /**
   * How far `webhook-timestamp` may be from now, in seconds, either way. Default 300. A
   * request outside the window is refused even with a valid signature: it may be a replay.
   */
  readonly toleranceSeconds?: number;
  /** Name of the hex-signature header, as set by HERALD_SIGNATURE_HEADER. Default `X-Herald-Signature`. */
  readonly signatureHeader?: string;
  /**
   * Which scheme to accept. Default `auto`: Standard Webhooks when the request carries
   * `webhook-signature` (then the hex header is not consulted, so the replay window cannot be
   * sidestepped), otherwise the hex header. `standard-webhooks` refuses hex-only requests.
   */
  readonly scheme?: 'auto' | 'standard-webhooks' | 'hex';
  /** The current time, for tests. Default `new Date()`. */
  readonly now?: Date;
}

/** Why {@link checkWebhook} refused a request. */
export type WebhookFailure =
  | 'missing_signature'
  | 'missing_headers'
  | 'bad_timestamp'
  | 'timestamp_out_of_tolerance'
  | 'signature_mismatch';

/** The outcome of {@link checkWebhook}. */
export type WebhookCheck =
  | { readonly ok: true; readonly scheme: 'standard-webhooks' | 'hex' }
  | { readonly ok: false; readonly reason: WebhookFailure };

/**
 * True when the request is a webhook Herald signed with one of `secret`, and (for Standard
 * Webhooks) sent within `toleranceSeconds` of now; false otherwise. See {@link checkWebhook}
 * for the reason of a refusal.
 *
 * @param rawBody - the body exactly as received: a string or the Buffer you read, never the
 *   parsed JSON (re-serialising changes the bytes and breaks the signature).
 * @param headers - the request's headers (`req.headers`).
 * @param secret - the agent's secret (from GetWebhookSecret or RotateWebhookSecret), or several
 *   (e.g. the new and the previous one while you switch).
 * @throws TypeError for a programming error: a body that is not a string or bytes, an empty
 *   secret, a `whsec_` secret that is not valid base64, or a bad option.
 */
export function verifyWebhook(rawBody: string | Uint8Array, headers: WebhookHeaders, secret: string | readonly string[], options: VerifyWebhookOptions = {}): boolean {
  return checkWebhook(rawBody, headers, secret, options).ok;
}

/** {@link verifyWebhook}, saying which scheme matched or why the request was refused. */
export function checkWebhook(rawBody: string | Uint8Array, headers: WebhookHeaders, secret: string | readonly string[], options: VerifyWebhookOptions = {}): WebhookCheck {
  const body = bodyBytes(rawBody);
  const secrets = secretList(secret);
  const toleranceSeconds = options.toleranceSeconds ?? 300;
  if (!Number.isFinite(toleranceSeconds) || toleranceSeconds < 0) {
    throw new TypeError(`toleranceSeconds must be a non-negative number of seconds, got ${toleranceSeconds}`);
  }
  const scheme = options.scheme ?? 'auto';
  const signatureHeader = (options.signatureHeader ?? 'X-Herald-Signature').toLowerCase();
  const nowSeconds = Math.floor((options.now ?? new Date()).getTime() / 1000);

  const standard = headerValues(headers, 'webhook-signature');
  if (scheme === 'standard-webhooks' || (scheme === 'auto' && standard.length > 0)) {
    if (standard.length === 0) return { ok: false, reason: 'missing_signature' };
    return checkStandard(body, headers, standard, secrets, toleranceSeconds, nowSeconds);
  }
  const hex = headerValues(headers, signatureHeader);
  if (hex.length === 0) return { ok: false, reason: 'missing_signature' };
  // A repeated header is ambiguous; a sender that means one signature sends it once.
  if (hex.length !== 1) return { ok: false, reason: 'signature_mismatch' };
  const given = Buffer.from(hex[0]!.trim(), 'utf8');
  for (const s of secrets) {
    const expected = Buffer.from(`sha256=${createHmac('sha256', Buffer.from(s, 'utf8')).update(body).digest('hex')}`, 'utf8');
    if (given.length === expected.length && timingSafeEqual(given, expected)) return { ok: true, scheme: 'hex' };
  }
  return { ok: false, reason: 'signature_mismatch' };
}

function checkStandard(
  body: Buffer,
  headers: WebhookHeaders,
  signatureValues: readonly string[],
  secrets: readonly string[],
  toleranceSeconds: number,
  nowSeconds: number,
): WebhookCheck {
  const ids = headerValues(headers, 'webhook-id');
  const timestamps = headerValues(headers, 'webhook-timestamp');
  if (ids.length !== 1 || timestamps.length !== 1) return { ok: false, reason: 'missing_headers' };
  const timestamp = timestamps[0]!.trim();
  if (!/^\d{1,15}$/.test(timestamp)) return { ok: false, reason: 'bad_timestamp' };
  if (Math.abs(nowSeconds - Number(timestamp)) > toleranceSeconds) return { ok: false, reason: 'timestamp_out_of_tolerance' };

  const given = signatureValues
    .flatMap((value) => value.split(' '))
    .filter((part) => part.startsWith('v1,'))
    .map((part) => Buffer.from(part.slice(3), 'base64'));
  const prefix = Buffer.from(`${ids[0]!}.${timestamp}.`, 'utf8');
  for (const s of secrets) {
    const expected = createHmac('sha256', standardKey(s)).update(prefix).update(body).digest();
    if (given.some((signature) => signature.length === expected.length && timingSafeEqual(signature, expected))) {
      return { ok: true, scheme: 'standard-webhooks' };
    }
  }
  return { ok: false, reason: 'signature_mismatch' };
}

function bodyBytes(rawBody: unknown): Buffer {
  if (typeof rawBody === 'string') return Buffer.from(rawBody, 'utf8');
  if (rawBody instanceof Uint8Array) return Buffer.from(rawBody.buffer, rawBody.byteOffset, rawBody.byteLength);
  throw new TypeError('rawBody must be the request body exactly as received (a string or a Buffer), not parsed JSON');
}

function secretList(secret: unknown): readonly string[] {
  const list: unknown[] = Array.isArray(secret) ? secret : [secret];
  if (list.length === 0) throw new TypeError('at least one secret is required');
  for (const s of list) {
    if (typeof s !== 'string' || s.length === 0) throw new TypeError('a webhook secret must be a non-empty string');
  }
  return list as string[];
}

function standardKey(secret: string): Buffer {
  if (!secret.startsWith(WHSEC_PREFIX)) return Buffer.from(secret, 'utf8');
  const encoded = secret.slice(WHSEC_PREFIX.length);
  // Buffer.from(…, 'base64') skips characters it does not know, which would verify against a
  // key the sender never used; refuse instead (without quoting the secret).
  if (!BASE64.test(encoded) || encoded.replace(/=+$/, '').length % 4 === 1) {
    throw new TypeError('a whsec_ secret must be followed by valid, non-empty base64');
  }
  return Buffer.from(encoded, 'base64');
}

/** Every non-empty value of a header, looked up case-insensitively. */
function headerValues(headers: WebhookHeaders, name: string): string[] {
  if (typeof headers.get === 'function') {
    const value = (headers as { get(name: string): string | null }).get(name);
    return value === null || value === '' ? [] : [value];
  }
  const record = headers as Readonly<Record<string, string | readonly string[] | undefined>>;
  const values: string[] = [];
  for (const key of Object.keys(record)) {
    if (key.toLowerCase() !== name) continue;
    const value = record[key];
    if (typeof value === 'string') values.push(value);
    else if (Array.isArray(value)) values.push(...(value as readonly string[]));
  }
  return values.filter((v) => v !== '');
}

/**
 * A webhook's place in its endpoint's order of one key: `X-Herald-Ordering-Key` and
 * `X-Herald-Sequence`, sent by an `ORDERING_PER_KEY` endpoint for a notification created
 * with an `ordering_key`. Herald sends a key's webhooks one at a time in sequence order; a
 * manual RetryDelivery of an old FAILED one arrives late with its own lower number.
 */
export interface WebhookOrdering {
  readonly key: string;
  /** 1, 2, 3… in the order Herald acknowledged the creates; the same on every attempt. */
  readonly sequence: number;
}

/** The webhook's {@link WebhookOrdering}, or null when it has none (an unordered endpoint, or no key) or the headers are malformed. */
export function webhookOrdering(headers: WebhookHeaders): WebhookOrdering | null {
  const keys = headerValues(headers, 'x-herald-ordering-key');
  const sequences = headerValues(headers, 'x-herald-sequence');
  if (keys.length !== 1 || sequences.length !== 1 || !/^[1-9]\d{0,15}$/.test(sequences[0]!)) return null;
  return { key: keys[0]!, sequence: Number(sequences[0]) };
}

/** A notification as a webhook carries it: alone in a `notification` event, or as an item of a `digest`. */
export interface WebhookNotification {
  readonly id: string;
  readonly agent_id: string;
  readonly notification_type: string;
  readonly title: string;
  readonly content: string;
  /** `low`, `normal`, `high` or `urgent`. */
  readonly priority: string;
  readonly read: boolean;
  /** RFC 3339, UTC, milliseconds. */
  readonly created_at: string;
  readonly read_at: string | null;
  readonly related_entity_type: string | null;
  readonly related_entity_id: string | null;
  readonly metadata: Readonly<Record<string, unknown>>;
}

/** The body of one notification's webhook (`X-Herald-Event: notification`). */
export interface NotificationWebhook {
  readonly event: 'notification';
  readonly notification: WebhookNotification;
  readonly timestamp: string;
  readonly platform: 'herald';
}

/** The body of a digest (`X-Herald-Event: digest`): a quiet window's notifications, oldest first. */
export interface DigestWebhook {
  readonly event: 'digest';
  readonly digest: {
    /** The delivery id, as in `X-Herald-Delivery`: de-duplicate on it. */
    readonly id: string;
    readonly agent_id: string;
    readonly window_start: string;
    /** When the digest was due: the end of the quiet window. */
    readonly window_end: string;
    readonly count: number;
    readonly notifications: readonly WebhookNotification[];
  };
  readonly timestamp: string;
  readonly platform: 'herald';
}

/** The body of `SendTestWebhook` (`X-Herald-Event: test`). */
export interface TestWebhook {
  readonly event: 'test';
  readonly test: { readonly agent_id: string; readonly delivery_id: string; readonly message: string };
  readonly timestamp: string;
  readonly platform: 'herald';
}

/** Every body Herald sends; switch on `event`. */
export type WebhookBody = NotificationWebhook | DigestWebhook | TestWebhook;

const WEBHOOK_EVENTS: ReadonlySet<string> = new Set(['notification', 'digest', 'test']);

/**
 * The body of a webhook as its type, after {@link verifyWebhook} accepted it.
 *
 * @throws TypeError when the body is not JSON or names an event this version does not know
 *   (a newer Herald may add events: handle the error, do not retry the request on it).
 */
export function parseWebhook(rawBody: string | Uint8Array): WebhookBody {
  const text = typeof rawBody === 'string' ? rawBody : bodyBytes(rawBody).toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new TypeError('the webhook body is not JSON');
  }
  const event = typeof parsed === 'object' && parsed !== null ? (parsed as { event?: unknown }).event : undefined;
  if (typeof event !== 'string' || !WEBHOOK_EVENTS.has(event)) {
    throw new TypeError(`unknown webhook event ${JSON.stringify(String(event)).slice(0, 60)}; known: ${[...WEBHOOK_EVENTS].join(', ')}`);
  }
  return parsed as WebhookBody;
}
