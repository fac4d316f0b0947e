// The gRPC object type and the list of services are derived from proto/manifest.json;
// these tests catch generated code older than the manifest and check the derivation.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import * as protoLoader from '@grpc/proto-loader';
import { GENERATED_PROTO_FILES } from '../../src/generated/proto-api.js';
import { heraldServiceNames, loadHeraldGrpcObject, loadHeraldPackageDefinition, PROTO_FILES } from '../../src/grpc/proto.js';

test('the generated gRPC object type covers exactly the files of proto/manifest.json (else run npm run generate)', () => {
  assert.deepEqual([...GENERATED_PROTO_FILES], [...PROTO_FILES]);
});

test('every Herald service of the loaded definitions is a client constructor with its service definition', () => {
  const names = heraldServiceNames(loadHeraldPackageDefinition());
  assert.deepEqual([...names].sort(), ['herald.v1.DeliveryService', 'herald.v1.EndpointService', 'herald.v1.NotificationService', 'herald.v1.PortalService', 'herald.v1.PreferencesService']);
  const api: Record<string, unknown> = loadHeraldGrpcObject().herald.v1;
  for (const name of names) {
    const client = api[name.slice('herald.v1.'.length)] as { service?: unknown } | undefined;
    assert.equal(typeof client, 'function', name);
    assert.equal(typeof client?.service, 'object', name);
  }
});

test('the service names are read from the definitions: a new herald.v1 service is listed, other packages and messages are not', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'herald-services-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'a.proto'), 'syntax = "proto3"; package herald.v1; service PortalService { rpc Open(Req) returns (Req); } message Req { string id = 1; } enum Kind { KIND_UNSPECIFIED = 0; }');
  writeFileSync(join(dir, 'b.proto'), 'syntax = "proto3"; package other.v1; service Elsewhere { rpc Go(Msg) returns (Msg); } message Msg {}');
  const definition = protoLoader.loadSync(['a.proto', 'b.proto'], { includeDirs: [dir], keepCase: true });
  assert.deepEqual(heraldServiceNames(definition), ['herald.v1.PortalService']);
});
