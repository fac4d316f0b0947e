/**
 * The shape rules every decoded request meets before a handler sees it,
 * derived from the message definitions so that a new RPC or field is covered
 * without a line here: every string within its length limit
 * (REQUEST_STRING_LIMITS), every enum a value this server knows, every
 * Timestamp in Timestamp's range, every Struct within its depth limit. And the
 * marker a request deserializer returns instead of throwing, so that bytes
 * protobufjs cannot decode are answered INVALID_ARGUMENT by the handler
 * adapter rather than grpc-js' "INTERNAL: Error deserializing request".
 */
import type { PackageDefinition } from '@grpc/proto-loader';
// protobufjs is CommonJS whose exports Node cannot detect statically, so the default import is the module object.
import protobuf from 'protobufjs';
import descriptor from 'protobufjs/ext/descriptor/index.js';
import { LIMITS, REQUEST_STRING_LIMITS, checkLength, quote } from '../domain/validation.js';
import { HeraldError, InvalidArgumentError } from '../errors.js';
import type { Struct__Output } from '../generated/proto/google/protobuf/Struct.js';
import type { Timestamp__Output } from '../generated/proto/google/protobuf/Timestamp.js';
import { checkStructDepth, checkTimestamp } from './convert.js';

/** What a guarded deserializer returns for a request that must be refused: the adapter throws `error`. */
export class RefusedRequest {
  constructor(readonly error: unknown) {}
}

/** Throws the reason a request was refused at decoding; the handler adapters call it after authentication. */
export function throwIfRefused(request: unknown): void {
  if (request instanceof RefusedRequest) throw request.error;
}

/** Checks one decoded message (as proto-loader gives it); throws InvalidArgumentError naming the field. */
type Check = (value: unknown, path: string) => void;

type Record_ = Readonly<Record<string, unknown>>;

const isRecord = (v: unknown): v is Record_ => typeof v === 'object' && v !== null;

function fieldPath(prefix: string, name: string): string {
  return prefix === '' ? name : `${prefix}.${name}`;
}

/**
 * The key and value fields when `field` is a map (a repeated field of a type nested beside
 * it holding exactly key = 1 and value = 2, as protoc generates map entries). Recognised by
 * shape, because protobufjs' fromDescriptor (7.6.6) rebuilds a map as that repeated field
 * instead of a `MapField`, and sets `map_entry` on the options of the message containing
 * the map as well as on the entry.
 *
 * REMOVE WHEN: the protobufjs in use rebuilds descriptor maps as `MapField`s (done in
 * protobufjs 8 by protobufjs/protobuf.js#2232; 7.6.6, which proto-loader 0.8.1 needs, does
 * not): the guard must then check `field.map` fields (key type and values) instead, or map
 * values would pass unchecked. test/unit/request-limits.test.ts has a canary that fails on
 * that upgrade.
 */
export function mapEntry(field: protobuf.Field, type: protobuf.Type): { key: protobuf.Field; value: protobuf.Field } | null {
  const key = type.fields['key'];
  const value = type.fields['value'];
  if (type.parent !== field.parent || type.fieldsArray.length !== 2 || key?.id !== 1 || value?.id !== 2) return null;
  return { key, value };
}

/** protobufjs builds this from descriptors at runtime; its typings do not declare it. */
interface RootFromDescriptor {
  fromDescriptor(set: { file: unknown[] }): protobuf.Root;
}

/** The protobufjs reflection of every type in `definition`, rebuilt from the file descriptors it carries (resolved). */
export function reflectDefinition(definition: PackageDefinition): protobuf.Root {
  const buffers = new Set<Buffer>();
  for (const entry of Object.values(definition)) {
    const files: unknown = (entry as { fileDescriptorProtos?: unknown }).fileDescriptorProtos;
    if (Array.isArray(files)) for (const b of files) if (Buffer.isBuffer(b)) buffers.add(b);
  }
  const root = (protobuf.Root as unknown as RootFromDescriptor).fromDescriptor({ file: [...buffers].map((b) => descriptor.FileDescriptorProto.decode(b)) });
  root.resolveAll();
  return root;
}

/**
 * The checks of every request message of the services in `definition`, by
 * full name. Throws at start-up when a request has a string field without a
 * limit in REQUEST_STRING_LIMITS: every string must be bounded before
 * anything quotes it.
 */
export class RequestGuard {
  private readonly root: protobuf.Root;
  private readonly checks = new Map<string, Check>();

  constructor(definition: PackageDefinition) {
    this.root = reflectDefinition(definition);
  }

