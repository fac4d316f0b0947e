/**
 * Produces migration SQL and checks for drift with Prisma's WebAssembly schema
 * engine (`@prisma/schema-engine-wasm`), because the native engine that
 * `prisma migrate` needs cannot be downloaded on our machines.
 *
 * Usage (paths default to the SQLite schema and its migrations):
 *
 *   npm run db:diff -- --name add_foo        write prisma/migrations/<UTC timestamp>_add_foo/migration.sql
 *   npm run db:diff                          print the pending SQL; exit 2 when there is any (a drift check)
 *   npm run db:diff -- --provider postgresql --shadow-database-url postgresql://…/postgres --name init
 *
 * Other flags: --schema <file>, --migrations <dir>. PostgreSQL needs a live
 * server (flag or SHADOW_DATABASE_URL); see {@link DiffOptions.shadowDatabaseUrl}.
 *
 * REMOVE WHEN: Prisma diffs without its native schema engine (Prisma 7.10's
 * `prisma migrate diff` and `migrate dev` run that binary): they then replace
 * this script, with the adapter patches below (multi-statement scripts on
 * better-sqlite3, PostgreSQL's `"char"` columns). test/unit/prisma-engine-canary.test.ts
 * has a canary that fails once `migrate diff` no longer runs the native engine.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3';
import { PrismaPg } from '@prisma/adapter-pg';
import * as glue from '@prisma/schema-engine-wasm/schema_engine_bg';
import type { DiffParams, MigrationList, SchemaEngine } from '@prisma/schema-engine-wasm/schema_engine_bg';
import pg from 'pg';
import { packageRoot, readMigrations } from '../src/storage/migrations.js';

/** The databases Herald supports. */
export type SchemaProvider = 'sqlite' | 'postgresql';

/** Options of {@link diffMigrationsToSchema}. */
export interface DiffOptions {
  provider: SchemaProvider;
  /** The directory of `<name>/migration.sql` folders (may be missing or empty: no migrations yet). */
  migrationsDir: string;
  /** The Prisma schema file to reach. */
  schemaPath: string;
  /**
   * PostgreSQL only, and required there: a URL of a live server on which the
   * user may `CREATE DATABASE` (any database works, e.g. `/postgres`). The
   * engine replays the migrations on a throwaway database created on that
   * server and dropped afterwards; nothing else is done to the database the
   * URL names. SQLite replays them in memory and needs nothing.
   */
  shadowDatabaseUrl?: string;
}

// ---------------------------------------------------------------------------
// Loading the WebAssembly engine
// ---------------------------------------------------------------------------

// Node has the WebAssembly global, but the project's `lib` (ES2023, no DOM)
// does not declare it; this is the one call used here.
declare const WebAssembly: {
  instantiate(bytes: Uint8Array, imports: object): Promise<{ instance: { exports: Record<string, unknown> } }>;
};

/** Where the engine reports the message of a Rust panic (`RuntimeError: unreachable` says nothing). */
const panics = { last: undefined as string | undefined };

let engineReady: Promise<typeof glue> | undefined;

/**
 * Instantiates the engine once per process. The package's entry does
 * `import * as wasm from './schema_engine_bg.wasm'`, which Node 20 refuses, so
 * this does by hand what that entry does: compile the .wasm with the bindgen
 * glue module as its import object, hand the instance to the glue, start it.
 *
 * REMOVE WHEN: the oldest Node that package.json's `engines` admits imports the
 * package's entry (Node 20 fails with ERR_UNKNOWN_FILE_EXTENSION), or the
 * package ships an entry Node loads; then `import('@prisma/schema-engine-wasm')`.
 * test/unit/prisma-engine-canary.test.ts has a canary, run on that Node.
 */
export function loadSchemaEngine(): Promise<typeof glue> {
  engineReady ??= (async () => {
    // The engine's panic hook calls global.PRISMA_WASM_PANIC_REGISTRY.set_message;
    // without the object a panic would surface as a TypeError instead.
    if (!('PRISMA_WASM_PANIC_REGISTRY' in globalThis)) {
      Object.defineProperty(globalThis, 'PRISMA_WASM_PANIC_REGISTRY', {
        value: {
          set_message(message: string) {
            panics.last = message;
          },
        },
        configurable: true,
      });
    }
    const glueUrl = import.meta.resolve('@prisma/schema-engine-wasm/schema_engine_bg');
    const bytes = await readFile(new URL('./schema_engine_bg.wasm', glueUrl));
    const { instance } = await WebAssembly.instantiate(bytes, { './schema_engine_bg.js': glue });
    glue.__wbg_set_wasm(instance.exports);
    const start = instance.exports['__wbindgen_start'];
    if (typeof start !== 'function') throw new Error('@prisma/schema-engine-wasm: the module has no __wbindgen_start');
    start();
    return glue;
  })();
  return engineReady;
}

