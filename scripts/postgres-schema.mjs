// The PostgreSQL Prisma schema is derived from prisma/schema.prisma (the one
// place the models live): Prisma needs one schema per provider, and the
// provider cannot come from the environment. `npm run db:sync-schema` writes
// prisma/postgresql/schema.prisma; test/unit/prisma-schemas.test.ts fails
// when the committed copy has drifted from this derivation.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const SQLITE_SCHEMA = fileURLToPath(new URL('../prisma/schema.prisma', import.meta.url));
export const POSTGRES_SCHEMA = fileURLToPath(new URL('../prisma/postgresql/schema.prisma', import.meta.url));

const HEADER = '// GENERATED from prisma/schema.prisma by `npm run db:sync-schema`: do not edit.\n\n';

/** The PostgreSQL schema text for a given SQLite schema text. Throws when a marker it rewrites is missing. */
export function postgresSchemaFrom(sqlite) {
  const replace = (text, from, to) => {
    if (!text.includes(from)) throw new Error(`prisma/schema.prisma no longer contains ${JSON.stringify(from)}; update scripts/postgres-schema.mjs`);
    return text.replace(from, to);
  };
  let text = replace(sqlite, 'output       = "../src/generated/prisma/sqlite"', 'output       = "../../src/generated/prisma/postgresql"');
  text = replace(text, 'provider = "sqlite"', 'provider = "postgresql"');
  return HEADER + text;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  mkdirSync(new URL('../prisma/postgresql', import.meta.url), { recursive: true });
  writeFileSync(POSTGRES_SCHEMA, postgresSchemaFrom(readFileSync(SQLITE_SCHEMA, 'utf8')));
  console.log('wrote prisma/postgresql/schema.prisma');
}
