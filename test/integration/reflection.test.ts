import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { MethodDefinition, PackageDefinition } from '@grpc/proto-loader';
import descriptor from 'protobufjs/ext/descriptor/index.js';
import type { IDescriptorProto, IFileDescriptorProto } from 'protobufjs/ext/descriptor/index.js';

import { startHerald } from '../helpers/herald.js';

/*
 * Reflection as a strict client sees it: a real server, a real reflection
 * client on a bidi stream, and the fetched descriptors fed to protobuf's own
 * DescriptorPool (Debian's python3-protobuf), which rejects what grpcurl
 * rejects. listServices alone passes even when grpcurl cannot describe anything.
 */

const HERALD_SERVICES = ['herald.v1.PreferencesService', 'herald.v1.NotificationService', 'herald.v1.DeliveryService'];
const OTHER_SERVICES = ['grpc.health.v1.Health', 'grpc.reflection.v1.ServerReflection', 'grpc.reflection.v1alpha.ServerReflection'];

// Debian's interpreter on purpose: a pyenv python3 may come first on PATH, without python3-protobuf.
const PYTHON = '/usr/bin/python3';
const CHECKER = fileURLToPath(new URL('../helpers/check_descriptors.py', import.meta.url));

const LABEL_REPEATED = 3;

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

function decodeFile(bytes: Uint8Array): IFileDescriptorProto {
  // Decoded descriptor messages have the IFileDescriptorProto shape.
  return descriptor.FileDescriptorProto.decode(bytes) as unknown as IFileDescriptorProto;
}

function dependenciesOf(file: IFileDescriptorProto): string[] {
  const value: unknown = file.dependency;
  return Array.isArray(value) ? value.map(String) : [];
}

/** The collected file that defines the top-level message `pkg.Name`. */
function fileDefining(files: ReadonlyMap<string, IFileDescriptorProto>, fullName: string): IFileDescriptorProto {
  const dot = fullName.lastIndexOf('.');
  const pkg = fullName.slice(0, dot);
  const name = fullName.slice(dot + 1);
  const found = [...files.values()].find((f) => f.package === pkg && (f.messageType ?? []).some((m) => m.name === name));
  assert.ok(found, `no fetched file defines ${fullName}`);
  return found;
}

function openSession(t: { after: (fn: () => void) => void }, address: string, service: string): ReflectionSession {
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

  // Fetch like grpcurl: the file of each service, then every dependency by name until the set is closed.
  const raw = new Map<string, Buffer>();
  const collect = (buffers: Buffer[]): void => {
    for (const bytes of buffers) {
      const name = decodeFile(bytes).name ?? '';
      if (!raw.has(name)) {
        raw.set(name, bytes);
      }
    }
  };
  for (const symbol of [...HERALD_SERVICES, 'grpc.health.v1.Health']) {
    collect(await session.files({ file_containing_symbol: symbol }));
  }
  for (;;) {
    const missing = [...raw.values()]
      .flatMap((bytes) => dependenciesOf(decodeFile(bytes)))
      .filter((name) => !raw.has(name));
    if (missing.length === 0) {
      break;
    }
    for (const name of new Set(missing)) {
      const buffers = await session.files({ file_by_filename: name });
      collect(buffers);
      assert.ok(raw.has(name), `file_by_filename ${name} did not return that file`);
    }
  }
  const files = new Map([...raw].map(([name, bytes]) => [name, decodeFile(bytes)]));

  await t.test('python protobuf DescriptorPool builds and resolves every descriptor', () => {
    assert.ok(existsSync(PYTHON), `${PYTHON} not found: install Debian's python3 and python3-protobuf`);
    const result = spawnSync(PYTHON, [CHECKER], {
      input: JSON.stringify({
        files: [...raw.values()].map((bytes) => bytes.toString('base64')),
        services: [...HERALD_SERVICES, 'grpc.health.v1.Health'],
      }),
      encoding: 'utf8',
      timeout: 30_000,
    });
    const output = `${result.stdout}${result.stderr}`.trim();
    assert.equal(result.error, undefined, `could not run ${PYTHON}: ${String(result.error)}`);
    assert.equal(result.status, 0, `descriptor check failed (exit ${String(result.status)}): ${output}`);
    assert.match(result.stdout, /^OK /);
    t.diagnostic(output);
  });

  await t.test('map entries are named as protoc names them', () => {
    const file = fileDefining(files, 'herald.v1.Preferences');
    const preferences = (file.messageType ?? []).find((m) => m.name === 'Preferences');
    const field = (preferences?.field ?? []).find((f) => f.name === 'webhook_headers');
    assert.ok(field, 'Preferences.webhook_headers missing');
    assert.equal(field.typeName, '.herald.v1.Preferences.WebhookHeadersEntry');
    assert.equal(field.label, LABEL_REPEATED);
    const nested: IDescriptorProto[] = preferences?.nestedType ?? [];
    const entry = nested.find((m) => m.name === 'WebhookHeadersEntry');
    assert.ok(entry, `nested types: ${nested.map((m) => m.name).join(', ')}`);
    assert.equal(entry.options?.mapEntry, true);
    assert.ok(!nested.some((m) => m.name === 'Webhook_headers'), 'the protobufjs-named entry is still there');
  });

  await t.test('the Preferences file imports the files defining Timestamp and FieldMask', () => {
    // proto-loader emits one file per package ("herald_v1.proto", "google_protobuf.proto"), not protoc's
    // per-source files, so the dependency is checked by the symbols it must provide rather than by file name.
    const dependencies = dependenciesOf(fileDefining(files, 'herald.v1.Preferences'));
    for (const symbol of ['google.protobuf.Timestamp', 'google.protobuf.FieldMask']) {
      const definer = fileDefining(files, symbol).name ?? '';
      assert.ok(dependencies.includes(definer), `${symbol} is in ${definer}, not in dependencies ${JSON.stringify(dependencies)}`);
    }
  });
});
