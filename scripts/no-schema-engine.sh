#!/bin/sh
# Stand-in for Prisma's native schema engine, which cannot be downloaded here.
# Herald applies migrations itself: use `npm run db:migrate`, and
# `npm run db:diff` to produce new migration SQL. prisma.config.ts names this
# file in PRISMA_SCHEMA_ENGINE_BINARY because the CLI otherwise fetches the
# engine at start-up, even for commands that never run it (`prisma generate`).
#
# REMOVE WHEN: the Prisma CLI in use no longer fetches the schema engine at
# start-up for such commands (Prisma 7.10 does, even for `prisma validate`), or
# the engine can be installed: drop this file and its line in prisma.config.ts.
# test/unit/prisma-engine-canary.test.ts has a canary that fails once it stops.
echo "Prisma's native schema engine is not installed; use npm run db:migrate / npm run db:diff" >&2
exit 1
