import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { POSTGRES_SCHEMA, postgresSchemaFrom, SQLITE_SCHEMA } from '../../scripts/postgres-schema.mjs';

test('the PostgreSQL schema is exactly the one derived from prisma/schema.prisma (run npm run db:sync-schema after a model change)', () => {
  assert.equal(readFileSync(POSTGRES_SCHEMA, 'utf8'), postgresSchemaFrom(readFileSync(SQLITE_SCHEMA, 'utf8')));
});

test('the derivation fails loudly when the SQLite schema no longer has what it rewrites', () => {
  assert.throws(() => postgresSchemaFrom('datasource db {\n  provider = "mysql"\n}\n'), /no longer contains/);
});
