/**
 * Conversions between proto messages (as proto-loader decodes them) and
 * domain values that every handler shares: timestamps, Struct and enums.
 */
import { InvalidArgumentError } from '../errors.js';
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

/**
 * A Timestamp from a request, or null when unset. Refuses values a Date
 * cannot hold. Dates hold milliseconds: `round` says which way finer
 * precision goes (down for an instant to decide at; up for the bound of a
 * filter on stored whole-millisecond times, so that ">= x" and "< x" keep
 * their meaning).
 */
export function fromTimestamp(field: string, ts: Timestamp__Output | null | undefined, round: 'down' | 'up' = 'down'): Date | null {
  if (ts === null || ts === undefined) return null;
  const ms = ts.seconds * 1000 + (round === 'up' ? Math.ceil(ts.nanos / 1_000_000) : Math.floor(ts.nanos / 1_000_000));
  const date = new Date(ms);
  if (!Number.isFinite(ms) || Number.isNaN(date.getTime()) || ts.nanos < 0 || ts.nanos > 999_999_999) {
    throw new InvalidArgumentError(field, 'is not a valid timestamp');
  }
  return date;
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
