import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import path from 'node:path';
import { test, type TestContext } from 'node:test';

import { fromBinary, toBinary, type DescField } from '@bufbuild/protobuf';
import { FeatureSet_FieldPresence, FieldDescriptorProto_Label, FileDescriptorProtoSchema, type FileDescriptorProto } from '@bufbuild/protobuf/wkt';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { MethodDefinition, PackageDefinition } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import protobuf from 'protobufjs';

import { PROTO_DIR, PROTO_FILES, PROTO_LOADER_OPTIONS } from '../../src/grpc/proto.js';
import { startHerald } from '../helpers/herald.js';
import { checkDescriptorsStrictly } from '../helpers/strict-descriptors.js';

/*
 * Reflection as a strict client sees it: a real server, a real reflection
 * client on a bidi stream fetching files as grpcurl does, and the fetched
 * descriptors checked by test/helpers/strict-descriptors.ts (grpcurl's and
 * protoc's rules, then a @bufbuild/protobuf registry). listServices alone
 * passes even when grpcurl cannot describe anything; and the check itself is
 * shown to refuse proto-loader's unrepaired descriptors where grpcurl does.
 */

const HERALD_SERVICES = ['herald.v1.PreferencesService', 'herald.v1.EndpointService', 'herald.v1.NotificationService', 'herald.v1.DeliveryService', 'herald.v1.PortalService'];
const OTHER_SERVICES = ['grpc.health.v1.Health', 'grpc.reflection.v1.ServerReflection', 'grpc.reflection.v1alpha.ServerReflection'];

/** One request on the ServerReflectionInfo stream, with keepCase field names. */
interface ReflectionRequest {
  list_services?: string;
  file_containing_symbol?: string;
  file_by_filename?: string;
}

type ReflectionAnswer =
  | { kind: 'services'; names: string[] }
  | { kind: 'files'; files: Buffer[] }
  | { kind: 'error'; code: number; message: string };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** Narrows a decoded ServerReflectionResponse (loaded with keepCase and oneofs). */
function parseAnswer(response: unknown): ReflectionAnswer {
  assert.ok(isRecord(response), 'reflection response is not an object');
  const kind = response['message_response'];
  const body = typeof kind === 'string' ? response[kind] : undefined;
  assert.ok(isRecord(body), `reflection response has no body for ${String(kind)}`);
  switch (kind) {
    case 'list_services_response': {
      const services = body['service'];
      assert.ok(Array.isArray(services));
      return { kind: 'services', names: services.map((s: unknown) => (isRecord(s) ? String(s['name']) : '')) };
    }
    case 'file_descriptor_response': {
      const files = body['file_descriptor_proto'];
      assert.ok(Array.isArray(files) && files.every((f: unknown) => Buffer.isBuffer(f)));
      return { kind: 'files', files };
    }
    case 'error_response':
      return { kind: 'error', code: Number(body['error_code']), message: String(body['error_message']) };
    default:
      assert.fail(`unexpected reflection response ${String(kind)}`);
  }
}

/** Sends one request at a time on a reflection bidi stream and awaits its answer. */
class ReflectionSession {
  private readonly waiting: { resolve: (answer: unknown) => void; reject: (error: Error) => void }[] = [];

  constructor(private readonly stream: grpc.ClientDuplexStream<object, object>) {
    stream.on('data', (message: unknown) => this.waiting.shift()?.resolve(message));
    // Always listened to: an unhandled 'error' (e.g. CANCELLED at teardown) would crash the test process.
    stream.on('error', (error: Error) => {
      for (const waiter of this.waiting.splice(0)) {
        waiter.reject(error);
      }
    });
  }

  ask(request: ReflectionRequest): Promise<ReflectionAnswer> {
    return new Promise<unknown>((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.stream.write(request);
    }).then(parseAnswer);
  }

  async files(request: ReflectionRequest): Promise<Buffer[]> {
    const answer = await this.ask(request);
    assert.equal(answer.kind, 'files', `${JSON.stringify(request)} answered ${JSON.stringify(answer)}`);
    return answer.kind === 'files' ? answer.files : [];
  }

