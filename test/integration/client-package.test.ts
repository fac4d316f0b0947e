/**
 * @herald/client as another repository gets it: `npm pack` in packages/client (which builds
 * it), the tarball installed with typescript into a fresh project outside this repository, a
 * consumer compiled there with tsc (strict, NodeNext) and run against a real Herald and a
 * real receiver. One pack and one install per run; skipped, saying why, when npm cannot
 * reach the registry.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { cleanup, startHerald } from '../helpers/herald.js';
import { startReceiver } from '../helpers/receiver.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PACKAGE = join(ROOT, 'packages', 'client');
const TYPESCRIPT = (JSON.parse(readFileSync(join(ROOT, 'node_modules', 'typescript', 'package.json'), 'utf8')) as { version: string }).version;
const TOKEN = 'client-package-token-0123456789';
const EXAMPLE = join(ROOT, 'examples', 'notify-from-a-service');
const EXAMPLE_FILES = ['notify.ts', 'receiver.ts'];

/** Errors npm reports when the registry is out of reach, as opposed to a broken package. */
const OFFLINE = /ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|EHOSTUNREACH|network request|getaddrinfo/i;

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** The npm settings an outer `npm test` may pass on that say where and how to fetch, not where to install. */
const KEPT_NPM_SETTINGS = new Set(['npm_config_registry', 'npm_config_cache', 'npm_config_userconfig', 'npm_config_cafile', 'npm_config_proxy', 'npm_config_https_proxy', 'npm_config_noproxy']);

/**
 * Runs a command to completion. An outer `npm test` exports its own settings (among them
 * npm_config_local_prefix, this repository): they are dropped, so the install in the
 * temporary project cannot be steered back into the repository.
 */
