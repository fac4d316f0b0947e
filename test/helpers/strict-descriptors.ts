/**
 * Checks FileDescriptorProtos as strictly as grpcurl (Go's protodesc) and
 * protoc's descriptor pool do, in Node: the test oracle for the descriptors
 * Herald's reflection service serves.
 *
 * 1. Every file a file imports must be in the set (grpcurl fetches them by name).
 * 2. Every type reference resolves by protobuf's scoping rules against the file
 *    itself and the files it imports (public imports followed), nothing else:
 *    a file that uses google.protobuf.Timestamp without importing its file fails
 *    with `unresolvable reference`, as in grpcurl.
 * 3. Map fields follow protoc's rules: the entry is nested beside the field,
 *    named CamelCase(field) + "Entry", with `key` = 1 and `value` = 2; a
 *    `map_entry` message no field uses that way is refused, as protobuf's
 *    DescriptorPool refuses it ("map_entry should not be set explicitly").
 * 4. proto3 optional fields sit alone in their synthetic oneof, and synthetic
 *    oneofs come after the real ones; every oneof's fields are declared together.
 * 5. The resolved files then build a @bufbuild/protobuf registry, which checks
 *    names, dependencies, map entry fields and oneof indices once more, and
 *    answers what a client sees (a field's presence, a message's real oneofs).
 *
 * Errors name the file and the element, in grpcurl's words where it has them.
 */
import { clone, create, createFileRegistry, fromBinary, isFieldSet, type FileRegistry } from '@bufbuild/protobuf';
import {
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  FieldDescriptorProtoSchema,
  FileDescriptorProtoSchema,
  FileDescriptorSetSchema,
  type DescriptorProto,
  type FieldDescriptorProto,
  type FileDescriptorProto,
} from '@bufbuild/protobuf/wkt';

export interface StrictCheck {
  /** Every checked file, built; look types up by full name (no leading dot). */
  readonly registry: FileRegistry;
  /** The decoded files as served (references not rewritten), by file name. */
  readonly files: ReadonlyMap<string, FileDescriptorProto>;
  readonly counts: Readonly<Record<'files' | 'messages' | 'fields' | 'maps' | 'references' | 'services', number>>;
}

type SymbolKind = 'package' | 'message' | 'enum';

interface DefinedSymbol {
  readonly kind: SymbolKind;
  readonly file: string;
  readonly message?: DescriptorProto;
}

const MAP_KEY_TYPES: ReadonlySet<FieldDescriptorProto_Type> = new Set([
  FieldDescriptorProto_Type.INT32,
  FieldDescriptorProto_Type.INT64,
  FieldDescriptorProto_Type.UINT32,
  FieldDescriptorProto_Type.UINT64,
  FieldDescriptorProto_Type.SINT32,
  FieldDescriptorProto_Type.SINT64,
  FieldDescriptorProto_Type.FIXED32,
  FieldDescriptorProto_Type.FIXED64,
  FieldDescriptorProto_Type.SFIXED32,
  FieldDescriptorProto_Type.SFIXED64,
  FieldDescriptorProto_Type.BOOL,
  FieldDescriptorProto_Type.STRING,
]);

/** protoc's map entry name: underscores dropped, the letter after each (and the first) upper-cased, then "Entry". */
function protocMapEntryName(fieldName: string): string {
  return `${fieldName.replace(/(?:^|_)([a-z]?)/g, (_match, letter: string) => letter.toUpperCase())}Entry`;
}

function inOneof(field: FieldDescriptorProto): boolean {
  return isFieldSet(field, FieldDescriptorProtoSchema.field.oneofIndex);
}

/** Visits every message with its full name (no leading dot), nested ones after their parent. */
function eachMessage(
  messages: readonly DescriptorProto[],
  scope: string,
  visit: (message: DescriptorProto, fullName: string) => void,
): void {
  for (const message of messages) {
    const fullName = scope === '' ? message.name : `${scope}.${message.name}`;
    visit(message, fullName);
    eachMessage(message.nestedType, fullName, visit);
  }
}

