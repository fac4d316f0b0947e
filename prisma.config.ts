// Prisma CLI configuration. Herald applies its migrations itself (see
// src/storage/migrations.ts), so the CLI is used here only for `prisma generate`.
import { defineConfig } from 'prisma/config';

// The CLI resolves the native schema engine at start-up and tries to download
// it when missing; that host is unreachable on our build machines and
// `generate` does not need the engine at all. Pointing the variable at a
// stand-in that refuses to run skips the download. Operators who have the
// real engine can still set the variable themselves.
process.env.PRISMA_SCHEMA_ENGINE_BINARY ??= new URL('./scripts/no-schema-engine.sh', import.meta.url).pathname;

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
});