  async services(): Promise<string[]> {
    const answer = await this.ask({ list_services: '*' });
    assert.equal(answer.kind, 'services', `list_services answered ${JSON.stringify(answer)}`);
    return answer.kind === 'services' ? answer.names : [];
  }

  end(): void {
    this.stream.end();
  }
}

function loadReflectionClientProtos(): PackageDefinition {
  const packageJson = createRequire(import.meta.url).resolve('@grpc/reflection/package.json');
  return protoLoader.loadSync(['grpc/reflection/v1/reflection.proto', 'grpc/reflection/v1alpha/reflection.proto'], {
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
    includeDirs: [path.join(path.dirname(packageJson), 'build', 'proto')],
  });
}

function streamMethod(definition: PackageDefinition, service: string): MethodDefinition<object, object> {
  const entry: unknown = definition[service];
  assert.ok(isRecord(entry), `${service} missing from the reflection protos`);
  const method: unknown = entry['ServerReflectionInfo'];
  assert.ok(isRecord(method) && typeof method['path'] === 'string', `${service}.ServerReflectionInfo missing`);
  return entry['ServerReflectionInfo'] as MethodDefinition<object, object>;
}

function decodeFile(bytes: Uint8Array): FileDescriptorProto {
  return fromBinary(FileDescriptorProtoSchema, bytes);
}

/** The fetched file that defines the top-level message `pkg.Name`. */
function fileDefining(files: Iterable<FileDescriptorProto>, fullName: string): FileDescriptorProto {
  const dot = fullName.lastIndexOf('.');
  const pkg = fullName.slice(0, dot);
  const name = fullName.slice(dot + 1);
  const found = [...files].find((f) => f.package === pkg && f.messageType.some((m) => m.name === name));
  assert.ok(found, `no fetched file defines ${fullName}`);
  return found;
}

/** Fetches like grpcurl: the file of each symbol, then every dependency by name until the set is closed. */
async function fetchLikeGrpcurl(session: ReflectionSession, symbols: readonly string[]): Promise<Buffer[]> {
  const fetched = new Map<string, Buffer>();
  const collect = (buffers: Buffer[]): void => {
    for (const bytes of buffers) {
      const name = decodeFile(bytes).name;
      if (!fetched.has(name)) {
        fetched.set(name, bytes);
      }
    }
  };
  for (const symbol of symbols) {
    collect(await session.files({ file_containing_symbol: symbol }));
  }
  for (;;) {
    const missing = [...fetched.values()].flatMap((bytes) => decodeFile(bytes).dependency).filter((name) => !fetched.has(name));
    if (missing.length === 0) {
      return [...fetched.values()];
    }
    for (const name of new Set(missing)) {
      collect(await session.files({ file_by_filename: name }));
      assert.ok(fetched.has(name), `file_by_filename ${name} did not return that file`);
    }
  }
}

/**
 * Every field written `optional` in proto/herald, as protobufjs parses the .proto sources: type name → field names;
 * and the oneofs the sources declare themselves (not the synthetic ones of optional fields), by type name.
 */
function proto3OptionalFieldsInSources(): Map<string, string[]> & { readonly realOneofs: Map<string, string[]> } {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => (path.isAbsolute(target) ? target : path.join(PROTO_DIR, target));
  root.loadSync([...PROTO_FILES], { keepCase: true });
  const optional = Object.assign(new Map<string, string[]>(), { realOneofs: new Map<string, string[]>() });
  const visit = (namespace: protobuf.NamespaceBase): void => {
    for (const nested of namespace.nestedArray) {
      if (nested instanceof protobuf.Type) {
        const real = nested.oneofsArray.filter((o) => !o.fieldsArray.every((f) => f.options?.['proto3_optional'] === true)).map((o) => o.name);
        if (real.length > 0) optional.realOneofs.set(nested.fullName.slice(1), real);
        const names = nested.fieldsArray.filter((field) => field.options?.['proto3_optional'] === true).map((field) => field.name);
        if (names.length > 0) {
          optional.set(nested.fullName.slice(1), names);
        }
      }
      if (nested instanceof protobuf.Namespace) {
        visit(nested);
      }
    }
  };
  const herald = root.lookup('herald');
  assert.ok(herald instanceof protobuf.Namespace, 'proto/ defines no herald package');
  visit(herald);
  return optional;
}