// ---------------------------------------------------------------------------
// Driver adapters, as the engine expects them
// ---------------------------------------------------------------------------
//
// The engine calls the adapter through a thin protocol: every method resolves
// to `{ ok: true, value }` or `{ ok: false, error }` and never rejects. Prisma's
// own binder for that lives in @prisma/driver-adapter-utils, a package we do
// not depend on directly; this is the same protocol, written out for the few
// methods the schema engine uses.

interface SqlQueryLike {
  sql: string;
  args: unknown[];
  argTypes: unknown[];
}

interface TransactionLike {
  readonly provider: string;
  readonly adapterName: string;
  readonly options: unknown;
  queryRaw(query: SqlQueryLike): Promise<unknown>;
  executeRaw(query: SqlQueryLike): Promise<number>;
  commit(): Promise<void>;
  rollback(): Promise<void>;
}

interface DriverAdapterLike {
  readonly provider: string;
  readonly adapterName: string;
  queryRaw(query: SqlQueryLike): Promise<unknown>;
  executeRaw(query: SqlQueryLike): Promise<number>;
  executeScript(script: string): Promise<void>;
  startTransaction(isolationLevel?: string): Promise<TransactionLike>;
  dispose(): Promise<void>;
  getConnectionInfo?(): unknown;
}

interface AdapterFactoryLike {
  readonly provider: string;
  readonly adapterName: string;
  connect(): Promise<DriverAdapterLike>;
  connectToShadowDb(): Promise<DriverAdapterLike>;
}

type AdapterResult = { ok: true; value: unknown } | { ok: false; error: unknown };

/** Holds what one engine run opened and the JS errors it saw, so both can be dealt with afterwards. */
class AdapterSession {
  private readonly errors: unknown[] = [];
  private readonly open = new Set<DriverAdapterLike>();

  /** Runs `fn`, turning a rejection into the error half of the protocol. */
  async settle(fn: () => Promise<unknown>): Promise<AdapterResult> {
    try {
      return { ok: true, value: await fn() };
    } catch (error) {
      // Adapters throw DriverAdapterError with a structured `cause` (a database
      // error kind and code) that the engine turns into Prisma's P-codes.
      if (error instanceof Error && error.name === 'DriverAdapterError' && typeof error.cause === 'object' && error.cause !== null) {
        return { ok: false, error: error.cause };
      }
      this.errors.push(error);
      return { ok: false, error: { kind: 'GenericJs', id: this.errors.length - 1 } };
    }
  }

  /**
   * The engine reports a JS error as "External error id#N": put the original
   * message (and a panic message, if any) into the error the caller sees.
   */
  explain(error: unknown): Error {
    let message = error instanceof Error ? error.message : String(error);
    message = message.replace(/External error id#(\d+)/g, (whole, id: string) => {
      const original = this.errors[Number(id)];
      return original instanceof Error ? `${whole} (${original.message})` : whole;
    });
    if (/unreachable/.test(message)) {
      // After a panic no call into that instance is safe: the next diff loads a fresh one.
      engineReady = undefined;
      if (panics.last !== undefined) message += `\nengine panic: ${panics.last}`;
    }
    const code = error instanceof Error && 'code' in error && typeof error.code === 'string' ? ` [${error.code}]` : '';
    return new Error(`schema engine: ${message.trim()}${code}`, { cause: error });
  }

  bindFactory(factory: AdapterFactoryLike): object {
    return {
      provider: factory.provider,
      adapterName: factory.adapterName,
      connect: () => this.bindConnection(() => factory.connect()),
      connectToShadowDb: () => this.bindConnection(() => factory.connectToShadowDb()),
    };
  }

  /** Disposes every connection the engine left open; the engine does not always do it. */
  async close(): Promise<void> {
    const open = [...this.open];
    this.open.clear();
    await Promise.allSettled(open.map((adapter) => adapter.dispose()));
  }

  private async bindConnection(connect: () => Promise<DriverAdapterLike>): Promise<AdapterResult> {
    let adapter: DriverAdapterLike | undefined;
    const result = await this.settle(async () => {
      adapter = await connect();
      return adapter;
    });
    if (!result.ok || adapter === undefined) return result;
    this.open.add(adapter);
    return { ok: true, value: this.bindAdapter(adapter) };
  }

  private bindAdapter(adapter: DriverAdapterLike): object {
    const bound: Record<string, unknown> = {
      provider: adapter.provider,
      adapterName: adapter.adapterName,
      queryRaw: (query: SqlQueryLike) => this.settle(() => adapter.queryRaw(query)),
      executeRaw: (query: SqlQueryLike) => this.settle(() => executeRaw(adapter, query)),
      executeScript: (script: string) => this.settle(() => adapter.executeScript(script)),
      startTransaction: async (isolationLevel?: string) => {
        const result = await this.settle(() => adapter.startTransaction(isolationLevel));
        return result.ok ? { ok: true, value: this.bindTransaction(result.value as TransactionLike) } : result;
      },
      dispose: () =>
        this.settle(async () => {
          if (this.open.delete(adapter)) await adapter.dispose();
        }),
    };
    if (adapter.getConnectionInfo) {
      const getConnectionInfo = adapter.getConnectionInfo.bind(adapter);
      bound['getConnectionInfo'] = (): AdapterResult => ({ ok: true, value: getConnectionInfo() });
    }
    return bound;
  }

  private bindTransaction(tx: TransactionLike): object {
    return {
      provider: tx.provider,
      adapterName: tx.adapterName,
      options: tx.options,
      queryRaw: (query: SqlQueryLike) => this.settle(() => tx.queryRaw(query)),
      executeRaw: (query: SqlQueryLike) => this.settle(() => tx.executeRaw(query)),
      commit: () => this.settle(() => tx.commit()),
      rollback: () => this.settle(() => tx.rollback()),
    };
  }
}

