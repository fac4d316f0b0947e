import { createRequire } from 'node:module';
import path from 'node:path';

import * as protoLoader from '@grpc/proto-loader';
import type {
  AnyDefinition,
  EnumTypeDefinition,
  MessageTypeDefinition,
  MethodDefinition,
  PackageDefinition,
  ServiceDefinition,
} from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { protoPath as healthProtoPath } from 'grpc-health-check';
// protobufjs is CommonJS whose exports Node cannot detect statically, so the default import is the module object.
import descriptor from 'protobufjs/ext/descriptor/index.js';
import type { IDescriptorProto, IFieldDescriptorProto, IFileDescriptorProto } from 'protobufjs/ext/descriptor/index.js';

/*
 * Why this module exists: @grpc/reflection serves the FileDescriptorProtos that
 * proto-loader (protobufjs) built, and those differ from protoc's in ways that
 * strict reflection clients (grpcurl, buf curl, protobuf's own descriptor
 * pools) refuse or misread:
 *
 * 1. every file's `dependency` list is empty, so a file using
 *    google.protobuf.Timestamp does not import the file defining it;
 * 2. a map field's entry type is named after the field (`Webhook_headers`),
 *    where protoc, protobuf's DescriptorPool and Go's protodesc (grpcurl) require
 *    CamelCase(field name) + "Entry" (`WebhookHeadersEntry`);
 * 3. a proto3 `optional` field sits in its synthetic oneof `_name` without the
 *    `proto3_optional` flag, so clients show a real `oneof _name` instead of `optional`.
 *
 * Note that proto-loader emits one descriptor per *package*, not per source
 * file: all of herald/v1/*.proto arrive as one file named "herald_v1.proto", and
 * the well-known types as "google_protobuf.proto". The repair works on whatever
 * files it is given; it does not try to recover the source layout.
 *
 * REMOVE WHEN: @grpc/proto-loader fills `dependency` (grpc/grpc-node#2595, open as of proto-loader 0.8.1) and
 * builds on a protobufjs whose ext/descriptor names map entries `<Field>Entry` (7.6.6 and 8.8.1 do not) and keeps
 * `proto3_optional` (fixed in protobufjs 8 by protobufjs/protobuf.js#2232; proto-loader 0.8.1 uses 7.x).
 * test/unit/reflection-descriptors.test.ts has a canary for each that fails once proto-loader's output is right.
 */

type ProtobufTypeDefinition = MessageTypeDefinition<object, object> | EnumTypeDefinition;

function isProtobufTypeDefinition(entry: AnyDefinition): entry is ProtobufTypeDefinition {
  const candidate: { format?: unknown; fileDescriptorProtos?: unknown } = entry;
  return typeof candidate.format === 'string' && Array.isArray(candidate.fileDescriptorProtos);
}

function serviceMethods(service: ServiceDefinition): MethodDefinition<object, object>[] {
  return Object.values(service);
}

/** Every FileDescriptorProto buffer a definition carries, in first-seen order, including those only reachable through methods. */
function collectDescriptorBuffers(def: PackageDefinition): Buffer[] {
  // A Set, because proto-loader hands every entry the same Buffer objects; this avoids decoding each ~100 times.
  const buffers = new Set<Buffer>();
  const add = (list: readonly Buffer[]): void => {
    for (const buffer of list) {
      buffers.add(buffer);
    }
  };
  for (const entry of Object.values(def)) {
    if (isProtobufTypeDefinition(entry)) {
      add(entry.fileDescriptorProtos);
    } else {
      for (const method of serviceMethods(entry)) {
        add(method.requestType.fileDescriptorProtos);
        add(method.responseType.fileDescriptorProtos);
      }
    }
  }
  return [...buffers];
}

function decodeFile(buffer: Uint8Array): IFileDescriptorProto {
  // The descriptor extension's decoded messages have exactly the IFileDescriptorProto shape (camelCase keys).
  return descriptor.FileDescriptorProto.decode(buffer) as unknown as IFileDescriptorProto;
}