function run(command: string, args: readonly string[], cwd: string, extraEnv: Record<string, string> = {}): Promise<Run> {
  const inherited = Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name) || KEPT_NPM_SETTINGS.has(name.toLowerCase()));
  const env = { ...Object.fromEntries(inherited), ...extraEnv };
  return new Promise((resolve) => {
    execFile(command, args, { cwd, env, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

function succeeded(what: string, result: Run): Run {
  assert.equal(result.code, 0, `${what} failed (exit ${result.code}):\n${result.stdout.slice(-4000)}\n${result.stderr.slice(-4000)}`);
  return result;
}

interface ConsumerOutput {
  webhookSecret: string;
  preferencesAgent: string;
  notificationId: string;
  deliveryId: string;
  outcome: string;
  metadata: unknown;
  notFound: { code: number; codeName: string; details: string; isNotFound: boolean } | null;
  badMetadata: string;
  left: string;
  portalUrl: string;
  statuses: string[];
}

test('the packed @herald/client installs outside the repository, compiles under strict NodeNext and works against a real Herald', { timeout: 600_000 }, async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'herald-client-package-'));
  cleanup(t, () => rmSync(work, { recursive: true, force: true }));

  // Asked first, with no retries: an unreachable registry otherwise costs minutes of npm's backoff.
  const ping = await run('npm', ['ping', '--fetch-retries=0', '--fetch-timeout=15000'], work);
  if (ping.code !== 0 && OFFLINE.test(ping.stderr)) {
    const reason = `npm cannot reach the registry: ${ping.stderr.split('\n').find((line) => OFFLINE.test(line))?.trim() ?? 'network error'}`;
    console.log(`# skipped: ${reason}`);
    t.skip(reason);
    return;
  }

  const packed = succeeded('npm pack', await run('npm', ['pack', '--json', '--pack-destination', work], PACKAGE));
  const [manifest] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as Array<{ filename: string; files: Array<{ path: string }> }>;
  assert.ok(manifest !== undefined);
  const shipped = manifest.files.map((f) => f.path);
  for (const file of ['dist/index.js', 'dist/index.d.ts', 'dist/generated/proto/herald/v1/Notification.d.ts', 'proto/herald/v1/notification.proto', 'proto/herald/v1/common.proto']) {
    assert.ok(shipped.includes(file), `the tarball holds ${file}`);
  }
  assert.deepEqual(shipped.filter((f) => f.startsWith('src/') || f.startsWith('test/') || f.startsWith('scripts/')), [], 'no sources, tests or build scripts');
  const tarball = join(work, manifest.filename);

  const app = join(work, 'consumer');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'herald-client-consumer', private: true, type: 'module' }));
  const install = await run('npm', ['install', tarball, `typescript@${TYPESCRIPT}`, '--prefer-offline', '--no-audit', '--no-fund'], app);
  if (install.code !== 0 && OFFLINE.test(install.stderr)) {
    const reason = `npm cannot reach the registry: ${install.stderr.split('\n').find((line) => OFFLINE.test(line))?.trim() ?? 'network error'}`;
    console.log(`# skipped: ${reason}`);
    t.skip(reason);
    return;
  }
  succeeded('npm install of the tarball', install);

  const installed = JSON.parse(readFileSync(join(app, 'node_modules', '@herald', 'client', 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
  assert.deepEqual(Object.keys(installed.dependencies ?? {}).sort(), ['@grpc/grpc-js', '@grpc/proto-loader']);
  for (const serverOnly of ['prisma', '@prisma/client', 'better-sqlite3', 'pino', 'pg', 'got']) {
    assert.equal(existsSync(join(app, 'node_modules', serverOnly)), false, `${serverOnly} is not installed`);
  }

  for (const file of ['calls.ts', 'verify.ts']) {
    copyFileSync(join(PACKAGE, 'test', 'consumer', file), join(app, file));
  }
  // The example a platform service copies must keep compiling (and notify.ts keep working) too.
  mkdirSync(join(app, 'example'));
  for (const file of EXAMPLE_FILES) {
    copyFileSync(join(EXAMPLE, 'src', file), join(app, 'example', file));
  }
  writeFileSync(
    join(app, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noUncheckedIndexedAccess: true, types: ['node'], outDir: '.' },
      files: ['calls.ts', 'verify.ts', ...EXAMPLE_FILES.map((file) => `example/${file}`)],
    }),
  );
  succeeded('tsc on the consumer', await run(process.execPath, [join(app, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', '.'], app));

  const h = await startHerald(t, { env: { HERALD_API_TOKENS: TOKEN, HERALD_PORTAL_BASE_URL: 'https://herald.example.com' } });
  const receiver = await startReceiver();
  cleanup(t, () => receiver.close());
  const agent = `pkg-${Date.now().toString(36)}`;
  const calls = succeeded('the consumer', await run(process.execPath, ['calls.js', h.address, TOKEN, receiver.url, agent], app));
  const out = JSON.parse(calls.stdout.trim().split('\n').at(-1) ?? '') as ConsumerOutput;

  assert.equal(out.preferencesAgent, agent, 'UpdatePreferences answered with the agent');
  assert.equal(out.outcome, 'DECISION_OUTCOME_DELIVER');
  assert.deepEqual(out.metadata, { duration_s: 42, steps: ['build', 'test'], result: { ok: true, warnings: null } }, 'metadata given as plain JSON reads back intact');
  assert.deepEqual(out.notFound && { code: out.notFound.code, codeName: out.notFound.codeName, isNotFound: out.notFound.isNotFound }, { code: 5, codeName: 'NOT_FOUND', isNotFound: true });
  assert.match(out.notFound?.details ?? '', /not found/);
  assert.match(out.badMetadata, /^metadata\.when: undefined cannot be represented in JSON/);
  assert.equal(out.left, 'left the loop', 'breaking out of for await ended the stream');
  assert.match(out.portalUrl, /^https:\/\/herald\.example\.com\/portal\/open\?token=[A-Za-z0-9_-]{43}$/, 'PortalService made a link');
  assert.deepEqual(out.statuses, ['DELIVERY_STATUS_PENDING', 'DELIVERY_STATUS_SUCCEEDED'], 'WatchDeliveries carried the delivery');

  const example = await run(process.execPath, ['example/notify.js', agent, '17'], app, { HERALD_ADDRESS: h.address, HERALD_TOKEN: TOKEN, HERALD_INSECURE: 'true' });
  succeeded('the example notify.js', example);
  assert.match(example.stdout, /^ntf_\w+: DECISION_OUTCOME_DELIVER /m);

  const requests = await receiver.waitForRequests(1);
  const webhook = requests.find((r) => r.headers['x-herald-delivery'] === out.deliveryId);
  assert.ok(webhook !== undefined, 'the receiver got the notification webhook');
  assert.equal(webhook.headers['x-herald-event'], 'notification');
  const requestFile = join(work, 'request.json');
  writeFileSync(requestFile, JSON.stringify({ headers: webhook.headers, body_base64: webhook.body.toString('base64') }));
  const verified = succeeded('the consumer verifying', await run(process.execPath, ['verify.js', requestFile, out.webhookSecret], app));
  assert.deepEqual(JSON.parse(verified.stdout.trim()), {
    valid: true,
    asString: true,
    hex: { ok: true, scheme: 'hex' },
    tampered: { ok: false, reason: 'signature_mismatch' },
  });
});