/**
 * The engine replays each migration on the shadow database as one
 * parameterless `executeRaw`; better-sqlite3 prepares statements one at a
 * time and refuses a script ("contains more than one statement"). Such a
 * script goes through `executeScript` (sqlite3_exec) instead.
 */
async function executeRaw(adapter: DriverAdapterLike, query: SqlQueryLike): Promise<number> {
  try {
    return await adapter.executeRaw(query);
  } catch (error) {
    const multiStatement = error instanceof Error && /more than one statement/.test(error.message);
    if (!multiStatement || query.args.length > 0) throw error;
    await adapter.executeScript(query.sql);
    return 0;
  }
}

// PostgreSQL type OIDs (pg_type.oid, fixed across versions).
const PG_CHAR_OID = 18;
const PG_TEXT_OID = 25;

/**
 * A pool whose results report PostgreSQL's one-byte internal `"char"` type as
 * text. The engine's schema describer selects `pg_constraint.contype` (a
 * `"char"`), and @prisma/adapter-pg rejects that column type
 * (UnsupportedNativeDataType) although the value arrives as a plain string.
 * Only plain pool queries are patched: the describer runs outside transactions.
 */
function charAsTextPool(connectionString: string): pg.Pool {
  const pool = new pg.Pool({ connectionString, max: 2 });
  const query = pool.query.bind(pool) as (config: unknown) => Promise<unknown>;
  const patched = async (config: unknown): Promise<unknown> => {
    const result = await query(config);
    if (typeof result === 'object' && result !== null && 'fields' in result && Array.isArray(result.fields)) {
      for (const field of result.fields as unknown[]) {
        if (typeof field === 'object' && field !== null && 'dataTypeID' in field && field.dataTypeID === PG_CHAR_OID) {
          field.dataTypeID = PG_TEXT_OID;
        }
      }
    }
    return result;
  };
  Object.defineProperty(pool, 'query', { value: patched });
  return pool;
}

/** Connects a PrismaPg adapter over `pool`; disposing the adapter ends the pool and then runs `afterEnd`. */
async function postgresAdapter(pool: pg.Pool, afterEnd: () => Promise<void> = async () => {}): Promise<DriverAdapterLike> {
  const adapter = await new PrismaPg(pool).connect();
  const dispose = adapter.dispose.bind(adapter);
  return Object.assign(adapter, {
    dispose: async () => {
      await dispose();
      // PrismaPg leaves a pool it was given open.
      await pool.end();
      await afterEnd();
    },
  });
}

/**
 * The PostgreSQL side. Not PrismaPg's own factory: its connectToShadowDb
 * names the new database in the pool config *beside* the connection string,
 * pg lets the string win, and the "shadow" replay then runs on the database
 * the URL names (verified with @prisma/adapter-pg 7.10.1 and pg 8).
 */