/** Decodes and de-duplicates by file name; the same name with different contents would make one of them unreachable, so it is refused. */
function decodeUniqueFiles(buffers: readonly Buffer[]): IFileDescriptorProto[] {
  const byName = new Map<string, { file: IFileDescriptorProto; bytes: Buffer }>();
  for (const bytes of buffers) {
    const file = decodeFile(bytes);
    const name = file.name ?? '';
    if (name === '') {
      throw new Error('a FileDescriptorProto in the package definition has no name');
    }
    const seen = byName.get(name);
    if (seen === undefined) {
      byName.set(name, { file, bytes });
    } else if (!seen.bytes.equals(bytes)) {
      throw new Error(
        `two different file descriptors are both named "${name}"; ` +
          'load the protos of one package in a single proto-loader call so they become one file',
      );
    }
  }
  return [...byName.values()].map(({ file }) => file);
}

/** Invokes `visit` for every message (nested ones included) with its fully-qualified name (leading dot). */
function forEachMessage(
  messages: readonly IDescriptorProto[] | undefined,
  scope: string,
  visit: (message: IDescriptorProto, fullName: string) => void,
): void {
  for (const message of messages ?? []) {
    const fullName = `${scope}.${message.name ?? ''}`;
    visit(message, fullName);
    forEachMessage(message.nestedType, fullName, visit);
  }
}

function packageScope(file: IFileDescriptorProto): string {
  return file.package ? `.${file.package}` : '';
}

/** Fully-qualified name (leading dot) of every message and enum → name of the file defining it. */
function indexTypes(files: readonly IFileDescriptorProto[]): Map<string, string> {
  const definedIn = new Map<string, string>();
  for (const file of files) {
    const fileName = file.name ?? '';
    const scope = packageScope(file);
    for (const enumType of file.enumType ?? []) {
      definedIn.set(`${scope}.${enumType.name ?? ''}`, fileName);
    }
    forEachMessage(file.messageType, scope, (message, fullName) => {
      definedIn.set(fullName, fileName);
      for (const enumType of message.enumType ?? []) {
        definedIn.set(`${fullName}.${enumType.name ?? ''}`, fileName);
      }
    });
  }
  return definedIn;
}

/**
 * Resolves a type reference the way descriptor.proto specifies: a leading dot
 * means fully qualified; otherwise C++-like scoping, innermost scope first.
 * (protoc resolves only the first component by scope and fails if the rest does
 * not follow; trying the whole name per scope differs only for names that
 * shadow a package, which proto-loader output does not contain.)
 */
function resolveReference(reference: string, scope: string, definedIn: ReadonlyMap<string, string>): string | undefined {
  if (reference.startsWith('.')) {
    return definedIn.has(reference) ? reference : undefined;
  }
  let current = scope;
  for (;;) {
    const candidate = `${current}.${reference}`;
    if (definedIn.has(candidate)) {
      return candidate;
    }
    if (current === '') {
      return undefined;
    }
    current = current.slice(0, current.lastIndexOf('.'));
  }
}

/**
 * A settable type reference inside a file: a field's type or extendee, or a
 * method's input or output type, with the scope it is resolved from.
 */
interface Reference {
  get(): string;
  set(fullName: string): void;
  scope: string;
  where: string;
}

function fieldReferences(field: IFieldDescriptorProto, scope: string, where: string): Reference[] {
  const references: Reference[] = [];
  if (field.typeName) {
    references.push({
      get: () => field.typeName ?? '',
      set: (fullName) => {
        field.typeName = fullName;
      },
      scope,
      where: `${where} (type)`,
    });
  }
  if (field.extendee) {
    references.push({
      get: () => field.extendee ?? '',
      set: (fullName) => {
        field.extendee = fullName;
      },
      scope,
      where: `${where} (extendee)`,
    });
  }
  return references;
}

