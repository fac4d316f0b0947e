import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';

import { fromBinary, isFieldSet, toBinary, type DescField } from '@bufbuild/protobuf';
import { FieldDescriptorProtoSchema, FileDescriptorProtoSchema, type FileDescriptorProto } from '@bufbuild/protobuf/wkt';
import * as protoLoader from '@grpc/proto-loader';
import type { PackageDefinition } from '@grpc/proto-loader';

import { PROTO_FILES, PROTO_LOADER_OPTIONS } from '../../src/grpc/proto.js';
import { repairFileDescriptors } from '../../src/grpc/reflection-descriptors.js';
import { checkDescriptorsStrictly } from '../helpers/strict-descriptors.js';

/** The distinct FileDescriptorProto buffers of a definition (message and enum entries carry them all). */
function buffersOf(def: PackageDefinition): Buffer[] {
  const buffers = new Set<Buffer>();
  for (const entry of Object.values(def)) {
    const list: unknown = Reflect.get(entry, 'fileDescriptorProtos');
    for (const bytes of Array.isArray(list) ? list.filter((item): item is Buffer => Buffer.isBuffer(item)) : []) {
      buffers.add(bytes);
    }
  }
  return [...buffers];
}

function filesOf(def: PackageDefinition): Map<string, FileDescriptorProto> {
  return new Map(buffersOf(def).map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes)).map((file) => [file.name, file]));
}

function message(file: FileDescriptorProto | undefined, name: string): FileDescriptorProto['messageType'][number] {
  const found = file?.messageType.find((m) => m.name === name);
  assert.ok(found, `${name} not in ${file?.name ?? 'no file'}`);
  return found;
}

/*
 * Canaries for src/grpc/reflection-descriptors.ts (its REMOVE WHEN line): each
 * asserts that proto-loader still gets one thing wrong. When one fails after an
 * upgrade, upstream fixed it: delete that part of the repair and its canary.
 */
test('canary: proto-loader still emits what the reflection fixer repairs', async (t) => {
  const files = filesOf(protoLoader.loadSync([...PROTO_FILES], { ...PROTO_LOADER_OPTIONS }));
  const herald = files.get('herald_v1.proto');
  const preferences = message(herald, 'Preferences');

  await t.test('dependency lists are empty (grpc/grpc-node#2595)', () => {
    assert.ok(preferences.field.some((f) => f.typeName.endsWith('google.protobuf.Timestamp')), 'Preferences no longer uses Timestamp');
    assert.deepEqual(herald?.dependency, [], 'proto-loader now fills dependency: drop pass 3 of repairFiles');
  });

  await t.test('map entries are named after the field, not <Field>Entry (protobufjs ext/descriptor)', () => {
    assert.deepEqual(
      preferences.nestedType.filter((n) => n.options?.mapEntry === true).map((n) => n.name),
      ['Webhook_headers'],
      'protobufjs now names map entries as protoc does: drop renameMapEntries',
    );
  });

  await t.test('proto3 optional fields lack proto3_optional (protobufjs 7; fixed in 8 by protobufjs/protobuf.js#2232)', () => {
    const field = preferences.field.find((f) => f.name === 'enable_webhook');
    assert.ok(field && isFieldSet(field, FieldDescriptorProtoSchema.field.oneofIndex), 'enable_webhook is no longer in a synthetic oneof');
    assert.equal(field.proto3Optional, false, 'proto-loader now keeps proto3_optional: drop markProto3Optionals');
  });
});

const FIXTURE = `syntax = "proto3";
package fixture.v1;
import "google/protobuf/timestamp.proto";

message Outer {
  optional string first = 1;
  oneof choice {
    string a = 2;
    int32 b = 3;
  }
  optional int32 last = 4;
  message Inner {
    map<string, int32> counts_by_name = 1;
    google.protobuf.Timestamp at = 2;
  }
  Inner inner = 5;
}
`;

function loadFixture(t: TestContext): PackageDefinition {
  const dir = mkdtempSync(path.join(tmpdir(), 'herald-proto-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'outer.proto'), FIXTURE);
  return protoLoader.loadSync('outer.proto', { keepCase: true, includeDirs: [dir] });
}

test('repairFileDescriptors turns proto-loader output into descriptors the strict check accepts', async (t) => {
  const raw = loadFixture(t);
  assert.throws(() => checkDescriptorsStrictly(buffersOf(raw)), /unresolvable reference to "\.?google\.protobuf\.Timestamp"/);
  const repaired = repairFileDescriptors(raw);
  const { registry } = checkDescriptorsStrictly(buffersOf(repaired));

  await t.test('a nested map entry is renamed and its field points at it', () => {
    const inner = registry.getMessage('fixture.v1.Outer.Inner');
    const counts = inner?.fields.find((f) => f.name === 'counts_by_name');
    assert.equal(counts?.fieldKind, 'map');
    assert.equal(counts.proto.typeName, '.fixture.v1.Outer.Inner.CountsByNameEntry');
  });

  await t.test('synthetic oneofs move after the real one, and oneof_index follows', () => {
    const outer = message(filesOf(repaired).get('fixture_v1.proto'), 'Outer');
    assert.deepEqual(outer.oneofDecl.map((o) => o.name), ['choice', '_first', '_last']);
    const index = (name: string): number | undefined => outer.field.find((f) => f.name === name)?.oneofIndex;
    assert.deepEqual(['a', 'b', 'first', 'last'].map(index), [0, 0, 1, 2]);
    const described = registry.getMessage('fixture.v1.Outer');
    assert.deepEqual(described?.oneofs.map((o) => o.name), ['choice'], 'only the real oneof is a oneof');
    for (const name of ['first', 'last']) {
      const field: DescField | undefined = described?.fields.find((f) => f.name === name);
      assert.equal(field?.proto.proto3Optional, true, `${name} is proto3 optional`);
      assert.equal(field.oneof, undefined);
    }
    assert.equal(described?.fields.find((f) => f.name === 'a')?.oneof?.name, 'choice');
  });

  await t.test('repairing a repaired definition changes nothing', () => {
    const again = buffersOf(repairFileDescriptors(repaired));
    assert.deepEqual(again, buffersOf(repaired));
  });
});

test('the strict check refuses a synthetic oneof placed before a real one, as protoc does', (t) => {
  const [bytes, ...others] = buffersOf(repairFileDescriptors(loadFixture(t))).sort((x, y) => y.length - x.length);
  assert.ok(bytes);
  const file = fromBinary(FileDescriptorProtoSchema, bytes);
  assert.equal(file.name, 'fixture_v1.proto');
  const outer = message(file, 'Outer');
  // Back to protobufjs's declaration order (_first, choice, _last), flags kept.
  const [choice, first, last] = outer.oneofDecl;
  assert.ok(choice && first && last);
  outer.oneofDecl = [first, choice, last];
  for (const field of outer.field) {
    if (isFieldSet(field, FieldDescriptorProtoSchema.field.oneofIndex) && field.oneofIndex < 2) {
      field.oneofIndex = 1 - field.oneofIndex;
    }
  }
  assert.throws(
    () => checkDescriptorsStrictly([toBinary(FileDescriptorProtoSchema, file), ...others]),
    /fixture\.v1\.Outer": synthetic oneofs must be after all other oneofs/,
  );
});