function postgresFactory(serverUrl: string): AdapterFactoryLike {
  async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
    const client = new pg.Client({ connectionString: serverUrl });
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end();
    }
  }
  return {
    provider: 'postgres',
    adapterName: '@prisma/adapter-pg',
    connect: () => postgresAdapter(charAsTextPool(serverUrl)),
    connectToShadowDb: async () => {
      const name = `herald_shadow_${randomBytes(8).toString('hex')}`;
      await admin((client) => client.query(`CREATE DATABASE "${name}"`));
      const shadowUrl = new URL(serverUrl);
      shadowUrl.pathname = `/${name}`;
      return postgresAdapter(charAsTextPool(shadowUrl.href), async () => {
        await admin((client) => client.query(`DROP DATABASE IF EXISTS "${name}"`));
      });
    },
  };
}

function adapterFactory(options: DiffOptions): AdapterFactoryLike {
  if (options.provider === 'sqlite') {
    // The engine's main connection is unused by a migrations-to-schema diff;
    // the shadow database is a fresh in-memory one per replay.
    return new PrismaBetterSqlite3({ url: ':memory:' });
  }
  if (!options.shadowDatabaseUrl) {
    throw new Error(
      'PostgreSQL diffs need a live server to replay the migrations on: pass shadowDatabaseUrl ' +
        '(--shadow-database-url or SHADOW_DATABASE_URL), e.g. postgresql://postgres@127.0.0.1:5432/postgres',
    );
  }
  return postgresFactory(options.shadowDatabaseUrl);
}

// ---------------------------------------------------------------------------
// Diffing
// ---------------------------------------------------------------------------

/** The lock file Prisma Migrate writes beside the migrations; the engine refuses a history without one. */
export function migrationLockToml(provider: SchemaProvider): string {
  return (
    '# Please do not edit this file manually\n' +
    '# It should be added in your version-control system (e.g., Git)\n' +
    `provider = "${provider}"\n`
  );
}

/**
 * Fails early when a file names another database than `provider`: the engine
 * then answers with a nonsensical SQL error or, for the schema, a panic that
 * escapes as an uncaught exception.
 */
function checkProvider(declared: string | undefined, provider: SchemaProvider, file: string): void {
  if (declared !== provider) {
    throw new Error(`${file} is for provider "${declared ?? '(none found)'}", not "${provider}"`);
  }
}

async function migrationList(options: DiffOptions): Promise<MigrationList> {
  const baseDir = resolve(options.migrationsDir);
  const migrations = existsSync(baseDir) ? await readMigrations(baseDir) : [];
  const lockPath = join(baseDir, 'migration_lock.toml');
  // Before the first migration there is no lock file yet; the provider is known.
  const lockfile = existsSync(lockPath) ? await readFile(lockPath, 'utf8') : migrationLockToml(options.provider);
  checkProvider(/^\s*provider\s*=\s*"([^"]*)"/m.exec(lockfile)?.[1], options.provider, lockPath);
  return {
    baseDir,
    lockfile: { path: 'migration_lock.toml', content: lockfile },
    shadowDbInitScript: '',
    migrationDirectories: migrations.map((migration) => ({
      path: migration.name,
      migrationFile: { path: 'migration.sql', content: { tag: 'ok', value: migration.sql } },
    })),
  };
}

/** Whether a script has no statement, only comments and blank lines (the engine's "-- This is an empty migration."). */
function isEmptyScript(script: string): boolean {
  return script.split('\n').every((line) => {
    const trimmed = line.trim();
    return trimmed === '' || trimmed.startsWith('--');
  });
}

/**
 * The SQL that takes a database from the state the committed migrations
 * produce to the one `schemaPath` describes: what the next migration must
 * contain. Returns '' when they agree, so `=== ''` is the drift check.
 *
 * The migrations are replayed on a shadow database (in-memory SQLite, or a
 * throwaway PostgreSQL database: see {@link DiffOptions.shadowDatabaseUrl}),
 * described, and diffed against the schema by Prisma's own engine, so the
 * output is what `prisma migrate dev --create-only` would write.
 */
