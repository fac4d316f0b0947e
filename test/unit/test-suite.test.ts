import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { test } from 'node:test';

/** Integration tests about the transport, not the database: they have no PostgreSQL twin. */
const DATABASE_FREE = ['reflection.test.ts', 'tls.test.ts'];

test('every integration test that uses a database also runs on PostgreSQL (has a twin in test/postgres/)', () => {
  const integration = readdirSync(new URL('../integration', import.meta.url)).filter((f) => f.endsWith('.test.ts') && !DATABASE_FREE.includes(f));
  const postgres = readdirSync(new URL('../postgres', import.meta.url)).filter((f) => f.endsWith('.test.ts'));
  assert.deepEqual(postgres.sort(), integration.sort());
});