function decodeUnique(buffers: readonly Uint8Array[]): Map<string, { file: FileDescriptorProto; bytes: Uint8Array }> {
  const byName = new Map<string, { file: FileDescriptorProto; bytes: Uint8Array }>();
  for (const bytes of buffers) {
    const file = fromBinary(FileDescriptorProtoSchema, bytes);
    const seen = byName.get(file.name);
    if (seen !== undefined && !Buffer.from(seen.bytes).equals(Buffer.from(bytes))) {
      throw new Error(`two different files are both named "${file.name}"`);
    }
    byName.set(file.name, { file, bytes });
  }
  return byName;
}

/** Files in an order where each comes after its dependencies; a missing or cyclic import is an error. */
function dependencyOrder(files: ReadonlyMap<string, FileDescriptorProto>): FileDescriptorProto[] {
  const ordered: FileDescriptorProto[] = [];
  const state = new Map<string, 'active' | 'done'>();
  const visit = (name: string, chain: readonly string[]): void => {
    if (state.get(name) === 'done') {
      return;
    }
    if (state.get(name) === 'active') {
      throw new Error(`import cycle: ${[...chain, name].join(' -> ')}`);
    }
    const file = files.get(name);
    if (file === undefined) {
      throw new Error(`"${chain.at(-1) ?? '?'}" imports "${name}": File not found (the server did not provide it)`);
    }
    state.set(name, 'active');
    for (const dependency of file.dependency) {
      visit(dependency, [...chain, name]);
    }
    state.set(name, 'done');
    ordered.push(file);
  };
  for (const name of files.keys()) {
    visit(name, []);
  }
  return ordered;
}

function symbolsOf(file: FileDescriptorProto): Map<string, DefinedSymbol> {
  const symbols = new Map<string, DefinedSymbol>();
  const parts = file.package === '' ? [] : file.package.split('.');
  for (let i = 1; i <= parts.length; i += 1) {
    symbols.set(parts.slice(0, i).join('.'), { kind: 'package', file: file.name });
  }
  const define = (fullName: string, symbol: DefinedSymbol): void => {
    const existing = symbols.get(fullName);
    if (existing !== undefined && existing.kind !== 'package') {
      throw new Error(`${file.name}: "${fullName}" is already defined`);
    }
    symbols.set(fullName, symbol);
  };
  for (const enumType of file.enumType) {
    define(file.package === '' ? enumType.name : `${file.package}.${enumType.name}`, { kind: 'enum', file: file.name });
  }
  eachMessage(file.messageType, file.package, (message, fullName) => {
    define(fullName, { kind: 'message', file: file.name, message });
    for (const enumType of message.enumType) {
      define(`${fullName}.${enumType.name}`, { kind: 'enum', file: file.name });
    }
  });
  return symbols;
}

/** The file's own symbols plus those of its imports and, transitively, their public imports (protoc's visibility). */
function visibleSymbols(file: FileDescriptorProto, files: ReadonlyMap<string, FileDescriptorProto>): Map<string, DefinedSymbol> {
  const visible = new Map<string, DefinedSymbol>();
  const added = new Set<string>();
  const add = (name: string, followAll: boolean): void => {
    if (added.has(name)) {
      return;
    }
    added.add(name);
    const dependency = files.get(name);
    if (dependency === undefined) {
      return;
    }
    for (const [symbol, defined] of symbolsOf(dependency)) {
      if (!visible.has(symbol) || visible.get(symbol)?.kind === 'package') {
        visible.set(symbol, defined);
      }
    }
    const next = followAll ? dependency.dependency : dependency.publicDependency.map((index) => dependency.dependency[index] ?? '');
    for (const importName of next) {
      add(importName, false);
    }
  };
  add(file.name, true);
  return visible;
}

/**
 * Resolves a reference as protoc does: a leading dot means fully qualified;
 * otherwise the first component is looked up from the innermost scope outwards,
 * and the rest must follow from the first match.
 */
function resolve(reference: string, scope: string, visible: ReadonlyMap<string, DefinedSymbol>): DefinedSymbol & { fullName: string } {
  const found = (fullName: string): (DefinedSymbol & { fullName: string }) | undefined => {
    const symbol = visible.get(fullName);
    return symbol === undefined || symbol.kind === 'package' ? undefined : { ...symbol, fullName };
  };
  let result: (DefinedSymbol & { fullName: string }) | undefined;
  if (reference.startsWith('.')) {
    result = found(reference.slice(1));
  } else {
    const [first = '', ...rest] = reference.split('.');
    for (let current: string | undefined = scope; current !== undefined; ) {
      const candidate = current === '' ? first : `${current}.${first}`;
      if (visible.has(candidate)) {
        result = found([candidate, ...rest].join('.'));
        break;
      }
      current = current === '' ? undefined : current.slice(0, Math.max(0, current.lastIndexOf('.')));
    }
  }
  if (result === undefined) {
    throw new Error(`unresolvable reference to "${reference}"`);
  }
  return result;
}

