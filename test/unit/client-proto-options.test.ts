// The client package keeps its own copy of the loader options (it must not depend on the
// server's code); this test is what keeps the two equal.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { generatorFlags, LOADER_OPTIONS, PROTO_FILES as CLIENT_PROTO_FILES } from '../../packages/client/src/proto-options.js';
import { PROTO_FILES as SERVER_PROTO_FILES, PROTO_LOADER_OPTIONS } from '../../src/grpc/proto.js';

test('the client package loads the same .proto files as the server', () => {
  assert.deepEqual([...CLIENT_PROTO_FILES], [...SERVER_PROTO_FILES]);
});

test('the client package decodes with the same proto-loader options as the server (includeDirs aside)', () => {
  const { includeDirs: _where, ...server } = PROTO_LOADER_OPTIONS;
  assert.deepEqual({ ...LOADER_OPTIONS }, server);
});

test('the client package generates its types with flags that say exactly its loader options', () => {
  assert.deepEqual(generatorFlags(), ['--keepCase', '--longs=Number', '--enums=String', '--defaults', '--oneofs']);
});
