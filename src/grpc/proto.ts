import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { Options, PackageDefinition } from '@grpc/proto-loader';

import type { ProtoGrpcType as CommonProtoGrpcType } from '../generated/proto/common.js';
import type { ProtoGrpcType as DeliveryProtoGrpcType } from '../generated/proto/delivery.js';
import type { ProtoGrpcType as NotificationProtoGrpcType } from '../generated/proto/notification.js';
import type { ProtoGrpcType as PreferencesProtoGrpcType } from '../generated/proto/preferences.js';
import { repairFileDescriptors } from './reflection-descriptors.js';

/**
 * Walks up from `startDir` to the first directory holding a package.json.
 * The proto directory is located from there rather than from this file, because
 * this module runs both as src/grpc/proto.ts (tsx) and as dist/grpc/proto.js
 * (compiled), which sit at the same depth today but need not stay so.
 */
function findPackageRoot(startDir: string): string {
  let dir = startDir;
  for (;;) {
    if (existsSync(path.join(dir, 'package.json'))) {
      return dir;
    }
    const parent = path.dirname(dir);
    if (parent === dir) {
      throw new Error(`no package.json found in ${startDir} or any parent directory`);
    }
    dir = parent;
  }
}

/** Absolute path of the repository's `proto/` directory: the include root of every .proto file. */
export const PROTO_DIR: string = path.join(findPackageRoot(path.dirname(fileURLToPath(import.meta.url))), 'proto');

if (!existsSync(path.join(PROTO_DIR, 'herald', 'v1'))) {
  // Fail at import with the path we tried; loadSync would otherwise report a bare ENOENT per file.
  throw new Error(`proto directory not found: expected ${path.join(PROTO_DIR, 'herald', 'v1')}`);
}

/**
 * proto-loader options for the Herald API.
 *
 * These MUST equal the `proto-loader-gen-types` flags in scripts/generate.mjs
 * (`--keepCase --longs=Number --enums=String --defaults --oneofs`): the types in
 * src/generated/proto describe objects decoded with exactly these options, so any
 * difference makes the generated types lie (e.g. camelCase keys, Long objects).
 * `keepCase` also keeps the field names in the served descriptors identical to
 * the .proto, which reflection clients rely on.
 */
export const PROTO_LOADER_OPTIONS: Readonly<Options> = Object.freeze({
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [PROTO_DIR],
});

/** The API's .proto files, relative to {@link PROTO_DIR}; the same list scripts/generate.mjs generates types for. */
export const PROTO_FILES: readonly string[] = Object.freeze([
  'herald/v1/common.proto',
  'herald/v1/preferences.proto',
  'herald/v1/notification.proto',
  'herald/v1/delivery.proto',
]);

/**
 * The typed object `grpc.loadPackageDefinition` returns for {@link PROTO_FILES}:
 * the union of what proto-loader-gen-types generated per file (each file's
 * `ProtoGrpcType` covers only the types that file reaches, so they are intersected).
 */
export type HeraldGrpcObject = CommonProtoGrpcType &
  PreferencesProtoGrpcType &
  NotificationProtoGrpcType &
  DeliveryProtoGrpcType;

/** The `herald.v1` namespace: service client constructors (with `.service` definitions), messages and enums. */
export type HeraldV1 = HeraldGrpcObject['herald']['v1'];

/**
 * Loads the Herald API synchronously with {@link PROTO_LOADER_OPTIONS}.
 *
 * The returned definition's file descriptors are already repaired for
 * reflection (dependency lists filled, map entries named as protoc names them);
 * see {@link repairFileDescriptors}. Serialization is unaffected by the repair.
 */
export function loadHeraldPackageDefinition(): PackageDefinition {
  // Copies, because loadSync's parameters are mutable-typed and the constants are frozen.
  const definition = protoLoader.loadSync([...PROTO_FILES], { ...PROTO_LOADER_OPTIONS });
  return repairFileDescriptors(definition);
}

/**
 * Builds the grpc-js object for the Herald API, typed with the generated types.
 *
 * @param definition - a definition from {@link loadHeraldPackageDefinition};
 *   pass the one you also give the reflection service so the protos are parsed once.
 *   Defaults to a fresh load.
 * @returns e.g. `obj.herald.v1.PreferencesService.service` for `server.addService`,
 *   or `new obj.herald.v1.PreferencesService(address, credentials)` for a client.
 */
export function loadHeraldGrpcObject(definition: PackageDefinition = loadHeraldPackageDefinition()): HeraldGrpcObject {
  // The generated ProtoGrpcType is the documented shape of this object; grpc-js types it only as GrpcObject.
  return grpc.loadPackageDefinition(definition) as unknown as HeraldGrpcObject;
}