function referencesOf(file: IFileDescriptorProto): Reference[] {
  const scope = packageScope(file);
  const references: Reference[] = [];
  for (const extension of file.extension ?? []) {
    references.push(...fieldReferences(extension, scope, `extension ${scope}.${extension.name ?? ''}`));
  }
  forEachMessage(file.messageType, scope, (message, fullName) => {
    for (const field of [...(message.field ?? []), ...(message.extension ?? [])]) {
      references.push(...fieldReferences(field, fullName, `field ${fullName}.${field.name ?? ''}`));
    }
  });
  for (const service of file.service ?? []) {
    for (const method of service.method ?? []) {
      const where = `method ${scope}.${service.name ?? ''}.${method.name ?? ''}`;
      references.push(
        {
          get: () => method.inputType ?? '',
          set: (fullName) => {
            method.inputType = fullName;
          },
          scope,
          where: `${where} (input)`,
        },
        {
          get: () => method.outputType ?? '',
          set: (fullName) => {
            method.outputType = fullName;
          },
          scope,
          where: `${where} (output)`,
        },
      );
    }
  }
  return references;
}

/**
 * protoc's name for a map field's entry type: the field name with underscores
 * removed and the letter after each (and the first letter) upper-cased, plus
 * "Entry" (`webhook_headers` → `WebhookHeadersEntry`, `fields` → `FieldsEntry`).
 * Descriptor validators reject a map_entry message with any other name.
 */
export function mapEntryName(fieldName: string): string {
  let result = '';
  let upperNext = true;
  for (const char of fieldName) {
    if (char === '_') {
      upperNext = true;
    } else {
      // Only ASCII a-z is upper-cased, as protoc does; other characters pass through.
      result += upperNext && char >= 'a' && char <= 'z' ? char.toUpperCase() : char;
      upperNext = false;
    }
  }
  return `${result}Entry`;
}

/**
 * Renames every map entry type of `file` to protoc's name.
 * @returns old fully-qualified name → new fully-qualified name, for rewriting references.
 */
function renameMapEntries(file: IFileDescriptorProto): Map<string, string> {
  const renamed = new Map<string, string>();
  forEachMessage(file.messageType, packageScope(file), (message, fullName) => {
    const nested = message.nestedType ?? [];
    for (const entry of nested) {
      if (entry.options?.mapEntry !== true) {
        continue;
      }
      const entryFullName = `${fullName}.${entry.name ?? ''}`;
      // References are fully qualified by now, so the owning field is found by exact name.
      const owner = (message.field ?? []).find((field) => field.typeName === entryFullName);
      if (owner === undefined) {
        continue;
      }
      const wanted = mapEntryName(owner.name ?? '');
      if (entry.name === wanted) {
        continue;
      }
      const taken =
        nested.some((other) => other.name === wanted) ||
        (message.enumType ?? []).some((other) => other.name === wanted);
      if (taken) {
        throw new Error(`cannot rename map entry ${entryFullName}: ${fullName}.${wanted} already exists`);
      }
      entry.name = wanted;
      renamed.set(entryFullName, `${fullName}.${wanted}`);
    }
  });
  return renamed;
}

/** A decoded field; protobufjs 7's typings lack `proto3_optional` (field 17), which its descriptor schema has. */
type FieldDescriptor = IFieldDescriptorProto & { proto3Optional?: boolean };

const LABEL_OPTIONAL = 1;

function oneofIndexOf(field: FieldDescriptor): number | undefined {
  // protobufjs keeps an unset oneof_index on the prototype (0), so only an own property means "in a oneof".
  return Object.hasOwn(field, 'oneofIndex') ? (field.oneofIndex ?? undefined) : undefined;
}

/**
 * Marks proto3 `optional` fields as protoc does: `proto3_optional` on the field,
 * and its synthetic oneof after every real oneof of the message (protoc and
 * protobuf's descriptor pools refuse a synthetic oneof before a real one).
 * protobufjs names the synthetic oneof `_` + field name, holding only that
 * field; a oneof of that shape is taken as synthetic. (A hand-written
 * `oneof _x { T x = 1; }` would be too, which means the same on the wire.)
 */