function checkMapEntries(message: DescriptorProto, fullName: string, resolved: ReadonlyMap<FieldDescriptorProto, DefinedSymbol & { fullName: string }>): number {
  let maps = 0;
  const usedEntries = new Set<string>();
  for (const field of message.field) {
    const target = resolved.get(field);
    const entry = target?.message;
    if (target === undefined || entry?.options?.mapEntry !== true) {
      continue;
    }
    const where = `message field "${fullName}.${field.name}" is an invalid map`;
    if (target.fullName !== `${fullName}.${entry.name}`) {
      throw new Error(`${where}: message and field must be declared in the same scope`);
    }
    if (entry.name !== protocMapEntryName(field.name)) {
      throw new Error(`${where}: incorrect implicit map entry name (${entry.name}, protoc names it ${protocMapEntryName(field.name)})`);
    }
    if (field.label !== FieldDescriptorProto_Label.REPEATED) {
      throw new Error(`${where}: field must be repeated`);
    }
    const [key, value, ...more] = entry.field;
    if (key === undefined || value === undefined || more.length > 0) {
      throw new Error(`${where}: message must have exactly two fields`);
    }
    if (entry.nestedType.length + entry.enumType.length + entry.extension.length + entry.extensionRange.length > 0) {
      throw new Error(`${where}: message must not have any nested declarations`);
    }
    for (const [entryField, name, number] of [[key, 'key', 1], [value, 'value', 2]] as const) {
      if (entryField.name !== name || entryField.number !== number || entryField.label !== FieldDescriptorProto_Label.OPTIONAL || inOneof(entryField)) {
        throw new Error(`${where}: invalid ${name} field`);
      }
    }
    if (!MAP_KEY_TYPES.has(key.type)) {
      throw new Error(`${where}: invalid key kind ${FieldDescriptorProto_Type[key.type]}`);
    }
    usedEntries.add(entry.name);
    maps += 1;
  }
  for (const nested of message.nestedType) {
    if (nested.options?.mapEntry === true && !usedEntries.has(nested.name)) {
      throw new Error(`"${fullName}.${nested.name}": map_entry should not be set explicitly (no map field of ${fullName} uses it under protoc's name)`);
    }
  }
  return maps;
}

function checkOneofs(file: FileDescriptorProto, message: DescriptorProto, fullName: string): void {
  const synthetic = message.oneofDecl.map(() => false);
  message.field.forEach((field, position) => {
    const where = `field "${fullName}.${field.name}"`;
    if (field.proto3Optional) {
      if (file.syntax !== 'proto3') {
        throw new Error(`${where}: proto3_optional outside a proto3 file`);
      }
      if (!inOneof(field) || field.label !== FieldDescriptorProto_Label.OPTIONAL) {
        throw new Error(`${where}: proto3_optional fields must be singular and in their synthetic oneof`);
      }
      synthetic[field.oneofIndex] = true;
    }
    if (inOneof(field)) {
      if (message.oneofDecl[field.oneofIndex] === undefined) {
        throw new Error(`${where}: oneof_index ${field.oneofIndex} out of range`);
      }
      const previous = message.field[position - 1];
      const first = message.field.findIndex((other) => inOneof(other) && other.oneofIndex === field.oneofIndex);
      if (first !== position && (previous === undefined || !inOneof(previous) || previous.oneofIndex !== field.oneofIndex)) {
        throw new Error(`message oneof "${fullName}.${message.oneofDecl[field.oneofIndex]?.name ?? '?'}" must have consecutively declared fields`);
      }
    }
  });
  message.oneofDecl.forEach((oneof, index) => {
    const members = message.field.filter((field) => inOneof(field) && field.oneofIndex === index);
    if (members.length === 0) {
      throw new Error(`message oneof "${fullName}.${oneof.name}" must contain at least one field declaration`);
    }
    if (synthetic[index] === true && members.length !== 1) {
      throw new Error(`synthetic oneof "${fullName}.${oneof.name}" must hold exactly its proto3 optional field`);
    }
    if (synthetic[index] === false && synthetic.slice(0, index).some(Boolean)) {
      throw new Error(`message "${fullName}": synthetic oneofs must be after all other oneofs (real oneof ${oneof.name} follows one)`);
    }
  });
}