  /** The request type of the method at `path` (`/herald.v1.PreferencesService/GetPreferences`) and its check. */
  forMethod(path: string): { typeName: string; check: (request: unknown) => void } {
    const slash = path.lastIndexOf('/');
    const method = this.root.lookupService(path.slice(1, slash)).methods[path.slice(slash + 1)];
    if (method === undefined) throw new Error(`no method ${path} in the loaded definitions`);
    method.resolve();
    const type = method.resolvedRequestType;
    if (type === null) throw new Error(`the request type of ${path} does not resolve`);
    const check = this.messageCheck(type);
    return { typeName: type.fullName.replace(/^\./, ''), check: (request) => check(request, '') };
  }

  private messageCheck(type: protobuf.Type): Check {
    const name = type.fullName.replace(/^\./, '');
    const known = this.checks.get(name);
    if (known !== undefined) return known;
    // An unset message field decodes as null; a set one has the generated __Output shape (proto-loader decoded it).
    if (name === 'google.protobuf.Timestamp') return this.remember(name, (v, path) => isRecord(v) && checkTimestamp(path, v as unknown as Timestamp__Output));
    if (name === 'google.protobuf.Struct') return this.remember(name, (v, path) => isRecord(v) && checkStructDepth(path, v as unknown as Struct__Output));
    // Registered before its fields are built, so a recursive message refers to itself.
    const fields: Array<{ name: string; check: Check }> = [];
    const check: Check = (v, path) => {
      if (!isRecord(v)) return;
      for (const f of fields) f.check(v[f.name], fieldPath(path, f.name));
    };
    this.remember(name, check);
    for (const field of type.fieldsArray) fields.push({ name: field.name, check: this.fieldCheck(name, field) });
    return check;
  }

  private remember(name: string, check: Check): Check {
    this.checks.set(name, check);
    return check;
  }

  private fieldCheck(owner: string, field: protobuf.Field): Check {
    field.resolve();
    const resolved = field.resolvedType;
    const entry = resolved instanceof protobuf.Type && field.repeated ? mapEntry(field, resolved) : null;
    if (entry !== null) {
      const key = this.valueCheck(owner, field.name, entry.key, '.key');
      const value = this.valueCheck(owner, field.name, entry.value, '.value');
      return (v, path) => {
        if (!isRecord(v)) return;
        for (const [k, x] of Object.entries(v)) {
          // A key is checked before it is quoted in the path of its value.
          key(k, `${path} key`);
          value(x, `${path}[${quote(k, 40)}]`);
        }
      };
    }
    const one = this.valueCheck(owner, field.name, field, '');
    if (!field.repeated) return one;
    return (v, path) => {
      if (!Array.isArray(v)) return;
      v.forEach((x, i) => one(x, `${path}[${i}]`));
    };
  }

  /** The check of one value of `field` (an element, for repeated fields); `part` is '.key'/'.value' inside a map. */
  private valueCheck(owner: string, name: string, field: protobuf.Field, part: string): Check {
    field.resolve();
    const resolved = field.resolvedType;
    if (resolved instanceof protobuf.Type) return this.messageCheck(resolved);
    if (resolved instanceof protobuf.Enum) {
      const names = new Set(Object.keys(resolved.values));
      const list = Object.keys(resolved.values).join(', ');
      return (v, path) => {
        // With `enums: String` the loader hands a number it does not know back as that number.
        if (v !== undefined && v !== null && !(typeof v === 'string' && names.has(v))) {
          throw new InvalidArgumentError(path, `unknown value ${quote(String(v), 20)}; expected one of ${list}`);
        }
      };
    }
    if (field.type === 'string' || field.type === 'bytes') {
      const limit = REQUEST_STRING_LIMITS[`${name}${part}`];
      if (limit === undefined) {
        throw new Error(`${owner}.${name}${part} is a request ${field.type} field without a length limit: add "${name}${part}" to REQUEST_STRING_LIMITS in src/domain/validation.ts`);
      }
      return (v, path) => {
        if (typeof v === 'string') checkLength(path, v, limit);
        else if (Buffer.isBuffer(v) && v.length > limit) throw new InvalidArgumentError(path, `must be at most ${limit} bytes, got ${v.length}`);
      };
    }
    return () => undefined;
  }
}

/**
 * Why protobufjs could not decode a request, as the caller should read it.
 * Its nesting limit is the only error with a cause the caller can act on
 * beyond "send a valid message".
 */
export function undecodable(typeName: string, err: unknown): HeraldError {
  const reason = err instanceof Error ? err.message : String(err);
  if (/depth/i.test(reason)) {
    return new HeraldError(
      'INVALID_ARGUMENT',
      `the request nests messages deeper than protobuf's limit of ${protobuf.util.recursionLimit} levels; metadata may nest objects and lists at most ${LIMITS.metadataDepth} levels deep`,
    );
  }
  return new HeraldError('INVALID_ARGUMENT', `the request is not a valid ${typeName} message (${quote(reason, 80)}); encode it with the herald/v1 .proto files`);
}