function markProto3Optionals(file: IFileDescriptorProto): void {
  if (file.syntax !== 'proto3') {
    return;
  }
  forEachMessage(file.messageType, packageScope(file), (message) => {
    const oneofs = message.oneofDecl ?? [];
    const fields: FieldDescriptor[] = message.field ?? [];
    const synthetic = oneofs.map((oneof, index) => {
      const members = fields.filter((field) => oneofIndexOf(field) === index);
      const only = members.length === 1 ? members[0] : undefined;
      return only !== undefined && only.label === LABEL_OPTIONAL && oneof.name === `_${only.name ?? ''}` ? only : undefined;
    });
    for (const field of synthetic) {
      if (field !== undefined) {
        field.proto3Optional = true;
      }
    }
    const indices = [...oneofs.keys()];
    const order = [...indices.filter((index) => synthetic[index] === undefined), ...indices.filter((index) => synthetic[index] !== undefined)];
    if (order.every((from, to) => from === to)) {
      return;
    }
    const moved = new Map(order.map((from, to) => [from, to]));
    message.oneofDecl = order.map((from) => oneofs[from] ?? {});
    for (const field of fields) {
      const from = oneofIndexOf(field);
      if (from !== undefined) {
        field.oneofIndex = moved.get(from) ?? from;
      }
    }
  });
}

function existingDependencies(file: IFileDescriptorProto): string[] {
  // The descriptor typings leave `dependency` untyped; narrow it.
  const value: unknown = file.dependency;
  if (!Array.isArray(value)) {
    return [];
  }
  return value.filter((item): item is string => typeof item === 'string');
}

/** Repairs decoded files in place: fully-qualified references, protoc map entry names, dependency lists, proto3 optionals. */
function repairFiles(files: readonly IFileDescriptorProto[]): void {
  const definedIn = indexTypes(files);
  const referencesByFile = new Map<IFileDescriptorProto, Reference[]>();
  const needs = new Map<IFileDescriptorProto, Set<string>>();

  // Pass 1: resolve every reference against the original names, note which file defines it, and make it
  // fully qualified so pass 2 can match map entries exactly (protoc also emits fully-qualified names).
  for (const file of files) {
    const references = referencesOf(file);
    referencesByFile.set(file, references);
    const imports = new Set<string>();
    for (const reference of references) {
      const fullName = resolveReference(reference.get(), reference.scope, definedIn);
      const definingFile = fullName === undefined ? undefined : definedIn.get(fullName);
      if (fullName === undefined || definingFile === undefined) {
        throw new Error(`cannot resolve "${reference.get()}" for ${reference.where} in ${file.name ?? '?'}`);
      }
      reference.set(fullName);
      if (definingFile !== file.name) {
        imports.add(definingFile);
      }
    }
    needs.set(file, imports);
  }

  // Pass 2: rename map entries, then point every reference at the new names (the defining file is unchanged).
  const renamed = new Map<string, string>();
  for (const file of files) {
    for (const [from, to] of renameMapEntries(file)) {
      renamed.set(from, to);
    }
  }
  for (const references of referencesByFile.values()) {
    for (const reference of references) {
      const to = renamed.get(reference.get());
      if (to !== undefined) {
        reference.set(to);
      }
    }
  }

  // Pass 3: dependency lists. Existing entries keep their positions because
  // public_dependency/weak_dependency index into this list; new ones are appended sorted, for stable output.
  for (const file of files) {
    const dependency = existingDependencies(file);
    const missing = [...(needs.get(file) ?? [])].filter((name) => !dependency.includes(name)).sort();
    file.dependency = [...dependency, ...missing];
  }

  // Pass 4: proto3 optional fields; it renumbers oneof_index only, which no reference points at.
  for (const file of files) {
    markProto3Optionals(file);
  }
}

function encodeFile(file: IFileDescriptorProto): Buffer {
  return Buffer.from(descriptor.FileDescriptorProto.encode(file).finish());
}

function withDescriptors<T extends ProtobufTypeDefinition>(entry: T, buffers: Buffer[]): T {
  return { ...entry, fileDescriptorProtos: buffers };
}

