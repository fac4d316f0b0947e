/**
 * Converts requests from the client's plain form to what proto-loader encodes, and
 * responses back, guided by the message descriptors in the loaded package definition.
 *
 * Requests: `google.protobuf.Struct` fields take plain JSON, `google.protobuf.Timestamp`
 * fields also take a Date. What the encoder would silently drop or change is refused with a
 * TypeError naming the field: a field name the message does not have, an enum name it does
 * not define, a value of the wrong type, an integer out of its field's range. Responses:
 * Struct fields become plain JSON (or null when unset); everything else is returned as
 * decoded.
 */
import type { PackageDefinition } from '@grpc/proto-loader';

import { dateToTimestamp, describe, fromStruct, isPlainObject, toStruct, type DecodedStruct } from './json.js';

const STRUCT = 'google.protobuf.Struct';
const TIMESTAMP = 'google.protobuf.Timestamp';

/** The parts of a DescriptorProto (as proto-loader gives it, in object form) the codec reads. */
interface DescriptorObject {
  name?: string;
  field?: Array<{ name?: string; label?: string; type?: string; typeName?: string }>;
  nestedType?: DescriptorObject[];
  enumType?: EnumObject[];
  oneofDecl?: Array<{ name?: string }>;
  options?: { mapEntry?: boolean } | null;
}

/** The parts of an EnumDescriptorProto (object form) the codec reads. */
interface EnumObject {
  name?: string;
  value?: Array<{ name?: string; number?: number }>;
}

type FieldKind = 'struct' | 'timestamp' | 'message' | 'scalar';

/** What a scalar field accepts; the encoder would otherwise coerce (`"10"` → 10, `2 ** 32` → 0) or drop. */
type ScalarCheck = (value: unknown) => string | null;

interface FieldInfo {
  readonly name: string;
  readonly kind: FieldKind;
  /** For kind `scalar`: why a value is not acceptable, or null. */
  readonly check: ScalarCheck;
  readonly repeated: boolean;
  /** For a map field: the entry's `value` field. */
  readonly mapValue: FieldInfo | null;
  /** For kind `message`: resolved on first use, since message types may refer to each other. */
  readonly message: () => MessageInfo;
}

interface MessageInfo {
  readonly fullName: string;
  readonly fields: ReadonlyMap<string, FieldInfo>;
  /** Synthetic oneof names (`_enable_webhook`, `kind`) that decoded messages carry: ignored on input. */
  readonly oneofs: ReadonlySet<string>;
}

export class Codec {
  private readonly messages = new Map<string, MessageInfo>();

  constructor(private readonly definition: PackageDefinition) {}

  /** Converts a request of `typeName`, resolved from `scope` (a service's full name). */
  encode(typeName: string, scope: string, request: unknown): Record<string, unknown> {
    const info = this.resolve(typeName, scope);
    if (!isPlainObject(request)) {
      throw new TypeError(`the request must be a plain object (${info.fullName}), got ${describe(request)}`);
    }
    return this.encodeMessage(info, request, '');
  }

  /** Converts a decoded response of `typeName`, resolved from `scope`, in place. */
  decode<T>(typeName: string, scope: string, response: unknown): T {
    this.decodeMessage(this.resolve(typeName, scope), response);
    return response as T;
  }

