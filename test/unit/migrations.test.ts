import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import {
  diffMigrationsToSchema,
  migrationSlug,
  migrationTimestamp,
  writeMigration,
} from '../../scripts/schema-engine.js';
import {
  applyMigrations,
  defaultMigrationsDir,
  packageRoot,
  readMigrations,
} from '../../src/storage/migrations.js';

const root = packageRoot();
const schemaPath = join(root, 'prisma', 'schema.prisma');
const committedMigrations = defaultMigrationsDir('sqlite');

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'herald-migrations-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A copy of the committed migrations that a test may edit. */
async function migrationsCopy(t: TestContext): Promise<string> {
  const dir = join(await tempDir(t), 'migrations');
  await cp(committedMigrations, dir, { recursive: true });
  return dir;
}

function openSqlite(t: TestContext, filePath: string): Database.Database {
  const db = new Database(filePath);
  t.after(() => db.close());
  return db;
}

test('the committed migrations produce exactly prisma/schema.prisma', async () => {
  const sql = await diffMigrationsToSchema({ provider: 'sqlite', migrationsDir: committedMigrations, schemaPath });
  assert.equal(
    sql,
    '',
    `prisma/schema.prisma changed without a migration; run \`npm run db:diff -- --name <name>\`. Missing SQL:\n${sql}`,
  );
});