function openSession(t: TestContext, address: string, service: string): ReflectionSession {
  const method = streamMethod(loadReflectionClientProtos(), service);
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  t.after(() => client.close());
  const session = new ReflectionSession(
    client.makeBidiStreamRequest(method.path, method.requestSerialize, method.responseDeserialize),
  );
  t.after(() => session.end());
  return session;
}

test('reflection serves descriptors a strict client accepts', async (t) => {
  // The real service, as grpcurl would meet it.
  const { address } = await startHerald(t, { env: { HERALD_WORKER: 'false' } });
  const session = openSession(t, address, 'grpc.reflection.v1.ServerReflection');

  await t.test('list_services names the Herald, health and reflection services (v1 and v1alpha)', async () => {
    const listed = await session.services();
    for (const name of [...HERALD_SERVICES, ...OTHER_SERVICES]) {
      assert.ok(listed.includes(name), `${name} not in ${JSON.stringify(listed)}`);
    }
    const alpha = openSession(t, address, 'grpc.reflection.v1alpha.ServerReflection');
    assert.deepEqual((await alpha.services()).sort(), [...listed].sort());
  });

  const buffers = await fetchLikeGrpcurl(session, [...HERALD_SERVICES, 'grpc.health.v1.Health']);
  const files = buffers.map(decodeFile);

  await t.test('the fetched descriptors pass the strict check (grpcurl and protoc rules, then a @bufbuild/protobuf registry)', () => {
    const { counts } = checkDescriptorsStrictly(buffers, [...HERALD_SERVICES, 'grpc.health.v1.Health']);
    assert.ok(counts.maps >= 2, 'Preferences.webhook_headers and Struct.fields are checked as maps');
    t.diagnostic(JSON.stringify(counts));
  });

  await t.test('map entries are named as protoc names them', () => {
    const file = fileDefining(files, 'herald.v1.Preferences');
    const preferences = file.messageType.find((m) => m.name === 'Preferences');
    const field = preferences?.field.find((f) => f.name === 'webhook_headers');
    assert.ok(field, 'Preferences.webhook_headers missing');
    assert.equal(field.typeName, '.herald.v1.Preferences.WebhookHeadersEntry');
    assert.equal(field.label, FieldDescriptorProto_Label.REPEATED);
    const nested = preferences?.nestedType ?? [];
    const entry = nested.find((m) => m.name === 'WebhookHeadersEntry');
    assert.ok(entry, `nested types: ${nested.map((m) => m.name).join(', ')}`);
    assert.equal(entry.options?.mapEntry, true);
    assert.ok(!nested.some((m) => m.name === 'Webhook_headers'), 'the protobufjs-named entry is still there');
  });

  await t.test('the Preferences file imports the files defining Timestamp and FieldMask', () => {
    // proto-loader emits one file per package ("herald_v1.proto", "google_protobuf.proto"), not protoc's
    // per-source files, so the dependency is checked by the symbols it must provide rather than by file name.
    const dependencies = fileDefining(files, 'herald.v1.Preferences').dependency;
    for (const symbol of ['google.protobuf.Timestamp', 'google.protobuf.FieldMask']) {
      const definer = fileDefining(files, symbol).name;
      assert.ok(dependencies.includes(definer), `${symbol} is in ${definer}, not in dependencies ${JSON.stringify(dependencies)}`);
    }
  });

  await t.test('every field written optional in proto/ is described as proto3 optional, not as a oneof', () => {
    const { registry } = checkDescriptorsStrictly(buffers);
    const optional = proto3OptionalFieldsInSources();
    assert.ok((optional.get('herald.v1.Preferences') ?? []).includes('enable_webhook'), 'the sources have no optional enable_webhook');
    for (const [typeName, fieldNames] of optional) {
      const message = registry.getMessage(typeName);
      assert.ok(message, `${typeName} not served`);
      // A client sees only real oneofs: those the sources declare (EndpointOverrides' quiet_hours_choice).
      assert.deepEqual(message.oneofs.map((o) => o.name), optional.realOneofs.get(typeName) ?? [], `${typeName} shows synthetic oneofs as real ones`);
      for (const name of fieldNames) {
        const field: DescField | undefined = message.fields.find((f) => f.name === name);
        assert.ok(field, `${typeName}.${name} not served`);
        assert.equal(field.proto.proto3Optional, true, `${typeName}.${name} lacks proto3_optional`);
        assert.equal(field.presence, FeatureSet_FieldPresence.EXPLICIT, `${typeName}.${name} has no explicit presence`);
        assert.equal(field.oneof, undefined, `${typeName}.${name} is in a real oneof`);
      }
    }
    const agentId = registry.getMessage('herald.v1.Preferences')?.fields.find((f) => f.name === 'agent_id');
    assert.equal(agentId?.presence, FeatureSet_FieldPresence.IMPLICIT, 'a plain proto3 field keeps implicit presence');
  });
});