  private encodeMessage(info: MessageInfo, value: Record<string, unknown>, path: string): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value)) {
      const field = info.fields.get(key);
      const at = path === '' ? key : `${path}.${key}`;
      if (field === undefined) {
        if (info.oneofs.has(key)) continue;
        throw new TypeError(`${at}: ${info.fullName} has no field "${key.slice(0, 64)}"`);
      }
      const v = value[key];
      // An absent optional property and `undefined` both mean "not set".
      if (v === undefined) continue;
      out[key] = this.encodeField(field, v, at);
    }
    return out;
  }

  private encodeField(field: FieldInfo, value: unknown, path: string): unknown {
    if (field.mapValue !== null) {
      if (!isPlainObject(value)) {
        throw new TypeError(`${path}: expected an object of entries, got ${describe(value)}`);
      }
      const entries: Record<string, unknown> = {};
      for (const [key, entry] of Object.entries(value)) {
        entries[key] = this.encodeSingle(field.mapValue, entry, `${path}.${key}`);
      }
      return entries;
    }
    if (field.repeated) {
      if (!Array.isArray(value)) {
        throw new TypeError(`${path}: expected an array, got ${describe(value)}`);
      }
      return value.map((item: unknown, i) => this.encodeSingle(field, item, `${path}[${i}]`));
    }
    return this.encodeSingle(field, value, path);
  }

  private encodeSingle(field: FieldInfo, value: unknown, path: string): unknown {
    switch (field.kind) {
      case 'scalar': {
        if (value === null) return null;
        const problem = field.check(value);
        if (problem !== null) throw new TypeError(`${path}: ${problem}`);
        return value;
      }
      case 'struct':
        return value === null ? null : toStruct(value, path);
      case 'timestamp':
        if (value === null) return null;
        if (value instanceof Date) return dateToTimestamp(value, path);
        if (!isPlainObject(value)) throw new TypeError(`${path}: expected a Date or {seconds, nanos}, got ${describe(value)}`);
        return this.encodeMessage(field.message(), value, path);
      case 'message':
        if (value === null) return null;
        if (!isPlainObject(value)) {
          throw new TypeError(`${path}: expected an object (${field.message().fullName}), got ${describe(value)}`);
        }
        return this.encodeMessage(field.message(), value, path);
    }
  }

  private decodeMessage(info: MessageInfo, value: unknown): void {
    if (!isPlainObject(value)) return;
    for (const field of info.fields.values()) {
      const v = value[field.name];
      if (v === null || v === undefined) continue;
      if (field.mapValue !== null) {
        const mapValue = field.mapValue;
        if (mapValue.kind === 'scalar' || !isPlainObject(v)) continue;
        for (const key of Object.keys(v)) {
          v[key] = this.decodeSingle(mapValue, v[key]);
        }
      } else if (field.repeated) {
        if (field.kind === 'scalar' || !Array.isArray(v)) continue;
        value[field.name] = v.map((item: unknown) => this.decodeSingle(field, item));
      } else {
        value[field.name] = this.decodeSingle(field, v);
      }
    }
  }

  private decodeSingle(field: FieldInfo, value: unknown): unknown {
    if (field.kind === 'struct') return fromStruct(value as DecodedStruct | null);
    if (field.kind === 'message') this.decodeMessage(field.message(), value);
    return value;
  }

  /** Finds a message type by name as protobuf scoping does: innermost scope first. */
  private resolve(typeName: string, scope: string): MessageInfo {
    const name = typeName.replace(/^\./, '');
    const parts = scope.split('.');
    for (let i = parts.length; i >= 0; i--) {
      const candidate = [...parts.slice(0, i), name].join('.');
      const cached = this.messages.get(candidate);
      if (cached !== undefined) return cached;
      const entry = this.definition[candidate];
      if (entry !== undefined && 'format' in entry && entry.format === 'Protocol Buffer 3 DescriptorProto') {
        return this.describe(candidate, entry.type as DescriptorObject);
      }
    }
    throw new Error(`message type ${name} not found from ${scope} in the loaded .proto files`);
  }

  private describe(fullName: string, descriptor: DescriptorObject): MessageInfo {
    const fields = new Map<string, FieldInfo>();
    const info: MessageInfo = {
      fullName,
      fields,
      oneofs: new Set((descriptor.oneofDecl ?? []).map((o) => o.name ?? '')),
    };
    // Cached before its fields are described, so self-referencing types terminate.
    this.messages.set(fullName, info);
    for (const field of descriptor.field ?? []) {
      fields.set(field.name ?? '', this.describeField(fullName, descriptor, field));
    }
    return info;
  }

  private describeField(owner: string, descriptor: DescriptorObject, field: NonNullable<DescriptorObject['field']>[number]): FieldInfo {
    const name = field.name ?? '';
    const repeated = field.label === 'LABEL_REPEATED';
    if (field.type !== 'TYPE_MESSAGE') {
      const check = field.type === 'TYPE_ENUM' ? this.enumCheck((field.typeName ?? '').replace(/^\./, ''), owner, descriptor) : scalarCheck(field.type ?? '');
      return { name, kind: 'scalar', check, repeated, mapValue: null, message: unresolvable };
    }
    const typeName = (field.typeName ?? '').replace(/^\./, '');
    const nested = (descriptor.nestedType ?? []).find((n) => n.name === typeName);
    if (nested?.options?.mapEntry === true) {
      const entryName = `${owner}.${typeName}`;
      const valueField = (nested.field ?? []).find((f) => f.name === 'value');
      if (valueField === undefined) throw new Error(`map entry ${entryName} has no value field`);
      return { name, kind: 'scalar', check: acceptAny, repeated: true, mapValue: this.describeField(entryName, nested, valueField), message: unresolvable };
    }
    let resolved: MessageInfo | null = null;
    const message = (): MessageInfo => {
      if (resolved === null) {
        resolved = nested !== undefined ? this.messages.get(`${owner}.${typeName}`) ?? this.describe(`${owner}.${typeName}`, nested) : this.resolve(typeName, owner);
      }
      return resolved;
    };
    const full = nested !== undefined ? `${owner}.${typeName}` : this.fullNameOf(typeName, owner);
    const kind: FieldKind = full === STRUCT ? 'struct' : full === TIMESTAMP ? 'timestamp' : 'message';
    return { name, kind, check: acceptAny, repeated, mapValue: null, message };
  }

  /** Accepts the enum's value names (what responses carry, with `enums: String`) and integers (proto3 enums are open). */
  private enumCheck(typeName: string, owner: string, descriptor: DescriptorObject): ScalarCheck {
    const nested = (descriptor.enumType ?? []).find((e) => e.name === typeName);
    const full = nested !== undefined ? `${owner}.${typeName}` : this.fullNameOf(typeName, owner);
    const entry = this.definition[full];
    const values = nested ?? (entry !== undefined && 'format' in entry && entry.format === 'Protocol Buffer 3 EnumDescriptorProto' ? (entry.type as EnumObject) : undefined);
    if (values === undefined) throw new Error(`enum type ${typeName} not found from ${owner} in the loaded .proto files`);
    const names = new Set((values.value ?? []).map((v) => v.name ?? ''));
    return (value) => {
      if (typeof value === 'string') {
        return names.has(value) ? null : `${JSON.stringify(value.slice(0, 64))} is not a value of ${full} (${[...names].join(', ')})`;
      }
      if (typeof value === 'number' && Number.isInteger(value) && Math.abs(value) <= INT32_MAX) return null;
      return `expected a ${full} value name, got ${describe(value)}`;
    };
  }

  private fullNameOf(typeName: string, scope: string): string {
    const parts = scope.split('.');
    for (let i = parts.length; i >= 0; i--) {
      const candidate = [...parts.slice(0, i), typeName].join('.');
      if (this.definition[candidate] !== undefined) return candidate;
    }
    return typeName;
  }
}