export async function diffMigrationsToSchema(options: DiffOptions): Promise<string> {
  const engineModule = await loadSchemaEngine();
  const schemaPath = resolve(options.schemaPath);
  const schema = await readFile(schemaPath, 'utf8');
  checkProvider(/datasource\s+\w+\s*\{[^}]*?\bprovider\s*=\s*"([^"]*)"/.exec(schema)?.[1], options.provider, schemaPath);
  const params: DiffParams = {
    from: { tag: 'migrations', ...(await migrationList(options)) },
    to: { tag: 'schemaDatamodel', files: [{ path: schemaPath, content: schema }] },
    script: true,
    exitCode: null,
    filters: { externalTables: [], externalEnums: [] },
  };
  const factories = adapterFactory(options);
  const session = new AdapterSession();
  let engine: SchemaEngine | undefined;
  try {
    const factory = session.bindFactory(factories);
    engine = await engineModule.SchemaEngine.new({ datamodels: undefined }, () => {}, factory);
    const result = await engine.diff(params);
    const script = result.stdout ?? '';
    return isEmptyScript(script) ? '' : script;
  } catch (error) {
    throw session.explain(error);
  } finally {
    engine?.free();
    await session.close();
  }
}

// ---------------------------------------------------------------------------
// Writing a migration
// ---------------------------------------------------------------------------

/** `YYYYMMDDHHMMSS` in UTC, the prefix Prisma Migrate gives migration directories. */
export function migrationTimestamp(now: Date): string {
  return now.toISOString().replace(/\D/g, '').slice(0, 14);
}

/** A migration name as Prisma writes it: lower case, words joined by `_`. */
export function migrationSlug(name: string): string {
  const slug = name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, 200);
  if (slug === '') throw new Error(`migration name "${name}" has no letters or digits`);
  return slug;
}

/**
 * Writes `<migrationsDir>/<timestamp>_<slug>/migration.sql` (and the lock
 * file when missing) and returns the migration's directory. Refuses a name
 * that would not sort after every existing migration: migrations apply in
 * name order, and one slotted into the past would be applied out of order.
 */
export async function writeMigration(options: {
  provider: SchemaProvider;
  migrationsDir: string;
  name: string;
  sql: string;
  now?: Date;
}): Promise<string> {
  const migrationsDir = resolve(options.migrationsDir);
  const dirName = `${migrationTimestamp(options.now ?? new Date())}_${migrationSlug(options.name)}`;
  const existing = existsSync(migrationsDir) ? await readMigrations(migrationsDir) : [];
  const last = existing.at(-1)?.name;
  if (last !== undefined && last >= dirName) {
    throw new Error(`new migration ${dirName} would not sort after the latest one, ${last}; check the clock`);
  }
  const dir = join(migrationsDir, dirName);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'migration.sql'), options.sql);
  const lockPath = join(migrationsDir, 'migration_lock.toml');
  if (!existsSync(lockPath)) await writeFile(lockPath, migrationLockToml(options.provider));
  return dir;
}

// ---------------------------------------------------------------------------
// CLI
// ---------------------------------------------------------------------------

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      name: { type: 'string' },
      provider: { type: 'string', default: 'sqlite' },
      schema: { type: 'string' },
      migrations: { type: 'string' },
      'shadow-database-url': { type: 'string' },
    },
    strict: true,
  });
  const provider = values.provider;
  if (provider !== 'sqlite' && provider !== 'postgresql') {
    throw new Error(`--provider must be sqlite or postgresql, got "${provider}"`);
  }
  const root = packageRoot();
  const defaults =
    provider === 'sqlite'
      ? { schema: join(root, 'prisma', 'schema.prisma'), migrations: join(root, 'prisma', 'migrations') }
      : {
          schema: join(root, 'prisma', 'postgresql', 'schema.prisma'),
          migrations: join(root, 'prisma', 'postgresql', 'migrations'),
        };
  const migrationsDir = values.migrations ?? defaults.migrations;
  const options: DiffOptions = {
    provider,
    migrationsDir,
    schemaPath: values.schema ?? defaults.schema,
  };
  const shadowDatabaseUrl = values['shadow-database-url'] ?? process.env['SHADOW_DATABASE_URL'];
  if (shadowDatabaseUrl) options.shadowDatabaseUrl = shadowDatabaseUrl;

  const sql = await diffMigrationsToSchema(options);
  if (sql === '') {
    console.log('no difference: the migrations match the schema');
    return 0;
  }
  if (values.name === undefined) {
    process.stdout.write(sql);
    console.error('\nthe schema differs from the migrations; add a migration with: npm run db:diff -- --name <name>');
    return 2;
  }
  const dir = await writeMigration({ provider, migrationsDir, name: values.name, sql });
  console.log(`wrote ${join(dir, 'migration.sql')}`);
  return 0;
}

const invokedDirectly = process.argv[1] !== undefined && pathToFileURL(resolve(process.argv[1])).href === import.meta.url;
if (invokedDirectly) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exitCode = 1;
    },
  );
}