/** Serves only reflection, for `def` exactly as given (no repair), on 127.0.0.1:0. */
async function serveReflectionOnly(t: TestContext, def: PackageDefinition): Promise<string> {
  const server = new grpc.Server();
  new ReflectionService(def).addToServer(server);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound)));
  });
  t.after(() => server.forceShutdown());
  return `127.0.0.1:${port}`;
}

test("the strict check refuses proto-loader's unrepaired descriptors where grpcurl does", async (t) => {
  const raw = protoLoader.loadSync([...PROTO_FILES], { ...PROTO_LOADER_OPTIONS });
  const session = openSession(t, await serveReflectionOnly(t, raw), 'grpc.reflection.v1.ServerReflection');
  const served = await fetchLikeGrpcurl(session, HERALD_SERVICES);

  await t.test('without dependency lists: unresolvable reference to google.protobuf.Timestamp', () => {
    assert.throws(
      () => checkDescriptorsStrictly(served, HERALD_SERVICES),
      /^Error: herald_v1\.proto: field herald\.v1\.\w+\.\w+: unresolvable reference to "\.?google\.protobuf\.Timestamp"$/,
    );
  });

  await t.test("with dependency lists but protobufjs's map entry names: an invalid map", () => {
    const everyFile = new Map<string, Buffer>();
    for (const entry of Object.values(raw)) {
      // Message and enum entries carry the files; service entries have none of their own.
      const list: unknown = Reflect.get(entry, 'fileDescriptorProtos');
      for (const bytes of Array.isArray(list) ? list.filter((item): item is Buffer => Buffer.isBuffer(item)) : []) {
        everyFile.set(decodeFile(bytes).name, bytes);
      }
    }
    const names = [...everyFile.keys()];
    const linked = [...everyFile.values()].map((bytes) => {
      const file = decodeFile(bytes);
      file.dependency = file.name === 'herald_v1.proto' ? names.filter((name) => name !== file.name) : [];
      return toBinary(FileDescriptorProtoSchema, file);
    });
    assert.throws(() => checkDescriptorsStrictly(linked, HERALD_SERVICES), /"google\.protobuf\.Struct\.fields" is an invalid map: incorrect implicit map entry name/);

    // With Struct's entry renamed by hand, the next one grpcurl meets is Herald's own map.
    const structFixed = linked.map((bytes) => {
      const file = decodeFile(bytes);
      for (const message of file.messageType.filter((m) => file.package === 'google.protobuf' && m.name === 'Struct')) {
        for (const entry of message.nestedType.filter((n) => n.name === 'Fields')) {
          entry.name = 'FieldsEntry';
        }
        for (const field of message.field.filter((f) => f.name === 'fields')) {
          field.typeName = '.google.protobuf.Struct.FieldsEntry';
        }
      }
      return toBinary(FileDescriptorProtoSchema, file);
    });
    assert.throws(
      () => checkDescriptorsStrictly(structFixed, HERALD_SERVICES),
      /"herald\.v1\.Preferences\.webhook_headers" is an invalid map: incorrect implicit map entry name \(Webhook_headers, protoc names it WebhookHeadersEntry\)/,
    );
  });
});
