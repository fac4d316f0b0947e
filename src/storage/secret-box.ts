/**
 * Encryption of secrets at rest (webhook secrets, webhook_headers values):
 * AES-256-GCM with a random 12-byte IV per value, the operator's key chosen
 * by the key id written into each value, and the value bound to its row and
 * column through GCM's additional data, so that a ciphertext copied into
 * another agent's row or another column does not open.
 *
 * Stored forms of one value:
 * - `enc:v1:<key id>:<base64 of iv | ciphertext | tag>` when a key is set;
 * - the plain text, as the first release stored it, without a key;
 * - `plain:<text>` without a key, for a plain text that itself begins with
 *   `enc:` or `plain:` (so that it cannot be taken for one of the forms above).
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { FailedPreconditionError } from '../errors.js';

const ENCRYPTED = 'enc:';
const V1 = 'enc:v1:';
const ESCAPED = 'plain:';
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** The key length AES-256 needs; HERALD_SECRET_KEY is checked against it in config.ts. */
export const SECRET_KEY_BYTES = 32;

/** Where a stored value lives: its additional data, and the words an error uses for it. */
export interface SealedPlace {
  readonly tenantId: string;
  readonly agentId: string;
  /** The column's name, or for a header `webhook_headers.<lower-case name>`. */
  readonly field: string;
}

/**
 * A stored value Herald cannot open: encrypted with a key it was not given,
 * altered, or moved from another row. The message names the agent, the field
 * and the key id, never the value; it is FAILED_PRECONDITION because the
 * operator can act on it (give the missing key as HERALD_SECRET_KEY_PREVIOUS).
 */
export class SealedValueError extends FailedPreconditionError {
  constructor(place: SealedPlace, problem: string) {
    super(`the stored ${place.field} of agent "${place.agentId}" ${problem}`);
    this.name = 'SealedValueError';
  }
}

/** A short public name of a key: the first 6 bytes of a SHA-256 of it, in hex. */
export function keyIdOf(key: Buffer): string {
  return createHash('sha256').update('herald secret key id\0').update(key).digest('hex').slice(0, 12);
}

function additionalData(place: SealedPlace): Buffer {
  // JSON keeps the parts apart whatever characters an agent id holds.
  return Buffer.from(JSON.stringify(['herald', place.tenantId, place.agentId, place.field]), 'utf8');
}

/**
 * The keys of this process: `current` seals every new value; `previous`
 * (HERALD_SECRET_KEY_PREVIOUS) only opens values written before a key
 * rotation. Without a current key values are stored as they are.
 */
export class SecretBox {
  private readonly keys = new Map<string, Buffer>();
  /** Key id of the key that seals, or null when values are stored in plain text. */
  readonly currentKeyId: string | null;

  constructor(current: Buffer | null = null, previous: Buffer | null = null) {
    for (const key of [current, previous]) {
      if (key !== null && key.length !== SECRET_KEY_BYTES) throw new Error(`a secret key must be ${SECRET_KEY_BYTES} bytes, got ${key.length}`);
    }
    this.currentKeyId = current === null ? null : keyIdOf(current);
    if (previous !== null) this.keys.set(keyIdOf(previous), previous);
    if (current !== null) this.keys.set(keyIdOf(current), current);
  }

  /** The stored form of `plain` at `place`. */
  seal(plain: string, place: SealedPlace): string {
    if (this.currentKeyId === null) return plain.startsWith(ENCRYPTED) || plain.startsWith(ESCAPED) ? ESCAPED + plain : plain;
    const key = this.keys.get(this.currentKeyId)!;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(additionalData(place));
    const ciphertext = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return `${V1}${this.currentKeyId}:${Buffer.concat([iv, ciphertext, cipher.getAuthTag()]).toString('base64')}`;
  }

  /** The plain text of a stored value; throws SealedValueError when it cannot be opened. */
  open(stored: string, place: SealedPlace): string {
    if (stored.startsWith(ESCAPED)) return stored.slice(ESCAPED.length);
    if (!stored.startsWith(ENCRYPTED)) return stored;
    const match = /^enc:v1:([0-9a-f]{12}):([A-Za-z0-9+/]+={0,2})$/.exec(stored);
    if (!stored.startsWith(V1) || match === null) throw new SealedValueError(place, 'is not in a form this version of Herald reads (expected enc:v1:<key id>:<base64>)');
    const keyId = match[1]!;
    const key = this.keys.get(keyId);
    if (key === undefined) {
      const have = this.currentKeyId === null ? 'HERALD_SECRET_KEY is not set' : 'it is neither HERALD_SECRET_KEY nor HERALD_SECRET_KEY_PREVIOUS';
      throw new SealedValueError(place, `was encrypted with key id ${keyId}, which this process does not have (${have})`);
    }
    const bytes = Buffer.from(match[2]!, 'base64');
    if (bytes.length < IV_BYTES + TAG_BYTES) throw new SealedValueError(place, `is too short to be a value encrypted with key id ${keyId}`);
    const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
    decipher.setAAD(additionalData(place));
    decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(bytes.subarray(IV_BYTES, bytes.length - TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      throw new SealedValueError(place, `does not decrypt with key id ${keyId}: it was altered, or copied from another agent or field`);
    }
  }

  /** Whether `stored` is already in the form `seal` writes now (so re-encrypting it changes nothing). */
  isCurrent(stored: string): boolean {
    if (this.currentKeyId === null) return !stored.startsWith(ENCRYPTED);
    return stored.startsWith(`${V1}${this.currentKeyId}:`);
  }

  /**
   * A value kept as it is stored (an update that sends a masked header back):
   * left alone when encrypted, sealed when it is plain text and a key is set.
   */
  keep(stored: string, place: SealedPlace): string {
    if (stored.startsWith(ENCRYPTED) || this.currentKeyId === null) return stored;
    return this.seal(this.open(stored, place), place);
  }
}
