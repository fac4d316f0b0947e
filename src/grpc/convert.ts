/**
 * Conversions between proto messages (as proto-loader decodes them) and
 * domain values that every handler shares: timestamps, Struct and enums.
 */
import { InvalidArgumentError } from '../errors.js';
import { INSTANT_RANGE_MS, LIMITS } from '../domain/validation.js';
import type { JsonObject, JsonValue, Priority } from '../domain/types.js';
import type { Struct, Struct__Output } from '../generated/proto/google/protobuf/Struct.js';
import type { Timestamp, Timestamp__Output } from '../generated/proto/google/protobuf/Timestamp.js';
import type { Value, Value__Output } from '../generated/proto/google/protobuf/Value.js';
import type { Priority__Output } from '../generated/proto/herald/v1/Priority.js';

export function toTimestamp(date: Date): Timestamp {
  const ms = date.getTime();
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: (ms - seconds * 1000) * 1_000_000 };
}

export function toTimestampOrNull(date: Date | null): Timestamp | null {
  return date === null ? null : toTimestamp(date);
}

/** The range of google.protobuf.Timestamp (timestamp.proto): 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z. */
export const TIMESTAMP_RANGE = Object.freeze({ minSeconds: INSTANT_RANGE_MS.min / 1000, maxSeconds: Math.floor(INSTANT_RANGE_MS.max / 1000), maxNanos: 999_999_999 });

/** Refuses a Timestamp outside {@link TIMESTAMP_RANGE}, naming `field`. */
export function checkTimestamp(field: string, ts: Timestamp__Output): void {
  const { minSeconds, maxSeconds, maxNanos } = TIMESTAMP_RANGE;
  const { seconds, nanos } = ts;
  if (!Number.isInteger(seconds) || seconds < minSeconds || seconds > maxSeconds || !Number.isInteger(nanos) || nanos < 0 || nanos > maxNanos) {
    throw new InvalidArgumentError(
      field,
      `must be a time from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z (seconds ${minSeconds} to ${maxSeconds}, nanos 0 to ${maxNanos}); got seconds ${String(seconds).slice(0, 30)}, nanos ${String(nanos).slice(0, 30)}`,
    );
  }
}

/**
 * A Timestamp from a request, or null when unset. Refuses values outside
 * {@link TIMESTAMP_RANGE}. Dates hold milliseconds: `round` says which way finer
 * precision goes (down for an instant to decide at; up for the bound of a
 * filter on stored whole-millisecond times, so that ">= x" and "< x" keep
 * their meaning).
 */
export function fromTimestamp(field: string, ts: Timestamp__Output | null | undefined, round: 'down' | 'up' = 'down'): Date | null {
  if (ts === null || ts === undefined) return null;
  checkTimestamp(field, ts);
  return new Date(ts.seconds * 1000 + (round === 'up' ? Math.ceil(ts.nanos / 1_000_000) : Math.floor(ts.nanos / 1_000_000)));
}

/**
 * Refuses a Struct whose objects and lists nest deeper than LIMITS.metadataDepth
 * (`{"a": {"b": 1}}` nests 2 deep). Its size is the domain's rule (checkMetadata).
 */
export function checkStructDepth(field: string, s: Struct__Output): void {
  const max = LIMITS.metadataDepth;
  // Iterative, so the check itself cannot overflow the stack whatever it is given.
  const pending: Array<{ values: Value__Output[]; depth: number }> = [{ values: Object.values(s.fields ?? {}), depth: 1 }];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    if (next.depth > max) throw new InvalidArgumentError(field, `must not nest objects and lists more than ${max} levels deep`);
    for (const v of next.values) {
      if (v.kind === 'structValue' && v.structValue) pending.push({ values: Object.values(v.structValue.fields ?? {}), depth: next.depth + 1 });
      else if (v.kind === 'listValue' && v.listValue) pending.push({ values: v.listValue.values ?? [], depth: next.depth + 1 });
    }
  }
}

function fromValue(v: Value__Output): JsonValue {
  switch (v.kind) {
    case 'numberValue':
      return v.numberValue ?? 0;
    case 'stringValue':
      return v.stringValue ?? '';
    case 'boolValue':
      return v.boolValue ?? false;
    case 'structValue':
      return fromStruct(v.structValue ?? null);
    case 'listValue':
      return (v.listValue?.values ?? []).map(fromValue);
    default:
      return null;
  }
}

/** google.protobuf.Struct to a plain JSON object (an unset Struct is `{}`). */
export function fromStruct(s: Struct__Output | null): JsonObject {
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(s?.fields ?? {})) out[key] = fromValue(value);
  return out;
}

function toValue(v: JsonValue): Value {
  if (v === null) return { nullValue: 'NULL_VALUE' };
  if (typeof v === 'number') return { numberValue: v };
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(toValue) } };
  return { structValue: toStruct(v) };
}

export function toStruct(o: JsonObject): Struct {
  const fields: Record<string, Value> = {};
  for (const [key, value] of Object.entries(o)) fields[key] = toValue(value);
  return { fields };
}

/** Priority from a request; UNSPECIFIED is null (the caller picks the default). */
export function fromPriority(field: string, p: Priority__Output | undefined): Priority | null {
  switch (p) {
    case undefined:
    case 'PRIORITY_UNSPECIFIED':
      return null;
    case 'PRIORITY_LOW':
      return 'LOW';
    case 'PRIORITY_NORMAL':
      return 'NORMAL';
    case 'PRIORITY_HIGH':
      return 'HIGH';
    case 'PRIORITY_URGENT':
      return 'URGENT';
    default:
      // An enum number this server does not know arrives as a number.
      throw new InvalidArgumentError(field, `unknown priority ${String(p)}`);
  }
}

export function toPriority(p: Priority | null): Priority__Output {
  return p === null ? 'PRIORITY_UNSPECIFIED' : `PRIORITY_${p}`;
}