const INT32_MAX = 2 ** 31 - 1;

function acceptAny(): null {
  return null;
}

function integerIn(min: number, max: number, type: string): ScalarCheck {
  return (value) => {
    if (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max) return null;
    if (typeof value === 'number') return `${value} is not an integer between ${min} and ${max} (${type})`;
    return `expected an integer (${type}), got ${describe(value)}`;
  };
}

/** 64-bit integers arrive as numbers with `longs: Number`; requests may also give a decimal string. */
function integer64(signed: boolean, type: string): ScalarCheck {
  return (value) => {
    if (typeof value === 'number' && Number.isSafeInteger(value) && (signed || value >= 0)) return null;
    if (typeof value === 'string' && (signed ? /^-?\d{1,20}$/ : /^\d{1,20}$/).test(value)) return null;
    return `expected ${signed ? 'an' : 'a non-negative'} integer (${type}), got ${describe(value)}`;
  };
}

function scalarCheck(type: string): ScalarCheck {
  switch (type) {
    case 'TYPE_STRING':
      return (value) => (typeof value === 'string' ? null : `expected a string, got ${describe(value)}`);
    case 'TYPE_BOOL':
      return (value) => (typeof value === 'boolean' ? null : `expected a boolean, got ${describe(value)}`);
    case 'TYPE_DOUBLE':
    case 'TYPE_FLOAT':
      return (value) => (typeof value === 'number' ? null : `expected a number, got ${describe(value)}`);
    case 'TYPE_INT32':
    case 'TYPE_SINT32':
    case 'TYPE_SFIXED32':
      return integerIn(-(2 ** 31), INT32_MAX, 'int32');
    case 'TYPE_UINT32':
    case 'TYPE_FIXED32':
      return integerIn(0, 2 ** 32 - 1, 'uint32');
    case 'TYPE_INT64':
    case 'TYPE_SINT64':
    case 'TYPE_SFIXED64':
      return integer64(true, 'int64');
    case 'TYPE_UINT64':
    case 'TYPE_FIXED64':
      return integer64(false, 'uint64');
    case 'TYPE_BYTES':
      return (value) => (value instanceof Uint8Array || typeof value === 'string' ? null : `expected bytes (a Buffer or base64), got ${describe(value)}`);
    default:
      return acceptAny;
  }
}

function unresolvable(): never {
  throw new Error('not a message field');
}
