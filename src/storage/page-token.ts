/**
 * Opaque page tokens. A token carries the sort key of the last row returned
 * and a fingerprint of the filters it was issued for, so a token reused with
 * other filters is refused instead of silently skipping rows.
 */
import { createHash } from 'node:crypto';
import { INSTANT_RANGE_MS } from '../domain/validation.js';
import { InvalidArgumentError } from '../errors.js';

/** Longest key part a token may carry: ids and ISO times are far shorter. Bounds what a crafted token can make a query compare. */
const MAX_KEY_LENGTH = 256;

function fingerprint(filters: unknown): string {
  return createHash('sha256').update(JSON.stringify(filters)).digest('base64url').slice(0, 12);
}

export function encodePageToken(key: readonly string[], filters: unknown): string {
  return Buffer.from(JSON.stringify({ k: key, f: fingerprint(filters) }), 'utf8').toString('base64url');
}

/** Returns the sort key inside `token`, or null for an empty token (first page). */
export function decodePageToken(field: string, token: string, filters: unknown, keyLength: number): string[] | null {
  if (token === '') return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidArgumentError(field, 'is not a token returned by this API; start again with an empty page_token');
  }
  const token_ = parsed as { k?: unknown; f?: unknown } | null;
  const key = token_?.k;
  if (
    typeof token_ !== 'object' || token_ === null || typeof token_.f !== 'string' ||
    !Array.isArray(key) || key.length !== keyLength ||
    // PostgreSQL text cannot hold NUL: a crafted key with one would fail the query instead of matching nothing.
    !key.every((x: unknown): x is string => typeof x === 'string' && x.length <= MAX_KEY_LENGTH && !x.includes('\u0000'))
  ) {
    throw new InvalidArgumentError(field, 'is not a token returned by this API; start again with an empty page_token');
  }
  if (token_.f !== fingerprint(filters)) {
    throw new InvalidArgumentError(field, 'was issued for different filters; repeat the request with the same filters or an empty page_token');
  }
  return key;
}

/** The sort key of lists ordered newest first: (created_at, id), both descending. */
export interface TimeCursor {
  readonly createdAt: Date;
  readonly id: string;
}

/** The Prisma filter for rows after `cursor` in newest-first order. */
export function olderThan(cursor: TimeCursor) {
  return { OR: [{ createdAt: { lt: cursor.createdAt } }, { createdAt: cursor.createdAt, id: { lt: cursor.id } }] };
}

/**
 * One page of a newest-first list. `fetch` returns up to `limit` rows after
 * the cursor; one row more than the page is asked for, to know whether
 * another page follows without a count.
 */
export async function pageNewestFirst<T extends TimeCursor>(
  pageToken: string,
  filters: unknown,
  size: number,
  fetch: (limit: number, after: TimeCursor | null) => Promise<T[]>,
): Promise<{ items: T[]; nextPageToken: string }> {
  const key = decodePageToken('page_token', pageToken, filters, 2);
  const after = key === null ? null : { createdAt: new Date(key[0]!), id: key[1]! };
  const ms = after?.createdAt.getTime();
  if (ms !== undefined && (Number.isNaN(ms) || ms < INSTANT_RANGE_MS.min || ms > INSTANT_RANGE_MS.max)) {
    throw new InvalidArgumentError('page_token', 'is not a token returned by this API; start again with an empty page_token');
  }
  const rows = await fetch(size + 1, after);
  const items = rows.slice(0, size);
  const last = items.at(-1);
  const nextPageToken = rows.length > size && last !== undefined ? encodePageToken([last.createdAt.toISOString(), last.id], filters) : '';
  return { items, nextPageToken };
}
