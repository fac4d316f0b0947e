import { createHmac, randomBytes } from 'node:crypto';
import { isReservedHeader } from '../domain/validation.js';
import { orderingHeaders } from '../domain/ordering.js';
import type { DeliveryOrdering } from '../domain/types.js';

const WHSEC_PREFIX = 'whsec_';
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * The legacy Herald signature: `"sha256=" + hex(HMAC-SHA256(secret, body))`.
 *
 * The key is the secret string's UTF-8 bytes exactly as written, `whsec_` prefix included,
 * because that is what receivers built for the original platform compute.
 *
 * @param secret - the signing secret as stored.
 * @param body - the exact bytes sent as the request body.
 */
export function hexSignature(secret: string, body: Buffer): string {
  requireSecret(secret);
  return `sha256=${createHmac('sha256', Buffer.from(secret, 'utf8')).update(body).digest('hex')}`;
}

/**
 * The Standard Webhooks `webhook-signature` value: `v1,<base64 HMAC-SHA256>` for each
 * secret, space-separated, in the order given (newest first during a rotation, so that a
 * receiver that only checks the first value keeps working with the current secret).
 *
 * The signed content is `${id}.${timestampSeconds}.` followed by the body bytes.
 *
 * Keys: for a `whsec_` secret, the base64 decoding of the part after the prefix, as the
 * specification says. A secret without the prefix (an operator-provided `WEBHOOK_SECRET`
 * such as `"your-secret-key"`) is not base64 by intent, so its UTF-8 bytes are the key;
 * a receiver using a Standard Webhooks library must then be given the raw key bytes.
 *
 * @param secrets - one or more secrets, newest first.
 * @param id - the webhook id (Herald's stable delivery id).
 * @param timestampSeconds - the send time in whole Unix seconds.
 * @param body - the exact bytes sent as the request body.
 * @throws TypeError for an empty list, an empty secret or a `whsec_` secret that is not
 *   valid base64 (the message never contains the secret).
 */
export function standardWebhookSignature(
  secrets: readonly string[],
  id: string,
  timestampSeconds: number,
  body: Buffer,
): string {
  if (secrets.length === 0) {
    throw new TypeError('at least one signing secret is required');
  }
  if (!Number.isSafeInteger(timestampSeconds) || timestampSeconds < 0) {
    throw new RangeError(`timestampSeconds must be a non-negative integer, got ${timestampSeconds}`);
  }
  const prefix = Buffer.from(`${id}.${timestampSeconds}.`, 'utf8');
  return secrets
    .map((secret) => `v1,${createHmac('sha256', standardWebhookKey(secret)).update(prefix).update(body).digest('base64')}`)
    .join(' ');
}

function requireSecret(secret: string): void {
  if (secret.length === 0) {
    throw new TypeError('a signing secret must not be empty');
  }
}

function standardWebhookKey(secret: string): Buffer {
  requireSecret(secret);
  if (!secret.startsWith(WHSEC_PREFIX)) {
    return Buffer.from(secret, 'utf8');
  }
  const encoded = secret.slice(WHSEC_PREFIX.length);
  // Buffer.from(…, 'base64') silently skips invalid characters, which would sign with a
  // key no receiver can reproduce; refuse instead.
  const unpadded = encoded.replace(/=+$/, '');
  if (!BASE64.test(encoded) || unpadded.length % 4 === 1) {
    throw new TypeError('a whsec_ signing secret must be followed by valid, non-empty base64');
  }
  return Buffer.from(encoded, 'base64');
}

/**
 * A new Standard Webhooks secret: `"whsec_"` + base64 of 32 random bytes (256 bits, as
 * long as the HMAC-SHA256 output, above the 24 bytes the design asks for).
 */
export function generateWebhookSecret(): string {
  return `${WHSEC_PREFIX}${randomBytes(32).toString('base64')}`;
}

/** Input to {@link signedHeaders}. */
export interface SignedHeadersInput {
  /** Stable delivery id: `X-Herald-Delivery` and `webhook-id`, the receiver's idempotency key. */
  deliveryId: string;
  /** Event name for `X-Herald-Event`, e.g. `"notification"`. */
  eventType: string;
  /** The exact body bytes that will be sent. */
  body: Buffer;
  /** Valid secrets, newest first; `[0]` is the current one and alone signs the hex header. */
  secrets: readonly string[];
  /** Send time in whole Unix seconds (`webhook-timestamp`). */
  timestampSeconds: number;
  /** Name of the hex-signature header, e.g. `"X-Herald-Signature"`. */
  signatureHeader: string;
  /** `User-Agent`, e.g. `"Herald-Webhook/0.1.0"`. */
  userAgent: string;
  /** Per-agent headers; they can never replace a header Herald sets (see {@link signedHeaders}). */
  customHeaders?: Record<string, string>;
  /** The endpoint the delivery goes to, sent as `X-Herald-Endpoint` (a delivery of an agent without endpoints has none). */
  endpointId?: string;
  /** Its place in its endpoint's order of one key, sent as `X-Herald-Ordering-Key` and `X-Herald-Sequence` (PER_KEY endpoints only). */
  ordering?: DeliveryOrdering;
}

/**
 * All headers of a webhook request: the agent's custom headers, then `Content-Type`,
 * `User-Agent`, `X-Herald-Event`, `X-Herald-Delivery`, `X-Herald-Endpoint`, `X-Herald-Ordering-Key` and
 * `X-Herald-Sequence` (a delivery of a PER_KEY endpoint with a key), the hex signature header and the
 * Standard Webhooks headers `webhook-id`, `webhook-timestamp`, `webhook-signature`.
 *
 * A custom header whose name is reserved ({@link isReservedHeader}, the same rule that
 * refuses it on write) is dropped: one stored before a rule was added must still never
 * forge or replace a signature or the delivery id, nor break the request's framing.
 *
 * @throws TypeError when `secrets` is empty or holds an unusable secret.
 */
export function signedHeaders(input: SignedHeadersInput): Record<string, string> {
  const [current] = input.secrets;
  if (current === undefined) {
    throw new TypeError('at least one signing secret is required');
  }
  const own: Record<string, string> = {
    'Content-Type': 'application/json',
    'User-Agent': input.userAgent,
    'X-Herald-Event': input.eventType,
    'X-Herald-Delivery': input.deliveryId,
    ...(input.endpointId === undefined ? {} : { 'X-Herald-Endpoint': input.endpointId }),
    ...orderingHeaders(input.ordering ?? null),
    [input.signatureHeader]: hexSignature(current, input.body),
    'webhook-id': input.deliveryId,
    'webhook-timestamp': String(input.timestampSeconds),
    'webhook-signature': standardWebhookSignature(input.secrets, input.deliveryId, input.timestampSeconds, input.body),
  };
  // Keyed by lower-case name so that two custom spellings of one header cannot both be sent.
  const custom = new Map<string, [string, string]>();
  for (const [name, value] of Object.entries(input.customHeaders ?? {})) {
    const key = name.toLowerCase();
    if (!isReservedHeader(key, input.signatureHeader)) {
      custom.set(key, [name, value]);
    }
  }
  const headers: Record<string, string> = {};
  for (const [name, value] of custom.values()) {
    headers[name] = value;
  }
  return Object.assign(headers, own);
}
