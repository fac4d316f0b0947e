// Runs the whole test suite with node:test: every test/unit/*.test.ts and
// test/integration/*.test.ts file (Node 20's runner takes paths, not globs).
// Extra arguments are passed to node --test, e.g. --test-name-pattern.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const files = ['test/unit', 'test/integration'].flatMap((dir) =>
  readdirSync(new URL(`../${dir}`, import.meta.url))
    .filter((f) => f.endsWith('.test.ts'))
    .sort()
    .map((f) => `${dir}/${f}`),
);
if (process.env.HERALD_TEST_DATABASE_URL) {
  console.log(`# PostgreSQL suite: integration tests also run against ${process.env.HERALD_TEST_DATABASE_URL.replace(/\/\/[^@]*@/, '//***@')}`);
}
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...process.argv.slice(2), ...files], {
  cwd: root,
  stdio: 'inherit',
});
process.exit(result.status ?? 1);
