/**
 * Replays deploy/compose.yaml without a Docker engine, as
 * scripts/docker-replay.mjs does for the Dockerfile: the services Compose
 * would build from this repository (those with `build:`) run as local
 * processes, in `depends_on` order, each replica with
 *
 * - the environment Compose gives it: the image's ENV (the Dockerfile's final
 *   stage) under the service's `environment`, with `${VAR:-default}`
 *   interpolated from the replay's variables as Compose does;
 * - its `command`, where the image's `node dist/<x>.js` runs
 *   `node --import tsx src/<x>.ts` from the checkout (dist is src compiled;
 *   the Docker replay checks the compiled image);
 * - the waits its dependents' conditions name: `service_completed_successfully`
 *   (every replica exited 0), `service_healthy` (the image's HEALTHCHECK
 *   command passes, or, for a service without one, its start line),
 *   `service_started`.
 *
 * What a container network gives and a host does not is stood in for, and
 * said so: each replica binds loopback on a port of its own (GRPC_ADDRESS and
 * HERALD_METRICS_ADDRESS at port 0, read back from its log) instead of the
 * same port in separate containers; a service that is only an image (the
 * database, Prometheus) is not run: a URL naming it by host is pointed at the
 * stand-in the caller gives (a fresh PostgreSQL database), and the others are
 * listed in `notReplayed`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDockerfile, planStages } from '../../scripts/docker-replay.mjs';
import { REPO_ROOT, readYaml } from './deploy.js';

export interface ComposeService {
  readonly image?: string;
  readonly build?: unknown;
  readonly command?: string[];
  readonly environment?: Record<string, string | number | boolean | null>;
  readonly depends_on?: string[] | Record<string, { condition?: string }>;
  readonly deploy?: { readonly replicas?: number };
  readonly healthcheck?: { readonly disable?: boolean; readonly test?: string[] };
}

export interface Replica {
  readonly service: string;
  readonly index: number;
  readonly env: Record<string, string>;
  readonly proc: ChildProcess;
  readonly logs: string[];
  readonly stderr: string[];
  readonly exited: Promise<number | null>;
  /** Ports read from the start-up log, once logged. */
  grpcPort: number | null;
  metricsPort: number | null;
}

export interface ReplayOptions {
  /** The values `${VAR}` in the file takes (Compose reads the shell's environment and `.env`). */
  readonly variables: Record<string, string>;
  /** Stand-ins for image-only services a URL names by host: service name → URL that replaces it (e.g. postgres → a fresh database). */
  readonly standIns: Record<string, string>;
  readonly timeoutMs: number;
}

export interface Replay {
  readonly replicas: Replica[];
  /** Image-only services that were not run, with the reason. */
  readonly notReplayed: string[];
  /** Waits until every replica of `service` is healthy as `service_healthy` means it (what `docker compose up --wait` waits for). */
  waitUntilHealthy(service: string): Promise<void>;
  /** Stops every replica (SIGTERM, as `docker compose down`) in reverse start order and waits for them. */
  stop(): Promise<void>;
}

/** `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?message}` and `$$`, as Compose interpolates. */
export function interpolate(text: string, variables: Record<string, string>): string {
  return text.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?])([^}]*))?\}/g, (match, name: string | undefined, colon: string, op: string, arg: string) => {
    if (name === undefined) return '$';
    const value = variables[name];
    const missing = value === undefined || (colon === ':' && value === '');
    if (op === '-') return missing ? arg : value!;
    if (op === '?' && missing) throw new Error(`compose.yaml needs ${name}: ${arg}`);
    return value ?? '';
  });
}

function dependencies(service: ComposeService): Array<{ name: string; condition: string }> {
  const d = service.depends_on ?? [];
  return Array.isArray(d) ? d.map((name) => ({ name, condition: 'service_started' })) : Object.entries(d).map(([name, v]) => ({ name, condition: v.condition ?? 'service_started' }));
}

/** Services in an order that starts every dependency first (Compose's order); throws on a cycle. */
export function startOrder(services: Record<string, ComposeService>): string[] {
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, path: string[]): void => {
    if (state.get(name) === 'done') return;
    if (state.get(name) === 'visiting') throw new Error(`depends_on cycle: ${[...path, name].join(' → ')}`);
    if (!(name in services)) throw new Error(`${path.at(-1)} depends on ${name}, which is not a service`);
    state.set(name, 'visiting');
    for (const dep of dependencies(services[name]!)) visit(dep.name, [...path, name]);
    state.set(name, 'done');
    order.push(name);
  };
  for (const name of Object.keys(services)) visit(name, []);
  return order;
}

/** The image's ENV and HEALTHCHECK command, from the Dockerfile's final stage. */
function imageDefaults(): { env: Record<string, string>; healthcheck: string[] | null } {
  const stages = planStages(parseDockerfile(readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8')));
  const final = stages.at(-1)!;
  const instruction = final.instructions.find((i) => i.name === 'HEALTHCHECK');
  const cmd = instruction === undefined ? null : /CMD\s+(\[.*\])\s*$/s.exec(instruction.args);
  return { env: { ...final.env }, healthcheck: cmd === null ? null : (JSON.parse(cmd[1]!) as string[]) };
}

/** The image's `node dist/x.js` as the checkout runs it. */
function fromCheckout(command: string[]): string[] {
  const [bin, script, ...rest] = command;
  const m = /^dist\/(.+)\.js$/.exec(script ?? '');
  if (bin !== 'node' || m === null) throw new Error(`the replay runs "node dist/<entry>.js" commands only, not ${JSON.stringify(command)}`);
  return [process.execPath, '--import', 'tsx', `src/${m[1]}.ts`, ...rest];
}

/** A URL whose host is an image-only service, pointed at its stand-in. */
function standIn(value: string, standIns: Record<string, string>): string {
  for (const [service, url] of Object.entries(standIns)) {
    if (new RegExp(`^[a-z]+://([^@/]*@)?${service}(:\\d+)?/`).test(value)) return url;
  }
  return value;
}

function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  // The container sees only its own environment; PATH so that `node` children resolve.
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env };
}