test('the drift check catches a schema changed without a migration', async (t) => {
  const schema = await readFile(schemaPath, 'utf8');
  const changed = schema.replace(
    /model AgentPreferences \{\n/,
    (head) => `${head}  driftProbe String? @map("drift_probe")\n`,
  );
  assert.notEqual(changed, schema, 'the test could not find model AgentPreferences to change');
  const changedSchemaPath = join(await tempDir(t), 'schema.prisma');
  await writeFile(changedSchemaPath, changed);

  const sql = await diffMigrationsToSchema({
    provider: 'sqlite',
    migrationsDir: committedMigrations,
    schemaPath: changedSchemaPath,
  });
  assert.match(sql, /ALTER TABLE "agent_preferences" ADD COLUMN "drift_probe" TEXT/);
});

test('a new migration written by the tool closes the drift', async (t) => {
  const migrationsDir = await migrationsCopy(t);
  const schema = await readFile(schemaPath, 'utf8');
  const changedSchemaPath = join(await tempDir(t), 'schema.prisma');
  await writeFile(changedSchemaPath, schema.replace(/model AgentPreferences \{\n/, (h) => `${h}  probe Int?\n`));

  const sql = await diffMigrationsToSchema({ provider: 'sqlite', migrationsDir, schemaPath: changedSchemaPath });
  const dir = await writeMigration({ provider: 'sqlite', migrationsDir, name: 'Add probe!', sql, now: new Date('2999-01-02T03:04:05Z') });
  assert.ok(dir.endsWith('29990102030405_add_probe'), dir);
  assert.equal(await diffMigrationsToSchema({ provider: 'sqlite', migrationsDir, schemaPath: changedSchemaPath }), '');
  await assert.rejects(
    writeMigration({ provider: 'sqlite', migrationsDir, name: 'older', sql, now: new Date('2000-01-01T00:00:00Z') }),
    /would not sort after the latest one, 29990102030405_add_probe/,
  );
});

test('migration names and timestamps follow Prisma', () => {
  assert.equal(migrationTimestamp(new Date('2025-03-04T05:06:07.890Z')), '20250304050607');
  assert.equal(migrationSlug('Add quiet-hours Index'), 'add_quiet_hours_index');
  assert.throws(() => migrationSlug('--'), /no letters or digits/);
});

test('applies the migrations to a fresh SQLite file and records them as Prisma does', async (t) => {
  const filePath = join(await tempDir(t), 'not', 'yet', 'there', 'herald.db');
  const committed = await readMigrations(committedMigrations);
  assert.ok(committed.length > 0);

  const applied = await applyMigrations({ provider: 'sqlite', filePath });
  assert.deepEqual(applied, committed.map((m) => m.name));

  const db = openSqlite(t, filePath);
  const tables = db
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
    .pluck()
    .all();
  assert.deepEqual(tables, [
    '_prisma_migrations',
    'agent_preferences',
    'deliveries',
    'delivery_attempts',
    'digests',
    'endpoints',
    'notifications',
    'ordering_sequences',
    'portal_sessions',
    'rate_counters',
  ]);
  assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');

  const records = db.prepare('SELECT * FROM _prisma_migrations ORDER BY started_at').all();
  assert.equal(records.length, committed.length);
  for (const [i, migration] of committed.entries()) {
    const bytes = await readFile(join(committedMigrations, migration.name, 'migration.sql'));
    const record = records[i] as Record<string, unknown>;
    assert.equal(record['migration_name'], migration.name);
    assert.equal(record['checksum'], createHash('sha256').update(bytes).digest('hex'));
    assert.equal(record['applied_steps_count'], 1);
    assert.equal(record['logs'], null);
    assert.equal(record['rolled_back_at'], null);
    assert.match(String(record['id']), /^[0-9a-f-]{36}$/);
    // Unix milliseconds, as Prisma's native engine writes DateTime on SQLite.
    assert.equal(typeof record['started_at'], 'number');
    assert.ok(Number(record['finished_at']) >= Number(record['started_at']));
  }

  assert.deepEqual(await applyMigrations({ provider: 'sqlite', filePath }), [], 'the second run applies nothing');
  assert.equal(db.prepare('SELECT count(*) FROM _prisma_migrations').pluck().get(), committed.length);
});

test('refuses to start when an applied migration was edited', async (t) => {
  const migrationsDir = await migrationsCopy(t);
  const filePath = join(await tempDir(t), 'herald.db');
  await applyMigrations({ provider: 'sqlite', filePath }, undefined, { migrationsDir });

  const [first] = await readMigrations(migrationsDir);
  assert.ok(first);
  const file = join(migrationsDir, first.name, 'migration.sql');
  await writeFile(file, `${await readFile(file, 'utf8')}\n-- an innocent-looking edit\n`);

  await assert.rejects(applyMigrations({ provider: 'sqlite', filePath }, undefined, { migrationsDir }), (error: unknown) => {
    assert.ok(error instanceof Error);
    assert.match(error.message, new RegExp(`migration ${first.name} was edited after it was applied`));
    return true;
  });
});

test('a checkout with Windows line endings is not an edit', async (t) => {
  const migrationsDir = await migrationsCopy(t);
  const filePath = join(await tempDir(t), 'herald.db');
  await applyMigrations({ provider: 'sqlite', filePath }, undefined, { migrationsDir });
  for (const migration of await readMigrations(migrationsDir)) {
    const file = join(migrationsDir, migration.name, 'migration.sql');
    await writeFile(file, migration.sql.replace(/\r?\n/g, '\r\n'));
  }
  assert.deepEqual(await applyMigrations({ provider: 'sqlite', filePath }, undefined, { migrationsDir }), []);
});

test('refuses to start when the database has a migration that is not on disk', async (t) => {
  const migrationsDir = await migrationsCopy(t);
  const extra = join(migrationsDir, '29991231235959_from_a_newer_build');
  await mkdir(extra);
  await writeFile(join(extra, 'migration.sql'), 'CREATE TABLE "newer" ("id" INTEGER);\n');
  const filePath = join(await tempDir(t), 'herald.db');
  await applyMigrations({ provider: 'sqlite', filePath }, undefined, { migrationsDir });

  await rm(extra, { recursive: true });
  await assert.rejects(
    applyMigrations({ provider: 'sqlite', filePath }, undefined, { migrationsDir }),
    /migration 29991231235959_from_a_newer_build is recorded in the database but missing from/,
  );
});

test('a failing migration leaves neither its changes nor its record', async (t) => {
  const migrationsDir = await migrationsCopy(t);
  const broken = join(migrationsDir, '29991231235959_broken');
  await mkdir(broken);
  await writeFile(join(broken, 'migration.sql'), 'CREATE TABLE "half" ("id" INTEGER);\nINSERT INTO "missing" VALUES (1);\n');
  const filePath = join(await tempDir(t), 'herald.db');

  await assert.rejects(
    applyMigrations({ provider: 'sqlite', filePath }, undefined, { migrationsDir }),
    /migration 29991231235959_broken failed and was rolled back: no such table: missing/,
  );
  const db = openSqlite(t, filePath);
  assert.equal(db.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'half'").pluck().get(), 0);
  assert.deepEqual(
    db.prepare('SELECT migration_name FROM _prisma_migrations').pluck().all(),
    (await readMigrations(committedMigrations)).map((m) => m.name),
    'the migrations before it stay applied',
  );
});

test('a migration that rebuilds a parent table keeps the child rows', async (t) => {
  // Prisma's SQLite migrations rebuild a table to change a column type
  // (create new, copy, DROP, rename). With foreign keys enforced inside the
  // transaction, the DROP would cascade into delivery_attempts.
  const migrationsDir = await migrationsCopy(t);
  const dir = await tempDir(t);
  const filePath = join(dir, 'herald.db');
  await applyMigrations({ provider: 'sqlite', filePath }, undefined, { migrationsDir });
  const db = openSqlite(t, filePath);
  db.exec(`INSERT INTO deliveries (id, agent_id, event_type, body, status, next_attempt_at, created_at, updated_at)
             VALUES ('d1', 'a1', 'test', '{}', 'PENDING', 0, 0, 0);
           INSERT INTO delivery_attempts (id, delivery_id, number, started_at, duration_ms, trigger, url)
             VALUES ('t1', 'd1', 1, 0, 5, 'TEST', 'https://example.test/hook');`);

  const schema = await readFile(schemaPath, 'utf8');
  const changed = schema.replace(/(\n\s+attemptCount\s+)Int /, '$1BigInt ');
  assert.notEqual(changed, schema, 'the test could not find Delivery.attemptCount to change');
  const changedSchemaPath = join(dir, 'schema.prisma');
  await writeFile(changedSchemaPath, changed);
  const sql = await diffMigrationsToSchema({ provider: 'sqlite', migrationsDir, schemaPath: changedSchemaPath });
  assert.match(sql, /DROP TABLE "deliveries"/, 'the change should need a table rebuild');
  await writeMigration({ provider: 'sqlite', migrationsDir, name: 'rebuild deliveries', sql });

  assert.equal((await applyMigrations({ provider: 'sqlite', filePath }, undefined, { migrationsDir })).length, 1);
  assert.equal(db.prepare('SELECT count(*) FROM delivery_attempts').pluck().get(), 1);
  assert.equal(db.pragma('foreign_keys', { simple: true }), 1, 'other connections keep foreign keys on');
});

test('logs each applied migration', async (t) => {
  const filePath = join(await tempDir(t), 'herald.db');
  const lines: Array<{ obj: object; msg: string }> = [];
  await applyMigrations({ provider: 'sqlite', filePath }, { info: (obj, msg) => lines.push({ obj, msg }) });
  assert.ok(lines.some((line) => line.msg === 'applied migration'));
  assert.ok(lines.some((line) => line.msg === 'database schema is up to date'));
});

// PostgreSQL: runs only where a server is provided, e.g.
// HERALD_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres (the user needs CREATEDB).
const postgresUrl = process.env['HERALD_TEST_DATABASE_URL'];

test('PostgreSQL: diff, apply, apply again', { skip: postgresUrl ? false : 'HERALD_TEST_DATABASE_URL is not set' }, async (t) => {
  assert.ok(postgresUrl);
  const dir = await tempDir(t);
  const schema = (await readFile(schemaPath, 'utf8')).replace('provider = "sqlite"', 'provider = "postgresql"');
  const pgSchemaPath = join(dir, 'schema.prisma');
  await writeFile(pgSchemaPath, schema);
  const migrationsDir = join(dir, 'migrations');

  const sql = await diffMigrationsToSchema({
    provider: 'postgresql',
    migrationsDir,
    schemaPath: pgSchemaPath,
    shadowDatabaseUrl: postgresUrl,
  });
  assert.match(sql, /CREATE TABLE "agent_preferences"/);
  await writeMigration({ provider: 'postgresql', migrationsDir, name: 'init', sql });
  const again = await diffMigrationsToSchema({
    provider: 'postgresql',
    migrationsDir,
    schemaPath: pgSchemaPath,
    shadowDatabaseUrl: postgresUrl,
  });
  assert.equal(again, '');

  const database = `herald_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: postgresUrl });
  await admin.connect();
  t.after(async () => {
    await admin.query(`DROP DATABASE IF EXISTS "${database}"`);
    await admin.end();
  });
  await admin.query(`CREATE DATABASE "${database}"`);
  const url = new URL(postgresUrl);
  url.pathname = `/${database}`;

  // Replicas starting together: the advisory lock lets exactly one apply.
  const runs = await Promise.all(
    [1, 2, 3].map(() => applyMigrations({ provider: 'postgresql', url: url.href }, undefined, { migrationsDir })),
  );
  assert.equal(runs.flat().length, 1);
  assert.deepEqual(await applyMigrations({ provider: 'postgresql', url: url.href }, undefined, { migrationsDir }), []);
});

test(
  'the committed PostgreSQL migrations agree with prisma/postgresql/schema.prisma',
  { skip: postgresUrl ? false : 'HERALD_TEST_DATABASE_URL is not set' },
  async () => {
    assert.ok(postgresUrl);
    const sql = await diffMigrationsToSchema({
      provider: 'postgresql',
      migrationsDir: join(packageRoot(), 'prisma', 'postgresql', 'migrations'),
      schemaPath: join(packageRoot(), 'prisma', 'postgresql', 'schema.prisma'),
      shadowDatabaseUrl: postgresUrl,
    });
    assert.equal(sql, '', `the schema has changes no migration covers; run npm run db:diff -- --provider postgresql ... --name <change>:\n${sql}`);
  },
);