/**
 * Checks `buffers` (serialized FileDescriptorProtos, as reflection serves them)
 * and that each of `services` (full names) is defined in them.
 * @throws Error naming the first problem, as grpcurl would meet it.
 */
export function checkDescriptorsStrictly(buffers: readonly Uint8Array[], services: readonly string[] = []): StrictCheck {
  const decoded = decodeUnique(buffers);
  const files = new Map([...decoded].map(([name, { file }]) => [name, file]));
  const ordered = dependencyOrder(files);
  const counts = { files: files.size, messages: 0, fields: 0, maps: 0, references: 0, services: 0 };

  const qualified: FileDescriptorProto[] = [];
  for (const original of ordered) {
    const file = clone(FileDescriptorProtoSchema, original);
    const visible = visibleSymbols(file, files);
    const fail = (where: string, error: unknown): never => {
      throw new Error(`${file.name}: ${where}: ${error instanceof Error ? error.message : String(error)}`);
    };
    const resolveOrFail = (reference: string, scope: string, where: string): DefinedSymbol & { fullName: string } => {
      counts.references += 1;
      try {
        return resolve(reference, scope, visible);
      } catch (error) {
        return fail(where, error);
      }
    };

    const resolvedFields = new Map<FieldDescriptorProto, DefinedSymbol & { fullName: string }>();
    const resolveField = (field: FieldDescriptorProto, scope: string, where: string): void => {
      if (field.typeName !== '') {
        const target = resolveOrFail(field.typeName, scope, where);
        const wantsEnum = field.type === FieldDescriptorProto_Type.ENUM;
        if (isFieldSet(field, FieldDescriptorProtoSchema.field.type) && wantsEnum !== (target.kind === 'enum')) {
          fail(where, new Error(`"${field.typeName}" is not ${wantsEnum ? 'an enum' : 'a message'}`));
        }
        resolvedFields.set(field, target);
        field.typeName = `.${target.fullName}`;
      }
      if (field.extendee !== '') {
        field.extendee = `.${resolveOrFail(field.extendee, scope, `${where} (extendee)`).fullName}`;
      }
    };
    for (const extension of file.extension) {
      resolveField(extension, file.package, `extension ${extension.name}`);
    }
    eachMessage(file.messageType, file.package, (message, fullName) => {
      counts.messages += 1;
      for (const field of [...message.field, ...message.extension]) {
        counts.fields += 1;
        resolveField(field, fullName, `field ${fullName}.${field.name}`);
      }
    });
    for (const service of file.service) {
      const serviceName = file.package === '' ? service.name : `${file.package}.${service.name}`;
      for (const method of service.method) {
        const where = `method ${serviceName}.${method.name}`;
        method.inputType = `.${resolveOrFail(method.inputType, file.package, `${where} (input)`).fullName}`;
        method.outputType = `.${resolveOrFail(method.outputType, file.package, `${where} (output)`).fullName}`;
      }
    }
    eachMessage(file.messageType, file.package, (message, fullName) => {
      try {
        counts.maps += checkMapEntries(message, fullName, resolvedFields);
        checkOneofs(file, message, fullName);
      } catch (error) {
        fail(`message ${fullName}`, error);
      }
    });
    qualified.push(file);
  }

  let registry: FileRegistry;
  try {
    registry = createFileRegistry(create(FileDescriptorSetSchema, { file: qualified }));
  } catch (error) {
    throw new Error(`@bufbuild/protobuf refused the descriptors: ${error instanceof Error ? error.message : String(error)}`);
  }
  for (const name of services) {
    if (registry.getService(name) === undefined) {
      throw new Error(`service ${name} is not defined in the files ${JSON.stringify([...files.keys()])}`);
    }
    counts.services += 1;
  }
  return { registry, files, counts };
}