/**
 * Returns a copy of `def` whose FileDescriptorProtos are fit for strict
 * reflection clients (grpcurl, buf curl, protobuf's DescriptorPool):
 *
 * - each file's `dependency` list names every file defining a type it references
 *   (fields, extensions, method input/output types); proto-loader leaves it empty;
 * - each `map_entry` nested type is renamed to protoc's `CamelCase(field) + "Entry"`
 *   and its field's `type_name` points at the new name; protobufjs names it after the field;
 * - every type reference is made fully qualified (leading dot), as protoc emits them;
 * - each proto3 `optional` field gets `proto3_optional`, and its synthetic oneof
 *   comes after the message's real oneofs; protobufjs drops the flag.
 *
 * Every message and enum entry (and each method's request/response type) gets
 * the full de-duplicated list of repaired files, as proto-loader itself gives
 * every entry every file; so a file reachable only through a service's methods
 * (a bare ServiceDefinition merged in) becomes visible to @grpc/reflection,
 * which reads files only from top-level message and enum entries.
 *
 * Serializers and everything else are shared with `def`, which is not modified.
 * Idempotent: repairing a repaired definition changes nothing.
 *
 * @throws Error if a reference cannot be resolved within the definition, a map
 *   entry's protoc name is already taken, or two different files share a name.
 */
export function repairFileDescriptors(def: PackageDefinition): PackageDefinition {
  const files = decodeUniqueFiles(collectDescriptorBuffers(def));
  repairFiles(files);
  const buffers = files.map(encodeFile);

  const repaired: PackageDefinition = {};
  for (const [name, entry] of Object.entries(def)) {
    if (isProtobufTypeDefinition(entry)) {
      repaired[name] = withDescriptors(entry, buffers);
    } else {
      const service: ServiceDefinition = {};
      for (const [methodName, method] of Object.entries(entry)) {
        service[methodName] = {
          ...method,
          requestType: withDescriptors(method.requestType, buffers),
          responseType: withDescriptors(method.responseType, buffers),
        };
      }
      repaired[name] = service;
    }
  }
  return repaired;
}

/**
 * Loads the gRPC reflection protos shipped inside @grpc/reflection, so the
 * reflection service can describe (and list) itself as reflection servers
 * usually do. `keepCase` keeps their field names as in the .proto.
 */
function loadReflectionProtos(): PackageDefinition {
  const packageJson = createRequire(import.meta.url).resolve('@grpc/reflection/package.json');
  // The same directory @grpc/reflection loads its own service definition from (build/proto).
  const protoDir = path.join(path.dirname(packageJson), 'build', 'proto');
  return protoLoader.loadSync(['grpc/reflection/v1/reflection.proto', 'grpc/reflection/v1alpha/reflection.proto'], {
    keepCase: true,
    includeDirs: [protoDir],
  });
}

/**
 * Loads the health.proto that grpc-health-check's HealthImplementation serves,
 * from that package, so the description cannot drift from the implementation.
 * (Its exported `service` object is typed by an older proto-loader, hence a
 * fresh load rather than reusing it.)
 */
function loadHealthProto(): PackageDefinition {
  return protoLoader.loadSync(healthProtoPath, { keepCase: true });
}

/**
 * Creates the gRPC server reflection service (v1 and v1alpha) for `def`.
 *
 * Besides `def`, it describes `grpc.health.v1.Health` (the proto
 * grpc-health-check's HealthImplementation serves) and the reflection
 * service itself, so `list` shows everything the server answers. All
 * descriptors go through {@link repairFileDescriptors}, so `def` may be
 * repaired already or not.
 *
 * Register it with `createReflectionService(def).addToServer(server)`. It only
 * describes: the Herald and health services still have to be added separately.
 */
export function createReflectionService(def: PackageDefinition): ReflectionService {
  const combined: PackageDefinition = {
    ...def,
    ...loadReflectionProtos(),
    ...loadHealthProto(),
  };
  return new ReflectionService(repairFileDescriptors(combined));
}