function spawnReplica(service: string, index: number, env: Record<string, string>, command: string[]): Replica {
  const [bin, ...args] = command;
  const proc = spawn(bin!, args, { cwd: REPO_ROOT, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  const replica: Replica = {
    service,
    index,
    env,
    proc,
    logs: [],
    stderr: [],
    exited: new Promise((resolve) => proc.once('close', (code) => resolve(code))),
    grpcPort: null,
    metricsPort: null,
  };
  let rest = '';
  proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    rest += chunk;
    const lines = rest.split('\n');
    rest = lines.pop()!;
    for (const line of lines) {
      replica.logs.push(line);
      const record = line.startsWith('{') ? (JSON.parse(line) as { msg?: string; port?: number }) : null;
      if (record?.msg === 'gRPC server listening') replica.grpcPort = record.port ?? null;
      if (record?.msg === 'metrics server listening') replica.metricsPort = record.port ?? null;
    }
  });
  proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => replica.stderr.push(chunk));
  return replica;
}

export function describe(r: Replica): string {
  return `${r.service}[${r.index}] exit ${r.proc.exitCode ?? '-'}\n${r.logs.slice(-20).join('\n')}\n${r.stderr.join('')}`;
}

/** Waits for `check` while the replicas run; fails at the deadline or as soon as one of them exits. */
async function until(what: string, deadline: number, check: () => boolean | Promise<boolean>, replicas: Replica[]): Promise<void> {
  while (!(await check())) {
    if (Date.now() > deadline || replicas.some((r) => r.proc.exitCode !== null)) throw new Error(`timed out waiting for ${what}\n${replicas.map(describe).join('\n')}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Whether the image's HEALTHCHECK command passes for this replica (run as Docker would, inside its environment). */
function healthy(replica: Replica, healthcheck: string[]): boolean {
  if (replica.grpcPort === null) return false;
  const [bin, ...args] = fromCheckout(healthcheck);
  const r = spawnSync(bin!, args, { cwd: REPO_ROOT, env: childEnv({ ...replica.env, GRPC_ADDRESS: `127.0.0.1:${replica.grpcPort}` }), timeout: 30_000 });
  return r.status === 0;
}

export async function replayCompose(file: string, options: ReplayOptions): Promise<Replay> {
  const compose = JSON.parse(interpolate(JSON.stringify(readYaml(file)), options.variables)) as { services: Record<string, ComposeService> };
  const image = imageDefaults();
  const replicas: Replica[] = [];
  const notReplayed: string[] = [];
  const deadline = Date.now() + options.timeoutMs;
  const byService = new Map<string, Replica[]>();
  const waitUntilHealthy = async (name: string): Promise<void> => {
    const of = byService.get(name) ?? [];
    const check = compose.services[name]?.healthcheck?.disable === true ? null : image.healthcheck;
    await until(`${name} to be healthy`, deadline, () => of.every((r) => (check === null ? r.logs.some((l) => l.includes('"Herald started"')) : healthy(r, check))), of);
  };
  const stop = async (): Promise<void> => {
    for (const r of [...replicas].reverse()) if (r.proc.exitCode === null && r.proc.signalCode === null) r.proc.kill('SIGTERM');
    await Promise.all(replicas.map((r) => r.exited));
  };
  try {
    for (const name of startOrder(compose.services)) {
      const service = compose.services[name]!;
      for (const dep of dependencies(service)) {
        const deps = byService.get(dep.name);
        if (deps === undefined) continue; // an image-only service: its stand-in is ready before the replay starts
        if (dep.condition === 'service_completed_successfully') {
          await until(`${dep.name} to finish`, deadline, () => deps.every((r) => r.proc.exitCode !== null || r.proc.signalCode !== null), []);
          await Promise.all(deps.map((r) => r.exited));
          const failed = deps.filter((r) => r.proc.exitCode !== 0);
          if (failed.length > 0) throw new Error(`${dep.name} did not complete successfully:\n${failed.map(describe).join('\n')}`);
        } else if (dep.condition === 'service_healthy') {
          await waitUntilHealthy(dep.name);
        }
      }
      if (service.build === undefined) {
        notReplayed.push(`${name} (image ${service.image ?? '?'}): ${name in options.standIns ? 'stood in for by the test' : 'not run'}`);
        continue;
      }
      if (service.command === undefined) throw new Error(`${name}: the replay needs an explicit command`);
      const started: Replica[] = [];
      for (let i = 0; i < (service.deploy?.replicas ?? 1); i++) {
        const env: Record<string, string> = { ...image.env };
        for (const [k, v] of Object.entries(service.environment ?? {})) if (v !== null) env[k] = standIn(String(v), options.standIns);
        // One host for every replica: each binds loopback on a port of its own.
        if (env.GRPC_ADDRESS !== undefined) env.GRPC_ADDRESS = '127.0.0.1:0';
        if (env.HERALD_METRICS_ADDRESS !== undefined) env.HERALD_METRICS_ADDRESS = '127.0.0.1:0';
        const replica = spawnReplica(name, i, env, fromCheckout(service.command));
        replicas.push(replica);
        started.push(replica);
      }
      byService.set(name, started);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { replicas, notReplayed, waitUntilHealthy, stop };
}
