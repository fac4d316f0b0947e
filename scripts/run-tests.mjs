// Runs the whole test suite with node:test in one run: test/unit,
// test/integration (on SQLite) and, when HERALD_TEST_DATABASE_URL names a
// PostgreSQL server, test/postgres (the same integration tests on
// PostgreSQL). Node 20's runner takes paths, not globs, hence this script.
// Extra arguments go to node --test, e.g. --test-name-pattern=quiet.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const postgres = Boolean(process.env.HERALD_TEST_DATABASE_URL);
const dirs = ['test/unit', 'test/integration', ...(postgres ? ['test/postgres'] : [])];
const files = dirs.flatMap((dir) =>
  readdirSync(new URL(`../${dir}`, import.meta.url))
    .filter((f) => f.endsWith('.test.ts'))
    .sort()
    .map((f) => `${dir}/${f}`),
);
if (postgres) {
  console.log(`# PostgreSQL suite: ON (${process.env.HERALD_TEST_DATABASE_URL.replace(/\/\/[^@/]*@/, '//***@')})`);
} else {
  console.log('# PostgreSQL suite: SKIPPED (set HERALD_TEST_DATABASE_URL=postgresql://user@host:port/db to run every integration test on PostgreSQL too; .ci/run does)');
}
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...process.argv.slice(2), ...files], {
  cwd: root,
  stdio: 'inherit',
});
process.exit(result.status ?? 1);
