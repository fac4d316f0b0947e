import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { Options, PackageDefinition } from '@grpc/proto-loader';

import type { HeraldProtoGrpcType } from '../generated/proto-api.js';
import { repairFileDescriptors } from './reflection-descriptors.js';
import { RefusedRequest, undecodable, type RequestGuard } from './request-guard.js';

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

/** Absolute path of `proto/manifest.json`: the one list of API protos and their loader options. */
export const PROTO_MANIFEST_PATH: string = path.join(PROTO_DIR, 'manifest.json');

/** The manifest's `longs`/`enums` values (as proto-loader-gen-types spells them) → the constructor proto-loader wants. */
const CONVERSIONS: Readonly<Record<string, Readonly<Record<string, typeof Number | typeof String>>>> = {
  longs: { Number, String },
  enums: { String },
};
/** Loader options that are plain flags, identical for the loader and the generator. */
const FLAGS: ReadonlySet<string> = new Set(['keepCase', 'defaults', 'arrays', 'objects', 'oneofs', 'json']);

interface ProtoManifest {
  readonly files: readonly string[];
  readonly options: Readonly<Options>;
}

/**
 * Reads and checks {@link PROTO_MANIFEST_PATH}. scripts/generate.mjs turns the
 * same `loader` object into proto-loader-gen-types flags, so the types in
 * src/generated/proto describe objects decoded with exactly these options
 * (keys, longs as numbers, enums as strings); an option this function does not
 * know is refused rather than silently ignored by one side.
 */
function readManifest(): ProtoManifest {
  const where = PROTO_MANIFEST_PATH;
  const parsed: unknown = JSON.parse(readFileSync(where, 'utf8'));
  const manifest = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
  const files = manifest['files'];
  if (!Array.isArray(files) || files.length === 0 || !files.every((f): f is string => typeof f === 'string' && f.endsWith('.proto'))) {
    throw new Error(`${where}: "files" must be a non-empty list of .proto paths relative to ${PROTO_DIR}`);
  }
  const loader = manifest['loader'];
  if (typeof loader !== 'object' || loader === null) {
    throw new Error(`${where}: "loader" must be an object of proto-loader options`);
  }
  const options: Options = { includeDirs: [PROTO_DIR] };
  for (const [key, value] of Object.entries(loader)) {
    const conversion = CONVERSIONS[key];
    if (FLAGS.has(key) && typeof value === 'boolean') {
      Object.assign(options, { [key]: value });
    } else if (conversion !== undefined && typeof value === 'string' && conversion[value] !== undefined) {
      Object.assign(options, { [key]: conversion[value] });
    } else {
      throw new Error(`${where}: unsupported loader option ${key}=${JSON.stringify(value).slice(0, 40)}`);
    }
  }
  return { files: Object.freeze([...files]), options: Object.freeze(options) };
}

const MANIFEST = readManifest();

/**
 * proto-loader options for the Herald API, from {@link PROTO_MANIFEST_PATH}
 * (today `keepCase`, `longs: Number`, `enums: String`, `defaults`, `oneofs`),
 * plus `includeDirs: [PROTO_DIR]`. `keepCase` also keeps the field names in the
 * served descriptors identical to the .proto, which reflection clients rely on.
 */
export const PROTO_LOADER_OPTIONS: Readonly<Options> = MANIFEST.options;

/** The API's .proto files, relative to {@link PROTO_DIR}, from {@link PROTO_MANIFEST_PATH}. */
export const PROTO_FILES: readonly string[] = MANIFEST.files;

/**
 * The typed object `grpc.loadPackageDefinition` returns for {@link PROTO_FILES}:
 * the intersection of what proto-loader-gen-types generated per file (each
 * file's `ProtoGrpcType` covers only the types that file reaches), written by
 * scripts/generate.mjs from the manifest itself.
 */
export type HeraldGrpcObject = HeraldProtoGrpcType;

/** The `herald.v1` namespace: service client constructors (with `.service` definitions), messages and enums. */
export type HeraldV1 = HeraldGrpcObject['herald']['v1'];

/** The package of every Herald service. */
const HERALD_PACKAGE = 'herald.v1';

/**
 * The full names of the Herald services in `definition`
 * (`herald.v1.PreferencesService`, …): every entry of the `herald.v1` package
 * that is a service, not a message or an enum. The one list of services:
 * whatever the manifest's files define.
 */
export function heraldServiceNames(definition: PackageDefinition): string[] {
  return Object.entries(definition)
    .filter(([name, entry]) => name.startsWith(`${HERALD_PACKAGE}.`) && typeof (entry as { format?: unknown }).format !== 'string')
    .map(([name]) => name);
}

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

/**
 * `service` with every method's request deserializer guarded: a request
 * protobufjs cannot decode, or one that breaks {@link RequestGuard}'s rules,
 * comes out as a {@link RefusedRequest} instead of a throw (which grpc-js would
 * answer `INTERNAL: Error deserializing request` before any handler runs), and
 * the handler adapters answer its error after authentication. Unary and
 * streaming methods alike.
 */
export function withGuardedRequests<S extends grpc.ServiceDefinition>(service: S, guard: RequestGuard): S {
  const guarded: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const [name, method] of Object.entries(service)) {
    const { typeName, check } = guard.forMethod(method.path);
    const decode = method.requestDeserialize;
    const requestDeserialize = (bytes: Buffer): unknown => {
      let request: unknown;
      try {
        request = decode(bytes);
      } catch (err) {
        return new RefusedRequest(undecodable(typeName, err));
      }
      try {
        check(request);
      } catch (err) {
        return new RefusedRequest(err);
      }
      return request;
    };
    guarded[name] = { ...method, requestDeserialize };
  }
  return guarded as S;
}
