#!/bin/sh
# Stand-in for Prisma's native schema engine, which cannot be downloaded here.
# Herald applies migrations itself: use `npm run db:migrate`, and
# `npm run db:diff` to produce new migration SQL.
echo "Prisma's native schema engine is not installed; use npm run db:migrate / npm run db:diff" >&2
exit 1
