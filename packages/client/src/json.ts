/**
 * Plain JSON ↔ the wire forms of `google.protobuf.Struct` and `google.protobuf.Timestamp`,
 * as @grpc/proto-loader encodes and decodes them with the package's loader options.
 *
 * Conversions refuse what JSON cannot carry instead of dropping it, because the encoder
 * would otherwise store `{}` for a value it does not understand, without an error.
 */

/** A value JSON can carry. */
export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
/** A JSON object, as `metadata` is. */
export interface JsonObject {
  [key: string]: JsonValue;
}

/** `google.protobuf.Value` as the encoder takes it (enums as their names). */
export interface WireValue {
  nullValue?: 'NULL_VALUE';
  numberValue?: number;
  stringValue?: string;
  boolValue?: boolean;
  structValue?: WireStruct;
  listValue?: { values: WireValue[] };
}
/** `google.protobuf.Struct` as the encoder takes it. */
export interface WireStruct {
  fields: Record<string, WireValue>;
}

/** `google.protobuf.Value` as the decoder gives it with `oneofs: true` and `defaults: true`. */
export interface DecodedValue {
  kind?: string;
  numberValue?: number;
  stringValue?: string;
  boolValue?: boolean;
  structValue?: DecodedStruct | null;
  listValue?: { values?: DecodedValue[] } | null;
}
/** `google.protobuf.Struct` as the decoder gives it. */
export interface DecodedStruct {
  fields?: Record<string, DecodedValue>;
}

/** `google.protobuf.Timestamp`: whole seconds since the Unix epoch and nanoseconds within it. */
export interface Timestamp {
  seconds: number;
  nanos: number;
}

/**
 * Converts a plain JSON object to a `google.protobuf.Struct`.
 *
 * @param value - an object whose values are null, booleans, finite numbers, strings, arrays
 *   and plain objects, to any depth.
 * @param field - the field's name, used in error messages (e.g. `"metadata"`).
 * @throws TypeError naming the offending path (e.g. `metadata.steps[2]`) for undefined,
 *   functions, symbols, bigints, NaN or ±Infinity, Dates (convert them with
 *   `toISOString()` first: the other end would get a string, not a Date), other non-plain
 *   objects (Map, Set, class instances) and circular references.
 */
export function toStruct(value: unknown, field: string): WireStruct {
  if (!isPlainObject(value)) {
    throw new TypeError(`${field} must be a plain JSON object, got ${describe(value)}`);
  }
  return structOf(value, field, new Set());
}

function structOf(object: Record<string, unknown>, path: string, ancestors: Set<object>): WireStruct {
  ancestors.add(object);
  const fields: Record<string, WireValue> = {};
  for (const key of Object.keys(object)) {
    fields[key] = valueOf(object[key], `${path}.${key}`, ancestors);
  }
  ancestors.delete(object);
  return { fields };
}

function valueOf(value: unknown, path: string, ancestors: Set<object>): WireValue {
  switch (typeof value) {
    case 'string':
      return { stringValue: value };
    case 'boolean':
      return { boolValue: value };
    case 'number':
      if (!Number.isFinite(value)) {
        throw new TypeError(`${path}: ${value} is not a JSON number`);
      }
      return { numberValue: value };
    case 'object':
      break;
    default:
      throw new TypeError(`${path}: ${describe(value)} cannot be represented in JSON`);
  }
  if (value === null) {
    return { nullValue: 'NULL_VALUE' };
  }
  if (ancestors.has(value)) {
    throw new TypeError(`${path}: circular reference`);
  }
  if (Array.isArray(value)) {
    ancestors.add(value);
    const values: WireValue[] = [];
    // An index loop, not map(): holes in a sparse array must be refused, not skipped.
    for (let i = 0; i < value.length; i++) {
      values.push(valueOf(value[i], `${path}[${i}]`, ancestors));
    }
    ancestors.delete(value);
    return { listValue: { values } };
  }
  if (value instanceof Date) {
    throw new TypeError(`${path}: a Date is not JSON; pass date.toISOString() (the receiver gets a string)`);
  }
  if (!isPlainObject(value)) {
    throw new TypeError(`${path}: ${describe(value)} is not a plain JSON object`);
  }
  return { structValue: structOf(value, path, ancestors) };
}

/**
 * Converts a decoded `google.protobuf.Struct` back to plain JSON.
 *
 * @returns the JSON object, or null when the field was not set.
 */
export function fromStruct(struct: DecodedStruct | null | undefined): JsonObject | null {
  if (struct === null || struct === undefined) {
    return null;
  }
  const object: JsonObject = {};
  for (const [key, value] of Object.entries(struct.fields ?? {})) {
    object[key] = fromValue(value);
  }
  return object;
}

function fromValue(value: DecodedValue): JsonValue {
  // With `defaults: true` every member of the oneof is present; `kind` says which one is set.
  switch (value.kind) {
    case 'numberValue':
      return value.numberValue ?? 0;
    case 'stringValue':
      return value.stringValue ?? '';
    case 'boolValue':
      return value.boolValue ?? false;
    case 'structValue':
      return fromStruct(value.structValue) ?? {};
    case 'listValue':
      return (value.listValue?.values ?? []).map(fromValue);
    default:
      // nullValue, or a Value with nothing set, which JSON mappings also read as null.
      return null;
  }
}

/**
 * Converts a Date to a `google.protobuf.Timestamp` (millisecond precision, as a Date has).
 *
 * @throws TypeError naming `field` for an invalid Date.
 */
export function dateToTimestamp(date: Date, field: string): Timestamp {
  const ms = date.getTime();
  if (!Number.isFinite(ms)) {
    throw new TypeError(`${field}: invalid Date`);
  }
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: (ms - seconds * 1000) * 1_000_000 };
}

/**
 * Converts a `google.protobuf.Timestamp` from a response to a Date (nanoseconds below a
 * millisecond are dropped).
 *
 * @returns null for an unset timestamp.
 */
export function timestampToDate(timestamp: { seconds: number | string; nanos: number } | null | undefined): Date | null {
  if (timestamp === null || timestamp === undefined) {
    return null;
  }
  return new Date(Number(timestamp.seconds) * 1000 + Math.floor(timestamp.nanos / 1_000_000));
}

/** True for `{}`-literals and `Object.create(null)` objects: what JSON.parse produces. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) {
    return false;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** A short description of a value for error messages; never the value itself (it may be large or secret). */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') {
    const name = (Object.getPrototypeOf(value) as { constructor?: { name?: string } } | null)?.constructor?.name;
    return name ? `a ${name}` : 'an object';
  }
  if (typeof value === 'number') return String(value);
  return typeof value === 'undefined' ? 'undefined' : `a ${typeof value}`;
}
