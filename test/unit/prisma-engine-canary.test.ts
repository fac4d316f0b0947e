/*
 * Canaries for the workarounds that exist because Prisma's native schema
 * engine cannot be installed on our machines (their REMOVE WHEN lines: the
 * migration runner in src/storage/migrations.ts, `npm run db:diff` in
 * scripts/schema-engine.ts, the stand-in scripts/no-schema-engine.sh that
 * prisma.config.ts names). Each runs the installed Prisma CLI or package and
 * asserts that it still needs what the workaround replaces, offline: the
 * engine the CLI would run is a stand-in recording that it was run, and the
 * host it would download from is a local server recording what was asked.
 * When one fails after an upgrade, upstream fixed it: follow its message.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PRISMA_CLI = join(ROOT, 'node_modules', 'prisma', 'build', 'index.js');
const SCHEMA = join(ROOT, 'prisma', 'schema.prisma');

interface Run {
  readonly code: number;
  readonly output: string;
}

/** Runs the installed Prisma CLI in `dir` with the config written there; never the developer's own engine variables. */
function prisma(dir: string, args: readonly string[], env: Record<string, string>): Promise<Run> {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('PRISMA_')));
  return new Promise((resolve) => {
    execFile(process.execPath, [PRISMA_CLI, ...args, '--config', join(dir, 'prisma.config.ts')], { cwd: dir, env: { ...inherited, ...env } }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, output: `${stdout}${stderr}`.slice(-2000) });
    });
  });
}

/** A directory with a Prisma config over the committed schema and migrations, and a fresh SQLite file. */
function project(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'herald-prisma-canary-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const config = { schema: SCHEMA, migrations: { path: join(ROOT, 'prisma', 'migrations') }, datasource: { url: `file:${join(dir, 'canary.db')}` } };
  writeFileSync(join(dir, 'prisma.config.ts'), `export default ${JSON.stringify(config)};\n`);
  return dir;
}

/** An executable that records its arguments and fails, given to the CLI as the native schema engine. */
function recordingEngine(dir: string): { path: string; ran: () => string | null } {
  const path = join(dir, 'recording-engine.sh');
  const record = join(dir, 'engine-ran');
  writeFileSync(path, `#!/bin/sh\necho "$@" >> '${record}'\nexit 1\n`);
  chmodSync(path, 0o755);
  return { path, ran: () => (existsSync(record) ? readFileSync(record, 'utf8') : null) };
}

// Each waits seconds for the CLI to start: run side by side.
describe('the Prisma CLI', { concurrency: true }, () => {
  test('canary: `prisma migrate deploy` still runs the native schema engine (src/storage/migrations.ts applies migrations instead)', async (t) => {
    const dir = project(t);
    const engine = recordingEngine(dir);
    const run = await prisma(dir, ['migrate', 'deploy'], { PRISMA_SCHEMA_ENGINE_BINARY: engine.path });
    assert.notEqual(engine.ran(), null, `Prisma now applies migrations without its native schema engine (exit ${run.code}): see the REMOVE WHEN line of src/storage/migrations.ts\n${run.output}`);
    assert.notEqual(run.code, 0, 'the CLI succeeded although its engine failed');
  });

  test('canary: `prisma migrate diff` still runs the native schema engine (scripts/schema-engine.ts diffs with the WebAssembly one instead)', async (t) => {
    const dir = project(t);
    const engine = recordingEngine(dir);
    const run = await prisma(dir, ['migrate', 'diff', '--from-empty', '--to-schema', SCHEMA, '--script'], { PRISMA_SCHEMA_ENGINE_BINARY: engine.path });
    assert.notEqual(engine.ran(), null, `Prisma now diffs without its native schema engine (exit ${run.code}): see the REMOVE WHEN line of scripts/schema-engine.ts\n${run.output}`);
  });

  test('canary: the Prisma CLI still fetches the native schema engine at start-up, even for a command without it (scripts/no-schema-engine.sh stops that)', async (t) => {
    const dir = project(t);
    const asked: string[] = [];
    const mirror = http.createServer((req, res) => {
      asked.push(req.url ?? '');
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => mirror.listen(0, '127.0.0.1', resolve));
    t.after(() => mirror.close());
    const { port } = mirror.address() as AddressInfo;
    const run = await prisma(dir, ['validate'], { PRISMA_ENGINES_MIRROR: `http://127.0.0.1:${port}` });
    assert.ok(
      asked.some((path) => path.includes('schema-engine')),
      `\`prisma validate\` no longer fetches the schema engine at start-up (exit ${run.code}; asked for ${JSON.stringify(asked)}): see the REMOVE WHEN line of scripts/no-schema-engine.sh\n${run.output}`,
    );
  });
});

/** The oldest Node major package.json's `engines` admits: a workaround for it stays until that Node is dropped. */
function oldestNodeMajor(): number {
  const engines = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node;
  const major = /^>=\s*(\d+)/.exec(engines)?.[1];
  assert.ok(major !== undefined, `package.json engines.node "${engines}" has no >= bound`);
  return Number(major);
}

test('canary: Node cannot import @prisma/schema-engine-wasm\'s entry, a .wasm module (scripts/schema-engine.ts instantiates it by hand)', async (t) => {
  const oldest = oldestNodeMajor();
  if (Number(process.versions.node.split('.')[0]) !== oldest) {
    t.skip(`needs Node ${oldest}, the oldest package.json admits; this is ${process.version}`);
    return;
  }
  await assert.rejects(
    import('@prisma/schema-engine-wasm'),
    (error: NodeJS.ErrnoException) => error.code === 'ERR_UNKNOWN_FILE_EXTENSION',
    `Node ${process.version} now imports the engine's entry: see the REMOVE WHEN line of loadSchemaEngine in scripts/schema-engine.ts`,
  );
});
